// An output directory that appears only when complete: everything is written
// into a temporary sibling directory that is renamed onto the final path by
// commit(). If commit() is never reached (an exception), the temporary
// directory is removed, so no half-written output is left behind.
#pragma once

#include <filesystem>
#include <string>

namespace convergent {

class StagedDirectory {
public:
    // Throws Io when final_path exists and is non-empty and !overwrite, or
    // when the parent directory is not writable.
    StagedDirectory(const std::string& final_path, bool overwrite);
    ~StagedDirectory();
    StagedDirectory(const StagedDirectory&) = delete;
    StagedDirectory& operator=(const StagedDirectory&) = delete;

    const std::filesystem::path& path() const { return staging_; }
    void commit();

private:
    std::filesystem::path final_, staging_;
    bool overwrite_ = false;
    bool committed_ = false;
};

}  // namespace convergent
