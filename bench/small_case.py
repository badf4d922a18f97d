#!/usr/bin/env python3
"""Benchmark: the small case where fixed costs dominate (issue 13, item 3).

Two nets, three layers (two conv layers and a dense one), 2,000 images:
correlation + MI matching only (`--no-sparse --no-clusters
--no-mean-activation --no-similarity-indices --no-top-patches`), against the numpy/scipy
reference of the same analyses on the same .npz files, in the same run
(bench/end_to_end_reference.py's pieces: float64 np.corrcoef, argmax
semi-matching, scipy.optimize.linear_sum_assignment on the correlation and
on the MI matrix, the paper's percentile binning and one-hot MI for the
within- and between-net blocks). Every time is the best of --repeat runs of
each side, alternated. Also prints convergent's stage breakdown
(summary.json "timings", from --timings).

usage: /usr/bin/python3 bench/small_case.py [--cli build/cpu/cli/convergent] [--repeat 5] [--json F]
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
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests" / "python"))
from end_to_end_reference import correlation_and_mi_matching  # noqa: E402

LAYERS = {"conv1": (32, 8, 8), "conv2": (64, 4, 4), "fc3": (128,)}
IMAGES = 2000


def make_nets(tmp, seed=0):
    rng = np.random.default_rng(seed)
    paths = []
    latent = {k: rng.normal(size=(IMAGES, *shape)).astype(np.float32) for k, shape in LAYERS.items()}
    for i in range(2):
        arrays = {}
        for k, x in latent.items():
            perm = rng.permutation(x.shape[1])
            arrays[k] = np.maximum(x[:, perm] + 0.7 * rng.normal(size=x.shape).astype(np.float32), 0).astype(np.float32)
        p = tmp / f"net{i + 1}.npz"
        np.savez(p, **arrays)
        paths.append(p)
    return paths


def reference(paths, mi_samples=60000, seed=0):
    for _ in correlation_and_mi_matching(paths, mi_samples, seed):
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", default=str(ROOT / "build" / "cpu" / "cli" / "convergent"))
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json")
    args = ap.parse_args()
    flags = ["--no-sparse", "--no-clusters", "--no-mean-activation"]
    help_text = subprocess.run([args.cli, "compare", "--help"], capture_output=True, text=True).stdout
    flags.extend(f for f in ("--no-similarity-indices", "--no-top-patches") if f in help_text)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        paths = make_nets(tmp)
        out = tmp / "out"
        t_ref = t_ours = float("inf")
        timings = None
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            reference(paths)
            t_ref = min(t_ref, time.perf_counter() - t0)
            shutil.rmtree(out, ignore_errors=True)
            t0 = time.perf_counter()
            subprocess.run([args.cli, "compare", *map(str, paths), "--out", str(out), "--quiet", "--backend", "cpu",
                            "--timings", *flags], check=True)
            t = time.perf_counter() - t0
            if t < t_ours:
                t_ours = t
                timings = json.loads((out / "summary.json").read_text())["timings"]
    row = {"case": "2 nets x 3 layers x 2000 images, correlation + MI matching", "reference_s": t_ref,
           "convergent_s": t_ours, "ratio": t_ref / t_ours, "timings": timings}
    load_after = os.getloadavg()
    print(f"machine: {os.cpu_count()} CPUs; load average (1, 5, 15 min) before {load_before[0]:.2f} "
          f"{load_before[1]:.2f} {load_before[2]:.2f}, after {load_after[0]:.2f} {load_after[1]:.2f} "
          f"{load_after[2]:.2f}; best of {args.repeat}; {args.cli}\n")
    print("| case | numpy/scipy (s) | convergent (s) | ratio |")
    print("|---|---:|---:|---:|")
    print(f"| {row['case']} | {t_ref:.3f} | {t_ours:.3f} | {row['ratio']:.1f}x |")
    stages = {}
    for layer, st in timings["layers"].items():
        for k, v in st.items():
            stages[k] = stages.get(k, 0.0) + v
    print("convergent stages (s, summed over layers): " +
          ", ".join(f"{k} {v:.3f}" for k, v in sorted(stages.items(), key=lambda kv: -kv[1])))
    if args.json:
        Path(args.json).write_text(json.dumps(row, indent=1))


if __name__ == "__main__":
    main()
