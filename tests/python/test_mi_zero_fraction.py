"""Sec. 3.2: the zero-bin fraction in summary.json, and exact joint counts at
every zero fraction, against numpy.

- summary.json layers.<layer>.mutual_information.zero_fraction.<net>: the
  share of the net's sampled activations <= 1e-6 (all units together), equal
  to numpy's on the same data (every row is sampled: rows <= mi_samples).
- Joint counts of the CPU backend's kernels: the default choice, the listed
  kernel alone (CONVERGENT_MI_PAIRS_MAX=0), with and without its three-way
  tables everywhere (CONVERGENT_MI_TRIPLES=1 / 0), the pair-sparse one
  everywhere (CONVERGENT_MI_PAIRS_MAX=1) and the dense one
  (CONVERGENT_MI_LISTED_MAX=0),
  each equal to a numpy bincount over the combined codes u_code * bins +
  v_code, at 0..100% zeros, with ties, all-zero units and modes other than
  bin 0.
"""
import json
import os
import subprocess

import numpy as np
import pytest

from conftest import BUILD_DIR, run_cli
from test_mutual_information_sklearn import BENCH, run_bench


def relu_net(rng, rows, shape, zero_fraction, dead=()):
    """Activations whose share of values <= 1e-6 is about zero_fraction:
    shifted ReLU of a normal, with some exact ties and dead (all-zero) units."""
    x = rng.standard_normal((rows, *shape))
    shift = np.quantile(x, zero_fraction) if zero_fraction > 0 else x.min() - 1.0
    a = np.maximum(x - shift, 0).astype(np.float32)
    a[: rows // 5] = np.round(a[: rows // 5], 1)  # ties
    for d in dead:
        a[:, d] = 0
    return a


def test_zero_fraction_in_summary_matches_numpy(tmp_path):
    rng = np.random.default_rng(3)
    layers = {"conv1": ((6, 3, 3), (0.3, 0.7)), "fc2": ((10,), (0.5, 0.9))}
    nets = [{}, {}]
    for name, (shape, fractions) in layers.items():
        for k in range(2):
            nets[k][name] = relu_net(rng, 400, shape, fractions[k], dead=(2,) if k == 1 else ())
    paths = []
    for k, arrays in enumerate(nets):
        p = tmp_path / f"net{k + 1}.npz"
        np.savez(p, **arrays)
        paths.append(p)
    out = tmp_path / "out"
    run_cli("compare", *paths, "--out", out, "-q", "--no-sparse", "--no-clusters", "--no-mean-activation",
            "--no-similarity-indices", "--no-top-patches")
    summary = json.loads((out / "summary.json").read_text())
    for name, (shape, fractions) in layers.items():
        mi = summary["layers"][name]["mutual_information"]
        for k in range(2):
            x = nets[k][name]
            if x.ndim == 4:  # conv: every (image, position) is a sample
                x = x.transpose(0, 2, 3, 1).reshape(-1, x.shape[1])
            assert mi["samples"] == x.shape[0]  # all rows (fewer than mi_samples)
            expected = float(np.mean(x.astype(np.float64) <= 1e-6))
            got = mi["zero_fraction"][f"net{k + 1}"]
            assert got == pytest.approx(expected, abs=1e-12), (name, k)
            assert abs(got - fractions[k]) < 0.1  # and the data is what it claims
        assert mi["bins"] == 21


def test_python_result_reads_the_zero_fraction(tmp_path, convergent):
    rng = np.random.default_rng(4)
    x, y = relu_net(rng, 300, (5,), 0.4), relu_net(rng, 300, (4,), 0.8)
    np.savez(tmp_path / "a.npz", fc=x)
    np.savez(tmp_path / "b.npz", fc=y)
    run_cli("compare", tmp_path / "a.npz", tmp_path / "b.npz", "--out", tmp_path / "out", "-q", "--no-sparse",
            "--no-clusters", "--no-mean-activation", "--no-similarity-indices", "--no-top-patches")
    layer = convergent.load(tmp_path / "out")["fc"]
    assert layer.mi_zero_fraction("a") == pytest.approx(float(np.mean(x <= 1e-6)), abs=1e-12)
    assert layer.mi_zero_fraction("b") == pytest.approx(float(np.mean(y <= 1e-6)), abs=1e-12)
    with pytest.raises(KeyError):
        layer.mi_zero_fraction("c")


def codes_with_zeros(rng, units, samples, bins, zero):
    """Unit-major uint8 codes: share `zero` in bin 0, the rest uniform over
    1..bins-1 or (every third unit) two bins only; unit 0 all zero, unit 1
    constant in bin 4 (a mode other than 0, nothing outside it)."""
    codes = rng.integers(1, bins, size=(units, samples), dtype=np.uint8)
    for u in range(2, units, 3):
        pair = rng.integers(1, bins, size=2).astype(np.uint8)
        codes[u] = pair[rng.integers(0, 2, size=samples)]
    zeros = int(round(zero * samples))
    for u in range(units):
        codes[u, rng.permutation(samples)[:zeros]] = 0
    codes[0] = 0
    codes[1] = 4
    return codes


def numpy_counts(ca, cb, bins):
    """Joint counts by np.bincount over combined codes, one pair at a time."""
    out = np.zeros((ca.shape[0], cb.shape[0], bins, bins), np.int64)
    for i in range(ca.shape[0]):
        x = ca[i].astype(np.int64) * bins
        for j in range(cb.shape[0]):
            out[i, j] = np.bincount(x + cb[j], minlength=bins * bins).reshape(bins, bins)
    return out


@pytest.mark.parametrize("zero", [0.0, 0.3, 0.5, 0.7, 0.9, 1.0])
def test_listed_and_dense_counts_equal_numpy_bincount(tmp_path, zero):
    if not BENCH.exists() and "CONVERGENT_BUILD_DIR" not in os.environ:
        pytest.skip(f"{BENCH} is not built (run through ctest)")
    rng = np.random.default_rng(int(zero * 100) + 1)
    bins, samples, ua, ub = 21, 3001, 11, 9
    ca = codes_with_zeros(rng, ua, samples, bins, zero)
    cb = codes_with_zeros(rng, ub, samples, bins, zero)
    (tmp_path / "a.u8").write_bytes(ca.tobytes())
    (tmp_path / "b.u8").write_bytes(cb.tobytes())
    expected = numpy_counts(ca, cb, bins)
    kernels = {"default": {}, "listed": {"CONVERGENT_MI_PAIRS_MAX": "0"}, "pairs": {"CONVERGENT_MI_PAIRS_MAX": "1"},
               "dense": {"CONVERGENT_MI_LISTED_MAX": "0"},
               "triples": {"CONVERGENT_MI_PAIRS_MAX": "0", "CONVERGENT_MI_TRIPLES": "1"},
               "single": {"CONVERGENT_MI_PAIRS_MAX": "0", "CONVERGENT_MI_TRIPLES": "0"}}
    for listed_max, settings in kernels.items():
        out = tmp_path / f"counts_{listed_max}.i32"
        env = dict(os.environ, **settings)
        args = [BENCH, "--counts", tmp_path / "a.u8", tmp_path / "b.u8", samples, ua, ub, bins, out]
        proc = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=600, env=env)
        if proc.returncode != 0 and not BENCH.exists():
            run_bench()  # skips or fails with the reason
        assert proc.returncode == 0, proc.stderr
        got = np.fromfile(out, dtype=np.int32).reshape(ua, ub, bins, bins)
        np.testing.assert_array_equal(got, expected, err_msg=f"{listed_max} kernel ({settings}), zeros {zero}")
    # The all-zero unit's table is its marginal in row 0.
    assert expected[0, 1, 0, 4] == samples


def test_zero_fraction_on_sampled_rows(tmp_path):
    """More rows than mi_samples: the fraction is over the seeded row sample,
    here recomputed with bench/strong_reference.py's re-implementation of the
    documented sample (std::mt19937_64(seed), Floyd's algorithm)."""
    import sys
    from conftest import SOURCE_DIR
    sys.path.insert(0, str(SOURCE_DIR / "bench"))
    from strong_reference import sample_rows

    rng = np.random.default_rng(5)
    rows, samples = 9000, 4000
    x = relu_net(rng, rows, (6,), 0.6)
    x[rows // 2:, 0] = 0  # zeros concentrated in half the rows: the sample matters
    p = tmp_path / "a.npz"
    np.savez(p, fc=x)
    q = tmp_path / "b.npz"
    np.savez(q, fc=relu_net(rng, rows, (5,), 0.2))
    out = tmp_path / "out"
    run_cli("compare", p, q, "--out", out, "-q", "--mi-samples", samples, "--seed", 7, "--no-sparse",
            "--no-clusters", "--no-mean-activation", "--no-similarity-indices", "--no-top-patches")
    mi = json.loads((out / "summary.json").read_text())["layers"]["fc"]["mutual_information"]
    picked = sample_rows(rows, samples, 7)
    assert len(picked) == samples == mi["samples"]
    assert mi["zero_fraction"]["a"] == pytest.approx(float(np.mean(x[picked] <= 1e-6)), abs=1e-12)
    # a different sample would (almost surely) give a different fraction
    other = sample_rows(rows, samples, 8)
    assert float(np.mean(x[other] <= 1e-6)) != float(np.mean(x[picked] <= 1e-6))
