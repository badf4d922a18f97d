// The CUDA backend's one-hot-GEMM mutual information (cuda/src/portable/
// mutual_information.cuh), compiled by g++ with THRUST_DEVICE_SYSTEM_OMP so
// CI checks the tiling, the one-hot construction and the MI epilogue against
// the CPU backend without a GPU. The GEMM is a plain Thrust for_each here
// (cuBLAS INT8 tensor cores on the device). Not part of the installed API.
#pragma once

#include <cstdint>

#include "convergent/backend.hpp"

namespace convergent {
namespace thrust_omp {

// Same contract as Backend::mutual_information. tile_units_a/_b and
// sample_chunk (0 = the CUDA backend's defaults) let tests force several
// tiles and several accumulated GEMMs per tile; drop_modes (MiTiling: -1 =
// the default, 0 = every bin gets a one-hot column, 1 = modes left out)
// tests both GEMM layouts.
void mutual_information(const BinCodesView& a, const BinCodesView& b, double* mi,
                        index_t tile_units_a = 0, index_t tile_units_b = 0,
                        index_t sample_chunk = 0, int drop_modes = -1);

// Same layout as convergent::joint_histogram_counts over all units:
// counts[((i * b.units + j) * bins + x) * bins + y].
void joint_histogram_counts(const BinCodesView& a, const BinCodesView& b, std::int32_t* counts,
                            index_t tile_units_a = 0, index_t tile_units_b = 0,
                            index_t sample_chunk = 0, int drop_modes = -1);

}  // namespace thrust_omp
}  // namespace convergent
