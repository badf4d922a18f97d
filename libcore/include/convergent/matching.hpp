// Sec. 3.1 alignment of the units of two nets from a between-net similarity
// matrix (correlation, or mutual information in Sec. 3.2):
//   - semi-matching: each row takes its best column (Table 1 column 1),
//   - max-weight one-to-one matching (Table 1 column 2; the paper cites
//     Hopcroft-Karp, we solve the weighted problem exactly with
//     Jonker-Volgenant shortest augmenting paths and certify it by duality),
//   - their overlap (Table 1 column 3), the Fig. 3 ordering and the Fig. 1d
//     column permutation,
//   - cycle consistency over >= 3 nets (Sec. 3.1 / conclusion: a "core" of
//     features learned by every net vs "rare" ones).
// Matrices are row-major `const double*` with rows = units of the first net,
// cols = units of the second net and leading dimension ld >= cols.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "convergent/backend.hpp"
#include "convergent/jonker_volgenant.hpp"  // the exact solver behind max_weight_matching
#include "convergent/statistics.hpp"

namespace convergent {

// Sec. 3.1 bipartite semi-matching: per row the column of maximum similarity
// (ties -> lowest column). mean is Table 1 column 1.
struct SemiMatching {
    std::vector<index_t> column;
    std::vector<double> value;
    double mean = 0.0;
};
SemiMatching semi_matching(const double* similarity, index_t rows, index_t cols, index_t ld);

// The exact-fallback rule shared by every approximate solver: true when
// gap <= tolerance * max(|primal|, |dual_bound|).
bool certificate_accepts(const Assignment& assignment, double tolerance);

// Sec. 3.1 max-weight one-to-one matching through a backend (CPU: JV; CUDA:
// certified auction). value[i] = similarity(i, column[i]) or NaN for an
// unmatched row; mean is over matched rows (Table 1 column 2).
struct Matching {
    std::vector<index_t> column;
    std::vector<double> value;
    double mean = 0.0;
    Assignment certificate;
};
Matching max_weight_matching(const Backend& backend, const double* similarity, index_t rows,
                             index_t cols, index_t ld);

// Everything Sec. 3.1 derives from one between-net matrix.
struct Alignment {
    SemiMatching semi;
    Matching matching;
    double overlap_ratio = 0.0;         // Table 1 column 3: fraction of rows with semi == matching
    std::vector<index_t> fig3_order;    // rows by decreasing semi-matching value (ties -> lower row)
    std::vector<index_t> matched_order; // Fig. 1d: columns matched to rows 0, 1, ... first, then unmatched ascending
};
Alignment align(const Backend& backend, const double* similarity, index_t rows, index_t cols);

// The same on live units only. Dead units (zero variance, Sec. 2) have no
// defined correlation, so they take part in neither matching nor the Table 1
// means: their rows get column -1 and value NaN (null in JSON), fig3_order
// lists live rows only, overlap_ratio counts live rows, and dead columns are
// never chosen (they trail in matched_order).
Alignment align(const Backend& backend, const double* similarity, index_t rows, index_t cols,
                const std::vector<std::uint8_t>& row_dead, const std::vector<std::uint8_t>& col_dead);

// The alignment of a similarity matrix between nets net_a (rows) and net_b
// (columns) of stats, with their dead units left out (as above) or, with
// include_dead_units, taking part like any unit (their similarity is 0, the
// convention of the paper's own code). The one place both the pipeline and
// the C API's Table 1 apply CompareOptions::matching.include_dead_units.
Alignment align_nets(const Backend& backend, const double* similarity, const LayerStatistics& stats, int net_a,
                     int net_b, bool include_dead_units);

// Fig. 1d column order: the matched column of each row in row order, then
// the columns no row was matched to, ascending.
std::vector<index_t> matched_column_order(const std::vector<index_t>& column, index_t cols);

// Fig. 1d: the rows x cols matrix with its columns in matched_order, so that
// for rows <= cols entry (i, i) is the matching value of row i.
std::vector<double> matched_order_matrix(const double* similarity, index_t rows, index_t cols,
                                         const Alignment& alignment);

// Cycle consistency of the max-weight matchings over N >= 3 nets (Sec. 3.1:
// "a core representation is shared, but some rare features are learned in one
// network but not another"). For every unit u of net 0:
//   - the full cycle 0 -> 1 -> ... -> N-1 -> 0 along the matchings, whether it
//     returns to u and the unit it ends at (-1 where an unmatched unit breaks it),
//   - the fraction of the (N-1)(N-2)/2 net triangles 0 -> i -> j -> 0 (i < j)
//     that return to u (a triangle and its reverse return together, the
//     matchings being one-to-one),
//   - core = returns in every triangle, rare = otherwise.
struct CycleConsistency {
    index_t units = 0;                    // units of net 0
    index_t triangles = 0;                // (N-1)(N-2)/2
    std::vector<index_t> cycle_end;       // per unit of net 0
    std::vector<std::uint8_t> cycle_returns;
    std::vector<double> triangle_return_fraction;
    std::vector<index_t> core_units, rare_units;
};
// pair(a, b) is the alignment with rows = units of net a and cols = units of
// net b; it is only called with a < b (b -> a uses the inverse matching).
using AlignmentLookup = std::function<const Alignment&(int a, int b)>;
CycleConsistency cycle_consistency(int nets, const AlignmentLookup& pair);

}  // namespace convergent
