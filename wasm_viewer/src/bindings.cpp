// embind surface of the viewer core: every method answers a JSON string (see
// viewer_core.hpp), except heatmapRgba which returns a fresh Uint8ClampedArray.
#include <emscripten/bind.h>
#include <emscripten/val.h>

#include "viewer_core.hpp"

namespace {

using convergent::viewer::Viewer;

emscripten::val heatmap_rgba(const Viewer& viewer, const std::string& id) {
    const std::vector<std::uint8_t>& bytes = viewer.heatmap_rgba(id);
    // Copy out of the wasm heap: the view would dangle once memory grows.
    emscripten::val view(emscripten::typed_memory_view(bytes.size(), bytes.data()));
    return emscripten::val::global("Uint8ClampedArray").new_(view);
}

}  // namespace

EMSCRIPTEN_BINDINGS(convergent_viewer) {
    emscripten::class_<Viewer>("Viewer")
        .constructor<>()
        .function("loadSummary", &Viewer::load_summary)
        .function("loadLayer", &Viewer::load_layer)
        .function("setAvailableFiles", &Viewer::set_available_files)
        .function("addFile", &Viewer::add_file)
        .function("table1", &Viewer::table1)
        .function("similarityIndices", &Viewer::similarity_indices)
        .function("alignmentCurves", &Viewer::alignment_curves)
        .function("miVsCorrelation", &Viewer::mi_vs_correlation)
        .function("sparsePrediction", &Viewer::sparse_prediction)
        .function("clusterTree", &Viewer::cluster_tree)
        .function("clusterSimilarity", &Viewer::cluster_similarity)
        .function("meanActivations", &Viewer::mean_activations)
        .function("cycleConsistency", &Viewer::cycle_consistency)
        .function("makeHeatmap", &Viewer::make_heatmap)
        .function("heatmapRgba", &heatmap_rgba)
        .function("heatmapCell", &Viewer::heatmap_cell);
}
