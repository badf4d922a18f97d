// BlockMoments as bytes (resampling.hpp): what one process of a distributed
// run sends rank 0, which merges the blocks in rank order (distributed.hpp).
#include <cstring>
#include <istream>
#include <ostream>

#include "binary_io.hpp"
#include "convergent/resampling.hpp"

namespace convergent {
namespace {

constexpr char kMagic[8] = {'C', 'V', 'G', 'B', 'L', 'K', '0', '1'};

template <typename T>
void put(std::ostream& out, const T* values, size_t count) {
    put_array(out, values, count);
}

template <typename T>
void get(std::istream& in, T* values, size_t count, const std::string& what) {
    get_array(in, values, count, ErrorCode::BadData, what + ": truncated block moments");
}

}  // namespace

void BlockMoments::save(std::ostream& out) const {
    CVG_REQUIRE(chunk_first_row_ < 0, Internal, "layer '" + layer_ + "': saving block moments with a chunk pending");
    out.write(kMagic, 8);
    const std::int64_t head[4] = {std::int64_t(widths_.size()), blocks_, positions_, std::int64_t(layer_.size())};
    put(out, head, 4);
    put(out, widths_.data(), widths_.size());
    put(out, &hash_seed_, 1);
    put(out, layer_.data(), layer_.size());
    put(out, counts_.data(), counts_.size());
    put(out, means_.data(), means_.size());
    put(out, comoments_.data(), comoments_.size());
    CVG_REQUIRE(out.good(), Io, "layer '" + layer_ + "': could not write the block moments");
}

BlockMoments BlockMoments::load(std::istream& in, const std::string& what) {
    char magic[8] = {};
    in.read(magic, 8);
    CVG_REQUIRE(in.gcount() == 8 && std::memcmp(magic, kMagic, 8) == 0, BadData,
                what + ": not convergent block moments (bad magic)");
    std::int64_t head[4] = {};
    get(in, head, 4, what);
    CVG_REQUIRE(head[0] > 0 && head[0] <= 1024 && head[1] >= 1 && head[2] >= 1 && head[3] >= 0 && head[3] <= 4096,
                BadData, what + ": implausible block moments header");
    std::vector<index_t> widths(static_cast<size_t>(head[0]));
    get(in, widths.data(), widths.size(), what);
    std::uint64_t seed = 0;
    get(in, &seed, 1, what);
    std::string layer(static_cast<size_t>(head[3]), '\0');
    get(in, layer.data(), layer.size(), what);
    // Check the claimed sizes against the bytes really there before
    // allocating blocks x width^2 doubles.
    std::uint64_t width = 0;
    for (index_t w : widths) {
        CVG_REQUIRE(w > 0 && w <= (index_t(1) << 31), BadData, what + ": implausible net width " + std::to_string(w));
        width += std::uint64_t(w);
    }
    const std::uint64_t blocks = std::uint64_t(head[1]);
    const std::uint64_t need = 8 * blocks * (1 + width + width * width);
    const std::streampos here = in.tellg();
    in.seekg(0, std::ios::end);
    const std::streampos end = in.tellg();
    in.seekg(here);
    CVG_REQUIRE(here >= 0 && end >= here && std::uint64_t(end - here) >= need, BadData,
                what + ": block moments claim " + std::to_string(need) + " bytes, fewer are there");
    BlockMoments m;
    m.widths_ = std::move(widths);
    m.layer_ = std::move(layer);
    m.blocks_ = head[1];
    m.positions_ = head[2];
    m.width_ = index_t(width);
    m.hash_seed_ = seed;
    m.counts_.resize(size_t(blocks));
    get(in, m.counts_.data(), m.counts_.size(), what);
    m.means_.resize(size_t(blocks * width));
    get(in, m.means_.data(), m.means_.size(), what);
    m.comoments_.resize(size_t(blocks * width * width));
    get(in, m.comoments_.data(), m.comoments_.size(), what);
    return m;
}

}  // namespace convergent
