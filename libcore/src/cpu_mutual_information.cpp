// Sec. 3.2 on the CPU backend: exact all-pairs joint histograms by direct
// counting, MI in the epilogue.
//
// Why counting and not a one-hot GEMM on the CPU: counts = onehot(A)^T onehot(B)
// costs 2 * bins^2 flops per (pair, sample) (882 for 21 bins), whereas a
// counting pass costs one increment per (pair, sample). A micro-kernel of
// 2 units of a x 4 units of b keeps eight int32 bins x bins tables in L1 and
// reads 6 code bytes for 8 increments, so the loop is bound by the stores
// (about half a cycle per pair and sample), far below any SIMD GEMM.
#include "cpu_backend.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "allocation.hpp"
#include "parallel_guard.hpp"

#include "convergent/mutual_information.hpp"

namespace convergent {

namespace {

constexpr index_t kRowsPerItem = 2;  // units of a per micro-kernel
constexpr index_t kColsPerItem = 4;  // units of b per micro-kernel

// Adds the joint histograms of 2 x 4 unit pairs over samples [0, n).
// xoff[i][s] = code_a * bins (precomputed), y[j][s] = code_b; table[i*4+j]
// is the bins x bins table of pair (i, j). Eight independent increment
// streams per sample hide the store-to-load latency when consecutive samples
// hit the same bin (e.g. the zero bin of ReLU units).
void count_2x4(const std::uint16_t* const xoff[kRowsPerItem], const std::uint8_t* const y[kColsPerItem],
               index_t n, std::int32_t* const table[kRowsPerItem * kColsPerItem]) {
    const std::uint16_t* x0 = xoff[0];
    const std::uint16_t* x1 = xoff[1];
    const std::uint8_t* y0 = y[0];
    const std::uint8_t* y1 = y[1];
    const std::uint8_t* y2 = y[2];
    const std::uint8_t* y3 = y[3];
    std::int32_t* t00 = table[0];
    std::int32_t* t01 = table[1];
    std::int32_t* t02 = table[2];
    std::int32_t* t03 = table[3];
    std::int32_t* t10 = table[4];
    std::int32_t* t11 = table[5];
    std::int32_t* t12 = table[6];
    std::int32_t* t13 = table[7];
    for (index_t s = 0; s < n; ++s) {
        const unsigned i0 = x0[s], i1 = x1[s];
        const unsigned j0 = y0[s], j1 = y1[s], j2 = y2[s], j3 = y3[s];
        ++t00[i0 + j0];
        ++t01[i0 + j1];
        ++t02[i0 + j2];
        ++t03[i0 + j3];
        ++t10[i1 + j0];
        ++t11[i1 + j1];
        ++t12[i1 + j2];
        ++t13[i1 + j3];
    }
}

// Calls visit(i, j, table) for every pair i in [0, a_count), j in [0, b_count)
// (unit indices relative to a_begin / b_begin), from inside an OpenMP region;
// table is the exact bins x bins joint count table, valid during the call.
// With upper_only, only pairs with a_begin + i <= b_begin + j are guaranteed
// (the within-net case; a few pairs below the diagonal are visited too).
template <class Visit>
void for_each_joint_table(const BinCodesView& a, index_t a_begin, index_t a_count,
                          const BinCodesView& b, index_t b_begin, index_t b_count, bool upper_only,
                          Visit&& visit) {
    const index_t bins = a.bins;
    const index_t table_size = bins * bins;
    const index_t samples = a.samples;
    const index_t row_groups = (a_count + kRowsPerItem - 1) / kRowsPerItem;
    const index_t col_groups = (b_count + kColsPerItem - 1) / kColsPerItem;

    // Per-thread scratch is allocated before the region (an exception may
    // not leave it); the guard carries anything `visit` throws out of it.
    const std::string what = "mutual information (" + std::to_string(a_count) + " x " +
                             std::to_string(b_count) + " units, " + std::to_string(samples) + " samples)";
    const int threads = std::max(1, omp_get_max_threads());
    const index_t xoff_size = kRowsPerItem * samples, tables_size = kRowsPerItem * kColsPerItem * table_size;
    std::vector<std::uint16_t> all_xoff;
    std::vector<std::int32_t> all_tables;
    resize_or_fail(all_xoff, std::uint64_t(threads) * std::uint64_t(xoff_size), what, "per-thread bin offsets");
    resize_or_fail(all_tables, std::uint64_t(threads) * std::uint64_t(tables_size), what,
                   "per-thread joint count tables");
    ParallelGuard guard;
#pragma omp parallel num_threads(threads)
    {
        const int thread = omp_get_thread_num();
        std::uint16_t* const xoff = all_xoff.data() + index_t(thread) * xoff_size;
        std::int32_t* const tables = all_tables.data() + index_t(thread) * tables_size;
        // Rows of a are spread over threads; each thread streams all b units
        // past its two x rows (kept in L2 as uint16 offsets).
#pragma omp for schedule(dynamic, 1)
        for (index_t rg = 0; rg < row_groups; ++rg) guard.run([&] {
            const index_t i_first = rg * kRowsPerItem;
            const index_t rows_here = std::min(kRowsPerItem, a_count - i_first);
            const std::uint16_t* xptr[kRowsPerItem];
            for (index_t r = 0; r < kRowsPerItem; ++r) {
                // A missing row repeats the last real one; its tables are ignored.
                const index_t i = i_first + std::min(r, rows_here - 1);
                const std::uint8_t* codes = a.codes + (a_begin + i) * samples;
                std::uint16_t* off = xoff + r * samples;
                for (index_t s = 0; s < samples; ++s) off[s] = std::uint16_t(codes[s] * bins);
                xptr[r] = off;
            }
            index_t cg_first = 0;
            if (upper_only) {
                // Global column index b_begin + j >= global row a_begin + i_first.
                const index_t j_min = std::max<index_t>(0, a_begin + i_first - b_begin);
                cg_first = j_min / kColsPerItem;
            }
            for (index_t cg = cg_first; cg < col_groups; ++cg) {
                const index_t j_first = cg * kColsPerItem;
                const index_t cols_here = std::min(kColsPerItem, b_count - j_first);
                const std::uint8_t* yptr[kColsPerItem];
                for (index_t c = 0; c < kColsPerItem; ++c) {
                    const index_t j = j_first + std::min(c, cols_here - 1);
                    yptr[c] = b.codes + (b_begin + j) * samples;
                }
                std::fill(tables, tables + tables_size, 0);
                std::int32_t* tptr[kRowsPerItem * kColsPerItem];
                for (index_t t = 0; t < kRowsPerItem * kColsPerItem; ++t)
                    tptr[t] = tables + t * table_size;
                count_2x4(xptr, yptr, samples, tptr);
                for (index_t r = 0; r < rows_here; ++r)
                    for (index_t c = 0; c < cols_here; ++c)
                        visit(i_first + r, j_first + c, tptr[r * kColsPerItem + c]);
            }
        });
    }
    guard.rethrow(what);
}

void check_pair(const BinCodesView& a, const BinCodesView& b, const char* op) {
    check_bin_codes(a, (std::string(op) + ": a").c_str());
    check_bin_codes(b, (std::string(op) + ": b").c_str());
    CVG_REQUIRE(a.samples == b.samples, InvalidArgument,
                std::string(op) + ": a and b have different sample counts (" +
                    std::to_string(a.samples) + " vs " + std::to_string(b.samples) + ")");
    CVG_REQUIRE(a.bins == b.bins, InvalidArgument,
                std::string(op) + ": a and b have different bin counts (" +
                    std::to_string(a.bins) + " vs " + std::to_string(b.bins) + ")");
}

// c log c for c in [0, samples]; a table for the usual sizes (footnote 6:
// 60,000 samples -> 469 KiB), std::log beyond.
class NLogN {
public:
    explicit NLogN(index_t samples) {
        if (samples <= (index_t(1) << 21)) {
            table_.resize(size_t(samples + 1));
            table_[0] = 0.0;
#pragma omp parallel for schedule(static)
            for (index_t c = 1; c <= samples; ++c) table_[size_t(c)] = double(c) * std::log(double(c));
        }
    }
    double operator()(std::int64_t c) const {
        if (!table_.empty()) return table_[size_t(c)];
        return c > 0 ? double(c) * std::log(double(c)) : 0.0;
    }

private:
    std::vector<double> table_;
};

// sum_x c_x log c_x of each unit's marginal histogram (bin order).
std::vector<double> marginal_terms(const BinCodesView& v, const NLogN& nlogn) {
    std::vector<double> out(size_t(v.units));
    // Per-thread histograms allocated before the region (no exception may leave it).
    const int threads = std::max(1, omp_get_max_threads());
    std::vector<std::int64_t> all_hist(size_t(threads) * size_t(v.bins));
#pragma omp parallel num_threads(threads)
    {
        std::int64_t* const hist = all_hist.data() + size_t(omp_get_thread_num()) * size_t(v.bins);
#pragma omp for schedule(static)
        for (index_t u = 0; u < v.units; ++u) {
            std::fill(hist, hist + v.bins, 0);
            const std::uint8_t* codes = v.codes + u * v.samples;
            for (index_t s = 0; s < v.samples; ++s) ++hist[codes[s]];
            double h = 0.0;
            for (int x = 0; x < v.bins; ++x) h += nlogn(hist[x]);
            out[size_t(u)] = h;
        }
    }
    return out;
}

}  // namespace

std::vector<std::int32_t> joint_histogram_counts(const BinCodesView& a, index_t a_begin,
                                                 index_t a_count, const BinCodesView& b,
                                                 index_t b_begin, index_t b_count) {
    check_pair(a, b, "joint_histogram_counts");
    CVG_REQUIRE(a_begin >= 0 && a_count >= 0 && a_begin + a_count <= a.units && b_begin >= 0 &&
                    b_count >= 0 && b_begin + b_count <= b.units,
                InvalidArgument, "joint_histogram_counts: unit range out of bounds");
    const index_t table_size = index_t(a.bins) * a.bins;
    std::vector<std::int32_t> counts(size_t(a_count * b_count * table_size));
    for_each_joint_table(a, a_begin, a_count, b, b_begin, b_count, false,
                         [&](index_t i, index_t j, const std::int32_t* table) {
                             std::memcpy(counts.data() + (i * b_count + j) * table_size, table,
                                         sizeof(std::int32_t) * size_t(table_size));
                         });
    return counts;
}

void CpuBackend::mutual_information(const BinCodesView& a, const BinCodesView& b,
                                    double* mi) const {
    check_pair(a, b, "mutual_information");
    CVG_REQUIRE(mi != nullptr || a.units * b.units == 0, InvalidArgument,
                "mutual_information: mi is NULL");
    if (a.units == 0 || b.units == 0) return;
    const index_t n = a.samples;
    const int bins = a.bins;
    const NLogN nlogn(n);
    const bool same = a.codes == b.codes && a.units == b.units;
    const std::vector<double> hx = marginal_terms(a, nlogn);
    const std::vector<double> hy = same ? hx : marginal_terms(b, nlogn);
    const double n_log_n = nlogn(n);
    const index_t b_units = b.units;
    // Sec. 3.2 plug-in MI, epilogue on the exact table:
    // (sum c_xy log c_xy - sum c_x log c_x - sum c_y log c_y + n log n) / n.
    for_each_joint_table(a, 0, a.units, b, 0, b.units, same,
                         [&](index_t i, index_t j, const std::int32_t* table) {
                             double joint = 0.0;
                             for (int t = 0; t < bins * bins; ++t)
                                 if (table[t] != 0) joint += nlogn(table[t]);
                             const double value =
                                 (joint - hx[size_t(i)] - hy[size_t(j)] + n_log_n) / double(n);
                             mi[i * b_units + j] = value > 0.0 ? value : 0.0;
                         });
    if (same) {
        // Within-net: only i <= j was counted for sure; the matrix is symmetric.
        for (index_t i = 0; i < a.units; ++i)
            for (index_t j = 0; j < i; ++j) mi[i * b_units + j] = mi[j * b_units + i];
    }
}

}  // namespace convergent
