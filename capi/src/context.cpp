// C ABI: cvg_context, a backend instance the caller creates once and passes
// to the _ctx calls, and the process-wide default instances the calls
// without a context share.
#include <array>
#include <cstring>
#include <mutex>

#include "capi_internal.hpp"

using namespace convergent;

namespace convergent {
namespace capi {

namespace {

struct DefaultBackends {
    std::mutex mutex;
    std::array<std::shared_ptr<const Backend>, 2> by_kind;  // [0] cpu, [1] cuda
};

// Never destroyed (see default_backend in capi_internal.hpp).
DefaultBackends& default_backends() {
    static DefaultBackends* d = new DefaultBackends();
    return *d;
}

int32_t backend_to_int(BackendKind kind) {
    switch (kind) {
        case BackendKind::Cpu: return CVG_BACKEND_CPU;
        case BackendKind::Cuda: return CVG_BACKEND_CUDA;
        case BackendKind::Auto: break;
    }
    fail(ErrorCode::Internal, "a backend instance reports kind 'auto'");
}

}  // namespace

const std::shared_ptr<const Backend>& context_backend(const cvg_context* ctx, const char* name) {
    require_live(ctx, HandleKind::Context, name);
    return ctx->backend;
}

std::shared_ptr<const Backend> default_backend(int32_t backend) {
    BackendKind kind = backend_from_int(backend);
    if (kind == BackendKind::Auto)
        kind = backend_available(BackendKind::Cuda, nullptr) ? BackendKind::Cuda : BackendKind::Cpu;
    DefaultBackends& d = default_backends();
    std::lock_guard<std::mutex> lock(d.mutex);
    std::shared_ptr<const Backend>& slot = d.by_kind[kind == BackendKind::Cpu ? 0 : 1];
    // A failed creation (no device) is not cached: the next call reports it again.
    if (!slot) slot = std::shared_ptr<const Backend>(make_backend(kind));
    return slot;
}

}  // namespace capi
}  // namespace convergent

extern "C" {

int cvg_context_create(cvg_context** out, int32_t backend) {
    return capi::translate_exceptions("cvg_context_create", [&] {
        CVG_ARG(out != nullptr, "out is NULL");
        *out = nullptr;
        const BackendKind kind = capi::backend_from_int(backend);
        auto ctx = std::make_unique<cvg_context>();
        ctx->backend = std::shared_ptr<const Backend>(make_backend(kind));
        *out = capi::publish(std::move(ctx), capi::HandleKind::Context);
    });
}

void cvg_context_destroy(cvg_context* ctx) {
    capi::destroy(ctx, capi::HandleKind::Context, "cvg_context_destroy");
}

int cvg_context_backend(const cvg_context* ctx, int32_t* out) {
    return capi::translate_exceptions("cvg_context_backend", [&] {
        const std::shared_ptr<const Backend>& b = capi::context_backend(ctx);
        CVG_ARG(out != nullptr, "out is NULL");
        *out = capi::backend_to_int(b->kind());
    });
}

int cvg_context_description(const cvg_context* ctx, char* buf, int64_t capacity, int64_t* length) {
    return capi::translate_exceptions("cvg_context_description", [&] {
        const std::shared_ptr<const Backend>& b = capi::context_backend(ctx);
        CVG_ARG(length != nullptr, "length is NULL");
        const std::string text = b->device_description();
        *length = int64_t(text.size());
        if (buf == nullptr) return;
        CVG_ARG(capacity >= int64_t(text.size()) + 1,
                "capacity " + std::to_string(capacity) + " cannot hold " + std::to_string(text.size()) +
                    " characters and the terminating NUL (query the length with buf = NULL first)");
        std::memcpy(buf, text.c_str(), text.size() + 1);
    });
}

}  // extern "C"
