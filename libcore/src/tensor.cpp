// Host views of caller-owned tensors read in place (tensor.hpp), and their
// construction from DLPack tensors.
#include "convergent/tensor.hpp"

#include <dlpack/dlpack.h>

#include <algorithm>
#include <cstring>

#include "npy_format_internal.hpp"

namespace convergent {

namespace {

constexpr int kMaxRank = 8;

std::vector<index_t> c_strides(const std::vector<index_t>& shape) {
    std::vector<index_t> s(shape.size(), 1);
    for (size_t d = shape.size(); d-- > 1;) s[d - 1] = s[d] * shape[d];
    return s;
}

// Reads logical C-order elements of a strided host view.
class TensorArray final : public NpyArray {
public:
    TensorArray(const TensorView& view, std::string what) : view_(view), what_(std::move(what)) {
        header_.dtype = view.dtype;
        header_.big_endian = false;  // native order (all supported hosts are little endian)
        header_.fortran_order = false;
        header_.shape = view.shape;
        header_.data_offset = 0;
        strides_ = view.strides.empty() ? c_strides(view.shape) : view.strides;
        contiguous_ = view.c_contiguous();
        bytes_ = header_.element_size();
    }
    const NpyHeader& header() const override { return header_; }
    const std::string& what() const override { return what_; }

    void read_elements(index_t first, index_t count, float* out) const override {
        npy_detail::check_range(header_, first, count, what_);
        if (count == 0) return;
        const auto* base = static_cast<const std::uint8_t*>(view_.data);
        if (contiguous_) {
            npy_detail::convert_to_float(base + first * bytes_, count, header_, out);
            return;
        }
        // Walk runs along the last dimension.
        const size_t rank = view_.shape.size();
        index_t index[kMaxRank] = {};
        index_t rest = first;
        for (size_t d = rank; d-- > 0;) {
            index[d] = rest % view_.shape[d];
            rest /= view_.shape[d];
        }
        const index_t last = view_.shape[rank - 1], step = strides_[rank - 1];
        while (count > 0) {
            index_t offset = 0;
            for (size_t d = 0; d < rank; ++d) offset += index[d] * strides_[d];
            const index_t run = std::min(count, last - index[rank - 1]);
            const std::uint8_t* src = base + offset * bytes_;
            if (step == 1) {
                npy_detail::convert_to_float(src, run, header_, out);
            } else {
                for (index_t i = 0; i < run; ++i) npy_detail::convert_to_float(src + i * step * bytes_, 1, header_, out + i);
            }
            out += run;
            count -= run;
            index[rank - 1] += run;
            for (size_t d = rank - 1; d > 0 && index[d] == view_.shape[d]; --d) {
                index[d] = 0;
                ++index[d - 1];
            }
        }
    }

private:
    TensorView view_;
    std::string what_;
    NpyHeader header_;
    std::vector<index_t> strides_;
    bool contiguous_ = true;
    int bytes_ = 4;
};

const char* device_name(int type) {
    switch (type) {
        case kDLCPU: return "cpu";
        case kDLCUDA: return "cuda";
        case kDLCUDAHost: return "cuda_host";
        case kDLOpenCL: return "opencl";
        case kDLVulkan: return "vulkan";
        case kDLMetal: return "metal";
        case kDLVPI: return "vpi";
        case kDLROCM: return "rocm";
        case kDLROCMHost: return "rocm_host";
        case kDLCUDAManaged: return "cuda_managed";
        default: return "unknown";
    }
}

}  // namespace

bool TensorView::c_contiguous() const {
    if (strides.empty()) return true;
    if (strides.size() != shape.size()) return false;
    index_t expected = 1;
    for (size_t d = shape.size(); d-- > 0;) {
        if (shape[d] != 1 && strides[d] != expected) return false;
        expected *= shape[d];
    }
    return true;
}

index_t TensorView::element_count() const {
    index_t n = 1;
    for (index_t d : shape)
        if (__builtin_mul_overflow(n, d, &n)) return -1;
    return n;
}

std::unique_ptr<NpyArray> tensor_array(const TensorView& view, const std::string& what) {
    CVG_REQUIRE(view.device == TensorDevice::Host, Unsupported,
                what + ": the tensor is in CUDA device memory; it can be read by the CUDA backend only");
    CVG_REQUIRE(!view.shape.empty() && view.shape.size() <= size_t(kMaxRank), InvalidArgument,
                what + ": rank " + std::to_string(view.shape.size()) + " is not supported (1 to 8 dimensions)");
    CVG_REQUIRE(view.strides.empty() || view.strides.size() == view.shape.size(), InvalidArgument,
                what + ": " + std::to_string(view.strides.size()) + " strides for " +
                    std::to_string(view.shape.size()) + " dimensions");
    for (size_t d = 0; d < view.shape.size(); ++d) {
        CVG_REQUIRE(view.shape[d] >= 0, InvalidArgument,
                    what + ": dimension " + std::to_string(d) + " has negative extent " + std::to_string(view.shape[d]));
        CVG_REQUIRE(view.strides.empty() || view.strides[d] >= 0, InvalidArgument,
                    what + ": dimension " + std::to_string(d) + " has a negative stride (" +
                        std::to_string(view.strides[d]) + "); pass a copy with positive strides");
    }
    const index_t n = view.element_count();
    CVG_REQUIRE(n >= 0 && n <= (index_t(1) << 60), InvalidArgument,
                what + ": shape " + npy_detail::shape_string(view.shape) + " overflows the element count");
    CVG_REQUIRE(view.data != nullptr || n == 0, InvalidArgument, what + ": the data pointer is NULL");
    return std::make_unique<TensorArray>(view, what);
}

DeviceChunkBlock device_chunk_block(const TensorView& v, bool channels_last, index_t column) {
    CVG_REQUIRE(v.shape.size() == 2 || v.shape.size() == 4, InvalidArgument,
                "device_chunk_block: a layer batch has rank 2 or 4, not " + std::to_string(v.shape.size()));
    const std::vector<index_t> st = v.strides.empty() ? c_strides(v.shape) : v.strides;
    DeviceChunkBlock b;
    b.data = v.data;
    b.dtype = v.dtype;
    b.device_id = v.device_id;
    b.column = column;
    b.image_stride = st[0];
    if (v.shape.size() == 2) {
        b.units = v.shape[1], b.unit_stride = st[1];
    } else if (channels_last) {
        b.units = v.shape[3], b.y_stride = st[1], b.x_stride = st[2], b.unit_stride = st[3];
    } else {
        b.units = v.shape[1], b.unit_stride = st[1], b.y_stride = st[2], b.x_stride = st[3];
    }
    return b;
}

TensorView tensor_from_dlpack(const DLTensor& t, const std::string& what) {
    TensorView v;
    CVG_REQUIRE(t.ndim >= 1 && t.ndim <= kMaxRank, InvalidArgument,
                what + ": a DLPack tensor of rank " + std::to_string(t.ndim) + " (1 to 8 dimensions are read)");
    CVG_REQUIRE(t.shape != nullptr, InvalidArgument, what + ": the DLPack tensor's shape is NULL");
    CVG_REQUIRE(t.dtype.lanes == 1, Unsupported,
                what + ": DLPack dtype with " + std::to_string(t.dtype.lanes) + " lanes (vector types are not read)");
    if (t.dtype.code == kDLFloat && t.dtype.bits == 16) v.dtype = NpyDtype::Float16;
    else if (t.dtype.code == kDLFloat && t.dtype.bits == 32) v.dtype = NpyDtype::Float32;
    else if (t.dtype.code == kDLFloat && t.dtype.bits == 64) v.dtype = NpyDtype::Float64;
    else {
        const char* kind = t.dtype.code == kDLInt ? "int" : t.dtype.code == kDLUInt ? "uint"
                         : t.dtype.code == kDLBfloat ? "bfloat" : t.dtype.code == kDLFloat ? "float"
                         : t.dtype.code == kDLComplex ? "complex" : "code";
        fail(ErrorCode::Unsupported, what + ": DLPack dtype " + kind + std::to_string(t.dtype.bits) +
                                         " is not supported; convergent reads float16, float32 and float64 "
                                         "(convert first, e.g. tensor.float())");
    }
    switch (t.device.device_type) {
        case kDLCPU:
        case kDLCUDAHost:
            v.device = TensorDevice::Host;
            break;
        case kDLCUDA:
            v.device = TensorDevice::Cuda;
            break;
        default:
            fail(ErrorCode::Unsupported, what + ": a tensor on device '" + device_name(t.device.device_type) +
                                             "' cannot be read; convergent reads host (cpu) tensors and, with "
                                             "the CUDA backend, CUDA tensors");
    }
    v.device_id = t.device.device_id;
    v.shape.assign(t.shape, t.shape + t.ndim);
    if (t.strides) v.strides.assign(t.strides, t.strides + t.ndim);
    v.data = static_cast<const std::uint8_t*>(t.data) + t.byte_offset;
    if (t.data == nullptr) v.data = nullptr;
    return v;
}

}  // namespace convergent
