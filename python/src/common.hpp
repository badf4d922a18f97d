// Shared pieces of the Python module convergent._core (pybind11): the
// exception class, the options object, backends by name or Context, Python
// objects read as tensors in place, and numpy conversions.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include "convergent/backend.hpp"
#include "convergent/compare.hpp"
#include "convergent/error.hpp"
#include "convergent/options.hpp"
#include "convergent/sparse_prediction.hpp"
#include "convergent/spectral_clustering.hpp"
#include "convergent/tensor.hpp"

namespace py = pybind11;

namespace convergent::python {

// ---- errors (errors.cpp) ---------------------------------------------------
// convergent.ConvergentError(RuntimeError): every convergent::Error, with
// .status (the CVG_E_* number), .code ("invalid_argument", "io",
// "unsupported", "out_of_memory", "device", "bad_data", "internal") and
// .message.
void bind_errors(py::module_& m);
const char* error_code_name(ErrorCode code);

// ---- options (options.cpp) -----------------------------------------------------
// Every option of the one table (convergent/options.hpp); names are the
// table's, values are validated by set_option.
struct Options {
    CompareOptions values;
};
void bind_options(py::module_& m);
// The options an `options` argument stands for: an Options, a mapping of
// option names (or aliases) to values, or None (the defaults). Unknown names
// raise TypeError listing close matches; `where` names the caller.
CompareOptions options_from(const py::handle& options, const char* where);

// ---- backends (statistics.cpp) ---------------------------------------------------
// A backend instance the caller creates once and passes as backend=.
struct Context {
    std::shared_ptr<const Backend> backend;
};
// "auto" | "cpu" | "cuda" (one shared instance per backend, created on first
// use, like the C API's calls without a context) or a Context.
std::shared_ptr<const Backend> backend_of(const py::object& backend);

// ---- tensors (tensors.cpp) -------------------------------------------------------
// A Python object read in place: its TensorView and what keeps the memory
// alive (the buffer or the DLPack capsule). Destroy it with the GIL held.
struct HeldTensor {
    TensorView view;
    py::object owner;                      // the object the view reads (after detach / asarray)
    py::object capsule;                    // DLPack: the "dltensor" capsule (its destructor frees the tensor)
    std::unique_ptr<py::buffer_info> buffer;  // buffer protocol: released on destruction
    bool copied = false;                   // the view reads a copy made here (byte order, negative strides)
};
// Accepts anything with the buffer protocol (numpy arrays, memory-mapped
// ones included), anything with __dlpack__ (torch tensors; detached first
// when they require grad), else numpy.asarray(obj). float16/32/64 only;
// `what` names the array in errors ("net 'a', layer 'conv1'").
HeldTensor hold_tensor(const py::handle& obj, const std::string& what);
// _core.tensor_info(obj): what hold_tensor sees (tests of the zero-copy path).
void bind_tensors(py::module_& m);

// ---- JSON ------------------------------------------------------------------------------
// A JSON value as Python objects (dict, list, str, int, float, bool, None);
// NaN and Inf become None, as in summary.json.
py::object to_python(const nlohmann::json& value);

// ---- numpy helpers ------------------------------------------------------------------
template <typename T>
py::array_t<T> to_numpy(std::vector<T> values, std::vector<py::ssize_t> shape) {
    auto* owned = new std::vector<T>(std::move(values));
    py::capsule free_when_done(owned, [](void* p) { delete static_cast<std::vector<T>*>(p); });
    return py::array_t<T>(shape, owned->data(), free_when_done);
}
template <typename T>
py::array_t<T> to_numpy(std::vector<T> values) {
    const py::ssize_t n = py::ssize_t(values.size());
    return to_numpy(std::move(values), {n});
}
// A 2-D float64 matrix as a row-major contiguous copy; NaN/Inf fail with
// BadData naming `what`.
std::vector<double> similarity_matrix(const py::handle& obj, const char* what, index_t& rows, index_t& cols);

// A Python callable (layer, fraction) as a ProgressFn: called with the GIL,
// and checks for Ctrl-C (KeyboardInterrupt) even without a callable.
ProgressFn progress_function(const py::object& progress);

// Result dicts of the analyses on finalised statistics (analyses.cpp).
py::dict sparse_prediction_dict(const SparsePredictionResult& result);
py::dict clustering_dict(const ClusteringResult& result);

// Marks an object busy while the GIL is released for it, so a second thread
// gets an error instead of a data race.
class BusyGuard {
public:
    BusyGuard(bool& busy, const char* what) : busy_(busy) {
        if (busy_) throw py::value_error(std::string(what) + " is in use by another thread");
        busy_ = true;
    }
    ~BusyGuard() { busy_ = false; }
    BusyGuard(const BusyGuard&) = delete;
    BusyGuard& operator=(const BusyGuard&) = delete;

private:
    bool& busy_;
};

// ---- the rest of the module ----------------------------------------------------------
void bind_statistics(py::module_& m);
void bind_analyses(py::module_& m);
void bind_compare(py::module_& m);

}  // namespace convergent::python
