#include <gtest/gtest.h>

#include <cstdlib>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <vector>

#include "convergent/summary_json.hpp"
#include "convergent/spectral_clustering.hpp"
#include "convergent/statistics.hpp"
#include "statistics_test_support.hpp"

using namespace convergent;

namespace {

const double kPi = 3.14159265358979323846;

using statistics_test_support::stats_from_correlation;

// Planted structure: unit u of net n belongs to block block_of(n, u); units
// of the same block correlate at `inside`, others at `outside`.
LayerStatistics planted(index_t per_net, const std::vector<index_t>& block_a, const std::vector<index_t>& block_b,
                        double inside, double outside) {
    const index_t t = 2 * per_net;
    std::vector<double> c(static_cast<size_t>(t * t));
    const auto block = [&](index_t u) { return u < per_net ? block_a[size_t(u)] : block_b[size_t(u - per_net)]; };
    for (index_t i = 0; i < t; ++i)
        for (index_t j = 0; j < t; ++j)
            c[size_t(i * t + j)] = i == j ? 1.0 : block(i) == block(j) ? inside : outside;
    return stats_from_correlation({per_net, per_net}, c);
}

// Laplacian of a path graph with n vertices: eigenvalues 2 - 2 cos(pi j / n).
std::vector<double> path_laplacian(index_t n) {
    std::vector<double> w(size_t(n * n), 0.0);
    for (index_t i = 0; i + 1 < n; ++i) w[size_t(i * n + i + 1)] = w[size_t((i + 1) * n + i)] = 1.0;
    return graph_laplacian(w, n);
}

void check_eigensolve(const Backend& backend, const std::vector<double>& a, index_t n, index_t k,
                      const std::vector<double>& expected) {
    std::vector<double> values(static_cast<size_t>(k)), vectors(static_cast<size_t>(n * k));
    backend.symmetric_eigensolve_smallest(a.data(), n, k, values.data(), vectors.data());
    for (index_t j = 0; j < k; ++j) {
        EXPECT_NEAR(values[size_t(j)], expected[size_t(j)], 1e-11) << j;
        // Residual ||A v - lambda v|| and unit norm.
        double residual = 0.0, norm = 0.0;
        for (index_t i = 0; i < n; ++i) {
            double av = 0.0;
            for (index_t l = 0; l < n; ++l) av += a[size_t(i * n + l)] * vectors[size_t(j * n + l)];
            const double d = av - values[size_t(j)] * vectors[size_t(j * n + i)];
            residual += d * d;
            norm += vectors[size_t(j * n + i)] * vectors[size_t(j * n + i)];
        }
        EXPECT_LT(std::sqrt(residual), 1e-10) << j;
        EXPECT_NEAR(norm, 1.0, 1e-12) << j;
    }
}

std::vector<std::set<index_t>> leaf_sets(const ClusteringResult& r, index_t sa) {
    std::vector<std::set<index_t>> out;
    for (const ClusterNode& c : r.clusters) {
        if (!c.leaf) continue;
        std::set<index_t> s;
        for (index_t p : c.members_a) s.insert(p);
        for (index_t q : c.members_b) s.insert(sa + q);
        out.push_back(s);
    }
    return out;
}

}  // namespace

TEST(Eigensolve, CpuPathGraphSpectrum) {
    auto cpu = make_cpu_backend();
    const index_t n = 50, k = 7;
    std::vector<double> expected;
    for (index_t j = 0; j < k; ++j) expected.push_back(2.0 - 2.0 * std::cos(kPi * double(j) / double(n)));
    check_eigensolve(*cpu, path_laplacian(n), n, k, expected);
}

TEST(Eigensolve, CpuDiagonalAndFullRange) {
    auto cpu = make_cpu_backend();
    const index_t n = 6;
    std::vector<double> a(size_t(n * n), 0.0);
    const std::vector<double> diag = {3.0, -1.0, 2.5, 0.0, 7.0, -4.0};
    for (index_t i = 0; i < n; ++i) a[size_t(i * n + i)] = diag[size_t(i)];
    std::vector<double> sorted = diag;
    std::sort(sorted.begin(), sorted.end());
    check_eigensolve(*cpu, a, n, n, sorted);
    std::vector<double> v(1), vec(static_cast<size_t>(n));
    cpu->symmetric_eigensolve_smallest(a.data(), n, 1, v.data(), vec.data());
    EXPECT_EQ(std::fabs(vec[5]), 1.0);  // eigenvector of -4 is e_5
    EXPECT_THROW(cpu->symmetric_eigensolve_smallest(a.data(), n, n + 1, v.data(), vec.data()), Error);
    EXPECT_THROW(cpu->symmetric_eigensolve_smallest(a.data(), n, 0, v.data(), vec.data()), Error);
}

TEST(Eigensolve, CudaMatchesCpu) {
    std::string why;
    if (!cuda_device_available(&why)) GTEST_SKIP() << why;
    // The device solver itself, whatever the size crossover (cuda/src/crossovers.hpp).
    ::setenv("CONVERGENT_CUDA_MIN_EIGENSOLVE", "0", 1);
    auto cuda = make_backend(BackendKind::Cuda);
    ::unsetenv("CONVERGENT_CUDA_MIN_EIGENSOLVE");
    const index_t n = 200, k = 12;
    std::vector<double> expected;
    for (index_t j = 0; j < k; ++j) expected.push_back(2.0 - 2.0 * std::cos(kPi * double(j) / double(n)));
    check_eigensolve(*cuda, path_laplacian(n), n, k, expected);
    // Planted-block clustering gives the same clusters on both backends
    // (first level only: the sub-graphs of the planted cliques have highly
    // degenerate spectra, where any basis is correct and splits may differ).
    std::vector<index_t> ba, bb;
    for (index_t u = 0; u < 40; ++u) {
        ba.push_back(u / 5);
        bb.push_back((u + 2) / 5 % 8);
    }
    const LayerStatistics s = planted(40, ba, bb, 0.7, 0.05);
    ClusteringOptions opt;
    opt.k = 8;
    opt.hierarchical = false;
    auto cpu = make_cpu_backend();
    EXPECT_EQ(clustering_to_json(spectral_clustering(*cpu, s, 0, 1, opt), "a", "b")["clusters"].dump(),
              clustering_to_json(spectral_clustering(*cuda, s, 0, 1, opt), "a", "b")["clusters"].dump());
}

TEST(KMeans, SeparatedBlobsAndDeterminism) {
    std::mt19937 rng(1);
    std::normal_distribution<double> g(0.0, 0.05);
    const index_t per = 30, k = 4, dim = 2;
    const double centres[4][2] = {{0, 0}, {5, 0}, {0, 5}, {5, 5}};
    std::vector<double> x;
    for (index_t c = 0; c < k; ++c)
        for (index_t i = 0; i < per; ++i) {
            x.push_back(centres[c][0] + g(rng));
            x.push_back(centres[c][1] + g(rng));
        }
    KMeansOptions opt;
    opt.seed = 42;
    const KMeansResult a = kmeans(x.data(), per * k, dim, k, opt);
    const KMeansResult b = kmeans(x.data(), per * k, dim, k, opt);
    EXPECT_EQ(a.labels, b.labels);
    EXPECT_EQ(a.centres, b.centres);
    EXPECT_EQ(a.inertia, b.inertia);
    // Every blob is one cluster.
    for (index_t c = 0; c < k; ++c)
        for (index_t i = 1; i < per; ++i) EXPECT_EQ(a.labels[size_t(c * per + i)], a.labels[size_t(c * per)]);
    std::set<index_t> distinct(a.labels.begin(), a.labels.end());
    EXPECT_EQ(distinct.size(), size_t(k));
    EXPECT_LT(a.inertia, double(per * k) * 2 * 0.05 * 0.05 * 2);
    // More clusters than distinct points: still valid labels.
    const std::vector<double> same = {1.0, 1.0, 1.0, 1.0, 1.0, 1.0};
    const KMeansResult d = kmeans(same.data(), 3, 2, 2, opt);
    EXPECT_EQ(d.inertia, 0.0);
}

TEST(Eigengap, LargestGapAfterTheFirst) {
    EXPECT_EQ(eigengap_suggestion({0.0, 0.0, 0.0, 1.0, 1.1, 1.2}), 3);
    EXPECT_EQ(eigengap_suggestion({0.0, 0.5, 0.55, 0.6, 2.0}), 4);
    EXPECT_EQ(eigengap_suggestion({0.0, 3.0, 3.1, 3.2}), 2);  // the gap at k = 1 is skipped
    EXPECT_EQ(eigengap_suggestion({0.0}), 1);
}

TEST(SpectralClustering, GraphThresholdAndLaplacian) {
    const std::vector<double> c = {1, 0.5, 0.1, -0.6,  //
                                   0.5, 1, 0.3, 0.2,   //
                                   0.1, 0.3, 1, 0.25,  //
                                   -0.6, 0.2, 0.25, 1};
    const LayerStatistics s = stats_from_correlation({2, 2}, c);
    const std::vector<double> w = combined_similarity_graph(s, 0, 1, 0.2);
    const std::vector<double> expected = {0, 0.5, 0, 0, 0.5, 0, 0.3, 0.2, 0, 0.3, 0, 0.25, 0, 0.2, 0.25, 0};
    EXPECT_EQ(w, expected);
    const std::vector<double> l = graph_laplacian(w, 4);
    EXPECT_DOUBLE_EQ(l[1 * 4 + 1], 1.0);  // degree 0.5 + 0.3 + 0.2
    EXPECT_DOUBLE_EQ(l[1 * 4 + 2], -0.3);
    for (index_t i = 0; i < 4; ++i) {
        double row = 0.0;
        for (index_t j = 0; j < 4; ++j) row += l[size_t(i * 4 + j)];
        EXPECT_NEAR(row, 0.0, 1e-15);
    }
}

TEST(SpectralClustering, SimilarityMetricsHandExample) {
    // Net a units {0, 1, 2}, net b units {0, 1}; cluster a{0, 2} + b{0, 1}.
    const std::vector<double> c = {
        1, 0.2, 0.6, 0.5, 0.3,  //
        0.2, 1, 0.1, 0.0, 0.0,  //
        0.6, 0.1, 1, 0.7, 0.1,  //
        0.5, 0.0, 0.7, 1, 0.8,  //
        0.3, 0.0, 0.1, 0.8, 1};
    const LayerStatistics s = stats_from_correlation({3, 2}, c);
    ClusterNode node;
    node.members_a = {0, 2};
    node.members_b = {0, 1};
    cluster_similarity(s, 0, 1, node);
    EXPECT_NEAR(node.between_net_similarity, (0.5 + 0.3 + 0.7 + 0.1) / 4.0, 1e-15);
    EXPECT_NEAR(node.within_net_similarity, (0.6 + 0.8) / 2.0, 1e-15);
    node.members_b = {};
    cluster_similarity(s, 0, 1, node);
    EXPECT_EQ(node.between_net_similarity, 0.0);
    EXPECT_NEAR(node.within_net_similarity, 0.6, 1e-15);  // only net a has a pair
    node.members_a = {1};
    node.members_b = {1};
    cluster_similarity(s, 0, 1, node);
    EXPECT_EQ(node.between_net_similarity, 0.0);  // corr(a1, b1) = 0
    EXPECT_EQ(node.within_net_similarity, 0.0);   // no pairs at all
}

TEST(SpectralClustering, RecoversPlantedBlocks) {
    // 6 blocks across 2 nets of 24 units; block sizes differ between nets
    // (many-to-many), units interleaved so the order carries no information.
    const index_t per = 24;
    std::vector<index_t> ba(static_cast<size_t>(per)), bb(static_cast<size_t>(per));
    for (index_t u = 0; u < per; ++u) {
        ba[size_t(u)] = u % 6;
        bb[size_t(u)] = (u * 5 + 1) % 6;
    }
    const LayerStatistics s = planted(per, ba, bb, 0.6, 0.05);
    auto cpu = make_cpu_backend();
    ClusteringOptions opt;
    opt.k = 0;              // the eigengap must find 6
    opt.hierarchical = false;
    const ClusteringResult r = spectral_clustering(*cpu, s, 0, 1, opt);
    EXPECT_EQ(r.k_eigengap, 6);
    EXPECT_EQ(r.k, 6);
    EXPECT_NEAR(r.eigenvalues[0], 0.0, 1e-10);
    std::set<std::set<index_t>> expected;
    for (index_t b = 0; b < 6; ++b) {
        std::set<index_t> members;
        for (index_t u = 0; u < per; ++u) {
            if (ba[size_t(u)] == b) members.insert(u);
            if (bb[size_t(u)] == b) members.insert(per + u);
        }
        expected.insert(members);
    }
    const auto leaves = leaf_sets(r, per);
    EXPECT_EQ(std::set<std::set<index_t>>(leaves.begin(), leaves.end()), expected);
    for (const ClusterNode& c : r.clusters) {
        EXPECT_NEAR(c.between_net_similarity, 0.6, 1e-12);
        EXPECT_NEAR(c.within_net_similarity, 0.6, 1e-12);
    }
    // Permutation: a permutation, blocks contiguous (Fig. 13).
    std::vector<index_t> sorted = r.permutation;
    std::sort(sorted.begin(), sorted.end());
    for (index_t i = 0; i < 2 * per; ++i) EXPECT_EQ(sorted[size_t(i)], i);
    const auto block = [&](index_t v) { return v < per ? ba[size_t(v)] : bb[size_t(v - per)]; };
    index_t changes = 0;
    for (size_t i = 1; i < r.permutation.size(); ++i)
        changes += block(r.permutation[i]) != block(r.permutation[i - 1]);
    EXPECT_EQ(changes, 5);

    // Same seed: same output; JSON has exactly the schema's keys.
    const nlohmann::json j1 = clustering_to_json(r, "net1", "net2");
    const nlohmann::json j2 = clustering_to_json(spectral_clustering(*cpu, s, 0, 1, opt), "net1", "net2");
    EXPECT_EQ(j1.dump(), j2.dump());
    EXPECT_EQ(j1.size(), 11u);
    for (const char* key : {"tau", "alpha", "k", "k_eigengap", "seed", "eigenvalues", "clusters",
                            "leaves_by_similarity", "permutation", "sorted_between_net_similarity",
                            "sorted_within_net_similarity"})
        EXPECT_TRUE(j1.contains(key)) << key;
    EXPECT_EQ(j1["clusters"][0].size(), 7u);  // id parent depth leaf members between within
    EXPECT_TRUE(j1["clusters"][0]["members"].contains("net2"));
}

TEST(SpectralClustering, HierarchicalSplitRespectsSizeBound) {
    // Data with a few big groups of different strength, so first-level
    // clusters are far larger than 2 alpha S and must be split recursively.
    const index_t per = 60, n = 3000;
    std::mt19937 rng(11);
    std::normal_distribution<double> g(0.0, 1.0);
    std::vector<float> x(static_cast<size_t>(n * 2 * per));
    for (index_t i = 0; i < n; ++i) {
        double factors[4];
        for (double& f : factors) f = g(rng);
        for (index_t u = 0; u < 2 * per; ++u) {
            const index_t group = (u * 7) % 4;
            const double loading = 0.4 + 0.5 * double((u * 13) % 10) / 10.0;
            x[size_t(i * 2 * per + u)] = float(loading * factors[group] + 0.6 * g(rng));
        }
    }
    MomentAccumulator acc({per, per});
    auto cpu = make_cpu_backend();
    acc.push(*cpu, x.data(), n, 2 * per);
    const LayerStatistics s = finalize_statistics(acc);
    ClusteringOptions opt;
    opt.k = 4;
    opt.alpha = 0.05;  // bound 2 alpha S = 6
    opt.seed = 3;
    const ClusteringResult r = spectral_clustering(*cpu, s, 0, 1, opt);
    const double bound = 2.0 * opt.alpha * double(per);
    index_t leaves = 0, covered = 0;
    for (const ClusterNode& c : r.clusters) {
        const double size = double(c.members_a.size() + c.members_b.size());
        if (c.leaf) {
            ++leaves;
            covered += index_t(size);
            EXPECT_LE(size, std::max(bound, double(opt.min_leaf_size))) << c.id;
        } else {
            // Children partition the parent.
            size_t child_total = 0;
            for (index_t ch : c.children) {
                EXPECT_EQ(r.clusters[size_t(ch)].parent, c.id);
                EXPECT_EQ(r.clusters[size_t(ch)].depth, c.depth + 1);
                child_total += r.clusters[size_t(ch)].members_a.size() + r.clusters[size_t(ch)].members_b.size();
            }
            EXPECT_EQ(child_total, c.members_a.size() + c.members_b.size());
            EXPECT_GT(size, bound);
        }
    }
    EXPECT_EQ(covered, 2 * per);
    EXPECT_GT(leaves, index_t(2 * per / 6) - 1);
    EXPECT_EQ(index_t(r.leaves_by_similarity.size()), leaves);
    EXPECT_TRUE(std::is_sorted(r.sorted_between_net_similarity.rbegin(), r.sorted_between_net_similarity.rend()));
}

TEST(SpectralClustering, DeadUnitsAreLeftOutAndPermutedLast) {
    std::vector<index_t> ba = {0, 0, 1, 1}, bb = {1, 0, 1, 0};
    LayerStatistics s = planted(4, ba, bb, 0.8, 0.0);
    // Unit 3 of net b is dead: correlation 0 everywhere.
    s.dead[7] = 1;
    for (index_t i = 0; i < 8; ++i) s.correlation[size_t(7 * 8 + i)] = s.correlation[size_t(i * 8 + 7)] = 0.0;
    auto cpu = make_cpu_backend();
    ClusteringOptions opt;
    opt.k = 2;
    opt.hierarchical = false;
    const ClusteringResult r = spectral_clustering(*cpu, s, 0, 1, opt);
    EXPECT_EQ(r.permutation.back(), 7);
    EXPECT_EQ(r.permutation.size(), 8u);
    const auto leaves = leaf_sets(r, 4);
    const std::set<std::set<index_t>> expected = {{0, 1, 5}, {2, 3, 4, 6}};
    EXPECT_EQ(std::set<std::set<index_t>>(leaves.begin(), leaves.end()), expected);
}

TEST(SpectralClustering, PaperRatioIsTheDefaultK) {
    // Sec. 4.3 / Fig. 13: k = 40 for 96-unit conv1 and 100 for 256-unit
    // layers, i.e. about 0.4 x units per net.
    EXPECT_EQ(convergent::paper_cluster_k(96, 96), 38);
    EXPECT_EQ(convergent::paper_cluster_k(256, 256), 102);
    EXPECT_EQ(convergent::paper_cluster_k(2, 1), 2);
    EXPECT_EQ(convergent::ClusteringOptions{}.k, -1);
}
