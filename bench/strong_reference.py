#!/usr/bin/env python3
"""The strongest numpy/scipy pipeline we could write for correlation + MI
matching (Secs. 2, 3.1, 3.2), and the benchmark of `convergent compare`
against it, measured in the same run on the same files. The script checks
that both give the same answers before it prints a ratio.

Reference, per layer of two nets (T_a + T_b units, N samples, float32 .npy):
- statistics: float64 chunks of 16,384 rows, each centred on its own mean,
  X'X by scipy.linalg.blas.dsyrk (OpenBLAS, all cores), merged with Chan et
  al.'s pairwise update (M2 += M2_chunk + n_a n_b / n delta delta');
  correlation = covariance / (sd sd');
- semi-matching: row argmax; matching: scipy.optimize.linear_sum_assignment
  (maximize=True), on the between-net correlation and MI blocks;
- MI sample: the documented row sample (std::mt19937_64(seed), Floyd's
  algorithm, libcore/include/convergent/mutual_information.hpp, re-implemented
  here) and the documented percentile binning (tests/python/binning_reference.py);
- MI joint counts: np.bincount over combined codes u_code * bins + v_code,
  vectorised over blocks of units of b (a block's codes plus their table
  offsets held as intp; one bincount per unit of a and block), within-net
  pairs once (upper triangle); the zero bin skipped for units of a ("listed":
  only the samples where the unit of a is outside its most frequent bin are
  counted, the mode row completed from b's marginal histograms), whichever of
  the two is faster on a measured subset of units;
- MI in nats from the counts, vectorised (sum c log c - marginals + n log n).

At 1,024 units per net the reference's MI counting takes minutes: with
--mi-fraction f < 1 it counts the first f of the units of a (of each of the
three blocks a~b, a~a, b~b), checks those rows against convergent's MI
matrices and projects its time linearly in the number of pairs; the MI
matching then runs on convergent's between-net MI matrix (after those rows
agreed), so its time is still measured. Every projection is reported.

usage: /usr/bin/python3 bench/strong_reference.py --cli build/cpu/cli/convergent
         [--units 1024] [--samples 60000] [--zeros 0.5] [--repeat 3] [--mi-fraction 0.0625]
         [--json F]
"""
import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.linalg.blas import dsyrk
from scipy.optimize import linear_sum_assignment

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "python"))
from binning_reference import numpy_binning  # noqa: E402

CONVERGENT_CORR_MI_FLAGS = ["--no-sparse", "--no-clusters", "--no-mean-activation", "--no-similarity-indices",
                            "--no-top-patches"]


# --- the documented MI row sample -------------------------------------------

class MT19937_64:
    """std::mt19937_64 (C++11 [rand.predef]): enough of it for sample_rows."""
    MASK = (1 << 64) - 1

    def __init__(self, seed):
        self.mt = [0] * 312
        self.mt[0] = seed & self.MASK
        for i in range(1, 312):
            prev = self.mt[i - 1]
            self.mt[i] = (6364136223846793005 * (prev ^ (prev >> 62)) + i) & self.MASK
        self.index = 312

    def _twist(self):
        mt, upper, lower = self.mt, self.MASK ^ 0x7FFFFFFF, 0x7FFFFFFF
        for i in range(312):
            x = (mt[i] & upper) | (mt[(i + 1) % 312] & lower)
            xa = x >> 1
            if x & 1:
                xa ^= 0xB5026F5AA96619E9
            mt[i] = mt[(i + 156) % 312] ^ xa
        self.index = 0

    def __call__(self):
        if self.index >= 312:
            self._twist()
        y = self.mt[self.index]
        self.index += 1
        y ^= (y >> 29) & 0x5555555555555555
        y ^= (y << 17) & 0x71D67FFFEDA60000
        y ^= (y << 37) & 0xFFF7EEE000000000
        y ^= y >> 43
        return y


def sample_rows(total, count, seed):
    """The rows libcore's sample_rows draws (sorted; all rows when count >= total)."""
    if count >= total:
        return np.arange(total)
    rng, top = MT19937_64(seed), (1 << 64) - 1
    chosen, rows = set(), []
    for j in range(total - count, total):
        rng_range = j + 1
        limit = top - (top % rng_range + 1) % rng_range
        draw = rng()
        while draw > limit:
            draw = rng()
        t = draw % rng_range
        if t not in chosen:
            chosen.add(t)
            pick = t
        else:
            pick = j
            chosen.add(j)
        rows.append(pick)
    return np.sort(np.asarray(rows, dtype=np.int64))


# --- statistics ----------------------------------------------------------------

def statistics(xs, chunk=16384):
    """Mean and population covariance (float64) of the units of all nets side
    by side: dsyrk per centred chunk, Chan merges."""
    n_total = xs[0].shape[0]
    t = sum(x.shape[1] for x in xs)
    mean = np.zeros(t)
    m2 = np.zeros((t, t), order="F")
    n = 0
    buf = np.empty((chunk, t))
    for r in range(0, n_total, chunk):
        rows = min(chunk, n_total - r)
        c = buf[:rows]
        col = 0
        for x in xs:
            c[:, col:col + x.shape[1]] = x[r:r + rows]
            col += x.shape[1]
        mu = c.mean(axis=0)
        c -= mu
        # X'X of the row-major chunk: its transpose is Fortran-ordered, no copy.
        chunk_m2 = dsyrk(1.0, c.T, trans=0, lower=0)
        if n == 0:
            m2 = chunk_m2
            mean = mu
        else:
            delta = mu - mean
            w = n * rows / (n + rows)
            m2 += chunk_m2
            m2 += w * np.outer(delta, delta)  # only the upper triangle is used
            mean = mean + delta * (rows / (n + rows))
        n += rows
    cov = np.triu(m2) / n
    cov = cov + np.triu(cov, 1).T
    return mean, cov


def correlation(cov):
    sd = np.sqrt(np.maximum(np.diag(cov), 0))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / np.outer(sd, sd)
    corr[~np.isfinite(corr)] = 0
    return corr


def match(block):
    """(semi-matching columns, matching columns) of a between-net block."""
    semi = block.argmax(axis=1)
    rows, cols = linear_sum_assignment(block, maximize=True)
    matching = np.full(block.shape[0], -1)
    matching[rows] = cols
    return semi, matching


# --- MI --------------------------------------------------------------------------

def _nlogn(c):
    c = np.asarray(c, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(c > 0, c * np.log(np.where(c > 0, c, 1)), 0.0)


def mi_from_tables(tables, n):
    """MI (nats) of (..., bins, bins) count tables, clamped at 0 as libcore does."""
    joint = _nlogn(tables).sum(axis=(-1, -2))
    px = _nlogn(tables.sum(axis=-1)).sum(axis=-1)
    py = _nlogn(tables.sum(axis=-2)).sum(axis=-1)
    return np.maximum((joint - px - py + n * math.log(n)) / n, 0.0)


class MiCounter:
    """All-pairs joint counts by np.bincount over combined codes, b in blocks.
    mode='dense': every sample; mode='listed': only samples where the unit of
    a is outside its most frequent bin, that row completed from b's marginals."""

    def __init__(self, cb, bins, block=64):
        self.bins, self.n = bins, cb.shape[1]
        self.blocks = []
        tb = bins * bins
        for j0 in range(0, cb.shape[0], block):
            j1 = min(cb.shape[0], j0 + block)
            off = (np.arange(j1 - j0, dtype=np.intp) * tb)[:, None]
            self.blocks.append((j0, j1, cb[j0:j1].astype(np.intp) + off))
        self.marginal = np.stack([np.bincount(c, minlength=bins) for c in cb]) if cb.shape[0] else None

    def row(self, x, j_first=0, mode="dense"):
        """MI of unit codes x (length n) with units j >= j_first of b."""
        bins, tb, n = self.bins, self.bins * self.bins, self.n
        out = []
        xb = x.astype(np.intp) * bins
        if mode == "listed":
            hist = np.bincount(x, minlength=bins)
            m = int(hist.argmax())
            keep = np.flatnonzero(x != m)
            xb = xb[keep]
        for j0, j1, codes in self.blocks:
            if j1 <= j_first:
                continue
            s = max(j0, j_first) - j0
            blk = codes[s:]
            if mode == "listed":
                combined = blk[:, keep] + xb
            else:
                combined = blk + xb
            t = np.bincount(combined.ravel(), minlength=(j1 - j0) * tb)[s * tb:].reshape(-1, bins, bins)
            if mode == "listed":
                t[:, m, :] = self.marginal[j0 + s:j1] - t.sum(axis=1) + t[:, m, :]
            out.append(mi_from_tables(t, n))
        return np.concatenate(out) if out else np.zeros(0)


def mi_rows(ca, cb, bins, rows, within, mode):
    """MI of the given units of a with every unit of b (within: b is a, only
    j >= i counted, mirrored)."""
    counter = MiCounter(cb, bins)
    out = np.zeros((len(rows), cb.shape[0]))
    for k, i in enumerate(rows):
        if within:
            out[k, i:] = counter.row(ca[i], i, mode)
        else:
            out[k] = counter.row(ca[i], 0, mode)
    return out


# --- the benchmark ------------------------------------------------------------------

def make_net(path, n, units, seed, shared, zeros):
    """Dense ReLU-like activations sharing a latent code across nets, shifted
    so that about `zeros` of the values are exactly 0."""
    path.mkdir(parents=True, exist_ok=True)
    out = np.lib.format.open_memmap(path / "fc.npy", mode="w+", dtype=np.float32, shape=(n, units))
    rng = np.random.default_rng(seed)
    mix = rng.standard_normal((shared.shape[1], units)).astype(np.float32) / 4
    from scipy.stats import norm
    shift = np.float32(norm.ppf(zeros) * math.sqrt(1 + shared.shape[1] / 16))
    for i in range(0, n, 8192):
        j = min(n, i + 8192)
        out[i:j] = np.maximum(0, shared[i:j] @ mix + rng.standard_normal((j - i, units), dtype=np.float32) - shift)
    out.flush()
    del out


def reference(paths, mi_samples, seed, bins, mi_fraction, mode):
    """Runs the strong reference; returns (results, stage seconds, notes)."""
    t = {}
    t0 = time.perf_counter()
    xs = [np.load(p, mmap_mode="r") for p in paths]
    mean, cov = statistics(xs)
    corr = correlation(cov)
    t["statistics"] = time.perf_counter() - t0
    ua, ub = xs[0].shape[1], xs[1].shape[1]
    t0 = time.perf_counter()
    block = corr[:ua, ua:]
    corr_semi, corr_match = match(block)
    t["correlation_matching"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    rows = sample_rows(xs[0].shape[0], mi_samples, seed)
    codes = [numpy_binning(np.asarray(x[rows]), bins - 1)[0] for x in xs]
    t["binning"] = time.perf_counter() - t0
    n = len(rows)

    res = {"corr_block": block, "corr_semi": corr_semi, "corr_match": corr_match, "mi": {}, "codes": codes, "bins": bins,
           "zero_fraction": [float(np.mean(c == 0)) for c in codes]}
    counted = 0.0
    total = 0.0
    t0, c0 = time.perf_counter(), time.process_time()
    for key, (i, j) in {"ab": (0, 1), "aa": (0, 0), "bb": (1, 1)}.items():
        ca, cb = codes[i], codes[j]
        within = i == j
        units = ca.shape[0]
        k = units if mi_fraction >= 1 else max(1, int(round(units * mi_fraction)))
        r = np.arange(k)
        res["mi"][key] = mi_rows(ca, cb, bins, r, within, mode)
        pairs_all = units * (units + 1) / 2 if within else units * cb.shape[0]
        pairs_done = sum(cb.shape[0] - q for q in r) if within else k * cb.shape[0]
        counted += pairs_done
        total += pairs_all
    t_mi, c_mi = time.perf_counter() - t0, time.process_time() - c0
    t["mi_counting"] = t_mi * total / counted
    res["mi_cpu_not_counted"] = c_mi * (total / counted - 1)  # the projected rest, in CPU seconds
    res["mi_projected"] = bool(counted < total)
    res["mi_pairs_counted"] = counted
    res["mi_pairs_total"] = total
    return res, t


def read_convergent(out):
    s = json.loads((out / "summary.json").read_text())
    layer = s["layers"]["fc"]
    nets = s["nets"]
    pair = layer["pairs"][f"{nets[0]}~{nets[1]}"]
    files = layer["files"]

    def mat(a, b):
        key = f"{nets[a]}~{nets[b]}"
        return np.load(out / files[key]["mi"]), (np.load(out / files[key]["corr"]) if "corr" in files[key] else None)
    mi_ab, corr_ab = mat(0, 1)
    mi_aa, _ = mat(0, 0)
    mi_bb, _ = mat(1, 1)
    return {"corr_semi": np.asarray(pair["correlation"]["semi_matching"]),
            "corr_match": np.asarray(pair["correlation"]["matching"]),
            "mi_semi": np.asarray(pair["mutual_information"]["semi_matching"]),
            "mi_match": np.asarray(pair["mutual_information"]["matching"]),
            "corr_block": corr_ab, "mi": {"ab": mi_ab, "aa": mi_aa, "bb": mi_bb},
            "zero_fraction": [layer["mutual_information"]["zero_fraction"][k] for k in nets],
            "timings": s.get("timings", {}).get("layers", {}).get("fc", {})}


def convergent_mi_float64(bench, ca, cb, bins, work):
    """convergent's MI (float64, the CPU backend's kernel) of the units ca x cb
    through bench_mutual_information --mi: the .npy files hold float32."""
    work = Path(work)
    ca_path, cb_path, out = work / "check_a.u8", work / "check_b.u8", work / "check_mi.f64"
    np.ascontiguousarray(ca, dtype=np.uint8).tofile(ca_path)
    np.ascontiguousarray(cb, dtype=np.uint8).tofile(cb_path)
    subprocess.run([str(bench), "--mi", str(ca_path), str(cb_path), str(ca.shape[1]), str(ca.shape[0]),
                    str(cb.shape[0]), str(bins), str(out), "1"], check=True, capture_output=True)
    return np.fromfile(out, dtype=np.float64).reshape(ca.shape[0], cb.shape[0])


def check_agreement(ref, ours, bench, work):
    """Asserts the same answers; returns (max MI diff in float64, max
    correlation diff against the float32 file, the reference's MI-matching
    seconds). convergent's .npy matrices are float32: those are checked to
    float32 rounding, and the MI to 1e-9 through bench_mutual_information on
    the reference's codes (the binning is checked by the zero fractions and
    the float32 files)."""
    assert np.array_equal(ref["corr_semi"], ours["corr_semi"]), "correlation semi-matchings differ"
    assert np.array_equal(ref["corr_match"], ours["corr_match"]), "correlation matchings differ"
    corr_diff = float(np.abs(ref["corr_block"] - ours["corr_block"]).max())
    assert corr_diff <= 1e-6, f"correlation differs from the float32 file by {corr_diff:g}"
    for key, rows in ref["mi"].items():
        full = ours["mi"][key][:rows.shape[0]].astype(np.float64)
        mask = np.triu(np.ones(rows.shape, bool)) if key != "ab" else np.ones(rows.shape, bool)
        d = np.abs(rows - full)[mask]
        assert np.all(d <= 1.2e-7 * np.abs(rows[mask]) + 1e-12), f"MI {key} differs from the float32 file by {d.max():g}"
    codes = ref["codes"]
    k = ref["mi"]["ab"].shape[0]
    exact = convergent_mi_float64(bench, codes[0][:k], codes[1], ref["bins"], work)
    mi_diff = float(np.abs(exact - ref["mi"]["ab"]).max())
    assert mi_diff <= 1e-9, f"MI differs by {mi_diff:g}"
    # The MI matching: on the reference's own matrix when it counted every
    # pair, else on convergent's (its counted rows just agreed).
    mi_ab = ref["mi"]["ab"] if not ref["mi_projected"] else ours["mi"]["ab"]
    t0 = time.perf_counter()
    semi, matching = match(mi_ab)
    t_match = time.perf_counter() - t0
    assert np.array_equal(semi, ours["mi_semi"]), "MI semi-matchings differ"
    assert np.array_equal(matching, ours["mi_match"]), "MI matchings differ"
    zf = max(abs(a - b) for a, b in zip(ref["zero_fraction"], ours["zero_fraction"]))
    assert zf <= 1e-12, f"zero fractions differ by {zf:g}"
    return mi_diff, corr_diff, t_match


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_convergent(cli, dirs, out):
    """(wall seconds, CPU seconds: user + sys of all its threads)."""
    shutil.rmtree(out, ignore_errors=True)
    c0, t0 = children_cpu(), time.perf_counter()
    subprocess.run([cli, "compare", *map(str, dirs), "--out", str(out), "-q", "--timings", "--backend", "cpu",
                    *CONVERGENT_CORR_MI_FLAGS], check=True)
    return time.perf_counter() - t0, children_cpu() - c0


def choose_mode(codes_probe, bins):
    """dense or listed bincount, whichever takes less CPU time (robust on a
    shared machine) on 8 units x all of b, best of 3."""
    ca, cb = codes_probe
    best = None
    for mode in ("dense", "listed"):
        dt = math.inf
        for _ in range(3):  # best of 3: one probe on a loaded machine misleads
            t0 = time.process_time()
            mi_rows(ca, cb, bins, np.arange(min(8, ca.shape[0])), False, mode)
            dt = min(dt, time.process_time() - t0)
        if best is None or dt < best[1]:
            best = (mode, dt)
    return best[0]


def bench_case(cli, bench, units, samples, zeros, repeat, mi_fraction, work, seed=0, bins=21, mi_samples=60000):
    d = Path(work) / f"u{units}_n{samples}"
    shutil.rmtree(d, ignore_errors=True)
    shared = np.random.default_rng(7).standard_normal((samples, 16)).astype(np.float32)
    dirs = [d / "net1", d / "net2"]
    for k, p in enumerate(dirs):
        make_net(p, samples, units, k + 1, shared, zeros)
    del shared
    paths = [p / "fc.npy" for p in dirs]
    # Which bincount variant the reference uses: the faster on a probe.
    xs = [np.load(p, mmap_mode="r") for p in paths]
    rows = sample_rows(samples, mi_samples, seed)
    probe = [numpy_binning(np.asarray(x[rows[:20000]]), bins - 1)[0] for x in xs]
    mode = choose_mode(probe, bins)
    del xs, probe
    best_ours, best_ref, ours, ref, t_ref = math.inf, None, None, None, None
    cpu_ours, cpu_ref = math.inf, math.inf
    for _ in range(repeat):  # alternated, best of `repeat` each
        out = d / "out"
        w, cpu = run_convergent(cli, dirs, out)
        cpu_ours = min(cpu_ours, cpu)
        if w < best_ours:
            best_ours, ours = w, read_convergent(out)
        c0 = time.process_time()  # every thread of this process (OpenBLAS's too)
        r, stages = reference(paths, mi_samples, seed, bins, mi_fraction, mode)
        cpu = time.process_time() - c0
        cpu += r["mi_cpu_not_counted"]  # 0 unless the MI counting was projected
        mi_diff, corr_diff, t_match = check_agreement(r, read_convergent(out), bench, d)
        stages["mi_matching"] = t_match
        cpu_ref = min(cpu_ref, cpu + t_match)
        total = sum(stages.values())
        if best_ref is None or total < best_ref:
            best_ref, ref, t_ref = total, r, stages
    shutil.rmtree(d, ignore_errors=True)
    return {"units": units, "samples": samples, "zeros_target": zeros, "zero_fraction": ours["zero_fraction"],
            "convergent_s": best_ours, "reference_s": best_ref, "ratio": best_ref / best_ours,
            "convergent_cpu_s": cpu_ours, "reference_cpu_s": cpu_ref, "cpu_ratio": cpu_ref / cpu_ours,
            "reference_stages": t_ref, "convergent_stages": ours["timings"], "mi_mode": mode,
            "mi_projected": ref["mi_projected"], "mi_pairs_counted": ref["mi_pairs_counted"],
            "mi_pairs_total": ref["mi_pairs_total"], "max_mi_diff": mi_diff, "max_corr_diff": corr_diff,
            "repeat": repeat}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cli", default=str(ROOT / "build/cpu/cli/convergent"))
    ap.add_argument("--bench", default=None, help="bench_mutual_information (default: next to the CLI's build)")
    ap.add_argument("--case", action="append", default=None,
                    help="UNITSxSAMPLES (units per net), e.g. 1024x60000; repeatable (default: 1024x60000, 256x250000)")
    ap.add_argument("--zeros", type=float, default=0.5)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--mi-fraction", type=float, default=None,
                    help="share of units of a the reference counts MI for (default: all at <= 256 units, else 1/16)")
    ap.add_argument("--work", default=tempfile.gettempdir() + "/cvg_strong")
    ap.add_argument("--json")
    args = ap.parse_args()
    cases = args.case or ["1024x60000", "256x250000"]
    results = []
    for c in cases:
        units, samples = (int(v) for v in c.lower().split("x"))
        frac = args.mi_fraction if args.mi_fraction is not None else (1.0 if units <= 256 else 1 / 16)
        r = bench_case(args.cli, args.bench or Path(args.cli).parents[1] / "bench" / "bench_mutual_information", units, samples, args.zeros, args.repeat, frac, args.work)
        results.append(r)
        print(json.dumps({k: v for k, v in r.items() if k not in ("reference_stages", "convergent_stages")}),
              file=sys.stderr, flush=True)
    print("| units per net x samples | zero fraction (net1, net2) | strong numpy/scipy (s) | convergent (s) | ratio | "
          "CPU s numpy / convergent | CPU ratio | reference stages (s) | MI checked | max MI diff |")
    print("|---|---|---:|---:|---:|---:|---:|---|---|---:|")
    for r in results:
        st = ", ".join(f"{k} {v:.2f}" for k, v in r["reference_stages"].items())
        proj = (f"{r['mi_pairs_counted']:.0f} of {r['mi_pairs_total']:.0f} pairs counted, time projected"
                if r["mi_projected"] else "all pairs")
        print(f"| {r['units']} x {r['samples']} | {r['zero_fraction'][0]:.3f}, {r['zero_fraction'][1]:.3f} | "
              f"{r['reference_s']:.2f} | {r['convergent_s']:.2f} | {r['ratio']:.1f}x | "
              f"{r['reference_cpu_s']:.1f} / {r['convergent_cpu_s']:.1f} | {r['cpu_ratio']:.1f}x | "
              f"{st} ({r['mi_mode']} bincount) | "
              f"{proj} | {r['max_mi_diff']:.1e} |")
    print()
    print(f"Wall and CPU seconds (user + sys, all threads) each the best of {args.repeat}, alternated; matchings (semi and one-to-one, correlation and MI) identical, "
          "MI within 1e-9, zero fractions equal (asserted before the ratio is printed).")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
