#!/usr/bin/env python3
"""Benchmark: convergent's streaming statistics (Sec. 2) against numpy float64
on the same activation files, in the same run.

Both sides read the same .npy files and produce per-unit mean/std and the full
within/between correlation matrices of every net pair (numpy: concatenate the
nets' units and np.corrcoef in float64). Prints a markdown table; the ratio is
numpy time / convergent time (> 1: convergent is faster).

The statistics pass is one float64 dsyrk per chunk over every net's centred
units, so its floor is OpenBLAS dsyrk itself: the table also gives the
dsyrk time of the same work (samples x T^2, chunks of the rows convergent
uses, on data already centred in memory, via scipy.linalg.blas.dsyrk), the
GFLOP/s both achieve (samples * T^2 / time) and dsyrk time / convergent
time, twice: for the whole command (process start, reading, packing,
dsyrk, correlation, output) and for the statistics pass alone (summary.json
timings from --timings: reading, packing, dsyrk and the merges of every
chunk). Every time is the best of --repeat runs.

usage: /usr/bin/python3 bench/statistics_reference.py [--cli build/cpu/cli/convergent] [--quick] [--repeat 3]
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


# Everything but the statistics (the similarity indices and top-k switched
# off too where this build has them).
STATISTICS_ONLY = ["--no-matching", "--no-mi", "--no-sparse", "--no-clusters", "--no-mean-activation"]


# Rows per chunk of convergent's statistics pass (layer_pass in
# libcore/src/compare.cpp: kChunkRowsMax, at least the width T).
CHUNK_ROWS_MAX = 4096


def dsyrk_seconds(samples, units, repeat):
    """Best time of OpenBLAS dsyrk accumulating samples x units float64 rows
    in chunks of the rows convergent uses (beta = 1 into one T x T matrix)."""
    from scipy.linalg import blas
    rows = max(CHUNK_ROWS_MAX, units)
    rng = np.random.default_rng(1)
    # One chunk of centred data, column-major T x rows (= row-major rows x T).
    chunk = np.asfortranarray(rng.normal(size=(units, min(rows, samples))))
    tail = samples % chunk.shape[1]
    tail_chunk = np.asfortranarray(chunk[:, :tail]) if tail else None
    best = float("inf")
    for _ in range(repeat):
        c = np.zeros((units, units), order="F")
        t0 = time.perf_counter()
        for _ in range(samples // chunk.shape[1]):
            c = blas.dsyrk(1.0, chunk, beta=1.0, c=c, trans=0, lower=1, overwrite_c=1)
        if tail_chunk is not None:
            c = blas.dsyrk(1.0, tail_chunk, beta=1.0, c=c, trans=0, lower=1, overwrite_c=1)
        best = min(best, time.perf_counter() - t0)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", default=str(ROOT / "build" / "cpu" / "cli" / "convergent"))
    ap.add_argument("--quick", action="store_true", help="smaller cases")
    ap.add_argument("--json", help="write results as JSON here")
    ap.add_argument("--repeat", type=int, default=3, help="best of this many runs of every timing")
    ap.add_argument("--precision", default="float64,float32",
                    help="convergent's --statistics-precision values to time (one row each)")
    args = ap.parse_args()

    cases = [  # (name, images, channels, H, W, nets)
        ("conv 64ch 32x32x(16x16) x2", 32, 64, 16, 16, 2),
        ("conv 256ch 2048x(8x8) x2", 2048, 256, 8, 8, 2),
        ("fc 256u 60000 x2", 60000, 256, 1, 1, 2),
        ("fc 1024u 50000 x4", 50000, 1024, 1, 1, 4),
    ]
    if args.quick:
        cases = [("conv 64ch 256x(8x8) x2", 256, 64, 8, 8, 2), ("fc 256u 20000 x2", 20000, 256, 1, 1, 2)]

    help_text = subprocess.run([args.cli, "compare", "--help"], capture_output=True, text=True).stdout
    STATISTICS_ONLY.extend(f for f in ("--no-similarity-indices", "--no-top-patches") if f in help_text)
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
            samples, units = n * h * w, c * k
            out = tmp / "out"
            precisions = args.precision.split(",")
            t_numpy = float("inf")
            t_ours = {p: float("inf") for p in precisions}
            t_pass = dict(t_ours)
            err = {}
            # Alternate the sides, so all see the same machine load.
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                mean, std, corr = numpy_statistics(paths, "layer")
                t_numpy = min(t_numpy, time.perf_counter() - t0)
                c0 = corr[:c, c:2 * c].copy()
                del mean, std, corr
                for p in precisions:  # convergent, statistics only
                    shutil.rmtree(out, ignore_errors=True)
                    t0 = time.perf_counter()
                    subprocess.run([args.cli, "compare", *map(str, paths), "--out", str(out), "--quiet", "--backend",
                                    "cpu", "--timings", "--statistics-precision", p, *STATISTICS_ONLY], check=True)
                    t_ours[p] = min(t_ours[p], time.perf_counter() - t0)
                    timings = json.loads((out / "summary.json").read_text())["timings"]["layers"]["layer"]
                    t_pass[p] = min(t_pass[p], timings["pass"] + timings.get("statistics", 0.0))
                    ours = np.load(out / "layer" / f"{paths[0].name}~{paths[1].name}.corr.npy")
                    err[p] = float(np.max(np.abs(ours - np.nan_to_num(c0))))
            t_syrk = dsyrk_seconds(samples, units, args.repeat)
            flop = float(samples) * units * units
            for p in precisions:
                rows.append({"case": name + ("" if p == "float64" else f" ({p} products)"), "samples": samples,
                             "units_total": units, "numpy_s": t_numpy, "convergent_s": t_ours[p],
                             "ratio": t_numpy / t_ours[p], "max_abs_err": err[p], "dsyrk_s": t_syrk,
                             "convergent_gflops": flop / t_ours[p] / 1e9, "dsyrk_gflops": flop / t_syrk / 1e9,
                             "of_dsyrk": t_syrk / t_ours[p], "pass_s": t_pass[p],
                             "pass_gflops": flop / t_pass[p] / 1e9, "pass_of_dsyrk": t_syrk / t_pass[p]})
            for p in paths:
                shutil.rmtree(p)

    print("| case | samples | units (all nets) | numpy float64 (s) | convergent (s) | ratio numpy/convergent "
          "| max abs diff | dsyrk same work (s) | GFLOP/s convergent / dsyrk | dsyrk/convergent "
          "| pass alone (s) | GFLOP/s pass | dsyrk/pass |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['case']} | {r['samples']} | {r['units_total']} | {r['numpy_s']:.3f} | {r['convergent_s']:.3f} | "
              f"{r['ratio']:.2f}x | {r['max_abs_err']:.1e} | {r['dsyrk_s']:.3f} | "
              f"{r['convergent_gflops']:.1f} / {r['dsyrk_gflops']:.1f} | {100 * r['of_dsyrk']:.0f}% | "
              f"{r['pass_s']:.3f} | {r['pass_gflops']:.1f} | {100 * r['pass_of_dsyrk']:.0f}% |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
