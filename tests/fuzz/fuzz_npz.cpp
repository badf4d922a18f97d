// libFuzzer harness: one .npz archive (a zip of .npy members), as
// `convergent compare` reads a net.
//
// The input is the whole archive. It is opened with NpzArchive::open and
// every member is read in full (up to kMaxElementsRead elements, forward,
// then once backward: a deflated member is re-opened), then once more as a
// net (NetSource::open: every member a layer, every layer read through
// LayerSource). A convergent::Error other than Internal is the expected
// answer to bad input; a sanitizer report, another exception, a crash or a
// hang is a finding.
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

void read_member(const NpyArray& array) {
    const index_t total = std::min(array.header().element_count(), convergent_fuzz::kMaxElementsRead);
    const index_t chunk = 64;
    std::vector<float> buffer(static_cast<size_t>(chunk));
    for (index_t first = 0; first < total; first += chunk)
        array.read_elements(first, std::min(chunk, total - first), buffer.data());
    if (total > 1) array.read_elements(total / 2, 1, buffer.data());  // backward: re-opens a deflated member
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string path = convergent_fuzz::write_scratch_file("net.npz", data, size);
    try {
        const std::unique_ptr<NpzArchive> archive = NpzArchive::open(path);
        for (const std::string& name : archive->array_names()) {
            try {
                read_member(*archive->array(name));
            } catch (const Error& e) {
                expected_error(e);
            }
        }
        try {
            (void)archive->array("no such member");
        } catch (const Error& e) {
            expected_error(e);
        }
    } catch (const Error& e) {
        expected_error(e);
    }

    try {
        const NetSource net = NetSource::open(path);
        for (const std::string& layer : net.layer_names()) {
            try {
                convergent_fuzz::read_layer(net.layer(layer), 2);
            } catch (const Error& e) {
                expected_error(e);
            }
        }
    } catch (const Error& e) {
        expected_error(e);
    }
    return 0;
}
