#include "convergent/topk.hpp"

#include <algorithm>
#include <cmath>
#include <istream>
#include <limits>
#include <ostream>

#include "allocation.hpp"

namespace convergent {

TopKAccumulator::TopKAccumulator(index_t units, index_t k, index_t positions)
    : units_(units), k_(k), positions_(positions) {
    CVG_REQUIRE(units >= 1 && k >= 1 && positions >= 1 && k <= (index_t(1) << 30), InvalidArgument,
                "top-k accumulator: needs units >= 1, 1 <= k <= 2^30 and positions >= 1 (got " +
                    std::to_string(units) + ", " + std::to_string(k) + ", " + std::to_string(positions) + ")");
    resize_or_fail(entries_, std::uint64_t(units) * std::uint64_t(k), "the top-k accumulator",
                   "units x k entries");
    filled_.assign(size_t(units), 0);
    worst_.assign(size_t(units), 0);
    threshold_.assign(size_t(units), -std::numeric_limits<float>::infinity());
}

void TopKAccumulator::offer(index_t unit, float value, std::int64_t image, std::int64_t position) {
    Entry* e = entries_.data() + unit * k_;
    std::int32_t& filled = filled_[size_t(unit)];
    if (filled < k_) {
        e[filled++] = {value, image, position};
    } else {
        Entry& worst = e[worst_[size_t(unit)]];
        if (!better(value, image, worst)) return;
        worst = {value, image, position};
    }
    if (filled < k_) return;
    // The new worst (k is small: a linear scan).
    std::int32_t w = 0;
    for (std::int32_t j = 1; j < filled; ++j)
        if (better(e[w].value, e[w].image, e[j])) w = j;
    worst_[size_t(unit)] = w;
    threshold_[size_t(unit)] = e[w].value;
}

void TopKAccumulator::add(const float* values, index_t first_image, index_t images, index_t ld, index_t first_unit,
                          index_t columns) {
    CVG_REQUIRE(first_unit >= 0 && columns >= 0 && first_unit + columns <= units_ && ld >= columns &&
                    first_image >= 0 && images >= 0,
                InvalidArgument, "top-k accumulator: a piece outside the accumulator's units");
    if (columns == 0 || images == 0) return;
    constexpr float kLowest = -std::numeric_limits<float>::infinity();
    // Only values at or above the unit's threshold can enter (ties are then
    // decided by offer); NaN and -inf never enter. Once every unit's top k
    // is full almost no value can enter, so the test runs on blocks of
    // columns as a branch-free (vectorised) "any" first, and the block is
    // looked at value by value only when something in it may enter: the
    // pass then reads each value once at the speed of the vector unit.
    constexpr index_t kBlock = 32;
    const float* threshold = threshold_.data() + first_unit;
    const auto any_can_enter = [](const float* v, const float* t, index_t n) {
        unsigned hit = 0;
        for (index_t c = 0; c < n; ++c) hit |= unsigned(v[c] >= t[c]);
        return hit != 0;
    };
    if (positions_ == 1) {
        for (index_t i = 0; i < images; ++i) {
            const float* row = values + i * ld;
            for (index_t c0 = 0; c0 < columns; c0 += kBlock) {
                const index_t n = std::min(kBlock, columns - c0);
                if (!any_can_enter(row + c0, threshold + c0, n)) continue;
                for (index_t c = c0; c < c0 + n; ++c)
                    if (row[c] >= threshold[c] && row[c] > kLowest) offer(first_unit + c, row[c], first_image + i, 0);
            }
        }
        return;
    }
    scratch_.resize(size_t(columns));
    for (index_t i = 0; i < images; ++i) {
        const float* image_rows = values + i * positions_ * ld;
        float* best = scratch_.data();
        std::fill(best, best + columns, kLowest);
        // Each column's maximum over positions (a plain max: NaN never
        // compares greater, so it never enters) ...
        for (index_t p = 0; p < positions_; ++p) {
            const float* row = image_rows + p * ld;
            for (index_t c = 0; c < columns; ++c) best[c] = row[c] > best[c] ? row[c] : best[c];
        }
        // ... and, only for the rare column whose maximum may enter, the
        // first position that holds it.
        const std::int64_t image = first_image + i;
        for (index_t c0 = 0; c0 < columns; c0 += kBlock) {
            const index_t n = std::min(kBlock, columns - c0);
            if (!any_can_enter(best + c0, threshold + c0, n)) continue;
            for (index_t c = c0; c < c0 + n; ++c) {
                if (!(best[c] >= threshold[c] && best[c] > kLowest)) continue;
                index_t p = 0;
                while (image_rows[p * ld + c] != best[c]) ++p;
                offer(first_unit + c, best[c], image, p);
            }
        }
    }
}

void TopKAccumulator::merge(const TopKAccumulator& other) {
    CVG_REQUIRE(other.units_ == units_ && other.k_ == k_ && other.positions_ == positions_, InvalidArgument,
                "top-k merge: the accumulators differ in units, k or positions");
    for (index_t u = 0; u < units_; ++u)
        for (std::int32_t j = 0; j < other.filled_[size_t(u)]; ++j) {
            const Entry& e = other.entries_[size_t(u * k_ + j)];
            offer(u, e.value, e.image, e.position);
        }
}

TopKAccumulator::Lists TopKAccumulator::lists() const {
    Lists out;
    out.images.assign(size_t(units_ * k_), -1);
    out.positions.assign(size_t(units_ * k_), -1);
    out.values.assign(size_t(units_ * k_), std::numeric_limits<float>::quiet_NaN());
    std::vector<Entry> unit_entries;
    for (index_t u = 0; u < units_; ++u) {
        unit_entries.assign(entries_.begin() + u * k_, entries_.begin() + u * k_ + filled_[size_t(u)]);
        std::sort(unit_entries.begin(), unit_entries.end(),
                  [](const Entry& a, const Entry& b) { return better(a.value, a.image, b); });
        for (size_t j = 0; j < unit_entries.size(); ++j) {
            const size_t at = size_t(u * k_) + j;
            out.images[at] = unit_entries[j].image;
            out.positions[at] = unit_entries[j].position;
            out.values[at] = unit_entries[j].value;
        }
    }
    return out;
}

namespace {

constexpr char kMagic[8] = {'C', 'V', 'G', 'T', 'O', 'P', 'K', '1'};

template <typename T>
void put(std::ostream& out, T v) {
    out.write(reinterpret_cast<const char*>(&v), sizeof v);  // little-endian hosts only (x86-64, aarch64)
}
template <typename T>
T get(std::istream& in, const std::string& what) {
    T v{};
    in.read(reinterpret_cast<char*>(&v), sizeof v);
    CVG_REQUIRE(in.good(), BadData, what + ": truncated top-k accumulator");
    return v;
}

}  // namespace

void TopKAccumulator::save(std::ostream& out) const {
    out.write(kMagic, sizeof kMagic);
    put<std::int64_t>(out, units_), put<std::int64_t>(out, k_), put<std::int64_t>(out, positions_);
    for (index_t u = 0; u < units_; ++u) {
        put<std::int32_t>(out, filled_[size_t(u)]);
        for (std::int32_t j = 0; j < filled_[size_t(u)]; ++j) {
            const Entry& e = entries_[size_t(u * k_ + j)];
            put<float>(out, e.value), put<std::int64_t>(out, e.image), put<std::int64_t>(out, e.position);
        }
    }
    CVG_REQUIRE(out.good(), Io, "top-k accumulator: write failed");
}

TopKAccumulator TopKAccumulator::load(std::istream& in, const std::string& what) {
    char magic[sizeof kMagic];
    in.read(magic, sizeof magic);
    CVG_REQUIRE(in.good() && std::equal(magic, magic + sizeof magic, kMagic), BadData,
                what + ": not a top-k accumulator");
    const index_t units = get<std::int64_t>(in, what), k = get<std::int64_t>(in, what),
                  positions = get<std::int64_t>(in, what);
    CVG_REQUIRE(units >= 1 && k >= 1 && positions >= 1 && units <= (index_t(1) << 40) && k <= (index_t(1) << 30),
                BadData, what + ": implausible top-k sizes");
    TopKAccumulator acc(units, k, positions);
    for (index_t u = 0; u < units; ++u) {
        const std::int32_t filled = get<std::int32_t>(in, what);
        CVG_REQUIRE(filled >= 0 && filled <= k, BadData, what + ": bad entry count");
        for (std::int32_t j = 0; j < filled; ++j) {
            const float v = get<float>(in, what);
            const std::int64_t image = get<std::int64_t>(in, what), position = get<std::int64_t>(in, what);
            CVG_REQUIRE(image >= 0 && position >= 0 && position < positions && !std::isnan(v), BadData,
                        what + ": bad top-k entry");
            acc.offer(u, v, image, position);
        }
    }
    return acc;
}

}  // namespace convergent
