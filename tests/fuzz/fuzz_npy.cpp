// libFuzzer harness: one .npy file, as `convergent compare` reads a layer.
//
// The input is the whole file. It goes through the in-memory header parser
// (parse_npy_header), the file reader (open_npy: mmap, every element read and
// converted, forward and once backward), and LayerSource (the (N, C) /
// (N, C, H, W) view with its NaN/Inf check, both layouts). A
// convergent::Error other than Internal is the expected answer to bad input;
// a sanitizer report, another exception, a crash or a hang is a finding.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "convergent/activations.hpp"
#include "convergent/npy.hpp"
#include "fuzz_layers.hpp"
#include "fuzz_support.hpp"

using namespace convergent;
using convergent_fuzz::expected_error;

namespace {

// Reads up to kMaxElementsRead elements in chunks of `chunk`, then re-reads
// the first chunk (a backward read).
void read_elements(const NpyArray& array, index_t chunk) {
    const index_t total = std::min(array.header().element_count(), convergent_fuzz::kMaxElementsRead);
    std::vector<float> buffer(size_t(std::max<index_t>(chunk, 1)));
    for (index_t first = 0; first < total; first += chunk)
        array.read_elements(first, std::min(chunk, total - first), buffer.data());
    if (total > 0) array.read_elements(0, std::min(chunk, total), buffer.data());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        const NpyHeader header = parse_npy_header(data, size, size, "fuzz input");
        (void)header.element_count();
        (void)header.element_size();
    } catch (const Error& e) {
        expected_error(e);
    }

    const std::string path = convergent_fuzz::write_scratch_file("layer.npy", data, size);
    try {
        read_elements(*open_npy(path, "layer"), 7);
    } catch (const Error& e) {
        expected_error(e);
    }
    for (bool channels_last : {false, true}) {
        try {
            ActivationLayout layout;
            layout.channels_last = channels_last;
            LayerSource layer("net", "layer", open_npy(path, "layer"), layout);
            convergent_fuzz::read_layer(layer, 3);
        } catch (const Error& e) {
            expected_error(e);
        }
    }
    return 0;
}
