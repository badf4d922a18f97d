// Cross-layer CKA maps (Nguyen, Raghu & Kornblith 2021) on the CUDA backend:
// the portable Thrust logic of portable/minibatch_hsic.cuh (conversion,
// zero diagonals, row sums, the HSIC_1 combination; run on the CPU by the
// OMP build in CI) with its symmetric rank-k products on cuBLAS DSYRK in
// float64.
#pragma once

#include "cuda_utils.cuh"
#include "portable/minibatch_hsic.cuh"

#include <thrust/system_error.h>

#include <climits>
#include <new>
#include <string>

#include "convergent/backend.hpp"

namespace convergent {
namespace cuda_detail {

// c (count x count, row-major upper triangle) (+)= A^T A of the column-major
// len x count matrix A: DSYRK's column-major lower triangle.
struct CublasSyrk {
    cublasHandle_t handle;
    void operator()(const double* a, index_t len, index_t count, double* c, bool accumulate) const {
        const double one = 1.0, beta = accumulate ? 1.0 : 0.0;
        CVG_CUBLAS_TRY(cublasDsyrk(handle, CUBLAS_FILL_MODE_LOWER, CUBLAS_OP_T, int(count), int(len), &one, a,
                                   int(len), &beta, c, int(count)));
    }
};

template <typename Body>
void with_device_errors(const char* what, Body body) {
    try {
        body();
    } catch (const std::bad_alloc&) {
        fail(ErrorCode::OutOfMemory, std::string(what) + ": out of device memory");
    } catch (const thrust::system_error& e) {
        fail(ErrorCode::Device, std::string(what) + ": " + e.what());
    }
}

inline void cuda_linear_gram(DeviceContext& ctx, const float* x, index_t rows, index_t cols, index_t ld,
                             double* gram) {
    CVG_REQUIRE(gram != nullptr && (x != nullptr || rows * cols == 0), InvalidArgument,
                "linear_gram (cuda): null pointer");
    CVG_REQUIRE(rows >= 0 && cols >= 0 && ld >= cols && rows <= INT_MAX, InvalidArgument,
                "linear_gram (cuda): need 0 <= rows < 2^31, cols >= 0, ld >= cols");
    CVG_CUDA_TRY(cudaSetDevice(ctx.ordinal));
    with_device_errors("linear_gram (cuda)", [&] {
        cuda_device::linear_gram(x, rows, cols, ld, gram, CublasSyrk{ctx.cublas.get()});
    });
    ctx.stream.synchronize();
}

inline void cuda_unbiased_hsic(DeviceContext& ctx, const double* grams, index_t count, index_t n, double* hsic) {
    CVG_REQUIRE(hsic != nullptr && (grams != nullptr || count == 0), InvalidArgument,
                "unbiased_hsic (cuda): null pointer");
    CVG_REQUIRE(n >= 4, InvalidArgument,
                "unbiased_hsic (cuda): the unbiased estimator needs n >= 4 samples (n = " + std::to_string(n) + ")");
    CVG_REQUIRE(count >= 0 && count <= INT_MAX && n * n <= INT_MAX, InvalidArgument,
                "unbiased_hsic (cuda): exceeds cuBLAS's 32-bit dimensions");
    if (count == 0) return;
    CVG_CUDA_TRY(cudaSetDevice(ctx.ordinal));
    with_device_errors("unbiased_hsic (cuda)", [&] {
        cuda_device::unbiased_hsic(grams, count, n, hsic, CublasSyrk{ctx.cublas.get()});
    });
    ctx.stream.synchronize();
}

}  // namespace cuda_detail
}  // namespace convergent
