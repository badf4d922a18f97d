"""Net and layer names are validated before any work: NAME=PATH names a net,
'~' (which joins pair keys), non-UTF-8 names and layer names that collide
with output files are refused up front with a message and no output."""
import json
import zipfile

import numpy as np
import pytest

from conftest import run_cli


def save_net(path, layers):
    path.mkdir(parents=True)
    for name, data in layers.items():
        np.save(path / f"{name}.npy", data)


@pytest.fixture
def acts():
    rng = np.random.default_rng(1)
    return rng.normal(size=(50, 4)).astype(np.float32)


def assert_refused(proc, out, *needles):
    assert proc.returncode != 0, proc.stdout
    for n in needles:
        assert n in proc.stderr, (n, proc.stderr)
    assert not out.exists()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")], list(out.parent.iterdir())


def test_same_basename_needs_names_and_works_with_them(tmp_path, acts):
    np.savez(tmp_path / "a.npz", fc=acts)
    (tmp_path / "run1").mkdir(), (tmp_path / "run2").mkdir()
    np.savez(tmp_path / "run1" / "acts.npz", fc=acts)
    np.savez(tmp_path / "run2" / "acts.npz", fc=acts[:, ::-1])
    out = tmp_path / "out"
    proc = run_cli("compare", tmp_path / "run1" / "acts.npz", tmp_path / "run2" / "acts.npz", "--out", out,
                   check=False)
    assert_refused(proc, out, "two inputs are named 'acts'", "NAME=PATH")
    run_cli("compare", f"first={tmp_path / 'run1' / 'acts.npz'}", f"second={tmp_path / 'run2' / 'acts.npz'}",
            "--out", out, "--quiet")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["nets"] == ["first", "second"]
    assert summary["inputs"]["second"] == str(tmp_path / "run2" / "acts.npz")
    # the reversed columns are matched back exactly
    assert summary["layers"]["fc"]["pairs"]["first~second"]["correlation"]["matching"] == [3, 2, 1, 0]
    assert (out / "fc" / "first~second.corr.npy").exists()


def test_a_path_holding_an_equals_sign_is_still_a_path(tmp_path, acts):
    save_net(tmp_path / "x=1", {"fc": acts})
    save_net(tmp_path / "y", {"fc": acts})
    out = tmp_path / "out"
    run_cli("compare", tmp_path / "x=1", tmp_path / "y", "--out", out, "--quiet")
    assert json.loads((out / "summary.json").read_text())["nets"] == ["x=1", "y"]


@pytest.mark.parametrize("names", [("a", "a~b", "b~c", "c"), ("a~b", "c")])
def test_tilde_in_a_net_name_is_refused(tmp_path, acts, names):
    # nets a, a~b, b~c, c made pair keys ambiguous ("a~b~c" twice) and one
    # pair's results silently replaced another's.
    paths = []
    for i, n in enumerate(names):
        save_net(tmp_path / n, {"fc": acts + i})
        paths.append(tmp_path / n)
    out = tmp_path / "out"
    proc = run_cli("compare", *paths, "--out", out, check=False)
    assert_refused(proc, out, "contains '~'")
    proc = run_cli("compare", f"x~y={paths[0]}", f"z={paths[1]}", "--out", out, check=False)
    assert_refused(proc, out, "contains '~'")


def run_bytes(*args):
    """The CLI with byte arguments (names that are not UTF-8)."""
    import subprocess
    from conftest import CLI
    return subprocess.run([str(CLI).encode(), *[a if isinstance(a, bytes) else str(a).encode() for a in args]],
                          capture_output=True, timeout=120)


def test_non_utf8_net_name_is_refused_up_front(tmp_path, acts):
    import os
    bad = str(tmp_path).encode() + b"/net\xff"
    os.mkdir(bad)
    np.save(os.fsdecode(bad + b"/fc.npy"), acts)
    save_net(tmp_path / "ok", {"fc": acts})
    out = tmp_path / "out"
    proc = run_bytes("compare", bad, tmp_path / "ok", "--out", out)
    assert proc.returncode != 0 and b"not valid UTF-8" in proc.stderr and b"net\\xff" in proc.stderr, proc.stderr
    assert not out.exists()


@pytest.mark.parametrize("layer", [b"summary.json", b"report.html", b".hidden", b"fc\x01", b"fc\xfe"])
def test_layer_names_that_cannot_be_outputs_are_refused_up_front(tmp_path, acts, layer):
    # (an .npz member name is decoded by libzip, as CP437 unless flagged
    # UTF-8, so it is always valid UTF-8; directories of .npy files are not)
    import os
    for net in (b"a", b"b"):
        d = str(tmp_path).encode() + b"/" + net
        os.mkdir(d)
        np.save(os.fsdecode(d + b"/" + layer + b".npy"), acts)
    out = tmp_path / "out"
    proc = run_bytes("compare", tmp_path / "a", tmp_path / "b", "--out", out)
    assert proc.returncode != 0, proc.stderr
    assert b"layer name" in proc.stderr and str(tmp_path / "a").encode() in proc.stderr, proc.stderr
    assert not out.exists()
