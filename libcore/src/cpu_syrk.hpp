// Private: the CPU product kernel of the Sec. 2 statistics pass.
//
// A chunk's centred cross-products, formed straight from the inputs: the
// float32 rows (or channels-first images) of every net are converted,
// shifted and transposed while they are packed into the panels the
// multiply kernel reads, a cache-sized block of rows at a time, so the
// chunk is never written out as float64 first (the "pack step" of a GEMM
// is the only copy). The multiply is a register-blocked SYRK (24 x 8 tiles
// of the upper triangle, AVX-512 FMA), run by a team of threads that split
// the tiles; every entry of the result is summed by one thread in the same
// order whatever the thread count, so results do not depend on it.
//
// Used where the CPU supports it (supported()) and the chunk is no wider
// than kMaxWidth units; elsewhere the statistics pass packs a float64 chunk
// and calls BLAS dsyrk (cpu_moments.hpp).
#pragma once

#include <vector>

#include "convergent/error.hpp"

namespace convergent {
namespace cpu_syrk {

// Above this many units (all nets together) the pass keeps dsyrk: the
// tile loop re-reads the T x T result once per block of rows, which costs
// more than BLAS's blocking there (and OpenBLAS already runs at 95% of
// peak at 4,096 units).
constexpr index_t kMaxWidth = 2048;

// One net's (or one column range's) values for every row of the chunk.
struct Source {
    enum class Kind {
        Rows32,           // float32, row r at x + r * ld (units contiguous)
        ChannelsFirst32,  // float32 (N, C, H, W) as stored: row r = image r / positions, position r % positions;
                          // unit c of image i at x + i * ld + c * positions + position
        Rows64,           // float64, already shifted (shift ignored), row r at x + r * ld
    };
    Kind kind = Kind::Rows32;
    const void* x = nullptr;
    index_t ld = 0;
    index_t positions = 1;     // ChannelsFirst32 only
    index_t first_column = 0;  // of the chunk's width
    index_t columns = 0;
    const double* shift = nullptr;  // float32 kinds: one per column of this source
};

// Whether this CPU runs the kernel (AVX-512F; checked once at run time).
bool supported();

// For the chunk of `rows` rows and n columns covered exactly once by the
// sources, with v[r][j] = (double(x[r][j]) - shift[j]) - offset[j]
// (Rows64: x[r][j] - offset[j]):
//   upper triangle of the row-major n x n m  +=  sum over r of v[r] v[r]^T
//   sums[j] = sum over r of v[r][j]            (overwritten)
// Nothing below m's diagonal is written. Requires supported() and
// n <= kMaxWidth.
void add_products(const std::vector<Source>& sources, index_t rows, index_t n, const double* offset, double* m,
                  double* sums);

}  // namespace cpu_syrk
}  // namespace convergent
