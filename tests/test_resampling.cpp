// Block moments, bootstrap intervals, held-out scores and the permutation
// null (resampling.hpp): exactness of the block merges against a direct
// accumulation, nominal coverage of the percentile intervals on data with a
// known correlation, the optimism of in-sample matchings on noise, the
// permutation replicates' invariants, and the MI figures' weighted sample
// rows (Sec. 3.2).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "convergent/backend.hpp"
#include "convergent/matching.hpp"
#include "convergent/mutual_information.hpp"
#include "convergent/resampling.hpp"
#include "convergent/tensor.hpp"

using namespace convergent;

namespace {

// n images x positions rows of t gaussian units (row-major float).
std::vector<float> gaussian(index_t rows, index_t t, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> g;
    std::vector<float> x(size_t(rows * t));
    for (float& v : x) v = float(g(rng));
    return x;
}

// Nets a (p units) and b (q = p units): b_j = rho_j a_j + sqrt(1 - rho_j^2) e_j,
// so corr(a_i, b_j) = rho_i when i == j, else 0 (known population values).
std::vector<float> correlated_pair(index_t n, const std::vector<double>& rho, std::uint64_t seed) {
    const index_t p = index_t(rho.size()), t = 2 * p;
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> g;
    std::vector<float> x(size_t(n * t));
    for (index_t i = 0; i < n; ++i)
        for (index_t j = 0; j < p; ++j) {
            const double a = g(rng), e = g(rng);
            x[size_t(i * t + j)] = float(a);
            x[size_t(i * t + p + j)] = float(rho[size_t(j)] * a + std::sqrt(1 - rho[size_t(j)] * rho[size_t(j)]) * e);
        }
    return x;
}

BlockMoments blocks_of(const std::vector<float>& x, index_t images, index_t positions, std::vector<index_t> widths,
                       index_t blocks, std::uint64_t seed, index_t chunk_images) {
    index_t t = 0;
    for (index_t w : widths) t += w;
    BlockMoments m(widths, blocks, positions, seed, "test");
    for (index_t i0 = 0; i0 < images; i0 += chunk_images) {
        const index_t c = std::min(chunk_images, images - i0);
        m.push(x.data() + i0 * positions * t, i0 * positions, c * positions);
    }
    return m;
}

}  // namespace

TEST(BlockMoments, UnitWeightsGiveTheStatisticsOfAllImages) {
    const index_t images = 37, positions = 3, t = 5;
    const std::vector<float> x = gaussian(images * positions, t, 1);
    const auto backend = make_cpu_backend();
    MomentAccumulator acc({2, 3});
    acc.push(*backend, x.data(), images * positions, t);
    const LayerStatistics direct = finalize_statistics(acc);
    for (index_t chunk : {1, 4, 37}) {
        const BlockMoments m = blocks_of(x, images, positions, {2, 3}, 8, 7, chunk);
        index_t total = 0;
        for (index_t c : m.counts()) total += c;
        EXPECT_EQ(total, images * positions);
        const LayerStatistics s = m.statistics(std::vector<index_t>(8, 1));
        ASSERT_EQ(s.samples, direct.samples);
        for (index_t k = 0; k < t; ++k) EXPECT_NEAR(s.mean[size_t(k)], direct.mean[size_t(k)], 1e-12);
        for (size_t k = 0; k < direct.correlation.size(); ++k)
            EXPECT_NEAR(s.correlation[k], direct.correlation[k], 1e-12) << "chunk " << chunk << " cell " << k;
    }
}

TEST(BlockMoments, MergingTwoHalvesEqualsOnePass) {
    // Two processes streaming halves of the images (global row indices)
    // merge to the blocks of one pass.
    const index_t images = 30, positions = 2, t = 3;
    const std::vector<float> x = gaussian(images * positions, t, 21);
    const BlockMoments whole = blocks_of(x, images, positions, {1, 2}, 7, 4, 6);
    BlockMoments first({1, 2}, 7, positions, 4, "test"), second({1, 2}, 7, positions, 4, "test");
    first.push(x.data(), 0, 13 * positions);
    second.push(x.data() + 13 * positions * t, 13 * positions, (images - 13) * positions);
    first.merge(second);
    EXPECT_EQ(first.counts(), whole.counts());
    const std::vector<index_t> w = bootstrap_weights(whole.counts(), 2, 3);
    const LayerStatistics a = first.statistics(w), b = whole.statistics(w);
    for (size_t k = 0; k < a.correlation.size(); ++k) EXPECT_NEAR(a.correlation[k], b.correlation[k], 1e-12);
    BlockMoments other({1, 2}, 7, positions, 5, "test");  // another seed: other blocks
    EXPECT_THROW(first.merge(other), Error);
}

TEST(BlockMoments, WeightsEqualTheImagesOfEachBlockRepeated) {
    // A bootstrap replicate must equal the data set made of each block's
    // images repeated weight times; positions of an image stay together.
    const index_t images = 23, positions = 2, t = 4, blocks = 6;
    const std::vector<float> x = gaussian(images * positions, t, 3);
    const BlockMoments m = blocks_of(x, images, positions, {1, 3}, blocks, 11, 5);
    const std::vector<index_t> w = bootstrap_weights(m.counts(), 5, 0);
    index_t drawn = 0, filled = 0;
    for (size_t b = 0; b < w.size(); ++b) drawn += w[b], filled += m.counts()[b] > 0;
    EXPECT_EQ(drawn, filled);  // B' draws from the B' non-empty blocks
    std::vector<float> repeated;
    for (index_t i = 0; i < images; ++i)
        for (index_t k = 0; k < w[size_t(m.block_of(i))]; ++k)
            repeated.insert(repeated.end(), x.begin() + i * positions * t, x.begin() + (i + 1) * positions * t);
    const auto backend = make_cpu_backend();
    MomentAccumulator acc({1, 3});
    acc.push(*backend, repeated.data(), index_t(repeated.size()) / t, t);
    const LayerStatistics direct = finalize_statistics(acc), s = m.statistics(w);
    ASSERT_EQ(s.samples, direct.samples);
    for (size_t k = 0; k < direct.correlation.size(); ++k) EXPECT_NEAR(s.correlation[k], direct.correlation[k], 1e-12);
    // Seeded: the same replicate draws the same counts; another differs.
    EXPECT_EQ(bootstrap_weights(m.counts(), 5, 0), w);
    EXPECT_NE(bootstrap_weights(m.counts(), 5, 1), w);
}

TEST(BlockMoments, TooFewSamplesAndTooManyBlocksFailClearly) {
    const std::vector<float> x = gaussian(4, 2, 1);
    const BlockMoments m = blocks_of(x, 4, 1, {1, 1}, 3, 1, 4);
    std::vector<index_t> none(3, 0);
    try {
        m.statistics(none);
        FAIL() << "no samples accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("layer 'test'"), std::string::npos) << e.what();
    }
    EXPECT_THROW(BlockMoments({1 << 20, 1 << 20}, 1 << 20, 1, 0, "huge"), Error);  // 2^20 blocks x (2^21)^2 doubles
}

TEST(BootstrapInterval, PercentilesAreNumpysLinearQuantiles) {
    std::vector<double> v;
    for (int i = 0; i < 11; ++i) v.push_back(double(10 - i));  // 0..10 unsorted
    v.push_back(std::nan(""));
    const BootstrapInterval r = bootstrap_interval(5.0, v, 0.9);
    EXPECT_EQ(r.replicates, 11);
    EXPECT_DOUBLE_EQ(r.low, 0.5);    // numpy.quantile(range(11), 0.05)
    EXPECT_DOUBLE_EQ(r.high, 9.5);   // numpy.quantile(range(11), 0.95)
    EXPECT_NEAR(r.standard_error, std::sqrt(11.0), 1e-12);  // sample sd of 0..10
    EXPECT_DOUBLE_EQ(r.bias, 0.0);                           // mean 5 - estimate 5
    EXPECT_DOUBLE_EQ(bootstrap_interval(4.0, v, 0.9).bias, 1.0);
}

TEST(NullSummary, PValueCountsTheObservedValue) {
    const NullSummary s = null_summary(0.5, {0.1, 0.2, 0.6, 0.3});
    EXPECT_DOUBLE_EQ(s.p_value, 2.0 / 5.0);  // (1 + #{>= 0.5}) / (1 + 4)
    EXPECT_DOUBLE_EQ(s.mean, 0.3);
    EXPECT_NEAR(s.z, (0.5 - 0.3) / s.sd, 1e-15);
}

// The percentile intervals of the Table 1 means cover their population
// value at about the nominal rate. Population: three unit pairs with
// correlations 0.4, 0.6, 0.8 and no cross-correlation, strong enough for the
// matchings to pick the planted pairs, so the semi-matching and max-weight
// matching means both estimate 0.6.
TEST(Bootstrap, PercentileIntervalsCoverThePopulationValueAtTheNominalRate) {
    const auto backend = make_cpu_backend();
    const std::vector<double> rho = {0.4, 0.6, 0.8};
    const index_t images = 300, replicates = 200, seeds = 150;
    const double level = 0.9;
    FigureOptions fo;
    fo.indices = false;
    int covered_semi = 0, covered_matching = 0;
    for (index_t seed = 0; seed < seeds; ++seed) {
        const std::vector<float> x = correlated_pair(images, rho, 1000 + std::uint64_t(seed));
        const BlockMoments m = blocks_of(x, images, 1, {3, 3}, 100, std::uint64_t(seed), 64);
        std::vector<double> semi, matching;
        for (index_t r = 0; r < replicates; ++r) {
            const NamedFigures f = pair_figures(*backend, m.statistics(bootstrap_weights(m.counts(), std::uint64_t(seed), r)), 0, 1, fo);
            semi.push_back(f[0].second);
            matching.push_back(f[1].second);
        }
        const BootstrapInterval s = bootstrap_interval(0, semi, level), mm = bootstrap_interval(0, matching, level);
        covered_semi += s.low <= 0.6 && 0.6 <= s.high;
        covered_matching += mm.low <= 0.6 && 0.6 <= mm.high;
    }
    RecordProperty("coverage_semi_matching", std::to_string(double(covered_semi) / double(seeds)));
    RecordProperty("coverage_matching", std::to_string(double(covered_matching) / double(seeds)));
    // Binomial(150, 0.9): sd 0.024; the bounds are about 3.5 sd away.
    EXPECT_GE(double(covered_semi) / double(seeds), 0.8);
    EXPECT_LE(double(covered_semi) / double(seeds), 0.985);
    EXPECT_GE(double(covered_matching) / double(seeds), 0.8);
    EXPECT_LE(double(covered_matching) / double(seeds), 0.985);
}

// On noise an in-sample matching picks the largest chance correlations,
// which do not repeat on other images: held-out < in-sample.
TEST(Holdout, HeldOutScoresAreBelowInSampleOnNoise) {
    const auto backend = make_cpu_backend();
    HoldoutOptions ho;
    ho.lasso_alphas = {0.05, 0.01};
    double gap = 0, lasso_gap = 0, overlap_gap = 0;
    const int seeds = 5;
    for (int seed = 0; seed < seeds; ++seed) {
        const std::vector<float> x = gaussian(400, 30, 50 + std::uint64_t(seed));
        const BlockMoments m = blocks_of(x, 400, 1, {15, 15}, 100, std::uint64_t(seed), 128);
        const auto [fit_w, score_w] = holdout_weights(m.counts(), 0.5, std::uint64_t(seed));
        const HoldoutScores h = holdout_scores(*backend, m.statistics(fit_w), m.statistics(score_w), 0, 1, ho);
        EXPECT_GT(h.in_sample[0].second, h.held_out[0].second + 0.05) << "seed " << seed;
        EXPECT_GT(h.in_sample[1].second, h.held_out[1].second + 0.05) << "seed " << seed;
        EXPECT_GT(h.lasso_loss_held_out[1], h.lasso_loss_in_sample[1]) << "seed " << seed;
        ASSERT_EQ(h.held_out[2].first, "overlap_ratio");
        overlap_gap += h.in_sample[2].second - h.held_out[2].second;
        gap += h.in_sample[0].second - h.held_out[0].second;
        lasso_gap += h.lasso_loss_held_out[1] - h.lasso_loss_in_sample[1];
    }
    EXPECT_GT(gap / seeds, 0.1);  // about 2 sd of a chance correlation over 200 images
    EXPECT_GT(lasso_gap / seeds, 0.0);
    // On noise a matched partner is rarely the best one on new images.
    EXPECT_GT(overlap_gap / seeds, 0.1);
}

// With a planted exact permutation (b's units are a's, permuted, plus
// noise) the fit part finds the planted pairs, and their correlation is
// the same in expectation on either part.
TEST(Holdout, HeldOutEqualsInSampleInExpectationOnAPlantedPermutation) {
    const auto backend = make_cpu_backend();
    HoldoutOptions ho;
    ho.sparse_prediction = false;
    const index_t images = 300, p = 8;
    std::vector<double> diffs;
    for (int seed = 0; seed < 40; ++seed) {
        std::vector<float> x = correlated_pair(images, std::vector<double>(size_t(p), 0.7), 300 + std::uint64_t(seed));
        // Permute b's columns.
        const std::vector<index_t> perm = seeded_permutation(p, std::uint64_t(seed));
        for (index_t i = 0; i < images; ++i) {
            std::vector<float> row(x.begin() + i * 2 * p + p, x.begin() + (i + 1) * 2 * p);
            for (index_t j = 0; j < p; ++j) x[size_t(i * 2 * p + p + perm[size_t(j)])] = row[size_t(j)];
        }
        const BlockMoments m = blocks_of(x, images, 1, {p, p}, 60, std::uint64_t(seed), 100);
        const auto [fit_w, score_w] = holdout_weights(m.counts(), 0.5, std::uint64_t(seed));
        const LayerStatistics fit = m.statistics(fit_w);
        const HoldoutScores h = holdout_scores(*backend, fit, m.statistics(score_w), 0, 1, ho);
        diffs.push_back(h.held_out[1].second - h.in_sample[1].second);
        EXPECT_GT(h.held_out[1].second, 0.55);  // the planted pairs were found
        // ... and stay every unit's best partner on the held-out images.
        EXPECT_EQ(h.in_sample[2].second, 1.0) << "seed " << seed;
        EXPECT_EQ(h.held_out[2].second, 1.0) << "seed " << seed;
    }
    double mean = 0, ss = 0;
    for (double d : diffs) mean += d;
    mean /= double(diffs.size());
    for (double d : diffs) ss += (d - mean) * (d - mean);
    const double se = std::sqrt(ss / double(diffs.size() - 1) / double(diffs.size()));
    EXPECT_LT(std::fabs(mean), 4 * se + 1e-3) << "mean held-out - in-sample " << mean << " (se " << se << ")";
}

// A permutation replicate keeps each net's own statistics (whole images are
// moved) and breaks the correspondence.
TEST(PermutationNull, ReplicatesKeepEachNetsStatisticsAndBreakTheCorrespondence) {
    const index_t images = 50, positions = 4, p = 3;
    // Identical nets: every cross correlation of a unit with itself is 1.
    std::vector<float> a = gaussian(images * positions, p, 9);
    TensorView va;
    va.data = a.data();
    va.shape = {images, p, 2, 2};
    // (N, C, H, W) from rows (image, position, unit): transpose.
    std::vector<float> nchw(a.size());
    for (index_t i = 0; i < images; ++i)
        for (index_t s = 0; s < positions; ++s)
            for (index_t c = 0; c < p; ++c)
                nchw[size_t((i * p + c) * positions + s)] = a[size_t((i * positions + s) * p + c)];
    va.data = nchw.data();
    const LayerSource sa("a", "conv", tensor_array(va, "a"), {}), sb("b", "conv", tensor_array(va, "b"), {});
    const auto backend = make_cpu_backend();
    const LayerStatistics s0 = permuted_statistics(*backend, {&sa, &sb}, 3, 0, 7);
    const LayerStatistics s1 = permuted_statistics(*backend, {&sa, &sb}, 3, 0, 50);
    const std::vector<double> within_a = s0.correlation_block(0, 0), within_b = s0.correlation_block(1, 1),
                              cross = s0.correlation_block(0, 1);
    for (size_t k = 0; k < within_a.size(); ++k) EXPECT_NEAR(within_a[k], within_b[k], 1e-9);
    for (index_t j = 0; j < p; ++j) EXPECT_LT(std::fabs(cross[size_t(j * p + j)]), 0.6);  // was 1
    // The chunking does not change the replicate beyond rounding.
    for (size_t k = 0; k < s0.correlation.size(); ++k) EXPECT_NEAR(s0.correlation[k], s1.correlation[k], 1e-12);
    // The layers in memory give the very same replicate as reading them.
    std::vector<float> la(size_t(images * positions * p)), lb(la.size());
    sa.read_images(0, images, la.data());
    sb.read_images(0, images, lb.data());
    const LayerStatistics cached = permuted_statistics(*backend, {&sa, &sb}, 3, 0, 7, {la.data(), lb.data()});
    EXPECT_EQ(cached.correlation, s0.correlation);
    // Different replicates, different orders.
    const LayerStatistics s2 = permuted_statistics(*backend, {&sa, &sb}, 3, 1, 7);
    EXPECT_NE(s2.correlation_block(0, 1), cross);
}

TEST(CurveBand, PerRankPercentilesOverTheRanksEveryReplicateHas) {
    // Fig. 3 bands: rank k's interval from the k-th values; a replicate with
    // fewer live units limits the ranks; NaN (unmatched) values are skipped.
    const std::vector<std::vector<double>> curves = {{0.9, 0.5, 0.1}, {0.8, std::nan(""), 0.2}, {0.7, 0.3}};
    const CurveBand band = curve_band(curves, 0.5);
    ASSERT_EQ(band.low.size(), 2u);
    EXPECT_DOUBLE_EQ(band.low[0], 0.75);   // numpy.quantile([0.7, 0.8, 0.9], 0.25)
    EXPECT_DOUBLE_EQ(band.high[0], 0.85);
    EXPECT_DOUBLE_EQ(band.low[1], 0.35);   // of [0.3, 0.5]
    EXPECT_DOUBLE_EQ(band.high[1], 0.45);
}

namespace {

// Two nets of ReLU units over `rows` sample rows, net b partly driven by
// net a (so the MI matrix has structure to align), binned by footnote 6's rule.
std::vector<BinnedUnits> binned_pair(index_t rows, index_t p, std::uint64_t seed, std::vector<float>* values = nullptr) {
    std::vector<float> x = correlated_pair(rows, std::vector<double>(size_t(p), 0.7), seed);
    for (float& v : x) v = std::max(v, 0.0f);
    BinningOptions bo;
    bo.bins = 5;
    std::vector<BinnedUnits> out;
    out.push_back(bin_units(x.data(), rows, p, 2 * p, bo));
    out.push_back(bin_units(x.data() + p, rows, p, 2 * p, bo));
    if (values) *values = std::move(x);
    return out;
}

LayerStatistics stats_of(const std::vector<float>& x, index_t rows, index_t p) {
    const auto backend = make_cpu_backend();
    MomentAccumulator acc({p, p});
    acc.push(*backend, x.data(), rows, 2 * p);
    return finalize_statistics(acc);
}

}  // namespace

// A bootstrap replicate that takes every block once is the data itself: its
// MI figures are the real ones, bit for bit.
TEST(MiFigures, UnitBlockWeightsGiveTheRealFigures) {
    const index_t images = 40, positions = 3, p = 6, rows = images * positions;
    std::vector<float> x;
    const std::vector<BinnedUnits> codes = binned_pair(rows, p, 11, &x);
    const LayerStatistics stats = stats_of(x, rows, p);
    const BlockMoments blocks = blocks_of(x, images, positions, {p, p}, 8, 5, 7);
    std::vector<index_t> sample(static_cast<size_t>(rows));
    for (index_t r = 0; r < rows; ++r) sample[size_t(r)] = r;
    const std::vector<index_t> rw = sample_row_weights(blocks, sample, positions, std::vector<index_t>(8, 1));
    EXPECT_EQ(rw, std::vector<index_t>(size_t(rows), 1));
    const std::vector<BinnedUnits> same = {repeat_samples(codes[0], rw), repeat_samples(codes[1], rw)};
    EXPECT_EQ(same[0].codes, codes[0].codes);
    const auto backend = make_cpu_backend();
    const NamedFigures replicate = mi_pair_figures(*backend, same, stats, 0, 1, false);
    // The real figures as the MI step computes them.
    const std::vector<double> mi = mutual_information_matrix(*backend, codes[0], codes[1]);
    const Alignment al = align_nets(*backend, mi.data(), stats, 0, 1, false);
    ASSERT_EQ(replicate.size(), 3u);
    EXPECT_EQ(replicate[0].first, "mi_semi_matching_mean");
    EXPECT_EQ(replicate[0].second, al.semi.mean);
    EXPECT_EQ(replicate[1].second, al.matching.mean);
    EXPECT_EQ(replicate[2].second, al.overlap_ratio);
    EXPECT_GT(al.semi.mean, 0.05);  // the planted dependence is found
    // A row's weight is its image's block's weight.
    std::vector<index_t> bw(8);
    for (index_t b = 0; b < 8; ++b) bw[size_t(b)] = b % 3;
    const std::vector<index_t> w = sample_row_weights(blocks, {0, 5, 61, 119}, positions, bw);
    for (size_t k = 0; k < w.size(); ++k)
        EXPECT_EQ(w[k], bw[size_t(blocks.block_of(std::vector<index_t>{0, 5, 61, 119}[k] / positions))]);
}

// The weighted joint histograms (and so the MI) of a replicate equal the
// brute-force weighted counts sum_s w_s [x_s = x, y_s = y], n = sum_s w_s.
TEST(MiFigures, WeightedCountsEqualBruteForceWeightedHistograms) {
    const index_t rows = 90, p = 4;
    const std::vector<BinnedUnits> codes = binned_pair(rows, p, 12);
    std::mt19937_64 rng(3);
    std::vector<index_t> w(static_cast<size_t>(rows));
    index_t n = 0;
    for (index_t& v : w) n += (v = index_t(rng() % 4));  // 0..3, as multinomial counts
    const BinnedUnits ra = repeat_samples(codes[0], w), rb = repeat_samples(codes[1], w);
    ASSERT_EQ(ra.samples, n);
    const int bins = codes[0].bins;
    const std::vector<std::int32_t> counts = joint_histogram_counts(ra.view(), 0, p, rb.view(), 0, p);
    const auto backend = make_cpu_backend();
    const std::vector<double> mi = mutual_information_matrix(*backend, ra, rb);
    for (index_t i = 0; i < p; ++i)
        for (index_t j = 0; j < p; ++j) {
            std::vector<std::int32_t> brute(size_t(bins * bins), 0);
            for (index_t s = 0; s < rows; ++s)
                brute[size_t(codes[0].codes[size_t(i * rows + s)] * bins + codes[1].codes[size_t(j * rows + s)])] +=
                    std::int32_t(w[size_t(s)]);
            const std::int32_t* got = counts.data() + (i * p + j) * bins * bins;
            EXPECT_EQ(std::vector<std::int32_t>(got, got + bins * bins), brute) << "pair " << i << "," << j;
            EXPECT_NEAR(mi[size_t(i * p + j)], mutual_information_from_counts(brute.data(), bins, n), 1e-12);
        }
    EXPECT_THROW(repeat_samples(codes[0], std::vector<index_t>(size_t(rows), 0)), Error);
}

// The permutation pass gathers the MI sample of the replicate: the first
// net's rows as they are, every other net's rows from its permuted images.
TEST(PermutationNull, GathersTheSampleRowsOfThePermutedImages) {
    const index_t images = 30, positions = 4, p = 2, t = 2 * p;
    std::vector<float> rows_a = gaussian(images * positions, p, 21), rows_b = gaussian(images * positions, p, 22);
    const auto nchw = [&](const std::vector<float>& r) {
        std::vector<float> out(r.size());
        for (index_t i = 0; i < images; ++i)
            for (index_t s = 0; s < positions; ++s)
                for (index_t c = 0; c < p; ++c)
                    out[size_t((i * p + c) * positions + s)] = r[size_t((i * positions + s) * p + c)];
        return out;
    };
    std::vector<float> xa = nchw(rows_a), xb = nchw(rows_b);
    TensorView va, vb;
    va.data = xa.data(), vb.data = xb.data();
    va.shape = vb.shape = {images, p, 2, 2};
    const LayerSource sa("a", "conv", tensor_array(va, "a"), {}), sb("b", "conv", tensor_array(vb, "b"), {});
    const auto backend = make_cpu_backend();
    const std::vector<index_t> sample = {0, 3, 17, 18, 63, 119};
    std::vector<float> got;
    const std::uint64_t seed = 5;
    const index_t replicate = 2;
    permuted_statistics(*backend, {&sa, &sb}, seed, replicate, 7, {}, sample, &got);
    ASSERT_EQ(got.size(), sample.size() * size_t(t));
    const std::vector<index_t> order =
        seeded_permutation(images, resampling_seed(seed, kPermutationStream, std::uint64_t(replicate) * 1024 + 1));
    for (size_t k = 0; k < sample.size(); ++k) {
        const index_t g = sample[k], image = g / positions, pos = g % positions;
        const index_t source_row = order[size_t(image)] * positions + pos;
        for (index_t c = 0; c < p; ++c) {
            EXPECT_EQ(got[k * size_t(t) + size_t(c)], rows_a[size_t(g * p + c)]);
            EXPECT_EQ(got[k * size_t(t) + size_t(p + c)], rows_b[size_t(source_row * p + c)]);
        }
    }
}

// Held-out MI: the same rows as fit and score part give held-out = in-sample
// (the chosen pairs' MI is read back); on noise rows the held-out MI of the
// pairs chosen elsewhere is below the in-sample maximum.
TEST(MiFigures, HeldOutScoresReadTheChosenPairsOnTheScoreRows) {
    const index_t rows = 200, p = 5;
    std::vector<float> x;
    const std::vector<BinnedUnits> codes = binned_pair(rows, p, 13, &x);
    const LayerStatistics stats = stats_of(x, rows, p);
    const auto backend = make_cpu_backend();
    HoldoutScores same;
    mi_holdout_scores(*backend, codes, codes, stats, 0, 1, false, same);
    ASSERT_EQ(same.held_out.size(), 3u);
    EXPECT_EQ(same.held_out[0].first, "mi_semi_matching_mean");
    EXPECT_EQ(same.held_out[0].second, same.in_sample[0].second);
    EXPECT_EQ(same.held_out[1].second, same.in_sample[1].second);
    // Scored on the same rows, a matched partner is the best one exactly
    // when semi-matching chose it too: the held-out overlap is the overlap.
    EXPECT_EQ(same.held_out[2].first, "mi_overlap_ratio");
    EXPECT_EQ(same.held_out[2].second, same.in_sample[2].second);
    // Independent halves of pure noise (b shuffled against a): the pairs
    // chosen on one half score lower on the other.
    std::vector<float> noise = gaussian(rows, 2 * p, 14);
    for (float& v : noise) v = std::max(v, 0.0f);
    BinningOptions bo;
    bo.bins = 5;
    const std::vector<BinnedUnits> nc = {bin_units(noise.data(), rows, p, 2 * p, bo),
                                         bin_units(noise.data() + p, rows, p, 2 * p, bo)};
    std::vector<index_t> first(static_cast<size_t>(rows), 0), second(static_cast<size_t>(rows), 0);
    for (index_t s = 0; s < rows; ++s) (s % 2 ? second : first)[size_t(s)] = 1;
    const std::vector<BinnedUnits> fit = {repeat_samples(nc[0], first), repeat_samples(nc[1], first)},
                                   score = {repeat_samples(nc[0], second), repeat_samples(nc[1], second)};
    HoldoutScores h;
    mi_holdout_scores(*backend, fit, score, stats_of(noise, rows, p), 0, 1, false, h);
    EXPECT_LT(h.held_out[0].second, h.in_sample[0].second);
}
