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
