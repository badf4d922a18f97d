// The CUDA backend's in-place read of device tensors (cuda/src/portable/
// pack.cuh: strided float16/32/64 blocks -> centred float64 chunk + float32
// sample rows), compiled by g++ with THRUST_DEVICE_SYSTEM_OMP. Under OMP the
// "device memory" is host memory, so tests pass host tensors. The comoment is
// the portable CentredProduct (cuBLAS DSYRK on the device). Not part of the
// installed API.
#pragma once

#include <vector>

#include "convergent/backend.hpp"

namespace convergent {
namespace thrust_omp {

// Same contract as Backend::device_chunk_moments, the blocks' data in host memory
// (device_id is not checked).
void device_chunk_moments(const DeviceChunkBlock* blocks, int n_blocks, index_t images, index_t height,
                          index_t width, index_t cols, double* mean, double* comoment,
                          const std::vector<index_t>& sample_rows, float* sample_values);

}  // namespace thrust_omp
}  // namespace convergent
