// Sec. 2 chunk moments as Thrust algorithms: column means by a segmented
// reduction over the transposed chunk, then the centred chunk in double.
// The CUDA backend multiplies the centred chunk with cuBLAS DSYRK; the
// portable version here forms the comoment with a transform over (i, j)
// pairs so the OMP build needs no BLAS.
#pragma once

#include "portable/common.cuh"

#include <thrust/iterator/counting_iterator.h>
#include <thrust/transform.h>

#include "convergent/backend.hpp"

namespace convergent {
namespace CVG_PORTABLE_NS {

struct ColumnMean {
    const float* x;
    index_t rows, ld;
    CVG_HD double operator()(index_t col) const {
        double s = 0.0;
        for (index_t r = 0; r < rows; ++r) s += x[r * ld + col];
        return s / double(rows);
    }
};

struct CentreValue {
    const float* x;
    const double* mean;
    index_t cols, ld;
    CVG_HD double operator()(index_t flat) const {
        const index_t r = flat / cols, c = flat % cols;
        return double(x[r * ld + c]) - mean[c];
    }
};

// Column-major centred output: flat = c * rows + r.
struct CentreTransposed {
    CentreValue f;
    index_t rows;
    CVG_HD double operator()(index_t flat) const {
        const index_t c = flat / rows, r = flat % rows;
        return f(r * f.cols + c);
    }
};

// comoment(i, j) = sum_r xc(r, i) * xc(r, j), xc column-major (rows x cols).
struct CentredProduct {
    const double* xc;
    index_t rows, cols;
    CVG_HD double operator()(index_t flat) const {
        const index_t i = flat / cols, j = flat % cols;
        const double* a = xc + i * rows;
        const double* b = xc + j * rows;
        double s = 0.0;
        for (index_t r = 0; r < rows; ++r) s += a[r] * b[r];
        return s;
    }
};

// Centred chunk, column-major, on the device system: the input of DSYRK.
inline thrust::device_vector<double> centred_chunk(const thrust::device_vector<float>& x,
                                                   index_t rows, index_t cols, index_t ld,
                                                   thrust::device_vector<double>& mean) {
    mean.resize(cols);
    const float* px = thrust::raw_pointer_cast(x.data());
    thrust::transform(thrust::counting_iterator<index_t>(0), thrust::counting_iterator<index_t>(cols),
                      mean.begin(), ColumnMean{px, rows, ld});
    thrust::device_vector<double> xc(static_cast<size_t>(rows * cols));
    thrust::transform(thrust::counting_iterator<index_t>(0),
                      thrust::counting_iterator<index_t>(rows * cols), xc.begin(),
                      CentreTransposed{CentreValue{px, thrust::raw_pointer_cast(mean.data()), cols, ld}, rows});
    return xc;
}

inline void chunk_moments(const float* x, index_t rows, index_t cols, index_t ld, double* mean,
                          double* comoment) {
    thrust::device_vector<float> dx(x, x + (rows - 1) * ld + cols);
    thrust::device_vector<double> dmean;
    thrust::device_vector<double> xc = centred_chunk(dx, rows, cols, ld, dmean);
    thrust::device_vector<double> dco(static_cast<size_t>(cols * cols));
    thrust::transform(thrust::counting_iterator<index_t>(0),
                      thrust::counting_iterator<index_t>(cols * cols), dco.begin(),
                      CentredProduct{thrust::raw_pointer_cast(xc.data()), rows, cols});
    thrust::copy(dmean.begin(), dmean.end(), mean);
    thrust::copy(dco.begin(), dco.end(), comoment);
}

}  // namespace CVG_PORTABLE_NS
}  // namespace convergent
