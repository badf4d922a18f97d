// GPU benchmark for tools/gpu_check.sh: the CUDA backend's heavy ops against
// the CPU backend measured in the same run on the same input, and the device's
// own cuBLAS figures for the moment update's shape. One JSON line per figure.
//
//   cuda_bench --probe
//       {"cuda_device_available": ..., "why"/"device", "driver", "runtime", ...};
//       exit 0 when the CUDA backend can run, 2 when it cannot.
//   cuda_bench --case statistics|mutual_information|auction|eigensolve|all [options]
//       --quick          small sizes (seconds on a CPU; for trying the program)
//       --no-gpu         CPU figures only (a machine without a device)
//       --stats-shapes R1xC1,R2xC2   chunk shapes (default 16384x1024,16384x4096)
//       --mi-units N --mi-samples S --mi-cpu-units M   (default 4096, 60000, 512:
//                        the CPU reference runs the first M rows and is scaled
//                        by N/M, which is exact in the work done)
//       --auction-n N    (default 4096)
//       --eig-n N1,N2 --eig-cpu-n N --eig-k K   (default 4096,8192; 4096; 100)
//       --repeat R       best of R timed runs after one warm-up (default 3)
//       --cross-assign-n N1,...  (default 64,128,256,512,1024,2048,4096)
//       --cross-eig-n N1,... --cross-eig-k K  (default 128,...,8192; 32)
//       --cross-host-limit S  skip a size whose host solve is predicted (n^3
//                        from the previous size) to take over S s (default 5)
//       --no-crossover   leave the crossover measurement out of auction/eigensolve
//
// The solver crossovers (issue 13 item 4; cuda/src/crossovers.hpp): the CUDA
// backend runs assignments below CONVERGENT_CUDA_MIN_ASSIGNMENT cells and
// eigensolves below CONVERGENT_CUDA_MIN_EIGENSOLVE on the host. --case
// crossover (also part of auction / eigensolve / all) times host JV against
// the device auction, and host LAPACK dsyevr against cuSOLVER syevdx, size by
// size (the device side through a CUDA backend created with both variables
// 0, i.e. always the device), and prints the measured crossovers next to the
// ones in effect ({"case": "crossover_summary", ...}).
//
// Host code only (g++): the device is reached through the Backend interface
// (make_backend(Cuda)) and, for the reference peaks, cuBLAS directly. Built
// only on request (EXCLUDE_FROM_ALL in bench/CMakeLists.txt).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <nlohmann/json.hpp>

#include "convergent/backend.hpp"
#include "convergent/jonker_volgenant.hpp"
#include "convergent/spectral_clustering.hpp"

// The CUDA backend's size rule and its variables (standard library only; not
// on this program's include path).
#include "../cuda/src/crossovers.hpp"

using namespace convergent;
using nlohmann::json;

namespace {

void cuda_check(cudaError_t status, const char* what) {
    if (status != cudaSuccess)
        fail(ErrorCode::Device, std::string("cuda_bench: ") + what + ": " + cudaGetErrorString(status));
}

void cublas_check(cublasStatus_t status, const char* what) {
    if (status != CUBLAS_STATUS_SUCCESS)
        fail(ErrorCode::Device, std::string("cuda_bench: ") + what + ": cuBLAS status " + std::to_string(int(status)));
}

// Move-only device buffer (no bare cudaMalloc/cudaFree pairs).
template <class T>
class DeviceBuffer {
public:
    explicit DeviceBuffer(size_t count) : count_(count) {
        void* p = nullptr;
        cuda_check(cudaMalloc(&p, count * sizeof(T)), "cudaMalloc");
        data_ = static_cast<T*>(p);
    }
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;
    ~DeviceBuffer() {
        if (data_) cudaFree(data_);
    }
    T* get() const { return data_; }
    void upload(const T* host) { cuda_check(cudaMemcpy(data_, host, count_ * sizeof(T), cudaMemcpyHostToDevice), "upload"); }

private:
    T* data_ = nullptr;
    size_t count_ = 0;
};

class CublasHandle {
public:
    CublasHandle() { cublas_check(cublasCreate(&handle_), "cublasCreate"); }
    CublasHandle(const CublasHandle&) = delete;
    CublasHandle& operator=(const CublasHandle&) = delete;
    ~CublasHandle() { cublasDestroy(handle_); }
    cublasHandle_t get() const { return handle_; }

private:
    cublasHandle_t handle_ = nullptr;
};

// splitmix64: fast, seeded, reproducible input generation.
struct SplitMix {
    std::uint64_t state;
    std::uint64_t next() {
        std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    double uniform() { return double(next() >> 11) * 0x1.0p-53; }
    double normal() {  // Box-Muller, one value per call (speed does not matter here)
        const double u = std::max(uniform(), 1e-300), v = uniform();
        return std::sqrt(-2.0 * std::log(u)) * std::cos(6.283185307179586 * v);
    }
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// One warm-up, then the best of `repeat` runs (host wall clock; every op
// timed here returns only when its results are on the host). A warm-up slower
// than 5 s is taken as the figure: repeats would risk gpu_check.sh's step limit.
double best_of(int repeat, bool warm_up, const std::function<void()>& run) {
    if (warm_up) {
        const auto t0 = std::chrono::steady_clock::now();
        run();
        const double first = seconds_since(t0);
        if (first > 5.0) return first;
    }
    double best = 1e300;
    for (int r = 0; r < std::max(1, repeat); ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        run();
        best = std::min(best, seconds_since(t0));
    }
    return best;
}

// Best of `repeat` device runs timed with CUDA events on the default stream.
double device_best_of(int repeat, const std::function<void()>& run) {
    cudaEvent_t start = nullptr, stop = nullptr;
    cuda_check(cudaEventCreate(&start), "cudaEventCreate");
    cuda_check(cudaEventCreate(&stop), "cudaEventCreate");
    run();  // warm-up (cuBLAS kernel selection, clocks)
    cuda_check(cudaDeviceSynchronize(), "warm-up");
    float best_ms = 1e30f;
    for (int r = 0; r < std::max(1, repeat); ++r) {
        cuda_check(cudaEventRecord(start, nullptr), "cudaEventRecord");
        run();
        cuda_check(cudaEventRecord(stop, nullptr), "cudaEventRecord");
        cuda_check(cudaEventSynchronize(stop), "cudaEventSynchronize");
        float ms = 0.0f;
        cuda_check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
        best_ms = std::min(best_ms, ms);
    }
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
    return double(best_ms) * 1e-3;
}

std::vector<index_t> parse_list(const std::string& text) {
    std::vector<index_t> out;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ',')) out.push_back(index_t(std::stoll(item)));
    return out;
}

struct Settings {
    bool quick = false;
    bool gpu = true;
    int repeat = 3;
    std::vector<std::pair<index_t, index_t>> stats_shapes{{16384, 1024}, {16384, 4096}};
    index_t mi_units = 4096, mi_samples = 60000, mi_cpu_units = 512;
    int mi_bins = 21;  // 20 percentile bins + the zero bin (footnote 6)
    index_t auction_n = 4096;
    std::vector<index_t> eig_n{4096, 8192};
    index_t eig_cpu_n = 4096, eig_k = 100;
    bool crossover = true;
    std::vector<index_t> cross_assign_n{64, 128, 256, 512, 1024, 2048, 4096};
    std::vector<index_t> cross_eig_n{128, 256, 512, 1024, 2048, 4096, 8192};
    index_t cross_eig_k = 32;
    double cross_host_limit_s = 5.0;

    void make_quick() {
        quick = true;
        stats_shapes = {{4096, 256}};
        mi_units = 256;
        mi_samples = 8192;
        mi_cpu_units = 64;
        auction_n = 512;
        eig_n = {512};
        eig_cpu_n = 512;
        eig_k = 32;
        cross_assign_n = {64, 128, 256, 512};
        cross_eig_n = {128, 256, 512};
    }
};

json device_json() {
    json j;
    std::string why;
    j["cuda_device_available"] = cuda_device_available(&why);
    int runtime = 0, driver = 0;
    if (cudaRuntimeGetVersion(&runtime) == cudaSuccess) j["cuda_runtime"] = runtime;
    if (cudaDriverGetVersion(&driver) == cudaSuccess) j["cuda_driver_api"] = driver;
    cudaGetLastError();
    if (!j["cuda_device_available"].get<bool>()) {
        j["why"] = why;
        return j;
    }
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess) {
        j["device"] = prop.name;
        j["sm"] = std::to_string(prop.major) + std::to_string(prop.minor);
        j["memory_mib"] = prop.totalGlobalMem >> 20;
        j["multiprocessors"] = prop.multiProcessorCount;
    }
    return j;
}

// ---- Sec. 2 statistics: the moment update ----------------------------------
// FLOPs of one chunk's centred cross-product C = Xc^T Xc (the symmetric half,
// as DSYRK counts it): rows * cols * (cols + 1). SGEMM/DGEMM of the same shape
// compute the full square, 2 * rows * cols^2.
void bench_statistics(const Settings& s, const Backend* cuda, const Backend& cpu) {
    for (const auto& [rows, cols] : s.stats_shapes) {
        std::vector<float> x(static_cast<size_t>(rows * cols));
        SplitMix rng{std::uint64_t(rows * 7919 + cols)};
        // ReLU-like activations with per-unit offsets (means far from zero are
        // why the update centres per chunk).
        for (index_t r = 0; r < rows; ++r)
            for (index_t c = 0; c < cols; ++c)
                x[size_t(r * cols + c)] = float(std::max(0.0, rng.uniform() * 2.0 - 0.8) + 0.01 * double(c % 17));
        const double syrk_flops = double(rows) * double(cols) * double(cols + 1);
        const double gemm_flops = 2.0 * double(rows) * double(cols) * double(cols);
        json j{{"case", "statistics"}, {"rows", rows}, {"cols", cols}, {"flops", syrk_flops}};

        std::vector<double> mean_cpu(static_cast<size_t>(cols)), co_cpu(static_cast<size_t>(cols * cols));
        const bool big = double(rows) * double(cols) * double(cols) > 1e11;
        const double cpu_s = best_of(big ? 1 : s.repeat, !big, [&] {
            cpu.chunk_moments(x.data(), rows, cols, cols, mean_cpu.data(), co_cpu.data());
        });
        j["cpu_backend"] = cpu.device_description();
        j["cpu_seconds"] = cpu_s;
        j["cpu_gflops"] = syrk_flops / cpu_s * 1e-9;

        if (cuda) {
            std::vector<double> mean_gpu(static_cast<size_t>(cols)), co_gpu(static_cast<size_t>(cols * cols));
            const double gpu_s = best_of(s.repeat, true, [&] {
                cuda->chunk_moments(x.data(), rows, cols, cols, mean_gpu.data(), co_gpu.data());
            });
            double scale = 0.0, diff = 0.0;
            for (size_t i = 0; i < co_cpu.size(); ++i) {
                scale = std::max(scale, std::abs(co_cpu[i]));
                diff = std::max(diff, std::abs(co_cpu[i] - co_gpu[i]));
            }
            j["cuda_seconds"] = gpu_s;
            j["cuda_gflops"] = syrk_flops / gpu_s * 1e-9;
            j["max_rel_diff_comoment"] = scale > 0 ? diff / scale : diff;

            // The device's own figures for this shape, on device-resident
            // data (no transfers): what the moment update could reach.
            CublasHandle handle;
            const int n = int(cols), k = int(rows);
            std::vector<double> xd(x.begin(), x.end());
            DeviceBuffer<float> af(x.size());
            DeviceBuffer<float> cf(static_cast<size_t>(cols * cols));
            af.upload(x.data());
            const float onef = 1.0f, zerof = 0.0f;
            const double sgemm_s = device_best_of(s.repeat, [&] {
                cublas_check(cublasSgemm(handle.get(), CUBLAS_OP_T, CUBLAS_OP_N, n, n, k, &onef, af.get(), k,
                                         af.get(), k, &zerof, cf.get(), n),
                             "cublasSgemm");
            });
            j["sgemm_seconds"] = sgemm_s;
            j["sgemm_gflops"] = gemm_flops / sgemm_s * 1e-9;
            DeviceBuffer<double> ad(xd.size());
            DeviceBuffer<double> cd(static_cast<size_t>(cols * cols));
            ad.upload(xd.data());
            const double one = 1.0, zero = 0.0;
            const double dsyrk_s = device_best_of(s.repeat, [&] {
                cublas_check(cublasDsyrk(handle.get(), CUBLAS_FILL_MODE_LOWER, CUBLAS_OP_T, n, k, &one, ad.get(),
                                         k, &zero, cd.get(), n),
                             "cublasDsyrk");
            });
            j["dsyrk_seconds"] = dsyrk_s;
            j["dsyrk_gflops"] = syrk_flops / dsyrk_s * 1e-9;
            const double dgemm_s = device_best_of(s.repeat, [&] {
                cublas_check(cublasDgemm(handle.get(), CUBLAS_OP_T, CUBLAS_OP_N, n, n, k, &one, ad.get(), k,
                                         ad.get(), k, &zero, cd.get(), n),
                             "cublasDgemm");
            });
            j["dgemm_seconds"] = dgemm_s;
            j["dgemm_gflops"] = gemm_flops / dgemm_s * 1e-9;
        }
        std::cout << j.dump() << std::endl;
    }
}

// ---- Sec. 3.2 all-pairs mutual information ----------------------------------
// Synthetic codes shaped like binned ReLU activations: about half the samples
// in the zero bin, the rest spread over the percentile bins; unit u of b
// copies unit u of a on 70% of the samples (so the MI matrix has structure).
void make_codes(index_t units, index_t samples, int bins, std::vector<std::uint8_t>& a,
                std::vector<std::uint8_t>& b) {
    a.resize(size_t(units * samples));
    b.resize(a.size());
    for (index_t u = 0; u < units; ++u) {
        SplitMix rng{std::uint64_t(u + 1)};
        for (index_t s = 0; s < samples; ++s) {
            const std::uint64_t r = rng.next();
            const auto code = [bins](std::uint64_t bits) {
                return std::uint8_t((bits & 1) ? 0 : 1 + (bits >> 1) % std::uint64_t(bins - 1));
            };
            const std::uint8_t ca = code(r);
            a[size_t(u * samples + s)] = ca;
            b[size_t(u * samples + s)] = ((r >> 40) % 10 < 7) ? ca : code(r >> 20);
        }
    }
}

void bench_mutual_information(const Settings& s, const Backend* cuda, const Backend& cpu) {
    std::vector<std::uint8_t> ca, cb;
    const auto t0 = std::chrono::steady_clock::now();
    make_codes(s.mi_units, s.mi_samples, s.mi_bins, ca, cb);
    const double generate_s = seconds_since(t0);
    const BinCodesView a{ca.data(), s.mi_units, s.mi_samples, s.mi_bins};
    const BinCodesView b{cb.data(), s.mi_units, s.mi_samples, s.mi_bins};
    // Unit-major codes: the first m units of a are a contiguous prefix.
    const index_t m = std::min(s.mi_cpu_units, s.mi_units);
    const BinCodesView a_rows{ca.data(), m, s.mi_samples, s.mi_bins};
    json j{{"case", "mutual_information"}, {"units_a", s.mi_units}, {"units_b", s.mi_units},
           {"samples", s.mi_samples},      {"bins", s.mi_bins},     {"generate_seconds", generate_s}};

    std::vector<double> mi_cpu(static_cast<size_t>(m * s.mi_units));
    const double cpu_s = best_of(1, false, [&] { cpu.mutual_information(a_rows, b, mi_cpu.data()); });
    j["cpu_backend"] = cpu.device_description();
    j["cpu_rows"] = m;
    j["cpu_seconds_measured"] = cpu_s;
    j["cpu_seconds"] = cpu_s * double(s.mi_units) / double(m);  // exact: work is linear in rows
    j["cpu_extrapolated"] = m < s.mi_units;

    if (cuda) {
        // Warm-up on a small problem (context, cuBLAS kernel choice), then
        // the full matrix.
        const index_t w = std::min<index_t>(64, s.mi_units);
        std::vector<double> small(static_cast<size_t>(w * w));
        cuda->mutual_information(BinCodesView{ca.data(), w, s.mi_samples, s.mi_bins},
                                 BinCodesView{cb.data(), w, s.mi_samples, s.mi_bins}, small.data());
        std::vector<double> mi_gpu(static_cast<size_t>(s.mi_units * s.mi_units));
        const double gpu_s = best_of(std::min(s.repeat, 2), false, [&] { cuda->mutual_information(a, b, mi_gpu.data()); });
        double diff = 0.0;
        for (size_t i = 0; i < mi_cpu.size(); ++i) diff = std::max(diff, std::abs(mi_cpu[i] - mi_gpu[i]));
        j["cuda_seconds"] = gpu_s;
        j["max_abs_diff_rows_checked"] = diff;
        // The same with every bin a one-hot column (the modes not left out,
        // cuda/src/portable/mutual_information.cuh): what leaving them out gains.
        setenv("CONVERGENT_MI_ONEHOT_MODES", "1", 1);
        std::vector<double> mi_all(mi_gpu.size());
        const double all_bins_s =
            best_of(std::min(s.repeat, 2), false, [&] { cuda->mutual_information(a, b, mi_all.data()); });
        unsetenv("CONVERGENT_MI_ONEHOT_MODES");
        double diff_all = 0.0;
        for (size_t i = 0; i < mi_gpu.size(); ++i) diff_all = std::max(diff_all, std::abs(mi_all[i] - mi_gpu[i]));
        j["cuda_seconds_every_bin"] = all_bins_s;
        j["modes_left_out_speedup"] = all_bins_s / gpu_s;
        j["max_abs_diff_every_bin"] = diff_all;
    }
    std::cout << j.dump() << std::endl;
}

// ---- Sec. 3.1 max-weight assignment -----------------------------------------
// "correlation": bench/matching_reference.py's correlation_like in C++ (two
// synthetic nets as sparse read-outs of n/8 latent factors, 70% of net b's
// units perturbed copies of net a's); the product a b^T runs on cuBLAS when a
// device is there.
std::vector<double> correlation_like(index_t n, SplitMix& rng, const Backend* cuda) {
    const index_t k = std::max<index_t>(8, n / 8);
    std::vector<double> a(static_cast<size_t>(n * k)), b(static_cast<size_t>(n * k));
    for (double& v : a) v = rng.uniform() < 0.3 ? rng.normal() : 0.0;
    for (double& v : b) v = rng.uniform() < 0.3 ? rng.normal() : 0.0;
    std::vector<index_t> perm(static_cast<size_t>(n));
    for (index_t i = 0; i < n; ++i) perm[size_t(i)] = i;
    for (index_t i = n - 1; i > 0; --i) std::swap(perm[size_t(i)], perm[size_t(rng.next() % std::uint64_t(i + 1))]);
    for (index_t i = 0; i < n; ++i)
        if (rng.uniform() < 0.7)
            for (index_t f = 0; f < k; ++f)
                b[size_t(i * k + f)] = a[size_t(perm[size_t(i)] * k + f)] + 0.3 * rng.normal();
    const double noise = 0.5;
    std::vector<double> na(static_cast<size_t>(n)), nb(static_cast<size_t>(n));
    for (index_t i = 0; i < n; ++i) {
        double sa = noise * noise, sb = noise * noise;
        for (index_t f = 0; f < k; ++f) {
            sa += a[size_t(i * k + f)] * a[size_t(i * k + f)];
            sb += b[size_t(i * k + f)] * b[size_t(i * k + f)];
        }
        na[size_t(i)] = std::sqrt(sa);
        nb[size_t(i)] = std::sqrt(sb);
    }
    std::vector<double> w(static_cast<size_t>(n * n));
    if (cuda) {
        // Row-major a (n x k) is column-major a^T (k x n): W^T(col-major) =
        // a b^T (row-major) = (b a^T) in column-major terms.
        CublasHandle handle;
        DeviceBuffer<double> da(a.size()), db(b.size()), dw(w.size());
        da.upload(a.data());
        db.upload(b.data());
        const double one = 1.0, zero = 0.0;
        cublas_check(cublasDgemm(handle.get(), CUBLAS_OP_T, CUBLAS_OP_N, int(n), int(n), int(k), &one, db.get(),
                                 int(k), da.get(), int(k), &zero, dw.get(), int(n)),
                     "cublasDgemm");
        cuda_check(cudaMemcpy(w.data(), dw.get(), w.size() * sizeof(double), cudaMemcpyDeviceToHost), "download");
    } else {
        for (index_t i = 0; i < n; ++i)
            for (index_t j = 0; j < n; ++j) {
                double dot = 0.0;
                for (index_t f = 0; f < k; ++f) dot += a[size_t(i * k + f)] * b[size_t(j * k + f)];
                w[size_t(i * n + j)] = dot;
            }
    }
    for (index_t i = 0; i < n; ++i)
        for (index_t j = 0; j < n; ++j) w[size_t(i * n + j)] /= na[size_t(i)] * nb[size_t(j)];
    return w;
}

void bench_auction(const Settings& s, const Backend* cuda, const Backend& cpu) {
    const index_t n = s.auction_n;
    SplitMix rng{std::uint64_t(n)};
    for (const char* matrix : {"uniform", "correlation"}) {
        std::vector<double> w;
        if (std::strcmp(matrix, "uniform") == 0) {
            w.resize(size_t(n * n));
            for (double& v : w) v = rng.uniform();
        } else {
            w = correlation_like(n, rng, cuda);
        }
        json j{{"case", "auction"}, {"n", n}, {"matrix", matrix}};
        Assignment ref;
        const double cpu_s = best_of(1, false, [&] { ref = cpu.max_weight_assignment(w.data(), n, n, n); });
        j["cpu_backend"] = cpu.device_description();
        j["cpu_solver"] = ref.solver;
        j["cpu_seconds"] = cpu_s;
        j["cpu_primal"] = ref.primal;
        if (cuda) {
            Assignment got;
            const double gpu_s = best_of(s.repeat, true, [&] { got = cuda->max_weight_assignment(w.data(), n, n, n); });
            j["cuda_seconds"] = gpu_s;
            j["cuda_solver"] = got.solver;
            j["cuda_gap"] = got.gap;
            j["rel_primal_diff"] = std::abs(got.primal - ref.primal) / std::max(1.0, std::abs(ref.primal));
        }
        std::cout << j.dump() << std::endl;
    }
}

// ---- Sec. 4.1 eigensolve: the k smallest eigenpairs of a graph Laplacian ------
// The affinity has planted groups (as a thresholded |correlation| graph of
// units in clusters would), so the small end of the spectrum has the
// near-degenerate eigenvalues spectral clustering looks for.
std::vector<double> clustered_laplacian(index_t n) {
    SplitMix rng{std::uint64_t(n) * 31};
    const index_t groups = std::max<index_t>(2, n / 128);
    std::vector<double> w(size_t(n * n), 0.0);
    for (index_t i = 0; i < n; ++i)
        for (index_t j = i + 1; j < n; ++j) {
            const double v = (i % groups == j % groups ? 0.6 : 0.0) + 0.05 * rng.uniform();
            w[size_t(i * n + j)] = w[size_t(j * n + i)] = v;
        }
    return graph_laplacian(w, n);
}

void bench_eigensolve(const Settings& s, const Backend* cuda, const Backend& cpu) {
    std::vector<index_t> sizes = s.eig_n;
    if (std::find(sizes.begin(), sizes.end(), s.eig_cpu_n) == sizes.end()) sizes.insert(sizes.begin(), s.eig_cpu_n);
    for (index_t n : sizes) {
        const bool run_cpu = n == s.eig_cpu_n;
        if (!run_cpu && !cuda) continue;
        const index_t k = std::min(s.eig_k, n);
        const std::vector<double> l = clustered_laplacian(n);
        json j{{"case", "eigensolve"}, {"n", n}, {"k", k}};
        std::vector<double> values_cpu(static_cast<size_t>(k)), vectors_cpu(static_cast<size_t>(n * k));
        if (run_cpu) {
            const double cpu_s = best_of(1, false, [&] {
                cpu.symmetric_eigensolve_smallest(l.data(), n, k, values_cpu.data(), vectors_cpu.data());
            });
            j["cpu_backend"] = cpu.device_description();
            j["cpu_seconds"] = cpu_s;
        }
        if (cuda) {
            std::vector<double> values(static_cast<size_t>(k)), vectors(static_cast<size_t>(n * k));
            const double gpu_s = best_of(std::min(s.repeat, 2), true, [&] {
                cuda->symmetric_eigensolve_smallest(l.data(), n, k, values.data(), vectors.data());
            });
            j["cuda_seconds"] = gpu_s;
            // The backend reads the same variables, once, at creation.
            j["cuda_ran_on"] = cuda_solver_choice::solver_place_name(cuda_solver_choice::choose_eigensolve_solver(
                n, cuda_solver_choice::crossovers_from_environment().min_eigensolve_n));
            if (run_cpu) {
                double diff = 0.0;
                for (index_t i = 0; i < k; ++i) diff = std::max(diff, std::abs(values[size_t(i)] - values_cpu[size_t(i)]));
                j["max_abs_diff_eigenvalues"] = diff;
            }
        }
        std::cout << j.dump() << std::endl;
    }
}

// ---- Solver crossovers (issue 13 item 4): host vs device, size by size -------
// The host side is what the CUDA backend runs below its crossovers (the CPU
// backend's JV and LAPACK); the device side is a CUDA backend created with
// both crossovers 0 (always the device).

// One call first (the device side's warm-up: context, handles, kernels; a
// host call slower than 1 s is taken as the figure), then the best of
// `repeat` runs.
double adaptive_best(int repeat, bool device, const std::function<void()>& run) {
    auto t0 = std::chrono::steady_clock::now();
    run();
    const double first = seconds_since(t0);
    if (first > (device ? 3.0 : 1.0)) return first;
    double best = device ? 1e300 : first;
    for (int r = device ? 0 : 1; r < std::max(1, repeat); ++r) {
        t0 = std::chrono::steady_clock::now();
        run();
        best = std::min(best, seconds_since(t0));
    }
    return best;
}

struct CrossoverPoint {
    index_t n;
    double host_s, device_s;
};

// The smallest measured n from which the device is faster at every larger
// measured n, refined by interpolating log(host / device) linearly in log n
// between the last size where the host won and the first where the device
// did. Writes the bracket and a note; returns 0 when the device never wins
// (the note says so) and the smallest n when it always does.
double measured_crossover(std::vector<CrossoverPoint> points, json& out) {
    std::sort(points.begin(), points.end(), [](const CrossoverPoint& a, const CrossoverPoint& b) { return a.n < b.n; });
    out["sizes_compared"] = points.size();
    if (points.empty()) {
        out["note"] = "no size had both a host and a device time";
        return 0.0;
    }
    size_t first = points.size();  // first index of the device-faster tail
    while (first > 0 && points[first - 1].device_s < points[first - 1].host_s) --first;
    if (first == points.size()) {
        out["note"] = "the host was faster at every size up to n = " + std::to_string(points.back().n);
        out["bracket"] = {points.back().n, nullptr};
        return 0.0;
    }
    if (first == 0) {
        out["note"] = "the device was faster at every size from n = " + std::to_string(points.front().n);
        out["bracket"] = {nullptr, points.front().n};
        return double(points.front().n);
    }
    const CrossoverPoint& lo = points[first - 1];
    const CrossoverPoint& hi = points[first];
    const double x0 = std::log(double(lo.n)), x1 = std::log(double(hi.n));
    const double y0 = std::log(lo.host_s / lo.device_s), y1 = std::log(hi.host_s / hi.device_s);
    out["bracket"] = {lo.n, hi.n};
    out["note"] = "host faster at n = " + std::to_string(lo.n) + ", device faster from n = " + std::to_string(hi.n);
    return y1 > y0 ? std::exp(x0 + (0.0 - y0) * (x1 - x0) / (y1 - y0)) : double(hi.n);
}

void bench_assignment_crossover(const Settings& s, const Backend* device_only, const Backend& cpu) {
    namespace choice = cuda_solver_choice;
    const choice::Crossovers now = choice::crossovers_from_environment();
    json summary{{"case", "crossover_summary"},
                 {"op", "assignment"},
                 {"variable", choice::kMinAssignmentVariable},
                 {"unit", "cells (rows x cols)"},
                 {"default", choice::kDefaultMinAssignmentCells},
                 {"in_effect", now.min_assignment_cells},
                 {"in_effect_from_environment", now.assignment_from_environment}};
    for (const char* matrix : {"correlation", "uniform"}) {
        std::vector<CrossoverPoint> points;
        double last_host_s = 0.0;
        index_t last_n = 0;
        for (index_t n : s.cross_assign_n) {
            json j{{"case", "crossover_assignment"}, {"n", n}, {"matrix", matrix}, {"cells", n * n},
                   {"rule_in_effect", choice::solver_place_name(
                                          choice::choose_assignment_solver(n, n, now.min_assignment_cells))}};
            // JV grows about as n^2.5 on these matrices; n^3 is the cautious guess.
            const double predicted = last_n ? last_host_s * std::pow(double(n) / double(last_n), 3.0) : 0.0;
            if (predicted > s.cross_host_limit_s) {
                j["skipped"] = "host JV predicted " + std::to_string(predicted) + " s > --cross-host-limit";
                std::cout << j.dump() << std::endl;
                continue;
            }
            SplitMix rng{std::uint64_t(n) * 977 + (matrix[0] == 'u' ? 1 : 2)};
            std::vector<double> w;
            if (matrix[0] == 'u') {
                w.resize(size_t(n * n));
                for (double& v : w) v = rng.uniform();
            } else {
                w = correlation_like(n, rng, device_only);
            }
            Assignment host;
            const double host_s = adaptive_best(s.repeat, false, [&] { host = cpu.max_weight_assignment(w.data(), n, n, n); });
            j["host_seconds"] = host_s;
            j["host_solver"] = host.solver;
            last_host_s = host_s;
            last_n = n;
            if (device_only) {
                Assignment dev;
                const double device_s =
                    adaptive_best(s.repeat, true, [&] { dev = device_only->max_weight_assignment(w.data(), n, n, n); });
                j["device_seconds"] = device_s;
                j["device_solver"] = dev.solver;
                j["host_over_device"] = host_s / device_s;
                j["faster"] = device_s < host_s ? "device" : "host";
                j["rel_primal_diff"] = std::abs(dev.primal - host.primal) / std::max(1.0, std::abs(host.primal));
                points.push_back({n, host_s, device_s});
            }
            std::cout << j.dump() << std::endl;
        }
        if (!device_only) continue;
        json m;
        const double n_star = measured_crossover(points, m);
        m["n"] = n_star > 0 ? json(n_star) : json(nullptr);
        m["cells"] = n_star > 0 ? json(std::llround(n_star * n_star)) : json(nullptr);
        summary["measured"][matrix] = m;
    }
    if (device_only) {
        // The pipeline matches correlation matrices (Sec. 3.1): their
        // crossover is the suggestion.
        const json& c = summary["measured"]["correlation"];
        summary["suggested"] = c["cells"];
        summary["suggested_from"] = "correlation";
    }
    std::cout << summary.dump() << std::endl;
}

void bench_eigensolve_crossover(const Settings& s, const Backend* device_only, const Backend& cpu) {
    namespace choice = cuda_solver_choice;
    const choice::Crossovers now = choice::crossovers_from_environment();
    json summary{{"case", "crossover_summary"},
                 {"op", "eigensolve"},
                 {"variable", choice::kMinEigensolveVariable},
                 {"unit", "matrix order n"},
                 {"k", s.cross_eig_k},
                 {"default", choice::kDefaultMinEigensolveN},
                 {"in_effect", now.min_eigensolve_n},
                 {"in_effect_from_environment", now.eigensolve_from_environment}};
    std::vector<CrossoverPoint> points;
    double last_host_s = 0.0;
    index_t last_n = 0;
    for (index_t n : s.cross_eig_n) {
        const index_t k = std::min(s.cross_eig_k, n);
        json j{{"case", "crossover_eigensolve"}, {"n", n}, {"k", k},
               {"rule_in_effect", choice::solver_place_name(choice::choose_eigensolve_solver(n, now.min_eigensolve_n))}};
        // dsytrd's n^3 dominates dsyevr for k << n.
        const double predicted = last_n ? last_host_s * std::pow(double(n) / double(last_n), 3.0) : 0.0;
        if (predicted > s.cross_host_limit_s) {
            j["skipped"] = "host dsyevr predicted " + std::to_string(predicted) + " s > --cross-host-limit";
            std::cout << j.dump() << std::endl;
            continue;
        }
        const std::vector<double> l = clustered_laplacian(n);
        std::vector<double> values_host(static_cast<size_t>(k)), vectors_host(static_cast<size_t>(n * k));
        const double host_s = adaptive_best(s.repeat, false, [&] {
            cpu.symmetric_eigensolve_smallest(l.data(), n, k, values_host.data(), vectors_host.data());
        });
        j["host_seconds"] = host_s;
        last_host_s = host_s;
        last_n = n;
        if (device_only) {
            std::vector<double> values(static_cast<size_t>(k)), vectors(static_cast<size_t>(n * k));
            const double device_s = adaptive_best(s.repeat, true, [&] {
                device_only->symmetric_eigensolve_smallest(l.data(), n, k, values.data(), vectors.data());
            });
            double diff = 0.0;
            for (index_t i = 0; i < k; ++i) diff = std::max(diff, std::abs(values[size_t(i)] - values_host[size_t(i)]));
            j["device_seconds"] = device_s;
            j["host_over_device"] = host_s / device_s;
            j["faster"] = device_s < host_s ? "device" : "host";
            j["max_abs_diff_eigenvalues"] = diff;
            points.push_back({n, host_s, device_s});
        }
        std::cout << j.dump() << std::endl;
    }
    if (device_only) {
        json m;
        const double n_star = measured_crossover(points, m);
        m["n"] = n_star > 0 ? json(n_star) : json(nullptr);
        summary["measured"] = m;
        summary["suggested"] = n_star > 0 ? json(std::llround(std::ceil(n_star))) : json(nullptr);
    }
    std::cout << summary.dump() << std::endl;
}

// A CUDA backend that runs every assignment and eigensolve on the device:
// created with both crossover variables 0 (restored afterwards).
std::unique_ptr<Backend> make_device_only_backend() {
    namespace choice = cuda_solver_choice;
    struct Saved {
        const char* name;
        bool set;
        std::string value;
    };
    std::vector<Saved> saved;
    for (const char* name : {choice::kMinAssignmentVariable, choice::kMinEigensolveVariable}) {
        const char* old = std::getenv(name);
        saved.push_back({name, old != nullptr, old ? old : ""});
        ::setenv(name, "0", 1);
    }
    std::unique_ptr<Backend> backend;
    try {
        backend = make_backend(BackendKind::Cuda);
    } catch (...) {
        for (const Saved& v : saved) v.set ? ::setenv(v.name, v.value.c_str(), 1) : ::unsetenv(v.name);
        throw;
    }
    for (const Saved& v : saved) v.set ? ::setenv(v.name, v.value.c_str(), 1) : ::unsetenv(v.name);
    return backend;
}

int usage() {
    std::cerr << "usage: cuda_bench --probe | --case statistics|mutual_information|auction|eigensolve|crossover|all "
                 "[--quick] [--no-gpu] [--repeat R] [--stats-shapes RxC,...] [--mi-units N] [--mi-samples S] "
                 "[--mi-cpu-units M] [--auction-n N] [--eig-n N,...] [--eig-cpu-n N] [--eig-k K] "
                 "[--cross-assign-n N,...] [--cross-eig-n N,...] [--cross-eig-k K] [--cross-host-limit S] "
                 "[--no-crossover]\n"
                 "(see the comment at the top of bench/cuda_bench.cpp)\n";
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        std::vector<std::string> args(argv + 1, argv + argc);
        if (args.size() == 1 && args[0] == "--probe") {
            const json j = device_json();
            std::cout << j.dump() << std::endl;
            return j["cuda_device_available"].get<bool>() ? 0 : 2;
        }
        Settings s;
        std::string which;
        if (std::find(args.begin(), args.end(), "--quick") != args.end()) s.make_quick();
        for (size_t i = 0; i < args.size(); ++i) {
            const std::string& a = args[i];
            const bool has_value = i + 1 < args.size();
            if (a == "--quick") continue;
            if (a == "--no-gpu") s.gpu = false;
            else if (a == "--case" && has_value) which = args[++i];
            else if (a == "--repeat" && has_value) s.repeat = std::max(1, std::stoi(args[++i]));
            else if (a == "--stats-shapes" && has_value) {
                s.stats_shapes.clear();
                std::stringstream in(args[++i]);
                std::string item;
                while (std::getline(in, item, ',')) {
                    const size_t x = item.find('x');
                    if (x == std::string::npos) return usage();
                    s.stats_shapes.emplace_back(std::stoll(item.substr(0, x)), std::stoll(item.substr(x + 1)));
                }
            } else if (a == "--mi-units" && has_value) s.mi_units = std::stoll(args[++i]);
            else if (a == "--mi-samples" && has_value) s.mi_samples = std::stoll(args[++i]);
            else if (a == "--mi-cpu-units" && has_value) s.mi_cpu_units = std::stoll(args[++i]);
            else if (a == "--auction-n" && has_value) s.auction_n = std::stoll(args[++i]);
            else if (a == "--eig-n" && has_value) s.eig_n = parse_list(args[++i]);
            else if (a == "--eig-cpu-n" && has_value) s.eig_cpu_n = std::stoll(args[++i]);
            else if (a == "--eig-k" && has_value) s.eig_k = std::stoll(args[++i]);
            else if (a == "--cross-assign-n" && has_value) s.cross_assign_n = parse_list(args[++i]);
            else if (a == "--cross-eig-n" && has_value) s.cross_eig_n = parse_list(args[++i]);
            else if (a == "--cross-eig-k" && has_value) s.cross_eig_k = std::stoll(args[++i]);
            else if (a == "--cross-host-limit" && has_value) s.cross_host_limit_s = std::stod(args[++i]);
            else if (a == "--no-crossover") s.crossover = false;
            else return usage();
        }
        const bool all = which == "all";
        if (!all && which != "statistics" && which != "mutual_information" && which != "auction" &&
            which != "eigensolve" && which != "crossover")
            return usage();
        const bool crossover_only = which == "crossover";

        const std::unique_ptr<Backend> cpu = make_backend(BackendKind::Cpu);
        // An explicit cuda backend: throws (never falls back) without a device.
        const std::unique_ptr<Backend> cuda = s.gpu ? make_backend(BackendKind::Cuda) : nullptr;
        json device = device_json();
        device["case"] = "device";
        device["cuda_backend"] = cuda ? cuda->device_description() : "not run (--no-gpu)";
        device["cpu_backend"] = cpu->device_description();
        device["quick"] = s.quick;
        {
            const cuda_solver_choice::Crossovers c = cuda_solver_choice::crossovers_from_environment();
            device["crossovers"] = cuda_solver_choice::describe_crossovers(c);
            device["min_assignment_cells"] = c.min_assignment_cells;
            device["min_eigensolve_n"] = c.min_eigensolve_n;
        }
        std::cout << device.dump() << std::endl;
        const bool cross = crossover_only || s.crossover;
        const std::unique_ptr<Backend> device_only =
            cuda && cross && (all || crossover_only || which == "auction" || which == "eigensolve")
                ? make_device_only_backend()
                : nullptr;
        if (all || which == "statistics") bench_statistics(s, cuda.get(), *cpu);
        if (all || which == "mutual_information") bench_mutual_information(s, cuda.get(), *cpu);
        if (all || which == "auction") bench_auction(s, cuda.get(), *cpu);
        if (cross && (all || crossover_only || which == "auction"))
            bench_assignment_crossover(s, device_only.get(), *cpu);
        if (all || which == "eigensolve") bench_eigensolve(s, cuda.get(), *cpu);
        if (cross && (all || crossover_only || which == "eigensolve"))
            bench_eigensolve_crossover(s, device_only.get(), *cpu);
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "cuda_bench: " << e.what() << "\n";
        return 1;
    }
}
