// Sec. 3.2: the exact joint counts of the CPU backend equal the naive counts
// at every share of samples in the zero bin (the ReLU zeros the listed kernel
// skips), with ties, all-zero units and modes that are not bin 0; and the
// zero-bin fraction summary.json reports (zero_bin_fraction).
//
// The suite is named JointHistogramCounts so that ctest's mi_dense_kernel run
// (CONVERGENT_MI_LISTED_MAX=0) repeats it with the dense 2 x 4 kernel: the
// listed kernel and the dense one are each held equal to the same naive
// counts. tests/python/test_mi_zero_fraction.py compares both kernels with a
// numpy bincount reference as well.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "convergent/mutual_information.hpp"
#include "mutual_information_internal.hpp"

using namespace convergent;

namespace {

// Unit-major codes: for each unit, a share `zero` of its samples in bin 0
// (exactly round(zero * samples) of them, at random positions), the rest
// uniform over bins 1..bins-1. Every third unit draws its non-zero codes from
// only two bins (ties between bins, and between the mode and another bin at
// 50%); unit `all_zero` (if >= 0) is entirely in bin 0.
std::vector<std::uint8_t> codes_with_zero_fraction(index_t units, index_t samples, int bins, double zero,
                                                   index_t all_zero, unsigned seed) {
    std::mt19937 rng(seed);
    std::vector<std::uint8_t> codes(size_t(units * samples));
    std::vector<index_t> order(static_cast<size_t>(samples));
    for (index_t u = 0; u < units; ++u) {
        std::uint8_t* c = codes.data() + u * samples;
        const bool two_bins = u % 3 == 2 && bins > 2;
        std::uniform_int_distribution<int> pick(1, bins - 1);
        const int b1 = pick(rng), b2 = pick(rng);
        for (index_t s = 0; s < samples; ++s) {
            const int v = two_bins ? ((rng() & 1u) ? b1 : b2) : pick(rng);
            c[s] = std::uint8_t(bins > 1 ? v : 0);
        }
        for (index_t s = 0; s < samples; ++s) order[size_t(s)] = s;
        std::shuffle(order.begin(), order.end(), rng);
        const index_t zeros = u == all_zero ? samples : index_t(zero * double(samples) + 0.5);
        for (index_t k = 0; k < zeros; ++k) c[order[size_t(k)]] = 0;
    }
    return codes;
}

}  // namespace

TEST(JointHistogramCounts, EqualsNaiveAtEveryZeroFraction) {
    // 0 .. 100% zeros; 21 bins as in the paper and a small bin count where
    // ties between bins are frequent; unit counts off the 2 x 4 micro-kernel.
    for (int bins : {21, 3}) {
        for (double zero : {0.0, 0.3, 0.5, 0.7, 0.9, 1.0}) {
            const index_t ua = 7, ub = 6, samples = 2003;
            const auto ca = codes_with_zero_fraction(ua, samples, bins, zero, 1, 11u + unsigned(100 * zero));
            const auto cb = codes_with_zero_fraction(ub, samples, bins, zero, 4, 17u + unsigned(100 * zero));
            const BinCodesView a{ca.data(), ua, samples, bins}, b{cb.data(), ub, samples, bins};
            const std::string what = "bins " + std::to_string(bins) + ", zero fraction " + std::to_string(zero);
            EXPECT_EQ(joint_histogram_counts(a, 0, ua, b, 0, ub), joint_histogram_counts_naive(a, 0, ua, b, 0, ub))
                << what;
            EXPECT_EQ(joint_histogram_counts(a, 2, 5, b, 3, 3), joint_histogram_counts_naive(a, 2, 5, b, 3, 3))
                << what;
            // Within one net (upper triangle counted, mirrored): MI from the
            // naive counts, and the all-zero unit has MI 0 with everything.
            std::vector<double> mi(size_t(ua * ua));
            make_cpu_backend()->mutual_information(a, a, mi.data());
            const auto counts = joint_histogram_counts_naive(a, 0, ua, a, 0, ua);
            for (index_t i = 0; i < ua; ++i)
                for (index_t j = 0; j < ua; ++j) {
                    const std::int32_t* t = counts.data() + (i * ua + j) * bins * bins;
                    EXPECT_NEAR(mi[size_t(i * ua + j)], mutual_information_from_counts(t, bins, samples), 1e-12)
                        << what << " pair " << i << "," << j;
                }
            for (index_t j = 0; j < ua; ++j) EXPECT_EQ(mi[size_t(1 * ua + j)], 0.0) << what << " unit 1 is all zero";
        }
    }
}

TEST(JointHistogramCounts, EqualsNaiveWhenEveryUnitIsAllZeroOrConstant) {
    // Every sample in one bin: the listed kernel has nothing to list and the
    // whole table is the completed mode row (bin 0, or bin 5 for b).
    const index_t ua = 5, ub = 3, samples = 1001;
    const int bins = 21;
    std::vector<std::uint8_t> ca(size_t(ua * samples), 0), cb(size_t(ub * samples), 5);
    const BinCodesView a{ca.data(), ua, samples, bins}, b{cb.data(), ub, samples, bins};
    const auto counts = joint_histogram_counts(a, 0, ua, b, 0, ub);
    EXPECT_EQ(counts, joint_histogram_counts_naive(a, 0, ua, b, 0, ub));
    EXPECT_EQ(counts[size_t(0 * bins + 5)], samples);  // pair (0, 0): all in (0, 5)
}

TEST(ZeroBinFraction, CountsCodeZeroOverAllUnitsAndSamples) {
    BinnedUnits net;
    net.units = 3;
    net.samples = 4;
    net.bins = 21;
    net.codes = {0, 0, 0, 0,   // all-zero unit
                 0, 3, 0, 20,  // half zeros
                 1, 2, 3, 4};  // none
    EXPECT_DOUBLE_EQ(zero_bin_fraction(net), 6.0 / 12.0);
    BinnedUnits none;
    EXPECT_EQ(zero_bin_fraction(none), 0.0);

    // Through bin_units: values <= 1e-6 (zero, negative, exactly 1e-6) are
    // the zero bin; 2e-6 is not.
    const float values[] = {0.0f, 1.0f, -2.0f, 3.0f, 1e-6f, 2e-6f, 0.5f, 0.0f};  // 4 samples x 2 units
    const BinnedUnits binned = bin_units(values, 4, 2, 2, BinningOptions{});
    // Unit 0: 0, -2, 1e-6 (as float: just below or at 1e-6), 0.5 -> 3 zeros;
    // unit 1: 1, 3, 2e-6, 0 -> 1 zero.
    const double expected = double((double(1e-6f) <= 1e-6 ? 3 : 2) + 1) / 8.0;
    EXPECT_DOUBLE_EQ(zero_bin_fraction(binned), expected);
}

TEST(JointHistogramCounts, EqualsNaiveAcrossPairSparseBlocks) {
    // More units of b than one pair-sparse block (48 at 21 bins), a partial
    // last block, blocks with mostly-zero units (per-sample lists) beside
    // blocks of dense units (count_1x4_listed), within-net upper triangles
    // that start inside a block; and 130 bins, too many for 16-bit list
    // entries (every block counted by the listed kernel; fewer units, as
    // each pair's table has 16,900 cells).
    for (int bins : {21, 130}) {
        const index_t ua = 9, ub = bins == 21 ? 101 : 13, samples = 1501;
        auto ca = codes_with_zero_fraction(ua, samples, bins, 0.8, 2, 5u);
        auto cb = codes_with_zero_fraction(ub, samples, bins, 0.8, ub / 2, 6u);
        if (ub > 96) {
            // Units 48..95 of b dense (no zeros): that block has no lists.
            const auto dense = codes_with_zero_fraction(48, samples, bins, 0.0, -1, 7u);
            std::copy(dense.begin(), dense.end(), cb.begin() + 48 * samples);
        }
        const BinCodesView a{ca.data(), ua, samples, bins}, b{cb.data(), ub, samples, bins};
        const std::string what = "bins " + std::to_string(bins);
        EXPECT_EQ(joint_histogram_counts(a, 0, ua, b, 0, ub), joint_histogram_counts_naive(a, 0, ua, b, 0, ub))
            << what;
        const index_t first = ub > 96 ? 40 : 3, count = ub > 96 ? 20 : 5, second = ub > 96 ? 30 : 2;
        EXPECT_EQ(joint_histogram_counts(b, first, count, b, second, ub - second),
                  joint_histogram_counts_naive(b, first, count, b, second, ub - second))
            << what;
        std::vector<double> mi(size_t(ub * ub));
        make_cpu_backend()->mutual_information(b, b, mi.data());
        const auto counts = joint_histogram_counts_naive(b, 0, ub, b, 0, ub);
        for (index_t i = 0; i < ub; i += 7)
            for (index_t j = 0; j < ub; ++j) {
                const std::int32_t* t = counts.data() + (i * ub + j) * bins * bins;
                EXPECT_NEAR(mi[size_t(i * ub + j)], mutual_information_from_counts(t, bins, samples), 1e-12)
                    << what << " pair " << i << "," << j;
            }
    }
}

TEST(JointHistogramCounts, CountsBeyondSixteenBitsInOneCell) {
    // 400,000 samples; each unit's mode holds 80.1% of them and one other bin
    // the rest, at the same samples for every unit, so one cell of every
    // table counts 79,600 samples outside both modes: more than the
    // pair-sparse kernel's 16-bit counters hold in one run.
    const index_t ua = 3, ub = 5, samples = 400000, outside = 79600;
    const int bins = 21;
    std::vector<std::uint8_t> ca(size_t(ua * samples)), cb(size_t(ub * samples));
    for (index_t u = 0; u < ua; ++u)
        for (index_t s = 0; s < samples; ++s) ca[size_t(u * samples + s)] = std::uint8_t(s % 1000 < 199 ? 1 + u : 7);
    for (index_t v = 0; v < ub; ++v)
        for (index_t s = 0; s < samples; ++s) cb[size_t(v * samples + s)] = std::uint8_t(s % 1000 < 199 ? 2 + v : 9);
    const BinCodesView a{ca.data(), ua, samples, bins}, b{cb.data(), ub, samples, bins};
    const auto counts = joint_histogram_counts(a, 0, ua, b, 0, ub);
    EXPECT_EQ(counts, joint_histogram_counts_naive(a, 0, ua, b, 0, ub));
    EXPECT_EQ(counts[size_t((0 * ub + 0) * bins * bins + 1 * bins + 2)], outside);
    EXPECT_EQ(counts[size_t((0 * ub + 0) * bins * bins + 7 * bins + 9)], samples - outside);
}
