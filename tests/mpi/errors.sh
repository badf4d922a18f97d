#!/usr/bin/env bash
# An error on any rank stops every rank with that rank's message and leaves
# no output (docs/mpi.md):
#  - a NaN in the last image, which only the last rank reads (2 and 3 ranks);
#  - an existing output directory, which only rank 0 stages;
#  - cross_layers, which a distributed run rejects.
# Environment: CONVERGENT_CLI, MPIEXEC, PYTHON.
set -euo pipefail
: "${CONVERGENT_CLI:?}" "${MPIEXEC:?}" "${PYTHON:?}"
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$PYTHON" "$here/make_synthetic.py" "$work/nets" --nan-in-last-image
nets=("$work/nets/a" "$work/nets/b" "$work/nets/c")
mkdir "$work/runs"

# expect_failure NAME PATTERN RANKS OUT [compare options...]: the run fails,
# its output names PATTERN, and nothing is left in $work/runs but what was
# there.
expect_failure() {
  local name=$1 pattern=$2 ranks=$3 out=$4
  shift 4
  local before
  before=$(ls -A "$work/runs")
  if "$MPIEXEC" -n "$ranks" --oversubscribe --bind-to none \
       "$CONVERGENT_CLI" compare "${nets[@]}" --out "$out" -q "$@" >"$work/log" 2>&1; then
    echo "FAIL $name: the run succeeded"; cat "$work/log"; exit 1
  fi
  if ! grep -q -- "$pattern" "$work/log"; then
    echo "FAIL $name: the output does not say '$pattern':"; cat "$work/log"; exit 1
  fi
  if [ "$(ls -A "$work/runs")" != "$before" ]; then
    echo "FAIL $name: output was left behind:"; ls -la "$work/runs"; exit 1
  fi
  # Printed once (by rank 0), not once per rank.
  if [ "$(grep -c "convergent: error:" "$work/log")" != 1 ]; then
    echo "FAIL $name: the error is not printed exactly once:"; cat "$work/log"; exit 1
  fi
  echo "ok $name: $(grep "convergent: error:" "$work/log")"
}

# The conv layer of net b has a NaN in image 1000: the last rank's slice.
out=$work/runs/out
expect_failure "NaN on the last of 3 ranks" "rank 2: .*NaN" 3 "$out" --layers conv
expect_failure "NaN on the last of 2 ranks" "rank 1: .*NaN" 2 "$out" --layers conv
# One rank: the single-process message, no prefix.
expect_failure "NaN with one rank" "error: [^r].*NaN" 1 "$out" --layers conv
# The dense layer is clean: that run works (and the NaN was the only cause).
"$MPIEXEC" -n 3 --oversubscribe --bind-to none "$CONVERGENT_CLI" compare "${nets[@]}" --out "$work/runs/dense" \
  -q --layers dense
test -f "$work/runs/dense/summary.json" || { echo "FAIL: the clean layer's run wrote nothing"; exit 1; }
echo "ok the clean layer runs"
# Rank 0 alone stages the output: an existing results directory stops all.
expect_failure "existing output, rank 0" "rank 0: .*dense" 3 "$work/runs/dense" --layers dense
expect_failure "cross_layers" "cross_layers is not supported in a distributed run" 2 "$out" --layers dense \
  --cross-layers
