#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "convergent/statistics.hpp"

#if CONVERGENT_TEST_CUDA_BUILT
#include <cuda_runtime_api.h>
#endif

using namespace convergent;

namespace {

// Two-pass float64 reference (what numpy does).
struct Reference {
    std::vector<double> mean, sd, corr;
};

Reference two_pass(const std::vector<float>& x, index_t n, index_t t) {
    Reference r;
    r.mean.assign(size_t(t), 0.0);
    for (index_t i = 0; i < n; ++i)
        for (index_t j = 0; j < t; ++j) r.mean[size_t(j)] += x[size_t(i * t + j)];
    for (auto& m : r.mean) m /= double(n);
    std::vector<double> cov(size_t(t * t), 0.0);
    for (index_t i = 0; i < n; ++i)
        for (index_t a = 0; a < t; ++a)
            for (index_t b = 0; b < t; ++b)
                cov[size_t(a * t + b)] += (x[size_t(i * t + a)] - r.mean[size_t(a)]) *
                                          (x[size_t(i * t + b)] - r.mean[size_t(b)]);
    r.sd.resize(size_t(t));
    for (index_t a = 0; a < t; ++a) r.sd[size_t(a)] = std::sqrt(cov[size_t(a * t + a)] / double(n));
    r.corr.resize(size_t(t * t));
    for (index_t a = 0; a < t; ++a)
        for (index_t b = 0; b < t; ++b)
            r.corr[size_t(a * t + b)] = cov[size_t(a * t + b)] / std::sqrt(cov[size_t(a * t + a)] * cov[size_t(b * t + b)]);
    return r;
}

std::vector<float> correlated_data(index_t n, index_t t, unsigned seed, float offset) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> g(0.0f, 1.0f);
    std::vector<float> x(size_t(n * t));
    for (index_t i = 0; i < n; ++i) {
        const float shared = g(rng);
        for (index_t j = 0; j < t; ++j)
            x[size_t(i * t + j)] = offset + float(j + 1) * (0.5f * shared + g(rng));
    }
    return x;
}

}  // namespace

TEST(Statistics, ChunkedEqualsTwoPassWithLargeOffset) {
    // A large common offset is where raw sums of squares lose all precision.
    const index_t n = 3000, t = 7;
    const std::vector<float> x = correlated_data(n, t, 1, 1000.0f);
    auto backend = make_cpu_backend();
    MomentAccumulator acc({3, 4});
    for (index_t start = 0; start < n; start += 257)
        acc.push(*backend, x.data() + start * t, std::min<index_t>(257, n - start), t);
    const LayerStatistics s = finalize_statistics(acc);
    const Reference r = two_pass(x, n, t);
    ASSERT_EQ(s.samples, n);
    for (index_t j = 0; j < t; ++j) {
        EXPECT_NEAR(s.mean[size_t(j)], r.mean[size_t(j)], 1e-9 * 1000);
        EXPECT_NEAR(s.stddev[size_t(j)], r.sd[size_t(j)], 1e-9 * r.sd[size_t(j)]);
    }
    for (index_t k = 0; k < t * t; ++k) EXPECT_NEAR(s.correlation[size_t(k)], r.corr[size_t(k)], 1e-10);
    // The between-net block (net 0 rows, net 1 columns) is the off-diagonal block.
    const std::vector<double> between = s.correlation_block(0, 1);
    ASSERT_EQ(between.size(), 12u);
    EXPECT_DOUBLE_EQ(between[1 * 4 + 2], s.correlation[size_t(1 * t + 3 + 2)]);
    const std::vector<double> cov = s.covariance_block(0, 1);
    const double ref_cov = r.corr[size_t(1 * t + 5)] * r.sd[1] * r.sd[5];
    EXPECT_NEAR(cov[1 * 4 + 2], ref_cov, 1e-9 * std::fabs(ref_cov));
}

TEST(Statistics, MergeOfPartsEqualsWhole) {
    const index_t n = 1000, t = 5;
    const std::vector<float> x = correlated_data(n, t, 2, 3.0f);
    auto backend = make_cpu_backend();
    MomentAccumulator whole({5}), left({5}), right({5});
    whole.push(*backend, x.data(), n, t);
    left.push(*backend, x.data(), 123, t);
    right.push(*backend, x.data() + 123 * t, n - 123, t);
    left.merge(right);
    ASSERT_EQ(left.count(), n);
    for (index_t k = 0; k < t * t; ++k)
        EXPECT_NEAR(left.comoment()[size_t(k)], whole.comoment()[size_t(k)], 1e-8 * std::fabs(whole.comoment()[size_t(k)]) + 1e-9);
    MomentAccumulator mismatched({4, 1});
    EXPECT_THROW(left.merge(mismatched), Error);
}

TEST(Statistics, SerialisationRoundTrips) {
    const index_t n = 200, t = 4;
    const std::vector<float> x = correlated_data(n, t, 3, 0.0f);
    auto backend = make_cpu_backend();
    MomentAccumulator acc({2, 2});
    acc.push(*backend, x.data(), n, t);
    std::stringstream buffer;
    acc.save(buffer);
    const MomentAccumulator back = MomentAccumulator::load(buffer, "buffer");
    EXPECT_EQ(back.count(), n);
    EXPECT_EQ(back.block_widths(), acc.block_widths());
    EXPECT_EQ(back.comoment(), acc.comoment());
    std::stringstream truncated(buffer.str().substr(0, 40));
    EXPECT_THROW(MomentAccumulator::load(truncated, "truncated"), Error);
    std::stringstream garbage("not an accumulator at all");
    EXPECT_THROW(MomentAccumulator::load(garbage, "garbage"), Error);
}

TEST(Statistics, HugeBlockWidthsDoNotWrapTheTotal) {
    // Two widths near 2^63 plus 4 sum to 2 in wrapping int64 arithmetic; the
    // accumulator must refuse them instead of holding 2 columns for nets
    // that claim 2^63 units each.
    const index_t big = std::numeric_limits<index_t>::max();
    EXPECT_THROW(MomentAccumulator({big, big, 4}), Error);
    EXPECT_THROW(MomentAccumulator({65536, 1}), Error);
    EXPECT_EQ(MomentAccumulator({3, 1}).width(), 4);

    // The same widths in an accumulator file.
    std::string bytes("CVGMOM01", 8);
    auto put = [&](std::int64_t v) { bytes.append(reinterpret_cast<const char*>(&v), 8); };
    put(3);
    put(big);
    put(big);
    put(4);
    put(10);  // count
    for (int i = 0; i < 2 + 4; ++i) put(0);  // mean and comoment of the wrapped width 2
    std::stringstream crafted(bytes);
    EXPECT_THROW(MomentAccumulator::load(crafted, "crafted"), Error);
}

TEST(Statistics, DeadUnitsGetZeroCorrelationAndAreListed) {
    const index_t n = 500, t = 4;
    std::vector<float> x = correlated_data(n, t, 4, 1.0f);
    for (index_t i = 0; i < n; ++i) {
        x[size_t(i * t + 1)] = 0.0f;   // dead ReLU
        x[size_t(i * t + 3)] = 0.3f;   // constant, not exactly representable
    }
    auto backend = make_cpu_backend();
    MomentAccumulator acc({2, 2});
    for (index_t start = 0; start < n; start += 64)
        acc.push(*backend, x.data() + start * t, std::min<index_t>(64, n - start), t);
    const LayerStatistics s = finalize_statistics(acc);
    EXPECT_EQ(s.dead_units(0), std::vector<index_t>{1});
    EXPECT_EQ(s.dead_units(1), std::vector<index_t>{1});
    for (index_t j = 0; j < t; ++j) {
        EXPECT_EQ(s.correlation[size_t(1 * t + j)], 0.0);
        EXPECT_EQ(s.correlation[size_t(j * t + 3)], 0.0);
    }
    EXPECT_NEAR(s.correlation[0], 1.0, 1e-12);
    EXPECT_NEAR(s.mean[3], 0.3, 1e-7);
}

TEST(Backend, ExplicitCudaWithoutDeviceIsAnError) {
    std::string why;
    if (cuda_device_available(&why)) GTEST_SKIP() << "a CUDA device is present";
    try {
        make_backend(BackendKind::Cuda);
        FAIL() << "make_backend(Cuda) succeeded without a device";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::Unsupported);
        EXPECT_NE(std::string(e.what()).find("cuda"), std::string::npos);
    }
    EXPECT_EQ(make_backend(BackendKind::Auto)->kind(), BackendKind::Cpu);
    EXPECT_THROW(parse_backend_kind("gpu"), Error);
}

namespace {

// Units with mean 1e4 and standard deviations from 1e-2 to 1 (float32 data,
// so the smallest spreads are a few float32 steps wide), correlated through
// one shared factor. `drift` adds a slow trend to the means over the rows
// and silences every unit in the first `silent` rows, so later chunks lie
// far from the running mean.
std::vector<float> large_mean_data(index_t n, index_t t, unsigned seed, bool drift, index_t silent) {
    std::mt19937 rng(seed);
    std::normal_distribution<double> g(0.0, 1.0);
    std::vector<float> x(size_t(n * t));
    for (index_t i = 0; i < n; ++i) {
        const double shared = g(rng);
        for (index_t j = 0; j < t; ++j) {
            const double sd = std::pow(10.0, -2.0 + 2.0 * double(j) / double(t - 1));
            const double trend = drift ? 5.0 * sd * double(i) / double(n) : 0.0;
            x[size_t(i * t + j)] = i < silent ? 0.0f : float(1e4 + trend + sd * (0.6 * shared + 0.8 * g(rng)));
        }
    }
    return x;
}

// Float64 two-pass covariance (sum of centred products) of row-major float data.
std::vector<double> two_pass_comoment(const std::vector<float>& x, index_t n, index_t t) {
    std::vector<double> mean(size_t(t), 0.0), m(size_t(t * t), 0.0);
    for (index_t i = 0; i < n; ++i)
        for (index_t j = 0; j < t; ++j) mean[size_t(j)] += x[size_t(i * t + j)];
    for (double& v : mean) v /= double(n);
    for (index_t i = 0; i < n; ++i)
        for (index_t a = 0; a < t; ++a)
            for (index_t b = 0; b < t; ++b)
                m[size_t(a * t + b)] += (x[size_t(i * t + a)] - mean[size_t(a)]) * (x[size_t(i * t + b)] - mean[size_t(b)]);
    return m;
}

// |a - b| <= tol * sqrt(ref_ii ref_jj) for every entry (the scale of the
// entry's correlation), so near-zero covariances are held to the same bar.
void expect_comoment_near(const std::vector<double>& got, const std::vector<double>& ref, index_t t, double tol) {
    for (index_t a = 0; a < t; ++a)
        for (index_t b = 0; b < t; ++b) {
            const double scale = std::sqrt(ref[size_t(a * t + a)] * ref[size_t(b * t + b)]);
            EXPECT_NEAR(got[size_t(a * t + b)], ref[size_t(a * t + b)], tol * scale) << "entry " << a << ", " << b;
        }
}

}  // namespace

TEST(Statistics, LargeMeanMatchesFloat64TwoPass) {
    // Mean 1e4 with spreads down to 1e-2: raw sums of squares would lose
    // every digit; around-the-chunk (or running) means they must not.
    const index_t n = 6000, t = 9;
    auto backend = make_cpu_backend();
    for (const bool drift : {false, true}) {
        const index_t silent = drift ? 700 : 0;
        const std::vector<float> x = large_mean_data(n, t, 11, drift, silent);
        const std::vector<double> ref = two_pass_comoment(x, n, t);
        for (const index_t chunk : {index_t(500), index_t(1024), n}) {
            MomentAccumulator acc({4, 5});
            for (index_t start = 0; start < n; start += chunk)
                acc.push(*backend, x.data() + start * t, std::min(chunk, n - start), t);
            SCOPED_TRACE("drift " + std::to_string(drift) + ", chunk " + std::to_string(chunk));
            expect_comoment_near(acc.comoment(), ref, t, 1e-9);
            for (index_t j = 0; j < t; ++j)
                EXPECT_NEAR(acc.comoment()[size_t(j * t + j)], ref[size_t(j * t + j)], 1e-9 * ref[size_t(j * t + j)]);
        }
    }
}

TEST(Statistics, ChunkSizesAndPiecesGiveTheSameMoments) {
    // The Chan merge must make chunk boundaries invisible: any chunking, and
    // a chunk pushed in per-net pieces (as the compare pass does), agree to
    // rounding.
    const index_t n = 5000, t = 12;
    const std::vector<float> x = correlated_data(n, t, 5, 40.0f);
    auto backend = make_cpu_backend();
    MomentAccumulator whole({5, 7});
    whole.push(*backend, x.data(), n, t);
    const std::vector<double> ref = whole.comoment();
    for (const index_t chunk : {index_t(1), index_t(7), index_t(333), index_t(4096)}) {
        MomentAccumulator acc({5, 7});
        for (index_t start = 0; start < n; start += chunk)
            acc.push(*backend, x.data() + start * t, std::min(chunk, n - start), t);
        SCOPED_TRACE("chunk " + std::to_string(chunk));
        expect_comoment_near(acc.comoment(), ref, t, 1e-12);
        for (index_t j = 0; j < t; ++j) EXPECT_NEAR(acc.mean()[size_t(j)], whole.mean()[size_t(j)], 1e-12 * 40.0);
    }
    // Pieces: per chunk of 1200 rows, each net's columns in row pieces of 250.
    MomentAccumulator pieces({5, 7});
    for (index_t start = 0; start < n; start += 1200) {
        const index_t rows = std::min<index_t>(1200, n - start);
        pieces.begin_chunk(*backend, rows);
        for (const index_t column : {index_t(0), index_t(5)})
            for (index_t r = 0; r < rows; r += 250)
                pieces.add_block(x.data() + (start + r) * t + column, std::min<index_t>(250, rows - r), t, r, column,
                                 column == 0 ? 5 : 7);
        pieces.end_chunk();
    }
    EXPECT_EQ(pieces.count(), n);
    expect_comoment_near(pieces.comoment(), ref, t, 1e-12);
    // The comoment is symmetric once read, also after further pushes.
    pieces.push(*backend, x.data(), 100, t);
    const std::vector<double>& m = pieces.comoment();
    for (index_t a = 0; a < t; ++a)
        for (index_t b = 0; b < t; ++b) EXPECT_EQ(m[size_t(a * t + b)], m[size_t(b * t + a)]);
    EXPECT_THROW(pieces.add_block(x.data(), 1, t, 0, 0, 5), Error);  // no open chunk
    EXPECT_THROW(pieces.end_chunk(), Error);
}

TEST(Statistics, WideChunkMatchesTwoPassWithBlasPath) {
    // Wide enough (T = 300) that dsyrk blocks and the mirror's tiles are
    // exercised, with a chunk pushed in one piece and several.
    const index_t n = 700, t = 300;
    const std::vector<float> x = correlated_data(n, t, 8, 2.0f);
    const std::vector<double> ref = two_pass_comoment(x, n, t);
    auto backend = make_cpu_backend();
    MomentAccumulator acc({100, 200});
    acc.push(*backend, x.data(), 300, t);
    acc.push(*backend, x.data() + 300 * t, n - 300, t);
    expect_comoment_near(acc.comoment(), ref, t, 1e-12);
    // The backend op itself (full symmetric chunk comoment around the chunk mean).
    std::vector<double> mean(static_cast<size_t>(t)), m(static_cast<size_t>(t * t));
    backend->chunk_moments(x.data(), n, t, t, mean.data(), m.data());
    expect_comoment_near(m, ref, t, 1e-12);
}

#if CONVERGENT_TEST_CUDA_BUILT
namespace {

struct CudaFree {
    void operator()(void* p) const { cudaFree(p); }
};
using DeviceBytes = std::unique_ptr<void, CudaFree>;

// A device copy of host bytes (null when the runtime refuses).
template <typename T>
DeviceBytes device_copy(const std::vector<T>& host) {
    void* p = nullptr;
    if (cudaMalloc(&p, host.size() * sizeof(T)) != cudaSuccess) return DeviceBytes();
    DeviceBytes owned(p);
    if (cudaMemcpy(p, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice) != cudaSuccess)
        return DeviceBytes();
    return owned;
}

double half_value(std::uint16_t h) {
    const int exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
    const double magnitude = exponent == 0 ? std::ldexp(double(mantissa), -24)
                                           : std::ldexp(double(1024 + mantissa), exponent - 25);
    return (h >> 15) ? -magnitude : magnitude;
}

}  // namespace
#endif

// Issue 14: tensors in device memory read in place by the CUDA backend give
// the CPU backend's chunk moments of the same elements (float32-exact values,
// so the CPU op's float input loses nothing).
TEST(Statistics, CudaDeviceChunkMomentsMatchCpuChunkMoments) {
#if !CONVERGENT_TEST_CUDA_BUILT
    GTEST_SKIP() << "built without the CUDA backend";
#else
    std::string why;
    if (!cuda_device_available(&why)) GTEST_SKIP() << "no CUDA device: " << why;
    const auto cuda = make_backend(BackendKind::Cuda);
    const auto cpu = make_cpu_backend();
    // Blocks: NCHW float32 (5 units), NHWC float16 (3 units), float64 stored
    // (units, images, x, y) with every other unit (4 units).
    const index_t images = 96, height = 6, width = 7, plane = height * width, rows = images * plane;
    const index_t u32 = 5, u16 = 3, u64 = 4, cols = u32 + u16 + u64;
    const index_t c32 = 0, c16 = u32, c64 = u32 + u16;
    std::mt19937_64 rng(14);
    std::normal_distribution<double> normal(0.0, 1.0);
    std::vector<float> x(size_t(rows * cols));  // the row-major chunk for the CPU backend
    std::vector<float> nchw(size_t(images * u32 * plane));
    std::vector<std::uint16_t> nhwc(size_t(images * plane * u16));
    std::vector<double> permuted(size_t(2 * u64 * images * plane), std::nan(""));
    for (index_t n = 0; n < images; ++n)
        for (index_t p = 0; p < plane; ++p) {
            const index_t r = n * plane + p, y = p / width, xx = p % width;
            for (index_t c = 0; c < u32; ++c) {
                const float v = float(1e3 + double(c) + normal(rng));
                nchw[size_t(n * u32 * plane + c * plane + p)] = v;
                x[size_t(r * cols + c32 + c)] = v;
            }
            for (index_t c = 0; c < u16; ++c) {
                std::uint16_t bits = std::uint16_t((rng() & 0x3ff) | ((12 + rng() % 9) << 10));
                if (rng() % 2) bits |= 0x8000;
                nhwc[size_t(r * u16 + c)] = bits;
                x[size_t(r * cols + c16 + c)] = float(half_value(bits));
            }
            for (index_t c = 0; c < u64; ++c) {
                const double v = double(float(-50.0 + 3.0 * normal(rng)));
                permuted[size_t(((2 * c) * images + n) * plane + xx * height + y)] = v;
                x[size_t(r * cols + c64 + c)] = float(v);
            }
        }
    const DeviceBytes d32 = device_copy(nchw), d16 = device_copy(nhwc), d64 = device_copy(permuted);
    ASSERT_TRUE(d32 && d16 && d64) << "cudaMalloc/cudaMemcpy failed";
    std::vector<DeviceChunkBlock> blocks(3);
    blocks[0].data = d32.get();
    blocks[0].dtype = NpyDtype::Float32;
    blocks[0].units = u32;
    blocks[0].column = c32;
    blocks[0].image_stride = u32 * plane;
    blocks[0].unit_stride = plane;
    blocks[0].y_stride = width;
    blocks[0].x_stride = 1;
    blocks[1].data = d16.get();
    blocks[1].dtype = NpyDtype::Float16;
    blocks[1].units = u16;
    blocks[1].column = c16;
    blocks[1].image_stride = plane * u16;
    blocks[1].unit_stride = 1;
    blocks[1].y_stride = width * u16;
    blocks[1].x_stride = u16;
    blocks[2].data = d64.get();
    blocks[2].dtype = NpyDtype::Float64;
    blocks[2].units = u64;
    blocks[2].column = c64;
    blocks[2].image_stride = plane;
    blocks[2].unit_stride = 2 * images * plane;
    blocks[2].y_stride = 1;
    blocks[2].x_stride = height;

    std::vector<double> mean(static_cast<size_t>(cols)), comoment(static_cast<size_t>(cols * cols));
    cpu->chunk_moments(x.data(), rows, cols, cols, mean.data(), comoment.data());
    const std::vector<index_t> sample_rows = {0, 7, 1000, rows - 1};
    std::vector<double> got_mean(mean.size(), -1.0), got_comoment(comoment.size(), -1.0);
    std::vector<float> samples(sample_rows.size() * size_t(cols), -1.0f);
    cuda->device_chunk_moments(blocks.data(), 3, images, height, width, cols, got_mean.data(),
                               got_comoment.data(), sample_rows, samples.data());
    for (index_t c = 0; c < cols; ++c) {
        const double sd = std::sqrt(comoment[size_t(c * cols + c)] / double(rows));
        EXPECT_NEAR(got_mean[size_t(c)], mean[size_t(c)], 1e-10 * std::max(std::abs(mean[size_t(c)]), sd)) << c;
    }
    for (index_t a = 0; a < cols; ++a)
        for (index_t b = 0; b < cols; ++b) {
            const double ref = comoment[size_t(a * cols + b)];
            const double scale = std::sqrt(comoment[size_t(a * cols + a)] * comoment[size_t(b * cols + b)]);
            EXPECT_NEAR(got_comoment[size_t(a * cols + b)], ref, 1e-9 * std::max(std::abs(ref), scale)) << a << ", " << b;
        }
    for (size_t i = 0; i < sample_rows.size(); ++i)
        for (index_t c = 0; c < cols; ++c)
            EXPECT_EQ(samples[i * size_t(cols) + size_t(c)], x[size_t(sample_rows[i] * cols + c)])
                << "sample row " << sample_rows[i] << ", column " << c;

    // Refused before any kernel runs: a block on another device, a host pointer.
    std::vector<DeviceChunkBlock> elsewhere = blocks;
    elsewhere[1].device_id = 1;
    try {
        cuda->device_chunk_moments(elsewhere.data(), 3, images, height, width, cols, got_mean.data(),
                                   got_comoment.data(), {}, nullptr);
        ADD_FAILURE() << "a block on device 1 was accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
        EXPECT_NE(std::string(e.what()).find("device 1"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("device 0"), std::string::npos) << e.what();
    }
    std::vector<DeviceChunkBlock> on_host = blocks;
    on_host[0].data = nchw.data();
    try {
        cuda->device_chunk_moments(on_host.data(), 3, images, height, width, cols, got_mean.data(),
                                   got_comoment.data(), {}, nullptr);
        ADD_FAILURE() << "a host pointer was accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::InvalidArgument) << e.what();
    }
    // The backend still works, and gives the same numbers again.
    std::vector<double> again_mean(mean.size()), again_comoment(comoment.size());
    cuda->device_chunk_moments(blocks.data(), 3, images, height, width, cols, again_mean.data(),
                               again_comoment.data(), {}, nullptr);
    EXPECT_EQ(again_mean, got_mean);
    EXPECT_EQ(again_comoment, got_comoment);
#endif
}

TEST(Statistics, Float32ProductsStayWithinTheirDocumentedError) {
    // The statistics_precision = float32 path: float32 chunk and ssyrk slices,
    // float64 means and merges. Large offsets, drift and chunks longer than
    // one 256-row slice: within 1e-6 of the float64 two-pass correlation.
    // A silent stretch (700 rows of 0 before values near 1e4: long runs of
    // identical centred values, whose float32 sums round the same way every
    // time) is the documented worst case: slice rows x 2^-24 (1.5e-5)
    // relative on the comoment, about 1.6e-6 measured here.
    const index_t n = 6000, t = 9;
    auto backend = make_cpu_backend();
    for (const bool drift : {false, true}) {
        const std::vector<float> x = large_mean_data(n, t, 13, drift, drift ? 700 : 0);
        const Reference r = two_pass(x, n, t);
        const double tol = drift ? 256.0 * 0x1p-24 : 1e-6;
        for (const index_t chunk : {index_t(500), index_t(2500), n}) {
            MomentAccumulator acc({4, 5});
            acc.set_float32_products(true);
            EXPECT_TRUE(acc.float32_products());
            for (index_t start = 0; start < n; start += chunk)
                acc.push(*backend, x.data() + start * t, std::min(chunk, n - start), t);
            SCOPED_TRACE("drift " + std::to_string(drift) + ", chunk " + std::to_string(chunk));
            EXPECT_THROW(acc.set_float32_products(false), Error);  // only before the first chunk
            const LayerStatistics s = finalize_statistics(acc);
            for (index_t j = 0; j < t; ++j) {
                // float32 rounding of (value - running mean): relative to the spread.
                EXPECT_NEAR(s.mean[size_t(j)], r.mean[size_t(j)], tol * r.sd[size_t(j)]);
                EXPECT_NEAR(s.stddev[size_t(j)], r.sd[size_t(j)], tol * r.sd[size_t(j)]);
            }
            for (index_t k = 0; k < t * t; ++k) EXPECT_NEAR(s.correlation[size_t(k)], r.corr[size_t(k)], tol);
        }
    }
}
