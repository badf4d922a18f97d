// Private pieces shared by npy.cpp (plain .npy files) and npz.cpp (.npz
// members): the read-only file mapping and the NpyArray that reads from
// mapped memory. The format helpers (header_end, convert_to_float, ...) come
// from npy_format_internal.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "convergent/npy.hpp"
#include "npy_format_internal.hpp"

namespace convergent {
namespace npy_detail {

// A whole file mapped read-only (PROT_READ, MAP_PRIVATE). The mapping only
// reserves address space: pages are read on demand and can be dropped by the
// kernel again, so a file bigger than RAM can be read front to back.
class MappedFile {
public:
    // Throws Io naming `path` when it cannot be opened, stat'ed or mapped.
    explicit MappedFile(const std::string& path);
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    const std::uint8_t* data() const { return data_; }
    std::uint64_t size() const { return size_; }
    const std::string& path() const { return path_; }
    // Copies bytes [offset, offset + bytes) of the file into out with
    // pread(), without touching the mapping; Error(Io) naming the file when
    // it ends early (truncated since it was opened) or cannot be read.
    void read_bytes(std::uint64_t offset, std::uint64_t bytes, void* out) const;
    // Drops the pages of [begin, end) (byte offsets, rounded inwards to
    // whole pages) from this process's memory: a later read faults them in
    // again from the file. Keeps the resident size of a long sequential
    // read flat instead of growing with the file.
    void release(std::uint64_t begin, std::uint64_t end) const;

private:
    std::string path_;
    int fd_ = -1;  // kept open for read_bytes
    const std::uint8_t* data_ = nullptr;
    std::uint64_t size_ = 0;
};

// "file 'nets/a.npz', array 'conv1'".
std::string describe(const std::string& path, const std::string& array_name);

// An array whose data lies in a mapped file at header.data_offset + base.
class MappedNpyArray final : public NpyArray {
public:
    MappedNpyArray(std::shared_ptr<const MappedFile> file, std::uint64_t base, NpyHeader header,
                   std::string what)
        : file_(std::move(file)), base_(base), header_(std::move(header)), what_(std::move(what)) {}

    const NpyHeader& header() const override { return header_; }
    const std::string& what() const override { return what_; }
    void read_elements(index_t first, index_t count, float* out) const override;

    // read_elements for a float32 array in host byte order, with pread()
    // straight into out instead of through the mapping; false (nothing
    // read) for other arrays. On the paravirtualised VMs this project runs
    // on, the first touch of every 4 KiB page of a mapping costs
    // microseconds even when it is in the page cache and already mapped, so
    // a pass that reads each byte once is about twice as fast through pread
    // into a reused buffer on huge pages (docs/benchmarks.md, "Statistics").
    bool read_float32(index_t first, index_t count, float* out) const;

private:
    // Releases the pages behind `begin` (byte offset in the file) once the
    // reads have moved kReleaseBytes past the last release.
    void release_behind(std::uint64_t begin) const;

    std::shared_ptr<const MappedFile> file_;
    std::uint64_t base_;  // offset of the .npy stream inside the file (non-zero for .npz members)
    NpyHeader header_;
    std::string what_;
    // Bytes of the file before this offset that reads have moved past and
    // whose pages were released (sequential reads release behind them).
    mutable std::uint64_t released_ = 0;
};

// Parses the .npy header of a stream of `stream_bytes` bytes that starts at
// `base` inside `file`, and returns an array reading from the mapping.
std::unique_ptr<NpyArray> open_mapped(std::shared_ptr<const MappedFile> file, std::uint64_t base,
                                      std::uint64_t stream_bytes, const std::string& what);

}  // namespace npy_detail
}  // namespace convergent
