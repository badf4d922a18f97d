// Sec. 4.1 on the GPU: the k smallest eigenpairs of a symmetric matrix (the
// graph Laplacian) with cuSOLVER syevdx, range I (only eigenpairs 1..k), in
// float64 so that the result matches the CPU backend's LAPACK dsyevr to
// rounding (eigenvectors up to sign / rotation within degenerate eigenspaces).
// Runs only for n at or above the eigensolve crossover (crossovers.hpp);
// smaller matrices go to the CPU backend's LAPACK on the host.
#pragma once

#include <thrust/device_vector.h>

#include <algorithm>
#include <climits>
#include <string>
#include <vector>

#include "cuda_utils.cuh"
#include "convergent/backend.hpp"

namespace convergent {
namespace cuda_detail {

inline void cuda_symmetric_eigensolve_smallest(DeviceContext& ctx, const double* matrix, index_t n,
                                               index_t k, double* values, double* vectors) {
    CVG_REQUIRE(matrix != nullptr && values != nullptr && vectors != nullptr, InvalidArgument,
                "symmetric_eigensolve_smallest: null pointer");
    CVG_REQUIRE(n > 0 && k > 0 && k <= n, InvalidArgument,
                "symmetric_eigensolve_smallest: need 0 < k <= n (n = " + std::to_string(n) +
                    ", k = " + std::to_string(k) + ")");
    CVG_CUDA_TRY(cudaSetDevice(ctx.ordinal));
    CVG_REQUIRE(n <= index_t(INT_MAX / n), InvalidArgument,
                "symmetric_eigensolve_smallest: n too large for cuSOLVER's 32-bit API");
    const int dim = int(n);
    const cudaStream_t stream = ctx.stream.get();
    cusolverDnHandle_t handle = ctx.cusolver.get();

    // The row-major symmetric matrix read as column-major is the same matrix;
    // the lower triangle of that view is the row-major upper triangle, the
    // same one the CPU backend reads.
    thrust::device_vector<double> a(static_cast<size_t>(n * n));
    thrust::device_vector<double> eigenvalues(static_cast<size_t>(n));
    thrust::device_vector<int> info(1);
    double* a_ptr = thrust::raw_pointer_cast(a.data());
    double* w_ptr = thrust::raw_pointer_cast(eigenvalues.data());
    int* info_ptr = thrust::raw_pointer_cast(info.data());
    // The device_vector fills ran on Thrust's default stream; ctx.stream is
    // blocking (it waits for them), the explicit sync keeps this op correct
    // even if that changes.
    CVG_CUDA_TRY(cudaDeviceSynchronize());
    CVG_CUDA_TRY(cudaMemcpyAsync(a_ptr, matrix, sizeof(double) * size_t(n * n), cudaMemcpyHostToDevice,
                                 stream));

    const cusolverEigMode_t jobz = CUSOLVER_EIG_MODE_VECTOR;
    const cusolverEigRange_t range = CUSOLVER_EIG_RANGE_I;
    const cublasFillMode_t uplo = CUBLAS_FILL_MODE_LOWER;
    const int il = 1, iu = int(k);  // 1-based, inclusive
    int found = 0;
    int lwork = 0;
    CVG_CUSOLVER_TRY(cusolverDnDsyevdx_bufferSize(handle, jobz, range, uplo, dim, a_ptr, dim, 0.0, 0.0,
                                                  il, iu, &found, w_ptr, &lwork));
    thrust::device_vector<double> work(static_cast<size_t>(std::max(lwork, 1)));
    CVG_CUSOLVER_TRY(cusolverDnDsyevdx(handle, jobz, range, uplo, dim, a_ptr, dim, 0.0, 0.0, il, iu,
                                       &found, w_ptr, thrust::raw_pointer_cast(work.data()), lwork,
                                       info_ptr));
    int host_info = 0;
    CVG_CUDA_TRY(cudaMemcpyAsync(&host_info, info_ptr, sizeof(int), cudaMemcpyDeviceToHost, stream));
    // syevdx leaves the k eigenvectors in the first k columns of a (leading
    // dimension n): exactly the n x k column-major layout of the interface.
    CVG_CUDA_TRY(cudaMemcpyAsync(vectors, a_ptr, sizeof(double) * size_t(n * k), cudaMemcpyDeviceToHost,
                                 stream));
    CVG_CUDA_TRY(cudaMemcpyAsync(values, w_ptr, sizeof(double) * size_t(k), cudaMemcpyDeviceToHost,
                                 stream));
    ctx.stream.synchronize();
    CVG_REQUIRE(host_info == 0, Device,
                "symmetric_eigensolve_smallest: cusolverDnDsyevdx failed (info = " +
                    std::to_string(host_info) + ")");
    CVG_REQUIRE(found == int(k), Device,
                "symmetric_eigensolve_smallest: cusolverDnDsyevdx returned " + std::to_string(found) +
                    " eigenpairs instead of " + std::to_string(k));
}

}  // namespace cuda_detail
}  // namespace convergent
