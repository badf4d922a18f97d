#include "convergent/spectral_clustering.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "parallel_guard.hpp"

namespace convergent {

namespace {

double squared_distance(const double* x, const double* y, index_t dim) {
    double s = 0.0;
    for (index_t d = 0; d < dim; ++d) {
        const double t = x[d] - y[d];
        s += t * t;
    }
    return s;
}

// Greedy k-means++ seeding (Arthur & Vassilvitskii 2007; 2 + ln k candidate
// draws per centre, keeping the one that lowers the potential most, as sklearn).
void kmeans_plus_plus(const double* points, index_t n, index_t dim, index_t k, std::mt19937_64& rng,
                      std::vector<double>& centres) {
    centres.assign(size_t(k * dim), 0.0);
    std::uniform_int_distribution<index_t> pick(0, n - 1);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    const index_t first = pick(rng);
    std::copy(points + first * dim, points + (first + 1) * dim, centres.begin());
    std::vector<double> closest(static_cast<size_t>(n));
    for (index_t i = 0; i < n; ++i) closest[size_t(i)] = squared_distance(points + i * dim, points + first * dim, dim);
    const int trials = 2 + int(std::log(double(k)));
    std::vector<double> candidate_closest(static_cast<size_t>(n)), best_closest(static_cast<size_t>(n));
    for (index_t c = 1; c < k; ++c) {
        const double potential = std::accumulate(closest.begin(), closest.end(), 0.0);
        index_t best = -1;
        double best_potential = std::numeric_limits<double>::infinity();
        for (int t = 0; t < trials; ++t) {
            index_t candidate = 0;
            if (potential > 0.0) {
                // Draw proportionally to the squared distance to the nearest centre.
                const double target = unit(rng) * potential;
                double cumulative = 0.0;
                candidate = n - 1;
                for (index_t i = 0; i < n; ++i) {
                    cumulative += closest[size_t(i)];
                    if (cumulative > target && closest[size_t(i)] > 0.0) {
                        candidate = i;
                        break;
                    }
                }
            } else {
                candidate = pick(rng);  // every point coincides with a centre
            }
            double total = 0.0;
            for (index_t i = 0; i < n; ++i) {
                candidate_closest[size_t(i)] = std::min(
                    closest[size_t(i)], squared_distance(points + i * dim, points + candidate * dim, dim));
                total += candidate_closest[size_t(i)];
            }
            if (total < best_potential) {
                best_potential = total;
                best = candidate;
                best_closest.swap(candidate_closest);
            }
        }
        std::copy(points + best * dim, points + (best + 1) * dim, centres.begin() + c * dim);
        closest.swap(best_closest);
        best_closest.resize(static_cast<size_t>(n));
    }
}

// Lloyd iterations from the given centres; returns the inertia.
double lloyd(const double* points, index_t n, index_t dim, index_t k, int max_iter, double tol,
             std::vector<double>& centres, std::vector<index_t>& labels, int& iterations) {
    labels.assign(size_t(n), -1);
    std::vector<double> distance(static_cast<size_t>(n));
    std::vector<double> sums(static_cast<size_t>(k * dim));
    std::vector<index_t> counts(static_cast<size_t>(k));
    iterations = 0;
    for (int it = 0; it < max_iter; ++it) {
        ++iterations;
        bool changed = false;
        for (index_t i = 0; i < n; ++i) {
            index_t best = 0;
            double best_d = std::numeric_limits<double>::infinity();
            for (index_t c = 0; c < k; ++c) {
                const double d = squared_distance(points + i * dim, centres.data() + c * dim, dim);
                if (d < best_d) {  // ties: lowest centre index
                    best_d = d;
                    best = c;
                }
            }
            if (labels[size_t(i)] != best) changed = true;
            labels[size_t(i)] = best;
            distance[size_t(i)] = best_d;
        }
        std::fill(sums.begin(), sums.end(), 0.0);
        std::fill(counts.begin(), counts.end(), 0);
        for (index_t i = 0; i < n; ++i) {
            const index_t c = labels[size_t(i)];
            ++counts[size_t(c)];
            for (index_t d = 0; d < dim; ++d) sums[size_t(c * dim + d)] += points[i * dim + d];
        }
        double shift = 0.0;
        for (index_t c = 0; c < k; ++c) {
            double* centre = centres.data() + c * dim;
            if (counts[size_t(c)] == 0) {
                // Empty cluster: move its centre onto the point farthest from
                // its own centre (sklearn's relocation), which then leaves its cluster.
                const index_t far = index_t(std::max_element(distance.begin(), distance.end()) - distance.begin());
                std::copy(points + far * dim, points + (far + 1) * dim, centre);
                distance[size_t(far)] = 0.0;
                shift = std::numeric_limits<double>::infinity();
                changed = true;
                continue;
            }
            for (index_t d = 0; d < dim; ++d) {
                const double updated = sums[size_t(c * dim + d)] / double(counts[size_t(c)]);
                shift += (updated - centre[d]) * (updated - centre[d]);
                centre[d] = updated;
            }
        }
        if (!changed || shift <= tol) break;
    }
    // Final assignment against the final centres.
    double inertia = 0.0;
    for (index_t i = 0; i < n; ++i) {
        index_t best = 0;
        double best_d = std::numeric_limits<double>::infinity();
        for (index_t c = 0; c < k; ++c) {
            const double d = squared_distance(points + i * dim, centres.data() + c * dim, dim);
            if (d < best_d) {
                best_d = d;
                best = c;
            }
        }
        labels[size_t(i)] = best;
        inertia += best_d;
    }
    return inertia;
}

// Sub-seed for restart / tree node `stream` of a user seed.
std::mt19937_64 seeded(std::uint64_t seed, std::uint64_t stream) {
    std::seed_seq seq{std::uint32_t(seed), std::uint32_t(seed >> 32), std::uint32_t(stream),
                      std::uint32_t(stream >> 32)};
    return std::mt19937_64(seq);
}

}  // namespace

KMeansResult kmeans(const double* points, index_t n, index_t dim, index_t k, const KMeansOptions& options) {
    CVG_REQUIRE(n > 0 && dim > 0 && k > 0 && k <= n, InvalidArgument,
                "kmeans: need n > 0, dim > 0 and 0 < k <= n (n = " + std::to_string(n) +
                    ", k = " + std::to_string(k) + ")");
    CVG_REQUIRE(options.n_init > 0 && options.max_iter > 0, InvalidArgument,
                "kmeans: need n_init > 0 and max_iter > 0");
    std::vector<KMeansResult> runs(static_cast<size_t>(options.n_init));
    // Each restart has its own RNG stream, so the result does not depend on
    // the thread count; the best inertia wins, ties to the lowest restart.
    // The restarts allocate their centres and labels inside the region;
    // the guard keeps a bad_alloc from escaping it (std::terminate) and
    // rethrows it after.
    ParallelGuard guard;
#pragma omp parallel for schedule(dynamic, 1)
    for (int r = 0; r < options.n_init; ++r) guard.run([&] {
        std::mt19937_64 rng = seeded(options.seed, std::uint64_t(r));
        KMeansResult& run = runs[size_t(r)];
        kmeans_plus_plus(points, n, dim, k, rng, run.centres);
        run.inertia = lloyd(points, n, dim, k, options.max_iter, options.tol, run.centres, run.labels,
                            run.iterations);
    });
    guard.rethrow("kmeans (" + std::to_string(n) + " points x " + std::to_string(dim) + " dims, k = " +
                  std::to_string(k) + ")");
    size_t best = 0;
    for (size_t r = 1; r < runs.size(); ++r)
        if (runs[r].inertia < runs[best].inertia) best = r;
    return std::move(runs[best]);
}

index_t eigengap_suggestion(const std::vector<double>& values, index_t min_k) {
    const index_t m = index_t(values.size());
    min_k = std::max<index_t>(1, min_k);
    if (m <= min_k) return std::max<index_t>(1, std::min(min_k, m));
    index_t best = min_k;
    double best_gap = -std::numeric_limits<double>::infinity();
    for (index_t k = min_k; k < m; ++k) {
        const double gap = values[size_t(k)] - values[size_t(k - 1)];
        if (gap > best_gap) {
            best_gap = gap;
            best = k;
        }
    }
    return best;
}

std::vector<double> combined_similarity_graph(const LayerStatistics& stats, int net_a, int net_b, double tau) {
    stats.check_net(net_a, "spectral clustering: net_a");
    stats.check_net(net_b, "spectral clustering: net_b");
    CVG_REQUIRE(net_a != net_b, InvalidArgument, "spectral clustering: need two different nets");
    CVG_REQUIRE(tau >= 0.0 && tau <= 1.0, InvalidArgument,
                "spectral clustering: tau is a correlation threshold and must be in [0, 1]");
    const index_t sa = stats.block_widths[size_t(net_a)], sb = stats.block_widths[size_t(net_b)];
    const index_t n = sa + sb, t = stats.width();
    std::vector<index_t> global(static_cast<size_t>(n));
    for (index_t i = 0; i < sa; ++i) global[size_t(i)] = stats.block_offsets[size_t(net_a)] + i;
    for (index_t j = 0; j < sb; ++j) global[size_t(sa + j)] = stats.block_offsets[size_t(net_b)] + j;
    std::vector<double> w(size_t(n * n), 0.0);
    for (index_t i = 0; i < n; ++i)
        for (index_t j = 0; j < n; ++j) {
            if (i == j) continue;  // no self-loops (Sec. 6.5 graphs)
            const double c = stats.correlation[size_t(global[size_t(i)] * t + global[size_t(j)])];
            // Sec. 4.1 / 6.5: an edge only where the correlation reaches tau.
            if (c >= tau) w[size_t(i * n + j)] = c;
        }
    return w;
}

std::vector<double> graph_laplacian(const std::vector<double>& weights, index_t n) {
    CVG_REQUIRE(index_t(weights.size()) == n * n, InvalidArgument, "graph_laplacian: weights is not n x n");
    // Sec. 4.1: L = D - W, d_j = sum_k w_jk.
    std::vector<double> l(static_cast<size_t>(n * n));
    for (index_t i = 0; i < n; ++i) {
        double degree = 0.0;
        for (index_t j = 0; j < n; ++j) {
            degree += weights[size_t(i * n + j)];
            l[size_t(i * n + j)] = -weights[size_t(i * n + j)];
        }
        l[size_t(i * n + i)] += degree;
    }
    return l;
}

void cluster_similarity(const LayerStatistics& stats, int net_a, int net_b, ClusterNode& node) {
    const index_t t = stats.width();
    const index_t oa = stats.block_offsets[size_t(net_a)], ob = stats.block_offsets[size_t(net_b)];
    const auto corr = [&](index_t i, index_t j) { return stats.correlation[size_t(i * t + j)]; };
    // Sec. 6.6 between-net similarity: mean corr(X,Y) over the cluster's pairs.
    double between = 0.0;
    if (!node.members_a.empty() && !node.members_b.empty()) {
        for (index_t p : node.members_a)
            for (index_t q : node.members_b) between += corr(oa + p, ob + q);
        between /= double(node.members_a.size() * node.members_b.size());
    }
    // Sec. 6.6 within-net similarity: (Sim_{X->X} + Sim_{Y->Y}) / 2 over distinct pairs.
    const auto within_mean = [&](const std::vector<index_t>& members, index_t offset, double& out) {
        if (members.size() < 2) return false;
        double s = 0.0;
        for (index_t p : members)
            for (index_t q : members)
                if (p != q) s += corr(offset + p, offset + q);
        out = s / double(members.size() * (members.size() - 1));
        return true;
    };
    double wa = 0.0, wb = 0.0;
    const bool has_a = within_mean(node.members_a, oa, wa), has_b = within_mean(node.members_b, ob, wb);
    node.between_net_similarity = between;
    node.within_net_similarity = has_a && has_b ? 0.5 * (wa + wb) : has_a ? wa : has_b ? wb : 0.0;
}

namespace {

// Spectral partition of the vertices `vertices` (indices into the combined
// graph w of size n) into at most k groups. Groups are returned sorted by
// their smallest vertex; empty groups are dropped.
std::vector<std::vector<index_t>> spectral_partition(const Backend& backend, const std::vector<double>& w,
                                                     index_t n, const std::vector<index_t>& vertices,
                                                     index_t k, index_t eigenvalue_count,
                                                     const ClusteringOptions& options,
                                                     std::uint64_t stream,
                                                     std::vector<double>* eigenvalues_out) {
    const index_t m = index_t(vertices.size());
    std::vector<double> sub(static_cast<size_t>(m * m));
    for (index_t i = 0; i < m; ++i)
        for (index_t j = 0; j < m; ++j)
            sub[size_t(i * m + j)] = w[size_t(vertices[size_t(i)] * n + vertices[size_t(j)])];
    const std::vector<double> laplacian = graph_laplacian(sub, m);
    const index_t count = std::min(m, std::max(k, eigenvalue_count));
    std::vector<double> values(static_cast<size_t>(count)), vectors(static_cast<size_t>(m * count));
    backend.symmetric_eigensolve_smallest(laplacian.data(), m, count, values.data(), vectors.data());
    if (eigenvalues_out) *eigenvalues_out = values;
    if (k <= 0) k = eigengap_suggestion(values);
    k = std::min(k, m);

    // Rows of the first k eigenvectors (Sec. 4.1, U in R^{2S x k}). Signs are
    // fixed (largest |entry| positive) so that CPU and GPU agree; k-means is
    // invariant to them anyway.
    std::vector<double> points(static_cast<size_t>(m * k));
    for (index_t c = 0; c < k; ++c) {
        const double* column = vectors.data() + c * m;
        index_t arg = 0;
        for (index_t i = 1; i < m; ++i)
            if (std::fabs(column[i]) > std::fabs(column[arg])) arg = i;
        const double sign = column[arg] < 0.0 ? -1.0 : 1.0;
        for (index_t i = 0; i < m; ++i) points[size_t(i * k + c)] = sign * column[i];
    }
    if (options.normalize_rows) {
        for (index_t i = 0; i < m; ++i) {
            double norm = 0.0;
            for (index_t c = 0; c < k; ++c) norm += points[size_t(i * k + c)] * points[size_t(i * k + c)];
            norm = std::sqrt(norm);
            if (norm > 0.0)
                for (index_t c = 0; c < k; ++c) points[size_t(i * k + c)] /= norm;
        }
    }
    KMeansOptions km;
    km.seed = seeded(options.seed, stream)();
    km.n_init = options.n_init;
    km.max_iter = options.kmeans_max_iter;
    const KMeansResult fit = kmeans(points.data(), m, k, k, km);
    std::vector<std::vector<index_t>> groups(static_cast<size_t>(k));
    for (index_t i = 0; i < m; ++i) groups[size_t(fit.labels[size_t(i)])].push_back(vertices[size_t(i)]);
    groups.erase(std::remove_if(groups.begin(), groups.end(),
                                [](const std::vector<index_t>& g) { return g.empty(); }),
                 groups.end());
    for (auto& g : groups) std::sort(g.begin(), g.end());
    std::sort(groups.begin(), groups.end(),
              [](const std::vector<index_t>& x, const std::vector<index_t>& y) { return x.front() < y.front(); });
    return groups;
}

}  // namespace

index_t paper_cluster_k(index_t units_a, index_t units_b) {
    return std::max<index_t>(2, index_t(std::lround(0.2 * double(units_a + units_b))));
}

ClusteringResult spectral_clustering(const Backend& backend, const LayerStatistics& stats, int net_a,
                                     int net_b, const ClusteringOptions& requested) {
    stats.check_net(net_a, "spectral clustering: net_a");
    stats.check_net(net_b, "spectral clustering: net_b");
    ClusteringOptions options = requested;
    if (options.k < 0)
        options.k = paper_cluster_k(stats.block_widths[size_t(net_a)], stats.block_widths[size_t(net_b)]);
    CVG_REQUIRE(options.alpha > 0.0 && options.k >= 0 && options.n_init > 0 && options.kmeans_max_iter > 0 &&
                    options.split_k >= 0 && options.split_k != 1 && options.min_leaf_size >= 1 &&
                    options.max_depth >= 0 && options.eigengap_candidates >= 0,
                InvalidArgument,
                "spectral_clustering: need alpha > 0, k >= 0, n_init > 0, kmeans_max_iter > 0, "
                "split_k = 0 or >= 2, min_leaf_size >= 1, max_depth >= 0");
    const std::vector<double> w = combined_similarity_graph(stats, net_a, net_b, options.tau);
    ClusteringResult res;
    res.net_a = net_a;
    res.net_b = net_b;
    res.units_a = stats.block_widths[size_t(net_a)];
    res.units_b = stats.block_widths[size_t(net_b)];
    res.tau = options.tau;
    res.alpha = options.alpha;
    res.seed = options.seed;
    const index_t sa = res.units_a, n = res.units_a + res.units_b;

    std::vector<index_t> live, dead;
    for (index_t v = 0; v < n; ++v) {
        const index_t global = v < sa ? stats.block_offsets[size_t(net_a)] + v
                                      : stats.block_offsets[size_t(net_b)] + (v - sa);
        (stats.dead[size_t(global)] ? dead : live).push_back(v);
    }
    const auto make_node = [&](const std::vector<index_t>& vertices, index_t parent, int depth) {
        ClusterNode node;
        node.id = index_t(res.clusters.size());
        node.parent = parent;
        node.depth = depth;
        for (index_t v : vertices) (v < sa ? node.members_a : node.members_b).push_back(v < sa ? v : v - sa);
        cluster_similarity(stats, net_a, net_b, node);
        res.clusters.push_back(node);
        return node.id;
    };

    if (!live.empty()) {
        const index_t m = index_t(live.size());
        index_t candidates = options.eigengap_candidates;
        if (candidates == 0) candidates = std::max<index_t>(2 * options.k, 64);
        candidates = std::min(m, std::max(candidates, options.k));
        // First level (Sec. 4.1): eigenvalues for the eigengap, k clusters.
        std::vector<std::vector<index_t>> groups =
            spectral_partition(backend, w, n, live, options.k, candidates, options, 0, &res.eigenvalues);
        res.k_eigengap = eigengap_suggestion(res.eigenvalues);
        res.k = options.k > 0 ? std::min(options.k, m) : res.k_eigengap;
        std::deque<index_t> pending;
        for (const auto& g : groups) pending.push_back(make_node(g, -1, 0));

        // Sec. 4.3: re-cluster every cluster larger than 2 alpha S.
        const double units_per_net = 0.5 * double(n);
        const double bound = 2.0 * options.alpha * units_per_net;
        while (options.hierarchical && !pending.empty()) {
            const index_t id = pending.front();
            pending.pop_front();
            std::vector<index_t> vertices;
            for (index_t p : res.clusters[size_t(id)].members_a) vertices.push_back(p);
            for (index_t q : res.clusters[size_t(id)].members_b) vertices.push_back(sa + q);
            const index_t size = index_t(vertices.size());
            if (double(size) <= bound || size <= options.min_leaf_size ||
                res.clusters[size_t(id)].depth >= options.max_depth)
                continue;
            const index_t k_split = options.split_k > 0
                                        ? options.split_k
                                        : std::max<index_t>(2, index_t(std::ceil(double(size) / bound)));
            std::vector<std::vector<index_t>> parts = spectral_partition(
                backend, w, n, vertices, std::min(k_split, size), std::min(k_split, size), options,
                std::uint64_t(id) + 1, nullptr);
            if (parts.size() < 2) continue;  // no progress: stays a leaf
            res.clusters[size_t(id)].leaf = false;
            const int depth = res.clusters[size_t(id)].depth + 1;
            for (const auto& part : parts) {
                const index_t child = make_node(part, id, depth);
                res.clusters[size_t(id)].children.push_back(child);
                pending.push_back(child);
            }
        }
    }

    // Fig. 13 permutation: leaves in depth-first order of the tree.
    std::vector<index_t> stack;
    for (index_t i = index_t(res.clusters.size()) - 1; i >= 0; --i)
        if (res.clusters[size_t(i)].parent == -1) stack.push_back(i);
    while (!stack.empty()) {
        const ClusterNode& node = res.clusters[size_t(stack.back())];
        stack.pop_back();
        if (node.leaf) {
            for (index_t p : node.members_a) res.permutation.push_back(p);
            for (index_t q : node.members_b) res.permutation.push_back(sa + q);
            continue;
        }
        for (auto it = node.children.rbegin(); it != node.children.rend(); ++it) stack.push_back(*it);
    }
    for (index_t v : dead) res.permutation.push_back(v);

    // Fig. 14: leaves by decreasing between-net similarity (stable in id).
    for (const ClusterNode& node : res.clusters)
        if (node.leaf) res.leaves_by_similarity.push_back(node.id);
    std::stable_sort(res.leaves_by_similarity.begin(), res.leaves_by_similarity.end(), [&](index_t x, index_t y) {
        return res.clusters[size_t(x)].between_net_similarity > res.clusters[size_t(y)].between_net_similarity;
    });
    for (index_t id : res.leaves_by_similarity) {
        res.sorted_between_net_similarity.push_back(res.clusters[size_t(id)].between_net_similarity);
        res.sorted_within_net_similarity.push_back(res.clusters[size_t(id)].within_net_similarity);
    }
    return res;
}

}  // namespace convergent
