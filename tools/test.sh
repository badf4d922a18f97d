#!/usr/bin/env bash
# Sets up and runs every test: the CPU build (with the viewer, Python and
# browser tests; the Thrust logic runs on the CPU through
# THRUST_DEVICE_SYSTEM_OMP), the Python package three ways, the CUDA build
# (nvcc; GPU tests skip without a device), the sanitizer build and the
# fuzzers.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
setup_start=$SECONDS
bash tools/setup.sh
setup_seconds=$((SECONDS - setup_start))

if [ "${CONVERGENT_SKIP_CUDA:-0}" != 1 ] && [ ! -x /usr/local/cuda/bin/nvcc ] && ! command -v nvcc >/dev/null; then
  echo "test.sh: nvcc not found; the CUDA backend must be built (set CONVERGENT_SKIP_CUDA=1 to skip)" >&2
  exit 1
fi
jobs=${CONVERGENT_JOBS:-$(nproc)}
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}

# Each stage prints its wall time; the summary at the end lists them all
# (CI has 2 cores and a 45-minute budget: docs/ci.md).
stages=("$(printf '%5d s  %s' "$setup_seconds" "setup (tools/setup.sh)")")
stage_begin() { echo "== $1"; stage_name=$1; stage_start=$SECONDS; }
stage_end() { stages+=("$(printf '%5d s  %s' $((SECONDS - stage_start)) "$stage_name")"); }
trap 'echo "== stage times"; printf "%s\n" "${stages[@]}"' EXIT

stage_begin "CPU build (build/cpu)"
cmake -S . -B build/cpu -DCONVERGENT_CUDA=OFF -DCONVERGENT_REQUIRE_BROWSER_TEST=ON -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/cpu -j"$jobs"
stage_end
stage_begin "CPU tests (build/cpu)"
(cd build/cpu && ctest --output-on-failure -j"$jobs")
stage_end

# The Python package installed three ways (cmake --install, a wheel, pip
# install .), each checked in a fresh interpreter with a clean environment.
if [ "${CONVERGENT_SKIP_PYTHON_PACKAGE:-0}" != 1 ]; then
  stage_begin "Python package (tests/install/python_package.sh)"
  CONVERGENT_JOBS="$jobs" bash tests/install/python_package.sh build/cpu
  stage_end
fi

# The CUDA backend (nvcc; GPU tests skip without a device). Its libcore and
# test objects are the CPU build's (ccache hits: the flags are the same), so
# this costs the nvcc unit and the links. The C/C++ tests run again against
# the CUDA-enabled library (auto must pick the CPU without a GPU, cuda must
# fail clearly); the thrust_omp tests are the CPU build's own binary again
# (g++ with THRUST_DEVICE_SYSTEM_OMP) and are not repeated. Of the Python
# tests only the ctypes caller's runs here (the C ABI's backend choice with
# the CUDA backend built); the others and the browser tests are not
# repeated: a CLI linked with cuBLAS/cuSOLVER maps hundreds of MB of
# libraries at start-up, so the address-space limits of the out-of-memory
# tests cannot hold there (docs/ci.md).
if [ "${CONVERGENT_SKIP_CUDA:-0}" != 1 ]; then
  stage_begin "CUDA build and tests (build/cuda)"
  cmake -S . -B build/cuda -DCONVERGENT_CUDA=ON -DCONVERGENT_VIEWER=OFF -DCONVERGENT_PYTHON=OFF -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build/cuda -j"$jobs"
  (cd build/cuda && ctest --output-on-failure -j"$jobs" -E '^py\.|^browser\.|^thrust_omp\.' &&
    ctest --output-on-failure -R '^py\.test_ctypes_wrapper$')
  stage_end
fi

# --- Hostile input (docs/fuzzing.md): the C/C++ tests under ASan + UBSan, then
# every libFuzzer harness for CONVERGENT_FUZZ_SECONDS (default 30) each.
if [ "${CONVERGENT_SKIP_SANITIZE:-0}" != 1 ]; then
  stage_begin "sanitizers (build/sanitize)"
  bash tools/sanitize.sh
  stage_end
fi
if [ "${CONVERGENT_SKIP_FUZZ:-0}" != 1 ]; then
  stage_begin "fuzzing (build/fuzz)"
  bash tools/fuzz.sh "${CONVERGENT_FUZZ_SECONDS:-30}"
  stage_end
fi
