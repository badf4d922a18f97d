// The compare pipeline's plug-in interface (internal).
//
// run_compare makes one streaming pass per layer over every net (the layer
// pass: moments, plus whatever the enabled steps request, e.g. the MI sample
// rows), then runs the table of analysis steps, in order, on what the pass
// produced. A step owns its options (a nested struct of CompareOptions, its
// rows in option_table()), its result types, its JSON writer (summary_json)
// and the names it writes in summary.json. Steps hand results to later steps
// through LayerContext::publish/result (e.g. the correlation alignments that
// the MI step and cycle consistency read).
//
// Adding an analysis: docs/architecture.md, "Adding an analysis".
#pragma once

#include <any>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "convergent/activations.hpp"
#include "convergent/backend.hpp"
#include "convergent/compare.hpp"
#include "convergent/matching.hpp"
#include "convergent/options.hpp"
#include "convergent/resampling.hpp"
#include "convergent/similarity_indices.hpp"
#include "convergent/statistics.hpp"
#include "convergent/topk.hpp"

namespace convergent {

// What a step needs gathered during the layer pass besides the moments.
struct LayerPassRequest {
    index_t mi_sample_rows = 0;  // seeded sample rows gathered for every net (Sec. 3.2, footnote 6)
    // The per-sample sums of debiased CKA (similarity_indices.hpp), over
    // every sample, around the first chunk's mean.
    bool per_sample_terms = false;
    // Each unit's top_k best inputs (topk.hpp; 0: none), Figs. 2, 4-7, 12.
    index_t top_k = 0;
    // Image blocks of per-block moments for the bootstrap and the held-out
    // split (resampling.hpp; 0: none), capped at the layer's images.
    index_t resampling_blocks = 0;
};

// What the layer pass produced.
struct LayerData {
    std::string layer;
    std::vector<std::string> nets;  // net names, in input order
    std::vector<index_t> widths;    // units per net
    index_t images = 0, positions = 1;
    LayerStatistics stats;
    // The MI sample: mi_rows.size() rows x all nets' units side by side
    // (row-major, stats.block_offsets give each net's columns).
    std::vector<index_t> mi_rows;
    std::vector<float> mi_values;
    // When requested: the sums of the per-sample terms (or why they are
    // missing: device-pushed batches).
    PerSampleTerms per_sample;
    // When requested: every net's units' top-k inputs (all nets' units side
    // by side, like the moments), or why they are missing (device batches).
    TopKAccumulator top_k;
    std::string top_k_unavailable;
    index_t map_width = 1;  // W of a conv layer's map (position = y * W + x)
    // The receptive field (size, stride, padding) stored with the
    // activations, the same in every net's files (none: 0 x 0 x 0); an
    // explicit --receptive-field for the layer takes precedence.
    std::array<index_t, 3> stored_receptive_field{};
    // When requested: the per-block moments (resampling.hpp), or why they
    // are missing (device batches).
    BlockMoments blocks;
    std::string blocks_unavailable;
    // The aligned sources and the chunking of the pass, for steps that read
    // the layer again (the permutation null); empty for batched sessions.
    std::vector<const LayerSource*> sources;
    index_t chunk_images = 0;
};

class LayerContext {
public:
    LayerContext(const Backend& backend, const CompareOptions& options, LayerData& data, ResultSink& sink,
                 nlohmann::json& layer_json)
        : backend_(backend), options_(options), data_(data), sink_(sink), json_(layer_json) {}

    const Backend& backend() const { return backend_; }
    const CompareOptions& options() const { return options_; }
    LayerData& data() { return data_; }
    const LayerStatistics& stats() const { return data_.stats; }
    // Where the layer's outputs go (for files that are not pair matrices).
    ResultSink& sink() { return sink_; }
    int nets() const { return int(data_.nets.size()); }
    index_t width(int net) const { return data_.widths[size_t(net)]; }
    const std::string& net_name(int net) const { return data_.nets[size_t(net)]; }
    // "a~b": the key of a net pair in summary.json and in file names.
    std::string pair_key(int a, int b) const { return net_name(a) + "~" + net_name(b); }

    // The layer's object in summary.json, and its "pairs" entry for a < b.
    nlohmann::json& layer_json() { return json_; }
    nlohmann::json& pair_json(int a, int b);

    // Writes <layer>/<a>~<b>.<kind>.npy (float32) and records it under
    // "files" / "<a>~<b>" / kind.
    void write_pair_matrix(int a, int b, const std::string& kind, const std::vector<double>& m, index_t rows,
                           index_t cols);
    void write_pair_array(int a, int b, const std::string& kind, const std::vector<float>& values,
                          const std::vector<index_t>& shape);

    // Results shared between steps, by step name.
    template <typename T>
    T& publish(const std::string& step, T value) {
        shared_[step] = std::move(value);
        return std::any_cast<T&>(shared_[step]);
    }
    bool has_result(const std::string& step) const { return shared_.count(step) != 0; }
    template <typename T>
    const T& result(const std::string& step) const {
        return std::any_cast<const T&>(shared_.at(step));
    }

private:
    const Backend& backend_;
    const CompareOptions& options_;
    LayerData& data_;
    ResultSink& sink_;
    nlohmann::json& json_;
    std::map<std::string, std::any> shared_;
};

// Per-pair results, keyed by (a, b) with a < b.
template <typename T>
using PairResults = std::map<std::pair<int, int>, T>;

struct AnalysisStep {
    const char* name;         // its name in docs and, for most steps, its key in summary.json
    const char* description;  // one line: what it computes and the paper section
    // A step whose results this one reads: it runs whenever this one does.
    const char* requires_step;
    bool (*enabled)(const CompareOptions&);
    // What the layer pass must gather for this step (nullptr: moments only).
    void (*request)(const CompareOptions&, LayerPassRequest&);
    void (*run)(LayerContext&);
};

// ---- run-level steps ------------------------------------------------------------
// A step over every layer of every net at once (the cross-layer CKA maps): it
// does not fit the per-layer pass, so it reads the nets itself, after the
// per-layer steps, and writes under its own directory and summary.json key.
// Its layers need not be common to the nets (run_layers).
class RunContext {
public:
    RunContext(const Backend& backend, const CompareOptions& options, const std::vector<NetSource>& nets,
               ResultSink& sink, nlohmann::json& summary, const ProgressFn& progress)
        : backend_(backend), options_(options), nets_(nets), sink_(sink), summary_(summary), progress_(progress) {}

    const Backend& backend() const { return backend_; }
    const CompareOptions& options() const { return options_; }
    const std::vector<NetSource>& nets() const { return nets_; }
    // The whole summary.json object (a step writes its own top-level key).
    nlohmann::json& summary() { return summary_; }
    // Writes <dir>/<name> (float32); creates <dir> on first use.
    void write_array(const std::string& dir, const std::string& name, const std::vector<float>& values,
                     const std::vector<index_t>& shape);
    // progress(what, fraction), if the caller asked for progress.
    void report(const std::string& what, double fraction) const {
        if (progress_) progress_(what, fraction);
    }

private:
    const Backend& backend_;
    const CompareOptions& options_;
    const std::vector<NetSource>& nets_;
    ResultSink& sink_;
    nlohmann::json& summary_;
    const ProgressFn& progress_;
    std::vector<std::string> dirs_;
};

struct RunStep {
    const char* name;         // its key in summary.json and its output directory
    const char* description;
    bool (*enabled)(const CompareOptions&);
    // Checks the inputs before anything is read or written (throws naming
    // the nets and files), so a run fails before it starts.
    void (*check)(const std::vector<NetSource>& nets, const CompareOptions& options);
    void (*run)(RunContext&);
};

// The run-level steps, in order (compare.cpp); they run after the layers.
const std::vector<RunStep>& run_steps();
// Whether any run-level step is enabled.
bool run_steps_enabled(const CompareOptions& options);

// The layers of one net a run-level step reads: --layers restricted to
// that net's layers, or all of them, in cross_layer_axis_order; throws
// (BadData) when the net has none.
std::vector<std::string> run_layers(const NetSource& net, const CompareOptions& options);

RunStep cross_layers_step();

// The alignment of one pair's similarity matrix (Sec. 3.1); also writes its
// Fig. 1d matched-order matrix as <layer>/<a>~<b>.<kind>_matched.npy.
Alignment align_pair(LayerContext& ctx, int a, int b, const std::vector<double>& similarity,
                     const std::string& kind);

// The pipeline, in order (compare.cpp).
const std::vector<AnalysisStep>& analysis_steps();

// Each step's table row, defined in its own unit (step_<name>.cpp).
AnalysisStep statistics_step();
AnalysisStep correlation_matching_step();
AnalysisStep similarity_indices_step();
AnalysisStep mutual_information_step();
AnalysisStep sparse_prediction_step();
AnalysisStep clustering_step();
AnalysisStep cycle_consistency_step();
AnalysisStep mean_activation_step();
AnalysisStep top_patches_step();
AnalysisStep resampling_step();
// The resampling step's block moments for a layer of `width` units over
// `images` inputs (0: unknown) in bytes (0 when neither the bootstrap nor
// the held-out split runs), and "B blocks x T^2 float64" for messages.
double resampling_memory_bytes(const CompareOptions& options, index_t width, index_t images);
std::string resampling_memory_note(const CompareOptions& options, index_t width, index_t images);

}  // namespace convergent
