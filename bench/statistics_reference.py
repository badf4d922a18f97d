#!/usr/bin/env python3
"""Benchmark: convergent's streaming statistics (Sec. 2) against numpy float64
on the same activation files, in the same run.

Both sides read the same .npy files and produce per-unit mean/std and the full
within/between correlation matrices of every net pair (numpy: concatenate the
nets' units and np.corrcoef in float64). Prints a markdown table; the ratio is
numpy time / convergent time (> 1: convergent is faster).

usage: /usr/bin/python3 bench/statistics_reference.py [--cli build/cpu/cli/convergent] [--quick]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def numpy_statistics(paths, layer):
    xs = []
    for p in paths:
        a = np.load(p / f"{layer}.npy", mmap_mode="r")
        if a.ndim == 4:
            n, c, h, w = a.shape
            a = np.ascontiguousarray(np.transpose(a, (0, 2, 3, 1))).reshape(n * h * w, c)
        xs.append(np.asarray(a, dtype=np.float64))
    x = np.concatenate(xs, axis=1)
    mean = x.mean(0)
    std = x.std(0)
    corr = np.corrcoef(x, rowvar=False)
    return mean, std, corr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", default=str(ROOT / "build" / "cpu" / "cli" / "convergent"))
    ap.add_argument("--quick", action="store_true", help="smaller cases")
    ap.add_argument("--json", help="write results as JSON here")
    args = ap.parse_args()

    cases = [  # (name, images, channels, H, W, nets)
        ("conv 64ch 32x32x(16x16) x2", 32, 64, 16, 16, 2),
        ("conv 256ch 2048x(8x8) x2", 2048, 256, 8, 8, 2),
        ("fc 1024u 50000 x4", 50000, 1024, 1, 1, 4),
    ]
    if args.quick:
        cases = [("conv 64ch 256x(8x8) x2", 256, 64, 8, 8, 2), ("fc 256u 20000 x2", 20000, 256, 1, 1, 2)]

    rng = np.random.default_rng(0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, n, c, h, w, k in cases:
            paths = []
            latent = rng.normal(size=(n, c, h, w) if h > 1 else (n, c)).astype(np.float32)
            for i in range(k):
                d = tmp / f"{name.split()[0]}_{c}_{i}"
                d.mkdir()
                x = np.maximum(latent[:, rng.permutation(c)] + rng.normal(size=latent.shape).astype(np.float32), 0)
                np.save(d / "layer.npy", x.astype(np.float32))
                paths.append(d)
            del latent
            # numpy reference
            t0 = time.perf_counter()
            mean, std, corr = numpy_statistics(paths, "layer")
            t_numpy = time.perf_counter() - t0
            # convergent, statistics only
            out = tmp / "out"
            shutil.rmtree(out, ignore_errors=True)
            t0 = time.perf_counter()
            subprocess.run([args.cli, "compare", *map(str, paths), "--out", str(out), "--quiet", "--backend", "cpu",
                            "--no-matching", "--no-mi", "--no-sparse", "--no-clusters", "--no-mean-activation"],
                           check=True)
            t_ours = time.perf_counter() - t0
            ours = np.load(out / "layer" / f"{paths[0].name}~{paths[1].name}.corr.npy")
            c0 = corr[:c, c:2 * c]
            err = float(np.max(np.abs(ours - np.nan_to_num(c0))))
            samples = n * h * w
            rows.append({"case": name, "samples": samples, "units_total": c * k,
                         "numpy_s": t_numpy, "convergent_s": t_ours, "ratio": t_numpy / t_ours, "max_abs_err": err})
            for p in paths:
                shutil.rmtree(p)

    print("| case | samples | units (all nets) | numpy float64 (s) | convergent (s) | ratio numpy/convergent | max abs diff |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['case']} | {r['samples']} | {r['units_total']} | {r['numpy_s']:.3f} | {r['convergent_s']:.3f} | "
              f"{r['ratio']:.2f}x | {r['max_abs_err']:.1e} |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
