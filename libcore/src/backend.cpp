#include "convergent/backend.hpp"

#include <array>
#include <mutex>
#include <string>

#include "cpu_backend.hpp"

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

void Backend::device_chunk_moments(const DeviceChunkBlock*, int, index_t, index_t, index_t, index_t, double*, double*,
                                   const std::vector<index_t>&, float*) const {
    fail(ErrorCode::Unsupported, "the " + std::string(backend_kind_name(kind())) +
                                     " backend cannot read tensors in device memory; use the CUDA backend "
                                     "(--backend cuda) or move the tensors to the host first");
}

std::unique_ptr<Backend> make_cpu_backend() { return std::make_unique<CpuBackend>(); }

namespace {

struct Registration {
    const char* name = nullptr;
    BackendFactory factory = nullptr;
    BackendProbe probe = nullptr;
};

bool cpu_probe(std::string*) { return true; }

// One slot per concrete kind (Cpu, Cuda). The CPU backend is part of libcore
// and registered here, so a program that registers nothing still works.
struct Registry {
    std::mutex mutex;
    std::array<Registration, 2> slots{};
    Registry() { slots[0] = {"cpu", &make_cpu_backend, &cpu_probe}; }
};

// Never destroyed: a backend may be made from a static destructor of the
// caller after ours would have run.
Registry& registry() {
    static Registry* r = new Registry();
    return *r;
}

size_t slot_of(BackendKind kind) {
    switch (kind) {
        case BackendKind::Cpu: return 0;
        case BackendKind::Cuda: return 1;
        case BackendKind::Auto: break;
    }
    fail(ErrorCode::InvalidArgument, "'auto' is a choice among backends, not a backend to register");
}

Registration registration(BackendKind kind) {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    return r.slots[slot_of(kind)];
}

std::string not_registered_reason(BackendKind kind) {
    if (kind == BackendKind::Cuda)
        return "this build of convergent has no CUDA backend (configured with CONVERGENT_CUDA=OFF or "
               "without nvcc, or the program did not call register_builtin_backends())";
    return std::string("no '") + backend_kind_name(kind) + "' backend is registered";
}

// Whether the registration can serve now; the probe runs outside the lock
// (it may call into a driver).
bool usable(BackendKind kind, const Registration& reg, std::string* why) {
    if (reg.factory == nullptr) {
        if (why) *why = not_registered_reason(kind);
        return false;
    }
    return reg.probe(why);
}

}  // namespace

void register_backend(BackendKind kind, const char* name, BackendFactory factory, BackendProbe probe) {
    const size_t slot = slot_of(kind);
    CVG_REQUIRE(name != nullptr && factory != nullptr && probe != nullptr, InvalidArgument,
                std::string("register_backend(") + backend_kind_name(kind) +
                    "): name, factory and probe must all be given");
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    r.slots[slot] = {name, factory, probe};
}

bool backend_registered(BackendKind kind) {
    if (kind == BackendKind::Auto) return true;
    return registration(kind).factory != nullptr;
}

bool backend_available(BackendKind kind, std::string* why) {
    if (kind == BackendKind::Auto) return true;
    return usable(kind, registration(kind), why);
}

bool cuda_compiled_in() { return backend_registered(BackendKind::Cuda); }

bool cuda_device_available(std::string* why) { return backend_available(BackendKind::Cuda, why); }

std::unique_ptr<Backend> make_backend(BackendKind requested) {
    switch (requested) {
        case BackendKind::Cpu: return registration(BackendKind::Cpu).factory();
        case BackendKind::Cuda: {
            const Registration reg = registration(BackendKind::Cuda);
            std::string why;
            if (!usable(BackendKind::Cuda, reg, &why))
                fail(ErrorCode::Unsupported, std::string("backend '") + (reg.name ? reg.name : "cuda") +
                                                 "' requested but unavailable: " + why);
            return reg.factory();
        }
        case BackendKind::Auto: {
            const Registration cuda = registration(BackendKind::Cuda);
            if (usable(BackendKind::Cuda, cuda, nullptr)) return cuda.factory();
            return registration(BackendKind::Cpu).factory();
        }
    }
    fail(ErrorCode::Internal, "make_backend: unreachable");
}

}  // namespace convergent
