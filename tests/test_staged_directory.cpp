// StagedDirectory (libcore/src/staged_directory.hpp): the output directory of
// `convergent compare` appears complete or not at all, an --overwrite swap
// never leaves the path empty, crashed runs are cleaned up, and the output can
// never be one of the inputs.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "convergent/error.hpp"
#include "fs_test_support.hpp"
#include "staged_directory.hpp"

namespace fs = std::filesystem;
using convergent::StagedDirectory;

namespace {
using convergent_test::fresh_dir;

std::string read_all(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<std::string> names_in(const fs::path& dir) {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

void write(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }

pid_t dead_pid() {
    const pid_t child = ::fork();
    if (child == 0) ::_exit(0);
    ::waitpid(child, nullptr, 0);
    return child;
}

convergent::ErrorCode code_of(const std::string& out, bool overwrite, const std::vector<std::string>& inputs,
                              std::string* message = nullptr) {
    try {
        StagedDirectory staged(out, overwrite, inputs);
    } catch (const convergent::Error& e) {
        if (message) *message = e.what();
        return e.code();
    }
    return convergent::ErrorCode(0);
}
}  // namespace

TEST(StagedDirectory, AppearsOnlyOnCommitAndGetsTheUmaskMode) {
    const fs::path dir = fresh_dir("convergent_staged_commit");
    const fs::path out = dir / "out";
    const mode_t previous = ::umask(027);
    {
        StagedDirectory staged(out.string(), false);
        write(staged.path() / "a.txt", "a");
        EXPECT_FALSE(fs::exists(out));
        staged.commit();
    }
    ::umask(previous);
    EXPECT_EQ(read_all(out / "a.txt"), "a");
    EXPECT_EQ(int(fs::status(out).permissions() & fs::perms::all), 0750);
    EXPECT_EQ(names_in(dir), std::vector<std::string>{"out"});
    {
        StagedDirectory abandoned(out.string(), true);
        write(abandoned.path() / "b.txt", "b");
    }
    EXPECT_EQ(names_in(dir), std::vector<std::string>{"out"});
    EXPECT_EQ(names_in(out), std::vector<std::string>{"a.txt"});
    fs::remove_all(dir);
}

// --overwrite used to rename the old result aside and then the new one into
// place: in between (a kill there leaves no output at all) the path did not
// exist. With RENAME_EXCHANGE a watcher never sees it missing.
TEST(StagedDirectory, OverwriteSwapNeverLeavesThePathMissing) {
    const fs::path dir = fresh_dir("convergent_staged_swap");
    const fs::path out = dir / "out";
    fs::create_directories(out);
    write(out / "result.txt", "0");
    std::atomic<bool> done{false};
    std::atomic<long> missing{0}, looks{0};
    std::thread watcher([&] {
        struct stat info {};
        while (!done.load()) {
            if (::lstat(out.c_str(), &info) != 0) ++missing;
            ++looks;
        }
    });
    const int rounds = 400;
    for (int i = 1; i <= rounds; ++i) {
        StagedDirectory staged(out.string(), true);
        write(staged.path() / "result.txt", std::to_string(i));
        staged.commit();
    }
    done = true;
    watcher.join();
    EXPECT_EQ(missing.load(), 0) << "the output directory was missing " << missing << " times out of " << looks;
    EXPECT_EQ(read_all(out / "result.txt"), std::to_string(rounds));
    EXPECT_EQ(names_in(dir), std::vector<std::string>{"out"});  // the old results are gone
    fs::remove_all(dir);
}

// A run killed mid-way (here: _exit without commit, like kill -9) leaves its
// staging directory; the next run into the same output removes it, but never
// the staging directory of a run still in progress.
TEST(StagedDirectory, StagingDirectoriesOfCrashedRunsAreRemovedByTheNextRun) {
    const fs::path dir = fresh_dir("convergent_staged_stale");
    const fs::path out = dir / "out";
    const pid_t crashed = ::fork();
    if (crashed == 0) {
        auto* staged = new StagedDirectory(out.string(), false);  // never destroyed
        fs::create_directories(staged->path() / "conv1");
        write(staged->path() / "conv1" / "x.npy", "half");
        ::_exit(0);
    }
    ::waitpid(crashed, nullptr, 0);
    ASSERT_EQ(names_in(dir).size(), 1u) << "the crashed run left no staging directory";
    const pid_t running = ::fork();
    if (running == 0) {
        ::pause();
        ::_exit(0);
    }
    const std::string live = ".out.tmp-" + std::to_string(running) + "-abcdef";
    fs::create_directories(dir / live);
    write(dir / live / "x.npy", "in progress");
    // Same prefix, different output name: not ours to judge.
    const std::string other = ".out2.tmp-" + std::to_string(dead_pid()) + "-abcdef";
    fs::create_directories(dir / other);
    {
        StagedDirectory staged(out.string(), false);
        write(staged.path() / "a.txt", "a");
        staged.commit();
    }
    ::kill(running, SIGKILL);
    ::waitpid(running, nullptr, 0);
    std::vector<std::string> expected{live, other, "out"};
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(names_in(dir), expected);
    EXPECT_EQ(read_all(dir / live / "x.npy"), "in progress");
    fs::remove_all(dir);
}

// --out naming an input (or a directory holding one, or a directory inside
// one) is refused before anything is created: --overwrite would delete it.
TEST(StagedDirectory, RefusesAnOutputThatIsContainsOrIsInsideAnInput) {
    const fs::path dir = fresh_dir("convergent_staged_inputs");
    fs::create_directories(dir / "nets" / "net1");
    write(dir / "nets" / "net1" / "fc.npy", "net1");
    write(dir / "nets" / "net2.npz", "net2");
    fs::create_directory_symlink(dir / "nets" / "net1", dir / "alias");
    const std::vector<std::string> inputs{(dir / "nets" / "net1").string(), (dir / "nets" / "net2.npz").string()};
    const auto before = names_in(dir);
    std::string message;
    using convergent::ErrorCode;
    EXPECT_EQ(code_of((dir / "nets" / "net1").string(), true, inputs, &message), ErrorCode::InvalidArgument);
    EXPECT_NE(message.find("net1"), std::string::npos) << message;
    EXPECT_EQ(code_of((dir / "nets" / "net1" / "").string(), true, inputs), ErrorCode::InvalidArgument);
    EXPECT_EQ(code_of((dir / "nets" / "." / "net1").string(), true, inputs), ErrorCode::InvalidArgument);
    EXPECT_EQ(code_of((dir / "alias").string(), true, inputs), ErrorCode::InvalidArgument);  // a link to it
    EXPECT_EQ(code_of((dir / "nets" / "net2.npz").string(), true, inputs), ErrorCode::InvalidArgument);
    EXPECT_EQ(code_of((dir / "nets").string(), true, inputs, &message), ErrorCode::InvalidArgument);  // holds both
    EXPECT_NE(message.find("contains"), std::string::npos) << message;
    EXPECT_EQ(code_of(dir.string(), true, inputs), ErrorCode::InvalidArgument);
    EXPECT_EQ(code_of((dir / "nets" / "net1" / "results").string(), false, inputs, &message),
              ErrorCode::InvalidArgument);
    EXPECT_NE(message.find("inside"), std::string::npos) << message;
    EXPECT_EQ(code_of((dir / "alias" / "results").string(), false, inputs), ErrorCode::InvalidArgument);
    // Nothing was created or removed by the refusals.
    EXPECT_EQ(names_in(dir), before);
    EXPECT_EQ(names_in(dir / "nets" / "net1"), std::vector<std::string>{"fc.npy"});
    EXPECT_EQ(read_all(dir / "nets" / "net2.npz"), "net2");
    // Siblings and names sharing a prefix are fine.
    EXPECT_EQ(code_of((dir / "nets" / "net1-results").string(), false, inputs), ErrorCode(0));
    EXPECT_EQ(code_of((dir / "results").string(), false, inputs), ErrorCode(0));
    fs::remove_all(dir);
}
