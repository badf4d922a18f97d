// Host kernels of the Sec. 2 moment accumulation (see cpu_moments.hpp).
#include "cpu_moments.hpp"

#include <algorithm>
#include <climits>
#include <vector>

#include <omp.h>
#include <sys/mman.h>

#include <atomic>
#include <string>

#include "allocation.hpp"

// The Fortran BLAS symbol, as Eigen's EIGEN_USE_BLAS binds it: any BLAS works,
// OpenBLAS runs it on every core with its own threads.
extern "C" int openblas_get_num_threads(void) __attribute__((weak));
extern "C" void ssyrk_(const char* uplo, const char* trans, const int* n, const int* k, const float* alpha,
                       const float* a, const int* lda, const float* beta, float* c, const int* ldc);
extern "C" void dsyrk_(const char* uplo, const char* trans, const int* n, const int* k, const double* alpha,
                       const double* a, const int* lda, const double* beta, double* c, const int* ldc);

namespace convergent {
namespace cpu_moments {

namespace {
// The packing loops split the columns into one contiguous range per thread
// and walk the rows in order: every column's sums are then accumulated in
// row order whatever the thread count (deterministic), and each thread
// streams contiguous runs of every row.
template <typename Body>
void for_column_ranges(index_t rows, index_t cols, Body body, bool may_split = true) {
    // Only big calls (a whole chunk pushed at once) are split: the pass is
    // bound by memory, and short parallel regions leave OpenMP workers
    // spinning on the cores that BLAS needs next.
    const bool parallel = may_split && rows * cols >= (index_t(1) << 22) && cols >= 64;
#pragma omp parallel if (parallel)
    {
        const index_t threads = omp_get_num_threads(), t = omp_get_thread_num();
        // Ranges of whole 8-column groups, so no two threads share a cache line of y.
        const index_t groups = (cols + 7) / 8;
        const index_t g0 = groups * t / threads, g1 = groups * (t + 1) / threads;
        const index_t j0 = std::min(cols, g0 * 8), j1 = std::min(cols, g1 * 8);
        if (j1 > j0) body(j0, j1);
    }
}
}  // namespace

namespace {
// kStore false: only the sums (y unused), with the same arithmetic.
template <typename Out, bool kStore = true>
void pack_shifted_as(const float* x, index_t rows, index_t cols, index_t ldx, const double* shift, Out* y,
                     index_t ldy, double* sums, double* squares) {
    for_column_ranges(rows, cols, [&](index_t j0, index_t j1) {
        const index_t w = j1 - j0;
        std::vector<double> local(size_t(3 * w));
        double* __restrict s = local.data();
        double* __restrict q = s + w;
        double* __restrict k = q + w;
        for (index_t j = 0; j < w; ++j) k[j] = shift[j0 + j];
        for (index_t r = 0; r < rows; ++r) {
            const float* __restrict in = x + r * ldx + j0;
            Out* __restrict out = kStore ? y + r * ldy + j0 : nullptr;
#pragma omp simd
            for (index_t j = 0; j < w; ++j) {
                // The sums are those of the values stored (rounded to Out),
                // so the chunk mean matches the products exactly.
                const Out v = Out(double(in[j]) - k[j]);
                if (kStore) out[j] = v;
                s[j] += double(v);
                q[j] += double(v) * double(v);
            }
        }
        for (index_t j = 0; j < w; ++j) {
            sums[j0 + j] += s[j];
            squares[j0 + j] += q[j];
        }
    }, kStore);  // the sums alone: serial (the product kernel's team runs next)
}

// Groups of 8 columns (one 64-byte line of float64 output per row): the
// 8 input planes are read in step, p by p, and every output line is
// written whole; each column's sums still run over the rows in order.
template <typename Out, bool kStore = true>
void pack_channels_first_as(const float* x, index_t images, index_t ldi, index_t positions, index_t cols,
                            const double* shift, Out* y, index_t ldy, double* sums, double* squares) {
    constexpr index_t kGroup = 8;
    for (index_t j0 = 0; j0 < cols; j0 += kGroup) {
        const index_t w = std::min(kGroup, cols - j0);
        double s[kGroup] = {}, q[kGroup] = {}, k[kGroup] = {};
        for (index_t j = 0; j < w; ++j) k[j] = shift[j0 + j];
        for (index_t i = 0; i < images; ++i) {
            const float* __restrict in = x + i * ldi + j0 * positions;
            Out* __restrict out = kStore ? y + i * positions * ldy + j0 : nullptr;
            if (w == kGroup) {
                for (index_t p = 0; p < positions; ++p) {
                    Out* __restrict row = kStore ? out + p * ldy : nullptr;
#pragma omp simd
                    for (index_t j = 0; j < kGroup; ++j) {
                        const Out v = Out(double(in[j * positions + p]) - k[j]);
                        if (kStore) row[j] = v;
                        s[j] += double(v);
                        q[j] += double(v) * double(v);
                    }
                }
            } else {
                for (index_t p = 0; p < positions; ++p)
                    for (index_t j = 0; j < w; ++j) {
                        const Out v = Out(double(in[j * positions + p]) - k[j]);
                        if (kStore) out[p * ldy + j] = v;
                        s[j] += double(v);
                        q[j] += double(v) * double(v);
                    }
            }
        }
        for (index_t j = 0; j < w; ++j) {
            sums[j0 + j] += s[j];
            squares[j0 + j] += q[j];
        }
    }
}

template <typename Out>
void recentre_as(Out* y, index_t rows, index_t cols, index_t ldy, const double* by, double* sums) {
    for_column_ranges(rows, cols, [&](index_t j0, index_t j1) {
        const index_t w = j1 - j0;
        std::vector<double> local(static_cast<size_t>(w));
        std::vector<Out> shift(static_cast<size_t>(w));
        double* __restrict s = local.data();
        Out* __restrict k = shift.data();
        for (index_t j = 0; j < w; ++j) k[j] = Out(by[j0 + j]);
        for (index_t r = 0; r < rows; ++r) {
            Out* __restrict row = y + r * ldy + j0;
#pragma omp simd
            for (index_t j = 0; j < w; ++j) {
                row[j] -= k[j];
                s[j] += double(row[j]);
            }
        }
        for (index_t j = 0; j < w; ++j) sums[j0 + j] = s[j];
    });
}
}  // namespace

void pack_shifted(const float* x, index_t rows, index_t cols, index_t ldx, const double* shift, double* y,
                  index_t ldy, double* sums, double* squares) {
    pack_shifted_as(x, rows, cols, ldx, shift, y, ldy, sums, squares);
}
void pack_shifted(const float* x, index_t rows, index_t cols, index_t ldx, const double* shift, float* y,
                  index_t ldy, double* sums, double* squares) {
    pack_shifted_as(x, rows, cols, ldx, shift, y, ldy, sums, squares);
}
void pack_shifted_channels_first(const float* x, index_t images, index_t ldi, index_t positions, index_t cols,
                                 const double* shift, double* y, index_t ldy, double* sums, double* squares) {
    pack_channels_first_as(x, images, ldi, positions, cols, shift, y, ldy, sums, squares);
}
void pack_shifted_channels_first(const float* x, index_t images, index_t ldi, index_t positions, index_t cols,
                                 const double* shift, float* y, index_t ldy, double* sums, double* squares) {
    pack_channels_first_as(x, images, ldi, positions, cols, shift, y, ldy, sums, squares);
}
void sum_shifted(const float* x, index_t rows, index_t cols, index_t ldx, const double* shift, double* sums,
                 double* squares) {
    pack_shifted_as<double, false>(x, rows, cols, ldx, shift, nullptr, 0, sums, squares);
}
void sum_shifted_channels_first(const float* x, index_t images, index_t ldi, index_t positions, index_t cols,
                                const double* shift, double* sums, double* squares) {
    pack_channels_first_as<double, false>(x, images, ldi, positions, cols, shift, nullptr, 0, sums, squares);
}
// by is rounded to Out first: callers subtract exactly what they record
// (float32: they pass by already rounded to float).
void recentre(double* y, index_t rows, index_t cols, index_t ldy, const double* by, double* sums) {
    recentre_as(y, rows, cols, ldy, by, sums);
}
void recentre(float* y, index_t rows, index_t cols, index_t ldy, const double* by, double* sums) {
    recentre_as(y, rows, cols, ldy, by, sums);
}

namespace {
// OpenBLAS maps one 128 MiB work buffer per thread on its first level-3
// call and retries forever when the mapping fails (e.g. under an
// address-space limit): check once that they fit, so running out of memory
// stays an Error instead of a hang.
void require_blas_buffers() {
    static std::atomic<bool> checked{false};
    if (checked.load(std::memory_order_relaxed)) return;
    const std::uint64_t per_thread = std::uint64_t(128) << 20;
    const std::uint64_t threads = openblas_get_num_threads ? std::uint64_t(std::max(1, openblas_get_num_threads())) : 1;
    const std::uint64_t bytes = threads * per_thread;
    void* p = ::mmap(nullptr, size_t(bytes), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        fail_out_of_memory("the statistics (dsyrk)", "the work buffers of " + std::to_string(threads) + " BLAS thread" +
                                                         (threads > 1 ? "s" : "") + " (" +
                                                         std::to_string(per_thread) + " bytes each)",
                           bytes);
    ::munmap(p, size_t(bytes));
    checked.store(true, std::memory_order_relaxed);
}
}  // namespace

void add_cross_products(const double* y, index_t rows, index_t n, index_t ldy, double* m) {
    if (rows == 0 || n == 0) return;
    require_blas_buffers();
    // Row-major Y (rows x n, ld ldy) is the column-major n x rows matrix A,
    // so A A^T = Y^T Y; its lower triangle in column-major order is the
    // upper triangle of the row-major m. dsyrk's k is an int: split the rows.
    const int nn = int(n), lda = int(ldy), ldc = int(n);
    const double one = 1.0;
    constexpr index_t kMaxRows = INT_MAX / 2;
    for (index_t r0 = 0; r0 < rows; r0 += kMaxRows) {
        const int k = int(std::min(kMaxRows, rows - r0));
        dsyrk_("L", "N", &nn, &k, &one, y + r0 * ldy, &lda, &one, m, &ldc);
    }
}

void add_cross_products(const float* y, index_t rows, index_t n, index_t ldy, double* m, float* scratch) {
    if (rows == 0 || n == 0) return;
    require_blas_buffers();
    const int nn = int(n), lda = int(ldy), ldc = int(n);
    const float one = 1.0f, zero = 0.0f;
    for (index_t r0 = 0; r0 < rows; r0 += kFloat32SliceRows) {
        const int k = int(std::min(kFloat32SliceRows, rows - r0));
        // Column-major lower = row-major upper, as in the float64 version.
        ssyrk_("L", "N", &nn, &k, &one, y + r0 * ldy, &lda, &zero, scratch, &ldc);
        for (index_t i = 0; i < n; ++i) {
            double* __restrict row = m + i * n;
            const float* __restrict part = scratch + i * n;
#pragma omp simd
            for (index_t j = i; j < n; ++j) row[j] += double(part[j]);
        }
    }
}

void add_rank_one(double* m, index_t n, double a, const double* u, double b, const double* v) {
    // Serial on purpose: O(n^2) per chunk next to the chunk's O(rows n^2)
    // dsyrk, and an OpenMP region here leaves its workers spinning (libgomp
    // spins up to GOMP_SPINCOUNT, milliseconds on this hardware) on the
    // cores OpenBLAS's threads need for the next chunk's dsyrk.
    for (index_t i = 0; i < n; ++i) {
        double* row = m + i * n;
        const double au = a * u[i];
        if (v) {
            const double bv = b * v[i];
#pragma omp simd
            for (index_t j = i; j < n; ++j) row[j] += au * u[j] + bv * v[j];
        } else {
#pragma omp simd
            for (index_t j = i; j < n; ++j) row[j] += au * u[j];
        }
    }
}

void mirror_upper(double* m, index_t n) {
    constexpr index_t kTile = 64;
    const index_t tiles = (n + kTile - 1) / kTile;
    // Tiles (ti, tj) with tj <= ti: lower-triangle tile ti x tj reads the
    // transposed upper tile tj x ti.
#pragma omp parallel for schedule(dynamic, 1) if (n >= 256)
    for (index_t ti = 0; ti < tiles; ++ti)
        for (index_t tj = 0; tj <= ti; ++tj) {
            const index_t i1 = std::min(n, (ti + 1) * kTile), j1 = std::min(n, (tj + 1) * kTile);
            for (index_t i = ti * kTile; i < i1; ++i)
                for (index_t j = tj * kTile; j < std::min(j1, i); ++j) m[i * n + j] = m[j * n + i];
        }
}

}  // namespace cpu_moments
}  // namespace convergent
