// convergent._core: the compiled part of the Python package `convergent`
// (python/convergent/__init__.py holds the Pythonic API over it). It binds
// the C++ core directly (libcore, the backends registered at load time, the
// report library of cli/), not the C ABI, and releases the GIL around every
// heavy call.
#include "common.hpp"
#include "report.hpp"

namespace py = pybind11;
using namespace convergent;

PYBIND11_MODULE(_core, m) {
    m.doc() = "The compiled core of the convergent package (see `help(convergent)`).";
    m.attr("__version__") = CONVERGENT_VERSION_STRING;
    m.attr("FEATURE_CUDA") = 1;

    python::bind_errors(m);
    python::bind_options(m);
    python::bind_tensors(m);
    python::bind_statistics(m);
    python::bind_analyses(m);
    python::bind_compare(m);

    m.def("version", [] { return std::string(CONVERGENT_VERSION_STRING); });
    m.def("features", [] { return cuda_compiled_in() ? 1 : 0; },
          "Bit set: FEATURE_CUDA (1) when the CUDA backend is compiled in.");
    m.def("cuda_device_available", [] { return cuda_device_available(nullptr); },
          "Whether the CUDA backend is compiled in and a CUDA device is usable now.");
    m.def("backend_available", [](const std::string& backend) {
              std::string why;
              const bool ok = backend_available(parse_backend_kind(backend), &why);
              return py::make_tuple(ok, why);
          },
          py::arg("backend"), "(available, why not) for \"auto\", \"cpu\" or \"cuda\".");
}
