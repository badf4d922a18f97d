#include "staged_directory.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <system_error>

#include "convergent/error.hpp"

namespace fs = std::filesystem;

namespace convergent {

namespace {
// The process umask without changing it (umask(2) can only read by writing,
// which races with other threads): Linux reports it in /proc/self/status.
unsigned current_umask() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("Umask:", 0) == 0) return unsigned(std::stoul(line.substr(6), nullptr, 8));
    return 022;
}
}  // namespace

StagedDirectory::StagedDirectory(const std::string& final_path, bool overwrite)
    : final_(fs::absolute(fs::path(final_path)).lexically_normal()), overwrite_(overwrite) {
    if (final_.filename().empty()) final_ = final_.parent_path();
    std::error_code ec;
    if (fs::exists(final_, ec)) {
        CVG_REQUIRE(fs::is_directory(final_, ec), Io,
                    "output path '" + final_path + "' exists and is not a directory");
        CVG_REQUIRE(overwrite || fs::is_empty(final_, ec), Io,
                    "output directory '" + final_path +
                        "' exists and is not empty (pass --overwrite to replace it)");
    }
    const fs::path parent = final_.parent_path();
    fs::create_directories(parent, ec);
    CVG_REQUIRE(!ec, Io, "cannot create '" + parent.string() + "': " + ec.message());
    std::string pattern = (parent / ("." + final_.filename().string() + ".tmp-XXXXXX")).string();
    CVG_REQUIRE(::mkdtemp(pattern.data()) != nullptr, Io,
                "cannot create a temporary directory next to '" + final_path +
                    "': " + std::strerror(errno));
    staging_ = pattern;
    // mkdtemp makes the directory 0700; the result should get the mode any
    // new directory gets (0777 minus the umask).
    fs::permissions(staging_, fs::perms(0777 & ~current_umask()), ec);
}

StagedDirectory::~StagedDirectory() {
    if (!committed_) {
        std::error_code ec;
        fs::remove_all(staging_, ec);
    }
}

void StagedDirectory::commit() {
    std::error_code ec;
    if (fs::exists(final_, ec)) {
        // Move the old directory aside first so that a failing rename leaves
        // the previous result intact.
        const fs::path old = final_.string() + ".old-" + std::to_string(::getpid());
        fs::rename(final_, old, ec);
        CVG_REQUIRE(!ec, Io, "cannot replace '" + final_.string() + "': " + ec.message());
        fs::rename(staging_, final_, ec);
        if (ec) {
            fs::rename(old, final_);
            fail(ErrorCode::Io, "cannot move the result to '" + final_.string() + "': " + ec.message());
        }
        fs::remove_all(old, ec);
    } else {
        fs::rename(staging_, final_, ec);
        CVG_REQUIRE(!ec, Io, "cannot move the result to '" + final_.string() + "': " + ec.message());
    }
    committed_ = true;
}

}  // namespace convergent
