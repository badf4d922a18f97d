"""`convergent report DIR`: the page embeds summary.json and the matrices it
references byte for byte, file names cannot close the data <script>, paths
outside DIR are never embedded, and errors name the file. The page itself is
tested in a browser by tests/browser/report.test.mjs.

Run by ctest with CONVERGENT_CLI set; a build without the viewer
(-DCONVERGENT_VIEWER=OFF) must refuse clearly, which is checked instead.
"""
import base64
import json
import zlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

import pytest

HERE = Path(__file__).resolve().parent
MAKE_FIXTURE = HERE.parent / "browser" / "make_fixture.py"
DATA_RE = re.compile(r'<script type="application/json" id="convergent-data">(.*?)</script>', re.S)
BLOB_RE = re.compile(r'<script type="application/octet-stream" id="convergent-blob">(.*?)</script>', re.S)


def cli():
    path = os.environ.get("CONVERGENT_CLI")
    if not path:
        pytest.skip("CONVERGENT_CLI not set")
    return path


def report(*args):
    return subprocess.run([cli(), "report", *map(str, args)], capture_output=True, text=True)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    subprocess.run([sys.executable, str(MAKE_FIXTURE), str(out)], check=True)
    r = report(out)
    if r.returncode != 0 and "built without the viewer" in r.stderr:
        pytest.skip("this convergent was built without the viewer")
    assert r.returncode == 0, r.stderr
    return out


def base125_bytes(text, count):
    """The blob of a format-3 page: every 7 characters a 48-bit number in base
    125 (digit d is the d-th of the ASCII characters 1-127 without 13 and 60),
    most significant first, which is 6 bytes, big-endian."""
    digit = {c: d for d, c in enumerate(c for c in range(1, 128) if c not in (13, 60))}
    assert len(text) == 7 * -(-count // 6)
    out = bytearray()
    for g in range(0, len(text), 7):
        v = 0
        for ch in text[g:g + 7]:
            v = 125 * v + digit[ord(ch)]
        out += v.to_bytes(6, "big")
    return bytes(out[:count])


def payload_of(html_path):
    """(html, JSON head, payload with the deflated file table merged in and
    payload["bytes"](entry) giving an entry's stored bytes)."""
    html = Path(html_path).read_text(encoding="utf-8")
    match = DATA_RE.search(html)
    assert match, "no data block"
    payload = json.loads(match.group(1))
    blob = base125_bytes(BLOB_RE.search(html).group(1), payload["blob"]["bytes"])
    payload["bytes"] = lambda entry: blob[entry["offset"]:entry["offset"] + entry["length"]]
    payload.update(json.loads(zlib.decompress(payload["bytes"](payload["index"]))))
    return html, match.group(1), payload


def fixed16_codes(raw, start, kept):
    """The int16 codes of the "classes" layout: each zigzag value's bit length,
    a byte per value, then the bits below each leading one, one bit stream."""
    classes = raw[start:start + kept]
    bits = np.unpackbits(np.frombuffer(raw[start + kept:], np.uint8))
    at, codes = 0, []
    for k in classes:
        z = k
        if k >= 2:
            z = 1
            for b in bits[at:at + k - 1]:
                z = 2 * z + int(b)
            at += k - 1
        codes.append(-(z + 1) // 2 if z & 1 else z // 2)
    assert at <= len(bits) < at + 8
    return np.array(codes, np.int64)


def copy_results(src, dst):
    shutil.copytree(src, dst)
    (dst / "report.html").unlink(missing_ok=True)
    return dst


def embedded_summary(payload):
    assert payload["summary"]["encoding"] == "deflate"
    return json.loads(zlib.decompress(payload["bytes"](payload["summary"])))


def test_embeds_summary_and_every_matrix(results):
    _, _, payload = payload_of(results / "report.html")
    assert payload["format"] == "convergent-report" and payload["version"] == 3
    # summary.json without its indentation: the same values.
    assert embedded_summary(payload) == json.loads((results / "summary.json").read_text())
    summary = json.loads((results / "summary.json").read_text())
    referenced = {p for layer in summary["layers"].values() for entry in layer["files"].values() for p in entry.values()}
    # Fig. 1d copies are rebuilt in the page from .corr.npy/.mi.npy + matched_order.
    matched = {p for p in referenced if p.endswith("_matched.npy")}
    assert len(matched) == 15 and all((results / p).is_file() for p in matched)
    assert set(payload["files"]) == referenced - matched
    assert len(payload["files"]) == 30
    for path, entry in payload["files"].items():
        assert entry["encoding"] == "deflate", path
        raw = zlib.decompress(payload["bytes"](entry))
        # Display-only matrices: numpy's rounding of the file to multiples of
        # the step (NaN as -32768), the upper triangle only where the matrix
        # is symmetric.
        assert entry["stored"] == "fixed16" and entry["step"] == 2.0 ** -12, path
        start = 10 + int.from_bytes(raw[8:10], "little")
        assert "'<i2'" in raw[:start].decode("latin1"), path
        a = np.load(results / path).astype(np.float64)
        expected = np.where(np.isnan(a), -32768, np.round(a / entry["step"]))
        expected = expected[np.triu_indices(len(expected))] if entry["layout"] == "upper-classes" else expected.ravel()
        assert entry["layout"] in ("classes", "upper-classes"), path
        assert np.array_equal(fixed16_codes(raw, start, len(expected)), expected), path
    assert payload["omitted"] == {} and payload["warnings"] == []


def test_full_precision_embeds_every_matrix_byte_for_byte(results, tmp_path):
    r = report(results, "--out", tmp_path / "full.html", "--full-precision")
    assert r.returncode == 0, r.stderr
    _, _, payload = payload_of(tmp_path / "full.html")
    for path, entry in payload["files"].items():
        assert "stored" not in entry and "layout" not in entry, path
        assert zlib.decompress(payload["bytes"](entry)) == (results / path).read_bytes(), path


def test_matched_copies_are_embedded_only_without_matched_order(results, tmp_path):
    d = copy_results(results, tmp_path / "r")
    summary = json.loads((d / "summary.json").read_text())
    del summary["layers"]["conv1"]["pairs"]["net1~net2"]["correlation"]["matched_order"]
    (d / "summary.json").write_text(json.dumps(summary))
    r = report(d)
    assert r.returncode == 0, r.stderr
    _, _, payload = payload_of(d / "report.html")
    assert [p for p in payload["files"] if p.endswith("_matched.npy")] == ["conv1/net1~net2.corr_matched.npy"]
    full = (d / "report.html").stat().st_size
    # Without the "files" map (conventional names) the copies are skipped too.
    for layer in summary["layers"].values():
        del layer["files"]
    summary["layers"]["conv1"]["pairs"]["net1~net2"]["correlation"]["matched_order"] = list(range(24))
    (d / "summary.json").write_text(json.dumps(summary))
    r = report(d)
    assert r.returncode == 0, r.stderr
    _, _, payload = payload_of(d / "report.html")
    assert payload["files"] and not any(p.endswith("_matched.npy") for p in payload["files"])
    assert (d / "report.html").stat().st_size < full


def test_crafted_names_cannot_close_the_data_script(tmp_path):
    out = tmp_path / "crafted"
    subprocess.run([sys.executable, str(MAKE_FIXTURE), str(out), "--crafted"], check=True)
    # File names carry the payload too: point one entry at a '<'-named file.
    evil = "conv1/</script><script>alert(1)</script>"
    summary = json.loads((out / "summary.json").read_text())
    summary["layers"]["conv1"]["files"]["x"] = {"corr": "conv1/<b>&amp;.npy", "evil": evil}
    (out / "conv1" / "<b>&amp;.npy").write_bytes((out / "conv1" / "n0~n0.corr.npy").read_bytes())
    (out / "summary.json").write_text(json.dumps(summary))
    r = report(out)
    if r.returncode != 0 and "built without the viewer" in r.stderr:
        pytest.skip("this convergent was built without the viewer")
    assert r.returncode == 0, r.stderr
    html, block, payload = payload_of(out / "report.html")
    assert "<" not in block and ">" not in block and "&" not in block
    assert "conv1/<b>&amp;.npy" in payload["files"]
    assert evil not in html
    assert any(evil in w for w in payload["warnings"])  # missing file, reported as text
    assert html.count("</script") == html.count("<script")
    names = embedded_summary(payload)["nets"]
    assert names[0] == "<img src=x onerror=window.__pwned=1>"


def test_paths_outside_the_directory_are_never_embedded(results, tmp_path):
    d = copy_results(results, tmp_path / "r")
    (tmp_path / "outside.npy").write_bytes(b"secret")
    summary = json.loads((d / "summary.json").read_text())
    summary["layers"]["conv1"]["files"]["net1~net2"].update(
        {"up": "../outside.npy", "abs": str(tmp_path / "outside.npy"), "gone": "conv1/not_there.npy"})
    (d / "summary.json").write_text(json.dumps(summary))
    r = report(d)
    assert r.returncode == 0, r.stderr
    _, _, payload = payload_of(d / "report.html")
    assert not any("outside" in p or "not_there" in p for p in payload["files"])
    warnings = "\n".join(payload["warnings"])
    assert "../outside.npy" in warnings and "not_there.npy" in warnings and str(tmp_path / "outside.npy") in warnings
    assert "warning" in r.stderr


def test_large_matrices_are_left_out_with_a_note(results, tmp_path):
    d = copy_results(results, tmp_path / "r")
    r = report(d, "--max-file-mb", "0.002")  # 2 KiB: the 24x24 float32 matrices (2432 B) are too big
    assert r.returncode == 0, r.stderr
    _, _, payload = payload_of(d / "report.html")
    assert "conv1/net1~net2.corr.npy" in payload["omitted"]
    assert "max-file-mb" in payload["omitted"]["conv1/net1~net2.corr.npy"]
    assert "conv1/net1~net2.corr.npy" not in payload["files"]


def test_out_option_and_atomic_replacement(results, tmp_path):
    out = tmp_path / "page.html"
    out.write_text("old")
    r = report(results, "--out", out)
    assert r.returncode == 0, r.stderr
    assert str(out) in r.stdout
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page.html"]


@pytest.mark.parametrize("content, message", [
    (None, "summary.json' not found"),
    ('{"schema_version": 1, "nets": [', "not valid JSON"),
    ('[1, 2]', "expected a JSON object"),
    ('{"schema_version": 2, "nets": ["a"], "layers": {}}', "schema_version 2 is not supported"),
    ('{"schema_version": 1, "nets": "a", "layers": {}}', "'nets' must be a non-empty array"),
    ('{"schema_version": 1, "nets": ["a"], "layers": []}', "'layers' must be an object"),
])
def test_bad_summary_is_an_error_naming_the_file(tmp_path, content, message):
    if content is not None:
        (tmp_path / "summary.json").write_text(content)
    r = report(tmp_path)
    if "built without the viewer" in r.stderr:
        assert r.returncode == 1
        return
    assert r.returncode == 1
    assert message in r.stderr
    assert str(tmp_path / "summary.json") in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ([] if content is None else ["summary.json"])


def test_unwritable_output_is_an_error(results, tmp_path):
    r = report(results, "--out", tmp_path / "no" / "such" / "dir" / "page.html")
    assert r.returncode == 1
    assert "cannot write" in r.stderr or "built without the viewer" in r.stderr


@pytest.mark.parametrize("args, code", [([], 2), (["a", "b"], 2), (["--bogus", "x"], 2), (["x", "--out"], 2),
                                        (["x", "--max-file-mb", "-1"], 2), (["--help"], 0)])
def test_usage(args, code):
    r = subprocess.run([cli(), "report", *args], capture_output=True, text=True)
    assert r.returncode == code, r.stderr
    assert "usage: convergent report" in (r.stdout if code == 0 else r.stderr)


CSP_RE = re.compile(r'<meta http-equiv="Content-Security-Policy"\s+content="([^"]*)"')


def test_content_security_policy_allows_only_the_pages_own_scripts(results):
    import hashlib
    html = (results / "report.html").read_text(encoding="utf-8")
    match = CSP_RE.search(html)
    assert match, "no Content-Security-Policy meta element"
    directives = {d.split()[0]: d.split()[1:] for d in match.group(1).split(";") if d.strip()}
    assert directives["default-src"] == ["'none'"]
    for name, sources in directives.items():
        assert "'unsafe-inline'" not in sources and "'unsafe-eval'" not in sources, (name, sources)
    assert "convergent-" not in match.group(1), "a placeholder was left in the policy"

    def hashes(tag):
        blocks = re.findall(rf"<{tag}>(.*?)</{tag}>", html, re.S)
        return sorted("'sha256-" + base64.b64encode(hashlib.sha256(b.encode()).digest()).decode() + "'" for b in blocks)

    # Exactly the executable inline scripts (the data block is JSON, not run)
    # and the stylesheet, hashed independently with hashlib.
    scripts = hashes("script")
    assert len(scripts) == 2
    assert sorted(s for s in directives["script-src"] if s.startswith("'sha256-")) == scripts
    assert "'wasm-unsafe-eval'" in directives["script-src"]
    assert sorted(directives["style-src"]) == hashes("style")
    assert html.count("<script") == 4 and 'id="convergent-data"' in html and 'id="convergent-blob"' in html
