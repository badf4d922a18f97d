// Sec. 3.2 / footnote 6: sampling, percentile binning, exact joint counts and
// plug-in MI of the CPU backend.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "convergent/mutual_information.hpp"
#include "mutual_information_internal.hpp"

using namespace convergent;

namespace {

std::vector<std::uint8_t> random_codes(index_t units, index_t samples, int bins, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> pick(0, bins - 1);
    std::vector<std::uint8_t> codes(size_t(units * samples));
    for (auto& c : codes) c = std::uint8_t(pick(rng));
    return codes;
}

// Entropy from the definition, -sum p log p, computed independently.
double entropy_by_definition(const std::uint8_t* codes, index_t samples, int bins) {
    std::vector<double> p(size_t(bins), 0.0);
    for (index_t s = 0; s < samples; ++s) p[codes[s]] += 1.0;
    double h = 0.0;
    for (double c : p)
        if (c > 0) h -= (c / double(samples)) * std::log(c / double(samples));
    return h;
}

// MI from the definition sum p_xy log(p_xy / (p_x p_y)).
double mi_by_definition(const std::int32_t* table, int bins, index_t samples) {
    std::vector<double> px(size_t(bins), 0.0), py(size_t(bins), 0.0);
    const double n = double(samples);
    for (int x = 0; x < bins; ++x)
        for (int y = 0; y < bins; ++y) {
            px[size_t(x)] += table[x * bins + y] / n;
            py[size_t(y)] += table[x * bins + y] / n;
        }
    double mi = 0.0;
    for (int x = 0; x < bins; ++x)
        for (int y = 0; y < bins; ++y) {
            const double p = table[x * bins + y] / n;
            if (p > 0) mi += p * std::log(p / (px[size_t(x)] * py[size_t(y)]));
        }
    return mi;
}

}  // namespace

TEST(JointHistogramCounts, EqualsNaiveOnRandomCodes) {
    // Units not multiples of the 2 x 4 micro-kernel, bins not a power of two,
    // sub-ranges that start off any boundary.
    for (int bins : {1, 2, 7, 21, 37}) {
        const index_t ua = 11, ub = 7, samples = 997;
        const auto ca = random_codes(ua, samples, bins, 1u + unsigned(bins));
        const auto cb = random_codes(ub, samples, bins, 100u + unsigned(bins));
        const BinCodesView a{ca.data(), ua, samples, bins}, b{cb.data(), ub, samples, bins};
        EXPECT_EQ(joint_histogram_counts(a, 0, ua, b, 0, ub),
                  joint_histogram_counts_naive(a, 0, ua, b, 0, ub))
            << "bins " << bins;
        EXPECT_EQ(joint_histogram_counts(a, 3, 5, b, 1, 5),
                  joint_histogram_counts_naive(a, 3, 5, b, 1, 5))
            << "bins " << bins;
        EXPECT_EQ(joint_histogram_counts(a, 10, 1, b, 6, 1),
                  joint_histogram_counts_naive(a, 10, 1, b, 6, 1));
    }
}

// Codes where most samples sit in one bin per unit (the zero bin of ReLU
// units, or any other bin): units with a mode fraction of 0.95, 0.7, 0.5 or
// 0.2 (the last two take the dense kernel), modes not always bin 0.
std::vector<std::uint8_t> mode_heavy_codes(index_t units, index_t samples, int bins, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> pick(0, bins - 1);
    std::uniform_real_distribution<double> u01(0.0, 1.0);
    const double fractions[] = {0.95, 0.7, 0.5, 0.2};
    std::vector<std::uint8_t> codes(size_t(units * samples));
    for (index_t u = 0; u < units; ++u) {
        const int mode = u % 3 == 0 ? 0 : pick(rng);
        const double f = fractions[u % 4];
        for (index_t s = 0; s < samples; ++s)
            codes[size_t(u * samples + s)] = std::uint8_t(u01(rng) < f ? mode : pick(rng));
    }
    return codes;
}

TEST(JointHistogramCounts, SparseAwareCountingEqualsNaive) {
    // The listed kernel (samples outside each unit's mode only, mode row
    // completed from the marginals) against direct counting: mixed sparse and
    // dense row groups, sub-ranges, and the within-net MI on the same codes.
    for (int bins : {2, 7, 21}) {
        const index_t ua = 13, ub = 9, samples = 3001;
        const auto ca = mode_heavy_codes(ua, samples, bins, 3u + unsigned(bins));
        const auto cb = mode_heavy_codes(ub, samples, bins, 300u + unsigned(bins));
        const BinCodesView a{ca.data(), ua, samples, bins}, b{cb.data(), ub, samples, bins};
        EXPECT_EQ(joint_histogram_counts(a, 0, ua, b, 0, ub), joint_histogram_counts_naive(a, 0, ua, b, 0, ub))
            << "bins " << bins;
        EXPECT_EQ(joint_histogram_counts(a, 4, 6, b, 1, 7), joint_histogram_counts_naive(a, 4, 6, b, 1, 7))
            << "bins " << bins;
        // Within one net: the upper triangle by the listed kernel, mirrored.
        std::vector<double> mi(size_t(ua * ua));
        make_cpu_backend()->mutual_information(a, a, mi.data());
        const auto counts = joint_histogram_counts_naive(a, 0, ua, a, 0, ua);
        const index_t table = index_t(bins) * bins;
        for (index_t i = 0; i < ua; ++i)
            for (index_t j = 0; j < ua; ++j) {
                const std::int32_t* t = counts.data() + (i * ua + j) * table;
                EXPECT_NEAR(mi[size_t(i * ua + j)], mi_by_definition(t, bins, samples), 1e-12)
                    << "bins " << bins << " pair " << i << "," << j;
            }
    }
}

TEST(JointHistogramCounts, NaiveCountsAreAHistogram) {
    const index_t samples = 50;
    std::vector<std::uint8_t> x(samples), y(samples);
    for (index_t s = 0; s < samples; ++s) {
        x[size_t(s)] = std::uint8_t(s % 3);
        y[size_t(s)] = std::uint8_t(s < 10 ? 1 : 0);
    }
    const BinCodesView a{x.data(), 1, samples, 3}, b{y.data(), 1, samples, 3};
    const auto c = joint_histogram_counts_naive(a, 0, 1, b, 0, 1);
    // s < 10: x = 0,1,2,0,1,2,0,1,2,0 -> (0,1)x4, (1,1)x3, (2,1)x3.
    EXPECT_EQ(c[0 * 3 + 1], 4);
    EXPECT_EQ(c[1 * 3 + 1], 3);
    EXPECT_EQ(c[2 * 3 + 1], 3);
    EXPECT_EQ(c[0 * 3 + 0], 17 - 4 + 0);  // x==0 for s in 0..49: 17 samples
    EXPECT_EQ(c[2 * 3 + 2], 0);
}

TEST(MutualInformation, BackendMatchesCountsAndDefinition) {
    const int bins = 21;
    const index_t ua = 9, ub = 6, samples = 3001;
    const auto ca = random_codes(ua, samples, bins, 5);
    auto cb = random_codes(ub, samples, bins, 6);
    // Make some pairs dependent so MI is not ~0 everywhere.
    for (index_t s = 0; s < samples; ++s) cb[size_t(s)] = std::uint8_t(ca[size_t(2 * samples + s)] / 2);
    const BinCodesView a{ca.data(), ua, samples, bins}, b{cb.data(), ub, samples, bins};
    std::vector<double> mi(size_t(ua * ub));
    make_cpu_backend()->mutual_information(a, b, mi.data());
    const auto counts = joint_histogram_counts_naive(a, 0, ua, b, 0, ub);
    for (index_t i = 0; i < ua; ++i)
        for (index_t j = 0; j < ub; ++j) {
            const std::int32_t* t = counts.data() + (i * ub + j) * bins * bins;
            // The epilogue sums in the same order as mutual_information_from_counts.
            EXPECT_EQ(mi[size_t(i * ub + j)], mutual_information_from_counts(t, bins, samples));
            EXPECT_NEAR(mi[size_t(i * ub + j)], mi_by_definition(t, bins, samples), 1e-12);
        }
    EXPECT_GT(mi[2 * ub + 0], 1.0);  // b0 = a2 / 2 is a function of a2: MI = H(b0)
    EXPECT_NEAR(mi[2 * ub + 0], entropy_by_definition(cb.data(), samples, bins), 1e-12);
}

TEST(MutualInformation, IdenticalUnitsGiveEntropyAndWithinNetIsSymmetric) {
    const int bins = 21;
    const index_t units = 13, samples = 4999;
    const auto codes = random_codes(units, samples, bins, 9);
    BinnedUnits net;
    net.codes = codes;
    net.units = units;
    net.samples = samples;
    net.bins = bins;
    const auto backend = make_cpu_backend();
    const std::vector<double> mi = mutual_information_matrix(*backend, net, net);
    // A copy (different pointer) goes through the full, non-symmetric path.
    BinnedUnits copy = net;
    const std::vector<double> full = mutual_information_matrix(*backend, net, copy);
    for (index_t i = 0; i < units; ++i) {
        const double h = entropy_by_definition(codes.data() + i * samples, samples, bins);
        EXPECT_NEAR(mi[size_t(i * units + i)], h, 1e-12);
        EXPECT_NEAR(code_entropy(codes.data() + i * samples, samples, bins), h, 1e-12);
        EXPECT_NEAR(h, std::log(21.0), 0.02);  // near-uniform codes
        for (index_t j = 0; j < units; ++j) {
            EXPECT_EQ(mi[size_t(i * units + j)], mi[size_t(j * units + i)]);
            EXPECT_NEAR(mi[size_t(i * units + j)], full[size_t(i * units + j)], 1e-13);
        }
    }
}

TEST(MutualInformation, IndependentConstructedUnitsHaveZeroMI) {
    // x = s mod 7, y = (s / 7) mod 5 over 35 * 40 samples: every (x, y) pair
    // occurs exactly 40 times, so p_xy = p_x p_y and the plug-in MI is 0.
    const index_t samples = 35 * 40;
    std::vector<std::uint8_t> x(samples), y(samples);
    for (index_t s = 0; s < samples; ++s) {
        x[size_t(s)] = std::uint8_t(s % 7);
        y[size_t(s)] = std::uint8_t((s / 7) % 5);
    }
    const BinCodesView a{x.data(), 1, samples, 8}, b{y.data(), 1, samples, 8};
    double mi = -1.0;
    make_cpu_backend()->mutual_information(a, b, &mi);
    EXPECT_NEAR(mi, 0.0, 1e-14);
    EXPECT_GE(mi, 0.0);
}

TEST(MutualInformation, ConstantAndAllZeroUnits) {
    const index_t samples = 500, units = 3;
    std::vector<float> values(size_t(samples * units));
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> u01(0.0f, 1.0f);
    for (index_t s = 0; s < samples; ++s) {
        values[size_t(s * units + 0)] = 0.0f;            // all zero (dead unit)
        values[size_t(s * units + 1)] = 2.5f;            // constant positive
        values[size_t(s * units + 2)] = u01(rng) + 0.1f;  // ordinary
    }
    const BinnedUnits net = bin_units(values.data(), samples, units, units, BinningOptions{});
    EXPECT_EQ(net.bins, 21);
    for (index_t s = 0; s < samples; ++s) {
        EXPECT_EQ(net.codes[size_t(0 * samples + s)], 0);
        EXPECT_EQ(net.codes[size_t(1 * samples + s)], 1);
    }
    EXPECT_TRUE(net.edges[0].empty());
    EXPECT_EQ(net.edges[1], std::vector<double>(19, 2.5));
    const std::vector<double> mi = mutual_information_matrix(*make_cpu_backend(), net, net);
    // Entropy 0 for both degenerate units, hence MI 0 with everything.
    for (index_t j = 0; j < units; ++j) {
        EXPECT_EQ(mi[size_t(0 * units + j)], 0.0);
        EXPECT_EQ(mi[size_t(1 * units + j)], 0.0);
    }
    EXPECT_NEAR(mi[2 * units + 2], std::log(20.0), 1e-12);  // 500 positives, 25 per bin
}

TEST(Binning, EqualMassBinsAndZeroBin) {
    // 40 zeros (and tiny values <= 1e-6) then the positives 1..200: 20 bins of 10.
    const index_t samples = 240;
    std::vector<float> v;
    for (int i = 0; i < 20; ++i) v.push_back(0.0f);
    for (int i = 0; i < 20; ++i) v.push_back(i % 2 ? 1e-7f : -3.0f);
    for (int i = 1; i <= 200; ++i) v.push_back(float(i));
    std::shuffle(v.begin(), v.end(), std::mt19937(1));
    const BinnedUnits net = bin_units(v.data(), samples, 1, 1, BinningOptions{});
    std::vector<int> hist(21, 0);
    for (index_t s = 0; s < samples; ++s) {
        const int c = net.codes[size_t(s)];
        ++hist[size_t(c)];
        if (v[size_t(s)] <= 1e-6f) {
            EXPECT_EQ(c, 0);
        } else {
            // Linear quantile of 1..200 at k/20: 1 + 199 k / 20; value i is in
            // bin 1 + #{k : e_k < i}.
            int expected = 1;
            for (int k = 1; k < 20; ++k) expected += (1.0 + 199.0 * k / 20.0 < v[size_t(s)]);
            EXPECT_EQ(c, expected) << v[size_t(s)];
        }
    }
    EXPECT_EQ(hist[0], 40);
    for (int k = 1; k <= 20; ++k) EXPECT_EQ(hist[size_t(k)], 10) << k;
    EXPECT_DOUBLE_EQ(net.edges[0][0], 1.0 + 199.0 / 20.0);
}

TEST(Binning, TiesAtEdgesGoToTheLowerBin) {
    // Positives: 1 (x50), 2 (x50), 3 (x100). Edges at k/4 over 200 values:
    // h = 199 k / 4 -> e1 = r[49.75] = 2 - (2-1)*0.25 = 1.75, e2 = r[99.5] = 2.5,
    // e3 = r[149.25] = 3. Value 3 equals e3 -> bin 3 (right-closed), never 4.
    std::vector<float> v;
    for (int i = 0; i < 50; ++i) v.push_back(1.0f);
    for (int i = 0; i < 50; ++i) v.push_back(2.0f);
    for (int i = 0; i < 100; ++i) v.push_back(3.0f);
    BinningOptions options;
    options.bins = 4;
    const BinnedUnits net = bin_units(v.data(), index_t(v.size()), 1, 1, options);
    ASSERT_EQ(net.edges[0].size(), 3u);
    EXPECT_DOUBLE_EQ(net.edges[0][0], 1.75);
    EXPECT_DOUBLE_EQ(net.edges[0][1], 2.5);
    EXPECT_DOUBLE_EQ(net.edges[0][2], 3.0);
    for (size_t s = 0; s < v.size(); ++s) {
        const int expected = v[s] == 1.0f ? 1 : v[s] == 2.0f ? 2 : 3;
        EXPECT_EQ(net.codes[s], expected);
    }
    // Fewer distinct values than bins: 2 values, 20 bins.
    std::vector<float> w = {5, 7, 5, 7, 5, 7, 0};
    const BinnedUnits two = bin_units(w.data(), index_t(w.size()), 1, 1, BinningOptions{});
    // Sorted positives {5,5,5,7,7,7}, h = 5k/20: e_1..e_8 = 5, e_9..e_11 =
    // 5.5, 6, 6.5, e_12..e_19 = 7. So 5 -> bin 1, 7 -> bin 1 + 11 = 12.
    EXPECT_EQ(two.codes, (std::vector<std::uint8_t>{1, 12, 1, 12, 1, 12, 0}));
}

TEST(Binning, StridedInputAndErrors) {
    const index_t samples = 300, units = 5, ld = 8;
    std::vector<float> values(size_t(samples * ld), std::nanf(""));
    std::mt19937 rng(4);
    std::normal_distribution<float> g;
    for (index_t s = 0; s < samples; ++s)
        for (index_t u = 0; u < units; ++u) values[size_t(s * ld + u)] = g(rng);
    const BinnedUnits net = bin_units(values.data(), samples, units, ld, BinningOptions{});
    for (index_t u = 0; u < units; ++u) {
        std::vector<float> column(samples);
        for (index_t s = 0; s < samples; ++s) column[size_t(s)] = values[size_t(s * ld + u)];
        const BinnedUnits one = bin_units(column.data(), samples, 1, 1, BinningOptions{});
        EXPECT_TRUE(std::equal(one.codes.begin(), one.codes.end(), net.codes.begin() + u * samples));
    }
    values[size_t(7 * ld + 3)] = std::nanf("");
    try {
        bin_units(values.data(), samples, units, ld, BinningOptions{});
        FAIL() << "NaN accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::BadData);
        EXPECT_NE(std::string(e.what()).find("unit 3"), std::string::npos) << e.what();
    }
    BinningOptions bad;
    bad.bins = 256;
    EXPECT_THROW(bin_units(values.data(), samples, units, ld, bad), Error);

    BinnedUnits a = net, b = net;
    b.samples = 299;
    b.codes.resize(size_t(units * 299));
    EXPECT_THROW(mutual_information_matrix(*make_cpu_backend(), a, b), Error);
    std::vector<std::uint8_t> codes = {0, 1, 5};
    const BinCodesView view{codes.data(), 1, 3, 5};
    double mi;
    EXPECT_THROW(make_cpu_backend()->mutual_information(view, view, &mi), Error);  // code 5 >= 5
}

TEST(SampleRows, SeededSortedDistinct) {
    const auto r1 = sample_rows(196000, 60000, 0);
    const auto r2 = sample_rows(196000, 60000, 0);
    const auto r3 = sample_rows(196000, 60000, 1);
    EXPECT_EQ(r1, r2);
    EXPECT_NE(r1, r3);
    ASSERT_EQ(r1.size(), 60000u);
    EXPECT_TRUE(std::is_sorted(r1.begin(), r1.end()));
    EXPECT_EQ(std::set<index_t>(r1.begin(), r1.end()).size(), r1.size());
    EXPECT_GE(r1.front(), 0);
    EXPECT_LT(r1.back(), 196000);
    // Roughly uniform: about 60000/196000 of the first half.
    const auto half = std::lower_bound(r1.begin(), r1.end(), 98000) - r1.begin();
    EXPECT_NEAR(double(half), 30000.0, 600.0);
    // All rows when the request covers them.
    const auto all = sample_rows(10, 60000, 5);
    ASSERT_EQ(all.size(), 10u);
    for (index_t i = 0; i < 10; ++i) EXPECT_EQ(all[size_t(i)], i);
    EXPECT_TRUE(sample_rows(10, 0, 5).empty());
    EXPECT_THROW(sample_rows(-1, 3, 0), Error);
}

TEST(MutualInformation, CudaBackendMatchesCpu) {
    std::string why;
    if (!cuda_compiled_in()) GTEST_SKIP() << "built without the CUDA backend";
    if (!cuda_device_available(&why)) GTEST_SKIP() << "no CUDA device: " << why;
    const auto cuda = make_backend(BackendKind::Cuda);
    const auto cpu = make_cpu_backend();
    // Several tiles (8192 / 21 = 390 units per tile) and a partial sample chunk
    // (2^16 per GEMM) on the device; bins not a multiple of anything.
    for (const auto& shape : {std::array<index_t, 3>{401, 397, 70001}, std::array<index_t, 3>{5, 3, 1000}}) {
        const index_t ua = shape[0], ub = shape[1], samples = shape[2];
        const int bins = 21;
        const auto ca = random_codes(ua, samples, bins, 21);
        auto cb = random_codes(ub, samples, bins, 22);
        for (index_t s = 0; s < samples; ++s) cb[size_t(s)] = std::uint8_t(ca[size_t(s)] / 3);
        const BinCodesView a{ca.data(), ua, samples, bins}, b{cb.data(), ub, samples, bins};
        std::vector<double> expected(size_t(ua * ub)), got(expected.size(), -1.0);
        cpu->mutual_information(a, b, expected.data());
        cuda->mutual_information(a, b, got.data());
        double worst = 0.0;
        for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::abs(got[i] - expected[i]));
        EXPECT_LT(worst, 1e-10) << ua << "x" << ub;  // counts exact; device log within an ulp
        // Within-net path (upper tiles + mirror).
        std::vector<double> within_cpu(size_t(ua * ua)), within_gpu(within_cpu.size(), -1.0);
        cpu->mutual_information(a, a, within_cpu.data());
        cuda->mutual_information(a, a, within_gpu.data());
        worst = 0.0;
        for (size_t i = 0; i < within_gpu.size(); ++i)
            worst = std::max(worst, std::abs(within_gpu[i] - within_cpu[i]));
        EXPECT_LT(worst, 1e-10);
    }
}
