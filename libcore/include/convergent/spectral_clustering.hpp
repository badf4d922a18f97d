// Many-to-many alignment of two nets by spectral clustering (Sec. 4, 6.4-6.6).
//
// Graph (Sec. 4.1, 6.5): the combined correlation matrix of nets X and Y,
//     W = [[corr(X,X), corr(X,Y)], [corr(X,Y)^T, corr(Y,Y)]],
// with every edge of weight < tau set to 0. The diagonal is set to 0: the
// paper's similarity graphs have no self-loops (and a self-loop cancels in
// L = D - W anyway; zeroing it keeps the degrees meaningful). Negative
// correlations fall below tau >= 0, so W >= 0 and L is positive semidefinite.
// Dead units (zero variance) are not vertices: they would be isolated and
// waste one zero eigenvalue each; they are listed in the layer's dead_units
// and appended at the end of the permutation.
//
// Embedding (Sec. 4.1): the eigenvectors of the k smallest eigenvalues of the
// unnormalised Laplacian L = D - W, used directly as in the paper (the rows
// are not normalised unless ClusteringOptions::normalize_rows, Ng-Jordan-Weiss).
// Footnote 7 (choose k at an abrupt change of the eigenvalues) is the
// eigengap suggestion: the largest gap among the first m eigenvalues.
//
// Partition: seeded k-means++ with n_init restarts (best inertia) on the rows.
// Hierarchical re-splitting (Sec. 4.3): a cluster with more than 2*alpha*S
// members (both nets counted, S = mean units per net) is re-clustered by
// spectral clustering of its own sub-graph (k = split_k, default 2, i.e. a
// binary tree; split_k = 0 takes k = ceil(size / (2 alpha S))), recursively.
#pragma once

#include <cstdint>
#include <string>
#include <vector>


#include "convergent/backend.hpp"
#include "convergent/statistics.hpp"

namespace convergent {

struct KMeansOptions {
    std::uint64_t seed = 0;
    int n_init = 10;       // restarts, each with its own k-means++ seeding; best inertia kept
    int max_iter = 300;    // Lloyd iterations per restart
    double tol = 1e-10;    // stop when the centres move less than tol (squared, summed)
};

struct KMeansResult {
    std::vector<index_t> labels;   // per point, in [0, k)
    std::vector<double> centres;   // k x dim row-major
    double inertia = 0.0;          // sum of squared distances to the assigned centre
    int iterations = 0;            // Lloyd iterations of the best restart
};

// Seeded k-means++ with restarts on n points of dimension dim (row-major).
// Deterministic: the same points, k and options give the same result.
// Clusters left empty are re-seeded with the point farthest from its centre.
KMeansResult kmeans(const double* points, index_t n, index_t dim, index_t k,
                    const KMeansOptions& options);

// Index k >= min_k maximising values[k] - values[k-1] over the ascending
// eigenvalues given (footnote 7); the suggested number of clusters (ties: the
// smallest k). With at most min_k values there is no gap to measure and the
// result is min(min_k, size), at least 1. min_k = 2 skips the trivial gap
// after the always-zero first eigenvalue of a Laplacian.
index_t eigengap_suggestion(const std::vector<double>& ascending_eigenvalues, index_t min_k = 2);

// The thresholded combined similarity graph (Sec. 4.1, 6.5) of two nets,
// (S_a + S_b) x (S_a + S_b) row-major, zero diagonal, dead units isolated.
std::vector<double> combined_similarity_graph(const LayerStatistics& stats, int net_a, int net_b,
                                              double tau);

// Unnormalised Laplacian L = D - W of an n x n symmetric weight matrix.
std::vector<double> graph_laplacian(const std::vector<double>& weights, index_t n);

struct ClusteringOptions {
    double tau = 0.2;       // Sec. 4.1 edge threshold (edges with weight < tau are removed)
    double alpha = 0.025;   // Sec. 4.3 leaf size parameter: split clusters with size > 2 alpha S
    // First-level clusters: > 0 this k; 0 the eigengap suggestion; -1 the
    // paper's ratio, paper_cluster_k (k = 40 for its 96-unit conv1, 100 for
    // its 256-unit layers: 0.4 x units per net).
    index_t k = -1;
    // Eigenvalues computed for the eigengap (m); 0 = max(2k, 64); clamped to [k, n].
    index_t eigengap_candidates = 0;
    std::uint64_t seed = 0;
    int n_init = 10;
    int kmeans_max_iter = 300;
    bool normalize_rows = false;  // Ng-Jordan-Weiss row normalisation (the paper does not)
    bool hierarchical = true;
    index_t split_k = 2;          // children per split; 0 = ceil(size / (2 alpha S))
    index_t min_leaf_size = 2;    // never split a cluster of at most this many units
    int max_depth = 1000;         // guard only: splits stop at this depth
};

struct ClusterNode {
    index_t id = 0;
    index_t parent = -1;     // -1 for first-level clusters
    int depth = 0;           // 0 for first-level clusters
    bool leaf = true;
    std::vector<index_t> members_a;  // local unit indices in net a, ascending
    std::vector<index_t> members_b;  // local unit indices in net b, ascending
    std::vector<index_t> children;   // ids
    double between_net_similarity = 0.0;  // Sec. 6.6 Sim_{X->Y}
    double within_net_similarity = 0.0;   // Sec. 6.6 (Sim_{X->X} + Sim_{Y->Y}) / 2
};

struct ClusteringResult {
    int net_a = 0, net_b = 1;
    index_t units_a = 0, units_b = 0;
    double tau = 0.2, alpha = 0.025;
    index_t k = 0;           // first-level clusters requested (after the eigengap choice)
    index_t k_eigengap = 0;  // eigengap suggestion
    std::uint64_t seed = 0;
    std::vector<double> eigenvalues;     // smallest eigenvalues of L (ascending)
    std::vector<ClusterNode> clusters;   // every node of the cluster tree, id == index
    std::vector<index_t> leaves_by_similarity;  // leaf ids by decreasing between-net similarity
    // Order of the S_a + S_b combined units (net a: 0..S_a-1, net b: S_a..):
    // leaves in depth-first tree order, net a members then net b members,
    // dead units last. Applied to rows and columns of W it gives Fig. 13.
    std::vector<index_t> permutation;
    std::vector<double> sorted_between_net_similarity;  // Fig. 14, leaves_by_similarity order
    std::vector<double> sorted_within_net_similarity;
};

// Sec. 6.6 similarity of one cluster. between: mean of corr(X,Y)_pq over
// p in members_a, q in members_b (0 if a side is empty). within: mean of the
// two within-net means over distinct member pairs p != q; a net with fewer
// than two members has no within-net mean and is left out (0 if neither has).
void cluster_similarity(const LayerStatistics& stats, int net_a, int net_b, ClusterNode& node);

// The paper's first-level k relative to layer width (Sec. 4.3, Fig. 13):
// round(0.2 * (units_a + units_b)), at least 2.
index_t paper_cluster_k(index_t units_a, index_t units_b);

// Spectral clustering of nets net_a and net_b (Sec. 4). The eigensolves run on
// the backend; k-means on the CPU. Deterministic for a given seed and backend.
ClusteringResult spectral_clustering(const Backend& backend, const LayerStatistics& stats,
                                     int net_a, int net_b, const ClusteringOptions& options = {});

}  // namespace convergent
