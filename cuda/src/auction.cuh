// PLACEHOLDER: replaced by the real implementation of this op.
#pragma once

#include "cuda_utils.cuh"
#include "convergent/backend.hpp"

namespace convergent {
namespace cuda_detail {

inline Assignment cuda_max_weight_assignment(DeviceContext& ctx, const double* weights, index_t rows, index_t cols, index_t ld) {
    (void)ctx;
    fail(ErrorCode::Unsupported, "auction is not implemented on the CUDA backend yet");
}

}  // namespace cuda_detail
}  // namespace convergent
