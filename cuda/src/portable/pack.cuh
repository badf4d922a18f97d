// Sec. 2 chunk moments of tensors read in place in device memory (issue 14:
// a CUDA tensor reaches the CUDA backend without a host copy). The pieces of
// one chunk (DeviceChunkBlock: one per net, any strides, float16/32/64) are
// gathered into the column-major float64 chunk that moments.cuh multiplies
// (cuBLAS DSYRK on the device), centred around its column means on the way;
// the sample rows the MI step asked for are gathered as float32 and are, with
// the moments, all that crosses to the host.
#pragma once

#include "portable/moments.cuh"

#include <thrust/copy.h>
#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/iterator/discard_iterator.h>
#include <thrust/iterator/transform_iterator.h>
#include <thrust/reduce.h>
#include <thrust/transform.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "convergent/backend.hpp"

namespace convergent {
namespace CVG_PORTABLE_NS {

// IEEE binary16 -> double, exact, without cuda_fp16.h so that g++ compiles it
// too (same values as libcore's half_to_float on the host).
CVG_HD inline double half_bits_to_double(std::uint16_t h) {
    const std::uint64_t sign = std::uint64_t(h >> 15) << 63;
    const std::uint64_t exponent = (h >> 10) & 0x1f;
    const std::uint64_t mantissa = h & 0x3ff;
    if (exponent == 0) {
        // Zero or subnormal: mantissa * 2^-24.
        const double magnitude = double(mantissa) * 5.9604644775390625e-08;
        return sign ? -magnitude : magnitude;
    }
    std::uint64_t bits;
    if (exponent == 31)
        bits = sign | (std::uint64_t(0x7ff) << 52) | (mantissa << 42);  // Inf, or NaN keeping its payload
    else
        bits = sign | ((exponent - 15 + 1023) << 52) | (mantissa << 42);
    double value;
    std::memcpy(&value, &bits, sizeof value);
    return value;
}

enum PackDtype : int { kPackFloat16 = 0, kPackFloat32 = 1, kPackFloat64 = 2 };

// A DeviceChunkBlock as the functors read it (plain data, copied to the device).
struct PackBlock {
    const void* data;
    int dtype;  // PackDtype
    index_t column;
    index_t image_stride, unit_stride, y_stride, x_stride;
};

CVG_HD inline double load_element(const PackBlock& block, index_t offset) {
    if (block.dtype == kPackFloat16) return half_bits_to_double(static_cast<const std::uint16_t*>(block.data)[offset]);
    if (block.dtype == kPackFloat32) return double(static_cast<const float*>(block.data)[offset]);
    return static_cast<const double*>(block.data)[offset];
}

// Element (sample r, column col) of the chunk: r = image * plane + y * width + x.
struct ChunkElement {
    const PackBlock* blocks;
    const int* block_of_column;
    index_t plane, width;  // plane = height * width
    CVG_HD double operator()(index_t r, index_t col) const {
        const PackBlock& b = blocks[block_of_column[col]];
        const index_t image = r / plane, p = r % plane;
        const index_t y = p / width, x = p % width;
        return load_element(b, image * b.image_stride + (col - b.column) * b.unit_stride + y * b.y_stride +
                                   x * b.x_stride);
    }
};

// Column-major rows x cols (flat = col * rows + r), the layout of DSYRK's input.
struct PackColumnMajor {
    ChunkElement element;
    index_t rows;
    CVG_HD double operator()(index_t flat) const { return element(flat % rows, flat / rows); }
};

// Requested rows, all columns, row-major float32 (flat = i * cols + col).
struct GatherSampleRow {
    ChunkElement element;
    const index_t* rows;
    index_t cols;
    CVG_HD float operator()(index_t flat) const { return float(element(rows[flat / cols], flat % cols)); }
};

struct ColumnOfFlat {
    index_t rows;
    CVG_HD index_t operator()(index_t flat) const { return flat / rows; }
};

struct DivideBy {
    double n;
    CVG_HD double operator()(double sum) const { return sum / n; }
};

struct SubtractColumnMean {
    double* xc;
    const double* mean;
    index_t rows;
    CVG_HD void operator()(index_t flat) const { xc[flat] -= mean[flat / rows]; }
};

// The validated chunk description on the device system.
struct DeviceChunkSource {
    thrust::device_vector<PackBlock> blocks;
    thrust::device_vector<int> block_of_column;
    index_t rows = 0, cols = 0, plane = 1, width = 1;

    ChunkElement element() const {
        return ChunkElement{thrust::raw_pointer_cast(blocks.data()),
                            thrust::raw_pointer_cast(block_of_column.data()), plane, width};
    }
};

// Checks the Backend::device_chunk_moments arguments (what names the caller
// in messages) and uploads the block descriptors and the column -> block map.
// Device ids and memory kinds are the device backend's to check.
inline DeviceChunkSource device_chunk_source(const DeviceChunkBlock* blocks, int n_blocks, index_t images,
                                             index_t height, index_t width, index_t cols, const double* mean,
                                             const double* comoment, const std::vector<index_t>& sample_rows,
                                             const float* sample_values, const std::string& what) {
    CVG_REQUIRE(images > 0 && height > 0 && width > 0, InvalidArgument,
                what + ": a chunk of " + std::to_string(images) + " images of " + std::to_string(height) + " x " +
                    std::to_string(width) + " has no samples");
    const index_t limit = std::numeric_limits<index_t>::max();
    CVG_REQUIRE(height <= limit / width && images <= limit / (height * width), InvalidArgument,
                what + ": the chunk's sample count overflows 64 bits");
    const index_t rows = images * height * width;
    CVG_REQUIRE(cols > 0 && rows <= limit / cols, InvalidArgument,
                what + ": bad column count " + std::to_string(cols) + " for " + std::to_string(rows) + " samples");
    CVG_REQUIRE(n_blocks > 0 && blocks != nullptr, InvalidArgument, what + ": no blocks for " +
                                                                        std::to_string(cols) + " columns");
    CVG_REQUIRE(mean != nullptr && comoment != nullptr, InvalidArgument, what + ": null mean or comoment");
    CVG_REQUIRE(sample_rows.empty() || sample_values != nullptr, InvalidArgument,
                what + ": " + std::to_string(sample_rows.size()) + " sample rows requested but sample_values is null");
    for (size_t i = 0; i < sample_rows.size(); ++i) {
        const index_t r = sample_rows[i];
        CVG_REQUIRE(r >= 0 && r < rows && (i == 0 || r > sample_rows[i - 1]), InvalidArgument,
                    what + ": sample row " + std::to_string(r) + " (entry " + std::to_string(i) +
                        ") is out of range [0, " + std::to_string(rows) + ") or not strictly increasing");
    }

    std::vector<PackBlock> host_blocks(static_cast<size_t>(n_blocks));
    std::vector<int> owner(static_cast<size_t>(cols), -1);
    for (int k = 0; k < n_blocks; ++k) {
        const DeviceChunkBlock& b = blocks[k];
        const std::string name = what + ": block " + std::to_string(k);
        CVG_REQUIRE(b.units >= 0 && b.column >= 0 && b.column <= cols - b.units, InvalidArgument,
                    name + " (columns " + std::to_string(b.column) + " + " + std::to_string(b.units) +
                        ") does not lie in the chunk's " + std::to_string(cols) + " columns");
        CVG_REQUIRE(b.data != nullptr || b.units == 0, InvalidArgument, name + " has no data");
        int dtype = kPackFloat32;
        switch (b.dtype) {
            case NpyDtype::Float16: dtype = kPackFloat16; break;
            case NpyDtype::Float32: dtype = kPackFloat32; break;
            case NpyDtype::Float64: dtype = kPackFloat64; break;
            default: fail(ErrorCode::Unsupported, name + " has an unknown dtype");
        }
        for (index_t c = b.column; c < b.column + b.units; ++c) {
            CVG_REQUIRE(owner[size_t(c)] < 0, InvalidArgument,
                        name + " overlaps block " + std::to_string(owner[size_t(c)]) + " at column " +
                            std::to_string(c));
            owner[size_t(c)] = k;
        }
        host_blocks[size_t(k)] = PackBlock{b.data, dtype, b.column, b.image_stride, b.unit_stride, b.y_stride,
                                           b.x_stride};
    }
    for (index_t c = 0; c < cols; ++c)
        CVG_REQUIRE(owner[size_t(c)] >= 0, InvalidArgument,
                    what + ": no block covers column " + std::to_string(c) + " of " + std::to_string(cols));

    DeviceChunkSource source;
    source.blocks.assign(host_blocks.begin(), host_blocks.end());
    source.block_of_column.assign(owner.begin(), owner.end());
    source.rows = rows;
    source.cols = cols;
    source.plane = height * width;
    source.width = width;
    return source;
}

// Packs the chunk column-major into xc (rows x cols) and centres it in place
// around its column means (returned in mean): the input of DSYRK.
inline void pack_centred_chunk(const DeviceChunkSource& source, thrust::device_vector<double>& xc,
                               thrust::device_vector<double>& mean) {
    const index_t rows = source.rows, cols = source.cols, n = rows * cols;
    xc.resize(static_cast<size_t>(n));
    mean.resize(static_cast<size_t>(cols));
    thrust::transform(thrust::counting_iterator<index_t>(0), thrust::counting_iterator<index_t>(n), xc.begin(),
                      PackColumnMajor{source.element(), rows});
    // Column sums by a segmented reduction (each column is one contiguous run).
    thrust::reduce_by_key(thrust::make_transform_iterator(thrust::counting_iterator<index_t>(0), ColumnOfFlat{rows}),
                          thrust::make_transform_iterator(thrust::counting_iterator<index_t>(n), ColumnOfFlat{rows}),
                          xc.begin(), thrust::make_discard_iterator(), mean.begin());
    thrust::transform(mean.begin(), mean.end(), mean.begin(), DivideBy{double(rows)});
    thrust::for_each(thrust::counting_iterator<index_t>(0), thrust::counting_iterator<index_t>(n),
                     SubtractColumnMean{thrust::raw_pointer_cast(xc.data()), thrust::raw_pointer_cast(mean.data()),
                                        rows});
}

// Copies the requested rows (all columns, float32, row-major ld = cols) to
// the host buffer sample_values.
inline void gather_sample_rows(const DeviceChunkSource& source, const std::vector<index_t>& sample_rows,
                               float* sample_values) {
    if (sample_rows.empty()) return;
    const thrust::device_vector<index_t> rows(sample_rows.begin(), sample_rows.end());
    const index_t n = index_t(sample_rows.size()) * source.cols;
    thrust::device_vector<float> values(static_cast<size_t>(n));
    thrust::transform(thrust::counting_iterator<index_t>(0), thrust::counting_iterator<index_t>(n), values.begin(),
                      GatherSampleRow{source.element(), thrust::raw_pointer_cast(rows.data()), source.cols});
    thrust::copy(values.begin(), values.end(), sample_values);
}

// The whole op on the current device system, with the comoment from the
// portable CentredProduct (the CUDA backend uses DSYRK instead).
inline void device_chunk_moments(const DeviceChunkBlock* blocks, int n_blocks, index_t images, index_t height,
                                 index_t width, index_t cols, double* mean, double* comoment,
                                 const std::vector<index_t>& sample_rows, float* sample_values,
                                 const std::string& what) {
    const DeviceChunkSource source = device_chunk_source(blocks, n_blocks, images, height, width, cols, mean,
                                                         comoment, sample_rows, sample_values, what);
    thrust::device_vector<double> xc, dmean;
    pack_centred_chunk(source, xc, dmean);
    thrust::device_vector<double> dco(static_cast<size_t>(cols * cols));
    thrust::transform(thrust::counting_iterator<index_t>(0), thrust::counting_iterator<index_t>(cols * cols),
                      dco.begin(), CentredProduct{thrust::raw_pointer_cast(xc.data()), source.rows, cols});
    thrust::copy(dmean.begin(), dmean.end(), mean);
    thrust::copy(dco.begin(), dco.end(), comoment);
    gather_sample_rows(source, sample_rows, sample_values);
}

}  // namespace CVG_PORTABLE_NS
}  // namespace convergent
