// The CUDA backend's Thrust moment logic, run on the CPU through the OMP
// device system, against the CPU backend.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "thrust_omp.hpp"

using namespace convergent;

TEST(ThrustOmpMoments, EqualsCpuBackend) {
    const index_t rows = 301, cols = 9, ld = 11;
    std::mt19937 rng(7);
    std::normal_distribution<float> g(2.0f, 3.0f);
    std::vector<float> x(size_t(rows * ld));
    for (auto& v : x) v = g(rng);
    std::vector<double> m1(cols), c1(cols * cols), m2(cols), c2(cols * cols);
    thrust_omp::chunk_moments(x.data(), rows, cols, ld, m1.data(), c1.data());
    make_cpu_backend()->chunk_moments(x.data(), rows, cols, ld, m2.data(), c2.data());
    for (index_t i = 0; i < cols; ++i) EXPECT_NEAR(m1[size_t(i)], m2[size_t(i)], 1e-12);
    for (index_t i = 0; i < cols * cols; ++i)
        EXPECT_NEAR(c1[size_t(i)], c2[size_t(i)], 1e-9 * (1.0 + std::abs(c2[size_t(i)])));
}
