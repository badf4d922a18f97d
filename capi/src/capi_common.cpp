#include <cmath>
#include <mutex>
#include <unordered_map>

#include "capi_internal.hpp"

namespace convergent {
namespace capi {

namespace {
thread_local std::string g_last_error;

struct Registry {
    std::mutex mutex;
    std::unordered_map<const void*, HandleKind> live;
};

// Never destroyed: handles may be destroyed from static destructors of the
// caller after ours would have run.
Registry& registry() {
    static Registry* r = new Registry();
    return *r;
}
}  // namespace

void set_last_error(const std::string& message) { g_last_error = message; }
void clear_last_error() { g_last_error.clear(); }
const char* last_error_c_str() { return g_last_error.c_str(); }

const char* handle_type_name(HandleKind kind) {
    switch (kind) {
        case HandleKind::Stats: return "cvg_stats";
        case HandleKind::Options: return "cvg_options";
        case HandleKind::Binned: return "cvg_binned";
        case HandleKind::Sparse: return "cvg_sparse";
        case HandleKind::Clustering: return "cvg_clustering";
        case HandleKind::Context: return "cvg_context";
        case HandleKind::Session: return "cvg_session";
    }
    return "handle";
}

void register_handle(const void* handle, HandleKind kind) {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    r.live[handle] = kind;
}

bool unregister_handle(const void* handle, HandleKind kind, const char* function) {
    Registry& r = registry();
    {
        std::lock_guard<std::mutex> lock(r.mutex);
        auto it = r.live.find(handle);
        if (it != r.live.end() && it->second == kind) {
            r.live.erase(it);
            return true;
        }
    }
    set_last_error(std::string(function) + ": not a live " + handle_type_name(kind) +
                   " handle (already destroyed?); ignored");
    return false;
}

bool is_live(const void* handle, HandleKind kind) {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    auto it = r.live.find(handle);
    return it != r.live.end() && it->second == kind;
}

void require_live(const void* handle, HandleKind kind, const char* name) {
    CVG_ARG(handle != nullptr, std::string(name) + " is NULL");
    CVG_ARG(is_live(handle, kind), std::string(name) + " is not a live " + handle_type_name(kind) +
                                       " handle (destroyed, never created, or another handle type)");
}

BackendKind backend_from_int(int32_t backend) {
    switch (backend) {
        case CVG_BACKEND_AUTO: return BackendKind::Auto;
        case CVG_BACKEND_CPU: return BackendKind::Cpu;
        case CVG_BACKEND_CUDA: return BackendKind::Cuda;
    }
    fail(ErrorCode::InvalidArgument, "unknown backend " + std::to_string(backend) +
                                         " (expected CVG_BACKEND_AUTO, CVG_BACKEND_CPU or CVG_BACKEND_CUDA)");
}

void check_matrix(const void* data, int64_t rows, int64_t cols, int64_t ld, int32_t layout,
                  const char* name) {
    const std::string n(name);
    CVG_ARG(data != nullptr || rows == 0 || cols == 0, n + " is NULL");
    CVG_ARG(rows >= 0 && cols >= 0, n + ": negative dimension");
    CVG_ARG(layout == CVG_ROW_MAJOR || layout == CVG_COL_MAJOR,
            n + ": layout must be CVG_ROW_MAJOR or CVG_COL_MAJOR");
    const int64_t min_ld = layout == CVG_ROW_MAJOR ? cols : rows;
    CVG_ARG(ld >= min_ld && ld >= 1,
            n + ": leading dimension " + std::to_string(ld) + " is smaller than " +
                std::to_string(min_ld > 1 ? min_ld : 1));
}

}  // namespace capi
}  // namespace convergent

using namespace convergent;

extern "C" {

const char* cvg_version(void) { return CONVERGENT_VERSION_STRING; }
int32_t cvg_version_number(void) { return CVG_VERSION_NUMBER; }
int32_t cvg_features(void) {
    int32_t features = cuda_compiled_in() ? CVG_FEATURE_CUDA : 0;
#ifdef CONVERGENT_WITH_MPI
    features |= CVG_FEATURE_MPI;
#endif
    return features;
}
int32_t cvg_cuda_device_available(void) {
    try {
        return cuda_compiled_in() && cuda_device_available(nullptr) ? 1 : 0;
    } catch (...) {
        return 0;
    }
}
const char* cvg_last_error(void) { return capi::last_error_c_str(); }

}
