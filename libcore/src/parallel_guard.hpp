// Exceptions must not leave an OpenMP parallel region: one that escapes a
// worker thread calls std::terminate (an abort, a core dump, no message).
// Every throwing statement inside a region runs through ParallelGuard::run,
// which records the first exception; the remaining iterations become no-ops
// and rethrow() re-raises it on the calling thread after the region.
#pragma once

#include <atomic>
#include <exception>
#include <mutex>
#include <new>
#include <string>

#include "convergent/error.hpp"

namespace convergent {

class ParallelGuard {
public:
    // Runs body() unless an earlier iteration failed; never throws.
    template <typename Body>
    void run(Body&& body) noexcept {
        if (failed_.load(std::memory_order_relaxed)) return;
        try {
            body();
        } catch (...) {
            std::lock_guard<std::mutex> lock(mutex_);
            if (!first_) first_ = std::current_exception();
            failed_.store(true, std::memory_order_relaxed);
        }
    }
    bool failed() const { return failed_.load(std::memory_order_relaxed); }
    // Call after the parallel region, on the thread that started it.
    void rethrow() const {
        if (first_) std::rethrow_exception(first_);
    }
    // rethrow(), with a std::bad_alloc turned into Error(OutOfMemory)
    // naming `what` (the operation and its size, e.g. "bin_units: 5000
    // samples x 4096 units").
    void rethrow(const std::string& what) const {
        if (!first_) return;
        try {
            std::rethrow_exception(first_);
        } catch (const std::bad_alloc&) {
            fail(ErrorCode::OutOfMemory, what + ": out of memory in a worker thread's scratch allocation");
        }
    }

private:
    std::atomic<bool> failed_{false};
    std::mutex mutex_;
    std::exception_ptr first_;
};

}  // namespace convergent
