// The backends this build was configured with, registered with libcore's
// backend registry. libcore knows only the Backend interface and its CPU
// backend; this unit sits above libcore and every optional backend library
// (today: cuda/), so the build graph has no cycle.
#pragma once

namespace convergent {

// Registers every backend compiled into this build (the CUDA backend when
// configured with CUDA). Idempotent and thread-safe. Programs linking the
// convergent_backends_at_startup object library get this call before main().
void register_builtin_backends();

}  // namespace convergent
