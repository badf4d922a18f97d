#include "cpu_backend.hpp"

#include <Eigen/Core>
#include <omp.h>

#include <algorithm>
#include <string>
#include <vector>

#include "cpu_moments.hpp"

namespace convergent {

namespace {
using RowMatrixF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using VectorD = Eigen::Matrix<double, Eigen::Dynamic, 1>;
}  // namespace

std::string CpuBackend::device_description() const {
    return "cpu (Eigen " + std::to_string(EIGEN_WORLD_VERSION) + "." +
           std::to_string(EIGEN_MAJOR_VERSION) + "." + std::to_string(EIGEN_MINOR_VERSION) +
           " + BLAS, " + std::to_string(omp_get_max_threads()) + " threads)";
}

void CpuBackend::chunk_moments(const float* x, index_t rows, index_t cols, index_t ld, double* mean,
                               double* comoment) const {
    CVG_REQUIRE(rows > 0 && cols > 0 && ld >= cols, InvalidArgument,
                "chunk_moments: need rows > 0, cols > 0 and ld >= cols");
    // Sec. 2 moments: centre around the chunk mean in float64 before the
    // cross-product (never raw sums of squares). The mean comes first (a
    // float64 pass over the floats); the residual mean e of the centred
    // values is removed exactly by the rank-one term -rows e e^T.
    const Eigen::Map<const RowMatrixF, 0, Eigen::OuterStride<>> chunk(x, rows, cols, Eigen::OuterStride<>(ld));
    const VectorD chunk_mean = chunk.cast<double>().colwise().sum().transpose() / double(rows);
    std::vector<double> centred(size_t(rows * cols)), sums(size_t(cols), 0.0), squares(size_t(cols), 0.0);
    cpu_moments::pack_shifted(x, rows, cols, ld, chunk_mean.data(), centred.data(), cols, sums.data(),
                              squares.data());
    for (double& e : sums) e /= double(rows);
    std::fill(comoment, comoment + cols * cols, 0.0);
    cpu_moments::add_cross_products(centred.data(), rows, cols, cols, comoment);
    cpu_moments::add_rank_one(comoment, cols, -double(rows), sums.data(), 0.0, nullptr);
    cpu_moments::mirror_upper(comoment, cols);
    for (index_t j = 0; j < cols; ++j) mean[j] = chunk_mean[j] + sums[size_t(j)];
}

}  // namespace convergent
