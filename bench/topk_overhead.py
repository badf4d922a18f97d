#!/usr/bin/env python3
"""Benchmark: what gathering each unit's top-k inputs (Figs. 2, 4-7, 12)
adds to the statistics pass.

The same files, the statistics pass alone (every other step off), with and
without `--no-top-patches`, alternated; each figure is the best of --repeat
runs of the pass as `--timings` reports it (summary.json
timings.layers.<layer>.pass), and the process's user CPU seconds. Cases:
two nets of 60,000 x 256 dense units, and two nets of a conv layer
32 x 64 x 16 x 16 (8,192 positions), float32, numpy seed 0 (the statistics
bench's shapes).

usage: /usr/bin/python3 bench/topk_overhead.py [--cli build/cpu/cli/convergent] [--repeat 7] [--json F]
"""
import argparse
import json
import os
import resource
import subprocess
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CASES = {"dense 60,000 x (256 + 256)": (60000, 256), "conv 8,192 positions x (64 + 64)": (32, 64, 16, 16)}
OFF = ["--no-matching", "--no-mi", "--no-sparse", "--no-clusters", "--no-similarity-indices",
       "--no-mean-activation"]


def make_case(tmp, name, shape):
    rng = np.random.default_rng(0)
    shared = rng.normal(size=shape).astype(np.float32)
    paths = []
    for i in range(2):
        x = np.maximum(shared + 0.5 * rng.normal(size=shape).astype(np.float32), 0)
        p = tmp / f"{abs(hash(name)) % 10**6}_{i}.npz"
        np.savez(p, layer=x)
        paths.append(p)
    return paths


def run(cli, paths, out, top_k):
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
    subprocess.run([cli, "compare", *map(str, paths), "--out", str(out), "--overwrite", "--timings", *OFF,
                    *([] if top_k else ["--no-top-patches"])], check=True, stdout=subprocess.DEVNULL)
    user = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime - before
    summary = json.loads((out / "summary.json").read_text())
    return summary["timings"]["layers"]["layer"]["pass"], user


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", default=str(ROOT / "build" / "cpu" / "cli" / "convergent"))
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--json")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for name, shape in CASES.items():
            paths = make_case(tmp, name, shape)
            times = {True: [], False: []}
            for _ in range(args.repeat):
                for top_k in (True, False):
                    times[top_k].append(run(args.cli, paths, tmp / "out", top_k))
            with_k = min(t for t, _ in times[True])
            without = min(t for t, _ in times[False])
            user_with = min(u for _, u in times[True])
            user_without = min(u for _, u in times[False])
            rows.append({"case": name, "pass_with_topk_s": with_k, "pass_without_s": without,
                         "ratio": with_k / without, "user_with_s": user_with, "user_without_s": user_without,
                         "user_ratio": user_with / user_without})
    print("| case | pass with top-k (s) | without (s) | ratio | user s with / without | ratio |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['case']} | {r['pass_with_topk_s']:.4f} | {r['pass_without_s']:.4f} | {r['ratio']:.3f} | "
              f"{r['user_with_s']:.2f} / {r['user_without_s']:.2f} | {r['user_ratio']:.3f} |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
