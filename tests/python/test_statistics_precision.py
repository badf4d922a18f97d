"""--statistics-precision float32 (issue 13: float32 products on centred
chunks, float64 merges) against numpy float64 on the same float32 inputs:
every correlation within 1e-6, on data chosen to be hard for float32
products: large common offsets (centring matters), near-duplicate units
(correlation close to 1), units of very different scales, several chunks
with drifting means, conv layers (NCHW reordering), and more than one
256-row slice per chunk. (The documented worst case, long runs of identical
values, is held to its own bound in tests/test_statistics.cpp.)"""
import json

import numpy as np
import pytest

from conftest import run_cli

STATISTICS_ONLY = ["--no-matching", "--no-mi", "--no-sparse", "--no-clusters", "--no-mean-activation",
                   "--quiet", "--backend", "cpu"]


def numpy_correlation(xs):
    x = np.concatenate([samples(a) for a in xs], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nan_to_num(np.corrcoef(x, rowvar=False)), x.mean(0), x.std(0)


def samples(a):
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 4:
        n, c, h, w = a.shape
        a = a.transpose(0, 2, 3, 1).reshape(n * h * w, c)
    return a


def hard_nets(rng, n, c, shape=()):
    latent = rng.normal(size=(n, c, *shape))
    scale = np.logspace(-2, 3, c).reshape(1, c, *([1] * len(shape)))
    drift = np.linspace(0, 5, n).reshape(n, *([1] * (len(shape) + 1)))
    a = 1000.0 + scale * latent + drift
    b = a.copy()
    b[:, : c // 2] += 1e-3 * scale[:, : c // 2] * rng.normal(size=b[:, : c // 2].shape)  # near-duplicates
    b[:, c // 2:] = 50.0 + scale[:, c // 2:] * rng.normal(size=b[:, c // 2:].shape) + 0.5 * latent[:, c // 2:]
    return a.astype(np.float32), b.astype(np.float32)


def compare(tmp_path, a, b, precision, extra=()):
    for name, x in (("a", a), ("b", b)):
        d = tmp_path / name
        d.mkdir(exist_ok=True)
        np.save(d / "layer.npy", x)
    out = tmp_path / f"out_{precision}"
    run_cli("compare", tmp_path / "a", tmp_path / "b", "--out", out, "--statistics-precision", precision,
            *STATISTICS_ONLY, *extra)
    corr = {k: np.load(out / "layer" / f"{k}.corr.npy").astype(np.float64) for k in ("a~a", "a~b", "b~b")}
    summary = json.loads((out / "summary.json").read_text())
    return corr, summary


def relu_nets(rng, n, c):
    """ReLU activations (about half exact zeros, shared latent features):
    what convergent is fed most."""
    latent = rng.normal(size=(n, c))
    a = np.maximum(latent + 0.3 * rng.normal(size=(n, c)), 0)
    b = np.maximum(latent[:, rng.permutation(c)] + 0.3 * rng.normal(size=(n, c)), 0)
    return a.astype(np.float32), b.astype(np.float32)


@pytest.mark.parametrize("case", ["dense_multichunk", "conv", "small_chunks", "relu"])
def test_float32_products_equal_numpy_float64(tmp_path, case):
    rng = np.random.default_rng(7)
    extra = ()
    if case == "dense_multichunk":
        a, b = hard_nets(rng, 20000, 48)            # 5 chunks of 4,096 rows, 4 slices each
    elif case == "conv":
        a, b = hard_nets(rng, 300, 16, (6, 5))      # 9,000 samples in NCHW order
    elif case == "relu":
        a, b = relu_nets(rng, 30000, 64)
    else:
        a, b = hard_nets(rng, 5000, 24)
        extra = ("--chunk-rows", "700")             # chunks shorter than a slice, means drifting between them
    ref, mean, std = numpy_correlation([a, b])
    c = a.shape[1]
    corr, summary = compare(tmp_path, a, b, "float32", extra)
    assert summary["options"]["statistics_precision"] == "float32"
    for key, block in (("a~a", ref[:c, :c]), ("a~b", ref[:c, c:]), ("b~b", ref[c:, c:])):
        err = np.abs(corr[key] - block).max()
        print(f"{case} {key}: {err:.2e}")
        assert err <= 1e-6, f"{case} {key}: max |float32 - numpy float64| = {err:.2e}"
    if case != "relu":  # the near-duplicate units really are near 1 (the hard part is resolved)
        assert np.diag(ref[:c, c:])[: c // 2].min() > 0.999
    # float64 products stay at the float32 output's resolution.
    corr64, summary64 = compare(tmp_path, a, b, "float64", extra)
    assert summary64["options"]["statistics_precision"] == "float64"
    assert np.abs(corr64["a~b"] - ref[:c, c:]).max() <= 1e-7


def test_float32_products_reject_bad_choice(tmp_path):
    rng = np.random.default_rng(1)
    a, b = hard_nets(rng, 100, 4)
    for name, x in (("a", a), ("b", b)):
        (tmp_path / name).mkdir()
        np.save(tmp_path / name / "layer.npy", x)
    proc = run_cli("compare", tmp_path / "a", tmp_path / "b", "--out", tmp_path / "out",
                   "--statistics-precision", "float16", *STATISTICS_ONLY, check=False)
    assert proc.returncode != 0
    assert "statistics" in proc.stderr and "float16" in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists()
