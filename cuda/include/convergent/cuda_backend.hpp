// Public face of the CUDA backend: no CUDA types, so plain C++ translation
// units (the registration unit in backends/, tests) can include it. libcore
// never includes this header: it learns about the CUDA backend only through
// register_cuda_backend().
#pragma once

#include <memory>
#include <string>

#include "convergent/backend.hpp"

namespace convergent {

// True when at least one CUDA device can be used; otherwise *why (if given)
// gets the driver's reason ("no CUDA-capable device is detected", ...).
bool cuda_backend_device_available(std::string* why);

// Throws Error(Unsupported) when no device is usable. Reads the solver size
// crossovers once, here: max_weight_assignment runs libcore's exact
// Jonker-Volgenant on the host when rows * cols is below
// CONVERGENT_CUDA_MIN_ASSIGNMENT (cells), symmetric_eigensolve_smallest the
// CPU backend's LAPACK when n is below CONVERGENT_CUDA_MIN_EIGENSOLVE; unset,
// the provisional defaults of cuda/src/crossovers.hpp. A malformed value
// throws Error(InvalidArgument) naming the variable. device_description()
// states the crossovers in effect; a host assignment's solver names itself,
// e.g. "jonker-volgenant (host: 300 x 300 below the device crossover of
// 4194304 cells)".
std::unique_ptr<Backend> make_cuda_backend(int device_ordinal = 0);

// Registers the CUDA backend (device 0) with libcore's backend registry, so
// make_backend(Cuda | Auto) can build it. Idempotent and thread-safe. A static
// library's self-registering initialiser would be dropped by the linker, so
// this is called explicitly from above (register_builtin_backends()).
void register_cuda_backend();

}  // namespace convergent
