// Sparse prediction (Sec. 4 motivation; reviews: "an average of 4.7 conv1
// units"): every unit of one net (the targets) is predicted as a sparse linear
// combination of all units of another net (the predictors) by L1-regularised
// least squares on standardised data.
//
// The problem is solved on the sufficient statistics of LayerStatistics, so no
// second pass over the activations is needed. With standardised predictors X
// and target y (population std, centred), sklearn's Lasso objective
//     (1/2n) ||y - X w||^2 + alpha ||w||_1            (fit_intercept=True)
// equals
//     0.5 * (1 - 2 w.r + w.R w) + alpha ||w||_1,
// R = corr(B, B), r = corr(B, a_i). The minimiser is therefore identical to
// sklearn.linear_model.Lasso fit on the standardised data.
#pragma once

#include <cstdint>
#include <string>
#include <vector>


#include "convergent/statistics.hpp"

namespace convergent {

struct SparsePredictionOptions {
    // L1 strengths, solved in this order with warm starts. Must be > 0; the
    // path is meant to be decreasing (strong to weak) but any order works.
    std::vector<double> alphas = {0.3, 0.1, 0.05, 0.03, 0.02, 0.01, 0.005};
    // Convergence: duality gap of the standardised problem < tol (sklearn's
    // criterion; its gap is scaled by ||y||^2 = n here, so tol means the same).
    double tol = 1e-7;
    // Maximum number of coordinate sweeps per alpha (full + active-set sweeps).
    int max_iter = 10000;
    // Keep the weight matrices in the result (targets x predictors per alpha).
    bool keep_weights = false;
};

struct SparsePredictionResult {
    int target_net = 0;
    int predictor_net = 0;
    index_t targets = 0;     // units of the target net
    index_t predictors = 0;  // units of the predictor net
    std::vector<double> alphas;
    // [alpha][target]: 0.5 * MSE on the standardised target (predicting
    // nothing = 0.5). NaN for dead targets (null in JSON).
    std::vector<std::vector<double>> loss;
    // [alpha][target]: number of non-zero weights (0 for dead targets).
    std::vector<std::vector<index_t>> nonzero;
    std::vector<double> mean_loss;     // per alpha, mean over live targets (NaN if none)
    std::vector<double> mean_nonzero;  // per alpha, mean over live targets (NaN if none)
    // [alpha]: largest duality gap over the targets at the end of the solve.
    std::vector<double> max_duality_gap;
    // [alpha]: whether every target reached gap < tol within max_iter.
    std::vector<std::uint8_t> converged;
    std::vector<std::uint8_t> dead_target;     // per target unit
    std::vector<std::uint8_t> dead_predictor;  // per predictor unit (always weight 0)
    // [alpha]: targets x predictors row-major, only with keep_weights.
    std::vector<std::vector<double>> weights;
};

// Lasso path of every unit of target_net on all units of predictor_net.
// target_net may equal predictor_net only in the sense of two different nets;
// predicting a net from itself is rejected (the unit would predict itself).
// Parallel over target units (OpenMP); deterministic.
SparsePredictionResult sparse_prediction(const LayerStatistics& stats, int target_net,
                                         int predictor_net,
                                         const SparsePredictionOptions& options = {});

}  // namespace convergent
