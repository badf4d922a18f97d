#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "convergent/summary_json.hpp"
#include "convergent/mean_activation.hpp"

using namespace convergent;

namespace {
LayerStatistics stats_with_means(const std::vector<std::vector<double>>& means) {
    LayerStatistics s;
    index_t off = 0;
    for (const auto& m : means) {
        s.block_widths.push_back(index_t(m.size()));
        s.block_offsets.push_back(off);
        off += index_t(m.size());
        s.mean.insert(s.mean.end(), m.begin(), m.end());
    }
    s.stddev.assign(size_t(off), 1.0);
    s.dead.assign(size_t(off), 0);
    return s;
}
}  // namespace

TEST(MeanActivation, HandExample) {
    // net1 {1, 3, 2} -> sorted {3, 2, 1}; net2 {0.5, 2.5, 1.5} -> {2.5, 1.5, 0.5}: RMS 0.5.
    // net3 has 5 units on the same curve as net1: the quantile-interpolated
    // curves coincide, distance 0.
    const LayerStatistics s = stats_with_means({{1, 3, 2}, {0.5, 2.5, 1.5}, {2, 3, 1, 2.5, 1.5}});
    const nlohmann::json j = mean_activation_json(s, {"net1", "net2", "net3"});
    EXPECT_EQ(j.size(), 4u);
    EXPECT_EQ(j["sorted_means"]["net1"], nlohmann::json({3.0, 2.0, 1.0}));
    EXPECT_EQ(j["sorted_means"]["net3"], nlohmann::json({3.0, 2.5, 2.0, 1.5, 1.0}));
    EXPECT_NEAR(j["between_net_distance"]["net1~net2"].get<double>(), 0.5, 1e-15);
    EXPECT_NEAR(j["between_net_distance"]["net1~net3"].get<double>(), 0.0, 1e-15);
    // net2 vs net3: net2 interpolated to 5 points {2.5, 2, 1.5, 1, 0.5}: all differ by 0.5.
    EXPECT_NEAR(j["between_net_distance"]["net2~net3"].get<double>(), 0.5, 1e-15);
    const double sd3 = std::sqrt(2.0 / 3.0), sd5 = std::sqrt(0.5);
    EXPECT_NEAR(j["within_net_spread"]["net1"].get<double>(), sd3, 1e-15);
    EXPECT_NEAR(j["within_net_spread"]["net3"].get<double>(), sd5, 1e-15);
    EXPECT_NEAR(j["distance_to_spread_ratio"].get<double>(), (1.0 / 3.0) / ((2 * sd3 + sd5) / 3.0), 1e-14);
}

TEST(MeanActivation, QuantileCurveAndEdgeCases) {
    EXPECT_EQ(quantile_curve({4.0, 2.0}, 3), (std::vector<double>{4.0, 3.0, 2.0}));
    EXPECT_EQ(quantile_curve({7.0}, 3), (std::vector<double>{7.0, 7.0, 7.0}));
    const LayerStatistics one = stats_with_means({{1.0, 1.0}});
    const nlohmann::json j = mean_activation_json(one, {"only"});
    EXPECT_TRUE(j["distance_to_spread_ratio"].is_null());
    EXPECT_TRUE(j["between_net_distance"].empty());
    EXPECT_THROW(mean_activation_json(one, {"a", "b"}), Error);
}
