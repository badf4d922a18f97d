#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "convergent/summary_json.hpp"
#include "convergent/sparse_prediction.hpp"
#include "convergent/statistics.hpp"
#include "statistics_test_support.hpp"
#include "sparse_prediction_internal.hpp"

using namespace convergent;

namespace {

using statistics_test_support::stats_from_correlation;

double soft(double z, double a) { return z > a ? z - a : z < -a ? z + a : 0.0; }

}  // namespace

TEST(SparsePrediction, OrthogonalPredictorsAreSoftThresholded) {
    // R = I: the lasso solution is w_j = S(r_j, alpha) exactly.
    const index_t p = 5;
    std::vector<double> R(size_t(p * p), 0.0);
    for (index_t j = 0; j < p; ++j) R[size_t(j * p + j)] = 1.0;
    const std::vector<double> r = {0.6, -0.3, 0.05, 0.0, -0.11};
    std::vector<double> w(size_t(p), 0.0);
    const double gap = lasso_covariance_descent(R.data(), r.data(), p, 0.1, 1e-12, 1000, w.data());
    EXPECT_LT(gap, 1e-12);
    for (index_t j = 0; j < p; ++j) EXPECT_NEAR(w[size_t(j)], soft(r[size_t(j)], 0.1), 1e-14) << j;
    EXPECT_EQ(w[2], 0.0);
    EXPECT_EQ(w[3], 0.0);
}

TEST(SparsePrediction, TwoCorrelatedPredictorsClosedForm) {
    // Both active with positive signs: w = R^{-1} (r - alpha 1).
    const double rho = 0.3, alpha = 0.05;
    const std::vector<double> R = {1.0, rho, rho, 1.0};
    const std::vector<double> r = {0.8, 0.6};
    std::vector<double> w(2, 0.0);
    int sweeps = 0;
    lasso_covariance_descent(R.data(), r.data(), 2, alpha, 1e-14, 10000, w.data(), &sweeps);
    const double det = 1.0 - rho * rho;
    const double b1 = r[0] - alpha, b2 = r[1] - alpha;
    EXPECT_NEAR(w[0], (b1 - rho * b2) / det, 1e-9);
    EXPECT_NEAR(w[1], (b2 - rho * b1) / det, 1e-9);
    EXPECT_GT(sweeps, 1);
    // Stronger alpha: w = (r1 - alpha, 0) is optimal once |r2 - rho w1| <= alpha;
    // at alpha = 0.55: w1 = 0.25 and |0.6 - 0.075| = 0.525 <= 0.55.
    std::vector<double> w2(2, 0.0);
    lasso_covariance_descent(R.data(), r.data(), 2, 0.55, 1e-14, 10000, w2.data());
    EXPECT_NEAR(w2[0], 0.25, 1e-12);
    EXPECT_EQ(w2[1], 0.0);
}

TEST(SparsePrediction, KktConditionsOnRandomCorrelatedProblem) {
    // Random correlation from data: at the optimum, g = r - R w satisfies
    // g_j = alpha sign(w_j) on the support and |g_j| <= alpha off it.
    const index_t n = 400, p = 30;
    std::mt19937 rng(7);
    std::normal_distribution<double> g(0.0, 1.0);
    std::vector<double> x(size_t(n * (p + 1)));
    for (index_t i = 0; i < n; ++i) {
        const double shared = g(rng);
        for (index_t j = 0; j <= p; ++j) x[size_t(i * (p + 1) + j)] = 0.7 * shared + g(rng);
    }
    std::vector<float> xf(x.begin(), x.end());
    MomentAccumulator acc({1, p});
    auto backend = make_cpu_backend();
    acc.push(*backend, xf.data(), n, p + 1);
    const LayerStatistics s = finalize_statistics(acc);
    const std::vector<double> R = s.correlation_block(1, 1);
    const std::vector<double> r = s.correlation_block(0, 1);
    for (double alpha : {0.2, 0.05, 0.01}) {
        std::vector<double> w(size_t(p), 0.0);
        const double gap = lasso_covariance_descent(R.data(), r.data(), p, alpha, 1e-13, 100000, w.data());
        EXPECT_LT(gap, 1e-13);
        for (index_t j = 0; j < p; ++j) {
            double gj = r[size_t(j)];
            for (index_t k = 0; k < p; ++k) gj -= R[size_t(j * p + k)] * w[size_t(k)];
            if (w[size_t(j)] != 0.0)
                EXPECT_NEAR(gj, alpha * (w[size_t(j)] > 0 ? 1.0 : -1.0), 1e-6) << alpha << " " << j;
            else
                EXPECT_LE(std::fabs(gj), alpha + 1e-6) << alpha << " " << j;
        }
    }
}

TEST(SparsePrediction, PathLossNonzeroDeadUnitsAndJson) {
    // Net 0: 3 targets (unit 2 dead); net 1: 3 predictors (unit 1 dead).
    // Predictors 0 and 2 are orthogonal, so each target's solution is
    // soft thresholding of its correlations.
    std::vector<double> c = {
        1, 0, 0, 0.6, 0.9, 0.1,  //
        0, 1, 0, -0.2, 0.3, 0.4,  //
        0, 0, 1, 0.5, 0.5, 0.5,  //
        0.6, -0.2, 0.5, 1, 0.2, 0,  //
        0.9, 0.3, 0.5, 0.2, 1, 0.7,  //
        0.1, 0.4, 0.5, 0, 0.7, 1};
    const LayerStatistics s = stats_from_correlation({3, 3}, c, {0, 0, 1, 0, 1, 0});
    SparsePredictionOptions opt;
    opt.alphas = {0.5, 0.15, 0.01};
    opt.keep_weights = true;
    const SparsePredictionResult res = sparse_prediction(s, 0, 1, opt);
    ASSERT_EQ(res.loss.size(), 3u);
    EXPECT_TRUE(res.dead_target[2]);
    EXPECT_TRUE(res.dead_predictor[1]);
    // alpha 0.5: target 0: w = (0.1, 0, 0), loss = 0.5 (1 - 2*0.06 + 0.01) = 0.445.
    EXPECT_NEAR(res.weights[0][0], 0.1, 1e-12);
    EXPECT_NEAR(res.loss[0][0], 0.445, 1e-12);
    EXPECT_EQ(res.nonzero[0][0], 1);
    // target 1 at alpha 0.5: nothing -> loss 0.5.
    EXPECT_NEAR(res.loss[0][1], 0.5, 1e-12);
    EXPECT_EQ(res.nonzero[0][1], 0);
    // alpha 0.15: target 1: w = (-0.05, 0, 0.25): loss = 0.5 (1 - 2(0.01 + 0.1) + 0.0025 + 0.0625).
    EXPECT_NEAR(res.weights[1][3 + 0], -0.05, 1e-12);
    EXPECT_EQ(res.weights[1][3 + 1], 0.0);
    EXPECT_NEAR(res.weights[1][3 + 2], 0.25, 1e-12);
    EXPECT_NEAR(res.loss[1][1], 0.5 * (1 - 0.22 + 0.065), 1e-12);
    EXPECT_EQ(res.nonzero[1][1], 2);
    // target 0 at alpha 0.15: w = (0.45, 0, 0), one weight; mean over live targets 0 and 1.
    EXPECT_NEAR(res.weights[1][0], 0.45, 1e-12);
    EXPECT_NEAR(res.mean_nonzero[1], 1.5, 1e-12);
    EXPECT_TRUE(std::isnan(res.loss[2][2]));
    for (std::uint8_t ok : res.converged) EXPECT_TRUE(ok);

    const nlohmann::json j = sparse_prediction_to_json(res, "net1", "net2");
    EXPECT_EQ(j.size(), 7u);
    for (const char* key : {"targets", "predictors", "alphas", "mean_loss", "mean_nonzero", "loss", "nonzero"})
        EXPECT_TRUE(j.contains(key)) << key;
    EXPECT_EQ(j["targets"], "net1");
    EXPECT_TRUE(j["loss"][0][2].is_null());
    EXPECT_EQ(j["nonzero"][1][1], 2);
    EXPECT_NEAR(j["mean_loss"][0].get<double>(), 0.5 * (0.445 + 0.5), 1e-12);
}

TEST(SparsePrediction, PlantedSparseRelationFromData) {
    // y = b0 + 0.6 b3 + small noise: at a small alpha the support is {0, 3}
    // and the loss is close to the noise level.
    const index_t n = 5000, p = 8;
    std::mt19937 rng(3);
    std::normal_distribution<double> g(0.0, 1.0);
    std::vector<float> x(size_t(n * (p + 1)));
    for (index_t i = 0; i < n; ++i) {
        float* row = x.data() + i * (p + 1);
        for (index_t j = 0; j < p; ++j) row[1 + j] = float(g(rng));
        row[0] = float(row[1] + 0.6 * row[4] + 0.05 * g(rng));
    }
    MomentAccumulator acc({1, p});
    auto backend = make_cpu_backend();
    acc.push(*backend, x.data(), n, p + 1);
    SparsePredictionOptions opt;
    opt.alphas = {0.02};
    opt.keep_weights = true;
    const SparsePredictionResult res = sparse_prediction(finalize_statistics(acc), 0, 1, opt);
    EXPECT_EQ(res.nonzero[0][0], 2);
    EXPECT_NE(res.weights[0][0], 0.0);
    EXPECT_NE(res.weights[0][3], 0.0);
    EXPECT_LT(res.loss[0][0], 0.01);
}

TEST(SparsePrediction, RejectsBadArguments) {
    const LayerStatistics s = stats_from_correlation({1, 1}, {1, 0.5, 0.5, 1});
    EXPECT_THROW(sparse_prediction(s, 0, 0), Error);
    EXPECT_THROW(sparse_prediction(s, 0, 2), Error);
    SparsePredictionOptions opt;
    opt.alphas = {0.1, -1.0};
    EXPECT_THROW(sparse_prediction(s, 0, 1, opt), Error);
    opt.alphas = {};
    EXPECT_THROW(sparse_prediction(s, 0, 1, opt), Error);
}
