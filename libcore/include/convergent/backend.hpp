// The one C++ interface for the heavy kernels (ggml-backend / FAISS CPU-GPU
// split). Algorithms above it are written once; the CPU backend (Eigen,
// libcore/src) and the CUDA backend (cuda/) implement it.
//
// This header must stay free of Eigen and CUDA types: it is included by the
// .cu translation unit and by the C ABI.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "convergent/error.hpp"
#include "convergent/npy_format.hpp"  // NpyDtype (standard library only)

namespace convergent {

enum class BackendKind { Auto, Cpu, Cuda };

// "auto" | "cpu" | "cuda"; anything else throws InvalidArgument.
BackendKind parse_backend_kind(std::string_view text);
const char* backend_kind_name(BackendKind kind);

// Discretised activations for histogram mutual information (Sec. 3.2,
// footnote 6). Unit-major: codes[u * samples + s] is the bin of sample s of
// unit u, in [0, bins).
struct BinCodesView {
    const std::uint8_t* codes = nullptr;
    index_t units = 0;
    index_t samples = 0;
    int bins = 0;
};

// One net's piece of a chunk held in device memory (e.g. a CUDA tensor
// pushed through DLPack), read in place by a device backend. Sample r =
// image * (height * width) + y * width + x of unit c is the element at
//   data + image * image_stride + c * unit_stride + y * y_stride + x * x_stride
// (strides in elements: NCHW and NHWC tensors, dense (N, C) layers with
// height = width = 1, any strides). The chunk's columns
// [column, column + units) belong to this block.
struct DeviceChunkBlock {
    const void* data = nullptr;
    NpyDtype dtype = NpyDtype::Float32;
    int device_id = 0;
    index_t units = 0;
    index_t column = 0;
    index_t image_stride = 0, unit_stride = 1, y_stride = 0, x_stride = 0;
};

// A one-to-one assignment with its optimality certificate. For rows > cols
// some rows stay unmatched (column -1). primal = sum of matched weights;
// dual_bound >= optimum; gap = dual_bound - primal (0 for an exact solver).
struct Assignment {
    std::vector<index_t> column;
    double primal = 0.0;
    double dual_bound = 0.0;
    double gap = 0.0;
    std::string solver;  // "jonker-volgenant", "auction", "auction+jonker-volgenant"
};

// Every op is const and may be called concurrently on one instance from
// several threads: the CPU backend is stateless, the CUDA backend serialises
// its ops on its stream. Callers may therefore share one instance (the C
// API's cvg_context does).
class Backend {
public:
    virtual ~Backend() = default;

    virtual BackendKind kind() const = 0;
    // Human-readable description of what runs, e.g. "cpu (Eigen 3.4, OpenBLAS, 2 threads)".
    virtual std::string device_description() const = 0;

    // Sec. 2 statistics, one chunk. x is rows x cols, row-major float with
    // leading dimension ld >= cols. Writes mean[cols] (chunk mean) and
    // comoment[cols * cols] (row-major, full symmetric):
    //   comoment = sum_r (x_r - mean)(x_r - mean)^T, accumulated in double.
    // Centring per chunk keeps the sums well conditioned; chunks are merged
    // in float64 by MomentAccumulator (Chan et al.).
    virtual void chunk_moments(const float* x, index_t rows, index_t cols, index_t ld,
                               double* mean, double* comoment) const = 0;

    // Sec. 3.2: plug-in mutual information (nats) between every unit of a and
    // every unit of b, from exact joint-histogram counts. mi is a.units x
    // b.units row-major. a.samples == b.samples and a.bins == b.bins.
    virtual void mutual_information(const BinCodesView& a, const BinCodesView& b,
                                    double* mi) const = 0;

    // Sec. 3.1: maximum-weight one-to-one assignment of a rows x cols weight
    // matrix (row-major, leading dimension ld). Never silently suboptimal:
    // a backend that uses an approximate solver must certify or fall back.
    virtual Assignment max_weight_assignment(const double* weights, index_t rows, index_t cols,
                                             index_t ld) const = 0;

    // Sec. 4.1: the k smallest eigenpairs of a symmetric n x n matrix
    // (row-major). values[k] ascending; vectors is n x k column-major
    // (column j belongs to values[j]).
    virtual void symmetric_eigensolve_smallest(const double* matrix, index_t n, index_t k,
                                               double* values, double* vectors) const = 0;

    // Cross-layer CKA maps (Nguyen, Raghu & Kornblith 2021, minibatch
    // CKA), step 1: the linear Gram K = X X^T (rows x rows, row-major, full
    // symmetric) of one layer's minibatch features x (rows x cols row-major
    // float, leading dimension ld >= cols; one row per image, its conv map
    // flattened), converted to and accumulated in float64.
    virtual void linear_gram(const float* x, index_t rows, index_t cols, index_t ld, double* gram) const = 0;

    // Step 2: the unbiased HSIC_1 estimator (Song et al. 2012) between every
    // pair of `count` n x n Grams (grams: count consecutive row-major
    // symmetric n x n matrices, n >= 4). With K~ = K with a zero diagonal,
    //   HSIC_1(K, L) = [tr(K~ L~) + (1'K~1)(1'L~1) / ((n-1)(n-2))
    //                   - 2/(n-2) 1'K~L~1] / (n(n-3)).
    // hsic is count x count, row-major, symmetric.
    virtual void unbiased_hsic(const double* grams, index_t count, index_t n, double* hsic) const = 0;

    // Sec. 2 statistics of one chunk whose pieces lie in device memory:
    // images x (height * width) samples (rows) of cols = sum of the blocks'
    // units columns (the blocks cover every column exactly once). Writes
    // mean[cols] and comoment[cols * cols] on the host like chunk_moments,
    // and, when sample_rows is non-empty (sorted chunk-local rows), copies
    // those rows (all columns, float32) to sample_values (row-major, ld
    // cols). Reads the tensors in place: no host copy of the chunk. The
    // default throws Unsupported (host-only backends).
    virtual void device_chunk_moments(const DeviceChunkBlock* blocks, int n_blocks, index_t images,
                                      index_t height, index_t width, index_t cols, double* mean,
                                      double* comoment, const std::vector<index_t>& sample_rows,
                                      float* sample_values) const;
};

// ---- Backend registry (ggml-backend style) ---------------------------------
// libcore knows only the interface and its own CPU backend, which is always
// registered. Other backends live in their own libraries and register
// themselves through register_backend(); the build graph points from those
// libraries to libcore, never back. In this repository the registration call
// is made by convergent_backends (backends/), which the C API library, the CLI,
// the tests and the benches link: see register_builtin_backends().

// Creates a backend instance; throws (Unsupported, Device) when it cannot.
using BackendFactory = std::unique_ptr<Backend> (*)();
// Whether the backend can run on this machine now; when it cannot, *why (if
// non-null) receives the reason, e.g. "no CUDA device is visible".
using BackendProbe = bool (*)(std::string* why);

// Registers (or replaces) the backend serving `kind` (Cpu or Cuda; Auto is
// not a backend and throws InvalidArgument, as do a null factory or probe).
// `name` must outlive the process (a string literal). Thread-safe; calling it
// again with the same arguments is harmless.
void register_backend(BackendKind kind, const char* name, BackendFactory factory, BackendProbe probe);
// Whether a backend for `kind` is registered (i.e. compiled into this program).
bool backend_registered(BackendKind kind);
// Whether make_backend(kind) would succeed now: registered and its probe
// passes. For Cpu always true; for Auto always true (it falls back to CPU).
// *why (if non-null) receives the reason when not.
bool backend_available(BackendKind kind, std::string* why);

// Builds the requested backend. Auto = CUDA when registered and a device is
// present, else CPU. An explicit Cuda request that cannot be met throws
// Unsupported (never a silent fallback); the message says why: the program
// has no CUDA backend, or it has one and no usable device.
std::unique_ptr<Backend> make_backend(BackendKind requested);

// Whether this program contains (has registered) the CUDA backend.
bool cuda_compiled_in();
// Whether a CUDA device is usable now; *why receives the reason when not.
bool cuda_device_available(std::string* why);

std::unique_ptr<Backend> make_cpu_backend();

}  // namespace convergent
