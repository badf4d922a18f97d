// The image patches a unit's top activations come from (Li et al., Figs. 2,
// 4, 5, 6 and 12 show them as 3 x 3 grids per unit).
//
// A conv layer's position (y, x) sees the input crop its receptive field
// covers: rows [y * stride - padding, y * stride - padding + size), and the
// same for columns. The crop is clipped at the image border and the part
// outside is filled with 0 (black: the zero padding the convolutions see),
// so every patch of a layer has the same size x size cells. A dense layer
// (or a conv layer without a receptive field) sees the whole image.
//
// Activations stored on a strided grid of a map's positions (the dumper's
// max_positions_per_side / spatial_stride: kept position i is map position
// start + i * step) have the receptive field (size, stride * step,
// padding - start * stride); padding may then be negative.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "convergent/error.hpp"

namespace convergent {

struct ReceptiveField {
    index_t size = 1, stride = 1, padding = 0;
};

// "conv1=5,1,2,conv2=14,2,5" split at commas (the option's items): each
// layer=size,stride,padding group; throws InvalidArgument naming the item
// (size >= 1, stride >= 1, padding any integer, a layer named once).
std::map<std::string, ReceptiveField> parse_receptive_fields(const std::vector<std::string>& items);

// The input images, as 8-bit pixels: images x height x width x channels
// (1 = grey, 3 = RGB; other channel counts keep the first channel).
struct Images {
    index_t count = 0, height = 0, width = 0, channels = 1;  // count: the file's images
    // The images held, sorted (empty: all `count`), and their pixels in
    // that order, height x width x channels each.
    std::vector<index_t> held;
    std::vector<std::uint8_t> pixels;
    // Image i's pixels; throws BadData beyond count, InvalidArgument when
    // it was not loaded.
    const std::uint8_t* image(index_t i) const;
};

// Reads a .npy of N x H x W, N x H x W x C or N x C x H x W images (C in
// {1, 3, 4}; NHWC when the last axis is one of these, else NCHW): uint8 as
// is, float32/float64 scaled to 0..255 by [0, 1] when every value lies
// there, else by the array's minimum and maximum. Throws Io / BadData /
// Unsupported naming the file.
// With `wanted`, only those images (indices; -1 and indices beyond the file
// ignored: check `count`) are read and held,
// so memory is O(wanted images) whatever the file's size (the scale of
// float images still takes one streaming scan of the file).
Images load_images(const std::string& path, const std::vector<std::int64_t>* wanted = nullptr);

// The input rectangle of a position: top-left corner (may be negative or
// beyond the image) and its size.
struct PatchBox {
    index_t top = 0, left = 0, height = 0, width = 0;
};
// position = y * map_width + x; no receptive field (nullptr): the whole
// image of height x width.
PatchBox patch_box(const ReceptiveField* field, index_t position, index_t map_width, index_t image_height,
                   index_t image_width);

// A sprite sheet of units rows x k columns of cells (row u, column j: the
// patch of the unit's j-th best input), cell_height x cell_width pixels
// each, as 8-bit grey or RGB rows. images and positions: units x k, best
// first; image -1 leaves a black cell.
struct SpriteSheet {
    index_t rows = 0, columns = 0, cell_height = 0, cell_width = 0, channels = 1;
    std::vector<std::uint8_t> pixels;  // (rows * cell_height) x (columns * cell_width) x channels
};
SpriteSheet patch_sprite_sheet(const Images& images, const ReceptiveField* field, index_t map_width,
                               const std::vector<std::int64_t>& image_index,
                               const std::vector<std::int64_t>& positions, index_t units, index_t k);

// The PNG encoding of a sheet (libpng), as bytes.
std::string encode_png(const SpriteSheet& sheet);

}  // namespace convergent
