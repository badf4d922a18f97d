#!/usr/bin/env python3
"""Benchmark: exact all-pairs MI counting (Sec. 3.2) against the share of
samples in the zero bin, in the same run on the same codes:

- convergent: the dense 2 x 4 kernel (CONVERGENT_MI_LISTED_MAX=0), the
  listed kernel with one unit of b per increment (samples outside the mode
  of the unit of a; CONVERGENT_MI_PAIRS_MAX=0, CONVERGENT_MI_TRIPLES=0) and
  the default (the listed kernel with two units of b per increment through
  three-way tables where a unit has enough listed samples, pair-sparse
  blocks, samples outside the modes of both units, where b's units are
  mostly in their modes): bench_mutual_information --mi, best of --repeat
  inside the process;
- the strong numpy reference (bench/strong_reference.py's MiCounter):
  np.bincount over combined codes u_code * bins + v_code, b in blocks of 64
  units, every sample ("dense") or only the samples where the unit of a is
  outside its mode ("listed", mode row completed from the marginals); timed
  on the first --numpy-units units of a and projected linearly to all of
  them (stated in the table), its MI checked against convergent's to 1e-9.

Codes: uniform over bins 1..20, then the given fraction of each unit's
samples (at random positions) set to bin 0.

usage: /usr/bin/python3 bench/mi_zero_fraction.py --bench build/cpu/bench/bench_mutual_information
         [--units 256] [--samples 60000] [--fractions 0,0.3,0.5,0.7,0.9] [--repeat 3] [--numpy-units 16]
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from strong_reference import mi_rows  # noqa: E402


def codes(units, samples, bins, zero, rng):
    c = rng.integers(1, bins, size=(units, samples), dtype=np.uint8)
    k = int(round(zero * samples))
    for u in range(units):
        c[u, rng.permutation(samples)[:k]] = 0
    return c


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


KERNELS = {  # environment of each kernel choice
    "dense": {"CONVERGENT_MI_LISTED_MAX": "0"},
    "listed": {"CONVERGENT_MI_LISTED_MAX": "1", "CONVERGENT_MI_PAIRS_MAX": "0", "CONVERGENT_MI_TRIPLES": "0"},
    "default": {},  # three-way tables, pair-sparse blocks where units are mostly in their modes
}


def convergent(bench, a, b, units, samples, bins, out, repeat, kernel):
    """(best wall seconds of the MI call, CPU seconds per call (user + sys,
    all threads, the whole process / repeat), MI matrix)."""
    env = dict(os.environ, **KERNELS[kernel])
    c0 = children_cpu()
    proc = subprocess.run([str(bench), "--mi", str(a), str(b), str(samples), str(units), str(units), str(bins),
                           str(out), str(repeat)], capture_output=True, text=True, check=True, env=env)
    cpu = (children_cpu() - c0) / repeat
    seconds = json.loads(proc.stdout.strip().splitlines()[-1])["seconds"]
    return seconds, cpu, np.fromfile(out, dtype=np.float64).reshape(units, units)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", default="build/cpu/bench/bench_mutual_information")
    ap.add_argument("--units", type=int, default=256)
    ap.add_argument("--samples", type=int, default=60000)
    ap.add_argument("--bins", type=int, default=21)
    ap.add_argument("--fractions", default="0,0.3,0.5,0.7,0.9")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--numpy-units", type=int, default=16)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for zero in (float(v) for v in args.fractions.split(",")):
            ca = codes(args.units, args.samples, args.bins, zero, rng)
            cb = codes(args.units, args.samples, args.bins, zero, rng)
            ca.tofile(tmp / "a.u8")
            cb.tofile(tmp / "b.u8")
            t_dense, c_dense, mi_dense = convergent(args.bench, tmp / "a.u8", tmp / "b.u8", args.units, args.samples,
                                           args.bins, tmp / "mi.f64", args.repeat, "dense")
            t_old, c_old, mi_old = convergent(args.bench, tmp / "a.u8", tmp / "b.u8", args.units, args.samples,
                                              args.bins, tmp / "mi.f64", args.repeat, "listed")
            t_listed, c_listed, mi_listed = convergent(args.bench, tmp / "a.u8", tmp / "b.u8", args.units, args.samples,
                                             args.bins, tmp / "mi.f64", args.repeat, "default")
            assert np.array_equal(mi_dense, mi_listed), "dense and default kernels disagree"
            assert np.array_equal(mi_old, mi_listed), "listed and default kernels disagree"
            k = min(args.numpy_units, args.units)
            numpy_s, numpy_cpu = {}, {}
            for mode in ("dense", "listed"):
                best, best_cpu = None, None
                for _ in range(args.repeat):
                    t0, c0 = time.perf_counter(), time.process_time()
                    ref = mi_rows(ca, cb, args.bins, np.arange(k), False, mode)
                    dt, dc = time.perf_counter() - t0, time.process_time() - c0
                    best = dt if best is None else min(best, dt)
                    best_cpu = dc if best_cpu is None else min(best_cpu, dc)
                diff = float(np.abs(ref - mi_listed[:k]).max())
                assert diff <= 1e-9, f"numpy {mode} MI differs by {diff:g}"
                numpy_s[mode] = best * args.units / k
                numpy_cpu[mode] = best_cpu * args.units / k
            rows.append((zero, t_dense, t_old, t_listed, numpy_s["dense"], numpy_s["listed"], c_dense, c_old, c_listed,
                         min(numpy_cpu.values())))
            print(json.dumps({"zero": zero, "dense": t_dense, "listed": t_old, "default": t_listed, "numpy": numpy_s,
                              "cpu_dense": c_dense, "cpu_listed": c_old, "cpu_default": c_listed,
                              "numpy_cpu": numpy_cpu}), file=sys.stderr, flush=True)
    print(f"All-pairs MI between two nets, {args.units} x {args.units} units, {args.samples} samples, "
          f"{args.bins} bins; convergent best of {args.repeat} in-process; numpy bincount timed on "
          f"{min(args.numpy_units, args.units)} units of a (best of {args.repeat}) and projected to {args.units}.")
    print()
    print("| zero fraction | convergent dense kernel (s) | listed kernel, 1 unit of b per increment (s) | "
          "default: listed with three-way tables (2 units of b per increment) + pair-sparse blocks (s) | "
          "default vs dense | default vs listed | "
          "numpy bincount, all samples (s, projected) | numpy bincount, listed (s, projected) | "
          "best numpy / convergent default | CPU s: dense / listed / default / best numpy | CPU ratio numpy / default |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|")
    for zero, d, o, l, nd, nl, cd, co, cl, cn in rows:
        print(f"| {zero:g} | {d:.3f} | {o:.3f} | {l:.3f} | {d / l:.2f}x | {o / l:.2f}x | {nd:.1f} | {nl:.1f} | "
              f"{min(nd, nl) / l:.1f}x | {cd:.2f} / {co:.2f} / {cl:.2f} / {cn:.1f} | {cn / cl:.1f}x |")
    print()
    print("Wall: convergent's best of the in-process repeats, numpy's best; CPU: user + sys of all threads "
          "(convergent: the whole bench process, file reading included, divided by the repeats).")


if __name__ == "__main__":
    main()
