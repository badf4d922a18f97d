"""The option table (libcore/src/options.cpp) is the one declaration of every
compare option: the CLI flags, the C keys in convergent.h, the Python and
Fortran key lists and the options recorded in summary.json must all agree
with `convergent options --json`."""
import json
import re

import numpy as np
import pytest

from conftest import SOURCE_DIR, run_cli


@pytest.fixture(scope="module")
def table():
    return json.loads(run_cli("options", "--json").stdout)


def test_table_is_consistent(table):
    names = [o["name"] for o in table]
    flags = [o["flag"] for o in table] + [o["alias"] for o in table if "alias" in o]
    keys = [o["c_key"] for o in table if o["c_key"]]
    assert len(set(names)) == len(names) and len(set(flags)) == len(flags) and len(set(keys)) == len(keys)
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", n) for n in names)
    assert all(f.startswith("--") for f in flags)
    assert all(o["help"] and o["step"] for o in table)
    # Flags that default to true are switched off with --no-...; others on.
    for o in table:
        if o["type"] == "flag":
            assert o["flag"].startswith("--no-") == (o["default"] is True), o


def test_c_header_keys_equal_table(table):
    header = (SOURCE_DIR / "capi" / "include" / "convergent.h").read_text()
    defined = {m.group(1): int(m.group(2)) for m in re.finditer(r"#define (CVG_OPT_\w+) (\d+)", header)}
    assert defined == {o["c_name"]: o["c_key"] for o in table if o["c_key"]}


def test_fortran_keys_equal_table(table):
    module = (SOURCE_DIR / "capi" / "fortran" / "convergent.f90").read_text()
    declared = {m.group(1): int(m.group(2)) for m in re.finditer(r"(CVG_OPT_\w+) = (\d+)", module)}
    assert declared == {o["c_name"]: o["c_key"] for o in table if o["c_key"]}


def test_python_package_options_equal_table(table, convergent):
    # The package takes its option names, types, ranges and defaults from
    # the table itself (no list of its own): check that it exposes exactly
    # the table, that its defaults are the table's, and that the aliases of
    # version 0.1 stand for options of the table.
    assert convergent.option_names() == [o["name"] for o in table]
    assert convergent.option_table() == table
    assert convergent.Options().to_dict() == {o["name"]: o["default"] for o in table}
    assert set(convergent.OPTION_ALIASES.values()) <= {o["name"] for o in table}
    assert not set(convergent.OPTION_ALIASES) & {o["name"] for o in table}


def test_capi_ctypes_keys_equal_table(table):
    source = (SOURCE_DIR / "tests" / "python" / "capi_ctypes.py").read_text()
    block = re.search(r"OPTION_KEYS = \{(.*?)\n\}", source, re.S).group(1)
    declared = {m.group(1): int(m.group(2)) for m in re.finditer(r'"(\w+)": (\d+)', block)}
    assert declared == {o["name"]: o["c_key"] for o in table if o["c_key"]}
    doubles = re.search(r"_DOUBLE_KEYS = \{(.*?)\}", source).group(1)
    assert set(re.findall(r'"(\w+)"', doubles)) == {o["name"] for o in table if o["type"] == "real"}
    strings = re.search(r"_STRING_KEYS = \{(.*?)\}", source).group(1)
    assert set(re.findall(r'"(\w+)"', strings)) == {o["name"] for o in table if o["type"].endswith("list")}


def test_help_lists_every_flag_and_exits_0(table):
    proc = run_cli("compare", "--help")
    assert proc.returncode == 0
    for o in table:
        assert o["flag"] in proc.stdout, o["flag"]


@pytest.fixture(scope="module")
def two_nets(tmp_path_factory):
    d = tmp_path_factory.mktemp("nets")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 6)).astype(np.float32)
    for name, data in (("a", x), ("b", np.maximum(x[:, ::-1], 0) + 0.1 * rng.normal(size=x.shape))):
        (d / name).mkdir()
        np.save(d / name / "fc.npy", data.astype(np.float32))
    return d


def test_summary_records_every_recorded_option_with_its_default(table, two_nets, tmp_path):
    out = tmp_path / "o"
    run_cli("compare", two_nets / "a", two_nets / "b", f"--out={out}", "--quiet")  # --out=DIR form
    recorded = json.loads((out / "summary.json").read_text())["options"]
    assert recorded == {o["name"]: o["default"] for o in table if o["recorded"]}


def test_cli_ranges_come_from_the_table(table, two_nets, tmp_path):
    # Just past each numeric bound is a usage error naming the flag; the
    # bound itself is accepted by the same check (the C test does the same
    # for the C keys).
    for o in table:
        if o["type"] != "integer" or o["name"] in ("chunk_rows", "max_memory_mb"):
            continue
        low = int(re.search(r"(-?\d+)", o["range"]).group(1))
        proc = run_cli("compare", two_nets / "a", two_nets / "b", "--out", tmp_path / "x", o["flag"],
                       str(low - 1), check=False)
        assert proc.returncode == 2 and o["flag"] in proc.stderr and "out of range" in proc.stderr, (o, proc.stderr)
        assert not (tmp_path / "x").exists()


def test_c_and_cli_agree_on_a_range_that_used_to_drift(two_nets, tmp_path):
    # cluster_tau was [0, 1] in compare but only >= 0 in the C API.
    proc = run_cli("compare", two_nets / "a", two_nets / "b", "--out", tmp_path / "x", "--cluster-tau", "1.5",
                   check=False)
    assert proc.returncode == 2 and "[0, 1]" in proc.stderr
    import ctypes
    import os
    lib = ctypes.CDLL(os.environ["CONVERGENT_LIBRARY"])
    lib.cvg_last_error.restype = ctypes.c_char_p
    opts = ctypes.c_void_p()
    assert lib.cvg_options_create(ctypes.byref(opts)) == 0
    assert lib.cvg_options_set_double(opts, 19, ctypes.c_double(1.5)) != 0
    assert b"[0, 1]" in lib.cvg_last_error()
    assert lib.cvg_options_set_int(opts, 12, ctypes.c_int64(255)) != 0  # mi_bins: 254 everywhere
    lib.cvg_options_destroy(opts)
