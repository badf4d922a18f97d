// Solvers chosen by problem size (issue 13 item 4): the CUDA backend runs
// assignments below CONVERGENT_CUDA_MIN_ASSIGNMENT cells and eigensolves
// below CONVERGENT_CUDA_MIN_EIGENSOLVE on the host. The rule and the parsing
// of the variables are plain C++ (cuda/src/crossovers.hpp) and are tested
// here on every build, GPU or not; the CPU backend must always run JV; the
// CUDA backend's choices are checked against the CPU backend on a device
// (GTEST_SKIP without one).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "convergent/backend.hpp"
#include "convergent/jonker_volgenant.hpp"

// Not on the test binary's include path (a CPU-only build has no CUDA
// target): the header is standard library + error.hpp only.
#include "../cuda/src/crossovers.hpp"

using namespace convergent;
using namespace convergent::cuda_solver_choice;

namespace {

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
const double kPi = std::acos(-1.0);
const std::string kJonkerVolgenant = "jonker-volgenant";

// Sets (or unsets, with nullopt) one environment variable for a scope.
class ScopedEnv {
public:
    ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = std::string(old);
        if (value)
            ::setenv(name, value->c_str(), 1);
        else
            ::unsetenv(name);
    }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;
    ~ScopedEnv() {
        if (old_)
            ::setenv(name_, old_->c_str(), 1);
        else
            ::unsetenv(name_);
    }

private:
    const char* name_;
    std::optional<std::string> old_;
};

// The InvalidArgument message of parsing `text` as `variable`; fails the
// test when it parses.
std::string parse_error(const char* variable, const std::string& text) {
    try {
        const std::int64_t v = parse_crossover(variable, text, "cells (rows x cols)", kDefaultMinAssignmentCells);
        ADD_FAILURE() << variable << "='" << text << "' parsed as " << v;
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::InvalidArgument) << e.what();
        return e.what();
    }
    return "";
}

std::vector<double> random_weights(index_t rows, index_t cols, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    std::vector<double> w(static_cast<size_t>(rows * cols));
    for (double& x : w) x = u(rng);
    return w;
}

// Path graph Laplacian: eigenvalues 2 - 2 cos(pi j / n), all distinct, so
// eigenvectors are unique up to sign.
std::vector<double> path_laplacian(index_t n) {
    std::vector<double> l(static_cast<size_t>(n * n), 0.0);
    for (index_t i = 0; i + 1 < n; ++i) {
        l[size_t(i * n + i + 1)] = l[size_t((i + 1) * n + i)] = -1.0;
        l[size_t(i * n + i)] += 1.0;
        l[size_t((i + 1) * n + i + 1)] += 1.0;
    }
    return l;
}

}  // namespace

// ---- The rule (no device needed) -------------------------------------------

TEST(SolverChoice, AssignmentHostBelowTheCrossoverDeviceAtAndAbove) {
    EXPECT_EQ(choose_assignment_solver(9, 11, 100), SolverPlace::Host);     // 99 cells
    EXPECT_EQ(choose_assignment_solver(10, 10, 100), SolverPlace::Device);  // exactly at it
    EXPECT_EQ(choose_assignment_solver(1, 100, 100), SolverPlace::Device);
    EXPECT_EQ(choose_assignment_solver(101, 1, 100), SolverPlace::Device);
    EXPECT_EQ(choose_assignment_solver(1, 99, 100), SolverPlace::Host);
    // Cells, not the larger side: 50 x 1000 is as big as 224 x 224.
    EXPECT_EQ(choose_assignment_solver(50, 1000, 50000), SolverPlace::Device);
    EXPECT_EQ(choose_assignment_solver(49, 1000, 50000), SolverPlace::Host);
}

TEST(SolverChoice, AssignmentDefaultIs2048Squared) {
    EXPECT_EQ(kDefaultMinAssignmentCells, 2048 * 2048);
    EXPECT_EQ(choose_assignment_solver(2047, 2048, kDefaultMinAssignmentCells), SolverPlace::Host);
    EXPECT_EQ(choose_assignment_solver(2048, 2048, kDefaultMinAssignmentCells), SolverPlace::Device);
    EXPECT_EQ(choose_assignment_solver(300, 300, kDefaultMinAssignmentCells), SolverPlace::Host);
    EXPECT_EQ(choose_assignment_solver(4096, 4096, kDefaultMinAssignmentCells), SolverPlace::Device);
}

TEST(SolverChoice, AssignmentEdgeSizes) {
    // 0 = always the device, even an empty problem (the auction returns it).
    EXPECT_EQ(choose_assignment_solver(0, 0, 0), SolverPlace::Device);
    EXPECT_EQ(choose_assignment_solver(1, 1, 0), SolverPlace::Device);
    EXPECT_EQ(choose_assignment_solver(0, 5, 1), SolverPlace::Host);
    // The largest crossover keeps everything on the host but a product that
    // saturates.
    EXPECT_EQ(choose_assignment_solver(3037000499, 3037000499, kMax), SolverPlace::Host);
    // A product past int64 saturates (no wrap to a negative "small" size).
    EXPECT_EQ(assignment_cells(std::int64_t(1) << 40, std::int64_t(1) << 40), kMax);
    EXPECT_EQ(choose_assignment_solver(std::int64_t(1) << 40, std::int64_t(1) << 40, kDefaultMinAssignmentCells),
              SolverPlace::Device);
    // A negative shape goes to the host solver, which reports it.
    EXPECT_EQ(choose_assignment_solver(-1, -1, 0), SolverPlace::Host);
    EXPECT_EQ(choose_assignment_solver(-3, 5, 0), SolverPlace::Host);
    EXPECT_THROW(choose_assignment_solver(3, 3, -1), Error);
}

TEST(SolverChoice, EigensolveHostBelowTheCrossover) {
    EXPECT_EQ(kDefaultMinEigensolveN, 1024);
    EXPECT_EQ(choose_eigensolve_solver(1023, 1024), SolverPlace::Host);
    EXPECT_EQ(choose_eigensolve_solver(1024, 1024), SolverPlace::Device);
    EXPECT_EQ(choose_eigensolve_solver(8192, 1024), SolverPlace::Device);
    EXPECT_EQ(choose_eigensolve_solver(1, 0), SolverPlace::Device);
    EXPECT_EQ(choose_eigensolve_solver(8192, kMax), SolverPlace::Host);
    EXPECT_THROW(choose_eigensolve_solver(10, -5), Error);
    EXPECT_STREQ(solver_place_name(SolverPlace::Host), "host");
    EXPECT_STREQ(solver_place_name(SolverPlace::Device), "device");
}

TEST(SolverChoice, HostSolverNameKeepsJonkerVolgenantFirstAndSaysWhy) {
    const std::string name = host_assignment_solver_name(300, 200, kDefaultMinAssignmentCells);
    EXPECT_EQ(name, "jonker-volgenant (host: 300 x 200 below the device crossover of 4194304 cells)");
    EXPECT_EQ(name.rfind(kJonkerVolgenant, 0), 0u);
}

// ---- The environment variables ---------------------------------------------

TEST(SolverChoice, ParsesWholeNumbers) {
    const char* v = kMinAssignmentVariable;
    EXPECT_EQ(parse_crossover(v, "0", "cells", 1), 0);
    EXPECT_EQ(parse_crossover(v, "4194304", "cells", 1), 4194304);
    EXPECT_EQ(parse_crossover(v, "0007", "cells", 1), 7);
    EXPECT_EQ(parse_crossover(v, "9223372036854775807", "cells", 1), kMax);
}

TEST(SolverChoice, MalformedNegativeAndHugeValuesAreErrorsNamingTheVariable) {
    for (const char* text : {"", "abc", "12abc", "1e6", " 12", "12 ", "+5", "0x10", "4,096", "1.5", "-"}) {
        const std::string m = parse_error(kMinAssignmentVariable, text);
        EXPECT_NE(m.find("CONVERGENT_CUDA_MIN_ASSIGNMENT='" + std::string(text) + "'"), std::string::npos) << m;
        EXPECT_NE(m.find(std::string(text).empty() ? "is empty" : "is not a whole number"), std::string::npos) << m;
        EXPECT_NE(m.find("or unset for the default 4194304"), std::string::npos) << m;
    }
    EXPECT_NE(parse_error(kMinAssignmentVariable, "-1").find("'-1' is negative"), std::string::npos);
    EXPECT_NE(parse_error(kMinAssignmentVariable, "-4096").find("is negative"), std::string::npos);
    EXPECT_NE(parse_error(kMinAssignmentVariable, "-0").find("has a sign"), std::string::npos);
    for (const char* text : {"9223372036854775808", "18446744073709551616", "99999999999999999999999999"}) {
        const std::string m = parse_error(kMinEigensolveVariable, text);
        EXPECT_NE(m.find("CONVERGENT_CUDA_MIN_EIGENSOLVE="), std::string::npos) << m;
        EXPECT_NE(m.find("is larger than 9223372036854775807"), std::string::npos) << m;
    }
    // A very long value is shown cut short.
    const std::string m = parse_error(kMinAssignmentVariable, std::string(200, 'x'));
    EXPECT_NE(m.find(std::string(40, 'x') + "...'"), std::string::npos) << m;
    EXPECT_EQ(m.find(std::string(41, 'x')), std::string::npos) << m;
}

TEST(SolverChoice, EnvironmentOverridesTheDefaultsOnlyWhenSet) {
    {
        ScopedEnv a(kMinAssignmentVariable, std::nullopt), e(kMinEigensolveVariable, std::nullopt);
        const Crossovers c = crossovers_from_environment();
        EXPECT_EQ(c.min_assignment_cells, kDefaultMinAssignmentCells);
        EXPECT_EQ(c.min_eigensolve_n, kDefaultMinEigensolveN);
        EXPECT_FALSE(c.assignment_from_environment);
        EXPECT_FALSE(c.eigensolve_from_environment);
        EXPECT_EQ(describe_crossovers(c), "on the host: assignments below 4194304 cells, eigensolves below n = 1024");
    }
    {
        ScopedEnv a(kMinAssignmentVariable, "90000"), e(kMinEigensolveVariable, "0");
        const Crossovers c = crossovers_from_environment();
        EXPECT_EQ(c.min_assignment_cells, 90000);
        EXPECT_EQ(c.min_eigensolve_n, 0);
        EXPECT_TRUE(c.assignment_from_environment);
        EXPECT_TRUE(c.eigensolve_from_environment);
        EXPECT_EQ(describe_crossovers(c),
                  "on the host: assignments below 90000 cells (CONVERGENT_CUDA_MIN_ASSIGNMENT), "
                  "eigensolves below n = 0 (CONVERGENT_CUDA_MIN_EIGENSOLVE)");
    }
    {
        ScopedEnv a(kMinAssignmentVariable, std::nullopt), e(kMinEigensolveVariable, "1024 ");
        try {
            crossovers_from_environment();
            FAIL() << "a trailing space was accepted";
        } catch (const Error& err) {
            EXPECT_EQ(err.code(), ErrorCode::InvalidArgument);
            EXPECT_NE(std::string(err.what()).find("CONVERGENT_CUDA_MIN_EIGENSOLVE='1024 '"), std::string::npos)
                << err.what();
            EXPECT_NE(std::string(err.what()).find("matrix order n"), std::string::npos) << err.what();
        }
    }
    {
        ScopedEnv a(kMinAssignmentVariable, ""), e(kMinEigensolveVariable, std::nullopt);
        EXPECT_THROW(crossovers_from_environment(), Error);  // set but empty: not "unset"
    }
}

// ---- The CPU backend never chooses: always exact JV ---------------------------

TEST(SolverChoice, CpuBackendAlwaysRunsJonkerVolgenant) {
    // The variables are the CUDA backend's; the CPU backend ignores them.
    ScopedEnv a(kMinAssignmentVariable, "0");
    const std::unique_ptr<Backend> cpu = make_cpu_backend();
    // Sizes on both sides of the CUDA backend's default crossover: the CPU
    // backend never runs the (OMP) auction, which is 30-100x slower than JV
    // on a CPU.
    const std::vector<std::pair<index_t, index_t>> shapes = {{1, 1},     {3, 5},     {5, 3},
                                                             {64, 64},   {300, 300}, {200, 700},
                                                             {2049, 2048}};
    for (const auto& [rows, cols] : shapes) {
        const std::vector<double> w = random_weights(rows, cols, std::uint64_t(rows * 131 + cols));
        const Assignment a_cpu = cpu->max_weight_assignment(w.data(), rows, cols, cols);
        EXPECT_EQ(a_cpu.solver, kJonkerVolgenant) << rows << " x " << cols;
        const Assignment exact = jonker_volgenant_max_weight(w.data(), rows, cols, cols);
        EXPECT_EQ(a_cpu.column, exact.column) << rows << " x " << cols;
    }
    EXPECT_EQ(choose_assignment_solver(2049, 2048, kDefaultMinAssignmentCells), SolverPlace::Device);
}

TEST(SolverChoice, AutoWithoutADeviceRunsJonkerVolgenant) {
    std::string why;
    if (cuda_device_available(&why)) GTEST_SKIP() << "a CUDA device is present";
    const std::unique_ptr<Backend> backend = make_backend(BackendKind::Auto);
    ASSERT_EQ(backend->kind(), BackendKind::Cpu);
    const std::vector<double> w = random_weights(40, 30, 7);
    EXPECT_EQ(backend->max_weight_assignment(w.data(), 40, 30, 30).solver, kJonkerVolgenant);
}

// ---- The CUDA backend's choices, on a device ----------------------------------

TEST(SolverChoice, CudaAssignmentRunsOnTheHostBelowTheCrossover) {
    std::string why;
    if (!cuda_device_available(&why)) GTEST_SKIP() << "no CUDA device: " << why;
    ScopedEnv a(kMinAssignmentVariable, "10000");
    const std::unique_ptr<Backend> cuda = make_backend(BackendKind::Cuda);
    const std::unique_ptr<Backend> cpu = make_cpu_backend();
    EXPECT_NE(cuda->device_description().find("assignments below 10000 cells (CONVERGENT_CUDA_MIN_ASSIGNMENT)"),
              std::string::npos)
        << cuda->device_description();
    for (const auto& [rows, cols] : std::vector<std::pair<index_t, index_t>>{{99, 100}, {100, 100}, {80, 130}}) {
        const std::vector<double> w = random_weights(rows, cols, std::uint64_t(rows + 1000 * cols));
        const Assignment g = cuda->max_weight_assignment(w.data(), rows, cols, cols);
        const Assignment c = cpu->max_weight_assignment(w.data(), rows, cols, cols);
        EXPECT_NEAR(g.primal, c.primal, 1e-9 * std::abs(c.primal));
        if (rows * cols < 10000) {
            EXPECT_EQ(g.solver, host_assignment_solver_name(rows, cols, 10000));
            EXPECT_EQ(g.column, c.column);
        } else {
            EXPECT_TRUE(g.solver == "auction" || g.solver == "auction+jonker-volgenant") << g.solver;
        }
    }
}

TEST(SolverChoice, CudaAssignmentZeroCrossoverAlwaysRunsTheAuction) {
    std::string why;
    if (!cuda_device_available(&why)) GTEST_SKIP() << "no CUDA device: " << why;
    ScopedEnv a(kMinAssignmentVariable, "0");
    const std::unique_ptr<Backend> cuda = make_backend(BackendKind::Cuda);
    const std::unique_ptr<Backend> cpu = make_cpu_backend();
    for (const auto& [rows, cols] : std::vector<std::pair<index_t, index_t>>{{1, 1}, {7, 5}, {200, 200}}) {
        const std::vector<double> w = random_weights(rows, cols, std::uint64_t(rows * 7 + cols));
        const Assignment g = cuda->max_weight_assignment(w.data(), rows, cols, cols);
        EXPECT_TRUE(g.solver == "auction" || g.solver == "auction+jonker-volgenant") << g.solver;
        const double primal = cpu->max_weight_assignment(w.data(), rows, cols, cols).primal;
        EXPECT_NEAR(g.primal, primal, 1e-9 * std::max(1.0, std::abs(primal)));
    }
}

TEST(SolverChoice, CudaEigensolveMatchesCpuOnBothSidesOfTheCrossover) {
    std::string why;
    if (!cuda_device_available(&why)) GTEST_SKIP() << "no CUDA device: " << why;
    const index_t n = 200, k = 12;
    const std::vector<double> l = path_laplacian(n);
    const std::unique_ptr<Backend> cpu = make_cpu_backend();
    std::vector<double> values_cpu(static_cast<size_t>(k)), vectors_cpu(static_cast<size_t>(n * k));
    cpu->symmetric_eigensolve_smallest(l.data(), n, k, values_cpu.data(), vectors_cpu.data());
    // "0": cuSOLVER for every n; n + 1: the host's LAPACK for this n.
    for (const std::string crossover : {std::string("0"), std::to_string(n + 1)}) {
        ScopedEnv e(kMinEigensolveVariable, crossover);
        const std::unique_ptr<Backend> cuda = make_backend(BackendKind::Cuda);
        EXPECT_NE(cuda->device_description().find("eigensolves below n = " + crossover +
                                                  " (CONVERGENT_CUDA_MIN_EIGENSOLVE)"),
                  std::string::npos)
            << cuda->device_description();
        std::vector<double> values(static_cast<size_t>(k)), vectors(static_cast<size_t>(n * k));
        cuda->symmetric_eigensolve_smallest(l.data(), n, k, values.data(), vectors.data());
        for (index_t j = 0; j < k; ++j) {
            EXPECT_NEAR(values[size_t(j)], 2.0 - 2.0 * std::cos(kPi * double(j) / double(n)), 1e-12) << j;
            EXPECT_NEAR(values[size_t(j)], values_cpu[size_t(j)], 1e-12) << j;
            double dot = 0.0;
            for (index_t i = 0; i < n; ++i) dot += vectors[size_t(j * n + i)] * vectors_cpu[size_t(j * n + i)];
            EXPECT_NEAR(std::abs(dot), 1.0, 1e-9) << "eigenvector " << j << ", crossover " << crossover;
        }
    }
}

TEST(SolverChoice, CudaBackendStatesTheDefaultCrossovers) {
    std::string why;
    if (!cuda_device_available(&why)) GTEST_SKIP() << "no CUDA device: " << why;
    ScopedEnv a(kMinAssignmentVariable, std::nullopt), e(kMinEigensolveVariable, std::nullopt);
    const std::string d = make_backend(BackendKind::Cuda)->device_description();
    EXPECT_NE(d.find("on the host: assignments below 4194304 cells, eigensolves below n = 1024"), std::string::npos)
        << d;
}

TEST(SolverChoice, CudaBackendRefusesAMalformedCrossover) {
    std::string why;
    if (!cuda_device_available(&why)) GTEST_SKIP() << "no CUDA device: " << why;
    ScopedEnv a(kMinAssignmentVariable, "4096x4096");
    for (BackendKind kind : {BackendKind::Cuda, BackendKind::Auto}) {  // auto never falls back silently
        try {
            make_backend(kind);
            FAIL() << backend_kind_name(kind) << " accepted CONVERGENT_CUDA_MIN_ASSIGNMENT=4096x4096";
        } catch (const Error& err) {
            EXPECT_EQ(err.code(), ErrorCode::InvalidArgument);
            EXPECT_NE(std::string(err.what()).find("CONVERGENT_CUDA_MIN_ASSIGNMENT='4096x4096' is not a whole number"),
                      std::string::npos)
                << err.what();
        }
    }
}
