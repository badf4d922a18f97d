// Per-layer activation sources (Sec. 2): layouts, chunked reads, NaN/Inf
// reports and nets as directories or .npz archives, against numpy fixtures
// in tests/data/npy/ (tests/data/make_npy_fixtures.py).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

#include "convergent/activations.hpp"
#include "npy_test_support.hpp"

namespace {

using namespace npy_test_support;

using convergent::ActivationLayout;
using convergent::ErrorCode;
using convergent::index_t;
using convergent::LayerSource;
using convergent::NetSource;

// Reads every image of a layer, one call per `step` images, visiting the
// chunks in the given order.
std::vector<float> read_all(const LayerSource& layer, index_t step, bool backwards = false) {
    const index_t row = layer.positions() * layer.units();
    std::vector<float> out(size_t(layer.images() * row), -12345.0f);
    std::vector<index_t> starts;
    for (index_t first = 0; first < layer.images(); first += step) starts.push_back(first);
    if (backwards) std::reverse(starts.begin(), starts.end());
    for (index_t first : starts) {
        const index_t count = std::min(step, layer.images() - first);
        layer.read_images(first, count, out.data() + first * row);
    }
    return out;
}

// Writes `logical` (C-order values of `shape`) as an .npy in Fortran order.
void write_fortran_npy(const std::string& path, const std::vector<float>& logical, const std::vector<index_t>& shape) {
    std::vector<float> storage(logical.size());
    for (size_t k = 0; k < logical.size(); ++k) {
        // Fortran storage index k -> multi-index -> C index.
        index_t rest = index_t(k), c_index = 0;
        std::vector<index_t> idx(shape.size());
        for (size_t a = 0; a < shape.size(); ++a) {
            idx[a] = rest % shape[a];
            rest /= shape[a];
        }
        for (size_t a = 0; a < shape.size(); ++a) c_index = c_index * shape[a] + idx[a];
        storage[k] = logical[size_t(c_index)];
    }
    std::string dims;
    for (index_t d : shape) dims += std::to_string(d) + ", ";
    write_bytes(path, npy_bytes("{'descr': '<f4', 'fortran_order': True, 'shape': (" + dims + "), }",
                                float_bytes(storage)));
}

}  // namespace

// Sec. 2 footnote 3: each (image, position) of a conv layer is one sample.
// numpy's x.transpose(0, 2, 3, 1).reshape(-1, C) is the oracle (rows_conv.f32).
TEST(LayerSource, ConvAndDenseLayersMatchNumpyRowsInEveryContainer) {
    const std::vector<float> rows_conv = read_raw_f32(fixture("rows_conv.f32"));  // (3*2*3) x 5
    const std::vector<float> rows_fc = read_raw_f32(fixture("rows_fc.f32"));      // 3 x 7
    ASSERT_EQ(rows_conv.size(), 90u);
    ASSERT_EQ(rows_fc.size(), 21u);
    for (const char* container : {"net_stored.npz", "net_deflated.npz"}) {
        SCOPED_TRACE(container);
        const NetSource net = NetSource::open(fixture(container));
        EXPECT_EQ(net.name(), container == std::string("net_stored.npz") ? "net_stored" : "net_deflated");
        EXPECT_EQ(net.layer_names(),
                  (std::vector<std::string>{"conv", "convF", "conv_f2be", "conv_f8F", "fc", "fcF"}));
        for (const char* name : {"conv", "convF", "conv_f8F"}) {
            SCOPED_TRACE(name);
            const LayerSource& layer = net.layer(name);
            EXPECT_EQ(layer.images(), 3);
            EXPECT_EQ(layer.units(), 5);
            EXPECT_EQ(layer.positions(), 6);
            EXPECT_EQ(layer.samples(), 18);
            EXPECT_EQ(layer.net_name(), net.name());
            EXPECT_EQ(layer.layer_name(), name);
            EXPECT_EQ(read_all(layer, 3), rows_conv);
            EXPECT_EQ(read_all(layer, 1), rows_conv);
            EXPECT_EQ(read_all(layer, 2, /*backwards=*/true), rows_conv);
        }
        // Big-endian float16: numpy rounded each value to binary16.
        const std::vector<float> half = read_all(net.layer("conv_f2be"), 2);
        for (size_t i = 0; i < half.size(); ++i)
            EXPECT_NEAR(half[i], rows_conv[i], std::abs(rows_conv[i]) * 0x1p-11 + 0x1p-24) << i;
        for (const char* name : {"fc", "fcF"}) {
            const LayerSource& layer = net.layer(name);
            EXPECT_EQ(layer.positions(), 1);
            EXPECT_EQ(layer.units(), 7);
            EXPECT_EQ(read_all(layer, 3), rows_fc);
            EXPECT_EQ(read_all(layer, 1, true), rows_fc);
        }
    }
}

// channels_last: (N, H, W, C). Reinterpreting the (3, 5, 2, 3) fixture as
// N=3, H=5, W=2, C=3 makes its C-order storage the expected rows.
TEST(LayerSource, ChannelsLastInCAndFortranOrder) {
    ActivationLayout layout;
    layout.channels_last = true;
    const NetSource net = NetSource::open(fixture("net_stored.npz"), layout);
    std::vector<float> storage(90);
    {
        auto raw = convergent::NpzArchive::open(fixture("net_stored.npz"))->array("conv");
        raw->read_elements(0, 90, storage.data());
    }
    for (const char* name : {"conv", "convF", "conv_f8F"}) {
        SCOPED_TRACE(name);
        const LayerSource& layer = net.layer(name);
        EXPECT_EQ(layer.units(), 3);
        EXPECT_EQ(layer.positions(), 10);
        EXPECT_EQ(read_all(layer, 2), storage);
    }
}

// Larger layers: C-order NCHW is read in batches of images and transposed;
// the batch boundary (64 images of 256 x 16 x 16 here) must not show.
TEST(LayerSource, BatchedTransposeAndFortranGatherAgreeWithDirectIndexing) {
    TempDir dir;
    const index_t N = 70, C = 256, H = 16, W = 16;
    std::vector<float> logical(size_t(N * C * H * W));
    for (size_t i = 0; i < logical.size(); ++i) logical[i] = float(i % 1000003) * 0.5f;
    convergent::write_npy(dir.file("big.npy"), logical.data(), {N, C, H, W});
    const index_t small_n = 4, small_c = 3, small_h = 5, small_w = 7;
    std::vector<float> small(size_t(small_n * small_c * small_h * small_w));
    for (size_t i = 0; i < small.size(); ++i) small[i] = float(i) - 100.0f;
    write_fortran_npy(dir.file("smallF.npy"), small, {small_n, small_c, small_h, small_w});
    convergent::write_npy(dir.file("smallC.npy"), small.data(), {small_n, small_c, small_h, small_w});

    const NetSource net = NetSource::open(dir.path() + "///");
    EXPECT_EQ(net.layer_names(), (std::vector<std::string>{"big", "smallC", "smallF"}));
    const LayerSource& big = net.layer("big");
    std::vector<float> out(size_t(N * H * W * C));
    big.read_images(0, N, out.data());
    for (index_t n = 0; n < N; n += 7)
        for (index_t c = 0; c < C; c += 5)
            for (index_t p = 0; p < H * W; p += 3)
                ASSERT_EQ(out[size_t((n * H * W + p) * C + c)], logical[size_t((n * C + c) * H * W + p)])
                    << n << " " << c << " " << p;
    EXPECT_EQ(out.back(), logical.back());
    // An unaligned window across the batch boundary.
    std::vector<float> window(size_t(10 * H * W * C));
    big.read_images(60, 10, window.data());
    EXPECT_TRUE(std::equal(window.begin(), window.end(), out.begin() + 60 * H * W * C));

    const std::vector<float> c_rows = read_all(net.layer("smallC"), 4);
    EXPECT_EQ(read_all(net.layer("smallF"), 1), c_rows);
    EXPECT_EQ(read_all(net.layer("smallF"), 3, true), c_rows);
    for (index_t n = 0; n < small_n; ++n)
        for (index_t c = 0; c < small_c; ++c)
            for (index_t h = 0; h < small_h; ++h)
                for (index_t w = 0; w < small_w; ++w)
                    EXPECT_EQ(c_rows[size_t(((n * small_h + h) * small_w + w) * small_c + c)],
                              small[size_t(((n * small_c + c) * small_h + h) * small_w + w)]);
}

TEST(LayerSource, NanAndInfNameFileArrayImagePositionAndUnit) {
    TempDir dir;
    // (N=2, C=3, H=2, W=2); NaN at image 1, unit 2, h=1, w=0 -> position 2.
    std::vector<float> conv(24, 1.0f);
    conv[size_t(((1 * 3 + 2) * 2 + 1) * 2 + 0)] = NAN;
    convergent::write_npy(dir.file("conv.npy"), conv.data(), {2, 3, 2, 2});
    write_fortran_npy(dir.file("convF.npy"), conv, {2, 3, 2, 2});
    // Dense (N=4, C=5) with -Inf at image 3, unit 1.
    std::vector<float> fc(20, 0.5f);
    fc[size_t(3 * 5 + 1)] = -INFINITY;
    convergent::write_npy(dir.file("fc.npy"), fc.data(), {4, 5});

    const NetSource net = NetSource::open(dir.path());
    std::vector<float> out(64);
    for (const char* name : {"conv", "convF"}) {
        const LayerSource& layer = net.layer(name);
        EXPECT_NO_THROW(layer.read_images(0, 1, out.data()));  // image 0 is clean
        expect_error([&] { layer.read_images(0, 2, out.data()); }, ErrorCode::BadData,
                     {dir.file(std::string(name) + ".npy"), "array '" + std::string(name) + "'", "NaN", "image 1",
                      "position 2 (h 1, w 0)", "unit 2"});
    }
    const LayerSource& dense = net.layer("fc");
    EXPECT_NO_THROW(dense.read_images(0, 3, out.data()));
    expect_error([&] { dense.read_images(2, 2, out.data()); }, ErrorCode::BadData,
                 {dir.file("fc.npy"), "array 'fc'", "-Inf", "image 3", "position 0", "unit 1"});
    expect_error([&] { dense.read_images(3, 2, out.data()); }, ErrorCode::InvalidArgument, {"fc.npy", "outside"});
}

TEST(LayerSource, RankThreeAndEmptyLayersAreBadData) {
    TempDir dir;
    std::vector<float> x(24, 1.0f);
    convergent::write_npy(dir.file("r3.npy"), x.data(), {2, 3, 4});
    expect_error([&] { NetSource::open(dir.path()); }, ErrorCode::BadData,
                 {dir.file("r3.npy"), "array 'r3'", "(2, 3, 4)", "rank 3", "(N, C) or (N, C, H, W)"});
    std::filesystem::remove(dir.file("r3.npy"));
    convergent::write_npy(dir.file("r1.npy"), x.data(), {24});
    expect_error([&] { NetSource::open(dir.path()); }, ErrorCode::BadData, {"r1.npy", "(24,)", "rank 1"});
    std::filesystem::remove(dir.file("r1.npy"));
    convergent::write_npy(dir.file("empty.npy"), x.data(), {0, 4});
    expect_error([&] { NetSource::open(dir.path()); }, ErrorCode::BadData, {"empty.npy", "(0, 4)", "empty"});
}

TEST(NetSource, DirectoryLayersIgnoreOtherFilesAndSubdirectories) {
    const std::string path = fixture("net_dir/");
    const NetSource net = NetSource::open(path);
    EXPECT_EQ(net.name(), "net_dir");
    EXPECT_EQ(net.path(), path);
    EXPECT_EQ(net.layer_names(), (std::vector<std::string>{"conv", "fcF"}));
    EXPECT_TRUE(net.has_layer("fcF"));
    EXPECT_FALSE(net.has_layer("ignored"));
    EXPECT_FALSE(net.has_layer("notes"));
    EXPECT_EQ(read_all(net.layer("conv"), 2), read_raw_f32(fixture("rows_conv.f32")));
    EXPECT_EQ(read_all(net.layer("fcF"), 2), read_raw_f32(fixture("rows_fc.f32")));
    EXPECT_EQ(net.layer("conv").what(), "file '" + fixture("net_dir/conv.npy") + "', array 'conv'");
    const std::string message = expect_error([&] { net.layer("conv3"); }, ErrorCode::BadData, {});
    EXPECT_EQ(message, "net 'net_dir' (" + path + ") has no layer 'conv3'; it has: conv, fcF");
}

TEST(NetSource, Zip64ArchivesOpenAsNets) {
    for (const char* name : {"net_zip64.npz", "net_zip64_full.npz"}) {
        const NetSource net = NetSource::open(fixture(name));
        EXPECT_EQ(net.layer_names(), (std::vector<std::string>{"conv", "fc"}));
        EXPECT_EQ(read_all(net.layer("conv"), 1), read_raw_f32(fixture("rows_conv.f32")));
        const std::string message = expect_error([&] { net.layer("fc7"); }, ErrorCode::BadData, {});
        EXPECT_EQ(message, "net '" + std::string(name).substr(0, std::strlen(name) - 4) + "' (" + fixture(name) +
                               ") has no layer 'fc7'; it has: conv, fc");
    }
}

TEST(NetSource, MissingEmptyAndBrokenNetsAreReported) {
    TempDir dir;
    expect_error([&] { NetSource::open(dir.file("nope")); }, ErrorCode::Io, {dir.file("nope"), "does not exist"});
    std::filesystem::create_directory(dir.file("empty"));
    write_bytes(dir.file("empty/readme.txt"), "no layers here");
    std::filesystem::create_directory(dir.file("empty/sub"));
    convergent::write_npy(dir.file("empty/sub/x.npy"), std::vector<float>(4, 1.0f).data(), {2, 2});
    expect_error([&] { NetSource::open(dir.file("empty")); }, ErrorCode::Io, {dir.file("empty"), "no .npy files"});
    // A bad layer file makes the whole net fail, naming that file.
    write_bytes(dir.file("empty/bad.npy"), "not numpy");
    expect_error([&] { NetSource::open(dir.file("empty")); }, ErrorCode::BadData, {dir.file("empty/bad.npy"), "'bad'"});
    // Archives: a member that is not .npy, an encrypted member, a non-zip file.
    expect_error([&] { NetSource::open(fixture("not_npy_member.npz")); }, ErrorCode::BadData,
                 {"not_npy_member.npz", "junk.npy"});
    expect_error([&] { NetSource::open(fixture("encrypted.npz")); }, ErrorCode::Unsupported, {"encrypted.npz", "encrypted"});
    write_bytes(dir.file("text.npz"), "plain text");
    expect_error([&] { NetSource::open(dir.file("text.npz")); }, ErrorCode::BadData, {dir.file("text.npz")});
}
