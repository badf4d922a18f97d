// Sec. 3.1 ("a core representation is shared, but some rare features are
// learned in one network but not another"): with three or more nets, follow
// the max-weight matchings around cycles of nets; units that come back are
// core, the others rare. Runs whenever the correlation alignments exist.
#include "analysis_step.hpp"
#include "convergent/matching.hpp"
#include "convergent/summary_json.hpp"

namespace convergent {

namespace {

void run(LayerContext& ctx) {
    if (ctx.nets() < 3 || !ctx.has_result("correlation_matching")) return;
    const auto& alignments = ctx.result<PairResults<Alignment>>("correlation_matching");
    const CycleConsistency c =
        cycle_consistency(ctx.nets(), [&](int a, int b) -> const Alignment& { return alignments.at({a, b}); });
    ctx.layer_json()["cycle_consistency"] = cycle_consistency_to_json(c, ctx.data().nets);
}

}  // namespace

AnalysisStep cycle_consistency_step() {
    return {"cycle_consistency", "core vs rare units along matching cycles over >= 3 nets (Sec. 3.1)", nullptr,
            [](const CompareOptions&) { return true; }, nullptr, run};
}

}  // namespace convergent
