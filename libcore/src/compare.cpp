#include "convergent/compare.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <numeric>
#include <set>

#include "convergent/atomic_file.hpp"
#include "convergent/matching.hpp"
#include "convergent/mean_activation.hpp"
#include "convergent/mutual_information.hpp"
#include "convergent/npy.hpp"
#include "convergent/sparse_prediction.hpp"
#include "convergent/spectral_clustering.hpp"
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
    for (const auto& l : layers) {
        // Layer names become directory names of the output: no path tricks
        // from a crafted .npz member name.
        CVG_REQUIRE(!l.empty() && l.find_first_of("/\\") == std::string::npos && l != "." && l != "..",
                    BadData, "layer name '" + l + "' cannot be used as a directory name");
        for (const auto& net : nets) net.layer(l);  // throws naming the net and its layers
    }
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

// Fig. 2 vs Fig. 4 check: how many of the 8 best semi-matched (row, column)
// pairs by correlation are also among the 8 best by mutual information.
int top_pairs_overlap(const SemiMatching& x, const SemiMatching& y, size_t top) {
    auto best = [top](const SemiMatching& m) {
        std::vector<index_t> rows;  // rows with a match (dead rows have none)
        for (size_t i = 0; i < m.column.size(); ++i)
            if (m.column[i] >= 0) rows.push_back(index_t(i));
        std::stable_sort(rows.begin(), rows.end(),
                         [&](index_t i, index_t j) { return m.value[size_t(i)] > m.value[size_t(j)]; });
        std::set<std::pair<index_t, index_t>> pairs;
        for (size_t i = 0; i < std::min(top, rows.size()); ++i)
            pairs.insert({rows[i], m.column[size_t(rows[i])]});
        return pairs;
    };
    const auto a = best(x), b = best(y);
    int common = 0;
    for (const auto& p : a) common += int(b.count(p));
    return common;
}

// Writes the alignment of one similarity matrix, its matched-order matrix,
// and returns the ALIGNMENT object.
nlohmann::json alignment_section(const Backend& backend, const std::vector<double>& similarity,
                                 index_t rows, index_t cols, const std::vector<std::uint8_t>& row_dead,
                                 const std::vector<std::uint8_t>& col_dead,
                                 const fs::path& matched_path, Alignment& alignment) {
    alignment = align(backend, similarity.data(), rows, cols, row_dead, col_dead);
    write_matrix(matched_path, matched_order_matrix(similarity.data(), rows, cols, alignment), rows, cols);
    return alignment_to_json(alignment);
}

}  // namespace

nlohmann::json run_compare(const std::vector<std::string>& inputs, const std::string& out_dir,
                           const CompareOptions& options, const ProgressFn& progress) {
    CVG_REQUIRE(inputs.size() >= 2, InvalidArgument, "compare needs at least two nets");
    CVG_REQUIRE(options.chunk_rows >= 1, InvalidArgument, "chunk_rows must be >= 1");
    CVG_REQUIRE(options.mi_bins >= 1 && options.mi_bins <= 254, InvalidArgument,
                "mi_bins must be in 1..254 (codes are 8-bit, one is the <= 1e-6 bin)");
    CVG_REQUIRE(options.mi_samples >= 2 && options.mi_samples <= (index_t(1) << 31) - 1, InvalidArgument,
                "mi_samples must be in 2..2^31-1");
    CVG_REQUIRE(options.cluster_tau >= 0.0 && options.cluster_tau <= 1.0, InvalidArgument,
                "cluster_tau must be in [0, 1]");
    CVG_REQUIRE(options.cluster_alpha > 0.0, InvalidArgument, "cluster_alpha must be > 0");
    CVG_REQUIRE(options.cluster_k >= -1, InvalidArgument, "cluster_k must be >= -1");
    for (double a : options.lasso_alphas)
        CVG_REQUIRE(a > 0.0 && std::isfinite(a), InvalidArgument, "lasso alphas must be finite and > 0");
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
                          {"layout", options.layout.channels_last ? "NHWC" : "NCHW"},
                          {"correlation_matching", options.correlation_matching},
                          {"mutual_information", options.mutual_information},
                          {"mi_bins", options.mi_bins},
                          {"mi_samples", options.mi_samples},
                          {"sparse_prediction", options.sparse_prediction},
                          {"lasso_alphas", options.lasso_alphas},
                          {"lasso_weights", options.lasso_weights},
                          {"clustering", options.clustering},
                          {"cluster_tau", options.cluster_tau},
                          {"cluster_alpha", options.cluster_alpha},
                          {"cluster_k", options.cluster_k},
                          {"mean_activation", options.mean_activation}};
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
        // Sec. 3.2 footnote 6: the same seeded sample rows of every net,
        // gathered during this pass so the data is read once.
        std::vector<index_t> mi_rows;
        std::vector<float> mi_values;
        if (options.mutual_information) {
            mi_rows = sample_rows(images * positions, options.mi_samples, options.seed);
            mi_values.resize(mi_rows.size() * size_t(width));
        }
        size_t next_mi = 0;
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
            const index_t row0 = first * positions;
            for (; next_mi < mi_rows.size() && mi_rows[next_mi] < row0 + rows; ++next_mi)
                std::copy(wide.begin() + (mi_rows[next_mi] - row0) * width,
                          wide.begin() + (mi_rows[next_mi] - row0 + 1) * width,
                          mi_values.begin() + index_t(next_mi) * width);
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
        const size_t k = nets.size();
        std::vector<std::string> net_names;
        for (const auto& net : nets) net_names.push_back(net.name());

        std::vector<BinnedUnits> binned;
        if (options.mutual_information) {
            BinningOptions bopt;
            bopt.bins = options.mi_bins;
            bopt.samples = options.mi_samples;
            bopt.seed = options.seed;
            for (size_t n = 0; n < k; ++n)
                binned.push_back(bin_units(mi_values.data() + stats.block_offsets[n], index_t(mi_rows.size()),
                                           widths[n], width, bopt));
            mi_values = {};
        }

        lj["files"] = nlohmann::json::object();
        lj["pairs"] = nlohmann::json::object();
        std::map<std::pair<int, int>, Alignment> corr_alignments;
        auto dead_of = [&](size_t net) {
            return std::vector<std::uint8_t>(stats.dead.begin() + stats.block_offsets[net],
                                             stats.dead.begin() + stats.block_offsets[net] + widths[net]);
        };
        for (size_t a = 0; a < k; ++a) {
            for (size_t b = a; b < k; ++b) {
                const std::string key = pair_key(net_names[a], net_names[b]);
                const std::string stem = layer + "/" + key;
                const std::vector<double> corr = stats.correlation_block(int(a), int(b));
                write_matrix(staged.path() / (stem + ".corr.npy"), corr, widths[a], widths[b]);
                nlohmann::json files = {{"corr", stem + ".corr.npy"}};
                std::vector<double> mi;
                if (options.mutual_information) {
                    mi = mutual_information_matrix(*backend, binned[a], binned[b]);
                    write_matrix(staged.path() / (stem + ".mi.npy"), mi, widths[a], widths[b]);
                    files["mi"] = stem + ".mi.npy";
                }
                if (a == b) {
                    lj["files"][key] = files;
                    continue;
                }
                nlohmann::json pj = nlohmann::json::object();
                Alignment corr_alignment;
                if (options.correlation_matching || options.mutual_information) {
                    pj["correlation"] = alignment_section(*backend, corr, widths[a], widths[b],
                                                          dead_of(a), dead_of(b), staged.path() / (stem + ".corr_matched.npy"),
                                                          corr_alignment);
                    files["corr_matched"] = stem + ".corr_matched.npy";
                    corr_alignments[{int(a), int(b)}] = corr_alignment;
                }
                if (options.mutual_information) {
                    Alignment mi_alignment;
                    nlohmann::json mj = alignment_section(*backend, mi, widths[a], widths[b],
                                                          dead_of(a), dead_of(b), staged.path() / (stem + ".mi_matched.npy"),
                                                          mi_alignment);
                    files["mi_matched"] = stem + ".mi_matched.npy";
                    mj["top8_overlap_with_correlation"] =
                        top_pairs_overlap(corr_alignment.semi, mi_alignment.semi, 8);
                    mj["bins"] = binned[a].bins;
                    mj["samples"] = index_t(mi_rows.size());
                    pj["mutual_information"] = mj;
                }
                if (options.sparse_prediction) {
                    SparsePredictionOptions sopt;
                    if (!options.lasso_alphas.empty()) sopt.alphas = options.lasso_alphas;
                    sopt.keep_weights = options.lasso_weights;
                    const SparsePredictionResult sp = sparse_prediction(stats, int(a), int(b), sopt);
                    pj["sparse_prediction"] = sparse_prediction_to_json(sp, net_names[a], net_names[b]);
                    if (options.lasso_weights) {
                        // alphas x targets (units of a) x predictors (units of b), standardised units.
                        std::vector<float> w;
                        w.reserve(sp.weights.size() * size_t(sp.targets * sp.predictors));
                        for (const auto& per_alpha : sp.weights) w.insert(w.end(), per_alpha.begin(), per_alpha.end());
                        write_npy((staged.path() / (stem + ".lasso_weights.npy")).string(), w.data(),
                                  {index_t(sp.weights.size()), sp.targets, sp.predictors});
                        files["lasso_weights"] = stem + ".lasso_weights.npy";
                    }
                }
                if (options.clustering) {
                    ClusteringOptions copt;
                    copt.tau = options.cluster_tau;
                    copt.alpha = options.cluster_alpha;
                    copt.k = options.cluster_k;
                    copt.seed = options.seed;
                    const ClusteringResult cr = spectral_clustering(*backend, stats, int(a), int(b), copt);
                    if (!lj.contains("clusters")) lj["clusters"] = nlohmann::json::object();
                    lj["clusters"][key] = clustering_to_json(cr, net_names[a], net_names[b]);
                }
                lj["pairs"][key] = pj;
                lj["files"][key] = files;
            }
        }
        if (k >= 3 && !corr_alignments.empty())
            lj["cycle_consistency"] = cycle_consistency_json(
                net_names, [&](int a, int b) -> const Alignment& { return corr_alignments.at({a, b}); });
        if (options.mean_activation) lj["mean_activation"] = mean_activation_json(stats, net_names);
        summary["layers"][layer] = lj;
    }

    write_text_file((staged.path() / "summary.json").string(), summary.dump(1) + "\n");
    staged.commit();
    return summary;
}

}  // namespace convergent
