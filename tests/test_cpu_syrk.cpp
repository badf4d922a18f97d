// The in-place product kernel of the statistics pass (libcore/src/cpu_syrk):
// against a long double reference for every source kind, widths around the
// 8-unit panels and 24-unit tiles, blocks of rows around its 256, panels
// shared by two sources; nothing below the diagonal written; the same bits
// whatever the thread count; and MomentAccumulator::add_columns against
// add_block, bit for bit, with and without re-centring. Skipped where the
// CPU lacks the kernel (AVX-512): the pass then uses BLAS dsyrk, which
// ctest's statistics_dsyrk runs everywhere (CONVERGENT_SYRK=0).
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <stdexcept>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <omp.h>

#include "convergent/backend.hpp"
#include "convergent/statistics.hpp"
#include "cpu_syrk.hpp"
#include "worker_team.hpp"

namespace {

using convergent::index_t;
namespace syrk = convergent::cpu_syrk;
using Kind = syrk::Source::Kind;

// One source's values, stored in its layout, and its logical rows x columns.
struct Stored {
    Kind kind;
    index_t columns, positions;
    std::vector<float> f32;
    std::vector<double> f64;
    std::vector<double> shift;
    index_t ld;
};

Stored make_source(Kind kind, index_t rows, index_t columns, index_t positions, std::mt19937& rng) {
    Stored s{kind, columns, positions, {}, {}, {}, 0};
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::uniform_real_distribution<double> offset(-3.0, 3.0);
    for (index_t c = 0; c < columns; ++c) s.shift.push_back(offset(rng));
    if (kind == Kind::Rows64) {
        s.ld = columns + 3;  // a leading dimension wider than the columns
        s.f64.assign(size_t(rows * s.ld), -7.0);
        for (index_t r = 0; r < rows; ++r)
            for (index_t c = 0; c < columns; ++c) s.f64[size_t(r * s.ld + c)] = double(normal(rng)) * (1 + c % 5);
    } else if (kind == Kind::Rows32) {
        s.ld = columns + 1;
        s.f32.assign(size_t(rows * s.ld), -7.0f);
        for (index_t r = 0; r < rows; ++r)
            for (index_t c = 0; c < columns; ++c)
                s.f32[size_t(r * s.ld + c)] = std::max(0.0f, normal(rng) + 0.3f * float(c % 7));
    } else {
        const index_t images = rows / positions;
        s.ld = columns * positions + 2;
        s.f32.assign(size_t(images * s.ld), -7.0f);
        for (index_t i = 0; i < images; ++i)
            for (index_t c = 0; c < columns; ++c)
                for (index_t p = 0; p < positions; ++p)
                    s.f32[size_t(i * s.ld + c * positions + p)] = normal(rng) + 0.5f * float(c % 3);
    }
    return s;
}

double logical(const Stored& s, index_t r, index_t c) {
    switch (s.kind) {
        case Kind::Rows64:
            return s.f64[size_t(r * s.ld + c)];
        case Kind::Rows32:
            return double(s.f32[size_t(r * s.ld + c)]) - s.shift[size_t(c)];
        case Kind::ChannelsFirst32:
            return double(s.f32[size_t((r / s.positions) * s.ld + c * s.positions + r % s.positions)]) -
                   s.shift[size_t(c)];
    }
    return 0;
}

struct Case {
    std::vector<Kind> kinds;
    std::vector<index_t> widths;
    index_t rows, positions;
};

std::string describe(const Case& c) {
    std::string out = "rows " + std::to_string(c.rows) + ", positions " + std::to_string(c.positions) + ", sources";
    for (size_t i = 0; i < c.kinds.size(); ++i)
        out += " " + std::to_string(int(c.kinds[i])) + ":" + std::to_string(c.widths[i]);
    return out;
}

struct Products {
    std::vector<double> m, sums;
};

Products run(const Case& cs, const std::vector<Stored>& stored, const std::vector<double>& offset, index_t n) {
    std::vector<syrk::Source> sources;
    index_t first = 0;
    for (const Stored& s : stored) {
        syrk::Source src;
        src.kind = s.kind;
        src.x = s.kind == Kind::Rows64 ? static_cast<const void*>(s.f64.data()) : s.f32.data();
        src.ld = s.ld;
        src.positions = s.positions;
        src.first_column = first;
        src.columns = s.columns;
        src.shift = s.shift.data();
        sources.push_back(src);
        first += s.columns;
    }
    Products out;
    // Below the diagonal: a sentinel that must survive.
    out.m.assign(size_t(n * n), 0.0);
    for (index_t i = 0; i < n; ++i)
        for (index_t j = 0; j < n; ++j) out.m[size_t(i * n + j)] = j >= i ? 0.25 * double((i + j) % 3) : -99.0;
    out.sums.assign(size_t(n), 123.0);
    syrk::add_products(sources, cs.rows, n, offset.data(), out.m.data(), out.sums.data());
    return out;
}

TEST(CpuSyrk, MatchesALongDoubleReferenceForEverySourceKindAndShape) {
    if (!syrk::supported()) GTEST_SKIP() << "no AVX-512 on this CPU: the statistics pass uses BLAS dsyrk";
    const std::vector<Case> cases = {
        {{Kind::Rows32}, {1}, 1, 1},
        {{Kind::Rows32}, {8}, 256, 1},
        {{Kind::Rows32}, {7}, 255, 1},
        {{Kind::Rows32}, {9}, 257, 1},
        {{Kind::Rows32}, {24}, 513, 1},
        {{Kind::Rows32}, {25}, 100, 1},
        {{Kind::Rows64}, {23}, 300, 1},
        {{Kind::ChannelsFirst32}, {16}, 7 * 49, 49},
        {{Kind::ChannelsFirst32}, {13}, 60 * 5, 5},
        {{Kind::ChannelsFirst32}, {40}, 9 * 64, 64},
        // Panels shared by two or three sources, of every kind.
        {{Kind::Rows32, Kind::Rows32}, {10, 6}, 600, 1},
        {{Kind::Rows32, Kind::Rows64, Kind::Rows32}, {3, 10, 21}, 257, 1},
        {{Kind::ChannelsFirst32, Kind::Rows64}, {12, 33}, 20 * 16, 16},
        {{Kind::Rows32, Kind::Rows32, Kind::Rows32, Kind::Rows32}, {64, 64, 64, 64}, 1100, 1},
        {{Kind::ChannelsFirst32, Kind::ChannelsFirst32}, {64, 64}, 31 * 9, 9},
        // Wide: several blocks summed in registers before m is updated (the
        // last block partial).
        {{Kind::Rows32, Kind::Rows64}, {515, 515}, 300, 1},
    };
    std::mt19937 rng(7);
    for (const Case& cs : cases) {
        std::vector<Stored> stored;
        index_t n = 0;
        for (size_t i = 0; i < cs.kinds.size(); ++i) {
            stored.push_back(make_source(cs.kinds[i], cs.rows, cs.widths[i], cs.positions, rng));
            n += cs.widths[i];
        }
        std::vector<double> offset(static_cast<size_t>(n));
        for (index_t j = 0; j < n; ++j) offset[size_t(j)] = j % 3 == 0 ? 0.0 : 0.125 * double(j % 5);
        const Products got = run(cs, stored, offset, n);

        // Reference in long double from the logical values.
        std::vector<long double> v(static_cast<size_t>(cs.rows * n));
        index_t first = 0;
        for (const Stored& s : stored) {
            for (index_t r = 0; r < cs.rows; ++r)
                for (index_t c = 0; c < s.columns; ++c)
                    v[size_t(r * n + first + c)] = (long double)(logical(s, r, c) - offset[size_t(first + c)]);
            first += s.columns;
        }
        // Row by row into long double triangles (contiguous, so wide cases stay quick).
        std::vector<long double> ref(size_t(n * n), 0.0L), scale(size_t(n * n), 0.0L);
        std::vector<long double> sum(size_t(n), 0.0L), magnitude(size_t(n), 0.0L);
        for (index_t r = 0; r < cs.rows; ++r) {
            const long double* row = v.data() + r * n;
            for (index_t i = 0; i < n; ++i) {
                sum[size_t(i)] += row[i];
                magnitude[size_t(i)] += std::fabs(row[i]);
                long double* out = ref.data() + i * n;
                long double* mag = scale.data() + i * n;
                for (index_t j = i; j < n; ++j) {
                    out[j] += row[i] * row[j];
                    mag[j] += std::fabs(row[i] * row[j]);
                }
            }
        }
        double worst = 0, worst_sum = 0;
        for (index_t i = 0; i < n; ++i) {
            worst_sum = std::max(worst_sum, double(std::fabs(sum[size_t(i)] - (long double)got.sums[size_t(i)]) /
                                                   (1.0L + magnitude[size_t(i)])));
            for (index_t j = 0; j < n; ++j) {
                const double cell = got.m[size_t(i * n + j)];
                if (j < i) {
                    ASSERT_EQ(cell, -99.0) << describe(cs) << ": wrote below the diagonal at " << i << "," << j;
                    continue;
                }
                const long double want = ref[size_t(i * n + j)] + 0.25L * (long double)((i + j) % 3);
                worst = std::max(worst, double(std::fabs(want - (long double)cell) / (1.0L + scale[size_t(i * n + j)])));
            }
        }
        EXPECT_LT(worst, 1e-14) << describe(cs);
        EXPECT_LT(worst_sum, 1e-14) << describe(cs);
    }
}

TEST(CpuSyrk, SameBitsOnOneThreadAndOnSeveral) {
    if (!syrk::supported()) GTEST_SKIP() << "no AVX-512 on this CPU";
    std::mt19937 rng(11);
    const Case cs{{Kind::Rows32, Kind::ChannelsFirst32}, {100, 156}, 4096, 4};
    std::vector<Stored> stored;
    for (size_t i = 0; i < cs.kinds.size(); ++i)
        stored.push_back(make_source(cs.kinds[i], cs.rows, cs.widths[i], cs.positions, rng));
    const index_t n = 256;
    const std::vector<double> offset(static_cast<size_t>(n), 0.5);
    const int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    const Products one = run(cs, stored, offset, n);
    omp_set_num_threads(3);
    const Products three = run(cs, stored, offset, n);
    omp_set_num_threads(threads);
    const Products again = run(cs, stored, offset, n);
    EXPECT_EQ(0, std::memcmp(one.m.data(), three.m.data(), sizeof(double) * one.m.size()));
    EXPECT_EQ(0, std::memcmp(one.m.data(), again.m.data(), sizeof(double) * one.m.size()));
    EXPECT_EQ(0, std::memcmp(one.sums.data(), three.sums.data(), sizeof(double) * one.sums.size()));
}

TEST(CpuSyrk, RefusesWhatItDoesNotCover) {
    if (!syrk::supported()) GTEST_SKIP() << "no AVX-512 on this CPU";
    std::vector<float> x(64, 1.0f);
    std::vector<double> shift(8, 0.0), offset(16, 0.0), m(256, 0.0), sums(16);
    syrk::Source s;
    s.x = x.data();
    s.ld = 8;
    s.columns = 8;
    s.shift = shift.data();
    EXPECT_THROW(syrk::add_products({s}, 8, 16, offset.data(), m.data(), sums.data()), convergent::Error);
    EXPECT_THROW(syrk::add_products({s, s}, 8, 8, offset.data(), m.data(), sums.data()), convergent::Error);
    EXPECT_THROW(syrk::add_products({s}, 8, syrk::kMaxWidth + 1, offset.data(), m.data(), sums.data()),
                 convergent::Error);
}

// add_columns (read in place at end_chunk) against add_block (packed at
// once), chunk after chunk, the first far from the running mean (0) so it
// is re-centred, a later one shifted far again.
TEST(CpuSyrk, AddColumnsEqualsAddBlockBitForBit) {
    auto backend = convergent::make_cpu_backend();
    std::mt19937 rng(5);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    const index_t a = 37, b = 64, positions = 6, images = 50, rows = images * positions;
    for (bool channels_first : {false, true}) {
        convergent::MomentAccumulator direct({a, b}), packed({a, b});
        for (int chunk = 0; chunk < 4; ++chunk) {
            const float level = chunk == 2 ? 1000.0f : 10.0f;  // chunk 2: far from the running mean
            std::vector<float> xa(size_t(rows * a)), xb(size_t(images * b * positions));
            for (float& v : xa) v = level + normal(rng);
            for (float& v : xb) v = std::max(0.0f, normal(rng)) + level;
            direct.begin_chunk(*backend, rows);
            packed.begin_chunk(*backend, rows);
            direct.add_columns(xa.data(), a, 0, a);
            packed.add_block(xa.data(), rows, a, 0, 0, a);
            if (channels_first) {
                direct.add_columns_channels_first(xb.data(), b * positions, positions, a, b);
                packed.add_block_channels_first(xb.data(), images, b * positions, positions, 0, a, b);
            } else {
                direct.add_columns(xb.data(), b, a, b);
                packed.add_block(xb.data(), rows, b, 0, a, b);
            }
            EXPECT_EQ(direct.reads_in_place(), syrk::supported());
            direct.end_chunk();
            packed.end_chunk();
        }
        EXPECT_EQ(0, std::memcmp(direct.mean().data(), packed.mean().data(), sizeof(double) * size_t(a + b)));
        EXPECT_EQ(0, std::memcmp(direct.comoment().data(), packed.comoment().data(),
                                 sizeof(double) * size_t((a + b) * (a + b))));
    }
}

// The helper threads: every part runs once whoever claims it, however
// often the team is reused; an exception in any part reaches the caller
// (parts not yet claimed are skipped), and the team works again afterwards.
TEST(WorkerTeam, EveryPartOnceAndExceptionsReachTheCaller) {
    namespace team = convergent::worker_team;
    for (int round = 0; round < 50; ++round) {
        std::vector<std::atomic<int>> runs(7);
        team::run_parts(7, [&](int part) { runs[size_t(part)].fetch_add(1); });
        for (const auto& r : runs) ASSERT_EQ(r.load(), 1) << "round " << round;
    }
    for (int thrower : {0, 1, 6}) {
        std::atomic<int> done{0};
        EXPECT_THROW(team::run_parts(7,
                                     [&](int part) {
                                         if (part == thrower) throw std::runtime_error("part failed");
                                         done.fetch_add(1);
                                     }),
                     std::runtime_error);
        EXPECT_LE(done.load(), 6);  // a thread that threw claims no more parts
    }
    std::vector<std::atomic<int>> again(3);
    team::run_parts(3, [&](int part) { again[size_t(part)].fetch_add(1); });
    for (const auto& r : again) EXPECT_EQ(r.load(), 1);
    std::atomic<int> joined{0};
    team::run(3, [&] { joined.fetch_add(1); });
    EXPECT_GE(joined.load(), 1);
    EXPECT_LE(joined.load(), 4);
}

}  // namespace
