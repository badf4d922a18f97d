"""tests/python/capi_ctypes.py (ctypes over libconvergent, the C ABI's Python
caller) against numpy/scipy/sklearn:
np.corrcoef, scipy.optimize.linear_sum_assignment, numpy.quantile binning +
sklearn.metrics.mutual_info_score, sklearn Lasso, and the error paths."""
import importlib
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

SOURCE_DIR = Path(os.environ.get("CONVERGENT_SOURCE_DIR", Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
cvg = importlib.import_module("capi_ctypes")


def two_nets(n=1500, ua=5, ub=6, seed=0):
    rng = np.random.default_rng(seed)
    shared = rng.normal(size=(n, 3))
    a = np.maximum(shared @ rng.normal(size=(3, ua)) + 0.5 * rng.normal(size=(n, ua)), 0).astype(np.float32)
    b = (shared @ rng.normal(size=(3, ub)) + 0.5 * rng.normal(size=(n, ub))).astype(np.float32)
    return a, b


def test_version_and_library():
    assert cvg.version().count(".") == 2
    assert cvg.features() & ~(cvg.FEATURE_CUDA | cvg.FEATURE_MPI) == 0
    # The MPI bit says whether the library has cvg_compare_mpi (convergent_mpi.h).
    assert bool(cvg.features() & cvg.FEATURE_MPI) == hasattr(cvg._lib, "cvg_compare_mpi")


def test_stats_against_numpy():
    a, b = two_nets()
    with cvg.Stats([a.shape[1], b.shape[1]]) as st:
        assert st.backend == "cpu" and st.nets == 2 and st.units(1) == b.shape[1]
        # two batches; the second one of net b from a Fortran-ordered array
        st.push(0, a[:700])
        st.push(1, b[:700])
        st.push(0, a[700:])
        st.push(1, np.asfortranarray(b[700:]))
        st.finalize()
        assert st.samples == a.shape[0]
        ref = np.corrcoef(a.astype(np.float64), b.astype(np.float64), rowvar=False)
        np.testing.assert_allclose(st.correlation(0, 1), ref[: a.shape[1], a.shape[1]:], atol=1e-9)
        np.testing.assert_allclose(st.correlation(0, 0), ref[: a.shape[1], : a.shape[1]], atol=1e-9)
        np.testing.assert_allclose(st.mean(0), a.astype(np.float64).mean(axis=0), atol=1e-9)
        np.testing.assert_allclose(st.std(1), b.astype(np.float64).std(axis=0), rtol=1e-9)
        assert st.dead_units(0).size == 0


@pytest.mark.parametrize("shape", [(6, 6), (4, 9), (9, 4)])
def test_matching_against_scipy(shape):
    rng = np.random.default_rng(sum(shape))
    w = rng.uniform(-1, 1, size=shape)
    m = cvg.max_weight_matching(w)
    rows, cols = linear_sum_assignment(w, maximize=True)
    expected = np.full(shape[0], -1)
    expected[rows] = cols
    np.testing.assert_array_equal(m["column"], expected)
    assert m["primal"] == pytest.approx(w[rows, cols].sum(), abs=1e-12)
    assert abs(m["gap"]) < 1e-9 and m["dual_bound"] >= m["primal"] - 1e-12
    assert np.all(np.isnan(m["value"][m["column"] < 0]))
    # a Fortran-ordered view (CVG_COL_MAJOR) gives the same matching
    np.testing.assert_array_equal(cvg.max_weight_matching(np.asfortranarray(w))["column"], expected)
    semi = cvg.semi_matching(w)
    np.testing.assert_array_equal(semi["column"], w.argmax(axis=1))
    assert semi["mean"] == pytest.approx(w.max(axis=1).mean())
    al = cvg.align(w)
    np.testing.assert_array_equal(al["matching_column"], expected)
    assert al["overlap_ratio"] == pytest.approx(np.mean(w.argmax(axis=1) == expected))
    np.testing.assert_array_equal(np.sort(al["matched_order"]), np.arange(shape[1]))


def numpy_codes(values, bins):
    """The documented binning rule: zero bin, then numpy.quantile edges."""
    codes = np.zeros(values.shape, dtype=np.int32)
    for u in range(values.shape[1]):
        v = values[:, u].astype(np.float64)
        pos = v > 1e-6
        if pos.any():
            edges = np.quantile(v[pos], np.arange(1, bins) / bins)
            codes[pos, u] = np.searchsorted(edges, v[pos], side="left") + 1
    return codes


def test_mutual_information_against_sklearn():
    from sklearn.metrics import mutual_info_score

    a, b = two_nets(n=800)
    rows = cvg.sample_rows(a.shape[0], 500, seed=1)
    assert rows.size == 500 and np.all(np.diff(rows) > 0)
    opts = cvg.Options(mi_bins=8)
    with cvg.Binned(a[rows], opts) as ba, cvg.Binned(np.asfortranarray(b[rows]), {"mi_bins": 8}) as bb:
        assert ba.shape == (a.shape[1], 500, 9)
        np.testing.assert_array_equal(ba.codes(), numpy_codes(a[rows], 8))
        np.testing.assert_array_equal(bb.codes(), numpy_codes(b[rows], 8))
        mi = cvg.mutual_information(ba, bb)
        ca, cb = ba.codes(), bb.codes()
        ref = np.array([[mutual_info_score(ca[:, i], cb[:, j]) for j in range(cb.shape[1])]
                        for i in range(ca.shape[1])])
        np.testing.assert_allclose(mi, ref, atol=1e-10)
        assert ba.edges(0).size == 7


def test_sparse_prediction_against_sklearn():
    from sklearn.linear_model import Lasso

    a, b = two_nets(n=1000)
    with cvg.Stats([a.shape[1], b.shape[1]]) as st:
        st.push(0, a)
        st.push(1, b)
        st.finalize()
        res = st.sparse_prediction(0, 1, {"lasso_alphas": [0.1, 0.01], "lasso_keep_weights": 1,
                                          "lasso_tol": 1e-10})
    assert res["alphas"].tolist() == [0.1, 0.01] and res["converged"].all()
    x = (b - b.mean(0)) / b.std(0)
    for k, alpha in enumerate([0.1, 0.01]):
        for t in range(a.shape[1]):
            y = (a[:, t] - a[:, t].mean()) / a[:, t].std()
            model = Lasso(alpha=alpha, tol=1e-12, max_iter=100000).fit(x.astype(np.float64), y.astype(np.float64))
            np.testing.assert_allclose(res["weights"][k, t], model.coef_, atol=1e-5)
    assert np.all(res["loss"] <= 0.5) and res["mean_loss"][1] < res["mean_loss"][0]


def test_clustering_and_mean_activation():
    a, b = two_nets(n=1200)
    with cvg.Stats([a.shape[1], b.shape[1]]) as st:
        st.push(0, a)
        st.push(1, b)
        st.finalize()
        cl = st.spectral_clustering(0, 1, {"cluster_k": 2, "seed": 1})
        assert cl["k"] == 2
        assert sorted(cl["permutation"].tolist()) == list(range(a.shape[1] + b.shape[1]))
        assert np.all(np.diff(cl["eigenvalues"]) >= -1e-12)
        leaves = [c for c in cl["clusters"] if c["leaf"]]
        assert sorted(np.concatenate([c["members_a"] for c in leaves]).tolist()) == list(range(a.shape[1]))
        corr = st.correlation(0, 1)
        for c in cl["clusters"]:
            if c["members_a"].size and c["members_b"].size:
                expected = corr[np.ix_(c["members_a"], c["members_b"])].mean()
                assert c["between_net_similarity"] == pytest.approx(expected, abs=1e-12)
        sorted_a, spread_a = st.mean_activation_sorted(0)
        means = np.sort(a.astype(np.float64).mean(0))[::-1]
        np.testing.assert_allclose(sorted_a, means, atol=1e-9)
        assert spread_a == pytest.approx(means.std(), abs=1e-9)
        assert st.mean_activation_distance(0, 1) > 0
        assert np.isfinite(st.mean_activation_ratio())


def write_net(directory, layers):
    directory.mkdir()
    for name, array in layers.items():
        np.save(directory / f"{name}.npy", array)


def test_compare_writes_a_result(tmp_path):
    a, b = two_nets(n=300)
    write_net(tmp_path / "neta", {"fc": a})
    write_net(tmp_path / "netb", {"fc": b})
    out = tmp_path / "out"
    cvg.compare([tmp_path / "neta", tmp_path / "netb"], out, backend="cpu", mi_samples=200, cluster_k=2)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["nets"] == ["neta", "netb"] and summary["backend"] == "cpu"
    corr = np.load(out / "fc" / "neta~netb.corr.npy")
    ref = np.corrcoef(a.astype(np.float64), b.astype(np.float64), rowvar=False)[: a.shape[1], a.shape[1]:]
    np.testing.assert_allclose(corr, ref, atol=1e-6)
    with pytest.raises(cvg.ConvergentError) as e:
        cvg.compare([tmp_path / "neta", tmp_path / "netb"], out)
    assert e.value.status == cvg.E_IO
    with pytest.raises(cvg.ConvergentError) as e:
        cvg.compare([tmp_path / "neta", tmp_path / "missing"], tmp_path / "out2")
    assert e.value.status == cvg.E_IO and "missing" in e.value.message


def test_error_paths():
    with pytest.raises(cvg.ConvergentError) as e:
        cvg.Stats([3, 0])
    assert e.value.status == cvg.E_INVALID_ARG and "at least one unit" in e.value.message
    st = cvg.Stats([2, 2])
    with pytest.raises(cvg.ConvergentError) as e:
        st.push(0, np.array([[1.0, np.nan]], dtype=np.float32))
    assert e.value.status == cvg.E_BAD_DATA and "non-finite" in str(e.value)
    with pytest.raises(ValueError):
        st.push(0, np.zeros((3, 5), dtype=np.float32))  # wrong unit count
    with pytest.raises(cvg.ConvergentError) as e:
        st.push(5, np.zeros((3, 2), dtype=np.float32))  # no net 5
    assert e.value.status == cvg.E_INVALID_ARG
    with pytest.raises(cvg.ConvergentError) as e:
        st.mean(0)  # not finalised
    assert "finalise" in e.value.message
    with pytest.raises(cvg.ConvergentError):
        st.correlation(0, 3)
    st.close()
    st.close()  # idempotent
    with pytest.raises(cvg.ConvergentError) as e:
        cvg.max_weight_matching(np.array([[1.0, np.inf]]))
    assert e.value.status == cvg.E_BAD_DATA
    with pytest.raises(cvg.ConvergentError) as e:
        cvg.Options(mi_bins=0)
    assert "CVG_OPT_MI_BINS" in e.value.message
    with pytest.raises(KeyError):
        cvg.Options(no_such_option=1)
    with pytest.raises(cvg.ConvergentError) as e:
        cvg.Options(lasso_alphas="0.1,-1")
    assert e.value.status == cvg.E_INVALID_ARG
    if not cvg.cuda_device_available():
        with pytest.raises(cvg.ConvergentError) as e:
            cvg.Stats([2, 2], backend="cuda")
        assert e.value.status == cvg.E_UNSUPPORTED
        with pytest.raises(cvg.ConvergentError) as e:
            cvg.max_weight_matching(np.eye(3), backend="cuda")
        assert e.value.status == cvg.E_UNSUPPORTED
    opts = cvg.Options(seed=4, cluster_tau=0.3, layers=["conv1", "fc"])
    assert opts.get("seed") == 4 and opts.get("cluster_tau") == 0.3 and opts.get("layers") == "conv1,fc"


def test_context_gives_the_results_of_the_backend_id_calls(tmp_path):
    a, b = two_nets(n=600, seed=3)
    with cvg.Context("cpu") as ctx:
        assert ctx.backend == "cpu" and ctx.description.startswith("cpu")
        stale = cvg._p(ctx.handle.value)
        with cvg.Stats([a.shape[1], b.shape[1]], backend=ctx) as st, cvg.Stats([a.shape[1], b.shape[1]]) as ref:
            for s in (st, ref):
                s.push(0, a)
                s.push(1, b)
                s.finalize()
            assert st.backend == "cpu"
            corr = ref.correlation(0, 1)
            np.testing.assert_array_equal(st.correlation(0, 1), corr)
            for key, value in cvg.max_weight_matching(corr, backend=ctx).items():
                np.testing.assert_array_equal(value, cvg.max_weight_matching(corr)[key])
            for key, value in cvg.align(corr, backend=ctx).items():
                np.testing.assert_array_equal(value, cvg.align(corr)[key])
            on_ctx = st.spectral_clustering(0, 1, {"cluster_k": 2}, context=ctx)
            plain = ref.spectral_clustering(0, 1, {"cluster_k": 2})
            np.testing.assert_array_equal(on_ctx["eigenvalues"], plain["eigenvalues"])
            np.testing.assert_array_equal(on_ctx["permutation"], plain["permutation"])
            path = str(tmp_path / "st.bin")
            ref.save(path)
            with cvg.Stats.load(path, backend=ctx) as loaded:
                loaded.finalize()
                np.testing.assert_array_equal(loaded.mean(1), ref.mean(1))
        ba, bb = cvg.Binned(a), cvg.Binned(b)
        np.testing.assert_array_equal(cvg.mutual_information(ba, bb, backend=ctx), cvg.mutual_information(ba, bb))
    # closed: the library refuses the stale handle instead of dereferencing it
    with pytest.raises(cvg.ConvergentError) as e:
        cvg._lib.cvg_context_backend(stale, cvg._c.byref(cvg._i32()))
    assert e.value.status == cvg.E_INVALID_ARG and "not a live cvg_context" in e.value.message
    with pytest.raises(cvg.ConvergentError) as e:
        cvg.max_weight_matching(np.eye(2), backend=ctx)  # the closed Context passes NULL
    assert e.value.status == cvg.E_INVALID_ARG


def test_context_backend_choice():
    with cvg.Context("auto") as ctx:
        assert ctx.backend == ("cuda" if cvg.cuda_device_available() else "cpu")
    if not cvg.cuda_device_available():
        with pytest.raises(cvg.ConvergentError) as e:
            cvg.Context("cuda")
        assert e.value.status == cvg.E_UNSUPPORTED
        # a build without the CUDA backend says so, one with it names the missing device
        assert ("no CUDA backend" in e.value.message) == (not cvg.features() & cvg.FEATURE_CUDA)
    with pytest.raises(ValueError):
        cvg.Context("tpu")


def test_capacity_checked_getters_refuse_a_short_buffer():
    a, b = two_nets(n=200, seed=5)
    b[:, 2] = 1.5  # a dead unit
    with cvg.Stats([a.shape[1], b.shape[1]]) as st:
        st.push(0, a)
        st.push(1, b)
        st.finalize()
        np.testing.assert_array_equal(st.dead_units(1), [2])
        out = np.full(b.shape[1] + 1, -7.0)
        with pytest.raises(cvg.ConvergentError) as e:
            cvg._lib.cvg_stats_mean_n(st.handle, 1, cvg._ptr(out, cvg._dbl), b.shape[1] - 1)
        assert e.value.status == cvg.E_INVALID_ARG and "capacity" in e.value.message
        assert np.all(out == -7.0)
        cvg._lib.cvg_stats_std_n(st.handle, 1, cvg._ptr(out, cvg._dbl), out.size)
        np.testing.assert_allclose(out[:-1], b.astype(np.float64).std(axis=0), rtol=1e-9)
        assert out[-1] == -7.0 and out[2] == 0.0
