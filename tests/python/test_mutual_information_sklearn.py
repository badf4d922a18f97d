"""Sec. 3.2 / footnote 6 against independent oracles.

- Binning: an independent numpy implementation (binning_reference.py) of the rule documented in
  libcore/include/convergent/mutual_information.hpp (zero bin for v <= 1e-6,
  numpy.quantile(method="linear") edges at k/bins over the remaining values,
  right-closed bins via searchsorted(side="left")).
- MI: sklearn.metrics.mutual_info_score on the same bin codes (nats), 1e-9.
- Counts: numpy bincount of the paired codes.

The C++ side is bench_mutual_information (raw binary files; see its header).
"""
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import mutual_info_score

from binning_reference import numpy_binning

SOURCE_DIR = Path(os.environ.get("CONVERGENT_SOURCE_DIR", Path(__file__).resolve().parents[2]))
BUILD_DIR = Path(os.environ.get("CONVERGENT_BUILD_DIR", SOURCE_DIR / "build" / "cpu"))
BENCH = BUILD_DIR / "bench" / "bench_mutual_information"


def bench_configured_off():
    """Whether the build directory was configured with -DCONVERGENT_BENCH=OFF."""
    cache = BUILD_DIR / "CMakeCache.txt"
    if not cache.is_file():
        return False
    for line in cache.read_text(errors="replace").splitlines():
        if line.startswith("CONVERGENT_BENCH:"):
            return line.split("=", 1)[1].strip().upper() in ("OFF", "0", "FALSE", "NO", "N")
    return False


def run_bench(*args):
    if not BENCH.exists():
        if "CONVERGENT_BUILD_DIR" not in os.environ:
            pytest.skip(f"{BENCH} is not built and CONVERGENT_BUILD_DIR is not set (run through ctest)")
        if bench_configured_off():
            pytest.skip(f"bench_mutual_information is not built: {BUILD_DIR} is configured with -DCONVERGENT_BENCH=OFF")
        pytest.fail(f"bench_mutual_information not built at {BENCH} (CONVERGENT_BENCH is on: build it)")
    proc = subprocess.run([str(BENCH), *map(str, args)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{BENCH} {args} failed:\n{proc.stderr}"
    return proc.stdout


def activations(samples, seed):
    """ReLU-like units plus the awkward cases: all-zero, constant, few distinct
    values, many ties exactly at quantile positions, tiny values around 1e-6."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((samples, 4))
    cols = [
        np.maximum(z[:, 0], 0),                          # ReLU, half zeros
        np.maximum(0.8 * z[:, 0] + 0.6 * z[:, 1], 0),     # correlated with 0
        np.exp(z[:, 2]),                                  # no zeros
        np.zeros(samples),                                # dead unit
        np.full(samples, 3.25),                           # constant
        rng.integers(0, 4, samples).astype(np.float64),   # 3 positive values: ties
        np.round(np.maximum(z[:, 3], 0) * 4) / 4,         # heavy ties
        rng.choice([0.0, 5e-7, 1e-6, 2e-6, 1.0], samples),  # around the zero threshold
        np.maximum(z[:, 1], 0) ** 2,
    ]
    return np.stack(cols, axis=1).astype(np.float32)


@pytest.mark.parametrize("samples,bins", [(6000, 20), (777, 7)])
def test_binning_and_within_net_mi(tmp_path, samples, bins):
    values = activations(samples, seed=samples)
    units = values.shape[1]
    values.tofile(tmp_path / "values.f32")
    run_bench("--compute", tmp_path / "values.f32", samples, units, tmp_path / "out", bins)
    codes = np.fromfile(tmp_path / "out.codes.u8", dtype=np.uint8).reshape(units, samples)
    edges = np.fromfile(tmp_path / "out.edges.f64", dtype=np.float64).reshape(units, bins - 1)
    mi = np.fromfile(tmp_path / "out.mi.f64", dtype=np.float64).reshape(units, units)

    ref_codes, ref_edges = numpy_binning(values, bins)
    np.testing.assert_array_equal(np.isnan(edges), np.isnan(ref_edges))
    np.testing.assert_array_equal(edges[~np.isnan(edges)], ref_edges[~np.isnan(ref_edges)])
    np.testing.assert_array_equal(codes, ref_codes)
    # Degenerate units behave as documented.
    assert (codes[3] == 0).all()
    assert (codes[4] == 1).all()
    assert codes.max() <= bins

    for i in range(units):
        for j in range(units):
            assert mi[i, j] == pytest.approx(mutual_info_score(codes[i], codes[j]), abs=1e-9), (i, j)
    np.testing.assert_array_equal(mi, mi.T)
    assert mi[0, 1] > 0.3  # the correlated pair is found


def test_between_net_mi_and_counts(tmp_path):
    rng = np.random.default_rng(11)
    samples, bins, ua, ub = 3001, 21, 11, 6
    a = rng.integers(0, bins, (ua, samples), dtype=np.uint8)
    b = rng.integers(0, bins, (ub, samples), dtype=np.uint8)
    b[0] = a[4] // 3           # a function of a4
    b[1] = np.where(rng.random(samples) < 0.5, a[2], b[1])
    a.tofile(tmp_path / "a.u8")
    b.tofile(tmp_path / "b.u8")
    run_bench("--mi", tmp_path / "a.u8", tmp_path / "b.u8", samples, ua, ub, bins, tmp_path / "mi.f64")
    mi = np.fromfile(tmp_path / "mi.f64", dtype=np.float64).reshape(ua, ub)
    ref = np.array([[mutual_info_score(a[i], b[j]) for j in range(ub)] for i in range(ua)])
    np.testing.assert_allclose(mi, ref, rtol=0, atol=1e-9)
    assert mi[4, 0] == pytest.approx(mutual_info_score(b[0], b[0]), abs=1e-9)  # = H(b0)

    run_bench("--counts", tmp_path / "a.u8", tmp_path / "b.u8", samples, ua, ub, bins, tmp_path / "c.i32")
    counts = np.fromfile(tmp_path / "c.i32", dtype=np.int32).reshape(ua, ub, bins, bins)
    for i in range(ua):
        for j in range(ub):
            ref_counts = np.bincount(a[i].astype(np.int64) * bins + b[j], minlength=bins * bins)
            np.testing.assert_array_equal(counts[i, j].ravel(), ref_counts)
