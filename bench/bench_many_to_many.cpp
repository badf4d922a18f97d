// Benchmarks and oracle driver for the many-to-many analyses (Sec. 4):
// the lasso path on sufficient statistics and the k-smallest eigensolve.
//
//   bench_many_to_many --lasso DATA.f64 N UNITS_A UNITS_B ALPHAS OUT.f64 [TOL]
//       DATA: N x (UNITS_A + UNITS_B) row-major float64 (net a columns first),
//       converted to float32 like activations; statistics accumulated with the
//       CPU backend (MomentAccumulator + finalize_statistics), then units of a
//       predicted from units of b. ALPHAS: comma-separated path. OUT: per alpha,
//       UNITS_A x UNITS_B weights (row-major float64) then UNITS_A losses.
//   bench_many_to_many --eigs MATRIX.f64 N K OUT.f64 [cpu|cuda|auto] [REPEATS]
//       MATRIX: N x N row-major float64 symmetric. OUT: K eigenvalues then the
//       N x K eigenvectors (column-major).
//   bench_many_to_many --cluster DATA.f64 N UNITS_A UNITS_B K OUT.json [TAU ALPHA SEED]
//       DATA as for --lasso; writes the clusters object of summary.json
//       (clustering_to_json, nets named "a" and "b"), CPU backend.
//   bench_many_to_many            self-contained timings on random data
//
// Timings are printed as JSON lines: {"op": ..., "seconds": ...}.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "convergent/summary_json.hpp"
#include "convergent/backend.hpp"
#include "convergent/sparse_prediction.hpp"
#include "convergent/spectral_clustering.hpp"
#include "convergent/statistics.hpp"

using namespace convergent;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

std::vector<double> read_f64(const std::string& path, size_t count) {
    std::ifstream in(path, std::ios::binary);
    CVG_REQUIRE(in.good(), Io, "cannot open " + path);
    std::vector<double> v(count);
    in.read(reinterpret_cast<char*>(v.data()), std::streamsize(sizeof(double) * count));
    CVG_REQUIRE(size_t(in.gcount()) == sizeof(double) * count, Io,
                path + ": expected " + std::to_string(count) + " float64 values");
    return v;
}

void write_f64(const std::string& path, const std::vector<double>& v) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(v.data()), std::streamsize(sizeof(double) * v.size()));
    CVG_REQUIRE(out.good(), Io, "cannot write " + path);
}

std::vector<double> parse_list(const std::string& text) {
    std::vector<double> out;
    std::stringstream ss(text);
    std::string item;
    while (std::getline(ss, item, ',')) out.push_back(std::stod(item));
    return out;
}

void print_timing(const std::string& op, double seconds, nlohmann::json extra = nlohmann::json::object()) {
    extra["op"] = op;
    extra["seconds"] = seconds;
    std::cout << extra.dump() << std::endl;
}

int run_lasso(int argc, char** argv) {
    CVG_REQUIRE(argc >= 8, InvalidArgument, "usage: --lasso DATA.f64 N UNITS_A UNITS_B ALPHAS OUT.f64 [TOL]");
    const index_t n = std::stoll(argv[3]), ua = std::stoll(argv[4]), ub = std::stoll(argv[5]);
    SparsePredictionOptions options;
    options.alphas = parse_list(argv[6]);
    options.keep_weights = true;
    if (argc >= 9) options.tol = std::stod(argv[8]);
    const std::vector<double> data = read_f64(argv[2], size_t(n * (ua + ub)));
    const std::vector<float> x(data.begin(), data.end());
    auto backend = make_cpu_backend();

    auto start = Clock::now();
    MomentAccumulator acc({ua, ub});
    const index_t chunk = 4096;
    for (index_t row = 0; row < n; row += chunk)
        acc.push(*backend, x.data() + row * (ua + ub), std::min(chunk, n - row), ua + ub);
    const LayerStatistics stats = finalize_statistics(acc);
    print_timing("lasso_statistics", seconds_since(start), {{"n", n}, {"units", ua + ub}});

    start = Clock::now();
    const SparsePredictionResult res = sparse_prediction(stats, 0, 1, options);
    print_timing("lasso_path", seconds_since(start),
                 {{"targets", ua}, {"predictors", ub}, {"alphas", options.alphas.size()},
                  {"mean_nonzero", res.mean_nonzero}, {"max_duality_gap", res.max_duality_gap}});

    std::vector<double> out;
    for (size_t a = 0; a < options.alphas.size(); ++a) {
        out.insert(out.end(), res.weights[a].begin(), res.weights[a].end());
        for (index_t i = 0; i < ua; ++i) out.push_back(res.dead_target[size_t(i)] ? 0.0 : res.loss[a][size_t(i)]);
    }
    write_f64(argv[7], out);
    return 0;
}

int run_eigs(int argc, char** argv) {
    CVG_REQUIRE(argc >= 6, InvalidArgument, "usage: --eigs MATRIX.f64 N K OUT.f64 [cpu|cuda|auto] [REPEATS]");
    const index_t n = std::stoll(argv[3]), k = std::stoll(argv[4]);
    auto backend = make_backend(parse_backend_kind(argc >= 7 ? argv[6] : "cpu"));
    const int repeats = argc >= 8 ? std::atoi(argv[7]) : 1;
    const std::vector<double> a = read_f64(argv[2], size_t(n * n));
    std::vector<double> values(static_cast<size_t>(k)), vectors(static_cast<size_t>(n * k));
    double best = 1e300;
    for (int r = 0; r < std::max(1, repeats); ++r) {
        const auto start = Clock::now();
        backend->symmetric_eigensolve_smallest(a.data(), n, k, values.data(), vectors.data());
        best = std::min(best, seconds_since(start));
    }
    print_timing("eigensolve_smallest", best,
                 {{"n", n}, {"k", k}, {"backend", backend->device_description()}, {"repeats", repeats}});
    std::vector<double> out = values;
    out.insert(out.end(), vectors.begin(), vectors.end());
    write_f64(argv[5], out);
    return 0;
}

int run_cluster(int argc, char** argv) {
    CVG_REQUIRE(argc >= 8, InvalidArgument,
                "usage: --cluster DATA.f64 N UNITS_A UNITS_B K OUT.json [TAU ALPHA SEED]");
    const index_t n = std::stoll(argv[3]), ua = std::stoll(argv[4]), ub = std::stoll(argv[5]);
    ClusteringOptions options;
    options.k = std::stoll(argv[6]);
    if (argc >= 9) options.tau = std::stod(argv[8]);
    if (argc >= 10) options.alpha = std::stod(argv[9]);
    if (argc >= 11) options.seed = std::stoull(argv[10]);
    const std::vector<double> data = read_f64(argv[2], size_t(n * (ua + ub)));
    const std::vector<float> x(data.begin(), data.end());
    auto backend = make_cpu_backend();
    MomentAccumulator acc({ua, ub});
    acc.push(*backend, x.data(), n, ua + ub);
    const auto start = Clock::now();
    const ClusteringResult res = spectral_clustering(*backend, finalize_statistics(acc), 0, 1, options);
    print_timing("spectral_clustering", seconds_since(start), {{"nodes", res.clusters.size()}});
    std::ofstream out(argv[7]);
    out << clustering_to_json(res, "a", "b").dump();
    CVG_REQUIRE(out.good(), Io, std::string("cannot write ") + argv[7]);
    return 0;
}

int run_default() {
    // Random correlated activations of two nets; lasso path + clustering.
    const index_t n = 20000, s = 128;
    std::mt19937 rng(0);
    std::normal_distribution<float> g(0.0f, 1.0f);
    std::vector<float> x(static_cast<size_t>(n * 2 * s));
    for (index_t i = 0; i < n; ++i) {
        float factors[16];
        for (float& f : factors) f = g(rng);
        for (index_t u = 0; u < 2 * s; ++u)
            x[size_t(i * 2 * s + u)] = factors[(u * 7) % 16] * (0.5f + float(u % 5) * 0.1f) + g(rng);
    }
    auto backend = make_backend(BackendKind::Auto);
    auto start = Clock::now();
    MomentAccumulator acc({s, s});
    acc.push(*backend, x.data(), n, 2 * s);
    const LayerStatistics stats = finalize_statistics(acc);
    print_timing("statistics", seconds_since(start), {{"n", n}, {"units", 2 * s}});
    start = Clock::now();
    const SparsePredictionResult sp = sparse_prediction(stats, 0, 1);
    print_timing("lasso_path", seconds_since(start), {{"mean_nonzero", sp.mean_nonzero}, {"mean_loss", sp.mean_loss}});
    start = Clock::now();
    ClusteringOptions opt;
    opt.k = 16;
    const ClusteringResult cl = spectral_clustering(*backend, stats, 0, 1, opt);
    print_timing("spectral_clustering", seconds_since(start),
                 {{"backend", backend->device_description()}, {"nodes", cl.clusters.size()},
                  {"leaves", cl.leaves_by_similarity.size()}, {"k_eigengap", cl.k_eigengap}});
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        if (argc >= 2 && std::string(argv[1]) == "--lasso") return run_lasso(argc, argv);
        if (argc >= 2 && std::string(argv[1]) == "--eigs") return run_eigs(argc, argv);
        if (argc >= 2 && std::string(argv[1]) == "--cluster") return run_cluster(argc, argv);
        if (argc == 1) return run_default();
        std::cerr << "usage: bench_many_to_many [--lasso ... | --eigs ...] (see the source header)\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "bench_many_to_many: " << e.what() << "\n";
        return 1;
    }
}
