// The `convergent` command.
//   convergent compare NET NET [NET...] --out DIR [options]
//   convergent report DIR [--out FILE]
//   convergent options [--json]
//   convergent version
//
// compare's flags, help text and ranges come from the option table
// (convergent/options.hpp); CLI11 parses them.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "convergent/backend.hpp"
#include "convergent/collective.hpp"
#include "convergent/compare.hpp"
#include "convergent/options.hpp"
#include "report.hpp"
#include "signals.hpp"
#ifdef CONVERGENT_CLI_MPI
#include "convergent/mpi_collective.hpp"
#endif

using namespace convergent;

namespace {

const char* kUsage = R"(usage:
  convergent compare NET NET [NET...] --out DIR [options]   (convergent compare --help)
  convergent report DIR [--out FILE]                        (convergent report --help)
  convergent options [--json]                               every compare option, its C key and range
  convergent version

A NET is a directory of <layer>.npy files or an .npz archive with one array
per layer, named by its basename; NAME=NET names it. Layers are (N, C) or
(N, C, H, W).
)";

struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Progress bar on stderr, only when it is a terminal.
class ProgressBar {
public:
    explicit ProgressBar(bool enabled) : enabled_(enabled && ::isatty(STDERR_FILENO)) {}
    ~ProgressBar() { finish(); }
    void update(const std::string& layer, double fraction) {
        if (!enabled_) return;
        if (layer != layer_) {
            finish();
            layer_ = layer;
        }
        const int width = 30;
        const int filled = int(fraction * width + 0.5);
        std::fprintf(stderr, "\r%-12s [%s%s] %3d%%", layer.c_str(), std::string(size_t(filled), '#').c_str(),
                     std::string(size_t(width - filled), ' ').c_str(), int(fraction * 100 + 0.5));
        std::fflush(stderr);
        active_ = true;
    }
    void finish() {
        if (active_) std::fprintf(stderr, "\n");
        active_ = false;
    }

private:
    bool enabled_;
    bool active_ = false;
    std::string layer_;
};

void print_table1(const nlohmann::json& summary) {
    std::printf("backend: %s (requested %s) — %s\n", summary["backend"].get<std::string>().c_str(),
                summary["backend_requested"].get<std::string>().c_str(),
                summary["backend_device"].get<std::string>().c_str());
    bool header = false;
    for (const auto& [layer, lj] : summary["layers"].items()) {
        for (const auto& [pair, pj] : lj["pairs"].items()) {
            if (!pj.contains("correlation")) continue;
            if (!header) {
                std::printf("%-10s %-20s %13s %9s %8s\n", "layer", "pair", "semi-matching", "matching", "overlap");
                header = true;
            }
            const auto& c = pj["correlation"];
            auto number = [](const nlohmann::json& v) { return v.is_number() ? v.get<double>() : NAN; };
            std::printf("%-10s %-20s %13.3f %9.3f %7.1f%%\n", layer.c_str(), pair.c_str(),
                        number(c["semi_matching_mean"]), number(c["matching_mean"]), 100.0 * number(c["overlap_ratio"]));
        }
    }
}

// Sets an option from the command line; a rejected value names the flag.
template <typename Value>
void set_from_flag(CompareOptions& options, const OptionSpec& s, const char* flag, const Value& value) {
    try {
        set_option(options, s, value);
    } catch (const Error& e) {
        throw UsageError(std::string(flag) + ": " + e.what());
    }
}

// A default as the help shows it: each number the shortest text that reads
// back as exactly the same double (0.95, not the 17 digits of
// option_text, which the C API documents).
std::string help_default(const CompareOptions& defaults, const OptionSpec& s) {
    const std::string text = option_text(defaults, s);
    if (s.type != OptionType::Real && s.type != OptionType::RealList) return text;
    std::string out, token;
    std::istringstream in(text);
    while (std::getline(in, token, ',')) {
        const double v = std::strtod(token.c_str(), nullptr);
        std::string shortest = token;
        for (int digits = 1; digits <= 17 && std::isfinite(v); ++digits) {
            std::ostringstream o;
            o.precision(digits);
            o << v;
            if (std::strtod(o.str().c_str(), nullptr) == v) {
                shortest = o.str();
                break;
            }
        }
        out += (out.empty() ? "" : ",") + shortest;
    }
    return out;
}

// One CLI flag per row of the option table: the parsed text goes through
// set_option, which checks the range.
void add_table_options(CLI::App& app, CompareOptions& options) {
    const CompareOptions defaults;
    for (const OptionSpec& spec : option_table()) {
        const OptionSpec* s = &spec;
        std::string help = s->help;
        if (s->type == OptionType::Flag) {
            const bool negative = std::string(s->flag).rfind("--no-", 0) == 0;
            app.add_flag_callback(
                   s->flag, [&options, s, negative] { set_from_flag(options, *s, s->flag, std::int64_t(negative ? 0 : 1)); }, help)
                ->group(s->step);
            continue;
        }
        const std::string def = help_default(defaults, *s);
        if (!def.empty()) help += " (default: " + def + ")";
        const char* type = s->type == OptionType::Real       ? "X"
                           : s->type == OptionType::RealList ? "X,..."
                           : s->type == OptionType::NameList ? "NAME,..."
                           : s->type == OptionType::Choice   ? s->choices
                                                             : "N";
        if (s->implicit) help += " (" + std::string(s->flag) + " alone: " + s->implicit + ")";
        CLI::Option* option =
            app.add_option_function<std::string>(
                   s->flag, [&options, s](const std::string& v) { set_from_flag(options, *s, s->flag, v); }, help)
                ->type_name(type)
                ->group(s->step)
                ->allow_extra_args(false);
        // Without a value the flag takes its implicit one (CLI11 passes the
        // default string then).
        if (s->implicit) option->expected(0, 1)->default_str(s->implicit);
        if (s->alias) {
            app.add_flag_callback(
                   s->alias,
                   [&options, s] {
                       const std::string choices = s->choices;
                       set_from_flag(options, *s, s->alias, choices.substr(choices.rfind('|') + 1));
                   },
                   std::string("same as ") + s->flag + " " + std::string(s->choices).substr(std::string(s->choices).rfind('|') + 1))
                ->group(s->step);
        }
    }
}

#ifdef CONVERGENT_CLI_MPI
// Under mpirun (or with --mpi): every rank streams its slice of the images,
// rank 0 runs the analyses, writes --out and prints; an error on any rank
// ends every rank with that rank's message, printed once by rank 0
// (docs/mpi.md).
int compare_mpi(const std::vector<NetInput>& nets, const std::string& out, const CompareOptions& options, bool quiet) {
    const auto t0 = std::chrono::steady_clock::now();
    MpiSession session(nullptr, nullptr);
    auto collective = std::make_unique<MpiCollective>(MPI_COMM_WORLD);
    const bool root = collective->rank() == 0;
    const int ranks = collective->size();
    nlohmann::json summary;
    try {
        summary = run_compare(nets, out, options, {}, collective.get());
    } catch (const Error& e) {
        // Every rank has the agreed error: rank 0 prints it, then all leave
        // together (mpirun ends the job at the first non-zero exit, which
        // could otherwise cut rank 0 off before it printed).
        if (root) std::fprintf(stderr, "convergent: error: %s\n", e.what());
        std::fflush(stderr);
        MPI_Barrier(MPI_COMM_WORLD);
        return 1;
    }
    collective.reset();  // frees its communicator before MPI_Finalize
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (root && !quiet) {
        print_table1(summary);
        std::printf("wrote %s/summary.json in %.2f s (%d MPI ranks)\n", out.c_str(), seconds, ranks);
    }
    return 0;
}
#endif

int compare_main(int argc, char** argv) {
    CLI::App app{"Compares the units of two or more nets on the same inputs (Li et al., Convergent Learning).",
                 "convergent compare"};
    app.set_help_flag("-h,--help", "print this help and exit");
    std::vector<std::string> inputs;
    std::string out;
    bool quiet = false;
    CompareOptions options;
    app.add_option("nets", inputs,
                   "two or more nets: a directory of <layer>.npy files or an .npz archive, optionally NAME=PATH")
        ->type_name("NET");
    app.add_option("--out", out, "output directory (written atomically; must be empty or new)")->type_name("DIR");
    app.add_flag("-q,--quiet", quiet, "no progress or summary on the terminal");
    bool mpi = false;
#if defined(CONVERGENT_CLI_MPI) || defined(CONVERGENT_CLI_MPI_SIBLING)
    app.add_flag("--mpi", mpi,
                 "spread the images over the MPI ranks (the default when started by mpirun, mpiexec or srun; "
                 "docs/mpi.md)");
#endif
    add_table_options(app, options);
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        throw UsageError(e.what());
    }
    if (inputs.size() < 2) throw UsageError("compare needs at least two nets");
    if (out.empty()) throw UsageError("compare needs --out DIR");
    // Reference nets follow the compared ones (step resampling).
    inputs.insert(inputs.end(), options.resampling.baseline_nets.begin(), options.resampling.baseline_nets.end());

    const auto t0 = std::chrono::steady_clock::now();
    // Open, check and plan everything before any output (run_compare on
    // NetInputs does the same; opened here once, for the estimate too).
    validate_options(options);
    std::vector<NetInput> parsed;
    std::vector<std::string> paths;
    for (const std::string& text : inputs) {
        parsed.push_back(parse_net_input(text));
        paths.push_back(parsed.back().path);
    }
#ifdef CONVERGENT_CLI_MPI
    if (mpi || launched_by_mpi()) return compare_mpi(parsed, out, options, quiet);
#endif
    (void)mpi;
    const std::vector<NetSource> nets = open_nets(parsed, options.layout);
    // The plan's peak (the largest layer; layers run one after another), so
    // a run that will not fit says so before anything is read.
    const std::vector<LayerMemoryEstimate> estimates = estimate_compare_memory(nets, options);
    const auto peak = std::max_element(estimates.begin(), estimates.end(),
                                       [](const auto& a, const auto& b) { return a.peak_bytes < b.peak_bytes; });
    if (!quiet && peak != estimates.end())
        std::fprintf(stderr, "convergent: peak memory estimate %.0f MiB (layer '%s', %lld units together)\n",
                     std::ceil(peak->peak_bytes / 1048576.0), peak->layer.c_str(), (long long)peak->units);
    DirectorySink sink(out, options.overwrite, paths);
    ProgressBar bar(!quiet);
    const nlohmann::json summary =
        run_compare(nets, paths, sink, options, [&](const std::string& l, double f) { bar.update(l, f); });
    bar.finish();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!quiet) {
        print_table1(summary);
        std::printf("wrote %s/summary.json in %.2f s\n", out.c_str(), seconds);
    }
    return 0;
}

int options_main(const std::vector<std::string>& args) {
    if (!args.empty() && args[0] == "--json") {
        std::printf("%s\n", option_table_json().dump(1).c_str());
        return 0;
    }
    if (!args.empty()) throw UsageError("options takes only --json");
    for (const nlohmann::json& o : option_table_json())
        std::printf("%-32s %-28s %-16s %s\n", o["flag"].get<std::string>().c_str(),
                    o["c_name"].get<std::string>().c_str(), o["step"].get<std::string>().c_str(),
                    o["range"].get<std::string>().c_str());
    return 0;
}

int run_main(int argc, char** argv) {  // EFBIG errors instead of a SIGXFSZ kill
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
        std::fputs(kUsage, args.empty() ? stderr : stdout);
        return args.empty() ? 2 : 0;
    }
    const std::string command = args[0];
    args.erase(args.begin());
    try {
        if (command == "compare") return compare_main(argc - 1, argv + 1);
        if (command == "report") return report_main(args);
        if (command == "options") return options_main(args);
        if (command == "version" || command == "--version") {
            std::string mpi = "not compiled in";
#ifdef CONVERGENT_CLI_MPI
            mpi = mpi_library_version();
            if (launched_by_mpi()) {
                MpiSession session(nullptr, nullptr);
                int rank = 0, size = 1;
                MPI_Comm_rank(MPI_COMM_WORLD, &rank);
                MPI_Comm_size(MPI_COMM_WORLD, &size);
                if (rank != 0) return 0;
                mpi += ", " + std::to_string(size) + (size == 1 ? " rank" : " ranks");
            }
#endif
            std::printf("convergent %s (cuda backend: %s; mpi: %s)\n", CONVERGENT_VERSION_STRING,
                        cuda_compiled_in() ? "compiled in" : "not compiled in", mpi.c_str());
            return 0;
        }
        throw UsageError("unknown command '" + command + "'");
    } catch (const UsageError& e) {
        std::fprintf(stderr, "convergent: %s\n\n%s", e.what(), kUsage);
        return 2;
    } catch (const Error& e) {
        std::fprintf(stderr, "convergent: error: %s\n", e.what());
        return 1;
    } catch (const std::bad_alloc&) {
        std::fprintf(stderr, "convergent: error: out of memory\n");
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "convergent: internal error: %s\n", e.what());
        return 1;
    }
}

}  // namespace

#ifdef CONVERGENT_CLI_MPI_SIBLING
namespace {

// Whether to hand over to convergent-mpi: started by an MPI launcher,
// `compare --mpi`, or `version` (which names the MPI library).
bool wants_mpi(int argc, char** argv) {
    if (launched_by_mpi()) return true;
    if (argc < 2) return false;
    const std::string command = argv[1];
    if (command == "version" || command == "--version") return true;
    if (command == "compare")
        for (int i = 2; i < argc; ++i)
            if (std::strcmp(argv[i], "--mpi") == 0) return true;
    return false;
}

// Runs convergent-mpi, the same command linked with MPI, from this
// executable's directory, with the same arguments; returns only on failure.
[[noreturn]] void hand_over_to_mpi(char** argv) {
    std::vector<char> self(4096);
    const ssize_t n = ::readlink("/proc/self/exe", self.data(), self.size() - 1);
    std::string path = n > 0 ? std::string(self.data(), size_t(n)) : std::string();
    const size_t slash = path.rfind('/');
    path = (slash == std::string::npos ? std::string(".") : path.substr(0, slash)) + "/convergent-mpi";
    ::execv(path.c_str(), argv);
    std::fprintf(stderr,
                 "convergent: error: MPI runs need %s, the MPI build of this command installed beside it: %s\n",
                 path.c_str(), std::strerror(errno));
    std::_Exit(2);
}

}  // namespace
#endif

int main(int argc, char** argv) {
#ifdef CONVERGENT_CLI_MPI_SIBLING
    if (wants_mpi(argc, argv)) hand_over_to_mpi(argv);
#endif
    convergent::cli::ignore_file_size_signal();  // EFBIG errors instead of a SIGXFSZ kill
    const int status = run_main(argc, argv);
    // OpenBLAS worker threads that could not map their buffer under an
    // address-space limit retry forever, and OpenBLAS's exit handler joins
    // them. Everything is written and closed by now, so skip the library
    // destructors.
    std::fflush(nullptr);
    std::_Exit(status);
}
