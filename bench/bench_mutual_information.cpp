// Sec. 3.2 all-pairs mutual information: timings and a raw-binary driver for
// the Python oracles (tests/python/test_mutual_information_sklearn.py,
// bench/mutual_information_reference.py). Raw files, little endian, no header.
//
//   bench_mutual_information [--backend cpu|cuda|auto] [--units N]
//       synthetic timings (ReLU-like activations, 60,000 samples, 256 and 1024
//       units per net, or N), one JSON line per size.
//   bench_mutual_information --compute VALUES.f32 SAMPLES UNITS OUT_PREFIX [BINS]
//       VALUES: SAMPLES x UNITS float32 row-major. Bins them (footnote 6 rule,
//       BINS percentile bins, default 20) and writes
//         OUT_PREFIX.codes.u8  UNITS x SAMPLES uint8 (unit-major)
//         OUT_PREFIX.edges.f64 UNITS x (BINS-1) float64 (NaN rows: no positive value)
//         OUT_PREFIX.mi.f64    UNITS x UNITS float64, the within-net MI (nats)
//   bench_mutual_information --mi A.u8 B.u8 SAMPLES UNITS_A UNITS_B BINS OUT.f64 [REPEAT]
//       MI between unit-major codes (BINS = total codes); B == A (same path)
//       takes the within-net path. Prints {"seconds": best of REPEAT, ...}.
//   bench_mutual_information --counts A.u8 B.u8 SAMPLES UNITS_A UNITS_B BINS OUT.i32
//       exact joint counts (UNITS_A x UNITS_B x BINS x BINS int32).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "convergent/backend.hpp"
#include "convergent/mutual_information.hpp"

using namespace convergent;

namespace {

template <class T>
std::vector<T> read_raw(const std::string& path, size_t count) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(ErrorCode::Io, "cannot open " + path);
    std::vector<T> data(count);
    in.read(reinterpret_cast<char*>(data.data()), std::streamsize(count * sizeof(T)));
    if (size_t(in.gcount()) != count * sizeof(T))
        fail(ErrorCode::Io, path + ": expected " + std::to_string(count * sizeof(T)) + " bytes");
    return data;
}

template <class T>
void write_raw(const std::string& path, const T* data, size_t count) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(data), std::streamsize(count * sizeof(T)));
    if (!out) fail(ErrorCode::Io, "cannot write " + path);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

index_t to_index(const char* text) { return index_t(std::strtoll(text, nullptr, 10)); }

int compute(int argc, char** argv, const Backend& backend) {
    if (argc < 6) throw Error(ErrorCode::InvalidArgument, "--compute VALUES.f32 SAMPLES UNITS OUT_PREFIX [BINS]");
    const std::string values_path = argv[2];
    const index_t samples = to_index(argv[3]), units = to_index(argv[4]);
    const std::string prefix = argv[5];
    BinningOptions options;
    if (argc > 6) options.bins = int(to_index(argv[6]));
    const auto values = read_raw<float>(values_path, size_t(samples * units));
    const BinnedUnits net = bin_units(values.data(), samples, units, units, options);
    write_raw(prefix + ".codes.u8", net.codes.data(), net.codes.size());
    std::vector<double> edges(size_t(units * (options.bins - 1)), std::numeric_limits<double>::quiet_NaN());
    for (index_t u = 0; u < units; ++u)
        for (size_t k = 0; k < net.edges[size_t(u)].size(); ++k)
            edges[size_t(u) * size_t(options.bins - 1) + k] = net.edges[size_t(u)][k];
    write_raw(prefix + ".edges.f64", edges.data(), edges.size());
    const std::vector<double> mi = mutual_information_matrix(backend, net, net);
    write_raw(prefix + ".mi.f64", mi.data(), mi.size());
    return 0;
}

int mi_or_counts(int argc, char** argv, const Backend& backend, bool counts_only) {
    if (argc < 9)
        throw Error(ErrorCode::InvalidArgument,
                    std::string(argv[1]) + " A.u8 B.u8 SAMPLES UNITS_A UNITS_B BINS OUT [REPEAT]");
    const std::string path_a = argv[2], path_b = argv[3];
    const index_t samples = to_index(argv[4]), ua = to_index(argv[5]), ub = to_index(argv[6]);
    const int bins = int(to_index(argv[7]));
    const std::string out = argv[8];
    const int repeat = argc > 9 ? int(to_index(argv[9])) : 1;
    const auto ca = read_raw<std::uint8_t>(path_a, size_t(ua * samples));
    const bool same = path_a == path_b;
    const auto cb = same ? std::vector<std::uint8_t>() : read_raw<std::uint8_t>(path_b, size_t(ub * samples));
    const BinCodesView a{ca.data(), ua, samples, bins};
    const BinCodesView b = same ? a : BinCodesView{cb.data(), ub, samples, bins};
    if (counts_only) {
        const auto counts = joint_histogram_counts(a, 0, ua, b, 0, ub);
        write_raw(out, counts.data(), counts.size());
        return 0;
    }
    std::vector<double> mi(size_t(ua * ub));
    double best = std::numeric_limits<double>::infinity();
    for (int r = 0; r < std::max(1, repeat); ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        backend.mutual_information(a, b, mi.data());
        best = std::min(best, seconds_since(t0));
    }
    write_raw(out, mi.data(), mi.size());
    std::cout << "{\"op\": \"mutual_information\", \"backend\": \"" << backend.device_description()
              << "\", \"units_a\": " << ua << ", \"units_b\": " << ub << ", \"samples\": " << samples
              << ", \"bins\": " << bins << ", \"seconds\": " << best << "}" << std::endl;
    return 0;
}

int synthetic(const Backend& backend, const std::vector<index_t>& sizes) {
    const index_t samples = 60000;
    for (index_t units : sizes) {
        // ReLU-like activations: half the mass at zero, correlated pairs.
        std::mt19937_64 rng(units);
        std::normal_distribution<float> g;
        std::vector<float> va(size_t(samples * units)), vb(va.size());
        for (size_t i = 0; i < va.size(); ++i) {
            const float z = g(rng);
            va[i] = std::max(0.0f, z);
            vb[i] = std::max(0.0f, 0.7f * z + 0.7f * g(rng));
        }
        auto t0 = std::chrono::steady_clock::now();
        const BinnedUnits a = bin_units(va.data(), samples, units, units, BinningOptions{});
        const BinnedUnits b = bin_units(vb.data(), samples, units, units, BinningOptions{});
        const double bin_seconds = seconds_since(t0) / 2;
        t0 = std::chrono::steady_clock::now();
        const std::vector<double> between = mutual_information_matrix(backend, a, b);
        const double between_seconds = seconds_since(t0);
        t0 = std::chrono::steady_clock::now();
        const std::vector<double> within = mutual_information_matrix(backend, a, a);
        const double within_seconds = seconds_since(t0);
        std::cout << "{\"op\": \"mutual_information\", \"backend\": \"" << backend.device_description()
                  << "\", \"units\": " << units << ", \"samples\": " << samples
                  << ", \"bins\": " << a.bins << ", \"bin_units_seconds_per_net\": " << bin_seconds
                  << ", \"between_net_seconds\": " << between_seconds
                  << ", \"within_net_seconds\": " << within_seconds
                  << ", \"mi_diag0\": " << between[0] << "}" << std::endl;
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        BackendKind kind = BackendKind::Cpu;
        std::vector<char*> args(argv, argv + argc);
        for (size_t i = 1; i + 1 < args.size(); ++i)
            if (std::strcmp(args[i], "--backend") == 0) {
                kind = parse_backend_kind(args[i + 1]);
                args.erase(args.begin() + long(i), args.begin() + long(i) + 2);
                break;
            }
        const int n = int(args.size());
        const std::unique_ptr<Backend> backend = make_backend(kind);
        if (n >= 2 && std::strcmp(args[1], "--compute") == 0) return compute(n, args.data(), *backend);
        if (n >= 2 && std::strcmp(args[1], "--mi") == 0) return mi_or_counts(n, args.data(), *backend, false);
        if (n >= 2 && std::strcmp(args[1], "--counts") == 0)
            return mi_or_counts(n, args.data(), *backend, true);
        if (n >= 3 && std::strcmp(args[1], "--units") == 0) return synthetic(*backend, {to_index(args[2])});
        if (n >= 2) {
            std::cerr << "unknown mode " << args[1] << " (see the comment at the top of bench_mutual_information.cpp)\n";
            return 2;
        }
        return synthetic(*backend, {256, 1024});
    } catch (const std::exception& e) {
        std::cerr << "bench_mutual_information: " << e.what() << "\n";
        return 1;
    }
}
