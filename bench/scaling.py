#!/usr/bin/env python3
"""Scaling benchmark (issue 13, item 6): wall time and peak resident memory of
the correlation-only analysis (Sec. 2 statistics + Sec. 3.1 matchings) for
T units in total (two nets of T/2 units each) and N samples, convergent
against the numpy/scipy reference, measured in the same run on the same
.npy files, with the fitted growth exponents (time ~ N^a, time ~ T^b;
least squares on log-log).

convergent: `convergent compare --no-mi --no-sparse --no-clusters
--no-mean-activation --no-similarity-indices --no-top-patches` (the whole command: reading, statistics, matchings,
writing). Reference (--reference strong, the default): the float64
statistics of bench/strong_reference.py (chunks of 16,384 rows, dsyrk per
centred chunk, Chan merges) + semi-matching (argmax) +
scipy.optimize.linear_sum_assignment (the max-weight matching), in a fresh
interpreter; --reference naive: np.corrcoef of the concatenated float64 units
instead (the earlier table). Peak memory: ru_maxrss of each child process
(/usr/bin/time -v). A reference run whose float64 copies would not fit the
memory limit (--ref-max-gb) is not started ("-"); --skip leaves out cells.

usage: /usr/bin/python3 bench/scaling.py [--cli build/lead/cli/convergent]
         [--t 256,1024,4096] [--n 10000,60000,250000] [--work /tmp/cvg_scaling]
         [--reference strong|naive] [--skip 4096x250000] [--markdown docs/benchmarks_scaling.md]
"""
import argparse
import math
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

REFERENCE = r"""
import sys, numpy as np
from scipy.optimize import linear_sum_assignment
a = np.load(sys.argv[1], mmap_mode="r"); b = np.load(sys.argv[2], mmap_mode="r")
x = np.concatenate([np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)], axis=1)
c = np.corrcoef(x, rowvar=False)
del x
ua = a.shape[1]
block = np.nan_to_num(c[:ua, ua:])
semi = block.argmax(axis=1)
rows, cols = linear_sum_assignment(block, maximize=True)
print(float(block[np.arange(ua), semi].mean()), float(block[rows, cols].mean()))
"""


# The strong reference (bench/strong_reference.py): float64 chunks of 16,384
# rows, dsyrk per centred chunk and Chan merges (memory: the T x T moments and
# one chunk, not the data), then the same correlation, argmax and
# linear_sum_assignment.
STRONG = r"""
import sys, numpy as np
sys.path.insert(0, sys.argv[3])
from strong_reference import statistics, correlation, match
a = np.load(sys.argv[1], mmap_mode="r"); b = np.load(sys.argv[2], mmap_mode="r")
mean, cov = statistics([a, b])
block = correlation(cov)[:a.shape[1], a.shape[1]:]
semi, matching = match(block)
print(float(block[np.arange(a.shape[1]), semi].mean()), float(block[np.arange(a.shape[1]), matching].mean()))
"""


def timed(cmd):
    """(wall seconds, peak RSS MiB, stdout, CPU seconds: user + sys) of a child process."""
    t0 = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    cpu = sum(float(v) for v in re.findall(r"(?:User|System) time \(seconds\): ([0-9.]+)", proc.stderr))
    return wall, int(m.group(1)) / 1024.0 if m else float("nan"), proc.stdout, cpu


def make_net(path: Path, n: int, units: int, seed: int, shared: np.ndarray):
    """Activations with correlated units across the nets (a shared latent)."""
    path.mkdir(parents=True, exist_ok=True)
    out = np.lib.format.open_memmap(path / "fc.npy", mode="w+", dtype=np.float32, shape=(n, units))
    rng = np.random.default_rng(seed)
    mix = rng.standard_normal((shared.shape[1], units)).astype(np.float32)
    for i in range(0, n, 8192):
        j = min(n, i + 8192)
        out[i:j] = np.maximum(0, shared[i:j] @ mix + rng.standard_normal((j - i, units), dtype=np.float32))
    out.flush()
    del out


def fit(xs, ys):
    xs, ys = np.log(np.asarray(xs, float)), np.log(np.asarray(ys, float))
    return float(np.polyfit(xs, ys, 1)[0]) if len(xs) >= 2 else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cli", default=str(ROOT / "build/lead/cli/convergent"))
    ap.add_argument("--t", default="256,1024,4096")
    ap.add_argument("--n", default="10000,60000,250000")
    ap.add_argument("--work", default="/tmp/cvg_scaling")
    ap.add_argument("--ref-max-gb", type=float, default=12.0)
    ap.add_argument("--nets", type=int, default=2, help="nets of T/nets units each (the reference needs 2)")
    ap.add_argument("--markdown", default=None, help="also write the table here")
    ap.add_argument("--reference", choices=["strong", "naive"], default="strong",
                    help="strong: chunked dsyrk statistics (bench/strong_reference.py); naive: np.corrcoef of all data")
    ap.add_argument("--skip", default="", help="cells not to run, e.g. 4096x250000,4096x60000 (T x N)")
    args = ap.parse_args()
    ts = [int(v) for v in args.t.split(",")]
    ns = [int(v) for v in args.n.split(",")]
    work = Path(args.work)
    rows = []
    skip = {tuple(int(v) for v in c.lower().split("x")) for c in args.skip.split(",") if c}
    for t in ts:
        for n in ns:
            if (t, n) in skip:
                print(f"T={t:5d} N={n:7d}: skipped (--skip)", flush=True)
                continue
            d = work / f"t{t}_n{n}"
            shutil.rmtree(d, ignore_errors=True)
            shared = np.random.default_rng(7).standard_normal((n, 16)).astype(np.float32)
            for k in range(args.nets):
                make_net(d / f"net{k + 1}", n, t // args.nets, k + 1, shared)
            del shared
            wall_c, rss_c, _, cpu_c = timed([args.cli, "compare"] + [str(d / f"net{k + 1}") for k in range(args.nets)] +
                                     ["--out", str(d / "out"), "--no-mi", "--no-sparse", "--no-clusters",
                                      "--no-mean-activation", "--no-similarity-indices", "--no-top-patches",
                                      "-q"])
            if args.reference == "strong":
                ref_gb = (2 * t * t + 16384 * t) * 8 / 2**30  # the moments (and a copy) + one chunk
            else:
                ref_gb = 3 * n * t * 8 / 2**30  # float64 concatenation + corrcoef's centred copy + conversion
            if args.nets == 2 and ref_gb <= args.ref_max_gb:
                script = STRONG if args.reference == "strong" else REFERENCE
                wall_r, rss_r, _, cpu_r = timed([sys.executable, "-c", script, str(d / "net1/fc.npy"), str(d / "net2/fc.npy"),
                                          str(ROOT / "bench")])
            else:
                wall_r, rss_r, cpu_r = float("nan"), float("nan"), float("nan")
            minimum = t * t * 8 / 2**20
            rows.append((t, n, wall_c, rss_c, wall_r, rss_r, minimum, cpu_c, cpu_r))
            print(f"T={t:5d} N={n:7d}: convergent {wall_c:7.2f} s {rss_c:8.0f} MiB | "
                  f"numpy/scipy {wall_r:7.2f} s {rss_r:8.0f} MiB | T^2 float64 {minimum:.0f} MiB", flush=True)
            shutil.rmtree(d, ignore_errors=True)

    ref_name = "strong numpy/scipy" if args.reference == "strong" else "naive numpy/scipy"
    lines = [f"| T | N | convergent s | convergent peak MiB | {ref_name} s | {ref_name} peak MiB | speed-up | "
             "CPU s convergent / reference | CPU ratio | T² float64 MiB |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for t, n, wc, rc, wr, rr, mn, cc, cr in rows:
        f = lambda v, fmt: "-" if math.isnan(v) else fmt.format(v)
        lines.append(f"| {t} | {n} | {wc:.2f} | {rc:.0f} | {f(wr, '{:.2f}')} | {f(rr, '{:.0f}')} | "
                     f"{f(wr / wc if not math.isnan(wr) else float('nan'), '{:.2f}x')} | "
                     f"{cc:.2f} / {f(cr, '{:.2f}')} | {f(cr / cc if not math.isnan(cr) else float('nan'), '{:.2f}x')} | "
                     f"{mn:.1f} |")
    lines.append("")
    lines.append("Fitted exponents (least squares on log-log):")
    lines.append("")
    lines.append("| fixed | time ~ N^a (convergent) | time ~ N^a (numpy) | CPU ~ N^a (convergent) | CPU ~ N^a (numpy) | "
                 "peak RSS ~ N^a (convergent) | peak RSS ~ N^a (numpy) |")
    lines.append("|---|---:|---:|---:|---:|---:|---:|")
    for t in ts:
        sel = [r for r in rows if r[0] == t]
        ref = [r for r in sel if not math.isnan(r[4])]
        lines.append(f"| T = {t} | {fit([r[1] for r in sel], [r[2] for r in sel]):.2f} | "
                     f"{fit([r[1] for r in ref], [r[4] for r in ref]) if len(ref) >= 2 else float('nan'):.2f} | "
                     f"{fit([r[1] for r in sel], [r[7] for r in sel]):.2f} | "
                     f"{fit([r[1] for r in ref], [r[8] for r in ref]) if len(ref) >= 2 else float('nan'):.2f} | "
                     f"{fit([r[1] for r in sel], [r[3] for r in sel]):.2f} | "
                     f"{fit([r[1] for r in ref], [r[5] for r in ref]) if len(ref) >= 2 else float('nan'):.2f} |")
    lines.append("")
    lines.append("| fixed | time ~ T^b (convergent) | time ~ T^b (numpy) | CPU ~ T^b (convergent) | CPU ~ T^b (numpy) |")
    lines.append("|---|---:|---:|---:|---:|")
    for n in ns:
        sel = [r for r in rows if r[1] == n]
        ref = [r for r in sel if not math.isnan(r[4])]
        lines.append(f"| N = {n} | {fit([r[0] for r in sel], [r[2] for r in sel]):.2f} | "
                     f"{fit([r[0] for r in ref], [r[4] for r in ref]) if len(ref) >= 2 else float('nan'):.2f} | "
                     f"{fit([r[0] for r in sel], [r[7] for r in sel]):.2f} | "
                     f"{fit([r[0] for r in ref], [r[8] for r in ref]) if len(ref) >= 2 else float('nan'):.2f} |")
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text + "\n")


if __name__ == "__main__":
    main()
