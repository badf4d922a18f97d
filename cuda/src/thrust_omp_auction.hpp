// The CUDA backend's certified auction (cuda/src/portable/auction.cuh),
// compiled by g++ with THRUST_DEVICE_SYSTEM_OMP into convergent_thrust_omp so
// that tests and bench_matching exercise the device logic without a GPU.
// Not part of the installed API.
#pragma once

#include "convergent/backend.hpp"
#include "portable/auction_options.hpp"

namespace convergent {
namespace thrust_omp {

// Same contract as Backend::max_weight_assignment; solver is "auction" when
// the auction's certificate holds, else "auction+jonker-volgenant".
Assignment auction_max_weight(const double* weights, index_t rows, index_t cols, index_t ld,
                              const AuctionOptions& options = AuctionOptions{});

}  // namespace thrust_omp
}  // namespace convergent
