// Per-unit top-k inputs (Figs. 2, 4-7, 12) against the statistics pass they
// ride on: the same float32 data through MomentAccumulator::push (the
// backend's chunk moments: one SYRK per chunk, all cores) and through
// TopKAccumulator::add in the pass's 512 KiB pieces (serial, as in the
// pass, where it runs between the SYRK calls). Best of --repeat runs,
// alternated, wall-clock; prints one JSON line per case with the ratio
// (statistics + top-k) / statistics, i.e. what top-k adds to the pass.
//
//   bench_topk [--repeat 7] [--k 9]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "convergent/backend.hpp"
#include "convergent/statistics.hpp"
#include "convergent/topk.hpp"

using namespace convergent;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

struct Case {
    const char* name;
    index_t images, positions, units_per_net;
};

}  // namespace

int main(int argc, char** argv) {
    int repeat = 7;
    index_t k = 9;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--repeat") && i + 1 < argc) repeat = std::atoi(argv[++i]);
        else if (!std::strcmp(argv[i], "--k") && i + 1 < argc) k = std::atoll(argv[++i]);
        else {
            std::fprintf(stderr, "usage: bench_topk [--repeat R] [--k K]\n");
            return 2;
        }
    }
    const std::unique_ptr<Backend> backend = make_backend(BackendKind::Cpu);
    // The statistics bench's shapes: two nets side by side.
    const Case cases[] = {{"dense 60000 x (256 + 256)", 60000, 1, 256},
                          {"conv 32 x 256 positions x (64 + 64)", 32, 256, 64},
                          {"conv 1024 x 64 positions x (64 + 64)", 1024, 64, 64}};
    for (const Case& c : cases) {
        const index_t units = 2 * c.units_per_net, rows = c.images * c.positions;
        std::vector<float> x(size_t(rows * units));
        std::mt19937 rng(0);
        std::normal_distribution<float> normal;
        for (float& v : x) v = std::max(0.0f, normal(rng));  // ReLU-like
        const index_t chunk_rows = std::min<index_t>(rows, 8192 / c.positions * c.positions);
        const index_t piece_images = std::max<index_t>(1, (index_t(1) << 17) / (c.positions * units));
        double best_stats = 1e300, best_topk = 1e300;
        for (int r = 0; r < repeat; ++r) {
            MomentAccumulator acc({c.units_per_net, c.units_per_net});
            auto t0 = std::chrono::steady_clock::now();
            for (index_t row = 0; row < rows; row += chunk_rows)
                acc.push(*backend, x.data() + row * units, std::min(chunk_rows, rows - row), units);
            best_stats = std::min(best_stats, seconds_since(t0));

            TopKAccumulator top(units, k, c.positions);
            t0 = std::chrono::steady_clock::now();
            for (index_t image = 0; image < c.images; image += piece_images)
                top.add(x.data() + image * c.positions * units, image, std::min(piece_images, c.images - image), units,
                        0, units);
            best_topk = std::min(best_topk, seconds_since(t0));
        }
        std::printf("{\"case\": \"%s\", \"k\": %lld, \"statistics_s\": %.6f, \"topk_s\": %.6f, "
                    "\"topk_ns_per_value\": %.3f, \"ratio\": %.4f}\n",
                    c.name, static_cast<long long>(k), best_stats, best_topk,
                    best_topk / double(rows * units) * 1e9, (best_stats + best_topk) / best_stats);
    }
    return 0;
}
