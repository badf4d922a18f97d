// Sec. 3.2 mutual information between units, estimated from 1D and 2D
// histograms of paired activation values (footnote 6):
//   - the same 60,000 random samples (rows) for every net of a layer,
//   - per unit, one special bin (-inf, 1e-6] for the mass at zero, then 20
//     equal-mass percentile bins (5% each) over the remaining values,
//   - plug-in MI in nats, I(X;Y) = sum_xy p_xy log(p_xy / (p_x p_y)), from
//     exact integer joint-histogram counts, without bias correction.
//
// The heavy part (all-pairs joint histograms + MI) is Backend::mutual_information;
// everything here is written once above it.
#pragma once

#include <cstdint>
#include <vector>

#include "convergent/backend.hpp"

namespace convergent {

// Upper bound of BinningOptions::bins, the one every entry point checks:
// codes are uint8 with code 0 the zero bin (254 keeps code 255 spare, the
// bound the CLI and C API have always had).
constexpr index_t kMaxMutualInformationBins = 254;

struct BinningOptions {
    int bins = 20;                 // percentile bins above the zero bin (footnote 6: 5% each)
    index_t samples = 60000;       // rows drawn by sample_rows (footnote 6)
    double zero_threshold = 1e-6;  // upper end of the special bin (-inf, zero_threshold]
};

// count sorted, distinct row indices in [0, total_rows), drawn uniformly
// without replacement with std::mt19937_64(seed) (Floyd's algorithm; the
// integer mapping is our own, so the result is the same on every platform).
// All rows when count >= total_rows. The pipeline draws these once per layer
// and gathers the same rows of every net (footnote 6).
std::vector<index_t> sample_rows(index_t total_rows, index_t count, std::uint64_t seed);

// Percentile-binned activations of the units of one net.
//
// Binning rule of unit u, applied to its values v_s (float, compared as double):
//   code 0                     if v_s <= zero_threshold            (the zero bin)
//   code 1 + #{k : e_k < v_s}  otherwise, k = 1 .. bins-1
// where e_k is the k/bins quantile of the m values of u above zero_threshold,
// computed exactly as numpy.quantile(r, k / bins, method="linear") (numpy's
// default): with r sorted ascending, h = (m - 1) * (k / bins), i = floor(h),
// t = h - i, and
//   e_k = r[m-1]                                 if i >= m - 1
//   e_k = r[i+1] - (r[i+1] - r[i]) * (1 - t)     if t >= 0.5
//   e_k = r[i]   + (r[i+1] - r[i]) * t           otherwise      (numpy's _lerp).
// So positive bins are right-closed, (e_{k-1}, e_k], and codes equal
// numpy.searchsorted(e, v, side="left") + 1. A value equal to an edge
// (ties, repeated values) always falls into the lower bin; this is
// deterministic. Consequences:
//   - all-zero unit (m == 0): every sample in bin 0, edges empty;
//   - constant positive unit: all edges equal the constant, every positive
//     sample in bin 1 (one populated bin);
//   - fewer distinct values than bins: repeated edges, some bins stay empty.
// Non-finite values throw BadData.
struct BinnedUnits {
    std::vector<std::uint8_t> codes;  // unit-major: codes[u * samples + s]
    index_t units = 0;
    index_t samples = 0;
    int bins = 0;  // TOTAL number of codes = options.bins + 1 (zero bin included)
    // edges[u]: the options.bins - 1 interior edges e_1..e_{bins-1} of unit u
    // (ascending), empty for a unit without values above zero_threshold.
    std::vector<std::vector<double>> edges;

    BinCodesView view() const { return BinCodesView{codes.data(), units, samples, bins}; }
};

// Share of all codes of `binned` (every unit, every sample) in the zero bin,
// code 0: the fraction of sampled activations <= zero_threshold, which is
// what the CPU backend's sparse-aware counting skips (ReLU layers: about half
// the values). 0 when there are no units.
double zero_bin_fraction(const BinnedUnits& binned);

// values: samples x units, row-major float with leading dimension ld >= units.
// 1 <= options.bins <= kMaxMutualInformationBins (codes are uint8). options.samples is not used
// here (the caller passes the sampled rows); parallel over units (OpenMP).
BinnedUnits bin_units(const float* values, index_t samples, index_t units, index_t ld,
                      const BinningOptions& options);

// Sec. 3.2: a.units x b.units row-major MI matrix (nats), plug-in estimate
// from exact counts. Pass the same BinnedUnits twice for the within-net
// matrix (the CPU backend then counts each unordered pair once). Throws
// InvalidArgument when the sample counts or bin counts differ.
std::vector<double> mutual_information_matrix(const Backend& backend, const BinnedUnits& a,
                                              const BinnedUnits& b);

// Exact joint-histogram counts of the unit pairs (i, j), i in
// [a_begin, a_begin + a_count), j in [b_begin, b_begin + b_count):
//   counts[((i - a_begin) * b_count + (j - b_begin)) * bins * bins + x * bins + y]
//     = #{s : a.codes[i][s] == x and b.codes[j][s] == y}.
// Cache-blocked and OpenMP-parallel: the routine the CPU backend uses.
std::vector<std::int32_t> joint_histogram_counts(const BinCodesView& a, index_t a_begin,
                                                 index_t a_count, const BinCodesView& b,
                                                 index_t b_begin, index_t b_count);

// Plug-in MI (nats) of one bins x bins joint count table over `samples`
// samples: (sum_xy c_xy log c_xy - sum_x c_x log c_x - sum_y c_y log c_y
// + n log n) / n, clamped at 0 like sklearn.metrics.mutual_info_score.
double mutual_information_from_counts(const std::int32_t* counts, int bins, index_t samples);

// Zero-aware counting (both backends) leaves out the cells of a bins x bins
// joint count table c(x, y) that involve a unit's most frequent bin (its
// "mode"); these two fill them in exactly from the marginal histograms.
//
// Column `mode` in every row but `row_mode` (-1: none), the other cells of
// those rows complete: c(x, mode) = a_marginal(x) - sum_{y != mode} c(x, y).
void complete_mode_column(std::int32_t* table, int bins, int mode, int row_mode, const std::int32_t* a_marginal);

// Row `mode`, every other row complete:
// c(mode, y) = b_marginal(y) - sum_{x != mode} c(x, y).
void complete_mode_row(std::int32_t* table, int bins, int mode, const std::int32_t* b_marginal);

// Plug-in entropy (nats) of one unit's codes, -sum_x p_x log p_x; equals the
// MI of the unit with itself.
double code_entropy(const std::uint8_t* codes, index_t samples, int bins);

// Validates a view (non-null codes, 1 <= bins <= 256, 0 < samples < 2^31,
// every code < bins); `what` names it in the message.
void check_bin_codes(const BinCodesView& view, const char* what);

}  // namespace convergent
