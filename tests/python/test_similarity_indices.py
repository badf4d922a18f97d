"""Whole-layer similarity indices (step similarity_indices) against numpy
float64 references of the published formulas on the materialised data:

- linear CKA on centred n x n Gram matrices (Kornblith et al. 2019, eq. 3-5);
- debiased CKA from the unbiased HSIC on n x n kernels with zeroed diagonals
  (Song et al. 2012, eq. 5);
- CCA from QR factorisations of the centred data (singular values of Qx'Qy);
- SVCCA (Raghu et al. 2017): SVD of the centred data, keep 99% of the
  variance, then CCA of the reduced data;
- PWCCA as in Morcos et al.'s pwcca.py: orthonormal canonical variates h_i,
  alpha_i = sum_j |<h_i, x_j>|;
- Procrustes as netrep's LinearMetric (whiten(), zero padding, SVD of
  Xw'Yw, angular / Frobenius scores), on X / sqrt(N) (per sample).

The CLI streams float32 files in several chunks; the numpy references use the
same float32 values in float64; they must agree to 1e-9 relative. The C API
and the Python function compute the same indices in memory.
"""
import ctypes
import json
import math
import os

import numpy as np
import pytest

from conftest import run_cli

REL = 1e-9


# ---- numpy references ---------------------------------------------------------------------------

def centred(x):
    return x - x.mean(axis=0)


def live_columns(x):
    x = np.asarray(x, np.float64)
    sd = x.std(axis=0)
    dead = (sd == 0) | (sd <= 4 * np.finfo(np.float32).eps * np.abs(x.mean(axis=0)))
    return x[:, ~dead], int(dead.sum())


def cka_gram(x, y):
    n = len(x)
    h = np.eye(n) - 1.0 / n
    k = h @ (x @ x.T) @ h
    l = h @ (y @ y.T) @ h
    return float((k * l).sum() / math.sqrt((k * k).sum() * (l * l).sum()))


def hsic_unbiased(k, l):
    n = len(k)
    k = k.copy()
    l = l.copy()
    np.fill_diagonal(k, 0)
    np.fill_diagonal(l, 0)
    kl = k @ l
    return (np.trace(kl) + k.sum() * l.sum() / ((n - 1) * (n - 2)) - 2.0 / (n - 2) * kl.sum()) / (n * (n - 3))


def cka_debiased(x, y):
    k, l = x @ x.T, y @ y.T
    return float(hsic_unbiased(k, l) / math.sqrt(hsic_unbiased(k, k) * hsic_unbiased(l, l)))


def canonical(x, y):
    qx, _ = np.linalg.qr(centred(x))
    qy, _ = np.linalg.qr(centred(y))
    u, s, vt = np.linalg.svd(qx.T @ qy, full_matrices=False)
    return qx, qy, u, np.clip(s, 0, 1), vt


def svcca(x, y, keep=0.99):
    def reduce(z):
        z = centred(z)
        _, s, vt = np.linalg.svd(z, full_matrices=False)
        frac = np.cumsum(s ** 2) / (s ** 2).sum()
        k = int(np.searchsorted(frac, keep) + 1)
        return z @ vt[:k].T, k
    rx, kx = reduce(x)
    ry, ky = reduce(y)
    s = canonical(rx, ry)[3]
    return float(s.mean()), kx, ky


def pwcca(x, y):
    """Morcos et al. (2018), pwcca.py: weights from x's canonical variates."""
    qx, _, u, s, _ = canonical(x, y)
    h = qx @ u                          # orthonormal canonical variates of x
    alpha = np.abs(h.T @ centred(x)).sum(axis=1)
    return float((alpha / alpha.sum()) @ s)


def netrep_whiten(x, alpha, eigval_tol=1e-7):
    if alpha > 1 - eigval_tol:
        return x
    lam, v = np.linalg.eigh(x.T @ x)
    lam = np.maximum(lam, eigval_tol)
    d = alpha + (1 - alpha) * lam ** -0.5
    new_var = np.sum(alpha ** 2 * lam + 2 * alpha * (1 - alpha) * lam ** 0.5 + (1 - alpha) ** 2)
    d *= np.sqrt(lam.sum() / new_var)
    return x @ ((v * d) @ v.T)


def procrustes(x, y, alpha=1.0):
    """netrep LinearMetric(alpha, center_columns=True, zero_pad=True) on X / sqrt(N)."""
    n = len(x)
    xw = netrep_whiten(centred(x) / math.sqrt(n), alpha)
    yw = netrep_whiten(centred(y) / math.sqrt(n), alpha)
    m = max(xw.shape[1], yw.shape[1])
    xw = np.pad(xw, ((0, 0), (0, m - xw.shape[1])))
    yw = np.pad(yw, ((0, 0), (0, m - yw.shape[1])))
    u, _, vt = np.linalg.svd(xw.T @ yw)
    tx, ty = xw @ u, yw @ vt.T
    euclid = float(np.linalg.norm(tx - ty))
    angular = float(np.arccos(np.clip((tx * ty).sum() / (np.linalg.norm(tx) * np.linalg.norm(ty)), -1, 1)))
    return euclid, angular


def reference(x, y, keep=0.99, alpha=1.0):
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    lx, dead_x = live_columns(x)
    ly, dead_y = live_columns(y)
    s = canonical(lx, ly)[3]
    sv, kx, ky = svcca(lx, ly, keep)
    e, a = procrustes(lx, ly, alpha)
    return {"cka": cka_gram(centred(x), centred(y)), "cka_debiased": cka_debiased(centred(x), centred(y)),
            "cca": s, "cca_mean": float(s.mean()), "svcca_mean": sv, "svcca_dims": (kx, ky),
            "pwcca": pwcca(lx, ly), "pwcca_reverse": pwcca(ly, lx), "procrustes_euclidean": e,
            "procrustes_angular": a, "dead": (dead_x, dead_y)}


SCALARS = ("cka", "cka_debiased", "cca_mean", "svcca_mean", "pwcca", "pwcca_reverse",
           "procrustes_euclidean", "procrustes_angular")


def assert_matches(got, ref, names=SCALARS, rel=REL):
    for key in names:
        assert got[key] == pytest.approx(ref[key], rel=rel, abs=1e-12), key


# ---- data ------------------------------------------------------------------------------------------

def related(rng, n, p, q, noise=0.7):
    """Two nets of widths p and q sharing a rotated latent code."""
    latent = rng.normal(size=(n, min(p, q) + 2))
    x = latent @ rng.normal(size=(latent.shape[1], p)) + noise * rng.normal(size=(n, p))
    y = latent @ rng.normal(size=(latent.shape[1], q)) + noise * rng.normal(size=(n, q))
    return np.maximum(x, -0.5).astype(np.float32), (y + 0.2).astype(np.float32)


def run_compare(tmp_path, layers_a, layers_b, *extra):
    for name, layers in (("a", layers_a), ("b", layers_b)):
        (tmp_path / name).mkdir()
        for layer, values in layers.items():
            np.save(tmp_path / name / f"{layer}.npy", values)
    out = tmp_path / "out"
    run_cli("compare", tmp_path / "a", tmp_path / "b", "--out", out, "--no-mi", "--no-sparse", "--no-clusters",
            "--chunk-rows", "37", "--quiet", *extra)
    return json.loads((out / "summary.json").read_text())


def indices(summary, layer):
    got = dict(summary["layers"][layer]["pairs"]["a~b"]["similarity_indices"])
    got["svcca_dims"] = (got["svcca_dims"]["a"], got["svcca_dims"]["b"])
    got["dead"] = (got["dead_units_excluded"]["a"], got["dead_units_excluded"]["b"])
    return got


# ---- the CLI (streamed) against the references -----------------------------------------------------

def test_cli_equal_and_unequal_widths_conv_and_dead_units(tmp_path):
    rng = np.random.default_rng(5)
    fx, fy = related(rng, 300, 12, 7)
    ex, ey = related(rng, 300, 9, 9)
    dx, dy = related(rng, 300, 10, 8)
    dx[:, 3] = 0.0          # dead in a
    dy[:, 5] = 1.5          # dead (constant) in b
    cx, cy = related(rng, 24 * 9, 6, 5)   # conv: 24 images, 3 x 3 positions
    conv_a = cx.reshape(24, 3, 3, 6).transpose(0, 3, 1, 2).copy()
    conv_b = cy.reshape(24, 3, 3, 5).transpose(0, 3, 1, 2).copy()
    summary = run_compare(tmp_path, {"fc": fx, "eq": ex, "dead": dx, "conv": conv_a},
                          {"fc": fy, "eq": ey, "dead": dy, "conv": conv_b})
    for layer, x, y in (("fc", fx, fy), ("eq", ex, ey), ("dead", dx, dy), ("conv", cx, cy)):
        got, ref = indices(summary, layer), reference(x, y)
        assert_matches(got, ref)
        np.testing.assert_allclose(got["cca"], ref["cca"], rtol=REL, atol=1e-12)
        assert got["svcca_dims"] == ref["svcca_dims"]
        assert got["dead"] == ref["dead"]
        assert got["warnings"] == [] and got["ridge"] == {"a": 0.0, "b": 0.0}
        assert "cka_debiased_note" not in got
    assert indices(summary, "dead")["dead"] == (1, 1)
    assert summary["options"]["svcca_variance"] == 0.99


def test_cli_partial_whitening_and_svcca_variance(tmp_path):
    rng = np.random.default_rng(8)
    x, y = related(rng, 250, 8, 11)
    summary = run_compare(tmp_path, {"fc": x}, {"fc": y}, "--procrustes-alpha", "0.3", "--svcca-variance", "0.8")
    got, ref = indices(summary, "fc"), reference(x, y, keep=0.8, alpha=0.3)
    assert_matches(got, ref)
    assert got["svcca_dims"] == ref["svcca_dims"]
    assert got["procrustes_alpha"] == 0.3


def test_full_whitening_angle_is_the_canonical_correlations(convergent):
    # alpha = 0: both nets fully whitened, so the aligned inner product is the
    # sum of the canonical correlations and each norm^2 the width (up to the
    # variance-preserving scale, which the angle ignores).
    rng = np.random.default_rng(8)
    x, y = (a.astype(np.float64) for a in related(rng, 250, 8, 11))
    got = convergent.similarity_indices(x, y, procrustes_alpha=0.0)
    angle = math.acos(got["cca"].sum() / math.sqrt(8 * 11))
    assert got["procrustes_angular"] == pytest.approx(angle, rel=1e-9)
    assert got["procrustes_angular"] == pytest.approx(reference(x, y, alpha=0.0)["procrustes_angular"], rel=1e-9)


def test_cli_fewer_samples_than_units_gets_a_ridge_and_a_warning(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(30, 50)).astype(np.float32)
    y = (x[:, :40] @ rng.normal(size=(40, 40)) + rng.normal(size=(30, 40))).astype(np.float32)
    summary = run_compare(tmp_path, {"fc": x}, {"fc": y})
    got = indices(summary, "fc")
    for key in SCALARS:
        assert got[key] is not None and math.isfinite(got[key]), key
    assert got["ridge"]["a"] > 0 and got["ridge"]["b"] > 0
    assert len(got["warnings"]) == 2 and "rank-deficient (30 samples)" in got["warnings"][0]
    assert got["warnings"][0].startswith("net 'a':")
    assert all(0 <= c <= 1 for c in got["cca"])
    # CKA needs no inverse: still the Gram-matrix values.
    xf, yf = centred(x.astype(np.float64)), centred(y.astype(np.float64))
    assert got["cka"] == pytest.approx(cka_gram(xf, yf), rel=REL)
    assert got["cka_debiased"] == pytest.approx(cka_debiased(xf, yf), rel=REL)
    # CCA of the ridge-regularised covariances, ridge = 1e-6 x mean eigenvalue.
    def inv_sqrt(c):
        lam, v = np.linalg.eigh(c)
        lam = np.maximum(lam, 0) + 1e-6 * np.maximum(lam, 0).mean()
        return (v / np.sqrt(lam)) @ v.T
    n = len(x)
    sxx, syy, sxy = xf.T @ xf / n, yf.T @ yf / n, xf.T @ yf / n
    s = np.linalg.svd(inv_sqrt(sxx) @ sxy @ inv_sqrt(syy), compute_uv=False)
    np.testing.assert_allclose(got["cca"], np.clip(s, 0, 1), rtol=1e-7, atol=1e-9)


def test_debiased_cka_is_shift_invariant_and_streamed_without_cancellation(tmp_path):
    rng = np.random.default_rng(3)
    x, y = related(rng, 200, 6, 5)
    # The property, on the n x n kernels themselves.
    xf, yf = x.astype(np.float64), y.astype(np.float64)
    base = cka_debiased(centred(xf), centred(yf))
    assert cka_debiased(xf + 3.0, yf - 2.0) == pytest.approx(base, rel=1e-10)
    assert cka_debiased(xf, yf) == pytest.approx(base, rel=1e-10)
    # Streamed around the first chunk's mean: a large offset (exact in float32
    # for these values' spacing) leaves the result at the centred reference.
    shifted_x = (x + np.float32(4096)).astype(np.float32)
    shifted_y = (y - np.float32(2048)).astype(np.float32)
    summary = run_compare(tmp_path, {"fc": shifted_x}, {"fc": shifted_y})
    got = indices(summary, "fc")
    ref = cka_debiased(centred(shifted_x.astype(np.float64)), centred(shifted_y.astype(np.float64)))
    assert got["cka_debiased"] == pytest.approx(ref, rel=REL)
    assert got["cka"] == pytest.approx(cka_gram(centred(shifted_x.astype(np.float64)),
                                                centred(shifted_y.astype(np.float64))), rel=REL)


def test_no_similarity_indices_switches_the_step_off(tmp_path):
    rng = np.random.default_rng(1)
    x, y = related(rng, 50, 4, 4)
    summary = run_compare(tmp_path, {"fc": x}, {"fc": y}, "--no-similarity-indices")
    assert "similarity_indices" not in summary["layers"]["fc"]["pairs"]["a~b"]
    assert summary["options"]["similarity_indices"] is False


# ---- in memory: the Python function and the C API ---------------------------------------------------

def test_python_function_equals_the_stream_and_the_references(tmp_path, convergent):
    rng = np.random.default_rng(9)
    x, y = related(rng, 180, 10, 6)
    x[:, 2] = 0.0
    summary = run_compare(tmp_path, {"fc": x}, {"fc": y})
    streamed = indices(summary, "fc")
    memory = convergent.similarity_indices(x.astype(np.float64), y.astype(np.float64))
    assert memory["dead_units_excluded"] == (1, 0)
    assert memory["svcca_dims"] == streamed["svcca_dims"]
    for key in SCALARS:
        assert memory[key] == pytest.approx(streamed[key], rel=REL, abs=1e-12), key
    assert_matches(memory, reference(x, y))
    # A conv layer (N, C, H, W) is one sample per position, like the CLI.
    conv = rng.normal(size=(8, 3, 2, 2))
    conv_y = conv[:, ::-1] + 0.5 * rng.normal(size=conv.shape)
    got = convergent.similarity_indices(conv, conv_y)
    flat = lambda a: a.transpose(0, 2, 3, 1).reshape(-1, a.shape[1])
    assert got["samples"] == 32
    assert_matches(got, reference(flat(conv), flat(conv_y)))
    with pytest.raises(convergent.ConvergentError, match="same inputs"):
        convergent.similarity_indices(x, y[:10])


class SimilarityResult(ctypes.Structure):
    _fields_ = [(name, ctypes.c_int64) for name in
                ("units_a", "units_b", "samples", "dead_a", "dead_b", "svcca_dims_a", "svcca_dims_b", "warnings")] + \
               [(name, ctypes.c_double) for name in
                ("cka", "cka_debiased", "cca_mean", "svcca_mean", "pwcca", "pwcca_reverse", "pwcca_symmetric",
                 "procrustes_euclidean", "procrustes_angular", "ridge_a", "ridge_b")]


def test_c_api_from_covariances_and_from_data():
    if "CONVERGENT_LIBRARY" not in os.environ:
        pytest.skip("CONVERGENT_LIBRARY is not set (run through ctest)")
    lib = ctypes.CDLL(os.environ["CONVERGENT_LIBRARY"])
    dp = ctypes.POINTER(ctypes.c_double)
    i64, i32 = ctypes.c_int64, ctypes.c_int32
    lib.cvg_similarity_indices.argtypes = [ctypes.POINTER(SimilarityResult), dp, i64, dp, i64, dp, i64, i32, i64,
                                           i64, i64, ctypes.c_void_p, dp]
    lib.cvg_similarity_indices_data.argtypes = [ctypes.POINTER(SimilarityResult), dp, i64, dp, i64, i32, i64, i64,
                                                i64, ctypes.c_void_p, dp]
    lib.cvg_last_error.restype = ctypes.c_char_p
    ptr = lambda a: a.ctypes.data_as(dp)
    rng = np.random.default_rng(4)
    x, y = (a.astype(np.float64) for a in related(rng, 150, 9, 5))
    ref = reference(x, y)
    n = len(x)
    xc, yc = centred(x), centred(y)
    sxx, syy, sxy = xc.T @ xc / n, yc.T @ yc / n, xc.T @ yc / n
    out, cca = SimilarityResult(), np.zeros(5)
    assert lib.cvg_similarity_indices(ctypes.byref(out), ptr(sxx), 9, ptr(syy), 5, ptr(sxy), 5, 0, 9, 5, n,
                                      None, ptr(cca)) == 0, lib.cvg_last_error()
    got = {name: getattr(out, name) for name, _ in SimilarityResult._fields_}
    assert_matches(got, ref, [k for k in SCALARS if k != "cka_debiased"])
    assert math.isnan(got["cka_debiased"])  # needs per-sample terms
    np.testing.assert_allclose(cca, ref["cca"], rtol=REL)
    # Column-major blocks (Fortran order) give the same.
    out2 = SimilarityResult()
    assert lib.cvg_similarity_indices(ctypes.byref(out2), ptr(np.asfortranarray(sxx)), 9,
                                      ptr(np.asfortranarray(syy)), 5, ptr(np.asfortranarray(sxy)), 9, 1, 9, 5, n,
                                      None, None) == 0
    assert out2.cca_mean == pytest.approx(out.cca_mean, rel=1e-14)
    assert lib.cvg_similarity_indices_data(ctypes.byref(out), ptr(np.ascontiguousarray(x)), 9,
                                           ptr(np.ascontiguousarray(y)), 5, 0, n, 9, 5, None, None) == 0
    got = {name: getattr(out, name) for name, _ in SimilarityResult._fields_}
    assert_matches(got, ref)
    # Errors: NULL out, a too small leading dimension, NaN.
    assert lib.cvg_similarity_indices(None, ptr(sxx), 9, ptr(syy), 5, ptr(sxy), 5, 0, 9, 5, n, None, None) == -1
    assert lib.cvg_similarity_indices(ctypes.byref(out), ptr(sxx), 8, ptr(syy), 5, ptr(sxy), 5, 0, 9, 5, n,
                                      None, None) == -1
    assert b"leading dimension" in lib.cvg_last_error()
    bad = sxx.copy()
    bad[1, 1] = np.nan
    assert lib.cvg_similarity_indices(ctypes.byref(out), ptr(bad), 9, ptr(syy), 5, ptr(sxy), 5, 0, 9, 5, n,
                                      None, None) < 0


def test_session_batches_gather_the_per_sample_terms(tmp_path, convergent):
    """Host batches pushed to a Session (unknown input count, uneven batches)
    give the same indices as the references: the per-sample sums span batches."""
    rng = np.random.default_rng(12)
    x, y = related(rng, 210, 7, 5)
    x = x + np.float32(300)   # far from zero: the reference point is the first chunk's mean
    session = convergent._core.Session(["a", "b"], {"chunk_rows": 16, "mutual_information": False,
                                                    "sparse_prediction": False, "clustering": False}, 0)
    for first, last in ((0, 50), (50, 51), (51, 210)):
        session.push(0, "fc", np.ascontiguousarray(x[first:last]))
        session.push(1, "fc", np.ascontiguousarray(y[first:last]))
    text, _ = session.finish()
    got = indices(json.loads(text), "fc")
    assert_matches(got, reference(x, y))
