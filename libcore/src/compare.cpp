#include "convergent/compare.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "convergent/npy.hpp"
#include "convergent/statistics.hpp"
#include "staged_directory.hpp"

namespace fs = std::filesystem;

namespace convergent {

namespace {

std::string pair_key(const std::string& a, const std::string& b) { return a + "~" + b; }

// The layers to analyse: the requested ones, or every layer; each must exist
// in every net (a layer missing from one net is an error naming it).
std::vector<std::string> select_layers(const std::vector<NetSource>& nets,
                                       const std::vector<std::string>& requested) {
    std::vector<std::string> layers = requested;
    if (layers.empty()) {
        layers = nets.front().layer_names();
        for (size_t n = 1; n < nets.size(); ++n) {
            const std::vector<std::string> other = nets[n].layer_names();
            for (const auto& l : other)
                CVG_REQUIRE(nets.front().has_layer(l), BadData,
                            "net '" + nets[n].name() + "' (" + nets[n].path() + ") has layer '" + l +
                                "' but net '" + nets.front().name() + "' (" + nets.front().path() +
                                ") does not; pass --layers to compare a subset");
        }
    }
    for (const auto& l : layers)
        for (const auto& net : nets) net.layer(l);  // throws naming the net and its layers
    return layers;
}

// Every net must show the same inputs: same images and positions per image.
void check_aligned(const std::vector<const LayerSource*>& sources) {
    const LayerSource& first = *sources.front();
    for (const LayerSource* s : sources) {
        CVG_REQUIRE(s->images() == first.images(), BadData,
                    "layer '" + s->layer_name() + "': net '" + s->net_name() + "' (" + s->what() +
                        ") has " + std::to_string(s->images()) + " inputs but net '" +
                        first.net_name() + "' (" + first.what() + ") has " +
                        std::to_string(first.images()) +
                        "; every net must see the same inputs in the same order");
        CVG_REQUIRE(s->positions() == first.positions(), BadData,
                    "layer '" + s->layer_name() + "': net '" + s->net_name() + "' (" + s->what() +
                        ") has " + std::to_string(s->positions()) +
                        " spatial positions per input but net '" + first.net_name() + "' has " +
                        std::to_string(first.positions()));
    }
    CVG_REQUIRE(first.samples() >= 2, BadData,
                "layer '" + first.layer_name() + "' has fewer than 2 samples (" + first.what() + ")");
}

std::vector<double> slice(const std::vector<double>& v, index_t offset, index_t count) {
    return std::vector<double>(v.begin() + offset, v.begin() + offset + count);
}

void write_matrix(const fs::path& path, const std::vector<double>& m, index_t rows, index_t cols) {
    std::vector<float> f(m.begin(), m.end());
    write_npy(path.string(), f.data(), {rows, cols});
}

}  // namespace

nlohmann::json run_compare(const std::vector<std::string>& inputs, const std::string& out_dir,
                           const CompareOptions& options, const ProgressFn& progress) {
    CVG_REQUIRE(inputs.size() >= 2, InvalidArgument, "compare needs at least two nets");
    // Open and validate everything before any work or output.
    std::vector<NetSource> nets;
    std::set<std::string> names;
    for (const auto& path : inputs) {
        nets.push_back(NetSource::open(path, options.layout));
        CVG_REQUIRE(names.insert(nets.back().name()).second, InvalidArgument,
                    "two inputs are named '" + nets.back().name() +
                        "' (net names are the file/directory basenames; rename one)");
    }
    const std::vector<std::string> layers = select_layers(nets, options.layers);
    std::vector<std::vector<const LayerSource*>> layer_sources;
    for (const auto& l : layers) {
        std::vector<const LayerSource*> sources;
        for (const auto& net : nets) sources.push_back(&net.layer(l));
        check_aligned(sources);
        layer_sources.push_back(sources);
    }

    std::unique_ptr<Backend> backend = make_backend(options.backend);
    StagedDirectory staged(out_dir, options.overwrite);

    nlohmann::json summary;
    summary["schema_version"] = 1;
    summary["convergent_version"] = CONVERGENT_VERSION_STRING;
    summary["backend"] = backend_kind_name(backend->kind());
    summary["backend_device"] = backend->device_description();
    summary["backend_requested"] = backend_kind_name(options.backend);
    summary["nets"] = nlohmann::json::array();
    summary["inputs"] = nlohmann::json::object();
    for (size_t n = 0; n < nets.size(); ++n) {
        summary["nets"].push_back(nets[n].name());
        summary["inputs"][nets[n].name()] = inputs[n];
    }
    summary["options"] = {{"seed", options.seed},
                          {"chunk_rows", options.chunk_rows},
                          {"layout", options.layout.channels_last ? "NHWC" : "NCHW"}};
    summary["layers"] = nlohmann::json::object();

    for (size_t li = 0; li < layers.size(); ++li) {
        const std::string& layer = layers[li];
        const std::vector<const LayerSource*>& sources = layer_sources[li];
        const index_t images = sources.front()->images();
        const index_t positions = sources.front()->positions();
        std::vector<index_t> widths;
        for (const LayerSource* s : sources) widths.push_back(s->units());
        MomentAccumulator acc(widths);
        const index_t width = acc.width();

        // One streaming pass: chunks of whole inputs, every net side by side.
        const index_t chunk_images =
            std::max<index_t>(1, std::min<index_t>(images, options.chunk_rows / positions));
        std::vector<float> wide(size_t(chunk_images * positions * width));
        std::vector<float> part;
        for (index_t first = 0; first < images; first += chunk_images) {
            const index_t count = std::min(chunk_images, images - first);
            const index_t rows = count * positions;
            index_t offset = 0;
            for (const LayerSource* s : sources) {
                const index_t units = s->units();
                part.resize(size_t(rows * units));
                s->read_images(first, count, part.data());
                for (index_t r = 0; r < rows; ++r)
                    std::copy(part.begin() + r * units, part.begin() + (r + 1) * units,
                              wide.begin() + r * width + offset);
                offset += units;
            }
            acc.push(*backend, wide.data(), rows, width);
            if (progress) progress(layer, double(first + count) / double(images));
        }
        const LayerStatistics stats = finalize_statistics(acc);

        nlohmann::json lj;
        lj["shape"] = {{"images", images}, {"positions", positions}};
        lj["samples"] = stats.samples;
        lj["units"] = nlohmann::json::object();
        lj["dead_units"] = nlohmann::json::object();
        lj["mean"] = nlohmann::json::object();
        lj["std"] = nlohmann::json::object();
        for (size_t n = 0; n < nets.size(); ++n) {
            const std::string& name = nets[n].name();
            lj["units"][name] = widths[n];
            lj["dead_units"][name] = stats.dead_units(int(n));
            lj["mean"][name] = slice(stats.mean, stats.block_offsets[n], widths[n]);
            lj["std"][name] = slice(stats.stddev, stats.block_offsets[n], widths[n]);
        }

        const fs::path layer_dir = staged.path() / layer;
        fs::create_directories(layer_dir);
        lj["files"] = nlohmann::json::object();
        lj["pairs"] = nlohmann::json::object();
        for (size_t a = 0; a < nets.size(); ++a) {
            for (size_t b = a; b < nets.size(); ++b) {
                const std::string key = pair_key(nets[a].name(), nets[b].name());
                const std::string corr_file = layer + "/" + key + ".corr.npy";
                write_matrix(staged.path() / corr_file, stats.correlation_block(int(a), int(b)),
                             widths[a], widths[b]);
                lj["files"][key] = {{"corr", corr_file}};
                if (a == b) continue;
                lj["pairs"][key] = nlohmann::json::object();
            }
        }
        summary["layers"][layer] = lj;
    }

    write_text_file(staged.path() / "summary.json", summary.dump(1) + "\n");
    staged.commit();
    return summary;
}

}  // namespace convergent
