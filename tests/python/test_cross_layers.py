"""`convergent compare --cross-layers`: layer x layer linear CKA maps across
nets of DIFFERENT architectures (Nguyen, Raghu & Kornblith 2021, minibatch
unbiased HSIC), against a numpy float64 reference that materialises the
n x n Grams of every minibatch and applies the published unbiased HSIC
estimator (Song et al. 2012, eq. 5) directly."""
import json

import numpy as np
import pytest

from conftest import run_cli

N = 100
BATCH = 32  # 3 minibatches, the last 4 images dropped


def make_nets(tmp_path):
    """Two architectures on the same N inputs: A has conv + dense layers
    conv1 (4x5x5), conv2 (6x3x3), fc (10); B has block1 (3x4x4), dense_a (7),
    dense_b (5), out (3). No layer name in common."""
    rng = np.random.default_rng(11)
    z = rng.normal(size=(N, 8))  # shared latent so the maps are not all ~0
    def layer(shape, scale=1.0, relu=False, offset=0.0):
        w = rng.normal(size=(8, int(np.prod(shape))))
        x = z @ w + scale * rng.normal(size=(N, int(np.prod(shape)))) + offset
        if relu:
            x = np.maximum(x, 0)
        return x.reshape((N,) + shape).astype(np.float32)
    nets = {
        "A": {"conv1": layer((4, 5, 5), relu=True), "conv2": layer((6, 3, 3), 2.0), "fc": layer((10,), 0.5, offset=3.0)},
        "B": {"block1": layer((3, 4, 4), relu=True), "dense_a": layer((7,)), "dense_b": layer((5,), 3.0, relu=True),
              "out": layer((3,), 0.1)},
    }
    for name, layers in nets.items():
        (tmp_path / name).mkdir()
        for l, x in layers.items():
            np.save(tmp_path / name / f"{l}.npy", x)
    return nets


def hsic1(K, L):
    """Unbiased HSIC (Song et al. 2012, eq. 5) of two n x n Grams."""
    n = K.shape[0]
    Kt = K.copy()
    Lt = L.copy()
    np.fill_diagonal(Kt, 0.0)
    np.fill_diagonal(Lt, 0.0)
    one = np.ones(n)
    term1 = np.trace(Kt @ Lt)
    term2 = (one @ Kt @ one) * (one @ Lt @ one) / ((n - 1) * (n - 2))
    term3 = 2.0 / (n - 2) * (one @ Kt @ Lt @ one)
    return (term1 + term2 - term3) / (n * (n - 3))


def minibatch_cka(xs, ys, batch):
    """Nguyen et al. 2021: mean HSIC_1 over fixed minibatches in input order
    (the last partial one dropped), then CKA. xs, ys: lists of (N, ...)
    float32 arrays; features per image flattened, computed in float64."""
    n = xs[0].shape[0]
    k = n // batch
    hxy = np.zeros((len(xs), len(ys)))
    hxx = np.zeros(len(xs))
    hyy = np.zeros(len(ys))
    for b in range(k):
        sl = slice(b * batch, (b + 1) * batch)
        Kx = [x[sl].reshape(batch, -1).astype(np.float64) @ x[sl].reshape(batch, -1).astype(np.float64).T for x in xs]
        Ky = [y[sl].reshape(batch, -1).astype(np.float64) @ y[sl].reshape(batch, -1).astype(np.float64).T for y in ys]
        for i, K in enumerate(Kx):
            hxx[i] += hsic1(K, K)
            for j, L in enumerate(Ky):
                hxy[i, j] += hsic1(K, L)
        for j, L in enumerate(Ky):
            hyy[j] += hsic1(L, L)
    return (hxy / k) / np.sqrt(np.outer(hxx / k, hyy / k))


def debiased_cka_full(x, y):
    """The plain debiased linear CKA on all N images (one batch)."""
    X = x.reshape(x.shape[0], -1).astype(np.float64)
    Y = y.reshape(y.shape[0], -1).astype(np.float64)
    K, L = X @ X.T, Y @ Y.T
    return hsic1(K, L) / np.sqrt(hsic1(K, K) * hsic1(L, L))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("xl")
    nets = make_nets(d)
    out = d / "out"
    run_cli("compare", d / "A", d / "B", "--out", out, "--cross-layers", "--cross-layers-batch", BATCH, "--quiet")
    return nets, out, json.loads((out / "summary.json").read_text())


def test_maps_equal_numpy_minibatch_reference(run):
    nets, out, summary = run
    xl = summary["cross_layers"]
    assert xl["batch_size"] == BATCH and xl["batches"] == N // BATCH and xl["dropped_images"] == N % BATCH
    assert xl["layers"] == {"A": ["conv1", "conv2", "fc"], "B": ["block1", "dense_a", "dense_b", "out"]}
    assert set(xl["maps"]) == {"A~A", "A~B", "B~B"}
    for key, m in xl["maps"].items():
        a, b = m["rows"], m["cols"]
        ref = minibatch_cka([nets[a][l] for l in m["row_layers"]], [nets[b][l] for l in m["col_layers"]], BATCH)
        got = np.array(m["cka"], dtype=np.float64)
        assert got.shape == (len(nets[a]), len(nets[b]))
        np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-12, err_msg=key)
        # The .npy is the same map in float32.
        arr = np.load(out / m["file"])
        assert m["file"] == f"cross_layers/{key}.cka.npy" and arr.dtype == np.float32
        np.testing.assert_allclose(arr, ref, rtol=1e-6, atol=1e-7)
    # The nets share a latent: the maps are not trivially zero.
    assert np.abs(np.array(xl["maps"]["A~B"]["cka"])).max() > 0.3


def test_self_maps_symmetric_with_unit_diagonal(run):
    _, out, summary = run
    for key in ("A~A", "B~B"):
        m = np.array(summary["cross_layers"]["maps"][key]["cka"])
        np.testing.assert_allclose(m, m.T, rtol=0, atol=1e-14)
        np.testing.assert_array_equal(np.diag(m), 1.0)
        assert np.all(np.abs(m) <= 1.0 + 1e-12)


def test_no_common_layers_means_no_per_layer_analyses(run):
    _, out, summary = run
    assert summary["layers"] == {}
    assert summary["options"]["cross_layers"] is True and summary["options"]["cross_layers_batch"] == BATCH


def test_full_batch_equals_plain_debiased_cka(run, tmp_path):
    nets, _, _ = run
    d = tmp_path
    for name in ("A", "B"):
        (d / name).mkdir()
        for l, x in nets[name].items():
            np.save(d / name / f"{l}.npy", x)
    out = d / "o"
    run_cli("compare", d / "A", d / "B", "--out", out, "--cross-layers", "--cross-layers-batch", 100000, "--quiet")
    xl = json.loads((out / "summary.json").read_text())["cross_layers"]
    assert xl["batch_size"] == N and xl["batches"] == 1 and xl["dropped_images"] == 0
    m = xl["maps"]["A~B"]
    for i, la in enumerate(m["row_layers"]):
        for j, lb in enumerate(m["col_layers"]):
            ref = debiased_cka_full(nets["A"][la], nets["B"][lb])
            assert m["cka"][i][j] == pytest.approx(ref, rel=1e-9, abs=1e-12)


def test_shared_layers_run_per_layer_steps_and_layers_option(tmp_path):
    # Both nets have "fc" (different widths) and one own layer each: the
    # per-layer steps run on fc, the maps take every layer; --layers limits
    # both.
    rng = np.random.default_rng(5)
    for name, own, w in (("p", "convA", 6), ("q", "denseB", 4)):
        (tmp_path / name).mkdir()
        np.save(tmp_path / name / "fc.npy", rng.normal(size=(40, w)).astype(np.float32))
        np.save(tmp_path / name / f"{own}.npy", rng.normal(size=(40, 2, 3, 3)).astype(np.float32))
    out = tmp_path / "o"
    run_cli("compare", tmp_path / "p", tmp_path / "q", "--out", out, "--cross-layers", "--cross-layers-batch", 8,
            "--quiet", "--no-mi", "--no-sparse", "--no-clusters")
    s = json.loads((out / "summary.json").read_text())
    assert list(s["layers"]) == ["fc"]
    assert s["cross_layers"]["layers"] == {"p": ["convA", "fc"], "q": ["denseB", "fc"]}
    out2 = tmp_path / "o2"
    run_cli("compare", tmp_path / "p", tmp_path / "q", "--out", out2, "--cross-layers", "--layers", "fc,convA",
            "--quiet", "--no-mi", "--no-sparse", "--no-clusters")
    s2 = json.loads((out2 / "summary.json").read_text())
    assert list(s2["layers"]) == ["fc"]
    assert s2["cross_layers"]["layers"] == {"p": ["convA", "fc"], "q": ["fc"]}
    # A requested layer no net has: an error naming it.
    proc = run_cli("compare", tmp_path / "p", tmp_path / "q", "--out", tmp_path / "x", "--cross-layers", "--layers",
                   "fc,nope", check=False)
    assert proc.returncode != 0 and "'nope'" in proc.stderr and not (tmp_path / "x").exists()
    # Without --cross-layers the nets' differing layers are still an error.
    proc = run_cli("compare", tmp_path / "p", tmp_path / "q", "--out", tmp_path / "y", check=False)
    assert proc.returncode != 0 and "--layers" in proc.stderr


def test_different_image_counts_name_the_files(tmp_path):
    rng = np.random.default_rng(2)
    for name, n in (("a", 30), ("b", 31)):
        (tmp_path / name).mkdir()
        np.save(tmp_path / name / f"l_{name}.npy", rng.normal(size=(n, 3)).astype(np.float32))
    proc = run_cli("compare", tmp_path / "a", tmp_path / "b", "--out", tmp_path / "o", "--cross-layers", check=False)
    assert proc.returncode != 0
    assert "30" in proc.stderr and "31" in proc.stderr and "l_a.npy" in proc.stderr and "l_b.npy" in proc.stderr
    assert not (tmp_path / "o").exists()


def test_batch_below_4_is_a_range_error(tmp_path):
    proc = run_cli("compare", tmp_path / "a", tmp_path / "b", "--out", tmp_path / "o", "--cross-layers",
                   "--cross-layers-batch", 3, check=False)
    assert proc.returncode == 2 and "--cross-layers-batch" in proc.stderr and "out of range" in proc.stderr


def test_arrays_equal_files(run, convergent):
    nets, _, summary = run
    result = convergent.compare(nets, cross_layers=True, cross_layers_batch=BATCH)
    xl = result.summary["cross_layers"]
    for key, m in summary["cross_layers"]["maps"].items():
        assert xl["maps"][key]["cka"] == m["cka"]
        np.testing.assert_array_equal(result.arrays[m["file"]], np.array(m["cka"], dtype=np.float32))


def test_session_rejects_cross_layers_clearly(convergent):
    with pytest.raises(Exception, match="cross_layers"):
        convergent._core.Session(["a", "b"], convergent.Options(cross_layers=True), 0)
