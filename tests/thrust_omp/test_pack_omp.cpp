// The CUDA backend's in-place read of device tensors (portable/pack.cuh),
// run on the CPU through the OMP device system with host tensors: NCHW,
// NHWC, dense, transposed and stride-2 sliced blocks of float16, float32 and
// float64 against a float64 two-pass reference computed here from the same
// elements.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "thrust_omp_pack.hpp"

using namespace convergent;

namespace {

// IEEE binary16 decoded with ldexp (independent of the bit-building code under test).
double decode_half(std::uint16_t h) {
    const int sign = h >> 15, exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
    double magnitude;
    if (exponent == 0)
        magnitude = std::ldexp(double(mantissa), -24);
    else if (exponent == 31)
        magnitude = mantissa == 0 ? std::numeric_limits<double>::infinity() : std::numeric_limits<double>::quiet_NaN();
    else
        magnitude = std::ldexp(double(1024 + mantissa), exponent - 25);
    return sign ? -magnitude : magnitude;
}

// Logical dimensions of a block: image, unit, y, x.
using Dims = std::array<index_t, 4>;

struct Layout {
    std::array<int, 4> order;  // storage order of the logical dims, outermost first
    Dims step;                 // 2: every other element of a larger tensor (a strided slice)
    index_t offset;            // elements before the first one
};

const Layout kNchw{{0, 1, 2, 3}, {1, 1, 1, 1}, 0};
const Layout kNhwc{{0, 2, 3, 1}, {1, 1, 1, 1}, 0};
// Units outermost, x before y (a permuted tensor), every other unit and x.
const Layout kTransposedSliced{{1, 0, 3, 2}, {1, 2, 1, 2}, 3};
const Layout kColumnMajor{{1, 0, 2, 3}, {1, 1, 1, 1}, 0};          // dense (C, N) transposed
const Layout kSlicedRows{{0, 1, 2, 3}, {2, 2, 1, 1}, 1};            // dense [1::2, ::2] style

// One block in host memory: its bytes, its descriptor and its logical values.
struct HostBlock {
    std::vector<std::uint8_t> bytes;
    DeviceChunkBlock block;
    Dims extent;
    std::vector<double> value;  // logical C order (image, unit, y, x)

    double at(index_t image, index_t unit, index_t y, index_t x) const {
        return value[size_t(((image * extent[1] + unit) * extent[2] + y) * extent[3] + x)];
    }
};

int element_size(NpyDtype dtype) {
    return dtype == NpyDtype::Float16 ? 2 : dtype == NpyDtype::Float32 ? 4 : 8;
}

HostBlock make_block(NpyDtype dtype, const Layout& layout, index_t images, index_t units, index_t height,
                     index_t width, index_t column, unsigned seed) {
    HostBlock h;
    h.extent = {images, units, height, width};
    const int size = element_size(dtype);
    Dims storage_extent, storage_stride;
    for (int d = 0; d < 4; ++d) storage_extent[size_t(d)] = h.extent[size_t(d)] * layout.step[size_t(d)];
    index_t stride = 1;
    for (int k = 3; k >= 0; --k) {
        const int d = layout.order[size_t(k)];
        storage_stride[size_t(d)] = stride;
        stride *= storage_extent[size_t(d)];
    }
    const index_t total = layout.offset + stride;
    h.bytes.assign(size_t(total * size), 0xff);  // untouched elements read as NaN
    Dims logical_stride;
    for (int d = 0; d < 4; ++d) logical_stride[size_t(d)] = storage_stride[size_t(d)] * layout.step[size_t(d)];

    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal(0.0, 1.0);
    h.value.resize(size_t(images * units * height * width));
    for (index_t n = 0; n < images; ++n)
        for (index_t c = 0; c < units; ++c)
            for (index_t y = 0; y < height; ++y)
                for (index_t x = 0; x < width; ++x) {
                    const index_t at = layout.offset + n * logical_stride[0] + c * logical_stride[1] +
                                       y * logical_stride[2] + x * logical_stride[3];
                    std::uint8_t* dst = h.bytes.data() + at * size;
                    double v;
                    if (dtype == NpyDtype::Float16) {
                        // Exponents 2^-3 .. 2^5, random mantissa and sign; a few subnormals.
                        std::uint16_t bits = std::uint16_t((rng() & 0x3ff) | ((12 + rng() % 9) << 10));
                        if (rng() % 2) bits |= 0x8000;
                        if (rng() % 16 == 0) bits &= 0x83ff;
                        std::memcpy(dst, &bits, 2);
                        v = decode_half(bits);
                    } else if (dtype == NpyDtype::Float32) {
                        const float f = float(100.0 + 10.0 * double(c) + normal(rng));
                        std::memcpy(dst, &f, 4);
                        v = f;
                    } else {
                        v = 1e3 - 7.0 * double(c) + 0.25 * normal(rng);
                        std::memcpy(dst, &v, 8);
                    }
                    h.value[size_t(((n * units + c) * height + y) * width + x)] = v;
                }
    h.block.data = h.bytes.data() + layout.offset * size;
    h.block.dtype = dtype;
    h.block.units = units;
    h.block.column = column;
    h.block.image_stride = logical_stride[0];
    h.block.unit_stride = logical_stride[1];
    h.block.y_stride = logical_stride[2];
    h.block.x_stride = logical_stride[3];
    return h;
}

struct Chunk {
    std::vector<HostBlock> blocks;
    index_t images = 0, height = 0, width = 0, cols = 0;

    index_t rows() const { return images * height * width; }
    std::vector<DeviceChunkBlock> descriptors() const {
        std::vector<DeviceChunkBlock> d;
        for (const HostBlock& b : blocks) d.push_back(b.block);
        return d;
    }
    // Element (r, col) straight from the logical values.
    double value(index_t r, index_t col) const {
        for (const HostBlock& b : blocks)
            if (col >= b.block.column && col < b.block.column + b.block.units) {
                const index_t plane = height * width, p = r % plane;
                return b.at(r / plane, col - b.block.column, p / width, p % width);
            }
        ADD_FAILURE() << "no block for column " << col;
        return 0.0;
    }
};

// Columns handed out in a different order than the blocks are listed.
Chunk make_chunk(const std::vector<NpyDtype>& dtypes, const std::vector<Layout>& layouts,
                 const std::vector<index_t>& units, index_t images, index_t height, index_t width, unsigned seed) {
    Chunk chunk;
    chunk.images = images;
    chunk.height = height;
    chunk.width = width;
    const size_t n = units.size();
    std::vector<index_t> column(n);
    index_t next = 0;
    for (size_t k = n; k-- > 0;) {  // last block first
        column[k] = next;
        next += units[k];
    }
    chunk.cols = next;
    for (size_t k = 0; k < n; ++k)
        chunk.blocks.push_back(
            make_block(dtypes[k], layouts[k], images, units[k], height, width, column[k], seed + unsigned(k)));
    return chunk;
}

void expect_moments_and_samples(const Chunk& chunk, const std::string& label) {
    SCOPED_TRACE(label);
    const index_t rows = chunk.rows(), cols = chunk.cols;
    // Float64 two-pass reference.
    std::vector<double> x(size_t(rows * cols));
    for (index_t r = 0; r < rows; ++r)
        for (index_t c = 0; c < cols; ++c) x[size_t(r * cols + c)] = chunk.value(r, c);
    std::vector<double> mean(size_t(cols), 0.0), comoment(size_t(cols * cols), 0.0);
    for (index_t r = 0; r < rows; ++r)
        for (index_t c = 0; c < cols; ++c) mean[size_t(c)] += x[size_t(r * cols + c)];
    for (double& m : mean) m /= double(rows);
    for (index_t r = 0; r < rows; ++r)
        for (index_t a = 0; a < cols; ++a)
            for (index_t b = 0; b < cols; ++b)
                comoment[size_t(a * cols + b)] +=
                    (x[size_t(r * cols + a)] - mean[size_t(a)]) * (x[size_t(r * cols + b)] - mean[size_t(b)]);

    const std::vector<index_t> sample_rows = {0, 1, rows / 3, rows / 2 + 1, rows - 1};
    std::vector<double> got_mean(size_t(cols), -1.0), got_comoment(size_t(cols * cols), -1.0);
    std::vector<float> samples(sample_rows.size() * size_t(cols), -1.0f);
    const std::vector<DeviceChunkBlock> blocks = chunk.descriptors();
    thrust_omp::device_chunk_moments(blocks.data(), int(blocks.size()), chunk.images, chunk.height, chunk.width,
                                     cols, got_mean.data(), got_comoment.data(), sample_rows, samples.data());

    for (index_t c = 0; c < cols; ++c) {
        // Relative to the column's spread too: a mean near 0 has no scale of its own.
        const double sd = std::sqrt(comoment[size_t(c * cols + c)] / double(rows));
        EXPECT_NEAR(got_mean[size_t(c)], mean[size_t(c)], 1e-9 * std::max(std::abs(mean[size_t(c)]), sd))
            << "column " << c;
    }
    for (index_t a = 0; a < cols; ++a)
        for (index_t b = 0; b < cols; ++b) {
            // |c_ab| <= sqrt(c_aa c_bb): the natural scale of an off-diagonal entry.
            const double ref = comoment[size_t(a * cols + b)];
            const double scale = std::sqrt(comoment[size_t(a * cols + a)] * comoment[size_t(b * cols + b)]);
            EXPECT_NEAR(got_comoment[size_t(a * cols + b)], ref, 1e-9 * std::max(std::abs(ref), scale))
                << a << ", " << b;
        }
    for (size_t i = 0; i < sample_rows.size(); ++i)
        for (index_t c = 0; c < cols; ++c)
            EXPECT_EQ(samples[i * size_t(cols) + size_t(c)], float(chunk.value(sample_rows[i], c)))
                << "sample row " << sample_rows[i] << ", column " << c;
}

const std::array<NpyDtype, 3> kDtypes = {NpyDtype::Float16, NpyDtype::Float32, NpyDtype::Float64};
const char* const kDtypeNames[3] = {"float16", "float32", "float64"};

}  // namespace

TEST(ThrustOmpPack, ConvolutionalBlocksEqualFloat64Reference) {
    // Every dtype in every layout: NCHW, NHWC, permuted + stride-2 slice.
    for (int rotation = 0; rotation < 3; ++rotation) {
        std::vector<NpyDtype> dtypes;
        std::string label = "conv";
        for (int k = 0; k < 3; ++k) {
            dtypes.push_back(kDtypes[size_t((k + rotation) % 3)]);
            label += std::string(" ") + kDtypeNames[(k + rotation) % 3];
        }
        expect_moments_and_samples(make_chunk(dtypes, {kNchw, kNhwc, kTransposedSliced}, {3, 4, 2}, 5, 3, 4,
                                              11u + unsigned(rotation)),
                                   label + " (5 images of 3 x 4)");
        expect_moments_and_samples(make_chunk(dtypes, {kNchw, kNhwc, kTransposedSliced}, {6, 2, 5}, 23, 7, 9,
                                              21u + unsigned(rotation)),
                                   label + " (23 images of 7 x 9)");
    }
}

TEST(ThrustOmpPack, DenseBlocksEqualFloat64Reference) {
    // height = width = 1: row-major (N, C), column-major (a transposed (C, N)), [::2, ::2] slice.
    for (int rotation = 0; rotation < 3; ++rotation) {
        std::vector<NpyDtype> dtypes;
        std::string label = "dense";
        for (int k = 0; k < 3; ++k) {
            dtypes.push_back(kDtypes[size_t((k + rotation) % 3)]);
            label += std::string(" ") + kDtypeNames[(k + rotation) % 3];
        }
        expect_moments_and_samples(
            make_chunk(dtypes, {kNchw, kColumnMajor, kSlicedRows}, {5, 3, 4}, 301, 1, 1, 31u + unsigned(rotation)),
            label);
    }
    // Two blocks only, one unit each.
    expect_moments_and_samples(
        make_chunk({NpyDtype::Float64, NpyDtype::Float16}, {kColumnMajor, kSlicedRows}, {1, 1}, 17, 1, 1, 41u),
        "dense, two one-unit blocks");
}

TEST(ThrustOmpPack, EveryFloat16PatternConvertsExactly) {
    // All 65536 binary16 patterns (subnormals, signed zeros, Inf, NaN) as the
    // samples of one dense unit, gathered back as float32.
    std::vector<std::uint16_t> bits(65536);
    for (size_t i = 0; i < bits.size(); ++i) bits[i] = std::uint16_t(i);
    DeviceChunkBlock block;
    block.data = bits.data();
    block.dtype = NpyDtype::Float16;
    block.units = 1;
    block.image_stride = 1;
    std::vector<index_t> rows(bits.size());
    for (size_t i = 0; i < rows.size(); ++i) rows[i] = index_t(i);
    std::vector<float> values(bits.size());
    double mean = 0.0, comoment = 0.0;
    thrust_omp::device_chunk_moments(&block, 1, index_t(bits.size()), 1, 1, 1, &mean, &comoment, rows,
                                     values.data());
    for (size_t i = 0; i < bits.size(); ++i) {
        const double expected = decode_half(bits[i]);
        if (std::isnan(expected)) {
            EXPECT_TRUE(std::isnan(values[i])) << std::hex << i;
        } else {
            EXPECT_EQ(values[i], float(expected)) << std::hex << i;
            EXPECT_EQ(std::signbit(values[i]), std::signbit(expected)) << std::hex << i;
        }
    }
}

TEST(ThrustOmpPack, RejectsBadBlocksAndSampleRows) {
    const Chunk chunk = make_chunk({NpyDtype::Float32, NpyDtype::Float64}, {kNchw, kNhwc}, {2, 3}, 4, 2, 2, 51u);
    const index_t cols = chunk.cols;
    std::vector<double> mean(static_cast<size_t>(cols)), comoment(static_cast<size_t>(cols * cols));
    std::vector<float> samples(size_t(4 * cols));
    const auto code_of = [&](std::vector<DeviceChunkBlock> blocks, index_t images, index_t columns,
                             std::vector<index_t> rows, float* values) {
        try {
            thrust_omp::device_chunk_moments(blocks.data(), int(blocks.size()), images, chunk.height, chunk.width,
                                             columns, mean.data(), comoment.data(), rows, values);
        } catch (const Error& e) {
            return int(e.code());
        }
        return 0;
    };
    const std::vector<DeviceChunkBlock> good = chunk.descriptors();
    EXPECT_EQ(code_of(good, 4, cols, {0, 3, 15}, samples.data()), 0);
    std::vector<DeviceChunkBlock> overlap = good;
    overlap[1].column += 1;  // columns 1..3 and 3..4: overlap at 3, gap at 0
    EXPECT_EQ(code_of(overlap, 4, cols, {}, nullptr), int(ErrorCode::InvalidArgument));
    EXPECT_EQ(code_of({good[0]}, 4, cols, {}, nullptr), int(ErrorCode::InvalidArgument));  // gap
    EXPECT_EQ(code_of(good, 4, cols + 1, {}, nullptr), int(ErrorCode::InvalidArgument));   // uncovered column
    EXPECT_EQ(code_of(good, 4, cols - 1, {}, nullptr), int(ErrorCode::InvalidArgument));   // block past the end
    EXPECT_EQ(code_of(good, 0, cols, {}, nullptr), int(ErrorCode::InvalidArgument));       // no samples
    EXPECT_EQ(code_of(good, 4, cols, {3, 0}, samples.data()), int(ErrorCode::InvalidArgument));  // unsorted
    EXPECT_EQ(code_of(good, 4, cols, {0, 16}, samples.data()), int(ErrorCode::InvalidArgument));  // past 16 rows
    EXPECT_EQ(code_of(good, 4, cols, {-1}, samples.data()), int(ErrorCode::InvalidArgument));
    EXPECT_EQ(code_of(good, 4, cols, {1}, nullptr), int(ErrorCode::InvalidArgument));  // nowhere to write
    std::vector<DeviceChunkBlock> no_data = good;
    no_data[0].data = nullptr;
    EXPECT_EQ(code_of(no_data, 4, cols, {}, nullptr), int(ErrorCode::InvalidArgument));
}
