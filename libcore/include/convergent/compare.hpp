// The whole per-layer analysis behind `convergent compare`: one streaming
// pass over every net's activations per layer (moments for the Sec. 2
// statistics plus what the enabled analyses request, such as the Sec. 3.2
// sample rows), then the table of analysis steps on what the pass produced,
// written atomically to an output directory (docs/summary_schema.md).
// Options: convergent/options.hpp.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "convergent/activations.hpp"
#include "convergent/collective.hpp"
#include "convergent/options.hpp"
#include "convergent/tensor.hpp"

namespace convergent {

// One input net: its name in the results and where its activations are.
struct NetInput {
    std::string name;  // empty: the basename of path without extension
    std::string path;
};

// "name=path" names a net; anything else is a path. The text before the
// first '=' is taken as a name only when it has no '/' and the whole text is
// not itself an existing file or directory.
NetInput parse_net_input(const std::string& text);

// Throws InvalidArgument unless name can name a net: non-empty valid UTF-8
// without control characters, '/', '\\' or '~' ('~' joins pair keys "a~b"),
// and not "." or "..".
void validate_net_name(const std::string& name, const std::string& what);
// Throws BadData unless name can name a layer (it becomes a directory of the
// output): the same rules, and not starting with '.' or naming an output
// file (summary.json, report.html).
void validate_layer_name(const std::string& name, const std::string& what);

// Progress callback: (layer, fraction of the layer's pass done in [0,1]).
using ProgressFn = std::function<void(const std::string& layer, double fraction)>;

// The memory a layer of run_compare is planned to take at its peak (what
// --max-memory is checked against): the T x T float64 moments (turned into
// the correlation in place), the MI sample, the largest pair's analysis
// matrices, and the chunk being merged.
struct LayerMemoryEstimate {
    std::string layer;
    index_t units = 0;         // all nets' units together (T)
    index_t chunk_images = 0;  // inputs per chunk
    double fixed_bytes = 0;    // everything but the chunk
    double peak_bytes = 0;
};
// Opens the inputs of a comparison (mapped, headers only): at least two,
// each named (NAME=PATH, else its basename) with a valid, unique name;
// throws naming the input otherwise.
std::vector<NetSource> open_nets(const std::vector<NetInput>& inputs, const ActivationLayout& layout = {});

// Plans every layer of opened nets without reading activations; throws
// what run_compare would (OutOfMemory when a layer does not fit the budget).
std::vector<LayerMemoryEstimate> estimate_compare_memory(const std::vector<NetSource>& nets,
                                                         const CompareOptions& options);

// Where the results of a comparison go: summary.json plus float32 arrays
// at paths relative to the results directory ("conv1/a~b.corr.npy").
class ResultSink {
public:
    virtual ~ResultSink() = default;
    // Called once per layer before its arrays are written.
    virtual void begin_layer(const std::string& layer) = 0;
    virtual void write_array(const std::string& relative_path, const float* data,
                             const std::vector<index_t>& shape) = 0;
    // int64 arrays (the top-k image indices). By default written as float32
    // through write_array (exact below 2^24; the in-memory results).
    virtual void write_index_array(const std::string& relative_path, const std::int64_t* data,
                                   const std::vector<index_t>& shape);
    // Other files (the patch sprite sheets, PNG bytes). By default dropped:
    // in-memory results keep arrays and summary.json only.
    virtual void write_file(const std::string& relative_path, const std::string& bytes);
    // Called once, last, when every analysis succeeded.
    virtual void commit(const nlohmann::json& summary) = 0;
};

// A results directory written atomically: everything goes to a temporary
// sibling that is renamed onto out_dir by commit(); on any error before
// that, nothing is left behind. `inputs` are paths the results must not
// overwrite (see StagedDirectory).
class DirectorySink final : public ResultSink {
public:
    DirectorySink(const std::string& out_dir, bool overwrite, const std::vector<std::string>& inputs = {});
    ~DirectorySink() override;
    void begin_layer(const std::string& layer) override;
    void write_array(const std::string& relative_path, const float* data, const std::vector<index_t>& shape) override;
    void write_index_array(const std::string& relative_path, const std::int64_t* data,
                           const std::vector<index_t>& shape) override;
    void write_file(const std::string& relative_path, const std::string& bytes) override;
    void commit(const nlohmann::json& summary) override;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

struct FloatArray {
    std::vector<index_t> shape;
    std::vector<float> values;
};

// Results kept in memory (the Python API's result objects).
class MemorySink final : public ResultSink {
public:
    void begin_layer(const std::string&) override {}
    void write_array(const std::string& relative_path, const float* data, const std::vector<index_t>& shape) override;
    void commit(const nlohmann::json& summary) override { summary_ = summary; }

    const nlohmann::json& summary() const { return summary_; }
    std::map<std::string, FloatArray>& arrays() { return arrays_; }

private:
    nlohmann::json summary_;
    std::map<std::string, FloatArray> arrays_;
};

// Whether a result array holds integers, written as int64 (the top-k image
// indices and positions, <layer>/<net>.topk.npy and .topk_positions.npy);
// in memory (MemorySink, FloatArray) they are float32, exact below 2^24.
bool is_index_array(const std::string& relative_path);

// Writes results held in memory as a results directory with the layout of
// run_compare (atomically, like DirectorySink): `arrays` keys are the
// relative paths summary.json refers to. Throws InvalidArgument for a key
// that is absolute, climbs out ("..") or does not end in ".npy".
void save_results(const nlohmann::json& summary, const std::map<std::string, FloatArray>& arrays,
                  const std::string& out_dir, bool overwrite);

// In-memory nets: name and (layer, view) pairs; views are read in place and
// must stay valid during the call.
struct ArrayNet {
    std::string name;
    std::vector<std::pair<std::string, TensorView>> layers;
};

// Runs the comparison on opened nets and hands the results to `sink`.
// run_compare on files and on arrays both end here, so the same data gives
// the same figures either way. `inputs` records each net's origin in
// summary.json ("inputs"): a path, or e.g. "<memory>".
//
// With a collective (collective.hpp, docs/mpi.md), every rank calls this
// with the same nets and options: each streams its own contiguous slice of
// every layer's images, the accumulators are reduced to rank 0 in rank
// order, rank 0 alone runs the steps and writes to its sink (the other
// ranks' sinks are not touched), every rank returns the summary
// (summary.json "ranks"). An error on any rank throws on every rank
// ("rank R: ..."); the run-level steps (cross_layers) are Unsupported with
// more than one rank.
nlohmann::json run_compare(const std::vector<NetSource>& nets, const std::vector<std::string>& inputs,
                           ResultSink& sink, const CompareOptions& options, const ProgressFn& progress = {},
                           Collective* collective = nullptr);
// Arrays (host views), e.g. from NumPy or torch.
nlohmann::json run_compare(const std::vector<ArrayNet>& nets, ResultSink& sink, const CompareOptions& options,
                           const ProgressFn& progress = {}, Collective* collective = nullptr);

// The comparison fed batch by batch (in-process streaming, e.g. from
// forward hooks): each net pushes the same inputs, in the same batches, for
// every layer; nothing but the moments, the Sec. 3.2 sample rows and the
// batch being assembled is kept. A layer's batch is processed once every
// net has pushed it; until then the pushed views are only referenced, so
// they must stay valid until the last net's push of that batch returns
// (push_owned takes a release callback instead).
//
// With `images` (the total number of inputs) known, the Sec. 3.2 sample
// rows are the same seeded rows run_compare draws, so the results equal the
// file-based ones up to floating-point rounding of the chunking; with
// images = 0 (unknown), a seeded reservoir sample of the same size is drawn.
class CompareSession {
public:
    CompareSession(std::vector<std::string> net_names, const CompareOptions& options, index_t images = 0);
    ~CompareSession();
    CompareSession(const CompareSession&) = delete;
    CompareSession& operator=(const CompareSession&) = delete;

    // Backend that runs ("cpu", "cuda") and its description.
    std::string backend_name() const;
    std::string backend_description() const;

    // One batch of one net's layer: (B, C), or (B, C, H, W) / (B, H, W, C)
    // per options.layout, host memory. Throws naming the net, the layer and
    // the batch when the shape does not match the other nets' or the layer's
    // earlier batches, or when the net already pushed this batch.
    void push(int net, const std::string& layer, const TensorView& batch);
    // The same; `release` is called once the view is no longer needed (also
    // when push throws, and on destruction of an unfinished session).
    void push_owned(int net, const std::string& layer, const TensorView& batch, std::function<void()> release);

    // Layers pushed so far, in first-push order.
    std::vector<std::string> layers() const;
    // Runs the analysis steps on every layer (in first-push order, or
    // options.layers when given) and hands the results to sink. Throws when
    // a batch is incomplete or a layer got fewer inputs than another.
    nlohmann::json finish(ResultSink& sink, const ProgressFn& progress = {});

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};
// Runs the comparison and writes out_dir (via a temporary sibling directory
// renamed at the end: on any error nothing is left behind). Returns the
// summary JSON that was written. With a collective, rank 0 writes out_dir.
nlohmann::json run_compare(const std::vector<NetInput>& inputs, const std::string& out_dir,
                           const CompareOptions& options, const ProgressFn& progress = {},
                           Collective* collective = nullptr);
// Each input through parse_net_input.
nlohmann::json run_compare(const std::vector<std::string>& inputs, const std::string& out_dir,
                           const CompareOptions& options, const ProgressFn& progress = {});

}  // namespace convergent
