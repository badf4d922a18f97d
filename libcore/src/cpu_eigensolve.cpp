// Sec. 4.1: the k smallest eigenpairs of a symmetric matrix (the graph
// Laplacian of spectral clustering) with LAPACK dsyevr, range 'I': only the
// wanted eigenpairs are computed (bisection + inverse iteration / MRRR on the
// tridiagonal form), not the full spectrum.
#include "cpu_backend.hpp"

#include "lapack.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace convergent {

using lapack::lapack_int;

void CpuBackend::symmetric_eigensolve_smallest(const double* matrix, index_t n, index_t k,
                                               double* values, double* vectors) const {
    CVG_REQUIRE(matrix != nullptr && values != nullptr && vectors != nullptr, InvalidArgument,
                "symmetric_eigensolve_smallest: null pointer");
    CVG_REQUIRE(n > 0 && k > 0 && k <= n, InvalidArgument,
                "symmetric_eigensolve_smallest: need 0 < k <= n (n = " + std::to_string(n) +
                    ", k = " + std::to_string(k) + ")");
    CVG_REQUIRE(n <= index_t(std::numeric_limits<lapack_int>::max() / std::max<index_t>(1, n)),
                InvalidArgument, "symmetric_eigensolve_smallest: n too large for LAPACK");
    for (index_t i = 0; i < n * n; ++i)
        CVG_REQUIRE(std::isfinite(matrix[i]), BadData,
                    "symmetric_eigensolve_smallest: the matrix contains NaN or Inf");
    // dsyevr overwrites its input. A row-major symmetric matrix read as
    // column-major is the same matrix; 'L' of that view is the row-major upper
    // triangle (the CUDA backend reads the same triangle).
    std::vector<double> a(matrix, matrix + n * n);
    std::vector<double> w(static_cast<size_t>(n));
    std::vector<lapack_int> support(static_cast<size_t>(2 * n));
    lapack_int found = 0;
    // abstol = 0: LAPACK's default eps * ||T|| bisection tolerance (as scipy);
    // eigenvalues are still accurate to ~1e-13 relative to ||L||.
    const lapack_int info = lapack::syevr_index_range('L', lapack_int(n), a.data(), lapack_int(n), 1, lapack_int(k),
                                                      &found, w.data(), vectors, lapack_int(n), support.data());
    CVG_REQUIRE(info == 0, Internal,
                "symmetric_eigensolve_smallest: LAPACK dsyevr failed (info = " + std::to_string(info) + ")");
    CVG_REQUIRE(found == lapack_int(k), Internal,
                "symmetric_eigensolve_smallest: dsyevr returned " + std::to_string(found) +
                    " eigenpairs instead of " + std::to_string(k));
    std::copy(w.begin(), w.begin() + k, values);
}

}  // namespace convergent
