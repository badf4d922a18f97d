// Every option of `convergent compare`, declared once.
//
// CompareOptions holds the values, one nested struct per analysis step (the
// step that reads them). option_table() describes each of them: its name (the
// key in summary.json "options" and the Python keyword), CLI flag, C key
// (CVG_OPT_*), type, range, help text and owning step. The CLI builds its
// flags and help from the table, the C API's cvg_options_* setters and getters
// look keys up in it, summary.json records the options it marks, and tests
// check the key lists of convergent.h, python/convergent.py and
// capi/fortran/convergent.f90 against it. A range is checked in one place:
// set_option(). (zstd's parameter table with ZSTD_cParam_getBounds is the
// model.)
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "convergent/activations.hpp"
#include "convergent/backend.hpp"
#include "convergent/error.hpp"
#include "convergent/mutual_information.hpp"
#include "convergent/similarity_indices.hpp"
#include "convergent/sparse_prediction.hpp"
#include "convergent/spectral_clustering.hpp"

namespace convergent {

// Sec. 3.1: one-to-one alignment by semi-matching and max-weight matching.
struct MatchingStepOptions {
    bool enabled = true;
    // Dead units (zero variance): false = left out of the matchings and the
    // Table 1 means; true = kept with correlation (and MI) 0, as the paper's
    // own code did. Also read by the MI matching and cycle consistency.
    bool include_dead_units = false;
};

// Whole-layer similarity indices beside the unit matching: linear and
// debiased CKA, CCA, SVCCA, PWCCA, Procrustes (similarity_indices.hpp).
struct SimilarityIndicesStepOptions {
    bool enabled = true;
    double svcca_variance = 0.99;   // variance fraction each net's SVCCA subspace keeps
    double procrustes_alpha = 1.0;  // netrep's partial whitening: 1 = none, 0 = full
    double cca_ridge = 1e-6;        // relative ridge of ill-conditioned covariances
};

// Sec. 3.2 and footnote 6: histogram mutual information.
struct MutualInformationStepOptions {
    bool enabled = true;
    index_t bins = 20;              // equal-mass bins above the zero bin (5% each)
    index_t samples = 60000;        // rows drawn per layer, the same rows of every net
    double zero_threshold = 1e-6;   // upper end of the special bin (-inf, zero_threshold]
};

// Sec. 4 (and the reviews): sparse few-to-one prediction by L1 paths.
struct SparsePredictionStepOptions {
    bool enabled = true;
    std::vector<double> alphas;     // empty: the library's default path
    double tol = 1e-7;              // duality-gap tolerance
    index_t max_iter = 10000;       // coordinate sweeps per alpha
    bool keep_weights = false;      // also write <layer>/<a>~<b>.lasso_weights.npy
};

// Sec. 4.1-4.3: hierarchical spectral clustering of the combined graph.
struct ClusteringStepOptions {
    bool enabled = true;
    double tau = 0.2;
    double alpha = 0.025;
    // First-level clusters: -1 = the paper's ratio k = 0.4 x units per net,
    // 0 = the eigengap suggestion, > 0 = this k.
    index_t k = -1;
    index_t n_init = 10;
    bool hierarchical = true;
    index_t split_k = 2;
    index_t eigengap_candidates = 0;
    bool normalize_rows = false;
};

// Abstract, finding 3: sorted mean activations across nets.
struct MeanActivationStepOptions {
    bool enabled = true;
};

// Figs. 2, 4-7, 12: what each unit sees. The k inputs that activate every
// unit most (topk.hpp), and, given the input images, their patches.
struct TopPatchesStepOptions {
    bool enabled = true;
    index_t k = 9;                  // inputs per unit (a 3 x 3 grid in the report)
    // The input images (one .npy path; N x H x W [x C] or N x C x H x W,
    // uint8 or float, in the activations' order); empty: no patches.
    std::vector<std::string> images;
    // Conv layers' receptive fields, "layer=size,stride,padding" items
    // (the list splits at commas: conv1=5,1,2,conv2=14,2,5).
    std::vector<std::string> receptive_field;
};

// Run-level (over every layer at once): layer-by-layer linear CKA maps
// across nets (Nguyen, Raghu & Kornblith 2021), minibatch unbiased HSIC.
struct CrossLayersStepOptions {
    bool enabled = false;
    index_t batch_size = 256;       // images per minibatch (>= 4); a last partial one is dropped
};

// Uncertainty of the headline figures (resampling.hpp, docs/resampling.md):
// bootstrap intervals and held-out scores from per-block moments gathered
// in the layer pass, a permutation null from extra passes. All off by default.
struct ResamplingStepOptions {
    index_t bootstrap = 0;       // replicates (0: none)
    index_t blocks = 200;        // image blocks of the bootstrap and the held-out split (capped at the images)
    double confidence = 0.95;    // level of the percentile intervals
    double holdout = 0;          // fraction of the blocks scored, the rest fit (0: none)
    index_t permutations = 0;    // permutation replicates (0: none); files and arrays only
    // Reference nets (e.g. untrained), file inputs appended after the
    // compared nets; every pair gets the same figures, so each trained pair
    // has reference pairs beside it. Files only (CLI, cvg_compare).
    std::vector<std::string> baseline_nets;
    bool enabled() const { return bootstrap > 0 || holdout > 0 || permutations > 0 || !baseline_nets.empty(); }
};

struct CompareOptions {
    // The layer pass.
    // Empty: every layer (all nets must have the same layers; with
    // cross_layers, the per-layer steps take the layers every net has).
    std::vector<std::string> layers;
    BackendKind backend = BackendKind::Auto;
    ActivationLayout layout;
    index_t chunk_rows = 16384;       // target rows (samples) per streamed chunk
    // CPU backend: chunk products in float32 (ssyrk, about 2x faster;
    // MomentAccumulator::set_float32_products) instead of float64.
    bool statistics_float32 = false;
    std::uint64_t seed = 0;           // MI row sampling, k-means
    bool overwrite = false;           // replace an existing non-empty output directory
    // Memory budget of one layer's pass and analyses, MiB; 0 = 3/4 of the
    // physical memory (or of the address-space limit, when lower). Chunks
    // are planned to fit, and a layer that cannot fit fails before any
    // allocation with an estimate.
    index_t max_memory_mb = 0;
    bool timings = false;             // add a "timings" stage breakdown to summary.json

    // The analysis steps, in pipeline order (analysis_steps() in compare.cpp).
    MatchingStepOptions matching;
    SimilarityIndicesStepOptions similarity_indices;
    MutualInformationStepOptions mutual_information;
    SparsePredictionStepOptions sparse_prediction;
    ClusteringStepOptions clustering;
    MeanActivationStepOptions mean_activation;
    TopPatchesStepOptions top_patches;
    ResamplingStepOptions resampling;
    // The run-level steps (run_steps() in compare.cpp).
    CrossLayersStepOptions cross_layers;
};

enum class OptionType {
    Flag,        // bool; CLI: --name (or --no-name for one that defaults to true)
    Integer,     // int64 in [min, max]
    Unsigned,    // uint64 in [min, max] (the seed)
    Real,        // finite double in [min, max]
    RealList,    // comma-separated finite doubles, each in [min, max]
    NameList,    // comma-separated names
    Choice,      // one of `choices` ("a|b|c"); the C API's integer is the index
};

// A typed reference to the field an option sets.
using OptionField = std::variant<bool*, index_t*, std::uint64_t*, double*, std::vector<double>*,
                                 std::vector<std::string>*, BackendKind*>;

struct OptionSpec {
    const char* name;       // summary.json / Python keyword, snake_case
    const char* flag;       // CLI flag ("--mi-bins"; "--no-mi" for a Flag that defaults to true)
    const char* alias;      // another CLI flag or nullptr ("--channels-last" sets layout to its last choice)
    int32_t c_key;          // CVG_OPT_* number (stable ABI); 0 = not in the C API
    const char* c_name;     // "CVG_OPT_MI_BINS"
    OptionType type;
    double min, max;        // bounds of Integer/Unsigned/Real/RealList values
    bool min_exclusive;     // min itself is not allowed ("> 0")
    bool one_excluded;      // Integer: 1 is not allowed (cluster_split_k: 0 or >= 2)
    const char* choices;    // Choice: "auto|cpu|cuda"
    const char* step;       // owning step ("pass" for the layer pass)
    bool recorded;          // copied into summary.json "options"
    const char* help;
    OptionField (*field)(CompareOptions&);
    // The CLI flag given without a value means this value ("--bootstrap"
    // alone: 100 replicates); nullptr: the flag needs its value.
    const char* implicit = nullptr;
};

// The table, in CLI help order.
const std::vector<OptionSpec>& option_table();

// nullptr when unknown.
const OptionSpec* find_option(const std::string& name);
const OptionSpec* find_option_by_key(int32_t c_key);

// Setters check the range and type; a rejected value leaves options
// unchanged and throws InvalidArgument naming the option.
//   text: what a user typed ("20", "0.3,0.1", "cpu", "true"/"1"/"0")
void set_option(CompareOptions& options, const OptionSpec& spec, const std::string& text);
void set_option(CompareOptions& options, const OptionSpec& spec, std::int64_t value);
void set_option(CompareOptions& options, const OptionSpec& spec, double value);

// Getters. Integer form: Flag 0/1, Choice index; Real keys fail here.
std::int64_t option_integer(const CompareOptions& options, const OptionSpec& spec);
double option_real(const CompareOptions& options, const OptionSpec& spec);
std::string option_text(const CompareOptions& options, const OptionSpec& spec);
nlohmann::json option_json(const CompareOptions& options, const OptionSpec& spec);

// Checks every option's range (for options filled in directly from C++).
void validate_options(const CompareOptions& options);

// The "options" object of summary.json: every recorded option.
nlohmann::json recorded_options(const CompareOptions& options);

// The table as JSON (name, flag, c_key, c_name, type, min, max, choices, step,
// default, help): `convergent options --json`, and what the binding tests
// check their key lists against.
nlohmann::json option_table_json();

// The algorithm options a step's options stand for (the C API's single
// analyses use the same conversion, so they equal the pipeline's).
BinningOptions binning_options(const CompareOptions& options);
SparsePredictionOptions sparse_prediction_options(const CompareOptions& options);
ClusteringOptions clustering_options(const CompareOptions& options);
SimilarityIndicesOptions similarity_indices_options(const CompareOptions& options);

}  // namespace convergent
