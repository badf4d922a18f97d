// Per-layer activation sources. Sec. 2 (footnote 3): for a conv layer every
// spatial position of every image is one sample of a unit, so an (N, C, H, W)
// array is read as N*H*W rows of C units; a dense (N, C) layer has one row
// per image.
#include "convergent/activations.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "allocation.hpp"
#include "npy_internal.hpp"

namespace convergent {

namespace fs = std::filesystem;

namespace {

std::string shape_text(const std::vector<index_t>& shape) {
    std::string out = "(";
    for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
    return out + (shape.size() == 1 ? ",)" : ")");
}

std::string shape_string(const std::vector<index_t>& shape) {
    std::string s = "(";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + (shape.size() == 1 ? ",)" : ")");
}

// Scratch kept per read: at most about 16 MiB (a bigger image is read in slices).
constexpr index_t kScratchElements = index_t(1) << 22;

}  // namespace

LayerSource::LayerSource(std::string net, std::string layer, std::unique_ptr<NpyArray> array,
                         const ActivationLayout& layout)
    : net_(std::move(net)), layer_(std::move(layer)), array_(std::move(array)), layout_(layout) {
    CVG_REQUIRE(array_ != nullptr, InvalidArgument, "LayerSource: net '" + net_ + "', layer '" + layer_ + "': no array");
    const std::vector<index_t>& shape = array_->header().shape;
    if (shape.size() != 2 && shape.size() != 4)
        fail(ErrorCode::BadData, array_->what() + ": shape " + shape_string(shape) + " has rank " +
                                     std::to_string(shape.size()) + "; a layer must be (N, C) or " +
                                     (layout_.channels_last ? "(N, H, W, C)" : "(N, C, H, W)"));
    // Empty dimensions first: with one, the element count the header check
    // bounded is 0, so it bounds no product of the other dimensions (e.g.
    // (0, 4, 2^32, 2^32)); every product below is overflow-checked anyway.
    for (index_t d : shape)
        CVG_REQUIRE(d > 0, BadData,
                    array_->what() + ": shape " + shape_string(shape) +
                        " has an empty dimension; a layer needs at least one image, position and unit");
    images_ = shape[0];
    if (shape.size() == 2) {
        units_ = shape[1];
        positions_ = 1;
    } else {
        units_ = layout_.channels_last ? shape[3] : shape[1];
        const index_t h = layout_.channels_last ? shape[1] : shape[2];
        const index_t w = layout_.channels_last ? shape[2] : shape[3];
        map_width_ = w;
        index_t image_elements = 0;
        if (__builtin_mul_overflow(h, w, &positions_) || __builtin_mul_overflow(positions_, units_, &image_elements))
            fail(ErrorCode::BadData, array_->what() + ": shape " + shape_string(shape) +
                                         ": an image's H * W * C overflows 64 bits");
    }
    index_t samples = 0;
    if (__builtin_mul_overflow(images_, positions_, &samples))
        fail(ErrorCode::BadData, array_->what() + ": shape " + shape_string(shape) +
                                     ": the sample count N * H * W overflows 64 bits");
    // From here on N * P * C is the header's (checked) element count, so
    // products of these three never overflow.
}

const std::string& LayerSource::what() const { return array_->what(); }

void LayerSource::check_images(index_t first, index_t count) const {
    CVG_REQUIRE(first >= 0 && count >= 0 && first <= images_ && count <= images_ - first, InvalidArgument,
                what() + ": images [" + std::to_string(first) + ", " + std::to_string(first + count) +
                    ") are outside the " + std::to_string(images_) + " images");
}

void LayerSource::read_images(index_t first, index_t count, float* out) const {
    check_images(first, count);
    if (count == 0) return;
    CVG_REQUIRE(out != nullptr, InvalidArgument, what() + ": read_images output is NULL");
    const NpyHeader& header = array_->header();
    const index_t P = positions_, C = units_, N = images_;
    const std::string scratch_what = what() + " (net '" + net_ + "', layer '" + layer_ + "')";
    const index_t image_elements = P * C;
    const bool rank4 = header.shape.size() == 4;

    if (!header.fortran_order) {
        if (!rank4 || layout_.channels_last) {
            // (N, C) and (N, H, W, C) in C order already are the output rows.
            array_->read_elements(first * image_elements, count * image_elements, out);
        } else {
            // (N, C, H, W) in C order: each image is a contiguous C x P block;
            // read a batch of images and transpose every block to P x C.
            const index_t batch = std::min(count, kScratchElements / image_elements);
            if (batch == 0) {
                // An image larger than the scratch: read each unit's plane
                // in slices of the scratch size, so the scratch never grows
                // with the (claimed) image size.
                const index_t slice = std::min(P, kScratchElements);
                scratch_data_ = &resize_huge_aligned(scratch_, std::uint64_t(slice), scratch_what,
                                                     "a read buffer of one image slice")
                                     ->value;
                for (index_t i = 0; i < count; ++i) {
                    float* dst = out + i * image_elements;
                    for (index_t c = 0; c < C; ++c)
                        for (index_t p0 = 0; p0 < P; p0 += slice) {
                            const index_t n = std::min(slice, P - p0);
                            array_->read_elements((first + i) * image_elements + c * P + p0, n, scratch_data_);
                            for (index_t p = 0; p < n; ++p) dst[(p0 + p) * C + c] = scratch_data_[p];
                        }
                }
            }
            if (batch > 0)
                scratch_data_ = &resize_huge_aligned(scratch_, std::uint64_t(batch * image_elements), scratch_what,
                                                     "a read buffer of " + std::to_string(batch) + " images")
                                     ->value;
            for (index_t done = 0; batch > 0 && done < count;) {
                const index_t b = std::min(batch, count - done);
                array_->read_elements((first + done) * image_elements, b * image_elements, scratch_data_);
                for (index_t i = 0; i < b; ++i) {
                    const float* src = scratch_data_ + i * image_elements;  // [c][p]
                    float* dst = out + (done + i) * image_elements;           // [p][c]
                    constexpr index_t kTile = 32;
                    for (index_t c0 = 0; c0 < C; c0 += kTile)
                        for (index_t p0 = 0; p0 < P; p0 += kTile) {
                            const index_t c1 = std::min(C, c0 + kTile), p1 = std::min(P, p0 + kTile);
                            for (index_t c = c0; c < c1; ++c)
                                for (index_t p = p0; p < p1; ++p) dst[p * C + c] = src[c * P + p];
                        }
                }
                done += b;
            }
        }
    } else {
        // Fortran order: the image index varies fastest, so for every
        // (unit, position) the requested images are one contiguous run at
        // k * N + first, where k enumerates the trailing dimensions in
        // storage order. Gather each run into its output column.
        const index_t H = rank4 ? (layout_.channels_last ? header.shape[1] : header.shape[2]) : 1;
        const index_t W = rank4 ? (layout_.channels_last ? header.shape[2] : header.shape[3]) : 1;
        scratch_data_ = &resize_huge_aligned(scratch_, std::uint64_t(count), scratch_what,
                                             "a read buffer of one unit over the chunk's images")
                             ->value;
        const index_t runs = C * P;
        for (index_t k = 0; k < runs; ++k) {
            index_t c, p;
            if (!rank4) {
                c = k;
                p = 0;
            } else if (!layout_.channels_last) {  // F-order (N, C, H, W): k = c + C*(h + H*w)
                c = k % C;
                const index_t h = (k / C) % H, w = k / (C * H);
                p = h * W + w;
            } else {  // F-order (N, H, W, C): k = h + H*(w + W*c)
                const index_t h = k % H, w = (k / H) % W;
                c = k / (H * W);
                p = h * W + w;
            }
            array_->read_elements(k * N + first, count, scratch_data_);
            for (index_t i = 0; i < count; ++i) out[(i * P + p) * C + c] = scratch_data_[i];
        }
    }

    // Sec. 2 statistics are meaningless with NaN/Inf; report the first one
    // in output order so the user can find it in their data.
    const index_t total = count * image_elements;
    for (index_t r = 0; r < total; ++r) {
        if (std::isfinite(out[r])) continue;
        const index_t row = r / C, unit = r % C;
        const index_t image = first + row / P, position = row % P;
        std::string where = "image " + std::to_string(image);
        if (rank4) {
            const index_t W = layout_.channels_last ? header.shape[2] : header.shape[3];
            where += ", position " + std::to_string(position) + " (h " + std::to_string(position / W) + ", w " +
                     std::to_string(position % W) + ")";
        } else {
            where += ", position 0";
        }
        where += ", unit " + std::to_string(unit);
        const std::string value = std::isnan(out[r]) ? "NaN" : (out[r] > 0 ? "+Inf" : "-Inf");
        fail(ErrorCode::BadData, what() + " (net '" + net_ + "', layer '" + layer_ + "'): value " + value + " at " +
                                     where + "; activations must be finite" +
                                     (header.dtype == NpyDtype::Float64 ? " (float64 values beyond the float32 range become Inf)" : ""));
    }
}

bool LayerSource::read_images_raw(index_t first, index_t count, float* out, bool* channels_first) const {
    check_images(first, count);
    const NpyHeader& header = array_->header();
    if (header.fortran_order) return false;
    const auto* mapped = dynamic_cast<const npy_detail::MappedNpyArray*>(array_.get());
    if (mapped == nullptr) return false;  // e.g. an .npz member (CRC-checked or streamed)
    *channels_first = header.shape.size() == 4 && !layout_.channels_last;
    const index_t image_elements = positions_ * units_;
    return mapped->read_float32(first * image_elements, count * image_elements, out);
}

// ---- NetSource -------------------------------------------------------------------

NetSource NetSource::open(const std::string& path, const ActivationLayout& layout, const std::string& name) {
    std::string clean = path;
    while (clean.size() > 1 && clean.back() == '/') clean.pop_back();
    CVG_REQUIRE(!clean.empty(), Io, "net path is empty");

    struct stat st {};
    if (::stat(clean.c_str(), &st) != 0)
        fail(ErrorCode::Io, "net '" + path + "' does not exist or cannot be read: " + std::strerror(errno));

    NetSource net;
    net.path_ = path;
    const fs::path p(clean);
    if (S_ISDIR(st.st_mode)) {
        net.name_ = p.filename().string();
        if (net.name_.empty() || net.name_ == "." || net.name_ == "..") {
            std::error_code ec;
            net.name_ = fs::weakly_canonical(p, ec).filename().string();
        }
        std::vector<fs::path> files;
        std::error_code ec;
        for (fs::directory_iterator it(p, ec), end; !ec && it != end; it.increment(ec)) {
            const fs::path& f = it->path();
            std::error_code type_ec;
            if (f.extension() == ".npy" && fs::is_regular_file(it->status(type_ec)))  // follows symlinks
                files.push_back(f);
        }
        if (ec) fail(ErrorCode::Io, "cannot list net directory '" + path + "': " + ec.message());
        if (files.empty()) fail(ErrorCode::Io, "net directory '" + path + "' holds no .npy files");
        std::sort(files.begin(), files.end());
        if (!name.empty()) net.name_ = name;
        for (const fs::path& f : files) {
            const std::string layer = f.stem().string();
            net.add_array(layer, open_npy(f.string(), layer), layout);
        }
    } else if (S_ISREG(st.st_mode)) {
        net.name_ = name.empty() ? p.stem().string() : name;
        net.archive_ = NpzArchive::open(clean);
        if (net.archive_->array_names().empty()) fail(ErrorCode::Io, "net archive '" + path + "' holds no arrays");
        for (const std::string& layer : net.archive_->array_names())
            net.add_array(layer, net.archive_->array(layer), layout);
    } else {
        fail(ErrorCode::Io, "net '" + path + "' is neither a directory of .npy files nor an .npz archive");
    }
    if (net.layers_.empty()) fail(ErrorCode::Io, "net '" + path + "' holds no layer, only receptive fields");
    for (const auto& kv : net.receptive_fields_)
        CVG_REQUIRE(net.layers_.count(kv.first), BadData,
                    "net '" + path + "': array '" + kv.first + kReceptiveFieldSuffix + "' is the receptive field of a layer '" +
                        kv.first + "' that the net does not have");
    return net;
}

void NetSource::add_array(const std::string& name, std::unique_ptr<NpyArray> array, const ActivationLayout& layout) {
    const std::string suffix = kReceptiveFieldSuffix;
    if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
        const std::string& what = array->what();
        const NpyHeader& h = array->header();
        CVG_REQUIRE(h.shape.size() == 1 && h.shape[0] == 3, BadData,
                    what + ": a receptive field is 3 values (size, stride, padding), got shape " +
                        shape_text(h.shape));
        float v[3];
        array->read_elements(0, 3, v);
        std::array<index_t, 3> field{};
        for (int i = 0; i < 3; ++i) {
            CVG_REQUIRE(std::isfinite(v[i]) && v[i] == std::floor(v[i]) && std::fabs(v[i]) < 1e9f, BadData,
                        what + ": receptive field value " + std::to_string(v[i]) + " is not an integer");
            field[size_t(i)] = index_t(v[i]);
        }
        CVG_REQUIRE(field[0] >= 1 && field[1] >= 1, BadData,
                    what + ": a receptive field needs size >= 1 and stride >= 1 (got " + std::to_string(field[0]) +
                        ", " + std::to_string(field[1]) + ")");
        receptive_fields_[name.substr(0, name.size() - suffix.size())] = field;
        return;
    }
    layers_.emplace(name, std::make_unique<LayerSource>(name_, name, std::move(array), layout));
}

NetSource NetSource::from_arrays(const std::string& name, const std::string& path,
                                 std::vector<std::pair<std::string, std::unique_ptr<NpyArray>>> arrays,
                                 const ActivationLayout& layout) {
    CVG_REQUIRE(!arrays.empty(), InvalidArgument, "net '" + name + "' (" + path + ") has no layers");
    NetSource net;
    net.name_ = name;
    net.path_ = path;
    for (auto& [layer, array] : arrays) {
        CVG_REQUIRE(!net.layers_.count(layer), InvalidArgument,
                    "net '" + name + "' (" + path + ") has two layers named '" + layer + "'");
        net.add_array(layer, std::move(array), layout);
    }
    CVG_REQUIRE(!net.layers_.empty(), InvalidArgument,
                "net '" + name + "' (" + path + ") has no layers, only receptive fields");
    return net;
}

std::vector<std::string> NetSource::layer_names() const {
    std::vector<std::string> names;
    names.reserve(layers_.size());
    for (const auto& kv : layers_) names.push_back(kv.first);
    return names;
}

bool NetSource::has_layer(const std::string& layer) const { return layers_.count(layer) != 0; }

const LayerSource& NetSource::layer(const std::string& layer) const {
    auto it = layers_.find(layer);
    if (it == layers_.end()) {
        std::string have;
        for (const auto& kv : layers_) have += (have.empty() ? "" : ", ") + kv.first;
        fail(ErrorCode::BadData, "net '" + name_ + "' (" + path_ + ") has no layer '" + layer + "'; it has: " + have);
    }
    return *it->second;
}

}  // namespace convergent
