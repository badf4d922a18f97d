// JSON of the resampling results (docs/summary_schema.md, "resampling").
#include "convergent/summary_json.hpp"

namespace convergent {

nlohmann::json bootstrap_interval_to_json(const BootstrapInterval& r) {
    return {{"estimate", number_or_null(r.estimate)},
            {"low", number_or_null(r.low)},
            {"high", number_or_null(r.high)},
            {"standard_error", number_or_null(r.standard_error)},
            {"bias", number_or_null(r.bias)},
            {"replicates", r.replicates}};
}

nlohmann::json null_summary_to_json(const NullSummary& s) {
    return {{"observed", number_or_null(s.observed)}, {"null_mean", number_or_null(s.mean)},
            {"null_sd", number_or_null(s.sd)},         {"z", number_or_null(s.z)},
            {"p_value", number_or_null(s.p_value)},    {"permutations", s.permutations}};
}

nlohmann::json curve_band_to_json(const CurveBand& band) {
    nlohmann::json low = nlohmann::json::array(), high = nlohmann::json::array();
    for (double v : band.low) low.push_back(number_or_null(v));
    for (double v : band.high) high.push_back(number_or_null(v));
    return {{"low", std::move(low)}, {"high", std::move(high)}};
}

nlohmann::json cluster_holdout_to_json(const ClusterHoldout& c) {
    const auto list = [](const std::vector<double>& v) {
        nlohmann::json a = nlohmann::json::array();
        for (double x : v) a.push_back(number_or_null(x));
        return a;
    };
    return {{"leaves", c.between_in_sample.size()},
            {"between_net_similarity_in_sample", number_or_null(ClusterHoldout::mean(c.between_in_sample))},
            {"between_net_similarity_held_out", number_or_null(ClusterHoldout::mean(c.between_held_out))},
            {"within_net_similarity_in_sample", number_or_null(ClusterHoldout::mean(c.within_in_sample))},
            {"within_net_similarity_held_out", number_or_null(ClusterHoldout::mean(c.within_held_out))},
            {"leaf_between_in_sample", list(c.between_in_sample)},
            {"leaf_between_held_out", list(c.between_held_out)}};
}

nlohmann::json holdout_scores_to_json(const HoldoutScores& h) {
    nlohmann::json j;
    const auto figures = [](const NamedFigures& f) {
        nlohmann::json o = nlohmann::json::object();
        for (const auto& [name, value] : f) o[name] = number_or_null(value);
        return o;
    };
    j["in_sample"] = figures(h.in_sample);
    j["held_out"] = figures(h.held_out);
    if (!h.lasso_alphas.empty()) {
        nlohmann::json in = nlohmann::json::array(), out = nlohmann::json::array();
        for (double v : h.lasso_loss_in_sample) in.push_back(number_or_null(v));
        for (double v : h.lasso_loss_held_out) out.push_back(number_or_null(v));
        j["lasso"] = {{"alphas", h.lasso_alphas}, {"loss_in_sample", in}, {"loss_held_out", out}};
    }
    return j;
}

}  // namespace convergent
