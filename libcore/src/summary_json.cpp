#include "convergent/summary_json.hpp"

#include <cmath>

namespace convergent {

nlohmann::json number_or_null(double v) {
    return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

nlohmann::json alignment_to_json(const Alignment& a) {
    using nlohmann::json;
    json values = json::array(), semi_values = json::array(), fig3_semi = json::array(),
         fig3_matching = json::array();
    for (double v : a.matching.value) values.push_back(number_or_null(v));
    for (double v : a.semi.value) semi_values.push_back(number_or_null(v));
    for (index_t r : a.fig3_order) {
        fig3_semi.push_back(number_or_null(a.semi.value[size_t(r)]));
        fig3_matching.push_back(number_or_null(a.matching.value[size_t(r)]));
    }
    json j;
    j["semi_matching"] = a.semi.column;
    j["semi_matching_values"] = std::move(semi_values);
    j["semi_matching_mean"] = number_or_null(a.semi.mean);
    j["matching"] = a.matching.column;
    j["matching_values"] = std::move(values);
    j["matching_mean"] = number_or_null(a.matching.mean);
    j["overlap_ratio"] = a.overlap_ratio;
    j["fig3_order"] = a.fig3_order;
    j["fig3_semi_matching"] = std::move(fig3_semi);
    j["fig3_matching"] = std::move(fig3_matching);
    j["matched_order"] = a.matched_order;
    const Assignment& c = a.matching.certificate;
    j["solver"] = {{"name", c.solver}, {"primal", c.primal}, {"dual_bound", c.dual_bound},
                   {"gap", c.gap}};
    return j;
}

nlohmann::json mi_layer_to_json(const std::vector<double>& zero_fraction, const std::vector<std::string>& nets,
                                index_t samples, int bins) {
    nlohmann::json fractions = nlohmann::json::object();
    for (size_t n = 0; n < nets.size() && n < zero_fraction.size(); ++n)
        fractions[nets[n]] = number_or_null(zero_fraction[n]);
    return {{"samples", samples}, {"bins", bins}, {"zero_fraction", std::move(fractions)}};
}

nlohmann::json cycle_consistency_to_json(const CycleConsistency& c, const std::vector<std::string>& nets) {
    nlohmann::json cycle = nets;
    cycle.push_back(nets.front());
    std::vector<bool> returns(c.cycle_returns.begin(), c.cycle_returns.end());
    index_t returned = 0;
    for (auto r : c.cycle_returns) returned += r;
    const double units = c.units > 0 ? double(c.units) : 1.0;
    return {{"reference", nets.front()},
            {"cycle", std::move(cycle)},
            {"units", c.units},
            {"triangles", c.triangles},
            {"cycle_returns", returns},
            {"cycle_end", c.cycle_end},
            {"cycle_return_fraction", double(returned) / units},
            {"triangle_return_fraction", c.triangle_return_fraction},
            {"core_units", c.core_units},
            {"rare_units", c.rare_units},
            {"core_fraction", double(c.core_units.size()) / units}};
}

nlohmann::json cycle_consistency_json(const std::vector<std::string>& nets, const AlignmentLookup& pair) {
    return cycle_consistency_to_json(cycle_consistency(int(nets.size()), pair), nets);
}

nlohmann::json sparse_prediction_to_json(const SparsePredictionResult& result,
                                         const std::string& targets,
                                         const std::string& predictors) {
    nlohmann::json out;
    out["targets"] = targets;
    out["predictors"] = predictors;
    out["alphas"] = result.alphas;
    nlohmann::json mean_loss = nlohmann::json::array(), mean_nonzero = nlohmann::json::array();
    nlohmann::json loss = nlohmann::json::array(), nonzero = nlohmann::json::array();
    for (size_t a = 0; a < result.alphas.size(); ++a) {
        mean_loss.push_back(number_or_null(result.mean_loss[a]));
        mean_nonzero.push_back(number_or_null(result.mean_nonzero[a]));
        nlohmann::json loss_row = nlohmann::json::array(), nonzero_row = nlohmann::json::array();
        for (index_t i = 0; i < result.targets; ++i) {
            loss_row.push_back(result.dead_target[size_t(i)] ? nlohmann::json(nullptr)
                                                             : number_or_null(result.loss[a][size_t(i)]));
            nonzero_row.push_back(result.nonzero[a][size_t(i)]);
        }
        loss.push_back(std::move(loss_row));
        nonzero.push_back(std::move(nonzero_row));
    }
    out["mean_loss"] = std::move(mean_loss);
    out["mean_nonzero"] = std::move(mean_nonzero);
    out["loss"] = std::move(loss);
    out["nonzero"] = std::move(nonzero);
    return out;
}

nlohmann::json clustering_to_json(const ClusteringResult& result, const std::string& name_a,
                                  const std::string& name_b) {
    nlohmann::json out;
    out["tau"] = result.tau;
    out["alpha"] = result.alpha;
    out["k"] = result.k;
    out["k_eigengap"] = result.k_eigengap;
    out["seed"] = result.seed;
    out["eigenvalues"] = result.eigenvalues;
    nlohmann::json clusters = nlohmann::json::array();
    for (const ClusterNode& node : result.clusters) {
        nlohmann::json c;
        c["id"] = node.id;
        c["parent"] = node.parent;
        c["depth"] = node.depth;
        c["leaf"] = node.leaf;
        c["members"] = {{name_a, node.members_a}, {name_b, node.members_b}};
        c["between_net_similarity"] = node.between_net_similarity;
        c["within_net_similarity"] = node.within_net_similarity;
        clusters.push_back(std::move(c));
    }
    out["clusters"] = std::move(clusters);
    out["leaves_by_similarity"] = result.leaves_by_similarity;
    out["permutation"] = result.permutation;
    out["sorted_between_net_similarity"] = result.sorted_between_net_similarity;
    out["sorted_within_net_similarity"] = result.sorted_within_net_similarity;
    return out;
}

nlohmann::json mean_activation_to_json(const MeanActivationResult& r, const std::vector<std::string>& nets) {
    CVG_REQUIRE(nets.size() == r.sorted_means.size(), InvalidArgument,
                "mean_activation_json: " + std::to_string(nets.size()) + " net names for " +
                    std::to_string(r.sorted_means.size()) + " nets");
    nlohmann::json sorted_means = nlohmann::json::object(), spread = nlohmann::json::object(),
                   distance = nlohmann::json::object();
    for (size_t k = 0; k < nets.size(); ++k) {
        sorted_means[nets[k]] = r.sorted_means[k];
        spread[nets[k]] = r.within_net_spread[k];
    }
    for (size_t p = 0; p < r.pairs.size(); ++p)
        distance[nets[size_t(r.pairs[p].first)] + "~" + nets[size_t(r.pairs[p].second)]] = r.between_net_distance[p];
    nlohmann::json out;
    out["sorted_means"] = std::move(sorted_means);
    out["between_net_distance"] = std::move(distance);
    out["within_net_spread"] = std::move(spread);
    out["distance_to_spread_ratio"] = number_or_null(r.distance_to_spread_ratio);
    return out;
}

nlohmann::json mean_activation_json(const LayerStatistics& stats, const std::vector<std::string>& nets) {
    CVG_REQUIRE(nets.size() == stats.block_widths.size(), InvalidArgument,
                "mean_activation_json: " + std::to_string(nets.size()) + " net names for " +
                    std::to_string(stats.block_widths.size()) + " nets");
    return mean_activation_to_json(mean_activation(stats), nets);
}

nlohmann::json similarity_indices_to_json(const SimilarityIndices& r, const std::string& name_a,
                                          const std::string& name_b) {
    using nlohmann::json;
    auto numbers = [](const std::vector<double>& v) {
        json out = json::array();
        for (double x : v) out.push_back(number_or_null(x));
        return out;
    };
    json j;
    j["samples"] = r.samples;
    j["units"] = {{name_a, r.units_a}, {name_b, r.units_b}};
    j["dead_units_excluded"] = {{name_a, r.dead_a}, {name_b, r.dead_b}};
    j["cka"] = number_or_null(r.cka);
    j["cka_debiased"] = number_or_null(r.cka_debiased);
    if (!r.debiased_note.empty()) j["cka_debiased_note"] = r.debiased_note;
    j["cca"] = numbers(r.cca);
    j["cca_mean"] = number_or_null(r.cca_mean);
    j["svcca_variance"] = r.svcca_variance;
    j["svcca_dims"] = {{name_a, r.svcca_dims_a}, {name_b, r.svcca_dims_b}};
    j["svcca"] = numbers(r.svcca);
    j["svcca_mean"] = number_or_null(r.svcca_mean);
    j["pwcca"] = number_or_null(r.pwcca_a);
    j["pwcca_weights"] = name_a;
    j["pwcca_reverse"] = number_or_null(r.pwcca_b);
    j["pwcca_symmetric"] = number_or_null(r.pwcca_symmetric);
    j["procrustes_alpha"] = r.procrustes_alpha;
    j["procrustes_euclidean"] = number_or_null(r.procrustes_euclidean);
    j["procrustes_angular"] = number_or_null(r.procrustes_angular);
    j["ridge"] = {{name_a, r.ridge_a}, {name_b, r.ridge_b}};
    j["warnings"] = r.warnings;
    return j;
}

nlohmann::json cross_layers_to_json(const CrossLayerResult& r) {
    nlohmann::json j;
    j["method"] = "linear CKA, minibatch unbiased HSIC_1 (Nguyen, Raghu & Kornblith 2021)";
    j["batch_size"] = r.batch_size;
    j["batches"] = r.batches;
    j["images"] = r.images;
    j["images_used"] = r.batches * r.batch_size;
    j["dropped_images"] = r.dropped_images;
    j["batch_order"] = "input order";
    j["layers"] = nlohmann::json::object();
    for (const CrossLayerNet& n : r.nets) j["layers"][n.name] = n.layers;
    j["maps"] = nlohmann::json::object();
    for (const CrossLayerMap& m : r.maps) {
        const CrossLayerNet& a = r.nets[size_t(m.a)];
        const CrossLayerNet& b = r.nets[size_t(m.b)];
        nlohmann::json cka = nlohmann::json::array();
        for (index_t i = 0; i < m.rows; ++i) {
            nlohmann::json row = nlohmann::json::array();
            for (index_t k = 0; k < m.cols; ++k) row.push_back(number_or_null(m.cka[size_t(i * m.cols + k)]));
            cka.push_back(std::move(row));
        }
        j["maps"][a.name + "~" + b.name] = {
            {"rows", a.name}, {"cols", b.name}, {"row_layers", a.layers}, {"col_layers", b.layers}, {"cka", cka}};
    }
    return j;
}

}  // namespace convergent
