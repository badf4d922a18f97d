// The whole per-layer analysis behind `convergent compare`: one streaming
// pass over every net's activations per layer (moments for the Sec. 2
// statistics plus what the enabled analyses request, such as the Sec. 3.2
// sample rows), then the table of analysis steps on what the pass produced,
// written atomically to an output directory (docs/summary_schema.md).
// Options: convergent/options.hpp.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "convergent/options.hpp"

namespace convergent {

// One input net: its name in the results and where its activations are.
struct NetInput {
    std::string name;  // empty: the basename of path without extension
    std::string path;
};

// "name=path" names a net; anything else is a path. The text before the
// first '=' is taken as a name only when it has no '/' and the whole text is
// not itself an existing file or directory.
NetInput parse_net_input(const std::string& text);

// Throws InvalidArgument unless name can name a net: non-empty valid UTF-8
// without control characters, '/', '\\' or '~' ('~' joins pair keys "a~b"),
// and not "." or "..".
void validate_net_name(const std::string& name, const std::string& what);
// Throws BadData unless name can name a layer (it becomes a directory of the
// output): the same rules, and not starting with '.' or naming an output
// file (summary.json, report.html).
void validate_layer_name(const std::string& name, const std::string& what);

// Progress callback: (layer, fraction of the layer's pass done in [0,1]).
using ProgressFn = std::function<void(const std::string& layer, double fraction)>;

// Runs the comparison and writes out_dir (via a temporary sibling directory
// renamed at the end: on any error nothing is left behind). Returns the
// summary JSON that was written.
nlohmann::json run_compare(const std::vector<NetInput>& inputs, const std::string& out_dir,
                           const CompareOptions& options, const ProgressFn& progress = {});
// Each input through parse_net_input.
nlohmann::json run_compare(const std::vector<std::string>& inputs, const std::string& out_dir,
                           const CompareOptions& options, const ProgressFn& progress = {});

}  // namespace convergent
