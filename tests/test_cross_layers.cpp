// Cross-layer CKA maps (cross_layers.hpp) and the CPU backend's Gram and
// unbiased HSIC ops, against direct float64 formulas; the CUDA backend's
// ops against the CPU backend where a GPU is present.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "convergent/backend.hpp"
#include "convergent/cross_layers.hpp"
#include "convergent/npy.hpp"
#include "convergent/tensor.hpp"

using namespace convergent;

namespace {

std::vector<float> random_values(size_t n, unsigned seed, float mean = 0.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> g(mean, 1.0f);
    std::vector<float> v(n);
    for (auto& x : v) x = g(rng);
    return v;
}

// Song et al. 2012, eq. 5, written out term by term on explicit matrices.
double hsic1_reference(const std::vector<double>& K, const std::vector<double>& L, index_t n) {
    std::vector<double> kt = K, lt = L;
    for (index_t i = 0; i < n; ++i) kt[size_t(i * n + i)] = lt[size_t(i * n + i)] = 0.0;
    double trace = 0.0, sk = 0.0, sl = 0.0, klsum = 0.0;
    for (index_t i = 0; i < n; ++i)
        for (index_t j = 0; j < n; ++j) {
            double kl = 0.0;
            for (index_t m = 0; m < n; ++m) kl += kt[size_t(i * n + m)] * lt[size_t(m * n + j)];
            if (i == j) trace += kl;
            klsum += kl;
            sk += kt[size_t(i * n + j)];
            sl += lt[size_t(i * n + j)];
        }
    const double dn = double(n);
    return (trace + sk * sl / ((dn - 1) * (dn - 2)) - 2.0 / (dn - 2) * klsum) / (dn * (dn - 3));
}

std::vector<double> gram_reference(const std::vector<float>& x, index_t rows, index_t cols) {
    std::vector<double> g(size_t(rows * rows), 0.0);
    for (index_t i = 0; i < rows; ++i)
        for (index_t j = 0; j < rows; ++j)
            for (index_t c = 0; c < cols; ++c) g[size_t(i * rows + j)] += double(x[size_t(i * cols + c)]) * x[size_t(j * cols + c)];
    return g;
}

}  // namespace

TEST(CrossLayers, CpuGramAndHsicEqualTheFormulas) {
    const index_t n = 7;
    auto cpu = make_cpu_backend();
    const std::vector<float> x = random_values(size_t(n * 5), 1, 2.0f), y = random_values(size_t(n * 3), 2);
    std::vector<double> grams(size_t(2 * n * n));
    cpu->linear_gram(x.data(), n, 5, 5, grams.data());
    cpu->linear_gram(y.data(), n, 3, 3, grams.data() + n * n);
    const std::vector<double> kx = gram_reference(x, n, 5), ky = gram_reference(y, n, 3);
    for (index_t i = 0; i < n * n; ++i) {
        EXPECT_NEAR(grams[size_t(i)], kx[size_t(i)], 1e-12 * (1 + std::abs(kx[size_t(i)])));
        EXPECT_NEAR(grams[size_t(n * n + i)], ky[size_t(i)], 1e-12 * (1 + std::abs(ky[size_t(i)])));
    }
    std::vector<double> h(4);
    cpu->unbiased_hsic(grams.data(), 2, n, h.data());
    EXPECT_NEAR(h[0], hsic1_reference(kx, kx, n), 1e-10 * std::abs(h[0]));
    EXPECT_NEAR(h[1], hsic1_reference(kx, ky, n), 1e-10 * (std::abs(h[0]) + std::abs(h[3])));
    EXPECT_NEAR(h[3], hsic1_reference(ky, ky, n), 1e-10 * std::abs(h[3]));
    EXPECT_EQ(h[1], h[2]);
}

TEST(CrossLayers, HsicNeedsFourSamples) {
    std::vector<double> g(9, 1.0), h(1);
    EXPECT_THROW(make_cpu_backend()->unbiased_hsic(g.data(), 1, 3, h.data()), Error);
}

TEST(CrossLayers, NaturalAxisOrder) {
    EXPECT_EQ(cross_layer_axis_order({"conv10", "fc", "conv2", "conv1"}),
              (std::vector<std::string>{"conv1", "conv2", "conv10", "fc"}));
}

TEST(CrossLayers, MapsOfDifferentArchitecturesAndScaleInvariance) {
    // Net a: a dense layer (N, 4) and its copy times 2 (exact in float32; CKA is scale
    // invariant: the map's entries are 1); net b: a conv layer (N, 2, 2, 2).
    const index_t n = 22;
    const std::vector<float> d = random_values(size_t(n * 4), 3);
    std::vector<float> d3(d);
    for (auto& v : d3) v *= 3.0f;
    const std::vector<float> c = random_values(size_t(n * 8), 4);
    auto source = [](const std::string& net, const std::string& layer, const std::vector<float>& v,
                     std::vector<index_t> shape) {
        TensorView view;
        view.data = v.data();
        view.dtype = NpyDtype::Float32;
        view.shape = shape;
        return std::make_unique<LayerSource>(net, layer, tensor_array(view, layer), ActivationLayout{});
    };
    auto a1 = source("a", "d", d, {n, 4}), a2 = source("a", "d3", d3, {n, 4});
    auto b1 = source("b", "c", c, {n, 2, 2, 2});
    const CrossLayerResult r =
        cross_layer_cka(*make_cpu_backend(), {"a", "b"}, {{a1.get(), a2.get()}, {b1.get()}}, 8);
    EXPECT_EQ(r.batch_size, 8);
    EXPECT_EQ(r.batches, 2);
    EXPECT_EQ(r.dropped_images, 6);
    ASSERT_EQ(r.maps.size(), 3u);
    const CrossLayerMap& aa = r.maps[0];
    EXPECT_EQ(aa.a, 0);
    EXPECT_EQ(aa.b, 0);
    EXPECT_NEAR(aa.cka[1], 1.0, 1e-12);  // d vs 2 d
    const CrossLayerMap& ab = r.maps[1];
    EXPECT_EQ(ab.rows, 2);
    EXPECT_EQ(ab.cols, 1);
    // Equal up to rounding: the unbiased HSIC of unrelated layers is a small
    // difference of large terms, so BLAS's summation order shows at ~1e-9.
    EXPECT_NEAR(ab.cka[0], ab.cka[1], 1e-8);
    // The value from the mean HSIC of the two minibatches, by the formulas.
    double hxy = 0, hxx = 0, hyy = 0;
    for (index_t k = 0; k < 2; ++k) {
        const std::vector<float> xb(d.begin() + k * 8 * 4, d.begin() + (k + 1) * 8 * 4);
        const std::vector<float> yb(c.begin() + k * 8 * 8, c.begin() + (k + 1) * 8 * 8);
        const std::vector<double> kx = gram_reference(xb, 8, 4), ky = gram_reference(yb, 8, 8);
        hxy += hsic1_reference(kx, ky, 8), hxx += hsic1_reference(kx, kx, 8), hyy += hsic1_reference(ky, ky, 8);
    }
    EXPECT_NEAR(ab.cka[0], hxy / std::sqrt(hxx * hyy), 1e-10);
    // Different image counts: an error naming both layers.
    const std::vector<float> short_values = random_values(size_t(10 * 4), 5);
    auto s = source("b", "short", short_values, {10, 4});
    try {
        cross_layer_cka(*make_cpu_backend(), {"a", "b"}, {{a1.get()}, {s.get()}}, 8);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("'short'"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("'d'"), std::string::npos) << e.what();
    }
}

TEST(CrossLayers, CudaOpsEqualCpu) {
    std::string why;
    if (!cuda_compiled_in()) GTEST_SKIP() << "built without the CUDA backend";
    if (!cuda_device_available(&why)) GTEST_SKIP() << "no CUDA device: " << why;
    auto cuda = make_backend(BackendKind::Cuda);
    auto cpu = make_cpu_backend();
    const index_t n = 33, cols = 300;
    const std::vector<float> x = random_values(size_t(n * cols), 9, 1.0f);
    std::vector<double> g1(size_t(n * n)), g2(size_t(n * n));
    cuda->linear_gram(x.data(), n, cols, cols, g1.data());
    cpu->linear_gram(x.data(), n, cols, cols, g2.data());
    for (size_t i = 0; i < g1.size(); ++i) EXPECT_NEAR(g1[i], g2[i], 1e-11 * (1 + std::abs(g2[i])));
    std::vector<double> grams(size_t(3 * n * n));
    for (index_t k = 0; k < 3; ++k) {
        const std::vector<float> y = random_values(size_t(n * (5 + k)), 20 + unsigned(k));
        cpu->linear_gram(y.data(), n, 5 + k, 5 + k, grams.data() + k * n * n);
    }
    std::vector<double> h1(9), h2(9);
    cuda->unbiased_hsic(grams.data(), 3, n, h1.data());
    cpu->unbiased_hsic(grams.data(), 3, n, h2.data());
    for (size_t i = 0; i < 9; ++i) EXPECT_NEAR(h1[i], h2[i], 1e-10 * (1 + std::abs(h2[i])));
}
