// JSON serialisation of the analysis results (docs/summary_schema.md). The
// algorithm headers say what is computed; this unit says how it is written.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "convergent/cross_layers.hpp"
#include "convergent/matching.hpp"
#include "convergent/mean_activation.hpp"
#include "convergent/resampling.hpp"
#include "convergent/similarity_indices.hpp"
#include "convergent/sparse_prediction.hpp"
#include "convergent/spectral_clustering.hpp"

namespace convergent {

// A finite number, or JSON null for NaN/Inf (JSON has no NaN).
nlohmann::json number_or_null(double v);

// The ALIGNMENT object. Values of unmatched rows (rows > cols, dead units)
// are JSON null.
nlohmann::json alignment_to_json(const Alignment& alignment);

// The "cycle_consistency" object over nets (net names in net order).
nlohmann::json cycle_consistency_to_json(const CycleConsistency& c, const std::vector<std::string>& nets);
// Computes the cycle consistency of the pairwise matchings and writes it.
nlohmann::json cycle_consistency_json(const std::vector<std::string>& nets, const AlignmentLookup& pair);

// The "sparse_prediction" object: targets, predictors, alphas, mean_loss,
// mean_nonzero, loss, nonzero.
nlohmann::json sparse_prediction_to_json(const SparsePredictionResult& result, const std::string& targets,
                                         const std::string& predictors);

// The layer's "mutual_information" object (step mutual_information):
// samples, bins, and zero_fraction (net name -> share of its sampled
// activations in the zero bin, all units together).
nlohmann::json mi_layer_to_json(const std::vector<double>& zero_fraction, const std::vector<std::string>& nets,
                                index_t samples, int bins);

// The CLUSTERS object.
nlohmann::json clustering_to_json(const ClusteringResult& result, const std::string& name_a,
                                  const std::string& name_b);

// The "mean_activation" object: sorted_means, between_net_distance (pairs
// a < b, key "a~b"), within_net_spread, distance_to_spread_ratio (null with
// fewer than two nets or zero spread).
nlohmann::json mean_activation_to_json(const MeanActivationResult& result, const std::vector<std::string>& nets);
// Computes and writes it (the names must match the nets of stats).
nlohmann::json mean_activation_json(const LayerStatistics& stats, const std::vector<std::string>& nets);

// The "similarity_indices" object of a pair (docs/summary_schema.md):
// cka, cka_debiased (null + cka_debiased_note when not available), cca,
// cca_mean, svcca*, pwcca*, procrustes_*, dead_units_excluded, ridge,
// warnings.
nlohmann::json similarity_indices_to_json(const SimilarityIndices& r, const std::string& name_a,
                                          const std::string& name_b);

// The "cross_layers" object: method, batch_size, batches, images,
// images_used, dropped_images, batch_order, layers (net -> its axis), and
// maps ("a~b" for a <= b -> rows, cols (net names), row_layers, col_layers,
// cka: rows x cols nested lists, null where undefined).
nlohmann::json cross_layers_to_json(const CrossLayerResult& result);

// Resampling (resampling.hpp; written by resampling_json.cpp):
// {estimate, low, high, standard_error, replicates};
// {observed, null_mean, null_sd, z, p_value, permutations};
// {in_sample: {figure: v}, held_out: {figure: v}, lasso: {alphas, loss_in_sample, loss_held_out}}.
nlohmann::json bootstrap_interval_to_json(const BootstrapInterval& interval);
nlohmann::json null_summary_to_json(const NullSummary& null);
nlohmann::json holdout_scores_to_json(const HoldoutScores& scores);
nlohmann::json cluster_holdout_to_json(const ClusterHoldout& clusters);
// {low: [...], high: [...]} per rank, null where undefined.
nlohmann::json curve_band_to_json(const CurveBand& band);

}  // namespace convergent
