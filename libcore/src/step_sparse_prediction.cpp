// Sec. 4 (few-to-one) and the reviews: every unit of net a predicted from all
// units of net b by an L1-regularised linear map, loss vs non-zero weights
// along a path of L1 strengths, on the accumulated correlations.
#include "analysis_step.hpp"
#include "convergent/npy.hpp"
#include "convergent/sparse_prediction.hpp"
#include "convergent/summary_json.hpp"

namespace convergent {

namespace {

void run(LayerContext& ctx) {
    const SparsePredictionOptions sopt = sparse_prediction_options(ctx.options());
    for (int a = 0; a < ctx.nets(); ++a)
        for (int b = a + 1; b < ctx.nets(); ++b) {
            const SparsePredictionResult sp = sparse_prediction(ctx.stats(), a, b, sopt);
            ctx.pair_json(a, b)["sparse_prediction"] = sparse_prediction_to_json(sp, ctx.net_name(a), ctx.net_name(b));
            if (!sopt.keep_weights) continue;
            // alphas x targets (units of a) x predictors (units of b), standardised units.
            std::vector<float> w;
            w.reserve(sp.weights.size() * size_t(sp.targets * sp.predictors));
            for (const auto& per_alpha : sp.weights) w.insert(w.end(), per_alpha.begin(), per_alpha.end());
            ctx.write_pair_array(a, b, "lasso_weights", w, {index_t(sp.weights.size()), sp.targets, sp.predictors});
        }
}

}  // namespace

AnalysisStep sparse_prediction_step() {
    return {"sparse_prediction", "L1 few-to-one prediction paths, loss vs non-zero weights (Sec. 4)", nullptr,
            [](const CompareOptions& o) { return o.sparse_prediction.enabled; }, nullptr, run};
}

}  // namespace convergent
