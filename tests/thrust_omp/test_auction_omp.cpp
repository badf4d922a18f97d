// The CUDA backend's certified epsilon-scaling auction, run on the CPU
// through the OMP device system, against the exact Jonker-Volgenant solver.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "convergent/jonker_volgenant.hpp"
#include "thrust_omp_auction.hpp"

using namespace convergent;

namespace {

double total(const std::vector<double>& w, index_t cols, const Assignment& a) {
    double s = 0.0;
    std::set<index_t> used;
    for (size_t i = 0; i < a.column.size(); ++i) {
        const index_t j = a.column[i];
        if (j < 0) continue;
        EXPECT_TRUE(used.insert(j).second) << "column " << j << " used twice";
        s += w[i * size_t(cols) + size_t(j)];
    }
    return s;
}

// Auction == JV in total, certificate within tolerance, and (unless
// allow_fallback) the auction itself certified the result.
void expect_matches_jv(const std::vector<double>& w, index_t rows, index_t cols,
                       bool allow_fallback = false) {
    const Assignment a = thrust_omp::auction_max_weight(w.data(), rows, cols, cols);
    const Assignment jv = jonker_volgenant_max_weight(w.data(), rows, cols, cols);
    ASSERT_EQ(index_t(a.column.size()), rows);
    index_t matched = 0;
    for (index_t j : a.column) matched += j >= 0;
    EXPECT_EQ(matched, std::min(rows, cols));
    const double scale = std::max(1.0, std::abs(jv.primal));
    EXPECT_NEAR(total(w, cols, a), a.primal, 1e-12 * scale);
    EXPECT_NEAR(a.primal, jv.primal, 1e-9 * scale) << rows << "x" << cols;
    EXPECT_GE(a.dual_bound, jv.primal - 1e-9 * scale);  // a valid upper bound
    EXPECT_LE(a.gap, 1e-9 * std::max(std::abs(a.primal), std::abs(a.dual_bound)));
    EXPECT_DOUBLE_EQ(a.gap, a.dual_bound - a.primal);
    if (!allow_fallback) EXPECT_EQ(a.solver, "auction") << rows << "x" << cols;
}

std::vector<double> matrix(index_t rows, index_t cols, std::mt19937_64& rng, int kind) {
    std::vector<double> w(size_t(rows * cols));
    std::uniform_real_distribution<double> u(0.0, 1.0);
    std::uniform_int_distribution<int> small(0, 3);
    for (index_t i = 0; i < rows; ++i)
        for (index_t j = 0; j < cols; ++j) {
            double& x = w[size_t(i * cols + j)];
            switch (kind) {
                case 0: x = u(rng); break;                        // random
                case 1: x = double(small(rng)); break;            // tie-heavy integers 0..3
                case 2: x = 0.5; break;                           // all equal
                case 3: x = double((i / 8 + j / 8) % 3); break;   // block-constant
                default: x = 2.0 * u(rng) - 1.0; break;           // signed
            }
        }
    return w;
}

}  // namespace

TEST(ThrustOmpAuction, SquareEqualsJonkerVolgenant) {
    std::mt19937_64 rng(1);
    for (index_t n : {1, 2, 7, 40, 100})
        for (int kind = 0; kind < 5; ++kind) expect_matches_jv(matrix(n, n, rng, kind), n, n);
}

TEST(ThrustOmpAuction, RectangularEqualsJonkerVolgenant) {
    std::mt19937_64 rng(2);
    for (auto [rows, cols] : {std::pair<index_t, index_t>{30, 50}, {50, 30}, {1, 9}, {9, 1}, {60, 61}})
        for (int kind = 0; kind < 5; ++kind) expect_matches_jv(matrix(rows, cols, rng, kind), rows, cols);
}

TEST(ThrustOmpAuction, CorrelationLikeEqualsJonkerVolgenant) {
    // Between-net correlations of noisy read-outs of shared latent factors.
    std::mt19937_64 rng(3);
    std::normal_distribution<double> g;
    const index_t n = 150, k = 20;
    std::vector<double> a(size_t(n * k)), b(size_t(n * k));
    for (double& x : a) x = g(rng);
    for (index_t i = 0; i < n; ++i)
        for (index_t t = 0; t < k; ++t)
            b[size_t(i * k + t)] = (i % 3 ? a[size_t(((i * 7) % n) * k + t)] : 0.0) + 0.5 * g(rng);
    std::vector<double> w(size_t(n * n));
    for (index_t i = 0; i < n; ++i)
        for (index_t j = 0; j < n; ++j) {
            double ab = 0, aa = 0.25, bb = 0.25;
            for (index_t t = 0; t < k; ++t) {
                ab += a[size_t(i * k + t)] * b[size_t(j * k + t)];
                aa += a[size_t(i * k + t)] * a[size_t(i * k + t)];
                bb += b[size_t(j * k + t)] * b[size_t(j * k + t)];
            }
            w[size_t(i * n + j)] = ab / std::sqrt(aa * bb);
        }
    expect_matches_jv(w, n, n);
}

TEST(ThrustOmpAuction, RoundCapFallsBackToExactSolver) {
    std::mt19937_64 rng(4);
    const index_t n = 40;
    const std::vector<double> w = matrix(n, n, rng, 0);
    AuctionOptions capped;
    capped.max_rounds = 1;
    const Assignment a = thrust_omp::auction_max_weight(w.data(), n, n, n, capped);
    EXPECT_EQ(a.solver, "auction+jonker-volgenant");
    const Assignment jv = jonker_volgenant_max_weight(w.data(), n, n, n);
    EXPECT_DOUBLE_EQ(a.primal, jv.primal);
    EXPECT_EQ(a.column, jv.column);

    AuctionOptions forced;
    forced.force_fallback = true;
    EXPECT_EQ(thrust_omp::auction_max_weight(w.data(), n, n, n, forced).solver, "auction+jonker-volgenant");
}

TEST(ThrustOmpAuction, ZeroTolerancePolicyNeverReturnsUncertifiedResult) {
    // With tolerance 0 the rounded-integer auction's (tiny, nonzero) gap on
    // random doubles is rejected: the result must come from the fallback and
    // still be optimal.
    std::mt19937_64 rng(5);
    const index_t n = 50;
    const std::vector<double> w = matrix(n, n, rng, 0);
    AuctionOptions strict;
    strict.tolerance = 0.0;
    const Assignment a = thrust_omp::auction_max_weight(w.data(), n, n, n, strict);
    const Assignment jv = jonker_volgenant_max_weight(w.data(), n, n, n);
    EXPECT_NEAR(a.primal, jv.primal, 1e-12 * jv.primal);
    if (a.solver == "auction") EXPECT_LE(a.gap, 0.0);
}

TEST(ThrustOmpAuction, RejectsNonFiniteWeights) {
    std::vector<double> w = {1.0, NAN, 0.0, 1.0};
    EXPECT_THROW(thrust_omp::auction_max_weight(w.data(), 2, 2, 2), Error);
}
