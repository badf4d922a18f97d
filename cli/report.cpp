// `convergent report DIR` and convergent.Result.report(): one self-contained
// HTML page per result. The page is the Emscripten viewer linked into this
// library (wasm_viewer/: its HTML, CSS and JS, and its WebAssembly core as
// bytes) plus two data elements (payload format 3):
//
//   <script type="application/json" id="convergent-data">
//   {"format":"convergent-report","version":3,
//    "blob":{"id":"convergent-blob","encoding":"base125","bytes":N},
//    "index":{"encoding":"deflate","offset":O,"length":L},    (the file table below, JSON)
//    "core":{"encoding":"deflate","offset":O,"length":L},     (the viewer's .wasm)
//    "summary":{"encoding":"deflate","offset":O,"length":L}}  (summary.json, compact_json)
//   </script>
//   <script type="application/octet-stream" id="convergent-blob">...</script>
//
// The file table (deflated in the blob):
//   {"files":{
//      "conv1/a~b.corr.npy":{"encoding":"deflate","stored":"fixed16","step":0.000244140625,"layout":"classes","offset":O,"length":L},
//      "conv1/a~a.corr.npy":{"encoding":"deflate","stored":"fixed16","step":...,"layout":"upper-classes",...},
//      "conv1/a.joint_sample.npy":{"encoding":"deflate","layout":"columns",...},
//      "conv1/a.topk.npy":{"encoding":"deflate","offset":O,"length":L},
//      "conv1/a.patches.png":{"encoding":"atlas","atlas":"conv1","rows":R,"columns":K,"cells":[...]},
//      "x.png":{"encoding":"none","offset":O,"length":L}, ...},
//    "atlases":{"conv1":{"cell_width":W,"cell_height":H,"columns":C,"count":N,"type":"image/png","offset":O,"length":L}},
//    "omitted":{"path":"why"}, "joint_bins":{"path":{"bins":24,"lo":[...],"hi":[...]}},
//    "warnings":["..."]}
//
// Every binary piece (offset/length in bytes of the decoded blob) is in the
// one blob, written in base 125 (append_base125: 7 ASCII characters for 6
// bytes, where base64 took 8); the page decodes each piece from its own
// characters when it needs it. Why each choice (docs/benchmarks.md, "Report
// page weight"; format 1, every file base64 as is, was 40.8 MiB for the
// bundled example, format 2, base64 of the pieces below in JSON strings,
// 9.6 MiB):
//  - "deflate": zlib format (RFC 1950) of the bytes, inflated in the page
//    with the browser's DecompressionStream('deflate'); summary.json, the
//    file table, the wasm and every .npy. The page decodes a file only when
//    the selected layer and pair need it, not at load.
//  - "stored":"fixed16": the correlation and MI matrices (kinds corr, mi,
//    corr_matched, mi_matched) are display-only (colours; the hover shows
//    3-4 decimals), so they are rounded to multiples of "step" (2^-12) and
//    stored as int16 codes (-32768 for NaN): every value within step / 2 =
//    2^-13 (0.000122) of the results, absolute (fixed16_copy). The page
//    rebuilds float32 code * step, and its CSV of such a matrix says
//    "CSV (+-0.00012)". A matrix with an infinite value or one beyond
//    +-(32767 * step), about 8, falls back to "stored":"float16" (IEEE
//    binary16, within 2^-11 relative, "layout" "shuffled"/"upper-shuffled":
//    low bytes, then high bytes), and the CSV says "CSV (float16)". Every
//    number shown in a table or caption (Table 1, Fig. 3, similarity
//    indices, ...) comes from summary.json, whose values are embedded exactly
//    (its indentation removed: compact_json). --full-precision keeps the
//    float32 .npy files (no "stored" or "layout": the file as it is).
//  - "layout" of a fixed16 matrix, after an '<i2' .npy header of the full
//    shape: "classes" (every value) or "upper-classes" (a square matrix
//    equal to its transpose, a net with itself: only i <= j, row by row),
//    each code as its zigzag value's bit length, a byte per value, then the
//    bits below each leading one as one bit stream (fixed16_copy).
//    "columns": the binned joint sample (below) stored column by column.
//  - "atlas": the patch sheets of a layer (units x k cells each) repeat most
//    of their cells (the same top inputs across units and nets), so the page
//    gets one PNG of the layer's distinct cells (count of them, columns per
//    row) and each sheet's cell indices (row-major, rows x columns), and
//    redraws the sheets. "none": a PNG that could not be split (as it is).
//  - The page still reads the entries of formats 1 and 2 (a payload with
//    "files" of its own, the wasm still from the blob): an entry with
//    "data" holds the base64 of its bytes (format 2), a bare string is the
//    base64 of the file as it is (format 1).
//
// Joint-sample files (Fig. 7) are embedded pre-binned (binned_joint_sample).
// The blob holds no '<', NUL or CR (append_base125) and the JSON head only
// numbers and fixed names, so nothing from the results can close a <script>
// element; file names are inside the deflated file table.
//
// Only files inside DIR are embedded: names are checked as text (relative,
// no "..") and every component is opened relative to its parent with
// O_NOFOLLOW, so a symbolic link (to a file or a directory) cannot pull a
// file from elsewhere into a page that may be shared. A result held in
// memory (the Python module) comes in through the same ReportInput
// interface, so both write the same page.
//
// The page's Content-Security-Policy allows exactly its own inline scripts
// and stylesheet (the two data elements are not scripts): their SHA-256 hashes replace the 'convergent-script-hashes'
// and 'convergent-style-hashes' placeholders of wasm_viewer/shell/viewer.html
// when the report is written (a page without them runs no script at all).
#include "report.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <png.h>
#include <zlib.h>

#include "convergent/atomic_file.hpp"
#include "convergent/error.hpp"
#include "convergent/npy_format.hpp"
#include "convergent/patches.hpp"
#include "sha256.hpp"

#ifdef CONVERGENT_HAVE_VIEWER
extern "C" const unsigned char convergent_viewer_html[];
extern "C" const unsigned long convergent_viewer_html_size;
extern "C" const unsigned char convergent_viewer_wasm[];
extern "C" const unsigned long convergent_viewer_wasm_size;
#endif

namespace fs = std::filesystem;

namespace {

using convergent::AtomicFile;
using convergent::Error;
using convergent::ErrorCode;

constexpr const char* kUsage =
    "usage: convergent report DIR [--out FILE] [--max-file-mb N] [--full-precision]\n"
    "  Writes DIR/report.html (or FILE): one self-contained page showing the results of\n"
    "  `convergent compare ... --out DIR`, with summary.json and the matrices it references\n"
    "  embedded. It opens from file:// without a network.\n"
    "  --out FILE        where to write the page (default DIR/report.html)\n"
    "  --max-file-mb N   leave out matrices larger than N MiB (default 64); the page notes them\n"
    "  --full-precision  embed the correlation and MI matrices as float32 (default: 16-bit fixed\n"
    "                    point, within 0.000122 of the results; they are drawn as colours)\n";

constexpr const char* kDataMarker = "<!--CONVERGENT_DATA-->";

struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class FileDescriptor {
public:
    explicit FileDescriptor(int fd = -1) : fd_(fd) {}
    ~FileDescriptor() {
        if (fd_ >= 0) ::close(fd_);
    }
    FileDescriptor(FileDescriptor&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
    FileDescriptor& operator=(FileDescriptor&& other) noexcept {
        std::swap(fd_, other.fd_);
        return *this;
    }
    int get() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }

private:
    int fd_;
};

std::string system_error_text(int error) { return std::strerror(error); }

using convergent::report::ReportInput;

// A file of the results directory, opened without leaving it.
struct ResultFile {
    enum Status { Opened, Missing, NotRegular } status = Missing;
    FileDescriptor fd;
    std::uint64_t size = 0;
};

// The results directory DIR (itself reached the way the user named it, links
// included). open() walks a relative name one component at a time with
// openat(O_NOFOLLOW), so a file is only read when its real path is under DIR.
class ResultsDirectory final : public ReportInput {
public:
    explicit ResultsDirectory(const fs::path& dir)
        : dir_(dir), fd_(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {
        if (!fd_) {
            const int error = errno;
            throw Error(ErrorCode::Io, "cannot open the results directory '" + dir.string() + "': " + system_error_text(error));
        }
    }

    // Throws Error(Io) naming the file when a component is a symbolic link.
    ResultFile open(const std::string& relative) const {
        ResultFile result;
        std::vector<std::string> parts;
        for (const fs::path& part : fs::path(relative))
            if (!part.empty() && part != ".") parts.push_back(part.string());
        if (parts.empty()) return result;
        FileDescriptor parent;
        int parent_fd = fd_.get();
        std::string walked;
        for (size_t i = 0; i < parts.size(); ++i) {
            const bool last = i + 1 == parts.size();
            walked += (i ? "/" : "") + parts[i];
            const int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | (last ? O_NONBLOCK : O_DIRECTORY);
            FileDescriptor next(::openat(parent_fd, parts[i].c_str(), flags));
            if (!next) {
                const int error = errno;
                struct stat link {};
                if (::fstatat(parent_fd, parts[i].c_str(), &link, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(link.st_mode))
                    throw Error(ErrorCode::Io, "refusing to embed '" + relative + "': " +
                                                   (last ? std::string("it") : "'" + walked + "'") +
                                                   " is a symbolic link (only files inside '" + dir_.string() +
                                                   "' are embedded)");
                if (error == ENOENT) return result;
                if (error == ENOTDIR) {
                    result.status = ResultFile::NotRegular;
                    return result;
                }
                throw Error(ErrorCode::Io, "cannot open '" + (dir_ / walked).string() + "': " + system_error_text(error));
            }
            if (last) {
                struct stat info {};
                if (::fstat(next.get(), &info) != 0) {
                    const int error = errno;
                    throw Error(ErrorCode::Io, "cannot stat '" + (dir_ / relative).string() + "': " + system_error_text(error));
                }
                if (!S_ISREG(info.st_mode)) {
                    result.status = ResultFile::NotRegular;
                    return result;
                }
                result.status = ResultFile::Opened;
                result.size = std::uint64_t(info.st_size);
                result.fd = std::move(next);
                return result;
            }
            parent = std::move(next);
            parent_fd = parent.get();
        }
        return result;
    }

    // The whole content of an opened file.
    std::string read(const ResultFile& file, const std::string& relative) const {
        std::string bytes;
        bytes.reserve(size_t(file.size));
        char chunk[1 << 16];
        for (;;) {
            const ssize_t n = ::read(file.fd.get(), chunk, sizeof chunk);
            if (n == 0) break;
            if (n < 0) {
                if (errno == EINTR) continue;
                const int error = errno;
                throw Error(ErrorCode::Io, "error while reading '" + (dir_ / relative).string() + "': " + system_error_text(error));
            }
            bytes.append(chunk, size_t(n));
        }
        return bytes;
    }

    const fs::path& path() const { return dir_; }

    // ReportInput
    std::string display_path(const std::string& relative) const override { return (dir_ / relative).string(); }
    std::string display_root() const override { return dir_.string(); }
    File open_file(const std::string& relative) const override {
        auto opened = std::make_shared<ResultFile>(open(relative));
        File file;
        file.status = opened->status == ResultFile::Opened  ? File::Opened
                      : opened->status == ResultFile::Missing ? File::Missing
                                                              : File::NotRegular;
        file.size = opened->size;
        if (file.status == File::Opened)
            file.read = [this, opened, relative] { return read(*opened, relative); };
        return file;
    }
    // Links are reported too (symlink_status): open_file() then refuses them by name.
    bool exists(const std::string& relative) const override {
        std::error_code ec;
        return fs::exists(fs::symlink_status(dir_ / relative, ec));
    }

private:
    fs::path dir_;
    FileDescriptor fd_;
};

void append_base64(std::string& out, const std::string& bytes) {
    static const char table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    out.reserve(out.size() + (bytes.size() + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 2 < bytes.size(); i += 3) {
        const std::uint32_t v = (std::uint32_t(std::uint8_t(bytes[i])) << 16) |
                                (std::uint32_t(std::uint8_t(bytes[i + 1])) << 8) | std::uint8_t(bytes[i + 2]);
        out += table[(v >> 18) & 63];
        out += table[(v >> 12) & 63];
        out += table[(v >> 6) & 63];
        out += table[v & 63];
    }
    if (i + 1 == bytes.size()) {
        const std::uint32_t v = std::uint32_t(std::uint8_t(bytes[i])) << 16;
        out += table[(v >> 18) & 63];
        out += table[(v >> 12) & 63];
        out += "==";
    } else if (i + 2 == bytes.size()) {
        const std::uint32_t v = (std::uint32_t(std::uint8_t(bytes[i])) << 16) | (std::uint32_t(std::uint8_t(bytes[i + 1])) << 8);
        out += table[(v >> 18) & 63];
        out += table[(v >> 12) & 63];
        out += table[(v >> 6) & 63];
        out += '=';
    }
}

// The page's binary data as the text of a <script type="application/octet-stream">
// element (format 3, "base125"): every 6 bytes (the last group padded with
// zero bytes) as a 48-bit big-endian number, written as 7 digits in base 125,
// most significant first (125^7 > 2^48). A digit d is the d-th of the ASCII
// characters 1-127 without CR (13) and '<' (60): HTML script data keeps
// every character as it is except NUL (replaced), CR (turned into LF) and
// '<' (which could start "</script" or "<!--"). 1.167 characters a byte
// where base64 takes 1.333, and all ASCII, which the browser decodes
// fastest; 7 digits fit a double exactly, so the page decodes a group with
// plain arithmetic.
char base125_digit(unsigned d) {
    const unsigned c = d + 1 + (d + 1 >= 13) + (d + 2 >= 60);
    return char(c);
}

void append_base125(std::string& out, const std::string& bytes) {
    out.reserve(out.size() + (bytes.size() + 5) / 6 * 7);
    for (size_t i = 0; i < bytes.size(); i += 6) {
        std::uint64_t v = 0;
        for (size_t k = 0; k < 6; ++k) v = (v << 8) | (i + k < bytes.size() ? std::uint8_t(bytes[i + k]) : 0u);
        char group[7];
        for (int k = 6; k >= 0; --k) {
            group[k] = base125_digit(unsigned(v % 125));
            v /= 125;
        }
        out.append(group, 7);
    }
}

// The binary data of one page, placed one piece after another; each JSON
// entry names its piece by offset and length in the decoded blob.
struct Blob {
    std::string bytes;
    void place(nlohmann::json& entry, const std::string& data) {
        entry["offset"] = bytes.size();
        entry["length"] = data.size();
        bytes += data;
    }
};

// JSON text that is safe inside a <script> element: ASCII only, and no '<',
// '>' or '&' (they only occur inside strings, where \u escapes mean the same).
std::string script_safe_json(const nlohmann::json& value) {
    const std::string text = value.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        if (c == '<') out += "\\u003c";
        else if (c == '>') out += "\\u003e";
        else if (c == '&') out += "\\u0026";
        else out += c;
    }
    return out;
}

// Only files inside DIR are embedded: a crafted summary.json must not pull
// /etc/passwd or ../secret into a page that may be shared.
bool is_safe_relative_path(const std::string& path) {
    if (path.empty() || path.find('\0') != std::string::npos || path.find('\\') != std::string::npos) return false;
    const fs::path p(path);
    if (p.is_absolute() || p.has_root_name() || p.has_root_directory()) return false;
    for (const fs::path& part : p)
        if (part == "..") return false;
    return true;
}

struct Options {
    fs::path dir;
    fs::path out;
    std::uint64_t max_file_bytes = convergent::report::kDefaultMaxFileBytes;
    bool full_precision = false;
    bool help = false;
};

Options parse_args(const std::vector<std::string>& args) {
    Options o;
    bool have_dir = false;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "-h" || a == "--help") {
            o.help = true;
        } else if (a == "--out" || a == "-o") {
            if (i + 1 >= args.size()) throw UsageError(a + " needs a file name");
            o.out = args[++i];
        } else if (a == "--full-precision") {
            o.full_precision = true;
        } else if (a == "--max-file-mb") {
            if (i + 1 >= args.size()) throw UsageError("--max-file-mb needs a number");
            const std::string v = args[++i];
            std::size_t used = 0;
            double mb = -1;
            try {
                mb = std::stod(v, &used);
            } catch (const std::exception&) {
                used = 0;
            }
            if (used != v.size() || !(mb > 0) || mb > 1e6) throw UsageError("--max-file-mb: '" + v + "' is not a positive number");
            o.max_file_bytes = std::uint64_t(mb * 1024.0 * 1024.0);
        } else if (!a.empty() && a[0] == '-') {
            throw UsageError("unknown option '" + a + "'");
        } else if (!have_dir) {
            o.dir = a;
            have_dir = true;
        } else {
            throw UsageError("unexpected argument '" + a + "' (one results directory only)");
        }
    }
    if (!o.help && !have_dir) throw UsageError("no results directory given");
    if (o.out.empty()) o.out = o.dir / "report.html";
    return o;
}

// "corr_matched" / "mi_matched" (Fig. 1d) is the between-net matrix with its
// columns in the pair's matched_order: the page rebuilds it from that matrix,
// so it is left out of the report whenever matched_order is present. Only a
// result without matched_order still gets the file embedded.
bool page_rebuilds(const nlohmann::json& layer, const std::string& key, const std::string& kind) {
    const char* alignment = kind == "corr_matched" ? "correlation" : kind == "mi_matched" ? "mutual_information" : nullptr;
    if (!alignment) return false;
    auto pairs = layer.find("pairs");
    if (pairs == layer.end() || !pairs->is_object()) return false;
    auto pair = pairs->find(key);
    if (pair == pairs->end() || !pair->is_object()) return false;
    auto al = pair->find(alignment);
    if (al == pair->end() || !al->is_object()) return false;
    auto order = al->find("matched_order");
    return order != al->end() && order->is_array();
}

// The files summary.json references (layers.*.files.*.*), in file order;
// where a layer has no "files" map, the conventional names that exist.
// Matched-order copies the page can rebuild are skipped (page_rebuilds).
std::vector<std::string> referenced_files(const nlohmann::json& summary, const ReportInput& input,
                                          std::vector<std::string>& warnings) {
    std::vector<std::string> paths;
    std::set<std::string> seen;
    auto add = [&](const std::string& p) {
        if (seen.insert(p).second) paths.push_back(p);
    };
    const nlohmann::json& layers = summary["layers"];
    std::vector<std::string> nets;
    for (const auto& n : summary["nets"])
        if (n.is_string()) nets.push_back(n.get<std::string>());
    for (auto layer = layers.begin(); layer != layers.end(); ++layer) {
        if (!layer.value().is_object()) continue;
        // Each net's top-k inputs and patch sprite sheet (top_patches.nets.<net>.<kind>).
        auto top = layer.value().find("top_patches");
        if (top != layer.value().end() && top->is_object() && top->contains("nets") && (*top)["nets"].is_object())
            for (const auto& net : (*top)["nets"])
                if (net.is_object())
                    for (const auto& file : net)
                        if (file.is_string()) {
                            const std::string p = file.get<std::string>();
                            if (is_safe_relative_path(p)) add(p);
                            else
                                warnings.push_back("layer " + layer.key() + ": skipped file path '" + p +
                                                   "' (not a relative path inside the results directory)");
                        }
        auto files = layer.value().find("files");
        if (files != layer.value().end() && files->is_object()) {
            for (auto entry = files->begin(); entry != files->end(); ++entry) {
                if (!entry.value().is_object()) continue;
                for (auto kind = entry.value().begin(); kind != entry.value().end(); ++kind) {
                    if (!kind.value().is_string()) continue;
                    if (page_rebuilds(layer.value(), entry.key(), kind.key())) continue;
                    const std::string p = kind.value().get<std::string>();
                    if (!is_safe_relative_path(p)) {
                        warnings.push_back("layer " + layer.key() + ": skipped file path '" + p +
                                           "' (not a relative path inside the results directory)");
                        continue;
                    }
                    add(p);
                }
            }
            continue;
        }
        for (size_t a = 0; a < nets.size(); ++a)
            for (size_t b = a; b < nets.size(); ++b)
                for (const char* kind : {"corr", "corr_matched", "mi", "mi_matched"}) {
                    if (page_rebuilds(layer.value(), nets[a] + "~" + nets[b], kind)) continue;
                    const std::string p = layer.key() + "/" + nets[a] + "~" + nets[b] + "." + kind + ".npy";
                    if (is_safe_relative_path(p) && input.exists(p)) add(p);
                }
    }
    return paths;
}

// Fig. 7 joint histograms: the page bins each unit's column of a joint
// sample into kJointBins equal bins between the column's min and max, so the
// report embeds those bin indices (uint8, 255 for a non-finite value) and the
// ranges instead of the float32 sample: the same histograms at a quarter of
// the size (docs/summary_schema.md, top_patches). The arithmetic is the
// page's: double precision, bin = min(bins - 1, floor((x - lo) / (hi - lo) * bins)).
constexpr int kJointBins = 24;

struct BinnedSample {
    std::string npy;  // rows x units uint8, stored column by column (layout "columns")
    nlohmann::json ranges;
};

// The header of a little-endian, C-order float32 .npy held in bytes; false
// for anything else (such a file is embedded as is, and the page reports
// what it cannot read).
bool float32_npy_header(const std::string& bytes, const std::string& what, convergent::NpyHeader& header) {
    try {
        header = convergent::parse_npy_header(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(),
                                              bytes.size(), what);
    } catch (const std::exception&) {
        return false;
    }
    return header.dtype == convergent::NpyDtype::Float32 && !header.big_endian && !header.fortran_order;
}

bool binned_joint_sample(const std::string& bytes, const std::string& what, BinnedSample& out) {
    const auto* data = reinterpret_cast<const std::uint8_t*>(bytes.data());
    convergent::NpyHeader header;
    if (!float32_npy_header(bytes, what, header) || header.shape.size() != 2) return false;
    const size_t rows = size_t(header.shape[0]), units = size_t(header.shape[1]);
    auto value = [&](size_t r, size_t u) {
        float v;
        std::memcpy(&v, data + header.data_offset + 4 * (r * units + u), 4);
        return double(v);
    };
    std::vector<double> lo(units, std::numeric_limits<double>::infinity()), hi(units, -std::numeric_limits<double>::infinity());
    for (size_t r = 0; r < rows; ++r)
        for (size_t u = 0; u < units; ++u) {
            const double v = value(r, u);
            if (!std::isfinite(v)) continue;
            lo[u] = std::min(lo[u], v);
            hi[u] = std::max(hi[u], v);
        }
    for (size_t u = 0; u < units; ++u) {
        if (!std::isfinite(lo[u])) lo[u] = hi[u] = 0;
        if (!(hi[u] > lo[u])) hi[u] = lo[u] + 1;
    }
    std::string dict = "{'descr': '|u1', 'fortran_order': False, 'shape': (" + std::to_string(rows) + ", " +
                       std::to_string(units) + "), }";
    while ((10 + dict.size() + 1) % 64) dict += ' ';
    dict += '\n';
    out.npy.assign("\x93NUMPY\x01\x00", 8);
    out.npy += char(dict.size() & 0xff);
    out.npy += char(dict.size() >> 8);
    out.npy += dict;
    // The bins column by column (layout "columns": each unit's bins together,
    // which deflate about 5% smaller than row by row); the header is the
    // (rows, units) array's, as the page rebuilds it.
    out.npy.reserve(out.npy.size() + rows * units);
    for (size_t u = 0; u < units; ++u)
        for (size_t r = 0; r < rows; ++r) {
            const double v = value(r, u);
            const double bin = std::floor((v - lo[u]) / (hi[u] - lo[u]) * kJointBins);
            out.npy += std::isfinite(v) ? char(std::uint8_t(std::min<double>(kJointBins - 1, bin))) : char(255);
        }
    out.ranges = {{"bins", kJointBins}, {"lo", lo}, {"hi", hi}};
    return true;
}

// The joint-sample files of summary.json (layers.*.top_patches.nets.*.joint_sample).
std::set<std::string> joint_sample_files(const nlohmann::json& summary) {
    std::set<std::string> out;
    for (const auto& layer : summary["layers"]) {
        if (!layer.is_object() || !layer.contains("top_patches") || !layer["top_patches"].is_object()) continue;
        const nlohmann::json& top = layer["top_patches"];
        if (!top.contains("nets") || !top["nets"].is_object()) continue;
        for (const auto& net : top["nets"])
            if (net.is_object() && net.contains("joint_sample") && net["joint_sample"].is_string())
                out.insert(net["joint_sample"].get<std::string>());
    }
    return out;
}

std::string base64(const std::string& bytes) {
    std::string out;
    append_base64(out, bytes);
    return out;
}

// zlib-format deflate (RFC 1950), what the page's DecompressionStream('deflate')
// reads back.
std::string deflate_bytes(const std::string& bytes, const std::string& what) {
    uLongf size = compressBound(uLong(bytes.size()));
    std::string out(size_t(size), '\0');
    const int rc = compress2(reinterpret_cast<Bytef*>(out.data()), &size, reinterpret_cast<const Bytef*>(bytes.data()),
                             uLong(bytes.size()), Z_BEST_COMPRESSION);
    if (rc != Z_OK) throw Error(ErrorCode::Internal, "cannot deflate '" + what + "' for the page (zlib error " + std::to_string(rc) + ")");
    out.resize(size_t(size));
    return out;
}

// IEEE binary16 of a float, rounded to nearest even (what numpy's
// astype(float16) does). Callers keep values within +-65504.
std::uint16_t float_to_half(float value) {
    std::uint32_t x;
    std::memcpy(&x, &value, 4);
    const std::uint16_t sign = std::uint16_t((x >> 16) & 0x8000u);
    const std::uint32_t abs = x & 0x7fffffffu;
    if (abs >= 0x7f800000u) return std::uint16_t(sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u : 0u));  // inf, NaN
    if (abs >= 0x477ff000u) return std::uint16_t(sign | 0x7c00u);                                    // rounds past 65504
    if (abs < 0x38800000u) {
        // Below 2^-14: a subnormal half, round(|v| * 2^24) in the default
        // (nearest even) rounding mode; 0x400 is the smallest normal, also right.
        float a;
        std::memcpy(&a, &abs, 4);
        return std::uint16_t(sign | std::uint32_t(std::nearbyint(a * 16777216.0f)));
    }
    std::uint32_t half = (((abs >> 23) - 112u) << 10) | ((abs & 0x7fffffu) >> 13);
    const std::uint32_t rest = abs & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (half & 1u))) ++half;  // a carry into the exponent is right too
    return std::uint16_t(sign | half);
}

std::string npy_header_text(const char* descr, const std::vector<convergent::index_t>& shape) {
    std::string dims;
    for (size_t i = 0; i < shape.size(); ++i) dims += (i ? ", " : "") + std::to_string(shape[i]);
    if (shape.size() == 1) dims += ",";
    std::string dict = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (" + dims + "), }";
    while ((10 + dict.size() + 1) % 64) dict += ' ';
    dict += '\n';
    std::string out("\x93NUMPY\x01\x00", 8);
    out += char(dict.size() & 0xff);
    out += char(dict.size() >> 8);
    return out + dict;
}

// A display-only float32 matrix (correlation, MI: drawn as colours, the
// hover shows 4-6 digits) as float16 .npy: half the bytes, values within
// 2^-11 relative (0.0005). false (the file is embedded as float32) when it
// is not a little-endian C-order float32 array or a finite value lies
// outside float16's range.
//
// The halves are then laid out for deflate (`layout`): "shuffled" (all low
// bytes, then all high bytes: the high bytes, sign and exponent, repeat and
// compress well) or, for a square matrix equal to its transpose (a net with
// itself), "upper-shuffled": only the upper triangle, row by row, i <= j,
// shuffled the same way. The .npy header in front is the full matrix's.
bool float16_copy(const std::string& bytes, const std::string& what, std::string& out, std::string& layout) {
    const auto* data = reinterpret_cast<const std::uint8_t*>(bytes.data());
    convergent::NpyHeader header;
    if (!float32_npy_header(bytes, what, header)) return false;
    const size_t count = size_t(header.element_count());
    std::vector<float> values(count);
    std::memcpy(values.data(), data + header.data_offset, 4 * count);
    for (float v : values)
        if (std::isfinite(v) && std::fabs(v) > 65504.0f) return false;
    std::vector<std::uint16_t> halves(count);
    for (size_t i = 0; i < count; ++i) halves[i] = float_to_half(values[i]);
    bool symmetric = header.shape.size() == 2 && header.shape[0] == header.shape[1] && count > 0;
    const size_t n = symmetric ? size_t(header.shape[0]) : 0;
    for (size_t i = 0; symmetric && i < n; ++i)
        for (size_t j = i + 1; j < n; ++j)
            if (halves[i * n + j] != halves[j * n + i]) {
                symmetric = false;
                break;
            }
    std::vector<std::uint16_t> kept;
    if (symmetric) {
        kept.reserve(n * (n + 1) / 2);
        for (size_t i = 0; i < n; ++i)
            for (size_t j = i; j < n; ++j) kept.push_back(halves[i * n + j]);
    } else {
        kept = std::move(halves);
    }
    layout = symmetric ? "upper-shuffled" : "shuffled";
    out = npy_header_text("<f2", header.shape);
    const size_t start = out.size();
    out.resize(start + 2 * kept.size());
    for (size_t i = 0; i < kept.size(); ++i) {
        out[start + i] = char(kept[i] & 0xff);
        out[start + kept.size() + i] = char(kept[i] >> 8);
    }
    return true;
}

// A display-only float32 matrix (correlation, MI) as 16-bit fixed point
// (format 3, "stored":"fixed16"): round(value * 2^12) as int16 (nearest,
// ties to even, as numpy's round), NaN as -32768, so every value is within
// half a step, 2^-13 (0.000122), of the result: an absolute bound, far below
// the page's 3-4 displayed digits. float16 (2^-11 relative) spends most of
// its codes on values near 0, which deflate cannot squeeze; these codes
// deflate about 5% smaller for the bundled example. false (the caller tries
// float16) when the file is not a little-endian C-order float32 array or a
// value is infinite or beyond +-(32767 / 2^12), about 8 (an MI above 8 nats).
// After an .npy header of the full shape with dtype '<i2', all values or,
// for a square matrix equal to its transpose, the upper triangle (i <= j, row
// by row), in the "classes" layout below.
constexpr int kFixedStepLog2 = -12;

bool fixed16_copy(const std::string& bytes, const std::string& what, std::string& out, std::string& layout) {
    const auto* data = reinterpret_cast<const std::uint8_t*>(bytes.data());
    convergent::NpyHeader header;
    if (!float32_npy_header(bytes, what, header)) return false;
    const size_t count = size_t(header.element_count());
    const double scale = std::ldexp(1.0, -kFixedStepLog2);
    std::vector<std::int16_t> codes(count);
    for (size_t i = 0; i < count; ++i) {
        float v;
        std::memcpy(&v, data + header.data_offset + 4 * i, 4);
        if (std::isnan(v)) {
            codes[i] = std::numeric_limits<std::int16_t>::min();
            continue;
        }
        const double code = std::nearbyint(double(v) * scale);
        if (!(std::fabs(code) <= 32767.0)) return false;  // also infinities
        codes[i] = std::int16_t(code);
    }
    bool symmetric = header.shape.size() == 2 && header.shape[0] == header.shape[1] && count > 0;
    const size_t n = symmetric ? size_t(header.shape[0]) : 0;
    for (size_t i = 0; symmetric && i < n; ++i)
        for (size_t j = i + 1; j < n; ++j)
            if (codes[i * n + j] != codes[j * n + i]) {
                symmetric = false;
                break;
            }
    std::vector<std::int16_t> kept;
    if (symmetric) {
        kept.reserve(n * (n + 1) / 2);
        for (size_t i = 0; i < n; ++i)
            for (size_t j = i; j < n; ++j) kept.push_back(codes[i * n + j]);
    } else {
        kept = std::move(codes);
    }
    // "classes": each code c as z = 2c (c >= 0) or -2c - 1 (c < 0), then the
    // class k of z (its bit length, 0-16) as one byte per value, then the
    // k - 1 bits of z below its leading one (k >= 2), most significant
    // first, one bit stream padded to a byte. Deflate codes the classes
    // near their entropy and the remaining bits are about as random as they
    // look: 9% smaller than the two byte planes for the bundled example.
    layout = symmetric ? "upper-classes" : "classes";
    out = npy_header_text("<i2", header.shape);
    out.reserve(out.size() + kept.size() * 2);
    std::string bits;
    std::uint32_t acc = 0;
    int filled = 0;
    for (const std::int16_t c : kept) {
        const std::uint32_t z = c >= 0 ? 2u * std::uint32_t(c) : 2u * std::uint32_t(-(std::int32_t(c) + 1)) + 1u;
        int k = 0;
        while ((z >> k) != 0) ++k;
        out += char(k);
        for (int b = k - 2; b >= 0; --b) {
            acc = (acc << 1) | ((z >> b) & 1u);
            if (++filled == 8) {
                bits += char(acc);
                acc = 0;
                filled = 0;
            }
        }
    }
    if (filled) bits += char(acc << (8 - filled));
    out += bits;
    return true;
}

// summary.json without its indentation (about half the text for the page
// and its WebAssembly core to parse), keys in their order and numbers with
// the same values (nlohmann writes the shortest text that reads back as the
// same double). The text as it is when it cannot be rewritten.
std::string compact_json(const std::string& text) {
    try {
        return nlohmann::ordered_json::parse(text).dump();
    } catch (const std::exception&) {
        return text;
    }
}

// A decoded patch sheet (8-bit grey or RGB).
struct Pixels {
    std::uint32_t width = 0, height = 0, channels = 0;
    std::vector<std::uint8_t> data;
};

bool decode_png(const std::string& bytes, Pixels& out) {
    png_image image{};
    image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&image, bytes.data(), bytes.size())) return false;
    const bool colour = (image.format & PNG_FORMAT_FLAG_COLOR) != 0;
    image.format = colour ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
    out.width = image.width;
    out.height = image.height;
    out.channels = colour ? 3 : 1;
    out.data.assign(PNG_IMAGE_SIZE(image), 0);
    if (!png_image_finish_read(&image, nullptr, out.data.data(), 0, nullptr)) {
        png_image_free(&image);
        return false;
    }
    return true;
}

// The patch sheets of one layer (each units x k cells of cell_width x
// cell_height) share most cells: a unit's top inputs recur across units and
// nets (with whole-image patches, fc6 of the bundled example holds 739
// distinct cells among 9216). The page gets one atlas of the distinct cells
// and, per sheet, each cell's index into it, and redraws the sheets.
struct Atlas {
    std::string png;
    nlohmann::json info;                   // cell_width, cell_height, columns, count
    std::vector<nlohmann::json> sheets;    // per input sheet: rows, columns, cells
};

bool build_atlas(const std::vector<std::string>& pngs, std::uint32_t cell_width, std::uint32_t cell_height, Atlas& out) {
    if (cell_width == 0 || cell_height == 0 || cell_width > 4096 || cell_height > 4096) return false;
    std::vector<Pixels> sheets(pngs.size());
    for (size_t i = 0; i < pngs.size(); ++i) {
        if (!decode_png(pngs[i], sheets[i])) return false;
        // The page redraws a sheet on a canvas; past 16384 pixels a side
        // browsers may refuse one, so such a sheet stays a PNG.
        if (sheets[i].width > 16384 || sheets[i].height > 16384) return false;
        if (sheets[i].channels != sheets[0].channels || sheets[i].width % cell_width || sheets[i].height % cell_height)
            return false;
    }
    const std::uint32_t channels = sheets.empty() ? 1 : sheets[0].channels;
    const size_t row_bytes = size_t(cell_width) * channels;
    std::vector<std::string> cells;
    std::unordered_map<std::string, std::uint32_t> index;
    for (const Pixels& sheet : sheets) {
        const std::uint32_t rows = sheet.height / cell_height, columns = sheet.width / cell_width;
        nlohmann::json refs = nlohmann::json::array();
        std::string cell(row_bytes * cell_height, '\0');
        for (std::uint32_t r = 0; r < rows; ++r)
            for (std::uint32_t c = 0; c < columns; ++c) {
                for (std::uint32_t y = 0; y < cell_height; ++y)
                    std::memcpy(&cell[y * row_bytes],
                                sheet.data.data() + (size_t(r) * cell_height + y) * sheet.width * channels + size_t(c) * row_bytes,
                                row_bytes);
                auto [at, added] = index.emplace(cell, std::uint32_t(cells.size()));
                if (added) cells.push_back(cell);
                refs.push_back(at->second);
            }
        out.sheets.push_back({{"rows", rows}, {"columns", columns}, {"cells", std::move(refs)}});
    }
    const std::uint32_t count = std::uint32_t(cells.size());
    const std::uint32_t columns = std::max<std::uint32_t>(1, std::min<std::uint32_t>(count, 64));
    convergent::SpriteSheet atlas;
    atlas.rows = convergent::index_t((count + columns - 1) / columns);
    atlas.columns = columns;
    atlas.cell_width = cell_width;
    atlas.cell_height = cell_height;
    atlas.channels = channels;
    if (count == 0) return false;
    const size_t atlas_row = size_t(columns) * row_bytes;
    atlas.pixels.assign(size_t(atlas.rows) * cell_height * atlas_row, 0);
    for (std::uint32_t i = 0; i < count; ++i)
        for (std::uint32_t y = 0; y < cell_height; ++y)
            std::memcpy(atlas.pixels.data() + (size_t(i / columns) * cell_height + y) * atlas_row + size_t(i % columns) * row_bytes,
                        &cells[i][y * row_bytes], row_bytes);
    out.png = convergent::encode_png(atlas);
    out.info = {{"cell_width", cell_width}, {"cell_height", cell_height}, {"columns", columns}, {"count", count}};
    return true;
}

// The text of every <tag>...</tag> element (exactly "<tag>", no attributes)
// of the page template, as the HTML parser hands it to the CSP check: line
// breaks normalised to "\n".
std::vector<std::string> inline_blocks(const std::string& page, const std::string& tag) {
    const std::string open = "<" + tag + ">", close = "</" + tag + ">";
    std::vector<std::string> blocks;
    for (size_t at = page.find(open); at != std::string::npos; at = page.find(open, at)) {
        const size_t start = at + open.size();
        const size_t end = page.find(close, start);
        if (end == std::string::npos) throw Error(ErrorCode::Internal, "the embedded viewer has an unclosed <" + tag + "> (build problem)");
        std::string text;
        text.reserve(end - start);
        for (size_t i = start; i < end; ++i) {
            if (page[i] == '\r') {
                text += '\n';
                if (i + 1 < end && page[i + 1] == '\n') ++i;
            } else {
                text += page[i];
            }
        }
        blocks.push_back(std::move(text));
        at = end + close.size();
    }
    return blocks;
}

std::string hash_sources(const std::vector<std::string>& blocks) {
    std::string sources;
    for (const std::string& block : blocks) {
        const auto digest = convergent::cli::sha256(block);
        sources += (sources.empty() ? "'sha256-" : " 'sha256-") +
                   base64(std::string(reinterpret_cast<const char*>(digest.data()), digest.size())) + "'";
    }
    return sources.empty() ? "'none'" : sources;
}

// Fills the page's Content-Security-Policy with the hashes of its own inline
// scripts and stylesheet, so that nothing else (no injected markup, no
// inline handler) can run; the data block is JSON, which CSP does not run.
std::string with_content_security_policy(std::string page) {
    const std::string script_sources = hash_sources(inline_blocks(page, "script"));
    const std::string style_sources = hash_sources(inline_blocks(page, "style"));
    for (const auto& [placeholder, sources] : {std::pair<std::string, std::string>{"'convergent-script-hashes'", script_sources},
                                               {"'convergent-style-hashes'", style_sources}}) {
        const size_t at = page.find(placeholder);
        if (at == std::string::npos || page.find(placeholder, at + 1) != std::string::npos)
            throw Error(ErrorCode::Internal, "the embedded viewer has no single " + placeholder + " placeholder (build problem)");
        page.replace(at, placeholder.size(), sources);
    }
    return page;
}

// The viewer page built by wasm_viewer/ and linked in as bytes.
std::string viewer_page() {
#ifdef CONVERGENT_HAVE_VIEWER
    return std::string(reinterpret_cast<const char*>(convergent_viewer_html), convergent_viewer_html_size);
#else
    throw Error(ErrorCode::Unsupported,
                "this convergent was built without the viewer (configure with -DCONVERGENT_VIEWER=ON and "
                "Emscripten's em++ installed), so it cannot write report pages");
#endif
}

// The viewer's WebAssembly core, built by wasm_viewer/ and linked in as bytes;
// every page carries it (deflated) in its data blob.
std::string viewer_wasm() {
#ifdef CONVERGENT_HAVE_VIEWER
    return std::string(reinterpret_cast<const char*>(convergent_viewer_wasm), convergent_viewer_wasm_size);
#else
    return {};
#endif
}

// The page for one result (the viewer page checked by the caller first).
convergent::report::ReportOutcome write_page(const std::string& page, const ReportInput& input,
                                             const std::string& out_path, std::uint64_t max_file_bytes,
                                             bool full_precision) {
    using File = ReportInput::File;
    const std::string summary_path = input.display_path("summary.json");
    const File summary_file = input.open_file("summary.json");
    if (summary_file.status != File::Opened)
        throw Error(ErrorCode::Io, "'" + summary_path + "' not found: is '" + input.display_root() +
                                       "' the --out directory of `convergent compare`?");
    const std::string summary_text = summary_file.read();
    nlohmann::json summary;
    try {
        summary = nlohmann::json::parse(summary_text);
    } catch (const nlohmann::json::parse_error& e) {
        throw Error(ErrorCode::BadData, "'" + summary_path + "' is not valid JSON: " + e.what());
    }
    const auto bad = [&](const std::string& problem) {
        return Error(ErrorCode::BadData, "'" + summary_path + "': " + problem);
    };
    if (!summary.is_object()) throw bad("expected a JSON object at the top level");
    if (!summary.contains("schema_version")) throw bad("no schema_version (not a convergent result)");
    if (!summary["schema_version"].is_number_integer() || summary["schema_version"].get<std::int64_t>() != 1)
        throw bad("schema_version " + summary["schema_version"].dump() + " is not supported (this convergent reads 1)");
    if (!summary.contains("nets") || !summary["nets"].is_array() || summary["nets"].empty())
        throw bad("'nets' must be a non-empty array");
    for (const auto& n : summary["nets"])
        if (!n.is_string()) throw bad("'nets' must hold net names (strings)");
    if (!summary.contains("layers") || !summary["layers"].is_object()) throw bad("'layers' must be an object");

    const size_t marker = page.find(kDataMarker);
    if (marker == std::string::npos)
        throw Error(ErrorCode::Internal, "the embedded viewer has no data marker (build problem)");

    convergent::report::ReportOutcome outcome;
    std::vector<std::string>& warnings = outcome.warnings;
    const std::vector<std::string> paths = referenced_files(summary, input, warnings);

    // Display-only matrices (float16 unless full precision is asked for) and
    // each layer's patch sheets (one atlas per layer).
    std::set<std::string> display_only;
    std::map<std::string, std::string> sheet_layer;  // sheet path -> layer
    std::map<std::string, std::pair<std::uint32_t, std::uint32_t>> cell_size;  // layer -> patch width, height
    for (auto layer = summary["layers"].begin(); layer != summary["layers"].end(); ++layer) {
        const nlohmann::json& l = layer.value();
        if (!l.is_object()) continue;
        if (l.contains("files") && l["files"].is_object())
            for (const auto& entry : l["files"])
                if (entry.is_object())
                    for (auto kind = entry.begin(); kind != entry.end(); ++kind)
                        if (kind.value().is_string() && (kind.key() == "corr" || kind.key() == "mi" ||
                                                         kind.key() == "corr_matched" || kind.key() == "mi_matched"))
                            display_only.insert(kind.value().get<std::string>());
        if (!l.contains("files"))  // the conventional names (referenced_files)
            for (const auto& a : summary["nets"])
                for (const auto& b : summary["nets"])
                    for (const char* kind : {"corr", "mi", "corr_matched", "mi_matched"})
                        display_only.insert(layer.key() + "/" + a.get<std::string>() + "~" + b.get<std::string>() + "." +
                                            kind + ".npy");
        if (!l.contains("top_patches") || !l["top_patches"].is_object()) continue;
        const nlohmann::json& top = l["top_patches"];
        if (!top.contains("patch") || !top["patch"].is_object() || !top.contains("nets") || !top["nets"].is_object()) continue;
        const nlohmann::json& patch = top["patch"];
        if (!patch.contains("width") || !patch["width"].is_number_unsigned() || !patch.contains("height") ||
            !patch["height"].is_number_unsigned())
            continue;
        cell_size[layer.key()] = {patch["width"].get<std::uint32_t>(), patch["height"].get<std::uint32_t>()};
        for (const auto& net : top["nets"])
            if (net.is_object() && net.contains("patches") && net["patches"].is_string())
                sheet_layer.emplace(net["patches"].get<std::string>(), layer.key());
    }

    // The index (JSON) is written as the files are read; their bytes go to
    // the blob, written after it in base 125 (append_base125).
    AtomicFile file(out_path);
    std::ostream& out = file.stream();
    Blob blob;
    nlohmann::json core = {{"encoding", "deflate"}};
    blob.place(core, deflate_bytes(viewer_wasm(), "the viewer core"));
    nlohmann::json summary_entry = {{"encoding", "deflate"}};
    blob.place(summary_entry, deflate_bytes(compact_json(summary_text), summary_path));
    std::ostringstream index;  // deflated into the blob: the file table, a fifth of its text
    index << "{\"files\":{";
    nlohmann::json omitted = nlohmann::json::object();
    nlohmann::json joint_bins = nlohmann::json::object();
    nlohmann::json atlases = nlohmann::json::object();
    const std::set<std::string> joint_samples = joint_sample_files(summary);
    std::map<std::string, std::vector<std::pair<std::string, std::string>>> sheets;  // layer -> (path, png)
    size_t& embedded = outcome.embedded;
    auto write_entry = [&](const std::string& p, const nlohmann::json& entry) {
        index << (embedded ? "," : "") << script_safe_json(p) << ":" << script_safe_json(entry);
        ++embedded;
    };
    for (const std::string& p : paths) {
        const File matrix = input.open_file(p);
        if (matrix.status == File::Missing) {
            warnings.push_back("'" + p + "' is referenced by summary.json but missing from the results directory");
            continue;
        }
        if (matrix.status == File::NotRegular) {
            warnings.push_back("'" + p + "' is referenced by summary.json but is not a regular file");
            continue;
        }
        const std::uint64_t size = matrix.size;
        if (size > max_file_bytes) {
            std::ostringstream why;
            why.precision(3);
            why << double(size) / (1 << 20) << " MiB is more than --max-file-mb " << double(max_file_bytes) / (1 << 20);
            omitted[p] = why.str();
            outcome.omitted.emplace_back(p, why.str());
            continue;
        }
        std::string bytes = matrix.read();
        auto sheet = sheet_layer.find(p);
        if (sheet != sheet_layer.end() && cell_size.count(sheet->second)) {
            sheets[sheet->second].emplace_back(p, std::move(bytes));  // written below, with the layer's atlas
            continue;
        }
        nlohmann::json entry = {{"encoding", "deflate"}};
        BinnedSample binned;
        std::string packed, layout;
        if (joint_samples.count(p) && binned_joint_sample(bytes, p, binned)) {
            bytes = std::move(binned.npy);
            joint_bins[p] = std::move(binned.ranges);
            entry["layout"] = "columns";
        } else if (!full_precision && display_only.count(p) && fixed16_copy(bytes, p, packed, layout)) {
            bytes = std::move(packed);
            entry["stored"] = "fixed16";
            entry["step"] = std::ldexp(1.0, kFixedStepLog2);
            entry["layout"] = layout;
        } else if (!full_precision && display_only.count(p) && float16_copy(bytes, p, packed, layout)) {
            bytes = std::move(packed);
            entry["stored"] = "float16";
            entry["layout"] = layout;
        }
        blob.place(entry, deflate_bytes(bytes, p));
        write_entry(p, entry);
    }
    for (auto& [layer, list] : sheets) {
        std::vector<std::string> pngs;
        for (const auto& item : list) pngs.push_back(item.second);
        Atlas atlas;
        bool built = false;
        try {
            built = build_atlas(pngs, cell_size[layer].first, cell_size[layer].second, atlas);
        } catch (const std::exception&) {
            built = false;
        }
        if (built && atlas.png.size() < [&] { size_t n = 0; for (const auto& p : pngs) n += p.size(); return n; }()) {
            nlohmann::json info = atlas.info;
            info["type"] = "image/png";
            blob.place(info, atlas.png);
            atlases[layer] = std::move(info);
            for (size_t i = 0; i < list.size(); ++i) {
                nlohmann::json entry = std::move(atlas.sheets[i]);
                entry["encoding"] = "atlas";
                entry["atlas"] = layer;
                write_entry(list[i].first, entry);
            }
        } else {
            // Not decodable here, or no smaller as an atlas: the PNG as it is.
            for (const auto& [p, png] : list) {
                nlohmann::json entry = {{"encoding", "none"}};
                blob.place(entry, png);
                write_entry(p, entry);
            }
        }
    }
    index << "},\"atlases\":" << script_safe_json(atlases) << ",\"omitted\":" << script_safe_json(omitted)
          << ",\"joint_bins\":" << script_safe_json(joint_bins) << ",\"warnings\":" << script_safe_json(warnings) << "}";
    nlohmann::json index_entry = {{"encoding", "deflate"}};
    blob.place(index_entry, deflate_bytes(index.str(), "the page index"));
    out.write(page.data(), std::streamsize(marker));
    out << "<script type=\"application/json\" id=\"convergent-data\">"
        << "{\"format\":\"convergent-report\",\"version\":3,\"blob\":{\"id\":\"convergent-blob\",\"encoding\":\"base125\",\"bytes\":"
        << blob.bytes.size() << "},\"index\":" << script_safe_json(index_entry) << ",\"core\":" << script_safe_json(core)
        << ",\"summary\":" << script_safe_json(summary_entry)
        << "}</script><script type=\"application/octet-stream\" id=\"convergent-blob\">";
    std::string text;
    append_base125(text, blob.bytes);
    out.write(text.data(), std::streamsize(text.size()));
    out << "</script>";
    out.write(page.data() + marker + std::strlen(kDataMarker),
              std::streamsize(page.size() - marker - std::strlen(kDataMarker)));
    file.commit();
    outcome.bytes = std::uint64_t(fs::file_size(out_path));
    return outcome;
}

int run(const Options& o) {
    const convergent::report::ReportOutcome outcome =
        convergent::report::write_report(o.dir.string(), o.out.string(), o.max_file_bytes, o.full_precision);
    for (const std::string& w : outcome.warnings) std::cerr << "convergent report: warning: " << w << "\n";
    for (const auto& [path, why] : outcome.omitted)
        std::cerr << "convergent report: warning: left out '" << path << "': " << why << "\n";
    std::ostringstream size_text;
    size_text.precision(3);
    size_text << double(outcome.bytes) / (1 << 20);
    std::cout << "convergent report: wrote " << o.out.string() << " (" << outcome.embedded << " matrices embedded, "
              << size_text.str() << " MiB)\n";
    return 0;
}

}  // namespace

namespace convergent::report {

bool viewer_available() {
#ifdef CONVERGENT_HAVE_VIEWER
    return true;
#else
    return false;
#endif
}

ReportOutcome write_report(const ReportInput& input, const std::string& out, std::uint64_t max_file_bytes,
                           bool full_precision) {
    const std::string page = with_content_security_policy(viewer_page());
    return write_page(page, input, out, max_file_bytes, full_precision);
}

ReportOutcome write_report(const std::string& dir, const std::string& out, std::uint64_t max_file_bytes,
                           bool full_precision) {
    // The viewer first: a build without it says so whatever the directory.
    const std::string page = with_content_security_policy(viewer_page());
    if (!fs::is_directory(dir)) throw Error(ErrorCode::Io, "'" + dir + "' is not a directory");
    const ResultsDirectory results(dir);
    return write_page(page, results, out, max_file_bytes, full_precision);
}

}  // namespace convergent::report

int report_main(const std::vector<std::string>& args) {
    try {
        const Options o = parse_args(args);
        if (o.help) {
            std::cout << kUsage;
            return 0;
        }
        return run(o);
    } catch (const UsageError& e) {
        std::cerr << "convergent report: " << e.what() << "\n" << kUsage;
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "convergent report: " << e.what() << "\n";
        return 1;
    }
}
