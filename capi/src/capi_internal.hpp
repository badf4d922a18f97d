// Shared machinery of the C ABI: thread-local error text, the one exception
// boundary every exported function goes through, the live-handle registry,
// caller-matrix validation and copying, and the handle structs used by more
// than one translation unit.
#pragma once

#include <cstdint>
#include <cmath>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "convergent.h"
#include "convergent/backend.hpp"
#include "convergent/compare.hpp"
#include "convergent/error.hpp"
#include "convergent/statistics.hpp"
#include "convergent/tensor.hpp"
#include "convergent/topk.hpp"

namespace convergent {
namespace capi {

// A DLPack tensor the C API owns until it is merged: the deleter runs
// exactly once, when this is destroyed (or at release()).
class ManagedTensor {
public:
    explicit ManagedTensor(DLManagedTensor* tensor) : tensor_(tensor) {}
    ~ManagedTensor() { release(); }
    ManagedTensor(const ManagedTensor&) = delete;
    ManagedTensor& operator=(const ManagedTensor&) = delete;
    DLManagedTensor* get() const { return tensor_; }
    void release() noexcept {
        DLManagedTensor* t = tensor_;
        tensor_ = nullptr;
        if (t && t->deleter) t->deleter(t);
    }

private:
    DLManagedTensor* tensor_;
};

// One net's DLPack batch waiting for the other nets.
struct ManagedBatch {
    std::unique_ptr<ManagedTensor> tensor;
    TensorView view;
    std::unique_ptr<LayerSource> source;  // host tensors
    bool channels_last = false;
    index_t height = 1, width = 1;        // positions per input
};

void set_last_error(const std::string& message);
void clear_last_error();
const char* last_error_c_str();

inline int status_of(ErrorCode code) { return static_cast<int>(code); }

// Runs body; converts any exception into a status code + message. No
// exception crosses the C boundary.
template <typename Body>
int translate_exceptions(const char* function, Body&& body) noexcept {
    try {
        clear_last_error();
        body();
        return CVG_OK;
    } catch (const Error& e) {
        set_last_error(std::string(function) + ": " + e.what());
        return status_of(e.code());
    } catch (const std::bad_alloc&) {
        set_last_error(std::string(function) + ": out of memory");
        return CVG_E_OUT_OF_MEMORY;
    } catch (const std::exception& e) {
        set_last_error(std::string(function) + ": internal error: " + e.what());
        return CVG_E_INTERNAL;
    } catch (...) {
        set_last_error(std::string(function) + ": unknown internal error");
        return CVG_E_INTERNAL;
    }
}

#define CVG_ARG(cond, msg) CVG_REQUIRE(cond, InvalidArgument, msg)

BackendKind backend_from_int(int32_t backend);

// Validates a caller matrix description.
void check_matrix(const void* data, int64_t rows, int64_t cols, int64_t ld, int32_t layout,
                  const char* name);

// ---- Live-handle registry ---------------------------------------------------
// Every handle is registered on create and unregistered on destroy, so a
// destroyed, never-created or wrongly typed handle is reported instead of
// being dereferenced (best effort: an address reused by a new handle of the
// same type looks live again). A mutex guards the set; the lookups are
// negligible next to any analysis.
enum class HandleKind { Stats, Options, Binned, Sparse, Clustering, Context, Session };
const char* handle_type_name(HandleKind kind);
void register_handle(const void* handle, HandleKind kind);
// Returns false (and sets the last error) when handle is not a live handle of kind.
bool unregister_handle(const void* handle, HandleKind kind, const char* function);
bool is_live(const void* handle, HandleKind kind);
// Throws InvalidArgument naming `name` when handle is NULL or not live.
void require_live(const void* handle, HandleKind kind, const char* name);

// Creates a handle of type T from a unique_ptr: registers it and hands it out.
template <typename T>
T* publish(std::unique_ptr<T> handle, HandleKind kind) {
    register_handle(handle.get(), kind);
    return handle.release();
}

// Destroys a handle created by publish; NULL and non-live handles are ignored.
template <typename T>
void destroy(T* handle, HandleKind kind, const char* function) noexcept {
    if (handle == nullptr) return;
    try {
        if (unregister_handle(handle, kind, function)) delete handle;
    } catch (...) {
    }
}

// ---- Caller matrices ---------------------------------------------------------
// Element (i, j) of a caller matrix in the given layout.
template <typename T>
inline T& element(T* data, int64_t i, int64_t j, int64_t ld, int32_t layout) {
    return layout == CVG_ROW_MAJOR ? data[i * ld + j] : data[j * ld + i];
}

// Contiguous row-major copy of a caller matrix (already validated).
template <typename T>
std::vector<T> to_row_major(const T* data, int64_t rows, int64_t cols, int64_t ld, int32_t layout) {
    std::vector<T> out(size_t(rows * cols));
    if (layout == CVG_ROW_MAJOR) {
        for (int64_t i = 0; i < rows; ++i)
            std::copy(data + i * ld, data + i * ld + cols, out.begin() + i * cols);
    } else {
        for (int64_t j = 0; j < cols; ++j)
            for (int64_t i = 0; i < rows; ++i) out[size_t(i * cols + j)] = data[j * ld + i];
    }
    return out;
}

// Writes a row-major rows x cols source into a caller matrix (validated here).
template <typename Out, typename In>
void write_matrix(const In* source, int64_t rows, int64_t cols, Out* out, int64_t ld, int32_t layout,
                  const char* name) {
    check_matrix(out, rows, cols, ld, layout, name);
    for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < cols; ++j)
            element(out, i, j, ld, layout) = static_cast<Out>(source[i * cols + j]);
}

// Size query + fill: *count = size; with out, capacity must hold it.
template <typename Out, typename In>
void fill_sized(const std::vector<In>& source, int64_t* count, Out* out, int64_t capacity,
                const char* what) {
    CVG_ARG(count != nullptr, "count is NULL");
    *count = int64_t(source.size());
    if (out == nullptr) return;
    CVG_ARG(capacity >= int64_t(source.size()),
            std::string(what) + ": capacity " + std::to_string(capacity) + " is smaller than the " +
                std::to_string(source.size()) + " elements (query the count with out = NULL first)");
    for (size_t i = 0; i < source.size(); ++i) out[i] = static_cast<Out>(source[i]);
}

// Throws BadData when a caller matrix holds NaN/Inf.
template <typename T>
void require_finite(const T* data, int64_t rows, int64_t cols, int64_t ld, int32_t layout, const std::string& name) {
    for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < cols; ++j)
            CVG_REQUIRE(std::isfinite(element(data, i, j, ld, layout)), BadData,
                        name + ": non-finite value at row " + std::to_string(i) + ", column " + std::to_string(j));
}

// A caller input matrix validated (check_matrix, then require_finite) and
// copied row-major and contiguous, the C++ API's layout.
inline std::vector<double> finite_row_major(const double* data, int64_t rows, int64_t cols, int64_t ld,
                                            int32_t layout, const char* name) {
    check_matrix(data, rows, cols, ld, layout, name);
    require_finite(data, rows, cols, ld, layout, name);
    return to_row_major(data, rows, cols, ld, layout);
}

}  // namespace capi
}  // namespace convergent

// ---- Handle structs shared between translation units ------------------------

// A backend instance created once and shared by every call that uses it
// (FAISS StandardGpuResources): Backend ops are const and thread-safe, and
// handles created from a context keep the instance alive after the context
// is destroyed.
struct cvg_context {
    std::shared_ptr<const convergent::Backend> backend;
};

struct cvg_stats {
    std::shared_ptr<const convergent::Backend> backend;  // from a cvg_context or a default one
    std::vector<convergent::index_t> units;
    convergent::MomentAccumulator acc;
    // One pending batch: rows pushed so far per net, laid side by side.
    std::vector<float> pending;
    std::vector<convergent::index_t> pending_rows;
    convergent::index_t batch_rows = 0;  // rows of the batch being assembled (0: none)
    // Nets that pushed this batch through DLPack (null for the others).
    std::vector<std::unique_ptr<convergent::capi::ManagedBatch>> managed;
    bool finalized = false;
    convergent::LayerStatistics result;
    // Each unit's top-k inputs (cvg_stats_enable_top_k; units() == 0: off).
    // Images are numbered from first_image in push order; image_ranges are
    // the [begin, end) ranges gathered here and merged in, kept disjoint.
    convergent::TopKAccumulator top_k;
    convergent::index_t next_image = 0;
    std::vector<std::pair<convergent::index_t, convergent::index_t>> image_ranges;
};

struct cvg_options {
    convergent::CompareOptions compare;  // every option; keys and ranges: convergent::option_table()
};

namespace convergent {
namespace capi {

// The backend of a live context (throws InvalidArgument naming `name` when
// ctx is NULL or not live).
const std::shared_ptr<const Backend>& context_backend(const cvg_context* ctx, const char* name = "ctx");

// The backend the calls without a context use for `backend` (CVG_BACKEND_*):
// one instance per concrete backend, created on first use and shared by the
// whole process (never destroyed, so no device call runs during static
// destruction). AUTO resolves on every call (CUDA when registered and a
// device is present, else CPU). Throws as make_backend does (unknown value:
// InvalidArgument; CUDA unavailable: Unsupported; device failure: Device).
std::shared_ptr<const Backend> default_backend(int32_t backend);

// The options to use: *opts, or the defaults when opts is NULL (throws when
// opts is not a live handle).
const cvg_options& options_or_defaults(const cvg_options* opts);

// The finalised statistics of a live handle (throws otherwise).
const LayerStatistics& finalized_statistics(const cvg_stats* stats);
void check_net(const cvg_stats* s, int32_t net, const char* name);

}  // namespace capi
}  // namespace convergent
