#include "convergent/builtin_backends.hpp"

#include <mutex>

#ifdef CONVERGENT_HAVE_CUDA
#include "convergent/cuda_backend.hpp"
#endif

namespace convergent {

void register_builtin_backends() {
    static std::once_flag once;
    std::call_once(once, [] {
#ifdef CONVERGENT_HAVE_CUDA
        register_cuda_backend();
#endif
    });
}

}  // namespace convergent
