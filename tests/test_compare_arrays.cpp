// The compare pipeline on in-memory arrays and fed batch by batch
// (CompareSession): the same figures as on files, whatever the batching, for
// strided and float16/float64 views; the reservoir sample does not depend on
// the batch sizes; result sinks and save_results.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <random>

#include "convergent/compare.hpp"
#include "convergent/error.hpp"
#include "convergent/tensor.hpp"

namespace fs = std::filesystem;
using namespace convergent;

namespace {

struct Data {
    index_t images = 90, ca = 5, cb = 4, h = 2, w = 3;
    std::vector<float> conv_a, conv_b;  // NCHW
    std::vector<double> fc_a;           // (images, 6), float64
    std::vector<float> fc_b;            // (images, 7)
    Data() {
        std::mt19937 rng(3);
        std::normal_distribution<float> g;
        conv_a.resize(size_t(images * ca * h * w));
        conv_b.resize(size_t(images * cb * h * w));
        fc_a.resize(size_t(images * 6));
        fc_b.resize(size_t(images * 7));
        for (index_t i = 0; i < images; ++i)
            for (index_t p = 0; p < h * w; ++p) {
                const float shared = g(rng);
                for (index_t c = 0; c < ca; ++c) conv_a[size_t((i * ca + c) * h * w + p)] = shared * float(c + 1) + g(rng);
                for (index_t c = 0; c < cb; ++c) conv_b[size_t((i * cb + c) * h * w + p)] = std::max(0.f, shared - float(c) * 0.3f + g(rng));
            }
        for (auto& v : fc_a) v = std::max(0.0, double(g(rng)));
        for (auto& v : fc_b) v = g(rng);
    }
    TensorView conv(int net, index_t first, index_t count) const {
        TensorView v;
        const index_t c = net == 0 ? ca : cb;
        v.data = (net == 0 ? conv_a.data() : conv_b.data()) + first * c * h * w;
        v.shape = {count, c, h, w};
        return v;
    }
    TensorView fc(int net, index_t first, index_t count) const {
        TensorView v;
        if (net == 0) {
            v.data = fc_a.data() + first * 6, v.dtype = NpyDtype::Float64, v.shape = {count, 6};
        } else {
            v.data = fc_b.data() + first * 7, v.shape = {count, 7};
        }
        return v;
    }
};

CompareOptions test_options() {
    CompareOptions o;
    o.backend = BackendKind::Cpu;
    o.mutual_information.samples = 200;
    o.mutual_information.bins = 8;
    o.sparse_prediction.enabled = false;
    return o;
}

MemorySink stream(const Data& d, const CompareOptions& o, index_t batch, index_t images_hint) {
    CompareSession s({"a", "b"}, o, images_hint);
    for (index_t first = 0; first < d.images; first += batch) {
        const index_t n = std::min(batch, d.images - first);
        for (int net = 0; net < 2; ++net) {
            s.push(net, "conv", d.conv(net, first, n));
            s.push(net, "fc", d.fc(net, first, n));
        }
    }
    MemorySink sink;
    s.finish(sink);
    return sink;
}

void expect_close(MemorySink& x, MemorySink& y, const std::string& key, float tol) {
    ASSERT_TRUE(x.arrays().count(key)) << key;
    ASSERT_TRUE(y.arrays().count(key)) << key;
    const FloatArray &a = x.arrays().at(key), &b = y.arrays().at(key);
    ASSERT_EQ(a.shape, b.shape) << key;
    for (size_t i = 0; i < a.values.size(); ++i) EXPECT_NEAR(a.values[i], b.values[i], tol) << key << " [" << i << "]";
}

}  // namespace

TEST(CompareArrays, ArraysSessionAndBatchingAgree) {
    const Data d;
    const CompareOptions o = test_options();
    // Whole arrays, one view per layer.
    std::vector<ArrayNet> nets(2);
    for (int n = 0; n < 2; ++n) {
        nets[size_t(n)].name = n == 0 ? "a" : "b";
        nets[size_t(n)].layers = {{"conv", d.conv(n, 0, d.images)}, {"fc", d.fc(n, 0, d.images)}};
    }
    MemorySink whole;
    const nlohmann::json summary = run_compare(nets, whole, o);
    EXPECT_EQ(summary["inputs"]["a"], "<memory>");
    // Batches of 16 and of 7, the image count known: the same sample rows.
    MemorySink b16 = stream(d, o, 16, d.images), b7 = stream(d, o, 7, d.images);
    for (const std::string layer : {"conv", "fc"}) {
        for (const std::string kind : {"corr", "mi"}) {
            const std::string key = layer + "/a~b." + kind + ".npy";
            expect_close(whole, b16, key, kind == "mi" ? 0.f : 1e-6f);
            expect_close(b16, b7, key, kind == "mi" ? 0.f : 1e-6f);
        }
    }
    const auto mi = [](const MemorySink& s) { return s.summary().at("layers").at("fc").at("pairs").at("a~b").at("mutual_information"); };
    EXPECT_EQ(mi(whole).at("semi_matching_mean"), mi(b7).at("semi_matching_mean"));
    EXPECT_EQ(mi(whole).at("matching"), mi(b7).at("matching"));
}

TEST(CompareArrays, ReservoirSampleIndependentOfBatching) {
    const Data d;
    const CompareOptions o = test_options();
    MemorySink b16 = stream(d, o, 16, 0), b5 = stream(d, o, 5, 0), whole = stream(d, o, d.images, 0);
    for (const std::string layer : {"conv", "fc"}) {
        const std::string key = layer + "/a~b.mi.npy";
        expect_close(b16, b5, key, 0.f);
        expect_close(b16, whole, key, 0.f);
    }
    // A different seed draws a different sample (the MI of conv changes).
    CompareOptions other = o;
    other.seed = 99;
    MemorySink reseeded = stream(d, other, 16, 0);
    const auto& x = b16.arrays().at("conv/a~b.mi.npy").values;
    const auto& y = reseeded.arrays().at("conv/a~b.mi.npy").values;
    EXPECT_NE(x, y);
}

TEST(CompareArrays, StridedViewsReadInPlace) {
    const Data d;
    CompareOptions o = test_options();
    o.mutual_information.enabled = false;
    o.clustering.enabled = false;
    // net b's fc as a column-major float64 copy (strides {1, images}).
    std::vector<double> colmajor(size_t(d.images * 7));
    for (index_t i = 0; i < d.images; ++i)
        for (index_t u = 0; u < 7; ++u) colmajor[size_t(u * d.images + i)] = d.fc_b[size_t(i * 7 + u)];
    std::vector<ArrayNet> plain(2), strided(2);
    for (int n = 0; n < 2; ++n) {
        plain[size_t(n)].name = strided[size_t(n)].name = n == 0 ? "a" : "b";
        plain[size_t(n)].layers = {{"fc", d.fc(n, 0, d.images)}};
        strided[size_t(n)].layers = {{"fc", d.fc(n, 0, d.images)}};
    }
    TensorView v;
    v.data = colmajor.data(), v.dtype = NpyDtype::Float64, v.shape = {d.images, 7}, v.strides = {1, d.images};
    EXPECT_FALSE(v.c_contiguous());
    strided[1].layers[0].second = v;
    MemorySink x, y;
    run_compare(plain, x, o);
    run_compare(strided, y, o);
    expect_close(x, y, "fc/a~b.corr.npy", 0.f);
}

TEST(CompareArrays, SaveResultsWritesTheLayoutAndRejectsBadKeys) {
    const Data d;
    CompareOptions o = test_options();
    o.clustering.enabled = false;
    std::vector<ArrayNet> nets(2);
    for (int n = 0; n < 2; ++n) {
        nets[size_t(n)].name = n == 0 ? "a" : "b";
        nets[size_t(n)].layers = {{"fc", d.fc(n, 0, d.images)}};
    }
    MemorySink sink;
    run_compare(nets, sink, o);
    const fs::path dir = fs::temp_directory_path() / ("cvg_save_results_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    save_results(sink.summary(), sink.arrays(), dir.string(), false);
    EXPECT_TRUE(fs::exists(dir / "summary.json"));
    for (const auto& [key, array] : sink.arrays()) EXPECT_TRUE(fs::exists(dir / key)) << key;
    EXPECT_THROW(save_results(sink.summary(), sink.arrays(), dir.string(), false), Error);  // exists
    std::map<std::string, FloatArray> bad = {{"../escape.npy", FloatArray{{1}, {1.f}}}};
    EXPECT_THROW(save_results(sink.summary(), bad, (dir / "x").string(), false), Error);
    bad = {{"fc/short.npy", FloatArray{{2}, {1.f}}}};
    EXPECT_THROW(save_results(sink.summary(), bad, (dir / "x").string(), false), Error);
    EXPECT_FALSE(fs::exists(dir / "x"));
    fs::remove_all(dir);
}
