// Allocations whose size comes from the input (a layer's shape, a claimed
// member size) go through these helpers, so that running out of memory is an
// Error(OutOfMemory) naming the file/layer and the size attempted instead of
// a bare std::bad_alloc (which the CLI can only call an internal error).
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstddef>
#include <limits>
#include <new>
#include <string>
#include <vector>

#include "convergent/error.hpp"

namespace convergent {

// Asks the kernel to back the 2 MiB-aligned interior of [p, p + bytes) with
// transparent huge pages (where THP is in "madvise" mode, the Debian
// default). Call it on memory not yet touched: every first touch of a 4 KiB
// page is a fault, about 14 us each on the 2-core VMs this project runs on
// (tools/page_faults.cpp measures it), so faulting in a 128 MiB comoment
// page by page costs half a second, while huge pages cost 512 times fewer
// faults. numpy does the same for its arrays of 4 MiB or more. A no-op for
// small ranges and where madvise is refused.
void advise_huge_pages(void* p, std::size_t bytes);
// From 256 KiB up (64 small pages, about 1 ms of faults): a huge page
// holding a smaller buffer costs at most 2 MiB of resident memory.
constexpr std::size_t kHugePageAdviceBytes = std::size_t(256) << 10;
constexpr std::size_t kHugePageBytes = std::size_t(2) << 20;

// v.reserve(count) with huge pages advised for big buffers; the elements are
// not touched (for std::vector<T> whose resize() zeroes, the zeroing then
// faults in huge pages).
// The allocation may start anywhere in a 2 MiB page: the capacity is padded
// by one huge page, so only the head before the first 2 MiB boundary (at
// most 512 small pages) is faulted page by page.
template <typename T>
void reserve_huge(std::vector<T>& v, std::size_t count) {
    if (count <= v.capacity()) return;
    const std::size_t bytes = count * sizeof(T);
    if (bytes < kHugePageAdviceBytes) {
        v.reserve(count);
        return;
    }
    v.reserve(count + kHugePageBytes / sizeof(T));
    advise_huge_pages(v.data(), v.capacity() * sizeof(T));
}

// A scratch buffer of `count` elements starting on a 2 MiB boundary, so that
// all of it is backed by huge pages: v is resized to count plus the padding
// (T must not initialise itself: nothing is touched here) and the aligned
// start is returned. Error(OutOfMemory) naming `what` and `purpose`.
template <typename T>
T* resize_huge_aligned(std::vector<T>& v, std::uint64_t count, const std::string& what, const std::string& purpose);

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
    // More than the machine's physical memory cannot be used (every element
    // is written): refused before asking the allocator, whose answer to a
    // request of terabytes may be an abort (sanitizer allocators) or a
    // promise the kernel's overcommit cannot keep.
    const double physical = double(::sysconf(_SC_PHYS_PAGES)) * double(::sysconf(_SC_PAGESIZE));
    if (count > v.max_size() || (physical > 0 && double(count) * double(sizeof(T)) > physical))
        fail_out_of_memory(what, purpose, bytes_of<T>(count));
    try {
        reserve_huge(v, std::size_t(count));
        v.resize(std::size_t(count));
    } catch (const std::bad_alloc&) {
        fail_out_of_memory(what, purpose, bytes_of<T>(count));
    }
}

template <typename T>
T* resize_huge_aligned(std::vector<T>& v, std::uint64_t count, const std::string& what, const std::string& purpose) {
    static_assert(kHugePageBytes % sizeof(T) == 0, "element size must divide the huge page size");
    const std::uint64_t pad = count * sizeof(T) >= kHugePageAdviceBytes ? kHugePageBytes / sizeof(T) : 0;
    if (count > v.max_size() - pad) fail_out_of_memory(what, purpose, bytes_of<T>(count));
    resize_or_fail(v, count + pad, what, purpose);
    if (pad == 0) return v.data();
    const std::uintptr_t p = reinterpret_cast<std::uintptr_t>(v.data());
    const std::uintptr_t aligned = (p + kHugePageBytes - 1) & ~std::uintptr_t(kHugePageBytes - 1);
    return v.data() + (aligned - p) / sizeof(T);
}

}  // namespace convergent
