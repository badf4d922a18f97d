#!/usr/bin/env bash
# `convergent` does not link MPI (its start-up stays free of libmpi and what
# it loads); `convergent-mpi` beside it does, and `convergent` hands over to
# it when an MPI launcher started it, for `compare --mpi` and for `version`
# (docs/mpi.md). Without its sibling, a run that needs MPI fails with a
# message naming it, and every other command still works.
# Environment: CONVERGENT_CLI, CONVERGENT_CLI_MPI.
set -euo pipefail
: "${CONVERGENT_CLI:?}" "${CONVERGENT_CLI_MPI:?}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL $*"; exit 1; }

# (The dynamic sections read whole first: grep -q would close the pipe early.)
plain=$(objdump -p "$CONVERGENT_CLI")
linked=$(objdump -p "$CONVERGENT_CLI_MPI")
grep -q 'NEEDED.*libmpi' <<<"$plain" && fail "convergent links libmpi"
grep -q 'NEEDED.*libmpi' <<<"$linked" || fail "convergent-mpi does not link libmpi"
version=$("$CONVERGENT_CLI" version)

# version names the MPI library: convergent-mpi answered.
grep -q 'mpi: .*MPI' <<<"$version" || fail "version did not hand over: $version"

# A copy without its sibling.
cp "$CONVERGENT_CLI" "$work/convergent"
"$work/convergent" options >/dev/null || fail "options needs convergent-mpi"
for run in "version" "launcher"; do
  status=0
  if [ "$run" = version ]; then
    "$work/convergent" version >"$work/log" 2>&1 || status=$?
  else
    OMPI_COMM_WORLD_SIZE=2 "$work/convergent" compare a b --out "$work/out" >"$work/log" 2>&1 || status=$?
  fi
  [ "$status" = 2 ] || fail "$run without convergent-mpi: exit status $status, not 2"
  grep -q "$work/convergent-mpi" "$work/log" || fail "$run: the message does not name convergent-mpi: $(cat "$work/log")"
done
[ ! -e "$work/out" ] || fail "a failed hand-over left output"
echo "ok: convergent does not link MPI; hands over to convergent-mpi; fails clearly without it"
