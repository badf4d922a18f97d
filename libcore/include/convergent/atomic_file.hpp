// A file that appears only when complete (the output rule of every
// convergent writer: no half-written output). Data goes to a temporary
// sibling ".<name>.tmp-<pid>-<n>"; commit() closes it, checks that every byte
// reached the disk, and renames it onto the path. If commit() is never
// reached (an exception) or fails, the temporary file is removed.
#pragma once

#include <fstream>
#include <string>

namespace convergent {

class AtomicFile {
public:
    // Throws Error(Io) when the temporary file cannot be created.
    explicit AtomicFile(const std::string& path);
    ~AtomicFile();
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;

    std::ostream& stream() { return out_; }
    const std::string& path() const { return path_; }
    // Throws Error(Io) when a write failed (disk full, file size limit) or
    // the rename fails; the temporary file is gone either way.
    void commit();

private:
    std::string path_, temp_;
    std::ofstream out_;
    bool committed_ = false;
};

// Writes text to path through an AtomicFile.
void write_text_file(const std::string& path, const std::string& text);

}  // namespace convergent
