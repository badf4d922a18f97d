#!/usr/bin/env bash
# cvg_compare_mpi from C over 3 ranks equals cvg_compare in one process
# (c_compare_mpi.c; compare_outputs.py on the two results directories).
# Environment: C_COMPARE_MPI (the program), MPIEXEC, PYTHON.
set -euo pipefail
: "${C_COMPARE_MPI:?}" "${MPIEXEC:?}" "${PYTHON:?}"
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$PYTHON" "$here/make_synthetic.py" "$work/nets"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
"$MPIEXEC" -n 3 --oversubscribe --bind-to none -x OMP_NUM_THREADS -x OPENBLAS_NUM_THREADS \
  "$C_COMPARE_MPI" "$work/single" "$work/distributed" "$work/nets/a" "$work/nets/b" "$work/nets/c"
"$PYTHON" "$here/compare_outputs.py" "$work/single" "$work/distributed" 3 --report
