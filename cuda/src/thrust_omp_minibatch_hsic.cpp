// The OMP instantiation of portable/minibatch_hsic.cuh (see thrust_omp_minibatch_hsic.hpp).
#include "portable/omp_guard.hpp"

#define CVG_PORTABLE_NS omp_device
#include "portable/minibatch_hsic.cuh"

#include "thrust_omp_minibatch_hsic.hpp"

namespace convergent {
namespace thrust_omp {

void linear_gram(const float* x, index_t rows, index_t cols, index_t ld, double* gram, index_t block_values) {
    if (block_values > 0)
        omp_device::linear_gram(x, rows, cols, ld, gram, omp_device::ThrustSyrk{}, block_values);
    else
        omp_device::linear_gram(x, rows, cols, ld, gram, omp_device::ThrustSyrk{});
}

void unbiased_hsic(const double* grams, index_t count, index_t n, double* hsic) {
    omp_device::unbiased_hsic(grams, count, n, hsic, omp_device::ThrustSyrk{});
}

}  // namespace thrust_omp
}  // namespace convergent
