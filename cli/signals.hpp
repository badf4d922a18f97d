// Process-wide signal setup of the `convergent` command.
#pragma once

namespace convergent::cli {

// Ignores SIGXFSZ: a write beyond the file size limit (`ulimit -f`) then
// fails with EFBIG and becomes an ordinary error that names the file, and
// the temporary outputs are removed (AtomicFile, StagedDirectory), instead
// of the signal killing the process and leaving them behind. Call first
// thing in main().
void ignore_file_size_signal();

}  // namespace convergent::cli
