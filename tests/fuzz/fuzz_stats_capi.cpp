// libFuzzer harness: the streaming statistics of the C ABI (convergent.h,
// paper Sec. 2) driven by a fuzzed call sequence.
//
// The input is a byte program (encoding below; tests/fuzz/make_corpus.py
// writes seeds in it). Up to kSlots accumulators are created, pushed batches
// of odd shapes, layouts and leading dimensions holding NaN/Inf/huge/denormal
// values, merged, finalised, saved, loaded (also from fuzzed or damaged
// files), read back through every getter and handed to the analyses that take
// a finalised cvg_stats. Error returns are expected; findings are sanitizer
// reports, crashes, hangs, CVG_E_INTERNAL, a NULL cvg_last_error(), and
// non-finite or out-of-range statistics from data that was all finite (an
// accumulator that was never loaded from a fuzzed file).
//
// Program: a sequence of ops, each an op byte followed by its operand bytes
// (a missing byte reads as 0); op byte % 10 selects:
//   0 create   slot, n_nets (1 + b % 4), units per net (b % 7; 0 is invalid), backend (b % 4)
//   1 push     slot, net (b % 5), rows (b % 9, 8 = -1), layout (b % 3), ld delta (b % 4 - 1),
//              then one value byte per element (see value())
//   2 merge    slot, other slot
//   3 finalize slot
//   4 read     slot, net, net, layout, ld delta: every getter (ld delta also sets the
//              capacity given to the _n getters: units - 1 .. units + 2)
//   5 save     slot, b % 4 == 3 saves into a missing directory
//   6 load     slot, source: b % 3 == 0 the last saved file, 1 the last saved file with
//              byte (b) set to (b) or truncated at (b), 2 length byte + that many raw bytes
//   7 destroy  slot (the handle stays around as a stale pointer)
//   8 stale    calls a getter and push on the last destroyed handle (must fail cleanly)
//   9 analyses slot, net a, net b: mean activation, sparse prediction, spectral clustering
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "convergent.h"
#include "fuzz_support.hpp"

namespace {

constexpr int kSlots = 4;
constexpr int kMaxOps = 48;

class Program {
public:
    Program(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
    bool done() const { return pos_ >= size_; }
    std::uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }
    std::size_t remaining() const { return size_ - pos_; }
    const std::uint8_t* take(std::size_t n) {
        const std::uint8_t* p = data_ + pos_;
        pos_ += n;
        return p;
    }

private:
    const std::uint8_t* data_;
    std::size_t size_;
    std::size_t pos_ = 0;
};

// One activation value: mostly small numbers, with every special case the
// push must handle (NaN/Inf rejected, extremes and denormals accepted).
float value(std::uint8_t b) {
    switch (b % 16) {
        case 0: return std::numeric_limits<float>::quiet_NaN();
        case 1: return std::numeric_limits<float>::infinity();
        case 2: return -std::numeric_limits<float>::infinity();
        case 3: return std::numeric_limits<float>::max();
        case 4: return -std::numeric_limits<float>::max();
        case 5: return std::numeric_limits<float>::denorm_min();
        case 6: return std::numeric_limits<float>::min();
        case 7: return 0.0f;
        case 8: return -0.0f;
        case 9: return 1e20f;
        default: return float(int(b) - 128) / 16.0f;  // includes repeated values (dead units)
    }
}

struct Slot {
    cvg_stats* stats = nullptr;
    bool untrusted = false;  // holds moments loaded from a fuzzed file
};

void check(int status, const char* call) {
    const char* message = cvg_last_error();
    if (!message) {
        std::fprintf(stderr, "fuzz: cvg_last_error() returned NULL after %s\n", call);
        std::abort();
    }
    if (status == CVG_E_INTERNAL) {
        std::fprintf(stderr, "fuzz: %s returned CVG_E_INTERNAL (a bug): %s\n", call, message);
        std::abort();
    }
    if (status > 0 || status < CVG_E_INTERNAL) {
        std::fprintf(stderr, "fuzz: %s returned the undocumented status %d\n", call, status);
        std::abort();
    }
}

#define CALL(expr) check((expr), #expr)

void require_statistic(bool ok, const char* what, double v) {
    if (!ok) {
        std::fprintf(stderr, "fuzz: %s = %.17g from finite input\n", what, v);
        std::abort();
    }
}

std::int64_t units_of(const cvg_stats* stats, int32_t net) {
    std::int64_t units = 0;
    return cvg_stats_units(stats, net, &units) == CVG_OK ? units : 3;
}

void push(Program& p, Slot& slot) {
    const int32_t net = p.byte() % 5;
    const std::uint8_t rows_byte = p.byte() % 9;
    const std::int64_t rows = rows_byte == 8 ? -1 : rows_byte;
    const int32_t layout = p.byte() % 3;
    const int ld_delta = p.byte() % 4 - 1;
    const std::int64_t cols = units_of(slot.stats, net);
    const std::int64_t rows_used = rows < 0 ? 0 : rows;
    const std::int64_t minor = layout == CVG_COL_MAJOR ? rows_used : cols;
    const std::int64_t ld = minor + ld_delta;
    // Big enough for either layout with the largest ld this op can make.
    std::vector<float> data(std::size_t((rows_used + 2) * (cols + 2)), 0.0f);
    const std::size_t values = std::size_t(rows_used * cols);
    for (std::size_t i = 0; i < values && i < data.size(); ++i) {
        const std::int64_t r = std::int64_t(i) / cols, c = std::int64_t(i) % cols;
        const std::int64_t index = layout == CVG_COL_MAJOR ? c * std::max<std::int64_t>(ld, 1) + r
                                                           : r * std::max<std::int64_t>(ld, 1) + c;
        if (index >= 0 && std::size_t(index) < data.size()) data[std::size_t(index)] = value(p.byte());
    }
    CALL(cvg_stats_push(slot.stats, net, data.data(), rows, ld, layout));
}

void read_everything(Program& p, const Slot& slot) {
    const cvg_stats* s = slot.stats;
    const int32_t net_a = p.byte() % 5, net_b = p.byte() % 5;
    const int32_t layout = p.byte() % 3;
    const int ld_delta = p.byte() % 4 - 1;
    int32_t nets = 0;
    std::int64_t samples = 0;
    CALL(cvg_stats_nets(s, &nets));
    CALL(cvg_stats_samples(s, &samples));
    (void)cvg_stats_backend(s);
    const std::int64_t ua = units_of(s, net_a), ub = units_of(s, net_b);
    std::vector<double> mean(static_cast<std::size_t>(ua)), stddev(static_cast<std::size_t>(ua));
    const int mean_status = cvg_stats_mean(s, net_a, mean.data());
    CALL(mean_status);
    const int std_status = cvg_stats_std(s, net_a, stddev.data());
    CALL(std_status);
    const std::int64_t ld = (layout == CVG_COL_MAJOR ? ua : ub) + ld_delta;
    std::vector<double> corr(std::size_t((ua + 2) * (ub + 2)), 0.0);
    const int corr_status = cvg_stats_correlation(s, net_a, net_b, corr.data(), ld, layout);
    CALL(corr_status);
    // The capacity-checked getters with a capacity of units - 1 .. units + 2:
    // too small must fail without writing (the buffer is exactly capacity long).
    const std::int64_t capacity = std::max<std::int64_t>(ua + ld_delta, 0);
    std::vector<double> exact(static_cast<std::size_t>(capacity) + (capacity == 0 ? 1 : 0));
    CALL(cvg_stats_mean_n(s, net_a, exact.data(), capacity));
    CALL(cvg_stats_std_n(s, net_a, exact.data(), capacity));
    std::int64_t dead_count = -1;
    {
        std::vector<std::int64_t> dead(exact.size());
        CALL(cvg_stats_dead_units_n(s, net_a, &dead_count, dead.data(), capacity));
    }
    CALL(cvg_stats_dead_units(s, net_a, &dead_count, nullptr));
    if (dead_count >= 0 && dead_count <= ua) {
        std::vector<std::int64_t> dead(std::size_t(dead_count) + 1);
        CALL(cvg_stats_dead_units(s, net_a, &dead_count, dead.data()));
    }
    if (slot.untrusted) return;
    // Sec. 2 statistics of finite float32 data: finite means, finite
    // non-negative std, correlations in [-1, 1] (0 for dead units).
    if (mean_status == CVG_OK)
        for (double m : mean) require_statistic(std::isfinite(m), "mean", m);
    if (std_status == CVG_OK)
        for (double d : stddev) require_statistic(std::isfinite(d) && d >= 0.0, "std", d);
    if (corr_status == CVG_OK)
        for (double c : corr) require_statistic(c >= -1.0 && c <= 1.0, "correlation", c);
}

std::string saved_path(int slot) { return convergent_fuzz::scratch_dir() + "/stats" + std::to_string(slot) + ".bin"; }

void load(Program& p, Slot& slot, const std::string& last_saved) {
    const int source = p.byte() % 3;
    std::string path = last_saved;
    bool untrusted = false;
    if (source == 1 && !last_saved.empty()) {
        std::ifstream in(last_saved, std::ios::binary);
        std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        const std::uint8_t where = p.byte(), what = p.byte();
        if (!bytes.empty()) {
            if (what & 1)
                bytes.resize(where % bytes.size());
            else
                bytes[where % bytes.size()] = p.byte();
        }
        path = convergent_fuzz::write_scratch_file("damaged.bin", bytes.data(), bytes.size());
        untrusted = true;
    } else if (source == 2 || last_saved.empty()) {
        const std::size_t n = std::min<std::size_t>(p.byte() * 4u, p.remaining());
        const std::uint8_t* bytes = p.take(n);
        path = convergent_fuzz::write_scratch_file("raw.bin", bytes, n);
        untrusted = true;
    }
    cvg_stats* loaded = nullptr;
    const int status = cvg_stats_load(&loaded, path.c_str(), CVG_BACKEND_CPU);
    CALL(status);
    if (status != CVG_OK) {
        if (loaded) {
            std::fprintf(stderr, "fuzz: cvg_stats_load failed but set *out\n");
            std::abort();
        }
        return;
    }
    cvg_stats_destroy(slot.stats);
    slot.stats = loaded;
    slot.untrusted = untrusted;
}

void analyses(Program& p, const Slot& slot) {
    const int32_t a = p.byte() % 4, b = p.byte() % 4;
    std::vector<double> sorted(std::size_t(units_of(slot.stats, a)));
    double spread = 0, distance = 0, ratio = 0;
    CALL(cvg_mean_activation_sorted(slot.stats, a, sorted.data(), &spread));
    CALL(cvg_mean_activation_distance(slot.stats, a, b, &distance));
    CALL(cvg_mean_activation_ratio(slot.stats, &ratio));

    cvg_options* opts = nullptr;
    CALL(cvg_options_create(&opts));
    CALL(cvg_options_set_string(opts, CVG_OPT_LASSO_ALPHAS, "0.5,0.05"));
    CALL(cvg_options_set_int(opts, CVG_OPT_LASSO_MAX_ITER, 50));
    CALL(cvg_options_set_int(opts, CVG_OPT_KMEANS_N_INIT, 1));
    cvg_sparse* sparse = nullptr;
    const int sparse_status = cvg_sparse_prediction(&sparse, slot.stats, a, b, opts);
    CALL(sparse_status);
    if (sparse_status == CVG_OK) {
        std::int64_t n_alphas = 0;
        CALL(cvg_sparse_shape(sparse, &n_alphas, nullptr, nullptr));
        std::vector<double> loss(static_cast<std::size_t>(n_alphas));
        CALL(cvg_sparse_mean_loss(sparse, loss.data()));
    }
    cvg_sparse_destroy(sparse);
    cvg_clustering* clustering = nullptr;
    const int status = cvg_spectral_clustering(&clustering, slot.stats, a, b, opts);
    CALL(status);
    if (status == CVG_OK) {
        std::int64_t count = 0;
        CALL(cvg_clustering_permutation(clustering, &count, nullptr, 0));
        std::vector<std::int64_t> permutation(static_cast<std::size_t>(count));
        CALL(cvg_clustering_permutation(clustering, &count, permutation.data(), count));
    }
    cvg_clustering_destroy(clustering);
    cvg_options_destroy(opts);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Program p(data, size);
    Slot slots[kSlots];
    cvg_stats* stale = nullptr;
    std::string last_saved;
    for (int op_count = 0; op_count < kMaxOps && !p.done(); ++op_count) {
        const int op = p.byte() % 10;
        Slot& slot = slots[p.byte() % kSlots];
        switch (op) {
            case 0: {
                const int32_t n_nets = 1 + p.byte() % 4;
                std::int64_t units[4];
                for (int i = 0; i < n_nets; ++i) units[i] = p.byte() % 7;
                const int32_t backend = p.byte() % 4;
                cvg_stats* created = nullptr;
                const int status = cvg_stats_create(&created, n_nets, units, backend);
                CALL(status);
                if (status == CVG_OK) {
                    cvg_stats_destroy(slot.stats);
                    slot = Slot{created, false};
                }
                break;
            }
            case 1: push(p, slot); break;
            case 2: {
                const Slot& other = slots[p.byte() % kSlots];
                const int status = cvg_stats_merge(slot.stats, other.stats);
                CALL(status);
                if (status == CVG_OK) slot.untrusted = slot.untrusted || other.untrusted;
                break;
            }
            case 3: CALL(cvg_stats_finalize(slot.stats)); break;
            case 4: read_everything(p, slot); break;
            case 5: {
                const int index = int(&slot - slots);
                const std::string path = p.byte() % 4 == 3
                                             ? convergent_fuzz::scratch_dir() + "/missing/stats.bin"
                                             : saved_path(index);
                const int status = cvg_stats_save(slot.stats, path.c_str());
                CALL(status);
                if (status == CVG_OK && !slot.untrusted) last_saved = path;
                break;
            }
            case 6: load(p, slot, last_saved); break;
            case 7:
                cvg_stats_destroy(slot.stats);
                if (slot.stats) stale = slot.stats;
                slot = Slot{};
                break;
            case 8: {
                // A destroyed handle must be refused, unless a later create
                // reused its address (then it is that live handle).
                bool reused = false;
                for (const Slot& s : slots) reused = reused || (stale && s.stats == stale);
                if (stale && !reused) {
                    std::int64_t samples = 0;
                    const float x[4] = {1, 2, 3, 4};
                    if (cvg_stats_samples(stale, &samples) != CVG_E_INVALID_ARG ||
                        cvg_stats_push(stale, 0, x, 1, 4, CVG_ROW_MAJOR) != CVG_E_INVALID_ARG) {
                        std::fprintf(stderr, "fuzz: a destroyed cvg_stats was accepted\n");
                        std::abort();
                    }
                    cvg_stats_destroy(stale);  // a no-op on a destroyed handle
                }
                break;
            }
            case 9: analyses(p, slot); break;
        }
    }
    for (Slot& s : slots) cvg_stats_destroy(s.stats);
    return 0;
}
