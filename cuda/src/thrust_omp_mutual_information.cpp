// OMP instantiation of portable/mutual_information.cuh (see
// thrust_omp_mutual_information.hpp). The one-hot GEMM is the
// portable IndicatorProduct for_each instead of cuBLAS.
#include "portable/omp_guard.hpp"

#define CVG_PORTABLE_NS omp_device
#include "portable/mutual_information.cuh"

#include "convergent/mutual_information.hpp"
#include "thrust_omp_mutual_information.hpp"

namespace convergent {
namespace thrust_omp {

namespace {

struct OmpIndicatorGemm {
    void operator()(index_t m, index_t n, index_t k, const std::int8_t* a, const std::int8_t* b,
                    std::int32_t* c, bool accumulate) const {
        thrust::for_each(thrust::device, thrust::counting_iterator<index_t>(0),
                         thrust::counting_iterator<index_t>(m * n),
                         omp_device::IndicatorProduct{a, b, c, m, k, accumulate});
    }
};

void check(const BinCodesView& a, const BinCodesView& b) {
    check_bin_codes(a, "thrust_omp::mutual_information: a");
    check_bin_codes(b, "thrust_omp::mutual_information: b");
    CVG_REQUIRE(a.samples == b.samples && a.bins == b.bins, InvalidArgument,
                "thrust_omp::mutual_information: a and b differ in samples or bins");
}

}  // namespace

void mutual_information(const BinCodesView& a, const BinCodesView& b, double* mi,
                        index_t tile_units_a, index_t tile_units_b, index_t sample_chunk, int drop_modes) {
    check(a, b);
    omp_device::mutual_information_tiled(thrust::device, a, b, mi,
                                         omp_device::MiTiling{tile_units_a, tile_units_b, sample_chunk, drop_modes},
                                         OmpIndicatorGemm{});
}

void joint_histogram_counts(const BinCodesView& a, const BinCodesView& b, std::int32_t* counts,
                            index_t tile_units_a, index_t tile_units_b, index_t sample_chunk, int drop_modes) {
    check(a, b);
    omp_device::joint_histogram_counts_tiled(
        thrust::device, a, b, counts, omp_device::MiTiling{tile_units_a, tile_units_b, sample_chunk, drop_modes},
        OmpIndicatorGemm{});
}

}  // namespace thrust_omp
}  // namespace convergent
