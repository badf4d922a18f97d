#include "staged_directory.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <system_error>

#include "convergent/error.hpp"
#include "temporary_sibling.hpp"

namespace fs = std::filesystem;

namespace convergent {

namespace {

using detail::error_text;

// Whether ancestor is path or one of its parents (both canonical).
bool contains(const fs::path& ancestor, const fs::path& path) {
    auto a = ancestor.begin(), p = path.begin();
    for (; a != ancestor.end(); ++a, ++p) {
        if (a->empty() && std::next(a) == ancestor.end()) break;  // trailing separator
        if (p == path.end() || *a != *p) return false;
    }
    return true;
}

fs::path resolved(const fs::path& p) {
    std::error_code ec;
    fs::path r = fs::weakly_canonical(fs::absolute(p), ec);
    if (ec) r = fs::absolute(p).lexically_normal();
    if (r.filename().empty() && r.has_parent_path() && r != r.root_path()) r = r.parent_path();
    return r;
}

// Refuses an output that would overwrite, or be written into, an input.
void refuse_inputs(const std::string& out, const std::vector<std::string>& inputs) {
    const fs::path target = resolved(out);
    for (const std::string& input : inputs) {
        const fs::path source = resolved(input);
        if (target == source)
            fail(ErrorCode::InvalidArgument, "output directory '" + out + "' is the input '" + input + "'");
        if (contains(target, source))
            fail(ErrorCode::InvalidArgument, "output directory '" + out + "' contains the input '" + input +
                                                 "' (writing it would replace the input)");
        if (contains(source, target))
            fail(ErrorCode::InvalidArgument,
                 "output directory '" + out + "' is inside the input '" + input + "'");
    }
}

// renameat2(RENAME_EXCHANGE): swaps two existing paths atomically. Returns
// false with errno set where the kernel or the file system cannot.
bool exchange_paths(const fs::path& a, const fs::path& b) {
#if defined(SYS_renameat2)
    constexpr unsigned kRenameExchange = 1u << 1;  // RENAME_EXCHANGE in <linux/fs.h>
    return ::syscall(SYS_renameat2, AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), kRenameExchange) == 0;
#else
    (void)a;
    (void)b;
    errno = ENOSYS;
    return false;
#endif
}

}  // namespace

StagedDirectory::StagedDirectory(const std::string& final_path, bool overwrite, const std::vector<std::string>& inputs)
    : final_(fs::absolute(fs::path(final_path)).lexically_normal()) {
    if (final_.filename().empty()) final_ = final_.parent_path();
    refuse_inputs(final_path, inputs);
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
    const std::string name = final_.filename().string();
    detail::remove_stale_temporaries(parent, name);
    std::string pattern = (parent / (detail::temporary_prefix(name) + "XXXXXX")).string();
    if (::mkdtemp(pattern.data()) == nullptr) {
        const int error = errno;
        fail(ErrorCode::Io, "cannot create a temporary directory next to '" + final_path + "': " + error_text(error));
    }
    staging_ = pattern;
    lock_fd_ = ::open(staging_.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (lock_fd_ >= 0) ::flock(lock_fd_, LOCK_EX | LOCK_NB);
    // mkdtemp makes the directory 0700; the result should get the mode any
    // new directory gets (0777 minus the umask).
    fs::permissions(staging_, fs::perms(0777 & ~detail::current_umask()), ec);
}

StagedDirectory::~StagedDirectory() {
    if (!committed_) {
        std::error_code ec;
        fs::remove_all(staging_, ec);
    }
    if (lock_fd_ >= 0) ::close(lock_fd_);
}

void StagedDirectory::commit() {
    std::error_code ec;
    if (fs::exists(final_, ec)) {
        if (exchange_paths(staging_, final_)) {
            // staging_ now holds the previous result.
            fs::remove_all(staging_, ec);
            committed_ = true;
            return;
        }
        // No atomic exchange here (old kernel, some network file systems):
        // move the old directory aside first, onto an empty placeholder with
        // the temporary naming (so a crash leaves something the next run
        // removes), so that a failing rename leaves the previous result intact.
        std::string old = (final_.parent_path() / (detail::temporary_prefix(final_.filename().string()) + "XXXXXX")).string();
        if (::mkdtemp(old.data()) == nullptr) {
            const int error = errno;
            fail(ErrorCode::Io, "cannot replace '" + final_.string() + "': " + error_text(error));
        }
        fs::rename(final_, old, ec);
        if (ec) {
            const std::string why = ec.message();
            fs::remove(old, ec);
            fail(ErrorCode::Io, "cannot replace '" + final_.string() + "': " + why);
        }
        fs::rename(staging_, final_, ec);
        if (ec) {
            const std::string why = ec.message();
            fs::rename(old, final_, ec);
            fail(ErrorCode::Io, "cannot move the result to '" + final_.string() + "': " + why);
        }
        fs::remove_all(old, ec);
    } else {
        fs::rename(staging_, final_, ec);
        CVG_REQUIRE(!ec, Io, "cannot move the result to '" + final_.string() + "': " + ec.message());
    }
    committed_ = true;
}

}  // namespace convergent
