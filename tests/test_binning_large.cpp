// Footnote 6 percentile binning on units with many values above the zero
// threshold (from 4,096 on, bin_units finds the order statistics by a
// histogram of each value's top bits instead of repeated nth_element, and
// assigns codes by counting the edges below each value, compared in float
// against each edge rounded down): the edges equal
// numpy.quantile(method="linear") of the values above the threshold,
// computed here from a full sort, and every code is the number of edges
// below the value plus one (numpy.searchsorted, side="left").
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

#include "convergent/mutual_information.hpp"

using namespace convergent;

namespace {

// numpy's _lerp operation order (numpy.quantile, method="linear").
double lerp(double a, double b, double t) {
    const double diff = b - a;
    return t >= 0.5 ? b - diff * (1.0 - t) : a + diff * t;
}

std::vector<double> quantile_edges(std::vector<float> above, int bins) {
    std::sort(above.begin(), above.end());
    const index_t m = index_t(above.size());
    std::vector<double> edges;
    for (int k = 1; k < bins; ++k) {
        const double h = double(m - 1) * (double(k) / double(bins));
        const double lo = std::floor(h);
        edges.push_back(h >= double(m - 1) ? double(above[size_t(m - 1)])
                                           : lerp(double(above[size_t(lo)]), double(above[size_t(lo) + 1]), h - lo));
    }
    return edges;
}

}  // namespace

TEST(BinningLarge, EdgesAndCodesEqualAFullSort) {
    const index_t samples = 70001, units = 6;
    std::mt19937 rng(3);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> values(size_t(samples * units));
    for (index_t s = 0; s < samples; ++s) {
        float* row = values.data() + s * units;
        row[0] = std::max(0.0f, normal(rng));                        // ReLU: half zeros, 35,000 above
        row[1] = std::exp(4.0f * normal(rng));                       // 2^-20 .. 2^20: many exponents
        row[2] = 1.0f + 1e-6f * float(rng() % 4);                    // four values: one bucket, ties
        row[3] = s % 3 == 0 ? 0.5f : std::abs(normal(rng)) + 0.25f;  // a third of the values tied
        row[4] = normal(rng);                                        // negative values (threshold below)
        row[5] = float(s % 40000) * 1e-3f;                           // a ramp, its first 30,001 values twice
    }
    // 20 bins (19 edges) and 40 (39 edges).
    for (const auto& [threshold, bins] : {std::pair<double, int>{1e-6, 20}, {-0.5, 20}, {1e-6, 40}}) {
        BinningOptions options;
        options.zero_threshold = threshold;
        options.bins = bins;
        const BinnedUnits binned = bin_units(values.data(), samples, units, units, options);
        for (index_t u = 0; u < units; ++u) {
            std::vector<float> above;
            for (index_t s = 0; s < samples; ++s)
                if (double(values[size_t(s * units + u)]) > threshold) above.push_back(values[size_t(s * units + u)]);
            ASSERT_GE(above.size(), 32768u) << "unit " << u << " must take the bucketed path";
            const std::vector<double> expected = quantile_edges(above, options.bins);
            EXPECT_EQ(binned.edges[size_t(u)], expected) << "unit " << u << ", threshold " << threshold << ", bins " << bins;
            for (index_t s = 0; s < samples; ++s) {
                const double v = double(values[size_t(s * units + u)]);
                const int code = v <= threshold ? 0
                                                : 1 + int(std::lower_bound(expected.begin(), expected.end(), v) -
                                                          expected.begin());
                ASSERT_EQ(int(binned.codes[size_t(u * samples + s)]), code)
                    << "unit " << u << ", sample " << s << ", threshold " << threshold << ", bins " << bins;
            }
        }
    }
}

// An edge between two adjacent floats a < b, nearer to b (numpy's lerp at
// 0.95 of the way): the edge is below b, so b's code counts it, and above a.
// Rounding the edge to the nearest float (b) instead of down (a) would put b
// in the lower bin.
TEST(BinningLarge, ValueJustAboveAnEdgeBetweenAdjacentFloats) {
    // 24 values above the threshold, 20 bins: edge 13 sits at position
    // 23 * 13 / 20 = 14.95, between the 15th and 16th smallest values.
    const index_t samples = 24;
    std::vector<float> values(static_cast<size_t>(samples));
    for (index_t s = 0; s < samples; ++s) values[size_t(s)] = 1.0f + float(s);
    values[15] = std::nextafter(values[14], 100.0f);
    BinningOptions options;
    options.bins = 20;
    const BinnedUnits binned = bin_units(values.data(), samples, 1, 1, options);
    const std::vector<double> expected = quantile_edges(values, options.bins);
    ASSERT_EQ(binned.edges[0], expected);
    ASSERT_GT(expected[12], double(values[14]));
    ASSERT_LT(expected[12], double(values[15]));
    ASSERT_EQ(double(float(expected[12])), double(values[15])) << "the edge must round to the upper float";
    for (index_t s = 0; s < samples; ++s) {
        const double v = double(values[size_t(s)]);
        const int code = 1 + int(std::lower_bound(expected.begin(), expected.end(), v) - expected.begin());
        EXPECT_EQ(int(binned.codes[size_t(s)]), code) << "sample " << s;
    }
    EXPECT_EQ(int(binned.codes[15]), int(binned.codes[14]) + 1);
}
