// PLACEHOLDER: replaced by the real implementation of this op.
#include "cpu_backend.hpp"

namespace convergent {

void CpuBackend::symmetric_eigensolve_smallest(const double*, index_t, index_t, double*, double*) const {
    fail(ErrorCode::Unsupported, "cpu_eigensolve: not implemented yet");
}

}  // namespace convergent
