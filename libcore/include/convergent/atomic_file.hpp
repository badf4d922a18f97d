// A file that appears only when complete (the output rule of every
// convergent writer: no half-written output). Data goes to a temporary
// sibling ".<name>.tmp-<pid>-<random>", created exclusively (mkstemp: a
// link or file planted under that name is never opened) with the mode a new
// file gets (0666 minus the umask); commit() flushes and closes it, checks
// that every byte was written and renames it onto the path. If commit() is
// never reached (an exception) or fails, the temporary file is removed.
// Temporary siblings of the same path left behind by a crashed process are
// removed when the next AtomicFile for that path is created.
//
// A write beyond the file size limit (`ulimit -f`) fails with EFBIG only when
// SIGXFSZ is ignored (the `convergent` command does); otherwise the signal
// kills the process before any error can be reported.
#pragma once

#include <ostream>
#include <streambuf>
#include <string>
#include <vector>

namespace convergent {

class AtomicFile {
public:
    // Throws Error(Io) when the temporary file cannot be created; the message
    // names the path and the system's reason.
    explicit AtomicFile(const std::string& path);
    ~AtomicFile();
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;

    std::ostream& stream() { return stream_; }
    const std::string& path() const { return path_; }
    // Throws Error(Io) when a write failed (disk full, file size limit) or
    // the rename fails, naming the path and the system's reason; the
    // temporary file is gone either way.
    void commit();

private:
    // A buffered streambuf over a file descriptor that keeps the errno of
    // the first failed write.
    class DescriptorBuffer : public std::streambuf {
    public:
        DescriptorBuffer();
        void attach(int fd) { fd_ = fd; }
        int error() const { return error_; }

    protected:
        int_type overflow(int_type c) override;
        std::streamsize xsputn(const char* data, std::streamsize size) override;
        int sync() override;

    private:
        bool write_all(const char* data, size_t size);
        bool drain();
        std::vector<char> buffer_;
        int fd_ = -1;
        int error_ = 0;
    };

    void discard() noexcept;

    std::string path_, temp_;
    int fd_ = -1;
    DescriptorBuffer buffer_;
    std::ostream stream_;
    bool committed_ = false;
};

// Writes text to path through an AtomicFile.
void write_text_file(const std::string& path, const std::string& text);

}  // namespace convergent
