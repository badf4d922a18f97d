// Abstract, finding 3: "the average activation values of neurons vary
// considerably within a network, yet the mean activation values across
// different networks converge to an almost identical distribution".
//
// Per layer: each net's unit means sorted in decreasing order (the curve of
// the finding), the between-net distance of two such curves (RMS difference)
// and the within-net spread (population std of the unit means). Nets of
// different widths are compared on quantile-interpolated curves: both sorted
// curves are read as functions of the quantile q in [0, 1] (unit i of S at
// q = i / (S - 1)), linearly interpolated onto max(S_a, S_b) equally spaced
// quantiles; for equal widths this is the plain RMS of the sorted means.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "convergent/statistics.hpp"

namespace convergent {

// The sorted curve of one net resampled at `points` equally spaced quantiles.
std::vector<double> quantile_curve(const std::vector<double>& sorted_decreasing, index_t points);

// RMS difference of two sorted curves (quantile-interpolated if the widths differ).
double sorted_curve_distance(const std::vector<double>& a_sorted, const std::vector<double>& b_sorted);

// The "mean_activation" object of docs/summary_schema.md: sorted_means,
// between_net_distance (every pair a<b in net order, key "a~b"),
// within_net_spread, distance_to_spread_ratio (mean distance / mean spread;
// null with fewer than two nets or zero spread). Dead units are included:
// their mean is a property of the net too.
nlohmann::json mean_activation_json(const LayerStatistics& stats, const std::vector<std::string>& nets);

}  // namespace convergent
