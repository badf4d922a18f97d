"""Each unit's top-k inputs (libcore/include/convergent/topk.hpp) against a
numpy reference: a conv unit's value for an input is its maximum over
positions (the first position on ties), the order is the value descending
then the input index ascending. Chunk boundaries (--chunk-rows) and batch
boundaries (the streaming session) must not change anything. The patches
(patches.hpp) are checked against a hand-computed receptive-field crop."""
import json
import zlib

import numpy as np
import pytest

from conftest import run_cli


def reference_topk(x, k):
    """x: (N, C) or (N, C, H, W). Returns images, values, positions (C x k)."""
    n = x.shape[0]
    flat = x.reshape(n, x.shape[1], -1) if x.ndim == 4 else x[:, :, None]
    best = flat.max(axis=2)                      # (N, C)
    where = flat.argmax(axis=2)                  # first position of the maximum
    units = x.shape[1]
    images = np.full((units, k), -1, np.int64)
    values = np.full((units, k), np.nan, np.float32)
    positions = np.full((units, k), -1, np.int64)
    for u in range(units):
        # lexsort: last key first; value descending, then index ascending
        order = np.lexsort((np.arange(n), -best[:, u].astype(np.float64)))[:k]
        images[u, :len(order)] = order
        values[u, :len(order)] = best[order, u]
        positions[u, :len(order)] = where[order, u]
    return images, values, positions


def quantised(rng, shape):
    # Few distinct values: many ties between inputs and between positions.
    return rng.integers(0, 5, size=shape).astype(np.float32) + 0.25 * rng.integers(0, 2, size=shape[:2] + (1,) * (len(shape) - 2))


@pytest.fixture(scope="module")
def nets(tmp_path_factory):
    d = tmp_path_factory.mktemp("topk")
    rng = np.random.default_rng(3)
    layers = {}
    for net in ("a", "b"):
        conv = quantised(rng, (57, 6, 3, 4))
        dense = quantised(rng, (57, 5))
        np.savez(d / f"{net}.npz", conv=conv, fc=dense)
        layers[net] = {"conv": conv, "fc": dense}
    return d, layers


@pytest.mark.parametrize("chunk_rows", [16384, 13, 1])
def test_topk_equals_numpy_argsort(nets, tmp_path, chunk_rows):
    d, layers = nets
    out = tmp_path / "out"
    run_cli("compare", d / "a.npz", d / "b.npz", "--out", out, "--top-k", 7, "--chunk-rows", chunk_rows,
            "--no-mi", "--no-sparse", "--no-clusters")
    summary = json.loads((out / "summary.json").read_text())
    for layer in ("conv", "fc"):
        tp = summary["layers"][layer]["top_patches"]
        assert tp["available"] and tp["k"] == 7
        for net in ("a", "b"):
            images, values, positions = reference_topk(layers[net][layer], 7)
            got = np.load(out / tp["nets"][net]["topk"])
            assert got.dtype == np.int64 and got.shape == images.shape
            np.testing.assert_array_equal(got, images)
            np.testing.assert_array_equal(np.load(out / tp["nets"][net]["values"]), values)
            np.testing.assert_array_equal(np.load(out / tp["nets"][net]["positions"]), positions)


def test_more_k_than_inputs_pads(nets, tmp_path):
    d, layers = nets
    out = tmp_path / "out"
    run_cli("compare", d / "a.npz", d / "b.npz", "--out", out, "--top-k", 60, "--layers", "fc",
            "--no-mi", "--no-sparse", "--no-clusters")
    got = np.load(out / "fc" / "a.topk.npy")
    images, _, _ = reference_topk(layers["a"]["fc"], 60)
    np.testing.assert_array_equal(got, images)
    assert (got[:, 57:] == -1).all() and np.isnan(np.load(out / "fc" / "a.topk_values.npy")[:, 57:]).all()


def test_session_batches_equal_files(nets, convergent, tmp_path):
    d, layers = nets
    # The streaming session, in uneven batches: the same top k as the files.
    session = convergent._core.Session(["a", "b"], {"top_k": 7, "mutual_information": False,
                                                    "sparse_prediction": False, "clustering": False})
    for lo, hi in ((0, 5), (5, 6), (6, 40), (40, 57)):
        for i, net in enumerate(("a", "b")):
            session.push(i, "conv", np.ascontiguousarray(layers[net]["conv"][lo:hi]))
    _, result = session.finish()
    images, values, positions = reference_topk(layers["b"]["conv"], 7)
    np.testing.assert_array_equal(np.asarray(result.array("conv/b.topk.npy")), images)
    np.testing.assert_array_equal(np.asarray(result.array("conv/b.topk_positions.npy")), positions)


def png_pixels(path):
    """Decodes an 8-bit grey, non-interlaced PNG (what encode_png writes) with zlib."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height = int.from_bytes(header[:4], "big"), int.from_bytes(header[4:8], "big")
    assert header[8] == 8 and header[9] == 0
    raw = zlib.decompress(idat)
    out = np.zeros((height, width), np.int32)
    prev = np.zeros(width, np.int32)
    for r in range(height):
        f = raw[r * (width + 1)]
        line = np.frombuffer(raw[r * (width + 1) + 1:(r + 1) * (width + 1)], np.uint8).astype(np.int32)
        cur = np.zeros(width, np.int32)
        for c in range(width):
            a = cur[c - 1] if c else 0
            b = prev[c]
            cc = prev[c - 1] if c else 0
            if f == 0: pred = 0
            elif f == 1: pred = a
            elif f == 2: pred = b
            elif f == 3: pred = (a + b) // 2
            else:
                p = a + b - cc
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - cc)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else cc
            cur[c] = (line[c] + pred) & 255
        out[r] = cur
        prev = cur
    return out


def test_patches_are_the_receptive_field_crops(tmp_path):
    rng = np.random.default_rng(5)
    n, h, w = 20, 9, 11
    images = rng.integers(1, 256, size=(n, h, w), dtype=np.uint8)  # no 0: padding shows as 0
    conv = rng.normal(size=(n, 3, 4, 5)).astype(np.float32)          # a 4 x 5 map
    dense = rng.normal(size=(n, 2)).astype(np.float32)
    for net in ("a", "b"):
        np.savez(tmp_path / f"{net}.npz", conv=conv, fc=dense)
    np.save(tmp_path / "images.npy", images)
    out = tmp_path / "out"
    # size 5, stride 2, padding 1: position (y, x) sees rows 2y-1 .. 2y+3, columns 2x-1 .. 2x+3
    run_cli("compare", tmp_path / "a.npz", tmp_path / "b.npz", "--out", out, "--top-k", 3,
            "--images", tmp_path / "images.npy", "--receptive-field", "conv=5,2,1",
            "--no-mi", "--no-sparse", "--no-clusters")
    summary = json.loads((out / "summary.json").read_text())
    tp = summary["layers"]["conv"]["top_patches"]
    assert tp["receptive_field"] == {"size": 5, "stride": 2, "padding": 1}
    sheet = png_pixels(out / tp["nets"]["a"]["patches"])
    assert sheet.shape == (3 * 5, 3 * 5)
    top = np.load(out / "conv" / "a.topk.npy")
    pos = np.load(out / "conv" / "a.topk_positions.npy")
    for u in range(3):
        for j in range(3):
            y, x = divmod(int(pos[u, j]), 5)
            expected = np.zeros((5, 5), np.int32)
            for r in range(5):
                for c in range(5):
                    iy, ix = 2 * y - 1 + r, 2 * x - 1 + c
                    if 0 <= iy < h and 0 <= ix < w:
                        expected[r, c] = images[top[u, j], iy, ix]
            np.testing.assert_array_equal(sheet[u * 5:(u + 1) * 5, j * 5:(j + 1) * 5], expected)
    # A corner position has its padding: position 0 is (0, 0), its first row and column are outside.
    # Dense layers show whole images.
    fc = png_pixels(out / summary["layers"]["fc"]["top_patches"]["nets"]["b"]["patches"])
    topfc = np.load(out / "fc" / "b.topk.npy")
    assert fc.shape == (2 * h, 3 * w)
    np.testing.assert_array_equal(fc[h:2 * h, 2 * w:3 * w], images[topfc[1, 2]])


def test_bad_receptive_field_is_rejected_before_output(nets, tmp_path):
    d, _ = nets
    proc = run_cli("compare", d / "a.npz", d / "b.npz", "--out", tmp_path / "out", "--receptive-field", "conv=5,2",
                   check=False)
    assert proc.returncode != 0 and "receptive_field" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_image_count_mismatch_is_an_error(nets, tmp_path):
    d, _ = nets
    np.save(tmp_path / "images.npy", np.zeros((10, 4, 4), np.uint8))
    proc = run_cli("compare", d / "a.npz", d / "b.npz", "--out", tmp_path / "out", "--images", tmp_path / "images.npy",
                   check=False)
    assert proc.returncode != 0 and "10 images" in proc.stderr and "57 inputs" in proc.stderr


def _truncated(path):
    np.save(path, np.zeros((57, 4, 4), np.uint8))
    raw = path.read_bytes()
    path.write_bytes(raw[:-5])


def _huge(path):
    # A header claiming 57 x 4e9 x 4 bytes over a few hundred bytes of data.
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "|u1", "fortran_order": False,
                                                 "shape": (57, 4000000000, 4)})
        f.write(bytes(912))


@pytest.mark.parametrize("make,message", [
    (lambda p: np.save(p, np.zeros((57, 4, 4), np.int16)), "dtype"),
    (lambda p: np.save(p, np.full((57, 4, 4), np.nan, np.float32)), "not finite"),
    (lambda p: np.save(p, np.asfortranarray(np.zeros((57, 4, 4), np.uint8))), "Fortran"),
    (lambda p: np.save(p, np.zeros((57, 4), np.uint8)), "rank 2"),
    (lambda p: p.write_bytes(b"not an npy file at all"), "not an .npy"),
    (_truncated, "fewer values"),
    (_huge, "fewer values"),
])
def test_hostile_image_files_are_clear_errors_without_output(nets, tmp_path, make, message):
    """The --images file is read header first and image by image: each bad
    file is an error naming it, a non-zero exit and no output."""
    d, _ = nets
    images = tmp_path / "images.npy"
    make(images)
    out = tmp_path / "out"
    proc = run_cli("compare", d / "a.npz", d / "b.npz", "--out", out, "--images", images, "--no-mi", "--no-sparse",
                   "--no-clusters", check=False)
    assert proc.returncode != 0, proc.stderr
    assert str(images) in proc.stderr and message in proc.stderr, proc.stderr
    assert not out.exists()
