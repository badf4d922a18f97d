// The single-file HTML report of a comparison's results: the Emscripten
// viewer page with summary.json and the matrices it references embedded, so
// it opens from file:// offline. Written by `convergent report DIR [--out
// FILE] [--max-file-mb N]` and by the Python module's Result.report(), both
// through write_report (the static library convergent_report).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace convergent::report {

// What a page embeds: summary.json and the .npy files it references, named
// by their path relative to the results directory ("conv1/a~b.corr.npy").
class ReportInput {
public:
    struct File {
        enum Status { Opened, Missing, NotRegular } status = Missing;
        std::uint64_t size = 0;
        std::function<std::string()> read;  // the whole content; set when Opened
    };

    virtual ~ReportInput() = default;
    // How messages name one file of the results and the results as a whole.
    virtual std::string display_path(const std::string& relative) const = 0;
    virtual std::string display_root() const = 0;
    // Opens a file of the results; a directory input never leaves the
    // directory (throws Error(Io) naming a symbolic link on the way).
    virtual File open_file(const std::string& relative) const = 0;
    // Whether the name exists (symbolic links included), for results whose
    // summary.json has no "files" map.
    virtual bool exists(const std::string& relative) const = 0;
};

// Matrices larger than this are left out of the page (with a note).
constexpr std::uint64_t kDefaultMaxFileBytes = std::uint64_t(64) << 20;

struct ReportOutcome {
    std::size_t embedded = 0;                                  // matrices in the page
    std::vector<std::string> warnings;                          // also listed in the page
    std::vector<std::pair<std::string, std::string>> omitted;  // (path, why) left out for their size
    std::uint64_t bytes = 0;                                    // size of the page written
};

// Whether the viewer is linked in (CONVERGENT_VIEWER=ON with em++); without
// it write_report throws Error(Unsupported) saying so.
bool viewer_available();

// Writes the page to `out` atomically (nothing is left behind on error).
// Throws convergent::Error: Unsupported (no viewer), Io (no summary.json,
// unreadable or unwritable files, links), BadData (summary.json that is not
// a convergent result).
// full_precision: the correlation and MI matrices as float32 instead of
// float16 (they are display-only; see the payload format in report.cpp).
ReportOutcome write_report(const ReportInput& input, const std::string& out,
                           std::uint64_t max_file_bytes = kDefaultMaxFileBytes, bool full_precision = false);
// The same for a results directory (`convergent compare --out DIR`).
ReportOutcome write_report(const std::string& dir, const std::string& out,
                           std::uint64_t max_file_bytes = kDefaultMaxFileBytes, bool full_precision = false);

}  // namespace convergent::report

// `convergent report` with args = everything after "report". Returns the
// process exit status (0 ok, 1 error, 2 usage) after printing what went
// wrong to stderr.
int report_main(const std::vector<std::string>& args);
