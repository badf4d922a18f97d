// Sec. 3.2 on the CUDA backend: exact all-pairs joint histograms as one-hot
// GEMMs on tensor cores (cublasGemmEx, INT8 inputs, INT32 accumulate: every
// count is an exact integer below 2^31), tile by tile, and the MI epilogue on
// each count tile. The one-hot construction, tiling and epilogue are the
// portable Thrust code in portable/mutual_information.cuh, which CI runs on
// the CPU through the OMP build (tests/thrust_omp/test_mutual_information_omp.cpp).
#pragma once

#include "cuda_utils.cuh"
#include "portable/mutual_information.cuh"

#include <thrust/system/cuda/execution_policy.h>
#include <thrust/system_error.h>

#include <new>
#include <string>

#include "convergent/backend.hpp"
#include "convergent/mutual_information.hpp"

namespace convergent {
namespace cuda_detail {

// counts (m x n, column-major int32) (+)= onehot_a^T (k x m int8) * onehot_b (k x n int8).
// TN layout with k, m, n multiples of 16 and 256-byte aligned buffers: the
// shape cuBLAS' IMMA (integer tensor core) kernels want.
struct CublasIndicatorGemm {
    cublasHandle_t handle;
    void operator()(index_t m, index_t n, index_t k, const std::int8_t* a, const std::int8_t* b,
                    std::int32_t* c, bool accumulate) const {
        const std::int32_t alpha = 1, beta = accumulate ? 1 : 0;
        CVG_CUBLAS_TRY(cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, int(m), int(n), int(k), &alpha,
                                    a, CUDA_R_8I, int(k), b, CUDA_R_8I, int(k), &beta, c, CUDA_R_32I,
                                    int(m), CUBLAS_COMPUTE_32I, CUBLAS_GEMM_DEFAULT));
    }
};

inline void cuda_mutual_information(DeviceContext& ctx, const BinCodesView& a, const BinCodesView& b,
                                    double* mi) {
    check_bin_codes(a, "mutual_information (cuda): a");
    check_bin_codes(b, "mutual_information (cuda): b");
    CVG_REQUIRE(a.samples == b.samples && a.bins == b.bins, InvalidArgument,
                "mutual_information (cuda): a and b differ in samples (" + std::to_string(a.samples) +
                    " vs " + std::to_string(b.samples) + ") or bins (" + std::to_string(a.bins) +
                    " vs " + std::to_string(b.bins) + ")");
    CVG_REQUIRE(mi != nullptr || a.units * b.units == 0, InvalidArgument,
                "mutual_information (cuda): mi is NULL");
    CVG_CUDA_TRY(cudaSetDevice(ctx.ordinal));
    // thrust::cuda::par (synchronising) on the backend's stream: every Thrust
    // step is ordered with the cuBLAS GEMMs on the same stream and has
    // finished when it returns, so tiles can be copied to the host directly.
    const auto policy = thrust::cuda::par.on(ctx.stream.get());
    try {
        cuda_device::mutual_information_tiled(policy, a, b, mi, cuda_device::MiTiling{},
                                              CublasIndicatorGemm{ctx.cublas.get()});
    } catch (const std::bad_alloc&) {
        fail(ErrorCode::OutOfMemory,
             "mutual_information (cuda): out of device memory for the one-hot/count tiles");
    } catch (const thrust::system_error& e) {
        fail(ErrorCode::Device, std::string("mutual_information (cuda): ") + e.what());
    }
    ctx.stream.synchronize();
}

}  // namespace cuda_detail
}  // namespace convergent
