// Sec. 3.2 all-pairs joint histograms as a GEMM of one-hot bin indicators,
// and the MI epilogue, as Thrust algorithms.
//
// For a tile of units of a (ta units) and of b (tb units) and a chunk of
// samples, the one-hot matrices are column-major k_pad x (units * bins) int8:
//   onehot[(u * bins + x) * k_pad + s] = (codes[u][s0 + s] == x)
// (zero in the padding rows/columns), so the exact joint counts of every pair
// of the tile are one int8 x int8 -> int32 GEMM:
//   counts(u * bins + x, v * bins + y) = sum_s onehot_a(s, (u,x)) onehot_b(s, (v,y)),
// a column-major m_pad x n_pad int32 matrix accumulated over sample chunks.
// The full count tensor (units_a * bins x units_b * bins) is never stored.
// The CUDA backend runs that GEMM on tensor cores (cublasGemmEx, INT8 in,
// INT32 accumulate: exact); the OMP build does it with a plain Thrust
// for_each. The MI epilogue is the same code in both.
//
// Zero-aware (the CPU backend's listed counting, in GEMM form): each unit's
// most frequent bin (the zero bin of a ReLU unit) gets no one-hot column,
// so a unit has bins - 1 columns and the GEMM does (bins - 1)^2 / bins^2 of
// the work (0.91x at 21 bins); the cells with a mode are completed exactly
// from the marginal histograms in the epilogue. A dense GEMM cannot skip the
// individual zeros of the remaining columns: on tensor cores the work per
// tile is fixed by its shape, not by its non-zeros.
#pragma once

#include "portable/common.cuh"

#include <thrust/copy.h>
#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/transform.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstdint>
#include <vector>

#include "convergent/backend.hpp"
#include "convergent/mutual_information.hpp"  // complete_mode_column, complete_mode_row

namespace convergent {
namespace CVG_PORTABLE_NS {

// c log c, the same expression as the CPU backend's table (exact equality in
// the OMP build; the device log differs from glibc by at most an ulp).
CVG_HD inline double count_log_count(double c) { return c > 0.0 ? c * log(c) : 0.0; }

struct MiTiling {
    index_t tile_units_a = 0;  // units of a per tile (0: chosen from the bins)
    index_t tile_units_b = 0;
    index_t sample_chunk = 0;  // samples per GEMM (0: all, up to 2^16)
    // Leave each unit's most frequent bin out of the one-hot columns (the
    // cells with it follow from the marginals): -1 = the default (on, unless
    // CONVERGENT_MI_ONEHOT_MODES=1 keeps them, for measurements), 0 = keep, 1 = leave out.
    int drop_modes = -1;
};

inline index_t round_up(index_t value, index_t multiple) {
    return (value + multiple - 1) / multiple * multiple;
}

// One net's codes on the device with each unit's marginal histogram, its
// mode (the first most frequent bin: the zero bin of a ReLU unit) and its
// marginal term sum_x c_x log c_x.
struct DeviceCodes {
    thrust::device_vector<std::uint8_t> codes;  // unit-major
    thrust::device_vector<std::int32_t> hist;   // units x bins
    thrust::device_vector<int> modes;           // units
    thrust::device_vector<double> terms;        // units
};

// Histogram, mode and marginal term of one unit. The term is summed in bin
// order (the CPU backend's order, so the OMP build matches it exactly).
struct UnitHistogram {
    const std::uint8_t* codes;
    index_t samples;
    int bins;
    std::int32_t* hist;
    int* modes;
    double* terms;
    CVG_HD void operator()(index_t u) const {
        std::int32_t local[256];
        for (int x = 0; x < bins; ++x) local[x] = 0;
        const std::uint8_t* c = codes + u * samples;
        for (index_t s = 0; s < samples; ++s) ++local[c[s]];
        double h = 0.0;
        int mode = 0;
        for (int x = 0; x < bins; ++x) {
            hist[u * bins + x] = local[x];
            h += count_log_count(double(local[x]));
            if (local[x] > local[mode]) mode = x;
        }
        modes[u] = mode;
        terms[u] = h;
    }
};

template <class Policy>
void upload_codes(const Policy& policy, const BinCodesView& v, DeviceCodes& out) {
    out.codes.assign(v.codes, v.codes + v.units * v.samples);
    out.hist.resize(static_cast<size_t>(v.units * v.bins));
    out.modes.resize(static_cast<size_t>(v.units));
    out.terms.resize(static_cast<size_t>(v.units));
    thrust::for_each(policy, thrust::counting_iterator<index_t>(0), thrust::counting_iterator<index_t>(v.units),
                     UnitHistogram{thrust::raw_pointer_cast(out.codes.data()), v.samples, v.bins,
                                   thrust::raw_pointer_cast(out.hist.data()),
                                   thrust::raw_pointer_cast(out.modes.data()),
                                   thrust::raw_pointer_cast(out.terms.data())});
}

// One-hot indicator matrix of a tile of units over a chunk of samples.
// Each unit has `kept` columns: all its bins, or (modes != NULL) all but its
// mode, column x' standing for bin x' + (x' >= mode).
struct OneHotIndicator {
    const std::uint8_t* codes;  // unit-major, all units of the net
    const int* modes;           // the net's modes, or NULL (every bin kept)
    index_t samples;            // per unit in codes
    int kept;                   // columns per unit
    index_t unit0, units_here;  // tile
    index_t s0, chunk;          // sample chunk
    index_t k_pad;              // leading dimension (rows)
    CVG_HD std::int8_t operator()(index_t flat) const {
        const index_t col = flat / k_pad, s = flat % k_pad;
        const index_t u = col / kept;
        int x = int(col % kept);
        if (u >= units_here || s >= chunk) return 0;
        if (modes != nullptr) x += x >= modes[unit0 + u] ? 1 : 0;
        return codes[(unit0 + u) * samples + s0 + s] == x ? 1 : 0;
    }
};

// Plain GEMM for the OMP build: c(r, col) (+)= sum_s a(s, r) b(s, col), with
// a, b column-major k x m / k x n int8 and c column-major m x n int32.
struct IndicatorProduct {
    const std::int8_t* a;
    const std::int8_t* b;
    std::int32_t* c;
    index_t m, k;
    bool accumulate;
    CVG_HD void operator()(index_t flat) const {
        const index_t r = flat % m, col = flat / m;
        const std::int8_t* pa = a + r * k;
        const std::int8_t* pb = b + col * k;
        std::int32_t sum = accumulate ? c[flat] : 0;
        for (index_t s = 0; s < k; ++s) sum += std::int32_t(pa[s]) * std::int32_t(pb[s]);
        c[flat] = sum;
    }
};

// Sec. 3.2 plug-in MI of every pair of a tile from its counts:
// (sum c_xy log c_xy - sum c_x log c_x - sum c_y log c_y + n log n) / n,
// clamped at 0. Output index flat = j * ta + i (i fastest: neighbouring
// threads read neighbouring count rows).
//
// With the modes left out (modes_a != NULL), the tile holds the cells of
// bins x != mode_i, y != mode_j only (kept = bins - 1 per unit); the others
// follow exactly from the marginal histograms:
//   c(x, mode_j)      = hist_i(x) - sum_{y != mode_j} c(x, y)      (x != mode_i)
//   c(mode_i, y)      = hist_j(y) - sum_{x != mode_i} c(x, y)      (y != mode_j)
//   c(mode_i, mode_j) = hist_i(mode_i) - sum_{y != mode_j} c(mode_i, y).
struct TileMutualInformation {
    const std::int32_t* counts;  // column-major, leading dimension ldc
    index_t ldc;
    int bins, kept;
    index_t ta;
    const double* hx;  // marginal terms of the tile's units of a
    const double* hy;  // ... of b
    const int* modes_a;  // the tile's units' modes (NULL: every bin kept)
    const int* modes_b;
    const std::int32_t* hist_a;  // the tile's units' histograms (units x bins)
    const std::int32_t* hist_b;
    double n, n_log_n;
    CVG_HD double operator()(index_t flat) const {
        const index_t i = flat % ta, j = flat / ta;
        double joint = 0.0;
        if (modes_a == nullptr) {
            for (int x = 0; x < bins; ++x) {
                const std::int32_t* column = counts + (i * bins + x);
                for (int y = 0; y < bins; ++y) {
                    const std::int32_t c = column[(j * bins + y) * ldc];
                    if (c != 0) joint += count_log_count(double(c));
                }
            }
        } else {
            const int mi = modes_a[i], mj = modes_b[j];
            const std::int32_t* ha = hist_a + i * bins;
            const std::int32_t* hb = hist_b + j * bins;
            std::int32_t row_rest[256];  // sum over y != mode_j of c(x, y), x != mode_i
            for (int xk = 0; xk < kept; ++xk) row_rest[xk] = 0;
            std::int32_t mode_row = 0;  // sum over y != mode_j of c(mode_i, y)
            for (int yk = 0; yk < kept; ++yk) {
                const int y = yk + (yk >= mj ? 1 : 0);
                const std::int32_t* column = counts + (j * kept + yk) * ldc + i * kept;
                std::int32_t column_rest = 0;
                for (int xk = 0; xk < kept; ++xk) {
                    const std::int32_t c = column[xk];
                    if (c != 0) joint += count_log_count(double(c));
                    column_rest += c;
                    row_rest[xk] += c;
                }
                const std::int32_t c_mode = hb[y] - column_rest;
                joint += count_log_count(double(c_mode));
                mode_row += c_mode;
            }
            for (int xk = 0; xk < kept; ++xk) {
                const int x = xk + (xk >= mi ? 1 : 0);
                joint += count_log_count(double(ha[x] - row_rest[xk]));
            }
            joint += count_log_count(double(ha[mi] - mode_row));
        }
        const double value = (joint - hx[i] - hy[j] + n_log_n) / n;
        return value > 0.0 ? value : 0.0;
    }
};

// Whether the modes are left out (MiTiling::drop_modes, the environment).
inline bool resolve_drop_modes(int drop_modes, int bins) {
    if (bins < 2) return false;  // one bin: nothing would be left to count
    if (drop_modes >= 0) return drop_modes != 0;
    const char* keep = std::getenv("CONVERGENT_MI_ONEHOT_MODES");
    return !(keep != nullptr && keep[0] == '1');
}

// Chooses tile sizes: about 8192 one-hot columns per tile (count tile
// 8192^2 int32 = 256 MiB), 2^16 samples per GEMM.
inline MiTiling resolve_tiling(MiTiling tiling, const BinCodesView& a, const BinCodesView& b) {
    tiling.drop_modes = resolve_drop_modes(tiling.drop_modes, a.bins) ? 1 : 0;
    const index_t kept = a.bins - tiling.drop_modes;
    const index_t per_tile = std::max<index_t>(1, 8192 / kept);
    if (tiling.tile_units_a <= 0) tiling.tile_units_a = per_tile;
    if (tiling.tile_units_b <= 0) tiling.tile_units_b = per_tile;
    if (tiling.sample_chunk <= 0) tiling.sample_chunk = index_t(1) << 16;
    tiling.tile_units_a = std::min(tiling.tile_units_a, std::max<index_t>(1, a.units));
    tiling.tile_units_b = std::min(tiling.tile_units_b, std::max<index_t>(1, b.units));
    tiling.sample_chunk = std::min(tiling.sample_chunk, a.samples);
    return tiling;
}

// Runs the tiled one-hot GEMM and calls visit(a0, ta, b0, tb, counts, ldc)
// for each tile once its counts are complete (counts: device pointer,
// column-major, rows u * kept + x', columns v * kept + y', kept = bins - 1
// with tiling.drop_modes, else bins). With upper_only (within-net), tiles
// entirely below the diagonal are skipped. tiling must be resolved.
// gemm(m, n, k, A, B, C, accumulate) computes C (+)= A^T B as above.
template <class Policy, class Gemm, class Visit>
void for_each_count_tile(const Policy& policy, const DeviceCodes& dev_a, const BinCodesView& a,
                         const DeviceCodes& dev_b, const BinCodesView& b, const MiTiling& tiling,
                         bool upper_only, Gemm&& gemm, Visit&& visit) {
    const bool drop = tiling.drop_modes != 0;
    const int kept = a.bins - (drop ? 1 : 0);
    const index_t k_pad = round_up(tiling.sample_chunk, 16);
    const index_t m_pad = round_up(tiling.tile_units_a * kept, 16);
    const index_t n_pad = round_up(tiling.tile_units_b * kept, 16);
    thrust::device_vector<std::int8_t> onehot_a(static_cast<size_t>(k_pad * m_pad));
    thrust::device_vector<std::int8_t> onehot_b(static_cast<size_t>(k_pad * n_pad));
    thrust::device_vector<std::int32_t> counts(static_cast<size_t>(m_pad * n_pad));
    const std::uint8_t* pa = thrust::raw_pointer_cast(dev_a.codes.data());
    const std::uint8_t* pb = thrust::raw_pointer_cast(dev_b.codes.data());
    const int* ma = drop ? thrust::raw_pointer_cast(dev_a.modes.data()) : nullptr;
    const int* mb = drop ? thrust::raw_pointer_cast(dev_b.modes.data()) : nullptr;
    for (index_t a0 = 0; a0 < a.units; a0 += tiling.tile_units_a) {
        const index_t ta = std::min(tiling.tile_units_a, a.units - a0);
        for (index_t b0 = 0; b0 < b.units; b0 += tiling.tile_units_b) {
            const index_t tb = std::min(tiling.tile_units_b, b.units - b0);
            if (upper_only && b0 + tb <= a0) continue;
            for (index_t s0 = 0; s0 < a.samples; s0 += tiling.sample_chunk) {
                const index_t chunk = std::min(tiling.sample_chunk, a.samples - s0);
                thrust::transform(policy, thrust::counting_iterator<index_t>(0),
                                  thrust::counting_iterator<index_t>(k_pad * m_pad), onehot_a.begin(),
                                  OneHotIndicator{pa, ma, a.samples, kept, a0, ta, s0, chunk, k_pad});
                thrust::transform(policy, thrust::counting_iterator<index_t>(0),
                                  thrust::counting_iterator<index_t>(k_pad * n_pad), onehot_b.begin(),
                                  OneHotIndicator{pb, mb, b.samples, kept, b0, tb, s0, chunk, k_pad});
                gemm(m_pad, n_pad, k_pad, thrust::raw_pointer_cast(onehot_a.data()),
                     thrust::raw_pointer_cast(onehot_b.data()), thrust::raw_pointer_cast(counts.data()),
                     s0 > 0);
            }
            visit(a0, ta, b0, tb, thrust::raw_pointer_cast(counts.data()), m_pad);
        }
    }
}

// Sec. 3.2: a.units x b.units row-major MI (nats) into host memory mi.
// Within-net (a and b the same codes) only tiles on or above the diagonal
// are computed and the lower triangle is mirrored, as on the CPU backend.
template <class Policy, class Gemm>
void mutual_information_tiled(const Policy& policy, const BinCodesView& a, const BinCodesView& b,
                              double* mi, MiTiling tiling, Gemm&& gemm) {
    if (a.units == 0 || b.units == 0) return;
    const bool same = a.codes == b.codes && a.units == b.units;
    DeviceCodes dev_a, dev_b_own;
    upload_codes(policy, a, dev_a);
    if (!same) upload_codes(policy, b, dev_b_own);
    const DeviceCodes& dev_b = same ? dev_a : dev_b_own;
    const double n = double(a.samples);
    const double n_log_n = count_log_count(n);

    tiling = resolve_tiling(tiling, a, b);
    const bool drop = tiling.drop_modes != 0;
    const int kept = a.bins - (drop ? 1 : 0);
    const double* phx = thrust::raw_pointer_cast(dev_a.terms.data());
    const double* phy = thrust::raw_pointer_cast(dev_b.terms.data());
    const int* ma = thrust::raw_pointer_cast(dev_a.modes.data());
    const int* mb = thrust::raw_pointer_cast(dev_b.modes.data());
    const std::int32_t* ha = thrust::raw_pointer_cast(dev_a.hist.data());
    const std::int32_t* hb = thrust::raw_pointer_cast(dev_b.hist.data());
    thrust::device_vector<double> tile_mi(static_cast<size_t>(tiling.tile_units_a * tiling.tile_units_b));
    std::vector<double> host_tile(tile_mi.size());
    for_each_count_tile(
        policy, dev_a, a, dev_b, b, tiling, same, gemm,
        [&](index_t a0, index_t ta, index_t b0, index_t tb, const std::int32_t* counts, index_t ldc) {
            thrust::transform(policy, thrust::counting_iterator<index_t>(0),
                              thrust::counting_iterator<index_t>(ta * tb), tile_mi.begin(),
                              TileMutualInformation{counts, ldc, a.bins, kept, ta, phx + a0, phy + b0,
                                                    drop ? ma + a0 : nullptr, drop ? mb + b0 : nullptr,
                                                    ha + a0 * a.bins, hb + b0 * b.bins, n, n_log_n});
            thrust::copy(tile_mi.begin(), tile_mi.begin() + ta * tb, host_tile.begin());
            for (index_t j = 0; j < tb; ++j)
                for (index_t i = 0; i < ta; ++i) mi[(a0 + i) * b.units + b0 + j] = host_tile[size_t(j * ta + i)];
        });
    if (same)
        for (index_t i = 0; i < a.units; ++i)
            for (index_t j = 0; j < i; ++j) mi[i * b.units + j] = mi[j * b.units + i];
}

// Exact counts of all pairs in joint_histogram_counts' layout
// (counts[((i * b.units + j) * bins + x) * bins + y]), through the one-hot
// GEMM; with the modes left out, the mode cells are completed on the host
// from the marginal histograms, by the CPU backend's own completion.
template <class Policy, class Gemm>
void joint_histogram_counts_tiled(const Policy& policy, const BinCodesView& a, const BinCodesView& b,
                                  std::int32_t* out, MiTiling tiling, Gemm&& gemm) {
    if (a.units == 0 || b.units == 0) return;
    DeviceCodes dev_a, dev_b;
    upload_codes(policy, a, dev_a);
    upload_codes(policy, b, dev_b);
    tiling = resolve_tiling(tiling, a, b);
    const bool drop = tiling.drop_modes != 0;
    const index_t bins = a.bins, kept = bins - (drop ? 1 : 0);
    std::vector<std::int32_t> hist_a(dev_a.hist.size()), hist_b(dev_b.hist.size());
    std::vector<int> modes_a(dev_a.modes.size()), modes_b(dev_b.modes.size());
    thrust::copy(dev_a.hist.begin(), dev_a.hist.end(), hist_a.begin());
    thrust::copy(dev_b.hist.begin(), dev_b.hist.end(), hist_b.begin());
    thrust::copy(dev_a.modes.begin(), dev_a.modes.end(), modes_a.begin());
    thrust::copy(dev_b.modes.begin(), dev_b.modes.end(), modes_b.begin());
    const index_t cols = round_up(tiling.tile_units_b * kept, 16);
    std::vector<std::int32_t> host;
    for_each_count_tile(
        policy, dev_a, a, dev_b, b, tiling, false, gemm,
        [&](index_t a0, index_t ta, index_t b0, index_t tb, const std::int32_t* counts, index_t ldc) {
            host.resize(static_cast<size_t>(ldc * cols));
            thrust::copy(thrust::device_pointer_cast(counts),
                         thrust::device_pointer_cast(counts) + ldc * cols, host.begin());
            for (index_t i = 0; i < ta; ++i)
                for (index_t j = 0; j < tb; ++j) {
                    std::int32_t* table = out + ((a0 + i) * b.units + b0 + j) * bins * bins;
                    const index_t mi = drop ? modes_a[size_t(a0 + i)] : -1;
                    const index_t mj = drop ? modes_b[size_t(b0 + j)] : -1;
                    for (index_t xk = 0; xk < kept; ++xk)
                        for (index_t yk = 0; yk < kept; ++yk) {
                            const index_t x = xk + (drop && xk >= mi ? 1 : 0);
                            const index_t y = yk + (drop && yk >= mj ? 1 : 0);
                            table[x * bins + y] = host[size_t((i * kept + xk) + (j * kept + yk) * ldc)];
                        }
                    if (!drop) continue;
                    complete_mode_column(table, int(bins), int(mj), int(mi), hist_a.data() + (a0 + i) * bins);
                    complete_mode_row(table, int(bins), int(mi), hist_b.data() + (b0 + j) * bins);
                }
        });
}

}  // namespace CVG_PORTABLE_NS
}  // namespace convergent
