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
#pragma once

#include "portable/common.cuh"

#include <thrust/copy.h>
#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/transform.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "convergent/backend.hpp"

namespace convergent {
namespace CVG_PORTABLE_NS {

// c log c, the same expression as the CPU backend's table (exact equality in
// the OMP build; the device log differs from glibc by at most an ulp).
CVG_HD inline double count_log_count(double c) { return c > 0.0 ? c * log(c) : 0.0; }

struct MiTiling {
    index_t tile_units_a = 0;  // units of a per tile (0: chosen from the bins)
    index_t tile_units_b = 0;
    index_t sample_chunk = 0;  // samples per GEMM (0: all, up to 2^16)
};

inline index_t round_up(index_t value, index_t multiple) {
    return (value + multiple - 1) / multiple * multiple;
}

// One-hot indicator matrix of a tile of units over a chunk of samples.
struct OneHotIndicator {
    const std::uint8_t* codes;  // unit-major, all units of the net
    index_t samples;            // per unit in codes
    int bins;
    index_t unit0, units_here;  // tile
    index_t s0, chunk;          // sample chunk
    index_t k_pad;              // leading dimension (rows)
    CVG_HD std::int8_t operator()(index_t flat) const {
        const index_t col = flat / k_pad, s = flat % k_pad;
        const index_t u = col / bins;
        const int x = int(col % bins);
        if (u >= units_here || s >= chunk) return 0;
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

// sum_x c_x log c_x of each unit's marginal histogram, in bin order (the
// CPU backend's order, so the OMP build matches it exactly).
struct UnitMarginalTerm {
    const std::uint8_t* codes;
    index_t samples;
    int bins;
    CVG_HD double operator()(index_t u) const {
        std::int32_t hist[256];
        for (int x = 0; x < bins; ++x) hist[x] = 0;
        const std::uint8_t* c = codes + u * samples;
        for (index_t s = 0; s < samples; ++s) ++hist[c[s]];
        double h = 0.0;
        for (int x = 0; x < bins; ++x) h += count_log_count(double(hist[x]));
        return h;
    }
};

// Sec. 3.2 plug-in MI of every pair of a tile from its counts:
// (sum c_xy log c_xy - sum c_x log c_x - sum c_y log c_y + n log n) / n,
// clamped at 0. Output index flat = j * ta + i (i fastest: neighbouring
// threads read neighbouring count rows).
struct TileMutualInformation {
    const std::int32_t* counts;  // column-major, leading dimension ldc
    index_t ldc;
    int bins;
    index_t ta;
    const double* hx;  // marginal terms of the tile's units of a
    const double* hy;  // ... of b
    double n, n_log_n;
    CVG_HD double operator()(index_t flat) const {
        const index_t i = flat % ta, j = flat / ta;
        double joint = 0.0;
        for (int x = 0; x < bins; ++x) {
            const std::int32_t* column = counts + (i * bins + x);
            for (int y = 0; y < bins; ++y) {
                const std::int32_t c = column[(j * bins + y) * ldc];
                if (c != 0) joint += count_log_count(double(c));
            }
        }
        const double value = (joint - hx[i] - hy[j] + n_log_n) / n;
        return value > 0.0 ? value : 0.0;
    }
};

// Chooses tile sizes: about 8192 one-hot columns per tile (count tile
// 8192^2 int32 = 256 MiB), 2^16 samples per GEMM.
inline MiTiling resolve_tiling(MiTiling tiling, const BinCodesView& a, const BinCodesView& b) {
    const index_t per_tile = std::max<index_t>(1, 8192 / a.bins);
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
// column-major, rows u * bins + x, columns v * bins + y). With upper_only
// (within-net), tiles entirely below the diagonal are skipped.
// gemm(m, n, k, A, B, C, accumulate) computes C (+)= A^T B as above.
template <class Policy, class Gemm, class Visit>
void for_each_count_tile(const Policy& policy, const thrust::device_vector<std::uint8_t>& codes_a,
                         const BinCodesView& a, const thrust::device_vector<std::uint8_t>& codes_b,
                         const BinCodesView& b, MiTiling tiling, bool upper_only, Gemm&& gemm,
                         Visit&& visit) {
    tiling = resolve_tiling(tiling, a, b);
    const int bins = a.bins;
    const index_t k_pad = round_up(tiling.sample_chunk, 16);
    const index_t m_pad = round_up(tiling.tile_units_a * bins, 16);
    const index_t n_pad = round_up(tiling.tile_units_b * bins, 16);
    thrust::device_vector<std::int8_t> onehot_a(static_cast<size_t>(k_pad * m_pad));
    thrust::device_vector<std::int8_t> onehot_b(static_cast<size_t>(k_pad * n_pad));
    thrust::device_vector<std::int32_t> counts(static_cast<size_t>(m_pad * n_pad));
    const std::uint8_t* pa = thrust::raw_pointer_cast(codes_a.data());
    const std::uint8_t* pb = thrust::raw_pointer_cast(codes_b.data());
    for (index_t a0 = 0; a0 < a.units; a0 += tiling.tile_units_a) {
        const index_t ta = std::min(tiling.tile_units_a, a.units - a0);
        for (index_t b0 = 0; b0 < b.units; b0 += tiling.tile_units_b) {
            const index_t tb = std::min(tiling.tile_units_b, b.units - b0);
            if (upper_only && b0 + tb <= a0) continue;
            for (index_t s0 = 0; s0 < a.samples; s0 += tiling.sample_chunk) {
                const index_t chunk = std::min(tiling.sample_chunk, a.samples - s0);
                thrust::transform(policy, thrust::counting_iterator<index_t>(0),
                                  thrust::counting_iterator<index_t>(k_pad * m_pad), onehot_a.begin(),
                                  OneHotIndicator{pa, a.samples, bins, a0, ta, s0, chunk, k_pad});
                thrust::transform(policy, thrust::counting_iterator<index_t>(0),
                                  thrust::counting_iterator<index_t>(k_pad * n_pad), onehot_b.begin(),
                                  OneHotIndicator{pb, b.samples, bins, b0, tb, s0, chunk, k_pad});
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
    const thrust::device_vector<std::uint8_t> codes_a(a.codes, a.codes + a.units * a.samples);
    const thrust::device_vector<std::uint8_t> codes_b =
        same ? thrust::device_vector<std::uint8_t>() : thrust::device_vector<std::uint8_t>(b.codes, b.codes + b.units * b.samples);
    const thrust::device_vector<std::uint8_t>& db = same ? codes_a : codes_b;

    thrust::device_vector<double> hx(static_cast<size_t>(a.units));
    thrust::transform(policy, thrust::counting_iterator<index_t>(0),
                      thrust::counting_iterator<index_t>(a.units), hx.begin(),
                      UnitMarginalTerm{thrust::raw_pointer_cast(codes_a.data()), a.samples, a.bins});
    thrust::device_vector<double> hy_own;
    if (!same) {
        hy_own.resize(static_cast<size_t>(b.units));
        thrust::transform(policy, thrust::counting_iterator<index_t>(0),
                          thrust::counting_iterator<index_t>(b.units), hy_own.begin(),
                          UnitMarginalTerm{thrust::raw_pointer_cast(db.data()), b.samples, b.bins});
    }
    const double* phx = thrust::raw_pointer_cast(hx.data());
    const double* phy = same ? phx : thrust::raw_pointer_cast(hy_own.data());
    const double n = double(a.samples);
    const double n_log_n = count_log_count(n);

    tiling = resolve_tiling(tiling, a, b);
    thrust::device_vector<double> tile_mi(static_cast<size_t>(tiling.tile_units_a * tiling.tile_units_b));
    std::vector<double> host_tile(tile_mi.size());
    for_each_count_tile(
        policy, codes_a, a, db, b, tiling, same, gemm,
        [&](index_t a0, index_t ta, index_t b0, index_t tb, const std::int32_t* counts, index_t ldc) {
            thrust::transform(policy, thrust::counting_iterator<index_t>(0),
                              thrust::counting_iterator<index_t>(ta * tb), tile_mi.begin(),
                              TileMutualInformation{counts, ldc, a.bins, ta, phx + a0, phy + b0, n, n_log_n});
            thrust::copy(tile_mi.begin(), tile_mi.begin() + ta * tb, host_tile.begin());
            for (index_t j = 0; j < tb; ++j)
                for (index_t i = 0; i < ta; ++i) mi[(a0 + i) * b.units + b0 + j] = host_tile[size_t(j * ta + i)];
        });
    if (same)
        for (index_t i = 0; i < a.units; ++i)
            for (index_t j = 0; j < i; ++j) mi[i * b.units + j] = mi[j * b.units + i];
}

// Exact counts of all pairs in joint_histogram_counts' layout
// (counts[((i * b.units + j) * bins + x) * bins + y]), through the one-hot GEMM.
template <class Policy, class Gemm>
void joint_histogram_counts_tiled(const Policy& policy, const BinCodesView& a, const BinCodesView& b,
                                  std::int32_t* out, MiTiling tiling, Gemm&& gemm) {
    if (a.units == 0 || b.units == 0) return;
    const thrust::device_vector<std::uint8_t> codes_a(a.codes, a.codes + a.units * a.samples);
    const thrust::device_vector<std::uint8_t> codes_b(b.codes, b.codes + b.units * b.samples);
    const index_t bins = a.bins;
    std::vector<std::int32_t> host;
    for_each_count_tile(
        policy, codes_a, a, codes_b, b, tiling, false, gemm,
        [&](index_t a0, index_t ta, index_t b0, index_t tb, const std::int32_t* counts, index_t ldc) {
            const index_t cols = round_up(resolve_tiling(tiling, a, b).tile_units_b * bins, 16);
            host.resize(static_cast<size_t>(ldc * cols));
            thrust::copy(thrust::device_pointer_cast(counts),
                         thrust::device_pointer_cast(counts) + ldc * cols, host.begin());
            for (index_t i = 0; i < ta; ++i)
                for (index_t j = 0; j < tb; ++j)
                    for (index_t x = 0; x < bins; ++x)
                        for (index_t y = 0; y < bins; ++y)
                            out[(((a0 + i) * b.units + b0 + j) * bins + x) * bins + y] =
                                host[size_t((i * bins + x) + (j * bins + y) * ldc)];
        });
}

}  // namespace CVG_PORTABLE_NS
}  // namespace convergent
