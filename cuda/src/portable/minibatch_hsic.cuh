// Cross-layer CKA maps (Nguyen, Raghu & Kornblith 2021, Sec. 3.1) as Thrust
// algorithms: the float32 -> float64 conversion of a minibatch's features in
// column blocks, the symmetric completion of a Gram, and the unbiased
// HSIC_1 (Song et al. 2012) from Grams: zero diagonals, row sums, totals and
// the final combination. The symmetric rank-k products (the Grams, tr(K~L~)
// and 1'K~L~1 for all pairs) are a parameter `syrk`: cuBLAS DSYRK on the
// device (cuda/src/minibatch_hsic.cuh), a plain Thrust transform in the OMP
// build (no BLAS).
//
// syrk(a, len, count, c, accumulate): c (count x count, row-major) (+)=
// the dot products of the count vectors a[v * len, (v + 1) * len); only the
// upper triangle (j >= i) need be written. Pointers are device pointers.
#pragma once

#include "portable/common.cuh"

#include <thrust/copy.h>
#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/transform.h>

#include <algorithm>

#include "convergent/backend.hpp"

namespace convergent {
namespace CVG_PORTABLE_NS {

// y (rows x cb, row-major) = columns [c0, c0 + cb) of x (ld), in float64.
struct ConvertColumnBlock {
    const float* x;
    index_t ld, c0, cb;
    CVG_HD double operator()(index_t flat) const {
        const index_t r = flat / cb, c = flat % cb;
        return double(x[r * ld + c0 + c]);
    }
};

// The full symmetric matrix from its row-major upper triangle.
struct SymmetricFromUpper {
    const double* upper;
    index_t n;
    CVG_HD double operator()(index_t flat) const {
        const index_t i = flat / n, j = flat % n;
        return i <= j ? upper[i * n + j] : upper[j * n + i];
    }
};

// K~: the Grams (count consecutive n x n) with zero diagonals.
struct ZeroDiagonal {
    const double* grams;
    index_t n;
    CVG_HD double operator()(index_t flat) const {
        const index_t k = flat % (n * n);
        return k / n == k % n ? 0.0 : grams[flat];
    }
};

// Row sums K~1: one per row of every Gram (row g * n + i).
struct RowSum {
    const double* zeroed;
    index_t n;
    CVG_HD double operator()(index_t row) const {
        const double* p = zeroed + row * n;
        double s = 0.0;
        for (index_t j = 0; j < n; ++j) s += p[j];
        return s;
    }
};

// 1'K~1 per Gram, from its row sums.
struct GramTotal {
    const double* row_sums;
    index_t n;
    CVG_HD double operator()(index_t g) const {
        double s = 0.0;
        for (index_t i = 0; i < n; ++i) s += row_sums[g * n + i];
        return s;
    }
};

// HSIC_1(K_a, K_b) = [tr(K~L~) + (1'K~1)(1'L~1)/((n-1)(n-2)) - 2/(n-2) 1'K~L~1] / (n(n-3))
// (Song et al. 2012, eq. 5), from the upper triangles of the pair products.
struct HsicCombine {
    const double* traces;        // tr(K~_a K~_b), upper triangle
    const double* row_products;  // (K~_a 1)'(K~_b 1), upper triangle
    const double* totals;        // 1'K~1
    index_t count, n;
    CVG_HD double operator()(index_t flat) const {
        index_t a = flat / count, b = flat % count;
        if (a > b) {
            const index_t t = a;
            a = b;
            b = t;
        }
        const double dn = double(n);
        return (traces[a * count + b] + totals[a] * totals[b] / ((dn - 1.0) * (dn - 2.0)) -
                2.0 / (dn - 2.0) * row_products[a * count + b]) /
               (dn * (dn - 3.0));
    }
};

// The syrk of the OMP build: every (i, j >= i) dot product.
struct PairDots {
    const double* a;
    index_t len, count;
    double* c;
    bool accumulate;
    CVG_HD void operator()(index_t flat) const {
        const index_t i = flat / count, j = flat % count;
        if (j < i) return;
        const double* x = a + i * len;
        const double* y = a + j * len;
        double s = 0.0;
        for (index_t k = 0; k < len; ++k) s += x[k] * y[k];
        c[flat] = accumulate ? c[flat] + s : s;
    }
};

struct ThrustSyrk {
    void operator()(const double* a, index_t len, index_t count, double* c, bool accumulate) const {
        thrust::for_each(thrust::counting_iterator<index_t>(0), thrust::counting_iterator<index_t>(count * count),
                         PairDots{a, len, count, c, accumulate});
    }
};

// Backend::linear_gram; the features are copied to the device once, then
// converted to float64 block_values at a time.
template <typename Syrk>
void linear_gram(const float* x, index_t rows, index_t cols, index_t ld, double* gram, const Syrk& syrk,
                 index_t block_values = index_t(1) << 22) {
    std::fill(gram, gram + rows * rows, 0.0);
    if (rows == 0 || cols == 0) return;
    thrust::device_vector<float> dx(x, x + (rows - 1) * ld + cols);
    const index_t block = std::max<index_t>(1, std::min<index_t>(cols, block_values / rows));
    thrust::device_vector<double> y(static_cast<size_t>(rows * block));
    thrust::device_vector<double> upper(static_cast<size_t>(rows * rows), 0.0);
    for (index_t c0 = 0; c0 < cols; c0 += block) {
        const index_t cb = std::min(block, cols - c0);
        thrust::transform(thrust::counting_iterator<index_t>(0), thrust::counting_iterator<index_t>(rows * cb),
                          y.begin(), ConvertColumnBlock{thrust::raw_pointer_cast(dx.data()), ld, c0, cb});
        syrk(thrust::raw_pointer_cast(y.data()), cb, rows, thrust::raw_pointer_cast(upper.data()), c0 > 0);
    }
    thrust::device_vector<double> full(static_cast<size_t>(rows * rows));
    thrust::transform(thrust::counting_iterator<index_t>(0), thrust::counting_iterator<index_t>(rows * rows),
                      full.begin(), SymmetricFromUpper{thrust::raw_pointer_cast(upper.data()), rows});
    thrust::copy(full.begin(), full.end(), gram);
}

// Backend::unbiased_hsic (count >= 1, n >= 4 checked by the caller).
template <typename Syrk>
void unbiased_hsic(const double* grams, index_t count, index_t n, double* hsic, const Syrk& syrk) {
    const index_t nn = n * n;
    thrust::device_vector<double> dg(grams, grams + count * nn);
    thrust::device_vector<double> zeroed(static_cast<size_t>(count * nn));
    thrust::transform(thrust::counting_iterator<index_t>(0), thrust::counting_iterator<index_t>(count * nn),
                      zeroed.begin(), ZeroDiagonal{thrust::raw_pointer_cast(dg.data()), n});
    dg.clear();
    dg.shrink_to_fit();
    thrust::device_vector<double> row_sums(static_cast<size_t>(count * n)), totals(static_cast<size_t>(count));
    thrust::transform(thrust::counting_iterator<index_t>(0), thrust::counting_iterator<index_t>(count * n),
                      row_sums.begin(), RowSum{thrust::raw_pointer_cast(zeroed.data()), n});
    thrust::transform(thrust::counting_iterator<index_t>(0), thrust::counting_iterator<index_t>(count),
                      totals.begin(), GramTotal{thrust::raw_pointer_cast(row_sums.data()), n});
    thrust::device_vector<double> traces(static_cast<size_t>(count * count), 0.0),
        row_products(static_cast<size_t>(count * count), 0.0);
    syrk(thrust::raw_pointer_cast(zeroed.data()), nn, count, thrust::raw_pointer_cast(traces.data()), false);
    syrk(thrust::raw_pointer_cast(row_sums.data()), n, count, thrust::raw_pointer_cast(row_products.data()), false);
    thrust::device_vector<double> out(static_cast<size_t>(count * count));
    thrust::transform(thrust::counting_iterator<index_t>(0), thrust::counting_iterator<index_t>(count * count),
                      out.begin(),
                      HsicCombine{thrust::raw_pointer_cast(traces.data()), thrust::raw_pointer_cast(row_products.data()),
                                  thrust::raw_pointer_cast(totals.data()), count, n});
    thrust::copy(out.begin(), out.end(), hsic);
}

}  // namespace CVG_PORTABLE_NS
}  // namespace convergent
