// The CUDA backend's Thrust logic (cuda/src/portable/*.cuh), compiled by g++
// with THRUST_DEVICE_SYSTEM_OMP into convergent_thrust_omp. Tests compare it
// with libcore's CPU implementations so the device logic is exercised in CI
// on machines without a GPU. Not part of the installed API.
#pragma once

#include "convergent/backend.hpp"

namespace convergent {
namespace thrust_omp {

// Same contract as Backend::chunk_moments.
void chunk_moments(const float* x, index_t rows, index_t cols, index_t ld, double* mean,
                   double* comoment);

}  // namespace thrust_omp
}  // namespace convergent
