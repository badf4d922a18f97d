// NumPy .npz archives (zip files of .npy members) through libzip.
//
// Stored members are read in place: the archive is memory-mapped once and a
// member's .npy stream starts after its local file header (30 fixed bytes +
// name + extra field), whose offset comes from the central directory (zip64
// extra fields included). libzip does not expose that offset, so the central
// directory is walked here and cross-checked against libzip's entry names.
// Deflated members are streamed with zip_fread; other compression methods and
// encrypted members are refused.
//
// Integrity: like numpy.load (zipfile raises BadZipFile), every member's
// CRC-32 is checked against the central directory: stored members hash the
// mapped bytes lazily as they are first read (no copy), deflated members hash
// the decompressed stream. A deflated member may not claim more uncompressed
// bytes than deflate can produce from its compressed size, so a tiny forged
// archive cannot make the reader size buffers for gigabytes.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

#include "allocation.hpp"
#include "crc32.hpp"
#include "npy_internal.hpp"

namespace convergent {

namespace {

using npy_detail::MappedFile;

std::uint16_t le16(const std::uint8_t* p) { return std::uint16_t(p[0] | (p[1] << 8)); }
std::uint32_t le32(const std::uint8_t* p) {
    return std::uint32_t(p[0]) | (std::uint32_t(p[1]) << 8) | (std::uint32_t(p[2]) << 16) | (std::uint32_t(p[3]) << 24);
}
std::uint64_t le64(const std::uint8_t* p) { return std::uint64_t(le32(p)) | (std::uint64_t(le32(p + 4)) << 32); }

constexpr std::uint32_t kLocalHeaderSig = 0x04034b50;
constexpr std::uint32_t kCentralSig = 0x02014b50;
constexpr std::uint32_t kEndSig = 0x06054b50;
constexpr std::uint32_t kZip64EndSig = 0x06064b50;
constexpr std::uint32_t kZip64LocatorSig = 0x07064b50;

// Opens a libzip handle on the mapped archive (no second file descriptor,
// and the same bytes the mapping sees).
zip_t* open_zip(const MappedFile& file) {
    static const std::uint8_t empty = 0;
    zip_error_t error;
    zip_error_init(&error);
    zip_source_t* source =
        zip_source_buffer_create(file.data() ? file.data() : &empty, file.size(), 0, &error);
    if (!source) {
        std::string message = zip_error_strerror(&error);
        zip_error_fini(&error);
        fail(ErrorCode::Io, "cannot read '" + file.path() + "' as a zip archive: " + message);
    }
    zip_t* za = zip_open_from_source(source, ZIP_RDONLY, &error);
    if (!za) {
        zip_source_free(source);
        std::string message = zip_error_strerror(&error);
        zip_error_fini(&error);
        fail(ErrorCode::BadData, "'" + file.path() + "' is not a valid .npz (zip) archive: " + message);
    }
    zip_error_fini(&error);
    return za;
}

struct ZipCloser {
    void operator()(zip_t* za) const {
        if (za) zip_discard(za);
    }
};
using ZipHandle = std::unique_ptr<zip_t, ZipCloser>;
struct ZipFileCloser {
    void operator()(zip_file_t* file) const {
        if (file) zip_fclose(file);
    }
};
using ZipFileHandle = std::unique_ptr<zip_file_t, ZipFileCloser>;

// Raw central-directory facts for entry i (in directory order, which is
// libzip's index order).
struct CentralEntry {
    std::string raw_name;
    std::uint64_t local_header_offset = 0;
};

std::vector<CentralEntry> read_central_directory(const MappedFile& file) {
    const std::uint8_t* d = file.data();
    const std::uint64_t size = file.size();
    auto bad = [&](const std::string& problem) {
        fail(ErrorCode::BadData, "'" + file.path() + "': bad zip central directory: " + problem);
    };
    if (size < 22) bad("file too short");
    // End of central directory: 22 bytes + a comment of up to 65535 bytes.
    std::uint64_t eocd = size;
    const std::uint64_t lowest = size >= 22 + 65535 ? size - 22 - 65535 : 0;
    for (std::uint64_t p = size - 22 + 1; p-- > lowest;) {
        if (le32(d + p) == kEndSig && p + 22 + le16(d + p + 20) <= size) {
            eocd = p;
            break;
        }
    }
    if (eocd == size) bad("no end-of-central-directory record");
    std::uint64_t entries = le16(d + eocd + 10);
    std::uint64_t cd_size = le32(d + eocd + 12);
    std::uint64_t cd_offset = le32(d + eocd + 16);
    // Zip64: a locator just before the end record points at the zip64 end record.
    if (eocd >= 20 && le32(d + eocd - 20) == kZip64LocatorSig) {
        const std::uint64_t z64 = le64(d + eocd - 20 + 8);
        if (z64 > size || size - z64 < 56 || le32(d + z64) != kZip64EndSig) bad("bad zip64 end record");
        entries = le64(d + z64 + 32);
        cd_size = le64(d + z64 + 40);
        cd_offset = le64(d + z64 + 48);
    }
    if (cd_offset > size || cd_size > size - cd_offset) bad("central directory outside the file");
    if (entries > cd_size / 46) bad("more entries than the central directory can hold");

    std::vector<CentralEntry> out;
    out.reserve(std::size_t(entries));
    std::uint64_t p = cd_offset;
    const std::uint64_t end = cd_offset + cd_size;
    for (std::uint64_t i = 0; i < entries; ++i) {
        if (end - p < 46 || le32(d + p) != kCentralSig) bad("entry " + std::to_string(i) + " is malformed");
        const std::uint16_t name_len = le16(d + p + 28), extra_len = le16(d + p + 30), comment_len = le16(d + p + 32);
        if (end - p < 46ull + name_len + extra_len + comment_len) bad("entry " + std::to_string(i) + " overruns");
        CentralEntry e;
        e.raw_name.assign(reinterpret_cast<const char*>(d + p + 46), name_len);
        const std::uint32_t uncompressed32 = le32(d + p + 24), compressed32 = le32(d + p + 20);
        e.local_header_offset = le32(d + p + 42);
        if (e.local_header_offset == 0xffffffffu) {
            // Zip64 extended information (id 0x0001): only the fields whose
            // 32-bit value is 0xffffffff are present, in this order:
            // uncompressed size, compressed size, local header offset.
            const std::uint8_t* x = d + p + 46 + name_len;
            const std::uint8_t* x_end = x + extra_len;
            bool found = false;
            while (x_end - x >= 4) {
                const std::uint16_t id = le16(x), len = le16(x + 2);
                if (x_end - x - 4 < len) break;
                if (id == 0x0001) {
                    std::size_t skip = (uncompressed32 == 0xffffffffu ? 8 : 0) + (compressed32 == 0xffffffffu ? 8 : 0);
                    if (len < skip + 8) bad("entry " + std::to_string(i) + " has a short zip64 field");
                    e.local_header_offset = le64(x + 4 + skip);
                    found = true;
                    break;
                }
                x += 4 + len;
            }
            if (!found) bad("entry " + std::to_string(i) + " lacks its zip64 offset");
        }
        out.push_back(std::move(e));
        p += 46ull + name_len + extra_len + comment_len;
    }
    return out;
}

struct MemberInfo {
    zip_uint64_t index = 0;
    std::string member;           // name inside the zip, e.g. "conv1.npy"
    std::uint16_t method = 0;     // ZIP_CM_*
    std::uint16_t encryption = 0; // ZIP_EM_*
    std::uint64_t size = 0;       // uncompressed
    std::uint64_t comp_size = 0;
    std::uint64_t local_header_offset = 0;
    bool has_crc = false;         // libzip's ZIP_STAT_CRC
    std::uint32_t crc = 0;        // CRC-32 of the uncompressed member (central directory)
};

// Deflate emits at least one bit per 258-byte match, so no stream expands
// more than 1032:1 (zlib's documented limit); the slack covers the block
// headers of tiny streams.
constexpr std::uint64_t kMaxDeflateRatio = 1032;
constexpr std::uint64_t kDeflateSlackBytes = 64;

std::string hex32(std::uint32_t v) {
    char text[16];
    std::snprintf(text, sizeof text, "0x%08x", v);
    return text;
}

[[noreturn]] void fail_crc(const std::string& member_what, std::uint32_t recorded, std::uint32_t actual) {
    fail(ErrorCode::BadData, member_what + ": CRC-32 mismatch: the zip records " + hex32(recorded) +
                                 " but the member's data hashes to " + hex32(actual) +
                                 "; the archive is corrupt (numpy.load raises BadZipFile on it too)");
}

// A stored member read in place from the mapping. Its CRC-32 is checked
// without a second copy and without an extra pass: before each read, the
// mapped bytes from the end of what was hashed so far up to the end of that
// read are hashed, so the member is hashed exactly once, in the order its
// bytes are first needed (over the first pass of a C-order array, within the
// first chunk of a Fortran-order one). When the data end is reached, the
// rest of the member is hashed and compared with the recorded CRC; a
// mismatch fails that read and every later one.
class CrcCheckedMappedArray final : public NpyArray {
public:
    CrcCheckedMappedArray(std::shared_ptr<const MappedFile> file, std::uint64_t base, const MemberInfo& info,
                          NpyHeader header, std::string what, std::string member_what)
        : file_(file), base_(base), size_(info.size), recorded_crc_(info.crc), check_(info.has_crc),
          member_what_(std::move(member_what)),
          array_(std::move(file), base, std::move(header), std::move(what)) {
        const NpyHeader& h = array_.header();
        data_end_ = h.data_offset + std::uint64_t(h.element_count()) * std::uint64_t(h.element_size());
    }

    const NpyHeader& header() const override { return array_.header(); }
    const std::string& what() const override { return array_.what(); }

    void read_elements(index_t first, index_t count, float* out) const override {
        const NpyHeader& h = array_.header();
        npy_detail::check_range(h, first, count, array_.what());
        if (count == 0) return;
        hash_through(h.data_offset + std::uint64_t(first + count) * std::uint64_t(h.element_size()));
        array_.read_elements(first, count, out);
    }

private:
    void hash_through(std::uint64_t end) const {
        if (!check_) return;
        std::lock_guard<std::mutex> lock(mutex_);
        if (corrupt_) fail_crc(member_what_, recorded_crc_, crc_);
        if (verified_ || end <= hashed_) return;
        if (end >= data_end_) end = size_;  // bytes after the data belong to the member too
        crc_ = crc32_update(crc_, file_->data() + base_ + hashed_, std::size_t(end - hashed_));
        hashed_ = end;
        if (hashed_ < size_) return;
        verified_ = true;
        if (crc_ != recorded_crc_) {
            corrupt_ = true;
            fail_crc(member_what_, recorded_crc_, crc_);
        }
    }

    std::shared_ptr<const MappedFile> file_;
    std::uint64_t base_, size_, data_end_ = 0;
    std::uint32_t recorded_crc_;
    bool check_;
    std::string member_what_;
    npy_detail::MappedNpyArray array_;
    mutable std::mutex mutex_;
    mutable std::uint64_t hashed_ = 0;
    mutable std::uint32_t crc_ = 0;
    mutable bool verified_ = false, corrupt_ = false;
};

const char* method_name(std::uint16_t method) {
    switch (method) {
        case ZIP_CM_STORE: return "stored";
        case ZIP_CM_DEFLATE: return "deflate";
        case ZIP_CM_DEFLATE64: return "deflate64";
        case ZIP_CM_BZIP2: return "bzip2";
        case ZIP_CM_LZMA: return "lzma";
        case ZIP_CM_XZ: return "xz";
        case 93: return "zstd";
        default: return "unknown";
    }
}

// A deflated member, decompressed on the fly. Reads moving forward continue
// the stream; a read behind the current position re-opens the member. The
// CRC-32 of the decompressed bytes is checked when the stream reaches the
// member's end (the last data read also reads any bytes after the data).
//
// A Fortran-order array is read column run by column run (the image index
// varies fastest), so every chunk of images would restart the stream from
// the beginning: O(chunks) full decompressions. Instead its first read
// decompresses the whole member once into an unlinked temporary file in
// $TMPDIR (default /tmp) and maps it. Cost: disk space equal to the
// member's uncompressed size for as long as the array is open, and page
// cache only (the mapping is file-backed, not anonymous memory).
class StreamedNpyArray final : public NpyArray {
public:
    StreamedNpyArray(std::shared_ptr<const MappedFile> file, MemberInfo info, std::string what,
                     std::string member_what)
        : file_(std::move(file)), info_(std::move(info)), what_(std::move(what)), member_what_(std::move(member_what)) {
        std::lock_guard<std::mutex> lock(mutex_);
        za_.reset(open_zip(*file_));
        reopen();
        std::vector<std::uint8_t> head(npy_detail::kPreambleBytes);
        const std::size_t got = read_some(head.data(), head.size());
        const std::uint64_t end = npy_detail::header_end(head.data(), got, member_what_);
        // A header larger than the member is reported by parse_npy_header;
        // do not allocate a claimed length beyond the member's size.
        const std::uint64_t wanted = std::min<std::uint64_t>(end, info_.size);
        if (wanted > got) {
            resize_or_fail(head, wanted, member_what_, "the .npy header");
            const std::size_t more = read_some(head.data() + got, head.size() - got);
            head.resize(got + more);
        } else {
            head.resize(got);
        }
        header_ = parse_npy_header(head.data(), head.size(), info_.size, member_what_);
        data_end_ = header_.data_offset + std::uint64_t(header_.element_count()) * std::uint64_t(header_.element_size());
        finish_if_at_end();
    }

    const NpyHeader& header() const override { return header_; }
    const std::string& what() const override { return what_; }

    void read_elements(index_t first, index_t count, float* out) const override {
        npy_detail::check_range(header_, first, count, what_);
        if (count == 0) return;
        if (header_.fortran_order) {
            const NpyArray* spilled = nullptr;
            {
                std::lock_guard<std::mutex> lock(mutex_);
                if (!spilled_) spill();
                spilled = spilled_.get();
            }
            spilled->read_elements(first, count, out);  // a mapping: safe without the lock
            return;
        }
        std::lock_guard<std::mutex> lock(mutex_);
        const int es = header_.element_size();
        const std::uint64_t target = header_.data_offset + std::uint64_t(first) * std::uint64_t(es);
        if (target < position_) reopen();
        skip_to(target);
        constexpr index_t kChunkElements = index_t(1) << 18;
        resize_or_fail(buffer_, std::uint64_t(std::min(count, kChunkElements) * es), member_what_,
                       "the decompression buffer");
        for (index_t done = 0; done < count;) {
            const index_t n = std::min(count - done, kChunkElements);
            read_exact(buffer_.data(), std::size_t(n * es));
            npy_detail::convert_to_float(buffer_.data(), n, header_, out + done);
            done += n;
        }
        if (position_ >= data_end_ && !verified_) {
            skip_to(info_.size);
            finish_if_at_end();
        }
    }

private:
    void reopen() const {
        member_.reset();
        member_.reset(zip_fopen_index(za_.get(), info_.index, 0));
        if (!member_)
            fail(ErrorCode::BadData, member_what_ + ": cannot open the zip member: " + zip_strerror(za_.get()));
        position_ = 0;
        crc_ = 0;
    }
    // Reads up to n bytes; fewer only at the end of the member. Every byte
    // since the last reopen() passes through here, so crc_ is the CRC of
    // the member's first position_ bytes.
    std::size_t read_some(std::uint8_t* dst, std::size_t n) const {
        std::size_t done = 0;
        while (done < n) {
            const zip_int64_t got = zip_fread(member_.get(), dst + done, n - done);
            if (got < 0)
                fail(ErrorCode::BadData, member_what_ + ": cannot decompress the zip member: " +
                                             zip_file_strerror(member_.get()));
            if (got == 0) break;
            done += std::size_t(got);
        }
        if (!verified_) crc_ = crc32_update(crc_, dst, done);
        position_ += done;
        return done;
    }
    void read_exact(std::uint8_t* dst, std::size_t n) const {
        const std::uint64_t at = position_;
        const std::size_t got = read_some(dst, n);
        if (got != n)
            fail(ErrorCode::Io, member_what_ + ": truncated zip member: expected " + std::to_string(at + n) +
                                    " bytes, got " + std::to_string(at + got));
    }
    void skip_to(std::uint64_t target) const {
        std::uint8_t discard[1 << 16];
        while (position_ < target)
            read_exact(discard, std::size_t(std::min<std::uint64_t>(target - position_, sizeof discard)));
    }
    // Compares the CRC once the whole member has been decompressed.
    void finish_if_at_end() const {
        if (verified_ || position_ != info_.size || !info_.has_crc) return;
        if (crc_ != info_.crc) fail_crc(member_what_, info_.crc, crc_);
        verified_ = true;
    }

    // Decompresses the whole member into an unlinked temporary file and
    // maps it (see the class comment). Called with mutex_ held.
    void spill() const {
        const char* env = std::getenv("TMPDIR");
        const std::string dir = env && *env ? env : "/tmp";
        std::string name = dir + "/convergent-npz-XXXXXX";
        const int fd = ::mkstemp(name.data());
        if (fd < 0)
            fail(ErrorCode::Io, member_what_ + ": cannot create a temporary file in '" + dir +
                                    "' to decompress the Fortran-order member into: " + std::strerror(errno) +
                                    " (set TMPDIR, or save the array in C order)");
        struct Cleanup {
            int fd;
            const std::string& name;
            ~Cleanup() {
                ::unlink(name.c_str());
                ::close(fd);
            }
        } cleanup{fd, name};
        reopen();
        std::vector<std::uint8_t> block;
        resize_or_fail(block, std::min<std::uint64_t>(info_.size, std::uint64_t(1) << 20), member_what_,
                       "the decompression buffer");
        while (position_ < info_.size) {
            const std::size_t n = std::size_t(std::min<std::uint64_t>(info_.size - position_, block.size()));
            read_exact(block.data(), n);
            for (std::size_t written = 0; written < n;) {
                const ssize_t w = ::write(fd, block.data() + written, n - written);
                if (w < 0 && errno == EINTR) continue;
                if (w <= 0)
                    fail(ErrorCode::Io, member_what_ + ": cannot write the decompressed Fortran-order member (" +
                                            std::to_string(info_.size) + " bytes) to temporary file '" + name +
                                            "': " + (w < 0 ? std::strerror(errno) : "short write") +
                                            " (set TMPDIR to a disk with room, or save the array in C order)");
                written += std::size_t(w);
            }
        }
        finish_if_at_end();
        auto mapped = std::make_shared<const MappedFile>(name);
        spilled_ = std::make_unique<npy_detail::MappedNpyArray>(std::move(mapped), 0, header_, what_);
        member_.reset();  // the stream is no longer needed
        za_.reset();
    }

    std::shared_ptr<const MappedFile> file_;
    MemberInfo info_;
    std::string what_, member_what_;
    NpyHeader header_;
    std::uint64_t data_end_ = 0;
    mutable std::mutex mutex_;
    mutable ZipHandle za_;
    mutable ZipFileHandle member_;  // after za_: closed before the archive handle
    mutable std::uint64_t position_ = 0;
    mutable std::uint32_t crc_ = 0;
    mutable bool verified_ = false;
    mutable std::vector<std::uint8_t> buffer_;
    mutable std::unique_ptr<npy_detail::MappedNpyArray> spilled_;
};

class NpzArchiveImpl final : public NpzArchive {
public:
    explicit NpzArchiveImpl(const std::string& path)
        : path_(path), file_(std::make_shared<const MappedFile>(path)) {
        ZipHandle za(open_zip(*file_));
        const zip_int64_t n = zip_get_num_entries(za.get(), 0);
        std::vector<CentralEntry> central;
        bool central_read = false;
        for (zip_int64_t i = 0; i < n; ++i) {
            zip_stat_t st;
            zip_stat_init(&st);
            if (zip_stat_index(za.get(), zip_uint64_t(i), 0, &st) != 0)
                fail(ErrorCode::BadData, "'" + path_ + "': cannot read zip entry " + std::to_string(i) + ": " +
                                             zip_strerror(za.get()));
            MemberInfo info;
            info.index = zip_uint64_t(i);
            info.member = st.name ? st.name : "";
            if (info.member.empty() || info.member.back() == '/') continue;  // directory entry
            info.method = st.comp_method;
            info.encryption = st.encryption_method;
            info.size = st.size;
            info.comp_size = st.comp_size;
            info.has_crc = (st.valid & ZIP_STAT_CRC) != 0;
            info.crc = st.crc;
            if (info.method == ZIP_CM_STORE && info.encryption == ZIP_EM_NONE) {
                if (!central_read) {
                    central = read_central_directory(*file_);
                    central_read = true;
                }
                const char* raw = zip_get_name(za.get(), zip_uint64_t(i), ZIP_FL_ENC_RAW);
                if (std::size_t(i) >= central.size() || !raw || central[std::size_t(i)].raw_name != raw)
                    fail(ErrorCode::BadData, "'" + path_ + "': zip central directory does not match entry '" +
                                                 info.member + "'");
                info.local_header_offset = central[std::size_t(i)].local_header_offset;
            }
            // numpy.savez names members "<array>.npy"; like numpy.load, an
            // array is the member name without that suffix.
            std::string name = info.member;
            if (name.size() > 4 && name.compare(name.size() - 4, 4, ".npy") == 0) name.resize(name.size() - 4);
            if (!members_.emplace(name, std::move(info)).second)
                fail(ErrorCode::BadData, "'" + path_ + "': two members hold array '" + name + "'");
            names_.push_back(name);
        }
        std::sort(names_.begin(), names_.end());
    }

    const std::vector<std::string>& array_names() const override { return names_; }

    std::unique_ptr<NpyArray> array(const std::string& name) const override {
        auto it = members_.find(name);
        if (it == members_.end()) {
            std::string have;
            for (const std::string& n : names_) have += (have.empty() ? "" : ", ") + n;
            fail(ErrorCode::BadData, "archive '" + path_ + "' has no array '" + name + "'; it has: " +
                                         (have.empty() ? "(none)" : have));
        }
        const MemberInfo& info = it->second;
        const std::string what = npy_detail::describe(path_, name);
        const std::string member_what = what + " (zip member '" + info.member + "')";
        if (info.encryption != ZIP_EM_NONE)
            fail(ErrorCode::Unsupported, member_what + ": the member is encrypted; encrypted .npz members are not supported");
        if (info.method == ZIP_CM_STORE) {
            // Local file header: signature, ..., name length at 26, extra
            // length at 28, then name and extra field, then the data.
            const std::uint8_t* d = file_->data();
            const std::uint64_t at = info.local_header_offset;
            if (at > file_->size() || file_->size() - at < 30 || le32(d + at) != kLocalHeaderSig)
                fail(ErrorCode::BadData, member_what + ": bad zip local header at offset " + std::to_string(at));
            const std::uint64_t data = at + 30 + le16(d + at + 26) + le16(d + at + 28);
            if (info.comp_size != info.size)
                fail(ErrorCode::BadData, member_what + ": stored member with compressed size " +
                                             std::to_string(info.comp_size) + " != size " + std::to_string(info.size));
            if (data > file_->size() || file_->size() - data < info.size)
                fail(ErrorCode::BadData, member_what + ": truncated archive: the member needs " +
                                             std::to_string(info.size) + " bytes at offset " + std::to_string(data) +
                                             " but the file holds " + std::to_string(file_->size()) + " bytes");
            // Header errors name the member; the array itself reports `what`.
            NpyHeader header = parse_npy_header(d + data, std::size_t(info.size), info.size, member_what);
            return std::make_unique<CrcCheckedMappedArray>(file_, data, info, std::move(header), what, member_what);
        }
        if (info.method == ZIP_CM_DEFLATE) {
            // The claimed uncompressed size bounds the array the header may
            // describe; it must be one deflate can produce from the stored bytes.
            if (info.size / kMaxDeflateRatio > info.comp_size + kDeflateSlackBytes)
                fail(ErrorCode::BadData, member_what + ": the zip claims " + std::to_string(info.size) +
                                             " uncompressed bytes from only " + std::to_string(info.comp_size) +
                                             " compressed bytes, more than deflate can expand (at most " +
                                             std::to_string(kMaxDeflateRatio) + ":1); the archive is corrupt");
            return std::make_unique<StreamedNpyArray>(file_, info, what, member_what);
        }
        fail(ErrorCode::Unsupported, member_what + ": compression method " + std::to_string(info.method) + " (" +
                                         method_name(info.method) +
                                         ") is not supported; use numpy.savez or numpy.savez_compressed");
    }

private:
    std::string path_;
    std::shared_ptr<const MappedFile> file_;
    std::vector<std::string> names_;
    std::map<std::string, MemberInfo> members_;
};

}  // namespace

std::unique_ptr<NpzArchive> NpzArchive::open(const std::string& path) {
    return std::make_unique<NpzArchiveImpl>(path);
}

}  // namespace convergent
