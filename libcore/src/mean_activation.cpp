#include "convergent/mean_activation.hpp"

#include <algorithm>
#include <cmath>
#include <functional>

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

nlohmann::json mean_activation_json(const LayerStatistics& stats, const std::vector<std::string>& nets) {
    CVG_REQUIRE(nets.size() == stats.block_widths.size(), InvalidArgument,
                "mean_activation_json: " + std::to_string(nets.size()) + " net names for " +
                    std::to_string(stats.block_widths.size()) + " nets");
    std::vector<std::vector<double>> sorted(nets.size());
    nlohmann::json sorted_means = nlohmann::json::object(), spread = nlohmann::json::object();
    double spread_sum = 0.0;
    for (size_t k = 0; k < nets.size(); ++k) {
        const auto begin = stats.mean.begin() + stats.block_offsets[k];
        sorted[k].assign(begin, begin + stats.block_widths[k]);
        std::sort(sorted[k].begin(), sorted[k].end(), std::greater<double>());
        double mean = 0.0;
        for (double v : sorted[k]) mean += v;
        mean /= double(sorted[k].size());
        double var = 0.0;
        for (double v : sorted[k]) var += (v - mean) * (v - mean);
        const double sd = std::sqrt(var / double(sorted[k].size()));  // population std
        sorted_means[nets[k]] = sorted[k];
        spread[nets[k]] = sd;
        spread_sum += sd;
    }
    nlohmann::json distance = nlohmann::json::object();
    double distance_sum = 0.0;
    index_t pairs = 0;
    for (size_t a = 0; a < nets.size(); ++a)
        for (size_t b = a + 1; b < nets.size(); ++b) {
            const double d = sorted_curve_distance(sorted[a], sorted[b]);
            distance[nets[a] + "~" + nets[b]] = d;
            distance_sum += d;
            ++pairs;
        }
    nlohmann::json out;
    out["sorted_means"] = std::move(sorted_means);
    out["between_net_distance"] = std::move(distance);
    out["within_net_spread"] = std::move(spread);
    const double mean_spread = spread_sum / double(nets.size());
    if (pairs > 0 && mean_spread > 0.0)
        out["distance_to_spread_ratio"] = (distance_sum / double(pairs)) / mean_spread;
    else
        out["distance_to_spread_ratio"] = nullptr;
    return out;
}

}  // namespace convergent
