// Hostile inputs below the CLI: non-finite chunks pushed into the streaming
// statistics, and conv images larger than the reader's scratch buffer.
#include <gtest/gtest.h>

#include <limits>
#include <sstream>
#include <vector>

#include "convergent/activations.hpp"
#include "convergent/statistics.hpp"
#include "npy_format_internal.hpp"
#include "npy_test_support.hpp"

using namespace convergent;
using npy_test_support::expect_error;

namespace {

// 6 rows x (2 + 3) units, every value finite; bad_row/bad_col get `bad`.
std::vector<float> chunk_with(float bad, int bad_row, int bad_col) {
    std::vector<float> x(6 * 5);
    for (int i = 0; i < 30; ++i) x[size_t(i)] = float((i * 7) % 11) - 5.0f;
    if (bad_row >= 0) x[size_t(bad_row * 5 + bad_col)] = bad;
    return x;
}

}  // namespace

TEST(HostileStatistics, NonFiniteChunkNamesNetAndUnitAndLeavesTheAccumulatorUnchanged) {
    auto backend = make_cpu_backend();
    MomentAccumulator acc({2, 3});
    const std::vector<float> good = chunk_with(0.0f, -1, 0);
    acc.push(*backend, good.data(), 6, 5);
    const std::vector<double> mean_before = acc.mean();
    for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                      -std::numeric_limits<float>::infinity()}) {
        // Column 3 is net 1's unit 1.
        const std::vector<float> x = chunk_with(bad, 4, 3);
        expect_error([&] { acc.push(*backend, x.data(), 6, 5); }, ErrorCode::BadData,
                     {"net 1, unit 1", "NaN or Inf", "6 rows", "after 6 accumulated samples"});
    }
    EXPECT_EQ(acc.count(), 6);
    EXPECT_EQ(acc.mean(), mean_before);
}

TEST(HostileStatistics, NamedAccumulatorNamesLayerAndNet) {
    auto backend = make_cpu_backend();
    MomentAccumulator acc({2, 3}, "conv1", {"alexnet_a", "alexnet_b"});
    const std::vector<float> x = chunk_with(std::numeric_limits<float>::quiet_NaN(), 0, 1);
    expect_error([&] { acc.push(*backend, x.data(), 6, 5); }, ErrorCode::BadData,
                 {"layer 'conv1'", "net 'alexnet_a', unit 1"});
    EXPECT_EQ(acc.description(), "layer 'conv1'");
    EXPECT_EQ(acc.describe_unit(4), "net 'alexnet_b', unit 2");
    expect_error([&] { MomentAccumulator bad({2, 3}, "conv1", {"only_one"}); }, ErrorCode::InvalidArgument,
                 {"1 net names for 2 nets"});
}

TEST(HostileActivations, ImageLargerThanTheScratchIsReadInSlices) {
    // (2, 3, 1500, 1000) NCHW: 4.5 M elements per image, more than the
    // reader's 4 M-element scratch, so each unit plane is read on its own
    // instead of sizing the scratch for the whole image.
    const index_t N = 2, C = 3, H = 1500, W = 1000, P = H * W;
    std::vector<float> data(size_t(N * C * P));
    for (index_t n = 0; n < N; ++n)
        for (index_t c = 0; c < C; ++c)
            for (index_t p = 0; p < P; ++p) data[size_t((n * C + c) * P + p)] = float((n * 5 + c) * 2000000 + p % 1999999);
    npy_test_support::TempDir dir;
    npy_test_support::write_bytes(
        dir.file("conv.npy"),
        npy_test_support::npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 1500, 1000), }",
                                    npy_test_support::float_bytes(data)));
    LayerSource layer("net", "conv", open_npy(dir.file("conv.npy"), "conv"), ActivationLayout{});
    ASSERT_EQ(layer.positions(), P);
    std::vector<float> out(size_t(N * P * C));
    layer.read_images(0, 2, out.data());
    for (index_t n = 0; n < N; ++n)
        for (index_t p = 0; p < P; p += 997)
            for (index_t c = 0; c < C; ++c)
                ASSERT_EQ(out[size_t((n * P + p) * C + c)], data[size_t((n * C + c) * P + p)])
                    << "image " << n << " position " << p << " unit " << c;
    // The last position of the last image (the tail of the last slice).
    EXPECT_EQ(out.back(), data.back());
}

// Fuzzer finding (tests/fuzz/findings/stats_capi): a 32-byte accumulator
// file claiming 60,000 units made load allocate 60,000^2 doubles (28.8 GB)
// before noticing the file was short.
TEST(HostileInputs, AccumulatorFileClaimingHugeWidthIsRefusedBeforeAllocating) {
    std::string bytes("CVGMOM01", 8);
    auto put = [&](std::int64_t v) { bytes.append(reinterpret_cast<const char*>(&v), 8); };
    put(1);        // one net
    put(60000);    // of 60,000 units
    put(5);        // count, then nothing: mean and comoment are missing
    std::istringstream in(bytes);
    try {
        convergent::MomentAccumulator::load(in, "hostile.bin");
        FAIL() << "a truncated accumulator file was accepted";
    } catch (const convergent::Error& e) {
        EXPECT_EQ(e.code(), convergent::ErrorCode::BadData);
        EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
    }
    std::string negative("CVGMOM01", 8);
    negative.append(std::string(8, '\0'));
    negative[8] = 1;
    const std::int64_t w = -3;
    negative.append(reinterpret_cast<const char*>(&w), 8);
    std::istringstream in2(negative);
    EXPECT_THROW(convergent::MomentAccumulator::load(in2, "negative.bin"), convergent::Error);
}

// Fuzzer finding (tests/fuzz/findings/viewer): an empty matrix reached
// memcpy(nullptr, src, 0), undefined behaviour (caught by the UBSan run of
// this binary in tools/sanitize.sh).
TEST(HostileInputs, EmptyArrayConvertsWithoutTouchingTheOutput) {
    convergent::NpyHeader header;
    header.dtype = convergent::NpyDtype::Float32;
    const std::uint8_t src[4] = {0, 0, 0, 0};
    EXPECT_NO_THROW(convergent::npy_detail::convert_to_float(src, 0, header, nullptr));
}
