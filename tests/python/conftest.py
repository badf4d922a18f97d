"""Shared helpers for the Python tests (run by ctest with Debian's python3).

The package `convergent` is imported from the build tree under test
(CONVERGENT_PYTHON_PACKAGE_DIR, set by ctest; by hand: $CONVERGENT_BUILD_DIR/python),
never from an installed copy or the source tree: the path goes first on
sys.path and the `convergent` fixture checks where the module came from.
"""
import importlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SOURCE_DIR = Path(os.environ.get("CONVERGENT_SOURCE_DIR", Path(__file__).resolve().parents[2]))
BUILD_DIR = Path(os.environ.get("CONVERGENT_BUILD_DIR", SOURCE_DIR / "build" / "cpu"))
CLI = Path(os.environ.get("CONVERGENT_CLI", BUILD_DIR / "cli" / "convergent"))
# ON/OFF from ctest (whether this build has the Python module); unset by hand.
PYTHON_MODULE = os.environ.get("CONVERGENT_PYTHON_MODULE", "ON")
PACKAGE_DIR = Path(os.environ.get("CONVERGENT_PYTHON_PACKAGE_DIR") or BUILD_DIR / "python").resolve()
if PYTHON_MODULE != "OFF":
    sys.path.insert(0, str(PACKAGE_DIR))


def import_convergent():
    """The package of the build under test (fails when it is missing or
    another copy would be imported; skips in a build without the module)."""
    if PYTHON_MODULE == "OFF":
        pytest.skip("this build has no Python module (CONVERGENT_PYTHON=OFF or pybind11 missing)")
    if str(PACKAGE_DIR) in sys.path:
        sys.path.remove(str(PACKAGE_DIR))
    sys.path.insert(0, str(PACKAGE_DIR))
    module = importlib.import_module("convergent")
    origin = Path(module.__file__).resolve().parent
    if origin != (PACKAGE_DIR / "convergent").resolve():
        pytest.fail(f"imported convergent from {origin}, not from the build tree {PACKAGE_DIR / 'convergent'}")
    return module


@pytest.fixture(scope="session")
def convergent():
    return import_convergent()


@pytest.fixture(scope="session")
def capi():
    """tests/python/capi_ctypes.py: the C ABI through ctypes (libconvergent of this build)."""
    if "CONVERGENT_LIBRARY" not in os.environ:
        pytest.skip("CONVERGENT_LIBRARY is not set (run through ctest)")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    return importlib.import_module("capi_ctypes")


def run_cli(*args, check=True):
    proc = subprocess.run([str(CLI), *map(str, args)], capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"convergent {' '.join(map(str, args))} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


def bench_many_to_many_path():
    """$CONVERGENT_BUILD_DIR/bench/bench_many_to_many; skips the test when the
    build directory is not set (not run through ctest) or the bench is not built."""
    build = os.environ.get("CONVERGENT_BUILD_DIR")
    if not build:
        pytest.skip("CONVERGENT_BUILD_DIR is not set (run through ctest)")
    path = os.path.join(build, "bench", "bench_many_to_many")
    if not os.path.exists(path):
        pytest.skip(f"{path} is not built")
    return path


def corr_float64(x, y):
    """numpy float64 correlation between the columns of x (n, a) and y (n, b)."""
    x = x.astype(np.float64)
    y = y.astype(np.float64)
    xc = x - x.mean(axis=0)
    yc = y - y.mean(axis=0)
    sx = np.sqrt((xc * xc).sum(axis=0))
    sy = np.sqrt((yc * yc).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        c = (xc.T @ yc) / np.outer(sx, sy)
    c[~np.isfinite(c)] = 0.0
    return c


def as_samples(a):
    """(N, C) stays; (N, C, H, W) -> (N*H*W, C): every position is a sample."""
    if a.ndim == 2:
        return a
    n, c, h, w = a.shape
    return a.transpose(0, 2, 3, 1).reshape(n * h * w, c)


@pytest.fixture
def cli():
    if not CLI.exists():
        pytest.fail(f"convergent CLI not built at {CLI}")
    return run_cli
