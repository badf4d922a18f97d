#!/usr/bin/env bash
# A distributed run equals a single process (docs/mpi.md): runs
# `convergent compare ARGS` once plainly and under `mpirun -n 1, 2, 3`, and
# compares every result (compare_outputs.py: byte-identical with one rank;
# with 2 and 3 identical matchings, MI, top-k and Table 1 figures, the
# statistics within 1e-12 relative).
#   equivalence.sh synthetic|fashion_mnist [compare options...]
# Environment: CONVERGENT_CLI, MPIEXEC, PYTHON, CONVERGENT_SOURCE_DIR.
set -euo pipefail
: "${CONVERGENT_CLI:?}" "${MPIEXEC:?}" "${PYTHON:?}" "${CONVERGENT_SOURCE_DIR:?}"
here=$(cd "$(dirname "$0")" && pwd)
case=$1
shift
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
case $case in
  synthetic)
    "$PYTHON" "$here/make_synthetic.py" "$work/nets"
    nets=("$work/nets/a" "$work/nets/b" "$work/nets/c") ;;
  fashion_mnist)
    n=$CONVERGENT_SOURCE_DIR/examples/fashion_mnist/nets
    nets=("$n/net1.npz" "$n/net2.npz" "$n/net3.npz") ;;
  *) echo "equivalence.sh: unknown case '$case'" >&2; exit 2 ;;
esac
# One BLAS/OpenMP thread everywhere: a different thread count changes the
# rounding of the eigensolvers (CCA) by itself, whatever the ranks.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
"$CONVERGENT_CLI" compare "${nets[@]}" --out "$work/single" -q "$@"
for r in 1 2 3; do
  "$MPIEXEC" -n "$r" --oversubscribe --bind-to none -x OMP_NUM_THREADS -x OPENBLAS_NUM_THREADS \
    "$CONVERGENT_CLI" compare "${nets[@]}" --out "$work/r$r" -q "$@"
  "$PYTHON" "$here/compare_outputs.py" "$work/single" "$work/r$r" "$r" --report
done
