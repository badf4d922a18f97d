// C ABI: sorted mean activations (abstract, finding 3) on a finalised cvg_stats.
// Everything goes through mean_activation(), the one implementation the
// pipeline writes, so the C numbers equal summary.json's.
#include <algorithm>

#include "capi_internal.hpp"
#include "convergent/mean_activation.hpp"

using namespace convergent;

extern "C" {

int cvg_mean_activation_sorted(const cvg_stats* stats, int32_t net, double* out, double* spread) {
    return capi::translate_exceptions("cvg_mean_activation_sorted", [&] {
        const LayerStatistics& st = capi::finalized_statistics(stats);
        capi::check_net(stats, net, "net");
        CVG_ARG(out != nullptr, "out is NULL");
        const MeanActivationResult r = mean_activation(st);
        const std::vector<double>& sorted = r.sorted_means[size_t(net)];
        std::copy(sorted.begin(), sorted.end(), out);
        if (spread) *spread = r.within_net_spread[size_t(net)];
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
        *distance = mean_activation(st).distance(net_a, net_b);
    });
}

int cvg_mean_activation_ratio(const cvg_stats* stats, double* ratio) {
    return capi::translate_exceptions("cvg_mean_activation_ratio", [&] {
        const LayerStatistics& st = capi::finalized_statistics(stats);
        CVG_ARG(ratio != nullptr, "ratio is NULL");
        *ratio = mean_activation(st).distance_to_spread_ratio;
    });
}

}  // extern "C"
