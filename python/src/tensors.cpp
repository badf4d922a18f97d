// Python objects as TensorViews, read in place: the buffer protocol (numpy
// arrays, memory-mapped ones included) or DLPack (__dlpack__: torch and
// other frameworks). No copy is made of a host tensor in native byte order
// with non-negative strides; the compare pipeline then reads bounded pieces
// of it (tensor_array) straight from the caller's memory.
#include <dlpack/dlpack.h>

#include "common.hpp"

namespace convergent::python {

namespace {

constexpr bool kHostLittleEndian = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;

struct BufferFormat {
    bool known = false;   // e, f or d with the matching item size
    bool native = true;   // byte order
    NpyDtype dtype = NpyDtype::Float32;
};

BufferFormat parse_format(const std::string& format, py::ssize_t itemsize) {
    BufferFormat f;
    std::string code = format;
    if (!code.empty() && std::string("@=<>!").find(code[0]) != std::string::npos) {
        const char order = code[0];
        f.native = order == '@' || order == '=' || (order == '<' && kHostLittleEndian) ||
                   ((order == '>' || order == '!') && !kHostLittleEndian);
        code = code.substr(1);
    }
    if (code == "e" && itemsize == 2) f.dtype = NpyDtype::Float16, f.known = true;
    else if (code == "f" && itemsize == 4) f.dtype = NpyDtype::Float32, f.known = true;
    else if (code == "d" && itemsize == 8) f.dtype = NpyDtype::Float64, f.known = true;
    return f;
}

std::string type_name(const py::handle& obj) {
    const py::handle type = obj.get_type();
    return py::str(type.attr("__module__")).cast<std::string>() + "." + py::str(type.attr("__qualname__")).cast<std::string>();
}

[[noreturn]] void unsupported_dtype(const std::string& what, const std::string& dtype) {
    fail(ErrorCode::Unsupported, what + ": dtype " + dtype +
                                     " is not supported (activations are float16, float32 or float64; "
                                     "convert with .astype(numpy.float32) or .float())");
}

bool strides_in_place(const py::buffer_info& info) {
    for (size_t d = 0; d < info.strides.size(); ++d)
        if (info.strides[d] < 0 || info.strides[d] % info.itemsize != 0) return false;
    return true;
}

HeldTensor from_buffer(py::object obj, const std::string& what) {
    HeldTensor held;
    auto info = std::make_unique<py::buffer_info>(py::reinterpret_borrow<py::buffer>(obj).request());
    BufferFormat format = parse_format(info->format, info->itemsize);
    if (!format.known) {
        std::string dtype = info->format;
        if (py::hasattr(obj, "dtype")) dtype = py::str(obj.attr("dtype")).cast<std::string>();
        unsupported_dtype(what, dtype);
    }
    if (!format.native || !strides_in_place(*info)) {
        // The core reads native floats at non-negative element strides: a
        // byte-swapped or reversed (negative-stride) array is copied once,
        // C-contiguous in native order.
        py::module_ numpy = py::module_::import("numpy");
        py::object array = numpy.attr("asarray")(obj);
        py::object native = array.attr("dtype").attr("newbyteorder")("=");
        info.reset();
        obj = numpy.attr("ascontiguousarray")(array, py::arg("dtype") = native);
        info = std::make_unique<py::buffer_info>(py::reinterpret_borrow<py::buffer>(obj).request());
        format = parse_format(info->format, info->itemsize);
        CVG_REQUIRE(format.known && format.native && strides_in_place(*info), Internal,
                    what + ": a native copy of the array is still not readable in place");
        held.copied = true;
    }
    held.view.data = info->ptr;
    held.view.dtype = format.dtype;
    held.view.device = TensorDevice::Host;
    for (size_t d = 0; d < info->shape.size(); ++d) {
        held.view.shape.push_back(index_t(info->shape[d]));
        held.view.strides.push_back(index_t(info->strides[d] / info->itemsize));
    }
    held.owner = std::move(obj);
    held.buffer = std::move(info);
    return held;
}

HeldTensor from_dlpack(py::object obj, const std::string& what) {
    // torch refuses to export a tensor that requires grad; detach() is a view.
    if (py::hasattr(obj, "requires_grad") && py::hasattr(obj, "detach") && py::bool_(obj.attr("requires_grad")))
        obj = obj.attr("detach")();
    py::object capsule = obj.attr("__dlpack__")();
    if (!PyCapsule_IsValid(capsule.ptr(), "dltensor"))
        fail(ErrorCode::InvalidArgument, what + ": " + type_name(obj) +
                                             ".__dlpack__() did not return an unconsumed \"dltensor\" capsule");
    auto* managed = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(capsule.ptr(), "dltensor"));
    if (!managed) throw py::error_already_set();
    HeldTensor held;
    // The capsule stays unconsumed (its name is not changed): when it is
    // released, the producer's capsule destructor calls the tensor's deleter.
    held.view = tensor_from_dlpack(managed->dl_tensor, what);
    held.owner = std::move(obj);
    held.capsule = std::move(capsule);
    return held;
}

}  // namespace

void bind_tensors(py::module_& m) {
    m.def("tensor_info", [](const py::handle& obj) {
              const HeldTensor held = hold_tensor(obj, "tensor_info");
              const TensorView& v = held.view;
              py::dict d;
              d["data"] = reinterpret_cast<std::uintptr_t>(v.data);
              d["dtype"] = v.dtype == NpyDtype::Float16 ? "float16" : v.dtype == NpyDtype::Float32 ? "float32" : "float64";
              d["shape"] = py::tuple(py::cast(v.shape));
              d["strides"] = py::tuple(py::cast(v.strides));
              d["device"] = v.device == TensorDevice::Cuda ? "cuda" : "host";
              d["device_id"] = v.device_id;
              d["via"] = held.buffer ? "buffer" : "dlpack";
              d["copied"] = held.copied;
              return d;
          },
          py::arg("obj"),
          "How the core sees an array it is given (for tests and debugging): the address it reads,\n"
          "dtype, shape, strides in elements, device, buffer protocol or DLPack, and whether a copy\n"
          "had to be made (byte-swapped or negative-stride arrays, non-arrays).");
}

HeldTensor hold_tensor(const py::handle& handle, const std::string& what) {
    py::object obj = py::reinterpret_borrow<py::object>(handle);
    if (PyObject_CheckBuffer(obj.ptr())) return from_buffer(std::move(obj), what);
    if (py::hasattr(obj, "__dlpack__")) return from_dlpack(std::move(obj), what);
    if (obj.is_none()) fail(ErrorCode::InvalidArgument, what + ": got None instead of an array");
    // Lists and other array-likes: numpy makes the array (a copy by nature).
    py::object array = py::module_::import("numpy").attr("asarray")(obj);
    if (!PyObject_CheckBuffer(array.ptr()))
        fail(ErrorCode::InvalidArgument, what + ": a " + type_name(obj) + " is not an array");
    HeldTensor held = from_buffer(std::move(array), what);
    held.copied = true;
    return held;
}

}  // namespace convergent::python
