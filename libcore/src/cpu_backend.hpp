// Private: the CPU backend (Eigen + BLAS/LAPACK, OpenMP). Each op is defined
// in the source file of its algorithm:
//   chunk_moments                  cpu_backend.cpp (kernels in cpu_moments.cpp)
//   mutual_information             cpu_mutual_information.cpp
//   max_weight_assignment          cpu_assignment.cpp
//   symmetric_eigensolve_smallest  cpu_eigensolve.cpp
//   linear_gram, unbiased_hsic     cpu_minibatch_hsic.cpp
#pragma once

#include "convergent/backend.hpp"

namespace convergent {

class CpuBackend final : public Backend {
public:
    BackendKind kind() const override { return BackendKind::Cpu; }
    std::string device_description() const override;

    void chunk_moments(const float* x, index_t rows, index_t cols, index_t ld, double* mean,
                       double* comoment) const override;
    void mutual_information(const BinCodesView& a, const BinCodesView& b,
                            double* mi) const override;
    Assignment max_weight_assignment(const double* weights, index_t rows, index_t cols,
                                     index_t ld) const override;
    void symmetric_eigensolve_smallest(const double* matrix, index_t n, index_t k, double* values,
                                       double* vectors) const override;
    void linear_gram(const float* x, index_t rows, index_t cols, index_t ld, double* gram) const override;
    void unbiased_hsic(const double* grams, index_t count, index_t n, double* hsic) const override;
};

}  // namespace convergent
