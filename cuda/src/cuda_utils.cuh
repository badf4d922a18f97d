// Error checking and RAII for the CUDA backend (ggml-cuda style: kernel ->
// launcher taking a stream -> one exported op). Every failing call throws
// convergent::Error(Device) with the call text and the driver's message.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cusolverDn.h>

#include <string>

#include "convergent/error.hpp"

namespace convergent {
namespace cuda_detail {

inline void throw_cuda(cudaError_t status, const char* what, const char* file, int line) {
    fail(ErrorCode::Device, std::string("CUDA error in ") + what + " (" + file + ":" +
                                std::to_string(line) + "): " + cudaGetErrorString(status));
}
inline void throw_cublas(cublasStatus_t status, const char* what, const char* file, int line) {
    fail(ErrorCode::Device, std::string("cuBLAS error ") + std::to_string(int(status)) + " in " +
                                what + " (" + file + ":" + std::to_string(line) + ")");
}
inline void throw_cusolver(cusolverStatus_t status, const char* what, const char* file, int line) {
    fail(ErrorCode::Device, std::string("cuSOLVER error ") + std::to_string(int(status)) + " in " +
                                what + " (" + file + ":" + std::to_string(line) + ")");
}

}  // namespace cuda_detail
}  // namespace convergent

#define CVG_CUDA_TRY(call)                                                                  \
    do {                                                                                    \
        cudaError_t cvg_status_ = (call);                                                   \
        if (cvg_status_ != cudaSuccess)                                                     \
            ::convergent::cuda_detail::throw_cuda(cvg_status_, #call, __FILE__, __LINE__);  \
    } while (0)

#define CVG_CUBLAS_TRY(call)                                                                  \
    do {                                                                                      \
        cublasStatus_t cvg_status_ = (call);                                                  \
        if (cvg_status_ != CUBLAS_STATUS_SUCCESS)                                             \
            ::convergent::cuda_detail::throw_cublas(cvg_status_, #call, __FILE__, __LINE__);  \
    } while (0)

#define CVG_CUSOLVER_TRY(call)                                                                  \
    do {                                                                                        \
        cusolverStatus_t cvg_status_ = (call);                                                  \
        if (cvg_status_ != CUSOLVER_STATUS_SUCCESS)                                             \
            ::convergent::cuda_detail::throw_cusolver(cvg_status_, #call, __FILE__, __LINE__);  \
    } while (0)

namespace convergent {
namespace cuda_detail {

// Move-only owner of a cuBLAS handle bound to one stream.
class CublasHandle {
public:
    explicit CublasHandle(cudaStream_t stream) {
        CVG_CUBLAS_TRY(cublasCreate(&handle_));
        CVG_CUBLAS_TRY(cublasSetStream(handle_, stream));
    }
    ~CublasHandle() {
        if (handle_) cublasDestroy(handle_);
    }
    CublasHandle(const CublasHandle&) = delete;
    CublasHandle& operator=(const CublasHandle&) = delete;
    CublasHandle(CublasHandle&& o) noexcept : handle_(o.handle_) { o.handle_ = nullptr; }
    cublasHandle_t get() const { return handle_; }

private:
    cublasHandle_t handle_ = nullptr;
};

class CusolverHandle {
public:
    explicit CusolverHandle(cudaStream_t stream) {
        CVG_CUSOLVER_TRY(cusolverDnCreate(&handle_));
        CVG_CUSOLVER_TRY(cusolverDnSetStream(handle_, stream));
    }
    ~CusolverHandle() {
        if (handle_) cusolverDnDestroy(handle_);
    }
    CusolverHandle(const CusolverHandle&) = delete;
    CusolverHandle& operator=(const CusolverHandle&) = delete;
    cusolverDnHandle_t get() const { return handle_; }

private:
    cusolverDnHandle_t handle_ = nullptr;
};

// A *blocking* stream: it synchronises implicitly with the legacy default
// stream, where the portable Thrust code (device_vector fills, transforms)
// runs, so cuBLAS/cuSOLVER work queued here sees Thrust's results.
class Stream {
public:
    Stream() { CVG_CUDA_TRY(cudaStreamCreateWithFlags(&stream_, cudaStreamDefault)); }
    ~Stream() {
        if (stream_) cudaStreamDestroy(stream_);
    }
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;
    cudaStream_t get() const { return stream_; }
    void synchronize() const { CVG_CUDA_TRY(cudaStreamSynchronize(stream_)); }

private:
    cudaStream_t stream_ = nullptr;
};

// Everything an op needs: the stream and library handles of one device.
struct DeviceContext {
    int ordinal = 0;
    Stream stream;
    CublasHandle cublas{stream.get()};
    CusolverHandle cusolver{stream.get()};
};

}  // namespace cuda_detail
}  // namespace convergent
