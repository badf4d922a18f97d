// Activations of one net, per layer: (N, C) for dense layers, (N, C, H, W)
// for conv layers (NCHW; or (N, H, W, C) with channels_last). Every spatial
// position of a conv layer is a sample (Sec. 2, footnote 3), so a layer is
// seen as samples = N * H * W rows of C units.
//
// A net is either a directory of <layer>.npy files or an .npz archive with
// one array per layer; its name is the basename without extension.
#pragma once

#include <array>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "convergent/npy.hpp"

namespace convergent {

struct ActivationLayout {
    bool channels_last = false;  // (N, H, W, C) instead of (N, C, H, W)
};

class LayerSource {
public:
    LayerSource(std::string net, std::string layer, std::unique_ptr<NpyArray> array,
                const ActivationLayout& layout);

    const std::string& net_name() const { return net_; }
    const std::string& layer_name() const { return layer_; }
    const std::string& what() const;  // "file '...', array '...'"
    index_t images() const { return images_; }
    index_t positions() const { return positions_; }  // H * W, 1 for dense layers
    index_t map_width() const { return map_width_; }  // W, 1 for dense layers (position = y * W + x)
    index_t samples() const { return images_ * positions_; }
    index_t units() const { return units_; }

    // Reads images [first, first + count) as (count * positions()) x units()
    // row-major float rows into out (leading dimension units()); row
    // image * positions + position. Throws BadData naming the file, array,
    // image, position and unit of the first NaN or Inf.
    void read_images(index_t first, index_t count, float* out) const;

    // Images [first, first + count) as stored, with one pread() and no
    // conversion, when the array is a float32 .npy file in host byte order
    // and C order (the CPU statistics pass packs straight from them); false
    // otherwise (then read_images). out gets count * positions() rows of
    // units() for (N, C) and channels-last arrays, count blocks of units()
    // x positions() for (N, C, H, W) ones (*channels_first says which). Not
    // checked for NaN/Inf: a caller that finds a non-finite sum calls
    // read_images for the error.
    bool read_images_raw(index_t first, index_t count, float* out, bool* channels_first) const;

private:
    // Error(InvalidArgument) naming the file when [first, first + count) is not within the images.
    void check_images(index_t first, index_t count) const;
    std::string net_, layer_;
    std::unique_ptr<NpyArray> array_;
    ActivationLayout layout_;
    index_t images_ = 0, positions_ = 1, units_ = 0, map_width_ = 1;
    // A read buffer, uninitialised and on a 2 MiB page (one page fault for
    // its first touch instead of one per 4 KiB); scratch_data_ is set by
    // every read before use.
    struct ScratchValue {
        float value;
        ScratchValue() {}
    };
    mutable std::vector<ScratchValue> scratch_;
    mutable float* scratch_data_ = nullptr;
};

// The name suffix of an array that holds a layer's receptive field.
inline constexpr char kReceptiveFieldSuffix[] = ".receptive_field";

class NetSource {
public:
    // Opens a directory of .npy files or an .npz archive. Throws Io when the
    // path does not exist or holds no arrays. The net is called `name`, or
    // by default the basename without extension.
    static NetSource open(const std::string& path, const ActivationLayout& layout = {},
                          const std::string& name = {});
    // A net from arrays opened elsewhere (e.g. tensor_array()); `path` is
    // what messages and summary.json call its origin.
    static NetSource from_arrays(const std::string& name, const std::string& path,
                                 std::vector<std::pair<std::string, std::unique_ptr<NpyArray>>> arrays,
                                 const ActivationLayout& layout = {});

    const std::string& name() const { return name_; }
    const std::string& path() const { return path_; }
    // Layer names in sorted order.
    std::vector<std::string> layer_names() const;
    // Receptive fields stored with the activations (Figs. 2, 4-6 patches):
    // an array "<layer>.receptive_field" of the three integers size,
    // stride, padding (any float dtype; convergent.torch.dump_activations
    // writes them) is metadata of that layer, not a layer. By layer name.
    const std::map<std::string, std::array<index_t, 3>>& receptive_fields() const { return receptive_fields_; }
    bool has_layer(const std::string& layer) const;
    // Throws BadData ("net 'a' (path) has no layer 'conv3'; it has: ...").
    const LayerSource& layer(const std::string& layer) const;

private:
    std::string name_, path_;
    std::map<std::string, std::unique_ptr<LayerSource>> layers_;
    std::map<std::string, std::array<index_t, 3>> receptive_fields_;
    std::shared_ptr<NpzArchive> archive_;
    // Files one array: a layer, or the receptive field of one.
    void add_array(const std::string& name, std::unique_ptr<NpyArray> array, const ActivationLayout& layout);
};

}  // namespace convergent
