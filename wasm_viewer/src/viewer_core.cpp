#include "viewer_core.hpp"

#include "npy_format_internal.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>

namespace convergent::viewer {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// ---------------------------------------------------------------------------
// Answers to the page

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string ok(json body) {
    body["status"] = "ok";
    return dump(body);
}

std::string missing(const std::string& note) {
    return dump(json{{"status", "missing"}, {"note", note}});
}

std::string error_answer(const std::string& message) {
    return dump(json{{"status", "error"}, {"message", message}});
}

// Runs f and turns any exception into an {"status":"error"} answer, so that a
// malformed file or result model never escapes into the page as a trap.
std::string guarded(const std::function<std::string()>& f) {
    try {
        return f();
    } catch (const ViewerError& e) {
        return error_answer(e.what());
    } catch (const json::exception& e) {
        return error_answer(std::string("malformed result model: ") + e.what());
    } catch (const std::bad_alloc&) {
        return error_answer("out of memory");
    } catch (const std::exception& e) {
        return error_answer(e.what());
    }
}

// ---------------------------------------------------------------------------
// Typed access to the result model; `where` is the JSON path for messages.

const json* child(const json& object, const std::string& key) {
    if (!object.is_object()) return nullptr;
    auto it = object.find(key);
    return it == object.end() ? nullptr : &*it;
}

// A layer's entry for a net pair, layers.<layer>.pairs.<pair> (nullptr when absent).
const json* pair_entry(const json& layer, const std::string& pair) {
    const json* pairs = child(layer, "pairs");
    return pairs ? child(*pairs, pair) : nullptr;
}

double number(const json& j, const std::string& where) {
    if (!j.is_number()) throw ViewerError(where + ": expected a number, found " + j.type_name());
    return j.get<double>();
}

// Array of numbers; null stands for "no value" (e.g. an unmatched row).
std::vector<double> numbers(const json& j, const std::string& where) {
    if (!j.is_array()) throw ViewerError(where + ": expected an array of numbers, found " + j.type_name());
    std::vector<double> out;
    out.reserve(j.size());
    for (size_t i = 0; i < j.size(); ++i) {
        const json& v = j[i];
        if (v.is_null())
            out.push_back(kNaN);
        else if (v.is_number())
            out.push_back(v.get<double>());
        else
            throw ViewerError(where + "[" + std::to_string(i) + "]: expected a number, found " + v.type_name());
    }
    return out;
}

std::vector<index_t> integers(const json& j, const std::string& where) {
    if (!j.is_array()) throw ViewerError(where + ": expected an array of integers, found " + j.type_name());
    std::vector<index_t> out;
    out.reserve(j.size());
    for (size_t i = 0; i < j.size(); ++i) {
        const json& v = j[i];
        if (!v.is_number_integer())
            throw ViewerError(where + "[" + std::to_string(i) + "]: expected an integer, found " + v.type_name());
        out.push_back(v.get<index_t>());
    }
    return out;
}

std::string text(const json& j, const std::string& where) {
    if (!j.is_string()) throw ViewerError(where + ": expected a string, found " + j.type_name());
    return j.get<std::string>();
}

json optional_number(const json& object, const std::string& key, const std::string& where) {
    const json* v = child(object, key);
    if (!v || v->is_null()) return nullptr;
    return number(*v, where + "." + key);
}

bool is_permutation_of(const std::vector<index_t>& order, index_t n) {
    if (index_t(order.size()) != n) return false;
    std::vector<char> seen(size_t(n), 0);
    for (index_t v : order) {
        if (v < 0 || v >= n || seen[size_t(v)]) return false;
        seen[size_t(v)] = 1;
    }
    return true;
}

// ---------------------------------------------------------------------------
// Plot specifications: series plus axis ranges and ticks computed here.

struct Series {
    std::string name;
    std::vector<double> x;  // empty: 0..n-1
    std::vector<double> y;
    std::string style = "line";  // line | points | dashed | line+points
};

json plot_spec(const std::vector<Series>& series, const std::string& x_label, const std::string& y_label,
               bool y_include_zero) {
    double xlo = std::numeric_limits<double>::infinity(), xhi = -xlo;
    double ylo = xlo, yhi = -xlo;
    json out_series = json::array();
    for (const Series& s : series) {
        for (size_t i = 0; i < s.y.size(); ++i) {
            const double x = s.x.empty() ? double(i) : s.x[i];
            const double y = s.y[i];
            if (!std::isfinite(x) || !std::isfinite(y)) continue;
            xlo = std::min(xlo, x), xhi = std::max(xhi, x);
            ylo = std::min(ylo, y), yhi = std::max(yhi, y);
        }
        json js = {{"name", s.name}, {"y", s.y}, {"style", s.style}};
        if (!s.x.empty()) js["x"] = s.x;
        out_series.push_back(js);
    }
    if (!(xlo <= xhi)) xlo = 0, xhi = 1;
    if (!(ylo <= yhi)) ylo = 0, yhi = 1;
    if (y_include_zero) ylo = std::min(ylo, 0.0), yhi = std::max(yhi, 0.0);
    const std::vector<double> xt = nice_ticks(xlo, xhi, 6);
    const std::vector<double> yt = nice_ticks(ylo, yhi, 5);
    return json{{"series", out_series},
                {"x_label", x_label},
                {"y_label", y_label},
                {"x_range", {xt.front(), xt.back()}},
                {"y_range", {yt.front(), yt.back()}},
                {"x_ticks", xt},
                {"y_ticks", yt}};
}

// Sec. 3.1 / Fig. 3: rows sorted by decreasing semi-matching value (ties:
// lower row first), both assignment values plotted in that order.
std::vector<index_t> fig3_order(const std::vector<double>& semi_values) {
    std::vector<index_t> order(semi_values.size());
    std::iota(order.begin(), order.end(), index_t(0));
    std::stable_sort(order.begin(), order.end(), [&](index_t a, index_t b) {
        const double va = semi_values[size_t(a)], vb = semi_values[size_t(b)];
        if (std::isnan(va)) return false;
        if (std::isnan(vb)) return true;
        return va > vb;
    });
    return order;
}

struct TopPair {
    index_t row;
    index_t col;
    double value;
};

// The eight highest semi-matched (row, col) pairs (Fig. 2 / Fig. 4).
std::vector<TopPair> top_semi_matched(const std::vector<index_t>& semi, const std::vector<double>& values,
                                      size_t count) {
    std::vector<TopPair> pairs;
    for (size_t r = 0; r < semi.size() && r < values.size(); ++r)
        if (std::isfinite(values[r])) pairs.push_back({index_t(r), semi[r], values[r]});
    std::stable_sort(pairs.begin(), pairs.end(), [](const TopPair& a, const TopPair& b) { return a.value > b.value; });
    if (pairs.size() > count) pairs.resize(count);
    return pairs;
}

std::string trim_json_string(const std::string& s) {
    return s.size() > 80 ? s.substr(0, 77) + "..." : s;
}

}  // namespace

// ---------------------------------------------------------------------------
// .npy

Matrix parse_npy_matrix(const std::uint8_t* bytes, std::size_t size, const std::string& what) {
    // Header and element decoding are libcore's (npy_format.cpp), so the page
    // accepts and refuses exactly the .npy files `convergent compare` does.
    NpyHeader header;
    Matrix m;
    try {
        header = parse_npy_header(bytes, size, size, what);
        if (header.shape.empty() || header.shape.size() > 2)
            throw ViewerError(what + ": expected a 1-D or 2-D array, shape " +
                              npy_detail::shape_string(header.shape));
        m.rows = header.shape.size() == 2 ? header.shape[0] : 1;
        m.cols = header.shape.back();
        // parse_npy_header has checked that the data is all there.
        std::vector<float> storage(std::size_t(m.rows * m.cols));
        npy_detail::convert_to_float(bytes + header.data_offset, index_t(storage.size()), header, storage.data());
        if (header.fortran_order && header.shape.size() == 2) {
            // Fortran order stores columns contiguously: storage index i is (i % rows, i / rows).
            m.values.resize(storage.size());
            for (std::size_t i = 0; i < storage.size(); ++i) {
                const index_t r = index_t(i) % m.rows, c = index_t(i) / m.rows;
                m.values[std::size_t(r * m.cols + c)] = storage[i];
            }
        } else {
            m.values = std::move(storage);
        }
    } catch (const convergent::Error& e) {
        throw ViewerError(e.what());
    }
    return m;
}

// ---------------------------------------------------------------------------
// Colours and permutations

ValueRange finite_range(const Matrix& m) {
    ValueRange r{std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()};
    for (float v : m.values)
        if (std::isfinite(v)) r.lo = std::min(r.lo, v), r.hi = std::max(r.hi, v);
    if (!(r.lo <= r.hi)) r = {0.0f, 0.0f};
    return r;
}

ColourMap parse_colour_map(const std::string& name) {
    if (name == "grey" || name == "gray" || name.empty()) return ColourMap::Grey;
    if (name == "diverging") return ColourMap::Diverging;
    throw ViewerError("unknown colour map '" + trim_json_string(name) + "'");
}

std::vector<std::uint8_t> colour_map(const Matrix& m, ColourMap map, ValueRange range) {
    std::vector<std::uint8_t> rgba(m.values.size() * 4);
    const float span = range.hi - range.lo;
    const float extent = std::max(std::fabs(range.lo), std::fabs(range.hi));
    for (size_t i = 0; i < m.values.size(); ++i) {
        const float v = m.values[i];
        std::uint8_t* px = &rgba[i * 4];
        px[3] = 255;
        if (!std::isfinite(v)) {
            px[0] = 255, px[1] = 0, px[2] = 255;
            continue;
        }
        if (map == ColourMap::Grey) {
            // Fig. 1: minimum black, maximum white.
            float t = span > 0 ? (v - range.lo) / span : 0.5f;
            t = std::min(1.0f, std::max(0.0f, t));
            const auto g = std::uint8_t(std::lround(t * 255.0f));
            px[0] = px[1] = px[2] = g;
        } else {
            float t = extent > 0 ? v / extent : 0.0f;
            t = std::min(1.0f, std::max(-1.0f, t));
            // white at 0, blue (59,76,192) at -extent, red (180,4,38) at +extent
            const float a = std::fabs(t);
            const float target[3] = {t < 0 ? 59.0f : 180.0f, t < 0 ? 76.0f : 4.0f, t < 0 ? 192.0f : 38.0f};
            for (int k = 0; k < 3; ++k) px[k] = std::uint8_t(std::lround(255.0f + (target[k] - 255.0f) * a));
        }
    }
    return rgba;
}

Matrix permute_columns(const Matrix& m, const std::vector<index_t>& order, const std::string& what) {
    if (!is_permutation_of(order, m.cols))
        throw ViewerError(what + ": not a permutation of the " + std::to_string(m.cols) + " columns");
    Matrix out;
    out.rows = m.rows, out.cols = m.cols;
    out.values.resize(m.values.size());
    for (index_t r = 0; r < m.rows; ++r)
        for (index_t c = 0; c < m.cols; ++c) out.values[size_t(r * m.cols + c)] = m.at(r, order[size_t(c)]);
    return out;
}

Matrix permute_symmetric(const Matrix& m, const std::vector<index_t>& perm, const std::string& what) {
    if (m.rows != m.cols) throw ViewerError(what + ": matrix is not square");
    if (!is_permutation_of(perm, m.rows))
        throw ViewerError(what + ": not a permutation of the " + std::to_string(m.rows) + " units");
    Matrix out;
    out.rows = out.cols = m.rows;
    out.values.resize(m.values.size());
    for (index_t r = 0; r < m.rows; ++r)
        for (index_t c = 0; c < m.cols; ++c)
            out.values[size_t(r * m.cols + c)] = m.at(perm[size_t(r)], perm[size_t(c)]);
    return out;
}

Matrix combined_matrix(const Matrix& xx, const Matrix& xy, const Matrix& yy) {
    if (xx.rows != xx.cols || yy.rows != yy.cols || xy.rows != xx.rows || xy.cols != yy.rows)
        throw ViewerError("within- and between-net matrices have inconsistent shapes");
    const index_t a = xx.rows, b = yy.rows, n = a + b;
    Matrix out;
    out.rows = out.cols = n;
    out.values.resize(size_t(n * n));
    for (index_t r = 0; r < n; ++r)
        for (index_t c = 0; c < n; ++c) {
            float v;
            if (r < a && c < a) v = xx.at(r, c);
            else if (r < a) v = xy.at(r, c - a);
            else if (c < a) v = xy.at(c, r - a);
            else v = yy.at(r - a, c - a);
            out.values[size_t(r * n + c)] = v;
        }
    return out;
}

std::vector<double> nice_ticks(double lo, double hi, int target_count) {
    if (!std::isfinite(lo) || !std::isfinite(hi)) lo = 0, hi = 1;
    if (hi < lo) std::swap(lo, hi);
    if (hi - lo < 1e-12 * std::max(1.0, std::fabs(hi))) {
        const double pad = lo == 0 ? 1.0 : std::fabs(lo) * 0.1;
        lo -= pad, hi += pad;
    }
    const double raw = (hi - lo) / std::max(1, target_count);
    const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
    double step = magnitude;
    for (double f : {1.0, 2.0, 5.0, 10.0}) {
        step = f * magnitude;
        if (step >= raw) break;
    }
    const double first = std::floor(lo / step + 1e-9) * step;
    const double last = std::ceil(hi / step - 1e-9) * step;
    std::vector<double> ticks;
    for (int i = 0; first + i * step <= last + step * 1e-6 && i < 1000; ++i) {
        double t = first + i * step;
        if (std::fabs(t) < step * 1e-9) t = 0;
        ticks.push_back(t);
    }
    if (ticks.size() < 2) ticks = {first, first + step};
    return ticks;
}

// ---------------------------------------------------------------------------
// Viewer

std::string Viewer::load_summary(const std::string& json_text) {
    loaded_ = false;
    matrices_.clear();
    heatmaps_.clear();
    rgba_.clear();
    return guarded([&] {
        json root;
        try {
            root = json::parse(json_text);
        } catch (const json::parse_error& e) {
            throw ViewerError(std::string("summary.json is not valid JSON: ") + e.what());
        }
        if (!root.is_object()) throw ViewerError("summary.json: expected a JSON object at the top level");
        const json* version = child(root, "schema_version");
        if (!version) throw ViewerError("summary.json: no schema_version (is this a convergent result?)");
        if (!version->is_number_integer() || version->get<index_t>() != 1)
            throw ViewerError("summary.json: schema_version " + trim_json_string(version->dump()) +
                              " is not supported by this viewer (expects 1)");
        const json* nets = child(root, "nets");
        if (!nets || !nets->is_array() || nets->empty())
            throw ViewerError("summary.json: 'nets' must be a non-empty array of names");
        std::vector<std::string> names;
        for (size_t i = 0; i < nets->size(); ++i) {
            names.push_back(text((*nets)[i], "summary.json: nets[" + std::to_string(i) + "]"));
            if (std::count(names.begin(), names.end(), names.back()) > 1)
                throw ViewerError("summary.json: net name listed twice in 'nets'");
        }
        const json* layers = child(root, "layers");
        if (!layers || !layers->is_object()) throw ViewerError("summary.json: 'layers' must be an object");

        json overview;
        overview["nets"] = names;
        for (const char* key : {"convergent_version", "backend", "backend_device", "backend_requested"}) {
            const json* v = child(root, key);
            overview[key] = v && v->is_string() ? *v : json(nullptr);
        }
        overview["pairs"] = json::array();
        std::vector<std::string> pairs;
        for (size_t a = 0; a < names.size(); ++a)
            for (size_t b = a + 1; b < names.size(); ++b) pairs.push_back(names[a] + "~" + names[b]);
        json layer_list = json::array();
        json warnings = json::array();
        for (auto it = layers->begin(); it != layers->end(); ++it) {
            const std::string where = "summary.json: layers." + it.key();
            json entry = {{"name", it.key()}};
            if (!it.value().is_object()) {
                warnings.push_back(where + ": expected an object");
                entry["error"] = where + ": expected an object";
                layer_list.push_back(entry);
                continue;
            }
            json units = json::object(), dead = json::object();
            for (const std::string& net : names) {
                const json* u = child(it.value(), "units");
                const json* n = u ? child(*u, net) : nullptr;
                units[net] = n && n->is_number_integer() ? *n : json(nullptr);
                const json* d = child(it.value(), "dead_units");
                const json* dn = d ? child(*d, net) : nullptr;
                dead[net] = dn && dn->is_array() ? json(dn->size()) : json(nullptr);
            }
            entry["units"] = units;
            entry["dead_units"] = dead;
            const json* samples = child(it.value(), "samples");
            entry["samples"] = samples && samples->is_number() ? *samples : json(nullptr);
            if (const json* p = child(it.value(), "pairs"); p && p->is_object())
                for (auto pit = p->begin(); pit != p->end(); ++pit)
                    if (std::find(pairs.begin(), pairs.end(), pit.key()) == pairs.end()) pairs.push_back(pit.key());
            layer_list.push_back(entry);
        }
        overview["layers"] = layer_list;
        overview["pairs"] = pairs;
        overview["warnings"] = warnings;
        summary_ = std::move(root);
        loaded_ = true;
        return ok(overview);
    });
}

std::string Viewer::load_layer(const std::string& layer, const std::string& json_text) {
    return guarded([&] {
        if (!loaded_) throw ViewerError("no result model loaded");
        json& layers = summary_["layers"];
        if (!layers.contains(layer)) throw ViewerError("unknown layer '" + trim_json_string(layer) + "'");
        json value;
        try {
            value = json::parse(json_text);
        } catch (const json::parse_error& e) {
            throw ViewerError("summary.json: layers." + layer + " is not valid JSON: " + e.what());
        }
        layers[layer] = std::move(value);
        return ok(json{{"layer", layer}});
    });
}

std::string Viewer::set_available_files(const std::string& json_text) {
    return guarded([&] {
        const json j = json::parse(json_text);
        available_.clear();
        omitted_.clear();
        if (const json* files = child(j, "files"))
            for (const json& p : *files) available_.insert(text(p, "available files"));
        if (const json* omitted = child(j, "omitted"); omitted && omitted->is_object())
            for (auto it = omitted->begin(); it != omitted->end(); ++it)
                omitted_[it.key()] = it.value().is_string() ? it.value().get<std::string>() : "left out";
        return ok(json{{"files", available_.size()}});
    });
}

std::string Viewer::add_file(const std::string& path, const std::string& bytes) {
    raw_files_[path] = bytes;
    matrices_.erase(path);
    return ok(json{{"path", path}, {"bytes", bytes.size()}});
}

const json& Viewer::layer_json(const std::string& layer) const {
    if (!loaded_) throw ViewerError("no result model loaded");
    const json* layers = child(summary_, "layers");
    const json* l = layers ? child(*layers, layer) : nullptr;
    if (!l) throw ViewerError("unknown layer '" + trim_json_string(layer) + "'");
    if (!l->is_object()) throw ViewerError("summary.json: layers." + layer + ": expected an object");
    return *l;
}

std::pair<std::string, std::string> Viewer::split_pair(const std::string& pair) const {
    // Net names may contain '~', so match the key against the listed nets.
    for (const json& a : summary_["nets"])
        for (const json& b : summary_["nets"])
            if (a.get<std::string>() + "~" + b.get<std::string>() == pair) return {a, b};
    throw ViewerError("pair '" + trim_json_string(pair) + "' does not name two listed nets");
}

std::string Viewer::pair_label(const std::string& pair) const {
    const auto nets = split_pair(pair);
    return nets.first + " vs " + nets.second;
}

std::string Viewer::file_path(const std::string& layer, const std::string& key, const std::string& kind) const {
    const json& l = layer_json(layer);
    if (const json* files = child(l, "files"))
        if (const json* entry = child(*files, key))
            if (const json* p = child(*entry, kind); p && p->is_string()) return p->get<std::string>();
    // Conventional name (docs/summary_schema.md "Files under DIR/<layer>/").
    return layer + "/" + key + "." + kind + ".npy";
}

const Matrix* Viewer::matrix(const std::string& path) const {
    auto cached = matrices_.find(path);
    if (cached != matrices_.end()) return &cached->second;
    auto raw = raw_files_.find(path);
    if (raw == raw_files_.end()) return nullptr;
    Matrix m = parse_npy_matrix(reinterpret_cast<const std::uint8_t*>(raw->second.data()), raw->second.size(),
                                "file '" + path + "'");
    raw_files_.erase(raw);
    return &(matrices_[path] = std::move(m));
}

namespace {

// The resampling of some figures of a pair (docs/resampling.md): per
// figure its bootstrap interval (low, high), permutation null (null_mean,
// p_value) and held-out score, those that were computed.
json resampling_notes(const json& res, std::initializer_list<const char*> keys, const std::string& where) {
    json out = json::object();
    const json* boot = child(res, "bootstrap");
    const json* nulls = child(res, "permutation_null");
    const json* holdout = child(res, "holdout");
    const json* held = holdout && holdout->is_object() ? child(*holdout, "held_out") : nullptr;
    for (const char* key : keys) {
        json f = json::object();
        const json* b = boot && boot->is_object() ? child(*boot, key) : nullptr;
        if (b && b->is_object())
            f["low"] = optional_number(*b, "low", where), f["high"] = optional_number(*b, "high", where);
        const json* n = nulls && nulls->is_object() ? child(*nulls, key) : nullptr;
        if (n && n->is_object())
            f["null_mean"] = optional_number(*n, "null_mean", where), f["p_value"] = optional_number(*n, "p_value", where);
        if (held && held->is_object() && child(*held, key)) f["held_out"] = optional_number(*held, key, where);
        if (!f.empty()) out[key] = std::move(f);
    }
    return out;
}

}  // namespace

std::string Viewer::table1(const std::string& pair) const {
    return guarded([&] {
        if (!loaded_) throw ViewerError("no result model loaded");
        json rows = json::array();
        bool any = false;
        const json& layers = summary_["layers"];
        for (auto it = layers.begin(); it != layers.end(); ++it) {
            json row = {{"layer", it.key()}};
            const json* entry = pair_entry(it.value(), pair);
            for (const char* measure : {"correlation", "mutual_information"}) {
                const json* a = entry ? child(*entry, measure) : nullptr;
                if (!a || !a->is_object()) {
                    row[measure] = nullptr;
                    continue;
                }
                const std::string where = "layers." + it.key() + ".pairs." + pair + "." + measure;
                row[measure] = {{"semi_matching_mean", optional_number(*a, "semi_matching_mean", where)},
                                {"matching_mean", optional_number(*a, "matching_mean", where)},
                                {"overlap_ratio", optional_number(*a, "overlap_ratio", where)}};
                any = true;
            }
            // Bootstrap intervals, permutation nulls and held-out scores of
            // the correlation figures (docs/resampling.md), when computed.
            const json* res = entry ? child(*entry, "resampling") : nullptr;
            if (res && res->is_object()) {
                const std::string where = "layers." + it.key() + ".pairs." + pair + ".resampling";
                row["resampling"] = resampling_notes(*res, {"semi_matching_mean", "matching_mean", "overlap_ratio"}, where);
                // The MI figures are named mi_<figure> there; the page asks by the Table 1 key.
                json mi = resampling_notes(*res, {"mi_semi_matching_mean", "mi_matching_mean", "mi_overlap_ratio"}, where);
                row["mi_resampling"] = json::object();
                for (auto f = mi.begin(); f != mi.end(); ++f) row["mi_resampling"][f.key().substr(3)] = f.value();
            }
            rows.push_back(row);
        }
        if (!any) return missing("Table 1: no alignment computed for " + pair_label(pair) + " in any layer");
        return ok(json{{"rows", rows}});
    });
}

std::string Viewer::similarity_indices(const std::string& pair) const {
    return guarded([&] {
        if (!loaded_) throw ViewerError("no result model loaded");
        json rows = json::array();
        bool any = false;
        const json& layers = summary_["layers"];
        for (auto it = layers.begin(); it != layers.end(); ++it) {
            json row = {{"layer", it.key()}, {"indices", nullptr}, {"matching_mean", nullptr}};
            const json* entry = pair_entry(it.value(), pair);
            const json* corr = entry ? child(*entry, "correlation") : nullptr;
            if (corr && corr->is_object())
                row["matching_mean"] = optional_number(*corr, "matching_mean",
                                                       "layers." + it.key() + ".pairs." + pair + ".correlation");
            const json* si = entry ? child(*entry, "similarity_indices") : nullptr;
            if (si) {
                const std::string where = "layers." + it.key() + ".pairs." + pair + ".similarity_indices";
                if (!si->is_object()) throw ViewerError(where + ": expected an object");
                json indices = json::object();
                for (const char* key : {"cka", "cka_debiased", "cca_mean", "svcca_mean", "pwcca", "pwcca_symmetric",
                                        "procrustes_euclidean", "procrustes_angular", "procrustes_alpha"})
                    indices[key] = optional_number(*si, key, where);
                for (const char* key : {"svcca_dims", "dead_units_excluded", "warnings", "cka_debiased_note"}) {
                    const json* v = child(*si, key);
                    indices[key] = v ? *v : json(nullptr);
                }
                row["indices"] = std::move(indices);
                const json* res = child(*entry, "resampling");
                if (res && res->is_object())
                    row["resampling"] = resampling_notes(*res, {"cka", "cca_mean", "svcca_mean", "pwcca_symmetric",
                                                                "procrustes_angular"},
                                                         "layers." + it.key() + ".pairs." + pair + ".resampling");
                any = true;
            }
            rows.push_back(row);
        }
        if (!any) return missing("similarity indices not computed for " + pair_label(pair) + " in any layer");
        return ok(json{{"rows", rows}});
    });
}

std::string Viewer::alignment_curves(const std::string& layer, const std::string& pair,
                                     const std::string& measure) const {
    return guarded([&] {
        const json& l = layer_json(layer);
        const std::string a = split_pair(pair).first;
        const json* entry = pair_entry(l, pair);
        const json* al = entry ? child(*entry, measure) : nullptr;
        const std::string label = measure == "correlation" ? "correlation" : "mutual information";
        if (!al) return missing(label + " alignment not computed for " + pair_label(pair) + " in layer " + layer);
        const std::string where = "layers." + layer + ".pairs." + pair + "." + measure;
        if (!al->is_object()) throw ViewerError(where + ": expected an object");
        std::vector<double> semi, match;
        const json* fs = child(*al, "fig3_semi_matching");
        const json* fm = child(*al, "fig3_matching");
        if (fs && fm) {
            semi = numbers(*fs, where + ".fig3_semi_matching");
            match = numbers(*fm, where + ".fig3_matching");
        } else {
            // Older/partial results: sort here (Sec. 3.1, Fig. 3).
            const json* sv = child(*al, "semi_matching_values");
            const json* mv = child(*al, "matching_values");
            if (!sv || !mv) throw ViewerError(where + ": neither fig3_* curves nor assignment values present");
            const std::vector<double> semi_values = numbers(*sv, where + ".semi_matching_values");
            const std::vector<double> match_values = numbers(*mv, where + ".matching_values");
            if (semi_values.size() != match_values.size())
                throw ViewerError(where + ": semi_matching_values and matching_values differ in length");
            for (index_t r : fig3_order(semi_values)) {
                semi.push_back(semi_values[size_t(r)]);
                match.push_back(match_values[size_t(r)]);
            }
        }
        if (semi.size() != match.size())
            throw ViewerError(where + ": fig3_semi_matching and fig3_matching differ in length");
        std::vector<Series> series = {{"semi-matching", {}, semi, "line"}, {"matching", {}, match, "points"}};
        // Bootstrap band of the semi-matching curve, per rank (docs/resampling.md), when computed.
        const json* res = measure == "correlation" && entry ? child(*entry, "resampling") : nullptr;
        const json* band = res && res->is_object() ? child(*res, "fig3_band") : nullptr;
        const json* semi_band = band && band->is_object() ? child(*band, "semi_matching") : nullptr;
        if (semi_band && semi_band->is_object() && child(*semi_band, "low") && child(*semi_band, "high")) {
            const std::string bw = "layers." + layer + ".pairs." + pair + ".resampling.fig3_band.semi_matching";
            series.push_back({"semi-matching bootstrap low", {}, numbers(*child(*semi_band, "low"), bw + ".low"), "dashed"});
            series.push_back({"semi-matching bootstrap high", {}, numbers(*child(*semi_band, "high"), bw + ".high"), "dashed"});
        }
        json spec = plot_spec(series, "units of " + a + ", sorted by decreasing semi-matching value",
                              measure == "correlation" ? "correlation of the pair" : "MI of the pair (nats)",
                              measure == "correlation");
        index_t unmatched = 0;
        for (double v : match) unmatched += std::isnan(v) ? 1 : 0;
        spec["stats"] = {{"semi_matching_mean", optional_number(*al, "semi_matching_mean", where)},
                         {"matching_mean", optional_number(*al, "matching_mean", where)},
                         {"overlap_ratio", optional_number(*al, "overlap_ratio", where)},
                         {"units", semi.size()},
                         {"unmatched", unmatched}};
        return ok(spec);
    });
}

std::string Viewer::mi_vs_correlation(const std::string& layer, const std::string& pair) const {
    return guarded([&] {
        const json& l = layer_json(layer);
        const auto [a, b] = split_pair(pair);
        const json* entry = pair_entry(l, pair);
        const json* mi = entry ? child(*entry, "mutual_information") : nullptr;
        if (!mi) return missing("mutual information not computed for " + pair_label(pair) + " in layer " + layer);
        const std::string where = "layers." + layer + ".pairs." + pair + ".mutual_information";
        const json curves = json::parse(alignment_curves(layer, pair, "mutual_information"));
        if (curves["status"] != "ok") return dump(curves);
        json out = curves;
        out["reported_top8_overlap"] = nullptr;
        if (const json* t = child(*mi, "top8_overlap_with_correlation"))
            out["reported_top8_overlap"] = number(*t, where + ".top8_overlap_with_correlation");
        out["bins"] = optional_number(*mi, "bins", where);
        out["samples"] = optional_number(*mi, "samples", where);
        const json* corr = child(*entry, "correlation");
        out["correlation_available"] = corr != nullptr;
        if (corr) {
            const std::string cw = "layers." + layer + ".pairs." + pair + ".correlation";
            const json* cs = child(*corr, "semi_matching");
            const json* cv = child(*corr, "semi_matching_values");
            const json* ms = child(*mi, "semi_matching");
            const json* mv = child(*mi, "semi_matching_values");
            if (cs && cv && ms && mv) {
                const std::vector<index_t> c_semi = integers(*cs, cw + ".semi_matching");
                const std::vector<index_t> m_semi = integers(*ms, where + ".semi_matching");
                const std::vector<double> c_val = numbers(*cv, cw + ".semi_matching_values");
                const std::vector<double> m_val = numbers(*mv, where + ".semi_matching_values");
                // Sec. 3.2: how many of the eight best semi-matched pairs agree.
                const auto c_top = top_semi_matched(c_semi, c_val, 8);
                const auto m_top = top_semi_matched(m_semi, m_val, 8);
                json top = json::array();
                int shared = 0;
                for (size_t i = 0; i < std::max(c_top.size(), m_top.size()); ++i) {
                    json row = {{"rank", i + 1}};
                    if (i < c_top.size()) {
                        bool in_mi = std::any_of(m_top.begin(), m_top.end(), [&](const TopPair& t) {
                            return t.row == c_top[i].row && t.col == c_top[i].col;
                        });
                        shared += in_mi ? 1 : 0;
                        row["correlation"] = {{"row", c_top[i].row}, {"col", c_top[i].col},
                                              {"value", c_top[i].value}, {"shared", in_mi}};
                    }
                    if (i < m_top.size()) {
                        bool in_corr = std::any_of(c_top.begin(), c_top.end(), [&](const TopPair& t) {
                            return t.row == m_top[i].row && t.col == m_top[i].col;
                        });
                        row["mutual_information"] = {{"row", m_top[i].row}, {"col", m_top[i].col},
                                                     {"value", m_top[i].value}, {"shared", in_corr}};
                    }
                    top.push_back(row);
                }
                out["top8"] = top;
                out["recomputed_top8_overlap"] = shared;
                index_t agree = 0;
                const size_t n = std::min(c_semi.size(), m_semi.size());
                for (size_t r = 0; r < n; ++r) agree += c_semi[r] == m_semi[r] ? 1 : 0;
                out["semi_matching_agreement"] = n ? double(agree) / double(n) : kNaN;
            }
            const json* cm = child(*corr, "matching");
            const json* mm = child(*mi, "matching");
            if (cm && mm) {
                const std::vector<index_t> c_m = integers(*cm, cw + ".matching");
                const std::vector<index_t> m_m = integers(*mm, where + ".matching");
                index_t agree = 0, counted = 0;
                for (size_t r = 0; r < std::min(c_m.size(), m_m.size()); ++r)
                    if (c_m[r] >= 0) ++counted, agree += c_m[r] == m_m[r] ? 1 : 0;
                out["matching_agreement"] = counted ? double(agree) / double(counted) : kNaN;
            }
        }
        return dump(out);
    });
}

std::string Viewer::sparse_prediction(const std::string& layer, const std::string& pair) const {
    return guarded([&] {
        const json& l = layer_json(layer);
        split_pair(pair);
        const json* entry = pair_entry(l, pair);
        const json* sp = entry ? child(*entry, "sparse_prediction") : nullptr;
        if (!sp) return missing("sparse prediction not computed for " + pair_label(pair) + " in layer " + layer);
        const std::string where = "layers." + layer + ".pairs." + pair + ".sparse_prediction";
        if (!sp->is_object()) throw ViewerError(where + ": expected an object");
        const auto need = [&](const char* key) -> const json& {
            const json* v = child(*sp, key);
            if (!v) throw ViewerError(where + ": no '" + key + "'");
            return *v;
        };
        const std::vector<double> alphas = numbers(need("alphas"), where + ".alphas");
        const std::vector<double> loss = numbers(need("mean_loss"), where + ".mean_loss");
        const std::vector<double> nonzero = numbers(need("mean_nonzero"), where + ".mean_nonzero");
        if (loss.size() != alphas.size() || nonzero.size() != alphas.size())
            throw ViewerError(where + ": alphas, mean_loss and mean_nonzero differ in length");
        std::string targets = "first net", predictors = "second net";
        if (const json* t = child(*sp, "targets"); t && t->is_string()) targets = *t;
        if (const json* t = child(*sp, "predictors"); t && t->is_string()) predictors = *t;
        // Sec. 4: predicting nothing from standardised data costs 0.5.
        double max_nonzero = 1.0;
        for (double v : nonzero)
            if (std::isfinite(v)) max_nonzero = std::max(max_nonzero, v);
        json spec = plot_spec({{"mean loss", nonzero, loss, "line+points"},
                               {"predict nothing (0.5)", {0.0, max_nonzero}, {0.5, 0.5}, "dashed"}},
                              "mean non-zero weights per unit of " + targets,
                              "mean loss (0.5 * MSE, standardised)", true);
        spec["alphas"] = alphas;
        spec["targets"] = targets;
        spec["predictors"] = predictors;
        return ok(spec);
    });
}

std::string Viewer::cluster_tree(const std::string& layer, const std::string& pair) const {
    return guarded([&] {
        const json& l = layer_json(layer);
        const auto [a, b] = split_pair(pair);
        const json* cs = child(l, "clusters");
        const json* c = cs ? child(*cs, pair) : nullptr;
        if (!c) return missing("clustering not computed for " + pair_label(pair) + " in layer " + layer);
        const std::string where = "layers." + layer + ".clusters." + pair;
        const json* nodes = child(*c, "clusters");
        if (!nodes || !nodes->is_array()) throw ViewerError(where + ".clusters: expected an array");
        struct Node {
            index_t id, parent;
            bool leaf;
            std::vector<index_t> ma, mb;
            double between, within;
        };
        std::map<index_t, Node> by_id;
        for (size_t i = 0; i < nodes->size(); ++i) {
            const json& n = (*nodes)[i];
            const std::string w = where + ".clusters[" + std::to_string(i) + "]";
            Node node;
            node.id = index_t(number(n.at("id"), w + ".id"));
            node.parent = child(n, "parent") ? index_t(number(n["parent"], w + ".parent")) : -1;
            node.leaf = child(n, "leaf") && n["leaf"].is_boolean() ? n["leaf"].get<bool>() : false;
            if (const json* m = child(n, "members")) {
                if (const json* x = child(*m, a)) node.ma = integers(*x, w + ".members." + a);
                if (const json* y = child(*m, b)) node.mb = integers(*y, w + ".members." + b);
            }
            const json bs = optional_number(n, "between_net_similarity", w);
            const json ws = optional_number(n, "within_net_similarity", w);
            node.between = bs.is_null() ? kNaN : bs.get<double>();
            node.within = ws.is_null() ? kNaN : ws.get<double>();
            if (by_id.count(node.id)) throw ViewerError(w + ": duplicate cluster id " + std::to_string(node.id));
            by_id[node.id] = node;
        }
        std::map<index_t, std::vector<index_t>> children;
        std::vector<index_t> roots;
        for (const auto& [id, node] : by_id) {
            if (node.parent < 0 || !by_id.count(node.parent)) roots.push_back(id);
            else children[node.parent].push_back(id);
        }
        json rows = json::array();
        std::set<index_t> visited;
        index_t leaves = 0;
        std::function<void(index_t, int)> visit = [&](index_t id, int depth) {
            if (!visited.insert(id).second || depth > 64) return;  // cycles in a crafted file
            const Node& n = by_id[id];
            const bool leaf = n.leaf || !children.count(id);
            leaves += leaf ? 1 : 0;
            auto head = [](const std::vector<index_t>& v) {
                return std::vector<index_t>(v.begin(), v.begin() + std::min<size_t>(v.size(), 16));
            };
            rows.push_back({{"id", id},
                            {"depth", depth},
                            {"leaf", leaf},
                            {"size_a", n.ma.size()},
                            {"size_b", n.mb.size()},
                            {"members_a", head(n.ma)},
                            {"members_b", head(n.mb)},
                            {"between", n.between},
                            {"within", n.within}});
            for (index_t c : children[id]) visit(c, depth + 1);
        };
        for (index_t r : roots) visit(r, 0);
        json out = {{"rows", rows}, {"nodes", by_id.size()}, {"leaves", leaves}, {"net_a", a}, {"net_b", b}};
        for (const char* key : {"tau", "alpha", "k", "k_eigengap", "seed"}) out[key] = optional_number(*c, key, where);
        return ok(out);
    });
}

std::string Viewer::cluster_similarity(const std::string& layer, const std::string& pair) const {
    return guarded([&] {
        const json& l = layer_json(layer);
        split_pair(pair);
        const json* cs = child(l, "clusters");
        const json* c = cs ? child(*cs, pair) : nullptr;
        if (!c) return missing("clustering not computed for " + pair_label(pair) + " in layer " + layer);
        const std::string where = "layers." + layer + ".clusters." + pair;
        std::vector<double> between, within;
        const json* sb = child(*c, "sorted_between_net_similarity");
        const json* sw = child(*c, "sorted_within_net_similarity");
        if (sb && sw) {
            between = numbers(*sb, where + ".sorted_between_net_similarity");
            within = numbers(*sw, where + ".sorted_within_net_similarity");
        } else {
            // Fig. 14 from the leaves: sort by decreasing between-net similarity.
            const json* nodes = child(*c, "clusters");
            if (!nodes || !nodes->is_array()) throw ViewerError(where + ": no Fig. 14 curves and no clusters");
            std::vector<std::pair<double, double>> leaves;
            for (const json& n : *nodes)
                if (child(n, "leaf") && n["leaf"] == true)
                    leaves.push_back({number(n.at("between_net_similarity"), where + ".between_net_similarity"),
                                      number(n.at("within_net_similarity"), where + ".within_net_similarity")});
            std::stable_sort(leaves.begin(), leaves.end(), [](auto& x, auto& y) { return x.first > y.first; });
            for (auto& [bv, wv] : leaves) between.push_back(bv), within.push_back(wv);
        }
        if (between.size() != within.size()) throw ViewerError(where + ": Fig. 14 curves differ in length");
        json spec = plot_spec({{"between-net similarity", {}, between, "line"},
                               {"within-net similarity", {}, within, "line"}},
                              "leaf clusters, sorted by between-net similarity", "similarity (Sec. 6.6)", true);
        spec["clusters"] = between.size();
        return ok(spec);
    });
}

std::string Viewer::mean_activations(const std::string& layer) const {
    return guarded([&] {
        const json& l = layer_json(layer);
        std::vector<Series> series;
        json out;
        const json* ma = child(l, "mean_activation");
        const std::string where = "layers." + layer + ".mean_activation";
        if (ma) {
            const json* sorted = child(*ma, "sorted_means");
            if (!sorted || !sorted->is_object()) throw ViewerError(where + ".sorted_means: expected an object");
            for (const json& net : summary_["nets"]) {
                const std::string name = net.get<std::string>();
                if (const json* s = child(*sorted, name))
                    series.push_back({name, {}, numbers(*s, where + ".sorted_means." + name), "line"});
            }
            out["between_net_distance"] = child(*ma, "between_net_distance") ? (*ma)["between_net_distance"] : json();
            out["within_net_spread"] = child(*ma, "within_net_spread") ? (*ma)["within_net_spread"] : json();
            out["distance_to_spread_ratio"] = optional_number(*ma, "distance_to_spread_ratio", where);
            out["source"] = "mean_activation";
        } else if (const json* means = child(l, "mean"); means && means->is_object()) {
            // The comparison itself is missing, but the per-unit means are
            // always written: sort them here (abstract, finding 3).
            for (const json& net : summary_["nets"]) {
                const std::string name = net.get<std::string>();
                if (const json* m = child(*means, name)) {
                    std::vector<double> v = numbers(*m, "layers." + layer + ".mean." + name);
                    std::sort(v.begin(), v.end(), [](double x, double y) { return x > y; });
                    series.push_back({name, {}, v, "line"});
                }
            }
            out["source"] = "mean";
        }
        if (series.empty()) return missing("mean activations not computed for layer " + layer);
        json spec = plot_spec(series, "units, sorted by decreasing mean activation", "mean activation", true);
        spec.update(out);
        return ok(spec);
    });
}

std::string Viewer::cycle_consistency(const std::string& layer) const {
    return guarded([&] {
        const json& l = layer_json(layer);
        const json* cc = child(l, "cycle_consistency");
        if (!cc)
            return missing("core vs rare units need 3 or more nets (no cycle_consistency in layer " + layer + ")");
        const std::string where = "layers." + layer + ".cycle_consistency";
        if (!cc->is_object()) throw ViewerError(where + ": expected an object");
        const json* tr = child(*cc, "triangle_return_fraction");
        if (!tr) throw ViewerError(where + ": no 'triangle_return_fraction'");
        std::vector<double> fractions = numbers(*tr, where + ".triangle_return_fraction");
        for (size_t i = 0; i < fractions.size(); ++i)
            if (!(fractions[i] >= 0 && fractions[i] <= 1))
                throw ViewerError(where + ".triangle_return_fraction[" + std::to_string(i) + "]: not in [0, 1]");
        json out;
        out["reference"] = child(*cc, "reference") ? json(text((*cc)["reference"], where + ".reference")) : json(nullptr);
        if (const json* units = child(*cc, "units")) {
            const double n = number(*units, where + ".units");
            if (n != double(fractions.size()))
                throw ViewerError(where + ": 'units' is " + std::to_string(index_t(n)) +
                                  " but triangle_return_fraction has " + std::to_string(fractions.size()) + " entries");
        }
        json cycle = json::array();
        if (const json* cy = child(*cc, "cycle")) {
            if (!cy->is_array()) throw ViewerError(where + ".cycle: expected an array of net names");
            for (size_t i = 0; i < cy->size(); ++i) cycle.push_back(text((*cy)[i], where + ".cycle[" + std::to_string(i) + "]"));
        }
        out["cycle"] = cycle;
        out["triangles"] = optional_number(*cc, "triangles", where);
        out["core_fraction"] = optional_number(*cc, "core_fraction", where);
        out["cycle_return_fraction"] = optional_number(*cc, "cycle_return_fraction", where);
        out["core_units"] = child(*cc, "core_units") ? json(integers((*cc)["core_units"], where + ".core_units").size()) : json(nullptr);
        out["rare_units"] = child(*cc, "rare_units") ? json(integers((*cc)["rare_units"], where + ".rare_units").size()) : json(nullptr);
        // Units of the reference net sorted by decreasing return fraction
        // (ties: lower unit first), so core units form the leading block.
        std::vector<index_t> order(fractions.size());
        std::iota(order.begin(), order.end(), index_t(0));
        std::stable_sort(order.begin(), order.end(),
                         [&](index_t x, index_t y) { return fractions[size_t(x)] > fractions[size_t(y)]; });
        std::vector<double> sorted;
        for (index_t u : order) sorted.push_back(fractions[size_t(u)]);
        out["units"] = fractions.size();
        out["order"] = order;
        out["sorted_fractions"] = sorted;
        index_t full = 0;
        for (double v : fractions) full += v >= 1.0 ? 1 : 0;
        out["all_triangles_units"] = full;
        return ok(out);
    });
}

std::string Viewer::make_heatmap(const std::string& id, const std::string& layer, const std::string& pair,
                                 const std::string& kind, const std::string& measure,
                                 const std::string& colours) {
    return guarded([&] {
        heatmaps_.erase(id);
        rgba_.erase(id);
        const json& l = layer_json(layer);
        const auto [a, b] = split_pair(pair);
        const ColourMap map = parse_colour_map(colours);
        if (measure != "corr" && measure != "mi") throw ViewerError("unknown measure '" + trim_json_string(measure) + "'");
        const std::string measure_name = measure == "corr" ? "correlation" : "mutual information";
        const std::string alignment_key = measure == "corr" ? "correlation" : "mutual_information";

        // Which files this view needs; report the ones not handed over yet.
        std::vector<std::string> paths;
        std::string matched_path;
        if (kind == "within_a") paths = {file_path(layer, a + "~" + a, measure)};
        else if (kind == "within_b") paths = {file_path(layer, b + "~" + b, measure)};
        else if (kind == "between") paths = {file_path(layer, pair, measure)};
        else if (kind == "matched") {
            // Fig. 1d is rebuilt from the between-net matrix and matched_order
            // (`convergent report` does not embed the *_matched.npy copy when
            // matched_order is present); a stored matched file is used only
            // for results without matched_order.
            const json* ej = pair_entry(l, pair);
            const json* aj = ej ? child(*ej, alignment_key) : nullptr;
            matched_path = file_path(layer, pair, measure + "_matched");
            const bool rebuild = (aj && child(*aj, "matched_order")) || !available_.count(matched_path);
            paths = {rebuild ? file_path(layer, pair, measure) : matched_path};
        } else if (kind == "clusters" || kind == "clusters_tau") {
            paths = {file_path(layer, a + "~" + a, "corr"), file_path(layer, pair, "corr"),
                     file_path(layer, b + "~" + b, "corr")};
        } else {
            throw ViewerError("unknown heatmap kind '" + trim_json_string(kind) + "'");
        }
        json need = json::array();
        for (const std::string& p : paths) {
            if (raw_files_.count(p) || matrices_.count(p)) continue;
            auto om = omitted_.find(p);
            if (om != omitted_.end()) return missing("file " + p + " was not embedded in this report: " + om->second);
            if (!available_.count(p)) return missing(measure_name + " matrix not computed (no " + p + " in the results)");
            need.push_back(p);
        }
        if (!need.empty()) return dump(json{{"status", "need_files"}, {"paths", need}});

        const json* units = child(l, "units");
        auto units_of = [&](const std::string& net) -> index_t {
            const json* u = units ? child(*units, net) : nullptr;
            return u && u->is_number_integer() ? u->get<index_t>() : -1;
        };
        auto check_shape = [&](const Matrix& m, const std::string& path, index_t rows, index_t cols) {
            if ((rows >= 0 && m.rows != rows) || (cols >= 0 && m.cols != cols))
                throw ViewerError("file '" + path + "': shape " + std::to_string(m.rows) + "x" + std::to_string(m.cols) +
                                  " does not match the layer's units " + std::to_string(rows) + "x" +
                                  std::to_string(cols));
        };
        auto identity = [](index_t n) {
            std::vector<index_t> v(static_cast<size_t>(n));
            std::iota(v.begin(), v.end(), index_t(0));
            return v;
        };

        Heatmap h;
        h.nets = {a, b};
        json info;
        if (kind == "within_a" || kind == "within_b" || kind == "between") {
            const Matrix& m = *matrix(paths[0]);
            const std::string& rn = kind == "within_b" ? b : a;
            const std::string& cn = kind == "within_a" ? a : b;
            check_shape(m, paths[0], units_of(rn), units_of(cn));
            h.matrix = m;
            h.row_net.assign(size_t(m.rows), kind == "within_b" ? 1 : 0);
            h.col_net.assign(size_t(m.cols), kind == "within_a" ? 0 : 1);
            h.row_unit = identity(m.rows);
            h.col_unit = identity(m.cols);
        } else if (kind == "matched") {
            // Fig. 1d: columns of the second net in matched order.
            const json* entry = pair_entry(l, pair);
            const json* al = entry ? child(*entry, alignment_key) : nullptr;
            const json* order_json = al ? child(*al, "matched_order") : nullptr;
            const std::string where = "layers." + layer + ".pairs." + pair + "." + alignment_key + ".matched_order";
            if (paths[0] == matched_path) {
                const Matrix& m = *matrix(paths[0]);
                check_shape(m, paths[0], units_of(a), units_of(b));
                h.matrix = m;
                h.col_unit = identity(m.cols);
                if (order_json) {
                    std::vector<index_t> order = integers(*order_json, where);
                    if (!is_permutation_of(order, m.cols))
                        throw ViewerError(where + ": not a permutation of the " + std::to_string(m.cols) + " columns");
                    h.col_unit = order;
                } else {
                    info["note"] = "no matched_order in the results: columns are labelled by position";
                }
            } else {
                if (!order_json)
                    return missing(measure_name + " matching not computed for " + pair_label(pair) + " in layer " + layer);
                const Matrix& m = *matrix(paths[0]);
                check_shape(m, paths[0], units_of(a), units_of(b));
                const std::vector<index_t> order = integers(*order_json, where);
                h.matrix = permute_columns(m, order, where);
                h.col_unit = order;
                info["note"] = "columns permuted by matched_order, rebuilt here from " + paths[0];
            }
            h.row_unit = identity(h.matrix.rows);
            h.row_net.assign(size_t(h.matrix.rows), 0);
            h.col_net.assign(size_t(h.matrix.cols), 1);
        } else {  // clusters: Fig. 13, combined W permuted by the clustering
            const json* cs = child(l, "clusters");
            const json* c = cs ? child(*cs, pair) : nullptr;
            if (!c) return missing("clustering not computed for " + pair_label(pair) + " in layer " + layer);
            const std::string where = "layers." + layer + ".clusters." + pair;
            const json* perm_json = child(*c, "permutation");
            if (!perm_json) throw ViewerError(where + ": no 'permutation'");
            const Matrix& xx = *matrix(paths[0]);
            const Matrix& xy = *matrix(paths[1]);
            const Matrix& yy = *matrix(paths[2]);
            const std::vector<index_t> perm = integers(*perm_json, where + ".permutation");
            h.matrix = permute_symmetric(combined_matrix(xx, xy, yy), perm, where + ".permutation");
            if (kind == "clusters_tau") {
                // Sec. 6.5: the graph W keeps entries >= tau, zero elsewhere,
                // with no self-loops.
                const json* tau_json = child(*c, "tau");
                if (!tau_json || tau_json->is_null())
                    return missing("no threshold tau in the clustering of " + pair_label(pair) + " in layer " + layer);
                const double tau = number(*tau_json, where + ".tau");
                for (index_t r = 0; r < h.matrix.rows; ++r)
                    for (index_t col = 0; col < h.matrix.cols; ++col) {
                        float& v = h.matrix.values[size_t(r * h.matrix.cols + col)];
                        if (r == col || v < tau) v = 0.0f;
                    }
                info["tau"] = tau;
                info["thresholded"] = true;
            }
            const index_t sa = xx.rows;
            for (index_t v : perm) {
                h.row_net.push_back(v < sa ? 0 : 1);
                h.row_unit.push_back(v < sa ? v : v - sa);
            }
            h.col_net = h.row_net;
            h.col_unit = h.row_unit;
            // Outline the leaf clusters that occupy a contiguous block.
            std::vector<index_t> position(perm.size());
            for (size_t i = 0; i < perm.size(); ++i) position[size_t(perm[i])] = index_t(i);
            json blocks = json::array();
            if (const json* nodes = child(*c, "clusters"); nodes && nodes->is_array()) {
                for (const json& n : *nodes) {
                    if (!(child(n, "leaf") && n["leaf"] == true)) continue;
                    const json* m = child(n, "members");
                    if (!m) continue;
                    std::vector<index_t> pos;
                    if (const json* x = child(*m, a))
                        for (index_t u : integers(*x, where + ".members"))
                            if (u >= 0 && u < sa) pos.push_back(position[size_t(u)]);
                    if (const json* y = child(*m, b))
                        for (index_t u : integers(*y, where + ".members"))
                            if (u >= 0 && sa + u < index_t(perm.size())) pos.push_back(position[size_t(sa + u)]);
                    if (pos.empty()) continue;
                    std::sort(pos.begin(), pos.end());
                    if (pos.back() - pos.front() + 1 == index_t(pos.size()))
                        blocks.push_back({pos.front(), index_t(pos.size())});
                }
            }
            info["blocks"] = blocks;
        }
        h.range = finite_range(h.matrix);
        ValueRange shown = h.range;
        if (map == ColourMap::Diverging) {
            const float e = std::max(std::fabs(shown.lo), std::fabs(shown.hi));
            shown = {-e, e};
        }
        rgba_[id] = colour_map(h.matrix, map, shown);
        info["rows"] = h.matrix.rows;
        info["cols"] = h.matrix.cols;
        info["min"] = h.range.lo;
        info["max"] = h.range.hi;
        info["scale_min"] = shown.lo;
        info["scale_max"] = shown.hi;
        info["colours"] = map == ColourMap::Grey ? "grey" : "diverging";
        info["files"] = paths;
        h.info = info;
        heatmaps_[id] = std::move(h);
        return ok(info);
    });
}

const std::vector<std::uint8_t>& Viewer::heatmap_rgba(const std::string& id) const {
    static const std::vector<std::uint8_t> empty;
    auto it = rgba_.find(id);
    return it == rgba_.end() ? empty : it->second;
}

std::string Viewer::heatmap_cell(const std::string& id, double fx, double fy) const {
    return guarded([&] {
        auto it = heatmaps_.find(id);
        if (it == heatmaps_.end()) return missing("no heatmap '" + id + "'");
        const Heatmap& h = it->second;
        if (!(fx >= 0 && fx < 1 && fy >= 0 && fy < 1) || h.matrix.rows == 0 || h.matrix.cols == 0)
            return missing("outside the matrix");
        const index_t row = std::min(h.matrix.rows - 1, index_t(fy * double(h.matrix.rows)));
        const index_t col = std::min(h.matrix.cols - 1, index_t(fx * double(h.matrix.cols)));
        const float v = h.matrix.at(row, col);
        return ok(json{{"row", row},
                       {"col", col},
                       {"row_net", h.nets[size_t(h.row_net[size_t(row)])]},
                       {"row_unit", h.row_unit[size_t(row)]},
                       {"col_net", h.nets[size_t(h.col_net[size_t(col)])]},
                       {"col_unit", h.col_unit[size_t(col)]},
                       {"value", std::isfinite(v) ? json(double(v)) : json(nullptr)}});
    });
}

}  // namespace convergent::viewer
