"""Dump a PyTorch model's layer activations in the layout ``convergent`` reads.

For comparing models without writing activations to disk, see
``convergent.torch.compare`` (in-process streaming with forward hooks); this
dumper is for people who want the files (e.g. to run ``convergent compare``
elsewhere, or several times with different options).

convergent (see ``docs/architecture.md``) reads one *net* as either a
directory of ``<layer>.npy`` files or an ``.npz`` archive with one array per
layer. Each array holds the activations of one layer over a fixed, ordered set
of inputs (the paper, Sec. 2, uses the ILSVRC validation set for every net):

* dense layers: ``(N, C)``  -- one row per input, one column per unit;
* conv layers:  ``(N, C, H, W)`` (NCHW) -- convergent treats every spatial
  position as a sample of each channel (Sec. 2, footnote 3).

The arrays are exactly what a forward hook on the named module sees, so hook
the ReLU module (or a module whose output is already rectified) to get the
post-ReLU activations the paper uses.

Typical use::

    from convergent.torch import dump_activations   # or: from convergent_torch import ...
    dump_activations(model, ["relu1", "relu2", "fc6_relu"], test_images,
                     "nets/net1.npz", dtype=np.float16, max_positions_per_side=4)

Spatial subsampling (conv layers only; dense layers are never subsampled)
-------------------------------------------------------------------------
Conv activations grow as N*C*H*W; to keep files small a layer can be stored
on a fixed strided grid of positions. The grid depends only on the layer's
``(H, W)``, never on the data or the weights, so every net with the same
architecture is subsampled at the *same* positions and the nets stay aligned
sample for sample (which the between-net correlations of Sec. 2 require).

* ``spatial_stride=s`` (int or ``(sh, sw)``): keep ``x[:, :, ::sh, ::sw]``.
* ``max_positions_per_side=k``: per axis of length ``L`` use stride
  ``s = ceil(L / k)`` and start ``((L - 1) % s) // 2`` (the grid is centred),
  i.e. keep ``x[..., start::s]``: at most ``k`` positions per axis, all of
  them when ``L <= k``.
* ``positions=(rows, cols)`` (or a dict ``{layer: (rows, cols)}``): explicit
  grid; ``rows``/``cols`` are slices or sequences of ints, applied as
  ``x[:, :, rows][:, :, :, cols]``.

These are mutually exclusive. Subsampling keeps fewer samples per image, which
makes the correlation estimates noisier but does not bias them.

Writing
-------
Arrays are streamed batch by batch: each hook call converts its output to the
requested dtype and appends it to an ``.npy`` file in a temporary directory
next to ``out_path``, so memory use is one batch, not the whole data set. At
the end the ``.npy`` files are either zipped (deflate by default) into a
temporary ``.npz`` that is renamed onto ``out_path``, or the temporary
directory is renamed onto the output directory. An error leaves no partial
output behind.

A command-line interface is available: ``python3 python/convergent_torch.py
--help`` in a source tree, ``python3 -m convergent._dump --help`` where the
package is installed.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import math
import os
import shutil
import sys
import tempfile
import zipfile
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

try:
    import torch
    import torch.nn as nn
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("the convergent activation dumper needs PyTorch (Debian: apt install python3-torch)") from exc

__all__ = ["dump_activations", "spatial_grid", "ActivationDumpError"]

# Imported from here by convergent.torch (the in-process comparison), which
# applies the same spatial grids and reads inputs the same way.

_FLOAT16_MAX = float(np.finfo(np.float16).max)
_SUPPORTED_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))
# Bytes reserved for an .npy header (magic + length + dict), rewritten in place
# once the first dimension is known. A multiple of 64 keeps the data aligned.
_NPY_HEADER_BYTES = 256

Index = Union[slice, Sequence[int]]
Grid = Tuple[Index, Index]


class ActivationDumpError(ValueError):
    """A layer could not be dumped (unknown name, bad output shape, ...)."""


# ---------------------------------------------------------------------------
# Spatial grids
# ---------------------------------------------------------------------------

def _pair(value, what: str) -> Tuple[int, int]:
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{what} must be an int or a pair of ints, got {value!r}")
        a, b = value
    else:
        a = b = value
    for v in (a, b):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{what} must be a positive int or a pair of positive ints, got {value!r}")
    return int(a), int(b)


def _centred_slice(length: int, max_positions: int) -> slice:
    stride = max(1, math.ceil(length / max_positions))
    start = ((length - 1) % stride) // 2
    return slice(start, None, stride)


def spatial_grid(height: int, width: int, spatial_stride=None, max_positions_per_side=None) -> Tuple[slice, slice]:
    """The (rows, cols) slices that ``dump_activations`` keeps for an H x W map.

    Only depends on the map size and the option, so it is the same for every
    net of one architecture. Returns ``(slice(None), slice(None))`` when no
    subsampling is asked for.
    """
    if spatial_stride is not None and max_positions_per_side is not None:
        raise ValueError("give at most one of spatial_stride and max_positions_per_side")
    if spatial_stride is not None:
        sh, sw = _pair(spatial_stride, "spatial_stride")
        return slice(None, None, sh), slice(None, None, sw)
    if max_positions_per_side is not None:
        kh, kw = _pair(max_positions_per_side, "max_positions_per_side")
        return _centred_slice(height, kh), _centred_slice(width, kw)
    return slice(None), slice(None)


def _index_list(index: Index, length: int, what: str) -> List[int]:
    if isinstance(index, slice):
        return list(range(length))[index]
    out = []
    for i in index:
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise ActivationDumpError(f"{what}: position indices must be ints, got {i!r}")
        if not -length <= i < length:
            raise ActivationDumpError(f"{what}: position index {i} out of range for size {length}")
        out.append(int(i) % length)
    return out


# ---------------------------------------------------------------------------
# Streaming .npy writer
# ---------------------------------------------------------------------------

def _npy_header(dtype: np.dtype, shape: Tuple[int, ...]) -> bytes:
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": tuple(shape)}
    text = repr(header).encode("latin1")
    magic = b"\x93NUMPY\x01\x00"
    body_len = _NPY_HEADER_BYTES - len(magic) - 2
    if len(text) + 1 > body_len:
        raise ActivationDumpError(f"shape {shape} too large for the .npy header")
    text = text + b" " * (body_len - len(text) - 1) + b"\n"
    return magic + body_len.to_bytes(2, "little") + text


class _NpyStreamWriter:
    """Appends C-order rows to an .npy file whose first dimension grows.

    A fixed-size header is written first and rewritten with the final row
    count on close, so the number of inputs need not be known in advance.
    """

    def __init__(self, path: str, dtype: np.dtype):
        self.path = path
        self.dtype = dtype
        self.row_shape: Optional[Tuple[int, ...]] = None
        self.rows = 0
        self._file = open(path, "wb")
        self._file.write(_npy_header(dtype, (0,)))

    def append(self, block: np.ndarray) -> None:
        if self.row_shape is None:
            self.row_shape = tuple(block.shape[1:])
        elif tuple(block.shape[1:]) != self.row_shape:
            raise ActivationDumpError(
                f"per-input shape changed from {self.row_shape} to {tuple(block.shape[1:])}")
        block = np.ascontiguousarray(block, dtype=self.dtype)
        if block.dtype.byteorder == ">":
            block = block.astype(block.dtype.newbyteorder("<"))
        self._file.write(block.tobytes(order="C"))
        self.rows += block.shape[0]

    def close(self) -> Tuple[int, ...]:
        shape = (self.rows,) + (self.row_shape or ())
        self._file.seek(0)
        self._file.write(_npy_header(self.dtype, shape))
        self._file.close()
        return shape

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self._file.close()


# ---------------------------------------------------------------------------
# Layer resolution and input batching
# ---------------------------------------------------------------------------

def _check_layer_name(name: str) -> None:
    if not isinstance(name, str) or not name or "/" in name or "\\" in name or name in (".", ".."):
        raise ActivationDumpError(
            f"layer name {name!r} cannot be an array/file name (must be a non-empty string without '/' or '\\')")


def _resolve_layers(model: nn.Module, layers) -> Dict[str, nn.Module]:
    named = dict(model.named_modules())

    def lookup(module_name: str) -> nn.Module:
        if module_name not in named:
            available = ", ".join(repr(n) for n in named if n) or "(none)"
            raise ActivationDumpError(
                f"layer {module_name!r} is not a module of {type(model).__name__}; its modules are: {available}")
        return named[module_name]

    if isinstance(layers, str):
        layers = [layers]
    resolved: Dict[str, nn.Module] = {}
    if isinstance(layers, Mapping):
        for name, module in layers.items():
            _check_layer_name(name)
            if isinstance(module, str):
                module = lookup(module)
            elif not isinstance(module, nn.Module):
                raise ActivationDumpError(f"layer {name!r}: expected an nn.Module or a module name, got {type(module).__name__}")
            elif not any(module is m for m in named.values()):
                raise ActivationDumpError(f"layer {name!r}: the {type(module).__name__} given is not part of the model")
            resolved[name] = module
    else:
        for name in layers:
            _check_layer_name(name)
            if name in resolved:
                raise ActivationDumpError(f"layer {name!r} listed twice")
            resolved[name] = lookup(name)
    if not resolved:
        raise ActivationDumpError("no layers given")
    return resolved


def _as_tensor(batch) -> torch.Tensor:
    if isinstance(batch, (tuple, list)):
        if not batch:
            raise ActivationDumpError("empty batch from the input iterable")
        batch = batch[0]  # (inputs, labels, ...) as a DataLoader yields them
    if isinstance(batch, np.ndarray):
        batch = torch.from_numpy(batch)
    if not isinstance(batch, torch.Tensor):
        raise ActivationDumpError(f"inputs must yield tensors or (tensor, ...) tuples, got {type(batch).__name__}")
    return batch


def _batches(inputs, batch_size: int) -> Iterable[torch.Tensor]:
    if isinstance(inputs, np.ndarray):
        inputs = torch.from_numpy(inputs)
    if isinstance(inputs, torch.Tensor):
        if inputs.dim() == 0:
            raise ActivationDumpError("inputs tensor must have a batch dimension")
        for start in range(0, inputs.shape[0], batch_size):
            yield inputs[start:start + batch_size]
    else:  # a DataLoader or any iterable of batches, used in its own order
        for batch in inputs:
            yield _as_tensor(batch)


# ---------------------------------------------------------------------------
# Output placement
# ---------------------------------------------------------------------------

def _zip_npz(npy_dir: str, names: Sequence[str], out_path: str, compress: bool) -> None:
    parent = os.path.dirname(os.path.abspath(out_path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(out_path) + ".", suffix=".tmp", dir=parent)
    os.close(fd)
    try:
        method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        with zipfile.ZipFile(tmp, "w", compression=method, allowZip64=True) as zf:
            for name in names:
                zf.write(os.path.join(npy_dir, name + ".npy"), arcname=name + ".npy")
        os.chmod(tmp, 0o644)
        os.replace(tmp, out_path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _place_directory(tmp_dir: str, out_path: str) -> None:
    if os.path.lexists(out_path):
        if not os.path.isdir(out_path) or os.path.islink(out_path):
            raise ActivationDumpError(f"output {out_path!r} exists and is not a directory")
        others = [f for f in os.listdir(out_path) if not f.endswith(".npy")]
        if others:
            raise ActivationDumpError(
                f"output directory {out_path!r} holds files other than .npy ({', '.join(sorted(others)[:5])}); "
                "refusing to replace it")
        old = tempfile.mkdtemp(prefix="." + os.path.basename(out_path) + ".old.",
                               dir=os.path.dirname(os.path.abspath(out_path)))
        os.rmdir(old)
        os.rename(out_path, old)
        os.rename(tmp_dir, out_path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(tmp_dir, out_path)
    os.chmod(out_path, 0o755)


# ---------------------------------------------------------------------------
# Receptive fields (the patches of Figs. 2, 4-6)
# ---------------------------------------------------------------------------

def receptive_fields(model: nn.Module, layers: Optional[Sequence[str]] = None) -> Dict[str, Tuple[int, int, int]]:
    """The receptive field (size, stride, padding) in input pixels of every
    conv layer of a chain of modules (Li et al., Figs. 2, 4-6: the patch a
    position sees), for ``convergent compare --receptive-field``.

    The modules are taken in ``model.named_modules()`` order as one
    sequential chain: ``Conv2d``, ``MaxPool2d`` and ``AvgPool2d`` grow the
    field (size += (kernel - 1) x dilation x jump, padding += padding x
    jump, jump *= stride; square kernels only), modules that act per
    position (activations, batch/local-response norms, dropout) leave it as
    it is, and the first ``Linear`` or ``Flatten`` ends the chain (dense
    layers see the whole image). A module is recorded with the field of its
    output. Models whose forward pass is not this chain (branches, residual
    blocks) need their fields worked out by hand.

    Position (y, x) of a layer sees input rows [y * stride - padding,
    y * stride - padding + size) and the same columns."""
    size, jump, padding = 1, 1, 0
    out: Dict[str, Tuple[int, int, int]] = {}
    for name, module in model.named_modules():
        if not name:
            continue
        if isinstance(module, (nn.Linear, nn.Flatten)):
            break
        if isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            def both(v):
                return tuple(int(x) for x in v) if isinstance(v, (tuple, list)) else (int(v), int(v))
            kernel, stride, pad = both(module.kernel_size), both(module.stride or module.kernel_size), both(module.padding)
            dilation = both(getattr(module, "dilation", 1))
            if kernel[0] != kernel[1] or stride[0] != stride[1] or pad[0] != pad[1] or dilation[0] != dilation[1]:
                raise ValueError(f"receptive_fields: module {name!r} is not square ({module})")
            size += (kernel[0] - 1) * dilation[0] * jump
            padding += pad[0] * jump
            jump *= stride[0]
        elif len(list(module.children())):
            continue  # a container: its children follow
        out[name] = (size, jump, padding)
    if layers is not None:
        missing = [l for l in layers if l not in out]
        if missing:
            raise ValueError(f"receptive_fields: no receptive field for {missing} (not in the conv/pool chain "
                             "before the first Linear/Flatten)")
        out = {l: out[l] for l in layers}
    return out


def subsampled_field(field: Tuple[int, int, int], height: int, width: int, spatial_stride=None,
                     max_positions_per_side=None) -> Tuple[int, int, int]:
    """The receptive field of a layer stored on ``spatial_grid``'s strided
    grid of its H x W map (``dump_activations(..., max_positions_per_side=k)``):
    kept position i is map position start + i * step, so the field becomes
    (size, stride * step, padding - start * stride); square grids only."""
    rows, cols = spatial_grid(height, width, spatial_stride, max_positions_per_side)
    if (rows.start or 0, rows.step or 1) != (cols.start or 0, cols.step or 1):
        raise ValueError("subsampled_field: the grid is not square")
    return _grid_field(field, rows.start or 0, rows.step or 1)


def _grid_field(field: Tuple[int, int, int], start: int, step: int) -> Tuple[int, int, int]:
    """The field of a layer stored on map positions start, start + step, ..."""
    size, stride, padding = field
    return size, stride * step, padding - start * stride


def _module_fields(model: nn.Module, modules: Mapping[str, nn.Module]) -> Dict[str, Optional[Tuple[int, int, int]]]:
    """{layer: the receptive_fields(model) entry of its module, or None when
    the module is not in the chain}; {} when the chain cannot be followed."""
    try:
        chain = receptive_fields(model)
    except ValueError:  # a module it cannot follow (non-square)
        return {}
    module_names = {id(m): n for n, m in model.named_modules() if n}
    return {layer: chain.get(module_names.get(id(module))) for layer, module in modules.items()}


def receptive_field_option(fields: Mapping[str, Tuple[int, int, int]]) -> str:
    """The ``--receptive-field`` text of ``receptive_fields(...)``: "conv1=5,1,2,conv2=10,2,4"."""
    return ",".join(f"{name}={s},{t},{p}" for name, (s, t, p) in fields.items())


# The array name suffix convergent reads as a layer's receptive field
# (NetSource::receptive_fields): "<layer>.receptive_field", 3 values.
RECEPTIVE_FIELD_SUFFIX = ".receptive_field"


def _arithmetic(indices: Sequence[int]) -> Optional[Tuple[int, int]]:
    """(start, step) when indices are start, start + step, ... (step >= 1)."""
    if len(indices) == 1:
        return int(indices[0]), 1
    step = indices[1] - indices[0]
    if step < 1 or any(b - a != step for a, b in zip(indices, indices[1:])):
        return None
    return int(indices[0]), int(step)


def _layer_fields(model: nn.Module, resolved: Mapping[str, nn.Module], info: Mapping[str, dict]
                  ) -> Dict[str, Tuple[int, int, int]]:
    """The receptive field of every dumped conv layer that receptive_fields()
    can follow, on the grid of positions kept for it."""
    out = {}
    for name, field in _module_fields(model, resolved).items():
        if field is None or info[name]["source_hw"] is None:
            continue
        rows, cols = _arithmetic(info[name]["rows"]), _arithmetic(info[name]["cols"])
        if rows is None or rows != cols:
            continue
        out[name] = _grid_field(field, *rows)
    return out


# ---------------------------------------------------------------------------
# The dump
# ---------------------------------------------------------------------------

def dump_activations(
    model: nn.Module,
    layers,
    inputs,
    out_path: str,
    dtype=np.float32,
    positions=None,
    batch_size: int = 256,
    spatial_stride=None,
    max_positions_per_side=None,
    device=None,
    compress: bool = True,
    store_receptive_fields: bool = True,
) -> Dict[str, dict]:
    """Run ``inputs`` through ``model`` and write the named layers' outputs.

    Args:
      model: the network; it is put in eval mode for the dump (and restored)
        and run under ``torch.no_grad()``.
      layers: a list of module names (as in ``model.named_modules()``; the
        name becomes the array name), or a dict ``{array name: module or
        module name}``.
      inputs: a tensor / numpy array of inputs (batched here by
        ``batch_size``) or an iterable of batches such as a DataLoader (its
        order is used as is; tuples yield their first element).
      out_path: a path ending in ``.npz`` (one archive, one array per layer)
        or a directory that receives ``<layer>.npy`` files. Existing output is
        replaced atomically (a directory only if it holds nothing but .npy).
      dtype: storage dtype, float16/float32/float64. float16 halves the size;
        values beyond +-65504 would become Inf (which convergent rejects), so
        they raise an error instead.
      positions, spatial_stride, max_positions_per_side: optional spatial
        subsampling of 4-D outputs, see the module docstring.
      device: where to run; defaults to the device of the model's parameters.
        Floating-point inputs are cast to the dtype of the model's parameters.
      compress: deflate the .npz members (ignored for directory output).
      store_receptive_fields: for every conv layer whose receptive field
        ``receptive_fields(model)`` can follow (the module is in the model's
        conv/pool chain and the kept positions are a square strided grid),
        also write an array ``<layer>.receptive_field`` (float64 size,
        stride, padding of the stored grid, see ``subsampled_field``), which
        ``convergent compare --images`` uses for the patches when no
        ``--receptive-field`` is given. Layers it cannot follow get none.

    Returns:
      ``{layer: {"shape", "dtype", "source_hw", "rows", "cols",
      "receptive_field"}}``: the stored shape, and for conv layers the full
      map size, the kept row/column indices (the same for every net of one
      architecture) and the stored receptive field (None when none).

    Raises:
      ActivationDumpError: an unknown layer name, a hook output that is not a
        2-D or 4-D floating tensor, a module that ran more than once per
        forward or not at all, a float16 overflow, or bad options.
    """
    dtype = np.dtype(dtype)
    if dtype not in _SUPPORTED_DTYPES:
        raise ActivationDumpError(f"dtype must be float16, float32 or float64 (convergent reads f2/f4/f8), got {dtype}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ActivationDumpError(f"batch_size must be a positive int, got {batch_size!r}")
    n_options = sum(opt is not None for opt in (positions, spatial_stride, max_positions_per_side))
    if n_options > 1:
        raise ActivationDumpError("give at most one of positions, spatial_stride and max_positions_per_side")
    if spatial_stride is not None:
        _pair(spatial_stride, "spatial_stride")
    if max_positions_per_side is not None:
        _pair(max_positions_per_side, "max_positions_per_side")
    out_path = os.fspath(out_path)
    as_npz = out_path.endswith(".npz")
    if not out_path.rstrip(os.sep):
        raise ActivationDumpError(f"bad output path {out_path!r}")
    if as_npz and os.path.isdir(out_path):
        raise ActivationDumpError(f"output {out_path!r} ends in .npz but is a directory")

    resolved = _resolve_layers(model, layers)
    if isinstance(positions, Mapping):
        unknown = sorted(set(positions) - set(resolved))
        if unknown:
            raise ActivationDumpError(f"positions given for layers not dumped: {unknown}")

    if device is None:
        param = next(iter(model.parameters()), None)
        device = param.device if param is not None else torch.device("cpu")
    # Floating inputs take the dtype of the model's parameters (a .half() or .bfloat16() model).
    input_dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), None)

    parent = os.path.dirname(os.path.abspath(out_path.rstrip(os.sep))) or "."
    os.makedirs(parent, exist_ok=True)
    tmp_dir = tempfile.mkdtemp(prefix="." + os.path.basename(out_path.rstrip(os.sep)) + ".", suffix=".tmp", dir=parent)

    writers: Dict[str, _NpyStreamWriter] = {}
    info: Dict[str, dict] = {}
    fired: Dict[str, int] = {}
    handles = []

    def layer_grid(name: str, height: int, width: int):
        if positions is None:
            grid = spatial_grid(height, width, spatial_stride, max_positions_per_side)
        elif isinstance(positions, Mapping):
            grid = positions.get(name, (slice(None), slice(None)))
        else:
            grid = positions
        if not (isinstance(grid, (tuple, list)) and len(grid) == 2):
            raise ActivationDumpError(f"layer {name!r}: positions must be a (rows, cols) pair, got {grid!r}")
        rows = _index_list(grid[0], height, f"layer {name!r} rows")
        cols = _index_list(grid[1], width, f"layer {name!r} cols")
        if not rows or not cols:
            raise ActivationDumpError(f"layer {name!r}: the spatial grid keeps no position of the {height}x{width} map")
        return rows, cols

    def make_hook(name: str):
        def hook(module, args, output):
            fired[name] = fired.get(name, 0) + 1
            if fired[name] > 1:
                raise ActivationDumpError(
                    f"layer {name!r} ({type(module).__name__}) ran more than once in one forward pass; "
                    "hook a module that is used once (e.g. a separate ReLU per layer)")
            if not isinstance(output, torch.Tensor):
                raise ActivationDumpError(
                    f"layer {name!r} ({type(module).__name__}) returned {type(output).__name__}, not a tensor")
            if output.dim() not in (2, 4):
                raise ActivationDumpError(
                    f"layer {name!r} ({type(module).__name__}) output has shape {tuple(output.shape)}; "
                    "expected 2-D (N, C) for dense or 4-D (N, C, H, W) for conv layers")
            if not output.is_floating_point():
                raise ActivationDumpError(f"layer {name!r} output has non-float dtype {output.dtype}")
            if output.shape[0] != current_batch[0]:
                raise ActivationDumpError(
                    f"layer {name!r} output has {output.shape[0]} rows for a batch of {current_batch[0]} inputs")
            # Convert now: a later in-place op (ReLU(inplace=True)) may overwrite `output`.
            block = output.detach().to("cpu")
            if block.dtype == torch.bfloat16:  # numpy has no bfloat16
                block = block.float()
            if output.dim() == 4:
                if name not in info:
                    rows, cols = layer_grid(name, output.shape[2], output.shape[3])
                    info[name] = {"source_hw": (int(output.shape[2]), int(output.shape[3])), "rows": rows, "cols": cols}
                elif info[name]["source_hw"] != (int(output.shape[2]), int(output.shape[3])):
                    raise ActivationDumpError(
                        f"layer {name!r}: map size changed from {info[name]['source_hw']} to {tuple(output.shape[2:])}")
                rows = torch.as_tensor(info[name]["rows"], dtype=torch.long)
                cols = torch.as_tensor(info[name]["cols"], dtype=torch.long)
                block = block.index_select(2, rows).index_select(3, cols)
            elif name not in info:
                info[name] = {"source_hw": None, "rows": None, "cols": None}
            with np.errstate(over="ignore"):  # float16 overflow is reported below
                array = block.numpy().astype(dtype)  # copies
            if not np.all(np.isfinite(array)):
                bad = "overflows float16 (|x| > 65504)" if dtype == np.float16 and np.all(
                    np.isfinite(block.numpy())) else "holds NaN or Inf"
                raise ActivationDumpError(
                    f"layer {name!r} output {bad}; convergent rejects non-finite activations"
                    + ("; use dtype=np.float32" if dtype == np.float16 else ""))
            writers[name].append(array)
        return hook

    current_batch = [0]
    was_training = model.training
    try:
        for name in resolved:
            writers[name] = _NpyStreamWriter(os.path.join(tmp_dir, name + ".npy"), dtype)
        for name, module in resolved.items():
            handles.append(module.register_forward_hook(make_hook(name)))
        model.eval()
        total = 0
        with torch.no_grad():
            for batch in _batches(inputs, int(batch_size)):
                if batch.shape[0] == 0:
                    continue
                current_batch[0] = batch.shape[0]
                fired.clear()
                model(batch.to(device, dtype=input_dtype if batch.is_floating_point() else None))
                missing = [n for n in resolved if fired.get(n, 0) == 0]
                if missing:
                    raise ActivationDumpError(f"layers {missing} produced no output in the forward pass")
                total += batch.shape[0]
        if total == 0:
            raise ActivationDumpError("inputs are empty")
        for name, writer in writers.items():
            info[name]["shape"] = writer.close()
            info[name]["dtype"] = dtype.name
            info[name]["receptive_field"] = None
        stored = []
        if store_receptive_fields:
            for name, field in _layer_fields(model, resolved, info).items():
                np.save(os.path.join(tmp_dir, name + RECEPTIVE_FIELD_SUFFIX + ".npy"), np.asarray(field, np.float64))
                info[name]["receptive_field"] = field
                stored.append(name + RECEPTIVE_FIELD_SUFFIX)
        if as_npz:
            _zip_npz(tmp_dir, list(resolved) + stored, out_path, compress)
        else:
            _place_directory(tmp_dir, out_path.rstrip(os.sep))
            tmp_dir = None
    except BaseException:
        for writer in writers.values():
            writer.abort()
        raise
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
        if tmp_dir is not None:
            shutil.rmtree(tmp_dir, ignore_errors=True)
    return {name: info[name] for name in resolved}


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

def _load_object(spec: str):
    module_name, _, attr = spec.partition(":")
    if not attr:
        raise SystemExit(f"--model expects 'module:callable', got {spec!r}")
    obj = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def _main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description="Dump layer activations of a PyTorch model as convergent input (.npz or directory of .npy).")
    parser.add_argument("--model", required=True,
                        help="'package.module:factory' returning an nn.Module (importable from the current directory)")
    parser.add_argument("--state-dict", help="weights to load into the --model (torch.save of a state_dict)")
    parser.add_argument("--inputs", required=True, help="inputs as .npy or a torch.save'd tensor (.pt)")
    parser.add_argument("--layers", required=True, nargs="+",
                        help="module names (model.named_modules()); NAME=MODULE stores MODULE as array NAME")
    parser.add_argument("--out", required=True, help="output .npz path or directory")
    parser.add_argument("--dtype", default="float32", choices=["float16", "float32", "float64"])
    grid = parser.add_mutually_exclusive_group()
    grid.add_argument("--spatial-stride", type=int, help="keep every s-th row and column of conv maps")
    grid.add_argument("--max-positions-per-side", type=int, help="centred strided grid of at most k x k positions")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--no-compress", action="store_true", help="store .npz members without deflate")
    parser.add_argument("--no-receptive-fields", action="store_true",
                        help="do not store the conv layers' receptive fields (<layer>.receptive_field arrays)")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads")
    args = parser.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    sys.path.insert(0, os.getcwd())
    model = _load_object(args.model)()
    if args.state_dict:
        model.load_state_dict(torch.load(args.state_dict, map_location="cpu"))
    if args.inputs.endswith(".npy"):
        inputs = torch.from_numpy(np.load(args.inputs, mmap_mode="r").copy())
    else:
        inputs = torch.load(args.inputs, map_location="cpu")
    if any("=" in spec for spec in args.layers):
        layers = {}
        for spec in args.layers:
            name, _, module = spec.partition("=")
            layers[name] = module or name
    else:
        layers = args.layers
    try:
        result = dump_activations(model, layers, inputs, args.out, dtype=np.dtype(args.dtype),
                                  batch_size=args.batch_size, spatial_stride=args.spatial_stride,
                                  max_positions_per_side=args.max_positions_per_side,
                                  compress=not args.no_compress,
                                  store_receptive_fields=not args.no_receptive_fields)
    except ActivationDumpError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for name, meta in result.items():
        print(f"{name}: {meta['shape']} {meta['dtype']}")
    return 0


if __name__ == "__main__":
    sys.exit(_main())
