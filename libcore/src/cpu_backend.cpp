#include "cpu_backend.hpp"

#include <Eigen/Core>
#include <omp.h>

#include <string>

namespace convergent {

namespace {
using RowMatrixF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ColMatrixD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
using RowMatrixD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
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
    const Eigen::Map<const RowMatrixF, 0, Eigen::OuterStride<>> chunk(x, rows, cols,
                                                                      Eigen::OuterStride<>(ld));
    // Sec. 2 moments: centre around the chunk mean in float64 before the
    // cross-product (never raw sums of squares).
    ColMatrixD centred = chunk.cast<double>();
    const VectorD chunk_mean = centred.colwise().mean().transpose();
    centred.rowwise() -= chunk_mean.transpose();
    Eigen::Map<VectorD>(mean, cols) = chunk_mean;
    Eigen::Map<RowMatrixD> out(comoment, cols, cols);
    out.setZero();
    out.selfadjointView<Eigen::Lower>().rankUpdate(centred.transpose());
    out.triangularView<Eigen::StrictlyUpper>() = out.transpose();
}

}  // namespace convergent
