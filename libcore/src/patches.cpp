#include "convergent/patches.hpp"

#include <png.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

namespace convergent {

std::map<std::string, ReceptiveField> parse_receptive_fields(const std::vector<std::string>& items) {
    std::map<std::string, ReceptiveField> out;
    const auto bad = [](const std::string& why) {
        fail(ErrorCode::InvalidArgument,
             "receptive_field: " + why + " (expected layer=size,stride,padding items, e.g. conv1=5,1,2,conv2=14,2,5)");
    };
    for (size_t i = 0; i < items.size();) {
        const size_t eq = items[i].find('=');
        if (eq == std::string::npos || eq == 0) bad("'" + items[i] + "' does not start a layer=size group");
        const std::string layer = items[i].substr(0, eq);
        if (i + 2 >= items.size()) bad("layer '" + layer + "' needs size, stride and padding");
        const std::string texts[3] = {items[i].substr(eq + 1), items[i + 1], items[i + 2]};
        index_t v[3];
        for (int j = 0; j < 3; ++j) {
            char* end = nullptr;
            const long long n = std::strtoll(texts[j].c_str(), &end, 10);
            // A negative padding: the first position's crop starts inside
            // the image (a strided grid of a map's positions, see patches.hpp).
            if (texts[j].empty() || *end != '\0' || n < (j == 2 ? -(index_t(1) << 30) : 1) || n > (index_t(1) << 30))
                bad("layer '" + layer + "': '" + texts[j] + "' is not a " +
                    (j == 2 ? "padding (an integer)" : j == 1 ? "stride >= 1" : "size >= 1"));
            v[j] = n;
        }
        if (!out.emplace(layer, ReceptiveField{v[0], v[1], v[2]}).second) bad("layer '" + layer + "' given twice");
        i += 3;
    }
    return out;
}

namespace {

// The value of 'key' in the .npy header dict (a quoted string, a word or a
// parenthesised tuple).
std::string header_value(const std::string& header, const std::string& key, const std::string& what) {
    const size_t k = header.find("'" + key + "'");
    CVG_REQUIRE(k != std::string::npos, BadData, what + ": the .npy header has no '" + key + "'");
    size_t p = header.find(':', k);
    CVG_REQUIRE(p != std::string::npos, BadData, what + ": malformed .npy header");
    p = header.find_first_not_of(' ', p + 1);
    const char open = header[p];
    const char close = open == '\'' ? '\'' : open == '(' ? ')' : ',';
    const size_t e = header.find(close, p + 1);
    CVG_REQUIRE(e != std::string::npos, BadData, what + ": malformed .npy header");
    return open == '\'' || open == '(' ? header.substr(p + 1, e - p - 1) : header.substr(p, e - p);
}

}  // namespace

const std::uint8_t* Images::image(index_t i) const {
    CVG_REQUIRE(i >= 0 && i < count, BadData,
                "patches: input " + std::to_string(i) + " is beyond the " + std::to_string(count) + " images");
    index_t slot = i;
    if (!held.empty()) {
        const auto it = std::lower_bound(held.begin(), held.end(), i);
        CVG_REQUIRE(it != held.end() && *it == i, InvalidArgument,
                    "patches: input " + std::to_string(i) + " was not loaded");
        slot = index_t(it - held.begin());
    }
    return pixels.data() + size_t(slot * height * width * channels);
}

Images load_images(const std::string& path, const std::vector<std::int64_t>* wanted) {
    const std::string what = "images '" + path + "'";
    std::ifstream in(path, std::ios::binary);
    CVG_REQUIRE(in.good(), Io, what + ": cannot open");
    in.seekg(0, std::ios::end);
    const std::uint64_t file_size = std::uint64_t(in.tellg());
    in.seekg(0);
    // The header only: the pixels are read image by image below, so the
    // file is never held in memory (a dataset's images can be gigabytes).
    std::string start(std::min<std::uint64_t>(file_size, 12), '\0');
    in.read(&start[0], std::streamsize(start.size()));
    CVG_REQUIRE(start.size() >= 10 && start.compare(0, 6, "\x93NUMPY") == 0, BadData, what + ": not an .npy file");
    const int major = static_cast<unsigned char>(start[6]);
    const size_t len_bytes = major == 1 ? 2 : 4;
    CVG_REQUIRE(start.size() >= 8 + len_bytes, BadData, what + ": truncated .npy header");
    size_t header_len = 0;
    for (size_t i = 0; i < len_bytes; ++i) header_len |= size_t(static_cast<unsigned char>(start[8 + i])) << (8 * i);
    const std::uint64_t data_offset = 8 + len_bytes + header_len;
    CVG_REQUIRE(data_offset <= file_size && header_len <= (size_t(1) << 20), BadData, what + ": truncated .npy header");
    std::string header(header_len, '\0');
    in.seekg(std::streamoff(8 + len_bytes));
    in.read(&header[0], std::streamsize(header_len));
    CVG_REQUIRE(in.good(), BadData, what + ": truncated .npy header");
    const std::string descr = header_value(header, "descr", what);
    CVG_REQUIRE(header_value(header, "fortran_order", what) == "False", Unsupported,
                what + ": Fortran-order arrays are not supported (save a C-order copy)");
    std::vector<index_t> shape;
    std::stringstream dims(header_value(header, "shape", what));
    for (std::string d; std::getline(dims, d, ',');)
        if (d.find_first_not_of(' ') != std::string::npos) shape.push_back(std::stoll(d));
    int element = 0;
    if (descr == "|u1" || descr == "<u1") element = 1;
    else if (descr == "<f4") element = 4;
    else if (descr == "<f8") element = 8;
    else fail(ErrorCode::Unsupported, what + ": dtype '" + descr + "'; images are uint8, float32 or float64");
    CVG_REQUIRE(shape.size() == 3 || shape.size() == 4, BadData,
                what + ": images are N x H x W, N x H x W x C or N x C x H x W (got rank " +
                    std::to_string(shape.size()) + ")");
    for (index_t d : shape) CVG_REQUIRE(d > 0 && d < (index_t(1) << 40), BadData, what + ": an empty or huge dimension");
    const auto is_channels = [](index_t c) { return c == 1 || c == 3 || c == 4; };
    const bool nhwc = shape.size() == 3 || is_channels(shape[3]);
    CVG_REQUIRE(nhwc || is_channels(shape[1]), BadData,
                what + ": neither the last nor the second axis holds 1, 3 or 4 channels");
    Images out;
    out.count = shape[0];
    out.height = nhwc ? shape[1] : shape[2];
    out.width = nhwc ? shape[2] : shape[3];
    const index_t channels = shape.size() == 3 ? 1 : nhwc ? shape[3] : shape[1];
    out.channels = channels >= 3 ? 3 : 1;
    const index_t hw = out.height * out.width, per_image = hw * channels;
    const double n = double(out.count) * double(per_image);
    CVG_REQUIRE(double(data_offset) + n * element <= double(file_size), BadData,
                what + ": the file holds fewer values than its shape");
    const auto value = [&](const char* data, index_t i) -> double {
        if (element == 1) return double(static_cast<unsigned char>(data[i]));
        if (element == 4) {
            float f;
            std::memcpy(&f, data + 4 * i, 4);
            return f;
        }
        double d;
        std::memcpy(&d, data + 8 * i, 8);
        return d;
    };
    std::vector<char> buffer;
    const auto read_at = [&](std::uint64_t offset, size_t bytes) {
        buffer.resize(bytes);
        in.seekg(std::streamoff(offset));
        in.read(buffer.data(), std::streamsize(bytes));
        CVG_REQUIRE(in.good(), Io, what + ": read failed");
    };
    double low = 0, high = 255;
    if (element != 1) {
        // The scale needs every value: one streaming scan in blocks of images.
        low = 1e300, high = -1e300;
        const index_t block = std::max<index_t>(1, (index_t(1) << 24) / (per_image * element));
        for (index_t first = 0; first < out.count; first += block) {
            const index_t images = std::min(block, out.count - first);
            read_at(data_offset + std::uint64_t(first * per_image * element), size_t(images * per_image * element));
            for (index_t i = 0; i < images * per_image; ++i) {
                const double v = value(buffer.data(), i);
                CVG_REQUIRE(std::isfinite(v), BadData,
                            what + ": value " + std::to_string(first * per_image + i) + " is not finite");
                low = std::min(low, v), high = std::max(high, v);
            }
        }
        if (low >= 0 && high <= 1) low = 0, high = 1;
        if (high <= low) high = low + 1;
    }
    if (wanted) {
        // Indices beyond the file are left for the caller's count check
        // (image() refuses them).
        for (std::int64_t i : *wanted)
            if (i >= 0 && i < out.count) out.held.push_back(i);
        std::sort(out.held.begin(), out.held.end());
        out.held.erase(std::unique(out.held.begin(), out.held.end()), out.held.end());
    }
    const index_t loaded = wanted ? index_t(out.held.size()) : out.count;
    out.pixels.resize(size_t(loaded * hw * out.channels));
    for (index_t slot = 0; slot < loaded; ++slot) {
        const index_t img = wanted ? out.held[size_t(slot)] : slot;
        read_at(data_offset + std::uint64_t(img * per_image * element), size_t(per_image * element));
        for (index_t p = 0; p < hw; ++p)
            for (index_t c = 0; c < out.channels; ++c) {
                const index_t src = nhwc ? p * channels + c : c * hw + p;
                const double v = std::round((value(buffer.data(), src) - low) / (high - low) * 255.0);
                out.pixels[size_t((slot * hw + p) * out.channels + c)] = std::uint8_t(std::clamp(v, 0.0, 255.0));
            }
    }
    return out;
}

PatchBox patch_box(const ReceptiveField* field, index_t position, index_t map_width, index_t image_height,
                   index_t image_width) {
    if (!field) return {0, 0, image_height, image_width};
    const index_t y = position / map_width, x = position % map_width;
    return {y * field->stride - field->padding, x * field->stride - field->padding, field->size, field->size};
}

SpriteSheet patch_sprite_sheet(const Images& images, const ReceptiveField* field, index_t map_width,
                               const std::vector<std::int64_t>& image_index,
                               const std::vector<std::int64_t>& positions, index_t units, index_t k) {
    SpriteSheet s;
    s.rows = units, s.columns = k, s.channels = images.channels;
    s.cell_height = field ? field->size : images.height;
    s.cell_width = field ? field->size : images.width;
    const index_t sheet_width = k * s.cell_width;
    s.pixels.assign(size_t(units * s.cell_height * sheet_width * s.channels), 0);
    for (index_t u = 0; u < units; ++u)
        for (index_t j = 0; j < k; ++j) {
            const std::int64_t img = image_index[size_t(u * k + j)];
            if (img < 0) continue;
            const std::uint8_t* picture = images.image(img);
            const PatchBox box = patch_box(field, positions[size_t(u * k + j)], map_width, images.height, images.width);
            for (index_t r = 0; r < s.cell_height; ++r) {
                const index_t iy = box.top + r;
                if (iy < 0 || iy >= images.height) continue;
                for (index_t c = 0; c < s.cell_width; ++c) {
                    const index_t ix = box.left + c;
                    if (ix < 0 || ix >= images.width) continue;
                    const std::uint8_t* from = picture + (iy * images.width + ix) * images.channels;
                    std::uint8_t* to = s.pixels.data() +
                                       ((u * s.cell_height + r) * sheet_width + j * s.cell_width + c) * s.channels;
                    std::copy(from, from + s.channels, to);
                }
            }
        }
    return s;
}

namespace {

void append_png_bytes(png_structp png, png_bytep data, png_size_t length) {
    auto* out = static_cast<std::string*>(png_get_io_ptr(png));
    out->append(reinterpret_cast<const char*>(data), length);
}

}  // namespace

std::string encode_png(const SpriteSheet& sheet) {
    const index_t width = sheet.columns * sheet.cell_width, height = sheet.rows * sheet.cell_height;
    CVG_REQUIRE(width > 0 && height > 0 && width < (index_t(1) << 31) && height < (index_t(1) << 31), InvalidArgument,
                "encode_png: a sheet of " + std::to_string(width) + " x " + std::to_string(height) + " pixels");
    std::string out;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
    CVG_REQUIRE(png != nullptr, OutOfMemory, "encode_png: png_create_write_struct failed");
    png_infop info = png_create_info_struct(png);
    if (!info || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, info ? &info : nullptr);
        fail(ErrorCode::Internal, "encode_png: libpng failed");
    }
    png_set_write_fn(png, &out, append_png_bytes, nullptr);
    png_set_IHDR(png, info, png_uint_32(width), png_uint_32(height), 8,
                 sheet.channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    const size_t stride = size_t(width * sheet.channels);
    for (index_t r = 0; r < height; ++r)
        png_write_row(png, const_cast<png_bytep>(sheet.pixels.data() + size_t(r) * stride));
    png_write_end(png, nullptr);
    png_destroy_write_struct(&png, &info);
    return out;
}

}  // namespace convergent
