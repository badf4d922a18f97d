#!/usr/bin/env python3
"""Benchmark: convergent's whole-layer similarity indices (linear and debiased
CKA, CCA, SVCCA, PWCCA, Procrustes) against a numpy float64 reference of the
same indices, on the same .npy files, in the same run.

convergent: `convergent compare` with every other step off (the statistics
pass + similarity_indices), streaming the files. numpy: loads both nets into
memory as float64, centres them, forms X'X, Y'Y, X'Y (BLAS), the per-sample
terms of the unbiased HSIC, and the same eigendecompositions / SVDs
(np.linalg.eigh, np.linalg.svd). The ratio is numpy time / convergent time
(> 1: convergent is faster); both report their peak resident memory
(convergent: the child's ru_maxrss; numpy: this process's). The indices of
both are compared (max relative difference).

The largest case (--big: 2 nets x 4096 units, N = 60,000, 2 x 0.98 GB of
float32) runs only through the CLI: the numpy reference would hold 2 x 1.97 GB
of float64 activations; its row reports convergent's time and peak RSS.

usage: /usr/bin/python3 bench/similarity_reference.py [--cli build/cpu/cli/convergent] [--quick] [--big]
"""
import argparse
import json
import math
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def write_nets(d, n, p, q, seed, rows_per_block=8192):
    """Two nets sharing a rotated 64-d latent code, written block by block
    (float32, never all in memory)."""
    rng = np.random.default_rng(seed)
    k = 64
    mix_a = rng.normal(size=(k, p)) / math.sqrt(k)
    mix_b = rng.normal(size=(k, q)) / math.sqrt(k)
    paths = []
    for name, width in (("a", p), ("b", q)):
        (d / name).mkdir(parents=True, exist_ok=True)
        paths.append(d / name / "fc.npy")
    arrays = [np.lib.format.open_memmap(paths[0], mode="w+", dtype=np.float32, shape=(n, p)),
              np.lib.format.open_memmap(paths[1], mode="w+", dtype=np.float32, shape=(n, q))]
    for first in range(0, n, rows_per_block):
        rows = min(rows_per_block, n - first)
        latent = rng.normal(size=(rows, k))
        arrays[0][first:first + rows] = np.maximum(latent @ mix_a + 0.5 * rng.normal(size=(rows, p)), 0)
        arrays[1][first:first + rows] = np.maximum(latent @ mix_b + 0.5 * rng.normal(size=(rows, q)), 0)
    for a in arrays:
        a.flush()
    del arrays
    return [d / "a", d / "b"]


def run_cli(cli, nets, out, *extra):
    args = [str(cli), "compare", *map(str, nets), "--out", str(out), "--overwrite", "--quiet", "--no-matching",
            "--no-mi", "--no-sparse", "--no-clusters", "--no-mean-activation", "--timings", *extra]
    t0 = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"convergent failed: {proc.stderr}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    summary = json.loads((out / "summary.json").read_text())
    timings = summary["timings"]["layers"]["fc"]
    if "--no-similarity-indices" in extra:
        return seconds, peak, timings
    result = dict(summary["layers"]["fc"]["pairs"]["a~b"]["similarity_indices"])
    result["timings"] = timings
    return seconds, peak, result


# ---- the numpy reference (float64, data in memory) -------------------------------------------

def inv_sqrt_and_spectrum(cov, ridge=1e-6):
    lam, v = np.linalg.eigh(cov)
    lam = np.maximum(lam, 0)
    r = ridge * lam.mean() if lam[0] < ridge * lam.mean() else 0.0
    return (v / np.sqrt(lam + r)) @ v.T, lam, v, r


def unbiased_hsic_terms(n, m, sx, sy, qx, qy, x, y):
    """n(n-3) HSIC_1 of linear kernels from cross moments and per-sample terms."""
    trace = (m * m).sum() - qx @ qy
    ones_k, ones_l = sx @ sx - qx.sum(), sy @ sy - qy.sum()
    ones_kl = sx @ m @ sy - sy @ (y.T @ qx) - sx @ (x.T @ qy) + qx @ qy
    return trace + ones_k * ones_l / ((n - 1) * (n - 2)) - 2 / (n - 2) * ones_kl


def numpy_indices(nets, keep=0.99):
    x = np.load(nets[0] / "fc.npy").astype(np.float64)
    y = np.load(nets[1] / "fc.npy").astype(np.float64)
    n = len(x)
    x -= x.mean(axis=0)
    y -= y.mean(axis=0)
    sxx, syy, sxy = x.T @ x / n, y.T @ y / n, x.T @ y / n
    out = {"cka": float((sxy ** 2).sum() / (np.linalg.norm(sxx) * np.linalg.norm(syy)))}
    qx, qy = (x * x).sum(axis=1), (y * y).sum(axis=1)
    zx, zy = np.zeros(x.shape[1]), np.zeros(y.shape[1])
    kl = unbiased_hsic_terms(n, n * sxy, zx, zy, qx, qy, x, y)
    kk = unbiased_hsic_terms(n, n * sxx, zx, zx, qx, qx, x, x)
    ll = unbiased_hsic_terms(n, n * syy, zy, zy, qy, qy, y, y)
    out["cka_debiased"] = float(kl / math.sqrt(kk * ll))
    del x, y
    live_x, live_y = np.diag(sxx) > 0, np.diag(syy) > 0
    sxx, syy, sxy = sxx[np.ix_(live_x, live_x)], syy[np.ix_(live_y, live_y)], sxy[np.ix_(live_x, live_y)]
    wx, lx, vx, _ = inv_sqrt_and_spectrum(sxx)
    wy, ly, vy, _ = inv_sqrt_and_spectrum(syy)
    u, s, vt = np.linalg.svd(wx @ sxy @ wy, full_matrices=False)
    s = np.clip(s, 0, 1)
    out["cca_mean"] = float(s.mean())
    for key, cov, dirs in (("pwcca", sxx, wx @ u), ("pwcca_reverse", syy, wy @ vt.T)):
        proj = cov @ dirs
        alpha = np.abs(proj).sum(axis=0) / np.sqrt(np.maximum((dirs * proj).sum(axis=0), 1e-300))
        out[key] = float(alpha @ s / alpha.sum())
    kx = int(np.searchsorted(np.cumsum(lx[::-1]) / lx.sum(), keep) + 1)
    ky = int(np.searchsorted(np.cumsum(ly[::-1]) / ly.sum(), keep) + 1)
    red = (vx[:, ::-1][:, :kx] / np.sqrt(lx[::-1][:kx])).T @ sxy @ (vy[:, ::-1][:, :ky] / np.sqrt(ly[::-1][:ky]))
    out["svcca_mean"] = float(np.clip(np.linalg.svd(red, compute_uv=False), 0, 1).mean())
    nuclear = np.linalg.svd(sxy, compute_uv=False).sum()
    tx, ty = np.trace(sxx), np.trace(syy)
    out["procrustes_euclidean"] = float(math.sqrt(max(0.0, tx + ty - 2 * nuclear)))
    out["procrustes_angular"] = float(math.acos(min(1.0, nuclear / math.sqrt(tx * ty))))
    return out


KEYS = ("cka", "cka_debiased", "cca_mean", "svcca_mean", "pwcca", "pwcca_reverse", "procrustes_euclidean",
        "procrustes_angular")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cli", default=str(ROOT / "build" / "cpu" / "cli" / "convergent"))
    ap.add_argument("--quick", action="store_true", help="one small case")
    ap.add_argument("--big", action="store_true", help="also 4096 + 4096 units, N = 60,000 (CLI only; ~2 GB of files)")
    ap.add_argument("--dir", default=None, help="where to write the activation files (default: a temp dir)")
    args = ap.parse_args()
    cases = [(20000, 256, 256), (20000, 1024, 512)] if not args.quick else [(5000, 128, 96)]
    root = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="cvg_similarity_bench_"))
    print("| case | convergent s | convergent peak RSS MiB | numpy s | numpy peak RSS MiB | numpy / convergent "
          "| max rel. difference |")
    print("|---|---|---|---|---|---|---|")
    overhead = []
    try:
        for i, (n, p, q) in enumerate(cases):
            d = root / f"case{i}"
            nets = write_nets(d, n, p, q, seed=i)
            t_cli, rss_cli, got = run_cli(args.cli, nets, d / "out")
            t0 = time.perf_counter()
            ref = numpy_indices(nets)
            t_np = time.perf_counter() - t0
            rss_np = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            diff = max(abs(got[k] - ref[k]) / max(abs(ref[k]), 1e-300) for k in KEYS)
            _, _, plain = run_cli(args.cli, nets, d / "out_plain", "--no-similarity-indices")
            overhead.append(f"N={n}, {p} + {q} units: pass {plain['pass']:.2f} s without the step, "
                            f"{got['timings']['pass']:.2f} s with its per-sample sums; the indices "
                            f"{got['timings']['similarity_indices']:.2f} s")
            print(f"| N={n}, {p} + {q} units | {t_cli:.2f} | {rss_cli / 2**20:.0f} | {t_np:.2f} | "
                  f"{rss_np / 2**20:.0f} | {t_np / t_cli:.2f} | {diff:.1e} |", flush=True)
            shutil.rmtree(d)
        for line in overhead:
            print(f"<!-- {line} -->", flush=True)
        if args.big:
            d = root / "big"
            t0 = time.perf_counter()
            nets = write_nets(d, 60000, 4096, 4096, seed=7)
            print(f"<!-- wrote the big case in {time.perf_counter() - t0:.0f} s -->", flush=True)
            t_cli, rss_cli, got = run_cli(args.cli, nets, d / "out")
            tm = got["timings"]
            print(f"| N=60000, 4096 + 4096 units (CLI only) | {t_cli:.1f} (pass {tm['pass']:.1f}, indices "
                  f"{tm['similarity_indices']:.1f}) | {rss_cli / 2**20:.0f} | - | - | - | "
                  f"cka {got['cka']:.4f}, cka_debiased {got['cka_debiased']:.4f}, cca_mean {got['cca_mean']:.4f} |",
                  flush=True)
            shutil.rmtree(d)
    finally:
        if not args.dir:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
