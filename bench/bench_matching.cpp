// Sec. 3.1 max-weight matching benchmark and solve driver.
//
//   bench_matching
//       times the Jonker-Volgenant solver on seeded random matrices and
//       prints one JSON line per size.
//   bench_matching --solve ROWS COLS IN.bin OUT.bin [--solver jv|auction-omp|cuda] [--repeat K]
//       reads a ROWS x COLS row-major float64 little-endian matrix (raw, no
//       header), maximises the total weight, writes the column of every row
//       (int64 little-endian, -1 = unmatched) and prints one JSON line with
//       the best solve time over K runs (excluding I/O) and the certificate.
//       Used by tests/python/test_matching_scipy.py and bench/matching_reference.py.
//
// The OMP instantiation of the GPU auction is available when the program is
// linked with convergent_thrust_omp and CONVERGENT_BENCH_THRUST_OMP is defined.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "convergent/backend.hpp"
#include "convergent/jonker_volgenant.hpp"
#ifdef CONVERGENT_BENCH_THRUST_OMP
#include "thrust_omp_auction.hpp"
#endif

using namespace convergent;

namespace {

Assignment run_solver(const std::string& solver, const std::vector<double>& w, index_t rows,
                      index_t cols) {
    if (solver == "jv") return jonker_volgenant_max_weight(w.data(), rows, cols, cols);
#ifdef CONVERGENT_BENCH_THRUST_OMP
    if (solver == "auction-omp") return thrust_omp::auction_max_weight(w.data(), rows, cols, cols);
#endif
    if (solver == "cuda") {
        // The CUDA backend's certified auction (errors when no GPU is usable).
        static const std::unique_ptr<Backend> cuda = make_backend(BackendKind::Cuda);
        return cuda->max_weight_assignment(w.data(), rows, cols, cols);
    }
    fail(ErrorCode::Unsupported, "bench_matching: solver '" + solver + "' is not available in this build");
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

nlohmann::json timed(const std::string& solver, const std::vector<double>& w, index_t rows,
                     index_t cols, int repeat, Assignment& out) {
    double best = 1e300;
    for (int r = 0; r < repeat; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        out = run_solver(solver, w, rows, cols);
        best = std::min(best, seconds_since(t0));
    }
    return {{"solver", out.solver}, {"requested", solver}, {"rows", rows}, {"cols", cols},
            {"seconds", best},      {"primal", out.primal}, {"dual_bound", out.dual_bound},
            {"gap", out.gap}};
}

int solve_mode(int argc, char** argv) {
    if (argc < 6) {
        std::cerr << "usage: bench_matching --solve ROWS COLS IN.bin OUT.bin [--solver jv|auction-omp|cuda] [--repeat K]\n";
        return 2;
    }
    const index_t rows = std::atoll(argv[2]), cols = std::atoll(argv[3]);
    const std::string in = argv[4], out = argv[5];
    std::string solver = "jv";
    int repeat = 1;
    for (int a = 6; a + 1 < argc; a += 2) {
        if (std::strcmp(argv[a], "--solver") == 0) solver = argv[a + 1];
        else if (std::strcmp(argv[a], "--repeat") == 0) repeat = std::max(1, std::atoi(argv[a + 1]));
        else {
            std::cerr << "bench_matching: unknown option " << argv[a] << "\n";
            return 2;
        }
    }
    if (rows < 0 || cols < 0) {
        std::cerr << "bench_matching: bad size\n";
        return 2;
    }
    std::vector<double> w(size_t(rows * cols));
    {
        std::ifstream f(in, std::ios::binary);
        f.read(reinterpret_cast<char*>(w.data()), std::streamsize(w.size() * sizeof(double)));
        if (!f || f.gcount() != std::streamsize(w.size() * sizeof(double))) {
            std::cerr << "bench_matching: " << in << ": expected " << w.size() * sizeof(double)
                      << " bytes of float64\n";
            return 1;
        }
    }
    Assignment a;
    const nlohmann::json j = timed(solver, w, rows, cols, repeat, a);
    {
        std::vector<std::int64_t> col(a.column.begin(), a.column.end());
        std::ofstream f(out, std::ios::binary);
        f.write(reinterpret_cast<const char*>(col.data()), std::streamsize(col.size() * sizeof(std::int64_t)));
        if (!f) {
            std::cerr << "bench_matching: cannot write " << out << "\n";
            return 1;
        }
    }
    std::cout << j.dump() << std::endl;
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        if (argc > 1 && std::strcmp(argv[1], "--solve") == 0) return solve_mode(argc, argv);
        std::mt19937_64 rng(0);
        std::uniform_real_distribution<double> u(0.0, 1.0);
        for (index_t n : {256, 1024, 2048}) {
            std::vector<double> w(size_t(n * n));
            for (double& x : w) x = u(rng);
            Assignment a;
            nlohmann::json j = timed("jv", w, n, n, 3, a);
            j["matrix"] = "uniform";
            std::cout << j.dump() << std::endl;
        }
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "bench_matching: " << e.what() << "\n";
        return 1;
    }
}
