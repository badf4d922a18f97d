// The CUDA backend's one-hot-GEMM mutual information (portable Thrust logic,
// OMP device system) against the CPU backend: counts exactly, MI to 1e-12.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "convergent/mutual_information.hpp"
#include "thrust_omp_mutual_information.hpp"

using namespace convergent;

namespace {

std::vector<std::uint8_t> dependent_codes(index_t units, index_t samples, int bins, unsigned seed,
                                          const std::vector<std::uint8_t>* source) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> pick(0, bins - 1);
    std::uniform_int_distribution<int> coin(0, 3);
    std::vector<std::uint8_t> codes(size_t(units * samples));
    for (size_t i = 0; i < codes.size(); ++i) {
        // Some dependence on the other net so MI is not ~0 everywhere.
        const bool copy = source && i < source->size() && coin(rng) == 0;
        codes[i] = copy ? (*source)[i] : std::uint8_t(pick(rng));
    }
    return codes;
}

}  // namespace

TEST(ThrustOmpMutualInformation, CountsEqualCpuExactly) {
    // 7 bins, units not multiples of the tile sizes, 3 sample chunks (one partial).
    const int bins = 7;
    const index_t ua = 5, ub = 4, samples = 211;
    const auto ca = dependent_codes(ua, samples, bins, 1, nullptr);
    const auto cb = dependent_codes(ub, samples, bins, 2, &ca);
    const BinCodesView a{ca.data(), ua, samples, bins}, b{cb.data(), ub, samples, bins};
    const std::vector<std::int32_t> expected = joint_histogram_counts(a, 0, ua, b, 0, ub);
    std::vector<std::int32_t> got(expected.size(), -1);
    thrust_omp::joint_histogram_counts(a, b, got.data(), 2, 3, 80);
    EXPECT_EQ(got, expected);
    std::fill(got.begin(), got.end(), -1);
    thrust_omp::joint_histogram_counts(a, b, got.data());  // default tiling: one tile
    EXPECT_EQ(got, expected);
}

TEST(ThrustOmpMutualInformation, BetweenNetEqualsCpuBackend) {
    const int bins = 21;
    const index_t ua = 7, ub = 6, samples = 603;
    const auto ca = dependent_codes(ua, samples, bins, 3, nullptr);
    const auto cb = dependent_codes(ub, samples, bins, 4, &ca);
    const BinCodesView a{ca.data(), ua, samples, bins}, b{cb.data(), ub, samples, bins};
    std::vector<double> expected(size_t(ua * ub)), got(expected.size(), -1.0);
    make_cpu_backend()->mutual_information(a, b, expected.data());
    thrust_omp::mutual_information(a, b, got.data(), 3, 4, 256);
    bool some_dependent = false;
    for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_NEAR(got[i], expected[i], 1e-12) << i;
        some_dependent = some_dependent || expected[i] > 0.5;
    }
    EXPECT_TRUE(some_dependent);
}

TEST(ThrustOmpMutualInformation, WithinNetEqualsCpuBackend) {
    const int bins = 5;
    const index_t units = 9, samples = 150;
    auto codes = dependent_codes(units, samples, bins, 5, nullptr);
    for (index_t s = 0; s < samples; ++s) codes[size_t(8 * samples + s)] = 0;  // a dead unit
    const BinCodesView v{codes.data(), units, samples, bins};
    std::vector<double> expected(size_t(units * units)), got(expected.size(), -1.0);
    make_cpu_backend()->mutual_information(v, v, expected.data());
    thrust_omp::mutual_information(v, v, got.data(), 4, 4, 64);  // upper tiles only, mirrored
    for (index_t i = 0; i < units; ++i)
        for (index_t j = 0; j < units; ++j) {
            EXPECT_NEAR(got[size_t(i * units + j)], expected[size_t(i * units + j)], 1e-12);
            EXPECT_EQ(got[size_t(i * units + j)], got[size_t(j * units + i)]);
        }
    EXPECT_NEAR(got[0], code_entropy(codes.data(), samples, bins), 1e-12);
    EXPECT_EQ(got[size_t(8 * units + 8)], 0.0);
}

namespace {

// Binned ReLU-like codes: unit u has zero_fraction(u) of its samples in bin 0
// (or, for the units flagged below, in another bin), the rest spread over
// the other bins, partly copied from `source` so pairs are dependent.
std::vector<std::uint8_t> relu_codes(index_t units, index_t samples, int bins, unsigned seed,
                                     const std::vector<std::uint8_t>* source) {
    const double fractions[] = {0.0, 0.3, 0.5, 0.7, 0.9, 1.0};
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    std::uniform_int_distribution<int> pick(1, bins - 1);
    std::vector<std::uint8_t> codes(size_t(units * samples));
    for (index_t u = 0; u < units; ++u) {
        const double zeros = fractions[u % 6];
        const int mode_bin = u % 4 == 3 ? bins / 2 : 0;  // some modes away from bin 0
        for (index_t s = 0; s < samples; ++s) {
            const size_t i = size_t(u * samples + s);
            std::uint8_t c = unit(rng) < zeros ? std::uint8_t(mode_bin) : std::uint8_t(pick(rng));
            if (source && i < source->size() && unit(rng) < 0.4) c = (*source)[i];
            codes[i] = c;
        }
    }
    // A unit whose two most frequent bins tie (the mode is the first of them).
    if (units > 1)
        for (index_t s = 0; s < samples; ++s) codes[size_t(samples + s)] = std::uint8_t(s % 2 ? 0 : bins - 1);
    return codes;
}

}  // namespace

TEST(ThrustOmpMutualInformation, ModesLeftOutCountsEqualCpuExactly) {
    // Zero fractions 0-100%, modes away from bin 0, a tie, an all-zero unit;
    // 3 x 2 tiles of units (partial ones) and 4 sample chunks (one partial).
    for (const int bins : {2, 7, 21}) {
        const index_t ua = 13, ub = 11, samples = 1000;
        const auto ca = relu_codes(ua, samples, bins, 11, nullptr);
        const auto cb = relu_codes(ub, samples, bins, 12, &ca);
        const BinCodesView a{ca.data(), ua, samples, bins}, b{cb.data(), ub, samples, bins};
        const std::vector<std::int32_t> expected = joint_histogram_counts(a, 0, ua, b, 0, ub);
        for (const int drop : {0, 1}) {
            std::vector<std::int32_t> got(expected.size(), -1);
            thrust_omp::joint_histogram_counts(a, b, got.data(), 5, 6, 288, drop);
            EXPECT_EQ(got, expected) << "bins " << bins << " drop_modes " << drop;
            std::fill(got.begin(), got.end(), -1);
            thrust_omp::joint_histogram_counts(a, b, got.data(), 0, 0, 0, drop);
            EXPECT_EQ(got, expected) << "bins " << bins << " drop_modes " << drop << " one tile";
        }
    }
}

TEST(ThrustOmpMutualInformation, ModesLeftOutMiEqualsCpuBackend) {
    const int bins = 21;
    const index_t ua = 14, ub = 9, samples = 2000;
    const auto ca = relu_codes(ua, samples, bins, 21, nullptr);
    const auto cb = relu_codes(ub, samples, bins, 22, &ca);
    const BinCodesView a{ca.data(), ua, samples, bins}, b{cb.data(), ub, samples, bins};
    std::vector<double> expected(size_t(ua * ub)), kept(expected.size(), -1.0), dropped(expected.size(), -1.0);
    make_cpu_backend()->mutual_information(a, b, expected.data());
    thrust_omp::mutual_information(a, b, kept.data(), 4, 5, 512, 0);
    thrust_omp::mutual_information(a, b, dropped.data(), 4, 5, 512, 1);
    bool some_dependent = false;
    for (size_t i = 0; i < expected.size(); ++i) {
        EXPECT_NEAR(kept[i], expected[i], 1e-12) << i;
        EXPECT_NEAR(dropped[i], expected[i], 1e-12) << i;
        some_dependent = some_dependent || expected[i] > 0.2;
    }
    EXPECT_TRUE(some_dependent);
    // Units 5 and 11 of a lie in one bin each (0 and bins / 2): MI 0 with
    // everything (to rounding: the mode cells come from the marginals).
    for (index_t j = 0; j < ub; ++j) {
        EXPECT_NEAR(dropped[size_t(5 * ub + j)], 0.0, 1e-13);
        EXPECT_NEAR(dropped[size_t(11 * ub + j)], 0.0, 1e-13);
    }

    // Within-net with the modes left out: symmetric, the diagonal is the entropy.
    std::vector<double> within_cpu(size_t(ua * ua)), within(within_cpu.size(), -1.0);
    make_cpu_backend()->mutual_information(a, a, within_cpu.data());
    thrust_omp::mutual_information(a, a, within.data(), 3, 3, 700, 1);
    for (index_t i = 0; i < ua; ++i) {
        EXPECT_NEAR(within[size_t(i * ua + i)], code_entropy(ca.data() + i * samples, samples, bins), 1e-12);
        for (index_t j = 0; j < ua; ++j) {
            EXPECT_NEAR(within[size_t(i * ua + j)], within_cpu[size_t(i * ua + j)], 1e-12);
            EXPECT_EQ(within[size_t(i * ua + j)], within[size_t(j * ua + i)]);
        }
    }
}
