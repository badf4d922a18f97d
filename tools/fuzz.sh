#!/usr/bin/env bash
# Builds the libFuzzer harnesses of tests/fuzz (clang, ASan + UBSan, build
# dir build/fuzz) and runs each for a bounded time; fails on any finding.
#
#   tools/fuzz.sh [SECONDS_PER_HARNESS]      (default 60)
#
# Environment: CONVERGENT_FUZZ_BUILD (build dir, default build/fuzz),
# CONVERGENT_FUZZ_HARNESSES (default "npy npz stats_capi viewer"),
# CONVERGENT_JOBS (parallel builds and harnesses, default nproc),
# CONVERGENT_FUZZ_ARGS (extra libFuzzer flags, e.g. -runs=10000000 for the
# release check in docs/fuzzing.md). Each harness starts from its seeds in
# tests/fuzz/corpus/<name> and keeps what it finds new in
# <build>/corpus/<name>; a crashing input lands in <build>/findings/<name>/.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

seconds=${1:-60}
build=${CONVERGENT_FUZZ_BUILD:-build/fuzz}
jobs=${CONVERGENT_JOBS:-$(nproc)}
read -r -a harnesses <<<"${CONVERGENT_FUZZ_HARNESSES:-npy npz stats_capi viewer}"
read -r -a extra_args <<<"${CONVERGENT_FUZZ_ARGS:-}"
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}

start=$SECONDS
cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCONVERGENT_FUZZ=ON -DCONVERGENT_CUDA=OFF -DCONVERGENT_VIEWER=OFF -DCONVERGENT_BENCH=OFF \
  -DCONVERGENT_TESTS=OFF -DCONVERGENT_FORTRAN=OFF -DCONVERGENT_THRUST_OMP=OFF -DCONVERGENT_PYTHON=OFF >/dev/null
targets=()
for h in "${harnesses[@]}"; do targets+=("fuzz_$h"); done
cmake --build "$build" -j"$jobs" --target "${targets[@]}"
echo "fuzz: built in $((SECONDS - start)) s; running ${#harnesses[@]} harnesses for ${seconds} s each, $jobs at a time"

# One thread per harness process: libFuzzer runs inputs serially and the
# harnesses are spread over the cores instead.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
symbolizer=$(command -v llvm-symbolizer || ls /usr/lib/llvm-*/bin/llvm-symbolizer 2>/dev/null | tail -n 1 || true)
[ -n "$symbolizer" ] && export ASAN_SYMBOLIZER_PATH=$symbolizer

run_harness() {
  local h=$1 work="$build/corpus/$1" findings="$build/findings/$1"
  mkdir -p "$work" "$findings"
  "$build/tests/fuzz/fuzz_$h" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$findings/" "${extra_args[@]}" \
    "$work" "tests/fuzz/corpus/$h" >"$build/fuzz_$h.log" 2>&1
}

pids=() names=() failed=()
for h in "${harnesses[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 1; done
  run_harness "$h" &
  pids+=($!) names+=("$h")
done
for i in "${!pids[@]}"; do
  h=${names[$i]}
  if wait "${pids[$i]}"; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$build/fuzz_$h.log" | grep -o '[0-9]*$' || echo "?")
    echo "fuzz: $h: no finding ($runs executions)"
  else
    failed+=("$h")
    echo "fuzz: $h: FINDING (log $build/fuzz_$h.log; inputs in $build/findings/$h/):" >&2
    grep -v '^#[0-9]' "$build/fuzz_$h.log" | tail -n 60 >&2
  fi
done
echo "fuzz: done in $((SECONDS - start)) s"
if ((${#failed[@]})); then
  echo "fuzz: findings in: ${failed[*]} (reproduce: $build/tests/fuzz/fuzz_<name> <input>; docs/fuzzing.md)" >&2
  exit 1
fi
