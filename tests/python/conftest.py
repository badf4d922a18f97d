"""Shared helpers for the Python tests (run by ctest with Debian's python3)."""
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

SOURCE_DIR = Path(os.environ.get("CONVERGENT_SOURCE_DIR", Path(__file__).resolve().parents[2]))
BUILD_DIR = Path(os.environ.get("CONVERGENT_BUILD_DIR", SOURCE_DIR / "build" / "cpu"))
CLI = Path(os.environ.get("CONVERGENT_CLI", BUILD_DIR / "cli" / "convergent"))


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
