// Private helpers of the .npy format unit (npy_format.cpp), shared by
// libcore's readers (npy.cpp, npz.cpp) and the report viewer's WebAssembly
// build: the preamble length, element decoding to float and range checks.
// Standard library only, like convergent/npy_format.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "convergent/npy_format.hpp"

namespace convergent {
namespace npy_detail {

// The .npy preamble: 6 magic bytes, 2 version bytes, then the header length
// (2 bytes for version 1.0, 4 bytes for 2.0/3.0).
constexpr std::size_t kPreambleBytes = 12;
// Given the first bytes of an .npy stream (at least 10), returns the total
// size of magic + version + length field + header dict, i.e. the data offset.
// Throws BadData on a bad magic string or version.
std::uint64_t header_end(const std::uint8_t* bytes, std::size_t size, const std::string& what);

// Converts `count` elements stored with the header's dtype/byte order into float.
void convert_to_float(const std::uint8_t* src, index_t count, const NpyHeader& header, float* out);

// IEEE 754 binary16 -> binary32, subnormals, infinities and NaN payloads included.
float half_to_float(std::uint16_t h);

// Validates a read_elements request against the array's element count.
void check_range(const NpyHeader& header, index_t first, index_t count, const std::string& what);

// "(2, 3)", "(5,)", "()": a shape as Python writes it, for headers and messages.
std::string shape_string(const std::vector<index_t>& shape);

}  // namespace npy_detail
}  // namespace convergent
