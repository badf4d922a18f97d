#include "temporary_sibling.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <system_error>
#include <vector>

namespace fs = std::filesystem;

namespace convergent::detail {

std::string temporary_prefix(const std::string& name) {
    return "." + name + ".tmp-" + std::to_string(::getpid()) + "-";
}

namespace {

// The pid in "<prefix><pid>-<suffix>", or -1 when entry is not one of ours.
long pid_of_temporary(const std::string& entry, const std::string& prefix) {
    if (entry.compare(0, prefix.size(), prefix) != 0) return -1;
    size_t i = prefix.size();
    long pid = 0;
    const size_t first_digit = i;
    while (i < entry.size() && entry[i] >= '0' && entry[i] <= '9' && i - first_digit < 10)
        pid = pid * 10 + (entry[i++] - '0');
    if (i == first_digit || i + 1 >= entry.size() || entry[i] != '-' || pid <= 0) return -1;
    return pid;
}

bool process_is_gone(long pid) { return ::kill(pid_t(pid), 0) == -1 && errno == ESRCH; }

}  // namespace

void remove_stale_temporaries(const fs::path& dir, const std::string& name) {
    const std::string prefix = "." + name + ".tmp-";
    const long own_pid = ::getpid();
    const int dir_fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0) return;
    std::vector<std::string> stale;
    if (DIR* listing = ::fdopendir(::dup(dir_fd))) {
        while (const dirent* entry = ::readdir(listing)) {
            const long pid = pid_of_temporary(entry->d_name, prefix);
            if (pid > 0 && pid != own_pid && process_is_gone(pid)) stale.push_back(entry->d_name);
        }
        ::closedir(listing);
    }
    for (const std::string& entry : stale) {
        // Never follow a link planted under our naming scheme.
        const int fd = ::openat(dir_fd, entry.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) continue;
        struct stat opened {}, named {};
        // The lock proves that no process (in any pid namespace) still holds it.
        const bool unused = ::flock(fd, LOCK_EX | LOCK_NB) == 0 && ::fstat(fd, &opened) == 0 &&
                            ::fstatat(dir_fd, entry.c_str(), &named, AT_SYMLINK_NOFOLLOW) == 0 &&
                            opened.st_dev == named.st_dev && opened.st_ino == named.st_ino;
        if (unused) {
            if (S_ISDIR(opened.st_mode)) {
                std::error_code ec;
                fs::remove_all(dir / entry, ec);
            } else if (S_ISREG(opened.st_mode)) {
                ::unlinkat(dir_fd, entry.c_str(), 0);
            }
        }
        ::close(fd);
    }
    ::close(dir_fd);
}

unsigned current_umask() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("Umask:", 0) == 0) return unsigned(std::stoul(line.substr(6), nullptr, 8));
    return 022;
}

std::string error_text(int error) { return std::strerror(error); }

}  // namespace convergent::detail
