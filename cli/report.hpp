// `convergent report DIR [--out FILE] [--max-file-mb N]`: writes one
// self-contained HTML page (the Emscripten viewer, with DIR/summary.json and
// the matrices it references embedded) that opens from file:// offline.
#pragma once

#include <string>
#include <vector>

// args: everything after "report". Returns the process exit status (0 ok,
// 1 error, 2 usage) after printing what went wrong to stderr.
int report_main(const std::vector<std::string>& args);
