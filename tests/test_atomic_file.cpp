#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "convergent/atomic_file.hpp"
#include "convergent/error.hpp"
#include "fs_test_support.hpp"

namespace fs = std::filesystem;
using convergent::AtomicFile;

namespace {
using convergent_test::fresh_dir;
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

// --- hostile or failing file systems ------------------------------------------

namespace {
std::string read_all(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

// A pid that no longer exists: a child that has exited and been reaped.
pid_t dead_pid() {
    const pid_t child = ::fork();
    if (child == 0) ::_exit(0);
    ::waitpid(child, nullptr, 0);
    return child;
}

std::vector<std::string> temporaries_in(const fs::path& dir) {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.path().filename().string().find(".tmp-") != std::string::npos) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}
}  // namespace

// The temporary name used to be ".<name>.tmp-<pid>-<counter>", opened with
// O_TRUNC and no O_EXCL/O_NOFOLLOW: a link planted under that name made the
// writer overwrite the link's target.
TEST(AtomicFile, PlantedLinksAtTemporaryNamesAreNeverFollowed) {
    const fs::path dir = fresh_dir("convergent_atomic_planted");
    const fs::path victim = dir / "victim.txt";
    { std::ofstream(victim) << "precious"; }
    const fs::path target = dir / "out.txt";
    const std::string pid = std::to_string(::getpid());
    for (int n = 0; n < 2000; ++n)
        fs::create_symlink(victim, dir / (".out.txt.tmp-" + pid + "-" + std::to_string(n)));
    convergent::write_text_file(target.string(), "new content");
    EXPECT_EQ(read_all(victim), "precious");
    EXPECT_FALSE(fs::is_symlink(target));
    EXPECT_EQ(read_all(target), "new content");
    fs::remove_all(dir);
}

TEST(AtomicFile, ModeFollowsTheUmask) {
    const fs::path dir = fresh_dir("convergent_atomic_mode");
    const mode_t previous = ::umask(027);
    convergent::write_text_file((dir / "a.txt").string(), "x");
    ::umask(002);
    convergent::write_text_file((dir / "b.txt").string(), "x");
    ::umask(previous);
    EXPECT_EQ(int(fs::status(dir / "a.txt").permissions() & fs::perms::all), 0640);
    EXPECT_EQ(int(fs::status(dir / "b.txt").permissions() & fs::perms::all), 0664);
    fs::remove_all(dir);
}

// A process killed mid-write (here: _exit without commit, like kill -9) leaves
// its temporary behind; the next writer of the same path removes it, but not
// the temporary of a process that is still running or still holds its lock.
TEST(AtomicFile, TemporariesOfCrashedWritersAreRemovedByTheNextWrite) {
    const fs::path dir = fresh_dir("convergent_atomic_stale");
    const fs::path target = dir / "out.txt";
    const pid_t crashed = ::fork();
    if (crashed == 0) {
        auto* file = new AtomicFile(target.string());  // never destroyed: no cleanup runs
        file->stream() << "half" << std::flush;
        ::_exit(0);
    }
    ::waitpid(crashed, nullptr, 0);
    ASSERT_EQ(temporaries_in(dir).size(), 1u) << "the crashed writer left no temporary";
    // A temporary of a running process (a sleeping child) and one whose pid is
    // gone but whose lock is still held (another pid namespace, say).
    const pid_t running = ::fork();
    if (running == 0) {
        ::pause();
        ::_exit(0);
    }
    const std::string live_name = ".out.txt.tmp-" + std::to_string(running) + "-abcdef";
    const std::string locked_name = ".out.txt.tmp-" + std::to_string(dead_pid()) + "-ghijkl";
    { std::ofstream(dir / live_name) << "in use"; }
    { std::ofstream(dir / locked_name) << "in use"; }
    const int lock = ::open((dir / locked_name).c_str(), O_RDONLY);
    ASSERT_EQ(::flock(lock, LOCK_EX | LOCK_NB), 0);

    convergent::write_text_file(target.string(), "done");
    ::kill(running, SIGKILL);
    ::waitpid(running, nullptr, 0);
    ::close(lock);
    EXPECT_EQ(read_all(target), "done");
    std::vector<std::string> expected{live_name, locked_name};
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(temporaries_in(dir), expected);
    fs::remove_all(dir);
}

// With SIGXFSZ ignored (as the `convergent` command does), a write beyond the
// file size limit is an error naming the file and the reason, and leaves
// nothing behind. Runs in a child: the limit is process-wide.
TEST(AtomicFile, FileSizeLimitIsACleanErrorWithReason) {
    const fs::path dir = fresh_dir("convergent_atomic_fsize");
    const fs::path target = dir / "big.bin";
    int pipe_fds[2];
    ASSERT_EQ(::pipe(pipe_fds), 0);
    const pid_t child = ::fork();
    if (child == 0) {
        ::close(pipe_fds[0]);
        std::signal(SIGXFSZ, SIG_IGN);
        const rlimit limit{100000, 100000};
        ::setrlimit(RLIMIT_FSIZE, &limit);
        std::string message = "no error";
        try {
            AtomicFile file(target.string());
            const std::string block(1 << 16, 'x');
            for (int i = 0; i < 8; ++i) file.stream() << block;
            file.commit();
        } catch (const convergent::Error& e) {
            message = e.what();
        }
        (void)!::write(pipe_fds[1], message.data(), message.size());
        ::_exit(0);
    }
    ::close(pipe_fds[1]);
    std::string message;
    char buffer[512];
    for (ssize_t n; (n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0;) message.append(buffer, size_t(n));
    ::close(pipe_fds[0]);
    int status = 0;
    ::waitpid(child, &status, 0);
    ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status);
    EXPECT_NE(message.find(target.string()), std::string::npos) << message;
    EXPECT_NE(message.find(std::strerror(EFBIG)), std::string::npos) << message;
    EXPECT_EQ(entries(dir), 0u);
    fs::remove_all(dir);
}
