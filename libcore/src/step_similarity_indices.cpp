// Whole-layer similarity indices of every net pair beside the paper's unit
// matching (Sec. 3.1): linear and debiased CKA, CCA, SVCCA, PWCCA and
// Procrustes distances, from the streamed covariances and, for debiased
// CKA, the per-sample sums gathered in the same pass (similarity_indices.hpp).
#include "analysis_step.hpp"
#include "convergent/similarity_indices.hpp"
#include "convergent/summary_json.hpp"

namespace convergent {

namespace {

void request(const CompareOptions&, LayerPassRequest& r) { r.per_sample_terms = true; }

void run(LayerContext& ctx) {
    const SimilarityIndicesOptions options = similarity_indices_options(ctx.options());
    const PerSampleTerms& terms = ctx.data().per_sample;
    for (int a = 0; a < ctx.nets(); ++a)
        for (int b = a + 1; b < ctx.nets(); ++b) {
            SimilarityIndices r;
            {
                const std::vector<double> xx = ctx.stats().covariance_block(a, a);
                const std::vector<double> yy = ctx.stats().covariance_block(b, b);
                const std::vector<double> xy = ctx.stats().covariance_block(a, b);
                if (terms.unavailable.empty() && terms.samples == ctx.stats().samples) {
                    const HsicPairTerms pair = hsic_pair_terms(terms, a, b);
                    r = similarity_indices(xx.data(), yy.data(), xy.data(), ctx.width(a), ctx.width(b),
                                           ctx.stats().samples, options, &pair);
                } else {
                    r = similarity_indices(xx.data(), yy.data(), xy.data(), ctx.width(a), ctx.width(b),
                                           ctx.stats().samples, options, nullptr);
                    r.debiased_note = terms.unavailable.empty()
                                          ? "not available: the per-sample terms were not gathered for every sample"
                                          : terms.unavailable;
                }
            }
            // "net a: ..." -> "net 'conv_net1': ...".
            for (std::string& w : r.warnings)
                for (const auto& [side, net] : {std::pair<std::string, int>{"net a:", a}, {"net b:", b}})
                    if (w.compare(0, side.size(), side) == 0)
                        w = "net '" + ctx.net_name(net) + "':" + w.substr(side.size());
            ctx.pair_json(a, b)["similarity_indices"] =
                similarity_indices_to_json(r, ctx.net_name(a), ctx.net_name(b));
        }
}

}  // namespace

AnalysisStep similarity_indices_step() {
    return {"similarity_indices",
            "linear and debiased CKA, CCA, SVCCA, PWCCA and Procrustes distances of whole layers, beside the "
            "unit matching of Sec. 3.1",
            nullptr, [](const CompareOptions& o) { return o.similarity_indices.enabled; }, request, run};
}

}  // namespace convergent
