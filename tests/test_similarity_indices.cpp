#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include <Eigen/Dense>

#include "convergent/similarity_indices.hpp"
#include "convergent/summary_json.hpp"

using namespace convergent;

namespace {

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

std::vector<double> flat(const RowMatrix& m) { return std::vector<double>(m.data(), m.data() + m.size()); }

SimilarityIndices from_blocks(const RowMatrix& xx, const RowMatrix& yy, const RowMatrix& xy, index_t n = 1000,
                              SimilarityIndicesOptions o = {}) {
    return similarity_indices(xx.data(), yy.data(), xy.data(), xx.rows(), yy.rows(), n, o);
}

RowMatrix gaussian_matrix(std::mt19937_64& rng, index_t rows, index_t cols) {
    std::normal_distribution<double> normal;
    RowMatrix m(rows, cols);
    for (index_t i = 0; i < m.size(); ++i) m.data()[i] = normal(rng);
    return m;
}

// Unbiased HSIC on n x n kernels (Song et al. 2012, eq. 5), brute force.
double hsic_unbiased(RowMatrix k, RowMatrix l) {
    const double n = double(k.rows());
    k.diagonal().setZero();
    l.diagonal().setZero();
    const RowMatrix kl = k * l;
    return (kl.trace() + k.sum() * l.sum() / ((n - 1) * (n - 2)) - 2.0 / (n - 2) * kl.sum()) / (n * (n - 3));
}

}  // namespace

TEST(SimilarityIndices, HandExample) {
    // Whitened nets with cross-covariance diag(0.6, 0.3): the canonical
    // correlations are 0.6 and 0.3.
    const RowMatrix id = RowMatrix::Identity(2, 2);
    RowMatrix xy = RowMatrix::Zero(2, 2);
    xy(0, 0) = 0.6, xy(1, 1) = 0.3;
    const SimilarityIndices r = from_blocks(id, id, xy);
    ASSERT_EQ(r.cca.size(), 2u);
    EXPECT_NEAR(r.cca[0], 0.6, 1e-14);
    EXPECT_NEAR(r.cca[1], 0.3, 1e-14);
    EXPECT_NEAR(r.cca_mean, 0.45, 1e-14);
    EXPECT_NEAR(r.cka, (0.36 + 0.09) / 2.0, 1e-14);        // ||Sxy||^2 / (||I|| ||I||)
    EXPECT_NEAR(r.svcca_mean, 0.45, 1e-14);
    EXPECT_EQ(r.svcca_dims_a, 2);
    EXPECT_NEAR(r.pwcca_a, 0.45, 1e-14);                   // equal weights
    EXPECT_NEAR(r.procrustes_euclidean, std::sqrt(2 + 2 - 2 * 0.9), 1e-14);
    EXPECT_NEAR(r.procrustes_angular, std::acos(0.9 / 2.0), 1e-14);
    EXPECT_TRUE(std::isnan(r.cka_debiased));
    EXPECT_NE(r.debiased_note.find("not available"), std::string::npos);
    EXPECT_TRUE(r.warnings.empty());
    const nlohmann::json j = similarity_indices_to_json(r, "n1", "n2");
    EXPECT_TRUE(j["cka_debiased"].is_null());
    EXPECT_EQ(j["svcca_dims"]["n2"], 2);
    EXPECT_EQ(j["pwcca_weights"], "n1");
}

TEST(SimilarityIndices, SvccaKeepsTheTopVarianceDirections) {
    // Net a: variances 4 and 1 (80% / 20%); at 0.75 SVCCA keeps only the
    // first unit, whose correlation with net b's first unit is 0.6.
    RowMatrix xx = RowMatrix::Zero(2, 2), yy = RowMatrix::Identity(2, 2), xy = RowMatrix::Zero(2, 2);
    xx(0, 0) = 4, xx(1, 1) = 1;
    xy(0, 0) = 0.6 * 2, xy(1, 1) = 0.3;
    SimilarityIndicesOptions o;
    o.svcca_variance = 0.75;
    const SimilarityIndices r = from_blocks(xx, yy, xy, 1000, o);
    EXPECT_EQ(r.svcca_dims_a, 1);
    EXPECT_EQ(r.svcca_dims_b, 2);  // b: two equal variances, one holds only 50%
    EXPECT_NEAR(r.svcca_mean, 0.6, 1e-13);
    EXPECT_NEAR(r.cca_mean, 0.45, 1e-13);
}

TEST(SimilarityIndices, RotatedCopyIsIdenticalForEveryIndex) {
    std::mt19937_64 rng(3);
    const RowMatrix x = gaussian_matrix(rng, 200, 5);
    const RowMatrix q = Eigen::HouseholderQR<RowMatrix>(gaussian_matrix(rng, 5, 5)).householderQ();
    const RowMatrix y = x * q;
    const SimilarityIndices r = similarity_indices_from_data(x.data(), y.data(), 200, 5, 5, {});
    EXPECT_NEAR(r.cka, 1.0, 1e-12);
    EXPECT_NEAR(r.cka_debiased, 1.0, 1e-12);
    EXPECT_NEAR(r.cca_mean, 1.0, 1e-12);
    EXPECT_NEAR(r.svcca_mean, 1.0, 1e-12);
    EXPECT_NEAR(r.pwcca_a, 1.0, 1e-12);
    EXPECT_NEAR(r.pwcca_b, 1.0, 1e-12);
    EXPECT_NEAR(r.procrustes_euclidean, 0.0, 1e-6);  // sqrt of a difference of O(1) terms
    EXPECT_NEAR(r.procrustes_angular, 0.0, 1e-6);
    // An invertible (not orthogonal) map: CCA stays 1, CKA and Procrustes do not.
    RowMatrix skew = RowMatrix::Identity(5, 5);
    skew(0, 1) = 3.0;
    const RowMatrix z = x * skew;
    const SimilarityIndices s = similarity_indices_from_data(x.data(), z.data(), 200, 5, 5, {});
    EXPECT_NEAR(s.cca_mean, 1.0, 1e-12);
    EXPECT_LT(s.cka, 0.99);
    EXPECT_GT(s.procrustes_angular, 0.05);
    // ... and fully whitened Procrustes (alpha = 0) sees through it.
    SimilarityIndicesOptions whiten;
    whiten.procrustes_alpha = 0.0;
    EXPECT_NEAR(similarity_indices_from_data(x.data(), z.data(), 200, 5, 5, whiten).procrustes_angular, 0.0, 1e-6);
}

TEST(SimilarityIndices, DebiasedCkaEqualsTheKernelFormulaAndIgnoresShifts) {
    std::mt19937_64 rng(7);
    const index_t n = 23;
    RowMatrix x = gaussian_matrix(rng, n, 4);
    RowMatrix y = x.leftCols(3) + 0.8 * gaussian_matrix(rng, n, 3);
    const RowMatrix xc = x.rowwise() - x.colwise().mean(), yc = y.rowwise() - y.colwise().mean();
    const RowMatrix k = xc * xc.transpose(), l = yc * yc.transpose();
    const double expected = hsic_unbiased(k, l) / std::sqrt(hsic_unbiased(k, k) * hsic_unbiased(l, l));
    const SimilarityIndices r = similarity_indices_from_data(x.data(), y.data(), n, 4, 3, {});
    EXPECT_NEAR(r.cka_debiased, expected, 1e-12);
    // The unbiased HSIC of linear kernels is invariant to a constant shift.
    const RowMatrix k_raw = x * x.transpose(), l_raw = y * y.transpose();
    EXPECT_NEAR(hsic_unbiased(k_raw, l_raw), hsic_unbiased(k, l), 1e-10);
    // Pair terms around another reference give the same value.
    const Eigen::RowVectorXd cx = Eigen::RowVectorXd::Constant(4, 10.0), cy = Eigen::RowVectorXd::Constant(3, -7.0);
    const RowMatrix xs = x.rowwise() - cx, ys = y.rowwise() - cy;
    HsicPairTerms t;
    const Eigen::VectorXd qx = xs.rowwise().squaredNorm(), qy = ys.rowwise().squaredNorm();
    auto vec = [](const Eigen::VectorXd& v) { return std::vector<double>(v.data(), v.data() + v.size()); };
    t.sum_x = vec(xs.colwise().sum().transpose());
    t.sum_y = vec(ys.colwise().sum().transpose());
    t.norm_sum_x = qx.sum(), t.norm_sum_y = qy.sum();
    t.norm_square_x = qx.squaredNorm(), t.norm_square_y = qy.squaredNorm(), t.norm_product = qx.dot(qy);
    t.x_by_qx = vec(xs.transpose() * qx), t.x_by_qy = vec(xs.transpose() * qy);
    t.y_by_qx = vec(ys.transpose() * qx), t.y_by_qy = vec(ys.transpose() * qy);
    const RowMatrix sxx = xc.transpose() * xc / double(n), syy = yc.transpose() * yc / double(n),
                    sxy = xc.transpose() * yc / double(n);
    const SimilarityIndices shifted =
        similarity_indices(sxx.data(), syy.data(), sxy.data(), 4, 3, n, {}, &t);
    EXPECT_NEAR(shifted.cka_debiased, expected, 1e-10);
    // Fewer than 4 samples: no value, a note.
    const SimilarityIndices tiny = similarity_indices(sxx.data(), syy.data(), sxy.data(), 4, 3, 3, {}, &t);
    EXPECT_TRUE(std::isnan(tiny.cka_debiased));
    EXPECT_NE(tiny.debiased_note.find("at least 4 samples"), std::string::npos);
}

TEST(SimilarityIndices, PerSampleTermsOfAPair) {
    PerSampleTerms t;
    t.block_widths = {2, 1};
    t.samples = 5;
    t.sums = {1, 2, 3};
    t.norm_sums = {10, 20};
    t.norm_products = {100, 150, 150, 400};
    t.weighted_sums = {1, 2, 3, 4, 5, 6};
    const HsicPairTerms p = hsic_pair_terms(t, 0, 1);
    EXPECT_EQ(p.sum_x, (std::vector<double>{1, 2}));
    EXPECT_EQ(p.sum_y, (std::vector<double>{3}));
    EXPECT_EQ(p.norm_square_x, 100);
    EXPECT_EQ(p.norm_square_y, 400);
    EXPECT_EQ(p.norm_product, 150);
    EXPECT_EQ(p.x_by_qx, (std::vector<double>{1, 2}));
    EXPECT_EQ(p.x_by_qy, (std::vector<double>{4, 5}));
    EXPECT_EQ(p.y_by_qx, (std::vector<double>{3}));
    EXPECT_EQ(p.y_by_qy, (std::vector<double>{6}));
    EXPECT_THROW(hsic_pair_terms(t, 0, 2), Error);
}

TEST(SimilarityIndices, DeadUnitsAreLeftOutOfTheCcaFamily) {
    std::mt19937_64 rng(5);
    RowMatrix x = gaussian_matrix(rng, 100, 4);
    const RowMatrix y = x.leftCols(3) + 0.5 * gaussian_matrix(rng, 100, 3);
    const SimilarityIndices live = similarity_indices_from_data(x.data(), y.data(), 100, 4, 3, {});
    RowMatrix with_dead(100, 5);
    with_dead << x.leftCols(2), RowMatrix::Constant(100, 1, 2.5), x.rightCols(2);
    const SimilarityIndices r = similarity_indices_from_data(with_dead.data(), y.data(), 100, 5, 3, {});
    EXPECT_EQ(r.dead_a, 1);
    EXPECT_EQ(r.dead_b, 0);
    EXPECT_EQ(r.cca.size(), 3u);
    EXPECT_NEAR(r.cca_mean, live.cca_mean, 1e-12);
    EXPECT_NEAR(r.pwcca_a, live.pwcca_a, 1e-12);
    EXPECT_NEAR(r.cka, live.cka, 1e-12);
    EXPECT_NEAR(r.cka_debiased, live.cka_debiased, 1e-12);
    EXPECT_NEAR(r.procrustes_euclidean, live.procrustes_euclidean, 1e-12);
    EXPECT_TRUE(r.warnings.empty());
}

TEST(SimilarityIndices, RankDeficientCovarianceGetsARidgeNotNaN) {
    std::mt19937_64 rng(9);
    const RowMatrix x = gaussian_matrix(rng, 6, 10);  // 6 samples, 10 units
    const RowMatrix y = gaussian_matrix(rng, 6, 8);
    const SimilarityIndices r = similarity_indices_from_data(x.data(), y.data(), 6, 10, 8, {});
    EXPECT_GT(r.ridge_a, 0);
    EXPECT_GT(r.ridge_b, 0);
    ASSERT_EQ(r.warnings.size(), 2u);
    EXPECT_NE(r.warnings[0].find("rank-deficient (6 samples)"), std::string::npos);
    for (double v : {r.cka, r.cka_debiased, r.cca_mean, r.svcca_mean, r.pwcca_a, r.pwcca_b, r.procrustes_euclidean,
                     r.procrustes_angular})
        EXPECT_TRUE(std::isfinite(v));
    for (double c : r.cca) EXPECT_TRUE(c >= 0 && c <= 1);
}

TEST(SimilarityIndices, NoLiveUnitsAndBadInput) {
    const RowMatrix zero = RowMatrix::Zero(2, 2), id = RowMatrix::Identity(2, 2);
    const SimilarityIndices r = from_blocks(zero, id, zero);
    EXPECT_EQ(r.dead_a, 2);
    EXPECT_TRUE(std::isnan(r.cka) && std::isnan(r.cca_mean));
    EXPECT_FALSE(r.warnings.empty());
    RowMatrix asym = id;
    asym(0, 1) = 0.5;
    EXPECT_THROW(from_blocks(asym, id, zero), Error);
    RowMatrix nan = id;
    nan(1, 1) = std::nan("");
    EXPECT_THROW(from_blocks(nan, id, zero), Error);
    SimilarityIndicesOptions bad;
    bad.procrustes_alpha = 1.5;
    EXPECT_THROW(from_blocks(id, id, zero, 10, bad), Error);
    EXPECT_THROW(from_blocks(id, id, zero, 1), Error);
}
