// PLACEHOLDER: replaced by the real implementation of this op.
#include "cpu_backend.hpp"

namespace convergent {

void CpuBackend::mutual_information(const BinCodesView&, const BinCodesView&, double*) const {
    fail(ErrorCode::Unsupported, "cpu_mutual_information: not implemented yet");
}

}  // namespace convergent
