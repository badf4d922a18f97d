#!/usr/bin/env bash
# Builds libcore, the C ABI library and the C/C++ tests (GoogleTest
# convergent_tests, the tests/c programs) with AddressSanitizer +
# UndefinedBehaviorSanitizer (gcc, -O1, assertions on) in build/sanitize and
# runs them with ctest. Python, browser, Fortran and install tests are left to
# tools/test.sh's regular builds. Any sanitizer report fails the test.
#
# Environment: CONVERGENT_SANITIZE_BUILD (build dir, default build/sanitize),
# CONVERGENT_JOBS (default nproc), CC/CXX (another compiler, e.g. clang).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

build=${CONVERGENT_SANITIZE_BUILD:-build/sanitize}
jobs=${CONVERGENT_JOBS:-$(nproc)}
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"

start=$SECONDS
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_C_FLAGS_DEBUG="-O1 -g" -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" \
  -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DCONVERGENT_CUDA=OFF -DCONVERGENT_VIEWER=OFF -DCONVERGENT_BENCH=OFF -DCONVERGENT_FORTRAN=OFF \
  -DCONVERGENT_THRUST_OMP=OFF -DCONVERGENT_PYTHON=OFF >/dev/null
targets=(convergent_tests)
for src in tests/c/test_*.c; do targets+=("c_$(basename "$src" .c)"); done

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$here/tools/sanitize.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# gtest_discover_tests runs convergent_tests at build time, so the options
# above are set before the build.
cmake --build "$build" -j"$jobs" --target "${targets[@]}"
echo "sanitize: built in $((SECONDS - start)) s"
# The MPI tests run the CLI under mpirun (the regular builds run them).
(cd "$build" && ctest --output-on-failure -j"$jobs" --timeout 600 -E '^(py|browser|install|fortran|mpi)\.')
echo "sanitize: done in $((SECONDS - start)) s"
