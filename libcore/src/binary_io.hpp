// Arrays of plain values to and from the binary streams of the mergeable
// accumulators (MomentAccumulator, BlockMoments save/load; internal).
#pragma once

#include <cstddef>
#include <istream>
#include <ostream>
#include <string>

#include "convergent/error.hpp"

namespace convergent {

template <typename T>
void put_array(std::ostream& out, const T* v, std::size_t n) {
    out.write(reinterpret_cast<const char*>(v), std::streamsize(sizeof(T) * n));
}

// Reads n values; a short read throws code with `message`.
template <typename T>
void get_array(std::istream& in, T* v, std::size_t n, ErrorCode code, const std::string& message) {
    in.read(reinterpret_cast<char*>(v), std::streamsize(sizeof(T) * n));
    if (!(in.good() || (in.eof() && std::size_t(in.gcount()) == sizeof(T) * n))) throw Error(code, message);
}

}  // namespace convergent
