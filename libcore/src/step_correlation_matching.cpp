// Sec. 3.1: one-to-one alignment of every net pair by semi-matching and
// max-weight bipartite matching of the correlation, with Table 1's figures
// and the Fig. 1d matched-order matrix.
#include "analysis_step.hpp"
#include "convergent/matching.hpp"
#include "convergent/summary_json.hpp"

namespace convergent {

Alignment align_pair(LayerContext& ctx, int a, int b, const std::vector<double>& similarity,
                     const std::string& kind) {
    Alignment alignment = align_nets(ctx.backend(), similarity.data(), ctx.stats(), a, b,
                                     ctx.options().matching.include_dead_units);
    ctx.write_pair_matrix(a, b, kind + "_matched",
                          matched_order_matrix(similarity.data(), ctx.width(a), ctx.width(b), alignment),
                          ctx.width(a), ctx.width(b));
    return alignment;
}

namespace {

void run(LayerContext& ctx) {
    PairResults<Alignment>& alignments = ctx.publish("correlation_matching", PairResults<Alignment>{});
    for (int a = 0; a < ctx.nets(); ++a)
        for (int b = a + 1; b < ctx.nets(); ++b) {
            const Alignment al = align_pair(ctx, a, b, ctx.stats().correlation_block(a, b), "corr");
            ctx.pair_json(a, b)["correlation"] = alignment_to_json(al);
            alignments[{a, b}] = al;
        }
}

}  // namespace

AnalysisStep correlation_matching_step() {
    return {"correlation_matching", "semi-matching and max-weight matching of correlations, Table 1 (Sec. 3.1)",
            nullptr, [](const CompareOptions& o) { return o.matching.enabled; }, nullptr, run};
}

}  // namespace convergent
