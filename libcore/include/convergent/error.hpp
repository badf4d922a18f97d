// Error type shared by every layer of convergent. The C ABI maps ErrorCode
// one-to-one onto its CVG_E_* status codes, so the values are part of the ABI.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace convergent {

using index_t = std::int64_t;

enum class ErrorCode : int {
    InvalidArgument = -1,  // caller passed something unusable (NULL, wrong size, unknown option)
    Io = -2,               // file missing, unreadable, truncated, not writable
    Unsupported = -3,      // valid request this build/machine cannot serve (e.g. cuda without a GPU)
    OutOfMemory = -4,
    Device = -5,           // a CUDA/cuBLAS/cuSOLVER call failed
    BadData = -6,          // input readable but its content is wrong (NaN/Inf, bad header, mismatched shapes)
    Internal = -7,         // a bug: an invariant did not hold
};

// Every error that leaves libcore is a convergent::Error. Messages name the
// file, the array/layer and the problem, so a user can act on them directly.
class Error : public std::runtime_error {
public:
    Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
    ErrorCode code() const noexcept { return code_; }

private:
    ErrorCode code_;
};

[[noreturn]] inline void fail(ErrorCode code, const std::string& message) { throw Error(code, message); }

}  // namespace convergent

// Throws convergent::Error(code, msg) when cond is false. msg may be any
// expression convertible to std::string; it is only evaluated on failure.
#define CVG_REQUIRE(cond, code, msg)                                   \
    do {                                                               \
        if (!(cond)) ::convergent::fail(::convergent::ErrorCode::code, (msg)); \
    } while (0)
