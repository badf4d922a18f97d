// PLACEHOLDER: replaced by the real implementation of this op.
#pragma once

#include "cuda_utils.cuh"
#include "convergent/backend.hpp"

namespace convergent {
namespace cuda_detail {

inline void cuda_symmetric_eigensolve_smallest(DeviceContext& ctx, const double* matrix, index_t n, index_t k, double* values, double* vectors) {
    (void)ctx;
    fail(ErrorCode::Unsupported, "eigensolve is not implemented on the CUDA backend yet");
}

}  // namespace cuda_detail
}  // namespace convergent
