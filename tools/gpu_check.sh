#!/usr/bin/env bash
# One-command GPU check: on a machine with an NVIDIA GPU, builds the CUDA
# backend, runs every test (the GPU parity tests must run, not skip), times
# the GPU benchmarks against the CPU backend in the same run, measures the
# size crossovers where the CUDA backend should hand small assignments and
# eigensolves to the host (cuda/src/crossovers.hpp; part of the auction and
# eigensolve steps), and writes a markdown section for docs/benchmarks.md.
#
#   bash tools/gpu_check.sh [--dry-run] [--quick] [--skip-tests] [--help]
#
#   --dry-run     print the plan (every command, with its time limit) and exit 0
#   --quick       small benchmark sizes (a first try; the figures are not the goals')
#   --skip-tests  benchmarks only (a rerun on a machine that already passed the tests)
#
# Output: $OUT/gpu_benchmarks.md when OUT is set (else BUILD/gpu_benchmarks.md),
# the step logs next to it in gpu_check/. Exit 0: every step passed; 1: a step
# failed (the report is still written); 2: refused, one line on stderr: no
# usable NVIDIA GPU, no CUDA toolkit, or a driver older than the toolkit
# (found before building), or a build that cannot reach the device.
# Environment: CONVERGENT_GPU_BUILD_DIR (default build/gpu),
# CONVERGENT_CUDA_ARCHITECTURES (default: nvidia-smi's compute capability),
# CONVERGENT_GPU_CHECK_BUDGET_S (whole run, default 560), CONVERGENT_NVIDIA_SMI;
# CONVERGENT_CUDA_MIN_ASSIGNMENT/_MIN_EIGENSOLVE set the crossovers in effect.
# Aim: under 5 minutes on an H100-class GPU with 16 cores; every step runs
# under a hard `timeout`.
set -uo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
dry_run=0 quick=0 skip_tests=0
for arg in "$@"; do
  case "$arg" in
    --dry-run) dry_run=1 ;;
    --quick) quick=1 ;;
    --skip-tests) skip_tests=1 ;;
    -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu_check: unknown argument '$arg' (see --help)" >&2; exit 64 ;;
  esac
done

build=${CONVERGENT_GPU_BUILD_DIR:-$here/build/gpu}
work=$build/gpu_check              # large outputs (end-to-end result directories)
if [ -n "${OUT:-}" ]; then
  report=$OUT/gpu_benchmarks.md
  logs=$OUT/gpu_check              # comes back with $OUT
else
  report=$build/gpu_benchmarks.md
  logs=$work
fi
smi=${CONVERGENT_NVIDIA_SMI:-nvidia-smi}
py=/usr/bin/python3
[ -x "$py" ] || py=python3
jobs=$(nproc 2>/dev/null || echo 4)
# Whole-run budget: a step never runs past it (its limit is cut down, or it is
# skipped), so the report is written before an outer limit (a device loan's
# 10-minute command) ends the run.
budget=${CONVERGENT_GPU_CHECK_BUDGET_S:-560}
t_start=$(date +%s)
failed=0

refuse() {  # one line, exit 2: nothing was built or run
  echo "gpu_check: $1" >&2
  exit 2
}

# step NAME LIMIT_S [--stdout FILE] CMD...: runs CMD under `timeout`, its
# output in $logs/NAME.log (stdout in FILE when given); one status line.
step() {
  local name=$1 limit=$2 stdout_file=""
  shift 2
  if [ "${1:-}" = "--stdout" ]; then stdout_file=$2; shift 2; fi
  if [ "$dry_run" = 1 ]; then
    printf '[%s] timeout %ss:' "$name" "$limit"
    printf ' %q' "$@"
    [ -n "$stdout_file" ] && printf ' > %q' "$stdout_file"
    printf '\n'
    return 0
  fi
  local log=$logs/$name.log t0 rc status left
  left=$(( t_start + budget - $(date +%s) ))
  [ "$name" = report ] || left=$(( left - 20 ))  # keep time for the report
  if [ "$left" -lt 5 ]; then
    printf '%s\t%s\t0\t-1\n' "$name" "skipped (budget ${budget} s spent)" >>"$logs/steps.tsv"
    printf '== %-22s skipped: the %d s budget is spent\n' "$name" "$budget"
    failed=1
    return 1
  fi
  [ "$left" -lt "$limit" ] && limit=$left
  t0=$(date +%s.%N)
  if [ -n "$stdout_file" ]; then
    timeout -k 10 "$limit" "$@" >"$stdout_file" 2>"$log"
  else
    timeout -k 10 "$limit" "$@" >"$log" 2>&1
  fi
  rc=$?
  local seconds
  seconds=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')
  case $rc in
    0) status=ok ;;
    124|137) status="timed out (${limit} s)" ;;
    *) status="failed (exit $rc)" ;;
  esac
  printf '%s\t%s\t%s\t%s\n' "$name" "$status" "$seconds" "$rc" >>"$logs/steps.tsv"
  printf '== %-22s %-24s %6.0f s   (total %d s)\n' "$name" "$status" "$seconds" "$(( $(date +%s) - t_start ))"
  if [ $rc != 0 ]; then
    failed=1
    tail -n 15 "$log" | sed 's/^/   | /'
    [ -n "$stdout_file" ] && tail -n 5 "$stdout_file" | sed 's/^/   > /'
  fi
  return $rc
}

# ---- 1. Is there a GPU the CUDA toolkit can use? (seconds; before any build)
nvcc=${CUDACXX:-}
[ -z "$nvcc" ] && [ -x /usr/local/cuda/bin/nvcc ] && nvcc=/usr/local/cuda/bin/nvcc
[ -z "$nvcc" ] && nvcc=$(command -v nvcc || true)
arch=${CONVERGENT_CUDA_ARCHITECTURES:-}
if [ "$dry_run" = 1 ]; then
  echo "# gpu_check plan (dry run: nothing is run)"
  echo "# build: $build   report: $report   logs: $logs   jobs: $jobs"
  echo "[detect] $smi -L; $smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader; ${nvcc:-nvcc} --version"
  echo "[detect] refuse with exit 2 when no GPU is listed, the driver's CUDA major version is older than the toolkit's, or nvcc is missing"
  arch=${arch:-90}
  echo "# CMAKE_CUDA_ARCHITECTURES: nvidia-smi's compute_cap at run time (90 on H100/H200), else native; CONVERGENT_CUDA_ARCHITECTURES overrides"
else
  command -v "$smi" >/dev/null 2>&1 || refuse "no usable NVIDIA GPU: '$smi' not found (no NVIDIA driver on this machine)"
  gpus=$(timeout 30 "$smi" -L 2>&1) || refuse "no usable NVIDIA GPU: '$smi -L' failed: $(printf '%s' "$gpus" | head -n 1)"
  printf '%s\n' "$gpus" | grep -q '^GPU [0-9]' || refuse "no usable NVIDIA GPU: '$smi -L' lists no GPU"
  [ -n "$nvcc" ] || refuse "no CUDA toolkit: a GPU is present but nvcc is not installed (set CUDACXX)"
  query=$(timeout 30 "$smi" --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader 2>/dev/null | head -n 1)
  IFS=',' read -r gpu_name driver gpu_memory compute_cap <<<"$query"
  gpu_name=$(echo "${gpu_name:-}" | xargs); driver=$(echo "${driver:-}" | xargs)
  gpu_memory=$(echo "${gpu_memory:-}" | xargs); compute_cap=$(echo "${compute_cap:-}" | xargs)
  driver_cuda=$(timeout 30 "$smi" 2>/dev/null | grep -o 'CUDA Version: *[0-9.]*' | grep -o '[0-9.]*$' | head -n 1)
  toolkit=$("$nvcc" --version | grep -o 'release [0-9.]*' | grep -o '[0-9.]*$')
  # The runtime of a newer CUDA major version does not run on an older driver.
  if [ -n "$driver_cuda" ] && [ -n "$toolkit" ] && [ "${driver_cuda%%.*}" -lt "${toolkit%%.*}" ]; then
    refuse "no usable NVIDIA GPU: driver $driver supports CUDA $driver_cuda, older than the toolkit's CUDA $toolkit ($nvcc)"
  fi
  if [ -z "$arch" ]; then
    if [[ "$compute_cap" =~ ^[0-9]+\.[0-9]+$ ]]; then arch=${compute_cap/./}; else arch=native; fi
  fi
  mkdir -p "$logs" "$work"
  : >"$logs/steps.tsv"
  {
    echo "date=$(date -u +%Y-%m-%d)"
    echo "gpu_name=$gpu_name"
    echo "gpu_memory=$gpu_memory"
    echo "driver=$driver"
    echo "driver_cuda=$driver_cuda"
    echo "compute_cap=$compute_cap"
    echo "nvcc=CUDA $toolkit"
    echo "host_cpus=$jobs"
    echo "host_cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
    echo "commit=$(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$here" diff --quiet HEAD 2>/dev/null || echo '+local changes')"
    echo "e2e_dir=$work"
  } >"$logs/environment.txt"
  echo "gpu_check: $gpu_name, driver $driver (CUDA $driver_cuda), toolkit CUDA $toolkit, sm_$arch, $jobs cores"
  if command -v ccache >/dev/null 2>&1; then export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}; fi
fi

# ---- 2. Configure and build (the CUDA library, tests, CLI, benches)
generator=()
if [ ! -f "$build/CMakeCache.txt" ] && command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
step configure 180 cmake -S "$here" -B "$build" "${generator[@]}" -DCONVERGENT_CUDA=ON -DCONVERGENT_VIEWER=OFF -DCONVERGENT_PYTHON=OFF \
  -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CUDA_ARCHITECTURES=$arch" || exit 1
step build 480 cmake --build "$build" -j "$jobs" --target all cuda_bench || exit 1

# The built program must see the device too (driver/runtime agreement): the
# C++ registry (cuda_bench --probe) and the C ABI (cvg_cuda_device_available).
bench=$build/bench/cuda_bench
cli=$build/cli/convergent
probe_py="import ctypes,sys; sys.exit(0 if ctypes.CDLL(sys.argv[1]).cvg_cuda_device_available() else 2)"
if [ "$dry_run" = 1 ]; then
  step probe 60 --stdout "$logs/probe.json" "$bench" --probe
  step probe-c-abi 60 "$py" -c "$probe_py" "$build/capi/libconvergent.so"
  step version 30 "$cli" version
else
  if ! step probe 60 --stdout "$logs/probe.json" "$bench" --probe; then
    refuse "no usable NVIDIA GPU: the built program cannot use it: $(cat "$logs/probe.json" "$logs/probe.log" 2>/dev/null | head -n 2 | tr '\n' ' ')"
  fi
  lib=$build/capi/libconvergent.so
  step probe-c-abi 60 "$py" -c "$probe_py" "$lib" ||
    refuse "no usable NVIDIA GPU: cvg_cuda_device_available() is 0 in $lib"
  step version 30 "$cli" version
  grep -q 'cuda backend: compiled in' "$logs/version.log" || { echo "gpu_check: the CLI was built without the CUDA backend" >&2; exit 1; }
fi

# ---- 3. The GPU tests (fail fast): ctest -R Cuda and the Python tests with
# GPU branches.
if [ "$skip_tests" = 0 ]; then
  step tests-cuda 240 ctest --test-dir "$build" -R Cuda --output-on-failure --timeout 180 \
    --output-junit "$logs/ctest_cuda.xml"
  step tests-python-gpu 240 ctest --test-dir "$build" -R '^py\.test_(compare_cli|ctypes_wrapper)$' \
    --output-on-failure --timeout 220 --output-junit "$logs/ctest_python.xml"
fi

# ---- 4. Benchmarks, each against the CPU backend in the same run
sizes=()
existing_units=4096
if [ "$quick" = 1 ]; then sizes=(--quick); existing_units=1024; fi
step bench-statistics 120 --stdout "$logs/bench_statistics.jsonl" "$bench" --case statistics "${sizes[@]}"
step bench-mutual-info 180 --stdout "$logs/bench_mutual_information.jsonl" "$bench" --case mutual_information "${sizes[@]}"
# auction / eigensolve also time host vs device size by size (n = 64..4096 and
# 128..8192, a host solve predicted over 5 s is skipped) for the crossovers.
step bench-auction 150 --stdout "$logs/bench_auction.jsonl" "$bench" --case auction "${sizes[@]}"
step bench-eigensolve 200 --stdout "$logs/bench_eigensolve.jsonl" "$bench" --case eigensolve "${sizes[@]}"
# The existing MI bench: host binning + between- and within-net MI on the device.
step bench-mi-existing 180 --stdout "$logs/existing_mi.jsonl" "$build/bench/bench_mutual_information" \
  --backend cuda --units "$existing_units"

# End to end on the bundled nets, both backends (the CPU run is the reference).
nets=("$here"/examples/fashion_mnist/nets/net1.npz "$here"/examples/fashion_mnist/nets/net2.npz
      "$here"/examples/fashion_mnist/nets/net3.npz "$here"/examples/fashion_mnist/nets/net4.npz)
for kind in cpu cuda; do
  [ "$dry_run" = 1 ] || rm -rf "$work/e2e_$kind"
  step "e2e-$kind" 240 "$cli" compare "${nets[@]}" --out "$work/e2e_$kind" --quiet --timings --backend "$kind"
done

# The report now (in case the rest of the suite outruns the budget), again at the end.
step report 60 "$py" "$here/bench/gpu_report.py" table "$logs" "$report"

# ---- 5. The rest of the C/C++ suite against the CUDA build (mostly CPU);
# then no test may still be skipped for any reason but "a CUDA device is present".
if [ "$skip_tests" = 0 ]; then
  step tests-suite 360 ctest --test-dir "$build" -j "$jobs" -E '^py\.|^browser\.|Cuda' --output-on-failure \
    --timeout 240 --output-junit "$logs/ctest_suite.xml"
  step tests-skips 30 "$py" "$here/bench/gpu_report.py" skips "$logs/ctest_cuda.xml" "$logs/ctest_suite.xml" \
    "$logs/ctest_python.xml"
  step report 60 "$py" "$here/bench/gpu_report.py" table "$logs" "$report"
fi
if [ "$dry_run" = 1 ]; then exit 0; fi
grep -E '^- (measured|to adopt)' "$report" 2>/dev/null | sed 's/^- /gpu_check: /'
echo "gpu_check: wrote $report (logs in $logs) in $(( $(date +%s) - t_start )) s"
exit $failed
