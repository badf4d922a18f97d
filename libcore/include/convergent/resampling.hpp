// Uncertainty of the headline figures: bootstrap confidence intervals and
// held-out scores from per-block moments gathered in the layer pass, and a
// permutation null from extra passes with the images of all but the first
// net shuffled (docs/resampling.md).
//
// Block moments. Every input image goes to one of B blocks by a seeded hash
// of its index (whole images: the positions of one image are dependent, the
// images are exchangeable). Each block keeps its own count, mean and centred
// comoment over all nets' units (T), so any weighted union of blocks is one
// Chan merge away (Chan, Golub & LeVeque): a bootstrap replicate is the
// merge of the blocks with multinomial counts (a cluster bootstrap over
// groups of whole images), a held-out split is the merge of the fit blocks
// and of the score blocks. Hashed rather than contiguous blocks: files
// sorted by class (common for test sets) would otherwise put one class in
// each block, and a contiguous block bootstrap would then resample classes,
// not images. Memory: B x T^2 float64 (block_moments_bytes).
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <utility>
#include <vector>

#include "convergent/activations.hpp"
#include "convergent/backend.hpp"
#include "convergent/mutual_information.hpp"
#include "convergent/similarity_indices.hpp"
#include "convergent/spectral_clustering.hpp"
#include "convergent/statistics.hpp"

namespace convergent {

// The bytes of B blocks' moments over T units (comoments, means, counts),
// plus one T^2 merge buffer and one replicate's statistics.
double block_moments_bytes(index_t width, index_t blocks);

// Independent seeded streams derived from --seed (splitmix64 of the seed,
// the stream and an index), so that adding one resampling does not change
// another's draws.
std::uint64_t resampling_seed(std::uint64_t seed, std::uint64_t stream, std::uint64_t index);
enum ResamplingStream : std::uint64_t { kBlockHashStream = 1, kBootstrapStream = 2, kHoldoutStream = 3, kPermutationStream = 4 };

class BlockMoments {
public:
    BlockMoments() = default;
    // widths: units of each net; blocks >= 1; positions: rows per image.
    // Throws OutOfMemory naming the layer when the blocks do not fit.
    BlockMoments(std::vector<index_t> widths, index_t blocks, index_t positions, std::uint64_t seed,
                 std::string layer);

    bool empty() const { return blocks_ == 0; }
    index_t blocks() const { return blocks_; }
    index_t width() const { return width_; }
    const std::vector<index_t>& widths() const { return widths_; }
    // The block of input image `image` (a seeded hash of the index).
    index_t block_of(index_t image) const;
    // Samples (rows) per block.
    const std::vector<index_t>& counts() const { return counts_; }

    // One chunk in pieces (like MomentAccumulator::add_block): rows x units
    // float32 values of global rows [first_row, first_row + rows), columns
    // [column, column + units); pieces hold whole images and together
    // cover the chunk's rows and all columns; end_chunk merges the chunk's
    // rows into their blocks.
    void add_piece(const float* piece, index_t first_row, index_t rows, index_t units, index_t column);
    void end_chunk();
    // Adds rows x width() row-major values of global rows [first_row, ...).
    void push(const float* x, index_t first_row, index_t rows);

    // Chan merge of another's blocks, block by block (same widths, block
    // count, positions and seed: e.g. the same layer's images streamed on
    // another process, whose global image indices chose its blocks).
    void merge(const BlockMoments& other);
    // The blocks as bytes (layout, seed, counts, means, comoments), for
    // merging the blocks of several processes (a distributed run reduces
    // them like the moments); load checks the sizes against the bytes.
    void save(std::ostream& out) const;
    static BlockMoments load(std::istream& in, const std::string& what);

    // The merge of the blocks, block b taken weights[b] times (0: left
    // out), as finalised statistics (correlations etc.). Throws BadData
    // naming the layer when the weighted union has fewer than 2 samples.
    LayerStatistics statistics(const std::vector<index_t>& weights) const;

private:
    std::vector<index_t> widths_;
    std::string layer_;
    index_t blocks_ = 0, width_ = 0, positions_ = 1;
    std::uint64_t hash_seed_ = 0;
    std::vector<index_t> counts_;
    std::vector<double> means_;      // blocks x T
    std::vector<double> comoments_;  // blocks x T x T, upper triangle (row-major)
    // The current chunk's rows (float32, every net side by side).
    index_t chunk_first_row_ = -1, chunk_rows_ = 0;
    std::vector<float> chunk_;
    std::vector<double> segment_;  // one block's rows of a chunk, centred, float64
};

// ---- the figures resampled ------------------------------------------------------
// The headline figures of one net pair (a < b) from one set of statistics,
// in a fixed order: Table 1 (semi-matching mean, max-weight matching mean,
// overlap ratio of the correlation alignment, Sec. 3.1) and the whole-layer
// indices computable from the covariances (linear CKA, mean CCA, SVCCA,
// symmetric PWCCA, angular Procrustes distance).
struct FigureOptions {
    bool table1 = true;
    bool indices = true;
    bool include_dead_units = false;
    SimilarityIndicesOptions similarity;
};
using NamedFigures = std::vector<std::pair<std::string, double>>;
// Fig. 3's curves: the live rows' semi-matching values in decreasing order
// and their max-weight matching values in the same order (NaN: unmatched).
struct Fig3Curves {
    std::vector<double> semi_matching, matching;
};
NamedFigures pair_figures(const Backend& backend, const LayerStatistics& stats, int a, int b,
                          const FigureOptions& options, Fig3Curves* curves = nullptr);

// The MI figures of one pair (a < b), Sec. 3.2: Table 1 on the MI matrix of
// the binned sample rows (mi_semi_matching_mean, mi_matching_mean,
// mi_overlap_ratio), dead units of `stats` handled like the correlation
// figures'. codes[n]: net n's binned sample rows (the same rows for every net).
NamedFigures mi_pair_figures(const Backend& backend, const std::vector<BinnedUnits>& codes,
                             const LayerStatistics& stats, int a, int b, bool include_dead_units);

// The weight of each MI sample row in a bootstrap replicate or a held-out
// part: the weight of its image's block. rows: global sample row indices
// (image = row / positions, as the layer pass numbers them).
std::vector<index_t> sample_row_weights(const BlockMoments& blocks, const std::vector<index_t>& rows,
                                        index_t positions, const std::vector<index_t>& block_weights);

// The codes with sample s repeated weights[s] times (0: left out), in
// sample order, on the same bins and edges: their joint and marginal
// histograms are the weighted counts sum_s weights[s] [x_s = x, y_s = y]
// with n = sum_s weights[s], so the backend's integer counting gives the
// weighted plug-in MI exactly. Throws BadData when no sample is left.
BinnedUnits repeat_samples(const BinnedUnits& binned, const std::vector<index_t>& weights);

// Per rank k, the percentile interval over replicates of the k-th value of
// the curves (ranks every replicate has; NaN values skipped).
struct CurveBand {
    std::vector<double> low, high;
};
CurveBand curve_band(const std::vector<std::vector<double>>& replicate_curves, double level);

// A percentile bootstrap interval (numpy's linear interpolation of the
// sorted replicates at (1 - level) / 2 and (1 + level) / 2).
struct BootstrapInterval {
    double estimate = 0;  // on all images
    double low = 0, high = 0;
    double standard_error = 0;  // standard deviation of the replicates
    // Mean of the replicates minus the estimate: the bootstrap's estimate of
    // the figure's bias (large for the plug-in MI, whose replicates repeat
    // rows, and for the CCA family on few images; docs/resampling.md).
    double bias = 0;
    index_t replicates = 0;     // finite replicate values used
};
BootstrapInterval bootstrap_interval(double estimate, std::vector<double> replicates, double level);

// A permutation null: its mean and standard deviation, the z-score of the
// observed value and the one-sided permutation p-value
// (1 + #{null >= observed}) / (1 + R).
struct NullSummary {
    double observed = 0, mean = 0, sd = 0, z = 0, p_value = 1;
    index_t permutations = 0;
};
NullSummary null_summary(double observed, const std::vector<double>& null_values);

// Multinomial block counts of bootstrap replicate r: B draws with
// replacement from the blocks that hold samples.
std::vector<index_t> bootstrap_weights(const std::vector<index_t>& block_counts, std::uint64_t seed, index_t replicate);

// The held-out split: round(fraction x B') of the B' non-empty blocks, drawn
// by the seed, are scored; the rest fit. Returns (fit, score) weights.
std::pair<std::vector<index_t>, std::vector<index_t>> holdout_weights(const std::vector<index_t>& block_counts,
                                                                      double fraction, std::uint64_t seed);

// Held-out scores of one pair (a < b): the correlation alignment and the
// sparse prediction chosen on `fit`, scored on `score`, beside their
// in-sample values on `fit`.
struct HoldoutScores {
    NamedFigures in_sample, held_out;
    std::vector<double> lasso_alphas;
    std::vector<double> lasso_loss_in_sample, lasso_loss_held_out;  // mean 0.5 x MSE over live targets, per alpha
};
struct HoldoutOptions {
    bool include_dead_units = false;
    bool sparse_prediction = true;
    std::vector<double> lasso_alphas;  // empty: the library's default path
    double lasso_tol = 1e-7;
    int lasso_max_iter = 10000;
};
HoldoutScores holdout_scores(const Backend& backend, const LayerStatistics& fit, const LayerStatistics& score, int a,
                             int b, const HoldoutOptions& options);

// The statistics of one permutation replicate: the aligned sources read
// again with the input images of every net but the first in a seeded
// random order (each net its own permutation; whole images, so each net's
// own statistics are unchanged and only the correspondence is broken).
// cached: empty, or per net its whole layer (images x positions x units
// float32, as LayerSource::read_images gives it) or nullptr to read the
// source image by image (fine for mapped .npy; a deflated .npz member is
// re-decompressed on every backward read, so the step caches those).
// sample_rows / sample_values: when sample_values is given, the permuted
// rows at the sorted global row indices sample_rows (every net's units side
// by side, sample_rows.size() x all units, row-major) are gathered in the
// same pass: the MI sample of the replicate (Sec. 3.2).
LayerStatistics permuted_statistics(const Backend& backend, const std::vector<const LayerSource*>& sources,
                                    std::uint64_t seed, index_t replicate, index_t chunk_images,
                                    const std::vector<const float*>& cached = {},
                                    const std::vector<index_t>& sample_rows = {},
                                    std::vector<float>* sample_values = nullptr);

// Held-out MI figures of one pair (a < b), appended to h: the MI alignment
// chosen on the fit part's sample rows (fit_codes, with the fit part's dead
// units) and the mean MI of the same unit pairs on the score part's rows
// (score_codes): mi_semi_matching_mean and mi_matching_mean, in_sample and
// held_out, on the real run's bin edges.
void mi_holdout_scores(const Backend& backend, const std::vector<BinnedUnits>& fit_codes,
                       const std::vector<BinnedUnits>& score_codes, const LayerStatistics& fit, int a, int b,
                       bool include_dead_units, HoldoutScores& h);

// A seeded random permutation of [0, n) (Fisher-Yates on std::mt19937_64).
std::vector<index_t> seeded_permutation(index_t n, std::uint64_t seed);

// Held-out scores of the clustering (Sec. 4): the hierarchy chosen on the
// fit part's correlations; per leaf (tree order) its Sec. 6.6 between-net
// and within-net similarity on the fit part and, for the same members, on
// the held-out part.
struct ClusterHoldout {
    std::vector<double> between_in_sample, between_held_out;
    std::vector<double> within_in_sample, within_held_out;
    static double mean(const std::vector<double>& values);  // 0 for none
};
ClusterHoldout cluster_holdout(const Backend& backend, const LayerStatistics& fit, const LayerStatistics& score,
                               int net_a, int net_b, const ClusteringOptions& options);

}  // namespace convergent
