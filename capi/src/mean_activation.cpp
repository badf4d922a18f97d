// C ABI: sorted mean activations (abstract, finding 3) on a finalised cvg_stats.
// Everything goes through mean_activation_json, the one implementation the
// pipeline writes, so the C numbers equal summary.json's.
#include <cmath>
#include <limits>

#include "capi_internal.hpp"
#include "convergent/mean_activation.hpp"

using namespace convergent;

namespace {

std::vector<std::string> net_names(const LayerStatistics& st) {
    std::vector<std::string> names;
    for (size_t i = 0; i < st.block_widths.size(); ++i) names.push_back(std::to_string(i));
    return names;
}

}  // namespace

extern "C" {

int cvg_mean_activation_sorted(const cvg_stats* stats, int32_t net, double* out, double* spread) {
    return capi::translate_exceptions("cvg_mean_activation_sorted", [&] {
        const LayerStatistics& st = capi::finalized_statistics(stats);
        capi::check_net(stats, net, "net");
        CVG_ARG(out != nullptr, "out is NULL");
        const nlohmann::json j = mean_activation_json(st, net_names(st));
        const std::string key = std::to_string(net);
        const std::vector<double> sorted = j.at("sorted_means").at(key).get<std::vector<double>>();
        std::copy(sorted.begin(), sorted.end(), out);
        if (spread) *spread = j.at("within_net_spread").at(key).get<double>();
    });
}

int cvg_mean_activation_distance(const cvg_stats* stats, int32_t net_a, int32_t net_b, double* distance) {
    return capi::translate_exceptions("cvg_mean_activation_distance", [&] {
        const LayerStatistics& st = capi::finalized_statistics(stats);
        capi::check_net(stats, net_a, "net_a");
        capi::check_net(stats, net_b, "net_b");
        CVG_ARG(distance != nullptr, "distance is NULL");
        if (net_a == net_b) {
            *distance = 0.0;
            return;
        }
        const int32_t lo = std::min(net_a, net_b), hi = std::max(net_a, net_b);
        const nlohmann::json j = mean_activation_json(st, net_names(st));
        *distance = j.at("between_net_distance").at(std::to_string(lo) + "~" + std::to_string(hi)).get<double>();
    });
}

int cvg_mean_activation_ratio(const cvg_stats* stats, double* ratio) {
    return capi::translate_exceptions("cvg_mean_activation_ratio", [&] {
        const LayerStatistics& st = capi::finalized_statistics(stats);
        CVG_ARG(ratio != nullptr, "ratio is NULL");
        const nlohmann::json j = mean_activation_json(st, net_names(st));
        const nlohmann::json& r = j.at("distance_to_spread_ratio");
        *ratio = r.is_null() ? std::numeric_limits<double>::quiet_NaN() : r.get<double>();
    });
}

}  // extern "C"
