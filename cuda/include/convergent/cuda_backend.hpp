// Public face of the CUDA backend: no CUDA types, so libcore and the CLI can
// include it from plain C++ translation units.
#pragma once

#include <memory>
#include <string>

#include "convergent/backend.hpp"

namespace convergent {

// True when at least one CUDA device can be used; otherwise *why (if given)
// gets the driver's reason ("no CUDA-capable device is detected", ...).
bool cuda_backend_device_available(std::string* why);

// Throws Error(Unsupported) when no device is usable.
std::unique_ptr<Backend> make_cuda_backend(int device_ordinal = 0);

}  // namespace convergent
