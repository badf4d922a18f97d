"""Builds the compiled module convergent._core with CMake for setuptools
(pip install --no-build-isolation ., python3 -m build --no-isolation).

The CMake tree lives in setuptools' build_temp (build/temp.*/cmake at the
repository root), so a second build is incremental; ccache, when installed,
is used by the project's CMakeLists.txt. Only the target convergent_python
and what it needs are built. Environment:
  CONVERGENT_CUDA   OFF (default), AUTO or ON: the CUDA backend (needs nvcc)
  CONVERGENT_VIEWER ON or OFF; default ON when Emscripten's em++ is on PATH
                    (Result.report() needs it; without it report() raises
                    ConvergentError saying so)
  CONVERGENT_JOBS   parallel compile jobs (default: the number of CPUs)
  CONVERGENT_CMAKE_ARGS  extra arguments for the CMake configure step
Metadata and the package layout are in pyproject.toml.
"""
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.egg_info import egg_info

ROOT = Path(__file__).resolve().parent


def project_version() -> str:
    """The version of the CMake project (the one version of the library, CLI and package)."""
    text = (ROOT / "CMakeLists.txt").read_text()
    match = re.search(r"project\(convergent VERSION (\d+\.\d+\.\d+)", text)
    if not match:
        raise RuntimeError("setup.py: no `project(convergent VERSION x.y.z` in CMakeLists.txt")
    return match.group(1)


class CMakeExtension(Extension):
    def __init__(self, name: str, target: str):
        super().__init__(name, sources=[])
        self.target = target


class CMakeBuild(build_ext):
    def build_extension(self, ext: Extension) -> None:
        cmake = shutil.which("cmake")
        if not cmake:
            raise RuntimeError("building convergent needs CMake >= 3.24 (Debian: apt-get install cmake; "
                               "every dependency: bash tools/setup.sh)")
        build_dir = Path(self.build_temp).resolve() / "cmake"
        build_dir.mkdir(parents=True, exist_ok=True)
        viewer = os.environ.get("CONVERGENT_VIEWER") or ("ON" if shutil.which("em++") else "OFF")
        configure = [
            cmake, "-S", str(ROOT), "-B", str(build_dir),
            "-DCMAKE_BUILD_TYPE=Release",
            "-DCONVERGENT_PYTHON=ON",
            f"-DPython3_EXECUTABLE={sys.executable}",
            "-DCONVERGENT_TESTS=OFF",
            "-DCONVERGENT_BENCH=OFF",
            "-DCONVERGENT_FORTRAN=OFF",
            "-DCONVERGENT_THRUST_OMP=OFF",
            f"-DCONVERGENT_CUDA={os.environ.get('CONVERGENT_CUDA', 'OFF')}",
            f"-DCONVERGENT_VIEWER={viewer}",
            *shlex.split(os.environ.get("CONVERGENT_CMAKE_ARGS", "")),
        ]
        jobs = os.environ.get("CONVERGENT_JOBS") or str(os.cpu_count() or 1)
        print("convergent: " + " ".join(configure), flush=True)
        subprocess.run(configure, check=True)
        subprocess.run([cmake, "--build", str(build_dir), "--target", ext.target, "-j", jobs], check=True)
        suffix = ".so"
        built = sorted((build_dir / "python" / "convergent").glob("_core*" + suffix))
        if len(built) != 1:
            raise RuntimeError(f"expected one _core*{suffix} in {build_dir / 'python' / 'convergent'}, found {built}")
        target = Path(self.get_ext_fullpath(ext.name))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built[0], target)
        print(f"convergent: {built[0].name} -> {target}", flush=True)


class EggInfoInBuild(egg_info):
    """convergent.egg-info in build/ (ignored by git), not in python/ next to the sources."""

    def initialize_options(self) -> None:
        super().initialize_options()
        base = ROOT / "build" / "egg-info"
        base.mkdir(parents=True, exist_ok=True)
        self.egg_base = os.path.relpath(base, os.getcwd())


setup(
    version=project_version(),
    ext_modules=[CMakeExtension("convergent._core", target="convergent_python")],
    cmdclass={"build_ext": CMakeBuild, "egg_info": EggInfoInBuild},
)
