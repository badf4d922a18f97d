// PLACEHOLDER: replaced by the real implementation of this op.
#pragma once

#include "cuda_utils.cuh"
#include "convergent/backend.hpp"

namespace convergent {
namespace cuda_detail {

inline void cuda_mutual_information(DeviceContext& ctx, const BinCodesView& a, const BinCodesView& b, double* mi) {
    (void)ctx;
    fail(ErrorCode::Unsupported, "mutual_information is not implemented on the CUDA backend yet");
}

}  // namespace cuda_detail
}  // namespace convergent
