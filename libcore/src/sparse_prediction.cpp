#include "convergent/sparse_prediction.hpp"
#include "sparse_prediction_internal.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <omp.h>

#include "allocation.hpp"
#include "parallel_guard.hpp"

namespace convergent {

namespace {

double soft_threshold(double z, double alpha) {
    if (z > alpha) return z - alpha;
    if (z < -alpha) return z + alpha;
    return 0.0;
}

// The state of one coordinate-descent solve on the sufficient statistics.
// g = r - R w is kept up to date ("covariance updates", Friedman, Hastie &
// Tibshirani 2010): a coordinate step costs O(1) when w_j stays put and O(p)
// when it moves, so sweeps are cheap while the solution is sparse.
struct CovarianceDescent {
    const double* R;
    const double* r;
    index_t p;
    double alpha;
    double* w;
    std::vector<double> g;
    std::vector<index_t> active;

    void recompute_gradient() {
        g.assign(r, r + p);
        for (index_t j = 0; j < p; ++j) {
            const double wj = w[j];
            if (wj == 0.0) continue;
            const double* column = R + j * p;  // R symmetric: row j == column j
            for (index_t i = 0; i < p; ++i) g[size_t(i)] -= wj * column[i];
        }
    }

    // One coordinate step; returns |change of w_j|.
    double step(index_t j) {
        const double rjj = R[j * p + j];
        if (rjj <= 0.0) return 0.0;  // dead predictor: weight stays 0
        const double old = w[j];
        // Minimiser in w_j of 0.5 * rjj * w_j^2 - (g_j + rjj * old) * w_j + alpha |w_j|.
        const double updated = soft_threshold(g[size_t(j)] + rjj * old, alpha) / rjj;
        const double delta = updated - old;
        if (delta != 0.0) {
            w[j] = updated;
            const double* column = R + j * p;
            for (index_t i = 0; i < p; ++i) g[size_t(i)] -= delta * column[i];
        }
        return std::fabs(delta);
    }

    double sweep_all() {
        double max_change = 0.0;
        for (index_t j = 0; j < p; ++j) max_change = std::max(max_change, step(j));
        return max_change;
    }

    double sweep_active() {
        double max_change = 0.0;
        for (index_t j : active) max_change = std::max(max_change, step(j));
        return max_change;
    }

    void collect_active() {
        active.clear();
        for (index_t j = 0; j < p; ++j)
            if (w[j] != 0.0) active.push_back(j);
    }

    // Duality gap of the standardised problem, sklearn's formula
    // (enet_coordinate_descent_gram with q = r, H = R, ||y||^2 = 1 after
    // division by n): a certificate that the objective is within gap of the
    // optimum.
    double duality_gap() const {
        double r_dot_w = 0.0, w_dot_g = 0.0, l1 = 0.0, dual_norm = 0.0;
        for (index_t j = 0; j < p; ++j) {
            r_dot_w += r[j] * w[j];
            w_dot_g += w[j] * g[size_t(j)];
            l1 += std::fabs(w[j]);
            dual_norm = std::max(dual_norm, std::fabs(g[size_t(j)]));
        }
        const double w_R_w = r_dot_w - w_dot_g;  // w.(r - g)
        const double residual = std::max(0.0, 1.0 - 2.0 * r_dot_w + w_R_w);
        double scale = 1.0, gap = residual;
        if (dual_norm > alpha) {
            scale = alpha / dual_norm;
            gap = 0.5 * (residual + residual * scale * scale);
        }
        gap += alpha * l1 - scale + scale * r_dot_w;
        return gap;
    }
};

}  // namespace

double lasso_covariance_descent(const double* R, const double* r, index_t p, double alpha,
                                double tol, int max_iter, double* w, int* sweeps) {
    CVG_REQUIRE(p >= 0 && alpha > 0.0 && tol > 0.0 && max_iter > 0, InvalidArgument,
                "lasso_covariance_descent: need p >= 0, alpha > 0, tol > 0, max_iter > 0");
    CovarianceDescent cd{R, r, p, alpha, w, {}, {}};
    cd.recompute_gradient();
    int count = 0;
    double gap = cd.duality_gap();
    // Active-set strategy (glmnet): a full sweep picks the active set, sweeps
    // over the active set converge on it, the duality gap over all
    // coordinates decides whether another full sweep is needed.
    const double inner_tol = 1e-2 * std::sqrt(tol);
    while (gap >= tol && count < max_iter) {
        const double full_change = cd.sweep_all();
        ++count;
        cd.recompute_gradient();  // no drift from the rank-one updates
        gap = cd.duality_gap();
        if (gap < tol || full_change == 0.0) break;  // 0: floating-point floor reached
        cd.collect_active();
        while (count < max_iter) {
            const double change = cd.sweep_active();
            ++count;
            gap = cd.duality_gap();
            if (gap < tol || change <= inner_tol) break;
        }
    }
    cd.recompute_gradient();
    gap = cd.duality_gap();
    if (sweeps) *sweeps = count;
    return gap;
}

SparsePredictionResult sparse_prediction(const LayerStatistics& stats, int target_net,
                                         int predictor_net, const SparsePredictionOptions& options) {
    stats.check_net(target_net, "sparse_prediction: target_net");
    stats.check_net(predictor_net, "sparse_prediction: predictor_net");
    CVG_REQUIRE(target_net != predictor_net, InvalidArgument,
                "sparse_prediction: targets and predictors must be different nets");
    CVG_REQUIRE(!options.alphas.empty(), InvalidArgument, "sparse_prediction: no alphas given");
    for (double a : options.alphas)
        CVG_REQUIRE(a > 0.0 && std::isfinite(a), InvalidArgument,
                    "sparse_prediction: every alpha must be finite and > 0");
    CVG_REQUIRE(options.tol > 0.0 && options.max_iter > 0, InvalidArgument,
                "sparse_prediction: need tol > 0 and max_iter > 0");

    SparsePredictionResult res;
    res.target_net = target_net;
    res.predictor_net = predictor_net;
    res.targets = stats.block_widths[size_t(target_net)];
    res.predictors = stats.block_widths[size_t(predictor_net)];
    res.alphas = options.alphas;
    const index_t t = res.targets, p = res.predictors;
    const size_t na = options.alphas.size();

    // R = corr(B, B), rows r_i = corr(a_i, B). Dead units have correlation 0
    // (and R_jj = 0), so dead predictors never enter and dead targets are skipped.
    const std::vector<double> R = stats.correlation_block(predictor_net, predictor_net);
    const std::vector<double> targets_by_predictors = stats.correlation_block(target_net, predictor_net);
    res.dead_target.resize(size_t(t));
    res.dead_predictor.resize(size_t(p));
    for (index_t i = 0; i < t; ++i)
        res.dead_target[size_t(i)] = stats.dead[size_t(stats.block_offsets[size_t(target_net)] + i)];
    for (index_t j = 0; j < p; ++j)
        res.dead_predictor[size_t(j)] = stats.dead[size_t(stats.block_offsets[size_t(predictor_net)] + j)];

    const double nan = std::numeric_limits<double>::quiet_NaN();
    res.loss.assign(na, std::vector<double>(size_t(t), nan));
    res.nonzero.assign(na, std::vector<index_t>(size_t(t), 0));
    std::vector<std::vector<double>> gaps(na, std::vector<double>(size_t(t), 0.0));
    if (options.keep_weights) res.weights.assign(na, std::vector<double>(size_t(t * p), 0.0));

    // One weight vector per thread, allocated before the region so a
    // bad_alloc is an ordinary exception here, not std::terminate.
    const std::string what = "sparse_prediction (" + std::to_string(t) + " targets x " + std::to_string(p) + " predictors)";
    const int threads = std::max(1, omp_get_max_threads());
    std::vector<double> thread_weights;
    resize_or_fail(thread_weights, std::uint64_t(threads) * std::uint64_t(p), what, "per-thread weight vectors");
    ParallelGuard guard;  // anything thrown in the region is rethrown after it
#pragma omp parallel num_threads(threads)
    {
        double* const w_begin = thread_weights.data() + size_t(omp_get_thread_num()) * size_t(p);
        double* const w_end = w_begin + p;
#pragma omp for schedule(dynamic, 1)
        for (index_t i = 0; i < t; ++i) guard.run([&] {
            if (res.dead_target[size_t(i)]) return;
            double* const w = w_begin;
            const double* r = targets_by_predictors.data() + i * p;
            std::fill(w_begin, w_end, 0.0);
            for (size_t a = 0; a < na; ++a) {
                // Warm start from the previous alpha of the path.
                const double gap = lasso_covariance_descent(R.data(), r, p, options.alphas[a], options.tol,
                                                            options.max_iter, w);
                gaps[a][size_t(i)] = gap;
                // loss = 0.5 * (1 - 2 w.r + w.R w): half the MSE on the standardised target.
                double r_dot_w = 0.0, w_R_w = 0.0;
                index_t nz = 0;
                for (index_t j = 0; j < p; ++j) {
                    const double wj = w[size_t(j)];
                    if (wj == 0.0) continue;
                    ++nz;
                    r_dot_w += r[j] * wj;
                    const double* row = R.data() + j * p;
                    double row_dot = 0.0;
                    for (index_t k = 0; k < p; ++k) row_dot += row[k] * w[size_t(k)];
                    w_R_w += wj * row_dot;
                }
                res.loss[a][size_t(i)] = 0.5 * (1.0 - 2.0 * r_dot_w + w_R_w);
                res.nonzero[a][size_t(i)] = nz;
                if (options.keep_weights)
                    std::copy(w_begin, w_end, res.weights[a].begin() + i * p);
            }
        });
    }
    guard.rethrow(what);

    res.mean_loss.assign(na, nan);
    res.mean_nonzero.assign(na, nan);
    res.max_duality_gap.assign(na, 0.0);
    res.converged.assign(na, 1);
    for (size_t a = 0; a < na; ++a) {
        double sum_loss = 0.0, sum_nz = 0.0;
        index_t live = 0;
        for (index_t i = 0; i < t; ++i) {
            if (res.dead_target[size_t(i)]) continue;
            ++live;
            sum_loss += res.loss[a][size_t(i)];
            sum_nz += double(res.nonzero[a][size_t(i)]);
            res.max_duality_gap[a] = std::max(res.max_duality_gap[a], gaps[a][size_t(i)]);
        }
        res.converged[a] = res.max_duality_gap[a] < options.tol ? 1 : 0;
        if (live > 0) {
            res.mean_loss[a] = sum_loss / double(live);
            res.mean_nonzero[a] = sum_nz / double(live);
        }
    }
    return res;
}

}  // namespace convergent
