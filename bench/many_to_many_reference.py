#!/usr/bin/env python3
"""Times convergent's many-to-many kernels against numpy/scipy/sklearn on the
same data, in the same run, and prints a markdown table of ratios.

  /usr/bin/python3 bench/many_to_many_reference.py [--build-dir BUILD] [--quick]

Lasso path: convergent accumulates the statistics of the float32 data in one
pass (MomentAccumulator, CPU backend) and solves every target unit's path on
the correlations (bench_many_to_many --lasso). sklearn fits
Lasso(alpha, warm_start=True) per target unit over the same alphas on the
standardised data, with the same duality-gap tolerance, once with the default
(precompute=False, data-based coordinate descent) and once with
precompute=True (Gram). The largest weight difference is reported too.

Eigensolve: the k smallest eigenpairs of a graph Laplacian (n = 512, 1024,
2048; k = 100 as in the paper's conv2-conv5 clustering) with convergent's CPU
backend (LAPACK dsyevr, range I) vs numpy.linalg.eigh (full spectrum) and
scipy.linalg.eigh(subset_by_index=[0, k-1]). Best of a few repeats each.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import scipy.linalg
from sklearn.linear_model import Lasso

ALPHAS = [0.3, 0.1, 0.05, 0.03, 0.02, 0.01, 0.005]
TOL = 1e-7  # convergent's default duality-gap tolerance (same scale as sklearn's)


def best_of(fn, repeats):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def activations(n, ua, ub, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, 24))
    def net(units):
        mix = rng.standard_normal((24, units)) * (rng.random((24, units)) < 0.3)
        return np.maximum(z @ mix + 0.5 * rng.standard_normal((n, units)), 0.0)
    return np.hstack([net(ua), net(ub)]).astype(np.float32).astype(np.float64)


def run_bench(bench, args):
    out = subprocess.run([bench] + args, check=True, capture_output=True, text=True).stdout
    return {rec["op"]: rec for rec in map(json.loads, out.strip().splitlines())}


def lasso_rows(bench, n, ua, ub, tmp):
    data = activations(n, ua, ub)
    src, dst = os.path.join(tmp, "lasso.f64"), os.path.join(tmp, "lasso_out.f64")
    data.tofile(src)
    alphas = ",".join(repr(a) for a in ALPHAS)
    ours = None
    for _ in range(3):
        rec = run_bench(bench, ["--lasso", src, str(n), str(ua), str(ub), alphas, dst, repr(TOL)])
        t = (rec["lasso_statistics"]["seconds"], rec["lasso_path"]["seconds"])
        ours = t if ours is None or sum(t) < sum(ours) else ours
    out = np.fromfile(dst, dtype=np.float64)
    per = ua * ub + ua
    ours_w = [out[i * per:i * per + ua * ub].reshape(ua, ub) for i in range(len(ALPHAS))]

    xa = data[:, :ua]
    xa = (xa - xa.mean(0)) / xa.std(0)
    xb = data[:, ua:]
    xb = (xb - xb.mean(0)) / xb.std(0)

    def sklearn_path(precompute):
        coefs = []
        for t in range(ua):
            model = Lasso(alpha=ALPHAS[0], tol=TOL, max_iter=100000, warm_start=True,
                          precompute=precompute)
            row = []
            for alpha in ALPHAS:
                model.set_params(alpha=alpha)
                model.fit(xb, xa[:, t])
                row.append(model.coef_.copy())
            coefs.append(row)
        return coefs

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        coefs = sklearn_path(False)
        t_default = time.perf_counter() - start
        start = time.perf_counter()
        sklearn_path(True)
        t_gram = time.perf_counter() - start
    worst = max(np.max(np.abs(ours_w[a][t] - coefs[t][a])) for t in range(ua) for a in range(len(ALPHAS)))
    total = ours[0] + ours[1]
    name = f"lasso path n={n} {ua}<-{ub} x{len(ALPHAS)} alphas"
    return [
        (name + " (sklearn default)", t_default, total, f"ours stats {ours[0]:.3f}s + path {ours[1]:.3f}s; max|dw| {worst:.1e}"),
        (name + " (sklearn precompute=True)", t_gram, total, ""),
        (name + " (path only vs Gram)", t_gram, ours[1], "excludes our statistics pass"),
    ]


def laplacian(n, seed):
    rng = np.random.default_rng(seed)
    f = rng.standard_normal((n, 16))
    c = np.corrcoef(f @ rng.standard_normal((16, 600)) + rng.standard_normal((n, 600)))
    w = np.where(c >= 0.2, c, 0.0)
    np.fill_diagonal(w, 0.0)
    return np.diag(w.sum(axis=1)) - w


def eig_rows(bench, sizes, k, tmp, repeats):
    rows = []
    for n in sizes:
        lap = laplacian(n, n)
        src, dst = os.path.join(tmp, "lap.f64"), os.path.join(tmp, "eig_out.f64")
        lap.tofile(src)
        rec = run_bench(bench, ["--eigs", src, str(n), str(k), dst, "cpu", str(repeats)])
        ours = rec["eigensolve_smallest"]["seconds"]
        values = np.fromfile(dst, dtype=np.float64)[:k]
        t_numpy = best_of(lambda: np.linalg.eigh(lap), repeats)
        t_scipy = best_of(lambda: scipy.linalg.eigh(lap, subset_by_index=[0, k - 1]), repeats)
        ref = scipy.linalg.eigh(lap, subset_by_index=[0, k - 1], eigvals_only=True)
        err = np.max(np.abs(values - ref))
        rows.append((f"eigensolve n={n} k={k} vs numpy.linalg.eigh", t_numpy, ours, f"max|dlambda| {err:.1e}"))
        rows.append((f"eigensolve n={n} k={k} vs scipy eigh(subset_by_index)", t_scipy, ours, ""))
    return rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-dir", default=os.environ.get("CONVERGENT_BUILD_DIR", "build"))
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    args = parser.parse_args()
    bench = os.path.join(args.build_dir, "bench", "bench_many_to_many")
    if not os.path.exists(bench):
        sys.exit(f"{bench} not found: build the bench_many_to_many target first")
    with tempfile.TemporaryDirectory() as tmp:
        if args.quick:
            rows = lasso_rows(bench, 5000, 32, 32, tmp) + eig_rows(bench, [512], 100, tmp, 2)
        else:
            rows = lasso_rows(bench, 20000, 96, 96, tmp) + eig_rows(bench, [512, 1024, 2048], 100, tmp, 3)
    print(f"threads: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, cpus={os.cpu_count()}")
    print("| case | reference (s) | convergent (s) | speed-up (ref / ours) | notes |")
    print("|---|---:|---:|---:|---|")
    for name, ref, ours, note in rows:
        print(f"| {name} | {ref:.4f} | {ours:.4f} | {ref / ours:.1f}x | {note} |")


if __name__ == "__main__":
    main()
