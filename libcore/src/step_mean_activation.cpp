// Abstract, finding 3: the sorted mean activations of every net, their
// between-net distances and within-net spread.
#include "analysis_step.hpp"
#include "convergent/mean_activation.hpp"
#include "convergent/summary_json.hpp"

namespace convergent {

namespace {

void run(LayerContext& ctx) {
    ctx.layer_json()["mean_activation"] = mean_activation_to_json(mean_activation(ctx.stats()), ctx.data().nets);
}

}  // namespace

AnalysisStep mean_activation_step() {
    return {"mean_activation", "sorted mean activations across nets (abstract, finding 3)", nullptr,
            [](const CompareOptions& o) { return o.mean_activation.enabled; }, nullptr, run};
}

}  // namespace convergent
