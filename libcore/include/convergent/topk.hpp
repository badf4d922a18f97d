// What a unit responds to most (Li et al., Figs. 2, 4, 5, 6 and 12 show the
// image patches that activate matched units most): for every unit, the k
// inputs with the highest activations, gathered during the streaming pass.
//
// A conv unit's response to one image is its maximum over the spatial
// positions (the lower position index on equal values), so one image
// appears at most once per unit and its position says where the patch is.
// The order is strict and total: a higher value wins, and on equal values
// the lower image index. The top k of a set of images is therefore unique,
// whatever the chunking, the batching or the order in which accumulators
// over disjoint image ranges are merged.
//
// Memory: units x k entries (a float, an int64 image and an int64 position
// each). Time: one compare per unit and position, plus an O(k) update for
// the rare image that enters a unit's top k.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "convergent/error.hpp"

namespace convergent {

class TopKAccumulator {
public:
    TopKAccumulator() = default;
    // units: units of all blocks side by side; k >= 1; positions: H * W of a
    // conv layer's map, 1 for a dense layer.
    TopKAccumulator(index_t units, index_t k, index_t positions);

    index_t units() const { return units_; }
    index_t k() const { return k_; }
    index_t positions() const { return positions_; }

    // Adds images [first_image, first_image + images) of a piece of rows
    // (images * positions rows, row image * positions + position) x columns
    // values, row-major with leading dimension ld, that are this
    // accumulator's units [first_unit, first_unit + columns). Each image
    // must be added once per unit (pieces of disjoint image ranges); NaN
    // values never enter.
    void add(const float* values, index_t first_image, index_t images, index_t ld, index_t first_unit,
             index_t columns);

    // The top k of the union of both accumulators' images (which must be
    // disjoint), in place; other must have the same units, k and positions.
    void merge(const TopKAccumulator& other);

    // units x k, best first; slots beyond the images seen hold image -1,
    // position -1 and value NaN. lists() sorts each unit once for all three.
    struct Lists {
        std::vector<std::int64_t> images, positions;
        std::vector<float> values;
    };
    Lists lists() const;
    std::vector<std::int64_t> images() const { return lists().images; }
    std::vector<std::int64_t> positions_best_first() const { return lists().positions; }
    std::vector<float> values() const { return lists().values; }

    // Serialisation (binary, little endian, versioned), e.g. to merge the
    // accumulators of a distributed run.
    void save(std::ostream& out) const;
    static TopKAccumulator load(std::istream& in, const std::string& what);

private:
    struct Entry {
        float value;
        std::int64_t image, position;
    };
    // a ranks above b: higher value, then lower image index.
    static bool better(float value, std::int64_t image, const Entry& b) {
        return value > b.value || (value == b.value && image < b.image);
    }
    void offer(index_t unit, float value, std::int64_t image, std::int64_t position);

    index_t units_ = 0, k_ = 0, positions_ = 1;
    std::vector<Entry> entries_;       // units x k, unordered within a unit
    std::vector<std::int32_t> filled_; // entries used per unit
    std::vector<std::int32_t> worst_;  // the slot of the unit's worst entry once full
    // The value of the unit's worst entry once full, -inf before: a value
    // below it cannot enter (one contiguous compare per value in add()).
    std::vector<float> threshold_;
    std::vector<float> scratch_;       // per image: each column's maximum over positions
};

}  // namespace convergent
