"""Eigensolve (k smallest eigenpairs, LAPACK dsyevr range I) vs numpy/scipy,
and the spectral clustering output vs an independent numpy recomputation of
the graph, the Laplacian spectrum and the Sec. 6.6 similarities."""
import json
import os
import subprocess
import tempfile

import numpy as np
import pytest
import scipy.linalg

from conftest import bench_many_to_many_path


def eigs_ours(a, k, backend="cpu"):
    n = a.shape[0]
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = os.path.join(tmp, "a.f64"), os.path.join(tmp, "out.f64")
        np.ascontiguousarray(a, dtype=np.float64).tofile(src)
        subprocess.run([bench_many_to_many_path(), "--eigs", src, str(n), str(k), dst, backend], check=True,
                       capture_output=True)
        out = np.fromfile(dst, dtype=np.float64)
    return out[:k], out[k:].reshape(k, n).T  # vectors column-major n x k


def laplacian_of_random_graph(n, seed, tau=0.2):
    rng = np.random.default_rng(seed)
    f = rng.standard_normal((n, 6))
    c = np.corrcoef(f @ rng.standard_normal((6, 400)) + rng.standard_normal((n, 400)))
    w = np.where(c >= tau, c, 0.0)
    np.fill_diagonal(w, 0.0)
    return np.diag(w.sum(axis=1)) - w


@pytest.mark.parametrize("n,k", [(60, 5), (200, 20), (301, 301)])
def test_eigensolve_matches_numpy_and_scipy(n, k):
    lap = laplacian_of_random_graph(n, n)
    values, vectors = eigs_ours(lap, k)
    full = np.linalg.eigh(lap)[0][:k]
    sub_values, sub_vectors = scipy.linalg.eigh(lap, subset_by_index=[0, k - 1])
    np.testing.assert_allclose(values, full, atol=1e-9, rtol=0)
    np.testing.assert_allclose(values, sub_values, atol=1e-9, rtol=0)
    # Eigenvectors: orthonormal, residual small, same as scipy's up to sign
    # (the spectrum of these graphs has no repeated eigenvalues except 0's).
    np.testing.assert_allclose(vectors.T @ vectors, np.eye(k), atol=1e-10)
    assert np.max(np.abs(lap @ vectors - vectors * values)) < 1e-9
    gaps = np.diff(sub_values)
    for j in range(k):
        separated = (j == 0 or gaps[j - 1] > 1e-6) and (j == k - 1 or gaps[j] > 1e-6)
        if separated:
            assert abs(abs(vectors[:, j] @ sub_vectors[:, j]) - 1.0) < 1e-8, j


def test_clustering_matches_numpy_recomputation():
    rng = np.random.default_rng(4)
    n, ua, ub = 3000, 40, 40
    z = rng.standard_normal((n, 8))
    mix = lambda u: (rng.random((8, u)) < 0.25) * rng.uniform(0.5, 1.5, (8, u))
    data = np.hstack([z @ mix(ua) + rng.standard_normal((n, ua)),
                      z @ mix(ub) + rng.standard_normal((n, ub))]).astype(np.float32).astype(np.float64)
    k, tau, alpha = 8, 0.2, 0.05
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = os.path.join(tmp, "d.f64"), os.path.join(tmp, "c.json")
        data.tofile(src)
        subprocess.run([bench_many_to_many_path(), "--cluster", src, str(n), str(ua), str(ub), str(k), dst,
                        repr(tau), repr(alpha), "7"], check=True, capture_output=True)
        with open(dst) as f:
            res = json.load(f)
    c = np.corrcoef(data, rowvar=False)
    w = np.where(c >= tau, c, 0.0)
    np.fill_diagonal(w, 0.0)
    lap = np.diag(w.sum(axis=1)) - w
    m = len(res["eigenvalues"])
    ref = scipy.linalg.eigh(lap, subset_by_index=[0, m - 1], eigvals_only=True)
    np.testing.assert_allclose(res["eigenvalues"], ref, atol=1e-9, rtol=0)
    assert res["k"] == k
    gaps = np.diff(ref)
    assert res["k_eigengap"] == 2 + int(np.argmax(gaps[1:]))
    # Similarities (Sec. 6.6) and the tree.
    bound = 2 * alpha * (ua + ub) / 2
    leaves = [cl for cl in res["clusters"] if cl["leaf"]]
    covered = sorted(sum(([p for p in cl["members"]["a"]] + [ua + q for q in cl["members"]["b"]]
                          for cl in leaves), []))
    assert covered == list(range(ua + ub))
    assert sorted(res["permutation"]) == list(range(ua + ub))
    for cl in res["clusters"]:
        a = np.array(cl["members"]["a"], dtype=int)
        b = ua + np.array(cl["members"]["b"], dtype=int)
        between = c[np.ix_(a, b)].mean() if len(a) and len(b) else 0.0
        within = [c[np.ix_(s, s)][~np.eye(len(s), dtype=bool)].mean() for s in (a, b) if len(s) > 1]
        assert abs(cl["between_net_similarity"] - between) < 1e-9
        assert abs(cl["within_net_similarity"] - (np.mean(within) if within else 0.0)) < 1e-9
        if cl["leaf"]:
            assert len(a) + len(b) <= max(bound, 2)
    sims = [res["clusters"][i]["between_net_similarity"] for i in res["leaves_by_similarity"]]
    assert sims == res["sorted_between_net_similarity"]
    assert all(x >= y for x, y in zip(sims, sims[1:]))
