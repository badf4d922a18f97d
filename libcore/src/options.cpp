#include "convergent/options.hpp"

#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <cctype>
#include <sstream>
#include <type_traits>

namespace convergent {

namespace {

constexpr double kIntMax = 2147483647.0;
constexpr double kInt64Max = 9223372036854775807.0;
constexpr double kHuge = std::numeric_limits<double>::max();

// Row builders: each states only what differs between option kinds.
OptionSpec flag(const char* name, const char* flag_text, int32_t key, const char* c_name, const char* step,
                bool recorded, const char* help, OptionField (*field)(CompareOptions&)) {
    return {name, flag_text, nullptr, key, c_name, OptionType::Flag, 0, 1, false, false, nullptr, step, recorded,
            help, field};
}
OptionSpec integer(const char* name, const char* flag_text, int32_t key, const char* c_name, double min,
                   double max, const char* step, const char* help, OptionField (*field)(CompareOptions&)) {
    return {name, flag_text, nullptr, key, c_name, OptionType::Integer, min, max, false, false, nullptr, step,
            true, help, field};
}
OptionSpec real(const char* name, const char* flag_text, int32_t key, const char* c_name, double min, double max,
                bool min_exclusive, const char* step, const char* help, OptionField (*field)(CompareOptions&)) {
    return {name, flag_text, nullptr, key, c_name, OptionType::Real, min, max, min_exclusive, false, nullptr, step,
            true, help, field};
}

// The C key numbers are the ABI (capi/include/convergent.h): never renumber.
std::vector<OptionSpec> build_table() {
    using O = CompareOptions;
    std::vector<OptionSpec> t;
    // ---- the layer pass
    t.push_back({"layers", "--layers", nullptr, 5, "CVG_OPT_LAYERS", OptionType::NameList, 0, 0, false, false,
                 nullptr, "pass", false, "only these layers, comma-separated (default: every layer; every net must have them, except "
                 "with --cross-layers: see docs/architecture.md)",
                 [](O& o) -> OptionField { return &o.layers; }});
    t.push_back({"backend", "--backend", nullptr, 1, "CVG_OPT_BACKEND", OptionType::Choice, 0, 2, false, false,
                 "auto|cpu|cuda", "pass", false,
                 "auto: cuda when compiled in and a GPU is present, else cpu (the result says which ran); "
                 "cuda without a GPU is an error",
                 [](O& o) -> OptionField { return &o.backend; }});
    t.push_back({"layout", "--layout", "--channels-last", 4, "CVG_OPT_CHANNELS_LAST", OptionType::Choice, 0, 1,
                 false, false, "NCHW|NHWC", "pass", true,
                 "axis order of conv layers: (N, C, H, W) or (N, H, W, C); --channels-last = NHWC",
                 [](O& o) -> OptionField { return &o.layout.channels_last; }});
    t.push_back(integer("chunk_rows", "--chunk-rows", 3, "CVG_OPT_CHUNK_ROWS", 1, kIntMax, "pass",
                        "samples per streamed chunk (capped at max(4096, units of all nets) so the float64 chunk stays in cache)", [](O& o) -> OptionField { return &o.chunk_rows; }));
    t.push_back({"statistics_precision", "--statistics-precision", nullptr, 60, "CVG_OPT_STATISTICS_PRECISION",
                 OptionType::Choice, 0, 1, false, false, "float64|float32", "pass", true,
                 "precision of each chunk's centred products (means, merges and correlations stay float64): float32 "
                 "runs ssyrk, faster above 2,048 units in all nets (about 1.3x), correlations within 1e-6 of float64; "
                 "CPU backend only",
                 [](O& o) -> OptionField { return &o.statistics_float32; }});
    t.push_back({"seed", "--seed", nullptr, 2, "CVG_OPT_SEED", OptionType::Unsigned, 0, kInt64Max, false, false,
                 nullptr, "pass", true, "seed of the MI row sample and of k-means",
                 [](O& o) -> OptionField { return &o.seed; }});
    t.push_back({"max_memory_mb", "--max-memory", nullptr, 27, "CVG_OPT_MAX_MEMORY_MB", OptionType::Integer, 0,
                 double(index_t(1) << 40), false, false, nullptr, "pass", false,
                 "memory budget in MiB for one layer; chunks are planned to fit (0: 3/4 of physical memory)",
                 [](O& o) -> OptionField { return &o.max_memory_mb; }});
    t.push_back(flag("timings", "--timings", 28, "CVG_OPT_TIMINGS", "pass", false,
                     "add a \"timings\" object to summary.json: seconds per stage, layer and analysis step",
                     [](O& o) -> OptionField { return &o.timings; }));
    t.push_back(flag("overwrite", "--overwrite", 6, "CVG_OPT_OVERWRITE", "pass", false,
                     "replace an existing non-empty output directory",
                     [](O& o) -> OptionField { return &o.overwrite; }));
    // ---- correlation matching (Sec. 3.1)
    t.push_back(flag("correlation_matching", "--no-matching", 7, "CVG_OPT_MATCHING", "correlation_matching", true,
                     "skip correlation semi-matching and matching (Sec. 3.1); still computed when MI runs",
                     [](O& o) -> OptionField { return &o.matching.enabled; }));
    t.push_back({"dead_units", "--dead-units", nullptr, 29, "CVG_OPT_DEAD_UNITS", OptionType::Choice, 0, 1, false,
                 false, "exclude|include", "correlation_matching", true,
                 "dead (zero-variance) units in the matchings and Table 1 means: exclude them, or include them "
                 "with similarity 0 as the paper's code did",
                 [](O& o) -> OptionField { return &o.matching.include_dead_units; }});
    // ---- whole-layer similarity indices (CKA, CCA family, Procrustes)
    t.push_back(flag("similarity_indices", "--no-similarity-indices", 30, "CVG_OPT_SIMILARITY_INDICES",
                     "similarity_indices", true,
                     "skip the whole-layer similarity indices (linear and debiased CKA, CCA, SVCCA, PWCCA, "
                     "Procrustes) computed from the streamed covariances",
                     [](O& o) -> OptionField { return &o.similarity_indices.enabled; }));
    t.push_back(real("svcca_variance", "--svcca-variance", 31, "CVG_OPT_SVCCA_VARIANCE", 0, 1, true,
                     "similarity_indices",
                     "fraction of each net's variance kept by its SVCCA subspace (Raghu et al. 2017: 0.99)",
                     [](O& o) -> OptionField { return &o.similarity_indices.svcca_variance; }));
    t.push_back(real("procrustes_alpha", "--procrustes-alpha", 32, "CVG_OPT_PROCRUSTES_ALPHA", 0, 1, false,
                     "similarity_indices",
                     "partial whitening of the Procrustes distances (netrep): 1 = rotations only, 0 = full "
                     "whitening (CCA-like)",
                     [](O& o) -> OptionField { return &o.similarity_indices.procrustes_alpha; }));
    t.push_back(real("cca_ridge", "--cca-ridge", 33, "CVG_OPT_CCA_RIDGE", 0, 1, true, "similarity_indices",
                     "a covariance whose smallest eigenvalue is below this x its mean eigenvalue (e.g. fewer "
                     "samples than units) gets this x the mean eigenvalue added to its diagonal for CCA, "
                     "SVCCA, PWCCA and the whitening (with a warning)",
                     [](O& o) -> OptionField { return &o.similarity_indices.cca_ridge; }));
    // ---- mutual information (Sec. 3.2)
    t.push_back(flag("mutual_information", "--no-mi", 8, "CVG_OPT_MUTUAL_INFORMATION", "mutual_information", true,
                     "skip mutual information (Sec. 3.2)",
                     [](O& o) -> OptionField { return &o.mutual_information.enabled; }));
    t.push_back(integer("mi_bins", "--mi-bins", 12, "CVG_OPT_MI_BINS", 1, double(kMaxMutualInformationBins),
                        "mutual_information", "equal-mass bins besides the <= zero-threshold bin (footnote 6: 20)",
                        [](O& o) -> OptionField { return &o.mutual_information.bins; }));
    t.push_back(integer("mi_samples", "--mi-samples", 13, "CVG_OPT_MI_SAMPLES", 2, kIntMax, "mutual_information",
                        "sample rows for the histograms, the same rows of every net",
                        [](O& o) -> OptionField { return &o.mutual_information.samples; }));
    t.push_back(real("mi_zero_threshold", "--mi-zero-threshold", 14, "CVG_OPT_MI_ZERO_THRESHOLD", -kHuge, kHuge,
                     false, "mutual_information", "upper end of the special bin for (near) zero activations",
                     [](O& o) -> OptionField { return &o.mutual_information.zero_threshold; }));
    // ---- sparse prediction (Sec. 4)
    t.push_back(flag("sparse_prediction", "--no-sparse", 9, "CVG_OPT_SPARSE_PREDICTION", "sparse_prediction", true,
                     "skip sparse few-to-one prediction (Sec. 4)",
                     [](O& o) -> OptionField { return &o.sparse_prediction.enabled; }));
    t.push_back({"lasso_alphas", "--lasso-alphas", nullptr, 15, "CVG_OPT_LASSO_ALPHAS", OptionType::RealList, 0,
                 kHuge, true, false, nullptr, "sparse_prediction", true,
                 "L1 strengths of the path, comma-separated, each > 0 (default: 0.3,0.1,0.05,0.03,0.02,0.01,0.005)",
                 [](O& o) -> OptionField { return &o.sparse_prediction.alphas; }});
    t.push_back(real("lasso_tol", "--lasso-tol", 16, "CVG_OPT_LASSO_TOL", 0, kHuge, true, "sparse_prediction",
                     "duality-gap tolerance of coordinate descent",
                     [](O& o) -> OptionField { return &o.sparse_prediction.tol; }));
    t.push_back(integer("lasso_max_iter", "--lasso-max-iter", 17, "CVG_OPT_LASSO_MAX_ITER", 1, kIntMax,
                        "sparse_prediction", "coordinate sweeps per alpha",
                        [](O& o) -> OptionField { return &o.sparse_prediction.max_iter; }));
    t.push_back(flag("lasso_weights", "--lasso-weights", 18, "CVG_OPT_LASSO_KEEP_WEIGHTS", "sparse_prediction", true,
                     "also write <layer>/<a>~<b>.lasso_weights.npy (alphas x units a x units b)",
                     [](O& o) -> OptionField { return &o.sparse_prediction.keep_weights; }));
    // ---- spectral clustering (Sec. 4.1-4.3)
    t.push_back(flag("clustering", "--no-clusters", 10, "CVG_OPT_CLUSTERING", "clustering", true,
                     "skip hierarchical spectral clustering (Sec. 4)",
                     [](O& o) -> OptionField { return &o.clustering.enabled; }));
    t.push_back(real("cluster_tau", "--cluster-tau", 19, "CVG_OPT_CLUSTER_TAU", 0, 1, false, "clustering",
                     "edge threshold of the correlation graph (Sec. 4.1)",
                     [](O& o) -> OptionField { return &o.clustering.tau; }));
    t.push_back(real("cluster_alpha", "--cluster-alpha", 20, "CVG_OPT_CLUSTER_ALPHA", 0, kHuge, true, "clustering",
                     "leaf size parameter: split clusters larger than 2 alpha S (Sec. 4.3)",
                     [](O& o) -> OptionField { return &o.clustering.alpha; }));
    t.push_back(integer("cluster_k", "--cluster-k", 21, "CVG_OPT_CLUSTER_K", -1, kIntMax, "clustering",
                        "first-level clusters: -1 = the paper's ratio (0.4 x units per net), 0 = the eigengap "
                        "suggestion; clamped to the live units",
                        [](O& o) -> OptionField { return &o.clustering.k; }));
    t.push_back(integer("kmeans_n_init", "--kmeans-n-init", 22, "CVG_OPT_KMEANS_N_INIT", 1, kIntMax, "clustering",
                        "k-means++ restarts", [](O& o) -> OptionField { return &o.clustering.n_init; }));
    t.push_back(flag("cluster_hierarchical", "--no-cluster-hierarchy", 23, "CVG_OPT_CLUSTER_HIERARCHICAL",
                     "clustering", true, "do not re-split big clusters (Sec. 4.3)",
                     [](O& o) -> OptionField { return &o.clustering.hierarchical; }));
    {
        OptionSpec s = integer("cluster_split_k", "--cluster-split-k", 24, "CVG_OPT_CLUSTER_SPLIT_K", 0, kIntMax,
                               "clustering", "children per split, 0 or >= 2 (0: by size)",
                               [](O& o) -> OptionField { return &o.clustering.split_k; });
        s.one_excluded = true;
        t.push_back(s);
    }
    t.push_back(integer("cluster_eigengap_candidates", "--cluster-eigengap-candidates", 25,
                        "CVG_OPT_CLUSTER_EIGENGAP_CANDIDATES", 0, kIntMax, "clustering",
                        "eigenvalues computed for the eigengap suggestion (0: max(2k, 64))",
                        [](O& o) -> OptionField { return &o.clustering.eigengap_candidates; }));
    t.push_back(flag("cluster_normalize_rows", "--cluster-normalize-rows", 26, "CVG_OPT_CLUSTER_NORMALIZE_ROWS",
                     "clustering", true, "Ng-Jordan-Weiss row normalisation of the eigenvectors (the paper does not)",
                     [](O& o) -> OptionField { return &o.clustering.normalize_rows; }));
    // ---- mean activation (abstract, finding 3)
    t.push_back(flag("mean_activation", "--no-mean-activation", 11, "CVG_OPT_MEAN_ACTIVATION", "mean_activation",
                     true, "skip the sorted mean-activation comparison",
                     [](O& o) -> OptionField { return &o.mean_activation.enabled; }));
    // ---- top activating inputs and their patches (Figs. 2, 4-7, 12)
    t.push_back(flag("top_patches", "--no-top-patches", 50, "CVG_OPT_TOP_PATCHES", "top_patches", true,
                     "skip each unit's top-k activating inputs (<layer>/<net>.topk.npy) and their patches",
                     [](O& o) -> OptionField { return &o.top_patches.enabled; }));
    t.push_back(integer("top_k", "--top-k", 51, "CVG_OPT_TOP_K", 1, 1024, "top_patches",
                        "inputs kept per unit, best first (a conv unit's response to an input is its maximum "
                        "over positions; ties: the lower input index)",
                        [](O& o) -> OptionField { return &o.top_patches.k; }));
    t.push_back({"images", "--images", nullptr, 52, "CVG_OPT_IMAGES", OptionType::NameList, 0, 0, false, false, nullptr,
                 "top_patches", true,
                 "the input images as one .npy (N x H x W [x C] or N x C x H x W, uint8 or float, the "
                 "activations' order): writes each unit's top-k patches as <layer>/<net>.patches.png",
                 [](O& o) -> OptionField { return &o.top_patches.images; }});
    t.push_back({"receptive_field", "--receptive-field", nullptr, 53, "CVG_OPT_RECEPTIVE_FIELD", OptionType::NameList, 0, 0, false,
                 false, nullptr, "top_patches", true,
                 "receptive field of conv layers in input pixels, layer=size,stride,padding items "
                 "(conv1=5,1,2,conv2=14,2,5); a conv layer without one shows whole images",
                 [](O& o) -> OptionField { return &o.top_patches.receptive_field; }});
    // ---- resampling: bootstrap intervals, held-out scores, permutation null
    // (docs/resampling.md). Not in summary.json "options" (outputs without
    // them stay as they were); each layer's "resampling" object records them.
    t.push_back({"bootstrap", "--bootstrap", nullptr, 70, "CVG_OPT_BOOTSTRAP", OptionType::Integer, 0, 1e6, false,
                 false, nullptr, "resampling", false,
                 "bootstrap replicates over image blocks for percentile intervals of Table 1 and the similarity "
                 "indices, from block moments gathered in the same pass (0: none; 100 is a usual choice)",
                 [](O& o) -> OptionField { return &o.resampling.bootstrap; }, "100"});
    t.push_back({"bootstrap_blocks", "--bootstrap-blocks", nullptr, 71, "CVG_OPT_BOOTSTRAP_BLOCKS",
                 OptionType::Integer, 2, 1e6, false, false, nullptr, "resampling", false,
                 "image blocks (seeded hash of the image index) of the bootstrap and the held-out split, capped at "
                 "the image count; memory: blocks x units^2 float64",
                 [](O& o) -> OptionField { return &o.resampling.blocks; }});
    t.push_back({"confidence", "--confidence", nullptr, 72, "CVG_OPT_CONFIDENCE", OptionType::Real, 0, 1, true,
                 false, nullptr, "resampling", false, "level of the bootstrap percentile intervals",
                 [](O& o) -> OptionField { return &o.resampling.confidence; }});
    t.push_back({"holdout", "--holdout", nullptr, 73, "CVG_OPT_HOLDOUT", OptionType::Real, 0, 0.9, false, false,
                 nullptr, "resampling", false,
                 "fraction of the image blocks held out: matchings and lasso weights are chosen on the rest and "
                 "scored on them, beside their in-sample values (0: none)",
                 [](O& o) -> OptionField { return &o.resampling.holdout; }});
    t.push_back({"permutations", "--permutations", nullptr, 74, "CVG_OPT_PERMUTATIONS", OptionType::Integer, 0, 1e6,
                 false, false, nullptr, "resampling", false,
                 "permutation null: replicates with every net but the first reading its images in a seeded "
                 "random order (one more pass each); null mean, sd, z-score and p-value of every figure (0: none)",
                 [](O& o) -> OptionField { return &o.resampling.permutations; }});
    t.push_back({"baseline_nets", "--baseline-nets", nullptr, 75, "CVG_OPT_BASELINE_NETS", OptionType::NameList, 0, 0,
                 false, false, nullptr, "resampling", false,
                 "reference nets (e.g. untrained), comma-separated paths or NAME=PATH, compared after the nets "
                 "like any net; summary.json marks them and their pairs (files only)",
                 [](O& o) -> OptionField { return &o.resampling.baseline_nets; }});
    // ---- cross-layer CKA maps (run-level; Nguyen, Raghu & Kornblith 2021)
    t.push_back(flag("cross_layers", "--cross-layers", 40, "CVG_OPT_CROSS_LAYERS", "cross_layers", true,
                     "layer x layer linear CKA maps between every pair of nets and of each net with itself "
                     "(minibatch unbiased HSIC); the nets may differ in layers",
                     [](O& o) -> OptionField { return &o.cross_layers.enabled; }));
    t.push_back(integer("cross_layers_batch", "--cross-layers-batch", 41, "CVG_OPT_CROSS_LAYERS_BATCH", 4, kIntMax,
                        "cross_layers",
                        "images per minibatch of the cross-layer maps, in input order (a last partial "
                        "minibatch is dropped)",
                        [](O& o) -> OptionField { return &o.cross_layers.batch_size; }));
    return t;
}

const char* type_name(OptionType t) {
    switch (t) {
        case OptionType::Flag: return "flag";
        case OptionType::Integer: return "integer";
        case OptionType::Unsigned: return "unsigned";
        case OptionType::Real: return "real";
        case OptionType::RealList: return "real list";
        case OptionType::NameList: return "name list";
        case OptionType::Choice: return "choice";
    }
    return "?";
}

std::vector<std::string> choices_of(const OptionSpec& s) {
    std::vector<std::string> out;
    std::stringstream in(s.choices ? s.choices : "");
    std::string item;
    while (std::getline(in, item, '|')) out.push_back(item);
    return out;
}

std::string trim(const std::string& s) {
    const size_t b = s.find_first_not_of(" \t");
    if (b == std::string::npos) return "";
    const size_t e = s.find_last_not_of(" \t");
    return s.substr(b, e - b + 1);
}

std::string format_real(double v) {
    std::ostringstream out;
    out.precision(17);
    out << v;
    return out.str();
}

std::string format_bound(double v) {
    if (v >= kInt64Max) return "2^63-1";
    if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(std::int64_t(v));
    std::ostringstream out;
    out << v;
    return out.str();
}

// "[1, 254]", "> 0", "0 or >= 2", ...
std::string range_text(const OptionSpec& s) {
    if (s.type == OptionType::Flag) return "0 or 1";
    if (s.type == OptionType::Choice) return std::string("one of ") + s.choices;
    if (s.one_excluded) return format_bound(s.min) + " or >= 2";
    const bool open_top = s.max >= kHuge;
    const bool open_bottom = s.min <= -kHuge;
    if (open_top && open_bottom) return "a finite number";
    if (open_top) return (s.min_exclusive ? "> " : ">= ") + format_bound(s.min);
    return std::string(s.min_exclusive ? "(" : "[") + format_bound(s.min) + ", " + format_bound(s.max) + "]";
}

[[noreturn]] void out_of_range(const OptionSpec& s, const std::string& value) {
    fail(ErrorCode::InvalidArgument, std::string(s.name) + " = " + value + " is out of range (expected " +
                                         range_text(s) + ")");
}

void check_number(const OptionSpec& s, double v, const std::string& text) {
    const bool ok = std::isfinite(v) && (s.min_exclusive ? v > s.min : v >= s.min) && v <= s.max &&
                    !(s.one_excluded && v == 1.0);
    if (!ok) out_of_range(s, text);
}

std::int64_t parse_integer(const OptionSpec& s, const std::string& text) {
    const std::string t = trim(text);
    errno = 0;
    char* end = nullptr;
    const long long v = std::strtoll(t.c_str(), &end, 10);
    CVG_REQUIRE(!t.empty() && end && *end == '\0', InvalidArgument,
                std::string(s.name) + ": '" + text + "' is not an integer");
    if (errno == ERANGE) out_of_range(s, text);
    return std::int64_t(v);
}

double parse_real(const OptionSpec& s, const std::string& text) {
    const std::string t = trim(text);
    errno = 0;
    char* end = nullptr;
    const double v = std::strtod(t.c_str(), &end);
    CVG_REQUIRE(!t.empty() && end && *end == '\0', InvalidArgument,
                std::string(s.name) + ": '" + text + "' is not a number");
    if (errno == ERANGE || !std::isfinite(v)) out_of_range(s, text);
    return v;
}

std::vector<std::string> split_list(const OptionSpec& s, const std::string& text) {
    std::vector<std::string> items;
    if (trim(text).empty()) return items;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ',')) {
        item = trim(item);
        CVG_REQUIRE(!item.empty(), InvalidArgument, std::string(s.name) + ": empty item in '" + text + "'");
        items.push_back(item);
    }
    CVG_REQUIRE(text.back() != ',', InvalidArgument, std::string(s.name) + ": empty item in '" + text + "'");
    return items;
}

// Writes an integer into whatever field the option has (range already checked).
void store_integer(CompareOptions& o, const OptionSpec& s, std::int64_t v) {
    std::visit(
        [&](auto* field) {
            using T = std::remove_pointer_t<decltype(field)>;
            if constexpr (std::is_same_v<T, bool>) *field = v != 0;
            else if constexpr (std::is_same_v<T, index_t>) *field = v;
            else if constexpr (std::is_same_v<T, std::uint64_t>) *field = std::uint64_t(v);
            else if constexpr (std::is_same_v<T, BackendKind>) *field = BackendKind(v);
            else fail(ErrorCode::Internal, std::string("option ") + s.name + " has no integer field");
        },
        s.field(o));
}

}  // namespace

const std::vector<OptionSpec>& option_table() {
    static const std::vector<OptionSpec> table = build_table();
    return table;
}

const OptionSpec* find_option(const std::string& name) {
    for (const OptionSpec& s : option_table())
        if (name == s.name) return &s;
    return nullptr;
}

const OptionSpec* find_option_by_key(int32_t key) {
    for (const OptionSpec& s : option_table())
        if (s.c_key != 0 && s.c_key == key) return &s;
    return nullptr;
}

void set_option(CompareOptions& o, const OptionSpec& s, std::int64_t v) {
    switch (s.type) {
        case OptionType::Flag:
        case OptionType::Integer:
        case OptionType::Unsigned:
        case OptionType::Choice:
            check_number(s, double(v), std::to_string(v));
            store_integer(o, s, v);
            return;
        case OptionType::Real: set_option(o, s, double(v)); return;
        case OptionType::RealList:
        case OptionType::NameList:
            fail(ErrorCode::InvalidArgument, std::string(s.name) + " takes a list, not a number");
    }
}

void set_option(CompareOptions& o, const OptionSpec& s, double v) {
    CVG_REQUIRE(s.type == OptionType::Real, InvalidArgument,
                std::string(s.name) + " is " + type_name(s.type) + " option, not a real number");
    check_number(s, v, format_real(v));
    *std::get<double*>(s.field(o)) = v;
}

void set_option(CompareOptions& o, const OptionSpec& s, const std::string& text) {
    switch (s.type) {
        case OptionType::Flag: {
            const std::string t = trim(text);
            if (t == "true" || t == "on" || t == "yes") return set_option(o, s, std::int64_t(1));
            if (t == "false" || t == "off" || t == "no") return set_option(o, s, std::int64_t(0));
            return set_option(o, s, parse_integer(s, text));
        }
        case OptionType::Integer:
        case OptionType::Unsigned: return set_option(o, s, parse_integer(s, text));
        case OptionType::Real: return set_option(o, s, parse_real(s, text));
        case OptionType::Choice: {
            const std::string t = trim(text);
            const std::vector<std::string> names = choices_of(s);
            for (size_t i = 0; i < names.size(); ++i)
                if (t == names[i]) return set_option(o, s, std::int64_t(i));
            if (!t.empty() && (std::isdigit(static_cast<unsigned char>(t[0])) || t[0] == '-'))
                return set_option(o, s, parse_integer(s, text));
            fail(ErrorCode::InvalidArgument, std::string(s.name) + ": unknown value '" + text + "' (expected " +
                                                 range_text(s) + ")");
        }
        case OptionType::RealList: {
            std::vector<double> values;
            for (const std::string& item : split_list(s, text)) {
                const double v = parse_real(s, item);
                check_number(s, v, "'" + item + "'");
                values.push_back(v);
            }
            *std::get<std::vector<double>*>(s.field(o)) = values;
            return;
        }
        case OptionType::NameList: *std::get<std::vector<std::string>*>(s.field(o)) = split_list(s, text); return;
    }
}

std::int64_t option_integer(const CompareOptions& options, const OptionSpec& s) {
    CompareOptions& o = const_cast<CompareOptions&>(options);  // field() hands out pointers; read only here
    return std::visit(
        [&](auto* field) -> std::int64_t {
            using T = std::remove_pointer_t<decltype(field)>;
            if constexpr (std::is_same_v<T, bool>) return *field ? 1 : 0;
            else if constexpr (std::is_same_v<T, index_t>) return *field;
            else if constexpr (std::is_same_v<T, std::uint64_t>) return std::int64_t(*field);
            else if constexpr (std::is_same_v<T, BackendKind>) return std::int64_t(*field);
            else fail(ErrorCode::InvalidArgument, std::string(s.name) + " is not an integer option");
        },
        s.field(o));
}

double option_real(const CompareOptions& options, const OptionSpec& s) {
    CVG_REQUIRE(s.type == OptionType::Real, InvalidArgument, std::string(s.name) + " is not a real option");
    return *std::get<double*>(s.field(const_cast<CompareOptions&>(options)));
}

std::string option_text(const CompareOptions& options, const OptionSpec& s) {
    CompareOptions& o = const_cast<CompareOptions&>(options);
    switch (s.type) {
        case OptionType::Flag:
        case OptionType::Integer:
        case OptionType::Unsigned: return std::to_string(option_integer(options, s));
        case OptionType::Real: return format_real(option_real(options, s));
        case OptionType::Choice: return choices_of(s).at(size_t(option_integer(options, s)));
        case OptionType::RealList: {
            std::string out;
            for (double v : *std::get<std::vector<double>*>(s.field(o))) out += (out.empty() ? "" : ",") + format_real(v);
            return out;
        }
        case OptionType::NameList: {
            std::string out;
            for (const auto& v : *std::get<std::vector<std::string>*>(s.field(o))) out += (out.empty() ? "" : ",") + v;
            return out;
        }
    }
    return "";
}

nlohmann::json option_json(const CompareOptions& options, const OptionSpec& s) {
    CompareOptions& o = const_cast<CompareOptions&>(options);
    switch (s.type) {
        case OptionType::Flag: return option_integer(options, s) != 0;
        case OptionType::Integer: return option_integer(options, s);
        case OptionType::Unsigned: return *std::get<std::uint64_t*>(s.field(o));
        case OptionType::Real: return option_real(options, s);
        case OptionType::Choice: return option_text(options, s);
        case OptionType::RealList: return *std::get<std::vector<double>*>(s.field(o));
        case OptionType::NameList: return *std::get<std::vector<std::string>*>(s.field(o));
    }
    return nullptr;
}

void validate_options(const CompareOptions& options) {
    for (const OptionSpec& s : option_table()) {
        switch (s.type) {
            case OptionType::Flag:
            case OptionType::NameList: break;
            case OptionType::Integer:
            case OptionType::Choice: {
                const std::int64_t v = option_integer(options, s);
                check_number(s, double(v), std::to_string(v));
                break;
            }
            case OptionType::Unsigned: {
                const std::uint64_t v = *std::get<std::uint64_t*>(s.field(const_cast<CompareOptions&>(options)));
                check_number(s, double(v), std::to_string(v));
                break;
            }
            case OptionType::Real: check_number(s, option_real(options, s), format_real(option_real(options, s))); break;
            case OptionType::RealList:
                for (double v : *std::get<std::vector<double>*>(s.field(const_cast<CompareOptions&>(options))))
                    check_number(s, v, format_real(v));
                break;
        }
    }
}

nlohmann::json recorded_options(const CompareOptions& options) {
    nlohmann::json out = nlohmann::json::object();
    for (const OptionSpec& s : option_table())
        if (s.recorded) out[s.name] = option_json(options, s);
    return out;
}

nlohmann::json option_table_json() {
    const CompareOptions defaults;
    nlohmann::json out = nlohmann::json::array();
    for (const OptionSpec& s : option_table()) {
        nlohmann::json j = {{"name", s.name},       {"flag", s.flag},
                            {"c_key", s.c_key},     {"c_name", s.c_name ? s.c_name : ""},
                            {"type", type_name(s.type)}, {"step", s.step},
                            {"recorded", s.recorded}, {"range", range_text(s)},
                            {"help", s.help},       {"default", option_json(defaults, s)}};
        if (s.alias) j["alias"] = s.alias;
        if (s.choices) j["choices"] = choices_of(s);
        if (s.implicit) j["implicit"] = s.implicit;
        out.push_back(std::move(j));
    }
    return out;
}

BinningOptions binning_options(const CompareOptions& options) {
    const MutualInformationStepOptions& o = options.mutual_information;
    BinningOptions b;
    b.bins = int(o.bins);
    b.samples = o.samples;
    b.zero_threshold = o.zero_threshold;
    return b;
}

SparsePredictionOptions sparse_prediction_options(const CompareOptions& options) {
    const SparsePredictionStepOptions& o = options.sparse_prediction;
    SparsePredictionOptions s;
    if (!o.alphas.empty()) s.alphas = o.alphas;
    s.tol = o.tol;
    s.max_iter = int(o.max_iter);
    s.keep_weights = o.keep_weights;
    return s;
}

ClusteringOptions clustering_options(const CompareOptions& options) {
    const ClusteringStepOptions& o = options.clustering;
    ClusteringOptions c;
    c.tau = o.tau;
    c.alpha = o.alpha;
    c.k = o.k;
    c.seed = options.seed;
    c.n_init = int(o.n_init);
    c.hierarchical = o.hierarchical;
    c.split_k = o.split_k;
    c.eigengap_candidates = o.eigengap_candidates;
    c.normalize_rows = o.normalize_rows;
    return c;
}

SimilarityIndicesOptions similarity_indices_options(const CompareOptions& options) {
    const SimilarityIndicesStepOptions& o = options.similarity_indices;
    SimilarityIndicesOptions s;
    s.svcca_variance = o.svcca_variance;
    s.procrustes_alpha = o.procrustes_alpha;
    s.cca_ridge = o.cca_ridge;
    return s;
}

}  // namespace convergent
