#!/usr/bin/env bash
# Sets up and runs every test: the CPU build (with the viewer and browser
# tests) and the CUDA build (nvcc; GPU tests skip without a device, the
# Thrust logic runs on the CPU through THRUST_DEVICE_SYSTEM_OMP).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
bash tools/setup.sh

jobs=${CONVERGENT_JOBS:-$(nproc)}
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}

echo "== CPU build (build/cpu)"
cmake -S . -B build/cpu -DCONVERGENT_CUDA=OFF -DCONVERGENT_REQUIRE_BROWSER_TEST=ON -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/cpu -j"$jobs"
(cd build/cpu && ctest --output-on-failure -j"$jobs")

# The Python package installed three ways (cmake --install, a wheel, pip
# install .), each checked in a fresh interpreter with a clean environment.
if [ "${CONVERGENT_SKIP_PYTHON_PACKAGE:-0}" != 1 ]; then
  echo "== Python package (tests/install/python_package.sh)"
  CONVERGENT_JOBS="$jobs" bash tests/install/python_package.sh build/cpu
fi

if [ "${CONVERGENT_SKIP_CUDA:-0}" != 1 ]; then
  echo "== CUDA build (build/cuda)"
  if [ ! -x /usr/local/cuda/bin/nvcc ] && ! command -v nvcc >/dev/null; then
    echo "test.sh: nvcc not found; the CUDA backend must be built (set CONVERGENT_SKIP_CUDA=1 to skip)" >&2
    exit 1
  fi
  cmake -S . -B build/cuda -DCONVERGENT_CUDA=ON -DCONVERGENT_VIEWER=OFF -DCONVERGENT_PYTHON=OFF -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build/cuda -j"$jobs"
  # Every C++/C test against the CUDA-enabled library: on a machine without
  # a GPU, auto selects the CPU and the GPU parity tests skip.
  (cd build/cuda && ctest --output-on-failure -j"$jobs" -E '^py\.|^browser\.')
fi

# --- Hostile input (docs/fuzzing.md): the C/C++ tests under ASan + UBSan, then
# every libFuzzer harness for CONVERGENT_FUZZ_SECONDS (default 30) each.
if [ "${CONVERGENT_SKIP_SANITIZE:-0}" != 1 ]; then
  echo "== Sanitizer build (build/sanitize)"
  bash tools/sanitize.sh
fi
if [ "${CONVERGENT_SKIP_FUZZ:-0}" != 1 ]; then
  echo "== Fuzzing (build/fuzz)"
  bash tools/fuzz.sh "${CONVERGENT_FUZZ_SECONDS:-30}"
fi
