// PLACEHOLDER: replaced by the real implementation of this op.
#include "cpu_backend.hpp"

namespace convergent {

Assignment CpuBackend::max_weight_assignment(const double*, index_t, index_t, index_t) const {
    fail(ErrorCode::Unsupported, "cpu_assignment: not implemented yet");
}

}  // namespace convergent
