#!/usr/bin/env bash
# Sets up, builds, and runs the full analysis on the bundled Fashion-MNIST
# activations (four CNNs trained from different seeds), then writes the
# interactive report.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
bash tools/setup.sh
cmake -S . -B build/cpu -DCONVERGENT_CUDA=OFF -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/cpu -j"$(nproc)" --target convergent_cli
# The Python package (convergent, convergent.torch) into the interpreter's
# site-packages, so `python3 -c "import convergent"` works in a fresh shell.
if cmake --build build/cpu -j"$(nproc)" --target convergent_python 2>/dev/null; then
  if cmake --install build/cpu --component convergent_python >/dev/null 2>&1; then
    echo "installed the Python package: $(/usr/bin/python3 -c 'import convergent, os; print(os.path.dirname(convergent.__file__))')"
  else
    echo "note: could not install the Python package (run as root, or: pip install --no-build-isolation --no-index --user .)"
  fi
fi
out=${1:-out/fashion_mnist}
nets=(examples/fashion_mnist/nets/net1.npz examples/fashion_mnist/nets/net2.npz
      examples/fashion_mnist/nets/net3.npz examples/fashion_mnist/nets/net4.npz)
build/cpu/cli/convergent compare "${nets[@]}" --out "$out" --overwrite --cross-layers \
  --images examples/fashion_mnist/images.npy
build/cpu/cli/convergent report "$out"
echo "open $out/report.html in a browser"
