"""ctypes caller of libconvergent's C ABI (capi/include/convergent.h), kept
as the C ABI's Python test client (tests/python/test_ctypes_wrapper.py, the
dead-unit and option-table tests). It was python/convergent.py, the Python
API of version 0.1; the Python package is now `convergent` (python/convergent,
a compiled module over the C++ core, docs/python.md).

NumPy arrays in and out; every failing call raises ConvergentError carrying
the status code and cvg_last_error(). The library is looked up in this order:
  1. the environment variable CONVERGENT_LIBRARY (a path to the .so),
  2. libconvergent.so* next to this module,
  3. the system (ctypes.util.find_library / the loader's search path).

Indices returned (units, columns, cluster ids) are 0-based; -1 marks an
unmatched row of a max-weight matching.

    import numpy as np, capi_ctypes as cvg
    with cvg.Stats([3, 4]) as st:
        st.push(0, a); st.push(1, b); st.finalize()
        corr = st.correlation(0, 1)
    m = cvg.max_weight_matching(corr)

Every `backend=` argument takes "auto" / "cpu" / "cuda" (a process-wide
default backend instance is used) or a Context (one backend instance the
caller creates once and reuses, e.g. one CUDA context for many calls):

    with cvg.Context("cuda") as gpu:
        m = cvg.max_weight_matching(corr, backend=gpu)
"""
from __future__ import annotations

import ctypes
import ctypes.util
import glob
import os
from typing import Dict, Iterable, List, Optional, Sequence

import numpy as np

OK = 0
E_INVALID_ARG, E_IO, E_UNSUPPORTED, E_OUT_OF_MEMORY, E_DEVICE, E_BAD_DATA, E_INTERNAL = range(-1, -8, -1)
ROW_MAJOR, COL_MAJOR = 0, 1
BACKENDS = {"auto": 0, "cpu": 1, "cuda": 2}
FEATURE_CUDA = 1
FEATURE_MPI = 2

# CVG_OPT_* keys by option name: the "name" column of the option table
# (libcore/src/options.cpp; `convergent options --json`), which
# tests/python/test_option_table.py checks this against.
OPTION_KEYS = {
    "backend": 1, "seed": 2, "chunk_rows": 3, "layout": 4, "layers": 5, "overwrite": 6,
    "correlation_matching": 7, "mutual_information": 8, "sparse_prediction": 9, "clustering": 10,
    "mean_activation": 11, "mi_bins": 12, "mi_samples": 13, "mi_zero_threshold": 14,
    "lasso_alphas": 15, "lasso_tol": 16, "lasso_max_iter": 17, "lasso_weights": 18,
    "cluster_tau": 19, "cluster_alpha": 20, "cluster_k": 21, "kmeans_n_init": 22,
    "cluster_hierarchical": 23, "cluster_split_k": 24, "cluster_eigengap_candidates": 25,
    "cluster_normalize_rows": 26, "max_memory_mb": 27, "timings": 28, "statistics_precision": 60,
    "dead_units": 29,
    "similarity_indices": 30, "svcca_variance": 31, "procrustes_alpha": 32, "cca_ridge": 33,
    "cross_layers": 40, "cross_layers_batch": 41,
    "top_patches": 50, "top_k": 51, "images": 52, "receptive_field": 53,
    "bootstrap": 70, "bootstrap_blocks": 71, "confidence": 72, "holdout": 73, "permutations": 74,
    "baseline_nets": 75,
}
# Names of version 0.1, still accepted.
OPTION_ALIASES = {"channels_last": "layout", "matching": "correlation_matching",
                  "lasso_keep_weights": "lasso_weights"}
_DOUBLE_KEYS = {"mi_zero_threshold", "lasso_tol", "cluster_tau", "cluster_alpha", "svcca_variance", "procrustes_alpha", "cca_ridge", "confidence", "holdout"}
_STRING_KEYS = {"layers", "lasso_alphas", "images", "receptive_field", "baseline_nets"}
_ERROR_NAMES = {
    E_INVALID_ARG: "CVG_E_INVALID_ARG", E_IO: "CVG_E_IO", E_UNSUPPORTED: "CVG_E_UNSUPPORTED",
    E_OUT_OF_MEMORY: "CVG_E_OUT_OF_MEMORY", E_DEVICE: "CVG_E_DEVICE", E_BAD_DATA: "CVG_E_BAD_DATA",
    E_INTERNAL: "CVG_E_INTERNAL",
}


class ConvergentError(RuntimeError):
    """A C ABI call failed: .status is the CVG_E_* code, .message cvg_last_error()."""

    def __init__(self, status: int, message: str):
        super().__init__(f"{_ERROR_NAMES.get(status, status)}: {message}")
        self.status = status
        self.message = message


def _find_library() -> str:
    env = os.environ.get("CONVERGENT_LIBRARY")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    local = sorted(glob.glob(os.path.join(here, "libconvergent.so*")))
    if local:
        return local[0]
    found = ctypes.util.find_library("convergent")
    return found or "libconvergent.so.0"


_c = ctypes
_i32, _i64, _dbl, _flt, _p = _c.c_int32, _c.c_int64, _c.c_double, _c.c_float, _c.c_void_p
_P = _c.POINTER
_lib = _c.CDLL(_find_library())

# name: (restype, argtypes); restype c_int means "status, checked".
_SIGNATURES = {
    "cvg_version": (_c.c_char_p, []),
    "cvg_version_number": (_i32, []),
    "cvg_features": (_i32, []),
    "cvg_cuda_device_available": (_i32, []),
    "cvg_last_error": (_c.c_char_p, []),
    "cvg_context_create": (_c.c_int, [_P(_p), _i32]),
    "cvg_context_destroy": (None, [_p]),
    "cvg_context_backend": (_c.c_int, [_p, _P(_i32)]),
    "cvg_context_description": (_c.c_int, [_p, _c.c_char_p, _i64, _P(_i64)]),
    "cvg_stats_create_ctx": (_c.c_int, [_P(_p), _p, _i32, _P(_i64)]),
    "cvg_stats_load_ctx": (_c.c_int, [_P(_p), _p, _c.c_char_p]),
    "cvg_stats_mean_n": (_c.c_int, [_p, _i32, _P(_dbl), _i64]),
    "cvg_stats_std_n": (_c.c_int, [_p, _i32, _P(_dbl), _i64]),
    "cvg_stats_dead_units_n": (_c.c_int, [_p, _i32, _P(_i64), _P(_i64), _i64]),
    "cvg_max_weight_matching_ctx": (_c.c_int, [_p, _P(_dbl), _i64, _i64, _i64, _i32, _P(_i64), _P(_dbl),
                                               _P(_dbl), _P(_dbl), _P(_dbl), _P(_dbl)]),
    "cvg_align_ctx": (_c.c_int, [_p, _P(_dbl), _i64, _i64, _i64, _i32, _P(_i64), _P(_i64), _P(_dbl),
                                 _P(_i64), _P(_i64)]),
    "cvg_mutual_information_ctx": (_c.c_int, [_p, _p, _p, _P(_dbl), _i64, _i32]),
    "cvg_spectral_clustering_ctx": (_c.c_int, [_P(_p), _p, _p, _i32, _i32, _p]),
    "cvg_options_create": (_c.c_int, [_P(_p)]),
    "cvg_options_destroy": (None, [_p]),
    "cvg_options_set_int": (_c.c_int, [_p, _i32, _i64]),
    "cvg_options_set_double": (_c.c_int, [_p, _i32, _dbl]),
    "cvg_options_set_string": (_c.c_int, [_p, _i32, _c.c_char_p]),
    "cvg_options_get_int": (_c.c_int, [_p, _i32, _P(_i64)]),
    "cvg_options_get_double": (_c.c_int, [_p, _i32, _P(_dbl)]),
    "cvg_options_get_string": (_c.c_int, [_p, _i32, _c.c_char_p, _i64, _P(_i64)]),
    "cvg_stats_create": (_c.c_int, [_P(_p), _i32, _P(_i64), _i32]),
    "cvg_stats_destroy": (None, [_p]),
    "cvg_stats_backend": (_c.c_char_p, [_p]),
    "cvg_stats_nets": (_c.c_int, [_p, _P(_i32)]),
    "cvg_stats_units": (_c.c_int, [_p, _i32, _P(_i64)]),
    "cvg_stats_push": (_c.c_int, [_p, _i32, _P(_flt), _i64, _i64, _i32]),
    "cvg_stats_merge": (_c.c_int, [_p, _p]),
    "cvg_stats_enable_top_k": (_c.c_int, [_p, _i64, _i64, _i64]),
    "cvg_stats_top_k": (_c.c_int, [_p, _i32, _P(_i64), _P(_i64), _P(_flt), _i64]),
    "cvg_stats_finalize": (_c.c_int, [_p]),
    "cvg_stats_samples": (_c.c_int, [_p, _P(_i64)]),
    "cvg_stats_mean": (_c.c_int, [_p, _i32, _P(_dbl)]),
    "cvg_stats_std": (_c.c_int, [_p, _i32, _P(_dbl)]),
    "cvg_stats_correlation": (_c.c_int, [_p, _i32, _i32, _P(_dbl), _i64, _i32]),
    "cvg_stats_dead_units": (_c.c_int, [_p, _i32, _P(_i64), _P(_i64)]),
    "cvg_stats_save": (_c.c_int, [_p, _c.c_char_p]),
    "cvg_stats_load": (_c.c_int, [_P(_p), _c.c_char_p, _i32]),
    "cvg_semi_matching": (_c.c_int, [_P(_dbl), _i64, _i64, _i64, _i32, _P(_i64), _P(_dbl), _P(_dbl)]),
    "cvg_max_weight_matching": (_c.c_int, [_P(_dbl), _i64, _i64, _i64, _i32, _i32, _P(_i64), _P(_dbl),
                                           _P(_dbl), _P(_dbl), _P(_dbl), _P(_dbl)]),
    "cvg_table1": (_c.c_int, [_p, _i32, _i32, _p, _P(_dbl), _P(_dbl), _P(_dbl)]),
    "cvg_align": (_c.c_int, [_P(_dbl), _i64, _i64, _i64, _i32, _i32, _P(_i64), _P(_i64), _P(_dbl),
                             _P(_i64), _P(_i64)]),
    "cvg_sample_rows": (_c.c_int, [_i64, _i64, _i64, _P(_i64)]),
    "cvg_bin_units": (_c.c_int, [_P(_p), _P(_flt), _i64, _i64, _i64, _i32, _p]),
    "cvg_binned_destroy": (None, [_p]),
    "cvg_binned_shape": (_c.c_int, [_p, _P(_i64), _P(_i64), _P(_i32)]),
    "cvg_binned_codes": (_c.c_int, [_p, _P(_i32), _i64, _i32]),
    "cvg_binned_edges": (_c.c_int, [_p, _i64, _P(_i64), _P(_dbl), _i64]),
    "cvg_mutual_information": (_c.c_int, [_p, _p, _i32, _P(_dbl), _i64, _i32]),
    "cvg_sparse_prediction": (_c.c_int, [_P(_p), _p, _i32, _i32, _p]),
    "cvg_sparse_destroy": (None, [_p]),
    "cvg_sparse_shape": (_c.c_int, [_p, _P(_i64), _P(_i64), _P(_i64)]),
    "cvg_sparse_alphas": (_c.c_int, [_p, _P(_dbl)]),
    "cvg_sparse_mean_loss": (_c.c_int, [_p, _P(_dbl)]),
    "cvg_sparse_mean_nonzero": (_c.c_int, [_p, _P(_dbl)]),
    "cvg_sparse_max_duality_gap": (_c.c_int, [_p, _P(_dbl)]),
    "cvg_sparse_converged": (_c.c_int, [_p, _P(_i32)]),
    "cvg_sparse_loss": (_c.c_int, [_p, _P(_dbl), _i64, _i32]),
    "cvg_sparse_nonzero": (_c.c_int, [_p, _P(_i64), _i64, _i32]),
    "cvg_sparse_weights": (_c.c_int, [_p, _i64, _P(_dbl), _i64, _i32]),
    "cvg_spectral_clustering": (_c.c_int, [_P(_p), _p, _i32, _i32, _p]),
    "cvg_clustering_destroy": (None, [_p]),
    "cvg_clustering_count": (_c.c_int, [_p, _P(_i64)]),
    "cvg_clustering_k": (_c.c_int, [_p, _P(_i64), _P(_i64)]),
    "cvg_clustering_node": (_c.c_int, [_p, _i64, _P(_i64), _P(_i32), _P(_i32), _P(_dbl), _P(_dbl)]),
    "cvg_clustering_members": (_c.c_int, [_p, _i64, _i32, _P(_i64), _P(_i64), _i64]),
    "cvg_clustering_children": (_c.c_int, [_p, _i64, _P(_i64), _P(_i64), _i64]),
    "cvg_clustering_eigenvalues": (_c.c_int, [_p, _P(_i64), _P(_dbl), _i64]),
    "cvg_clustering_leaves": (_c.c_int, [_p, _P(_i64), _P(_i64), _i64]),
    "cvg_clustering_similarities": (_c.c_int, [_p, _P(_i64), _P(_dbl), _P(_dbl), _i64]),
    "cvg_clustering_permutation": (_c.c_int, [_p, _P(_i64), _P(_i64), _i64]),
    "cvg_mean_activation_sorted": (_c.c_int, [_p, _i32, _P(_dbl), _P(_dbl)]),
    "cvg_mean_activation_distance": (_c.c_int, [_p, _i32, _i32, _P(_dbl)]),
    "cvg_mean_activation_ratio": (_c.c_int, [_p, _P(_dbl)]),
    "cvg_compare": (_c.c_int, [_P(_c.c_char_p), _i32, _c.c_char_p, _p]),
}


def _last_error() -> str:
    return _lib.cvg_last_error().decode("utf-8", "replace")


def _errcheck(status, func, args):
    if status != OK:
        raise ConvergentError(status, _last_error())
    return status


# Functions returning a value, not a status. ctypes.c_int32 IS c_int here, so
# the restype alone cannot tell them apart: cvg_features() of a CUDA build
# (a non-zero bit set) was taken for a failed status.
_VALUE_RESULTS = {"cvg_version", "cvg_version_number", "cvg_features", "cvg_cuda_device_available",
                  "cvg_last_error"}

for _name, (_restype, _argtypes) in _SIGNATURES.items():
    _f = getattr(_lib, _name)
    _f.restype = _restype
    _f.argtypes = _argtypes
    if _restype is _c.c_int and _name not in _VALUE_RESULTS:
        _f.errcheck = _errcheck


def _ptr(array: np.ndarray, ctype):
    return array.ctypes.data_as(_P(ctype))


def _matrix(a, dtype) -> tuple:
    """(array, ld, layout) for a 2-D array without copying when it is C- or
    F-contiguous in the right dtype; a copy otherwise."""
    arr = np.asarray(a)
    if arr.ndim != 2:
        raise ValueError(f"expected a 2-D array, got shape {arr.shape}")
    if arr.dtype != dtype or not (arr.flags.c_contiguous or arr.flags.f_contiguous):
        arr = np.ascontiguousarray(arr, dtype=dtype)
    if arr.flags.c_contiguous:
        return arr, max(arr.shape[1], 1), ROW_MAJOR
    return arr, max(arr.shape[0], 1), COL_MAJOR


def _backend(backend) -> int:
    if isinstance(backend, str):
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r} (auto, cpu, cuda)")
        return BACKENDS[backend]
    return int(backend)


def version() -> str:
    return _lib.cvg_version().decode()


def features() -> int:
    return int(_lib.cvg_features())


def cuda_device_available() -> bool:
    return bool(_lib.cvg_cuda_device_available())


class _Handle:
    _destroy = None

    def __init__(self):
        self._h = _p()

    @property
    def handle(self):
        return self._h

    def close(self):
        if self._h:
            type(self)._destroy(self._h)
            self._h = _p()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


class Context(_Handle):
    """cvg_context: one backend instance ("auto", "cpu" or "cuda"), created
    once and passed as `backend=` to Stats, Stats.load, max_weight_matching,
    align, mutual_information and Stats.spectral_clustering(context=...).
    Safe to share between threads. Handles created from it keep the backend
    alive, so it may be closed before them."""

    _destroy = _lib.cvg_context_destroy

    def __init__(self, backend="auto"):
        super().__init__()
        _lib.cvg_context_create(_c.byref(self._h), _backend(backend))

    @property
    def backend(self) -> str:
        """The backend it resolved to: "cpu" or "cuda"."""
        out = _i32()
        _lib.cvg_context_backend(self._h, _c.byref(out))
        return {v: k for k, v in BACKENDS.items()}[out.value]

    @property
    def description(self) -> str:
        length = _i64()
        _lib.cvg_context_description(self._h, None, 0, _c.byref(length))
        buf = _c.create_string_buffer(length.value + 1)
        _lib.cvg_context_description(self._h, buf, length.value + 1, _c.byref(length))
        return buf.value.decode("utf-8", "replace")


class Options(_Handle):
    """cvg_options; keyword arguments are option names of OPTION_KEYS."""

    _destroy = _lib.cvg_options_destroy

    def __init__(self, **values):
        super().__init__()
        _lib.cvg_options_create(_c.byref(self._h))
        for name, value in values.items():
            self.set(name, value)

    def set(self, name: str, value) -> "Options":
        name = OPTION_ALIASES.get(name, name)
        if name not in OPTION_KEYS:
            raise KeyError(f"unknown option {name!r}")
        key = OPTION_KEYS[name]
        if name in _STRING_KEYS or isinstance(value, str):
            if not isinstance(value, str):
                value = ",".join(repr(float(v)) if name == "lasso_alphas" else str(v) for v in value)
            _lib.cvg_options_set_string(self._h, key, value.encode())
        elif name in _DOUBLE_KEYS:
            _lib.cvg_options_set_double(self._h, key, float(value))
        else:
            _lib.cvg_options_set_int(self._h, key, int(value))
        return self

    def get(self, name: str):
        name = OPTION_ALIASES.get(name, name)
        key = OPTION_KEYS[name]
        if name in _STRING_KEYS:
            length = _i64()
            _lib.cvg_options_get_string(self._h, key, None, 0, _c.byref(length))
            buf = _c.create_string_buffer(length.value + 1)
            _lib.cvg_options_get_string(self._h, key, buf, length.value + 1, _c.byref(length))
            return buf.value.decode()
        if name in _DOUBLE_KEYS:
            out = _dbl()
            _lib.cvg_options_get_double(self._h, key, _c.byref(out))
        else:
            out = _i64()
            _lib.cvg_options_get_int(self._h, key, _c.byref(out))
        return out.value


def _options_handle(options) -> tuple:
    """(keep-alive object, handle) from None, an Options or a dict."""
    if options is None:
        return None, None
    if isinstance(options, Options):
        return options, options.handle
    opts = Options(**options)
    return opts, opts.handle


class Stats(_Handle):
    """Streaming statistics of one layer of several nets (paper Sec. 2)."""

    _destroy = _lib.cvg_stats_destroy

    def __init__(self, units: Sequence[int], backend="cpu"):
        super().__init__()
        u = np.ascontiguousarray(units, dtype=np.int64)
        if isinstance(backend, Context):
            _lib.cvg_stats_create_ctx(_c.byref(self._h), backend.handle, len(u), _ptr(u, _i64))
        else:
            _lib.cvg_stats_create(_c.byref(self._h), len(u), _ptr(u, _i64), _backend(backend))

    @classmethod
    def load(cls, path: str, backend="cpu") -> "Stats":
        self = cls.__new__(cls)
        _Handle.__init__(self)
        if isinstance(backend, Context):
            _lib.cvg_stats_load_ctx(_c.byref(self._h), backend.handle, os.fsencode(path))
        else:
            _lib.cvg_stats_load(_c.byref(self._h), os.fsencode(path), _backend(backend))
        return self

    @property
    def backend(self) -> str:
        return _lib.cvg_stats_backend(self._h).decode()

    @property
    def nets(self) -> int:
        out = _i32()
        _lib.cvg_stats_nets(self._h, _c.byref(out))
        return out.value

    def units(self, net: int) -> int:
        out = _i64()
        _lib.cvg_stats_units(self._h, net, _c.byref(out))
        return out.value

    def push(self, net: int, data) -> None:
        arr, ld, layout = _matrix(data, np.float32)
        if arr.shape[1] != self.units(net):
            # the C ABI would read the first units(net) columns of a wider
            # matrix (ld > units is legal there); in Python it is a mistake
            raise ValueError(f"net {net} has {self.units(net)} units, data has {arr.shape[1]} columns")
        _lib.cvg_stats_push(self._h, net, _ptr(arr, _flt), arr.shape[0], ld, layout)

    def merge(self, other: "Stats") -> None:
        _lib.cvg_stats_merge(self._h, other.handle)

    def finalize(self) -> None:
        _lib.cvg_stats_finalize(self._h)

    @property
    def samples(self) -> int:
        out = _i64()
        _lib.cvg_stats_samples(self._h, _c.byref(out))
        return out.value

    def _vector(self, fn, net):
        out = np.empty(self.units(net), dtype=np.float64)
        fn(self._h, net, _ptr(out, _dbl), out.size)
        return out

    def mean(self, net: int) -> np.ndarray:
        return self._vector(_lib.cvg_stats_mean_n, net)

    def std(self, net: int) -> np.ndarray:
        return self._vector(_lib.cvg_stats_std_n, net)

    def correlation(self, net_a: int, net_b: int) -> np.ndarray:
        out = np.empty((self.units(net_a), self.units(net_b)), dtype=np.float64)
        _lib.cvg_stats_correlation(self._h, net_a, net_b, _ptr(out, _dbl), max(out.shape[1], 1), ROW_MAJOR)
        return out

    def dead_units(self, net: int) -> np.ndarray:
        return _sized(_lib.cvg_stats_dead_units_n, self._h, net)

    def save(self, path: str) -> None:
        _lib.cvg_stats_save(self._h, os.fsencode(path))

    # ---- analyses on the finalised statistics
    def table1(self, net_a: int, net_b: int, dead_units: str = "exclude") -> Dict[str, float]:
        """Table 1 of a net pair with the CLI's conventions: dead units
        excluded (default) or included with correlation 0 ("include", the
        paper's own code). semi_matching(stats.correlation(a, b)) keeps
        dead units at 0 instead; this is the figure `convergent compare`
        reports."""
        keep, opts = _options_handle({"dead_units": dead_units})
        semi, matching, overlap = _dbl(), _dbl(), _dbl()
        _lib.cvg_table1(self._h, net_a, net_b, opts, _c.byref(semi), _c.byref(matching), _c.byref(overlap))
        return {"semi_matching_mean": semi.value, "matching_mean": matching.value, "overlap_ratio": overlap.value}

    def sparse_prediction(self, target_net: int, predictor_net: int, options=None) -> Dict[str, np.ndarray]:
        keep, opts = _options_handle(options)
        sp = _p()
        _lib.cvg_sparse_prediction(_c.byref(sp), self._h, target_net, predictor_net, opts)
        try:
            n_alphas, targets, predictors = _i64(), _i64(), _i64()
            _lib.cvg_sparse_shape(sp, _c.byref(n_alphas), _c.byref(targets), _c.byref(predictors))
            a, t, p = n_alphas.value, targets.value, predictors.value
            result = {}
            for name, fn in (("alphas", _lib.cvg_sparse_alphas), ("mean_loss", _lib.cvg_sparse_mean_loss),
                             ("mean_nonzero", _lib.cvg_sparse_mean_nonzero),
                             ("max_duality_gap", _lib.cvg_sparse_max_duality_gap)):
                out = np.empty(a, dtype=np.float64)
                fn(sp, _ptr(out, _dbl))
                result[name] = out
            conv = np.empty(a, dtype=np.int32)
            _lib.cvg_sparse_converged(sp, _ptr(conv, _i32))
            result["converged"] = conv.astype(bool)
            loss = np.empty((a, t), dtype=np.float64)
            _lib.cvg_sparse_loss(sp, _ptr(loss, _dbl), max(t, 1), ROW_MAJOR)
            nonzero = np.empty((a, t), dtype=np.int64)
            _lib.cvg_sparse_nonzero(sp, _ptr(nonzero, _i64), max(t, 1), ROW_MAJOR)
            result["loss"], result["nonzero"] = loss, nonzero
            if keep is not None and keep.get("lasso_keep_weights"):
                weights = np.empty((a, t, p), dtype=np.float64)
                for i in range(a):
                    _lib.cvg_sparse_weights(sp, i, _ptr(weights[i], _dbl), max(p, 1), ROW_MAJOR)
                result["weights"] = weights
            return result
        finally:
            _lib.cvg_sparse_destroy(sp)

    def spectral_clustering(self, net_a: int, net_b: int, options=None, context: Optional[Context] = None) -> dict:
        """context: run the eigensolves on this Context instead of the stats' backend."""
        keep, opts = _options_handle(options)
        cl = _p()
        if context is not None:
            _lib.cvg_spectral_clustering_ctx(_c.byref(cl), context.handle, self._h, net_a, net_b, opts)
        else:
            _lib.cvg_spectral_clustering(_c.byref(cl), self._h, net_a, net_b, opts)
        try:
            return _clustering_dict(cl)
        finally:
            _lib.cvg_clustering_destroy(cl)
            del keep

    def mean_activation_sorted(self, net: int) -> tuple:
        out = np.empty(self.units(net), dtype=np.float64)
        spread = _dbl()
        _lib.cvg_mean_activation_sorted(self._h, net, _ptr(out, _dbl), _c.byref(spread))
        return out, spread.value

    def mean_activation_distance(self, net_a: int, net_b: int) -> float:
        out = _dbl()
        _lib.cvg_mean_activation_distance(self._h, net_a, net_b, _c.byref(out))
        return out.value

    def mean_activation_ratio(self) -> float:
        out = _dbl()
        _lib.cvg_mean_activation_ratio(self._h, _c.byref(out))
        return out.value


def _sized(fn, cl, *args, dtype=np.int64, ctype=_i64) -> np.ndarray:
    count = _i64()
    fn(cl, *args, _c.byref(count), None, 0)
    out = np.empty(count.value, dtype=dtype)
    fn(cl, *args, _c.byref(count), _ptr(out, ctype), count.value)
    return out


def _clustering_dict(cl) -> dict:
    n, k, k_gap = _i64(), _i64(), _i64()
    _lib.cvg_clustering_count(cl, _c.byref(n))
    _lib.cvg_clustering_k(cl, _c.byref(k), _c.byref(k_gap))
    clusters = []
    for cid in range(n.value):
        parent, depth, leaf, between, within = _i64(), _i32(), _i32(), _dbl(), _dbl()
        _lib.cvg_clustering_node(cl, cid, _c.byref(parent), _c.byref(depth), _c.byref(leaf),
                                 _c.byref(between), _c.byref(within))
        clusters.append({
            "id": cid, "parent": parent.value, "depth": depth.value, "leaf": bool(leaf.value),
            "members_a": _sized(_lib.cvg_clustering_members, cl, cid, 0),
            "members_b": _sized(_lib.cvg_clustering_members, cl, cid, 1),
            "children": _sized(_lib.cvg_clustering_children, cl, cid),
            "between_net_similarity": between.value, "within_net_similarity": within.value,
        })
    count = _i64()
    _lib.cvg_clustering_similarities(cl, _c.byref(count), None, None, 0)
    between = np.empty(count.value)
    within = np.empty(count.value)
    _lib.cvg_clustering_similarities(cl, _c.byref(count), _ptr(between, _dbl), _ptr(within, _dbl), count.value)
    return {
        "k": k.value, "k_eigengap": k_gap.value, "clusters": clusters,
        "eigenvalues": _sized(_lib.cvg_clustering_eigenvalues, cl, dtype=np.float64, ctype=_dbl),
        "leaves_by_similarity": _sized(_lib.cvg_clustering_leaves, cl),
        "permutation": _sized(_lib.cvg_clustering_permutation, cl),
        "sorted_between_net_similarity": between, "sorted_within_net_similarity": within,
    }


def semi_matching(similarity) -> dict:
    """Sec. 3.1 semi-matching: per row the best column (ties -> lowest)."""
    arr, ld, layout = _matrix(similarity, np.float64)
    rows = arr.shape[0]
    column = np.empty(rows, dtype=np.int64)
    value = np.empty(rows, dtype=np.float64)
    mean = _dbl()
    _lib.cvg_semi_matching(_ptr(arr, _dbl), rows, arr.shape[1], ld, layout, _ptr(column, _i64),
                           _ptr(value, _dbl), _c.byref(mean))
    return {"column": column, "value": value, "mean": mean.value}


def max_weight_matching(similarity, backend="cpu") -> dict:
    """Sec. 3.1 exact max-weight one-to-one matching with its LP certificate
    (linear_sum_assignment(maximize=True) semantics; -1 = unmatched row)."""
    arr, ld, layout = _matrix(similarity, np.float64)
    rows = arr.shape[0]
    column = np.empty(rows, dtype=np.int64)
    value = np.empty(rows, dtype=np.float64)
    mean, primal, dual, gap = _dbl(), _dbl(), _dbl(), _dbl()
    outputs = (_ptr(column, _i64), _ptr(value, _dbl), _c.byref(mean), _c.byref(primal), _c.byref(dual),
               _c.byref(gap))
    if isinstance(backend, Context):
        _lib.cvg_max_weight_matching_ctx(backend.handle, _ptr(arr, _dbl), rows, arr.shape[1], ld, layout, *outputs)
    else:
        _lib.cvg_max_weight_matching(_ptr(arr, _dbl), rows, arr.shape[1], ld, layout, _backend(backend), *outputs)
    return {"column": column, "value": value, "mean": mean.value, "primal": primal.value,
            "dual_bound": dual.value, "gap": gap.value}


def align(similarity, backend="cpu") -> dict:
    """Semi-matching, matching, Table 1 overlap, Fig. 3 order, Fig. 1d order."""
    arr, ld, layout = _matrix(similarity, np.float64)
    rows, cols = arr.shape
    semi, match, fig3 = (np.empty(rows, dtype=np.int64) for _ in range(3))
    order = np.empty(cols, dtype=np.int64)
    overlap = _dbl()
    outputs = (_ptr(semi, _i64), _ptr(match, _i64), _c.byref(overlap), _ptr(fig3, _i64), _ptr(order, _i64))
    if isinstance(backend, Context):
        _lib.cvg_align_ctx(backend.handle, _ptr(arr, _dbl), rows, cols, ld, layout, *outputs)
    else:
        _lib.cvg_align(_ptr(arr, _dbl), rows, cols, ld, layout, _backend(backend), *outputs)
    return {"semi_column": semi, "matching_column": match, "overlap_ratio": overlap.value,
            "fig3_order": fig3, "matched_order": order}


def sample_rows(total_rows: int, count: int, seed: int = 0) -> np.ndarray:
    out = np.empty(min(count, total_rows), dtype=np.int64)
    _lib.cvg_sample_rows(total_rows, count, seed, _ptr(out, _i64))
    return out


class Binned(_Handle):
    """Percentile-binned units of one net (Sec. 3.2, footnote 6)."""

    _destroy = _lib.cvg_binned_destroy

    def __init__(self, values, options=None):
        super().__init__()
        keep, opts = _options_handle(options)
        arr, ld, layout = _matrix(values, np.float32)
        _lib.cvg_bin_units(_c.byref(self._h), _ptr(arr, _flt), arr.shape[0], arr.shape[1], ld, layout, opts)
        del keep

    @property
    def shape(self) -> tuple:
        units, samples, bins = _i64(), _i64(), _i32()
        _lib.cvg_binned_shape(self._h, _c.byref(units), _c.byref(samples), _c.byref(bins))
        return units.value, samples.value, bins.value

    def codes(self) -> np.ndarray:
        units, samples, _ = self.shape
        out = np.empty((samples, units), dtype=np.int32)
        _lib.cvg_binned_codes(self._h, _ptr(out, _i32), max(units, 1), ROW_MAJOR)
        return out

    def edges(self, unit: int) -> np.ndarray:
        return _sized(_lib.cvg_binned_edges, self._h, unit, dtype=np.float64, ctype=_dbl)


def mutual_information(a: Binned, b: Binned, backend="cpu") -> np.ndarray:
    """All-pairs plug-in MI (nats), a.units x b.units."""
    out = np.empty((a.shape[0], b.shape[0]), dtype=np.float64)
    ld = max(out.shape[1], 1)
    if isinstance(backend, Context):
        _lib.cvg_mutual_information_ctx(backend.handle, a.handle, b.handle, _ptr(out, _dbl), ld, ROW_MAJOR)
    else:
        _lib.cvg_mutual_information(a.handle, b.handle, _backend(backend), _ptr(out, _dbl), ld, ROW_MAJOR)
    return out


def compare(inputs: Iterable[str], out_dir: str, options=None, **kwargs) -> None:
    """The whole pipeline (`convergent compare`) writing out_dir."""
    paths = [os.fsencode(p) for p in inputs]
    array = (_c.c_char_p * len(paths))(*paths)
    if options is None and kwargs:
        options = kwargs
    keep, opts = _options_handle(options)
    _lib.cvg_compare(array, len(paths), os.fsencode(out_dir), opts)
    del keep
