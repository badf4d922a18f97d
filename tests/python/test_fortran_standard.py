"""The Fortran module states the standard it needs, and that statement is
true: gfortran accepts it with -std=f2018 and rejects it with -std=f2008
(OPTIONAL arguments of BIND(C) interfaces are Fortran 2018)."""
import re
import shutil
import subprocess

import pytest

from conftest import SOURCE_DIR

MODULE = SOURCE_DIR / "capi" / "fortran" / "convergent.f90"


def compiles(std, tmp_path):
    return subprocess.run(["gfortran", f"-std={std}", "-fsyntax-only", "-J", str(tmp_path), str(MODULE)],
                          capture_output=True, text=True).returncode == 0


@pytest.mark.skipif(shutil.which("gfortran") is None, reason="gfortran is not installed")
def test_stated_standard_is_the_one_needed(tmp_path):
    stated = re.search(r"Fortran (\d{4}) interface", MODULE.read_text().splitlines()[0]).group(1)
    assert stated == "2018"
    assert compiles("f2018", tmp_path)
    assert not compiles("f2008", tmp_path)
