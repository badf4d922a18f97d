#!/usr/bin/env bash
# Installs the Debian packages convergent needs (idempotent: only missing
# packages are installed), then the browser-test npm packages.
set -euo pipefail

packages=(
  build-essential cmake pkg-config ccache git
  libeigen3-dev libopenblas-dev libzip-dev nlohmann-json3-dev
  googletest libgtest-dev gfortran libcli11-dev
  python3 python3-numpy python3-scipy python3-sklearn python3-pytest
  python3-torch python3-tqdm
  libpng-dev                                                  # the top-k patch sprite sheets (PNG)
  dataset-fashion-mnist                                       # examples/fashion_mnist's test images
  python3-dev pybind11-dev libdlpack-dev                      # the Python module convergent._core
  python3-setuptools python3-wheel python3-build python3-pip  # pip install . / wheels (tests/install/python_package.sh)
  emscripten chromium
  libopenmpi-dev openmpi-bin python3-mpi4py                   # CONVERGENT_MPI: mpirun -n R convergent compare
  clang libclang-rt-14-dev libomp-14-dev llvm-14  # tools/fuzz.sh: libFuzzer + sanitizer runtimes, OpenMP, llvm-symbolizer
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "setup: node/npm missing; installing Debian's nodejs and npm"
  DEBIAN_FRONTEND=noninteractive ${SUDO:-} apt-get install -y -qq nodejs npm >/dev/null
fi

here=$(cd "$(dirname "$0")/.." && pwd)
if [ -f "$here/tests/browser/package-lock.json" ] && [ ! -d "$here/tests/browser/node_modules/playwright-core" ]; then
  echo "setup: npm ci in tests/browser"
  npm ci --prefix "$here/tests/browser" --no-audit --no-fund >/dev/null
fi
