// Options of the CUDA backend's certified auction (portable/auction.cuh).
// Plain C++ (no Thrust), so the OMP test API (thrust_omp_auction.hpp) can
// take them without pulling Thrust into its callers. Not part of the
// installed API: the public backend interface has no auction knobs.
#pragma once

#include <cstdint>

namespace convergent {

// Options of the epsilon-scaling forward auction of the CUDA backend (and of
// its OMP instantiation for tests). The auction works on integers:
// w is scaled by a power of two and rounded to int64, then multiplied by
// n + 1 (n = max(rows, cols), the problem is padded to n x n with zero
// weights), so that the final epsilon = 1 is < 1/n on the integer scale and
// the integer problem is solved exactly. The result is certified on the
// original double weights; if the relative gap exceeds `tolerance` or the
// round cap is hit, the exact Jonker-Volgenant solver runs instead and the
// solver name becomes "auction+jonker-volgenant". Never silently suboptimal.
struct AuctionOptions {
    double tolerance = 1e-9;       // accepted gap / max(|primal|, |dual_bound|)
    std::int64_t max_rounds = 0;   // bidding rounds over all phases; 0 = automatic (see auction.cuh)
    std::int64_t scaling_factor = 8;  // epsilon divisor between phases (>= 2)
    bool force_fallback = false;   // tests: skip the certificate and run the exact fallback
};

}  // namespace convergent
