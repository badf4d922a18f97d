// Allocations whose size comes from the input (a layer's shape, a claimed
// member size) go through these helpers, so that running out of memory is an
// Error(OutOfMemory) naming the file/layer and the size attempted instead of
// a bare std::bad_alloc (which the CLI can only call an internal error).
#pragma once

#include <cstdint>
#include <cstdio>
#include <limits>
#include <new>
#include <string>
#include <vector>

#include "convergent/error.hpp"

namespace convergent {

// "1.5 GiB (1610612736 bytes)".
inline std::string byte_count_text(std::uint64_t bytes) {
    const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double v = double(bytes);
    int u = 0;
    while (v >= 1024.0 && u < 6) {
        v /= 1024.0;
        ++u;
    }
    if (u == 0) return std::to_string(bytes) + " bytes";
    char text[64];
    std::snprintf(text, sizeof text, "%.1f %s (%llu bytes)", v, units[u], static_cast<unsigned long long>(bytes));
    return text;
}

[[noreturn]] inline void fail_out_of_memory(const std::string& what, const std::string& purpose,
                                            std::uint64_t bytes) {
    fail(ErrorCode::OutOfMemory, what + ": out of memory allocating " + byte_count_text(bytes) + " for " + purpose);
}

// Bytes of `count` elements of T, saturating instead of overflowing.
template <typename T>
std::uint64_t bytes_of(std::uint64_t count) {
    return count > std::numeric_limits<std::uint64_t>::max() / sizeof(T) ? std::numeric_limits<std::uint64_t>::max()
                                                                          : count * sizeof(T);
}

// v.resize(count), or Error(OutOfMemory) naming `what` and `purpose`.
template <typename T>
void resize_or_fail(std::vector<T>& v, std::uint64_t count, const std::string& what, const std::string& purpose) {
    if (count > v.max_size()) fail_out_of_memory(what, purpose, bytes_of<T>(count));
    try {
        v.resize(std::size_t(count));
    } catch (const std::bad_alloc&) {
        fail_out_of_memory(what, purpose, bytes_of<T>(count));
    }
}

}  // namespace convergent
