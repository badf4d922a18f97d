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
out=${1:-out/fashion_mnist}
nets=(examples/fashion_mnist/nets/net1.npz examples/fashion_mnist/nets/net2.npz
      examples/fashion_mnist/nets/net3.npz examples/fashion_mnist/nets/net4.npz)
build/cpu/cli/convergent compare "${nets[@]}" --out "$out" --overwrite
build/cpu/cli/convergent report "$out"
echo "open $out/report.html in a browser"
