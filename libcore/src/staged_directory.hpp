// An output directory that appears only when complete: everything is written
// into a temporary sibling directory ".<name>.tmp-<pid>-<random>" that is
// renamed onto the final path by commit(). If commit() is never reached (an
// exception), the temporary directory is removed, so no half-written output
// is left behind; temporary siblings left by a crashed run (kill -9) are
// removed by the next StagedDirectory for the same path (see
// temporary_sibling.hpp).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace convergent {

class StagedDirectory {
public:
    // Throws Io when final_path exists and is non-empty and !overwrite, or
    // when the parent directory is not writable. Throws InvalidArgument,
    // before touching anything, when final_path is one of inputs, lies
    // inside one of them or contains one (paths compared after resolving
    // links): writing there, and --overwrite above all, would destroy the
    // input.
    StagedDirectory(const std::string& final_path, bool overwrite, const std::vector<std::string>& inputs = {});
    ~StagedDirectory();
    StagedDirectory(const StagedDirectory&) = delete;
    StagedDirectory& operator=(const StagedDirectory&) = delete;

    const std::filesystem::path& path() const { return staging_; }
    // Moves the result onto the final path. An existing directory (overwrite)
    // is swapped with the result in one step (renameat2 RENAME_EXCHANGE), so
    // at every moment the final path holds the old or the new result; where
    // the file system cannot exchange, it is moved aside first.
    void commit();

private:
    std::filesystem::path final_, staging_;
    int lock_fd_ = -1;  // the staging directory, flock'ed while it is ours
    bool committed_ = false;
};

}  // namespace convergent
