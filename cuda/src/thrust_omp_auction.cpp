// The OMP instantiation of portable/auction.cuh (see thrust_omp_moments.cpp).
#include "portable/omp_guard.hpp"

#define CVG_PORTABLE_NS omp_device
#include "portable/auction.cuh"

#include "thrust_omp_auction.hpp"

namespace convergent {
namespace thrust_omp {

Assignment auction_max_weight(const double* weights, index_t rows, index_t cols, index_t ld,
                              const AuctionOptions& options) {
    return omp_device::auction_max_weight(weights, rows, cols, ld, options);
}

}  // namespace thrust_omp
}  // namespace convergent
