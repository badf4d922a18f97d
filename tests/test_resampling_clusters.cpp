// Held-out scores of the clustering (resampling.hpp, cluster_holdout):
// clusters chosen on one half of the samples and scored on the other.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "convergent/backend.hpp"
#include "convergent/resampling.hpp"
#include "convergent/spectral_clustering.hpp"
#include "convergent/statistics.hpp"

using namespace convergent;

namespace {

// Two nets of `units` units each over `samples` rows: with planted groups,
// unit u of either net is its group's latent factor plus noise (groups of 4,
// the same in both nets); without, independent noise.
LayerStatistics statistics_of(index_t samples, index_t units, bool planted, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> g(0.0, 1.0);
    const index_t groups = units / 4, t = 2 * units;
    std::vector<float> x(size_t(samples * t));
    std::vector<double> latent(static_cast<size_t>(groups));
    for (index_t s = 0; s < samples; ++s) {
        for (double& l : latent) l = g(rng);
        for (index_t c = 0; c < t; ++c) {
            const double shared = planted ? latent[size_t((c % units) / 4)] : 0.0;
            x[size_t(s * t + c)] = float(shared + (planted ? 0.7 : 1.0) * g(rng));
        }
    }
    const auto backend = make_cpu_backend();
    MomentAccumulator acc({units, units});
    acc.push(*backend, x.data(), samples, t);
    return finalize_statistics(acc);
}

ClusteringOptions options() {
    ClusteringOptions o;
    o.tau = 0.05;  // keep the spurious edges of noise: the clusters then fit them
    o.k = 6;
    o.alpha = 0.2;  // leaves of up to 2 x 0.2 x 48 units: the planted groups (8 units) stay whole
    o.seed = 3;
    return o;
}

}  // namespace

TEST(ClusterHoldout, HeldOutBetweenNetSimilarityIsBelowInSampleOnNoise) {
    // Clusters chosen on noise group units whose sample correlations happen
    // to be high; on new samples those pairs are uncorrelated.
    const auto backend = make_cpu_backend();
    const LayerStatistics fit = statistics_of(200, 24, false, 1), score = statistics_of(200, 24, false, 2);
    const ClusterHoldout h = cluster_holdout(*backend, fit, score, 0, 1, options());
    ASSERT_FALSE(h.between_in_sample.empty());
    ASSERT_EQ(h.between_in_sample.size(), h.between_held_out.size());
    EXPECT_GT(ClusterHoldout::mean(h.between_in_sample), ClusterHoldout::mean(h.between_held_out) + 0.02);
    EXPECT_LT(std::fabs(ClusterHoldout::mean(h.between_held_out)), 0.05);
}

TEST(ClusterHoldout, PlantedGroupsScoreTheSameOnHeldOutSamples) {
    // Planted groups shared by both nets: the clusters are real, so their
    // similarities on new samples equal those on the fit samples up to noise.
    const auto backend = make_cpu_backend();
    const LayerStatistics fit = statistics_of(4000, 24, true, 5), score = statistics_of(4000, 24, true, 6);
    const ClusterHoldout h = cluster_holdout(*backend, fit, score, 0, 1, options());
    ASSERT_FALSE(h.between_in_sample.empty());
    const double in = ClusterHoldout::mean(h.between_in_sample), out = ClusterHoldout::mean(h.between_held_out);
    EXPECT_GT(in, 0.3);  // the planted correlation 1 / (1 + 0.49) within a group
    EXPECT_NEAR(in, out, 0.03);
    EXPECT_NEAR(ClusterHoldout::mean(h.within_in_sample), ClusterHoldout::mean(h.within_held_out), 0.03);
}

TEST(ClusterHoldout, ScoringOnTheFitPartGivesTheClusteringsOwnSimilarities) {
    const auto backend = make_cpu_backend();
    const LayerStatistics fit = statistics_of(500, 16, true, 9);
    const ClusterHoldout h = cluster_holdout(*backend, fit, fit, 0, 1, options());
    const ClusteringResult c = spectral_clustering(*backend, fit, 0, 1, options());
    std::vector<double> leaves;
    for (const ClusterNode& n : c.clusters)
        if (n.leaf) leaves.push_back(n.between_net_similarity);
    EXPECT_EQ(h.between_in_sample, leaves);
    EXPECT_EQ(h.between_held_out, leaves);
}
