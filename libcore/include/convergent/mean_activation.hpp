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
#include <utility>
#include <vector>

#include "convergent/statistics.hpp"

namespace convergent {

// The sorted curve of one net resampled at `points` equally spaced quantiles.
std::vector<double> quantile_curve(const std::vector<double>& sorted_decreasing, index_t points);

// RMS difference of two sorted curves (quantile-interpolated if the widths differ).
double sorted_curve_distance(const std::vector<double>& a_sorted, const std::vector<double>& b_sorted);

// The comparison over every net of one layer. Dead units are included: their
// mean is a property of the net too.
struct MeanActivationResult {
    std::vector<std::vector<double>> sorted_means;  // per net, decreasing
    std::vector<double> within_net_spread;          // per net: population std of the unit means
    // Every pair a < b in net order: between_net_distance[p] for pairs[p] = (a, b).
    std::vector<std::pair<int, int>> pairs;
    std::vector<double> between_net_distance;
    // Mean between-net distance / mean within-net spread; NaN with fewer than
    // two nets or zero spread.
    double distance_to_spread_ratio = 0.0;

    // Distance between nets a and b (0 for a == b).
    double distance(int a, int b) const;
};

MeanActivationResult mean_activation(const LayerStatistics& stats);

}  // namespace convergent
