#!/usr/bin/python3
"""Sec. 3.1 max-weight matching: convergent vs scipy, same matrices, same run.

Generates matrices (uniform random and correlation-like), writes them as raw
float64, times scipy.optimize.linear_sum_assignment(maximize=True) and
`bench_matching --solve` (which reports its own solve time, I/O excluded),
checks that the totals agree to 1e-9 relative and prints a markdown table
with the ratio scipy_time / our_time.

    /usr/bin/python3 bench/matching_reference.py BUILD_DIR [--sizes 256 1024 4096]
        [--repeat 3] [--solvers jv auction-omp]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from scipy.optimize import linear_sum_assignment


def uniform_matrix(n, rng):
    return rng.random((n, n))


def correlation_like(n, rng, shared=0.7):
    """Between-net correlation of two synthetic nets (Sec. 2): units are noisy
    linear read-outs of k latent factors; a fraction `shared` of the units of
    net 2 are perturbed copies of units of net 1 (a "core"), the rest are
    unrelated ("rare"). corr_ij = a_i.b_j / sqrt((|a_i|^2+s^2)(|b_j|^2+s^2))."""
    k = max(8, n // 8)
    a = rng.standard_normal((n, k)) * (rng.random((n, k)) < 0.3)
    b = rng.standard_normal((n, k)) * (rng.random((n, k)) < 0.3)
    core = rng.random(n) < shared
    perm = rng.permutation(n)
    b[core] = a[perm[core]] + 0.3 * rng.standard_normal((int(core.sum()), k))
    noise = 0.5
    na = np.sqrt((a * a).sum(1) + noise**2)
    nb = np.sqrt((b * b).sum(1) + noise**2)
    return (a @ b.T) / np.outer(na, nb)


def scipy_solve(w, repeat):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        r, c = linear_sum_assignment(w, maximize=True)
        best = min(best, time.perf_counter() - t0)
    return best, float(w[r, c].sum())


def ours(exe, w, solver, repeat, tmp):
    rows, cols = w.shape
    src = os.path.join(tmp, "w.bin")
    dst = os.path.join(tmp, "c.bin")
    np.ascontiguousarray(w, dtype="<f8").tofile(src)
    out = subprocess.run([exe, "--solve", str(rows), str(cols), src, dst, "--solver", solver,
                          "--repeat", str(repeat)], check=True, capture_output=True, text=True)
    info = json.loads(out.stdout.strip().splitlines()[-1])
    col = np.fromfile(dst, dtype="<i8")
    matched = col >= 0
    total = float(w[np.nonzero(matched)[0], col[matched]].sum())
    assert len(set(col[matched].tolist())) == int(matched.sum()), "not one-to-one"
    return info, total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build_dir")
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 1024, 4096])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--solvers", nargs="+", default=["jv", "auction-omp"])
    ap.add_argument("--auction-max-n", type=int, default=1024,
                    help="skip the OMP auction above this size (it runs the GPU logic on CPU threads)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    exe = os.path.join(args.build_dir, "bench", "bench_matching")
    rng = np.random.default_rng(args.seed)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            for kind, make in (("uniform", uniform_matrix), ("correlation", correlation_like)):
                w = make(n, rng)
                t_scipy, total_scipy = scipy_solve(w, args.repeat)
                for solver in args.solvers:
                    if solver != "jv" and n > args.auction_max_n:
                        continue
                    try:
                        info, total = ours(exe, w, solver, args.repeat if n < 4096 or solver == "jv" else 1, tmp)
                    except subprocess.CalledProcessError as e:
                        print(f"# {solver} n={n} {kind}: {e.stderr.strip()}", file=sys.stderr)
                        continue
                    rel = abs(total - total_scipy) / max(1.0, abs(total_scipy))
                    ok = rel <= 1e-9
                    rows.append((n, kind, solver, info["solver"], t_scipy, info["seconds"],
                                 t_scipy / info["seconds"], rel, ok, info["gap"]))
                    if not ok:
                        print(f"# MISMATCH n={n} {kind} {solver}: {total} vs scipy {total_scipy}",
                              file=sys.stderr)
    print("| n | matrix | solver (ran) | scipy s | ours s | scipy/ours | rel. total diff | gap |")
    print("|---|---|---|---|---|---|---|---|")
    for n, kind, solver, ran, ts, to, ratio, rel, ok, gap in rows:
        print(f"| {n} | {kind} | {solver} ({ran}) | {ts:.4f} | {to:.4f} | {ratio:.2f} | "
              f"{rel:.1e}{'' if ok else ' MISMATCH'} | {gap:.1e} |")
    return 0 if all(r[8] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
