// Shared machinery of the C ABI: thread-local error text and the one
// exception boundary every exported function goes through.
#pragma once

#include <exception>
#include <new>
#include <string>

#include "convergent.h"
#include "convergent/backend.hpp"
#include "convergent/error.hpp"

namespace convergent {
namespace capi {

void set_last_error(const std::string& message);
void clear_last_error();
const char* last_error_c_str();

inline int status_of(ErrorCode code) { return static_cast<int>(code); }

// Runs body; converts any exception into a status code + message. No
// exception crosses the C boundary.
template <typename Body>
int translate_exceptions(const char* function, Body&& body) noexcept {
    try {
        clear_last_error();
        body();
        return CVG_OK;
    } catch (const Error& e) {
        set_last_error(std::string(function) + ": " + e.what());
        return status_of(e.code());
    } catch (const std::bad_alloc&) {
        set_last_error(std::string(function) + ": out of memory");
        return CVG_E_OUT_OF_MEMORY;
    } catch (const std::exception& e) {
        set_last_error(std::string(function) + ": internal error: " + e.what());
        return CVG_E_INTERNAL;
    } catch (...) {
        set_last_error(std::string(function) + ": unknown internal error");
        return CVG_E_INTERNAL;
    }
}

#define CVG_ARG(cond, msg) CVG_REQUIRE(cond, InvalidArgument, msg)

BackendKind backend_from_int(int32_t backend);

// Validates a caller matrix description.
void check_matrix(const void* data, int64_t rows, int64_t cols, int64_t ld, int32_t layout,
                  const char* name);

}  // namespace capi
}  // namespace convergent
