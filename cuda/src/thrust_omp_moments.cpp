// Compiles the portable Thrust logic of the CUDA backend for the host with
// THRUST_DEVICE_SYSTEM_OMP (set by CMake), so that CI runs it on the CPU.
// One thrust_omp_<op>.cpp per op keeps the files of different ops apart.
#include "portable/omp_guard.hpp"

#define CVG_PORTABLE_NS omp_device
#include "portable/moments.cuh"

#include "thrust_omp.hpp"

namespace convergent {
namespace thrust_omp {

void chunk_moments(const float* x, index_t rows, index_t cols, index_t ld, double* mean,
                   double* comoment) {
    omp_device::chunk_moments(x, rows, cols, ld, mean, comoment);
}

}  // namespace thrust_omp
}  // namespace convergent
