// The top-k accumulator (topk.hpp) and the patch geometry (patches.hpp).
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>
#include <sstream>

#include "convergent/patches.hpp"
#include "convergent/topk.hpp"

using namespace convergent;

namespace {

// Brute force: per unit, the images sorted by (max over positions desc, index asc).
std::vector<std::int64_t> brute_force(const std::vector<float>& x, index_t images, index_t positions, index_t units,
                                      index_t k) {
    std::vector<std::int64_t> out(size_t(units * k), -1);
    for (index_t u = 0; u < units; ++u) {
        std::vector<float> best(static_cast<size_t>(images));
        for (index_t i = 0; i < images; ++i) {
            float m = x[size_t((i * positions) * units + u)];
            for (index_t p = 1; p < positions; ++p) m = std::max(m, x[size_t((i * positions + p) * units + u)]);
            best[size_t(i)] = m;
        }
        std::vector<std::int64_t> order(static_cast<size_t>(images));
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) { return best[a] > best[b]; });
        for (index_t j = 0; j < std::min(k, images); ++j) out[size_t(u * k + j)] = order[size_t(j)];
    }
    return out;
}

std::vector<float> tied_values(index_t n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<int> level(0, 3);
    std::vector<float> x(static_cast<size_t>(n));
    for (float& v : x) v = float(level(rng));
    return x;
}

}  // namespace

TEST(TopK, EqualsBruteForceWithTiesInAnyPiecesAndMerges) {
    const index_t images = 41, positions = 6, units = 5, k = 4;
    const std::vector<float> x = tied_values(images * positions * units, 11);
    const std::vector<std::int64_t> expected = brute_force(x, images, positions, units, k);

    TopKAccumulator whole(units, k, positions);
    whole.add(x.data(), 0, images, units, 0, units);
    EXPECT_EQ(whole.images(), expected);

    // Pieces of 1..7 images and two column blocks, in any order of blocks.
    TopKAccumulator pieces(units, k, positions);
    for (index_t first = 0, n = 1; first < images; first += n, n = n % 7 + 1) {
        const index_t count = std::min(n, images - first);
        const float* at = x.data() + first * positions * units;
        pieces.add(at + 2, first, count, units, 2, 3);
        pieces.add(at, first, count, units, 0, 2);
    }
    EXPECT_EQ(pieces.images(), expected);
    EXPECT_EQ(pieces.values(), whole.values());
    EXPECT_EQ(pieces.positions_best_first(), whole.positions_best_first());

    // Merging accumulators over disjoint image ranges, in either order, and
    // through save/load (a distributed run).
    TopKAccumulator low(units, k, positions), high(units, k, positions);
    low.add(x.data(), 0, 17, units, 0, units);
    high.add(x.data() + 17 * positions * units, 17, images - 17, units, 0, units);
    std::stringstream saved;
    low.save(saved);
    TopKAccumulator loaded = TopKAccumulator::load(saved, "test");
    high.merge(loaded);
    EXPECT_EQ(high.images(), expected);
    EXPECT_EQ(high.positions_best_first(), whole.positions_best_first());
}

TEST(TopK, PositionIsTheFirstMaximumAndNaNNeverEnters) {
    // One unit, 2 images of 3 positions.
    const std::vector<float> x = {1, 5, 5, /* image 1 */ std::nanf(""), 2, 7};
    TopKAccumulator acc(1, 3, 3);
    acc.add(x.data(), 10, 2, 1, 0, 1);
    EXPECT_EQ(acc.images(), (std::vector<std::int64_t>{11, 10, -1}));
    EXPECT_EQ(acc.positions_best_first(), (std::vector<std::int64_t>{2, 1, -1}));
    EXPECT_TRUE(std::isnan(acc.values()[2]));
}

TEST(TopK, RejectsMismatchedMerges) {
    TopKAccumulator a(3, 2, 1), b(3, 3, 1);
    EXPECT_THROW(a.merge(b), Error);
    EXPECT_THROW(TopKAccumulator(0, 1, 1), Error);
}

TEST(Patches, BoxIsTheReceptiveFieldCrop) {
    // conv: size 11, stride 4, padding 2 (AlexNet conv1 style); position (y=3, x=5) on a map 7 wide.
    const ReceptiveField f{11, 4, 2};
    const PatchBox b = patch_box(&f, 3 * 7 + 5, 7, 224, 224);
    EXPECT_EQ(b.top, 3 * 4 - 2);
    EXPECT_EQ(b.left, 5 * 4 - 2);
    EXPECT_EQ(b.height, 11);
    EXPECT_EQ(b.width, 11);
    const PatchBox whole = patch_box(nullptr, 0, 1, 28, 30);
    EXPECT_EQ(whole.height, 28);
    EXPECT_EQ(whole.width, 30);
}

TEST(Patches, SheetClipsAndPadsAtTheBorder) {
    Images im;
    im.count = 1, im.height = 3, im.width = 3, im.channels = 1;
    im.pixels = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    const ReceptiveField f{3, 1, 1};
    // Position (0, 0) of a 3-wide map: rows/cols -1..1, the first row and column padded with 0.
    const SpriteSheet s = patch_sprite_sheet(im, &f, 3, {0, -1}, {0, -1}, 1, 2);
    ASSERT_EQ(s.pixels.size(), size_t(3 * 6));
    const std::vector<std::uint8_t> row0(s.pixels.begin(), s.pixels.begin() + 6);
    const std::vector<std::uint8_t> row1(s.pixels.begin() + 6, s.pixels.begin() + 12);
    EXPECT_EQ(row0, (std::vector<std::uint8_t>{0, 0, 0, 0, 0, 0}));
    EXPECT_EQ(row1, (std::vector<std::uint8_t>{0, 1, 2, 0, 0, 0}));
    const std::string png = encode_png(s);
    EXPECT_EQ(png.substr(1, 3), "PNG");
}

TEST(Patches, ParsesReceptiveFields) {
    const auto f = parse_receptive_fields({"conv1=5", "1", "2", "conv2=14", "2", "5"});
    ASSERT_EQ(f.size(), 2u);
    EXPECT_EQ(f.at("conv2").size, 14);
    EXPECT_EQ(f.at("conv2").stride, 2);
    EXPECT_EQ(f.at("conv2").padding, 5);
    EXPECT_THROW(parse_receptive_fields({"conv1=5", "1"}), Error);
    EXPECT_THROW(parse_receptive_fields({"conv1=0", "1", "0"}), Error);
    EXPECT_EQ(parse_receptive_fields({"conv1=5", "14", "-4"}).at("conv1").padding, -4);
    EXPECT_THROW(parse_receptive_fields({"5", "1", "0"}), Error);
}

// A wanted subset of a (float, NCHW) image file is read alone, with the
// same pixels as the full load (the scale still comes from every image),
// and an image that was not loaded, or is beyond the file, is an error.
TEST(Patches, LoadsOnlyTheWantedImages) {
    namespace fs = std::filesystem;
    const fs::path path = fs::temp_directory_path() / ("cvg_images_" + std::to_string(::getpid()) + ".npy");
    const index_t n = 7, c = 3, h = 4, w = 5;
    std::vector<float> values(size_t(n * c * h * w));
    for (size_t i = 0; i < values.size(); ++i) values[i] = float(i % 97) * 0.37f - 3.0f;  // outside [0, 1]
    {
        std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (7, 3, 4, 5), }";
        header.resize(118, ' ');
        header += '\n';
        std::ofstream out(path, std::ios::binary);
        out.write("\x93NUMPY\x01\x00", 8);
        const char len[2] = {char(header.size() & 0xff), char(header.size() >> 8)};
        out.write(len, 2);
        out.write(header.data(), std::streamsize(header.size()));
        out.write(reinterpret_cast<const char*>(values.data()), std::streamsize(values.size() * sizeof(float)));
    }
    const Images all = load_images(path.string());
    const std::vector<std::int64_t> wanted = {5, -1, 2, 5};
    const Images some = load_images(path.string(), &wanted);
    EXPECT_EQ(some.count, n);
    EXPECT_EQ(some.held, (std::vector<index_t>{2, 5}));
    EXPECT_EQ(some.pixels.size(), size_t(2 * h * w * 3));
    for (index_t img : {2, 5})
        EXPECT_TRUE(std::equal(some.image(img), some.image(img) + h * w * 3, all.image(img))) << img;
    EXPECT_THROW(some.image(3), Error);
    EXPECT_THROW(some.image(7), Error);
    const std::vector<std::int64_t> beyond = {1, 9};
    const Images one = load_images(path.string(), &beyond);  // the caller checks count
    EXPECT_EQ(one.held, (std::vector<index_t>{1}));
    EXPECT_THROW(one.image(9), Error);
    fs::remove(path);
}
