"""Sparse prediction (lasso on sufficient statistics) vs sklearn.linear_model.Lasso.

The C++ solver works on correlations only; sklearn fits the same objective on
the standardised data itself (population std, numpy .std()). The data is
rounded to float32 first, as convergent reads activations in float32.
"""
import os
import subprocess
import tempfile

import numpy as np
import pytest
from sklearn.linear_model import Lasso

from conftest import bench_many_to_many_path

ALPHAS = [0.3, 0.1, 0.05, 0.02, 0.005]


def activations(n, ua, ub, seed):
    """ReLU activations of two 'nets' reading the same latent factors with
    different (partly shared, partly unique) mixings: correlated, non-negative,
    with a constant (dead) unit in each net."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, 12))
    def net(units):
        mix = rng.standard_normal((12, units)) * (rng.random((12, units)) < 0.35)
        a = np.maximum(z @ mix + 0.5 * rng.standard_normal((n, units)) + 0.2, 0.0)
        return a * rng.uniform(0.5, 3.0, units) + rng.uniform(0, 2, units)
    a, b = net(ua), net(ub)
    a[:, 3] = 1.5  # dead target
    b[:, 5] = 0.25  # dead predictor
    return np.hstack([a, b]).astype(np.float32).astype(np.float64)


def standardise(x):
    sd = x.std(axis=0)
    live = sd > 0
    out = np.zeros_like(x)
    out[:, live] = (x[:, live] - x[:, live].mean(axis=0)) / sd[live]
    return out, live


def run_ours(data, ua, ub, alphas, tol=1e-12):
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "data.f64")
        dst = os.path.join(tmp, "out.f64")
        data.astype(np.float64).tofile(src)
        subprocess.run([bench_many_to_many_path(), "--lasso", src, str(data.shape[0]), str(ua), str(ub),
                        ",".join(repr(a) for a in alphas), dst, repr(tol)],
                       check=True, capture_output=True)
        out = np.fromfile(dst, dtype=np.float64)
    per = ua * ub + ua
    assert out.size == per * len(alphas)
    weights = [out[i * per:i * per + ua * ub].reshape(ua, ub) for i in range(len(alphas))]
    losses = [out[i * per + ua * ub:(i + 1) * per] for i in range(len(alphas))]
    return weights, losses


@pytest.mark.parametrize("seed", [0, 1])
def test_lasso_path_matches_sklearn(seed):
    n, ua, ub = 4000, 12, 24
    data = activations(n, ua, ub, seed)
    weights, losses = run_ours(data, ua, ub, ALPHAS)
    xa, live_a = standardise(data[:, :ua])
    xb, live_b = standardise(data[:, ua:])
    assert not live_a[3] and not live_b[5]
    worst_w = worst_loss = 0.0
    nonzero_small_alpha = []
    for t in range(ua):
        for ai, alpha in enumerate(ALPHAS):
            if not live_a[t]:
                assert np.all(weights[ai][t] == 0.0)
                continue
            model = Lasso(alpha=alpha, fit_intercept=True, tol=1e-12, max_iter=200000)
            model.fit(xb, xa[:, t])
            ref_loss = 0.5 * np.mean((xa[:, t] - model.predict(xb)) ** 2)
            worst_w = max(worst_w, np.max(np.abs(weights[ai][t] - model.coef_)))
            worst_loss = max(worst_loss, abs(losses[ai][t] - ref_loss))
            assert weights[ai][t][5] == 0.0  # dead predictor never enters
            if ai == len(ALPHAS) - 1:
                nonzero_small_alpha.append(np.count_nonzero(weights[ai][t]))
    assert worst_w < 1e-4, worst_w
    assert worst_loss < 1e-4, worst_loss
    # The path is not trivial: weights enter as alpha decreases.
    assert np.mean(nonzero_small_alpha) > 2


def test_strong_alpha_predicts_nothing():
    n, ua, ub = 2000, 4, 6
    data = activations(n, ua, ub, 5)
    weights, losses = run_ours(data, ua, ub, [2.0])
    assert np.all(weights[0] == 0.0)
    live = [t for t in range(ua) if t != 3]
    assert np.allclose(losses[0][live], 0.5, atol=1e-12)
