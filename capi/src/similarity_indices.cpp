// C ABI: whole-layer similarity indices (linear and debiased CKA, CCA,
// SVCCA, PWCCA, Procrustes) of two nets, from covariance blocks or from data.
#include <limits>

#include "capi_internal.hpp"
#include "convergent/options.hpp"
#include "convergent/similarity_indices.hpp"

using namespace convergent;

namespace {

void fill(cvg_similarity_result* out, const SimilarityIndices& r, double* canonical_correlations) {
    out->units_a = r.units_a, out->units_b = r.units_b, out->samples = r.samples;
    out->dead_a = r.dead_a, out->dead_b = r.dead_b;
    out->svcca_dims_a = r.svcca_dims_a, out->svcca_dims_b = r.svcca_dims_b;
    out->warnings = int64_t(r.warnings.size());
    out->cka = r.cka;
    out->cka_debiased = r.cka_debiased;
    out->cca_mean = r.cca_mean, out->svcca_mean = r.svcca_mean;
    out->pwcca = r.pwcca_a, out->pwcca_reverse = r.pwcca_b, out->pwcca_symmetric = r.pwcca_symmetric;
    out->procrustes_euclidean = r.procrustes_euclidean, out->procrustes_angular = r.procrustes_angular;
    out->ridge_a = r.ridge_a, out->ridge_b = r.ridge_b;
    if (canonical_correlations == nullptr) return;
    const int64_t k = r.units_a < r.units_b ? r.units_a : r.units_b;
    for (int64_t i = 0; i < k; ++i)
        canonical_correlations[i] =
            size_t(i) < r.cca.size() ? r.cca[size_t(i)] : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace

extern "C" {

int cvg_similarity_indices(cvg_similarity_result* out, const double* cov_aa, int64_t ld_aa, const double* cov_bb,
                           int64_t ld_bb, const double* cov_ab, int64_t ld_ab, int32_t layout, int64_t units_a,
                           int64_t units_b, int64_t samples, const cvg_options* opts,
                           double* canonical_correlations) {
    return capi::translate_exceptions("cvg_similarity_indices", [&] {
        CVG_ARG(out != nullptr, "out is NULL");
        CVG_ARG(units_a >= 1 && units_b >= 1, "units_a and units_b must be >= 1");
        CVG_ARG(samples >= 2, "samples must be >= 2 (" + std::to_string(samples) + ")");
        const std::vector<double> aa = capi::finite_row_major(cov_aa, units_a, units_a, ld_aa, layout, "cov_aa");
        const std::vector<double> bb = capi::finite_row_major(cov_bb, units_b, units_b, ld_bb, layout, "cov_bb");
        const std::vector<double> ab = capi::finite_row_major(cov_ab, units_a, units_b, ld_ab, layout, "cov_ab");
        const cvg_options& o = capi::options_or_defaults(opts);
        fill(out,
             similarity_indices(aa.data(), bb.data(), ab.data(), units_a, units_b, samples,
                                similarity_indices_options(o.compare), nullptr),
             canonical_correlations);
    });
}

int cvg_similarity_indices_data(cvg_similarity_result* out, const double* x, int64_t ldx, const double* y,
                                int64_t ldy, int32_t layout, int64_t samples, int64_t units_a, int64_t units_b,
                                const cvg_options* opts, double* canonical_correlations) {
    return capi::translate_exceptions("cvg_similarity_indices_data", [&] {
        CVG_ARG(out != nullptr, "out is NULL");
        CVG_ARG(units_a >= 1 && units_b >= 1, "units_a and units_b must be >= 1");
        CVG_ARG(samples >= 2, "samples must be >= 2 (" + std::to_string(samples) + ")");
        const std::vector<double> xr = capi::finite_row_major(x, samples, units_a, ldx, layout, "x");
        const std::vector<double> yr = capi::finite_row_major(y, samples, units_b, ldy, layout, "y");
        const cvg_options& o = capi::options_or_defaults(opts);
        fill(out,
             similarity_indices_from_data(xr.data(), yr.data(), samples, units_a, units_b,
                                          similarity_indices_options(o.compare)),
             canonical_correlations);
    });
}

}  // extern "C"
