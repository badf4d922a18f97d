// The CUDA backend's cross-layer CKA logic (cuda/src/portable/minibatch_hsic.cuh),
// compiled by g++ with THRUST_DEVICE_SYSTEM_OMP so CI checks the conversion
// blocks, the zero diagonals, row sums and the HSIC_1 combination against
// the CPU backend without a GPU. The symmetric products are a plain Thrust
// for_each here (cuBLAS DSYRK on the device). Not part of the installed API.
#pragma once

#include "convergent/backend.hpp"

namespace convergent {
namespace thrust_omp {

// Same contract as Backend::linear_gram; block_values (0: the CUDA
// backend's default) lets tests force several column blocks.
void linear_gram(const float* x, index_t rows, index_t cols, index_t ld, double* gram, index_t block_values = 0);

// Same contract as Backend::unbiased_hsic.
void unbiased_hsic(const double* grams, index_t count, index_t n, double* hsic);

}  // namespace thrust_omp
}  // namespace convergent
