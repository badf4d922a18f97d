// Exact maximum-weight assignment (Sec. 3.1 one-to-one matching) on its own:
// the solver the CPU backend runs and the CUDA backend's auction falls back
// to when its certificate does not hold.
#pragma once

#include "convergent/backend.hpp"

namespace convergent {

// Exact maximum-weight assignment by shortest augmenting paths
// (Jonker & Volgenant 1987: column reduction, reduction transfer, augmenting
// row reduction, then Dijkstra augmentation; the family of Crouse 2016 used by
// scipy.optimize.linear_sum_assignment). Semantics as scipy's
// linear_sum_assignment(maximize=True): min(rows, cols) pairs; rows > cols
// leaves rows - cols rows unmatched (column -1), rows <= cols matches every
// row. The certificate is computed from the final column prices p on the
// original weights: dual_bound = sum_i max_j (w_ij - p_j) + sum_j p_j >= the
// optimum (weak duality; p >= 0 on the side with free units), so
// gap = dual_bound - primal is ~0 up to rounding. Throws BadData on
// NaN/Inf weights.
Assignment jonker_volgenant_max_weight(const double* weights, index_t rows, index_t cols,
                                       index_t ld);

}  // namespace convergent
