#!/usr/bin/env python3
"""Benchmark: all-pairs mutual information (Sec. 3.2, footnote 6) of convergent
against a numpy one-hot reference, on the same bin codes, in the same run.

Two nets of ReLU-like units (60,000 samples, 20 percentile bins + the zero
bin) are binned by numpy with the documented rule; both sides then compute the
between-net MI matrix (units x units, nats) from these codes:
  numpy:      per block of units, one-hot indicator matrices (samples x
              units*bins, float32 by default: counts < 2^24 are exact), counts
              = onehot_a.T @ onehot_b (BLAS), then sum p log(p / (px py));
  convergent: bench_mutual_information --mi (CPU backend: exact int32 counts by
              cache-blocked counting, OpenMP; or --backend cuda).
The MI matrices must agree to 1e-9. Prints a markdown table; ratio = numpy
time / convergent time (> 1: convergent is faster). The one-hot construction
is inside the numpy timing, the code upload inside convergent's.

usage: /usr/bin/python3 bench/mutual_information_reference.py
           [--bench build/cpu/bench/bench_mutual_information] [--sizes 256 1024]
           [--dtype float32|float64] [--numpy-fraction F] [--backend cpu]
--numpy-fraction F < 1 times numpy on the first F of the rows only (whole
blocks) and extrapolates linearly (marked "extrapolated"); equality is then
checked on those rows.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

# The numpy binning reference is shared with the Python tests (one definition).
sys.path.insert(0, str(ROOT / "tests" / "python"))
from binning_reference import numpy_binning  # noqa: E402


def relu_nets(samples, units, seed):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((samples, units), dtype=np.float32)
    a = np.maximum(z, 0)
    b = np.maximum(0.7 * z + 0.7 * rng.standard_normal((samples, units), dtype=np.float32), 0)
    return a, b


def one_hot(codes, bins, dtype):
    """codes (units, samples) -> (samples, units*bins) indicator matrix."""
    units, samples = codes.shape
    out = np.zeros((samples, units * bins), dtype=dtype)
    cols = (np.arange(units)[:, None] * bins + codes).T  # (samples, units)
    np.put_along_axis(out, cols.astype(np.int64), 1, axis=1)
    return out


def numpy_mi(codes_a, codes_b, bins, dtype, block, rows):
    """MI of rows [0, rows) of a against all of b, block by block."""
    ua, samples = codes_a.shape
    ub = codes_b.shape[0]
    n = float(samples)
    mi = np.zeros((rows, ub))
    b_hot = [one_hot(codes_b[j:j + block], bins, dtype) for j in range(0, ub, block)]
    for i in range(0, rows, block):
        a_hot = one_hot(codes_a[i:min(i + block, rows)], bins, dtype)
        ta = a_hot.shape[1] // bins
        for jb, j in enumerate(range(0, ub, block)):
            counts = (a_hot.T @ b_hot[jb]).astype(np.float64)  # exact integers
            tb = counts.shape[1] // bins
            c = counts.reshape(ta, bins, tb, bins)
            px = c.sum(axis=3, keepdims=True)
            py = c.sum(axis=1, keepdims=True)
            with np.errstate(divide="ignore", invalid="ignore"):
                terms = np.where(c > 0, c / n * np.log(c * n / (px * py)), 0.0)
            mi[i:i + ta, j:j + tb] = np.maximum(terms.sum(axis=(1, 3)), 0.0)
    return mi


def run_convergent(bench, backend, codes_a, codes_b, bins, repeat, tmp):
    ua, samples = codes_a.shape
    ub = codes_b.shape[0]
    pa, pb, out = tmp / "a.u8", tmp / "b.u8", tmp / "mi.f64"
    codes_a.tofile(pa)
    codes_b.tofile(pb)
    proc = subprocess.run([str(bench), "--backend", backend, "--mi", str(pa), str(pb), str(samples),
                           str(ua), str(ub), str(bins), str(out), str(repeat)],
                          capture_output=True, text=True, check=True)
    line = json.loads(proc.stdout.strip().splitlines()[-1])
    return np.fromfile(out, dtype=np.float64).reshape(ua, ub), line


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", type=Path,
                    default=Path(os.environ.get("CONVERGENT_BUILD_DIR", ROOT / "build" / "cpu"))
                    / "bench" / "bench_mutual_information")
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 1024])
    ap.add_argument("--samples", type=int, default=60000)
    ap.add_argument("--bins", type=int, default=20, help="percentile bins (the zero bin is added)")
    ap.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    ap.add_argument("--block", type=int, default=64, help="numpy unit block (memory)")
    ap.add_argument("--numpy-fraction", type=float, default=1.0)
    ap.add_argument("--backend", default="cpu")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    if not args.bench.exists():
        sys.exit(f"bench_mutual_information not found at {args.bench} (--bench)")
    total_bins = args.bins + 1
    rows_out = []
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        for units in args.sizes:
            va, vb = relu_nets(args.samples, units, seed=units)
            codes_a, _ = numpy_binning(va, total_bins - 1)
            codes_b, _ = numpy_binning(vb, total_bins - 1)
            del va, vb
            mi_c, line = run_convergent(args.bench, args.backend, codes_a, codes_b, total_bins,
                                        args.repeat, tmp)
            rows = units if args.numpy_fraction >= 1 else \
                min(units, max(1, math.ceil(units * args.numpy_fraction / args.block)) * args.block)
            t0 = time.perf_counter()
            mi_np = numpy_mi(codes_a, codes_b, total_bins, np.dtype(args.dtype), args.block, rows)
            t_np = (time.perf_counter() - t0) * units / rows
            diff = float(np.abs(mi_np - mi_c[:rows]).max())
            ok = diff <= 1e-9
            rows_out.append((units, t_np, rows < units, line["seconds"], diff, ok, line["backend"]))
            print(json.dumps({"units": units, "samples": args.samples, "bins": total_bins,
                              "numpy_seconds": t_np, "numpy_extrapolated": rows < units,
                              "convergent_seconds": line["seconds"], "max_abs_diff": diff}),
                  file=sys.stderr, flush=True)
    print(f"\nAll-pairs MI, between two nets, {args.samples} samples, {total_bins} bins "
          f"(numpy one-hot {args.dtype} matmul vs convergent {args.backend})\n")
    print("| units x units | numpy (s) | convergent (s) | ratio numpy/convergent | max abs diff | equal (1e-9) |")
    print("|---|---|---|---|---|---|")
    for units, t_np, extra, t_c, diff, ok, _ in rows_out:
        mark = " (extrapolated)" if extra else ""
        print(f"| {units} x {units} | {t_np:.2f}{mark} | {t_c:.3f} | {t_np / t_c:.1f} | {diff:.1e} | {'yes' if ok else 'NO'} |")
    print(f"\nconvergent backend: {rows_out[0][6] if rows_out else '?'}; "
          f"threads: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'default')}")
    if not all(r[5] for r in rows_out):
        sys.exit(1)


if __name__ == "__main__":
    main()
