#include "convergent/statistics.hpp"

#include <algorithm>
#include <cfloat>
#include <chrono>
#include <cmath>
#include <cstring>
#include <istream>
#include <numeric>
#include <ostream>
#include <utility>
#include <exception>
#include <functional>

#include "allocation.hpp"
#include "binary_io.hpp"
#include "cpu_moments.hpp"
#include "cpu_syrk.hpp"
#include "worker_team.hpp"

namespace convergent {

namespace {
// Chunks of at least this many values are packed (or summed) by two
// threads when they are read raw (push_sources): about 0.3 ms of packing,
// well above the cost of waking the helper.
constexpr index_t kParallelPackElements = index_t(1) << 18;

// Part `part` of `parts` of a net's columns, in whole groups of 8 (one
// 64-byte line of a float64 row): [first, second).
std::pair<index_t, index_t> column_part(index_t columns, int part, int parts) {
    const index_t groups = (columns + 7) / 8;
    return {std::min(columns, groups * part / parts * 8), std::min(columns, groups * (part + 1) / parts * 8)};
}
}  // namespace

MomentAccumulator::MomentAccumulator(std::vector<index_t> block_widths) : widths_(std::move(block_widths)) {
    allocate();
}

void MomentAccumulator::allocate() {
    CVG_REQUIRE(!widths_.empty(), InvalidArgument, "MomentAccumulator: no nets");
    for (index_t w : widths_) {
        CVG_REQUIRE(w > 0, InvalidArgument, "MomentAccumulator: every net needs at least one unit");
        // Checked before the sum: huge widths (e.g. from a crafted accumulator
        // file) must not overflow the total into a small, accepted value.
        CVG_REQUIRE(w <= 65536 && width_ <= 65536 - w, InvalidArgument,
                    "MomentAccumulator: more than the 65536 units in total this accumulator holds");
        width_ += w;
    }
    try {
        mean_.assign(size_t(width_), 0.0);
        reserve_huge(comoment_, size_t(width_ * width_));
        comoment_.assign(size_t(width_ * width_), 0.0);
    } catch (const std::bad_alloc&) {
        fail_out_of_memory(description(), "the " + std::to_string(width_) + " x " + std::to_string(width_) +
                                              " comoment matrix of the statistics",
                           bytes_of<double>(std::uint64_t(width_) * std::uint64_t(width_)));
    }
}

MomentAccumulator::MomentAccumulator(std::vector<index_t> block_widths, std::string layer,
                                     std::vector<std::string> net_names)
    : widths_(std::move(block_widths)), layer_(std::move(layer)), net_names_(std::move(net_names)) {
    CVG_REQUIRE(net_names_.empty() || net_names_.size() == widths_.size(), InvalidArgument,
                "MomentAccumulator: " + std::to_string(net_names_.size()) + " net names for " +
                    std::to_string(widths_.size()) + " nets");
    allocate();
}

std::string MomentAccumulator::description() const {
    return layer_.empty() ? std::string("moment accumulator") : "layer '" + layer_ + "'";
}

std::string MomentAccumulator::describe_unit(index_t column) const {
    index_t net = 0;
    while (net + 1 < index_t(widths_.size()) && column >= widths_[size_t(net)]) column -= widths_[size_t(net++)];
    const std::string name = net_names_.empty() ? std::to_string(net) : "'" + net_names_[size_t(net)] + "'";
    return "net " + name + ", unit " + std::to_string(column);
}

namespace {
// A chunk is re-centred on its own mean before its cross-products are added
// when, for some unit, its mean e (relative to the running mean it was
// packed around) satisfies e^2 > kRecentreRatio * variance: the rank-one
// correction -n e e^T then cancels at most log2(1 + kRecentreRatio) bits.
// Offsets below kNegligibleOffset * |running mean| are rounding noise of
// constant (dead) units and never force the extra pass.
constexpr double kRecentreRatio = 64.0;
constexpr double kNegligibleOffset = 1e-10;
}  // namespace

[[noreturn]] void MomentAccumulator::fail_not_finite(index_t column, index_t rows, bool mean_finite) const {
    fail(ErrorCode::BadData, description() + ", " + describe_unit(column) + ": the chunk of " + std::to_string(rows) +
                                 " rows after " + std::to_string(count_) +
                                 " accumulated samples holds a NaN or Inf value (its " +
                                 (mean_finite ? "centred sum of squares" : "mean") +
                                 " is not finite); activations must be finite");
}

void MomentAccumulator::size_scratch() {
    resize_or_fail(scratch_mean_, std::uint64_t(width_), description(), "a chunk's means");
    resize_or_fail(scratch_comoment_, std::uint64_t(width_) * std::uint64_t(width_), description(),
                   "a chunk's " + std::to_string(width_) + " x " + std::to_string(width_) + " comoment matrix");
}

void MomentAccumulator::push(const Backend& backend, const float* x, index_t rows, index_t ld) {
    if (rows == 0) return;
    CVG_REQUIRE(x != nullptr && ld >= width_, InvalidArgument,
                description() + ": push needs a chunk and ld >= " + std::to_string(width_));
    if (backend.kind() != BackendKind::Cpu) {
        size_scratch();
        backend.chunk_moments(x, rows, width_, ld, scratch_mean_.data(), scratch_comoment_.data());
        merge_chunk_moments(rows);
        return;
    }
    begin_chunk(backend, rows);
    add_block(x, rows, ld, 0, 0, width_);
    end_chunk();
}

void MomentAccumulator::push_device(const Backend& backend, const std::vector<DeviceChunkBlock>& blocks,
                                    index_t images, index_t height, index_t width,
                                    const std::vector<index_t>& sample_rows, float* sample_values) {
    const index_t rows = images * height * width;
    if (rows == 0) return;
    CVG_REQUIRE(!f32_, Unsupported,
                description() + ": float32 statistics (statistics_precision = float32) run on the CPU backend only; "
                                "device tensors are accumulated in float64");
    size_scratch();
    backend.device_chunk_moments(blocks.data(), int(blocks.size()), images, height, width, width_,
                                 scratch_mean_.data(), scratch_comoment_.data(), sample_rows, sample_values);
    merge_chunk_moments(rows);
}

void MomentAccumulator::merge_chunk_moments(index_t rows) {
    // A NaN or Inf anywhere in a column makes that column's mean or
    // centred square non-finite; O(width) to check, and it keeps one bad
    // chunk from silently turning every statistic of the layer into NaN.
    for (index_t i = 0; i < width_; ++i) {
        const double m = scratch_mean_[size_t(i)], v = scratch_comoment_[size_t(i * width_ + i)];
        if (!std::isfinite(m) || !std::isfinite(v)) fail_not_finite(i, rows, std::isfinite(m));
    }
    merge_moments(rows, scratch_mean_.data(), scratch_comoment_.data());
}

void MomentAccumulator::set_float32_products(bool on) {
    CVG_REQUIRE(chunk_backend_ == nullptr && count_ == 0, InvalidArgument,
                description() + ": set_float32_products after samples were pushed");
    f32_ = on;
}

void MomentAccumulator::begin_chunk(const Backend& backend, index_t rows) {
    CVG_REQUIRE(chunk_backend_ == nullptr, InvalidArgument, description() + ": begin_chunk while a chunk is open");
    CVG_REQUIRE(rows >= 0 && width_ > 0, InvalidArgument, description() + ": begin_chunk needs rows >= 0");
    chunk_on_host_ = backend.kind() == BackendKind::Cpu;
    CVG_REQUIRE(!f32_ || chunk_on_host_, Unsupported,
                description() + ": float32 statistics (statistics_precision = float32) run on the CPU backend only; "
                                "the " + backend.device_description() + " backend computes them in float64");
    const std::uint64_t cells = std::uint64_t(rows) * std::uint64_t(width_);
    const std::string what = "a chunk of " + std::to_string(rows) + " x " + std::to_string(width_) + " values";
    if (chunk_on_host_ && f32_) {
        chunk_data32_ = &resize_huge_aligned(chunk_centred32_, cells, description(), what + " (float32)")->value;
        // (Recomputed every chunk, like chunk_data32_: no pointer outlives a copy.)
        products32_data_ = &resize_huge_aligned(products32_, std::uint64_t(width_) * std::uint64_t(width_), description(),
                                "the float32 products of one slice of a chunk")->value;
        chunk_sums_.assign(size_t(width_), 0.0);
        chunk_squares_.assign(size_t(width_), 0.0);
    } else if (chunk_on_host_) {
        chunk_data_ = &resize_huge_aligned(chunk_centred_, cells, description(), what + " (float64)")->value;
        chunk_sums_.assign(size_t(width_), 0.0);
        chunk_squares_.assign(size_t(width_), 0.0);
    } else {
        resize_or_fail(chunk_values_, cells, description(), what);
    }
    chunk_rows_ = rows;
    chunk_backend_ = &backend;
    direct_ = chunk_on_host_ && !f32_ && width_ <= cpu_syrk::kMaxWidth && cpu_syrk::supported();
    in_place_.clear();
}

void MomentAccumulator::require_rows(const char* call, const float* x, index_t rows, index_t ld, index_t first_row,
                                     index_t first_column, index_t columns) const {
    CVG_REQUIRE(chunk_backend_ != nullptr, InvalidArgument, description() + ": " + call + " without begin_chunk");
    CVG_REQUIRE(rows >= 0 && columns >= 0 && first_row >= 0 && first_column >= 0 && first_row <= chunk_rows_ &&
                    rows <= chunk_rows_ - first_row && first_column <= width_ && columns <= width_ - first_column &&
                    ld >= columns && (x != nullptr || rows == 0 || columns == 0),
                InvalidArgument, description() + ": " + call + " outside the chunk of " + std::to_string(chunk_rows_) +
                                     " x " + std::to_string(width_));
}

void MomentAccumulator::require_images(const char* call, const float* x, index_t images, index_t image_ld,
                                       index_t positions, index_t first_row, index_t first_column,
                                       index_t columns) const {
    CVG_REQUIRE(chunk_backend_ != nullptr, InvalidArgument, description() + ": " + call + " without begin_chunk");
    CVG_REQUIRE(images >= 0 && positions > 0 && columns >= 0 && first_row >= 0 && first_column >= 0 &&
                    first_row <= chunk_rows_ && images <= (chunk_rows_ - first_row) / positions &&
                    first_column <= width_ && columns <= width_ - first_column &&
                    (images <= 1 || image_ld >= columns * positions) && (x != nullptr || images == 0 || columns == 0),
                InvalidArgument, description() + ": " + call + " outside the chunk of " +
                                     std::to_string(chunk_rows_) + " x " + std::to_string(width_));
}

void MomentAccumulator::add_columns(const float* x, index_t ld, index_t first_column, index_t columns) {
    CVG_REQUIRE(chunk_backend_ != nullptr, InvalidArgument, description() + ": add_columns without begin_chunk");
    if (!direct_) {
        add_block(x, chunk_rows_, ld, 0, first_column, columns);
        return;
    }
    require_rows("add_columns", x, chunk_rows_, ld, 0, first_column, columns);
    if (chunk_rows_ == 0 || columns == 0) return;
    in_place_.push_back({x, ld, 1, first_column, columns, false});
}

void MomentAccumulator::add_columns_channels_first(const float* x, index_t image_ld, index_t positions,
                                                   index_t first_column, index_t columns) {
    CVG_REQUIRE(chunk_backend_ != nullptr, InvalidArgument,
                description() + ": add_columns_channels_first without begin_chunk");
    CVG_REQUIRE(positions > 0 && chunk_rows_ % positions == 0, InvalidArgument,
                description() + ": add_columns_channels_first: the chunk's " + std::to_string(chunk_rows_) +
                    " rows are not whole images of " + std::to_string(positions) + " positions");
    const index_t images = chunk_rows_ / positions;
    if (!direct_) {
        add_block_channels_first(x, images, image_ld, positions, 0, first_column, columns);
        return;
    }
    require_images("add_columns_channels_first", x, images, image_ld, positions, 0, first_column, columns);
    if (images == 0 || columns == 0) return;
    in_place_.push_back({x, image_ld, positions, first_column, columns, true});
}

// The sums and squares of the add_columns* ranges around mean_, as
// add_block would have computed them (the NaN check and the re-centring
// decision come before the products): big ranges in two halves of their
// columns on two threads (every column still summed in row order).
void MomentAccumulator::sum_in_place() {
    for (const InPlace& b : in_place_) {
        const auto part = [&](int index, int parts) {
            const auto [c0, c1] = column_part(b.columns, index, parts);
            if (c1 <= c0) return;
            const index_t j = b.first_column + c0;
            if (b.channels_first)
                cpu_moments::sum_shifted_channels_first(b.x + c0 * b.positions, chunk_rows_ / b.positions, b.ld,
                                                        b.positions, c1 - c0, mean_.data() + j,
                                                        chunk_sums_.data() + j, chunk_squares_.data() + j);
            else
                cpu_moments::sum_shifted(b.x + c0, chunk_rows_, c1 - c0, b.ld, mean_.data() + j,
                                         chunk_sums_.data() + j, chunk_squares_.data() + j);
        };
        if (chunk_rows_ * b.columns >= kParallelPackElements && b.columns >= 16)
            worker_team::run_parts(2, [&](int index) { part(index, 2); });
        else
            part(0, 1);
    }
}

// The chunk's products and residual sums (into chunk_sums_) by the
// in-place kernel: the add_columns* ranges from their inputs, every other
// column from chunk_data_ (packed by add_block around mean_).
void MomentAccumulator::add_direct_products(index_t rows) {
    std::vector<cpu_syrk::Source> sources;
    std::vector<char> direct(size_t(width_), 0);
    for (const InPlace& b : in_place_) {
        cpu_syrk::Source s;
        s.kind = b.channels_first ? cpu_syrk::Source::Kind::ChannelsFirst32 : cpu_syrk::Source::Kind::Rows32;
        s.x = b.x;
        s.ld = b.ld;
        s.positions = b.positions;
        s.first_column = b.first_column;
        s.columns = b.columns;
        s.shift = mean_.data() + b.first_column;
        sources.push_back(s);
        std::fill(direct.begin() + b.first_column, direct.begin() + b.first_column + b.columns, 1);
    }
    for (index_t j = 0; j < width_;) {
        if (direct[size_t(j)]) {
            ++j;
            continue;
        }
        index_t end = j;
        while (end < width_ && !direct[size_t(end)]) ++end;
        cpu_syrk::Source s;
        s.kind = cpu_syrk::Source::Kind::Rows64;
        s.x = chunk_data_ + j;
        s.ld = width_;
        s.first_column = j;
        s.columns = end - j;
        sources.push_back(s);
        j = end;
    }
    cpu_syrk::add_products(sources, rows, width_, chunk_offset_.data(), comoment_.data(), chunk_sums_.data());
    in_place_.clear();
}

void MomentAccumulator::add_block(const float* x, index_t rows, index_t ld, index_t first_row, index_t first_column,
                                  index_t columns) {
    require_rows("add_block", x, rows, ld, first_row, first_column, columns);
    if (rows == 0 || columns == 0) return;
    if (chunk_on_host_ && f32_) {
        cpu_moments::pack_shifted(x, rows, columns, ld, mean_.data() + first_column,
                                  chunk_data32_ + first_row * width_ + first_column, width_,
                                  chunk_sums_.data() + first_column, chunk_squares_.data() + first_column);
    } else if (chunk_on_host_) {
        // Packed around the running mean (0 before the first chunk).
        cpu_moments::pack_shifted(x, rows, columns, ld, mean_.data() + first_column,
                                  chunk_data_ + first_row * width_ + first_column, width_,
                                  chunk_sums_.data() + first_column, chunk_squares_.data() + first_column);
    } else {
        for (index_t r = 0; r < rows; ++r)
            std::memcpy(chunk_values_.data() + (first_row + r) * width_ + first_column, x + r * ld,
                        sizeof(float) * size_t(columns));
    }
}

void MomentAccumulator::add_block_channels_first(const float* x, index_t images, index_t image_ld, index_t positions,
                                                 index_t first_row, index_t first_column, index_t columns) {
    require_images("add_block_channels_first", x, images, image_ld, positions, first_row, first_column, columns);
    if (images == 0 || columns == 0) return;
    if (chunk_on_host_ && f32_) {
        cpu_moments::pack_shifted_channels_first(x, images, image_ld, positions, columns, mean_.data() + first_column,
                                                 chunk_data32_ + first_row * width_ + first_column, width_,
                                                 chunk_sums_.data() + first_column,
                                                 chunk_squares_.data() + first_column);
    } else if (chunk_on_host_) {
        cpu_moments::pack_shifted_channels_first(x, images, image_ld, positions, columns, mean_.data() + first_column,
                                                 chunk_data_ + first_row * width_ + first_column, width_,
                                                 chunk_sums_.data() + first_column,
                                                 chunk_squares_.data() + first_column);
    } else {
        for (index_t i = 0; i < images; ++i)
            for (index_t j = 0; j < columns; ++j)
                for (index_t p = 0; p < positions; ++p)
                    chunk_values_[size_t((first_row + i * positions + p) * width_ + first_column + j)] =
                        x[i * image_ld + j * positions + p];
    }
}

void MomentAccumulator::end_chunk() {
    CVG_REQUIRE(chunk_backend_ != nullptr, InvalidArgument, description() + ": end_chunk without begin_chunk");
    const Backend& backend = *chunk_backend_;
    chunk_backend_ = nullptr;
    const index_t nb = chunk_rows_, w = width_;
    if (nb == 0) return;
    if (!chunk_on_host_) {
        push(backend, chunk_values_.data(), nb, w);
        return;
    }
    if (direct_) sum_in_place();
    for (index_t j = 0; j < w; ++j)
        if (!std::isfinite(chunk_sums_[size_t(j)]) || !std::isfinite(chunk_squares_[size_t(j)]))
            fail_not_finite(j, nb, std::isfinite(chunk_sums_[size_t(j)]));

    // e = the chunk mean minus the running mean it was packed around.
    std::vector<double>& e = chunk_sums_;
    bool far = false;
    for (index_t j = 0; j < w; ++j) {
        const double ej = chunk_sums_[size_t(j)] / double(nb);
        const double spread = std::max(0.0, chunk_squares_[size_t(j)] / double(nb) - ej * ej);
        far = far || (ej * ej > kRecentreRatio * spread && std::fabs(ej) > kNegligibleOffset * std::fabs(mean_[size_t(j)]));
        e[size_t(j)] = ej;
    }
    // offset: what was subtracted beyond the running mean; e then becomes
    // the residual mean of the re-centred chunk.
    chunk_offset_.assign(size_t(w), 0.0);
    if (direct_) {
        // The products of the chunk minus (running mean + offset), and their
        // sums: e becomes the residual mean of what was multiplied.
        if (far) chunk_offset_ = e;
        add_direct_products(nb);
        for (index_t j = 0; j < w; ++j) e[size_t(j)] /= double(nb);
    } else if (far) {
        chunk_offset_ = e;
        if (f32_) {
            // Subtract (and record) the offset as rounded to float32.
            for (double& o : chunk_offset_) o = double(float(o));
            cpu_moments::recentre(chunk_data32_, nb, w, w, chunk_offset_.data(), e.data());
        } else {
            cpu_moments::recentre(chunk_data_, nb, w, w, chunk_offset_.data(), e.data());
        }
        for (index_t j = 0; j < w; ++j) e[size_t(j)] /= double(nb);
    }
    // Chan, Golub & LeVeque with the chunk centred on c = running mean +
    // offset instead of its own mean m_b = c + e (Y = X - c):
    //   M_b = Y^T Y - n_b e e^T,
    //   M  += M_b + delta delta^T n_a n_b / n,   delta = m_b - m_a = offset + e.
    const double na = double(count_), n = na + double(nb);
    std::vector<double>& delta = chunk_squares_;
    for (index_t j = 0; j < w; ++j) delta[size_t(j)] = chunk_offset_[size_t(j)] + e[size_t(j)];
    if (!direct_) {  // (added above otherwise)
        if (f32_)
            cpu_moments::add_cross_products(chunk_data32_, nb, w, w, comoment_.data(), products32_data_);
        else
            cpu_moments::add_cross_products(chunk_data_, nb, w, w, comoment_.data());
    }
    cpu_moments::add_rank_one(comoment_.data(), w, -double(nb), e.data(), na * double(nb) / n,
                              count_ > 0 ? delta.data() : nullptr);
    symmetric_ = false;
    for (index_t j = 0; j < w; ++j) mean_[size_t(j)] += delta[size_t(j)] * (double(nb) / n);
    count_ += nb;
}

const std::vector<double>& MomentAccumulator::comoment() const {
    if (!symmetric_) {
        cpu_moments::mirror_upper(comoment_.data(), width_);
        symmetric_ = true;
    }
    return comoment_;
}

std::vector<double> MomentAccumulator::take_comoment() {
    comoment();  // symmetric
    std::vector<double> out = std::move(comoment_);
    comoment_.clear();
    // The chunk buffers are not needed any more either.
    chunk_centred_ = {};
    chunk_data_ = nullptr;
    chunk_centred32_ = {};
    products32_ = {};
    products32_data_ = nullptr;
    chunk_data32_ = nullptr;
    chunk_values_ = {};
    scratch_comoment_ = {};
    return out;
}

void MomentAccumulator::merge_moments(index_t count, const double* mean, const double* comoment) {
    CVG_REQUIRE(count >= 0, InvalidArgument, "merge_moments: negative count");
    if (count == 0) return;
    const index_t w = width_;
    if (count_ == 0) {
        std::memcpy(mean_.data(), mean, sizeof(double) * size_t(w));
        std::memcpy(comoment_.data(), comoment, sizeof(double) * size_t(w * w));
        symmetric_ = true;
        count_ = count;
        return;
    }
    // Chan, Golub & LeVeque pairwise update (upper triangle; see comoment()):
    //   M = Ma + Mb + delta delta^T * na nb / (na + nb),  delta = mean_b - mean_a.
    const double na = double(count_), nb = double(count);
    const double n = na + nb;
    std::vector<double> delta(static_cast<size_t>(w));
    for (index_t i = 0; i < w; ++i) delta[size_t(i)] = mean[i] - mean_[size_t(i)];
    const double factor = na * nb / n;
#pragma omp parallel for schedule(dynamic, 16) if (w >= 256)
    for (index_t i = 0; i < w; ++i) {
        double* row = comoment_.data() + i * w;
        const double* other = comoment + i * w;
        const double di = delta[size_t(i)] * factor;
        for (index_t j = i; j < w; ++j) row[j] += other[j] + di * delta[size_t(j)];
    }
    symmetric_ = false;
    for (index_t i = 0; i < w; ++i) mean_[size_t(i)] += delta[size_t(i)] * (nb / n);
    count_ += count;
}

void MomentAccumulator::merge(const MomentAccumulator& other) {
    CVG_REQUIRE(other.widths_ == widths_, InvalidArgument,
                "MomentAccumulator::merge: the accumulators have different unit counts");
    merge_moments(other.count_, other.mean_.data(), other.comoment().data());
}

namespace {
constexpr char kMagic[8] = {'C', 'V', 'G', 'M', 'O', 'M', '0', '1'};

template <typename T>
void put(std::ostream& out, const T* v, size_t n) {
    put_array(out, v, n);
}
template <typename T>
void get(std::istream& in, T* v, size_t n, const std::string& what) {
    get_array(in, v, n, ErrorCode::Io, what + ": truncated accumulator file");
}
}  // namespace

void MomentAccumulator::save(std::ostream& out) const {
    static_assert(sizeof(double) == 8, "IEEE double required");
    out.write(kMagic, 8);
    const std::int64_t nblocks = std::int64_t(widths_.size());
    put(out, &nblocks, 1);
    put(out, widths_.data(), widths_.size());
    put(out, &count_, 1);
    put(out, mean_.data(), mean_.size());
    const std::vector<double>& m2 = comoment();
    put(out, m2.data(), m2.size());
    CVG_REQUIRE(out.good(), Io, "could not write the accumulator");
}

MomentAccumulator MomentAccumulator::load(std::istream& in, const std::string& what) {
    char magic[8] = {};
    in.read(magic, 8);
    CVG_REQUIRE(in.good() && std::memcmp(magic, kMagic, 8) == 0, BadData,
                what + ": not a convergent moment accumulator (bad magic)");
    std::int64_t nblocks = 0;
    get(in, &nblocks, 1, what);
    CVG_REQUIRE(nblocks > 0 && nblocks <= 1024, BadData, what + ": implausible number of nets");
    std::vector<index_t> widths(static_cast<size_t>(nblocks));
    get(in, widths.data(), widths.size(), what);
    // Check the claimed size against the bytes really there before
    // allocating the width x width comoment: a tiny hostile file must not
    // make us allocate gigabytes.
    std::uint64_t total = 0;
    for (index_t w : widths) {
        CVG_REQUIRE(w > 0 && w <= (index_t(1) << 31), BadData, what + ": implausible net width " + std::to_string(w));
        total += std::uint64_t(w);
    }
    CVG_REQUIRE(total <= (std::uint64_t(1) << 31), BadData, what + ": implausible total width " + std::to_string(total));
    const std::uint64_t needed = 8 * (1 + total + total * total);  // count, mean, comoment
    const std::streampos here = in.tellg();
    if (here != std::streampos(-1)) {
        in.seekg(0, std::ios::end);
        const std::streampos end = in.tellg();
        in.seekg(here);
        CVG_REQUIRE(end != std::streampos(-1) && std::uint64_t(end - here) >= needed, BadData,
                    what + ": truncated: " + std::to_string(total) + " units need " + std::to_string(needed) +
                        " more bytes, the file has " + std::to_string(std::int64_t(end - here)));
    }
    MomentAccumulator acc(widths);
    get(in, &acc.count_, 1, what);
    CVG_REQUIRE(acc.count_ >= 0, BadData, what + ": negative sample count");
    get(in, acc.mean_.data(), acc.mean_.size(), what);
    get(in, acc.comoment_.data(), acc.comoment_.size(), what);
    return acc;
}

void push_sources(MomentAccumulator& acc, const Backend& backend, const std::vector<const LayerSource*>& sources,
                  index_t chunk_images, const PieceFn& on_piece, const std::function<void(index_t)>& after_chunk,
                  index_t first_image, index_t image_count, double* kernel_seconds) {
    CVG_REQUIRE(!sources.empty() && sources.size() == acc.block_widths().size() && chunk_images > 0, InvalidArgument,
                acc.description() + ": push_sources needs one source per net and chunk_images > 0");
    const index_t positions = sources.front()->positions();
    const index_t all_images = sources.front()->images();
    CVG_REQUIRE(first_image >= 0 && first_image <= all_images &&
                    (image_count < 0 || image_count <= all_images - first_image),
                InvalidArgument, acc.description() + ": push_sources: the image range is outside the sources");
    const index_t images = image_count < 0 ? all_images : first_image + image_count;
    for (size_t n = 0; n < sources.size(); ++n)
        CVG_REQUIRE(sources[n]->images() == all_images && sources[n]->positions() == positions &&
                        sources[n]->units() == acc.block_widths()[n],
                    InvalidArgument, acc.description() + ": push_sources: source " + std::to_string(n) +
                                         " does not match the accumulator's blocks or the other sources");
    constexpr index_t kPieceElements = index_t(1) << 17;  // 512 KiB of float32, converted while in cache
    // Uninitialised and on a 2 MiB page: the piece is written by read_images
    // before it is read, and its first touch costs one fault, not 128.
    struct PieceValue {
        float value;
        PieceValue() {}
    };
    std::vector<PieceValue> piece_storage;
    float* piece = nullptr;
    // Without a piece consumer, the CPU pass reads every float32 .npy input
    // a chunk at a time with one pread() into a buffer on huge pages
    // (LayerSource::read_images_raw: no conversion, no NaN scan, and for
    // channels-first layers no transposed copy: the packing transposes) and
    // packs from there. Same pieces, so the same sums in the same order:
    // bit-identical to read_images (tests/test_statistics_in_place.cpp
    // compares the two by passing a piece consumer that does nothing).
    const bool in_place = !on_piece && backend.kind() == BackendKind::Cpu;
    const auto piece_images_of = [&](const LayerSource* s, index_t count) {
        return std::max<index_t>(1, std::min(count, kPieceElements / std::max<index_t>(1, positions * s->units())));
    };
    // A chunk read raw whose sums are not finite: read_images names
    // the file, image, position and unit of the first NaN/Inf.
    const auto explain_not_finite = [&](index_t first, index_t count) {
        for (const LayerSource* s : sources) {
            const index_t piece_images = piece_images_of(s, count);
            piece = &resize_huge_aligned(piece_storage, std::uint64_t(piece_images * positions * s->units()),
                                         acc.description(), "one net's piece of the chunk")
                         ->value;
            for (index_t done = 0; done < count; done += piece_images)
                s->read_images(first + done, std::min(piece_images, count - done), piece);
        }
    };
    // Two threads pack a big chunk read raw, each a range of every
    // net's columns (whole 64-byte lines of the chunk's rows): the packing
    // is serial between dsyrk calls, so this halves it. Images of 4M values
    // or more are packed by one thread (pack_shifted itself uses OpenMP
    // there).
    bool small_images = true;
    for (const LayerSource* s : sources) small_images = small_images && positions * s->units() < (index_t(1) << 22);
    using Clock = std::chrono::steady_clock;
    double kernel = 0;
    const auto since = [](Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); };
    std::vector<const float*> mapped(sources.size());
    std::vector<char> channels_first(sources.size()), raw(sources.size(), 0);
    std::vector<std::vector<PieceValue>> raw_storage(sources.size());
    for (size_t n = 0; n < sources.size(); ++n) {
        bool cf = false;  // a read of no images: can this source be read raw?
        raw[n] = in_place && sources[n]->read_images_raw(first_image, 0, nullptr, &cf);
    }
    for (index_t first = first_image; first < images; first += chunk_images) {
        const index_t count = std::min(chunk_images, images - first);
        acc.begin_chunk(backend, count * positions);
        bool packed_in_place = false;
        for (size_t n = 0; n < sources.size(); ++n) {
            mapped[n] = nullptr;
            if (!raw[n]) continue;
            float* buffer = &resize_huge_aligned(raw_storage[n], std::uint64_t(count * positions * sources[n]->units()),
                                                 acc.description(), "one net's chunk as read")
                                 ->value;
            bool cf = false;
            if (sources[n]->read_images_raw(first, count, buffer, &cf)) mapped[n] = buffer;
            channels_first[n] = cf;
            packed_in_place = packed_in_place || mapped[n] != nullptr;
        }
        if (packed_in_place) {
            const auto pack_part = [&](int part, int parts) {
                index_t offset = 0;
                for (size_t n = 0; n < sources.size(); ++n) {
                    const index_t units = sources[n]->units();
                    const auto [c0, c1] = column_part(units, part, parts);
                    if (mapped[n] != nullptr && c1 > c0) {
                        const index_t piece_images = piece_images_of(sources[n], count), image_elements = positions * units;
                        for (index_t done = 0; done < count; done += piece_images) {
                            const index_t k = std::min(piece_images, count - done);
                            const float* x = mapped[n] + done * image_elements;
                            if (channels_first[n])
                                acc.add_block_channels_first(x + c0 * positions, k, image_elements, positions,
                                                             done * positions, offset + c0, c1 - c0);
                            else
                                acc.add_block(x + c0, k * positions, units, done * positions, offset + c0, c1 - c0);
                        }
                    }
                    offset += units;
                }
            };
            const auto t0 = Clock::now();
            if (acc.reads_in_place()) {
                // The product kernel reads the chunk as read, in end_chunk.
                index_t offset = 0;
                for (size_t n = 0; n < sources.size(); ++n) {
                    const index_t units = sources[n]->units();
                    if (mapped[n] != nullptr && channels_first[n])
                        acc.add_columns_channels_first(mapped[n], positions * units, positions, offset, units);
                    else if (mapped[n] != nullptr)
                        acc.add_columns(mapped[n], units, offset, units);
                    offset += units;
                }
            } else if (small_images && count * positions * acc.width() >= kParallelPackElements) {
                worker_team::run_parts(2, [&](int part) { pack_part(part, 2); });
            } else {
                pack_part(0, 1);
            }
            kernel += since(t0);
        }
        index_t offset = 0;
        for (size_t n = 0; n < sources.size(); ++n) {
            const LayerSource* s = sources[n];
            const index_t units = s->units();
            if (mapped[n] != nullptr) {
                offset += units;
                continue;
            }
            const index_t piece_images = piece_images_of(s, count);
            piece = &resize_huge_aligned(piece_storage, std::uint64_t(piece_images * positions * units),
                                         acc.description(), "one net's piece of the chunk")
                         ->value;
            for (index_t done = 0; done < count; done += piece_images) {
                const index_t k = std::min(piece_images, count - done);
                s->read_images(first + done, k, piece);
                const auto t0 = Clock::now();
                acc.add_block(piece, k * positions, units, done * positions, offset, units);
                kernel += since(t0);
                if (on_piece) on_piece(piece, (first + done) * positions, k * positions, units, offset);
            }
            offset += units;
        }
        const auto t0 = Clock::now();
        if (packed_in_place) {
            try {
                acc.end_chunk();
            } catch (const Error& e) {
                if (e.code() != ErrorCode::BadData) throw;
                explain_not_finite(first, count);
                throw;
            }
        } else {
            acc.end_chunk();
        }
        kernel += since(t0);
        if (kernel_seconds) *kernel_seconds += kernel;
        kernel = 0;
        if (after_chunk) after_chunk(first + count - first_image);
    }
}

namespace {

// The correlation from a symmetric comoment, in place: m2 becomes the
// correlation matrix (0 in rows/columns of dead units).
LayerStatistics finalize_from(const MomentAccumulator& acc, std::vector<double>&& m2) {
    CVG_REQUIRE(acc.count() > 0, InvalidArgument,
                "finalize_statistics (" + acc.description() + "): no samples were pushed");
    LayerStatistics s;
    s.block_widths = acc.block_widths();
    index_t offset = 0;
    for (index_t w : s.block_widths) {
        s.block_offsets.push_back(offset);
        offset += w;
    }
    const index_t t = acc.width();
    const double n = double(acc.count());
    s.samples = acc.count();
    s.mean = acc.mean();
    s.stddev.resize(size_t(t));
    s.dead.resize(size_t(t));
    std::vector<double> diag(static_cast<size_t>(t));
    for (index_t i = 0; i < t; ++i) {
        diag[size_t(i)] = m2[size_t(i * t + i)];
        const double var = std::max(0.0, diag[size_t(i)] / n);
        const double sd = std::sqrt(var);
        s.stddev[size_t(i)] = sd;
        s.dead[size_t(i)] = (sd == 0.0 || sd <= 4.0 * FLT_EPSILON * std::fabs(s.mean[size_t(i)])) ? 1 : 0;
    }
    // Threads only for wide layers: the first parallel region of a
    // process starts the OpenMP pool (milliseconds next to the
    // microseconds of a 128 x 128 matrix).
#pragma omp parallel for schedule(static) if (t >= 1024)
    for (index_t i = 0; i < t; ++i) {
        double* row = m2.data() + i * t;
        for (index_t j = 0; j < t; ++j) {
            if (s.dead[size_t(i)] || s.dead[size_t(j)]) {
                row[j] = 0.0;
                continue;
            }
            const double r = row[j] / std::sqrt(diag[size_t(i)] * diag[size_t(j)]);
            row[j] = std::clamp(r, -1.0, 1.0);
        }
    }
    s.correlation = std::move(m2);
    return s;
}

}  // namespace

LayerStatistics finalize_statistics(const MomentAccumulator& acc) {
    std::vector<double> m2 = acc.comoment();
    return finalize_from(acc, std::move(m2));
}

LayerStatistics finalize_statistics(MomentAccumulator&& acc) {
    std::vector<double> m2 = acc.take_comoment();
    return finalize_from(acc, std::move(m2));
}

namespace {
std::vector<double> block_of(const LayerStatistics& s, const std::vector<double>& full, int a, int b) {
    s.check_net(a, "net_a");
    s.check_net(b, "net_b");
    const index_t t = s.width();
    const index_t ra = s.block_widths[size_t(a)], cb = s.block_widths[size_t(b)];
    const index_t oa = s.block_offsets[size_t(a)], ob = s.block_offsets[size_t(b)];
    std::vector<double> out(size_t(ra * cb));
    for (index_t i = 0; i < ra; ++i)
        std::memcpy(out.data() + i * cb, full.data() + (oa + i) * t + ob, sizeof(double) * size_t(cb));
    return out;
}
}  // namespace

void LayerStatistics::check_net(int net, const char* what) const {
    CVG_REQUIRE(net >= 0 && net < nets(), InvalidArgument,
                std::string(what) + " = " + std::to_string(net) + ": net index out of range [0, " +
                    std::to_string(nets()) + ")");
}

std::vector<double> LayerStatistics::correlation_block(int net_a, int net_b) const {
    return block_of(*this, correlation, net_a, net_b);
}
std::vector<double> LayerStatistics::covariance_block(int net_a, int net_b) const {
    // Derived, not stored: a full T x T copy would cost as much memory as
    // the correlation matrix itself for the widest layers.
    std::vector<double> out = correlation_block(net_a, net_b);
    const index_t oa = block_offsets[size_t(net_a)], ob = block_offsets[size_t(net_b)];
    const index_t cb = block_widths[size_t(net_b)];
    for (size_t k = 0; k < out.size(); ++k)
        out[k] *= stddev[size_t(oa + index_t(k) / cb)] * stddev[size_t(ob + index_t(k) % cb)];
    return out;
}

std::vector<index_t> LayerStatistics::dead_units(int net) const {
    check_net(net, "net");
    std::vector<index_t> out;
    const index_t off = block_offsets[size_t(net)];
    for (index_t i = 0; i < block_widths[size_t(net)]; ++i)
        if (dead[size_t(off + i)]) out.push_back(i);
    return out;
}

}  // namespace convergent
