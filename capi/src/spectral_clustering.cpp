// C ABI: many-to-many alignment by spectral clustering (Sec. 4, 6.4-6.6).
#include "capi_internal.hpp"
#include "convergent/spectral_clustering.hpp"

using namespace convergent;

struct cvg_clustering {
    ClusteringResult result;
};

namespace {

const ClusteringResult& result_of(const cvg_clustering* c) {
    capi::require_live(c, capi::HandleKind::Clustering, "clustering");
    return c->result;
}

const ClusterNode& node_of(const ClusteringResult& r, int64_t id) {
    CVG_ARG(id >= 0 && id < int64_t(r.clusters.size()),
            "id = " + std::to_string(id) + " is out of range [0, " + std::to_string(r.clusters.size()) + ")");
    return r.clusters[size_t(id)];
}

// Sec. 4 on the finalised statistics, the eigensolves on `backend`; the
// result does not refer to stats.
cvg_clustering* run_spectral_clustering(const Backend& backend, const cvg_stats* stats, int32_t net_a,
                                        int32_t net_b, const cvg_options* opts) {
    const LayerStatistics& st = capi::finalized_statistics(stats);
    capi::check_net(stats, net_a, "net_a");
    capi::check_net(stats, net_b, "net_b");
    CVG_ARG(net_a != net_b, "net_a and net_b are both " + std::to_string(net_a) +
                                ": spectral clustering aligns two different nets");
    const cvg_options& o = capi::options_or_defaults(opts);
    const ClusteringOptions copt = clustering_options(o.compare);
    auto handle = std::make_unique<cvg_clustering>();
    handle->result = spectral_clustering(backend, st, net_a, net_b, copt);
    return capi::publish(std::move(handle), capi::HandleKind::Clustering);
}

}  // namespace

extern "C" {

int cvg_spectral_clustering(cvg_clustering** out, const cvg_stats* stats, int32_t net_a, int32_t net_b,
                            const cvg_options* opts) {
    return capi::translate_exceptions("cvg_spectral_clustering", [&] {
        CVG_ARG(out != nullptr, "out is NULL");
        *out = nullptr;
        capi::require_live(stats, capi::HandleKind::Stats, "stats");
        *out = run_spectral_clustering(*stats->backend, stats, net_a, net_b, opts);
    });
}

int cvg_spectral_clustering_ctx(cvg_clustering** out, const cvg_context* ctx, const cvg_stats* stats,
                                int32_t net_a, int32_t net_b, const cvg_options* opts) {
    return capi::translate_exceptions("cvg_spectral_clustering_ctx", [&] {
        CVG_ARG(out != nullptr, "out is NULL");
        *out = nullptr;
        const std::shared_ptr<const Backend>& backend = capi::context_backend(ctx);
        *out = run_spectral_clustering(*backend, stats, net_a, net_b, opts);
    });
}

void cvg_clustering_destroy(cvg_clustering* clustering) {
    capi::destroy(clustering, capi::HandleKind::Clustering, "cvg_clustering_destroy");
}

int cvg_clustering_count(const cvg_clustering* clustering, int64_t* n_clusters) {
    return capi::translate_exceptions("cvg_clustering_count", [&] {
        const ClusteringResult& r = result_of(clustering);
        CVG_ARG(n_clusters != nullptr, "n_clusters is NULL");
        *n_clusters = int64_t(r.clusters.size());
    });
}

int cvg_clustering_k(const cvg_clustering* clustering, int64_t* k, int64_t* k_eigengap) {
    return capi::translate_exceptions("cvg_clustering_k", [&] {
        const ClusteringResult& r = result_of(clustering);
        CVG_ARG(k != nullptr, "k is NULL");
        CVG_ARG(k_eigengap != nullptr, "k_eigengap is NULL");
        *k = r.k;
        *k_eigengap = r.k_eigengap;
    });
}

int cvg_clustering_node(const cvg_clustering* clustering, int64_t id, int64_t* parent, int32_t* depth,
                        int32_t* leaf, double* between_net_similarity, double* within_net_similarity) {
    return capi::translate_exceptions("cvg_clustering_node", [&] {
        const ClusterNode& n = node_of(result_of(clustering), id);
        if (parent) *parent = n.parent;
        if (depth) *depth = n.depth;
        if (leaf) *leaf = n.leaf ? 1 : 0;
        if (between_net_similarity) *between_net_similarity = n.between_net_similarity;
        if (within_net_similarity) *within_net_similarity = n.within_net_similarity;
    });
}

int cvg_clustering_members(const cvg_clustering* clustering, int64_t id, int32_t side, int64_t* count,
                           int64_t* out, int64_t capacity) {
    return capi::translate_exceptions("cvg_clustering_members", [&] {
        const ClusterNode& n = node_of(result_of(clustering), id);
        CVG_ARG(side == 0 || side == 1, "side = " + std::to_string(side) + " must be 0 (net_a) or 1 (net_b)");
        capi::fill_sized(side == 0 ? n.members_a : n.members_b, count, out, capacity, "members");
    });
}

int cvg_clustering_children(const cvg_clustering* clustering, int64_t id, int64_t* count, int64_t* out,
                            int64_t capacity) {
    return capi::translate_exceptions("cvg_clustering_children", [&] {
        const ClusterNode& n = node_of(result_of(clustering), id);
        capi::fill_sized(n.children, count, out, capacity, "children");
    });
}

int cvg_clustering_eigenvalues(const cvg_clustering* clustering, int64_t* count, double* out, int64_t capacity) {
    return capi::translate_exceptions("cvg_clustering_eigenvalues", [&] {
        capi::fill_sized(result_of(clustering).eigenvalues, count, out, capacity, "eigenvalues");
    });
}

int cvg_clustering_leaves(const cvg_clustering* clustering, int64_t* count, int64_t* out, int64_t capacity) {
    return capi::translate_exceptions("cvg_clustering_leaves", [&] {
        capi::fill_sized(result_of(clustering).leaves_by_similarity, count, out, capacity, "leaves");
    });
}

int cvg_clustering_similarities(const cvg_clustering* clustering, int64_t* count, double* between,
                                double* within, int64_t capacity) {
    return capi::translate_exceptions("cvg_clustering_similarities", [&] {
        const ClusteringResult& r = result_of(clustering);
        const int64_t n = int64_t(r.sorted_between_net_similarity.size());
        CVG_ARG(count != nullptr, "count is NULL");
        *count = n;
        if (between == nullptr && within == nullptr) return;
        CVG_ARG(capacity >= n, "similarities: capacity " + std::to_string(capacity) + " is smaller than the " +
                                   std::to_string(n) + " leaves (query the count with NULL arrays first)");
        if (between) std::copy(r.sorted_between_net_similarity.begin(), r.sorted_between_net_similarity.end(), between);
        if (within) std::copy(r.sorted_within_net_similarity.begin(), r.sorted_within_net_similarity.end(), within);
    });
}

int cvg_clustering_permutation(const cvg_clustering* clustering, int64_t* count, int64_t* out, int64_t capacity) {
    return capi::translate_exceptions("cvg_clustering_permutation", [&] {
        capi::fill_sized(result_of(clustering).permutation, count, out, capacity, "permutation");
    });
}

}  // extern "C"
