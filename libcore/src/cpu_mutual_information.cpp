// Sec. 3.2 on the CPU backend: exact all-pairs joint histograms by direct
// counting, MI in the epilogue.
//
// Why counting and not a one-hot GEMM on the CPU: counts = onehot(A)^T onehot(B)
// costs 2 * bins^2 flops per (pair, sample) (882 for 21 bins), whereas a
// counting pass costs one increment per (pair, sample). A micro-kernel of
// 2 units of a x 4 units of b keeps eight int32 bins x bins tables in L1 and
// reads 6 code bytes for 8 increments, so the loop is bound by the stores
// (about half a cycle per pair and sample), far below any SIMD GEMM.
#include "cpu_backend.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#if defined(__x86_64__) && defined(__GNUC__)
#define CONVERGENT_MI_AVX512 1
#include <immintrin.h>
#endif

#include "allocation.hpp"
#include "parallel_guard.hpp"

#include "convergent/mutual_information.hpp"

namespace convergent {

namespace {

constexpr index_t kRowsPerItem = 2;  // units of a per micro-kernel
constexpr index_t kColsPerItem = 4;  // units of b per micro-kernel

// Adds the joint histograms of 2 x 4 unit pairs over samples [0, n).
// xoff[i][s] = code_a * bins (precomputed), y[j][s] = code_b; table[i*4+j]
// is the bins x bins table of pair (i, j). Eight independent increment
// streams per sample hide the store-to-load latency when consecutive samples
// hit the same bin (e.g. the zero bin of ReLU units).
void count_2x4(const std::uint16_t* const xoff[kRowsPerItem], const std::uint8_t* const y[kColsPerItem],
               index_t n, std::int32_t* const table[kRowsPerItem * kColsPerItem]) {
    const std::uint16_t* x0 = xoff[0];
    const std::uint16_t* x1 = xoff[1];
    const std::uint8_t* y0 = y[0];
    const std::uint8_t* y1 = y[1];
    const std::uint8_t* y2 = y[2];
    const std::uint8_t* y3 = y[3];
    std::int32_t* t00 = table[0];
    std::int32_t* t01 = table[1];
    std::int32_t* t02 = table[2];
    std::int32_t* t03 = table[3];
    std::int32_t* t10 = table[4];
    std::int32_t* t11 = table[5];
    std::int32_t* t12 = table[6];
    std::int32_t* t13 = table[7];
    for (index_t s = 0; s < n; ++s) {
        const unsigned i0 = x0[s], i1 = x1[s];
        const unsigned j0 = y0[s], j1 = y1[s], j2 = y2[s], j3 = y3[s];
        ++t00[i0 + j0];
        ++t01[i0 + j1];
        ++t02[i0 + j2];
        ++t03[i0 + j3];
        ++t10[i1 + j0];
        ++t11[i1 + j1];
        ++t12[i1 + j2];
        ++t13[i1 + j3];
    }
}

// The sparse-aware variant (exact): one unit of a whose samples outside its
// most frequent bin m ("the mode": the zero bin of a ReLU unit) are listed
// in idx, with their code offsets in xoff. Counts those samples against 4
// units of b; row m of each table is then filled in from b's marginal
// histogram (complete_mode_row), since c(m, y) = c_b(y) - sum_{x != m} c(x, y).
// The cost is one increment per (pair, listed sample) instead of per
// (pair, sample): half the increments at 50% sparsity, a tenth at 90%.
void count_1x4_listed(const std::uint32_t* idx, const std::uint16_t* xoff, index_t listed,
                      const std::uint8_t* const y[kColsPerItem], std::int32_t* const table[kColsPerItem]) {
    const std::uint8_t* y0 = y[0];
    const std::uint8_t* y1 = y[1];
    const std::uint8_t* y2 = y[2];
    const std::uint8_t* y3 = y[3];
    std::int32_t* t0 = table[0];
    std::int32_t* t1 = table[1];
    std::int32_t* t2 = table[2];
    std::int32_t* t3 = table[3];
    for (index_t k = 0; k < listed; ++k) {
        const std::uint32_t s = idx[k];
        const unsigned i0 = xoff[k];
        ++t0[i0 + y0[s]];
        ++t1[i0 + y1[s]];
        ++t2[i0 + y2[s]];
        ++t3[i0 + y3[s]];
    }
}

// The listed kernel again with two units of b per increment (exact): the
// codes of units j and j+1 of b are combined into one pair code y * bins + z,
// so one increment per listed sample counts the three-way table
// (x, y, z) of unit i of a and both units; the two joint tables (x, y) and
// (x, z) are its marginals over z and over y (add_triple_marginals). The
// loop is bound by its stores (one increment per cycle on the machines this
// was measured on, tools: bench/mi_zero_fraction.py), and this halves them;
// the marginals cost 2 bins^3 additions per pair of pairs, so a unit is
// counted so only with at least bins^3 listed samples (triples_pay).
// The three-way tables are 16-bit (2 x 21^3 x 2 bytes stay in L1) and the
// listed samples go in runs of at most 65,535, each run's marginals added
// into the int32 joint tables.
// Four loads per listed sample (the bound on machines with two store ports):
// one entry (x * bins^2) << 16 | (s mod 2^16) per listed sample, and the
// two pair codes of sample s in one 32-bit word (y0 * bins + y1 in the low
// half, y2 * bins + y3 in the high half). The samples are taken in segments
// of 2^16 (segment g: s in [g 2^16, (g + 1) 2^16)); seg_end[g] is the first
// listed sample after segment g.
void count_1x2x2_listed(const std::uint32_t* entries, index_t listed, const index_t* seg_end,
                        const std::uint32_t* pairs, index_t triple_size, std::uint16_t* u01, std::uint16_t* u23,
                        int bins, std::int32_t* const table[kColsPerItem]);

// hist[c] = how many of codes[0, n) equal c, for c in [0, 256). Four
// interleaved sub-histograms: runs of equal codes (the zero bin of a ReLU
// unit) would otherwise chain each increment on the previous one's store.
void histogram_codes(const std::uint8_t* codes, index_t n, std::int32_t hist[256]) {
    std::int32_t part[4][256] = {};
    index_t s = 0;
    for (; s + 4 <= n; s += 4) {
        ++part[0][codes[s]];
        ++part[1][codes[s + 1]];
        ++part[2][codes[s + 2]];
        ++part[3][codes[s + 3]];
    }
    for (; s < n; ++s) ++part[0][codes[s]];
    for (int c = 0; c < 256; ++c) hist[c] = part[0][c] + part[1][c] + part[2][c] + part[3][c];
}

#if CONVERGENT_MI_AVX512
// add_triple_marginals with AVX-512BW, for bins <= 32: a row u[x][y][.] is
// one masked load of 32 16-bit lanes. The column sums stay in 16 bits (a run
// adds at most 65,535 to the whole table, so no partial sum can wrap); the row
// sum is one multiply-add of the lanes biased to signed 16 bits (v - 32768)
// and a reduction, plus 32 x 32768. Integer sums: equal to the scalar loop.
__attribute__((target("avx512f,avx512bw,avx2"))) void add_triple_marginals_avx512(const std::uint16_t* u, int bins,
                                                                            std::int32_t* table_y,
                                                                            std::int32_t* table_z) {
    const __mmask32 row_mask = bins >= 32 ? __mmask32(0xFFFFFFFFu) : __mmask32((1u << bins) - 1u);
    const __mmask16 lo_mask = bins >= 16 ? __mmask16(0xFFFFu) : __mmask16((1u << bins) - 1u);
    const __mmask16 hi_mask = bins > 16 ? __mmask16((1u << (bins - 16)) - 1u) : __mmask16(0);
    const __m512i bias = _mm512_set1_epi16(std::int16_t(-32768));
    const __m512i ones = _mm512_set1_epi16(1);
    for (int x = 0; x < bins; ++x) {
        const std::uint16_t* slab = u + index_t(x) * bins * bins;
        std::int32_t* ty = table_y + x * bins;
        __m512i column = _mm512_setzero_si512();
        for (int y = 0; y < bins; ++y) {
            const __m512i row = _mm512_maskz_loadu_epi16(row_mask, slab + y * bins);
            column = _mm512_add_epi16(column, row);
            const __m512i pairs = _mm512_madd_epi16(_mm512_xor_si512(row, bias), ones);
            // (The maskz forms: GCC 12's unmasked ones warn about their
            // undefined pass-through operand.)
            const __m256i r8 = _mm256_add_epi32(_mm512_maskz_extracti64x4_epi64(0xFF, pairs, 0),
                                                _mm512_maskz_extracti64x4_epi64(0xFF, pairs, 1));
            __m128i r4 = _mm_add_epi32(_mm256_castsi256_si128(r8), _mm256_extracti128_si256(r8, 1));
            r4 = _mm_add_epi32(r4, _mm_shuffle_epi32(r4, 0x4E));
            r4 = _mm_add_epi32(r4, _mm_shuffle_epi32(r4, 0xB1));
            ty[y] += _mm_cvtsi128_si32(r4) + 32 * 32768;
        }
        std::int32_t* tz = table_z + x * bins;
        const __m512i lo = _mm512_maskz_cvtepu16_epi32(0xFFFF, _mm512_maskz_extracti64x4_epi64(0xFF, column, 0));
        _mm512_mask_storeu_epi32(tz, lo_mask, _mm512_add_epi32(_mm512_maskz_loadu_epi32(lo_mask, tz), lo));
        if (bins > 16) {
            const __m512i hi = _mm512_maskz_cvtepu16_epi32(0xFFFF, _mm512_maskz_extracti64x4_epi64(0xFF, column, 1));
            _mm512_mask_storeu_epi32(tz + 16, hi_mask, _mm512_add_epi32(_mm512_maskz_loadu_epi32(hi_mask, tz + 16), hi));
        }
    }
}

bool cpu_has_avx512bw() {
    static const bool yes = [] {
        if (const char* e = std::getenv("CONVERGENT_MI_AVX512"))  // 0: the scalar loop (comparisons, tests)
            if (std::strcmp(e, "0") == 0) return false;
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512bw") != 0;
    }();
    return yes;
}
#endif

// table_y[x][y] += sum_z u[x][y][z], table_z[x][z] += sum_y u[x][y][z].
void add_triple_marginals(const std::uint16_t* u, int bins, std::int32_t* table_y, std::int32_t* table_z) {
#if CONVERGENT_MI_AVX512
    if (bins <= 32 && cpu_has_avx512bw()) return add_triple_marginals_avx512(u, bins, table_y, table_z);
#endif
    std::int32_t column[256];
    for (int x = 0; x < bins; ++x) {
        std::fill(column, column + bins, 0);
        for (int y = 0; y < bins; ++y) {
            const std::uint16_t* row = u + (index_t(x) * bins + y) * bins;
            std::int32_t sum = 0;
            for (int z = 0; z < bins; ++z) {
                sum += row[z];
                column[z] += row[z];
            }
            table_y[x * bins + y] += sum;
        }
        for (int z = 0; z < bins; ++z) table_z[x * bins + z] += column[z];
    }
}

void count_1x2x2_listed(const std::uint32_t* entries, index_t listed, const index_t* seg_end,
                        const std::uint32_t* pairs, index_t triple_size, std::uint16_t* u01, std::uint16_t* u23,
                        int bins, std::int32_t* const table[kColsPerItem]) {
    index_t g = 0;
    for (index_t k = 0; k < listed;) {
        const index_t run_end = std::min(listed, k + 65535);
        std::fill(u01, u01 + triple_size, std::uint16_t(0));
        std::fill(u23, u23 + triple_size, std::uint16_t(0));
        while (k < run_end) {
            while (seg_end[g] <= k) ++g;
            const index_t end = std::min(run_end, seg_end[g]);
            const std::uint32_t* p = pairs + (g << 16);
            for (; k < end; ++k) {
                const std::uint32_t e = entries[k];
                const std::uint32_t yz = p[e & 0xFFFFu];
                const unsigned i0 = e >> 16;
                ++u01[i0 + (yz & 0xFFFFu)];
                ++u23[i0 + (yz >> 16)];
            }
        }
        add_triple_marginals(u01, bins, table[0], table[1]);
        add_triple_marginals(u23, bins, table[2], table[3]);
    }
}

// The pair-sparse variant (exact): only the samples where BOTH units lie
// outside their modes are counted. For a block of units of b, each sample's
// non-mode units are listed once (BlockLists: entry = unit-in-block * bins^2
// + code, so one add gives the cell; each sample's list padded to a multiple
// of 4 with entries into a spare table, so the loop has no remainder and
// mispredicts once per sample at most). For one unit of a and its listed
// samples, every entry of a sample's list is one increment. The cells with a
// mode are then filled in from the marginals (complete_mode_column,
// complete_mode_row). The cost is one increment per (pair, sample outside
// both modes): a quarter of the samples at 50% zeros on both sides, against
// half for count_1x4_listed.
struct BlockLists {
    std::vector<std::uint32_t> start;   // samples + 1 offsets into entries
    std::vector<std::uint16_t> entries;  // unit-in-block * bins^2 + code
};

// 16-bit counters keep a block's tables in L1 (49 x 441 x 2 bytes); the
// listed samples go in runs of at most 65,535 (no counter can overflow),
// each run added into the int32 tables (cells of them, zeroed here).
void count_block_pairs(const std::uint32_t* idx, const std::uint16_t* xoff, index_t listed,
                       const BlockLists& lists, std::uint16_t* small, index_t cells, std::int32_t* tables) {
    const std::uint32_t* start = lists.start.data();
    const std::uint16_t* entries = lists.entries.data();
    std::fill(tables, tables + cells, 0);
    for (index_t k0 = 0; k0 < listed; k0 += 65535) {
        const index_t k1 = std::min(listed, k0 + 65535);
        std::fill(small, small + cells, std::uint16_t(0));
        for (index_t k = k0; k < k1; ++k) {
            const std::uint32_t s = idx[k];
            std::uint16_t* const t = small + xoff[k];
            const std::uint16_t* const end = entries + start[s + 1];
            for (const std::uint16_t* e = entries + start[s]; e < end; e += 4) {
                ++t[e[0]];
                ++t[e[1]];
                ++t[e[2]];
                ++t[e[3]];
            }
        }
        for (index_t c = 0; c < cells; ++c) tables[c] += small[c];
    }
}

// Units of b per pair-sparse block: the block's 16-bit tables (and the
// spare one the padding counts into) stay in L1 at 21 bins, and an entry
// fits in 16 bits.
constexpr index_t kPairBlockUnits = 48;

// At most this many units of a per group of the listed path (their sample
// lists are built once per group).
constexpr index_t kMaxGroupUnits = 16;

// A fraction in [0, 1] from the environment variable `name` (for A/B runs
// of the kernels and for the tests), read once; `otherwise` when it is
// unset or not such a number.
double fraction_from_environment(const char* name, double otherwise) {
    const char* text = std::getenv(name);
    if (text == nullptr || *text == '\0') return otherwise;
    char* end = nullptr;
    const double v = std::strtod(text, &end);
    return end != text && *end == '\0' && v >= 0.0 && v <= 1.0 ? v : otherwise;
}

// A block of b is counted pair-sparse when at most this share of its codes
// lies outside the units' modes. Measured on the idle 2-core machine
// (bench/mi_zero_fraction.py: 256 x 256 units, 60,000 samples, 21 bins, two
// threads, zeros placed independently in every unit), against the listed
// kernel alone: 0.81x at 30% zeros, 0.83x at 50%, 1.00x at 70%, 1.10x at
// 90% (one thread alone gained 1.17x at 50%: two threads on this machine
// share the caches the 16-bit tables need). Where the zeros of different
// units coincide (activations sharing a latent code; ReLU nets behave so
// too) a listed sample has more non-zero partners and the gain is smaller
// still. So only blocks with at least 75% of their codes in the modes are
// counted pair-sparse. CONVERGENT_MI_PAIRS_MAX (0 = never) overrides it.
double pairs_max_fraction() {
    static const double value = fraction_from_environment("CONVERGENT_MI_PAIRS_MAX", 0.25);
    return value;
}

// A unit is counted by the listed kernel when at most this fraction of its
// samples lie outside its mode. Measured (docs/benchmarks.md, "Sparse-aware
// MI counting": 256 x 256 units, 60,000 samples, 21 bins, same data both
// ways) the listed kernel wins at every zero fraction, even uniform codes
// (0.63 s vs 0.68 s; 2.0x at 30% zeros, 2.3x at 50%, 3.8x at 90%: the dense
// kernel also slows down on repeated bins), so every unit is listed; the
// dense kernel remains for more than 2^32 samples. CONVERGENT_MI_LISTED_MAX
// (0 = dense only) overrides it.
double listed_max_fraction() {
    static const double value = fraction_from_environment("CONVERGENT_MI_LISTED_MAX", 1.0);
    return value;
}

// The three-way tables of count_1x2x2_listed (two per thread, 16-bit) fit
// in L1 up to this many cells each: up to 21 bins (20 percentile bins and
// the zero bin, the paper's setting).
constexpr index_t kMaxTripleCells = 10240;

// Whether a listed unit of a with `listed` samples outside its mode is
// counted with the three-way tables: where the stores saved (one per listed
// sample and pair of units of b) outweigh the marginals' 2 bins^3 additions
// per pair of pairs. Measured (bench/mi_zero_fraction.py, 256 x 256 units,
// 60,000 samples, 21 bins, two threads): 1.36x at 0% zeros, 1.25x at 50%,
// 1.07x at 70% (18,000 listed samples), 0.97x at 90% (6,000), so from
// bins^3 (9,261) listed samples on. CONVERGENT_MI_TRIPLES=0 never, =1
// always (for the tests of both kernels); unset, by that rule.
bool triples_pay(index_t listed, index_t bins) {
    static const double setting = fraction_from_environment("CONVERGENT_MI_TRIPLES", -1.0);
    if (setting >= 0.0) return setting > 0.0;
    return listed >= bins * bins * bins;
}

bool triples_enabled() {
    static const double setting = fraction_from_environment("CONVERGENT_MI_TRIPLES", -1.0);
    return setting != 0.0;
}

// Calls visit(i, j, table) for every pair i in [0, a_count), j in [0, b_count)
// (unit indices relative to a_begin / b_begin), from inside an OpenMP region;
// table is the exact bins x bins joint count table, valid during the call.
// With upper_only, only pairs with a_begin + i <= b_begin + j are guaranteed
// (the within-net case; a few pairs below the diagonal are visited too).
template <class Visit>
void for_each_joint_table(const BinCodesView& a, index_t a_begin, index_t a_count,
                          const BinCodesView& b, index_t b_begin, index_t b_count, bool upper_only,
                          Visit&& visit) {
    const index_t bins = a.bins;
    const index_t table_size = bins * bins;
    const index_t samples = a.samples;
    const index_t col_groups = (b_count + kColsPerItem - 1) / kColsPerItem;

    // Per-thread scratch is allocated before the region (an exception may
    // not leave it); the guard carries anything `visit` throws out of it.
    const std::string what = "mutual information (" + std::to_string(a_count) + " x " +
                             std::to_string(b_count) + " units, " + std::to_string(samples) + " samples)";
    // Blocks of b for the listed path: as many units as keep a pair-sparse
    // entry (and the spare table) in 16 bits, a multiple of the 1 x 4
    // kernel's groups (which count the blocks without lists); blocks of one
    // group when there are too many bins for 16-bit entries (then no block
    // has lists).
    const index_t pair_fit = std::min<index_t>(kPairBlockUnits, index_t(65536) / std::max<index_t>(1, table_size) - 1);
    const bool pairs_fit = pair_fit >= kColsPerItem;
    const index_t pair_block = pairs_fit ? pair_fit / kColsPerItem * kColsPerItem : kColsPerItem;
    // Units of a per listed group: their sample lists (6 bytes per listed
    // sample) are built once and counted block by block, so each block's
    // lists are read while they are in cache (at most 8 MiB per thread),
    // and at least 4 groups per thread to share the work.
    const int threads = std::max(1, omp_get_max_threads());
    const index_t a_group = std::max<index_t>(
        kRowsPerItem, std::min<index_t>({kMaxGroupUnits, (index_t(8) << 20) / std::max<index_t>(1, 6 * samples),
                                         (a_count + 4 * threads - 1) / (4 * threads)}));
    const index_t xoff_size = a_group * samples;
    const index_t tables_size = std::max(kRowsPerItem * kColsPerItem, pair_block + 1) * table_size;
    std::vector<std::uint16_t> all_xoff;
    std::vector<std::uint32_t> all_idx;
    std::vector<std::int32_t> all_tables;
    std::vector<std::uint16_t> all_small;
    resize_or_fail(all_xoff, std::uint64_t(threads) * std::uint64_t(xoff_size), what, "per-thread bin offsets");
    resize_or_fail(all_idx, std::uint64_t(threads) * std::uint64_t(xoff_size), what, "per-thread sample lists");
    resize_or_fail(all_tables, std::uint64_t(threads) * std::uint64_t(tables_size), what,
                   "per-thread joint count tables");
    resize_or_fail(all_small, std::uint64_t(threads) * std::uint64_t(tables_size), what,
                   "per-thread joint count tables");
    // The sparse-aware path: each unit of a's mode and how many samples lie
    // outside it, and b's marginal histograms (to complete the mode rows).
    std::vector<int> a_mode(size_t(a_count), 0), b_mode(size_t(b_count), 0);
    std::vector<index_t> a_listed(size_t(a_count), samples), b_listed(size_t(b_count), samples);
    std::vector<std::int32_t> a_marginal, b_marginal;
    resize_or_fail(a_marginal, std::uint64_t(a_count) * std::uint64_t(bins), what, "marginal histograms");
    resize_or_fail(b_marginal, std::uint64_t(b_count) * std::uint64_t(bins), what, "marginal histograms");
    const bool may_list = samples <= index_t(UINT32_MAX);
    const double listed_max = listed_max_fraction();
    {
        ParallelGuard marginals;
#pragma omp parallel for schedule(static) num_threads(threads)
        for (index_t u = 0; u < a_count + b_count; ++u) marginals.run([&] {
            const bool in_a = u < a_count;
            const index_t v = in_a ? u : u - a_count;
            const std::uint8_t* codes = in_a ? a.codes + (a_begin + u) * samples : b.codes + (b_begin + v) * samples;
            std::int32_t local[256];
            histogram_codes(codes, samples, local);
            const index_t kept = std::min(bins, index_t(256));
            std::copy(local, local + kept, (in_a ? a_marginal : b_marginal).data() + v * bins);
            const int mode = int(std::max_element(local, local + kept) - local);
            (in_a ? a_mode : b_mode)[size_t(v)] = mode;
            (in_a ? a_listed : b_listed)[size_t(v)] = samples - local[mode];
        });
        marginals.rethrow(what);
    }
    // Pair codes of b for the three-way kernel: per group of 4 units (the
    // last group's missing units repeat its last one, as in the 1 x 4
    // kernel), y0 * bins + y1 and y2 * bins + y3: one byte per code of b,
    // less than the float32 MI sample freed before the counting.
    const index_t triple_size = bins * bins * bins;
    const bool triples = may_list && triple_size <= kMaxTripleCells && triples_enabled();
    const index_t segments = (samples + 65535) >> 16;
    std::vector<std::uint32_t> pair_codes, all_entries;
    std::vector<index_t> all_seg_end;
    std::vector<std::uint16_t> all_triples;
    if (triples) {
        resize_or_fail(pair_codes, std::uint64_t(col_groups) * std::uint64_t(samples), what,
                       "pair codes of the units of b");
        resize_or_fail(all_entries, std::uint64_t(threads) * std::uint64_t(xoff_size), what,
                       "per-thread sample lists");
        resize_or_fail(all_seg_end, std::uint64_t(threads) * std::uint64_t(a_group) * std::uint64_t(segments), what,
                       "per-thread segment ends of the sample lists");
        resize_or_fail(all_triples, std::uint64_t(threads) * 2 * std::uint64_t(triple_size), what,
                       "per-thread three-way count tables");
#pragma omp parallel for schedule(static) num_threads(threads)
        for (index_t cg = 0; cg < col_groups; ++cg) {
            const index_t j_first = cg * kColsPerItem;
            const index_t cols_here = std::min(kColsPerItem, b_count - j_first);
            const std::uint8_t* y[kColsPerItem];
            for (index_t c = 0; c < kColsPerItem; ++c)
                y[c] = b.codes + (b_begin + j_first + std::min(c, cols_here - 1)) * samples;
            std::uint32_t* p = pair_codes.data() + cg * samples;
            for (index_t t = 0; t < samples; ++t)
                p[t] = std::uint32_t(y[0][t] * bins + y[1][t]) | std::uint32_t(y[2][t] * bins + y[3][t]) << 16;
        }
    }
    // Each block of b whose units lie mostly in their modes gets its
    // per-sample lists (count_block_pairs); the others are counted by
    // count_1x4_listed. About 2 bytes per listed code (plus the padding) and
    // 4 per sample and block: less than the float32 MI sample (4 bytes per
    // code) freed before the counting.
    const index_t blocks = (b_count + pair_block - 1) / pair_block;
    std::vector<BlockLists> lists(static_cast<size_t>(blocks));
    const double pairs_max = pairs_max_fraction();
    if (may_list && pairs_fit && double(samples) * double(pair_block) < 4294967296.0 &&
        pairs_max > 0.0) {
        ParallelGuard build;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
        for (index_t blk = 0; blk < blocks; ++blk) build.run([&] {
            const index_t j_first = blk * pair_block, cols = std::min(pair_block, b_count - j_first);
            double outside = 0.0;
            for (index_t c = 0; c < cols; ++c) outside += double(b_listed[size_t(j_first + c)]);
            if (outside > pairs_max * double(samples) * double(cols)) return;
            BlockLists& l = lists[size_t(blk)];
            resize_or_fail(l.start, std::uint64_t(samples) + 1, what, "per-sample unit lists");
            std::fill(l.start.begin(), l.start.end(), 0u);
            for (index_t c = 0; c < cols; ++c) {
                const std::uint8_t* codes = b.codes + (b_begin + j_first + c) * samples;
                const int mode = b_mode[size_t(j_first + c)];
                for (index_t s = 0; s < samples; ++s) l.start[size_t(s) + 1] += codes[s] != mode;
            }
            for (index_t s = 0; s < samples; ++s)
                l.start[size_t(s) + 1] = l.start[size_t(s)] + (l.start[size_t(s) + 1] + 3) / 4 * 4;
            // Padding entries count into the spare table after the block's.
            resize_or_fail(l.entries, std::uint64_t(l.start.back()), what, "per-sample unit lists");
            std::fill(l.entries.begin(), l.entries.end(), std::uint16_t(cols * table_size));
            std::vector<std::uint32_t> fill(l.start.begin(), l.start.end() - 1);
            for (index_t c = 0; c < cols; ++c) {
                const std::uint8_t* codes = b.codes + (b_begin + j_first + c) * samples;
                const int mode = b_mode[size_t(j_first + c)];
                const std::uint16_t base = std::uint16_t(c * table_size);
                for (index_t s = 0; s < samples; ++s)
                    if (codes[s] != mode) l.entries[fill[size_t(s)]++] = std::uint16_t(base + codes[s]);
            }
        });
        build.rethrow(what);
    }
    ParallelGuard guard;
    const index_t groups = (a_count + a_group - 1) / a_group;
#pragma omp parallel num_threads(threads)
    {
        const int thread = omp_get_thread_num();
        std::uint16_t* const xoff = all_xoff.data() + index_t(thread) * xoff_size;
        std::uint32_t* const idx = all_idx.data() + index_t(thread) * xoff_size;
        std::int32_t* const tables = all_tables.data() + index_t(thread) * tables_size;
        std::uint16_t* const small = all_small.data() + index_t(thread) * tables_size;
        std::uint32_t* const entries = triples ? all_entries.data() + index_t(thread) * xoff_size : nullptr;
        index_t* const seg_end = triples ? all_seg_end.data() + index_t(thread) * a_group * segments : nullptr;
        std::uint16_t* const triple_tables = triples ? all_triples.data() + index_t(thread) * 2 * triple_size : nullptr;
        // Groups of units of a are spread over threads; each thread streams
        // all b units past its group.
#pragma omp for schedule(dynamic, 1)
        for (index_t g = 0; g < groups; ++g) guard.run([&] {
            const index_t g_first = g * a_group, g_units = std::min(a_group, a_count - g_first);
            // The listed units of the group: their samples outside the mode
            // (and those samples' code offsets), listed once.
            index_t members[kMaxGroupUnits], lengths[kMaxGroupUnits], dense[kMaxGroupUnits];
            index_t n_listed = 0, n_dense = 0;
            for (index_t r = 0; r < g_units; ++r) {
                const index_t i = g_first + r;
                if (!(may_list && double(a_listed[size_t(i)]) <= listed_max * double(samples))) {
                    dense[n_dense++] = i;
                    continue;
                }
                const std::uint8_t* codes = a.codes + (a_begin + i) * samples;
                const int mode = a_mode[size_t(i)];
                std::uint32_t* list = idx + n_listed * samples;
                std::uint16_t* off = xoff + n_listed * samples;
                index_t k = 0;
                for (index_t s = 0; s < samples; ++s) {
                    list[k] = std::uint32_t(s);
                    off[k] = std::uint16_t(codes[s] * bins);
                    k += codes[s] != mode;
                }
                if (triples) {
                    std::uint32_t* ent = entries + n_listed * samples;
                    for (index_t t = 0; t < k; ++t)
                        ent[t] = std::uint32_t(off[t]) * std::uint32_t(bins) << 16 | (list[t] & 0xFFFFu);
                    index_t* ends = seg_end + n_listed * segments;
                    for (index_t g = 0, t = 0; g < segments; ++g) {
                        const std::uint32_t limit = std::uint32_t(std::min(samples, (g + 1) << 16) - 1);
                        while (t < k && list[t] <= limit) ++t;
                        ends[g] = t;
                    }
                }
                members[n_listed] = i;
                lengths[n_listed++] = k;
            }
            // Block by block of b, every listed unit of the group (the
            // block's lists are read while in cache).
            const index_t blk_first =
                n_listed > 0 && upper_only ? std::max<index_t>(0, a_begin + members[0] - b_begin) / pair_block : 0;
            for (index_t blk = n_listed > 0 ? blk_first : blocks; blk < blocks; ++blk) {
                const index_t b_first = blk * pair_block, b_cols = std::min(pair_block, b_count - b_first);
                const BlockLists& l = lists[size_t(blk)];
                for (index_t m = 0; m < n_listed; ++m) {
                    const index_t i = members[m], k = lengths[m];
                    const int mode = a_mode[size_t(i)];
                    const std::uint32_t* list = idx + m * samples;
                    const std::uint16_t* off = xoff + m * samples;
                    const index_t j_min = upper_only ? std::max<index_t>(0, a_begin + i - b_begin) : 0;
                    if (b_first + b_cols <= j_min) continue;
                    if (l.start.empty()) {
                        // count_1x4_listed over the block's groups of 4 units.
                        for (index_t cg = std::max(b_first, j_min) / kColsPerItem; cg * kColsPerItem < b_first + b_cols;
                             ++cg) {
                            const index_t j_first = cg * kColsPerItem;
                            const index_t cols_here = std::min(kColsPerItem, b_count - j_first);
                            const std::uint8_t* yptr[kColsPerItem];
                            for (index_t c = 0; c < kColsPerItem; ++c)
                                yptr[c] = b.codes + (b_begin + j_first + std::min(c, cols_here - 1)) * samples;
                            std::fill(tables, tables + kColsPerItem * table_size, 0);
                            std::int32_t* tptr[kColsPerItem];
                            for (index_t t = 0; t < kColsPerItem; ++t) tptr[t] = tables + t * table_size;
                            if (triples && triples_pay(k, bins)) {
                                count_1x2x2_listed(entries + m * samples, k, seg_end + m * segments,
                                                   pair_codes.data() + cg * samples, triple_size, triple_tables,
                                                   triple_tables + triple_size, int(bins), tptr);
                            } else {
                                count_1x4_listed(list, off, k, yptr, tptr);
                            }
                            for (index_t c = 0; c < cols_here; ++c) {
                                complete_mode_row(tptr[c], int(bins), mode, b_marginal.data() + (j_first + c) * bins);
                                visit(i, j_first + c, tptr[c]);
                            }
                        }
                        continue;
                    }
                    count_block_pairs(list, off, k, l, small, (b_cols + 1) * table_size, tables);
                    for (index_t c = 0; c < b_cols; ++c) {
                        std::int32_t* t = tables + c * table_size;
                        complete_mode_column(t, int(bins), b_mode[size_t(b_first + c)], mode, a_marginal.data() + i * bins);
                        complete_mode_row(t, int(bins), mode, b_marginal.data() + (b_first + c) * bins);
                        visit(i, b_first + c, t);
                    }
                }
            }
            // The other units, two at a time, over every sample (count_2x4).
            for (index_t d = 0; d < n_dense; d += kRowsPerItem) {
                const index_t rows_here = std::min(kRowsPerItem, n_dense - d);
                const std::uint16_t* xptr[kRowsPerItem];
                for (index_t r = 0; r < kRowsPerItem; ++r) {
                    // A missing row repeats the last real one; its tables are ignored.
                    const index_t i = dense[d + std::min(r, rows_here - 1)];
                    const std::uint8_t* codes = a.codes + (a_begin + i) * samples;
                    std::uint16_t* off = xoff + r * samples;
                    for (index_t s = 0; s < samples; ++s) off[s] = std::uint16_t(codes[s] * bins);
                    xptr[r] = off;
                }
                // Global column index b_begin + j >= global row a_begin + i.
                const index_t cg_first =
                    upper_only ? std::max<index_t>(0, a_begin + dense[d] - b_begin) / kColsPerItem : 0;
                for (index_t cg = cg_first; cg < col_groups; ++cg) {
                    const index_t j_first = cg * kColsPerItem;
                    const index_t cols_here = std::min(kColsPerItem, b_count - j_first);
                    const std::uint8_t* yptr[kColsPerItem];
                    for (index_t c = 0; c < kColsPerItem; ++c) {
                        const index_t j = j_first + std::min(c, cols_here - 1);
                        yptr[c] = b.codes + (b_begin + j) * samples;
                    }
                    std::fill(tables, tables + kRowsPerItem * kColsPerItem * table_size, 0);
                    std::int32_t* tptr[kRowsPerItem * kColsPerItem];
                    for (index_t t = 0; t < kRowsPerItem * kColsPerItem; ++t) tptr[t] = tables + t * table_size;
                    count_2x4(xptr, yptr, samples, tptr);
                    for (index_t r = 0; r < rows_here; ++r)
                        for (index_t c = 0; c < cols_here; ++c)
                            visit(dense[d + r], j_first + c, tptr[r * kColsPerItem + c]);
                }
            }
        });
    }
    guard.rethrow(what);
}

void check_pair(const BinCodesView& a, const BinCodesView& b, const char* op) {
    check_bin_codes(a, (std::string(op) + ": a").c_str());
    check_bin_codes(b, (std::string(op) + ": b").c_str());
    CVG_REQUIRE(a.samples == b.samples, InvalidArgument,
                std::string(op) + ": a and b have different sample counts (" +
                    std::to_string(a.samples) + " vs " + std::to_string(b.samples) + ")");
    CVG_REQUIRE(a.bins == b.bins, InvalidArgument,
                std::string(op) + ": a and b have different bin counts (" +
                    std::to_string(a.bins) + " vs " + std::to_string(b.bins) + ")");
}

// c log c for c in [0, samples]; a table for the usual sizes (footnote 6:
// 60,000 samples -> 469 KiB), std::log beyond.
class NLogN {
public:
    explicit NLogN(index_t samples) {
        if (samples <= (index_t(1) << 21)) {
            table_.resize(size_t(samples + 1));
            table_[0] = 0.0;
#pragma omp parallel for schedule(static)
            for (index_t c = 1; c <= samples; ++c) table_[size_t(c)] = double(c) * std::log(double(c));
        }
    }
    double operator()(std::int64_t c) const {
        if (!table_.empty()) return table_[size_t(c)];
        return c > 0 ? double(c) * std::log(double(c)) : 0.0;
    }
    // sum over the cells of a bins x bins table of c log c. Each row is
    // one chain of additions in cell order (four rows at a time, so the
    // chains overlap), then the row sums are added in row order. A unit
    // independent of the other by construction (e.g. all in one bin) so
    // gets exactly 0: with one non-zero row, that row's chain is
    // marginal_terms' sum over the other unit's bins, in the same order;
    // with one non-zero column, each row sum is its one term, added in
    // marginal_terms' order. With the table: no branch on empty cells
    // (table[0] = 0).
    double sum(const std::int32_t* cells, int bins) const {
        double rows[256];
        int x = 0;
        if (!table_.empty()) {
            const double* lut = table_.data();
            for (; x + 4 <= bins; x += 4) {
                const std::int32_t* c = cells + x * bins;
                double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
                for (int y = 0; y < bins; ++y) {
                    s0 += lut[c[y]];
                    s1 += lut[c[bins + y]];
                    s2 += lut[c[2 * bins + y]];
                    s3 += lut[c[3 * bins + y]];
                }
                rows[x] = s0;
                rows[x + 1] = s1;
                rows[x + 2] = s2;
                rows[x + 3] = s3;
            }
        }
        for (; x < bins; ++x) {
            double r = 0.0;
            for (int y = 0; y < bins; ++y) r += (*this)(cells[x * bins + y]);
            rows[x] = r;
        }
        double total = 0.0;
        for (x = 0; x < bins; ++x) total += rows[x];
        return total;
    }

private:
    std::vector<double> table_;
};

// sum_x c_x log c_x of each unit's marginal histogram (bin order).
std::vector<double> marginal_terms(const BinCodesView& v, const NLogN& nlogn) {
    std::vector<double> out(size_t(v.units));
#pragma omp parallel for schedule(static)
    for (index_t u = 0; u < v.units; ++u) {
        std::int32_t hist[256];  // samples < 2^31 (check_bin_codes)
        histogram_codes(v.codes + u * v.samples, v.samples, hist);
        double h = 0.0;
        for (int x = 0; x < v.bins; ++x) h += nlogn(hist[x]);
        out[size_t(u)] = h;
    }
    return out;
}

}  // namespace

std::vector<std::int32_t> joint_histogram_counts(const BinCodesView& a, index_t a_begin,
                                                 index_t a_count, const BinCodesView& b,
                                                 index_t b_begin, index_t b_count) {
    check_pair(a, b, "joint_histogram_counts");
    CVG_REQUIRE(a_begin >= 0 && a_count >= 0 && a_begin + a_count <= a.units && b_begin >= 0 &&
                    b_count >= 0 && b_begin + b_count <= b.units,
                InvalidArgument, "joint_histogram_counts: unit range out of bounds");
    const index_t table_size = index_t(a.bins) * a.bins;
    std::vector<std::int32_t> counts(size_t(a_count * b_count * table_size));
    for_each_joint_table(a, a_begin, a_count, b, b_begin, b_count, false,
                         [&](index_t i, index_t j, const std::int32_t* table) {
                             std::memcpy(counts.data() + (i * b_count + j) * table_size, table,
                                         sizeof(std::int32_t) * size_t(table_size));
                         });
    return counts;
}

void CpuBackend::mutual_information(const BinCodesView& a, const BinCodesView& b,
                                    double* mi) const {
    check_pair(a, b, "mutual_information");
    CVG_REQUIRE(mi != nullptr || a.units * b.units == 0, InvalidArgument,
                "mutual_information: mi is NULL");
    if (a.units == 0 || b.units == 0) return;
    const index_t n = a.samples;
    const int bins = a.bins;
    const NLogN nlogn(n);
    const bool same = a.codes == b.codes && a.units == b.units;
    const std::vector<double> hx = marginal_terms(a, nlogn);
    const std::vector<double> hy = same ? hx : marginal_terms(b, nlogn);
    const double n_log_n = nlogn(n);
    const index_t b_units = b.units;
    // Sec. 3.2 plug-in MI, epilogue on the exact table:
    // (sum c_xy log c_xy - sum c_x log c_x - sum c_y log c_y + n log n) / n.
    for_each_joint_table(a, 0, a.units, b, 0, b.units, same,
                         [&](index_t i, index_t j, const std::int32_t* table) {
                             const double joint = nlogn.sum(table, bins);
                             const double value =
                                 (joint - hx[size_t(i)] - hy[size_t(j)] + n_log_n) / double(n);
                             mi[i * b_units + j] = value > 0.0 ? value : 0.0;
                         });
    if (same) {
        // Within-net: only i <= j was counted for sure; the matrix is symmetric.
        for (index_t i = 0; i < a.units; ++i)
            for (index_t j = 0; j < i; ++j) mi[i * b_units + j] = mi[j * b_units + i];
    }
}

}  // namespace convergent
