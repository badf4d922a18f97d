"""Compare PyTorch models in process: forward hooks stream activations into convergent.

``compare(models, loader, layers=...)`` runs every batch of ``loader`` through
each model and pushes the hooked layers' outputs straight into a
``convergent._core.Session``: the streaming moments of Sec. 2 and the
Sec. 3.2 mutual-information sample rows are accumulated batch by batch, so
nothing is written to disk (unless ``out=`` names a results directory) and
the activations never need to fit in memory: one batch of every net is held
at a time. The figures equal those of dumping the same activations
(``dump_activations``) and running ``convergent compare`` on the files::

    import convergent.torch
    result = convergent.torch.compare({"seed1": net1, "seed2": net2}, loader,
                                      layers=["relu1", "relu2", "fc6"])
    result.report("report.html")

What is pushed, and when
------------------------
* Layer names are module names as in ``model.named_modules()`` (the same in
  every model); the hooked module's *output* is the activation, so hook the
  ReLU (or a module whose output is rectified) for the paper's post-ReLU
  activations (Sec. 2).
* Each model's forward pass runs under ``torch.no_grad()`` in eval mode (every
  module's train/eval flag is restored afterwards). Its hooks collect the
  outputs, ``output.detach()``, without copying; once the forward pass
  returns, they are pushed with ``session.push(net, layer, tensor)``. A
  layer's batch is processed when the last net has pushed it; until then the
  binding holds a reference to the tensor.
* An output that the forward pass later changes in place (``ReLU(inplace=True)``
  after a conv, ``out += identity`` in a residual block) would be pushed
  changed. This is detected with the tensor's version counter; the model's
  forward pass is then run once more on that batch with that layer's output
  copied (``clone()``) in its hook, and for the rest of the pass.
* CPU tensors are pushed as they are (zero-copy, through ``__dlpack__``),
  strided views included: a ``channels_last`` model's outputs (logically
  NCHW, NHWC in memory) and the spatial grids below are read in place.
* CUDA tensors are pushed as CUDA tensors when the session's backend is
  ``"cuda"`` (after synchronising torch's current stream, so the values are
  complete); with any other backend they are copied to the host with an
  explicit ``.cpu()`` in the hook. Other devices (mps, xla, ...) are always
  copied with ``.cpu()``.
* float16, float32 and float64 outputs are pushed in their own dtype.
  bfloat16 outputs are converted to float32 in the hook (a copy: DLPack
  readers, numpy and convergent have no bfloat16). Integer or complex outputs
  are an error naming the layer.
* Floating-point inputs are cast to the dtype of the model's parameters
  (e.g. for a ``.half()`` or ``.bfloat16()`` model) and moved to its device.
* 2-D outputs are dense layers ``(B, C)``; 4-D outputs are conv layers
  ``(B, C, H, W)`` (torch's logical layout, whatever the memory format:
  the ``layout`` option is therefore fixed to NCHW here) and every spatial
  position is a sample (paper, footnote 3). Other ranks are an error.

Spatial subsampling
-------------------
``spatial_stride`` and ``max_positions_per_side`` keep the same grid of conv
positions as ``dump_activations`` (``spatial_grid``): the grid depends only on
the map size, so every net keeps the same positions. The kept positions are a
strided view of the output, so no copy is made for them either.
"""

from __future__ import annotations

import math
import os
import sys
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

try:
    import torch
    import torch.nn as nn
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("convergent.torch needs PyTorch (Debian: apt install python3-torch)") from exc

from ._dump import (ActivationDumpError, _as_tensor, _batches, _grid_field, _module_fields, _pair, dump_activations,
                    receptive_field_option, receptive_fields, spatial_grid, subsampled_field)

if TYPE_CHECKING:  # pragma: no cover
    import convergent

__all__ = ["compare", "default_layers", "dump_activations", "spatial_grid", "receptive_fields",
           "receptive_field_option", "subsampled_field", "LayerError", "ActivationDumpError"]

# Module types hooked when no layers are named: their outputs are (B, C) or
# (B, C, H, W) in ordinary CNNs.
DEFAULT_LAYER_TYPES = (nn.Conv2d, nn.Linear)
_PUSHED_DTYPES = (torch.float16, torch.float32, torch.float64)
_MAX_LISTED_MODULES = 200


class LayerError(ValueError):
    """A layer cannot be streamed: an unknown module name, an output that is not
    a 2-D or 4-D floating-point tensor, a module that ran more than once or not
    at all in a forward pass, or a map size that changed between batches."""


# ---------------------------------------------------------------------------
# Models and layers
# ---------------------------------------------------------------------------

def _named_models(models) -> List[Tuple[str, nn.Module]]:
    if isinstance(models, nn.Module):
        raise TypeError("models: give the models to compare as a mapping {name: model} or a sequence "
                        "(named net1, net2, ...), not a single nn.Module")
    if isinstance(models, Mapping):
        named = list(models.items())
    elif isinstance(models, Iterable) and not isinstance(models, (str, bytes)):
        named = [(f"net{i + 1}", model) for i, model in enumerate(models)]
    else:
        raise TypeError(f"models: expected a mapping or a sequence of nn.Module, got {type(models).__name__}")
    if not named:
        raise ValueError("models: no models given")
    for name, model in named:
        if not isinstance(name, str) or not name:
            raise TypeError(f"models: net names must be non-empty strings, got {name!r}")
        if not isinstance(model, nn.Module):
            raise TypeError(f"models[{name!r}]: expected an nn.Module, got {type(model).__name__}")
    return named


def default_layers(model: nn.Module) -> List[str]:
    """The layers ``compare`` hooks when none are named: every ``nn.Conv2d``
    and ``nn.Linear`` module of ``model``, in ``named_modules()`` order.

    These are pre-activation outputs (the paper compares post-ReLU
    activations, Sec. 2: name the ReLU modules for that)."""
    return [name for name, module in model.named_modules() if name and isinstance(module, DEFAULT_LAYER_TYPES)]


def _layer_specs(layers, first_name: str, first_model: nn.Module) -> Dict[str, str]:
    """{result layer name: module name}."""
    if layers is None:
        names = default_layers(first_model)
        if not names:
            raise LayerError(f"{first_name!r} ({type(first_model).__name__}) has no Conv2d or Linear module to "
                             "hook by default; name the layers (layers=[...], as in model.named_modules())")
        return {name: name for name in names}
    if isinstance(layers, str):
        layers = [layers]
    if isinstance(layers, Mapping):
        specs = {}
        for name, module_name in layers.items():
            if not isinstance(name, str) or not isinstance(module_name, str):
                raise TypeError(f"layers: a mapping must map result names to module names (str), got "
                                f"{name!r}: {module_name!r}")
            specs[name] = module_name
    else:
        specs = {}
        for name in layers:
            if not isinstance(name, str):
                raise TypeError(f"layers: module names must be strings, got {name!r}")
            if name in specs:
                raise LayerError(f"layer {name!r} listed twice")
            specs[name] = name
    if not specs:
        raise LayerError("layers: no layers given")
    for name in specs:
        if not name or "/" in name or "\\" in name or name in (".", ".."):
            raise LayerError(f"layer name {name!r} cannot name a results directory "
                             "(must be non-empty, without '/' or '\\')")
    return specs


def _resolve(net_name: str, model: nn.Module, specs: Mapping[str, str]) -> Dict[str, nn.Module]:
    modules = dict(model.named_modules())
    resolved = {}
    for name, module_name in specs.items():
        if module_name not in modules or not module_name:
            available = [repr(n) for n in modules if n]
            listed = ", ".join(available[:_MAX_LISTED_MODULES]) or "(none)"
            if len(available) > _MAX_LISTED_MODULES:
                listed += f", ... ({len(available) - _MAX_LISTED_MODULES} more)"
            raise LayerError(f"layer {module_name!r} is not a module of {net_name!r} ({type(model).__name__}); "
                             f"its modules are: {listed}")
        resolved[name] = modules[module_name]
    return resolved


def _model_device(model: nn.Module) -> torch.device:
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cpu")


def _model_float_dtype(model: nn.Module) -> Optional[torch.dtype]:
    for tensor in model.parameters():
        if tensor.is_floating_point():
            return tensor.dtype
    return None


def _single_device(model: nn.Module) -> Optional[torch.device]:
    devices = {t.device for t in model.parameters()} | {t.device for t in model.buffers()}
    return devices.pop() if len(devices) == 1 else None


# ---------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------

def _input_batches(loader, batch_size: int) -> Iterable[torch.Tensor]:
    """The dumper's batching (a tensor or array cut into batch_size rows, or
    the batches of a DataLoader / iterable), with errors naming `loader`."""
    try:
        yield from _batches(loader, batch_size)
    except ActivationDumpError as exc:
        kind = ValueError if "batch dimension" in str(exc) else TypeError
        raise kind(f"loader: {exc}") from None


def _batch_count(loader, batch_size: int) -> Optional[int]:
    if isinstance(loader, (torch.Tensor, np.ndarray)):
        return math.ceil(loader.shape[0] / batch_size) if loader.ndim else None
    try:
        return len(loader)
    except TypeError:
        return None


def _input_count(loader) -> int:
    """The number of inputs the loader will yield when it can be known without
    iterating it (0: unknown). For a DataLoader: its sampler's length (what
    len(loader.dataset) is unless a sampler picks a subset), less a dropped
    last batch."""
    if isinstance(loader, (torch.Tensor, np.ndarray)):
        return int(loader.shape[0]) if loader.ndim else 0
    data = torch.utils.data
    if isinstance(loader, data.DataLoader):
        if isinstance(loader.dataset, data.IterableDataset) or loader.batch_size is None:
            return 0  # length of an iterable dataset, or a custom batch_sampler: not knowable up front
        try:
            n = len(loader.sampler)
        except TypeError:
            return 0
        return (n // loader.batch_size) * loader.batch_size if loader.drop_last else n
    if isinstance(loader, (list, tuple)):
        try:
            return sum(int(_as_tensor(b).shape[0]) for b in loader)
        except (ActivationDumpError, IndexError, TypeError):
            return 0
    dataset = getattr(loader, "dataset", None)
    if dataset is not None:
        try:
            return len(dataset)
        except TypeError:
            return 0
    return 0


# ---------------------------------------------------------------------------
# Progress
# ---------------------------------------------------------------------------

def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr is not None and sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class _Progress:
    """tqdm bars for the batches and the analysis, or a callable
    (batches_done, total_or_None), or nothing."""

    def __init__(self, progress, total: Optional[int]):
        self.callback = None
        self.bar = None
        self._tqdm = None
        if progress is not None and not isinstance(progress, bool):
            if not callable(progress):
                raise TypeError(f"progress: expected None, True, False or a callable, got {type(progress).__name__}")
            self.callback = progress
            self.total = total
            return
        if progress is False or (progress is None and not _stderr_is_terminal()):
            return
        try:
            from tqdm import tqdm
        except ImportError:
            if progress is True:
                raise ImportError("progress=True needs tqdm (Debian: apt install python3-tqdm)") from None
            return
        self._tqdm = tqdm
        self.bar = tqdm(total=total, unit="batch", desc="activations", file=sys.stderr)

    def batch_done(self, done: int) -> None:
        if self.callback is not None:
            self.callback(done, self.total)
        elif self.bar is not None:
            self.bar.update(1)

    def analysis(self, layers: Sequence[str]):
        """A (layer, fraction) callback for session.finish, or None."""
        if self.bar is None:
            return None
        self.bar.close()
        self.bar = self._tqdm(total=len(layers), unit="layer", desc="analysis", file=sys.stderr,
                              bar_format="{l_bar}{bar}| {n:.1f}/{total} layers [{elapsed}{postfix}]")
        index = {name: i for i, name in enumerate(layers)}
        bar = self.bar

        def on_progress(layer, fraction):
            bar.set_postfix_str(str(layer), refresh=False)
            bar.n = min(len(layers), index.get(layer, bar.n) + float(fraction))
            bar.refresh()
        return on_progress

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


# ---------------------------------------------------------------------------
# The comparison
# ---------------------------------------------------------------------------

class _Net:
    """One model, its hooks and what they collected in the current forward pass."""

    def __init__(self, index: int, name: str, model: nn.Module, modules: Dict[str, nn.Module]):
        self.index = index
        self.name = name
        self.model = model
        self.modules = modules
        self.clone: set = set()  # layers whose output a later in-place op changes: copied in the hook
        self.collected: Dict[str, Tuple[torch.Tensor, Optional[int]]] = {}
        self.fired: Dict[str, int] = {}
        self.source_hw: Dict[str, Tuple[int, int]] = {}  # conv layers' map size (H, W) before subsampling


def _shared_fields(nets, spatial_stride, max_positions_per_side) -> Dict[str, Tuple[int, int, int]]:
    """The receptive field of every conv layer that receptive_fields() can
    follow in every net, and that is the same in all of them, on the kept
    grid (the patches of Figs. 2, 4-6; what dump_activations stores in its
    files). None with max_positions_per_side: that grid's start depends on
    the map size, known only once a batch has run."""
    if max_positions_per_side is not None:
        return {}
    step = 1
    if spatial_stride is not None:
        sy, sx = _pair(spatial_stride, "spatial_stride")
        if sy != sx:
            return {}
        step = sy
    per_net = [_module_fields(net.model, net.modules) for net in nets]
    out = {}
    for layer, field in per_net[0].items():
        if field is not None and all(f.get(layer) == field for f in per_net[1:]):
            out[layer] = _grid_field(field, 0, step)
    return out


def compare(models: Union[Mapping[str, nn.Module], Sequence[nn.Module]],
            loader: Iterable,
            layers: Union[None, str, Sequence[str], Mapping[str, str]] = None,
            device: Union[None, str, torch.device] = None,
            out: Union[None, str, "os.PathLike[str]"] = None,
            progress: Union[None, bool, Callable[[int, Optional[int]], None]] = None,
            images: Optional[int] = None,
            spatial_stride: Union[None, int, Tuple[int, int]] = None,
            max_positions_per_side: Union[None, int, Tuple[int, int]] = None,
            batch_size: int = 256,
            options: Any = None,
            **keywords: Any) -> "convergent.Result":
    """Compare ``models`` on the inputs of ``loader`` without writing activations.

    Args:
      models: ``{name: nn.Module}``, or a sequence of modules (named net1,
        net2, ...). The same architecture is not required, but every model must
        have the named layers and see the same inputs.
      loader: a DataLoader or any iterable of batches (a tensor, or a
        tuple/list whose first element is the input tensor, as DataLoaders
        yield ``(inputs, labels)``), used in its own order; or one tensor /
        numpy array of inputs, cut into batches of ``batch_size``.
      layers: module names as in ``model.named_modules()`` (the result layers
        carry these names), or ``{result name: module name}``; results are in
        this order. Default: every ``nn.Conv2d`` and ``nn.Linear`` module of
        the first model (``default_layers``), i.e. pre-activation outputs;
        name the ReLU modules for the paper's post-ReLU activations.
      device: where the models run. None: where each model's parameters are
        (the inputs are moved there). Otherwise each model is moved there for
        the pass (``nn.Module.to``) and moved back afterwards when all its
        parameters and buffers were on one device.
      out: a results directory to write (the layout of ``convergent compare
        --out``, so ``convergent report`` works on it). None: nothing is
        written to disk.
      progress: None: tqdm bars on stderr when it is a terminal; True: always;
        False: never; a callable: called as ``progress(batches_done, total)``
        after each batch (total is None when the loader has no length).
      images: the total number of inputs. By default it is taken from the
        loader (a DataLoader's sampler length, the length of a tensor or of a
        list of batches) when that is possible without iterating it. When
        known, the Sec. 3.2 sample rows are the ones ``convergent compare``
        draws on the same inputs, so the MI figures equal the CLI's; when
        unknown (0), a seeded reservoir sample of the same size is drawn.
        The loader must yield exactly this many inputs.
      spatial_stride, max_positions_per_side: keep a fixed grid of conv
        positions (as ``dump_activations``); at most one of them.
      batch_size: batch size when ``loader`` is a tensor or numpy array.
      options, **keywords: comparison options by name (``convergent
        options``, ``convergent.option_names()``), as a ``convergent.Options``
        or dict and/or keywords (keywords win), e.g. ``mi_bins=20,
        dead_units="include", backend="cpu", seed=1``, ``overwrite=True`` to
        replace an existing ``out``. ``layout`` is fixed to NCHW (torch's
        logical layout). Without ``receptive_field``, the conv layers'
        receptive fields (for the top patches, Figs. 2, 4-6) are taken from
        the models' conv/pool chain (``receptive_fields``) where every model
        has the same one, on the kept grid (not with
        ``max_positions_per_side``, whose grid is known only after the first
        batch), as ``dump_activations`` stores them in its files.

    Returns:
      a ``convergent.Result`` (summary fields and numpy arrays; ``.save(dir)``,
      ``.report(path)``).

    Raises:
      LayerError: an unknown layer name (the message names the model and
        lists its modules), an unsupported output (rank, dtype), a module that
        ran more than once or not at all in a forward pass.
      ValueError / TypeError: bad arguments; errors of the session (mismatched
        shapes between nets, bad options) as the binding raises them.
    """
    import convergent as _convergent  # the package (Result); imported here to avoid an import cycle
    from . import _core

    named = _named_models(models)
    specs = _layer_specs(layers, *named[0])
    nets = [_Net(i, name, model, _resolve(name, model, specs)) for i, (name, model) in enumerate(named)]
    if spatial_stride is not None and max_positions_per_side is not None:
        raise ValueError("give at most one of spatial_stride and max_positions_per_side")
    if spatial_stride is not None:
        _pair(spatial_stride, "spatial_stride")
    if max_positions_per_side is not None:
        _pair(max_positions_per_side, "max_positions_per_side")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    session_options = _convergent._options(options, keywords, "convergent.torch.compare")
    if session_options.get("layout") != "NCHW":
        raise ValueError(f"layout={session_options.get('layout')!r}: torch outputs are (B, C, H, W) whatever their "
                         "memory format (a channels_last tensor is read through its strides); the layout is NCHW here")
    if session_options.get("layers"):
        raise TypeError("convergent.torch.compare: give the layers as its layers= argument, not as an option")
    if out is not None:
        out = os.fspath(out)
        if os.path.exists(out):
            if not os.path.isdir(out):
                raise FileExistsError(f"out: '{out}' exists and is not a directory")
            if os.listdir(out) and not session_options.get("overwrite"):
                raise FileExistsError(f"out: directory '{out}' exists and is not empty (pass overwrite=True to "
                                      "replace it)")
    if session_options.get("top_patches") and not session_options.get("receptive_field"):
        fields = _shared_fields(nets, spatial_stride, max_positions_per_side)
        if fields:
            session_options.update_from({"receptive_field": receptive_field_option(fields)},
                                        "convergent.torch.compare")
    if images is None:
        images = _input_count(loader)
    elif isinstance(images, bool) or not isinstance(images, (int, np.integer)) or images < 0:
        raise ValueError(f"images must be a non-negative int, got {images!r}")
    images = int(images)

    session = _core.Session([net.name for net in nets], session_options, images)
    push_cuda = session.backend == "cuda"

    grids: Dict[Tuple[int, int], Tuple[slice, slice]] = {}  # map size -> kept (rows, cols), as the dumper
    state = {"active": None, "rows": 0}

    def prepared(net: _Net, name: str, module: nn.Module, output) -> Tuple[torch.Tensor, Optional[int]]:
        what = f"layer {name!r} ({type(module).__name__}) of {net.name!r}"
        if not isinstance(output, torch.Tensor):
            raise LayerError(f"{what} returned {type(output).__name__}, not a tensor")
        if output.dim() not in (2, 4):
            raise LayerError(f"{what}: output has shape {tuple(output.shape)}; expected 2-D (B, C) for dense "
                             "or 4-D (B, C, H, W) for conv layers")
        if not output.is_floating_point():
            raise LayerError(f"{what}: output has dtype {output.dtype}; expected float16, float32, float64 "
                             "(or bfloat16, converted to float32)")
        if output.shape[0] != state["rows"]:
            raise LayerError(f"{what}: output has {output.shape[0]} rows for a batch of {state['rows']} inputs")
        tensor = output.detach()
        if tensor.dim() == 4:
            hw = (int(tensor.shape[2]), int(tensor.shape[3]))
            # The kept positions depend on the map size: one that changes between
            # batches (inputs of different sizes) would mix positions.
            if net.source_hw.setdefault(name, hw) != hw:
                raise LayerError(f"{what}: a {hw[0]}x{hw[1]} map, but its earlier batches had "
                                 f"{net.source_hw[name][0]}x{net.source_hw[name][1]}")
            if hw not in grids:
                grids[hw] = spatial_grid(hw[0], hw[1], spatial_stride, max_positions_per_side)
            rows, cols = grids[hw]
            if rows != slice(None) or cols != slice(None):
                tensor = tensor[:, :, rows, cols]  # a strided view: no copy
        copied = False
        if tensor.dtype not in _PUSHED_DTYPES:
            if tensor.dtype != torch.bfloat16:
                raise LayerError(f"{what}: output dtype {tensor.dtype} is not supported")
            tensor = tensor.float()  # no bfloat16 in DLPack readers or convergent: an explicit copy
            copied = True
        if tensor.device.type != "cpu" and not (tensor.is_cuda and push_cuda):
            tensor = tensor.cpu()  # host backend: an explicit copy to the host
            copied = True
        if not copied and name in net.clone:
            tensor = tensor.clone()
            copied = True
        if copied:
            return tensor, None
        try:
            return tensor, tensor._version
        except RuntimeError:  # an inference-mode tensor has no version counter: copy to be safe
            return tensor.clone(), None

    def make_hook(net: _Net, name: str):
        def hook(module, args, output):
            if state["active"] is not net:
                return
            net.fired[name] = net.fired.get(name, 0) + 1
            if net.fired[name] > 1:
                raise LayerError(
                    f"layer {name!r} ({type(module).__name__}) of {net.name!r} ran more than once in one forward "
                    "pass; hook a module that is used once (e.g. a separate ReLU per layer)")
            net.collected[name] = prepared(net, name, module, output)
        return hook

    def forward(net: _Net, batch: torch.Tensor, run_device: torch.device, dtype: Optional[torch.dtype]) -> None:
        x = batch.to(run_device, dtype=dtype if (dtype is not None and batch.is_floating_point()) else None)
        for _ in range(2):
            net.collected = {}
            net.fired = {}
            state["active"] = net
            try:
                net.model(x)
            finally:
                state["active"] = None
            changed = [name for name, (tensor, version) in net.collected.items()
                       if version is not None and tensor._version != version]
            if not changed:
                break
            net.clone.update(changed)  # overwritten in place later in the pass: copy these in the hook, rerun
        else:
            raise LayerError(f"layers {changed} of {net.name!r} were changed in place after their hook ran, "
                             "even when copied in the hook")
        missing = [name for name in specs if name not in net.fired]
        if missing:
            raise LayerError(f"layers {missing} of {net.name!r} produced no output in the forward pass")

    progress_bar = _Progress(progress, _batch_count(loader, int(batch_size)))
    handles = []
    training = {}
    moved = []
    try:
        for net in nets:
            for name, module in net.modules.items():
                handles.append(module.register_forward_hook(make_hook(net, name)))
            for module in net.model.modules():
                training.setdefault(id(module), (module, module.training))
        run_devices = []
        for net in nets:
            if device is not None:
                target = torch.device(device)
                original = _single_device(net.model)
                if original != target:
                    net.model.to(target)
                    if original is not None:
                        moved.append((net.model, original))
                run_devices.append(target)
            else:
                run_devices.append(_model_device(net.model))
        dtypes = [_model_float_dtype(net.model) for net in nets]
        for net in nets:
            net.model.eval()

        total = 0
        batches = 0
        with torch.no_grad():
            for batch in _input_batches(loader, int(batch_size)):
                if batch.dim() == 0:
                    raise ValueError("loader: a batch must have a batch dimension")
                if batch.shape[0] == 0:
                    continue
                state["rows"] = int(batch.shape[0])
                if images and total + state["rows"] > images:
                    raise ValueError(f"the loader yields more than images={images} inputs")
                for net, run_device, dtype in zip(nets, run_devices, dtypes):
                    forward(net, batch, run_device, dtype)
                    if push_cuda:  # the values complete before convergent's own stream reads them
                        for cuda_device in {t.device for t, _ in net.collected.values() if t.is_cuda}:
                            torch.cuda.current_stream(cuda_device).synchronize()
                    for name in specs:  # in the order of `layers`: the session keeps first-push order
                        session.push(net.index, name, net.collected[name][0])
                    net.collected = {}
                total += state["rows"]
                batches += 1
                progress_bar.batch_done(batches)
        if total == 0:
            raise ValueError("the loader yielded no inputs")
        if images and total != images:
            raise ValueError(f"the loader yielded {total} inputs, not images={images}")
        _, results = session.finish(out, progress_bar.analysis(list(specs)))
    finally:
        progress_bar.close()
        for handle in handles:
            handle.remove()
        for module, was_training in training.values():
            module.training = was_training  # each module's own flag (train() would set its children too)
        for model, original in moved:
            model.to(original)
    return _convergent.Result(results)
