// libFuzzer harness: the report viewer's core (wasm_viewer/src/viewer_core.cpp,
// compiled natively; bindings.cpp, the embind layer, is left out) on a
// fuzzed result: summary.json plus the embedded .npy matrices.
//
// Input: the summary.json text, then any number of embedded files, each
// introduced by kFileMarker, its path (relative to the results directory), a
// newline and its bytes up to the next marker (tests/fuzz/make_corpus.py packs
// a results directory this way). The harness does what the page does: load
// the summary, announce the files, hand them over, then ask every panel of one
// listed layer and pair (curves, Table 1, clusters, every heatmap kind with
// hover read-outs), and of names that are not listed. Every answer must be a
// JSON object with a "status" string; parse_npy_matrix may only throw
// ViewerError or convergent::Error. Findings: sanitizer reports, crashes,
// hangs, exceptions escaping a guarded method, answers that are not JSON.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "convergent/error.hpp"
#include "viewer_core.hpp"

using namespace convergent::viewer;

namespace {

const std::string kFileMarker = "\n=== ";

json answer(const std::string& text, const char* call) {
    json j;
    try {
        j = json::parse(text);
    } catch (const json::exception& e) {
        std::fprintf(stderr, "fuzz: %s answered text that is not JSON (%s): %.200s\n", call, e.what(), text.c_str());
        std::abort();
    }
    if (!j.is_object() || !j.contains("status") || !j["status"].is_string()) {
        std::fprintf(stderr, "fuzz: %s answered without a status: %.200s\n", call, text.c_str());
        std::abort();
    }
    return j;
}

#define ASK(expr) answer((expr), #expr)

std::vector<std::string> names(const json& list, const char* key) {
    std::vector<std::string> out;
    if (!list.is_array()) return out;
    for (const json& item : list) {
        const json& name = key && item.is_object() && item.contains(key) ? item[key] : item;
        if (name.is_string()) out.push_back(name.get<std::string>());
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string input(reinterpret_cast<const char*>(data), size);
    std::size_t end = input.find(kFileMarker);
    const std::string summary = input.substr(0, end);
    std::vector<std::pair<std::string, std::string>> files;
    while (end != std::string::npos) {
        const std::size_t path_start = end + kFileMarker.size();
        const std::size_t newline = input.find('\n', path_start);
        if (newline == std::string::npos) break;
        end = input.find(kFileMarker, newline + 1);
        files.emplace_back(input.substr(path_start, newline - path_start),
                           input.substr(newline + 1, end == std::string::npos ? std::string::npos : end - newline - 1));
    }

    Viewer viewer;
    const json overview = ASK(viewer.load_summary(summary));
    json available = {{"files", json::array()}, {"omitted", {{"conv1/a~b.mi.npy", "too large"}}}};
    for (const auto& file : files) available["files"].push_back(file.first);
    ASK(viewer.set_available_files(available.dump(-1, ' ', false, json::error_handler_t::replace)));
    for (const auto& [path, bytes] : files) {
        ASK(viewer.add_file(path, bytes));
        try {
            const Matrix m = parse_npy_matrix(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), path);
            const ValueRange range = finite_range(m);
            (void)colour_map(m, ColourMap::Diverging, range);
        } catch (const ViewerError&) {
        } catch (const convergent::Error&) {  // from libcore's .npy format unit
        }
    }
    if (overview["status"] != "ok") {
        ASK(viewer.table1("a~b"));
        return 0;
    }

    // One listed layer and pair per input, chosen by the last byte (so the
    // fuzzer can steer it), plus names that are not listed.
    const std::vector<std::string> listed_layers = names(overview["layers"], "name");
    const std::vector<std::string> listed_pairs = names(overview["pairs"], nullptr);
    const std::size_t choice = size ? data[size - 1] : 0;
    std::vector<std::string> layers = {"no such layer"}, pairs = {"no~such pair"};
    if (!listed_layers.empty()) layers.push_back(listed_layers[choice % listed_layers.size()]);
    if (!listed_pairs.empty()) pairs.push_back(listed_pairs[(choice / 16) % listed_pairs.size()]);
    int heatmap_id = 0;
    for (const std::string& pair : pairs) ASK(viewer.table1(pair));
    for (const std::string& layer : layers) {
        ASK(viewer.mean_activations(layer));
        ASK(viewer.cycle_consistency(layer));
        for (const std::string& pair : pairs) {
            ASK(viewer.alignment_curves(layer, pair, "correlation"));
            ASK(viewer.alignment_curves(layer, pair, "mutual_information"));
            ASK(viewer.mi_vs_correlation(layer, pair));
            ASK(viewer.sparse_prediction(layer, pair));
            ASK(viewer.cluster_tree(layer, pair));
            ASK(viewer.cluster_similarity(layer, pair));
            for (const char* kind : {"within_a", "within_b", "between", "matched", "clusters", "clusters_tau"}) {
                for (const char* measure : {"corr", "mi"}) {
                    const std::string id = "h" + std::to_string(heatmap_id++);
                    const json made = ASK(viewer.make_heatmap(id, layer, pair, kind, measure,
                                                              heatmap_id % 2 ? "grey" : "diverging"));
                    if (made["status"] != "ok") continue;
                    (void)viewer.heatmap_rgba(id);
                    const double nan = std::numeric_limits<double>::quiet_NaN();
                    for (const auto& [fx, fy] : std::vector<std::pair<double, double>>{
                             {0.999999, 0.0}, {1.0, -0.25}, {nan, 1e300}})
                        ASK(viewer.heatmap_cell(id, fx, fy));
                }
            }
        }
    }
    ASK(viewer.heatmap_cell("unknown", 0.5, 0.5));
    ASK(viewer.make_heatmap("bad", layers.front(), pairs.front(), "nonsense", "corr", "grey"));
    return 0;
}
