// convergent.ConvergentError: the one exception class of the core's errors.
#include "common.hpp"

namespace convergent::python {

namespace {

PyObject* error_type = nullptr;  // owned by the module for the life of the process

py::str utf8_text(const std::string& text) {
    // Messages name files, whose names need not be valid UTF-8.
    PyObject* s = PyUnicode_DecodeUTF8(text.data(), py::ssize_t(text.size()), "replace");
    if (!s) throw py::error_already_set();
    return py::reinterpret_steal<py::str>(s);
}

void raise_convergent_error(const Error& e) {
    py::str message = utf8_text(e.what());
    py::object instance = py::reinterpret_borrow<py::object>(error_type)(message);
    instance.attr("status") = int(e.code());
    instance.attr("code") = error_code_name(e.code());
    instance.attr("message") = message;
    PyErr_SetObject(error_type, instance.ptr());
}

}  // namespace

const char* error_code_name(ErrorCode code) {
    switch (code) {
        case ErrorCode::InvalidArgument: return "invalid_argument";
        case ErrorCode::Io: return "io";
        case ErrorCode::Unsupported: return "unsupported";
        case ErrorCode::OutOfMemory: return "out_of_memory";
        case ErrorCode::Device: return "device";
        case ErrorCode::BadData: return "bad_data";
        case ErrorCode::Internal: return "internal";
    }
    return "internal";
}

void bind_errors(py::module_& m) {
    error_type = PyErr_NewExceptionWithDoc(
        "convergent.ConvergentError",
        "An error of the convergent core (the same errors as the CLI and the C API).\n\n"
        "Attributes: status (int, the C API's CVG_E_* value: -1 invalid_argument, -2 io,\n"
        "-3 unsupported, -4 out_of_memory, -5 device, -6 bad_data, -7 internal),\n"
        "code (that name as a string) and message (the text, naming the file, net,\n"
        "layer or option concerned).",
        PyExc_RuntimeError, nullptr);
    if (!error_type) throw py::error_already_set();
    m.attr("ConvergentError") = py::handle(error_type);
    // The status values under the C API's names (CVG_E_*).
    m.attr("E_INVALID_ARG") = int(ErrorCode::InvalidArgument);
    m.attr("E_IO") = int(ErrorCode::Io);
    m.attr("E_UNSUPPORTED") = int(ErrorCode::Unsupported);
    m.attr("E_OUT_OF_MEMORY") = int(ErrorCode::OutOfMemory);
    m.attr("E_DEVICE") = int(ErrorCode::Device);
    m.attr("E_BAD_DATA") = int(ErrorCode::BadData);
    m.attr("E_INTERNAL") = int(ErrorCode::Internal);
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const Error& e) {
            raise_convergent_error(e);
        }
    });
}

}  // namespace convergent::python
