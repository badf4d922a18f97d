#!/usr/bin/env bash
# The measured inputs of the MPI scaling model (docs/benchmarks.md, "MPI
# scaling"): per-rank throughput of the layer pass (R = 1, 2) and the cost of
# the rank-ordered reduction as a function of the units T (R = 2, 3), on
# synthetic float32 activations written under a temporary directory (about
# 1.6 GB, deleted at the end).
#   bench/mpi_scaling.sh CLI [REPEATS]
# Prints one line per run and layer: ranks, the pass (rank 0's wall time,
# the slowest rank included), the reduction, and GB/s of activations read
# over all ranks. The statistics pass only; one BLAS/OpenMP thread per rank.
set -euo pipefail
cli=${1:?usage: mpi_scaling.sh CLI [REPEATS]}
repeats=${2:-3}
python=${PYTHON:-/usr/bin/python3}
work=$(mktemp -d "${TMPDIR:-/tmp}/cvg_mpi_scaling.XXXXXX")
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader OMPI_MCA_pml=ob1
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
# two/{a,b}/conv.npy  (12000, 48, 16, 16): 590 MB per net, T = 96 together;
# four/{a,b,c,d}/conv1.npy (3000, 96, 8, 8): T = 384, the paper's conv1 width
#   for four nets (96 units each; 55 x 55 positions there);
# wide/{a,b}/wNNNN.npy (600, NNNN / 2): T = NNNN, whose NNNN^2 float64
#   moments each rank sends to rank 0.
"$python" - "$work" <<'PY'
import os, sys
import numpy as np
work = sys.argv[1]
def save(path, shape, seed, chunk=1000):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    rng = np.random.default_rng(seed)
    out = np.lib.format.open_memmap(path, "w+", np.float32, shape)
    for i in range(0, shape[0], chunk):
        out[i:i + chunk] = rng.standard_normal((min(chunk, shape[0] - i),) + shape[1:], dtype=np.float32)
    out.flush()
for n, name in enumerate("ab"):
    save(f"{work}/two/{name}/conv.npy", (12000, 48, 16, 16), n)
    for t in (1024, 2048, 4096, 6144):
        save(f"{work}/wide/{name}/w{t:04d}.npy", (600, t // 2), 10 * n + t)
for n, name in enumerate("abcd"):
    save(f"{work}/four/{name}/conv1.npy", (3000, 96, 8, 8), 100 + n)
PY
flags=(--no-matching --no-similarity-indices --no-mi --no-sparse --no-clusters --no-mean-activation
       --no-top-patches --timings -q --overwrite)
cat "$work"/two/*/*.npy "$work"/four/*/*.npy > /dev/null  # the page cache: measure the pass, not the disk

run() {  # run SET RANKS
  local set=$1 ranks=$2
  local nets=("$work/$set"/*)
  mpirun -n "$ranks" --oversubscribe --bind-to none "$cli" compare "${nets[@]}" --out "$work/out" "${flags[@]}"
  "$python" - "$work/out/summary.json" "$ranks" "$work/$set" <<'PY'
import json, os, sys
s = json.load(open(sys.argv[1]))
ranks, data = int(sys.argv[2]), sys.argv[3]
nets = sorted(os.listdir(data))
for layer, t in sorted(s["timings"]["layers"].items()):
    size = sum(os.path.getsize(os.path.join(data, n, layer + ".npy")) for n in nets)
    units = sum(s["layers"][layer]["units"].values())
    passed = t["pass"] - t.get("reduce", 0.0)
    print(f"ranks {ranks} layer {layer:5s} T {units:5d} pass {passed:7.3f} s reduce {t.get('reduce', 0.0):6.3f} s "
          f"({8 * units * units / 1e6:6.1f} MB per rank) read {size / 1e9:5.2f} GB -> "
          f"{size / 1e9 / passed:5.2f} GB/s over all ranks")
PY
}

for r in $(seq "$repeats"); do
  for ranks in 1 2; do run two "$ranks"; run four "$ranks"; done
  for ranks in 2 3; do run wide "$ranks"; done
done
