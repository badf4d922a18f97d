#!/usr/bin/env python3
"""End-to-end benchmark: `convergent compare` (all layers, all pairs,
correlation + MI matching, sparse prediction, clustering, mean activation)
against a plain numpy/scipy/sklearn pipeline doing the same analyses on the
same activation files, in the same run.

The reference pipeline per layer: float64 np.corrcoef of all nets' units;
per pair: row argmax + scipy.optimize.linear_sum_assignment(maximize=True) on
the correlation and on the MI matrix; MI from the paper's percentile bins
(np.quantile) via one-hot matrix products; sklearn Lasso path (warm start)
for every unit; spectral clustering via np.linalg.eigh of L = D - W and
sklearn KMeans(n_init=10) at the same k (first level only: the reference is
the cheaper side); sorted means. Ratio = reference time / convergent time.

usage: /usr/bin/python3 bench/end_to_end_reference.py --cli build/cpu/cli/convergent NET.npz NET.npz ...
"""
import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "python"))
from binning_reference import numpy_binning  # noqa: E402  (the paper's binning, numpy only)

ALPHAS = [0.3, 0.1, 0.05, 0.03, 0.02, 0.01, 0.005]


def samples_of(a):
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 4:
        n, c, h, w = a.shape
        a = a.transpose(0, 2, 3, 1).reshape(n * h * w, c)
    return a


def mi_matrix(ca, cb, nb):
    n = ca.shape[0]
    oa = np.zeros((n, ca.shape[1] * nb), np.float32)
    ob = np.zeros((n, cb.shape[1] * nb), np.float32)
    rows = np.arange(n)
    for u in range(ca.shape[1]):
        oa[rows, u * nb + ca[:, u]] = 1
    for u in range(cb.shape[1]):
        ob[rows, u * nb + cb[:, u]] = 1
    joint = (oa.T @ ob).reshape(ca.shape[1], nb, cb.shape[1], nb).transpose(0, 2, 1, 3) / n
    pa = joint.sum(axis=3, keepdims=True)
    pb = joint.sum(axis=2, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = joint * np.log(joint / (pa * pb))
    return np.nansum(t, axis=(2, 3))


def correlation_and_mi_matching(paths, mi_samples=60000, seed=0):
    """Per layer: float64 statistics and correlation, the paper's binning and
    one-hot MI within and between nets, semi-matching and
    linear_sum_assignment on both; yields (xs, widths, offs, corr, c, i, j)
    for every net pair i < j once its matchings are done, and a final
    (xs, ..., None, None, None) per layer."""
    nets = [np.load(p) for p in paths]
    rng = np.random.default_rng(seed)
    for layer in sorted(nets[0].files):
        xs = [samples_of(z[layer]) for z in nets]
        widths = [x.shape[1] for x in xs]
        offs = np.cumsum([0] + widths)
        x = np.concatenate(xs, axis=1)
        _ = x.mean(0), x.std(0)
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = np.nan_to_num(np.corrcoef(x, rowvar=False))
        n = x.shape[0]
        rows = np.sort(rng.choice(n, size=min(n, mi_samples), replace=False))
        codes = [numpy_binning(xi[rows], 20)[0].T.astype(np.int64) for xi in xs]
        for i in range(len(xs)):
            for j in range(i, len(xs)):
                mi = mi_matrix(codes[i], codes[j], 21)
                if i == j:
                    continue
                c = corr[offs[i]:offs[i + 1], offs[j]:offs[j + 1]]
                for m in (c, mi):
                    m.argmax(axis=1)
                    linear_sum_assignment(m, maximize=True)
                yield xs, widths, offs, corr, c, i, j
        yield xs, widths, offs, corr, None, None, None


def reference_pipeline(paths, mi_samples=60000, seed=0):
    from sklearn.cluster import KMeans
    from sklearn.linear_model import Lasso

    for xs, widths, offs, corr, c, i, j in correlation_and_mi_matching(paths, mi_samples, seed):
        if c is None:  # the layer's pairs are done
            for xi in xs:
                np.sort(xi.mean(0))[::-1]
            continue
        # sparse prediction: every unit of net i from net j
        sd_i, sd_j = xs[i].std(0), xs[j].std(0)
        live_j = sd_j > 0
        xj = (xs[j][:, live_j] - xs[j][:, live_j].mean(0)) / sd_j[live_j]
        for u in range(widths[i]):
            if sd_i[u] == 0:
                continue
            y = (xs[i][:, u] - xs[i][:, u].mean()) / sd_i[u]
            model = Lasso(alpha=ALPHAS[0], warm_start=True, max_iter=10000, tol=1e-7)
            for a in ALPHAS:
                model.set_params(alpha=a)
                model.fit(xj, y)
        # spectral clustering (first level)
        w = np.block([[corr[offs[i]:offs[i + 1], offs[i]:offs[i + 1]], c],
                      [c.T, corr[offs[j]:offs[j + 1], offs[j]:offs[j + 1]]]])
        w = np.where(w >= 0.2, w, 0.0)
        np.fill_diagonal(w, 0.0)
        lap = np.diag(w.sum(1)) - w
        vals, vecs = np.linalg.eigh(lap)
        k = max(2, min(len(vals) // 4, 40))
        KMeans(n_clusters=k, n_init=10, random_state=seed).fit(vecs[:, :k])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", default="build/cpu/cli/convergent")
    ap.add_argument("--json")
    ap.add_argument("nets", nargs="+")
    args = ap.parse_args()

    t0 = time.perf_counter()
    reference_pipeline(args.nets)
    t_ref = time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        t0 = time.perf_counter()
        subprocess.run([args.cli, "compare", *args.nets, "--out", str(out), "--quiet", "--backend", "cpu"], check=True)
        t_ours = time.perf_counter() - t0
        backend = json.loads((out / "summary.json").read_text())["backend_device"]

    row = {"case": f"end-to-end, {len(args.nets)} nets", "reference_s": t_ref, "convergent_s": t_ours,
           "ratio": t_ref / t_ours, "backend": backend}
    print("| case | numpy/scipy/sklearn (s) | convergent (s) | ratio | convergent backend |")
    print("|---|---:|---:|---:|---|")
    print(f"| {row['case']} | {t_ref:.2f} | {t_ours:.2f} | {row['ratio']:.1f}x | {backend} |")
    if args.json:
        Path(args.json).write_text(json.dumps(row, indent=1))


if __name__ == "__main__":
    main()
