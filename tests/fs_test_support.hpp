// File-system helpers shared by the C++ tests of the output writers.
#pragma once

#include <filesystem>

namespace convergent_test {

// An empty directory under the system temp dir (removed first if present).
inline std::filesystem::path fresh_dir(const char* name) {
    const std::filesystem::path dir = std::filesystem::temp_directory_path() / name;
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return dir;
}

}  // namespace convergent_test
