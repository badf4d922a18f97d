// The numeric core of the report viewer: reads the result model
// (docs/summary_schema.md) and the .npy matrices it references, and turns them
// into what the page draws — RGBA heatmaps (Fig. 1, Fig. 13), permuted
// matrices, hover look-ups and plot-ready curves (Fig. 3, Fig. 14, Table 1).
//
// Plain C++17 with nlohmann::json: compiled by em++ for the page
// (bindings.cpp) and by the host compiler for a native smoke test. Every
// answer to the page is a JSON object with "status": "ok" | "missing" |
// "error", so a panel can show data, a "not computed" note or an error
// message; nothing here throws past Viewer's public methods.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace convergent::viewer {

using index_t = std::int64_t;
using json = nlohmann::ordered_json;  // keeps the layer order of summary.json

// Malformed input (result model or .npy); the message names the file or the
// JSON path and the problem.
class ViewerError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A dense row-major float matrix.
struct Matrix {
    index_t rows = 0;
    index_t cols = 0;
    std::vector<float> values;
    float at(index_t r, index_t c) const { return values[size_t(r * cols + c)]; }
};

// Parses a 1-D or 2-D .npy (versions 1-3, f2/f4/f8 either byte order, C or
// Fortran order) into a row-major matrix; a 1-D array becomes one row. The
// header and the elements go through libcore's .npy format unit
// (libcore/src/npy_format.cpp); its errors come back as ViewerError.
Matrix parse_npy_matrix(const std::uint8_t* bytes, std::size_t size, const std::string& what);

struct ValueRange {
    float lo = 0.0f;
    float hi = 0.0f;
};
// Min and max over finite entries (0, 0 when there are none).
ValueRange finite_range(const Matrix& m);

enum class ColourMap {
    Grey,       // Fig. 1: minimum black, maximum white
    Diverging,  // blue - white - red, symmetric around 0
};
ColourMap parse_colour_map(const std::string& name);
// rows*cols*4 bytes RGBA; non-finite entries are drawn magenta.
std::vector<std::uint8_t> colour_map(const Matrix& m, ColourMap map, ValueRange range);

// out(:, j) = m(:, order[j]); order must be a permutation of 0..cols-1.
Matrix permute_columns(const Matrix& m, const std::vector<index_t>& order, const std::string& what);
// out(i, j) = m(perm[i], perm[j]); m square, perm a permutation.
Matrix permute_symmetric(const Matrix& m, const std::vector<index_t>& perm, const std::string& what);
// Sec. 6.5 combined similarity graph G_{X+Y}: [[XX, XY], [XY^T, YY]].
Matrix combined_matrix(const Matrix& xx, const Matrix& xy, const Matrix& yy);

// "Nice" axis ticks (1, 2, 5 x 10^k) covering [lo, hi].
std::vector<double> nice_ticks(double lo, double hi, int target_count);

// One heatmap as shown: the matrix in display order, and for each displayed
// row/column the net and unit index it stands for (for hover read-outs).
struct Heatmap {
    Matrix matrix;
    std::vector<std::string> nets;            // names referenced by row_net/col_net
    std::vector<int> row_net, col_net;        // index into nets, per displayed row/col
    std::vector<index_t> row_unit, col_unit;  // unit index within its net
    ValueRange range;
    json info;  // shape, range, labels, cluster blocks...
};

class Viewer {
public:
    // Parses and validates summary.json; returns {"status":"ok", overview...}
    // or {"status":"error","message":...}.
    std::string load_summary(const std::string& json_text);
    // Replaces layers.<layer> of the loaded summary with the full layer
    // object. The page first loads a summary whose layers keep only what the
    // all-layer tables read (Table 1, similarity indices: their scalars),
    // and each layer in full when it is first shown, so the core parses
    // about a seventh of summary.json at load.
    std::string load_layer(const std::string& layer, const std::string& json_text);
    // Paths (relative to the results directory) present in the report, and
    // those left out (path -> reason).
    std::string set_available_files(const std::string& json_text);
    // Hands over the bytes of one embedded file.
    std::string add_file(const std::string& path, const std::string& bytes);

    std::string table1(const std::string& pair) const;
    // Per layer, the pair's whole-layer indices (pairs.<pair>.similarity_indices:
    // cka, cka_debiased, cca_mean, svcca_mean, pwcca, procrustes_*) beside the
    // Table 1 matching mean; null where a layer did not compute them.
    std::string similarity_indices(const std::string& pair) const;
    std::string alignment_curves(const std::string& layer, const std::string& pair,
                                 const std::string& measure) const;
    std::string mi_vs_correlation(const std::string& layer, const std::string& pair) const;
    std::string sparse_prediction(const std::string& layer, const std::string& pair) const;
    std::string cluster_tree(const std::string& layer, const std::string& pair) const;
    std::string cluster_similarity(const std::string& layer, const std::string& pair) const;
    std::string mean_activations(const std::string& layer) const;
    // Core vs rare units (layers.<layer>.cycle_consistency, >= 3 nets): the
    // fractions, and triangle_return_fraction per unit of the reference net
    // sorted by decreasing value (with the unit order).
    std::string cycle_consistency(const std::string& layer) const;

    // kind: "within_a" | "within_b" | "between" | "matched" | "clusters" |
    // "clusters_tau" (Fig. 13 W: entries < tau and the diagonal set to 0);
    // measure: "corr" | "mi"; colours: "grey" | "diverging". Stores the
    // heatmap under id. Status "need_files" lists embedded files that must
    // be handed over with add_file first.
    std::string make_heatmap(const std::string& id, const std::string& layer, const std::string& pair,
                             const std::string& kind, const std::string& measure,
                             const std::string& colours);
    // RGBA bytes of a stored heatmap (empty when unknown).
    const std::vector<std::uint8_t>& heatmap_rgba(const std::string& id) const;
    // The cell under fractional position (fx, fy) in [0,1)^2 of heatmap id.
    std::string heatmap_cell(const std::string& id, double fx, double fy) const;

private:
    const json& layer_json(const std::string& layer) const;
    std::pair<std::string, std::string> split_pair(const std::string& pair) const;
    std::string pair_label(const std::string& pair) const;  // "a vs b"
    // Path of the file `kind` ("corr", "mi", ...) of key "a~b" in layer, or "".
    std::string file_path(const std::string& layer, const std::string& key, const std::string& kind) const;
    const Matrix* matrix(const std::string& path) const;

    json summary_;
    bool loaded_ = false;
    std::set<std::string> available_;
    std::map<std::string, std::string> omitted_;
    mutable std::map<std::string, std::string> raw_files_;  // dropped once parsed
    mutable std::map<std::string, Matrix> matrices_;
    std::map<std::string, Heatmap> heatmaps_;
    std::map<std::string, std::vector<std::uint8_t>> rgba_;
};

}  // namespace convergent::viewer
