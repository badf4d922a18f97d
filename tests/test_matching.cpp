// Sec. 3.1 semi-matching, max-weight matching (JV), Table 1 overlap, Fig. 1d
// / Fig. 3 orders and cycle consistency.
#include <gtest/gtest.h>

#include <cstdlib>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "convergent/summary_json.hpp"
#include "convergent/backend.hpp"
#include "convergent/jonker_volgenant.hpp"
#include "convergent/matching.hpp"

using namespace convergent;

namespace {

// Best total over all injective row -> column maps (rows <= cols) or
// column -> row maps (rows > cols), by enumerating permutations.
double brute_force_optimum(const std::vector<double>& w, index_t rows, index_t cols) {
    const index_t k = std::min(rows, cols), big = std::max(rows, cols);
    std::vector<index_t> perm(static_cast<size_t>(big));
    std::iota(perm.begin(), perm.end(), index_t(0));
    double best = -std::numeric_limits<double>::infinity();
    do {
        double s = 0.0;
        for (index_t t = 0; t < k; ++t)
            s += rows <= cols ? w[size_t(t * cols + perm[size_t(t)])] : w[size_t(perm[size_t(t)] * cols + t)];
        best = std::max(best, s);
    } while (std::next_permutation(perm.begin(), perm.end()));
    return best;
}

void expect_valid(const Assignment& a, const std::vector<double>& w, index_t rows, index_t cols) {
    ASSERT_EQ(index_t(a.column.size()), rows);
    std::set<index_t> used;
    index_t matched = 0;
    double total = 0.0;
    for (index_t i = 0; i < rows; ++i) {
        const index_t j = a.column[size_t(i)];
        if (j < 0) continue;
        ASSERT_LT(j, cols);
        EXPECT_TRUE(used.insert(j).second) << "column " << j << " used twice";
        total += w[size_t(i * cols + j)];
        ++matched;
    }
    EXPECT_EQ(matched, std::min(rows, cols));
    EXPECT_NEAR(total, a.primal, 1e-12 * (1.0 + std::abs(total)));
}

std::vector<double> random_matrix(index_t rows, index_t cols, std::mt19937_64& rng, bool ties) {
    std::vector<double> w(size_t(rows * cols));
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    std::uniform_int_distribution<int> small(0, 3);
    for (double& x : w) x = ties ? double(small(rng)) : u(rng);
    return w;
}

}  // namespace

TEST(SemiMatching, RowArgmaxTiesTakeLowestColumn) {
    const std::vector<double> s = {0.2, 0.7, 0.7, -1.0,   // tie 1 vs 2 -> 1
                                   0.5, 0.5, 0.5, 0.5,    // all tied -> 0
                                   -3.0, -2.0, -5.0, -2.5};
    const SemiMatching m = semi_matching(s.data(), 3, 4, 4);
    EXPECT_EQ(m.column, (std::vector<index_t>{1, 0, 1}));
    EXPECT_EQ(m.value, (std::vector<double>{0.7, 0.5, -2.0}));
    EXPECT_DOUBLE_EQ(m.mean, (0.7 + 0.5 - 2.0) / 3.0);
}

TEST(SemiMatching, HonoursLeadingDimensionAndRejectsNaN) {
    std::vector<double> s = {1.0, 2.0, 99.0, 3.0, 0.0, 99.0};  // 2 x 2, ld 3
    const SemiMatching m = semi_matching(s.data(), 2, 2, 3);
    EXPECT_EQ(m.column, (std::vector<index_t>{1, 0}));
    s[0] = s[1] = std::numeric_limits<double>::quiet_NaN();
    try {
        semi_matching(s.data(), 2, 2, 3);
        FAIL() << "NaN accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::BadData);
    }
}

TEST(JonkerVolgenant, OptimalOnAllSmallSquareMatricesByBruteForce) {
    std::mt19937_64 rng(11);
    for (index_t n = 1; n <= 7; ++n)
        for (int trial = 0; trial < 12; ++trial) {
            const bool ties = trial % 2 == 1;
            const std::vector<double> w = random_matrix(n, n, rng, ties);
            const Assignment a = jonker_volgenant_max_weight(w.data(), n, n, n);
            expect_valid(a, w, n, n);
            const double opt = brute_force_optimum(w, n, n);
            EXPECT_NEAR(a.primal, opt, 1e-12) << "n=" << n << " trial " << trial;
            EXPECT_EQ(a.solver, "jonker-volgenant");
            EXPECT_GE(a.dual_bound, opt - 1e-12);  // a valid upper bound
            EXPECT_NEAR(a.gap, 0.0, 1e-12);
            EXPECT_DOUBLE_EQ(a.gap, a.dual_bound - a.primal);
        }
}

TEST(JonkerVolgenant, RectangularBothWaysByBruteForce) {
    std::mt19937_64 rng(5);
    const std::pair<index_t, index_t> shapes[] = {{1, 5}, {2, 6}, {3, 7}, {5, 7}, {6, 4}, {7, 3}, {5, 1}, {7, 6}};
    for (auto [rows, cols] : shapes)
        for (int trial = 0; trial < 6; ++trial) {
            const std::vector<double> w = random_matrix(rows, cols, rng, trial % 3 == 2);
            const Assignment a = jonker_volgenant_max_weight(w.data(), rows, cols, cols);
            expect_valid(a, w, rows, cols);
            const double opt = brute_force_optimum(w, rows, cols);
            EXPECT_NEAR(a.primal, opt, 1e-12) << rows << "x" << cols << " trial " << trial;
            EXPECT_GE(a.dual_bound, opt - 1e-12);
            EXPECT_NEAR(a.gap, 0.0, 1e-12);
            if (rows > cols)
                EXPECT_EQ(std::count(a.column.begin(), a.column.end(), index_t(-1)), rows - cols);
        }
}

TEST(JonkerVolgenant, RectangularPrefersNegativeColumnsOverNone) {
    // scipy semantics: rows <= cols matches every row even when all weights
    // are negative; the certificate must still bound the optimum (-1 + -2).
    const std::vector<double> w = {-1.0, -5.0, -9.0, -9.0, -2.0, -7.0};
    const Assignment a = jonker_volgenant_max_weight(w.data(), 2, 3, 3);
    EXPECT_EQ(a.column, (std::vector<index_t>{0, 1}));
    EXPECT_DOUBLE_EQ(a.primal, -3.0);
    EXPECT_NEAR(a.dual_bound, -3.0, 1e-12);
}

TEST(JonkerVolgenant, LargerTieHeavyAndConstantMatricesCertified) {
    std::mt19937_64 rng(3);
    for (index_t n : {64, 300}) {
        std::vector<double> ties = random_matrix(n, n, rng, true);
        std::vector<double> constant(size_t(n * n), 0.25);
        std::vector<double> block(size_t(n * n));
        for (index_t i = 0; i < n; ++i)
            for (index_t j = 0; j < n; ++j) block[size_t(i * n + j)] = double((i / 16 + j / 16) % 3);
        for (const auto* w : {&ties, &constant, &block}) {
            const Assignment a = jonker_volgenant_max_weight(w->data(), n, n, n);
            expect_valid(a, *w, n, n);
            EXPECT_LE(std::abs(a.gap), 1e-9 * std::abs(a.primal) + 1e-12);
        }
        const Assignment c = jonker_volgenant_max_weight(constant.data(), n, n, n);
        EXPECT_DOUBLE_EQ(c.primal, 0.25 * double(n));
    }
}

TEST(JonkerVolgenant, EmptyAndInvalidInput) {
    const Assignment a = jonker_volgenant_max_weight(nullptr, 3, 0, 0);
    EXPECT_EQ(a.column, (std::vector<index_t>{-1, -1, -1}));
    EXPECT_EQ(a.primal, 0.0);
    const std::vector<double> w = {1.0, std::numeric_limits<double>::infinity(), 0.0, 1.0};
    EXPECT_THROW(jonker_volgenant_max_weight(w.data(), 2, 2, 2), Error);
    EXPECT_THROW(jonker_volgenant_max_weight(w.data(), 2, 2, 1), Error);
}

TEST(Alignment, TableOneFigureThreeAndFigureOneD) {
    // Rows: units of net 1; cols: units of net 2.
    const std::vector<double> s = {0.0, 0.0, 0.5,
                                   0.9, 0.8, 0.0,
                                   0.85, 0.1, 0.0};
    const auto cpu = make_cpu_backend();
    const Alignment a = align(*cpu, s.data(), 3, 3);
    EXPECT_EQ(a.semi.column, (std::vector<index_t>{2, 0, 0}));
    EXPECT_DOUBLE_EQ(a.semi.mean, (0.5 + 0.9 + 0.85) / 3.0);
    // Rows 1 and 2 both want column 0; the matching gives row 1 column 1.
    EXPECT_EQ(a.matching.column, (std::vector<index_t>{2, 1, 0}));
    EXPECT_DOUBLE_EQ(a.matching.mean, (0.5 + 0.8 + 0.85) / 3.0);
    EXPECT_LE(a.matching.mean, a.semi.mean);  // footnote 5
    EXPECT_DOUBLE_EQ(a.overlap_ratio, 2.0 / 3.0);
    EXPECT_EQ(a.fig3_order, (std::vector<index_t>{1, 2, 0}));
    EXPECT_EQ(a.matched_order, (std::vector<index_t>{2, 1, 0}));
    EXPECT_EQ(a.matching.certificate.solver, "jonker-volgenant");

    const std::vector<double> m = matched_order_matrix(s.data(), 3, 3, a);
    for (index_t i = 0; i < 3; ++i) EXPECT_EQ(m[size_t(i * 3 + i)], a.matching.value[size_t(i)]);

    const nlohmann::json j = alignment_to_json(a);
    std::set<std::string> keys;
    for (auto it = j.begin(); it != j.end(); ++it) keys.insert(it.key());
    EXPECT_EQ(keys, (std::set<std::string>{"semi_matching", "semi_matching_values", "semi_matching_mean",
                                           "matching", "matching_values", "matching_mean", "overlap_ratio",
                                           "fig3_order", "fig3_semi_matching", "fig3_matching",
                                           "matched_order", "solver"}));
    EXPECT_EQ(j["fig3_semi_matching"], (nlohmann::json{0.9, 0.85, 0.5}));
    EXPECT_EQ(j["fig3_matching"], (nlohmann::json{0.8, 0.85, 0.5}));
    EXPECT_EQ(j["solver"]["name"], "jonker-volgenant");
    EXPECT_DOUBLE_EQ(j["solver"]["primal"].get<double>(), 2.15);
}

TEST(Alignment, MatchedOrderDiagonalRectangular) {
    std::mt19937_64 rng(9);
    const auto cpu = make_cpu_backend();
    for (auto [rows, cols] : {std::pair<index_t, index_t>{6, 6}, {4, 9}, {9, 4}}) {
        const std::vector<double> s = random_matrix(rows, cols, rng, false);
        const Alignment a = align(*cpu, s.data(), rows, cols);
        ASSERT_EQ(index_t(a.matched_order.size()), cols);
        EXPECT_EQ(std::set<index_t>(a.matched_order.begin(), a.matched_order.end()).size(), size_t(cols));
        const std::vector<double> m = matched_order_matrix(s.data(), rows, cols, a);
        if (rows <= cols) {
            for (index_t i = 0; i < rows; ++i) EXPECT_EQ(m[size_t(i * cols + i)], a.matching.value[size_t(i)]);
        } else {
            // Unmatched rows: NaN in C++, null in JSON; mean over matched rows.
            index_t unmatched = 0;
            for (double v : a.matching.value) unmatched += std::isnan(v);
            EXPECT_EQ(unmatched, rows - cols);
            const nlohmann::json j = alignment_to_json(a);
            index_t nulls = 0;
            for (const auto& v : j["matching_values"]) nulls += v.is_null();
            EXPECT_EQ(nulls, rows - cols);
            EXPECT_NO_THROW((void)j.dump());
        }
    }
}

namespace {

// Alignment of nets a and b whose units correspond by `map` (unit u of a <->
// unit map[u] of b): similarity 0.9 on the correspondence, noise < 0.3 elsewhere.
Alignment permutation_alignment(const std::vector<index_t>& map, std::mt19937_64& rng) {
    const index_t n = index_t(map.size());
    std::uniform_real_distribution<double> noise(0.0, 0.3);
    std::vector<double> s(size_t(n * n));
    for (double& x : s) x = noise(rng);
    for (index_t u = 0; u < n; ++u) s[size_t(u * n + map[size_t(u)])] = 0.9;
    return align(*make_cpu_backend(), s.data(), n, n);
}

std::vector<index_t> compose(const std::vector<index_t>& first, const std::vector<index_t>& second) {
    std::vector<index_t> r(first.size());
    for (size_t u = 0; u < first.size(); ++u) r[u] = second[size_t(first[u])];
    return r;
}

}  // namespace

TEST(CycleConsistency, ThreeNetsCoreAndRareUnits) {
    std::mt19937_64 rng(21);
    const index_t n = 8;
    const std::vector<index_t> p01 = {3, 0, 6, 1, 7, 2, 5, 4}, p12 = {5, 7, 0, 2, 1, 6, 4, 3};
    std::vector<index_t> p02 = compose(p01, p12);
    std::swap(p02[0], p02[1]);  // units 0 and 1 of net 0 are matched inconsistently
    std::vector<Alignment> pairs = {permutation_alignment(p01, rng), permutation_alignment(p12, rng),
                                    permutation_alignment(p02, rng)};
    const AlignmentLookup lookup = [&](int a, int b) -> const Alignment& {
        EXPECT_LT(a, b);
        return pairs[size_t(a == 0 && b == 1 ? 0 : (a == 1 ? 1 : 2))];
    };
    const CycleConsistency c = cycle_consistency(3, lookup);
    EXPECT_EQ(c.units, n);
    EXPECT_EQ(c.triangles, 1);
    EXPECT_EQ(c.rare_units, (std::vector<index_t>{0, 1}));
    EXPECT_EQ(c.core_units, (std::vector<index_t>{2, 3, 4, 5, 6, 7}));
    EXPECT_EQ(c.cycle_end[0], 1);
    EXPECT_EQ(c.cycle_end[1], 0);
    EXPECT_EQ(c.cycle_end[5], 5);
    EXPECT_EQ(c.triangle_return_fraction[0], 0.0);
    EXPECT_EQ(c.triangle_return_fraction[7], 1.0);

    const nlohmann::json j = cycle_consistency_json({"net1", "net2", "net3"}, lookup);
    EXPECT_EQ(j["cycle"], (nlohmann::json{"net1", "net2", "net3", "net1"}));
    EXPECT_EQ(j["reference"], "net1");
    EXPECT_EQ(j["rare_units"], (nlohmann::json{0, 1}));
    EXPECT_EQ(j["cycle_returns"][0], false);
    EXPECT_EQ(j["cycle_returns"][2], true);
    EXPECT_DOUBLE_EQ(j["core_fraction"].get<double>(), 6.0 / 8.0);
    EXPECT_DOUBLE_EQ(j["cycle_return_fraction"].get<double>(), 6.0 / 8.0);
}

TEST(CycleConsistency, FourNetsTriangleFractions) {
    std::mt19937_64 rng(4);
    const index_t n = 6;
    // Net k's unit u is unit (u + k) mod n; pair (2, 3) swaps two units of net 2.
    auto shift = [&](int a, int b) {
        std::vector<index_t> m(static_cast<size_t>(n));
        for (index_t u = 0; u < n; ++u) m[size_t(u)] = (u + b - a + n) % n;
        return m;
    };
    std::vector<index_t> p23 = shift(2, 3);
    std::swap(p23[2], p23[4]);  // net-2 units 2 and 4 <-> net-0 units 0 and 2
    std::vector<std::vector<Alignment>> pairs(4, std::vector<Alignment>(4));
    for (int a = 0; a < 4; ++a)
        for (int b = a + 1; b < 4; ++b)
            pairs[size_t(a)][size_t(b)] = permutation_alignment(a == 2 && b == 3 ? p23 : shift(a, b), rng);
    const CycleConsistency c = cycle_consistency(4, [&](int a, int b) -> const Alignment& {
        return pairs[size_t(a)][size_t(b)];
    });
    EXPECT_EQ(c.triangles, 3);  // (1,2), (1,3), (2,3)
    // Units 0 and 2 of net 0 fail only the triangle 0 -> 2 -> 3 -> 0 and the full cycle.
    EXPECT_DOUBLE_EQ(c.triangle_return_fraction[0], 2.0 / 3.0);
    EXPECT_DOUBLE_EQ(c.triangle_return_fraction[2], 2.0 / 3.0);
    EXPECT_DOUBLE_EQ(c.triangle_return_fraction[1], 1.0);
    EXPECT_EQ(c.rare_units, (std::vector<index_t>{0, 2}));
    EXPECT_FALSE(c.cycle_returns[0]);
    EXPECT_TRUE(c.cycle_returns[1]);
    EXPECT_THROW(cycle_consistency(2, [&](int, int) -> const Alignment& { return pairs[0][1]; }), Error);
}

TEST(MaxWeightMatching, CudaBackendEqualsCpu) {
    std::string why;
    if (!cuda_device_available(&why)) GTEST_SKIP() << "no CUDA device: " << why;
    // The device solver itself, whatever the size crossover (cuda/src/crossovers.hpp).
    ::setenv("CONVERGENT_CUDA_MIN_ASSIGNMENT", "0", 1);
    const auto gpu = make_backend(BackendKind::Cuda);
    ::unsetenv("CONVERGENT_CUDA_MIN_ASSIGNMENT");
    const auto cpu = make_cpu_backend();
    std::mt19937_64 rng(2);
    for (auto [rows, cols] : {std::pair<index_t, index_t>{200, 200}, {150, 230}, {230, 150}}) {
        for (bool ties : {false, true}) {
            const std::vector<double> w = random_matrix(rows, cols, rng, ties);
            const Assignment g = gpu->max_weight_assignment(w.data(), rows, cols, cols);
            const Assignment c = cpu->max_weight_assignment(w.data(), rows, cols, cols);
            expect_valid(g, w, rows, cols);
            EXPECT_NEAR(g.primal, c.primal, 1e-9 * std::abs(c.primal));
            EXPECT_LE(g.gap, 1e-9 * std::max(std::abs(g.primal), std::abs(g.dual_bound)));
            EXPECT_TRUE(g.solver == "auction" || g.solver == "auction+jonker-volgenant") << g.solver;
        }
    }
}

TEST(Align, DeadUnitsTakeNoPartInTheMatching) {
    // 3 x 3 similarity; row 1 and column 0 are dead (zero variance).
    const std::vector<double> s = {0.0, 0.9, 0.2,   //
                                   0.0, 0.0, 0.0,   //
                                   0.0, 0.8, 0.7};
    auto backend = convergent::make_cpu_backend();
    const convergent::Alignment a =
        convergent::align(*backend, s.data(), 3, 3, {0, 1, 0}, {1, 0, 0});
    EXPECT_EQ(a.semi.column, (std::vector<convergent::index_t>{1, -1, 1}));
    EXPECT_EQ(a.matching.column, (std::vector<convergent::index_t>{1, -1, 2}));
    EXPECT_TRUE(std::isnan(a.semi.value[1]));
    EXPECT_DOUBLE_EQ(a.semi.mean, (0.9 + 0.8) / 2);
    EXPECT_DOUBLE_EQ(a.matching.mean, (0.9 + 0.7) / 2);
    EXPECT_DOUBLE_EQ(a.overlap_ratio, 0.5);
    EXPECT_EQ(a.fig3_order, (std::vector<convergent::index_t>{0, 2}));
    EXPECT_EQ(a.matched_order, (std::vector<convergent::index_t>{1, 2, 0}));
    const nlohmann::json j = convergent::alignment_to_json(a);
    EXPECT_TRUE(j["semi_matching_values"][1].is_null());
}
