// Sec. 3.2 / footnote 6: sample selection, percentile binning and the MI
// matrix above the Backend. The all-pairs counting itself is the backend op
// (cpu_mutual_information.cpp for the CPU backend).
#include "convergent/mutual_information.hpp"
#include "mutual_information_internal.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <unordered_set>

#include "allocation.hpp"
#include "parallel_guard.hpp"

namespace convergent {

namespace {

// Uniform integer in [0, bound] from mt19937_64 by rejection (Lemire-free,
// portable: std::uniform_int_distribution differs between standard libraries).
std::uint64_t uniform_up_to(std::mt19937_64& rng, std::uint64_t bound) {
    if (bound == ~std::uint64_t(0)) return rng();
    const std::uint64_t range = bound + 1;
    const std::uint64_t limit = ~std::uint64_t(0) - (~std::uint64_t(0) % range + 1) % range;
    std::uint64_t draw;
    do {
        draw = rng();
    } while (draw > limit);
    return draw % range;
}

// numpy's _lerp (numpy/lib/function_base.py): the exact operation order of
// numpy.quantile(method="linear"), so that our edges equal numpy's bit for bit.
double numpy_lerp(double a, double b, double t) {
    const double diff = b - a;
    return t >= 0.5 ? b - diff * (1.0 - t) : a + diff * t;
}

// Places the order statistics at the sorted positions [pos_first, pos_last)
// (ascending, relative to data) where a full sort would put them: recursive
// nth_element, O(m log #positions) instead of the O(m log m) of a sort.
void select_order_statistics(float* data, index_t first, index_t last, const index_t* pos_first,
                             const index_t* pos_last) {
    if (pos_first >= pos_last || last - first <= 1) return;
    const index_t* mid = pos_first + (pos_last - pos_first) / 2;
    std::nth_element(data + first, data + *mid, data + last);
    select_order_statistics(data, first, *mid, pos_first, mid);
    select_order_statistics(data, *mid + 1, last, mid + 1, pos_last);
}

// The same result for large m, in two passes over the data instead of
// log2(#positions) nth_element passes (whose partitioning mispredicts a
// branch per element): a histogram of the top 12 bits of each value's
// order-preserving key finds the bucket of every wanted rank; only those
// buckets' values are gathered (into `picked`) and selected in. data[p] then
// holds the p-th smallest value for every wanted p (the other entries are
// left as they were). Equal values are interchangeable, so the values
// placed are the ones a full sort would put there.
void select_order_statistics_bucketed(float* data, index_t m, const index_t* pos_first, const index_t* pos_last,
                                      std::vector<float>& picked) {
    constexpr int kBits = 12;
    constexpr index_t kBuckets = index_t(1) << kBits;
    if (m < kBuckets) {
        select_order_statistics(data, 0, m, pos_first, pos_last);
        return;
    }
    const auto key = [](float v) {
        std::uint32_t u;
        std::memcpy(&u, &v, sizeof u);
        return (u & 0x80000000u) ? ~u : (u | 0x80000000u);  // ascending in v for finite values
    };
    std::vector<std::uint32_t> start(size_t(kBuckets) + 1, 0);
    for (index_t i = 0; i < m; ++i) ++start[size_t(key(data[i]) >> (32 - kBits)) + 1];
    for (index_t b = 0; b < kBuckets; ++b) start[size_t(b) + 1] += start[size_t(b)];
    // Wanted buckets, in rank order, and where each one's values go in picked.
    std::vector<index_t> wanted;
    std::vector<std::int32_t> slot(size_t(kBuckets), -1);
    index_t b = 0, total = 0;
    for (const index_t* p = pos_first; p < pos_last; ++p) {
        while (index_t(start[size_t(b) + 1]) <= *p) ++b;
        if (slot[size_t(b)] < 0) {
            slot[size_t(b)] = std::int32_t(wanted.size());
            wanted.push_back(b);
            total += index_t(start[size_t(b) + 1] - start[size_t(b)]);
        }
    }
    picked.resize(size_t(total));
    std::vector<index_t> fill(wanted.size() + 1, 0);
    for (size_t w = 0; w < wanted.size(); ++w)
        fill[w + 1] = fill[w] + index_t(start[size_t(wanted[w]) + 1] - start[size_t(wanted[w])]);
    const std::vector<index_t> offset(fill.begin(), fill.end());
    for (index_t i = 0; i < m; ++i) {
        const std::int32_t w = slot[size_t(key(data[i]) >> (32 - kBits))];
        if (w >= 0) picked[size_t(fill[size_t(w)]++)] = data[i];
    }
    // Within each wanted bucket, the wanted ranks relative to its first.
    std::vector<index_t> local;
    const index_t* p = pos_first;
    for (size_t w = 0; w < wanted.size(); ++w) {
        const index_t first_rank = index_t(start[size_t(wanted[w])]);
        const index_t last_rank = index_t(start[size_t(wanted[w]) + 1]);
        local.clear();
        const index_t* q = p;
        for (; q < pos_last && *q < last_rank; ++q) local.push_back(*q - first_rank);
        float* bucket = picked.data() + offset[w];
        select_order_statistics(bucket, 0, last_rank - first_rank, local.data(), local.data() + local.size());
        for (; p < q; ++p) data[*p] = bucket[*p - first_rank];
    }
}

// The largest float <= x (x finite and within float's range). For a float v,
// v > x exactly when v > float_at_or_below(x): no float lies in
// (float_at_or_below(x), x].
float float_at_or_below(double x) {
    float f = static_cast<float>(x);
    if (static_cast<double>(f) > x) f = std::nextafter(f, -std::numeric_limits<float>::infinity());
    return f;
}

// One unit's codes: 0 for v <= zero, else 1 + #{k : edges[k] < v}
// (numpy.searchsorted(edges, v, side="left")). The comparisons run in float
// against each threshold rounded down (exact, see float_at_or_below), over
// tiles of samples edge by edge: the inner loops have no branch and
// vectorise, where a per-value search branches on data (half of a ReLU
// unit's values are at or below the threshold, in no predictable order).
void encode_unit(const float* column, index_t samples, const std::vector<double>& edges, double zero,
                 std::uint8_t* codes) {
    constexpr index_t kTile = 256;
    std::vector<float> thresholds(edges.size());
    for (size_t k = 0; k < edges.size(); ++k) thresholds[k] = float_at_or_below(edges[k]);
    const float zero_f = float_at_or_below(zero);
    const size_t count = thresholds.size();
    std::int32_t below[kTile];
    for (index_t s0 = 0; s0 < samples; s0 += kTile) {
        const index_t n = std::min(kTile, samples - s0);
        const float* v = column + s0;
        for (index_t i = 0; i < n; ++i) below[i] = v[i] > zero_f ? 1 : 0;
        for (size_t k = 0; k < count; ++k) {
            const float t = thresholds[k];
            for (index_t i = 0; i < n; ++i) below[i] += v[i] > t ? 1 : 0;
        }
        // Above the threshold: 1 + #edges below; at or below it: 0 (an edge
        // below a value at or below the threshold cannot exist: the edges
        // are quantiles of the values above it).
        for (index_t i = 0; i < n; ++i) codes[s0 + i] = std::uint8_t(v[i] > zero_f ? below[i] : 0);
    }
}

double n_log_n(std::int64_t c) { return c > 0 ? double(c) * std::log(double(c)) : 0.0; }

}  // namespace

std::vector<index_t> sample_rows(index_t total_rows, index_t count, std::uint64_t seed) {
    CVG_REQUIRE(total_rows >= 0 && count >= 0, InvalidArgument,
                "sample_rows: total_rows and count must be >= 0 (got " + std::to_string(total_rows) +
                    ", " + std::to_string(count) + ")");
    std::vector<index_t> rows;
    if (count >= total_rows) {
        rows.resize(size_t(total_rows));
        for (index_t r = 0; r < total_rows; ++r) rows[size_t(r)] = r;
        return rows;
    }
    // Floyd's algorithm: count draws, each row equally likely, no shuffle of
    // the whole range (total_rows can be images * positions, large).
    std::mt19937_64 rng(seed);
    std::unordered_set<index_t> chosen;
    chosen.reserve(size_t(count) * 2);
    rows.reserve(size_t(count));
    for (index_t j = total_rows - count; j < total_rows; ++j) {
        const index_t t = index_t(uniform_up_to(rng, std::uint64_t(j)));
        const index_t pick = chosen.insert(t).second ? t : j;
        if (pick == j) chosen.insert(j);
        rows.push_back(pick);
    }
    std::sort(rows.begin(), rows.end());
    return rows;
}

BinnedUnits bin_units(const float* values, index_t samples, index_t units, index_t ld,
                      const BinningOptions& options) {
    CVG_REQUIRE(values != nullptr || samples * units == 0, InvalidArgument,
                "bin_units: values is NULL");
    CVG_REQUIRE(samples > 0 && units >= 0 && ld >= units, InvalidArgument,
                "bin_units: need samples > 0, units >= 0 and ld >= units (got samples=" +
                    std::to_string(samples) + ", units=" + std::to_string(units) +
                    ", ld=" + std::to_string(ld) + ")");
    CVG_REQUIRE(samples < (index_t(1) << 31), InvalidArgument,
                "bin_units: at most 2^31 - 1 samples (int32 joint counts)");
    CVG_REQUIRE(options.bins >= 1 && options.bins <= kMaxMutualInformationBins, InvalidArgument,
                "bin_units: options.bins must be in [1, " + std::to_string(kMaxMutualInformationBins) +
                    "] (uint8 codes, plus the zero bin), got " +
                    std::to_string(options.bins));
    CVG_REQUIRE(std::isfinite(options.zero_threshold), InvalidArgument,
                "bin_units: zero_threshold must be finite");

    BinnedUnits out;
    out.units = units;
    out.samples = samples;
    out.bins = options.bins + 1;
    const std::string what = "bin_units (" + std::to_string(samples) + " samples x " + std::to_string(units) + " units)";
    resize_or_fail(out.codes, std::uint64_t(units) * std::uint64_t(samples), what, "the bin codes");
    try {
        out.edges.assign(size_t(units), {});
    } catch (const std::bad_alloc&) {
        fail_out_of_memory(what, "the bin edges", bytes_of<std::vector<double>>(std::uint64_t(units)));
    }
    const int pbins = options.bins;
    const double zero = options.zero_threshold;
    index_t bad_unit = -1;

    // Units are processed in blocks of 16 (one 64-byte line of floats): the
    // block is transposed into columns first, so the row-major input is read
    // once line by line instead of once per unit with a stride of ld.
    constexpr index_t kBlock = 16;
    const index_t blocks = (units + kBlock - 1) / kBlock;
    // Exceptions (bad_alloc of the per-thread scratch or of a unit's edges)
    // must not escape the parallel region: the guard records the first and
    // it is rethrown after the region.
    ParallelGuard guard;
#pragma omp parallel
    {
        std::vector<float> columns;
        std::vector<float> positive, picked;
        std::vector<index_t> positions;
        guard.run([&] {
            columns.resize(static_cast<size_t>(kBlock * samples));
            positive.reserve(size_t(samples));
            picked.reserve(size_t(samples));
        });
#pragma omp for schedule(dynamic, 1)
        for (index_t blk = 0; blk < blocks; ++blk) guard.run([&] {
            const index_t u0 = blk * kBlock;
            const index_t width = std::min(kBlock, units - u0);
            // Each row is one line of a different page: asked for 16 rows
            // ahead, as the hardware prefetcher does not follow a stride of
            // ld floats across pages.
            constexpr index_t kAhead = 16;
            for (index_t s = 0; s < samples; ++s) {
                if (s + kAhead < samples) __builtin_prefetch(values + (s + kAhead) * ld + u0);
                const float* row = values + s * ld + u0;
                for (index_t c = 0; c < width; ++c) columns[size_t(c * samples + s)] = row[c];
            }
            for (index_t c = 0; c < width; ++c) {
                const index_t u = u0 + c;
                const float* column = columns.data() + c * samples;
                // Branch-free: every value is stored, the count advances only
                // for those above the threshold (half of a ReLU unit's
                // values are not, in no predictable order).
                positive.resize(size_t(samples));
                float* kept = positive.data();
                index_t above = 0;
                bool finite = true;
                for (index_t s = 0; s < samples; ++s) {
                    const float v = column[s];
                    finite &= std::isfinite(v);
                    kept[above] = v;
                    above += double(v) > zero;
                }
                positive.resize(size_t(above));
                if (!finite) {
#pragma omp critical(cvg_bin_units_error)
                    bad_unit = (bad_unit < 0 || u < bad_unit) ? u : bad_unit;
                    continue;
                }
                const index_t m = index_t(positive.size());
                if (m == 0) continue;  // all-zero unit: every code is 0, no edges
                // Only the order statistics r[i], r[i+1] at the quantile
                // positions are needed (float -> double is monotonic, so
                // selecting among the floats selects among the doubles).
                positions.clear();
                for (int k = 1; k < pbins; ++k) {
                    const double h = double(m - 1) * (double(k) / double(pbins));
                    const index_t i = std::min<index_t>(index_t(std::floor(h)), m - 1);
                    positions.push_back(i);
                    if (i + 1 < m) positions.push_back(i + 1);
                }
                std::sort(positions.begin(), positions.end());
                positions.erase(std::unique(positions.begin(), positions.end()), positions.end());
                select_order_statistics_bucketed(positive.data(), m, positions.data(),
                                                 positions.data() + positions.size(), picked);
                std::vector<double>& edges = out.edges[size_t(u)];
                edges.resize(size_t(pbins - 1));
                for (int k = 1; k < pbins; ++k) {
                    // numpy.quantile(method="linear"): virtual index (m - 1) * q.
                    const double h = double(m - 1) * (double(k) / double(pbins));
                    const double lo = std::floor(h);
                    double e;
                    if (h >= double(m - 1)) {
                        e = double(positive[size_t(m - 1)]);
                    } else {
                        const size_t i = size_t(lo);
                        e = numpy_lerp(double(positive[i]), double(positive[i + 1]), h - lo);
                    }
                    edges[size_t(k - 1)] = e;
                }
                encode_unit(column, samples, edges, zero, out.codes.data() + u * samples);
            }
        });
    }
    guard.rethrow(what);
    CVG_REQUIRE(bad_unit < 0, BadData,
                "bin_units: unit " + std::to_string(bad_unit) +
                    " has a non-finite activation (NaN or Inf)");
    return out;
}

void check_bin_codes(const BinCodesView& view, const char* what) {
    const std::string name = what ? what : "codes";
    CVG_REQUIRE(view.units >= 0, InvalidArgument, name + ": units must be >= 0");
    CVG_REQUIRE(view.samples > 0 && view.samples < (index_t(1) << 31), InvalidArgument,
                name + ": samples must be in [1, 2^31) (int32 joint counts), got " +
                    std::to_string(view.samples));
    CVG_REQUIRE(view.bins >= 1 && view.bins <= 256, InvalidArgument,
                name + ": bins must be in [1, 256], got " + std::to_string(view.bins));
    CVG_REQUIRE(view.codes != nullptr || view.units == 0, InvalidArgument, name + ": codes is NULL");
    const index_t total = view.units * view.samples;
    if (view.bins == 256) return;
    std::uint8_t max_code = 0;
#pragma omp parallel for reduction(max : max_code) schedule(static)
    for (index_t i = 0; i < total; ++i) max_code = std::max(max_code, view.codes[i]);
    CVG_REQUIRE(int(max_code) < view.bins, BadData,
                name + ": code " + std::to_string(int(max_code)) + " >= bins (" +
                    std::to_string(view.bins) + ")");
}

std::vector<double> mutual_information_matrix(const Backend& backend, const BinnedUnits& a,
                                              const BinnedUnits& b) {
    CVG_REQUIRE(a.samples == b.samples, InvalidArgument,
                "mutual_information_matrix: nets have different sample counts (" +
                    std::to_string(a.samples) + " vs " + std::to_string(b.samples) +
                    "); footnote 6 uses the same rows for every net");
    CVG_REQUIRE(a.bins == b.bins, InvalidArgument,
                "mutual_information_matrix: nets have different bin counts (" +
                    std::to_string(a.bins) + " vs " + std::to_string(b.bins) + ")");
    CVG_REQUIRE(index_t(a.codes.size()) == a.units * a.samples &&
                    index_t(b.codes.size()) == b.units * b.samples,
                InvalidArgument, "mutual_information_matrix: codes size != units * samples");
    std::vector<double> mi(size_t(a.units * b.units), 0.0);
    if (a.units == 0 || b.units == 0) return mi;
    backend.mutual_information(a.view(), b.view(), mi.data());
    return mi;
}

std::vector<std::int32_t> joint_histogram_counts_naive(const BinCodesView& a, index_t a_begin,
                                                       index_t a_count, const BinCodesView& b,
                                                       index_t b_begin, index_t b_count) {
    CVG_REQUIRE(a.samples == b.samples && a.bins == b.bins, InvalidArgument,
                "joint_histogram_counts_naive: samples/bins differ");
    CVG_REQUIRE(a_begin >= 0 && a_count >= 0 && a_begin + a_count <= a.units && b_begin >= 0 &&
                    b_count >= 0 && b_begin + b_count <= b.units,
                InvalidArgument, "joint_histogram_counts_naive: unit range out of bounds");
    const index_t bb = a.bins;
    std::vector<std::int32_t> counts(size_t(a_count * b_count * bb * bb), 0);
    for (index_t i = 0; i < a_count; ++i)
        for (index_t j = 0; j < b_count; ++j) {
            std::int32_t* table = counts.data() + (i * b_count + j) * bb * bb;
            const std::uint8_t* x = a.codes + (a_begin + i) * a.samples;
            const std::uint8_t* y = b.codes + (b_begin + j) * b.samples;
            for (index_t s = 0; s < a.samples; ++s) ++table[x[s] * bb + y[s]];
        }
    return counts;
}

double mutual_information_from_counts(const std::int32_t* counts, int bins, index_t samples) {
    // Sec. 3.2 plug-in MI: sum p log(p / (px py)) = (sum c log c - sum cx log cx
    // - sum cy log cy + n log n) / n. Same summation order as the CPU
    // backend's epilogue (each row's joint sum in bin order, the row sums
    // in row order, then the marginals in bin order).
    double joint = 0.0;
    for (int x = 0; x < bins; ++x) {
        double row = 0.0;
        for (int y = 0; y < bins; ++y) row += n_log_n(counts[x * bins + y]);
        joint += row;
    }
    double hx = 0.0, hy = 0.0;
    for (int x = 0; x < bins; ++x) {
        std::int64_t c = 0;
        for (int y = 0; y < bins; ++y) c += counts[x * bins + y];
        hx += n_log_n(c);
    }
    for (int y = 0; y < bins; ++y) {
        std::int64_t c = 0;
        for (int x = 0; x < bins; ++x) c += counts[x * bins + y];
        hy += n_log_n(c);
    }
    const double mi = (joint - hx - hy + n_log_n(samples)) / double(samples);
    return mi > 0.0 ? mi : 0.0;
}

void complete_mode_column(std::int32_t* table, int bins, int mode, int row_mode, const std::int32_t* a_marginal) {
    for (int x = 0; x < bins; ++x) {
        if (x == row_mode) continue;
        std::int32_t* row = table + x * bins;
        std::int32_t rest = 0;
        for (int y = 0; y < bins; ++y)
            if (y != mode) rest += row[y];
        row[mode] = a_marginal[x] - rest;
    }
}

void complete_mode_row(std::int32_t* table, int bins, int mode, const std::int32_t* b_marginal) {
    std::int32_t* row = table + mode * bins;
    for (int y = 0; y < bins; ++y) {
        std::int32_t rest = 0;
        for (int x = 0; x < bins; ++x)
            if (x != mode) rest += table[x * bins + y];
        row[y] = b_marginal[y] - rest;
    }
}

double code_entropy(const std::uint8_t* codes, index_t samples, int bins) {
    std::vector<std::int64_t> hist(size_t(bins), 0);
    for (index_t s = 0; s < samples; ++s) ++hist[codes[s]];
    double h = 0.0;
    for (int x = 0; x < bins; ++x) h += n_log_n(hist[size_t(x)]);
    return std::log(double(samples)) - h / double(samples);
}

double zero_bin_fraction(const BinnedUnits& binned) {
    if (binned.codes.empty()) return 0.0;
    const std::uint64_t zeros = std::uint64_t(std::count(binned.codes.begin(), binned.codes.end(), std::uint8_t(0)));
    return double(zeros) / double(binned.codes.size());
}

}  // namespace convergent
