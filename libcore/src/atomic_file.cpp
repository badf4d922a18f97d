#include "convergent/atomic_file.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>

#include "convergent/error.hpp"

namespace convergent {

namespace {
std::string temporary_sibling(const std::string& path) {
    static std::atomic<unsigned long> counter{0};
    const std::filesystem::path p(path);
    const std::string name = "." + p.filename().string() + ".tmp-" + std::to_string(::getpid()) + "-" +
                             std::to_string(counter++);
    return (p.parent_path() / name).string();
}
}  // namespace

AtomicFile::AtomicFile(const std::string& path) : path_(path), temp_(temporary_sibling(path)) {
    out_.open(temp_, std::ios::binary | std::ios::trunc);
    CVG_REQUIRE(out_.is_open(), Io,
                "cannot write '" + path_ + "' (is its directory there and writable?)");
}

AtomicFile::~AtomicFile() {
    if (!committed_) {
        out_.close();
        std::remove(temp_.c_str());
    }
}

void AtomicFile::commit() {
    // The tail of the data is only written by the flush on close.
    out_.close();
    CVG_REQUIRE(!out_.fail(), Io, "error while writing '" + path_ + "' (disk full?)");
    CVG_REQUIRE(std::rename(temp_.c_str(), path_.c_str()) == 0, Io, "cannot rename onto '" + path_ + "'");
    committed_ = true;
}

void write_text_file(const std::string& path, const std::string& text) {
    AtomicFile file(path);
    file.stream() << text;
    file.commit();
}

}  // namespace convergent
