// CUDA backend op: Sec. 3.1 max-weight assignment by the certified
// epsilon-scaling auction of portable/auction.cuh on the CUDA device system,
// with libcore's exact Jonker-Volgenant solver as fallback when the
// certificate does not hold (convergent_cuda links convergent_core). Runs
// only at or above the assignment crossover (crossovers.hpp); smaller
// problems go to host JV directly (CudaBackend::max_weight_assignment).
#pragma once

#include <new>
#include <string>

#include <thrust/system_error.h>

#include "cuda_utils.cuh"
#include "portable/auction.cuh"
#include "convergent/backend.hpp"

namespace convergent {
namespace cuda_detail {

inline Assignment cuda_max_weight_assignment(DeviceContext& ctx, const double* weights,
                                             index_t rows, index_t cols, index_t ld) {
    CVG_CUDA_TRY(cudaSetDevice(ctx.ordinal));
    // Thrust's default stream: wait for work queued on ours first.
    ctx.stream.synchronize();
    try {
        return CVG_PORTABLE_NS::auction_max_weight(weights, rows, cols, ld);
    } catch (const std::bad_alloc&) {
        fail(ErrorCode::OutOfMemory, "cuda auction: out of device memory for a " +
                                         std::to_string(rows) + " x " + std::to_string(cols) +
                                         " assignment");
    } catch (const thrust::system_error& e) {
        fail(ErrorCode::Device, std::string("cuda auction: ") + e.what());
    }
}

}  // namespace cuda_detail
}  // namespace convergent
