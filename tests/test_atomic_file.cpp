#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "convergent/atomic_file.hpp"
#include "convergent/error.hpp"

namespace fs = std::filesystem;
using convergent::AtomicFile;

namespace {
fs::path fresh_dir(const char* name) {
    const fs::path dir = fs::temp_directory_path() / name;
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}
size_t entries(const fs::path& dir) { return size_t(std::distance(fs::directory_iterator(dir), fs::directory_iterator())); }
}  // namespace

TEST(AtomicFile, AppearsOnlyOnCommit) {
    const fs::path dir = fresh_dir("convergent_atomic_commit");
    const fs::path target = dir / "out.txt";
    {
        AtomicFile file(target.string());
        file.stream() << "hello";
        EXPECT_FALSE(fs::exists(target));
        EXPECT_EQ(entries(dir), 1u);  // only the temporary sibling
        file.commit();
    }
    std::ifstream in(target);
    EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "hello");
    EXPECT_EQ(entries(dir), 1u);
    fs::remove_all(dir);
}

TEST(AtomicFile, AbandonedFileLeavesNothing) {
    const fs::path dir = fresh_dir("convergent_atomic_abandon");
    {
        AtomicFile file((dir / "out.txt").string());
        file.stream() << "half";
    }
    EXPECT_EQ(entries(dir), 0u);
    try {
        AtomicFile file((dir / "missing" / "out.txt").string());
        FAIL() << "opened a file in a missing directory";
    } catch (const convergent::Error& e) {
        EXPECT_EQ(e.code(), convergent::ErrorCode::Io);
        EXPECT_NE(std::string(e.what()).find("out.txt"), std::string::npos);
    }
    fs::remove_all(dir);
}
