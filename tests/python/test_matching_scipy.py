"""Sec. 3.1 max-weight matching: convergent's Jonker-Volgenant solver against
scipy.optimize.linear_sum_assignment(maximize=True) as the independent oracle.

Drives `$CONVERGENT_BUILD_DIR/bench/bench_matching --solve ROWS COLS IN OUT`,
which reads a raw float64 little-endian row-major matrix and writes the column
of every row as int64 (-1 = unmatched).
"""
import json
import os
import subprocess

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

BUILD_DIR = os.environ.get("CONVERGENT_BUILD_DIR", "")
EXE = os.path.join(BUILD_DIR, "bench", "bench_matching")

pytestmark = pytest.mark.skipif(not os.path.exists(EXE), reason=f"{EXE} not built")


def solve(w, tmp_path, solver="jv"):
    rows, cols = w.shape
    src, dst = tmp_path / "w.bin", tmp_path / "c.bin"
    np.ascontiguousarray(w, dtype="<f8").tofile(src)
    out = subprocess.run([EXE, "--solve", str(rows), str(cols), str(src), str(dst),
                          "--solver", solver], check=True, capture_output=True, text=True)
    info = json.loads(out.stdout.strip().splitlines()[-1])
    col = np.fromfile(dst, dtype="<i8")
    assert col.shape == (rows,)
    return col, info


def correlation_like(rows, cols, rng):
    k = max(4, min(rows, cols) // 8)
    a = rng.standard_normal((rows, k)) * (rng.random((rows, k)) < 0.3)
    b = rng.standard_normal((cols, k)) * (rng.random((cols, k)) < 0.3)
    m = min(rows, cols)
    perm = rng.permutation(m)
    core = rng.random(m) < 0.7
    b[:m][core] = a[perm[core]] + 0.3 * rng.standard_normal((int(core.sum()), k))
    na = np.sqrt((a * a).sum(1) + 0.25)
    nb = np.sqrt((b * b).sum(1) + 0.25)
    return (a @ b.T) / np.outer(na, nb)


def make(kind, rows, cols, rng):
    if kind == "random":
        return rng.standard_normal((rows, cols))
    if kind == "ties":
        return rng.integers(0, 4, size=(rows, cols)).astype(np.float64)
    if kind == "correlation":
        return correlation_like(rows, cols, rng)
    raise ValueError(kind)


def check(w, col, info):
    rows, cols = w.shape
    r, c = linear_sum_assignment(w, maximize=True)
    expected = float(w[r, c].sum())
    matched = np.nonzero(col >= 0)[0]
    assert len(matched) == min(rows, cols)
    assert len(np.unique(col[matched])) == len(matched), "a column is used twice"
    assert col.max() < cols
    total = float(w[matched, col[matched]].sum())
    tol = 1e-9 * max(1.0, abs(expected))
    assert abs(total - expected) <= tol, (total, expected)
    assert abs(info["primal"] - total) <= tol
    assert info["dual_bound"] >= expected - tol          # a valid upper bound
    assert abs(info["gap"]) <= tol
    assert info["solver"] == "jonker-volgenant"


SHAPES = [(8, 8), (33, 33), (256, 256), (1024, 1024), (4096, 4096),
          (10, 40), (40, 10), (300, 512), (512, 300), (1, 17), (17, 1)]


@pytest.mark.parametrize("kind", ["random", "ties", "correlation"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_total_equals_scipy(kind, shape, tmp_path):
    rows, cols = shape
    rng = np.random.default_rng(rows * 7919 + cols * 31 + len(kind))
    w = make(kind, rows, cols, rng)
    col, info = solve(w, tmp_path)
    check(w, col, info)


def test_constant_and_block_constant(tmp_path):
    for w in (np.full((50, 50), 0.3),
              np.add.outer(np.arange(120) // 10, np.arange(120) // 10) % 3 * 1.0):
        col, info = solve(w, tmp_path)
        check(w, col, info)


def test_all_negative_rectangular(tmp_path):
    # Negative weights only: scipy semantics still match every row when rows <= cols.
    w = -np.abs(np.random.default_rng(1).standard_normal((20, 30)))
    col, info = solve(w, tmp_path)
    check(w, col, info)
