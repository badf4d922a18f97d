#!/usr/bin/env python3
"""The PyTorch activation dumper, under its historical name.

The implementation is ``convergent/_dump.py`` (public as
``convergent.torch.dump_activations``); this module keeps
``from convergent_torch import dump_activations`` (with ``python/`` on
``sys.path``) and ``python3 python/convergent_torch.py --help`` working.

The dumper is pure Python over torch and numpy: it must work in a source tree
where the compiled package (``convergent._core``) is not built, so when
``import convergent._dump`` fails for that reason the file is loaded by path.
Either way it is the same code (where ``convergent`` imports, the very same
module object, so ``convergent_torch.ActivationDumpError`` is
``convergent.torch.ActivationDumpError``).
"""

import importlib.util
import os
import sys


def _load():
    try:
        from convergent import _dump  # the package, when it imports (built or installed)
        return _dump
    except Exception:  # noqa: BLE001 - not built, an old ctypes convergent.py, ...: load the file
        pass
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "convergent", "_dump.py")
    spec = importlib.util.spec_from_file_location("convergent_torch._dump", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_impl = _load()
dump_activations = _impl.dump_activations
spatial_grid = _impl.spatial_grid
receptive_fields = _impl.receptive_fields
subsampled_field = _impl.subsampled_field
receptive_field_option = _impl.receptive_field_option
ActivationDumpError = _impl.ActivationDumpError
_main = _impl._main
__all__ = ["dump_activations", "spatial_grid", "receptive_fields", "subsampled_field", "receptive_field_option",
           "ActivationDumpError"]

if __name__ == "__main__":
    sys.exit(_main())
