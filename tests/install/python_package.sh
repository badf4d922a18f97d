#!/usr/bin/env bash
# Packaging check of the Python package `convergent` (issue 14, item 6):
#   cmake   `cmake --install BUILD_DIR` (component convergent_python) into a
#           temporary prefix;
#   wheel   `python3 -m build --no-isolation --wheel` at the repository root,
#           the wheel installed with pip --target into a temporary directory;
#   pip     `pip install --no-build-isolation --no-index --target DIR .`;
# then, for each, in a fresh interpreter with a clean environment (env -i,
# PATH=/usr/bin:/bin and only PYTHONPATH pointing at the temporary location):
# import convergent (from there, without importing torch), Table 1 of two
# arrays against numpy/scipy, and compare() on a small dataset against the
# CLI of BUILD_DIR (identical summary figures and .npy arrays), plus the
# report page when the package has the viewer.
#
#   bash tests/install/python_package.sh BUILD_DIR [cmake|wheel|pip ...]   (default: all three)
#
# The wheel and pip builds compile libcore again in build/temp.*/cmake (kept,
# so a second run is incremental; ccache makes a first run cheap when
# BUILD_DIR was built with the same flags). CONVERGENT_JOBS sets -j (default 2).
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:?usage: python_package.sh BUILD_DIR [cmake|wheel|pip ...]}
build=$(cd "$build" && pwd)
shift
modes=("$@")
((${#modes[@]})) || modes=(cmake wheel pip)
python=/usr/bin/python3
cli="$build/cli/convergent"
[ -x "$cli" ] || { echo "python_package.sh: no CLI at $cli (build $build first)" >&2; exit 1; }
export CONVERGENT_JOBS=${CONVERGENT_JOBS:-2}
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}

work=$(mktemp -d "${TMPDIR:-/tmp}/convergent-package.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The check, run by a fresh interpreter: argv = site directory, CLI, work dir.
cat > "$work/check.py" <<'PY'
import json, os, subprocess, sys

site, cli, work = sys.argv[1:4]
import numpy as np
from scipy.optimize import linear_sum_assignment

import convergent

where = os.path.dirname(os.path.abspath(convergent.__file__))
assert where == os.path.join(os.path.abspath(site), "convergent"), f"imported from {where}, not {site}"
assert "torch" not in sys.modules, "import convergent imported torch"
assert convergent.__version__ == subprocess.run([cli, "version"], capture_output=True, text=True,
                                                check=True).stdout.split()[1]

# Table 1 of two arrays against numpy + scipy.
rng = np.random.default_rng(5)
shared = rng.normal(size=(2000, 4))
a = np.maximum(shared @ rng.normal(size=(4, 12)) + 0.4 * rng.normal(size=(2000, 12)), 0).astype(np.float32)
b = (shared @ rng.normal(size=(4, 10)) + 0.4 * rng.normal(size=(2000, 10))).astype(np.float32)
st = convergent.Statistics([12, 10])
st.push(0, a)
st.push(1, b)
st.finalize()
c = np.corrcoef(a.astype(np.float64), b.astype(np.float64), rowvar=False)[:12, 12:]
rows, cols = linear_sum_assignment(c, maximize=True)
t = st.table1(0, 1)
assert abs(t["semi_matching_mean"] - c.max(axis=1).mean()) < 1e-9, t
assert abs(t["matching_mean"] - c[rows, cols].mean()) < 1e-9, t
matching = np.full(12, -1)
matching[rows] = cols  # 12 rows, 10 columns: two rows stay unmatched
assert abs(t["overlap_ratio"] - np.mean(c.argmax(axis=1) == matching)) < 1e-12, t

# compare() on a small dataset (a conv and a dense layer of two nets) against the CLI.
x = rng.normal(size=(300, 6, 3, 3)).astype(np.float32)
nets = {"one": {"conv": np.maximum(x, 0), "fc": a[:300]},
        "two": {"conv": np.maximum(x[:, ::-1] + 0.3 * rng.normal(size=x.shape), 0).astype(np.float32),
                "fc": b[:300]}}
for name, layers in nets.items():
    np.savez(os.path.join(work, name + ".npz"), **layers)
out = os.path.join(work, "cli_results")
subprocess.run([cli, "compare", os.path.join(work, "one.npz"), os.path.join(work, "two.npz"), "--out", out,
                "--quiet", "--mi-samples", "1000"], check=True)
cli_summary = json.load(open(os.path.join(out, "summary.json")))
result = convergent.compare(nets, progress=False, mi_samples=1000)
strip = lambda s: {k: v for k, v in s.items() if k != "inputs"}  # noqa: E731
assert strip(result.summary) == strip(cli_summary), "compare() and the CLI differ"
for path, array in result.arrays.items():
    assert np.array_equal(np.load(os.path.join(out, path)), array), path
fc = result["fc"].table1("one", "two")
assert fc == {k: cli_summary["layers"]["fc"]["pairs"]["one~two"]["correlation"][k] for k in fc}
if convergent.viewer_available():
    page = result.report(os.path.join(work, "report.html"))
    assert open(page, encoding="utf-8").read(64).lower().startswith("<!doctype html"), page
print(f"ok: convergent {convergent.__version__} from {where}: Table 1 = numpy/scipy, compare() = CLI "
      f"({len(result.arrays)} arrays), report {'written' if convergent.viewer_available() else 'unavailable (no viewer)'}")
PY

# A fresh interpreter, clean environment: only PATH and PYTHONPATH.
check() {
  local site=$1 label=$2
  local run="$work/run-$label"
  mkdir -p "$run"
  echo "== $label: fresh interpreter, PYTHONPATH=$site"
  (cd "$run" && env -i PATH=/usr/bin:/bin HOME="$run" PYTHONPATH="$site" PYTHONDONTWRITEBYTECODE=1 \
     "$python" "$work/check.py" "$site" "$cli" "$run")
}

for mode in "${modes[@]}"; do
  case "$mode" in
    cmake)
      rel=$(sed -n 's/^CONVERGENT_PYTHON_INSTALL_DIR:[A-Z]*=//p' "$build/CMakeCache.txt")
      [ -n "$rel" ] || { echo "python_package.sh: $build has no Python module (CONVERGENT_PYTHON)" >&2; exit 1; }
      # Under the default prefix the package lands on the interpreter's own
      # path, so `import convergent` needs no environment variable there.
      if [[ "$rel" != /* ]]; then
        env -i PATH=/usr/bin:/bin "$python" -c "import sys; p='/usr/local/$rel'; assert p in sys.path, (p, sys.path)" \
          || { echo "python_package.sh: /usr/local/$rel is not on $python's sys.path" >&2; exit 1; }
      fi
      prefix="$work/prefix"
      cmake --install "$build" --prefix "$prefix" --component convergent_python >/dev/null
      site="$prefix/$rel"
      [[ "$rel" == /* ]] && site="$rel"
      ls "$site"/convergent/_core*.so "$site"/convergent/py.typed "$site"/convergent/_core.pyi >/dev/null
      check "$site" cmake
      ;;
    wheel)
      echo "== wheel: python3 -m build --no-isolation --wheel"
      (cd "$here" && "$python" -m build --no-isolation --wheel --outdir "$work/dist" >"$work/wheel.log" 2>&1) \
        || { tail -40 "$work/wheel.log" >&2; exit 1; }
      wheel=$(ls "$work"/dist/convergent-*.whl)
      "$python" -m zipfile -l "$wheel" | grep -q "convergent/_core\..*\.so" || { echo "no _core in $wheel" >&2; exit 1; }
      "$python" -m pip install --quiet --root-user-action=ignore --no-index --no-deps --target "$work/wheel-site" "$wheel"
      check "$work/wheel-site" wheel
      ;;
    pip)
      echo "== pip: pip install --no-build-isolation --no-index --target DIR ."
      (cd "$here" && "$python" -m pip install --root-user-action=ignore --no-build-isolation --no-index --no-deps --target "$work/pip-site" . \
        >"$work/pip.log" 2>&1) || { tail -40 "$work/pip.log" >&2; exit 1; }
      check "$work/pip-site" pip
      ;;
    *) echo "python_package.sh: unknown mode '$mode' (cmake, wheel, pip)" >&2; exit 2 ;;
  esac
done
echo "python_package.sh: all checks passed (${modes[*]})"
