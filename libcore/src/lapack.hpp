// The three LAPACK drivers libcore calls, through LAPACK's own (Fortran)
// interface, column-major, with the workspace query done here. Not through
// LAPACKE: its shared library pulls in a second LAPACK (liblapack.so.3,
// libtmglib, the reference BLAS shim) beside OpenBLAS, which already holds
// LAPACK; loading and relocating them was a third of the CLI's start-up
// (docs/benchmarks.md, "Statistics"). The LAPACK found by CMake
// (LAPACK_LIBRARIES) provides these symbols.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

namespace convergent {
namespace lapack {

using lapack_int = int;  // LP64 LAPACK (Debian's OpenBLAS and reference LAPACK)

extern "C" {
// gfortran's calling convention: every argument by reference, the lengths
// of the character arguments appended.
void dsyevr_(const char* jobz, const char* range, const char* uplo, const lapack_int* n, double* a,
             const lapack_int* lda, const double* vl, const double* vu, const lapack_int* il, const lapack_int* iu,
             const double* abstol, lapack_int* m, double* w, double* z, const lapack_int* ldz, lapack_int* isuppz,
             double* work, const lapack_int* lwork, lapack_int* iwork, const lapack_int* liwork, lapack_int* info,
             std::size_t, std::size_t, std::size_t);
void dsyevd_(const char* jobz, const char* uplo, const lapack_int* n, double* a, const lapack_int* lda, double* w,
             double* work, const lapack_int* lwork, lapack_int* iwork, const lapack_int* liwork, lapack_int* info,
             std::size_t, std::size_t);
void dgesdd_(const char* jobz, const lapack_int* m, const lapack_int* n, double* a, const lapack_int* lda, double* s,
             double* u, const lapack_int* ldu, double* vt, const lapack_int* ldvt, double* work,
             const lapack_int* lwork, lapack_int* iwork, lapack_int* info, std::size_t);
}

// Eigenpairs il..iu (1-based) of the symmetric n x n matrix a (triangle
// uplo, destroyed) into w and z (ldz x found). Returns LAPACK's info.
inline lapack_int syevr_index_range(char uplo, lapack_int n, double* a, lapack_int lda, lapack_int il,
                                    lapack_int iu, lapack_int* found, double* w, double* z, lapack_int ldz,
                                    lapack_int* isuppz) {
    const char jobz = 'V', range = 'I';
    const double vl = 0.0, vu = 0.0, abstol = 0.0;
    lapack_int info = 0, lwork = -1, liwork = -1, iwork_size = 0;
    double work_size = 0.0;
    dsyevr_(&jobz, &range, &uplo, &n, a, &lda, &vl, &vu, &il, &iu, &abstol, found, w, z, &ldz, isuppz, &work_size,
            &lwork, &iwork_size, &liwork, &info, 1, 1, 1);
    if (info != 0) return info;
    lwork = std::max<lapack_int>(1, lapack_int(work_size));
    liwork = std::max<lapack_int>(1, iwork_size);
    std::vector<double> work(static_cast<std::size_t>(lwork));
    std::vector<lapack_int> iwork(static_cast<std::size_t>(liwork));
    dsyevr_(&jobz, &range, &uplo, &n, a, &lda, &vl, &vu, &il, &iu, &abstol, found, w, z, &ldz, isuppz, work.data(),
            &lwork, iwork.data(), &liwork, &info, 1, 1, 1);
    return info;
}

// Every eigenpair of the symmetric n x n matrix a (triangle uplo): the
// eigenvectors overwrite a, the eigenvalues (increasing) go to w.
inline lapack_int syevd(char uplo, lapack_int n, double* a, lapack_int lda, double* w) {
    const char jobz = 'V';
    lapack_int info = 0, lwork = -1, liwork = -1, iwork_size = 0;
    double work_size = 0.0;
    dsyevd_(&jobz, &uplo, &n, a, &lda, w, &work_size, &lwork, &iwork_size, &liwork, &info, 1, 1);
    if (info != 0) return info;
    lwork = std::max<lapack_int>(1, lapack_int(work_size));
    liwork = std::max<lapack_int>(1, iwork_size);
    std::vector<double> work(static_cast<std::size_t>(lwork));
    std::vector<lapack_int> iwork(static_cast<std::size_t>(liwork));
    dsyevd_(&jobz, &uplo, &n, a, &lda, w, work.data(), &lwork, iwork.data(), &liwork, &info, 1, 1);
    return info;
}

// Singular values of the m x n matrix a (destroyed) into s (decreasing);
// with jobz 'S' also the thin factors u (m x min) and vt (min x n).
inline lapack_int gesdd(char jobz, lapack_int m, lapack_int n, double* a, lapack_int lda, double* s, double* u,
                        lapack_int ldu, double* vt, lapack_int ldvt) {
    const lapack_int k = std::min(m, n);
    std::vector<lapack_int> iwork(static_cast<std::size_t>(std::max<lapack_int>(1, 8 * k)));
    lapack_int info = 0, lwork = -1;
    double work_size = 0.0;
    dgesdd_(&jobz, &m, &n, a, &lda, s, u, &ldu, vt, &ldvt, &work_size, &lwork, iwork.data(), &info, 1);
    if (info != 0) return info;
    lwork = std::max<lapack_int>(1, lapack_int(work_size));
    std::vector<double> work(static_cast<std::size_t>(lwork));
    dgesdd_(&jobz, &m, &n, a, &lda, s, u, &ldu, vt, &ldvt, work.data(), &lwork, iwork.data(), &info, 1);
    return info;
}

}  // namespace lapack
}  // namespace convergent
