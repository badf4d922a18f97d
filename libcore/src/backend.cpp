#include "convergent/backend.hpp"

#include <string>

#include "cpu_backend.hpp"

#ifdef CONVERGENT_HAVE_CUDA
#include "convergent/cuda_backend.hpp"
#endif

namespace convergent {

BackendKind parse_backend_kind(std::string_view text) {
    if (text == "auto") return BackendKind::Auto;
    if (text == "cpu") return BackendKind::Cpu;
    if (text == "cuda") return BackendKind::Cuda;
    fail(ErrorCode::InvalidArgument,
         "unknown backend '" + std::string(text) + "' (expected auto, cpu or cuda)");
}

const char* backend_kind_name(BackendKind kind) {
    switch (kind) {
        case BackendKind::Auto: return "auto";
        case BackendKind::Cpu: return "cpu";
        case BackendKind::Cuda: return "cuda";
    }
    return "unknown";
}

bool cuda_compiled_in() {
#ifdef CONVERGENT_HAVE_CUDA
    return true;
#else
    return false;
#endif
}

bool cuda_device_available(std::string* why) {
#ifdef CONVERGENT_HAVE_CUDA
    return cuda_backend_device_available(why);
#else
    if (why) *why = "this build of convergent has no CUDA backend (configured with CONVERGENT_CUDA=OFF or without nvcc)";
    return false;
#endif
}

std::unique_ptr<Backend> make_cpu_backend() { return std::make_unique<CpuBackend>(); }

std::unique_ptr<Backend> make_backend(BackendKind requested) {
    switch (requested) {
        case BackendKind::Cpu: return make_cpu_backend();
        case BackendKind::Cuda: {
            std::string why;
            if (!cuda_device_available(&why))
                fail(ErrorCode::Unsupported, "backend 'cuda' requested but unavailable: " + why);
#ifdef CONVERGENT_HAVE_CUDA
            return make_cuda_backend(0);
#else
            break;
#endif
        }
        case BackendKind::Auto:
            if (cuda_device_available(nullptr)) {
#ifdef CONVERGENT_HAVE_CUDA
                return make_cuda_backend(0);
#endif
            }
            return make_cpu_backend();
    }
    fail(ErrorCode::Internal, "make_backend: unreachable");
}

}  // namespace convergent
