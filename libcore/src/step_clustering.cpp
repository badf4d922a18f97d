// Sec. 4.1-4.3: hierarchical spectral clustering of the combined correlation
// graph of every net pair, with the Sec. 6.6 cluster similarity metrics.
// Written to summary.json as "clusters" / "<a>~<b>".
#include "analysis_step.hpp"
#include "convergent/spectral_clustering.hpp"
#include "convergent/summary_json.hpp"

namespace convergent {

namespace {

void run(LayerContext& ctx) {
    const ClusteringOptions copt = clustering_options(ctx.options());
    nlohmann::json& clusters = ctx.layer_json()["clusters"];
    for (int a = 0; a < ctx.nets(); ++a)
        for (int b = a + 1; b < ctx.nets(); ++b) {
            const ClusteringResult r = spectral_clustering(ctx.backend(), ctx.stats(), a, b, copt);
            clusters[ctx.pair_key(a, b)] = clustering_to_json(r, ctx.net_name(a), ctx.net_name(b));
        }
}

}  // namespace

AnalysisStep clustering_step() {
    return {"clustering", "hierarchical spectral clustering of the combined correlation graph (Sec. 4)", nullptr,
            [](const CompareOptions& o) { return o.clustering.enabled; }, nullptr, run};
}

}  // namespace convergent
