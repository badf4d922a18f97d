"""convergent: do independently trained networks learn the same features?

The analyses of Li, Yosinski, Clune, Lipson & Hopcroft, *Convergent Learning:
Do different neural networks learn the same representations?* (ICLR 2016),
on numpy arrays, torch tensors or activation files, with the same C++ core as
the ``convergent`` command (so the same data gives the same figures)::

    import convergent
    result = convergent.compare({"net1": {"conv1": a1, "fc7": b1},
                                 "net2": {"conv1": a2, "fc7": b2}}, mi_bins=20)
    result["fc7"].table1("net1", "net2")    # {'semi_matching_mean': ..., ...}
    result["conv1"].correlation("net1", "net2")  # numpy (units x units)
    result.save("results")                  # the layout of `convergent compare --out`
    result.report("report.html")            # the page of `convergent report`

PyTorch models and a loader, without writing activations:
``convergent.torch.compare(models, loader, layers=[...])`` (imported on
first use; ``import convergent`` never imports torch).

The single analyses: ``Statistics`` (streaming Sec. 2 statistics, pushed
batch by batch), ``semi_matching``, ``max_weight_matching``, ``align``
(Sec. 3.1), ``Binned`` and ``mutual_information`` (Sec. 3.2),
``sample_rows``. Options are the keyword names ``convergent options`` lists
(``option_names()``). Every error of the core raises ``ConvergentError``
(a RuntimeError with ``.status`` and ``.code``). docs/python.md has the
whole API.
"""
from __future__ import annotations

import difflib
import json
import os
import sys
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

try:
    from . import _core
except ImportError as _error:  # pragma: no cover - depends on how the package was obtained
    raise ImportError(
        f"convergent's compiled module convergent._core cannot be loaded ({_error}). "
        f"This package is at {os.path.dirname(os.path.abspath(__file__))}: a source tree has no "
        "compiled module. Build it (cmake -S . -B build && cmake --build build -j2: the importable "
        "package is then build/python/convergent) or install the package "
        "(pip install --no-build-isolation . , or cmake --install build); see docs/python.md."
    ) from _error

from ._core import (  # noqa: F401  (re-exported)
    E_BAD_DATA,
    E_DEVICE,
    E_INTERNAL,
    E_INVALID_ARG,
    E_IO,
    E_OUT_OF_MEMORY,
    E_UNSUPPORTED,
    FEATURE_CUDA,
    Binned,
    ConvergentError,
    Context,
    Statistics,
    align,
    cuda_device_available,
    features,
    max_weight_matching,
    mutual_information,
    sample_rows,
    semi_matching,
    version,
)


def similarity_indices(x: "ArrayLike", y: "ArrayLike", *,
                       options: "Optional[Union[_core.Options, Mapping[str, Any]]]" = None,
                       **keywords: Any) -> Dict[str, Any]:
    """Whole-layer similarity indices of two nets' activations held in memory.

    x: (N, p) or a conv layer (N, C, H, W) (``layout="NHWC"``: (N, H, W, C)),
    y likewise for the other net, the same inputs in the same order. Returns
    linear and debiased CKA, the canonical correlations and their mean, SVCCA,
    PWCCA (weights of x's canonical variates; ``pwcca_reverse``: y's) and the
    Procrustes distances, as ``compare`` writes them under
    ``pairs["a~b"]["similarity_indices"]`` (docs/summary_schema.md). Keywords:
    svcca_variance, procrustes_alpha, cca_ridge, layout.
    """
    return _core.similarity_indices(x, y, _options(options, keywords, "similarity_indices"))

__version__: str = _core.__version__

#: The name of version 0.1 (the ctypes wrapper).
Stats = Statistics

#: Option names of version 0.1 that are still accepted: {alias: option name}.
OPTION_ALIASES: Dict[str, str] = dict(_core.option_aliases())

ArrayLike = Any  # numpy arrays, torch tensors, anything with __dlpack__ or the buffer protocol
PathLike = Union[str, "os.PathLike[str]"]
ProgressCallback = Callable[[str, float], None]

__all__ = [
    "ConvergentError", "Context", "Options", "Statistics", "Stats", "Binned", "Result", "LayerResult",
    "compare", "load", "report", "similarity_indices", "semi_matching", "max_weight_matching", "align", "mutual_information",
    "sample_rows", "option_names", "option_table", "version", "features", "cuda_device_available",
    "viewer_available", "FEATURE_CUDA", "OPTION_ALIASES", "E_INVALID_ARG", "E_IO", "E_UNSUPPORTED",
    "E_OUT_OF_MEMORY", "E_DEVICE", "E_BAD_DATA", "E_INTERNAL",
]


# ---- options -----------------------------------------------------------------------------

def option_table() -> List[Dict[str, Any]]:
    """The option table (``convergent options --json``): one dict per option
    with its name, CLI flag, C key, type, range, default, step and help."""
    return _core.option_table()


def option_names() -> List[str]:
    """Every option name, in the order of ``convergent compare --help``."""
    return [row["name"] for row in _core.option_table()]


class Options(_core.Options):
    """Every option of ``convergent compare``, by name (``option_names()``),
    checked when set (ranges, choices: ``ConvergentError``; unknown names:
    ``TypeError`` listing close matches). Pass one as ``options=`` or give the
    same names as keywords to ``compare``.

        >>> opts = convergent.Options(mi_bins=10, dead_units="include")
        >>> opts["mi_bins"]
        10
    """

    def __init__(self, **options: Any) -> None:
        super().__init__()
        if options:
            self.update(**options)

    def __getitem__(self, name: str) -> Any:
        return self.get(name)

    def __setitem__(self, name: str, value: Any) -> None:
        self.set(name, value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _core.Options) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def copy(self) -> "Options":
        new = Options()
        new.assign(self)
        return new


def _options(options: Optional[Union[_core.Options, Mapping[str, Any]]], keywords: Mapping[str, Any],
             where: str) -> _core.Options:
    """One Options from an options= argument and keywords (keywords win)."""
    result = Options()
    if options is not None:
        if isinstance(options, _core.Options):
            result.assign(options)
        elif isinstance(options, Mapping):
            result.update_from(dict(options), where)
        else:
            raise TypeError(f"{where}: options must be a convergent.Options or a dict, not {type(options).__name__}")
    if keywords:
        result.update_from(dict(keywords), where)
    return result


# ---- progress ----------------------------------------------------------------------------

class _LayerBar:
    """A tqdm bar per layer on stderr (percent of the layer's pass)."""

    def __init__(self) -> None:
        from tqdm import tqdm  # Debian: python3-tqdm
        self._tqdm = tqdm
        self._bar = None
        self._layer: Optional[str] = None

    def __call__(self, layer: str, fraction: float) -> None:
        if layer != self._layer:
            self.close()
            self._layer = layer
            self._bar = self._tqdm(total=100, desc=layer, unit="%", leave=False, file=sys.stderr)
        assert self._bar is not None
        self._bar.update(max(0, round(100 * fraction) - self._bar.n))

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _progress(progress: Union[None, bool, ProgressCallback]):
    """(callback or None, closer): None = a bar when stderr is a terminal and
    tqdm is installed; True = a bar (tqdm required); False = nothing; a
    callable is called as progress(layer, fraction)."""
    if progress is False:
        return None, None
    if callable(progress):
        return progress, None
    if progress is None:
        if not (hasattr(sys.stderr, "isatty") and sys.stderr.isatty()):
            return None, None
        try:
            bar = _LayerBar()
        except ImportError:
            return None, None
        return bar, bar.close
    if progress is True:
        bar = _LayerBar()
        return bar, bar.close
    raise TypeError(f"progress must be None, True, False or a callable (layer, fraction), not {progress!r}")


# ---- compare ---------------------------------------------------------------------------

def _file_input(name: Optional[str], path: Any, where: str) -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{where}: expected a path (str or os.PathLike), got {type(path).__name__}")
    text = os.fspath(path)
    return f"{name}={text}" if name is not None else text


def _nets(nets: Any) -> Tuple[str, list]:
    """("arrays", [(name, [(layer, array), ...]), ...]) or ("files", [input, ...])."""
    if isinstance(nets, (str, os.PathLike)):
        raise TypeError("compare: nets must be several nets (a dict or a list), not one path")
    if isinstance(nets, Mapping):
        items = list(nets.items())
        for name, _ in items:
            if not isinstance(name, str):
                raise TypeError(f"compare: net names must be str, not {type(name).__name__} ({name!r})")
    elif isinstance(nets, Sequence):
        items = [(None, value) for value in nets]
    else:
        raise TypeError("compare: nets must be a dict {net name: {layer: array}} or {net name: path}, "
                        f"or a list of paths / NAME=PATH strings, not {type(nets).__name__}")
    if len(items) < 2:
        raise ValueError(f"compare needs at least two nets, got {len(items)}")
    kinds = {"arrays" if isinstance(value, Mapping) else "files" for _, value in items}
    if len(kinds) > 1:
        raise TypeError("compare: give every net as arrays ({layer: array}) or every net as a path, not a mix")
    if kinds == {"files"}:
        return "files", [_file_input(name, value, f"compare: net {name or i}") for i, (name, value) in enumerate(items)]
    arrays = []
    for i, (name, layers) in enumerate(items):
        net_name = name if name is not None else f"net{i + 1}"
        if not layers:
            raise ValueError(f"compare: net '{net_name}' has no layers")
        entries = []
        for layer, value in layers.items():
            if not isinstance(layer, str):
                raise TypeError(f"compare: net '{net_name}': layer names must be str, not {type(layer).__name__}")
            if value is None or isinstance(value, (str, bytes, os.PathLike, Mapping)):
                raise TypeError(f"compare: net '{net_name}', layer '{layer}': expected an array or tensor, "
                                f"got {type(value).__name__}")
            entries.append((layer, value))
        arrays.append((net_name, entries))
    return "arrays", arrays


def compare(nets: Any, out: Optional[PathLike] = None, *, options: Optional[Union[_core.Options, Mapping[str, Any]]] = None,
            progress: Union[None, bool, ProgressCallback] = None, comm: Any = None,
            **keywords: Any) -> Optional["Result"]:
    """Runs the whole analysis of ``convergent compare`` and returns its results.

    Args:
      nets: ``{net name: {layer: array}}`` (numpy arrays, torch tensors or
        anything with ``__dlpack__`` or the buffer protocol; (N, C) dense or
        (N, C, H, W) conv layers, ``layout="NHWC"`` for (N, H, W, C); float16,
        float32 or float64; host arrays are read in place, never copied), a
        list of such dicts (named net1, net2, ...), ``{net name: path}``, or
        a list of paths / ``NAME=PATH`` strings (directories of .npy files or
        .npz archives, as the CLI takes).
      out: also write the results there, with the layout of ``convergent
        compare --out`` (atomically; an existing non-empty directory needs
        ``overwrite=True``). With file inputs this is exactly the CLI's run.
      options: a ``convergent.Options`` or a dict; keywords override it.
      progress: None (a tqdm bar on a terminal), True, False, or a callable
        ``progress(layer, fraction)``. Ctrl-C interrupts (KeyboardInterrupt).
      comm: an MPI communicator (``mpi4py.MPI.Comm``, or its Fortran handle
        ``comm.py2f()``) to spread the run over its ranks (docs/mpi.md): every
        rank calls ``compare`` with the same nets and options and reads only
        its slice of the images; rank 0 gets the ``Result`` (and writes
        ``out``), the other ranks ``None``. An error on any rank raises on
        every rank ("rank R: ..."). Needs a convergent built with MPI.
      **keywords: options by name (``option_names()``, ``convergent options``),
        e.g. ``layers=["conv1"], mi_bins=20, dead_units="include", seed=1,
        backend="cpu"``. Unknown names raise TypeError.

    Returns:
      a ``Result``: ``.summary`` (summary.json's fields), ``result[layer]``
      (matrices and figures as numpy arrays), ``.save(dir)``, ``.report(path)``;
      ``None`` on the ranks other than 0 of ``comm``.

    Raises:
      ConvergentError: bad data (NaN/Inf, shapes that do not line up,
        missing layers), options out of range, unusable backends, I/O.
    """
    opts = _options(options, keywords, "compare")
    kind, inputs = _nets(nets)
    # mpi4py communicators convert to the Fortran handle the module takes
    # (MPI_Comm_f2c), so the package needs no mpi4py to build or import.
    handle = None if comm is None else int(comm.py2f() if hasattr(comm, "py2f") else comm)
    callback, close = _progress(progress if handle is None else (progress or False))
    try:
        if kind == "files":
            if out is not None:
                data = _core.compare_files_to_directory(inputs, os.fspath(out), opts, callback, handle)
            else:
                data = _core.compare_files(inputs, opts, callback, handle)
        else:
            data = _core.compare_arrays(inputs, opts, callback, handle)
            if out is not None and data is not None:
                data.save(os.fspath(out), bool(opts.get("overwrite")))
    finally:
        if close is not None:
            close()
    return None if data is None else Result(data)


# ---- results ---------------------------------------------------------------------------

def _pair_key(a: str, b: str) -> str:
    return f"{a}~{b}"


class LayerResult:
    """The results of one layer: ``summary`` is summary.json's
    ``layers[name]``; matrices come back as read-only float32 numpy arrays
    (``.copy()`` them to modify)."""

    def __init__(self, result: "Result", name: str) -> None:
        self._result = result
        self.name = name
        self.summary: Dict[str, Any] = result.summary["layers"][name]

    def __repr__(self) -> str:
        units = ", ".join(f"{n}: {u}" for n, u in self.units.items())
        return f"<convergent.LayerResult {self.name!r}: {self.samples} samples, units {{{units}}}>"

    @property
    def nets(self) -> List[str]:
        return list(self._result.nets)

    @property
    def units(self) -> Dict[str, int]:
        return dict(self.summary["units"])

    @property
    def samples(self) -> int:
        return int(self.summary["samples"])

    def _check_net(self, net: str) -> None:
        if net not in self.summary["units"]:
            raise KeyError(f"layer '{self.name}' has no net {net!r}; its nets: {', '.join(self.summary['units'])}")

    def mean(self, net: str):
        """Per-unit means of `net` (float64 numpy array)."""
        import numpy as np
        self._check_net(net)
        return np.asarray(self.summary["mean"][net], dtype=np.float64)

    def std(self, net: str):
        """Per-unit population standard deviations of `net`."""
        import numpy as np
        self._check_net(net)
        return np.asarray(self.summary["std"][net], dtype=np.float64)

    def dead_units(self, net: str):
        """Units of `net` with zero variance (int64 numpy array)."""
        import numpy as np
        self._check_net(net)
        return np.asarray(self.summary["dead_units"][net], dtype=np.int64)

    def mi_zero_fraction(self, net: str) -> float:
        """Share of `net`'s MI-sampled activations in the zero bin (<= the MI
        zero threshold), the work the exact sparse-aware MI counting skips."""
        self._check_net(net)
        if "mutual_information" not in self.summary:
            raise KeyError(f"layer '{self.name}' has no mutual information (the step did not run)")
        return float(self.summary["mutual_information"]["zero_fraction"][net])

    def files(self, a: str, b: str) -> Dict[str, str]:
        """{kind: results-directory path} of the matrices of the pair a~b."""
        files = self.summary.get("files", {})
        key = _pair_key(a, b)
        if key not in files:
            self._check_net(a)
            self._check_net(b)
            raise KeyError(f"layer '{self.name}' has no matrices for '{key}' (it has: {', '.join(files) or 'none'})")
        return dict(files[key])

    def _matrix(self, kind: str, a: str, b: str, transposable: bool):
        self._check_net(a)
        self._check_net(b)
        files = self.summary.get("files", {})
        if _pair_key(a, b) in files and kind in files[_pair_key(a, b)]:
            return self._result._data.array(files[_pair_key(a, b)][kind])
        if transposable and _pair_key(b, a) in files and kind in files[_pair_key(b, a)]:
            return self._result._data.array(files[_pair_key(b, a)][kind]).T
        written = sorted({k for entry in files.values() for k in entry})
        raise KeyError(f"layer '{self.name}': no '{kind}' matrix for nets {a!r}, {b!r} "
                       f"(this result has: {', '.join(written) or 'no matrices'})")

    def correlation(self, a: str, b: str):
        """units(a) x units(b) correlation (Sec. 2; a == b: within-net), float32."""
        return self._matrix("corr", a, b, transposable=True)

    def correlation_matched(self, a: str, b: str):
        """The between-net correlation with its columns in matched order (Fig. 1d)."""
        return self._matrix("corr_matched", a, b, transposable=False)

    def mutual_information(self, a: str, b: str):
        """units(a) x units(b) mutual information in nats (Sec. 3.2), float32."""
        return self._matrix("mi", a, b, transposable=True)

    def mutual_information_matched(self, a: str, b: str):
        return self._matrix("mi_matched", a, b, transposable=False)

    def lasso_weights(self, a: str, b: str):
        """alphas x units(a) x units(b) L1 weights (only with lasso_weights=True)."""
        return self._matrix("lasso_weights", a, b, transposable=False)

    def pair(self, a: str, b: str) -> Dict[str, Any]:
        """summary.json's ``pairs["a~b"]`` (pairs are a~b with a before b in net order)."""
        self._check_net(a)
        self._check_net(b)
        pairs = self.summary.get("pairs", {})
        if _pair_key(a, b) not in pairs:
            hint = f"; the results hold '{_pair_key(b, a)}' (rows are units of {b!r})" if _pair_key(b, a) in pairs else ""
            raise KeyError(f"layer '{self.name}' has no pair '{_pair_key(a, b)}'{hint}")
        return pairs[_pair_key(a, b)]

    def alignment(self, a: str, b: str, similarity: str = "correlation") -> Dict[str, Any]:
        """The Sec. 3.1 alignment of the pair on "correlation" or "mutual_information"."""
        pair = self.pair(a, b)
        if similarity not in pair:
            raise KeyError(f"layer '{self.name}', pair '{_pair_key(a, b)}': no {similarity} alignment "
                           "(was that step switched off?)")
        return pair[similarity]

    def table1(self, a: str, b: str, similarity: str = "correlation") -> Dict[str, float]:
        """Table 1 of the pair: semi_matching_mean, matching_mean, overlap_ratio."""
        al = self.alignment(a, b, similarity)
        return {key: al[key] for key in ("semi_matching_mean", "matching_mean", "overlap_ratio")}

    def similarity_indices(self, a: str, b: str) -> Dict[str, Any]:
        """The pair's whole-layer indices: cka, cka_debiased, cca_mean, svcca_mean, pwcca, procrustes_*."""
        pair = self.pair(a, b)
        if "similarity_indices" not in pair:
            raise KeyError(f"layer '{self.name}', pair '{_pair_key(a, b)}': no similarity indices "
                           "(was the step switched off with --no-similarity-indices?)")
        return pair["similarity_indices"]

    def clusters(self, a: str, b: str) -> Dict[str, Any]:
        """summary.json's ``clusters["a~b"]`` (Sec. 4 spectral clustering)."""
        clusters = self.summary.get("clusters", {})
        if _pair_key(a, b) not in clusters:
            raise KeyError(f"layer '{self.name}' has no clusters for '{_pair_key(a, b)}'")
        return clusters[_pair_key(a, b)]

    @property
    def mean_activation(self) -> Optional[Dict[str, Any]]:
        return self.summary.get("mean_activation")

    @property
    def cycle_consistency(self) -> Optional[Dict[str, Any]]:
        return self.summary.get("cycle_consistency")


class Result:
    """The results of a comparison, in memory: ``summary`` holds the fields of
    summary.json (docs/summary_schema.md), ``result[layer]`` a LayerResult,
    ``arrays`` every matrix by its results-directory path. ``save(dir)``
    writes the layout of ``convergent compare --out`` (so ``convergent report
    dir`` works on it) and ``report(path)`` the page of ``convergent report``.

    ``Result(summary, arrays)`` builds one from a summary (dict or JSON text)
    and ``{path: array}``; ``Result.load(dir)`` reads a results directory.
    """

    def __init__(self, summary: Any, arrays: Any = None) -> None:
        if isinstance(summary, _core.ResultData):
            data = summary
        elif isinstance(arrays, _core.ResultData):
            data = arrays  # the results themselves; `summary` is their summary (e.g. from Session.finish)
        else:
            if isinstance(summary, (str, bytes)):
                summary = json.loads(summary)
            data = _core.ResultData(summary, dict(arrays or {}))
        self._data = data
        self.summary: Dict[str, Any] = data.summary()

    @classmethod
    def load(cls, directory: PathLike) -> "Result":
        """A results directory (``convergent compare --out`` or ``save``).

        The core reads the matrices summary.json lists per layer; the other
        arrays of the directory (top-k image indices and positions, int64 on
        disk; joint samples; the cross-layer maps) are read with numpy and
        held as float32 like every in-memory result (image indices are exact
        below 2^24 inputs)."""
        data = _core.ResultData.load(os.fspath(directory))
        root = os.fspath(directory)
        known = set(data.paths())
        extra = {}
        for base, _, names in os.walk(root):
            for name in sorted(names):
                if not name.endswith(".npy"):
                    continue
                relative = os.path.relpath(os.path.join(base, name), root).replace(os.sep, "/")
                if relative not in known:
                    extra[relative] = relative
        if not extra:
            return cls(data)
        import numpy as np

        arrays = {p: data.array(p) for p in known}
        for relative in sorted(extra):
            values = np.load(os.path.join(root, relative), allow_pickle=False)
            if values.dtype.kind in "iu" and values.size and np.abs(values).max() >= 2 ** 24:
                error = ConvergentError(f"'{relative}': integers of 2^24 or more do not fit a result array")
                error.status, error.code, error.message = -6, "bad_data", str(error)
                raise error
            arrays[relative] = values
        return cls(data.summary(), arrays)

    def __repr__(self) -> str:
        return f"<convergent.Result: nets {self.nets}, layers {self.layers}, backend {self.backend!r}>"

    @property
    def nets(self) -> List[str]:
        return list(self.summary["nets"])

    @property
    def layers(self) -> List[str]:
        return list(self.summary["layers"])

    @property
    def backend(self) -> str:
        return self.summary.get("backend", "")

    @property
    def options(self) -> Dict[str, Any]:
        return dict(self.summary.get("options", {}))

    @property
    def arrays(self) -> Dict[str, Any]:
        """{results-directory path: read-only float32 array} (views, no copies)."""
        return {path: self._data.array(path) for path in self._data.paths()}

    def __getitem__(self, layer: str) -> LayerResult:
        if layer not in self.summary["layers"]:
            close = difflib.get_close_matches(layer, self.layers, n=3)
            hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
            raise KeyError(f"no layer {layer!r} in the results{hint}; layers: {', '.join(self.layers)}")
        return LayerResult(self, layer)

    def __contains__(self, layer: object) -> bool:
        return layer in self.summary["layers"]

    def __iter__(self) -> Iterator[str]:
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.summary["layers"])

    def table1(self, similarity: str = "correlation") -> List[Dict[str, Any]]:
        """Every layer and pair's Table 1 row (what the CLI prints):
        [{layer, net_a, net_b, semi_matching_mean, matching_mean, overlap_ratio}, ...]."""
        rows = []
        for layer, layer_summary in self.summary["layers"].items():
            for key, pair in layer_summary.get("pairs", {}).items():
                if similarity not in pair:
                    continue
                a, b = key.split("~", 1)
                row = {"layer": layer, "net_a": a, "net_b": b}
                row.update({k: pair[similarity][k] for k in ("semi_matching_mean", "matching_mean", "overlap_ratio")})
                rows.append(row)
        return rows

    def summary_json(self) -> str:
        """summary.json's text, byte for byte as save() writes it."""
        return self._data.summary_json()

    def save(self, directory: PathLike, overwrite: bool = False) -> str:
        """Writes the results directory (summary.json + <layer>/*.npy)
        atomically; an existing non-empty directory needs overwrite=True.
        Returns the directory."""
        path = os.fspath(directory)
        self._data.save(path, bool(overwrite))
        return path

    def report(self, path: PathLike = "report.html", max_file_mb: float = 64.0, full_precision: bool = False) -> str:
        """Writes the single-file HTML report (the page of ``convergent
        report``; it opens from file:// offline). Matrices above max_file_mb
        are left out with a note; the correlation and MI matrices are
        embedded as 16-bit fixed point, within 0.000122 (display-only),
        unless full_precision (the CLI's --full-precision). Returns the path.

        Raises ConvergentError (code "unsupported") when this build has no
        viewer (it needs Emscripten's em++ at build time)."""
        _require_viewer()
        target = os.fspath(path)
        outcome = self._data.report(target, float(max_file_mb), bool(full_precision))
        import warnings
        for message in outcome["warnings"]:
            warnings.warn(f"convergent report: {message}", stacklevel=2)
        for omitted, why in outcome["omitted"].items():
            warnings.warn(f"convergent report: left out '{omitted}': {why}", stacklevel=2)
        return target


def load(directory: PathLike) -> Result:
    """A results directory (``convergent compare --out`` or ``Result.save``)."""
    return Result.load(directory)


def viewer_available() -> bool:
    """Whether this build can write report pages (Result.report)."""
    return bool(_core.viewer_available())


def report(directory: PathLike, path: Optional[PathLike] = None, max_file_mb: float = 64.0,
           full_precision: bool = False) -> str:
    """``convergent report DIR [--out PATH] [--full-precision]`` on a results
    directory (default PATH: DIR/report.html). Returns the path written."""
    _require_viewer()
    target = os.fspath(path) if path is not None else os.path.join(os.fspath(directory), "report.html")
    _core.report_directory(os.fspath(directory), target, float(max_file_mb), bool(full_precision))
    return target


def _require_viewer() -> None:
    if _core.viewer_available():
        return
    error = ConvergentError(
        "this convergent was built without the report viewer, so it cannot write report pages: install "
        "Emscripten (Debian: apt-get install emscripten) and reinstall the package (pip install "
        "--no-build-isolation . , or cmake with -DCONVERGENT_VIEWER=ON); meanwhile save() the results and "
        "run `convergent report DIR` with a convergent that has the viewer")
    error.status, error.code, error.message = E_UNSUPPORTED, "unsupported", str(error)
    raise error


def __getattr__(name: str):
    # `convergent.torch` without `import convergent.torch`: imported on first
    # use, so `import convergent` never imports torch.
    if name == "torch":
        import importlib
        return importlib.import_module(".torch", __name__)
    raise AttributeError(f"module 'convergent' has no attribute {name!r}")
