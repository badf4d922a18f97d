// NumPy .npy files: memory-mapped reading and writing. The format itself
// (header parsing, dtype conversion) lives in npy_format.cpp.
#include "npy_internal.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace convergent {

namespace {

constexpr bool kHostBigEndian = __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__;
constexpr std::size_t kArrayAlign = 64;  // numpy's ARRAY_ALIGN for the data offset

}  // namespace

namespace npy_detail {

std::string describe(const std::string& path, const std::string& array_name) {
    return "file '" + path + "', array '" + array_name + "'";
}

// ---- MappedFile ---------------------------------------------------------------

MappedFile::MappedFile(const std::string& path) : path_(path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail(ErrorCode::Io, "cannot open '" + path + "': " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        const int err = errno;
        ::close(fd);
        fail(ErrorCode::Io, "cannot stat '" + path + "': " + std::strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        fail(ErrorCode::Io, "'" + path + "' is not a regular file");
    }
    size_ = std::uint64_t(st.st_size);
    if (size_ > 0) {
        void* p = ::mmap(nullptr, std::size_t(size_), PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            const int err = errno;
            ::close(fd);
            fail(ErrorCode::Io, "cannot memory-map '" + path + "' (" + std::to_string(size_) +
                                    " bytes): " + std::strerror(err));
        }
        data_ = static_cast<const std::uint8_t*>(p);
    }
    fd_ = fd;
}

MappedFile::~MappedFile() {
    if (data_) ::munmap(const_cast<std::uint8_t*>(data_), std::size_t(size_));
    if (fd_ >= 0) ::close(fd_);
}

void MappedFile::read_bytes(std::uint64_t offset, std::uint64_t bytes, void* out) const {
    auto* dst = static_cast<std::uint8_t*>(out);
    while (bytes > 0) {
        const std::size_t n = std::size_t(std::min<std::uint64_t>(bytes, std::uint64_t(1) << 30));
        const ssize_t got = ::pread(fd_, dst, n, off_t(offset));
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) fail(ErrorCode::Io, "cannot read '" + path_ + "': " + std::strerror(errno));
        if (got == 0)
            fail(ErrorCode::Io, "'" + path_ + "' ended at byte " + std::to_string(offset) + " while " +
                                    std::to_string(bytes) + " more bytes were being read: the file was truncated "
                                    "after it was opened");
        dst += got;
        offset += std::uint64_t(got);
        bytes -= std::uint64_t(got);
    }
}

void MappedFile::release(std::uint64_t begin, std::uint64_t end) const {
    static const std::uint64_t page = std::uint64_t(::sysconf(_SC_PAGESIZE));
    begin = (begin + page - 1) / page * page;
    end = std::min(end, size_) / page * page;
    if (data_ && end > begin)  // advice only: a failure changes nothing but the resident size
        ::madvise(const_cast<std::uint8_t*>(data_) + begin, std::size_t(end - begin), MADV_DONTNEED);
}

// ---- MappedNpyArray ---------------------------------------------------------------

// Released in steps of this many bytes behind a sequential reader (the
// resident part of an input stays within about this size).
constexpr std::uint64_t kReleaseBytes = std::uint64_t(8) << 20;

void MappedNpyArray::read_elements(index_t first, index_t count, float* out) const {
    // float32 in this machine's byte order needs no conversion: read with
    // pread() instead of copying from the mapping, whose first touch of
    // every 4 KiB page is a fault (microseconds each on the paravirtualised
    // VMs this runs on, even for pages in the page cache: a 245 MB input
    // cost about a second of system time).
    if (read_float32(first, count, out)) return;
    check_range(header_, first, count, what_);
    if (count == 0) return;
    const std::uint64_t begin =
        base_ + header_.data_offset + std::uint64_t(first) * std::uint64_t(header_.element_size());
    convert_to_float(file_->data() + begin, count, header_, out);
    release_behind(begin);
}

void MappedNpyArray::release_behind(std::uint64_t begin) const {
    // The pages before this read are done with when reads move forward
    // (every pass over a layer does): give them back, so the resident
    // memory of a pass does not grow with the number of samples.
    if (begin < released_) {
        released_ = begin;  // a read went back: release from here on later
    } else if (begin - released_ >= kReleaseBytes) {
        file_->release(std::max(released_, base_), begin);
        released_ = begin;
    }
}

bool MappedNpyArray::read_float32(index_t first, index_t count, float* out) const {
    check_range(header_, first, count, what_);
    if (header_.dtype != NpyDtype::Float32 || header_.big_endian != kHostBigEndian) return false;
    if (count == 0) return true;
    const std::uint64_t begin =
        base_ + header_.data_offset + std::uint64_t(first) * std::uint64_t(header_.element_size());
    file_->read_bytes(begin, std::uint64_t(count) * 4, out);
    return true;
}

std::unique_ptr<NpyArray> open_mapped(std::shared_ptr<const MappedFile> file, std::uint64_t base,
                                      std::uint64_t stream_bytes, const std::string& what) {
    CVG_REQUIRE(base <= file->size() && stream_bytes <= file->size() - base, Internal,
                what + ": stream range outside the mapped file");
    const std::uint8_t* p = file->data() ? file->data() + base : nullptr;
    static const std::uint8_t empty = 0;
    NpyHeader header = parse_npy_header(p ? p : &empty, std::size_t(stream_bytes), stream_bytes, what);
    return std::make_unique<MappedNpyArray>(std::move(file), base, std::move(header), what);
}

}  // namespace npy_detail

// ---- public API -------------------------------------------------------------------

std::unique_ptr<NpyArray> open_npy(const std::string& path, const std::string& array_name) {
    auto file = std::make_shared<const npy_detail::MappedFile>(path);
    const std::uint64_t size = file->size();
    return npy_detail::open_mapped(std::move(file), 0, size, npy_detail::describe(path, array_name));
}

namespace {

template <typename T>
void write_npy_impl(const std::string& path, const T* data, const std::vector<index_t>& shape, char kind) {
    index_t count = 1;
    for (index_t d : shape) {
        CVG_REQUIRE(d >= 0, InvalidArgument,
                    "write_npy '" + path + "': negative dimension in shape " + npy_detail::shape_string(shape));
        CVG_REQUIRE(!__builtin_mul_overflow(count, d, &count), InvalidArgument,
                    "write_npy '" + path + "': shape " + npy_detail::shape_string(shape) +
                        " overflows the element count");
    }
    CVG_REQUIRE(count == 0 || data != nullptr, InvalidArgument, "write_npy '" + path + "': data is NULL");
    std::string dict = std::string("{'descr': '") + (kHostBigEndian ? '>' : '<') + kind + std::to_string(sizeof(T)) +
                       "', 'fortran_order': False, 'shape': " + npy_detail::shape_string(shape) + ", }";
    // Pad with spaces and end with '\n' so that the data starts on a
    // 64-byte boundary (numpy's ARRAY_ALIGN), as numpy itself writes.
    const std::size_t unpadded = 10 + dict.size() + 1;
    dict.append((kArrayAlign - unpadded % kArrayAlign) % kArrayAlign, ' ');
    dict += '\n';
    CVG_REQUIRE(dict.size() <= 65535, InvalidArgument,
                "write_npy '" + path + "': header too long for .npy version 1.0");
    std::string head = "\x93NUMPY";
    head += char(1);
    head += char(0);
    head += char(dict.size() & 0xff);
    head += char((dict.size() >> 8) & 0xff);
    head += dict;

    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) fail(ErrorCode::Io, "cannot write '" + path + "': " + std::strerror(errno));
    errno = 0;
    bool ok = std::fwrite(head.data(), 1, head.size(), f) == head.size();
    const std::uint8_t* bytes = reinterpret_cast<const std::uint8_t*>(data);
    std::uint64_t left = std::uint64_t(count) * sizeof(T);
    while (ok && left > 0) {
        const std::size_t chunk = std::size_t(std::min<std::uint64_t>(left, std::uint64_t(1) << 26));
        ok = std::fwrite(bytes, 1, chunk, f) == chunk;
        bytes += chunk;
        left -= chunk;
    }
    int write_errno = errno;
    if (std::fclose(f) != 0 && ok) {
        ok = false;
        write_errno = errno;
    }
    if (!ok)
        fail(ErrorCode::Io, "cannot write '" + path + "': " + (write_errno ? std::strerror(write_errno) : "short write"));
}

}  // namespace

void write_npy(const std::string& path, const float* data, const std::vector<index_t>& shape) {
    write_npy_impl(path, data, shape, 'f');
}
void write_npy(const std::string& path, const double* data, const std::vector<index_t>& shape) {
    write_npy_impl(path, data, shape, 'f');
}
void write_npy(const std::string& path, const std::int64_t* data, const std::vector<index_t>& shape) {
    write_npy_impl(path, data, shape, 'i');
}

}  // namespace convergent
