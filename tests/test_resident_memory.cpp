// Memory flat in the number of samples: a pass over a memory-mapped input
// gives back the pages it has moved past, so the resident size does not
// grow with the file (issue 13; docs/benchmarks.md, the scaling table).
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "convergent/activations.hpp"
#include "convergent/npy.hpp"

namespace fs = std::filesystem;
using namespace convergent;

namespace {

// VmRSS of this process in KiB (current, not peak).
long resident_kib() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    return -1;
}

}  // namespace

TEST(ResidentMemory, SequentialPassOverMappedInputStaysFlat) {
    const fs::path dir = fs::temp_directory_path() / ("cvg_rss_" + std::to_string(::getpid()));
    fs::create_directories(dir / "net");
    const index_t rows = index_t(3) << 19, units = 16;  // 96 MiB of float32
    {
        std::vector<float> block(size_t(rows * units));
        for (size_t i = 0; i < block.size(); ++i) block[i] = float(i % 977) * 0.01f;
        write_npy((dir / "net" / "fc.npy").string(), block.data(), {rows, units});
    }  // the written data is freed: only the mapping can make the pass resident
    const long before = resident_kib();
    ASSERT_GT(before, 0);
    {
        const NetSource net = NetSource::open((dir / "net").string());
        const LayerSource& layer = net.layer("fc");
        std::vector<float> piece(size_t(4096 * units));
        double sum = 0;
        for (index_t first = 0; first < rows; first += 4096) {
            const index_t n = std::min<index_t>(4096, rows - first);
            layer.read_images(first, n, piece.data());
            sum += piece[0];
        }
        EXPECT_GT(sum, 0.0);
        const long grown = resident_kib() - before;
        RecordProperty("resident_growth_kib", std::to_string(grown));
        // Without giving pages back, the whole 96 MiB file would be resident.
        EXPECT_LT(grown, 32 * 1024) << "resident memory grew by " << grown << " KiB over a 96 MiB input";
    }
    fs::remove_all(dir);
}
