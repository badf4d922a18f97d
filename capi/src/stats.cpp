// C ABI: streaming statistics accumulator (paper Sec. 2).
#include <cmath>
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "capi_internal.hpp"
#include "convergent/atomic_file.hpp"
#include "convergent/statistics.hpp"

using namespace convergent;


namespace {

void check_handle(const cvg_stats* s) { capi::require_live(s, capi::HandleKind::Stats, "stats"); }

index_t offset_of(const cvg_stats* s, int32_t net) {
    index_t off = 0;
    for (int32_t i = 0; i < net; ++i) off += s->units[size_t(i)];
    return off;
}

// Rows per chunk of a batch merged straight from its DLPack tensors.
constexpr index_t kChunkRows = 4096;

bool top_k_on(const cvg_stats* s) { return s->top_k.units() > 0; }

// Records that images [begin, end) are in the top-k accumulator (ranges
// stay sorted and disjoint; adjacent ones are joined).
void add_image_range(cvg_stats* s, index_t begin, index_t end) {
    auto& r = s->image_ranges;
    r.emplace_back(begin, end);
    std::sort(r.begin(), r.end());
    std::vector<std::pair<index_t, index_t>> joined;
    for (const auto& x : r) {
        if (!joined.empty() && joined.back().second == x.first) joined.back().second = x.second;
        else joined.push_back(x);
    }
    r.swap(joined);
}

std::string describe_ranges(const std::vector<std::pair<index_t, index_t>>& ranges) {
    std::string out;
    for (const auto& x : ranges)
        out += (out.empty() ? "" : ", ") + std::string("[") + std::to_string(x.first) + ", " +
               std::to_string(x.second) + ")";
    return out.empty() ? "none" : out;
}

// Merges the pending batch once every net has pushed its rows. Nets pushed
// through DLPack are read from their tensors: in place when every net of the
// batch was (host: in pieces into the accumulator's chunks; device: by the
// backend), otherwise copied once into the side-by-side batch.
void flush_if_complete(cvg_stats* s) {
    for (index_t r : s->pending_rows)
        if (r != s->batch_rows) return;
    struct Reset {  // the batch is consumed whatever happens (deleters run)
        cvg_stats* s;
        ~Reset() {
            s->batch_rows = 0;
            std::fill(s->pending_rows.begin(), s->pending_rows.end(), 0);
            for (auto& m : s->managed) m.reset();
        }
    } reset{s};
    size_t managed = 0;
    bool device = false;
    for (const auto& m : s->managed)
        if (m) {
            ++managed;
            device = device || m->view.device == TensorDevice::Cuda;
        }
    const index_t width = s->acc.width();
    if (device) {
        // Every net of this batch is a CUDA tensor (mixing is refused at push).
        std::vector<DeviceChunkBlock> blocks;
        index_t column = 0;
        for (const auto& m : s->managed) {
            blocks.push_back(device_chunk_block(m->view, m->channels_last, column));
            column += blocks.back().units;
        }
        const capi::ManagedBatch& first = *s->managed.front();
        s->acc.push_device(*s->backend, blocks, first.view.shape[0], first.height, first.width);
    } else if (managed == s->managed.size() &&
               (!top_k_on(s) || s->managed.front()->source->positions() == s->top_k.positions())) {
        std::vector<const LayerSource*> sources;
        for (const auto& m : s->managed) sources.push_back(m->source.get());
        PieceFn on_piece;
        if (top_k_on(s)) {
            // Pieces hold whole images (push_sources), so each image's
            // maximum over positions is taken within one piece.
            const index_t positions = s->top_k.positions(), first_image = s->next_image;
            on_piece = [s, positions, first_image](const float* piece, index_t first_row, index_t rows, index_t units,
                                                   index_t column) {
                s->top_k.add(piece, first_image + first_row / positions, rows / positions, units, column, units);
            };
        }
        push_sources(s->acc, *s->backend, sources,
                     std::max<index_t>(1, kChunkRows / sources.front()->positions()), on_piece);
    } else {
        if (s->pending.size() != size_t(s->batch_rows * width)) s->pending.assign(size_t(s->batch_rows * width), 0.0f);
        index_t off = 0;
        std::vector<float> rows;
        for (size_t n = 0; n < s->managed.size(); ++n) {
            const index_t units = s->units[n];
            if (s->managed[n]) {
                const LayerSource& src = *s->managed[n]->source;
                rows.resize(size_t(src.samples() * units));
                src.read_images(0, src.images(), rows.data());
                for (index_t r = 0; r < s->batch_rows; ++r)
                    std::copy(rows.begin() + r * units, rows.begin() + (r + 1) * units,
                              s->pending.begin() + r * width + off);
            }
            off += units;
        }
        s->acc.push(*s->backend, s->pending.data(), s->batch_rows, width);
        if (top_k_on(s))
            s->top_k.add(s->pending.data(), s->next_image, s->batch_rows / s->top_k.positions(), width, 0, width);
    }
    if (top_k_on(s)) {
        const index_t images = s->batch_rows / s->top_k.positions();
        add_image_range(s, s->next_image, s->next_image + images);
        s->next_image += images;
    }
    s->finalized = false;
}

// With top-k on, a batch is whole images of the layer's map.
void check_top_k_rows(const cvg_stats* s, index_t rows, const std::string& what) {
    if (!top_k_on(s)) return;
    CVG_ARG(rows % s->top_k.positions() == 0,
            what + ": " + std::to_string(rows) + " rows is not a whole number of images of " +
                std::to_string(s->top_k.positions()) +
                " positions each (cvg_stats_enable_top_k): push whole images, row image * positions + position");
}

// The body of cvg_stats_create(_ctx) once the backend is chosen.
std::unique_ptr<cvg_stats> new_stats(int32_t n_nets, const int64_t* units) {
    CVG_ARG(n_nets >= 1, "n_nets must be >= 1");
    CVG_ARG(units != nullptr, "units is NULL");
    std::vector<index_t> widths(units, units + n_nets);
    for (index_t w : widths) CVG_ARG(w >= 1, "every net needs at least one unit");
    auto s = std::make_unique<cvg_stats>();
    s->units = widths;
    s->acc = MomentAccumulator(widths);
    s->pending_rows.assign(size_t(n_nets), 0);
    s->managed.resize(size_t(n_nets));
    return s;
}

// The top-k section that follows the moments in a saved accumulator (when
// top-k was on): magic, the next image, the image ranges, the accumulator.
constexpr char kTopKSection[8] = {'C', 'V', 'G', 'S', 'T', 'K', '0', '1'};

void save_top_k_section(std::ostream& out, const cvg_stats* s) {
    out.write(kTopKSection, sizeof kTopKSection);
    const auto put = [&](std::int64_t v) { out.write(reinterpret_cast<const char*>(&v), sizeof v); };
    put(s->next_image);
    put(std::int64_t(s->image_ranges.size()));
    for (const auto& r : s->image_ranges) put(r.first), put(r.second);
    s->top_k.save(out);
}

void load_top_k_section(std::istream& in, cvg_stats* s, const std::string& what) {
    char magic[sizeof kTopKSection];
    in.read(magic, sizeof magic);
    CVG_REQUIRE(in.good() && std::equal(magic, magic + sizeof magic, kTopKSection), BadData,
                what + ": unexpected bytes after the moments (not a top-k section)");
    const auto get = [&]() {
        std::int64_t v = 0;
        in.read(reinterpret_cast<char*>(&v), sizeof v);
        CVG_REQUIRE(in.good(), BadData, what + ": truncated top-k section");
        return v;
    };
    s->next_image = get();
    const std::int64_t n = get();
    CVG_REQUIRE(n >= 0 && n <= (std::int64_t(1) << 20), BadData, what + ": implausible top-k image ranges");
    std::int64_t last = -1;
    for (std::int64_t i = 0; i < n; ++i) {
        const std::int64_t begin = get(), end = get();
        CVG_REQUIRE(begin > last && end > begin, BadData, what + ": top-k image ranges out of order");
        s->image_ranges.emplace_back(begin, end);
        last = end;
    }
    s->top_k = TopKAccumulator::load(in, what);
    CVG_REQUIRE(s->top_k.units() == s->acc.width(), BadData,
                what + ": the top-k section's units differ from the moments'");
}

std::unique_ptr<cvg_stats> load_stats(const char* path) {
    CVG_ARG(path != nullptr, "path is NULL");
    std::ifstream f(path, std::ios::binary);
    CVG_REQUIRE(f.good(), Io, std::string("cannot open '") + path + "'");
    auto s = std::make_unique<cvg_stats>();
    const std::string what = std::string("file '") + path + "'";
    s->acc = MomentAccumulator::load(f, what);
    s->units = s->acc.block_widths();
    s->pending_rows.assign(s->units.size(), 0);
    s->managed.resize(s->units.size());
    if (f.peek() != std::char_traits<char>::eof()) load_top_k_section(f, s.get(), what);
    return s;
}

void require_no_pending(const cvg_stats* s) {
    CVG_REQUIRE(s->batch_rows == 0, InvalidArgument,
                "a batch is partially pushed: push the same rows for every net first");
}

}  // namespace

namespace convergent {
namespace capi {

void check_net(const cvg_stats* s, int32_t net, const char* name) {
    CVG_ARG(net >= 0 && size_t(net) < s->units.size(),
            std::string(name) + " = " + std::to_string(net) + " is out of range [0, " +
                std::to_string(s->units.size()) + ")");
}

const LayerStatistics& finalized_statistics(const cvg_stats* s) {
    check_handle(s);
    CVG_REQUIRE(s->finalized, InvalidArgument,
                "the statistics are not finalised: call cvg_stats_finalize after the last push/merge");
    return s->result;
}

}  // namespace capi
}  // namespace convergent

using capi::check_net;

namespace {
const LayerStatistics& finalized(const cvg_stats* s) { return capi::finalized_statistics(s); }
}  // namespace

extern "C" {

int cvg_stats_create(cvg_stats** out, int32_t n_nets, const int64_t* units, int32_t backend) {
    return capi::translate_exceptions("cvg_stats_create", [&] {
        CVG_ARG(out != nullptr, "out is NULL");
        *out = nullptr;
        auto s = new_stats(n_nets, units);
        s->backend = capi::default_backend(backend);
        *out = capi::publish(std::move(s), capi::HandleKind::Stats);
    });
}

int cvg_stats_create_ctx(cvg_stats** out, const cvg_context* ctx, int32_t n_nets, const int64_t* units) {
    return capi::translate_exceptions("cvg_stats_create_ctx", [&] {
        CVG_ARG(out != nullptr, "out is NULL");
        *out = nullptr;
        const std::shared_ptr<const Backend>& backend = capi::context_backend(ctx);
        auto s = new_stats(n_nets, units);
        s->backend = backend;
        *out = capi::publish(std::move(s), capi::HandleKind::Stats);
    });
}

void cvg_stats_destroy(cvg_stats* stats) { capi::destroy(stats, capi::HandleKind::Stats, "cvg_stats_destroy"); }

const char* cvg_stats_backend(const cvg_stats* stats) {
    if (!stats || !capi::is_live(stats, capi::HandleKind::Stats)) return "";
    return backend_kind_name(stats->backend->kind());
}

int cvg_stats_nets(const cvg_stats* stats, int32_t* out) {
    return capi::translate_exceptions("cvg_stats_nets", [&] {
        check_handle(stats);
        CVG_ARG(out != nullptr, "out is NULL");
        *out = int32_t(stats->units.size());
    });
}

int cvg_stats_units(const cvg_stats* stats, int32_t net, int64_t* out) {
    return capi::translate_exceptions("cvg_stats_units", [&] {
        check_handle(stats);
        check_net(stats, net, "net");
        CVG_ARG(out != nullptr, "out is NULL");
        *out = stats->units[size_t(net)];
    });
}

int cvg_stats_push(cvg_stats* stats, int32_t net, const float* data, int64_t rows, int64_t ld,
                   int32_t layout) {
    return capi::translate_exceptions("cvg_stats_push", [&] {
        check_handle(stats);
        check_net(stats, net, "net");
        const index_t units = stats->units[size_t(net)];
        capi::check_matrix(data, rows, units, ld, layout, "data");
        if (rows == 0) return;
        // Validate everything before touching the accumulator's state, so a
        // rejected batch leaves the handle as it was.
        CVG_ARG(stats->pending_rows[size_t(net)] == 0,
                "net " + std::to_string(net) + " already pushed its rows of this batch; push the other nets first");
        CVG_ARG(stats->batch_rows == 0 || rows == stats->batch_rows,
                "net " + std::to_string(net) + " pushed " + std::to_string(rows) +
                    " rows but this batch has " + std::to_string(stats->batch_rows) +
                    ": every net must push the same samples");
        check_top_k_rows(stats, rows, "data of net " + std::to_string(net));
        capi::require_finite(data, rows, units, ld, layout, "data of net " + std::to_string(net));
        if (stats->batch_rows == 0) stats->batch_rows = rows;
        const index_t width = stats->acc.width();
        if (stats->pending.size() != size_t(rows * width)) stats->pending.assign(size_t(rows * width), 0.0f);
        const index_t off = offset_of(stats, net);
        for (index_t r = 0; r < rows; ++r)
            for (index_t c = 0; c < units; ++c)
                stats->pending[size_t(r * width + off + c)] = capi::element(data, r, c, ld, layout);
        stats->pending_rows[size_t(net)] = rows;
        flush_if_complete(stats);
    });
}

int cvg_stats_push_dlpack(cvg_stats* stats, int32_t net, DLManagedTensor* tensor, int32_t channels_last) {
    // Owned from here on: released on every error path, or when merged.
    auto owned = std::make_unique<capi::ManagedTensor>(tensor);
    return capi::translate_exceptions("cvg_stats_push_dlpack", [&] {
        check_handle(stats);
        check_net(stats, net, "net");
        CVG_ARG(tensor != nullptr, "tensor is NULL");
        CVG_ARG(channels_last == CVG_CHANNELS_FIRST || channels_last == CVG_CHANNELS_LAST,
                "channels_last = " + std::to_string(channels_last) + " (CVG_CHANNELS_FIRST or CVG_CHANNELS_LAST)");
        const std::string what = "DLPack tensor of net " + std::to_string(net);
        auto batch = std::make_unique<capi::ManagedBatch>();
        batch->view = tensor_from_dlpack(tensor->dl_tensor, what);
        batch->channels_last = channels_last == CVG_CHANNELS_LAST;
        const TensorView& v = batch->view;
        CVG_ARG(v.shape.size() == 2 || v.shape.size() == 4,
                what + ": rank " + std::to_string(v.shape.size()) + "; a batch is (rows, units) or " +
                    (batch->channels_last ? "(B, H, W, C)" : "(B, C, H, W)"));
        for (index_t d : v.shape) CVG_ARG(d >= 0, what + ": negative extent");
        for (index_t d : v.strides) CVG_ARG(d >= 0, what + ": negative stride (pass a copy with positive strides)");
        const bool rank4 = v.shape.size() == 4;
        const index_t units = !rank4 ? v.shape[1] : batch->channels_last ? v.shape[3] : v.shape[1];
        batch->height = !rank4 ? 1 : batch->channels_last ? v.shape[1] : v.shape[2];
        batch->width = !rank4 ? 1 : batch->channels_last ? v.shape[2] : v.shape[3];
        CVG_ARG(units == stats->units[size_t(net)], what + " has " + std::to_string(units) + " units but net " +
                                                        std::to_string(net) + " has " +
                                                        std::to_string(stats->units[size_t(net)]));
        const index_t rows = v.shape[0] * batch->height * batch->width;
        if (rows == 0) return;
        check_top_k_rows(stats, rows, what);
        if (top_k_on(stats) && rank4)
            CVG_ARG(batch->height * batch->width == stats->top_k.positions(),
                    what + ": its map has " + std::to_string(batch->height * batch->width) +
                        " positions but top-k was enabled for " + std::to_string(stats->top_k.positions()));
        CVG_ARG(stats->pending_rows[size_t(net)] == 0,
                "net " + std::to_string(net) + " already pushed its rows of this batch; push the other nets first");
        CVG_ARG(stats->batch_rows == 0 || rows == stats->batch_rows,
                "net " + std::to_string(net) + " pushed " + std::to_string(rows) + " rows but this batch has " +
                    std::to_string(stats->batch_rows) + ": every net must push the same samples");
        for (size_t n = 0; n < stats->managed.size(); ++n)
            if (stats->pending_rows[n] > 0) {
                const bool other_device = stats->managed[n] && stats->managed[n]->view.device == TensorDevice::Cuda;
                CVG_ARG(other_device == (v.device == TensorDevice::Cuda),
                        what + ": this batch mixes CUDA tensors with host data; push every net of a batch on the "
                               "same device");
            }
        if (v.device == TensorDevice::Cuda) {
            CVG_REQUIRE(!top_k_on(stats), Unsupported,
                        what + " is in CUDA device memory, but the top-k inputs (cvg_stats_enable_top_k) are "
                               "gathered on the host; push host tensors, or create the accumulator without top-k");
            CVG_REQUIRE(stats->backend->kind() == BackendKind::Cuda, Unsupported,
                        what + " is in CUDA device memory but the accumulator runs on the " +
                            backend_kind_name(stats->backend->kind()) + " backend" +
                            (cuda_compiled_in() ? "" : " (this convergent has no CUDA backend)") +
                            "; create it on the CUDA backend, or move the tensor to the host explicitly");
            for (const auto& m : stats->managed)
                if (m) CVG_ARG(m->height == batch->height && m->width == batch->width && m->view.shape[0] == v.shape[0],
                               what + ": its inputs and positions differ from the other nets' in this batch");
        } else {
            batch->source = std::make_unique<LayerSource>("net " + std::to_string(net), "dlpack", tensor_array(v, what),
                                                          ActivationLayout{batch->channels_last});
            // NaN/Inf check now, reading in pieces (no copy), so a rejected
            // batch leaves the accumulator as it was.
            const LayerSource& src = *batch->source;
            const index_t per_piece = std::max<index_t>(1, (index_t(1) << 17) / std::max<index_t>(1, src.positions() * units));
            std::vector<float> piece(size_t(std::min(per_piece, src.images()) * src.positions() * units));
            for (index_t i = 0; i < src.images(); i += per_piece)
                src.read_images(i, std::min(per_piece, src.images() - i), piece.data());
        }
        batch->tensor = std::move(owned);
        if (stats->batch_rows == 0) stats->batch_rows = rows;
        stats->managed[size_t(net)] = std::move(batch);
        stats->pending_rows[size_t(net)] = rows;
        flush_if_complete(stats);
    });
}

int cvg_stats_merge(cvg_stats* stats, const cvg_stats* other) {
    return capi::translate_exceptions("cvg_stats_merge", [&] {
        check_handle(stats);
        capi::require_live(other, capi::HandleKind::Stats, "other");
        CVG_ARG(stats != other, "cannot merge an accumulator into itself");
        require_no_pending(stats);
        require_no_pending(other);
        CVG_ARG(top_k_on(stats) == top_k_on(other),
                std::string("top-k is enabled on ") + (top_k_on(stats) ? "stats" : "other") + " but not on " +
                    (top_k_on(stats) ? "other" : "stats") + ": enable it on both, with the same k and positions");
        if (top_k_on(stats)) {
            CVG_ARG(stats->top_k.k() == other->top_k.k() && stats->top_k.positions() == other->top_k.positions(),
                    "the accumulators' top-k differ in k or positions");
            // Merged top-k lists are exact only over disjoint images.
            for (const auto& a : stats->image_ranges)
                for (const auto& b : other->image_ranges)
                    CVG_ARG(a.second <= b.first || b.second <= a.first,
                            "the images of the two accumulators overlap (stats: " + describe_ranges(stats->image_ranges) +
                                "; other: " + describe_ranges(other->image_ranges) +
                                "): give each process its own first_image in cvg_stats_enable_top_k");
        }
        stats->acc.merge(other->acc);
        if (top_k_on(stats)) {
            stats->top_k.merge(other->top_k);
            for (const auto& b : other->image_ranges) add_image_range(stats, b.first, b.second);
        }
        stats->finalized = false;
    });
}

int cvg_stats_finalize(cvg_stats* stats) {
    return capi::translate_exceptions("cvg_stats_finalize", [&] {
        check_handle(stats);
        require_no_pending(stats);
        stats->result = finalize_statistics(stats->acc);
        stats->finalized = true;
    });
}

int cvg_stats_samples(const cvg_stats* stats, int64_t* out) {
    return capi::translate_exceptions("cvg_stats_samples", [&] {
        check_handle(stats);
        CVG_ARG(out != nullptr, "out is NULL");
        *out = stats->acc.count();
    });
}

// capacity == nullptr: the pre-capacity entry points (cvg_stats_mean/std),
// which must trust out to hold units[net] values.
static int read_vector(const char* fn, const cvg_stats* stats, int32_t net, double* out,
                       const int64_t* capacity, bool mean) {
    return capi::translate_exceptions(fn, [&] {
        check_handle(stats);
        check_net(stats, net, "net");
        CVG_ARG(out != nullptr, "out is NULL");
        const LayerStatistics& r = finalized(stats);
        const index_t off = r.block_offsets[size_t(net)];
        const index_t width = r.block_widths[size_t(net)];
        if (capacity != nullptr)
            CVG_ARG(*capacity >= width, "capacity " + std::to_string(*capacity) + " is smaller than the " +
                                            std::to_string(width) + " units of net " + std::to_string(net));
        const std::vector<double>& src = mean ? r.mean : r.stddev;
        std::copy(src.begin() + off, src.begin() + off + width, out);
    });
}

int cvg_stats_mean(const cvg_stats* stats, int32_t net, double* out) {
    return read_vector("cvg_stats_mean", stats, net, out, nullptr, true);
}
int cvg_stats_std(const cvg_stats* stats, int32_t net, double* out) {
    return read_vector("cvg_stats_std", stats, net, out, nullptr, false);
}
int cvg_stats_mean_n(const cvg_stats* stats, int32_t net, double* out, int64_t capacity) {
    return read_vector("cvg_stats_mean_n", stats, net, out, &capacity, true);
}
int cvg_stats_std_n(const cvg_stats* stats, int32_t net, double* out, int64_t capacity) {
    return read_vector("cvg_stats_std_n", stats, net, out, &capacity, false);
}

int cvg_stats_correlation(const cvg_stats* stats, int32_t net_a, int32_t net_b, double* out,
                          int64_t ld, int32_t layout) {
    return capi::translate_exceptions("cvg_stats_correlation", [&] {
        check_handle(stats);
        check_net(stats, net_a, "net_a");
        check_net(stats, net_b, "net_b");
        const index_t rows = stats->units[size_t(net_a)], cols = stats->units[size_t(net_b)];
        const std::vector<double> block = finalized(stats).correlation_block(net_a, net_b);
        capi::write_matrix(block.data(), rows, cols, out, ld, layout, "out");
    });
}

int cvg_stats_dead_units(const cvg_stats* stats, int32_t net, int64_t* count, int64_t* out) {
    return capi::translate_exceptions("cvg_stats_dead_units", [&] {
        check_handle(stats);
        check_net(stats, net, "net");
        CVG_ARG(count != nullptr, "count is NULL");
        const std::vector<index_t> dead = finalized(stats).dead_units(net);
        *count = int64_t(dead.size());
        if (out) std::copy(dead.begin(), dead.end(), out);
    });
}

int cvg_stats_dead_units_n(const cvg_stats* stats, int32_t net, int64_t* count, int64_t* out, int64_t capacity) {
    return capi::translate_exceptions("cvg_stats_dead_units_n", [&] {
        check_handle(stats);
        check_net(stats, net, "net");
        capi::fill_sized(finalized(stats).dead_units(net), count, out, capacity, "dead units");
    });
}

int cvg_stats_save(const cvg_stats* stats, const char* path) {
    return capi::translate_exceptions("cvg_stats_save", [&] {
        check_handle(stats);
        CVG_ARG(path != nullptr, "path is NULL");
        require_no_pending(stats);
        AtomicFile file(path);
        stats->acc.save(file.stream());
        if (top_k_on(stats)) save_top_k_section(file.stream(), stats);
        file.commit();
    });
}

int cvg_stats_load(cvg_stats** out, const char* path, int32_t backend) {
    return capi::translate_exceptions("cvg_stats_load", [&] {
        CVG_ARG(out != nullptr, "out is NULL");
        *out = nullptr;
        CVG_ARG(path != nullptr, "path is NULL");
        // The backend first, as before: an unusable one fails before the file is read.
        std::shared_ptr<const Backend> b = capi::default_backend(backend);
        auto s = load_stats(path);
        s->backend = std::move(b);
        *out = capi::publish(std::move(s), capi::HandleKind::Stats);
    });
}

int cvg_stats_load_ctx(cvg_stats** out, const cvg_context* ctx, const char* path) {
    return capi::translate_exceptions("cvg_stats_load_ctx", [&] {
        CVG_ARG(out != nullptr, "out is NULL");
        *out = nullptr;
        const std::shared_ptr<const Backend>& backend = capi::context_backend(ctx);
        auto s = load_stats(path);
        s->backend = backend;
        *out = capi::publish(std::move(s), capi::HandleKind::Stats);
    });
}

int cvg_stats_enable_top_k(cvg_stats* stats, int64_t k, int64_t positions, int64_t first_image) {
    return capi::translate_exceptions("cvg_stats_enable_top_k", [&] {
        check_handle(stats);
        CVG_ARG(k >= 1 && k <= 1024, "k = " + std::to_string(k) + " (1..1024)");
        CVG_ARG(positions >= 1, "positions = " + std::to_string(positions) + " (H * W of a conv map, 1 for dense)");
        CVG_ARG(first_image >= 0, "first_image = " + std::to_string(first_image) + " (>= 0)");
        CVG_ARG(!top_k_on(stats), "top-k is already enabled on this accumulator");
        require_no_pending(stats);
        CVG_ARG(stats->acc.count() == 0,
                "enable top-k before the first push: this accumulator already holds " +
                    std::to_string(stats->acc.count()) + " samples");
        stats->top_k = TopKAccumulator(stats->acc.width(), k, positions);
        stats->next_image = first_image;
    });
}

int cvg_stats_top_k(const cvg_stats* stats, int32_t net, int64_t* images, int64_t* positions, float* values,
                    int64_t capacity) {
    return capi::translate_exceptions("cvg_stats_top_k", [&] {
        check_handle(stats);
        check_net(stats, net, "net");
        CVG_ARG(top_k_on(stats), "top-k is not enabled on this accumulator (cvg_stats_enable_top_k)");
        require_no_pending(stats);
        CVG_ARG(images != nullptr, "images is NULL");
        const index_t k = stats->top_k.k(), units = stats->units[size_t(net)], off = offset_of(stats, net);
        CVG_ARG(capacity >= units * k, "capacity " + std::to_string(capacity) + " is smaller than units x k = " +
                                           std::to_string(units * k));
        const auto copy = [&](const auto& all, auto* out) {
            std::copy(all.begin() + off * k, all.begin() + (off + units) * k, out);
        };
        const TopKAccumulator::Lists lists = stats->top_k.lists();
        copy(lists.images, images);
        if (positions) copy(lists.positions, positions);
        if (values) copy(lists.values, values);
    });
}

}  // extern "C"
