// Private: the host kernels of the Sec. 2 moment accumulation on the CPU.
//
// A chunk is packed once, straight from the caller's float32 rows, into a
// row-major float64 buffer shifted by the accumulator's running mean (the
// side-by-side layout of every net's units), and added to the accumulator's
// comoment with one BLAS dsyrk (beta = 1) into the upper triangle. The Chan
// merge then needs only rank-one corrections (O(T^2) per chunk, no T x T
// scratch), and the lower triangle is filled once, when the matrix is read.
// Where the CPU has AVX-512 and the chunk is at most 2,048 units wide, the
// products are formed by cpu_syrk.hpp's kernel instead, straight from the
// float32 inputs (or from this packed chunk for inputs that were copied):
// these functions then provide the packing and the sums only.
#pragma once

#include "convergent/error.hpp"

namespace convergent {
namespace cpu_moments {

// y[r * ldy + j] = double(x[r * ldx + j]) - shift[j] for r < rows, j < cols;
// adds every column's sum of y to sums[j] and its sum of y^2 to squares[j]
// (in row order, so the result does not depend on the thread count).
void pack_shifted(const float* x, index_t rows, index_t cols, index_t ldx, const double* shift, double* y,
                  index_t ldy, double* sums, double* squares);

// The same for channels-first input (float32 (N, C, H, W) in C order, as
// stored): image i starts at x + i * ldi, y row i * positions + p, column j
// gets double(x[i * ldi + j * positions + p]) - shift[j]. Every column's
// sums are accumulated in row order too, so the result is bit-identical to
// transposing first and calling pack_shifted.
void pack_shifted_channels_first(const float* x, index_t images, index_t ldi, index_t positions, index_t cols,
                                 const double* shift, double* y, index_t ldy, double* sums, double* squares);
void pack_shifted_channels_first(const float* x, index_t images, index_t ldi, index_t positions, index_t cols,
                                 const double* shift, float* y, index_t ldy, double* sums, double* squares);

// The sums and squares of pack_shifted and pack_shifted_channels_first
// (float64), bit for bit, without storing y.
void sum_shifted(const float* x, index_t rows, index_t cols, index_t ldx, const double* shift, double* sums,
                 double* squares);
void sum_shifted_channels_first(const float* x, index_t images, index_t ldi, index_t positions, index_t cols,
                                const double* shift, double* sums, double* squares);

// y[r * ldy + j] -= by[j]; sums[j] = the new column sums of y.
void recentre(double* y, index_t rows, index_t cols, index_t ldy, const double* by, double* sums);

// Upper triangle of the row-major n x n matrix m (ld n) += Y^T Y, where Y is
// rows x n row-major (ld ldy): one dsyrk on both cores.
void add_cross_products(const double* y, index_t rows, index_t n, index_t ldy, double* m);

// The float32 variants (CompareOptions::statistics_float32): the chunk is
// packed as float32 (the shift and the sums stay float64) and its products
// are formed by ssyrk, twice the speed of dsyrk, in slices of
// kFloat32SliceRows rows, each slice's float32 triangle added into the
// float64 m: the rounding of a float32 sum grows with the rows it adds, so
// slices bound it (at most 256 x 2^-24 relative; MomentAccumulator::
// set_float32_products gives the measured figures).
constexpr index_t kFloat32SliceRows = 256;
void pack_shifted(const float* x, index_t rows, index_t cols, index_t ldx, const double* shift, float* y,
                  index_t ldy, double* sums, double* squares);
void recentre(float* y, index_t rows, index_t cols, index_t ldy, const double* by, double* sums);
// scratch: n * n floats.
void add_cross_products(const float* y, index_t rows, index_t n, index_t ldy, double* m, float* scratch);

// Upper triangle of m (row-major n x n) += a u u^T + b v v^T (v may be NULL).
void add_rank_one(double* m, index_t n, double a, const double* u, double b, const double* v);

// Copies the upper triangle of the row-major n x n matrix m onto the lower one.
void mirror_upper(double* m, index_t n);

}  // namespace cpu_moments
}  // namespace convergent
