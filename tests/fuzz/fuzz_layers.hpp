// Reading a whole layer in batches of inputs, shared by the .npy and .npz
// harnesses: the batch sizes differ per harness so chunk boundaries land in
// different places.
#pragma once

#include <algorithm>
#include <vector>

#include "convergent/activations.hpp"
#include "fuzz_support.hpp"

namespace convergent_fuzz {

inline void read_layer(const convergent::LayerSource& layer, convergent::index_t batch) {
    using convergent::index_t;
    index_t row_floats = 0;  // checked here: an overflow in the harness is no finding
    if (__builtin_mul_overflow(layer.positions(), layer.units(), &row_floats) || row_floats > kMaxElementsRead)
        return;
    const index_t images = std::min(layer.images(), kMaxElementsRead / row_floats);
    std::vector<float> rows(size_t(batch * row_floats));
    for (index_t first = 0; first < images; first += batch)
        layer.read_images(first, std::min(batch, images - first), rows.data());
}

}  // namespace convergent_fuzz
