// C ABI: Sec. 3.1 semi-matching, max-weight matching and the Table 1 / Fig. 3
// / Fig. 1d quantities on a caller similarity matrix.
#include <cmath>
#include <limits>

#include "capi_internal.hpp"
#include "convergent/matching.hpp"

using namespace convergent;

namespace {

// Validates the caller matrix and returns it row-major and contiguous (the
// C++ API's layout); NaN/Inf fail with BadData.
std::vector<double> similarity_matrix(const double* similarity, int64_t rows, int64_t cols, int64_t ld,
                                      int32_t layout) {
    std::vector<double> s = capi::finite_row_major(similarity, rows, cols, ld, layout, "similarity");
    CVG_ARG(cols > 0 || rows == 0, "similarity: matrix has rows but no columns");
    return s;
}

template <typename T>
void copy_out(const std::vector<T>& v, T* out) {
    if (out) std::copy(v.begin(), v.end(), out);
}

// The bodies shared by the calls with a context and those with a backend id.
void max_weight_matching_into(const Backend& backend, const std::vector<double>& s, int64_t rows,
                              int64_t cols, int64_t* column, double* value, double* mean, double* primal,
                              double* dual_bound, double* gap) {
    const Matching m = max_weight_matching(backend, s.data(), rows, cols, cols);
    copy_out(m.column, column);
    copy_out(m.value, value);
    if (mean) *mean = m.mean;
    if (primal) *primal = m.certificate.primal;
    if (dual_bound) *dual_bound = m.certificate.dual_bound;
    if (gap) *gap = m.certificate.gap;
}

void align_into(const Backend& backend, const std::vector<double>& s, int64_t rows, int64_t cols,
                int64_t* semi_column, int64_t* matching_column, double* overlap_ratio, int64_t* fig3_order,
                int64_t* matched_order) {
    const Alignment a = align(backend, s.data(), rows, cols);
    copy_out(a.semi.column, semi_column);
    copy_out(a.matching.column, matching_column);
    if (overlap_ratio) *overlap_ratio = a.overlap_ratio;
    copy_out(a.fig3_order, fig3_order);
    copy_out(a.matched_order, matched_order);
}

}  // namespace

extern "C" {

int cvg_semi_matching(const double* similarity, int64_t rows, int64_t cols, int64_t ld, int32_t layout,
                      int64_t* column, double* value, double* mean) {
    return capi::translate_exceptions("cvg_semi_matching", [&] {
        const std::vector<double> s = similarity_matrix(similarity, rows, cols, ld, layout);
        CVG_ARG(column != nullptr || rows == 0, "column is NULL");
        const SemiMatching m = semi_matching(s.data(), rows, cols, cols);
        copy_out(m.column, column);
        copy_out(m.value, value);
        if (mean) *mean = m.mean;
    });
}

int cvg_max_weight_matching(const double* similarity, int64_t rows, int64_t cols, int64_t ld,
                            int32_t layout, int32_t backend, int64_t* column, double* value, double* mean,
                            double* primal, double* dual_bound, double* gap) {
    return capi::translate_exceptions("cvg_max_weight_matching", [&] {
        capi::backend_from_int(backend);  // an unknown id fails before the matrix is read
        const std::vector<double> s = similarity_matrix(similarity, rows, cols, ld, layout);
        CVG_ARG(column != nullptr || rows == 0, "column is NULL");
        max_weight_matching_into(*capi::default_backend(backend), s, rows, cols, column, value, mean, primal,
                                 dual_bound, gap);
    });
}

int cvg_max_weight_matching_ctx(const cvg_context* ctx, const double* similarity, int64_t rows, int64_t cols,
                                int64_t ld, int32_t layout, int64_t* column, double* value, double* mean,
                                double* primal, double* dual_bound, double* gap) {
    return capi::translate_exceptions("cvg_max_weight_matching_ctx", [&] {
        const std::shared_ptr<const Backend>& b = capi::context_backend(ctx);
        const std::vector<double> s = similarity_matrix(similarity, rows, cols, ld, layout);
        CVG_ARG(column != nullptr || rows == 0, "column is NULL");
        max_weight_matching_into(*b, s, rows, cols, column, value, mean, primal, dual_bound, gap);
    });
}

int cvg_align(const double* similarity, int64_t rows, int64_t cols, int64_t ld, int32_t layout,
              int32_t backend, int64_t* semi_column, int64_t* matching_column, double* overlap_ratio,
              int64_t* fig3_order, int64_t* matched_order) {
    return capi::translate_exceptions("cvg_align", [&] {
        capi::backend_from_int(backend);
        const std::vector<double> s = similarity_matrix(similarity, rows, cols, ld, layout);
        align_into(*capi::default_backend(backend), s, rows, cols, semi_column, matching_column,
                   overlap_ratio, fig3_order, matched_order);
    });
}

int cvg_align_ctx(const cvg_context* ctx, const double* similarity, int64_t rows, int64_t cols, int64_t ld,
                  int32_t layout, int64_t* semi_column, int64_t* matching_column, double* overlap_ratio,
                  int64_t* fig3_order, int64_t* matched_order) {
    return capi::translate_exceptions("cvg_align_ctx", [&] {
        const std::shared_ptr<const Backend>& b = capi::context_backend(ctx);
        const std::vector<double> s = similarity_matrix(similarity, rows, cols, ld, layout);
        align_into(*b, s, rows, cols, semi_column, matching_column, overlap_ratio, fig3_order, matched_order);
    });
}

int cvg_table1(const cvg_stats* stats, int32_t net_a, int32_t net_b, const cvg_options* opts,
               double* semi_matching_mean, double* matching_mean, double* overlap_ratio) {
    return capi::translate_exceptions("cvg_table1", [&] {
        const LayerStatistics& st = capi::finalized_statistics(stats);
        capi::check_net(stats, net_a, "net_a");
        capi::check_net(stats, net_b, "net_b");
        CVG_ARG(net_a != net_b, "net_a and net_b are both " + std::to_string(net_a));
        const std::vector<double> c = st.correlation_block(net_a, net_b);
        const Alignment a = align_nets(*stats->backend, c.data(), st, net_a, net_b,
                                       capi::options_or_defaults(opts).compare.matching.include_dead_units);
        if (semi_matching_mean) *semi_matching_mean = a.semi.mean;
        if (matching_mean) *matching_mean = a.matching.mean;
        if (overlap_ratio) *overlap_ratio = a.overlap_ratio;
    });
}

}  // extern "C"
