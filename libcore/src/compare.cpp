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
#include "convergent/npy.hpp"
#include "convergent/statistics.hpp"
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
        mutual_information_step(),    // Sec. 3.2
        sparse_prediction_step(),     // Sec. 4, few-to-one
        clustering_step(),            // Sec. 4, many-to-many
        cycle_consistency_step(),     // Sec. 3.1, >= 3 nets
        mean_activation_step(),       // abstract, finding 3
    };
    return steps;
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
    write_npy((root_ / stem).string(), values.data(), shape);
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

// The layers to analyse: the requested ones, or every layer; each must exist
// in every net (a layer missing from one net is an error naming it).
std::vector<std::string> select_layers(const std::vector<NetSource>& nets, const std::vector<std::string>& requested) {
    std::vector<std::string> layers = requested;
    if (layers.empty()) {
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
// for 512 units) and warm in cache between packing and dsyrk, and dsyrk
// still gets a long inner dimension (at least the width, so the O(T^2)
// Chan correction per chunk stays a small fraction of the O(rows T^2) work).
constexpr index_t kChunkRowsMax = 4096;

// Plans a layer's chunks within the budget: the parts that do not depend on
// the chunk (the T x T float64 moments and correlation, the MI sample, the
// largest pair's analysis matrices) and, per input image, the chunk buffers
// (the accumulator's float64 chunk and the float32 piece being read: 12
// bytes per unit and position). Returns the images per chunk: at most
// chunk_rows and kChunkRowsMax (or the width) rows' worth, at least one;
// fails naming the layer, its file and the estimate before anything is
// allocated.
index_t plan_chunk_images(const std::vector<const LayerSource*>& sources, index_t width,
                          const CompareOptions& options, const LayerPassRequest& request) {
    const LayerSource& first = *sources.front();
    index_t widest = 0;
    for (const LayerSource* s : sources) widest = std::max(widest, s->units());
    const double t = double(width), pair = 2.0 * double(widest);
    const double mi_rows = double(std::min<index_t>(request.mi_sample_rows, first.samples()));
    const double fixed = 2.0 * 8.0 * t * t        // comoment + correlation
                         + 4.0 * mi_rows * t      // MI sample (float32), then its codes
                         + 4.0 * 8.0 * pair * pair;  // per-pair blocks, graph, eigenvectors
    const double per_image = 3.0 * 4.0 * double(first.positions()) * t;
    const double budget = memory_budget(options);
    const std::string where = "layer '" + first.layer_name() + "' (" + first.what() + ", " +
                              std::to_string(sources.size()) + " nets, " + std::to_string(width) +
                              " units together, " + std::to_string(first.positions()) + " positions per input)";
    CVG_REQUIRE(fixed + per_image <= budget, OutOfMemory,
                "out of memory: " + where + " needs at least " + mib(fixed + per_image) + " (" + mib(fixed) +
                    " of statistics and analysis matrices + " + mib(per_image) +
                    " per input image), more than the memory budget of " + mib(budget) +
                    " (--max-memory / CVG_OPT_MAX_MEMORY_MB)");
    const index_t rows = std::min(options.chunk_rows, std::max(kChunkRowsMax, width));
    const index_t by_rows = std::max<index_t>(1, rows / first.positions());
    const double fit = std::floor((budget - fixed) / per_image);
    return std::max<index_t>(1, std::min<index_t>({first.images(), by_rows, fit >= 9e18 ? by_rows : index_t(fit)}));
}

// Floats per piece read from one net: the piece is converted into the
// accumulator's chunk while it is still in cache (512 KiB).
constexpr index_t kPieceElements = index_t(1) << 17;
// One streaming pass over a layer: chunks of whole inputs, every net side by
// side, into the moment accumulator; gathers the requested sample rows.
// Each net is read a piece (a few inputs) at a time and handed straight to
// the accumulator, which converts and centres it into its chunk once (no
// side-by-side float32 copy of the chunk).
LayerData layer_pass(const Backend& backend, const std::vector<const LayerSource*>& sources,
                     const std::vector<std::string>& net_names, const CompareOptions& options,
                     const LayerPassRequest& request, const ProgressFn& progress) {
    LayerData d;
    d.layer = sources.front()->layer_name();
    d.nets = net_names;
    d.images = sources.front()->images();
    d.positions = sources.front()->positions();
    index_t width = 0;
    for (const LayerSource* s : sources) {
        d.widths.push_back(s->units());
        width += s->units();
    }
    const index_t chunk_images = plan_chunk_images(sources, width, options, request);
    MomentAccumulator acc(d.widths, d.layer, d.nets);
    const std::string what = "layer '" + d.layer + "' (" + sources.front()->what() + ")";
    std::vector<float> piece;
    // Sec. 3.2 footnote 6: the same seeded sample rows of every net, gathered
    // during this pass so the data is read once.
    if (request.mi_sample_rows > 0) {
        d.mi_rows = sample_rows(d.images * d.positions, request.mi_sample_rows, options.seed);
        resize_or_fail(d.mi_values, d.mi_rows.size() * size_t(width), what, "the mutual-information sample");
    }
    for (index_t first = 0; first < d.images; first += chunk_images) {
        const index_t count = std::min(chunk_images, d.images - first);
        const index_t rows = count * d.positions;
        acc.begin_chunk(backend, rows);
        index_t offset = 0;
        for (const LayerSource* s : sources) {
            const index_t units = s->units();
            const index_t piece_images =
                std::max<index_t>(1, std::min(count, kPieceElements / std::max<index_t>(1, d.positions * units)));
            resize_or_fail(piece, size_t(piece_images * d.positions * units), what, "one net's piece of the chunk");
            for (index_t done = 0; done < count; done += piece_images) {
                const index_t n = std::min(piece_images, count - done);
                s->read_images(first + done, n, piece.data());
                const index_t piece_row = done * d.positions, piece_rows = n * d.positions;
                acc.add_block(piece.data(), piece_rows, units, piece_row, offset, units);
                // The sample rows inside this piece (d.mi_rows is sorted).
                const index_t row0 = first * d.positions + piece_row;
                auto it = std::lower_bound(d.mi_rows.begin(), d.mi_rows.end(), row0);
                for (; it != d.mi_rows.end() && *it < row0 + piece_rows; ++it)
                    std::copy(piece.begin() + (*it - row0) * units, piece.begin() + (*it - row0 + 1) * units,
                              d.mi_values.begin() + index_t(it - d.mi_rows.begin()) * width + offset);
            }
            offset += units;
        }
        acc.end_chunk();
        if (progress) progress(d.layer, double(first + count) / double(d.images));
    }
    d.stats = finalize_statistics(acc);
    return d;
}

}  // namespace

nlohmann::json run_compare(const std::vector<std::string>& inputs, const std::string& out_dir,
                           const CompareOptions& options, const ProgressFn& progress) {
    std::vector<NetInput> nets;
    for (const std::string& text : inputs) nets.push_back(parse_net_input(text));
    return run_compare(nets, out_dir, options, progress);
}

nlohmann::json run_compare(const std::vector<NetInput>& inputs, const std::string& out_dir,
                           const CompareOptions& options, const ProgressFn& progress) {
    CVG_REQUIRE(inputs.size() >= 2, InvalidArgument, "compare needs at least two nets");
    validate_options(options);

    // Open and validate everything before any work or output.
    std::vector<NetSource> nets;
    std::set<std::string> names;
    std::vector<std::string> paths;
    for (const NetInput& in : inputs) {
        CVG_REQUIRE(!in.path.empty(), InvalidArgument, "net '" + in.name + "': the path is empty");
        if (!in.name.empty()) validate_net_name(in.name, "input '" + in.path + "'");
        nets.push_back(NetSource::open(in.path, options.layout, in.name));
        if (in.name.empty())
            validate_net_name(nets.back().name(), "input '" + in.path + "' (named after its basename)");
        CVG_REQUIRE(names.insert(nets.back().name()).second, InvalidArgument,
                    "two inputs are named '" + nets.back().name() + "' (" + in.path +
                        "); name them with NAME=PATH, e.g. net1=" + in.path);
        paths.push_back(in.path);
    }
    const std::vector<std::string> layers = select_layers(nets, options.layers);
    std::vector<std::vector<const LayerSource*>> layer_sources;
    for (const auto& l : layers) {
        std::vector<const LayerSource*> sources;
        for (const auto& net : nets) sources.push_back(&net.layer(l));
        check_aligned(sources);
        layer_sources.push_back(sources);
    }
    std::vector<std::string> net_names;
    for (const auto& net : nets) net_names.push_back(net.name());

    // The steps that run: enabled ones and those an enabled one requires.
    const std::vector<AnalysisStep>& steps = analysis_steps();
    std::vector<bool> active(steps.size());
    for (size_t i = steps.size(); i-- > 0;) {
        active[i] = steps[i].enabled(options);
        for (size_t j = i + 1; j < steps.size(); ++j)
            if (active[j] && steps[j].requires_step && std::string(steps[j].requires_step) == steps[i].name)
                active[i] = true;
    }
    LayerPassRequest request;
    for (size_t i = 0; i < steps.size(); ++i)
        if (active[i] && steps[i].request) steps[i].request(options, request);

    using Clock = std::chrono::steady_clock;
    const auto seconds_since = [](Clock::time_point t0) {
        return std::chrono::duration<double>(Clock::now() - t0).count();
    };
    nlohmann::json timings = {{"layers", nlohmann::json::object()}};
    auto t_stage = Clock::now();
    std::unique_ptr<Backend> backend = make_backend(options.backend);
    timings["backend_setup"] = seconds_since(t_stage);
    StagedDirectory staged(out_dir, options.overwrite, paths);

    nlohmann::json summary;
    summary["schema_version"] = 1;
    summary["convergent_version"] = CONVERGENT_VERSION_STRING;
    summary["backend"] = backend_kind_name(backend->kind());
    summary["backend_device"] = backend->device_description();
    summary["backend_requested"] = backend_kind_name(options.backend);
    summary["nets"] = net_names;
    summary["inputs"] = nlohmann::json::object();
    for (size_t n = 0; n < nets.size(); ++n) summary["inputs"][net_names[n]] = inputs[n].path;
    summary["options"] = recorded_options(options);
    summary["layers"] = nlohmann::json::object();

    for (size_t li = 0; li < layers.size(); ++li) {
        nlohmann::json& lt = timings["layers"][layers[li]];
        t_stage = Clock::now();
        LayerData data = layer_pass(*backend, layer_sources[li], net_names, options, request, progress);
        lt["pass"] = seconds_since(t_stage);
        fs::create_directories(staged.path() / layers[li]);
        nlohmann::json lj = nlohmann::json::object();
        LayerContext ctx(*backend, options, data, staged.path(), lj);
        for (size_t i = 0; i < steps.size(); ++i) {
            if (!active[i]) continue;
            t_stage = Clock::now();
            steps[i].run(ctx);
            lt[steps[i].name] = seconds_since(t_stage);
        }
        summary["layers"][layers[li]] = std::move(lj);
    }
    // Wall-clock seconds, for finding where the time goes; not part of the
    // results (absent unless asked for, so outputs stay reproducible).
    if (options.timings) summary["timings"] = std::move(timings);

    write_text_file((staged.path() / "summary.json").string(), summary.dump(1) + "\n");
    staged.commit();
    return summary;
}

}  // namespace convergent
