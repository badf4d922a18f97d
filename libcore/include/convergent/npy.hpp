// NumPy .npy / .npz reading and writing.
//
// Reading: .npy versions 1.0, 2.0 and 3.0; dtypes f2/f4/f8 in either byte
// order; C and Fortran order. Object, structured, integer and complex arrays
// are refused with an error naming the file and array. Files are memory
// mapped; .npz members are read through libzip (stored members are mapped in
// place, deflated members are streamed), zip64 included.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "convergent/error.hpp"
#include "convergent/npy_format.hpp"  // NpyDtype, NpyHeader, parse_npy_header

namespace convergent {

// A readable n-dimensional float array (one .npy file or one .npz member).
class NpyArray {
public:
    virtual ~NpyArray() = default;
    virtual const NpyHeader& header() const = 0;
    // Human-readable origin, e.g. "file 'nets/a.npz', array 'conv1'".
    virtual const std::string& what() const = 0;
    // Copies `count` consecutive elements in *storage* order starting at
    // element `first`, converted to float. Efficient when successive calls
    // move forward; backward reads of a deflated .npz member re-open it.
    virtual void read_elements(index_t first, index_t count, float* out) const = 0;
};

std::unique_ptr<NpyArray> open_npy(const std::string& path, const std::string& array_name);

// Members of an .npz archive, by array name (member name without ".npy").
class NpzArchive {
public:
    static std::unique_ptr<NpzArchive> open(const std::string& path);
    virtual ~NpzArchive() = default;
    virtual const std::vector<std::string>& array_names() const = 0;
    virtual std::unique_ptr<NpyArray> array(const std::string& name) const = 0;
};

// Writes a C-order little-endian .npy file (version 1.0) of float32 or
// float64 data. The caller handles atomic placement (write into a temp dir).
void write_npy(const std::string& path, const float* data, const std::vector<index_t>& shape);
void write_npy(const std::string& path, const double* data, const std::vector<index_t>& shape);
void write_npy(const std::string& path, const std::int64_t* data, const std::vector<index_t>& shape);

}  // namespace convergent
