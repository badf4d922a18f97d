// Activations held in memory: a strided n-dimensional view of float16,
// float32 or float64 elements owned by the caller (a NumPy array, a torch
// tensor, a DLPack tensor). Views are read in place: the compare pipeline
// converts a bounded piece at a time into its own chunk, so no copy of the
// whole tensor is ever made.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "convergent/backend.hpp"
#include "convergent/npy.hpp"

#include <dlpack/dlpack.h>  // Debian libdlpack-dev (DLPack 0.6 and later)

namespace convergent {

enum class TensorDevice { Host, Cuda };

struct TensorView {
    const void* data = nullptr;          // the first element (any byte offset already applied)
    NpyDtype dtype = NpyDtype::Float32;  // native byte order
    std::vector<index_t> shape;
    std::vector<index_t> strides;        // in elements, one per dimension; empty: C-contiguous
    TensorDevice device = TensorDevice::Host;
    int device_id = 0;

    // Whether the elements lie in C order without gaps (strides empty or
    // equal to the C-order strides; dimensions of extent 1 ignored).
    bool c_contiguous() const;
    index_t element_count() const;
};

// An NpyArray over a host view: header().shape is the view's shape in C
// order, read_elements() reads logical C-order elements straight from the
// caller's memory (converted to float). The view must stay valid while the
// array is used. Throws InvalidArgument naming `what` for a null pointer,
// a rank other than 1..8, negative extents or strides, and Unsupported for
// a device view (read those with a device backend).
std::unique_ptr<NpyArray> tensor_array(const TensorView& view, const std::string& what);

// The view of a DLPack tensor (dlpack.h, version 0.6 and later): float
// 16/32/64 bits, one lane, on kDLCPU, kDLCUDAHost (host memory) or kDLCUDA
// (device memory; TensorDevice::Cuda). Anything else throws Unsupported
// naming `what`, the dtype or device, and what is accepted.
TensorView tensor_from_dlpack(const DLTensor& tensor, const std::string& what);

// The DeviceChunkBlock of a layer batch in device memory: (B, C) or
// (B, C, H, W) / (B, H, W, C) (channels_last), owning the chunk's columns
// [column, column + C).
DeviceChunkBlock device_chunk_block(const TensorView& view, bool channels_last, index_t column);

}  // namespace convergent
