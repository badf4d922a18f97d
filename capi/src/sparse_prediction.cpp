// C ABI: sparse prediction (Sec. 4 / reviews), the lasso path on the
// correlations of a finalised cvg_stats.
#include <cmath>

#include "capi_internal.hpp"
#include "convergent/sparse_prediction.hpp"

using namespace convergent;

struct cvg_sparse {
    SparsePredictionResult result;
};

namespace {
const SparsePredictionResult& result_of(const cvg_sparse* s) {
    capi::require_live(s, capi::HandleKind::Sparse, "sparse");
    return s->result;
}

template <typename T, typename In>
int per_alpha(const char* fn, const cvg_sparse* s, T* out, std::vector<In> SparsePredictionResult::*field) {
    return capi::translate_exceptions(fn, [&] {
        const SparsePredictionResult& r = result_of(s);
        CVG_ARG(out != nullptr, "out is NULL");
        const std::vector<In>& v = r.*field;
        for (size_t i = 0; i < v.size(); ++i) out[i] = static_cast<T>(v[i]);
    });
}

// Writes an [alpha][target] table as an n_alphas x targets caller matrix.
template <typename T, typename In>
void write_table(const SparsePredictionResult& r, const std::vector<std::vector<In>>& table, T* out,
                 int64_t ld, int32_t layout) {
    const int64_t rows = int64_t(r.alphas.size()), cols = r.targets;
    CVG_ARG(out != nullptr || rows == 0 || cols == 0, "out is NULL");
    capi::check_matrix(out, rows, cols, ld, layout, "out");
    for (int64_t a = 0; a < rows; ++a)
        for (int64_t t = 0; t < cols; ++t)
            capi::element(out, a, t, ld, layout) = static_cast<T>(table[size_t(a)][size_t(t)]);
}

}  // namespace

extern "C" {

int cvg_sparse_prediction(cvg_sparse** out, const cvg_stats* stats, int32_t target_net, int32_t predictor_net,
                          const cvg_options* opts) {
    return capi::translate_exceptions("cvg_sparse_prediction", [&] {
        CVG_ARG(out != nullptr, "out is NULL");
        *out = nullptr;
        const LayerStatistics& st = capi::finalized_statistics(stats);
        capi::check_net(stats, target_net, "target_net");
        capi::check_net(stats, predictor_net, "predictor_net");
        CVG_ARG(target_net != predictor_net, "target_net and predictor_net are both " +
                                                 std::to_string(target_net) +
                                                 ": a net would predict each unit from itself");
        const cvg_options& o = capi::options_or_defaults(opts);
        const SparsePredictionOptions sopt = sparse_prediction_options(o.compare);
        auto handle = std::make_unique<cvg_sparse>();
        handle->result = sparse_prediction(st, target_net, predictor_net, sopt);
        *out = capi::publish(std::move(handle), capi::HandleKind::Sparse);
    });
}

void cvg_sparse_destroy(cvg_sparse* sparse) { capi::destroy(sparse, capi::HandleKind::Sparse, "cvg_sparse_destroy"); }

int cvg_sparse_shape(const cvg_sparse* sparse, int64_t* n_alphas, int64_t* targets, int64_t* predictors) {
    return capi::translate_exceptions("cvg_sparse_shape", [&] {
        const SparsePredictionResult& r = result_of(sparse);
        if (n_alphas) *n_alphas = int64_t(r.alphas.size());
        if (targets) *targets = r.targets;
        if (predictors) *predictors = r.predictors;
    });
}

int cvg_sparse_alphas(const cvg_sparse* sparse, double* out) {
    return per_alpha("cvg_sparse_alphas", sparse, out, &SparsePredictionResult::alphas);
}
int cvg_sparse_mean_loss(const cvg_sparse* sparse, double* out) {
    return per_alpha("cvg_sparse_mean_loss", sparse, out, &SparsePredictionResult::mean_loss);
}
int cvg_sparse_mean_nonzero(const cvg_sparse* sparse, double* out) {
    return per_alpha("cvg_sparse_mean_nonzero", sparse, out, &SparsePredictionResult::mean_nonzero);
}
int cvg_sparse_max_duality_gap(const cvg_sparse* sparse, double* out) {
    return per_alpha("cvg_sparse_max_duality_gap", sparse, out, &SparsePredictionResult::max_duality_gap);
}
int cvg_sparse_converged(const cvg_sparse* sparse, int32_t* out) {
    return per_alpha("cvg_sparse_converged", sparse, out, &SparsePredictionResult::converged);
}

int cvg_sparse_loss(const cvg_sparse* sparse, double* out, int64_t ld, int32_t layout) {
    return capi::translate_exceptions("cvg_sparse_loss", [&] {
        const SparsePredictionResult& r = result_of(sparse);
        write_table(r, r.loss, out, ld, layout);
    });
}

int cvg_sparse_nonzero(const cvg_sparse* sparse, int64_t* out, int64_t ld, int32_t layout) {
    return capi::translate_exceptions("cvg_sparse_nonzero", [&] {
        const SparsePredictionResult& r = result_of(sparse);
        write_table(r, r.nonzero, out, ld, layout);
    });
}

int cvg_sparse_weights(const cvg_sparse* sparse, int64_t alpha_index, double* out, int64_t ld, int32_t layout) {
    return capi::translate_exceptions("cvg_sparse_weights", [&] {
        const SparsePredictionResult& r = result_of(sparse);
        CVG_ARG(alpha_index >= 0 && alpha_index < int64_t(r.alphas.size()),
                "alpha_index = " + std::to_string(alpha_index) + " is out of range [0, " +
                    std::to_string(r.alphas.size()) + ")");
        CVG_ARG(!r.weights.empty(),
                "the weights were not kept: set CVG_OPT_LASSO_KEEP_WEIGHTS = 1 before cvg_sparse_prediction");
        CVG_ARG(out != nullptr, "out is NULL");
        capi::write_matrix(r.weights[size_t(alpha_index)].data(), r.targets, r.predictors, out, ld, layout,
                           "out");
    });
}

}  // extern "C"
