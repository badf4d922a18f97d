// The NumPy .npy header format on its own: dtype, byte order, memory order
// and shape of an .npy stream held in memory. Standard library only (no file
// mapping, no zip), so the report viewer's WebAssembly build parses .npy
// matrices with the same code as libcore.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "convergent/error.hpp"

namespace convergent {

enum class NpyDtype { Float16, Float32, Float64 };

struct NpyHeader {
    NpyDtype dtype = NpyDtype::Float32;
    bool big_endian = false;
    bool fortran_order = false;
    std::vector<index_t> shape;
    std::uint64_t data_offset = 0;  // byte offset of the data in the .npy stream

    index_t element_count() const;
    int element_size() const;
};

// Parses the header of an .npy stream held in memory (the first `size`
// bytes). `what` names the file/array in error messages. Throws BadData on a
// malformed header, Unsupported on a dtype other than f2/f4/f8, and BadData
// when the claimed shape overflows or needs more data than the
// `total_bytes` of the whole stream hold.
NpyHeader parse_npy_header(const std::uint8_t* bytes, std::size_t size, std::uint64_t total_bytes,
                           const std::string& what);

}  // namespace convergent
