// The CPU statistics pass (Sec. 2) reads float32 .npy inputs with one
// pread() per net and chunk and packs them as stored (push_sources without a
// piece consumer, LayerSource::read_images_raw), on two threads for big
// chunks. These tests hold that path
// to the copying one (read_images into a piece, then add_block: forced by a
// piece consumer that does nothing), bit for bit, for every layout and
// chunking; check that the raw path is really taken where it should be
// and not where it cannot be (other dtypes, byte order, Fortran order); and
// that a NaN/Inf or a truncated file is reported as precisely as before.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>

#include "convergent/activations.hpp"
#include "convergent/backend.hpp"
#include "convergent/npy.hpp"
#include "convergent/statistics.hpp"
#include "npy_test_support.hpp"

namespace {

using namespace npy_test_support;
using convergent::ActivationLayout;
using convergent::ErrorCode;
using convergent::index_t;
using convergent::LayerSource;
using convergent::MomentAccumulator;
using convergent::NetSource;

// ReLU-like values with a per-unit offset, so the centring matters.
std::vector<float> activations(size_t count, index_t units, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> v(count);
    for (size_t k = 0; k < count; ++k) v[k] = std::max(0.0f, normal(rng) + 0.1f * float(k % size_t(units)));
    return v;
}

struct Moments {
    index_t count = 0;
    std::vector<double> mean, comoment;
};

Moments accumulate(const std::vector<const LayerSource*>& sources, index_t chunk_images, bool copy, bool f32 = false) {
    std::vector<index_t> widths;
    for (const LayerSource* s : sources) widths.push_back(s->units());
    MomentAccumulator acc(widths);
    acc.set_float32_products(f32);
    auto backend = convergent::make_cpu_backend();
    const convergent::PieceFn nothing = [](const float*, index_t, index_t, index_t, index_t) {};
    double kernel = 0;
    push_sources(acc, *backend, sources, chunk_images, copy ? nothing : convergent::PieceFn{}, {}, 0, -1, &kernel);
    EXPECT_GT(kernel, 0.0);
    return {acc.count(), acc.mean(), acc.comoment()};
}

void expect_identical(const Moments& a, const Moments& b, const std::string& what) {
    EXPECT_EQ(a.count, b.count) << what;
    ASSERT_EQ(a.mean.size(), b.mean.size()) << what;
    ASSERT_EQ(a.comoment.size(), b.comoment.size()) << what;
    EXPECT_EQ(0, std::memcmp(a.mean.data(), b.mean.data(), a.mean.size() * sizeof(double))) << what;
    EXPECT_EQ(0, std::memcmp(a.comoment.data(), b.comoment.data(), a.comoment.size() * sizeof(double))) << what;
}

// Rows (N*H*W) x units of a layer in float64, straight from its logical values.
std::vector<double> rows_of(const std::vector<float>& logical, index_t n, index_t c, index_t p, bool channels_first) {
    std::vector<double> rows(size_t(n * p * c));
    for (index_t i = 0; i < n; ++i)
        for (index_t j = 0; j < c; ++j)
            for (index_t q = 0; q < p; ++q)
                rows[size_t((i * p + q) * c + j)] =
                    logical[size_t(channels_first ? (i * c + j) * p + q : (i * p + q) * c + j)];
    return rows;
}

TEST(StatisticsInPlace, BitIdenticalToCopyingForEveryLayoutAndChunking) {
    TempDir dir;
    // Unit counts that are not multiples of 8 (the packing works on groups
    // of 8 columns, split between two threads), several pieces per chunk
    // (kPieceElements = 2^17 values) and a last chunk shorter than the others.
    const index_t n = 80, c_a = 37, c_b = 21, h = 8, w = 8, p = h * w;
    const std::vector<float> a = activations(size_t(n * c_a * p), c_a, 1), b = activations(size_t(n * c_b * p), c_b, 2);
    ::mkdir(dir.file("nchw").c_str(), 0755);
    ::mkdir(dir.file("nchw2").c_str(), 0755);
    convergent::write_npy(dir.file("nchw/l.npy"), a.data(), {n, c_a, h, w});
    convergent::write_npy(dir.file("nchw2/l.npy"), b.data(), {n, c_b, h, w});
    const NetSource net_a = NetSource::open(dir.file("nchw")), net_b = NetSource::open(dir.file("nchw2"));
    // The same values as channels-last (N, H, W, C) arrays.
    ActivationLayout last;
    last.channels_last = true;
    ::mkdir(dir.file("nhwc").c_str(), 0755);
    ::mkdir(dir.file("nhwc2").c_str(), 0755);
    convergent::write_npy(dir.file("nhwc/l.npy"), a.data(), {n, h, w, c_a});
    convergent::write_npy(dir.file("nhwc2/l.npy"), b.data(), {n, h, w, c_b});
    const NetSource last_a = NetSource::open(dir.file("nhwc"), last), last_b = NetSource::open(dir.file("nhwc2"), last);
    // Dense: (N * H, C * W).
    ::mkdir(dir.file("fc").c_str(), 0755);
    ::mkdir(dir.file("fc2").c_str(), 0755);
    convergent::write_npy(dir.file("fc/l.npy"), a.data(), {n * h, c_a * w});
    convergent::write_npy(dir.file("fc2/l.npy"), b.data(), {n * h, c_b * w});
    const NetSource fc_a = NetSource::open(dir.file("fc")), fc_b = NetSource::open(dir.file("fc2"));

    // 3 x 3 maps: positions not a multiple of the 4 the packing transposes at once.
    for (const char* d : {"odd", "odd2"}) ::mkdir(dir.file(d).c_str(), 0755);
    convergent::write_npy(dir.file("odd/l.npy"), a.data(), {n, c_a, 3, 3});
    convergent::write_npy(dir.file("odd2/l.npy"), b.data(), {n, c_b, 3, 3});
    const NetSource odd_a = NetSource::open(dir.file("odd")), odd_b = NetSource::open(dir.file("odd2"));

    bool channels_first = false;
    std::vector<float> raw(size_t(n * c_a * p), -1.0f);
    ASSERT_TRUE(net_a.layer("l").read_images_raw(3, 5, raw.data(), &channels_first));
    EXPECT_TRUE(channels_first);
    // Raw means the file's own order: images 3..7, unit-major.
    EXPECT_EQ(0, std::memcmp(raw.data(), a.data() + 3 * c_a * p, sizeof(float) * size_t(5 * c_a * p)));
    EXPECT_EQ(raw[size_t(5 * c_a * p)], -1.0f);  // nothing beyond the 5 images
    ASSERT_TRUE(last_a.layer("l").read_images_raw(0, n, raw.data(), &channels_first));
    EXPECT_FALSE(channels_first);
    ASSERT_TRUE(fc_a.layer("l").read_images_raw(0, 1, raw.data(), &channels_first));
    EXPECT_FALSE(channels_first);

    const std::vector<std::pair<std::string, std::vector<const LayerSource*>>> layouts = {
        {"channels-first", {&net_a.layer("l"), &net_b.layer("l")}},
        {"channels-first 3 x 3", {&odd_a.layer("l"), &odd_b.layer("l")}},
        {"channels-last", {&last_a.layer("l"), &last_b.layer("l")}},
        {"dense", {&fc_a.layer("l"), &fc_b.layer("l")}},
    };
    for (const auto& [name, sources] : layouts)
        // n: one chunk of n * positions rows, big enough for two packing
        // threads; 7: many single-threaded chunks and a short last one.
        for (index_t chunk_images : {sources.front()->images(), index_t(7)})
            for (bool f32 : {false, true}) {
                const std::string what = name + ", chunks of " + std::to_string(chunk_images) + " images" +
                                         (f32 ? ", float32 products" : "");
                expect_identical(accumulate(sources, chunk_images, false, f32),
                                 accumulate(sources, chunk_images, true, f32), what);
            }

    // And right, not only identical: the float64 moments against a direct
    // two-pass computation of the channels-first layer.
    const Moments got = accumulate(layouts[0].second, 7, false);
    const std::vector<double> ra = rows_of(a, n, c_a, p, true), rb = rows_of(b, n, c_b, p, true);
    const index_t t = c_a + c_b, rows = n * p;
    const auto value = [&](index_t r, index_t j) {
        return j < c_a ? ra[size_t(r * c_a + j)] : rb[size_t(r * c_b + j - c_a)];
    };
    std::vector<double> mean(size_t(t), 0.0);
    for (index_t r = 0; r < rows; ++r)
        for (index_t j = 0; j < t; ++j) mean[size_t(j)] += value(r, j);
    for (double& m : mean) m /= double(rows);
    for (index_t j = 0; j < t; ++j) EXPECT_NEAR(got.mean[size_t(j)], mean[size_t(j)], 1e-12 * (1 + std::fabs(mean[size_t(j)])));
    for (index_t i : {index_t(0), index_t(5), c_a - 1, c_a, t - 1})
        for (index_t j : {index_t(0), index_t(8), c_a + 3, t - 1}) {
            double m = 0;
            for (index_t r = 0; r < rows; ++r) m += (value(r, i) - mean[size_t(i)]) * (value(r, j) - mean[size_t(j)]);
            EXPECT_NEAR(got.comoment[size_t(i * t + j)], m, 1e-9 * std::fabs(m) + 1e-9) << i << ", " << j;
        }
}

TEST(StatisticsInPlace, OtherDtypesByteOrdersAndFortranOrderAreCopiedWithTheSameResult) {
    TempDir dir;
    const index_t n = 300, c = 11;
    const std::vector<float> x = activations(size_t(n * c), c, 3);
    std::vector<double> x64(x.begin(), x.end());
    std::vector<float> fortran(x.size());
    for (index_t i = 0; i < n; ++i)
        for (index_t j = 0; j < c; ++j) fortran[size_t(j * n + i)] = x[size_t(i * c + j)];
    std::vector<float> swapped(x.size());
    for (size_t k = 0; k < x.size(); ++k) {
        std::uint32_t u;
        std::memcpy(&u, &x[k], 4);
        u = __builtin_bswap32(u);
        std::memcpy(&swapped[k], &u, 4);
    }
    const std::string shape = "'shape': (" + std::to_string(n) + ", " + std::to_string(c) + "), }";
    for (const char* d : {"f32", "f64", "big", "fortran"}) ::mkdir(dir.file(d).c_str(), 0755);
    convergent::write_npy(dir.file("f32/l.npy"), x.data(), {n, c});
    convergent::write_npy(dir.file("f64/l.npy"), x64.data(), {n, c});
    write_bytes(dir.file("big/l.npy"),
                npy_bytes("{'descr': '>f4', 'fortran_order': False, " + shape, float_bytes(swapped)));
    write_bytes(dir.file("fortran/l.npy"),
                npy_bytes("{'descr': '<f4', 'fortran_order': True, " + shape, float_bytes(fortran)));
    const NetSource f32 = NetSource::open(dir.file("f32")), f64 = NetSource::open(dir.file("f64")),
                    big = NetSource::open(dir.file("big")), fort = NetSource::open(dir.file("fortran"));
    bool channels_first = true;
    std::vector<float> raw(x.size());
    EXPECT_TRUE(f32.layer("l").read_images_raw(0, n, raw.data(), &channels_first));
    for (const NetSource* other : {&f64, &big, &fort}) {
        EXPECT_FALSE(other->layer("l").read_images_raw(0, n, raw.data(), &channels_first)) << other->path();
        // One net in place, the other copied, against both copied.
        const std::vector<const LayerSource*> sources = {&f32.layer("l"), &other->layer("l")};
        for (index_t chunk_images : {n, index_t(64)})
            expect_identical(accumulate(sources, chunk_images, false), accumulate(sources, chunk_images, true),
                             other->path() + ", chunks of " + std::to_string(chunk_images));
    }
}

TEST(StatisticsInPlace, NanAndInfAreReportedLikeTheCopyingPath) {
    TempDir dir;
    const index_t n = 40, c = 9, h = 4, w = 4;
    std::vector<float> conv = activations(size_t(n * c * h * w), c, 4);
    // NaN at image 25, unit 7, h 2, w 1 -> position 9.
    conv[size_t(((25 * c + 7) * h + 2) * w + 1)] = NAN;
    std::vector<float> fc = activations(size_t(n * c), c, 5);
    fc[size_t(33 * c + 4)] = INFINITY;  // image 33, unit 4
    std::vector<float> clean = activations(size_t(n * c * h * w), c, 6);
    for (const char* d : {"conv", "fc", "clean", "clean_fc"}) ::mkdir(dir.file(d).c_str(), 0755);
    convergent::write_npy(dir.file("conv/l.npy"), conv.data(), {n, c, h, w});
    convergent::write_npy(dir.file("clean/l.npy"), clean.data(), {n, c, h, w});
    convergent::write_npy(dir.file("fc/l.npy"), fc.data(), {n, c});
    convergent::write_npy(dir.file("clean_fc/l.npy"), clean.data(), {n, c});
    const NetSource bad_conv = NetSource::open(dir.file("conv")), good_conv = NetSource::open(dir.file("clean"));
    const NetSource bad_fc = NetSource::open(dir.file("fc")), good_fc = NetSource::open(dir.file("clean_fc"));
    for (bool copy : {false, true}) {
        // The bad net second: the first net's chunk is clean.
        expect_error([&] { accumulate({&good_conv.layer("l"), &bad_conv.layer("l")}, 8, copy); }, ErrorCode::BadData,
                     {dir.file("conv/l.npy"), "NaN", "image 25", "position 9 (h 2, w 1)", "unit 7"});
        expect_error([&] { accumulate({&bad_fc.layer("l"), &good_fc.layer("l")}, 16, copy); }, ErrorCode::BadData,
                     {dir.file("fc/l.npy"), "+Inf", "image 33", "unit 4"});
    }
}

TEST(StatisticsInPlace, AFileTruncatedAfterItWasOpenedIsAnIoErrorNamingIt) {
    TempDir dir;
    const index_t n = 64, c = 8;
    const std::vector<float> x = activations(size_t(n * c * 9), c, 8);
    for (const char* d : {"a", "b"}) ::mkdir(dir.file(d).c_str(), 0755);
    convergent::write_npy(dir.file("a/l.npy"), x.data(), {n, c, 3, 3});
    convergent::write_npy(dir.file("b/l.npy"), x.data(), {n, c, 3, 3});
    const NetSource a = NetSource::open(dir.file("a")), b = NetSource::open(dir.file("b"));
    ASSERT_EQ(::truncate(dir.file("b/l.npy").c_str(), 128 + 4 * 9 * c * 20), 0);  // 20 images left
    expect_error([&] { accumulate({&a.layer("l"), &b.layer("l")}, 16, false); }, ErrorCode::Io,
                 {dir.file("b/l.npy"), "truncated"});
}

TEST(StatisticsInPlace, TruncatedFilesAreRefusedBeforeAnythingIsRead) {
    TempDir dir;
    const std::vector<float> x = activations(size_t(50 * 6 * 4), 6, 7);
    ::mkdir(dir.file("t").c_str(), 0755);
    convergent::write_npy(dir.file("t/l.npy"), x.data(), {50, 6, 2, 2});
    std::string bytes = read_bytes(dir.file("t/l.npy"));
    bytes.resize(bytes.size() - 10);
    write_bytes(dir.file("t/l.npy"), bytes);
    expect_error([&] { NetSource::open(dir.file("t")); }, ErrorCode::BadData, {dir.file("t/l.npy"), "truncated"});
}

}  // namespace
