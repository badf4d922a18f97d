// Which solver the CUDA backend runs, by problem size (issue 13 item 4).
//
// Small problems are faster on the host: the device auction and cuSOLVER pay
// fixed costs (transfers, kernel launches, host synchronisations) that a
// small problem never earns back. The CUDA backend therefore runs
//   max_weight_assignment   rows * cols <  min_assignment_cells: libcore's exact
//                           Jonker-Volgenant solver on the host (the CPU
//                           backend's solver); otherwise the certified device
//                           auction (portable/auction.cuh, falling back to JV);
//   symmetric_eigensolve    n < min_eigensolve_n: the CPU backend's LAPACK
//                           dsyevr on the host; otherwise cuSOLVER syevdx.
// A problem exactly at the crossover runs on the device. The choice is
// recorded: Assignment::solver names the host solver and why
// (host_assignment_solver_name), and device_description() states both
// crossovers (describe_crossovers).
//
// The crossovers are read once, when the backend is created, from
//   CONVERGENT_CUDA_MIN_ASSIGNMENT   cells (rows x cols); 0 = always the device
//   CONVERGENT_CUDA_MIN_EIGENSOLVE   matrix order n;      0 = always the device
// (unset: the defaults below). A value that is not a whole number >= 0 that
// fits in 64 bits is an error naming the variable (make_backend throws
// InvalidArgument), never silently replaced by the default.
//
// The CPU backend never consults this file: it always runs JV (the OMP build
// of the auction is 30-100x slower than JV on a CPU, docs/benchmarks.md, and
// exists only for tests and bench_matching).
//
// Standard library + convergent/error.hpp only: included by the nvcc unit, by
// bench/cuda_bench.cpp and by tests/test_solver_choice.cpp (a CPU-only CI
// build tests the rule and the parsing without a GPU).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>

#include "convergent/error.hpp"

namespace convergent {
namespace cuda_solver_choice {

// ---- Provisional defaults: NO GPU WAS AVAILABLE when they were chosen -------
// They are estimates, to be replaced by the crossovers tools/gpu_check.sh
// measures (cuda_bench --case crossover; the "Solver crossovers" table of
// bench/gpu_report.py), on the first machine with a device.
//
// Assignment, 2048 x 2048 = 4,194,304 cells. Host JV measured 0.5 ms, 11.5 ms
// and 440 ms at n = 256, 1024, 4096 (uniform weights, 2-core EPYC VM,
// docs/benchmarks.md), about n^2.5, so ~70 ms at n = 2048. The device auction
// has a floor that does not shrink with n: every bidding round is ~10 Thrust
// launches with 3 device-to-host synchronisations (~0.1 ms), and epsilon
// scaling by 8 over the 2^50 integer range is ~17 phases of tens of rounds
// each: tens of ms before any work, which JV matches around n = 2048.
inline constexpr std::int64_t kDefaultMinAssignmentCells = std::int64_t(2048) * 2048;
// Eigensolve, n = 1024. Host dsyevr (range I, k = 100) measured 23, 64 and
// 257 ms at n = 512, 1024, 2048 on the same VM (a 16-core host with more
// memory bandwidth is ~3x faster: dsytrd is bandwidth-bound). cuSOLVER syevdx
// runs its tridiagonal reduction as many small kernels: published figures on
// A100/H100-class devices are ~5-10 ms at n = 512 and ~15-25 ms at n = 1024,
// so the two meet near n = 1024.
inline constexpr std::int64_t kDefaultMinEigensolveN = 1024;

inline constexpr const char* kMinAssignmentVariable = "CONVERGENT_CUDA_MIN_ASSIGNMENT";
inline constexpr const char* kMinEigensolveVariable = "CONVERGENT_CUDA_MIN_EIGENSOLVE";

enum class SolverPlace { Host, Device };

inline const char* solver_place_name(SolverPlace place) {
    return place == SolverPlace::Host ? "host" : "device";
}

struct Crossovers {
    std::int64_t min_assignment_cells = kDefaultMinAssignmentCells;
    std::int64_t min_eigensolve_n = kDefaultMinEigensolveN;
    bool assignment_from_environment = false;  // set by CONVERGENT_CUDA_MIN_ASSIGNMENT
    bool eigensolve_from_environment = false;  // set by CONVERGENT_CUDA_MIN_EIGENSOLVE
};

// rows x cols cells, saturating at the largest int64 (a product that
// overflows is certainly above any crossover).
inline std::int64_t assignment_cells(std::int64_t rows, std::int64_t cols) {
    if (rows <= 0 || cols <= 0) return 0;
    if (rows > std::numeric_limits<std::int64_t>::max() / cols) return std::numeric_limits<std::int64_t>::max();
    return rows * cols;
}

// Host below the crossover, device at or above it. A negative shape goes to
// the host solver, which reports it (InvalidArgument). Throws InvalidArgument
// for a negative crossover.
inline SolverPlace choose_assignment_solver(std::int64_t rows, std::int64_t cols, std::int64_t min_cells) {
    CVG_REQUIRE(min_cells >= 0, InvalidArgument,
                "choose_assignment_solver: negative crossover " + std::to_string(min_cells));
    if (rows < 0 || cols < 0) return SolverPlace::Host;
    return assignment_cells(rows, cols) < min_cells ? SolverPlace::Host : SolverPlace::Device;
}

inline SolverPlace choose_eigensolve_solver(std::int64_t n, std::int64_t min_n) {
    CVG_REQUIRE(min_n >= 0, InvalidArgument,
                "choose_eigensolve_solver: negative crossover " + std::to_string(min_n));
    return n < min_n ? SolverPlace::Host : SolverPlace::Device;
}

// Assignment::solver of an assignment the CUDA backend ran on the host: JV's
// own name first (consumers may test for the prefix "jonker-volgenant"), then
// why, e.g. "jonker-volgenant (host: 300 x 300 below the device crossover of
// 4194304 cells)".
inline std::string host_assignment_solver_name(std::int64_t rows, std::int64_t cols, std::int64_t min_cells) {
    return "jonker-volgenant (host: " + std::to_string(rows) + " x " + std::to_string(cols) +
           " below the device crossover of " + std::to_string(min_cells) + " cells)";
}

// Parses one crossover variable's value: a whole number >= 0 in decimal
// digits (no sign, spaces, exponent or suffix) that fits in int64. Anything
// else throws InvalidArgument naming the variable and the value.
inline std::int64_t parse_crossover(const char* variable, const std::string& text, const char* unit,
                                    std::int64_t default_value) {
    const std::string shown = text.size() > 40 ? text.substr(0, 40) + "..." : text;
    const auto bad = [&](const std::string& why) {
        fail(ErrorCode::InvalidArgument,
             std::string(variable) + "='" + shown + "' " + why + ": it must be a whole number >= 0 of " + unit +
                 " (0 = always the device), or unset for the default " + std::to_string(default_value));
    };
    if (text.empty()) bad("is empty");
    size_t first_digit = 0;
    if (text[0] == '-') first_digit = 1;
    bool digits = first_digit < text.size();
    for (size_t i = first_digit; i < text.size(); ++i) digits = digits && text[i] >= '0' && text[i] <= '9';
    if (!digits) bad("is not a whole number");
    if (first_digit == 1) bad(text.find_first_not_of('0', 1) != std::string::npos ? "is negative" : "has a sign");
    std::int64_t value = 0;
    constexpr std::int64_t max = std::numeric_limits<std::int64_t>::max();
    for (size_t i = first_digit; i < text.size(); ++i) {
        const int digit = text[i] - '0';
        if (value > (max - digit) / 10) bad("is larger than " + std::to_string(max));
        value = value * 10 + digit;
    }
    return value;
}

// The crossovers in effect: each variable's value when set, else the default.
inline Crossovers crossovers_from_environment() {
    Crossovers c;
    if (const char* text = std::getenv(kMinAssignmentVariable)) {
        c.min_assignment_cells =
            parse_crossover(kMinAssignmentVariable, text, "cells (rows x cols)", kDefaultMinAssignmentCells);
        c.assignment_from_environment = true;
    }
    if (const char* text = std::getenv(kMinEigensolveVariable)) {
        c.min_eigensolve_n = parse_crossover(kMinEigensolveVariable, text, "matrix order n", kDefaultMinEigensolveN);
        c.eigensolve_from_environment = true;
    }
    return c;
}

// For device_description(), e.g. "on the host: assignments below 4194304
// cells, eigensolves below n = 1024".
inline std::string describe_crossovers(const Crossovers& c) {
    std::string text = "on the host: assignments below " + std::to_string(c.min_assignment_cells) + " cells";
    if (c.assignment_from_environment) text += std::string(" (") + kMinAssignmentVariable + ")";
    text += ", eigensolves below n = " + std::to_string(c.min_eigensolve_n);
    if (c.eigensolve_from_environment) text += std::string(" (") + kMinEigensolveVariable + ")";
    return text;
}

}  // namespace cuda_solver_choice
}  // namespace convergent
