// Held-out scores of the clustering (Sec. 4; docs/resampling.md): the
// cluster tree is chosen on the fit part's correlations, and each leaf's
// between-net and within-net similarity (Sec. 6.6) is scored on the
// held-out part's correlations, beside its value on the fit part.
#include "convergent/resampling.hpp"

namespace convergent {

ClusterHoldout cluster_holdout(const Backend& backend, const LayerStatistics& fit, const LayerStatistics& score,
                               int net_a, int net_b, const ClusteringOptions& options) {
    const ClusteringResult chosen = spectral_clustering(backend, fit, net_a, net_b, options);
    ClusterHoldout out;
    for (const ClusterNode& node : chosen.clusters) {
        if (!node.leaf) continue;
        ClusterNode scored = node;  // the same members, their similarities on the held-out part
        cluster_similarity(score, net_a, net_b, scored);
        out.between_in_sample.push_back(node.between_net_similarity);
        out.between_held_out.push_back(scored.between_net_similarity);
        out.within_in_sample.push_back(node.within_net_similarity);
        out.within_held_out.push_back(scored.within_net_similarity);
    }
    return out;
}

double ClusterHoldout::mean(const std::vector<double>& values) {
    if (values.empty()) return 0.0;
    double s = 0.0;
    for (double v : values) s += v;
    return s / double(values.size());
}

}  // namespace convergent
