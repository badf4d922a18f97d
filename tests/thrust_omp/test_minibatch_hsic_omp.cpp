// The CUDA backend's Thrust logic of the cross-layer CKA maps (Gram in
// column blocks, unbiased HSIC_1 from Grams), run on the CPU through the OMP
// device system, against the CPU backend (BLAS DSYRK).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "thrust_omp_minibatch_hsic.hpp"

using namespace convergent;

namespace {
std::vector<float> features(index_t rows, index_t ld, unsigned seed, float shift) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> g(shift, 1.5f);
    std::vector<float> x(size_t(rows * ld));
    for (auto& v : x) v = g(rng);
    return x;
}
}  // namespace

TEST(ThrustOmpMinibatchHsic, LinearGramEqualsCpuBackendOverSeveralBlocks) {
    const index_t rows = 13, cols = 57, ld = 61;
    const std::vector<float> x = features(rows, ld, 3, 0.7f);
    std::vector<double> omp(size_t(rows * rows)), cpu(size_t(rows * rows));
    thrust_omp::linear_gram(x.data(), rows, cols, ld, omp.data(), rows * 10);  // 6 column blocks
    make_cpu_backend()->linear_gram(x.data(), rows, cols, ld, cpu.data());
    for (size_t i = 0; i < cpu.size(); ++i) EXPECT_NEAR(omp[i], cpu[i], 1e-11 * (1.0 + std::abs(cpu[i])));
    // Symmetric, and entry (1, 2) is the dot product of rows 1 and 2.
    double dot = 0.0;
    for (index_t c = 0; c < cols; ++c) dot += double(x[size_t(ld + c)]) * double(x[size_t(2 * ld + c)]);
    EXPECT_NEAR(omp[size_t(rows + 2)], dot, 1e-11 * std::abs(dot));
    EXPECT_EQ(omp[size_t(rows + 2)], omp[size_t(2 * rows + 1)]);
}

TEST(ThrustOmpMinibatchHsic, UnbiasedHsicEqualsCpuBackend) {
    const index_t n = 9, count = 4;
    std::vector<double> grams(size_t(count * n * n));
    auto backend = make_cpu_backend();
    for (index_t g = 0; g < count; ++g) {
        const index_t dims = 3 + 5 * g;
        const std::vector<float> x = features(n, dims, 10 + unsigned(g), 0.3f * float(g));
        backend->linear_gram(x.data(), n, dims, dims, grams.data() + g * n * n);
    }
    std::vector<double> omp(size_t(count * count)), cpu(size_t(count * count));
    thrust_omp::unbiased_hsic(grams.data(), count, n, omp.data());
    backend->unbiased_hsic(grams.data(), count, n, cpu.data());
    for (size_t i = 0; i < cpu.size(); ++i) EXPECT_NEAR(omp[i], cpu[i], 1e-10 * (1.0 + std::abs(cpu[i])));
    for (index_t a = 0; a < count; ++a)
        for (index_t b = 0; b < count; ++b) EXPECT_EQ(omp[size_t(a * count + b)], omp[size_t(b * count + a)]);
}
