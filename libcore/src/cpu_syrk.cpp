// The CPU product kernel of the statistics pass (see cpu_syrk.hpp).
//
// Blocking, a group of blocks of kBlockRows rows at a time (about
// kGroupBytes of packed panels):
// - pack: every unit's values of the block, shifted, as float64 panels of
//   8 units, row-major within the panel (8 doubles per row), followed by
//   two zero panels. Float32 rows are converted on the way; channels-first
//   images are transposed 8 positions x 8 units at a time in registers.
//   The per-unit sums are added block by block.
// - multiply: tiles of the upper triangle, 8 rows of m (one panel,
//   broadcast) by 24 columns (three panels, three zmm registers): 24 zmm
//   accumulators over the block's rows, then added into m. A tile on the
//   diagonal writes only its entries on or above it.
// The broadcast panel (16 KiB) stays in L1 and the streamed ones in L2.
// Threads claim items (a panel to pack, a tile to multiply over the
// group's blocks) from shared counters, and a step starts when the
// previous one is done; a thread that is late or descheduled only does
// fewer items. Every sum and every entry of m gets its terms in the same
// order whoever runs an item: the result does not depend on the threads.

#include "cpu_syrk.hpp"

#include "worker_team.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <thread>

#if defined(__x86_64__) && defined(__GNUC__)
#define CONVERGENT_SYRK_KERNEL 1
#include <immintrin.h>
#endif
#include <omp.h>

namespace convergent {
namespace cpu_syrk {

#if CONVERGENT_SYRK_KERNEL
namespace {

constexpr index_t kBlockRows = 256;
constexpr index_t kPanel = 8;
constexpr index_t kTilePanels = 3;  // columns per tile: 3 panels of 8

// Below this many multiply-adds per chunk (rows x n^2 / 2) one thread runs
// it: waking the team costs tens of microseconds.
constexpr double kTeamMinimumWork = double(1 << 22);
// Blocks of rows are packed together up to about this many bytes of panels.
constexpr index_t kGroupBytes = index_t(512) << 10;
constexpr index_t kWideUnits = 1024, kWideGroupBlocks = 4;

// ---------------------------------------------------------------- threads

// Waits until *done reaches total: spins, then yields, so a member that
// the machine descheduled mid-item does not starve the others.
void wait_for(const std::atomic<index_t>& done, index_t total) {
    for (unsigned spins = 0; done.load(std::memory_order_acquire) < total; ++spins) {
        if (spins < 4096)
            _mm_pause();
        else
            std::this_thread::yield();
    }
}

// A step of the job: items [0, total) claimed one batch at a time by any
// member; the next step starts once all are done.
struct Step {
    std::atomic<index_t> next{0}, done{0};
    index_t total = 0, batch = 1;
};

// ---------------------------------------------------------------- packing

// Where each unit of a panel comes from.
struct Column {
    const Source* source = nullptr;
    index_t local = 0;  // column within the source
    double shift = 0, offset = 0;
};

struct Panel {
    Column column[kPanel];
    int width = 0;                    // real units (the rest are zero)
    const Source* whole = nullptr;    // all 8 units from this source, consecutive
    alignas(64) double shift[kPanel] = {};
    alignas(64) double offset[kPanel] = {};
};

double value_at(const Column& c, index_t row) {
    const Source& s = *c.source;
    switch (s.kind) {
        case Source::Kind::Rows32:
            return (double(static_cast<const float*>(s.x)[row * s.ld + c.local]) - c.shift) - c.offset;
        case Source::Kind::ChannelsFirst32: {
            const index_t image = row / s.positions, position = row % s.positions;
            const float* x = static_cast<const float*>(s.x);
            return (double(x[image * s.ld + c.local * s.positions + position]) - c.shift) - c.offset;
        }
        case Source::Kind::Rows64:
            return static_cast<const double*>(s.x)[row * s.ld + c.local] - c.offset;
    }
    return 0;
}

// Row k of a panel from 8 float32 values; its values added to total.
__attribute__((target("avx512f"))) inline void put_row(double* out, index_t k, __m256 values, __m512d shift,
                                                      __m512d offset, __m512d& total) {
    const __m512d v = _mm512_sub_pd(_mm512_sub_pd(_mm512_maskz_cvtps_pd(0xff, values), shift), offset);
    _mm512_store_pd(out + k * kPanel, v);
    total = _mm512_add_pd(total, v);
}

// Rows [r0, r0 + rows) of one panel into out (rows x 8), their sums added to sums[0..8).
__attribute__((target("avx512f,avx2"))) void pack_panel(const Panel& p, index_t r0, index_t rows, double* out,
                                                         double* sums) {
    __m512d total = _mm512_setzero_pd();
    const __m512d shift = _mm512_load_pd(p.shift), offset = _mm512_load_pd(p.offset);
    if (p.whole != nullptr) {
        const Source& s = *p.whole;
        const index_t local = p.column[0].local;
        if (s.kind == Source::Kind::Rows32) {
            const float* x = static_cast<const float*>(s.x) + r0 * s.ld + local;
            for (index_t k = 0; k < rows; ++k, x += s.ld) {
                const __m512d v = _mm512_sub_pd(_mm512_sub_pd(_mm512_maskz_cvtps_pd(0xff, _mm256_loadu_ps(x)), shift), offset);
                _mm512_store_pd(out + k * kPanel, v);
                total = _mm512_add_pd(total, v);
            }
        } else if (s.kind == Source::Kind::Rows64) {
            const double* x = static_cast<const double*>(s.x) + r0 * s.ld + local;
            for (index_t k = 0; k < rows; ++k, x += s.ld) {
                const __m512d v = _mm512_sub_pd(_mm512_loadu_pd(x), offset);
                _mm512_store_pd(out + k * kPanel, v);
                total = _mm512_add_pd(total, v);
            }
        } else {
            // Channels-first: the panel's 8 units of one position are
            // positions apart; one gather per row.
            const index_t positions = s.positions;
            const __m256i step = _mm256_mullo_epi32(_mm256_set1_epi32(int(positions)),
                                                    _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
            index_t image = r0 / positions, position = r0 % positions;
            const float* base = static_cast<const float*>(s.x) + local * positions;
            for (index_t k = 0; k < rows;) {
                const float* x = base + image * s.ld + position;
                if (position + 8 <= positions && k + 8 <= rows) {
                    // 8 positions of the 8 units: an 8 x 8 transpose in registers.
                    const __m256 r0 = _mm256_loadu_ps(x), r1 = _mm256_loadu_ps(x + positions),
                                 r2 = _mm256_loadu_ps(x + 2 * positions), r3 = _mm256_loadu_ps(x + 3 * positions),
                                 r4 = _mm256_loadu_ps(x + 4 * positions), r5 = _mm256_loadu_ps(x + 5 * positions),
                                 r6 = _mm256_loadu_ps(x + 6 * positions), r7 = _mm256_loadu_ps(x + 7 * positions);
                    const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1),
                                 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3),
                                 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5),
                                 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
                    const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xee),
                                 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xee),
                                 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xee),
                                 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xee);
                    put_row(out, k + 0, _mm256_permute2f128_ps(u0, u4, 0x20), shift, offset, total);
                    put_row(out, k + 1, _mm256_permute2f128_ps(u1, u5, 0x20), shift, offset, total);
                    put_row(out, k + 2, _mm256_permute2f128_ps(u2, u6, 0x20), shift, offset, total);
                    put_row(out, k + 3, _mm256_permute2f128_ps(u3, u7, 0x20), shift, offset, total);
                    put_row(out, k + 4, _mm256_permute2f128_ps(u0, u4, 0x31), shift, offset, total);
                    put_row(out, k + 5, _mm256_permute2f128_ps(u1, u5, 0x31), shift, offset, total);
                    put_row(out, k + 6, _mm256_permute2f128_ps(u2, u6, 0x31), shift, offset, total);
                    put_row(out, k + 7, _mm256_permute2f128_ps(u3, u7, 0x31), shift, offset, total);
                    k += 8;
                    position += 8;
                } else {
                    put_row(out, k, _mm256_i32gather_ps(x, step, 4), shift, offset, total);
                    ++k;
                    ++position;
                }
                if (position == positions) {
                    position = 0;
                    ++image;
                }
            }
        }
    } else {
        // A panel across two sources, or the last, partial one: one value at a time.
        alignas(64) double row[kPanel] = {};
        for (index_t k = 0; k < rows; ++k) {
            for (int c = 0; c < p.width; ++c) row[c] = value_at(p.column[c], r0 + k);
            const __m512d v = _mm512_load_pd(row);
            _mm512_store_pd(out + k * kPanel, v);
            total = _mm512_add_pd(total, v);
        }
    }
    _mm512_storeu_pd(sums, _mm512_add_pd(_mm512_loadu_pd(sums), total));
}

// ---------------------------------------------------------------- multiply

// m rows [8 pr, 8 pr + 8) x columns [8 pc, 8 pc + 24) += the products of
// the group's rows (blocks of kBlockRows, block_stride apart, `rows` in
// all; panel pr broadcast, panels pc..pc+2 streamed), summed in registers
// across the blocks and added to m once; on the diagonal (pr == pc) only
// entries with column >= row are written.
__attribute__((target("avx512f"))) void tile(const double* packed, index_t block_stride, index_t rows, index_t pr,
                                             index_t pc, double* m, index_t n) {
    const index_t stride = kBlockRows * kPanel;
    __m512d acc[kPanel][kTilePanels];
    for (int c = 0; c < kPanel; ++c)
        for (int t = 0; t < kTilePanels; ++t) acc[c][t] = _mm512_setzero_pd();
    for (index_t r0 = 0; r0 < rows; r0 += kBlockRows, packed += block_stride) {
        const index_t block_rows = std::min(kBlockRows, rows - r0);
        const double* a0 = packed + pc * stride;
        const double* a1 = a0 + stride;
        const double* a2 = a1 + stride;
        const double* b = packed + pr * stride;
        for (index_t k = 0; k < block_rows; ++k) {
            const __m512d x0 = _mm512_load_pd(a0 + k * kPanel);
            const __m512d x1 = _mm512_load_pd(a1 + k * kPanel);
            const __m512d x2 = _mm512_load_pd(a2 + k * kPanel);
            const double* bk = b + k * kPanel;
            for (int c = 0; c < kPanel; ++c) {
                const __m512d y = _mm512_set1_pd(bk[c]);
                acc[c][0] = _mm512_fmadd_pd(x0, y, acc[c][0]);
                acc[c][1] = _mm512_fmadd_pd(x1, y, acc[c][1]);
                acc[c][2] = _mm512_fmadd_pd(x2, y, acc[c][2]);
            }
        }
    }
    const index_t row0 = pr * kPanel, column0 = pc * kPanel;
    for (int c = 0; c < kPanel && row0 + c < n; ++c) {
        double* out = m + (row0 + c) * n;
        for (int t = 0; t < kTilePanels; ++t) {
            const index_t first = column0 + t * kPanel;
            if (first >= n) break;
            unsigned mask = first + kPanel <= n ? 0xffu : (1u << (n - first)) - 1u;
            // On the diagonal: only columns >= the row (row0 + c).
            if (first < row0 + c) mask &= first + kPanel <= row0 + c ? 0u : ~((1u << (row0 + c - first)) - 1u);
            if (mask == 0) continue;
            const __mmask8 k8 = __mmask8(mask);
            _mm512_mask_storeu_pd(out + first, k8, _mm512_add_pd(_mm512_maskz_loadu_pd(k8, out + first), acc[c][t]));
        }
    }
}

// A tile: broadcast panel pr, streamed panels from pc.
struct Tile {
    index_t pr, pc;
};

bool cpu_has_kernel() {
    if (const char* e = std::getenv("CONVERGENT_SYRK"))  // 0: always BLAS dsyrk (comparisons, tests)
        if (std::strcmp(e, "0") == 0) return false;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
}

}  // namespace

bool supported() {
    static const bool yes = cpu_has_kernel();
    return yes;
}

void add_products(const std::vector<Source>& sources, index_t rows, index_t n, const double* offset, double* m,
                  double* sums) {
    CVG_REQUIRE(supported() && n > 0 && n <= kMaxWidth, InvalidArgument,
                "cpu_syrk::add_products: not available for " + std::to_string(n) + " units");
    std::fill(sums, sums + n, 0.0);
    if (rows == 0) return;
    const index_t panels = (n + kPanel - 1) / kPanel;
    std::vector<Panel> plan(static_cast<size_t>(panels));
    std::vector<char> covered(size_t(n), 0);
    for (const Source& s : sources)
        for (index_t c = 0; c < s.columns; ++c) {
            const index_t j = s.first_column + c;
            CVG_REQUIRE(j >= 0 && j < n && !covered[size_t(j)], InvalidArgument,
                        "cpu_syrk::add_products: the sources do not cover the columns once");
            covered[size_t(j)] = 1;
            Panel& p = plan[size_t(j / kPanel)];
            Column& col = p.column[j % kPanel];
            col.source = &s;
            col.local = c;
            col.shift = s.kind == Source::Kind::Rows64 ? 0.0 : s.shift[c];
            col.offset = offset[j];
            p.shift[j % kPanel] = col.shift;
            p.offset[j % kPanel] = col.offset;
        }
    CVG_REQUIRE(std::count(covered.begin(), covered.end(), 1) == n, InvalidArgument,
                "cpu_syrk::add_products: the sources do not cover every column");
    for (index_t q = 0; q < panels; ++q) {
        Panel& p = plan[size_t(q)];
        p.width = int(std::min(kPanel, n - q * kPanel));
        bool whole = p.width == kPanel;
        for (int c = 1; c < kPanel && whole; ++c)
            whole = p.column[c].source == p.column[0].source && p.column[c].local == p.column[0].local + c;
        p.whole = whole ? p.column[0].source : nullptr;
    }

    // Groups of blocks of rows, packed at once (about kGroupBytes of
    // panels: few synchronisations per chunk for narrow layers). Block b
    // of a group: every panel, then two zero panels (the streamed columns
    // past the last in the last tiles). One buffer per calling thread, kept.
    const index_t block_panels = panels + kTilePanels - 1;
    const index_t block_stride = block_panels * kBlockRows * kPanel;
    // Wide layers: at least kWideGroupBlocks blocks, so that m (T^2 doubles,
    // far beyond the caches) is read and written once per group, not per block.
    const index_t group_blocks = std::max<index_t>(
        1, std::min<index_t>(std::max<index_t>(kGroupBytes / index_t(sizeof(double) * block_stride),
                                               n >= kWideUnits ? kWideGroupBlocks : 1),
                             (rows + kBlockRows - 1) / kBlockRows));
    // Uninitialised, and small (512 KiB; 4 blocks, e.g. 17 MiB at 2,048
    // units, for wide layers): every page is zeroed by the kernel on its
    // first touch (and on a virtual machine backed by the host then too).
    struct Uninitialised {
        double value;
        Uninitialised() {}
    };
    thread_local std::vector<Uninitialised> packed_storage;
    const size_t packed_size = size_t(group_blocks * block_stride) + 8;
    if (packed_storage.size() < packed_size) packed_storage.resize(packed_size);
    double* packed = &packed_storage.data()->value;
    packed += (8 - (reinterpret_cast<std::uintptr_t>(packed) / sizeof(double)) % 8) % 8;  // 64-byte aligned
    for (index_t b = 0; b < group_blocks; ++b)
        std::fill(packed + b * block_stride + panels * kBlockRows * kPanel, packed + (b + 1) * block_stride, 0.0);

    std::vector<Tile> tiles;
    for (index_t pr = 0; pr < panels; ++pr)
        for (index_t pc = pr; pc < panels; pc += kTilePanels) tiles.push_back({pr, pc});
    // Sums of each panel, padded to 8 (the last panel's extra entries unused).
    std::vector<double> panel_sums(size_t(panels * kPanel), 0.0);

    // Two steps per group: pack (an item: one panel, every block of the
    // group, its sums block by block) and multiply (an item: one tile, the
    // group's blocks in order). Whoever runs an item, every sum and every
    // entry of m gets its terms in the same order.
    const index_t group_rows = group_blocks * kBlockRows;
    const index_t groups = (rows + group_rows - 1) / group_rows;
    const double work = double(rows) * double(n) * double(n) / 2;
    const int members = work >= kTeamMinimumWork ? std::max(1, omp_get_max_threads()) : 1;
    std::vector<Step> steps(size_t(2 * groups));
    for (index_t g = 0; g < groups; ++g) {
        steps[size_t(2 * g)].total = panels;
        steps[size_t(2 * g + 1)].total = index_t(tiles.size());
        steps[size_t(2 * g + 1)].batch = std::max<index_t>(1, index_t(tiles.size()) / (8 * index_t(members)));
    }
    const auto job = [&]() {
        for (index_t g = 0; g < groups; ++g) {
            const index_t r0 = g * group_rows, count = std::min(group_rows, rows - r0);
            const index_t blocks = (count + kBlockRows - 1) / kBlockRows;
            for (int phase = 0; phase < 2; ++phase) {
                Step& step = steps[size_t(2 * g + phase)];
                for (;;) {
                    const index_t first = step.next.fetch_add(step.batch, std::memory_order_relaxed);
                    if (first >= step.total) break;
                    const index_t last = std::min(step.total, first + step.batch);
                    for (index_t i = first; i < last; ++i) {
                        if (phase == 0) {
                            for (index_t b = 0; b < blocks; ++b) {
                                const index_t k0 = r0 + b * kBlockRows;
                                pack_panel(plan[size_t(i)], k0, std::min(kBlockRows, rows - k0),
                                           packed + b * block_stride + i * kBlockRows * kPanel,
                                           panel_sums.data() + i * kPanel);
                            }
                        } else {
                            tile(packed, block_stride, count, tiles[size_t(i)].pr, tiles[size_t(i)].pc, m, n);
                        }
                    }
                    step.done.fetch_add(last - first, std::memory_order_acq_rel);
                }
                wait_for(step.done, step.total);
            }
        }
    };
    worker_team::run(members - 1, job);
    std::copy(panel_sums.begin(), panel_sums.begin() + n, sums);
}

#else  // not x86-64: the pass keeps BLAS dsyrk

bool supported() { return false; }

void add_products(const std::vector<Source>&, index_t, index_t, const double*, double*, double*) {
    fail(ErrorCode::Unsupported, "cpu_syrk::add_products: not built for this CPU");
}

#endif

}  // namespace cpu_syrk
}  // namespace convergent
