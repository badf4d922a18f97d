// The single lasso problem under sparse_prediction(), declared apart from the
// public header so that tests can check it directly.
#pragma once

#include "convergent/error.hpp"

namespace convergent {

// One L1-regularised problem on sufficient statistics: minimises
// 0.5 * (1 - 2 w.r + w.R w) + alpha |w|_1 over w[p], starting from (and
// overwriting) w. R is p x p row-major with R_jj in {0, 1} (0 = dead
// predictor, kept at weight 0). Returns the final duality gap; *sweeps
// receives the number of coordinate sweeps.
double lasso_covariance_descent(const double* R, const double* r, index_t p, double alpha,
                                double tol, int max_iter, double* w, int* sweeps = nullptr);

}  // namespace convergent
