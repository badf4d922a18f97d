// C ABI: options by key (cvg_options_*), so the ABI grows without breaking.
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "capi_internal.hpp"

using namespace convergent;

namespace {

enum class Type { Int, Double, String };

struct KeyInfo {
    int32_t key;
    const char* name;
    Type type;
};

constexpr KeyInfo kKeys[] = {
    {CVG_OPT_BACKEND, "CVG_OPT_BACKEND", Type::Int},
    {CVG_OPT_SEED, "CVG_OPT_SEED", Type::Int},
    {CVG_OPT_CHUNK_ROWS, "CVG_OPT_CHUNK_ROWS", Type::Int},
    {CVG_OPT_CHANNELS_LAST, "CVG_OPT_CHANNELS_LAST", Type::Int},
    {CVG_OPT_LAYERS, "CVG_OPT_LAYERS", Type::String},
    {CVG_OPT_OVERWRITE, "CVG_OPT_OVERWRITE", Type::Int},
    {CVG_OPT_MATCHING, "CVG_OPT_MATCHING", Type::Int},
    {CVG_OPT_MUTUAL_INFORMATION, "CVG_OPT_MUTUAL_INFORMATION", Type::Int},
    {CVG_OPT_SPARSE_PREDICTION, "CVG_OPT_SPARSE_PREDICTION", Type::Int},
    {CVG_OPT_CLUSTERING, "CVG_OPT_CLUSTERING", Type::Int},
    {CVG_OPT_MEAN_ACTIVATION, "CVG_OPT_MEAN_ACTIVATION", Type::Int},
    {CVG_OPT_MI_BINS, "CVG_OPT_MI_BINS", Type::Int},
    {CVG_OPT_MI_SAMPLES, "CVG_OPT_MI_SAMPLES", Type::Int},
    {CVG_OPT_MI_ZERO_THRESHOLD, "CVG_OPT_MI_ZERO_THRESHOLD", Type::Double},
    {CVG_OPT_LASSO_ALPHAS, "CVG_OPT_LASSO_ALPHAS", Type::String},
    {CVG_OPT_LASSO_TOL, "CVG_OPT_LASSO_TOL", Type::Double},
    {CVG_OPT_LASSO_MAX_ITER, "CVG_OPT_LASSO_MAX_ITER", Type::Int},
    {CVG_OPT_LASSO_KEEP_WEIGHTS, "CVG_OPT_LASSO_KEEP_WEIGHTS", Type::Int},
    {CVG_OPT_CLUSTER_TAU, "CVG_OPT_CLUSTER_TAU", Type::Double},
    {CVG_OPT_CLUSTER_ALPHA, "CVG_OPT_CLUSTER_ALPHA", Type::Double},
    {CVG_OPT_CLUSTER_K, "CVG_OPT_CLUSTER_K", Type::Int},
    {CVG_OPT_KMEANS_N_INIT, "CVG_OPT_KMEANS_N_INIT", Type::Int},
    {CVG_OPT_CLUSTER_HIERARCHICAL, "CVG_OPT_CLUSTER_HIERARCHICAL", Type::Int},
    {CVG_OPT_CLUSTER_SPLIT_K, "CVG_OPT_CLUSTER_SPLIT_K", Type::Int},
    {CVG_OPT_CLUSTER_EIGENGAP_CANDIDATES, "CVG_OPT_CLUSTER_EIGENGAP_CANDIDATES", Type::Int},
    {CVG_OPT_CLUSTER_NORMALIZE_ROWS, "CVG_OPT_CLUSTER_NORMALIZE_ROWS", Type::Int},
};

const KeyInfo& key_info(int32_t key) {
    for (const KeyInfo& k : kKeys)
        if (k.key == key) return k;
    fail(ErrorCode::InvalidArgument, "unknown option key " + std::to_string(key) + " (see CVG_OPT_* in convergent.h)");
}

const char* type_name(Type t) {
    return t == Type::Int ? "an integer" : t == Type::Double ? "a floating-point" : "a string";
}

void check_options(const cvg_options* o) { capi::require_live(o, capi::HandleKind::Options, "opts"); }

// Range checks shared by every setter; `name` names the key in messages.
void range(bool ok, const KeyInfo& k, const std::string& value, const char* expected) {
    CVG_ARG(ok, std::string(k.name) + " = " + value + " is out of range (expected " + expected + ")");
}

void set_int_key(cvg_options& o, const KeyInfo& k, int64_t v) {
    const std::string text = std::to_string(v);
    auto flag = [&](bool& target) {
        range(v == 0 || v == 1, k, text, "0 or 1");
        target = v == 1;
    };
    constexpr int64_t kIntMax = 2147483647;
    switch (k.key) {
        case CVG_OPT_BACKEND: o.compare.backend = capi::backend_from_int(int32_t(v == int32_t(v) ? v : -1)); break;
        case CVG_OPT_SEED:
            range(v >= 0, k, text, ">= 0");
            o.compare.seed = std::uint64_t(v);
            break;
        case CVG_OPT_CHUNK_ROWS:
            range(v >= 1, k, text, ">= 1");
            o.compare.chunk_rows = v;
            break;
        case CVG_OPT_CHANNELS_LAST: flag(o.compare.layout.channels_last); break;
        case CVG_OPT_OVERWRITE: flag(o.compare.overwrite); break;
        case CVG_OPT_MATCHING: flag(o.compare.correlation_matching); break;
        case CVG_OPT_MUTUAL_INFORMATION: flag(o.compare.mutual_information); break;
        case CVG_OPT_SPARSE_PREDICTION: flag(o.compare.sparse_prediction); break;
        case CVG_OPT_CLUSTERING: flag(o.compare.clustering); break;
        case CVG_OPT_MEAN_ACTIVATION: flag(o.compare.mean_activation); break;
        case CVG_OPT_MI_BINS:
            // Codes are uint8 and include the zero bin: at most 255 codes.
            range(v >= 1 && v <= 254, k, text, "1..254");
            o.compare.mi_bins = int(v);
            break;
        case CVG_OPT_MI_SAMPLES:
            range(v >= 2, k, text, ">= 2");
            o.compare.mi_samples = v;
            break;
        case CVG_OPT_LASSO_MAX_ITER:
            range(v >= 1 && v <= kIntMax, k, text, "1..2147483647");
            o.lasso_max_iter = int(v);
            break;
        case CVG_OPT_LASSO_KEEP_WEIGHTS: flag(o.lasso_keep_weights); break;
        case CVG_OPT_CLUSTER_K:
            range(v >= -1 && v <= kIntMax, k, text, "-1..2147483647");
            o.compare.cluster_k = int(v);
            break;
        case CVG_OPT_KMEANS_N_INIT:
            range(v >= 1 && v <= kIntMax, k, text, "1..2147483647");
            o.kmeans_n_init = int(v);
            break;
        case CVG_OPT_CLUSTER_HIERARCHICAL: flag(o.cluster_hierarchical); break;
        case CVG_OPT_CLUSTER_SPLIT_K:
            range(v == 0 || v >= 2, k, text, "0 or >= 2");
            o.cluster_split_k = v;
            break;
        case CVG_OPT_CLUSTER_EIGENGAP_CANDIDATES:
            range(v >= 0, k, text, ">= 0");
            o.cluster_eigengap_candidates = v;
            break;
        case CVG_OPT_CLUSTER_NORMALIZE_ROWS: flag(o.cluster_normalize_rows); break;
        default: fail(ErrorCode::Internal, std::string("no integer setter for ") + k.name);
    }
}

void set_double_key(cvg_options& o, const KeyInfo& k, double v) {
    std::ostringstream text;
    text.precision(17);
    text << v;
    range(std::isfinite(v), k, text.str(), "a finite number");
    switch (k.key) {
        case CVG_OPT_MI_ZERO_THRESHOLD: o.mi_zero_threshold = v; break;
        case CVG_OPT_LASSO_TOL:
            range(v > 0, k, text.str(), "> 0");
            o.lasso_tol = v;
            break;
        case CVG_OPT_CLUSTER_TAU:
            range(v >= 0, k, text.str(), ">= 0");
            o.compare.cluster_tau = v;
            break;
        case CVG_OPT_CLUSTER_ALPHA:
            range(v > 0, k, text.str(), "> 0");
            o.compare.cluster_alpha = v;
            break;
        default: fail(ErrorCode::Internal, std::string("no floating-point setter for ") + k.name);
    }
}

std::string trim(const std::string& s) {
    const size_t b = s.find_first_not_of(" \t");
    if (b == std::string::npos) return "";
    const size_t e = s.find_last_not_of(" \t");
    return s.substr(b, e - b + 1);
}

std::vector<std::string> split_list(const std::string& text, const KeyInfo& k) {
    std::vector<std::string> items;
    if (trim(text).empty()) return items;
    std::string item;
    std::istringstream in(text);
    while (std::getline(in, item, ',')) {
        item = trim(item);
        CVG_ARG(!item.empty(), std::string(k.name) + ": empty item in '" + text + "'");
        items.push_back(item);
    }
    if (!text.empty() && text.back() == ',')
        fail(ErrorCode::InvalidArgument, std::string(k.name) + ": empty item in '" + text + "'");
    return items;
}

int64_t parse_int(const std::string& text, const KeyInfo& k) {
    const std::string t = trim(text);
    errno = 0;
    char* end = nullptr;
    const long long v = std::strtoll(t.c_str(), &end, 10);
    CVG_ARG(!t.empty() && end && *end == '\0' && errno == 0,
            std::string(k.name) + ": '" + text + "' is not an integer");
    return int64_t(v);
}

double parse_double(const std::string& text, const KeyInfo& k) {
    const std::string t = trim(text);
    errno = 0;
    char* end = nullptr;
    const double v = std::strtod(t.c_str(), &end);
    CVG_ARG(!t.empty() && end && *end == '\0' && errno == 0,
            std::string(k.name) + ": '" + text + "' is not a number");
    return v;
}

std::string join_doubles(const std::vector<double>& v) {
    std::ostringstream out;
    out.precision(17);
    for (size_t i = 0; i < v.size(); ++i) out << (i ? "," : "") << v[i];
    return out.str();
}

}  // namespace

namespace convergent {
namespace capi {

const cvg_options& options_or_defaults(const cvg_options* opts) {
    static const cvg_options defaults{};
    if (opts == nullptr) return defaults;
    check_options(opts);
    return *opts;
}

}  // namespace capi
}  // namespace convergent

extern "C" {

int cvg_options_create(cvg_options** out) {
    return capi::translate_exceptions("cvg_options_create", [&] {
        CVG_ARG(out != nullptr, "out is NULL");
        *out = nullptr;
        *out = capi::publish(std::make_unique<cvg_options>(), capi::HandleKind::Options);
    });
}

void cvg_options_destroy(cvg_options* opts) {
    capi::destroy(opts, capi::HandleKind::Options, "cvg_options_destroy");
}

int cvg_options_set_int(cvg_options* opts, int32_t key, int64_t value) {
    return capi::translate_exceptions("cvg_options_set_int", [&] {
        check_options(opts);
        const KeyInfo& k = key_info(key);
        CVG_ARG(k.type != Type::String,
                std::string(k.name) + " is a string option: use cvg_options_set_string");
        if (k.type == Type::Double) {
            set_double_key(*opts, k, double(value));
            return;
        }
        cvg_options copy = *opts;  // set on a copy: a rejected value changes nothing
        set_int_key(copy, k, value);
        *opts = std::move(copy);
    });
}

int cvg_options_set_double(cvg_options* opts, int32_t key, double value) {
    return capi::translate_exceptions("cvg_options_set_double", [&] {
        check_options(opts);
        const KeyInfo& k = key_info(key);
        CVG_ARG(k.type == Type::Double, std::string(k.name) + " takes " + type_name(k.type) +
                                            " value: use cvg_options_set_" +
                                            (k.type == Type::Int ? "int" : "string"));
        set_double_key(*opts, k, value);
    });
}

int cvg_options_set_string(cvg_options* opts, int32_t key, const char* value) {
    return capi::translate_exceptions("cvg_options_set_string", [&] {
        check_options(opts);
        const KeyInfo& k = key_info(key);
        CVG_ARG(value != nullptr, "value is NULL");
        const std::string text(value);
        switch (k.type) {
            case Type::Int:
                if (k.key == CVG_OPT_BACKEND && !trim(text).empty() &&
                    !std::isdigit(static_cast<unsigned char>(trim(text)[0]))) {
                    opts->compare.backend = parse_backend_kind(trim(text));
                    return;
                }
                {
                    cvg_options copy = *opts;
                    set_int_key(copy, k, parse_int(text, k));
                    *opts = std::move(copy);
                }
                return;
            case Type::Double: set_double_key(*opts, k, parse_double(text, k)); return;
            case Type::String: break;
        }
        const std::vector<std::string> items = split_list(text, k);
        if (k.key == CVG_OPT_LAYERS) {
            opts->compare.layers = items;
        } else if (k.key == CVG_OPT_LASSO_ALPHAS) {
            std::vector<double> alphas;
            for (const std::string& item : items) {
                const double a = parse_double(item, k);
                range(a > 0 && std::isfinite(a), k, "'" + item + "'", "every alpha finite and > 0");
                alphas.push_back(a);
            }
            opts->compare.lasso_alphas = alphas;
        }
    });
}

int cvg_options_get_int(const cvg_options* opts, int32_t key, int64_t* out) {
    return capi::translate_exceptions("cvg_options_get_int", [&] {
        check_options(opts);
        const KeyInfo& k = key_info(key);
        CVG_ARG(out != nullptr, "out is NULL");
        CVG_ARG(k.type == Type::Int, std::string(k.name) + " is not an integer option");
        const cvg_options& o = *opts;
        const CompareOptions& c = o.compare;
        switch (key) {
            case CVG_OPT_BACKEND:
                *out = c.backend == BackendKind::Cpu ? CVG_BACKEND_CPU
                       : c.backend == BackendKind::Cuda ? CVG_BACKEND_CUDA : CVG_BACKEND_AUTO;
                break;
            case CVG_OPT_SEED: *out = int64_t(c.seed); break;
            case CVG_OPT_CHUNK_ROWS: *out = c.chunk_rows; break;
            case CVG_OPT_CHANNELS_LAST: *out = c.layout.channels_last; break;
            case CVG_OPT_OVERWRITE: *out = c.overwrite; break;
            case CVG_OPT_MATCHING: *out = c.correlation_matching; break;
            case CVG_OPT_MUTUAL_INFORMATION: *out = c.mutual_information; break;
            case CVG_OPT_SPARSE_PREDICTION: *out = c.sparse_prediction; break;
            case CVG_OPT_CLUSTERING: *out = c.clustering; break;
            case CVG_OPT_MEAN_ACTIVATION: *out = c.mean_activation; break;
            case CVG_OPT_MI_BINS: *out = c.mi_bins; break;
            case CVG_OPT_MI_SAMPLES: *out = c.mi_samples; break;
            case CVG_OPT_LASSO_MAX_ITER: *out = o.lasso_max_iter; break;
            case CVG_OPT_LASSO_KEEP_WEIGHTS: *out = o.lasso_keep_weights; break;
            case CVG_OPT_CLUSTER_K: *out = c.cluster_k; break;
            case CVG_OPT_KMEANS_N_INIT: *out = o.kmeans_n_init; break;
            case CVG_OPT_CLUSTER_HIERARCHICAL: *out = o.cluster_hierarchical; break;
            case CVG_OPT_CLUSTER_SPLIT_K: *out = o.cluster_split_k; break;
            case CVG_OPT_CLUSTER_EIGENGAP_CANDIDATES: *out = o.cluster_eigengap_candidates; break;
            case CVG_OPT_CLUSTER_NORMALIZE_ROWS: *out = o.cluster_normalize_rows; break;
            default: fail(ErrorCode::Internal, std::string("no integer getter for ") + k.name);
        }
    });
}

int cvg_options_get_double(const cvg_options* opts, int32_t key, double* out) {
    return capi::translate_exceptions("cvg_options_get_double", [&] {
        check_options(opts);
        const KeyInfo& k = key_info(key);
        CVG_ARG(out != nullptr, "out is NULL");
        CVG_ARG(k.type == Type::Double, std::string(k.name) + " is not a floating-point option");
        switch (key) {
            case CVG_OPT_MI_ZERO_THRESHOLD: *out = opts->mi_zero_threshold; break;
            case CVG_OPT_LASSO_TOL: *out = opts->lasso_tol; break;
            case CVG_OPT_CLUSTER_TAU: *out = opts->compare.cluster_tau; break;
            case CVG_OPT_CLUSTER_ALPHA: *out = opts->compare.cluster_alpha; break;
            default: fail(ErrorCode::Internal, std::string("no floating-point getter for ") + k.name);
        }
    });
}

int cvg_options_get_string(const cvg_options* opts, int32_t key, char* buf, int64_t capacity,
                           int64_t* length) {
    return capi::translate_exceptions("cvg_options_get_string", [&] {
        check_options(opts);
        const KeyInfo& k = key_info(key);
        CVG_ARG(length != nullptr, "length is NULL");
        std::string text;
        if (k.key == CVG_OPT_LAYERS) {
            for (size_t i = 0; i < opts->compare.layers.size(); ++i)
                text += (i ? "," : "") + opts->compare.layers[i];
        } else if (k.key == CVG_OPT_LASSO_ALPHAS) {
            text = join_doubles(opts->compare.lasso_alphas);
        } else if (k.key == CVG_OPT_BACKEND) {
            text = backend_kind_name(opts->compare.backend);
        } else if (k.type == Type::Int) {
            int64_t v = 0;
            CVG_REQUIRE(cvg_options_get_int(opts, key, &v) == CVG_OK, Internal, "get_int failed");
            text = std::to_string(v);
        } else {
            double v = 0;
            CVG_REQUIRE(cvg_options_get_double(opts, key, &v) == CVG_OK, Internal, "get_double failed");
            text = join_doubles({v});
        }
        *length = int64_t(text.size());
        if (buf == nullptr) return;
        CVG_ARG(capacity >= int64_t(text.size()) + 1,
                std::string(k.name) + ": capacity " + std::to_string(capacity) + " cannot hold " +
                    std::to_string(text.size()) + " characters and the terminating NUL");
        std::memcpy(buf, text.c_str(), text.size() + 1);
    });
}

}  // extern "C"
