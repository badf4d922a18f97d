#include "convergent/compare.hpp"

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <set>

#include "allocation.hpp"
#include "analysis_step.hpp"
#include "convergent/atomic_file.hpp"
#include "convergent/cross_layers.hpp"
#include "convergent/npy.hpp"
#include "convergent/patches.hpp"
#include "convergent/statistics.hpp"
#include "distributed.hpp"
#include "staged_directory.hpp"

namespace fs = std::filesystem;

namespace convergent {

// ---- the pipeline -------------------------------------------------------------
// One row per analysis, in the order they run. A step runs when its options
// enable it or when a running step requires its results.
const std::vector<AnalysisStep>& analysis_steps() {
    static const std::vector<AnalysisStep> steps = {
        statistics_step(),        // Sec. 2
        correlation_matching_step(),  // Sec. 3.1
        similarity_indices_step(),    // whole-layer CKA, CCA family, Procrustes (beside Sec. 3.1)
        mutual_information_step(),    // Sec. 3.2
        sparse_prediction_step(),     // Sec. 4, few-to-one
        clustering_step(),            // Sec. 4, many-to-many
        cycle_consistency_step(),     // Sec. 3.1, >= 3 nets
        mean_activation_step(),       // abstract, finding 3
        top_patches_step(),           // Figs. 2, 4-7, 12: what the units see
        resampling_step(),            // intervals, held-out scores and nulls of the figures above
    };
    return steps;
}

// The run-level steps, after the layers: each reads every layer it needs
// itself (analysis_step.hpp, RunStep).
const std::vector<RunStep>& run_steps() {
    static const std::vector<RunStep> steps = {
        cross_layers_step(),  // Nguyen et al. 2021, Sec. 3.1
    };
    return steps;
}

bool run_steps_enabled(const CompareOptions& options) {
    for (const RunStep& s : run_steps())
        if (s.enabled(options)) return true;
    return false;
}

void RunContext::write_array(const std::string& dir, const std::string& name, const std::vector<float>& values,
                             const std::vector<index_t>& shape) {
    if (std::find(dirs_.begin(), dirs_.end(), dir) == dirs_.end()) {
        sink_.begin_layer(dir);
        dirs_.push_back(dir);
    }
    sink_.write_array(dir + "/" + name, values.data(), shape);
}

// ---- LayerContext -------------------------------------------------------------

nlohmann::json& LayerContext::pair_json(int a, int b) {
    nlohmann::json& pairs = json_["pairs"];
    const std::string key = pair_key(a, b);
    if (!pairs.contains(key)) pairs[key] = nlohmann::json::object();
    return pairs[key];
}

void LayerContext::write_pair_array(int a, int b, const std::string& kind, const std::vector<float>& values,
                                    const std::vector<index_t>& shape) {
    const std::string stem = data_.layer + "/" + pair_key(a, b) + "." + kind + ".npy";
    sink_.write_array(stem, values.data(), shape);
    json_["files"][pair_key(a, b)][kind] = stem;
}

void LayerContext::write_pair_matrix(int a, int b, const std::string& kind, const std::vector<double>& m,
                                     index_t rows, index_t cols) {
    write_pair_array(a, b, kind, std::vector<float>(m.begin(), m.end()), {rows, cols});
}

// ---- inputs and names -------------------------------------------------------

namespace {

bool valid_utf8(const std::string& s) {
    size_t i = 0;
    while (i < s.size()) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        int extra = c < 0x80 ? 0 : (c >> 5) == 0x6 ? 1 : (c >> 4) == 0xE ? 2 : (c >> 3) == 0x1E ? 3 : -1;
        if (extra < 0 || (extra == 1 && c < 0xC2) || i + size_t(extra) >= s.size() + (extra == 0 ? 1 : 0))
            return false;
        std::uint32_t cp = extra == 0 ? c : c & (0x3F >> extra);
        for (int k = 1; k <= extra; ++k) {
            const unsigned char cc = static_cast<unsigned char>(s[i + size_t(k)]);
            if ((cc >> 6) != 0x2) return false;
            cp = (cp << 6) | (cc & 0x3F);
        }
        if ((extra == 2 && cp < 0x800) || (extra == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += size_t(extra) + 1;
    }
    return true;
}

// Shared by net and layer names; returns the problem or "".
std::string name_problem(const std::string& name) {
    if (name.empty()) return "is empty";
    if (!valid_utf8(name)) return "is not valid UTF-8";
    for (unsigned char c : name)
        if (c < 0x20 || c == 0x7F) return "contains a control character";
    if (name.find_first_of("/\\") != std::string::npos) return "contains a path separator";
    if (name == "." || name == "..") return "is a relative directory name";
    return "";
}

// A printable rendering of a name that may not be UTF-8 (for messages).
std::string printable(const std::string& s) {
    std::string out;
    static const char* hex = "0123456789abcdef";
    for (unsigned char c : s) {
        if (c >= 0x20 && c < 0x7F && c != '\\') out += char(c);
        else out += std::string("\\x") + hex[c >> 4] + hex[c & 15];
    }
    return out;
}

}  // namespace

void validate_net_name(const std::string& name, const std::string& what) {
    std::string problem = name_problem(name);
    if (problem.empty() && name.find('~') != std::string::npos)
        problem = "contains '~', which joins net names in pair keys (\"a~b\"); name the net with NAME=PATH";
    CVG_REQUIRE(problem.empty(), InvalidArgument, what + ": net name '" + printable(name) + "' " + problem);
}

void validate_layer_name(const std::string& name, const std::string& what) {
    std::string problem = name_problem(name);
    if (problem.empty() && name[0] == '.') problem = "starts with '.' (reserved for temporary files)";
    if (problem.empty() && (name == "summary.json" || name == "report.html"))
        problem = "collides with an output file of the results directory";
    CVG_REQUIRE(problem.empty(), BadData,
                what + ": layer name '" + printable(name) + "' " + problem + " (layer names become directories of the output)");
}

NetInput parse_net_input(const std::string& text) {
    const size_t eq = text.find('=');
    if (eq == std::string::npos || eq == 0) return {"", text};
    const std::string name = text.substr(0, eq);
    if (name.find('/') != std::string::npos) return {"", text};
    struct stat st {};
    if (::stat(text.c_str(), &st) == 0) return {"", text};  // a path that happens to hold '='
    return {name, text.substr(eq + 1)};
}

// ---- the layer pass -----------------------------------------------------------

namespace {

// Names of the net's layers, for messages.
std::string layer_list(const NetSource& net) {
    std::string out;
    for (const std::string& l : net.layer_names()) out += (out.empty() ? "" : ", ") + l;
    return out;
}

// The layers of the per-layer steps: the requested ones, or every layer;
// each must exist in every net (a layer missing from one net is an error
// naming it). With a run-level step (--cross-layers), whose layers need not
// be common, they are instead the requested (or all) layers that every net
// has, possibly none; a requested layer must exist in some net.
std::vector<std::string> select_layers(const std::vector<NetSource>& nets, const CompareOptions& options) {
    const std::vector<std::string>& requested = options.layers;
    std::vector<std::string> layers = requested;
    if (run_steps_enabled(options)) {
        for (const std::string& l : requested) {
            bool found = false;
            for (const NetSource& net : nets) found = found || net.has_layer(l);
            std::string have;
            for (const NetSource& net : nets)
                have += (have.empty() ? "" : "; ") + net.name() + " (" + net.path() + "): " + layer_list(net);
            CVG_REQUIRE(found, BadData, "--layers names layer '" + l + "', which no net has (" + have + ")");
        }
        const std::vector<std::string> candidates = requested.empty() ? nets.front().layer_names() : requested;
        layers.clear();
        for (const std::string& l : candidates) {
            bool everywhere = true;
            for (const NetSource& net : nets) everywhere = everywhere && net.has_layer(l);
            if (everywhere) layers.push_back(l);
        }
    } else if (layers.empty()) {
        layers = nets.front().layer_names();
        for (size_t n = 1; n < nets.size(); ++n) {
            const std::vector<std::string> other = nets[n].layer_names();
            for (const auto& l : other)
                CVG_REQUIRE(nets.front().has_layer(l), BadData,
                            "net '" + nets[n].name() + "' (" + nets[n].path() + ") has layer '" + l + "' but net '" +
                                nets.front().name() + "' (" + nets.front().path() +
                                ") does not; pass --layers to compare a subset");
        }
    }
    for (const auto& l : layers) {
        validate_layer_name(l, "net '" + nets.front().name() + "' (" + nets.front().path() + ")");
        for (const auto& net : nets) net.layer(l);  // throws naming the net and its layers
    }
    return layers;
}

}  // namespace

std::vector<std::string> run_layers(const NetSource& net, const CompareOptions& options) {
    std::vector<std::string> layers;
    for (const std::string& l : options.layers.empty() ? net.layer_names() : options.layers)
        if (net.has_layer(l)) layers.push_back(l);
    CVG_REQUIRE(!layers.empty(), BadData,
                "net '" + net.name() + "' (" + net.path() + ") has none of the layers --layers names (it has: " +
                    layer_list(net) + ")");
    for (const std::string& l : layers) validate_layer_name(l, "net '" + net.name() + "' (" + net.path() + ")");
    return cross_layer_axis_order(layers);
}

namespace {

// Every net must show the same inputs: same images and positions per image.
void check_aligned(const std::vector<const LayerSource*>& sources) {
    const LayerSource& first = *sources.front();
    for (const LayerSource* s : sources) {
        CVG_REQUIRE(s->images() == first.images(), BadData,
                    "layer '" + s->layer_name() + "': net '" + s->net_name() + "' (" + s->what() + ") has " +
                        std::to_string(s->images()) + " inputs but net '" + first.net_name() + "' (" + first.what() +
                        ") has " + std::to_string(first.images()) +
                        "; every net must see the same inputs in the same order");
        CVG_REQUIRE(s->positions() == first.positions(), BadData,
                    "layer '" + s->layer_name() + "': net '" + s->net_name() + "' (" + s->what() + ") has " +
                        std::to_string(s->positions()) + " spatial positions per input but net '" + first.net_name() +
                        "' has " + std::to_string(first.positions()));
    }
    CVG_REQUIRE(first.samples() >= 2, BadData,
                "layer '" + first.layer_name() + "' has fewer than 2 samples (" + first.what() + ")");
}

constexpr double kMiB = 1024.0 * 1024.0;

// The memory budget in bytes: the option, or 3/4 of the physical memory (or
// of the address-space limit when one is set and lower).
double memory_budget(const CompareOptions& options) {
    if (options.max_memory_mb > 0) return double(options.max_memory_mb) * kMiB;
    double physical = double(::sysconf(_SC_PHYS_PAGES)) * double(::sysconf(_SC_PAGESIZE));
    struct rlimit limit {};
    if (::getrlimit(RLIMIT_AS, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY)
        physical = std::min(physical, double(limit.rlim_cur));
    return physical > 0 ? 0.75 * physical : 1e300;
}

std::string mib(double bytes) { return std::to_string(index_t(std::ceil(bytes / kMiB))) + " MiB"; }

// Rows per chunk at most: the accumulator's float64 chunk stays small (16 MiB
// for 512 units, a quarter of the T x T moments for 16384) and warm in cache
// between packing and dsyrk, and dsyrk still gets a long inner dimension;
// the O(T^2) Chan correction per chunk is 1/4096 of the chunk's O(rows T^2).
constexpr index_t kChunkRowsMax = 4096;

// The memory plan of one layer: the parts that do not depend on the chunk
// (the T x T float64 moments, turned into the correlation in place; the MI
// sample and its codes; the largest pair's analysis matrices) and, per input
// image, the chunk buffers (the accumulator's float64 chunk and the float32
// piece being read: 12 bytes per unit and position).
struct ChunkPlan {
    index_t chunk_images = 1;
    double fixed_bytes = 0, per_image_bytes = 0;
    double peak_bytes() const { return fixed_bytes + per_image_bytes * double(chunk_images); }
};

// Returns the images per chunk: at most chunk_rows and kChunkRowsMax rows'
// worth, at least one; fails naming the layer, its file and the estimate
// before anything is allocated.
ChunkPlan plan_chunks(const std::vector<const LayerSource*>& sources, index_t width, const CompareOptions& options,
                      index_t mi_rows_total) {
    const LayerSource& first = *sources.front();
    index_t widest = 0;
    for (const LayerSource* s : sources) widest = std::max(widest, s->units());
    const double t = double(width), w = double(widest), pair = 2.0 * w;
    const double mi_rows = double(mi_rows_total);
    ChunkPlan plan;
    plan.fixed_bytes = 8.0 * t * t                     // comoment, then the correlation in its place
                       + (options.statistics_float32 ? 4.0 * t * t : 0.0)  // a float32 slice's products
                       + (options.top_patches.enabled ? 24.0 * double(options.top_patches.k) * t : 0.0)  // top-k
                       + 5.0 * mi_rows * t             // MI sample (float32) and its codes
                       + std::max(options.clustering.enabled ? 4.0 * 8.0 * pair * pair  // graph, Laplacian, eigenvectors
                                                             : 3.0 * 8.0 * w * w,      // a pair's block, its copies
                                  // similarity indices: a pair's blocks, eigenvectors, whitening, SVD factors
                                  options.similarity_indices.enabled ? 12.0 * 8.0 * w * w : 0.0);
    // With the similarity indices, the per-sample terms of debiased CKA
    // keep a float32 copy of the chunk (4 more bytes per unit and position).
    plan.per_image_bytes = (options.similarity_indices.enabled ? 4.0 : 3.0) * 4.0 * double(first.positions()) * t;
    const double resampling_bytes = resampling_memory_bytes(options, width, first.images());
    plan.fixed_bytes += resampling_bytes;
    plan.per_image_bytes += resampling_bytes > 0 ? 4.0 * double(first.positions()) * t : 0.0;  // the blocks' chunk copy
    const double budget = memory_budget(options);
    const std::string where = "layer '" + first.layer_name() + "' (" + first.what() + ", " +
                              std::to_string(sources.size()) + " nets, " + std::to_string(width) +
                              " units together, " + std::to_string(first.positions()) + " positions per input)";
    const double fixed = plan.fixed_bytes, per_image = plan.per_image_bytes;
    CVG_REQUIRE(resampling_bytes == 0 || fixed + per_image <= budget, OutOfMemory,
                "out of memory: " + where + " needs " + mib(fixed + per_image) + ", of which " +
                    mib(resampling_bytes) + " for the bootstrap / held-out block moments (" +
                    resampling_memory_note(options, width, first.images()) + "), more than the memory budget of " +
                    mib(budget) + "; use fewer --bootstrap-blocks or raise --max-memory / CVG_OPT_MAX_MEMORY_MB");
    CVG_REQUIRE(fixed + per_image <= budget, OutOfMemory,
                "out of memory: " + where + " needs at least " + mib(fixed + per_image) + " (" + mib(fixed) +
                    " of statistics and analysis matrices + " + mib(per_image) +
                    " per input image), more than the memory budget of " + mib(budget) +
                    " (--max-memory / CVG_OPT_MAX_MEMORY_MB)");
    const index_t rows = std::min(options.chunk_rows, kChunkRowsMax);
    const index_t by_rows = std::max<index_t>(1, rows / first.positions());
    const double fit = std::floor((budget - fixed) / per_image);
    plan.chunk_images =
        std::max<index_t>(1, std::min<index_t>({first.images(), by_rows, fit >= 9e18 ? by_rows : index_t(fit)}));
    return plan;
}

// A seeded pseudo-random integer in [0, n) for row g (splitmix64): the
// reservoir decision of a row is a function of the row alone, so every net
// takes the same decisions without sharing state.
index_t reservoir_slot(std::uint64_t seed, index_t g, index_t n) {
    std::uint64_t z = seed + 0x9E3779B97F4A7C15ull * (std::uint64_t(g) + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return index_t(z % std::uint64_t(n));
}

// One streaming pass over a layer, fed with aligned batches of every net
// (the whole file at once for run_compare, one batch at a time for a
// CompareSession): moments into one accumulator over all nets' units, and
// the requested sample rows. Each net is read a piece (a few inputs) at a
// time and handed straight to the accumulator, which converts and centres
// it into its chunk once (no side-by-side float32 copy of the chunk).
class LayerPass {
public:
    // total_images: the inputs the layer will get (0: unknown, then the
    // sample rows are a seeded reservoir sample).
    LayerPass(const Backend& backend, std::string layer, std::vector<std::string> nets, std::vector<index_t> widths,
              index_t positions, const CompareOptions& options, const LayerPassRequest& request,
              index_t total_images)
        : backend_(backend), options_(options), acc_(widths, layer, nets) {
        acc_.set_float32_products(options.statistics_float32);
        d_.layer = std::move(layer);
        d_.nets = std::move(nets);
        d_.widths = std::move(widths);
        d_.positions = positions;
        for (index_t w : d_.widths) width_ += w;
        sample_count_ = request.mi_sample_rows;
        reservoir_ = total_images == 0;
        if (request.per_sample_terms) {
            PerSampleTerms& t = d_.per_sample;
            per_sample_ = true;
            t.block_widths = d_.widths;
            const size_t nets = d_.widths.size();
            t.sums.assign(size_t(width_), 0.0);
            t.norm_sums.assign(nets, 0.0);
            t.norm_products.assign(nets * nets, 0.0);
            resize_or_fail(t.weighted_sums, nets * size_t(width_), description(), "the per-sample sums");
            std::fill(t.weighted_sums.begin(), t.weighted_sums.end(), 0.0);
        }
        if (request.resampling_blocks > 0) {
            blocks_ = true;
            const index_t blocks = total_images > 0 ? std::min(request.resampling_blocks, total_images)
                                                    : request.resampling_blocks;
            d_.blocks = BlockMoments(d_.widths, blocks, positions, options.seed, d_.layer);
        }
        if (request.top_k > 0) {
            top_k_ = true;
            d_.top_k = TopKAccumulator(width_, request.top_k, positions);
        }
        if (sample_count_ > 0 && !reservoir_) {
            // Sec. 3.2 footnote 6: the same seeded sample rows of every net,
            // gathered during this pass so the data is read once.
            d_.mi_rows = sample_rows(total_images * positions, sample_count_, options.seed);
            resize_or_fail(d_.mi_values, d_.mi_rows.size() * size_t(width_), description(), "the mutual-information sample");
        }
    }

    std::string description() const { return "layer '" + d_.layer + "'"; }
    index_t images() const { return images_; }
    // Seconds of the statistics kernel in add() (push_sources: packing, dsyrk, merges).
    double kernel_seconds() const { return kernel_seconds_; }

    // Adds every image of the aligned sources (one per net, same images
    // and positions), chunk_images at a time. after_chunk(images done in
    // this call) is called after each chunk. With image_count >= 0, only
    // images [first_image, first_image + image_count): one rank's slice of a
    // distributed run (collective.hpp), whose rows keep their global indices.
    void add(const std::vector<const LayerSource*>& sources, index_t chunk_images,
             const std::function<void(index_t)>& after_chunk, index_t first_image = 0, index_t image_count = -1) {
        const index_t row0 = images_ * d_.positions;  // global row of the sources' first row
        PieceFn on_piece;
        d_.map_width = sources.front()->map_width();
        if (sample_count_ > 0 || per_sample_ || top_k_ || blocks_)
            on_piece = [&](const float* piece, index_t first_row, index_t rows, index_t units, index_t column) {
                if (blocks_) d_.blocks.add_piece(piece, row0 + first_row, rows, units, column);
                if (sample_count_ > 0) gather(piece, row0 + first_row, rows, units, units, column);
                if (per_sample_) keep_piece(piece, first_row, rows, units, column);
                // Pieces hold whole images (push_sources).
                if (top_k_)
                    d_.top_k.add(piece, (row0 + first_row) / d_.positions, rows / d_.positions, units, column, units);
            };
        if (per_sample_) {
            // The chunk copy at its full size once (not grown piece by piece).
            const index_t chunk_rows = std::min(chunk_images, sources.front()->images()) * d_.positions;
            if (chunk_rows_values_.size() < size_t(chunk_rows * width_))
                resize_or_fail(chunk_rows_values_, size_t(chunk_rows * width_), description(),
                               "the chunk copy of the per-sample terms");
        }
        const std::function<void(index_t)> chunk_done = [&](index_t done) {
            if (per_sample_) add_per_sample_terms();
            if (blocks_) d_.blocks.end_chunk();
            if (after_chunk) after_chunk(done);
        };
        push_sources(acc_, backend_, sources, chunk_images, on_piece, chunk_done, first_image, image_count,
                     &kernel_seconds_);
        images_ += image_count < 0 ? sources.front()->images() : image_count;
    }

    // A distributed run: the per-sample sums of every rank are taken around
    // the reference a single process takes (the mean of the first chunk,
    // first_chunk_reference), so they add up. Set before add().
    void set_per_sample_reference(std::vector<double> reference) {
        if (per_sample_) d_.per_sample.reference = std::move(reference);
    }

    // A distributed run: every rank added its slice [first_image, end_image)
    // of the total_images; rank 0's accumulators become the rank-ordered
    // merge of all ranks' (distributed.hpp). A new accumulator of the pass
    // that has save/load/merge is reduced by one more reduce_to_root line.
    void reduce(Collective& collective, index_t first_image, index_t end_image, index_t total_images) {
        CVG_REQUIRE(!reservoir_, Internal, description() + ": a distributed pass needs the image count");
        const std::string what = description();
        reduce_to_root(collective, acc_, what + ", the moments");
        if (top_k_) reduce_to_root(collective, d_.top_k, what + ", the top-k inputs");
        // Images chose their blocks by their global index, so rank 0's
        // blocks become those of one process (in rank order).
        if (blocks_) reduce_to_root(collective, d_.blocks, what + ", the resampling blocks");
        if (per_sample_) reduce_per_sample_terms(collective, d_.per_sample, what + ", the per-sample sums");
        if (sample_count_ > 0)
            gather_sample_rows(collective, d_.mi_rows, d_.mi_values, width_, first_image * d_.positions,
                               end_image * d_.positions, what + ", the sample rows");
        images_ = total_images;
    }

    // Adds one chunk whose pieces lie in device memory (read in place by
    // the backend).
    void add_device(const std::vector<DeviceChunkBlock>& blocks, index_t images, index_t height, index_t width) {
        const index_t rows = images * height * width;
        const index_t row0 = images_ * d_.positions;
        // The sample rows inside this chunk, chunk-local and sorted.
        std::vector<index_t> local;
        std::vector<index_t> targets;  // their rows in the sample
        if (sample_count_ > 0) {
            if (!reservoir_) {
                auto it = std::lower_bound(d_.mi_rows.begin(), d_.mi_rows.end(), row0);
                for (; it != d_.mi_rows.end() && *it < row0 + rows; ++it) {
                    local.push_back(*it - row0);
                    targets.push_back(index_t(it - d_.mi_rows.begin()));
                }
            } else {
                for (index_t r = 0; r < rows; ++r) {
                    const index_t slot = reservoir_target(row0 + r);
                    if (slot < 0) continue;
                    local.push_back(r);
                    targets.push_back(slot);
                }
            }
        }
        d_.map_width = width;
        if (blocks_ && d_.blocks_unavailable.empty())
            d_.blocks_unavailable = "not available for device-pushed batches: CUDA tensors are reduced on the device";
        if (top_k_ && d_.top_k_unavailable.empty())
            d_.top_k_unavailable = "not available for device-pushed batches: CUDA tensors are reduced on the device";
        if (per_sample_ && d_.per_sample.unavailable.empty())
            d_.per_sample.unavailable =
                "not available for device-pushed batches: CUDA tensors are reduced on the device, and the "
                "per-sample terms of the unbiased HSIC are gathered from host batches only";
        std::vector<float> sample(local.size() * size_t(width_));
        acc_.push_device(backend_, blocks, images, height, width, local, sample.data());
        for (size_t i = 0; i < local.size(); ++i) {
            place_sample_row(targets[i], row0 + local[i]);
            std::copy(sample.begin() + i * size_t(width_), sample.begin() + (i + 1) * size_t(width_),
                      d_.mi_values.begin() + targets[i] * width_);
        }
        images_ += images;
    }

    LayerData finish() {
        d_.images = images_;
        if (reservoir_ && !d_.mi_rows.empty()) {
            // Slots in row order, so the sample does not depend on the batching.
            std::vector<size_t> order(d_.mi_rows.size());
            for (size_t i = 0; i < order.size(); ++i) order[i] = i;
            std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return d_.mi_rows[a] < d_.mi_rows[b]; });
            std::vector<index_t> rows(order.size());
            std::vector<float> values(d_.mi_values.size());
            for (size_t i = 0; i < order.size(); ++i) {
                rows[i] = d_.mi_rows[order[i]];
                std::copy(d_.mi_values.begin() + order[i] * size_t(width_),
                          d_.mi_values.begin() + (order[i] + 1) * size_t(width_), values.begin() + i * size_t(width_));
            }
            d_.mi_rows = std::move(rows);
            d_.mi_values = std::move(values);
        }
        std::vector<float>().swap(chunk_rows_values_);  // the analyses may need the memory
        if (per_sample_ && d_.per_sample.unavailable.empty() && d_.per_sample.samples != acc_.count())
            d_.per_sample.unavailable = "not available: the per-sample terms cover " +
                                        std::to_string(d_.per_sample.samples) + " of " +
                                        std::to_string(acc_.count()) + " samples";
        d_.stats = finalize_statistics(std::move(acc_));  // the correlation replaces the comoment in place
        return std::move(d_);
    }

private:
    // Reservoir sampling (Algorithm R): the sample slot global row g takes,
    // or -1. Rows are offered in increasing order by every net.
    index_t reservoir_target(index_t g) const {
        if (g < sample_count_) return g;
        const index_t j = reservoir_slot(options_.seed, g, g + 1);
        return j < sample_count_ ? j : -1;
    }
    void place_sample_row(index_t slot, index_t row) {
        if (!reservoir_) return;
        if (size_t(slot) >= d_.mi_rows.size()) {
            // Slots fill in order: slot == size.
            d_.mi_rows.push_back(row);
            resize_or_fail(d_.mi_values, d_.mi_rows.size() * size_t(width_), description(),
                           "the mutual-information sample");
        } else {
            d_.mi_rows[size_t(slot)] = row;
        }
    }
    // Keeps one net's piece (rows x units, first_row relative to the
    // sources) in the chunk's rows, columns [column, column + units).
    void keep_piece(const float* piece, index_t first_row, index_t rows, index_t units, index_t column) {
        if (chunk_first_row_ < 0) chunk_first_row_ = first_row;  // the first net's first piece
        const index_t local = first_row - chunk_first_row_;
        if (local + rows > chunk_rows_) {
            chunk_rows_ = local + rows;
            if (chunk_rows_values_.size() < size_t(chunk_rows_ * width_))
                resize_or_fail(chunk_rows_values_, size_t(chunk_rows_ * width_), description(),
                               "the chunk copy of the per-sample terms");
        }
        for (index_t r = 0; r < rows; ++r)
            std::copy(piece + r * units, piece + (r + 1) * units,
                      chunk_rows_values_.begin() + (local + r) * width_ + column);
    }
    // Adds the chunk's rows to the per-sample sums (similarity_indices.hpp),
    // around the first chunk's mean: the unbiased HSIC is invariant to the
    // shift, which keeps the float64 sums free of cancellation.
    void add_per_sample_terms() {
        PerSampleTerms& t = d_.per_sample;
        const index_t rows = chunk_rows_;
        chunk_first_row_ = -1, chunk_rows_ = 0;
        if (rows == 0) return;
        const index_t w = width_, nets = index_t(d_.widths.size());
        const float* values = chunk_rows_values_.data();
        if (t.reference.empty()) {
            t.reference.assign(size_t(w), 0.0);
            for (index_t r = 0; r < rows; ++r)
                for (index_t c = 0; c < w; ++c) t.reference[size_t(c)] += double(values[r * w + c]);
            for (double& c : t.reference) c /= double(rows);
        }
        const double* reference = t.reference.data();
        // q_m(i) of every row (rows are independent), then the scalar sums in
        // row order, then the vector sums by column blocks, each column's in
        // row order: the same sums whatever the thread count.
        std::vector<double> q(size_t(rows * nets));
#pragma omp parallel for schedule(static)
        for (index_t r = 0; r < rows; ++r) {
            index_t c = 0;
            for (index_t m = 0; m < nets; ++m) {
                double norm = 0;
                for (const index_t end = c + d_.widths[size_t(m)]; c < end; ++c) {
                    const double z = double(values[r * w + c]) - reference[c];
                    norm += z * z;
                }
                q[size_t(r * nets + m)] = norm;
            }
        }
        for (index_t r = 0; r < rows; ++r)
            for (index_t m = 0; m < nets; ++m) {
                const double qm = q[size_t(r * nets + m)];
                t.norm_sums[size_t(m)] += qm;
                for (index_t n = 0; n < nets; ++n) t.norm_products[size_t(m * nets + n)] += qm * q[size_t(r * nets + n)];
            }
        constexpr index_t kBlock = 256;
        const index_t blocks = (w + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static)
        for (index_t b = 0; b < blocks; ++b) {
            const index_t c0 = b * kBlock, c1 = std::min(w, c0 + kBlock);
            double* sums = t.sums.data();
            for (index_t r = 0; r < rows; ++r) {
                const float* row = values + r * w;
                const double* qr = q.data() + r * nets;
                for (index_t c = c0; c < c1; ++c) sums[c] += double(row[c]) - reference[c];
                for (index_t m = 0; m < nets; ++m) {
                    double* weighted = t.weighted_sums.data() + m * w;
                    const double qm = qr[m];
                    for (index_t c = c0; c < c1; ++c) weighted[c] += qm * (double(row[c]) - reference[c]);
                }
            }
        }
        t.samples += rows;
    }

    // Copies the sample rows among global rows [row0, row0 + rows) of one
    // net's piece (rows x units, leading dimension ld) into the sample's
    // columns [offset, offset + units).
    void gather(const float* piece, index_t row0, index_t rows, index_t units, index_t ld, index_t offset) {
        if (sample_count_ == 0) return;
        if (!reservoir_) {
            auto it = std::lower_bound(d_.mi_rows.begin(), d_.mi_rows.end(), row0);
            for (; it != d_.mi_rows.end() && *it < row0 + rows; ++it)
                std::copy(piece + (*it - row0) * ld, piece + (*it - row0) * ld + units,
                          d_.mi_values.begin() + index_t(it - d_.mi_rows.begin()) * width_ + offset);
            return;
        }
        for (index_t r = 0; r < rows; ++r) {
            const index_t slot = reservoir_target(row0 + r);
            if (slot < 0) continue;
            if (offset == 0) place_sample_row(slot, row0 + r);
            std::copy(piece + r * ld, piece + r * ld + units, d_.mi_values.begin() + slot * width_ + offset);
        }
    }

    const Backend& backend_;
    const CompareOptions& options_;
    MomentAccumulator acc_;
    double kernel_seconds_ = 0;
    LayerData d_;
    index_t width_ = 0;
    index_t images_ = 0;
    index_t sample_count_ = 0;
    bool reservoir_ = false;
    // Debiased CKA's per-sample terms: the float32 rows of the current chunk
    // (every net's pieces land here; the sums need all nets of a row).
    bool per_sample_ = false;
    bool top_k_ = false;  // each unit's top-k inputs (d_.top_k)
    bool blocks_ = false;  // per-block moments (d_.blocks, resampling.hpp)
    index_t chunk_first_row_ = -1, chunk_rows_ = 0;
    std::vector<float> chunk_rows_values_;
};

// The mean of the first chunk's rows (images [0, chunk_images), every
// net's units side by side), summed like LayerPass::add_per_sample_terms
// does: the reference point of the per-sample sums of a single process, so
// every rank of a distributed run can take the same one (it reads that
// chunk itself: one chunk more per rank and layer).
std::vector<double> first_chunk_reference(const std::vector<const LayerSource*>& sources, index_t chunk_images) {
    const index_t images = std::min(chunk_images, sources.front()->images());
    const index_t rows = images * sources.front()->positions();
    index_t width = 0;
    for (const LayerSource* s : sources) width += s->units();
    std::vector<float> values, piece;
    resize_or_fail(values, std::uint64_t(rows * width), "layer '" + sources.front()->layer_name() + "'",
                   "the first chunk of the per-sample terms");
    index_t column = 0;
    for (const LayerSource* s : sources) {
        piece.resize(size_t(rows * s->units()));
        s->read_images(0, images, piece.data());
        for (index_t r = 0; r < rows; ++r)
            std::copy(piece.begin() + r * s->units(), piece.begin() + (r + 1) * s->units(),
                      values.begin() + r * width + column);
        column += s->units();
    }
    std::vector<double> reference(size_t(width), 0.0);
    for (index_t r = 0; r < rows; ++r)
        for (index_t c = 0; c < width; ++c) reference[size_t(c)] += double(values[size_t(r * width + c)]);
    for (double& c : reference) c /= double(rows);
    return reference;
}

// The steps that run (enabled ones and those an enabled one requires) and
// what they need from the layer pass.
struct PipelinePlan {
    std::vector<bool> active;
    LayerPassRequest request;
};

PipelinePlan plan_pipeline(const CompareOptions& options) {
    const std::vector<AnalysisStep>& steps = analysis_steps();
    PipelinePlan plan;
    plan.active.assign(steps.size(), false);
    for (size_t i = steps.size(); i-- > 0;) {
        plan.active[i] = steps[i].enabled(options);
        for (size_t j = i + 1; j < steps.size(); ++j)
            if (plan.active[j] && steps[j].requires_step && std::string(steps[j].requires_step) == steps[i].name)
                plan.active[i] = true;
    }
    for (size_t i = 0; i < steps.size(); ++i)
        if (plan.active[i] && steps[i].request) steps[i].request(options, plan.request);
    return plan;
}

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

nlohmann::json summary_header(const Backend& backend, const CompareOptions& options,
                              const std::vector<std::string>& net_names, const std::vector<std::string>& inputs) {
    nlohmann::json summary;
    summary["schema_version"] = 1;
    summary["convergent_version"] = CONVERGENT_VERSION_STRING;
    summary["backend"] = backend_kind_name(backend.kind());
    summary["backend_device"] = backend.device_description();
    summary["backend_requested"] = backend_kind_name(options.backend);
    summary["nets"] = net_names;
    summary["inputs"] = nlohmann::json::object();
    for (size_t n = 0; n < net_names.size(); ++n) summary["inputs"][net_names[n]] = inputs[n];
    summary["options"] = recorded_options(options);
    summary["layers"] = nlohmann::json::object();
    return summary;
}

// Runs the active steps on one layer's pass results and records them.
void analyse_layer(const Backend& backend, const CompareOptions& options, const PipelinePlan& plan, LayerData& data,
                   ResultSink& sink, nlohmann::json& summary, nlohmann::json& layer_timings) {
    const std::vector<AnalysisStep>& steps = analysis_steps();
    sink.begin_layer(data.layer);
    nlohmann::json lj = nlohmann::json::object();
    LayerContext ctx(backend, options, data, sink, lj);
    for (size_t i = 0; i < steps.size(); ++i) {
        if (!plan.active[i]) continue;
        const auto t0 = Clock::now();
        steps[i].run(ctx);
        layer_timings[steps[i].name] = seconds_since(t0);
    }
    summary["layers"][data.layer] = std::move(lj);
}

void check_names(const std::vector<std::string>& net_names) {
    CVG_REQUIRE(net_names.size() >= 2, InvalidArgument, "compare needs at least two nets");
    std::set<std::string> seen;
    for (const std::string& n : net_names) {
        validate_net_name(n, "compare");
        CVG_REQUIRE(seen.insert(n).second, InvalidArgument, "two nets are named '" + n + "'");
    }
}

}  // namespace

// ---- result sinks ---------------------------------------------------------------

struct DirectorySink::Impl {
    StagedDirectory staged;
    Impl(const std::string& out_dir, bool overwrite, const std::vector<std::string>& inputs)
        : staged(out_dir, overwrite, inputs) {}
};

DirectorySink::DirectorySink(const std::string& out_dir, bool overwrite, const std::vector<std::string>& inputs)
    : impl_(std::make_unique<Impl>(out_dir, overwrite, inputs)) {}
DirectorySink::~DirectorySink() = default;

void DirectorySink::begin_layer(const std::string& layer) { fs::create_directories(impl_->staged.path() / layer); }

void DirectorySink::write_array(const std::string& relative_path, const float* data, const std::vector<index_t>& shape) {
    write_npy((impl_->staged.path() / relative_path).string(), data, shape);
}

void DirectorySink::write_index_array(const std::string& relative_path, const std::int64_t* data,
                                      const std::vector<index_t>& shape) {
    write_npy((impl_->staged.path() / relative_path).string(), data, shape);
}

void DirectorySink::write_file(const std::string& relative_path, const std::string& bytes) {
    write_text_file((impl_->staged.path() / relative_path).string(), bytes);
}

void ResultSink::write_index_array(const std::string& relative_path, const std::int64_t* data,
                                   const std::vector<index_t>& shape) {
    index_t n = 1;
    for (index_t d : shape) n *= d;
    write_array(relative_path, std::vector<float>(data, data + n).data(), shape);
}

void ResultSink::write_file(const std::string&, const std::string&) {}

void DirectorySink::commit(const nlohmann::json& summary) {
    write_text_file((impl_->staged.path() / "summary.json").string(), summary.dump(1) + "\n");
    impl_->staged.commit();
}

void MemorySink::write_array(const std::string& relative_path, const float* data, const std::vector<index_t>& shape) {
    FloatArray& a = arrays_[relative_path];
    a.shape = shape;
    index_t n = 1;
    for (index_t d : shape) n *= d;
    resize_or_fail(a.values, std::uint64_t(n), "result array '" + relative_path + "'", "a copy in memory");
    std::copy(data, data + n, a.values.begin());
}

bool is_index_array(const std::string& relative_path) {
    auto ends_with = [&](const std::string& suffix) {
        return relative_path.size() > suffix.size() &&
               relative_path.compare(relative_path.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    return ends_with(".topk.npy") || ends_with(".topk_positions.npy");
}

void save_results(const nlohmann::json& summary, const std::map<std::string, FloatArray>& arrays,
                  const std::string& out_dir, bool overwrite) {
    CVG_REQUIRE(summary.is_object() && summary.contains("layers"), InvalidArgument,
                "save_results: the summary is not a compare summary (no \"layers\")");
    std::set<std::string> dirs;
    for (const auto& [key, array] : arrays) {
        const fs::path p(key);
        bool climbs = false;
        for (const auto& part : p) climbs = climbs || part == "..";
        CVG_REQUIRE(!key.empty() && p.is_relative() && !climbs && p.extension() == ".npy", InvalidArgument,
                    "save_results: array key '" + key + "' is not a relative path ending in .npy inside the results");
        index_t n = 1;
        for (index_t d : array.shape) n *= d;
        CVG_REQUIRE(n == index_t(array.values.size()), InvalidArgument,
                    "save_results: array '" + key + "' has " + std::to_string(array.values.size()) +
                        " values for its shape's " + std::to_string(n));
        if (p.has_parent_path()) dirs.insert(p.parent_path().string());
    }
    DirectorySink sink(out_dir, overwrite);
    for (const std::string& d : dirs) sink.begin_layer(d);
    for (const auto& [key, array] : arrays) {
        if (is_index_array(key))
            sink.write_index_array(key, std::vector<std::int64_t>(array.values.begin(), array.values.end()).data(),
                                   array.shape);
        else
            sink.write_array(key, array.values.data(), array.shape);
    }
    sink.commit(summary);
}

// ---- run_compare ----------------------------------------------------------------

nlohmann::json run_compare(const std::vector<std::string>& inputs, const std::string& out_dir,
                           const CompareOptions& options, const ProgressFn& progress) {
    std::vector<NetInput> nets;
    for (const std::string& text : inputs) nets.push_back(parse_net_input(text));
    // Reference nets follow the compared ones (step resampling).
    for (const std::string& text : options.resampling.baseline_nets) nets.push_back(parse_net_input(text));
    return run_compare(nets, out_dir, options, progress);
}

std::vector<NetSource> open_nets(const std::vector<NetInput>& inputs, const ActivationLayout& layout) {
    CVG_REQUIRE(inputs.size() >= 2, InvalidArgument, "compare needs at least two nets");
    std::vector<NetSource> nets;
    std::set<std::string> names;
    for (const NetInput& in : inputs) {
        CVG_REQUIRE(!in.path.empty(), InvalidArgument, "net '" + in.name + "': the path is empty");
        if (!in.name.empty()) validate_net_name(in.name, "input '" + in.path + "'");
        nets.push_back(NetSource::open(in.path, layout, in.name));
        if (in.name.empty())
            validate_net_name(nets.back().name(), "input '" + in.path + "' (named after its basename)");
        CVG_REQUIRE(names.insert(nets.back().name()).second, InvalidArgument,
                    "two inputs are named '" + nets.back().name() + "' (" + in.path +
                        "); name them with NAME=PATH, e.g. net1=" + in.path);
    }
    return nets;
}

namespace {

// One layer of a run, checked and planned before anything is read or written.
struct LayerPlan {
    std::string layer;
    std::vector<const LayerSource*> sources;  // one per net
    std::vector<index_t> widths;
    index_t width = 0;  // all nets' units together
    ChunkPlan chunks;
    std::array<index_t, 3> stored_receptive_field{};  // from the nets' files (0s: none)
};

// The receptive field the nets' files store for a layer (Figs. 2, 4-6
// patches), when they store one; nets that store different fields are an
// error unless --receptive-field names the layer (then the option is used).
std::array<index_t, 3> stored_receptive_field(const std::vector<NetSource>& nets, const std::string& layer,
                                              const CompareOptions& options) {
    if (parse_receptive_fields(options.top_patches.receptive_field).count(layer)) return {};  // the option settles it
    const auto text = [](const std::array<index_t, 3>& f) {
        return std::to_string(f[0]) + "," + std::to_string(f[1]) + "," + std::to_string(f[2]);
    };
    std::array<index_t, 3> field{};
    const NetSource* first = nullptr;
    for (const NetSource& net : nets) {
        const auto it = net.receptive_fields().find(layer);
        if (it == net.receptive_fields().end()) continue;
        CVG_REQUIRE(!first || it->second == field, BadData,
                    "layer '" + layer + "': net '" + (first ? first->name() + "' (" + first->path() : std::string()) +
                        ") stores the receptive field " + text(field) + " but net '" + net.name() + "' (" +
                        net.path() + ") stores " + text(it->second) +
                        "; give the one to use with --receptive-field " + layer + "=SIZE,STRIDE,PADDING");
        if (!first) first = &net, field = it->second;
    }
    return field;
}

// The layers to analyse, each checked for alignment across the nets and
// planned against the memory budget (throws naming the layer).
std::vector<LayerPlan> plan_layers(const std::vector<NetSource>& nets, const CompareOptions& options,
                                   const PipelinePlan& pipeline) {
    std::vector<LayerPlan> plans;
    for (const RunStep& step : run_steps())
        if (step.enabled(options)) step.check(nets, options);
    for (const auto& l : select_layers(nets, options)) {
        LayerPlan p;
        p.layer = l;
        for (const auto& net : nets) {
            p.sources.push_back(&net.layer(l));
            p.widths.push_back(p.sources.back()->units());
            p.width += p.widths.back();
        }
        check_aligned(p.sources);
        if (options.top_patches.enabled) p.stored_receptive_field = stored_receptive_field(nets, l, options);
        p.chunks = plan_chunks(p.sources, p.width, options,
                               std::min(pipeline.request.mi_sample_rows, p.sources.front()->samples()));
        plans.push_back(std::move(p));
    }
    return plans;
}

// The steps on one layer's finished pass.
void analyse_pass(LayerPass& pass, const LayerPlan& p, const Backend& backend, const CompareOptions& options,
                  const PipelinePlan& pipeline, ResultSink& sink, nlohmann::json& summary, nlohmann::json& lt) {
    LayerData data = pass.finish();
    data.stored_receptive_field = p.stored_receptive_field;
    data.sources = p.sources, data.chunk_images = p.chunks.chunk_images;  // the permutation null reads again
    analyse_layer(backend, options, pipeline, data, sink, summary, lt);
}

// A distributed run (collective.hpp) supports the per-layer steps; the
// run-level steps read every image of every layer themselves.
void check_distributable(const CompareOptions& options, const Collective* collective) {
    if (!collective || collective->size() == 1) return;
    for (const RunStep& step : run_steps())
        CVG_REQUIRE(!step.enabled(options), Unsupported,
                    std::string(step.name) + " is not supported in a distributed run (" + collective->description() +
                        "): it reads every image of every layer itself; run it with one process");
}

// The run itself, on checked names and planned layers. With a collective,
// every rank streams its own slice of each layer's images, rank 0 gets the
// reduced accumulators, runs the steps and alone writes to its sink; every
// rank returns the summary.
nlohmann::json run_planned(const std::vector<NetSource>& nets, const std::vector<std::string>& net_names,
                           const std::vector<std::string>& inputs, const std::vector<LayerPlan>& layers,
                           const PipelinePlan& pipeline, ResultSink& sink, const CompareOptions& options,
                           const ProgressFn& progress, Collective* collective = nullptr) {
    const bool root = !collective || collective->rank() == 0;
    nlohmann::json timings = {{"layers", nlohmann::json::object()},
                              {"memory_estimate_bytes", nlohmann::json::object()}};
    auto t_stage = Clock::now();
    std::unique_ptr<Backend> backend;
    collectively(collective, [&] { backend = make_backend(options.backend); });
    timings["backend_setup"] = seconds_since(t_stage);
    nlohmann::json summary = summary_header(*backend, options, net_names, inputs);
    if (collective) summary["ranks"] = collective->size();

    for (const LayerPlan& p : layers) {
        nlohmann::json& lt = timings["layers"][p.layer];
        t_stage = Clock::now();
        timings["memory_estimate_bytes"][p.layer] = p.chunks.peak_bytes();
        const index_t images = p.sources.front()->images();
        std::int64_t first = 0, end = images;
        if (collective) collective->slice(images, first, end);
        std::unique_ptr<LayerPass> pass;
        collectively(collective, [&] {
            pass = std::make_unique<LayerPass>(*backend, p.layer, net_names, p.widths, p.sources.front()->positions(),
                                               options, pipeline.request, images);
            if (collective && pipeline.request.per_sample_terms)
                pass->set_per_sample_reference(first_chunk_reference(p.sources, p.chunks.chunk_images));
            pass->add(
                p.sources, p.chunks.chunk_images,
                [&](index_t done) {
                    if (progress) progress(p.layer, double(done) / double(end - first));
                },
                first, end - first);
        });
        if (collective) {
            const auto t_reduce = Clock::now();
            collectively(collective, [&] { pass->reduce(*collective, first, end, images); });
            lt["reduce"] = seconds_since(t_reduce);
        }
        lt["pass"] = seconds_since(t_stage);
        timings["statistics_kernel"][p.layer] = pass->kernel_seconds();  // the part of "pass" in packing, dsyrk, merges
        // Rank 0 alone runs the steps (on the reduced accumulators).
        collectively(collective, [&] {
            if (root) analyse_pass(*pass, p, *backend, options, pipeline, sink, summary, lt);
        });
    }
    for (const RunStep& step : run_steps()) {
        if (!step.enabled(options)) continue;
        t_stage = Clock::now();
        RunContext ctx(*backend, options, nets, sink, summary, progress);
        step.run(ctx);
        timings[step.name] = seconds_since(t_stage);
    }
    // Wall-clock seconds, for finding where the time goes; not part of the
    // results (absent unless asked for, so outputs stay reproducible).
    if (options.timings) summary["timings"] = std::move(timings);
    collectively(collective, [&] {
        if (root) sink.commit(summary);
    });
    if (collective && collective->size() > 1)
        summary = nlohmann::json::parse(collective->broadcast_from_root(root ? summary.dump() : std::string()));
    return summary;
}

}  // namespace

std::vector<LayerMemoryEstimate> estimate_compare_memory(const std::vector<NetSource>& nets,
                                                         const CompareOptions& options) {
    validate_options(options);
    std::vector<LayerMemoryEstimate> out;
    for (const LayerPlan& p : plan_layers(nets, options, plan_pipeline(options)))
        out.push_back({p.layer, p.width, p.chunks.chunk_images, p.chunks.fixed_bytes, p.chunks.peak_bytes()});
    return out;
}

nlohmann::json run_compare(const std::vector<NetInput>& inputs, const std::string& out_dir,
                           const CompareOptions& options, const ProgressFn& progress, Collective* collective) {
    // Open, check and plan everything before any work or output (on every
    // rank, agreeing on the outcome; rank 0 alone stages the output).
    std::vector<NetSource> nets;
    std::vector<std::string> names, paths;
    PipelinePlan pipeline;
    std::vector<LayerPlan> layers;
    std::unique_ptr<DirectorySink> sink;
    collectively(collective, [&] {
        validate_options(options);
        check_distributable(options, collective);
        nets = open_nets(inputs, options.layout);
        for (size_t n = 0; n < nets.size(); ++n) {
            names.push_back(nets[n].name());
            paths.push_back(inputs[n].path);
        }
        pipeline = plan_pipeline(options);
        layers = plan_layers(nets, options, pipeline);
        if (!collective || collective->rank() == 0)
            sink = std::make_unique<DirectorySink>(out_dir, options.overwrite, paths);
    });
    MemorySink unused;  // never written on ranks other than 0
    return run_planned(nets, names, paths, layers, pipeline, sink ? static_cast<ResultSink&>(*sink) : unused, options,
                       progress, collective);
}

nlohmann::json run_compare(const std::vector<ArrayNet>& nets, ResultSink& sink, const CompareOptions& options,
                           const ProgressFn& progress, Collective* collective) {
    std::vector<NetSource> sources;
    std::vector<std::string> origins;
    collectively(collective, [&] {
        validate_options(options);
        std::vector<std::string> names;
        for (const ArrayNet& n : nets) names.push_back(n.name);
        check_names(names);
        for (const ArrayNet& n : nets) {
            std::vector<std::pair<std::string, std::unique_ptr<NpyArray>>> arrays;
            for (const auto& [layer, view] : n.layers)
                arrays.emplace_back(layer, tensor_array(view, "net '" + n.name + "', array '" + layer + "'"));
            origins.push_back("<memory>");
            sources.push_back(NetSource::from_arrays(n.name, "arrays", std::move(arrays), options.layout));
        }
    });
    return run_compare(sources, origins, sink, options, progress, collective);
}

nlohmann::json run_compare(const std::vector<NetSource>& nets, const std::vector<std::string>& inputs,
                           ResultSink& sink, const CompareOptions& options, const ProgressFn& progress,
                           Collective* collective) {
    std::vector<std::string> net_names;
    PipelinePlan pipeline;
    std::vector<LayerPlan> layers;
    collectively(collective, [&] {
        validate_options(options);
        check_distributable(options, collective);
        CVG_REQUIRE(nets.size() >= 2, InvalidArgument, "compare needs at least two nets");
        CVG_REQUIRE(inputs.size() == nets.size(), InvalidArgument, "run_compare: one input description per net");
        for (const auto& net : nets) net_names.push_back(net.name());
        check_names(net_names);
        pipeline = plan_pipeline(options);
        layers = plan_layers(nets, options, pipeline);
    });
    return run_planned(nets, net_names, inputs, layers, pipeline, sink, options, progress, collective);
}

// ---- CompareSession ---------------------------------------------------------------

struct CompareSession::Impl {
    struct Pushed {
        std::unique_ptr<LayerSource> source;  // host batches
        TensorView view;                      // as pushed (device batches are read from it)
        std::function<void()> release;
        bool pushed = false;
    };
    struct Layer {
        std::string name;
        std::vector<index_t> widths;  // per net, from its first batch (0: none yet)
        index_t positions = 0, height = 1, width = 1;
        index_t batches = 0;          // completed batches
        std::vector<Pushed> batch;    // the batch being assembled, per net
        std::unique_ptr<LayerPass> pass;
    };

    std::vector<std::string> nets;
    CompareOptions options;
    index_t images = 0;
    std::unique_ptr<Backend> backend;
    PipelinePlan plan;
    std::map<std::string, Layer> layers;
    std::vector<std::string> order;
    std::string broken;  // why the session cannot go on ("" while it can)
    bool finished = false;

    static void release_all(Layer& l) {
        for (Pushed& p : l.batch) {
            p.source.reset();
            if (p.release) {
                auto r = std::move(p.release);
                p.release = nullptr;
                r();
            }
            p.pushed = false;
        }
    }
    ~Impl() {
        for (auto& [name, layer] : layers) {
            try {
                release_all(layer);
            } catch (...) {
            }
        }
    }

    std::string where(int net, const Layer& l) const {
        return "net '" + nets[size_t(net)] + "', layer '" + l.name + "', batch " + std::to_string(l.batches);
    }

    void process(Layer& l) {
        const int n_nets = int(nets.size());
        const bool device = l.batch.front().view.device == TensorDevice::Cuda;
        std::vector<const LayerSource*> sources;
        index_t chunk_images = 0;
        if (!device) {
            index_t width = 0;
            for (index_t w : l.widths) width += w;
            for (const Pushed& p : l.batch) sources.push_back(p.source.get());
            const index_t sample = images > 0 ? std::min(plan.request.mi_sample_rows, images * l.positions)
                                              : plan.request.mi_sample_rows;
            chunk_images = plan_chunks(sources, width, options, sample).chunk_images;
        }
        if (!l.pass) {
            l.pass = std::make_unique<LayerPass>(*backend, l.name, nets, l.widths, l.positions, options, plan.request,
                                                 images);
        }
        if (!device) {
            l.pass->add(sources, chunk_images, {});
        } else {
            std::vector<DeviceChunkBlock> blocks;
            index_t column = 0;
            for (int n = 0; n < n_nets; ++n) {
                blocks.push_back(device_chunk_block(l.batch[size_t(n)].view, options.layout.channels_last, column));
                column += blocks.back().units;
            }
            l.pass->add_device(blocks, l.batch.front().view.shape[0], l.height, l.width);
        }
        ++l.batches;
    }
};

CompareSession::CompareSession(std::vector<std::string> net_names, const CompareOptions& options, index_t images)
    : impl_(std::make_unique<Impl>()) {
    validate_options(options);
    check_names(net_names);
    CVG_REQUIRE(images >= 0, InvalidArgument, "compare session: negative image count " + std::to_string(images));
    // The cross-layer maps need every layer's Gram of a minibatch at once,
    // and pushes come layer by layer in batches of any size: not supported
    // here (docs/architecture.md); files and arrays support it.
    CVG_REQUIRE(!options.cross_layers.enabled, Unsupported,
                "compare session: cross_layers (the cross-layer CKA maps) is not supported for batched pushes; "
                "compare files or in-memory arrays (run_compare / convergent.compare) instead");
    // The permutation null reads each net again in another image order;
    // pushed batches cannot be read again.
    CVG_REQUIRE(options.resampling.permutations == 0, Unsupported,
                "compare session: permutations (the permutation null) is not supported for batched pushes, which "
                "cannot be read again; compare files or in-memory arrays, or use bootstrap / holdout");
    impl_->nets = std::move(net_names);
    impl_->options = options;
    impl_->images = images;
    impl_->plan = plan_pipeline(options);
    impl_->backend = make_backend(options.backend);
}

CompareSession::~CompareSession() = default;

std::string CompareSession::backend_name() const { return backend_kind_name(impl_->backend->kind()); }
std::string CompareSession::backend_description() const { return impl_->backend->device_description(); }

std::vector<std::string> CompareSession::layers() const { return impl_->order; }

void CompareSession::push(int net, const std::string& layer, const TensorView& batch) {
    push_owned(net, layer, batch, nullptr);
}

void CompareSession::push_owned(int net, const std::string& layer, const TensorView& batch,
                                std::function<void()> release) {
    Impl& s = *impl_;
    // Until the batch is stored, an exception releases it here.
    struct Guard {
        std::function<void()>* release;
        ~Guard() {
            if (release && *release) (*release)();
        }
    } guard{&release};

    CVG_REQUIRE(s.broken.empty(), InvalidArgument, "compare session: an earlier push failed (" + s.broken + ")");
    CVG_REQUIRE(!s.finished, InvalidArgument, "compare session: push after finish");
    CVG_REQUIRE(net >= 0 && net < int(s.nets.size()), InvalidArgument,
                "compare session: net index " + std::to_string(net) + " is outside [0, " +
                    std::to_string(s.nets.size()) + ")");
    auto it = s.layers.find(layer);
    if (it == s.layers.end()) {
        validate_layer_name(layer, "net '" + s.nets[size_t(net)] + "'");
        Impl::Layer l;
        l.name = layer;
        l.widths.assign(s.nets.size(), 0);
        l.batch.resize(s.nets.size());
        it = s.layers.emplace(layer, std::move(l)).first;
        s.order.push_back(layer);
    }
    Impl::Layer& l = it->second;
    const std::string where = s.where(net, l);
    Impl::Pushed& slot = l.batch[size_t(net)];
    CVG_REQUIRE(!slot.pushed, InvalidArgument,
                where + ": this net already pushed the batch; every net pushes each batch once, then the next batch starts");

    // Shape: (B, C) or (B, C, H, W) / (B, H, W, C).
    const size_t rank = batch.shape.size();
    CVG_REQUIRE(rank == 2 || rank == 4, BadData,
                where + ": a batch of rank " + std::to_string(rank) + "; a layer's batch is (B, C) or " +
                    (s.options.layout.channels_last ? "(B, H, W, C)" : "(B, C, H, W)"));
    for (index_t d : batch.shape)
        CVG_REQUIRE(d > 0, BadData, where + ": the batch has an empty dimension");
    const bool cl = s.options.layout.channels_last;
    const index_t units = rank == 2 ? batch.shape[1] : cl ? batch.shape[3] : batch.shape[1];
    const index_t height = rank == 2 ? 1 : cl ? batch.shape[1] : batch.shape[2];
    const index_t width = rank == 2 ? 1 : cl ? batch.shape[2] : batch.shape[3];
    if (batch.device == TensorDevice::Cuda)
        CVG_REQUIRE(s.backend->kind() == BackendKind::Cuda, Unsupported,
                    where + ": a CUDA tensor was pushed but the session runs on the " + backend_name() +
                        " backend" + (cuda_compiled_in() ? "" : " (this convergent has no CUDA backend)") +
                        "; use backend='cuda', or move the tensor to the host explicitly (e.g. tensor.cpu())");
    // Everything is checked before the layer's state changes, so a rejected
    // batch leaves the session as it was.
    CVG_REQUIRE(l.widths[size_t(net)] == 0 || l.widths[size_t(net)] == units, BadData,
                where + ": " + std::to_string(units) + " units, but its earlier batches had " +
                    std::to_string(l.widths[size_t(net)]));
    if (l.positions != 0) {
        CVG_REQUIRE(l.height == height && l.width == width, BadData,
                    where + ": " + std::to_string(height) + " x " + std::to_string(width) +
                        " positions per input, but the layer's other batches have " + std::to_string(l.height) + " x " +
                        std::to_string(l.width));
    }
    for (const Impl::Pushed& other : l.batch)
        if (other.pushed) {
            CVG_REQUIRE(other.view.shape[0] == batch.shape[0], BadData,
                        where + ": " + std::to_string(batch.shape[0]) + " inputs, but another net pushed " +
                            std::to_string(other.view.shape[0]) + " for this batch; every net sees the same inputs");
            CVG_REQUIRE(other.view.device == batch.device, InvalidArgument,
                        where + ": a batch mixes host and CUDA tensors across nets; push all on one device");
        }
    std::unique_ptr<LayerSource> source;
    if (batch.device != TensorDevice::Cuda) {
        source = std::make_unique<LayerSource>(s.nets[size_t(net)], layer, tensor_array(batch, where),
                                               s.options.layout);
    }
    l.widths[size_t(net)] = units;
    if (l.positions == 0) l.positions = height * width, l.height = height, l.width = width;
    slot.view = batch;
    slot.source = std::move(source);
    slot.release = std::move(release);
    release = nullptr;
    slot.pushed = true;

    for (const Impl::Pushed& p : l.batch)
        if (!p.pushed) return;
    try {
        s.process(l);
    } catch (const std::exception& e) {
        s.broken = e.what();
        Impl::release_all(l);
        throw;
    }
    Impl::release_all(l);
}

nlohmann::json CompareSession::finish(ResultSink& sink, const ProgressFn& progress) {
    Impl& s = *impl_;
    CVG_REQUIRE(s.broken.empty(), InvalidArgument, "compare session: an earlier push failed (" + s.broken + ")");
    CVG_REQUIRE(!s.finished, InvalidArgument, "compare session: finish was called already");
    std::vector<std::string> layers = s.options.layers.empty() ? s.order : s.options.layers;
    CVG_REQUIRE(!layers.empty(), InvalidArgument, "compare session: nothing was pushed");
    for (const std::string& name : layers) {
        auto it = s.layers.find(name);
        CVG_REQUIRE(it != s.layers.end(), InvalidArgument, "compare session: layer '" + name + "' was never pushed");
        const Impl::Layer& l = it->second;
        std::string missing;
        bool any = false;
        for (size_t n = 0; n < l.batch.size(); ++n) {
            any = any || l.batch[n].pushed;
            if (!l.batch[n].pushed) missing += (missing.empty() ? "'" : ", '") + s.nets[n] + "'";
        }
        CVG_REQUIRE(!any, InvalidArgument,
                    "compare session: layer '" + name + "': batch " + std::to_string(l.batches) +
                        " is incomplete: net(s) " + missing + " did not push it");
        CVG_REQUIRE(l.pass != nullptr, InvalidArgument, "compare session: layer '" + name + "' has no complete batch");
        CVG_REQUIRE(s.images == 0 || l.pass->images() == s.images, BadData,
                    "compare session: layer '" + name + "' got " + std::to_string(l.pass->images()) +
                        " inputs, but the session was told to expect " + std::to_string(s.images));
        CVG_REQUIRE(l.pass->images() * l.positions >= 2, BadData,
                    "compare session: layer '" + name + "' has fewer than 2 samples");
    }
    s.finished = true;
    std::vector<std::string> inputs(s.nets.size(), "<stream>");
    nlohmann::json summary = summary_header(*s.backend, s.options, s.nets, inputs);
    nlohmann::json timings = {{"layers", nlohmann::json::object()}};
    for (size_t i = 0; i < layers.size(); ++i) {
        Impl::Layer& l = s.layers.at(layers[i]);
        LayerData data = l.pass->finish();
        l.pass.reset();
        nlohmann::json& lt = timings["layers"][layers[i]];
        analyse_layer(*s.backend, s.options, s.plan, data, sink, summary, lt);
        if (progress) progress(layers[i], 1.0);
    }
    if (s.options.timings) summary["timings"] = std::move(timings);
    sink.commit(summary);
    return summary;
}

}  // namespace convergent
