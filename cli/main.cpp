// The `convergent` command.
//   convergent compare NET NET [NET...] --out DIR [options]
//   convergent report DIR [--out FILE]
//   convergent version
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "convergent/backend.hpp"
#include "convergent/compare.hpp"
#include "report.hpp"

using namespace convergent;

namespace {

const char* kUsage = R"(usage:
  convergent compare NET NET [NET...] --out DIR [options]
  convergent report DIR [--out FILE]
  convergent version

A NET is a directory of <layer>.npy files or an .npz archive with one array
per layer; its name is the basename. Layers are (N, C) or (N, C, H, W).

compare options:
  --out DIR              output directory (written atomically; must be empty or new)
  --overwrite            replace an existing output directory
  --layers a,b,...       only these layers (default: all; every net must have them)
  --backend auto|cpu|cuda  (default auto: cuda when available; the result says which ran)
  --channels-last        conv layers are (N, H, W, C)
  --chunk-rows N         samples per streamed chunk (default 16384)
  --seed N               seed for sampling and k-means (default 0)
  --no-matching          skip correlation semi-matching / matching (Sec. 3.1)
  --no-mi                skip mutual information (Sec. 3.2)
  --mi-bins N            percentile bins besides the <=1e-6 bin (default 20)
  --mi-samples N         samples for the histograms (default 60000)
  --no-sparse            skip sparse prediction (Sec. 4)
  --lasso-alphas a,b,... L1 strengths of the sparse-prediction path
  --lasso-weights        also write <layer>/<a>~<b>.lasso_weights.npy (alphas x units a x units b)
  --no-clusters          skip spectral clustering (Sec. 4)
  --cluster-k K          initial clusters (default: 0.4 x units per net, the paper's
                         ratio; 0: the eigengap suggestion)
  --cluster-tau T        edge threshold (default 0.2)
  --cluster-alpha A      leaf size parameter (default 0.025)
  --no-mean-activation   skip the sorted mean-activation comparison
  --quiet                no progress or summary on the terminal
)";

struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

std::vector<std::string> split_commas(const std::string& s) {
    std::vector<std::string> out;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ','))
        if (!item.empty()) out.push_back(item);
    return out;
}

long long parse_int(const std::string& flag, const std::string& v, long long min_value,
                    long long max_value = INT_MAX) {
    char* end = nullptr;
    errno = 0;
    const long long x = std::strtoll(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0' || errno == ERANGE || x < min_value || x > max_value)
        throw UsageError(flag + " expects an integer in " + std::to_string(min_value) + ".." +
                         std::to_string(max_value) + ", got '" + v + "'");
    return x;
}

double parse_double(const std::string& flag, const std::string& v) {
    char* end = nullptr;
    const double x = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0' || !std::isfinite(x))
        throw UsageError(flag + " expects a number, got '" + v + "'");
    return x;
}

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
                        number(c["semi_matching_mean"]), number(c["matching_mean"]),
                        100.0 * number(c["overlap_ratio"]));
        }
    }
}

int compare_main(const std::vector<std::string>& args) {
    std::vector<std::string> inputs;
    std::string out;
    bool quiet = false;
    CompareOptions opt;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        auto value = [&]() -> const std::string& {
            if (i + 1 >= args.size()) throw UsageError(a + " needs a value");
            return args[++i];
        };
        if (a == "--out") out = value();
        else if (a == "--overwrite") opt.overwrite = true;
        else if (a == "--layers") opt.layers = split_commas(value());
        else if (a == "--backend") opt.backend = parse_backend_kind(value());
        else if (a == "--channels-last") opt.layout.channels_last = true;
        else if (a == "--chunk-rows") opt.chunk_rows = parse_int(a, value(), 1, INT_MAX);
        else if (a == "--seed") opt.seed = std::uint64_t(parse_int(a, value(), 0, LLONG_MAX));
        else if (a == "--no-matching") opt.correlation_matching = false;
        else if (a == "--no-mi") opt.mutual_information = false;
        else if (a == "--mi-bins") opt.mi_bins = int(parse_int(a, value(), 1, 254));
        else if (a == "--mi-samples") opt.mi_samples = parse_int(a, value(), 2);  // <= INT_MAX
        else if (a == "--no-sparse") opt.sparse_prediction = false;
        else if (a == "--lasso-alphas") {
            opt.lasso_alphas.clear();
            for (const auto& s : split_commas(value())) opt.lasso_alphas.push_back(parse_double(a, s));
        } else if (a == "--lasso-weights") opt.lasso_weights = true;
        else if (a == "--no-clusters") opt.clustering = false;
        else if (a == "--cluster-k") opt.cluster_k = int(parse_int(a, value(), 0));
        else if (a == "--cluster-tau") opt.cluster_tau = parse_double(a, value());
        else if (a == "--cluster-alpha") opt.cluster_alpha = parse_double(a, value());
        else if (a == "--no-mean-activation") opt.mean_activation = false;
        else if (a == "--quiet") quiet = true;
        else if (!a.empty() && a[0] == '-') throw UsageError("unknown option " + a);
        else inputs.push_back(a);
    }
    if (inputs.size() < 2) throw UsageError("compare needs at least two nets");
    if (out.empty()) throw UsageError("compare needs --out DIR");

    ProgressBar bar(!quiet);
    const auto t0 = std::chrono::steady_clock::now();
    const nlohmann::json summary =
        run_compare(inputs, out, opt, [&](const std::string& l, double f) { bar.update(l, f); });
    bar.finish();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!quiet) {
        print_table1(summary);
        std::printf("wrote %s/summary.json in %.2f s\n", out.c_str(), seconds);
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
        std::fputs(kUsage, args.empty() ? stderr : stdout);
        return args.empty() ? 2 : 0;
    }
    const std::string command = args[0];
    args.erase(args.begin());
    try {
        if (command == "compare") return compare_main(args);
        if (command == "report") return report_main(args);
        if (command == "version" || command == "--version") {
            std::printf("convergent %s (cuda backend: %s)\n", CONVERGENT_VERSION_STRING,
                        cuda_compiled_in() ? "compiled in" : "not compiled in");
            return 0;
        }
        throw UsageError("unknown command '" + command + "'");
    } catch (const UsageError& e) {
        std::fprintf(stderr, "convergent: %s\n\n%s", e.what(), kUsage);
        return 2;
    } catch (const Error& e) {
        std::fprintf(stderr, "convergent: error: %s\n", e.what());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "convergent: internal error: %s\n", e.what());
        return 1;
    }
}
