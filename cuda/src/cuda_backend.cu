// The CUDA backend: the only nvcc translation unit. Each op lives in its own
// header (kernel -> launcher on ctx.stream -> exported op) and is included
// here, so the slow nvcc front end runs once per build. Assignments and
// eigensolves below the size crossovers of crossovers.hpp run on the host
// (the CPU backend's solvers), where small problems are faster.
#define CVG_PORTABLE_NS cuda_device

#include "cuda_utils.cuh"
#include "portable/moments.cuh"
#include "portable/pack.cuh"

#include "auction.cuh"
#include "crossovers.hpp"
#include "eigensolve.cuh"
#include "minibatch_hsic.cuh"
#include "mutual_information.cuh"

#include <climits>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "convergent/cuda_backend.hpp"
#include "convergent/jonker_volgenant.hpp"

namespace convergent {
namespace cuda_detail {

// comoment = xc^T xc of the centred column-major rows x cols chunk with
// cuBLAS DSYRK in float64; copies it and the mean to the host.
inline void centred_moments_to_host(DeviceContext& ctx, const thrust::device_vector<double>& xc,
                                    const thrust::device_vector<double>& dmean, index_t rows,
                                    index_t cols, double* mean, double* comoment) {
    thrust::device_vector<double> dco(static_cast<size_t>(cols * cols));
    const double one = 1.0, zero = 0.0;
    // xc is rows x cols column-major; C = xc^T xc (cols x cols), lower part.
    CVG_CUBLAS_TRY(cublasDsyrk(ctx.cublas.get(), CUBLAS_FILL_MODE_LOWER, CUBLAS_OP_T, int(cols),
                               int(rows), &one, thrust::raw_pointer_cast(xc.data()), int(rows),
                               &zero, thrust::raw_pointer_cast(dco.data()), int(cols)));
    CVG_CUDA_TRY(cudaMemcpyAsync(mean, thrust::raw_pointer_cast(dmean.data()),
                                 sizeof(double) * cols, cudaMemcpyDeviceToHost, ctx.stream.get()));
    CVG_CUDA_TRY(cudaMemcpyAsync(comoment, thrust::raw_pointer_cast(dco.data()),
                                 sizeof(double) * cols * cols, cudaMemcpyDeviceToHost,
                                 ctx.stream.get()));
    ctx.stream.synchronize();
    // Column-major lower triangle == row-major upper triangle: mirror it.
    for (index_t i = 0; i < cols; ++i)
        for (index_t j = i + 1; j < cols; ++j) comoment[j * cols + i] = comoment[i * cols + j];
}

inline void require_cublas_dimensions(index_t rows, index_t cols, const char* what) {
    CVG_REQUIRE(rows <= INT_MAX && cols <= INT_MAX, InvalidArgument,
                std::string(what) + ": chunk of " + std::to_string(rows) + " x " + std::to_string(cols) +
                    " exceeds cuBLAS's 32-bit dimensions");
}

// Sec. 2 chunk moments: centring in Thrust (shared with the OMP build), the
// centred cross-product with cuBLAS DSYRK in float64.
inline void cuda_chunk_moments(DeviceContext& ctx, const float* x, index_t rows, index_t cols,
                               index_t ld, double* mean, double* comoment) {
    require_cublas_dimensions(rows, cols, "cuda chunk_moments");
    CVG_CUDA_TRY(cudaSetDevice(ctx.ordinal));
    thrust::device_vector<float> dx(x, x + (rows - 1) * ld + cols);
    thrust::device_vector<double> dmean;
    thrust::device_vector<double> xc = cuda_device::centred_chunk(dx, rows, cols, ld, dmean);
    centred_moments_to_host(ctx, xc, dmean, rows, cols, mean, comoment);
}

// Sec. 2 chunk moments of tensors already in this device's memory (issue
// 14): the blocks are read in place by the portable pack (portable/pack.cuh),
// so only the moments and the requested sample rows reach the host.
inline void cuda_device_chunk_moments(DeviceContext& ctx, const DeviceChunkBlock* blocks, int n_blocks,
                                      index_t images, index_t height, index_t width, index_t cols,
                                      double* mean, double* comoment,
                                      const std::vector<index_t>& sample_rows, float* sample_values) {
    const char* what = "cuda device_chunk_moments";
    // Every check before the first kernel: a kernel reading a host or foreign
    // pointer would leave the context unusable for the rest of the process.
    for (int k = 0; k < n_blocks && blocks; ++k) {
        const DeviceChunkBlock& b = blocks[k];
        CVG_REQUIRE(b.device_id == ctx.ordinal, InvalidArgument,
                    std::string(what) + ": block " + std::to_string(k) + " lies on CUDA device " +
                        std::to_string(b.device_id) + " but the backend runs on device " +
                        std::to_string(ctx.ordinal));
    }
    CVG_CUDA_TRY(cudaSetDevice(ctx.ordinal));
    for (int k = 0; k < n_blocks && blocks; ++k) {
        if (!blocks[k].data || blocks[k].units == 0) continue;  // device_chunk_source reports it
        cudaPointerAttributes attributes{};
        CVG_CUDA_TRY(cudaPointerGetAttributes(&attributes, blocks[k].data));
        const bool on_device = attributes.type == cudaMemoryTypeDevice && attributes.device == ctx.ordinal;
        // Pinned host memory is read in place only where the device sees it
        // at the same address (UVA-mapped).
        const bool reachable = on_device || attributes.type == cudaMemoryTypeManaged ||
                               (attributes.type == cudaMemoryTypeHost &&
                                attributes.devicePointer == blocks[k].data);
        CVG_REQUIRE(reachable, InvalidArgument,
                    std::string(what) + ": block " + std::to_string(k) + "'s data is " +
                        (attributes.type == cudaMemoryTypeDevice
                             ? "memory of CUDA device " + std::to_string(attributes.device) +
                                   ", not of the backend's device " + std::to_string(ctx.ordinal)
                             : std::string("not CUDA memory (a host pointer?)")));
    }
    const cuda_device::DeviceChunkSource source = cuda_device::device_chunk_source(
        blocks, n_blocks, images, height, width, cols, mean, comoment, sample_rows, sample_values, what);
    require_cublas_dimensions(source.rows, cols, what);
    thrust::device_vector<double> xc, dmean;
    cuda_device::pack_centred_chunk(source, xc, dmean);
    centred_moments_to_host(ctx, xc, dmean, source.rows, cols, mean, comoment);
    cuda_device::gather_sample_rows(source, sample_rows, sample_values);
}

class CudaBackend final : public Backend {
public:
    // Reads the solver crossovers (crossovers.hpp) from the environment once,
    // before touching the device: a malformed value is an error here.
    explicit CudaBackend(int ordinal)
        : crossovers_(cuda_solver_choice::crossovers_from_environment()), host_(make_cpu_backend()) {
        CVG_CUDA_TRY(cudaSetDevice(ordinal));
        cudaDeviceProp prop{};
        CVG_CUDA_TRY(cudaGetDeviceProperties(&prop, ordinal));
        description_ = std::string("cuda (") + prop.name + ", sm_" + std::to_string(prop.major) +
                       std::to_string(prop.minor) + ", " +
                       std::to_string(prop.totalGlobalMem >> 20) + " MiB; " +
                       cuda_solver_choice::describe_crossovers(crossovers_) + ")";
        ctx_ = std::make_unique<DeviceContext>();
        ctx_->ordinal = ordinal;
    }

    // Where each size-dependent op runs (the rule of crossovers.hpp with
    // this instance's crossovers).
    cuda_solver_choice::SolverPlace assignment_place(index_t rows, index_t cols) const {
        return cuda_solver_choice::choose_assignment_solver(rows, cols, crossovers_.min_assignment_cells);
    }
    cuda_solver_choice::SolverPlace eigensolve_place(index_t n) const {
        return cuda_solver_choice::choose_eigensolve_solver(n, crossovers_.min_eigensolve_n);
    }

    BackendKind kind() const override { return BackendKind::Cuda; }
    std::string device_description() const override { return description_; }

    void chunk_moments(const float* x, index_t rows, index_t cols, index_t ld, double* mean,
                       double* comoment) const override {
        std::lock_guard<std::mutex> lock(mutex_);
        cuda_chunk_moments(*ctx_, x, rows, cols, ld, mean, comoment);
    }
    void device_chunk_moments(const DeviceChunkBlock* blocks, int n_blocks, index_t images,
                              index_t height, index_t width, index_t cols, double* mean,
                              double* comoment, const std::vector<index_t>& sample_rows,
                              float* sample_values) const override {
        std::lock_guard<std::mutex> lock(mutex_);
        cuda_device_chunk_moments(*ctx_, blocks, n_blocks, images, height, width, cols, mean,
                                  comoment, sample_rows, sample_values);
    }
    void mutual_information(const BinCodesView& a, const BinCodesView& b,
                            double* mi) const override {
        std::lock_guard<std::mutex> lock(mutex_);
        cuda_mutual_information(*ctx_, a, b, mi);
    }
    void linear_gram(const float* x, index_t rows, index_t cols, index_t ld, double* gram) const override {
        std::lock_guard<std::mutex> lock(mutex_);
        cuda_linear_gram(*ctx_, x, rows, cols, ld, gram);
    }
    void unbiased_hsic(const double* grams, index_t count, index_t n, double* hsic) const override {
        std::lock_guard<std::mutex> lock(mutex_);
        cuda_unbiased_hsic(*ctx_, grams, count, n, hsic);
    }
    // Below the crossover: the CPU backend's exact JV on the host (no device
    // state, so no lock), its solver name saying where and why.
    Assignment max_weight_assignment(const double* weights, index_t rows, index_t cols,
                                     index_t ld) const override {
        if (assignment_place(rows, cols) == cuda_solver_choice::SolverPlace::Host) {
            Assignment exact = jonker_volgenant_max_weight(weights, rows, cols, ld);
            exact.solver =
                cuda_solver_choice::host_assignment_solver_name(rows, cols, crossovers_.min_assignment_cells);
            return exact;
        }
        std::lock_guard<std::mutex> lock(mutex_);
        return cuda_max_weight_assignment(*ctx_, weights, rows, cols, ld);
    }
    // Below the crossover: the CPU backend's LAPACK dsyevr on the host.
    void symmetric_eigensolve_smallest(const double* matrix, index_t n, index_t k, double* values,
                                       double* vectors) const override {
        if (eigensolve_place(n) == cuda_solver_choice::SolverPlace::Host) {
            host_->symmetric_eigensolve_smallest(matrix, n, k, values, vectors);
            return;
        }
        std::lock_guard<std::mutex> lock(mutex_);
        cuda_symmetric_eigensolve_smallest(*ctx_, matrix, n, k, values, vectors);
    }

private:
    cuda_solver_choice::Crossovers crossovers_;
    std::unique_ptr<Backend> host_;  // the CPU backend: small eigensolves (stateless, thread-safe)
    std::string description_;
    std::unique_ptr<DeviceContext> ctx_;
    // The ops share one stream, cuBLAS/cuSOLVER handle and scratch; the
    // Backend contract lets callers (a shared cvg_context) use one instance
    // from several threads, so the ops take turns.
    mutable std::mutex mutex_;
};

}  // namespace cuda_detail

bool cuda_backend_device_available(std::string* why) {
    int count = 0;
    const cudaError_t status = cudaGetDeviceCount(&count);
    if (status != cudaSuccess) {
        if (why) *why = cudaGetErrorString(status);
        cudaGetLastError();  // clear the sticky error for later calls
        return false;
    }
    if (count == 0) {
        if (why) *why = "no CUDA device is visible";
        return false;
    }
    return true;
}

std::unique_ptr<Backend> make_cuda_backend(int device_ordinal) {
    std::string why;
    if (!cuda_backend_device_available(&why))
        fail(ErrorCode::Unsupported, "backend 'cuda' requested but no usable GPU: " + why);
    return std::make_unique<cuda_detail::CudaBackend>(device_ordinal);
}

namespace {
std::unique_ptr<Backend> make_default_cuda_backend() { return make_cuda_backend(0); }
}  // namespace

void register_cuda_backend() {
    register_backend(BackendKind::Cuda, "cuda", &make_default_cuda_backend, &cuda_backend_device_available);
}

}  // namespace convergent
