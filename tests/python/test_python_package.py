"""The Python package `convergent` (python/convergent, module convergent._core)
against numpy/scipy/sklearn and the CLI: Statistics from numpy arrays and
torch tensors (2-D, NCHW, NHWC, float16/32/64, strided, read-only, memory
mapped), the zero-copy path (the address the core reads), compare() on
arrays with its Result accessors, options by keyword, errors, save/load and
the report. API-vs-CLI identity on the bundled nets: test_python_vs_cli.py."""
import ctypes
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from conftest import PACKAGE_DIR, as_samples, corr_float64, run_cli

try:
    import torch
except ImportError:  # python3-torch is in tools/setup.sh; without it the torch cases skip
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")


def two_nets(n=600, ua=5, ub=7, seed=0, positions=None):
    """Correlated nets: (n, ua) and (n, ub), or NCHW (n, u, h, w) with positions=(h, w)."""
    rng = np.random.default_rng(seed)
    h, w = positions or (1, 1)
    shared = rng.normal(size=(n * h * w, 3))
    a = np.maximum(shared @ rng.normal(size=(3, ua)) + 0.5 * rng.normal(size=(n * h * w, ua)), 0)
    b = shared @ rng.normal(size=(3, ub)) + 0.5 * rng.normal(size=(n * h * w, ub))
    if positions is None:
        return a.astype(np.float32), b.astype(np.float32)
    # rows are image-major, then position (h, w): back to NCHW
    to_nchw = lambda x: x.reshape(n, h, w, -1).transpose(0, 3, 1, 2)  # noqa: E731
    return np.ascontiguousarray(to_nchw(a), np.float32), np.ascontiguousarray(to_nchw(b), np.float32)


def numpy_corr(a, b):
    return corr_float64(as_samples(a), as_samples(b))


# ---- import, lazy torch, errors -------------------------------------------------------

def test_import_is_the_build_tree_and_does_not_import_torch(convergent):
    code = ("import sys, convergent; assert 'torch' not in sys.modules, 'torch imported'; "
            "print(convergent.__file__, convergent.__version__)")
    env = dict(os.environ, PYTHONPATH=str(PACKAGE_DIR))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.split()[0].startswith(str(PACKAGE_DIR / "convergent"))
    assert convergent.__version__ == convergent.version() == run_cli("version").stdout.split()[1]


def test_errors_are_convergent_errors_with_status_and_code(convergent):
    assert issubclass(convergent.ConvergentError, RuntimeError)
    with pytest.raises(convergent.ConvergentError) as info:
        convergent.Options(mi_bins=255)
    assert info.value.status == convergent.E_INVALID_ARG == -1 and info.value.code == "invalid_argument"
    assert "mi_bins" in str(info.value) and "[1, 254]" in str(info.value)
    with pytest.raises(convergent.ConvergentError) as info:
        convergent.Result.load("/nonexistent/results")
    assert info.value.code == "io" and info.value.status == convergent.E_IO


# ---- options ------------------------------------------------------------------------------

def test_options_by_keyword_alias_and_close_matches(convergent):
    o = convergent.Options(mi_bins=10, dead_units="include", lasso_alphas=[0.3, 0.01], layers=("fc7",))
    assert o["mi_bins"] == 10 and o["dead_units"] == "include" and o["lasso_alphas"] == [0.3, 0.01]
    assert o["layers"] == ["fc7"]
    assert convergent.Options(channels_last=True)["layout"] == "NHWC"      # alias of version 0.1
    assert convergent.Options(matching=False)["correlation_matching"] is False
    assert o.copy() == o and o.copy() is not o and convergent.Options() != o
    assert "mi_bins=10" in repr(o)
    with pytest.raises(TypeError, match=r"unknown option 'mi_binz' \(did you mean 'mi_bins'\?\)"):
        convergent.Options(mi_binz=3)
    with pytest.raises(TypeError, match="compare: unknown option 'seeed'.*'seed'"):
        convergent.compare({"a": {"x": np.zeros((3, 2))}, "b": {"x": np.zeros((3, 2))}}, seeed=1)
    with pytest.raises(TypeError, match="not a flag"):
        convergent.Options(mi_bins=True)
    # a rejected value leaves every option unchanged (update is all or nothing)
    o2 = o.copy()
    with pytest.raises(convergent.ConvergentError):
        o2.update(seed=5, cluster_tau=1.5)
    assert o2 == o
    # None keeps the default
    assert convergent.Options(seed=None)["seed"] == 0


# ---- Statistics -----------------------------------------------------------------------------

def check_statistics(convergent, a, b, pushes, layout="NCHW", atol=1e-9):
    """pushes: [(a_part, b_part), ...] in order; checks mean/std/corr vs numpy on (a, b)."""
    ua = a.shape[-1] if layout == "NHWC" or a.ndim == 2 else a.shape[1]
    ub = b.shape[-1] if layout == "NHWC" or b.ndim == 2 else b.shape[1]
    st = convergent.Statistics([ua, ub], layout=layout, chunk_rows=97)  # several chunks per batch
    for pa, pb in pushes:
        st.push(0, pa)
        st.push(1, pb)
    st.finalize()
    to_nchw = (lambda x: x if x.ndim == 2 else np.moveaxis(x, -1, 1)) if layout == "NHWC" else (lambda x: x)
    sa, sb = as_samples(np.asarray(to_nchw(a), np.float64)), as_samples(np.asarray(to_nchw(b), np.float64))
    assert st.samples == sa.shape[0]
    np.testing.assert_allclose(st.correlation(0, 1), corr_float64(sa, sb), atol=atol)
    np.testing.assert_allclose(st.correlation(1, 1), corr_float64(sb, sb), atol=atol)
    np.testing.assert_allclose(st.mean(0), sa.mean(axis=0), atol=atol)
    np.testing.assert_allclose(st.std(1), sb.std(axis=0), rtol=1e-7, atol=atol)
    return st


def test_statistics_dense_against_numpy(convergent):
    a, b = two_nets()
    check_statistics(convergent, a, b, [(a[:250], b[:250]), (a[250:], np.asfortranarray(b[250:]))])


def test_statistics_nchw_nhwc_and_dtypes_against_numpy(convergent):
    a, b = two_nets(n=80, positions=(3, 4))
    check_statistics(convergent, a, b, [(a[:30], b[:30]), (a[30:], b[30:])])
    nhwc_a, nhwc_b = np.ascontiguousarray(a.transpose(0, 2, 3, 1)), np.ascontiguousarray(b.transpose(0, 2, 3, 1))
    check_statistics(convergent, nhwc_a, nhwc_b, [(nhwc_a, nhwc_b)], layout="NHWC")
    # float16 and float64: read in their dtype (the float16 values are the data)
    a16, b64 = a.astype(np.float16), b.astype(np.float64)
    check_statistics(convergent, a16.astype(np.float64), b64, [(a16, b64)], atol=1e-9)
    # per-push layout overrides the constructor's
    st = convergent.Statistics([a.shape[1], b.shape[1]])
    st.push(0, nhwc_a, layout="NHWC")
    st.push(1, b)
    st.finalize()
    np.testing.assert_allclose(st.correlation(0, 1), numpy_corr(a, b), atol=1e-9)


def test_statistics_reads_strided_readonly_memmapped_and_swapped_arrays(convergent, tmp_path):
    a, b = two_nets(n=400)
    wide = np.zeros((400, 3 * a.shape[1]), np.float32)
    wide[:, ::3] = a
    strided = wide[:, ::3]                       # non-contiguous columns
    assert not strided.flags.c_contiguous and not strided.flags.f_contiguous
    np.save(tmp_path / "b.npy", b)
    mapped = np.load(tmp_path / "b.npy", mmap_mode="r")  # read-only memory map (DLPack cannot export it)
    assert not mapped.flags.writeable
    check_statistics(convergent, a, b, [(strided, mapped)])
    swapped = b.astype(b.dtype.newbyteorder(">"))    # big-endian: one native copy is made
    reversed_rows = a[::-1]                           # negative stride: one copy is made
    st = convergent.Statistics([a.shape[1], b.shape[1]])
    st.push(0, reversed_rows)
    st.push(1, swapped[::-1])
    st.finalize()
    np.testing.assert_allclose(st.correlation(0, 1), numpy_corr(a, b), atol=1e-9)
    assert convergent._core.tensor_info(swapped)["copied"] and convergent._core.tensor_info(reversed_rows)["copied"]


def test_zero_copy_numpy_the_core_reads_the_callers_memory(convergent):
    a, b = two_nets(n=300, positions=(2, 3))
    strided = a[:, :, :, ::2]
    for array in (a, a.astype(np.float16), strided, np.asfortranarray(a[:, :, 0, 0])):
        info = convergent._core.tensor_info(array)
        assert info["via"] == "buffer" and not info["copied"] and info["device"] == "host"
        assert info["data"] == array.__array_interface__["data"][0]
        assert info["shape"] == array.shape
        assert info["strides"] == tuple(s // array.itemsize for s in array.strides)
    # Pushed arrays are read when the batch is complete, in place: changing
    # net 0's array before net 1 pushes changes the statistics (a copy at
    # push time would not see it).
    st = convergent.Statistics([a.shape[1], b.shape[1]])
    pushed = a.copy()
    st.push(0, pushed)
    pushed[:] = b[:, : a.shape[1]]
    st.push(1, b)
    st.finalize()
    np.testing.assert_allclose(st.correlation(0, 1), numpy_corr(b[:, : a.shape[1]], b), atol=1e-9)


@needs_torch
def test_statistics_from_torch_tensors_zero_copy(convergent):
    a, b = two_nets(n=120, positions=(4, 4))
    ta = torch.from_numpy(a)
    tb = torch.from_numpy(b).to(memory_format=torch.channels_last)  # NCHW logically, NHWC in memory
    info = convergent._core.tensor_info(tb)
    assert info["via"] == "dlpack" and not info["copied"] and info["data"] == tb.data_ptr()
    assert info["shape"] == tuple(tb.shape) and info["strides"] == tuple(tb.stride())
    grad = ta.clone().requires_grad_(True)                       # detached (a view), not copied
    assert convergent._core.tensor_info(grad)["data"] == grad.data_ptr()
    check_statistics(convergent, a, b, [(grad[:50], tb[:50]), (ta[50:], tb[50:])], atol=1e-9)
    st = convergent.Statistics([a.shape[1], b.shape[1]])
    st.push(0, ta.half())
    st.push(1, tb.double())
    st.finalize()
    np.testing.assert_allclose(st.correlation(0, 1), numpy_corr(a.astype(np.float16), b), atol=1e-9)
    with pytest.raises(convergent.ConvergentError, match="(?i)bfloat16|dtype"):
        convergent.Statistics([a.shape[1], b.shape[1]]).push(0, ta.bfloat16())


class DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int), ("device_id", ctypes.c_int32)]


class DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", DLDevice), ("ndim", ctypes.c_int32), ("dtype", DLDataType),
                ("shape", ctypes.POINTER(ctypes.c_int64)), ("strides", ctypes.POINTER(ctypes.c_int64)),
                ("byte_offset", ctypes.c_uint64)]


class DLManagedTensor(ctypes.Structure):
    _fields_ = [("dl_tensor", DLTensor), ("manager_ctx", ctypes.c_void_p), ("deleter", ctypes.c_void_p)]


class FakeDLPack:
    """A DLPack producer built with ctypes (dlpack.h 0.6 layout): any device
    and dtype (a CUDA tensor without a GPU, an int32 tensor), for the error
    paths. The capsule has no destructor; this object owns the memory."""

    def __init__(self, array, device_type=1, code=2, bits=32):
        self.array = array
        self.shape = (ctypes.c_int64 * array.ndim)(*array.shape)
        self.managed = DLManagedTensor()
        t = self.managed.dl_tensor
        t.data = array.ctypes.data
        t.device = DLDevice(device_type, 0)
        t.ndim = array.ndim
        t.dtype = DLDataType(code, bits, 1)
        t.shape = self.shape
        t.strides = None
        new = ctypes.pythonapi.PyCapsule_New
        new.restype = ctypes.py_object
        new.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
        self.capsule = new(ctypes.addressof(self.managed), b"dltensor", None)

    def __dlpack__(self, stream=None):
        return self.capsule

    def __dlpack_device__(self):
        return (self.managed.dl_tensor.device.device_type, 0)


def test_dlpack_wrong_device_and_dtype_are_clear_errors(convergent):
    a, b = two_nets(n=50)
    fake = FakeDLPack(a)
    assert convergent._core.tensor_info(fake)["data"] == a.ctypes.data  # the ctypes producer works
    cuda = FakeDLPack(a, device_type=2)  # kDLCUDA
    assert convergent._core.tensor_info(cuda)["device"] == "cuda"
    st = convergent.Statistics([a.shape[1], b.shape[1]])
    with pytest.raises(convergent.ConvergentError) as info:
        st.push(0, cuda)
    assert info.value.code == "unsupported" and "net 0" in str(info.value), str(info.value)
    with pytest.raises(convergent.ConvergentError) as info:
        convergent.compare({"a": {"fc": FakeDLPack(a, device_type=2)}, "b": {"fc": b}}, progress=False)
    assert info.value.code == "unsupported" and "'a'" in str(info.value) and "fc" in str(info.value)
    for device_type, code, bits in ((7, 2, 32), (1, 0, 32)):  # Vulkan memory; int32 values
        with pytest.raises(convergent.ConvergentError) as info:
            st.push(0, FakeDLPack(a.view(np.int32) if code == 0 else a, device_type, code, bits))
        assert info.value.code == "unsupported", str(info.value)
    # the failed pushes left the statistics usable
    st.push(0, a)
    st.push(1, b)
    st.finalize()
    np.testing.assert_allclose(st.correlation(0, 1), numpy_corr(a, b), atol=1e-9)


def test_statistics_errors_name_the_problem(convergent):
    a, b = two_nets(n=40)
    st = convergent.Statistics([a.shape[1], b.shape[1]])
    with pytest.raises(convergent.ConvergentError, match="net 1.*units"):
        st.push(1, a)
    with pytest.raises(convergent.ConvergentError, match="dtype int64"):
        st.push(0, np.zeros((4, a.shape[1]), np.int64))
    with pytest.raises(convergent.ConvergentError, match="rank 3"):
        st.push(0, np.zeros((4, a.shape[1], 2), np.float32))
    st.push(0, a)
    with pytest.raises(convergent.ConvergentError, match="already pushed"):
        st.push(0, a)
    with pytest.raises(convergent.ConvergentError, match="same samples"):
        st.push(1, b[:10])
    with pytest.raises(convergent.ConvergentError, match="partially pushed"):
        st.finalize()
    bad = b.copy()
    bad[7, 2] = np.nan
    with pytest.raises(convergent.ConvergentError) as info:
        st.push(1, bad)
    assert info.value.code == "bad_data"
    st.push(1, b)            # the rejected batch left the statistics as they were
    st.finalize()
    np.testing.assert_allclose(st.correlation(0, 1), numpy_corr(a, b), atol=1e-9)
    with pytest.raises(convergent.ConvergentError, match="out of range"):
        st.mean(2)


def test_statistics_save_load_merge_and_analyses(convergent, tmp_path):
    a, b = two_nets(n=500)
    first = convergent.Statistics([a.shape[1], b.shape[1]])
    first.push(0, a[:200])
    first.push(1, b[:200])
    first.save(tmp_path / "first.stats")
    second = convergent.Statistics([a.shape[1], b.shape[1]])
    second.push(0, a[200:])
    second.push(1, b[200:])
    merged = convergent.Statistics.load(str(tmp_path / "first.stats"))
    merged.merge(second)
    merged.finalize()
    np.testing.assert_allclose(merged.correlation(0, 1), numpy_corr(a, b), atol=1e-9)
    c = merged.correlation(0, 1)
    t = merged.table1(0, 1)
    rows, cols = linear_sum_assignment(c, maximize=True)
    assert t["semi_matching_mean"] == pytest.approx(c.max(axis=1).mean(), abs=1e-12)
    assert t["matching_mean"] == pytest.approx(c[rows, cols].mean(), abs=1e-12)
    sparse = merged.sparse_prediction(0, 1, {"lasso_alphas": [0.1, 0.01]})
    assert sparse["alphas"].tolist() == [0.1, 0.01] and sparse["loss"].shape == (2, a.shape[1])
    clusters = merged.spectral_clustering(0, 1, {"cluster_k": 2})
    assert clusters["k"] == 2 and clusters["permutation"].size == a.shape[1] + b.shape[1]
    means, spread = merged.mean_activation_sorted(0)
    np.testing.assert_allclose(means, np.sort(a.astype(np.float64).mean(axis=0))[::-1], atol=1e-9)
    assert spread == pytest.approx(np.std(a.astype(np.float64).mean(axis=0)), abs=1e-9)


# ---- single analyses ----------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(6, 6), (4, 9), (9, 4)])
def test_matchings_against_scipy(convergent, shape):
    rng = np.random.default_rng(sum(shape))
    w = rng.uniform(-1, 1, size=shape)
    m = convergent.max_weight_matching(w)
    rows, cols = linear_sum_assignment(w, maximize=True)
    expected = np.full(shape[0], -1)
    expected[rows] = cols
    np.testing.assert_array_equal(m["column"], expected)
    assert m["primal"] == pytest.approx(w[rows, cols].sum(), abs=1e-12) and abs(m["gap"]) < 1e-9
    np.testing.assert_array_equal(convergent.max_weight_matching(np.asfortranarray(w))["column"], expected)
    semi = convergent.semi_matching(w)
    np.testing.assert_array_equal(semi["column"], w.argmax(axis=1))
    assert semi["mean"] == pytest.approx(w.max(axis=1).mean())
    al = convergent.align(w.astype(np.float32), backend=convergent.Context("cpu"))
    np.testing.assert_array_equal(al["matching_column"], expected)
    with pytest.raises(convergent.ConvergentError, match="non-finite value at row 1, column 2"):
        bad = w.copy()
        bad[1, 2] = np.inf
        convergent.semi_matching(bad)


def test_binning_and_mutual_information_against_sklearn(convergent):
    from sklearn.metrics import mutual_info_score
    a, b = two_nets(n=3000)
    rows = convergent.sample_rows(3000, 1000, seed=3)
    assert rows.size == 1000 and np.all(np.diff(rows) > 0)
    ba = convergent.Binned(a[rows], {"mi_bins": 8})
    bb = convergent.Binned(b[rows], convergent.Options(mi_bins=8))
    assert ba.shape == (a.shape[1], 1000, 9)
    mi = convergent.mutual_information(ba, bb)
    ca, cb = ba.codes(), bb.codes()
    for i in range(a.shape[1]):
        for j in range(b.shape[1]):
            assert mi[i, j] == pytest.approx(mutual_info_score(ca[:, i], cb[:, j]), abs=1e-10)
    positive = a[rows, 0][a[rows, 0] > 1e-6].astype(np.float64)
    np.testing.assert_allclose(ba.edges(0), np.quantile(positive, np.arange(1, 8) / 8), rtol=1e-12)


def test_context_and_backends(convergent):
    with convergent.Context("cpu") as ctx:
        assert ctx.backend == "cpu" and "cpu" in ctx.description
    assert convergent.features() & ~convergent.FEATURE_CUDA == 0
    if not convergent.cuda_device_available():
        with pytest.raises(convergent.ConvergentError) as info:
            convergent.Context("cuda")
        assert info.value.code == "unsupported"
    with pytest.raises(TypeError, match="backend must be"):
        convergent.max_weight_matching(np.eye(2), backend=3)


# ---- compare on arrays --------------------------------------------------------------------

@pytest.fixture(scope="module")
def arrays_result(request):
    convergent = request.getfixturevalue("convergent")
    a1, b1 = two_nets(n=150, ua=6, ub=8, seed=1, positions=(2, 3))
    a2, b2 = two_nets(n=150, ua=10, ub=9, seed=2)
    nets = {"alpha": {"conv": a1, "fc": a2}, "beta": {"conv": b1, "fc": b2}}
    calls = []
    result = convergent.compare(nets, progress=lambda layer, f: calls.append((layer, f)), mi_samples=500, seed=4)
    return convergent, nets, result, calls


def test_compare_arrays_figures_against_numpy(arrays_result):
    convergent, nets, result, calls = arrays_result
    assert result.nets == ["alpha", "beta"] and result.layers == ["conv", "fc"] and len(result) == 2
    assert result.summary["inputs"] == {"alpha": "<memory>", "beta": "<memory>"}
    assert result.options["mi_samples"] == 500 and result.options["seed"] == 4
    for layer in ("conv", "fc"):
        a, b = nets["alpha"][layer], nets["beta"][layer]
        lr = result[layer]
        c = numpy_corr(a, b)
        np.testing.assert_allclose(lr.correlation("alpha", "beta"), c, atol=1e-6)
        np.testing.assert_allclose(lr.correlation("beta", "alpha"), c.T, atol=1e-6)
        np.testing.assert_allclose(lr.correlation("beta", "beta"), numpy_corr(b, b), atol=1e-6)
        assert lr.correlation("alpha", "beta").dtype == np.float32
        assert not lr.correlation("alpha", "beta").flags.writeable
        assert lr.samples == as_samples(a).shape[0] and lr.units == {"alpha": a.shape[1], "beta": b.shape[1]}
        np.testing.assert_allclose(lr.mean("alpha"), as_samples(a).astype(np.float64).mean(axis=0), atol=1e-6)
        t = lr.table1("alpha", "beta")
        rows, cols = linear_sum_assignment(c, maximize=True)
        assert t["semi_matching_mean"] == pytest.approx(c.max(axis=1).mean(), abs=1e-6)
        assert t["matching_mean"] == pytest.approx(c[rows, cols].mean(), abs=1e-6)
        assert lr.mutual_information("alpha", "beta").shape == (a.shape[1], b.shape[1])
    rows = result.table1()
    assert [(r["layer"], r["net_a"], r["net_b"]) for r in rows] == [("conv", "alpha", "beta"), ("fc", "alpha", "beta")]
    # progress: every layer, fractions in [0, 1] ending at 1
    for layer in ("conv", "fc"):
        fractions = [f for l, f in calls if l == layer]
        assert fractions and fractions[-1] == 1.0 and all(0 <= f <= 1 for f in fractions)


def test_compare_arrays_equals_statistics_and_layouts(arrays_result):
    convergent, nets, result, _ = arrays_result
    a, b = nets["alpha"]["conv"], nets["beta"]["conv"]
    nhwc = convergent.compare({"alpha": {"conv": np.ascontiguousarray(a.transpose(0, 2, 3, 1))},
                               "beta": {"conv": np.ascontiguousarray(b.transpose(0, 2, 3, 1))}},
                              layout="NHWC", mi_samples=500, seed=4, progress=False)
    for key in ("correlation", "mutual_information", "sparse_prediction"):
        assert nhwc["conv"].pair("alpha", "beta")[key] == result["conv"].pair("alpha", "beta")[key], key
    np.testing.assert_array_equal(nhwc["conv"].correlation("alpha", "beta"), result["conv"].correlation("alpha", "beta"))
    # a list of nets is named net1, net2
    listed = convergent.compare([{"fc": nets["alpha"]["fc"]}, {"fc": nets["beta"]["fc"]}], progress=False,
                                mutual_information=False, clustering=False, sparse_prediction=False)
    assert listed.nets == ["net1", "net2"]


def test_compare_arrays_errors(convergent):
    a, b = two_nets(n=40)
    bad = b.copy()
    bad[3, 1] = np.inf
    with pytest.raises(convergent.ConvergentError) as info:
        convergent.compare({"a": {"fc": a}, "b": {"fc": bad}}, progress=False)
    assert info.value.code == "bad_data" and "'b'" in str(info.value) and "fc" in str(info.value)
    with pytest.raises(convergent.ConvergentError, match="fc"):
        convergent.compare({"a": {"fc": a}, "b": {"fc": b[:30]}}, progress=False)
    with pytest.raises(convergent.ConvergentError, match="conv"):
        convergent.compare({"a": {"fc": a}, "b": {"conv": b}}, progress=False)
    with pytest.raises(ValueError, match="at least two nets"):
        convergent.compare({"a": {"fc": a}})
    with pytest.raises(TypeError, match="not a mix"):
        convergent.compare({"a": {"fc": a}, "b": "b.npz"})
    with pytest.raises(TypeError, match="expected an array"):
        convergent.compare({"a": {"fc": a}, "b": {"fc": "b.npy"}})
    with pytest.raises(KeyError, match="did you mean 'fc'"):
        convergent.compare({"a": {"fc": a}, "b": {"fc": b}}, progress=False, mutual_information=False)["fcc"]


def test_progress_callback_exceptions_propagate(convergent):
    a, b = two_nets(n=40)

    def stop(layer, fraction):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        convergent.compare({"a": {"fc": a}, "b": {"fc": b}}, progress=stop)


def test_save_load_and_report_like_the_cli(arrays_result, cli, tmp_path):
    convergent, nets, result, _ = arrays_result
    out = Path(result.save(tmp_path / "saved"))
    summary = json.loads((out / "summary.json").read_text())
    assert summary == result.summary and (out / "summary.json").read_text() == result.summary_json()
    for path, array in result.arrays.items():
        saved = np.load(out / path)
        # Image indices and positions of the top-k are int64 on disk (held as
        # float32 in memory: exact below 2^24 inputs).
        integral = path.endswith((".topk.npy", ".topk_positions.npy"))
        assert saved.dtype == (np.int64 if integral else np.float32) and np.array_equal(saved, array), path
    on_disk = {str(p.relative_to(out)) for p in out.rglob("*.npy")}
    assert on_disk == set(result.arrays)
    with pytest.raises(convergent.ConvergentError) as info:
        result.save(out)
    assert info.value.code == "io"
    result.save(out, overwrite=True)
    loaded = convergent.load(out)
    assert loaded.summary == result.summary and set(loaded.arrays) == set(result.arrays)
    np.testing.assert_array_equal(loaded["fc"].correlation("alpha", "beta"), result["fc"].correlation("alpha", "beta"))
    rebuilt = convergent.Result(result.summary, {p: np.array(a) for p, a in result.arrays.items()})
    assert rebuilt.summary_json() == result.summary_json()
    # the report: byte for byte the page `convergent report` writes for the saved directory
    proc = run_cli("report", out, "--out", tmp_path / "cli.html", check=False)
    if proc.returncode != 0 and "without the viewer" in proc.stderr:
        with pytest.raises(convergent.ConvergentError, match="without the report viewer"):
            result.report(tmp_path / "api.html")
        return
    assert proc.returncode == 0, proc.stderr
    assert result.report(tmp_path / "api.html") == str(tmp_path / "api.html")
    assert (tmp_path / "api.html").read_bytes() == (tmp_path / "cli.html").read_bytes()
    assert convergent.report(out, tmp_path / "dir.html") == str(tmp_path / "dir.html")
    assert (tmp_path / "dir.html").read_bytes() == (tmp_path / "cli.html").read_bytes()
    # --full-precision (float32 matrices) from Python too, and it differs from the float16 page
    run_cli("report", out, "--out", tmp_path / "cli_full.html", "--full-precision")
    result.report(tmp_path / "api_full.html", full_precision=True)
    convergent.report(out, tmp_path / "dir_full.html", full_precision=True)
    full = (tmp_path / "cli_full.html").read_bytes()
    assert full != (tmp_path / "cli.html").read_bytes()
    assert (tmp_path / "api_full.html").read_bytes() == full == (tmp_path / "dir_full.html").read_bytes()


# ---- the batch-by-batch engine of convergent.torch.compare --------------------------------

def test_session_batches_equal_compare_on_the_whole_arrays(convergent, tmp_path):
    a1, b1 = two_nets(n=200, ua=6, ub=5, seed=8, positions=(2, 2))
    a2, b2 = two_nets(n=200, ua=9, ub=9, seed=9)
    whole = convergent.compare({"x": {"conv": a1, "fc": a2}, "y": {"conv": b1, "fc": b2}}, progress=False,
                               mi_samples=400, seed=2)
    session = convergent._core.Session(["x", "y"], {"mi_samples": 400, "seed": 2}, 200)
    assert session.backend in ("cpu", "cuda")
    for first in (0, 120):
        rows = slice(first, first + 120 if first == 0 else 200)
        pending = a1[rows].copy()
        session.push(0, "conv", pending)
        pending[:] = 0.0  # read in place when the batch completes: this would show
        pending[:] = a1[rows]
        session.push(0, "fc", a2[rows])
        session.push(1, "conv", b1[rows])
        session.push(1, "fc", b2[rows])
    assert session.layers() == ["conv", "fc"]
    text, data = session.finish(tmp_path / "session")
    streamed = convergent.Result(json.loads(text), data)
    assert streamed.summary == json.loads((tmp_path / "session" / "summary.json").read_text())
    for layer in ("conv", "fc"):
        got, want = streamed[layer], whole[layer]
        np.testing.assert_allclose(got.correlation("x", "y"), want.correlation("x", "y"), atol=1e-6)
        for key, value in want.table1("x", "y").items():
            assert got.table1("x", "y")[key] == pytest.approx(value, abs=1e-6), (layer, key)
        # images known: the Sec. 3.2 sample rows are the CLI's, so MI agrees too
        np.testing.assert_allclose(got.mutual_information("x", "y"), want.mutual_information("x", "y"), atol=1e-6)
    with pytest.raises(convergent.ConvergentError, match="finished"):
        session.push(0, "fc", a2)


def test_session_errors_name_net_and_layer(convergent):
    a, b = two_nets(n=50)
    session = convergent._core.Session(["x", "y"], None, 0)
    session.push(0, "fc", a)
    with pytest.raises(convergent.ConvergentError, match="fc"):
        session.push(1, "fc", b[:20])
    with pytest.raises(TypeError, match="did you mean 'mi_bins'"):
        convergent._core.Session(["x", "y"], {"mi_binz": 3}, 0)


def test_report_without_the_viewer_is_a_clear_error(convergent, monkeypatch, tmp_path):
    a, b = two_nets(n=40)
    result = convergent.compare({"a": {"fc": a}, "b": {"fc": b}}, progress=False, mutual_information=False)
    monkeypatch.setattr(convergent._core, "viewer_available", lambda: False)
    with pytest.raises(convergent.ConvergentError, match="built without the report viewer.*emscripten") as info:
        result.report(tmp_path / "r.html")
    assert info.value.code == "unsupported" and info.value.status == convergent.E_UNSUPPORTED
    assert not (tmp_path / "r.html").exists()
