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
#include <cstdint>
#include <cstdlib>
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

// The sparse-aware variant (exact): one unit of a whose samples outside its
// most frequent bin m ("the mode": the zero bin of a ReLU unit) are listed
// in idx, with their code offsets in xoff. Counts those samples against 4
// units of b; row m of each table is then filled in from b's marginal
// histogram (complete_mode_row), since c(m, y) = c_b(y) - sum_{x != m} c(x, y).
// The cost is one increment per (pair, listed sample) instead of per
// (pair, sample): half the increments at 50% sparsity, a tenth at 90%.
void count_1x4_listed(const std::uint32_t* idx, const std::uint16_t* xoff, index_t listed,
                      const std::uint8_t* const y[kColsPerItem], std::int32_t* const table[kColsPerItem]) {
    const std::uint8_t* y0 = y[0];
    const std::uint8_t* y1 = y[1];
    const std::uint8_t* y2 = y[2];
    const std::uint8_t* y3 = y[3];
    std::int32_t* t0 = table[0];
    std::int32_t* t1 = table[1];
    std::int32_t* t2 = table[2];
    std::int32_t* t3 = table[3];
    for (index_t k = 0; k < listed; ++k) {
        const std::uint32_t s = idx[k];
        const unsigned i0 = xoff[k];
        ++t0[i0 + y0[s]];
        ++t1[i0 + y1[s]];
        ++t2[i0 + y2[s]];
        ++t3[i0 + y3[s]];
    }
}

// Row `mode` of a bins x bins table whose other rows are complete.
void complete_mode_row(std::int32_t* table, int bins, int mode, const std::int32_t* b_marginal) {
    std::int32_t* row = table + mode * bins;
    for (int y = 0; y < bins; ++y) {
        std::int32_t rest = 0;
        for (int x = 0; x < bins; ++x)
            if (x != mode) rest += table[x * bins + y];
        row[y] = b_marginal[y] - rest;
    }
}

// A unit is counted by the listed kernel when at most this fraction of its
// samples lie outside its mode. Measured (docs/benchmarks.md, "Sparse-aware
// MI counting": 256 x 256 units, 60,000 samples, 21 bins, same data both
// ways) the listed kernel wins at every zero fraction, even uniform codes
// (0.63 s vs 0.68 s; 2.0x at 30% zeros, 2.3x at 50%, 3.8x at 90%: the dense
// kernel also slows down on repeated bins), so every unit is listed; the
// dense kernel remains for more than 2^32 samples. CONVERGENT_MI_LISTED_MAX
// (a fraction in [0, 1]; 0 = dense only) overrides it for such A/B runs.
double listed_max_fraction() {
    static const double value = [] {
        const char* text = std::getenv("CONVERGENT_MI_LISTED_MAX");
        if (text == nullptr || *text == '\0') return 1.0;
        char* end = nullptr;
        const double v = std::strtod(text, &end);
        return end != text && *end == '\0' && v >= 0.0 && v <= 1.0 ? v : 1.0;
    }();
    return value;
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
    std::vector<std::uint32_t> all_idx;
    std::vector<std::int32_t> all_tables;
    resize_or_fail(all_xoff, std::uint64_t(threads) * std::uint64_t(xoff_size), what, "per-thread bin offsets");
    resize_or_fail(all_idx, std::uint64_t(threads) * std::uint64_t(xoff_size), what, "per-thread sample lists");
    resize_or_fail(all_tables, std::uint64_t(threads) * std::uint64_t(tables_size), what,
                   "per-thread joint count tables");
    // The sparse-aware path: each unit of a's mode and how many samples lie
    // outside it, and b's marginal histograms (to complete the mode rows).
    std::vector<int> a_mode(size_t(a_count), 0);
    std::vector<index_t> a_listed(size_t(a_count), samples);
    std::vector<std::int32_t> b_marginal;
    resize_or_fail(b_marginal, std::uint64_t(b_count) * std::uint64_t(bins), what, "marginal histograms");
    const bool may_list = samples <= index_t(UINT32_MAX);
    const double listed_max = listed_max_fraction();
    {
        ParallelGuard marginals;
#pragma omp parallel for schedule(static) num_threads(threads)
        for (index_t u = 0; u < a_count + b_count; ++u) marginals.run([&] {
            const bool in_a = u < a_count;
            const std::uint8_t* codes = in_a ? a.codes + (a_begin + u) * samples : b.codes + (b_begin + u - a_count) * samples;
            std::int32_t local[256] = {};
            std::int32_t* hist = in_a ? local : b_marginal.data() + (u - a_count) * bins;
            for (index_t s = 0; s < samples; ++s) ++hist[codes[s]];
            if (in_a) {
                const int mode = int(std::max_element(local, local + std::min(bins, index_t(256))) - local);
                a_mode[size_t(u)] = mode;
                a_listed[size_t(u)] = samples - local[mode];
            }
        });
        marginals.rethrow(what);
    }
    ParallelGuard guard;
#pragma omp parallel num_threads(threads)
    {
        const int thread = omp_get_thread_num();
        std::uint16_t* const xoff = all_xoff.data() + index_t(thread) * xoff_size;
        std::uint32_t* const idx = all_idx.data() + index_t(thread) * xoff_size;
        std::int32_t* const tables = all_tables.data() + index_t(thread) * tables_size;
        // Rows of a are spread over threads; each thread streams all b units
        // past its two x rows (kept in L2 as uint16 offsets).
#pragma omp for schedule(dynamic, 1)
        for (index_t rg = 0; rg < row_groups; ++rg) guard.run([&] {
            const index_t i_first = rg * kRowsPerItem;
            const index_t rows_here = std::min(kRowsPerItem, a_count - i_first);
            bool listed = may_list;
            for (index_t r = 0; r < rows_here; ++r)
                listed = listed && double(a_listed[size_t(i_first + r)]) <= listed_max * double(samples);
            if (listed) {
                // Each unit of the group alone, over its samples outside the mode.
                for (index_t r = 0; r < rows_here; ++r) {
                    const index_t i = i_first + r;
                    const std::uint8_t* codes = a.codes + (a_begin + i) * samples;
                    const int mode = a_mode[size_t(i)];
                    std::uint32_t* list = idx + r * samples;
                    std::uint16_t* off = xoff + r * samples;
                    index_t k = 0;
                    for (index_t s = 0; s < samples; ++s) {
                        list[k] = std::uint32_t(s);
                        off[k] = std::uint16_t(codes[s] * bins);
                        k += codes[s] != mode;
                    }
                    index_t cg_first = 0;
                    if (upper_only) cg_first = std::max<index_t>(0, a_begin + i - b_begin) / kColsPerItem;
                    for (index_t cg = cg_first; cg < col_groups; ++cg) {
                        const index_t j_first = cg * kColsPerItem;
                        const index_t cols_here = std::min(kColsPerItem, b_count - j_first);
                        const std::uint8_t* yptr[kColsPerItem];
                        for (index_t c = 0; c < kColsPerItem; ++c)
                            yptr[c] = b.codes + (b_begin + j_first + std::min(c, cols_here - 1)) * samples;
                        std::fill(tables, tables + kColsPerItem * table_size, 0);
                        std::int32_t* tptr[kColsPerItem];
                        for (index_t t = 0; t < kColsPerItem; ++t) tptr[t] = tables + t * table_size;
                        count_1x4_listed(list, off, k, yptr, tptr);
                        for (index_t c = 0; c < cols_here; ++c) {
                            complete_mode_row(tptr[c], int(bins), mode, b_marginal.data() + (j_first + c) * bins);
                            visit(i, j_first + c, tptr[c]);
                        }
                    }
                }
                return;
            }
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
