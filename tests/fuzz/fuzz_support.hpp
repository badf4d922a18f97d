// Shared helpers of the libFuzzer harnesses (docs/fuzzing.md).
//
// The readers under test take file paths (open_npy, NpzArchive::open,
// cvg_stats_load), so an input is written to a scratch file first: one
// private directory per fuzzing process (under /dev/shm when it exists, so
// the write stays in memory), removed at exit.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <unistd.h>

#include "convergent/error.hpp"

namespace convergent_fuzz {

// The elements a harness reads from one array at most: a header may
// legitimately describe more data than is worth converting per input
// (a deflated member inflates ~1000x), and a slow input is not a finding.
constexpr std::int64_t kMaxElementsRead = std::int64_t(1) << 20;

inline const std::string& scratch_dir() {
    static const std::string dir = [] {
        const char* base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : nullptr;
        if (!base) base = std::getenv("TMPDIR");
        if (!base || !*base) base = "/tmp";
        std::string pattern = std::string(base) + "/convergent-fuzz-XXXXXX";
        if (!mkdtemp(pattern.data())) {
            std::perror("fuzz: mkdtemp");
            std::abort();
        }
        static std::string remove_at_exit;
        remove_at_exit = pattern;
        std::atexit([] {
            std::error_code ignored;
            std::filesystem::remove_all(remove_at_exit, ignored);
        });
        return pattern;
    }();
    return dir;
}

// Writes bytes to <scratch dir>/name (replacing it) and returns the path.
inline std::string write_scratch_file(const std::string& name, const std::uint8_t* data, std::size_t size) {
    const std::string path = scratch_dir() + "/" + name;
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (!f || (size && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
        std::perror(("fuzz: writing " + path).c_str());
        std::abort();
    }
    return path;
}

// A convergent::Error is the library's documented answer to bad input,
// except ErrorCode::Internal, which the library reserves for broken
// invariants: that is a finding.
inline void expected_error(const convergent::Error& e) {
    if (e.code() == convergent::ErrorCode::Internal) {
        std::fprintf(stderr, "fuzz: internal error (a bug): %s\n", e.what());
        std::abort();
    }
}

}  // namespace convergent_fuzz
