// The OMP instantiation of portable/pack.cuh (see thrust_omp_pack.hpp).
#include "portable/omp_guard.hpp"

#define CVG_PORTABLE_NS omp_device
#include "portable/pack.cuh"

#include "thrust_omp_pack.hpp"

namespace convergent {
namespace thrust_omp {

void device_chunk_moments(const DeviceChunkBlock* blocks, int n_blocks, index_t images, index_t height,
                          index_t width, index_t cols, double* mean, double* comoment,
                          const std::vector<index_t>& sample_rows, float* sample_values) {
    omp_device::device_chunk_moments(blocks, n_blocks, images, height, width, cols, mean, comoment, sample_rows,
                                     sample_values, "thrust_omp::device_chunk_moments");
}

}  // namespace thrust_omp
}  // namespace convergent
