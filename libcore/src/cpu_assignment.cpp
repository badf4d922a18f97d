// CPU backend op: Sec. 3.1 max-weight one-to-one assignment. The exact
// Jonker-Volgenant solver (jonker_volgenant.cpp) is already certified by its own
// duals, so the backend simply forwards to it.
#include "convergent/jonker_volgenant.hpp"
#include "convergent/matching.hpp"
#include "cpu_backend.hpp"

namespace convergent {

Assignment CpuBackend::max_weight_assignment(const double* weights, index_t rows, index_t cols,
                                             index_t ld) const {
    return jonker_volgenant_max_weight(weights, rows, cols, ld);
}

}  // namespace convergent
