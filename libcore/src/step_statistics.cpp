// Sec. 2: per-unit mean and standard deviation, dead units, and the within-
// and between-net correlation matrices (Fig. 1a-c) of every net pair.
#include "analysis_step.hpp"

namespace convergent {

namespace {

std::vector<double> slice(const std::vector<double>& v, index_t offset, index_t count) {
    return std::vector<double>(v.begin() + offset, v.begin() + offset + count);
}

void run(LayerContext& ctx) {
    const LayerData& d = ctx.data();
    const LayerStatistics& stats = ctx.stats();
    nlohmann::json& lj = ctx.layer_json();
    lj["shape"] = {{"images", d.images}, {"positions", d.positions}};
    lj["samples"] = stats.samples;
    lj["units"] = nlohmann::json::object();
    lj["dead_units"] = nlohmann::json::object();
    lj["mean"] = nlohmann::json::object();
    lj["std"] = nlohmann::json::object();
    for (int n = 0; n < ctx.nets(); ++n) {
        const std::string& name = ctx.net_name(n);
        lj["units"][name] = ctx.width(n);
        lj["dead_units"][name] = stats.dead_units(n);
        lj["mean"][name] = slice(stats.mean, stats.block_offsets[size_t(n)], ctx.width(n));
        lj["std"][name] = slice(stats.stddev, stats.block_offsets[size_t(n)], ctx.width(n));
    }
    lj["files"] = nlohmann::json::object();
    lj["pairs"] = nlohmann::json::object();
    for (int a = 0; a < ctx.nets(); ++a)
        for (int b = a; b < ctx.nets(); ++b) {
            ctx.write_pair_matrix(a, b, "corr", stats.correlation_block(a, b), ctx.width(a), ctx.width(b));
            if (a != b) ctx.pair_json(a, b);  // every pair has an entry, even with no pair analysis
        }
}

}  // namespace

AnalysisStep statistics_step() {
    return {"statistics", "per-unit mean/std, dead units, within- and between-net correlation (Sec. 2)", nullptr,
            [](const CompareOptions&) { return true; }, nullptr, run};
}

}  // namespace convergent
