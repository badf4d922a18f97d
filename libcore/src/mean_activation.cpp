#include "convergent/mean_activation.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

namespace convergent {

std::vector<double> quantile_curve(const std::vector<double>& sorted, index_t points) {
    CVG_REQUIRE(!sorted.empty() && points > 0, InvalidArgument, "quantile_curve: empty curve");
    const index_t s = index_t(sorted.size());
    std::vector<double> out(static_cast<size_t>(points));
    for (index_t i = 0; i < points; ++i) {
        if (s == 1) {
            out[size_t(i)] = sorted[0];
            continue;
        }
        // Quantile q = i / (points - 1) sits at fractional unit position q (s - 1).
        const double position = points == 1 ? 0.0 : double(i) * double(s - 1) / double(points - 1);
        const index_t lower = std::min<index_t>(index_t(std::floor(position)), s - 2);
        const double frac = position - double(lower);
        out[size_t(i)] = (1.0 - frac) * sorted[size_t(lower)] + frac * sorted[size_t(lower + 1)];
    }
    return out;
}

double sorted_curve_distance(const std::vector<double>& a, const std::vector<double>& b) {
    const index_t points = index_t(std::max(a.size(), b.size()));
    const std::vector<double> qa = a.size() == size_t(points) ? a : quantile_curve(a, points);
    const std::vector<double> qb = b.size() == size_t(points) ? b : quantile_curve(b, points);
    double s = 0.0;
    for (index_t i = 0; i < points; ++i) s += (qa[size_t(i)] - qb[size_t(i)]) * (qa[size_t(i)] - qb[size_t(i)]);
    return std::sqrt(s / double(points));
}

MeanActivationResult mean_activation(const LayerStatistics& stats) {
    const size_t nets = stats.block_widths.size();
    CVG_REQUIRE(nets >= 1, InvalidArgument, "mean activation: no nets");
    MeanActivationResult r;
    r.sorted_means.resize(nets);
    double spread_sum = 0.0;
    for (size_t k = 0; k < nets; ++k) {
        const auto begin = stats.mean.begin() + stats.block_offsets[k];
        std::vector<double>& sorted = r.sorted_means[k];
        sorted.assign(begin, begin + stats.block_widths[k]);
        std::sort(sorted.begin(), sorted.end(), std::greater<double>());
        double mean = 0.0;
        for (double v : sorted) mean += v;
        mean /= double(sorted.size());
        double var = 0.0;
        for (double v : sorted) var += (v - mean) * (v - mean);
        const double sd = std::sqrt(var / double(sorted.size()));  // population std
        r.within_net_spread.push_back(sd);
        spread_sum += sd;
    }
    double distance_sum = 0.0;
    for (size_t a = 0; a < nets; ++a)
        for (size_t b = a + 1; b < nets; ++b) {
            const double d = sorted_curve_distance(r.sorted_means[a], r.sorted_means[b]);
            r.pairs.emplace_back(int(a), int(b));
            r.between_net_distance.push_back(d);
            distance_sum += d;
        }
    const double mean_spread = spread_sum / double(nets);
    r.distance_to_spread_ratio = !r.pairs.empty() && mean_spread > 0.0
                                     ? (distance_sum / double(r.pairs.size())) / mean_spread
                                     : std::numeric_limits<double>::quiet_NaN();
    return r;
}

double MeanActivationResult::distance(int a, int b) const {
    if (a == b) return 0.0;
    const std::pair<int, int> key(std::min(a, b), std::max(a, b));
    for (size_t p = 0; p < pairs.size(); ++p)
        if (pairs[p] == key) return between_net_distance[p];
    fail(ErrorCode::InvalidArgument, "mean activation: no nets " + std::to_string(a) + " and " + std::to_string(b));
}

}  // namespace convergent
