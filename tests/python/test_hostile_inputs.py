"""Hostile and corrupt inputs to `convergent compare`: zip CRC errors, forged
sizes, overflowing shapes, running out of memory. Each must end in a clear
error naming the file, a non-zero exit (never a signal), and no output."""
import io
import json
import resource
import struct
import subprocess
import zipfile
import zlib

import numpy as np
import pytest

from conftest import CLI, run_cli


def assert_clean_failure(proc, out, *needles):
    assert proc.returncode > 0, f"exit {proc.returncode} (negative: killed by a signal)\n{proc.stderr}"
    err = proc.stderr.lower()
    for needle in needles:
        assert needle.lower() in err, f"{needle!r} not in stderr:\n{proc.stderr}"
    assert "internal error" not in err, proc.stderr
    assert not out.exists(), "output directory left behind"
    leftovers = [p.name for p in out.parent.iterdir() if p.name.startswith(".out.tmp")]
    assert not leftovers, leftovers


def layers(seed=0, n=40):
    rng = np.random.default_rng(seed)
    return {"fc": rng.normal(size=(n, 6)).astype(np.float32),
            "conv": rng.normal(size=(n, 3, 2, 2)).astype(np.float32)}


def member_data_offset(path, member):
    """Offset of a member's data in the archive (after its local header)."""
    with zipfile.ZipFile(path) as z:
        info = z.getinfo(member)
    raw = path.read_bytes()
    at = info.header_offset
    assert raw[at:at + 4] == b"PK\x03\x04"
    name_len, extra_len = struct.unpack("<HH", raw[at + 26:at + 30])
    return at + 30 + name_len + extra_len


def numpy_rejects(path):
    with pytest.raises(zipfile.BadZipFile):
        with np.load(path) as z:
            for k in z.files:
                z[k]


# ---- zip CRC-32 ----------------------------------------------------------------

def test_stored_member_with_a_flipped_data_byte_is_refused(tmp_path):
    np.savez(tmp_path / "a.npz", **layers(0))
    np.savez(tmp_path / "b.npz", **layers(1))
    path = tmp_path / "b.npz"
    raw = bytearray(path.read_bytes())
    # A byte inside fc's float data (after the 128-byte .npy header): the
    # file still parses, only the CRC can tell.
    raw[member_data_offset(path, "fc.npy") + 128 + 37] ^= 0x10
    path.write_bytes(bytes(raw))
    numpy_rejects(path)  # the oracle: zipfile checks the CRC
    out = tmp_path / "out"
    proc = run_cli("compare", tmp_path / "a.npz", path, "--out", out, "--chunk-rows", "7", check=False)
    assert_clean_failure(proc, out, "b.npz", "fc.npy", "crc")


def write_deflated_level0(path, arrays):
    """An .npz whose members are deflated at level 0 (deflate 'stored'
    blocks): a flipped payload byte stays valid deflate, so only the CRC-32
    can catch it, as with real bit rot that inflate happens to accept."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=0) as z:
        for name, a in arrays.items():
            buf = io.BytesIO()
            np.save(buf, a)
            z.writestr(name + ".npy", buf.getvalue())


@pytest.mark.parametrize("order", ["C", "F"])
def test_deflated_member_with_a_flipped_data_byte_is_refused(tmp_path, order):
    a, b = layers(0), layers(1)
    if order == "F":
        b = {k: np.asfortranarray(v) for k, v in b.items()}
    np.savez_compressed(tmp_path / "a.npz", **a)
    path = tmp_path / "b.npz"
    write_deflated_level0(path, b)
    raw = bytearray(path.read_bytes())
    # 5-byte stored-block header, then the .npy stream (128-byte header).
    raw[member_data_offset(path, "conv.npy") + 5 + 128 + 50] ^= 0x01
    path.write_bytes(bytes(raw))
    numpy_rejects(path)
    out = tmp_path / "out"
    proc = run_cli("compare", tmp_path / "a.npz", path, "--out", out, "--chunk-rows", "12", check=False)
    assert_clean_failure(proc, out, "b.npz", "conv.npy", "crc")


def test_intact_level0_deflated_archive_is_accepted(tmp_path):
    # The CRC check must not reject good archives (C and Fortran order).
    a = layers(0)
    b = {k: np.asfortranarray(v) for k, v in layers(1).items()}
    write_deflated_level0(tmp_path / "a.npz", a)
    write_deflated_level0(tmp_path / "b.npz", b)
    out = tmp_path / "out"
    run_cli("compare", tmp_path / "a.npz", tmp_path / "b.npz", "--out", out, "--chunk-rows", "9")
    assert json.loads((out / "summary.json").read_text())["layers"]["fc"]["samples"] == 40


# ---- forged sizes and shapes ---------------------------------------------------

def limit_address_space(megabytes):
    def apply():
        limit = megabytes << 20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return apply


def run_limited(args, megabytes, timeout=60, env=None):
    return subprocess.run([str(CLI), *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          preexec_fn=limit_address_space(megabytes), env=env)


def forged_npz(path, member, header_shape, claimed_size):
    """A tiny .npz whose deflated member's .npy header claims `header_shape`
    float32 and whose zip entry claims `claimed_size` uncompressed bytes,
    although the compressed stream holds only the header and 64 zeros."""
    d = "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }" % (header_shape,)
    d += " " * (117 - len(d)) + "\n"
    stream = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(d)) + d.encode() + b"\0" * 64
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = comp.compress(stream) + comp.flush()
    crc = zlib.crc32(stream)
    name = member.encode()
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(data), claimed_size, len(name), 0)
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, crc, len(data), claimed_size,
                          len(name), 0, 0, 0, 0, 0, 0)
    body = local + name + data
    cd = central + name
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(cd), len(body), 0)
    path.write_bytes(body + cd + end)


def test_tiny_deflated_member_claiming_4gib_is_refused_before_allocating(tmp_path):
    # Shape (1, 1, 32767, 32767) float32 = 4 GiB claimed by a ~250-byte
    # file; two such nets agree on the shape, so nothing but the sizes can
    # stop the reader from sizing its buffers for them.
    size = 128 + 32767 * 32767 * 4
    for name in ("a.npz", "b.npz"):
        forged_npz(tmp_path / name, "fc.npy", "(1, 1, 32767, 32767)", size)
    assert (tmp_path / "a.npz").stat().st_size < 400
    out = tmp_path / "out"
    # 1 GiB of address space: enough for the tool, far from the 4 GiB claimed.
    proc = run_limited(["compare", tmp_path / "a.npz", tmp_path / "b.npz", "--out", out], 1024)
    assert_clean_failure(proc, out, "a.npz", "fc.npy", "deflate", str(size))


def test_shape_whose_positions_overflow_is_an_error_not_undefined_behaviour(tmp_path):
    # (0, 4, 2^32, 2^32): zero elements, so the header's element count does
    # not overflow, but H * W = 2^64 would (signed overflow is UB).
    d1, d2 = tmp_path / "n1", tmp_path / "n2"
    d1.mkdir(), d2.mkdir()
    np.save(d1 / "conv.npy", np.ones((2, 4, 1, 1), np.float32))
    d = "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4, 4294967296, 4294967296), }"
    d += " " * (117 - len(d)) + "\n"
    (d2 / "conv.npy").write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(d)) + d.encode())
    out = tmp_path / "out"
    proc = run_cli("compare", d1, d2, "--out", out, check=False)
    assert_clean_failure(proc, out, "conv.npy", "empty dimension")
    assert "runtime error" not in proc.stderr  # UBSan's report, when built with it


# ---- running out of memory -----------------------------------------------------

@pytest.mark.parametrize("megabytes,threads", [(300, "1"), (300, "2"), (150, "2")])
def test_out_of_memory_is_a_clean_error(tmp_path, megabytes, threads):
    # Two nets of 2048 units each: the layer statistics alone need a
    # 4096 x 4096 float64 comoment matrix (128 MiB) and its per-chunk twin,
    # which cannot fit under these address-space limits next to the
    # libraries and thread stacks. At 150 MiB with 2 threads, OpenBLAS's
    # worker thread cannot map its 128 MiB buffer either and retries
    # forever; exiting must not wait for it (it used to hang at exit).
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 2048)).astype(np.float32)
    d1, d2 = tmp_path / "n1", tmp_path / "n2"
    d1.mkdir(), d2.mkdir()
    np.save(d1 / "fc.npy", x)
    np.save(d2 / "fc.npy", x[:, ::-1].copy())
    out = tmp_path / "out"
    env = {"OMP_NUM_THREADS": threads, "PATH": "/usr/bin:/bin"}
    # A budget far above the limit skips the up-front estimate, so the
    # allocations themselves fail.
    proc = run_limited(["compare", d1, d2, "--out", out, "--max-memory", "100000"], megabytes, timeout=20, env=env)
    assert_clean_failure(proc, out, "out of memory", "134217728 bytes")
    # By default the budget follows the address-space limit: the layer is
    # refused before anything is allocated, with the estimate.
    proc = run_limited(["compare", d1, d2, "--out", out], megabytes, timeout=20, env=env)
    assert_clean_failure(proc, out, "out of memory", "layer 'fc'", "fc.npy", "needs at least", "--max-memory")


def test_memory_budget_plans_chunks_and_refuses_what_cannot_fit(tmp_path):
    # --max-memory bounds one layer: a budget that holds the statistics but
    # only a few images per chunk gives the same result as a roomy one
    # (chunks are planned within it); one that cannot hold the statistics
    # is refused up front, naming the layer, the file and the estimate.
    rng = np.random.default_rng(5)
    x = rng.normal(size=(300, 64, 16, 16)).astype(np.float32)  # 64 KiB per image and net
    d1, d2 = tmp_path / "n1", tmp_path / "n2"
    d1.mkdir(), d2.mkdir()
    np.save(d1 / "conv.npy", x)
    np.save(d2 / "conv.npy", np.maximum(x, 0))
    roomy, tight = tmp_path / "roomy", tmp_path / "tight"
    run_cli("compare", d1, d2, "--out", roomy, "--no-mi", "--no-sparse", "--no-clusters", "--chunk-rows", "4096")
    run_cli("compare", d1, d2, "--out", tight, "--no-mi", "--no-sparse", "--no-clusters", "--chunk-rows", "4096",
            "--max-memory", "3")
    a = json.loads((roomy / "summary.json").read_text())["layers"]["conv"]
    b = json.loads((tight / "summary.json").read_text())["layers"]["conv"]
    np.testing.assert_allclose(b["mean"]["n1"], a["mean"]["n1"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.load(tight / "conv" / "n1~n2.corr.npy"), np.load(roomy / "conv" / "n1~n2.corr.npy"),
                               atol=1e-6)
    out = tmp_path / "refused"
    proc = run_cli("compare", d1, d2, "--out", out, "--max-memory", "1", check=False)
    assert_clean_failure(proc, out, "out of memory", "layer 'conv'", "conv.npy", "needs at least", "budget of 1 MiB")


# ---- Fortran-order deflated members ----------------------------------------------

def test_fortran_order_deflated_members_read_in_many_chunks_equal_c_order(tmp_path):
    # The Fortran-order member is decompressed once (not once per chunk);
    # the values must still land in the right rows: a C-order copy of the
    # same data gives bit-identical statistics, and the between-net
    # correlation equals the within-net one.
    rng = np.random.default_rng(3)
    data = {"fc": rng.normal(size=(61, 5)).astype(np.float32),
            "conv": rng.normal(size=(61, 3, 4, 2)).astype(np.float32),
            "big_endian64": rng.normal(size=(61, 4)).astype(">f8")}
    np.savez_compressed(tmp_path / "c.npz", **data)
    np.savez_compressed(tmp_path / "f.npz", **{k: np.asfortranarray(v) for k, v in data.items()})
    with np.load(tmp_path / "f.npz") as z:
        assert all(z[k].flags.f_contiguous for k in data)
    out = tmp_path / "out"
    run_cli("compare", tmp_path / "c.npz", tmp_path / "f.npz", "--out", out, "--chunk-rows", "8")
    summary = json.loads((out / "summary.json").read_text())
    for layer in data:
        lj = summary["layers"][layer]
        np.testing.assert_allclose(lj["mean"]["f"], lj["mean"]["c"], rtol=0, atol=1e-9)
        np.testing.assert_allclose(lj["std"]["f"], lj["std"]["c"], rtol=0, atol=1e-9)
        within = np.load(out / layer / "c~c.corr.npy")
        between = np.load(out / layer / "c~f.corr.npy")
        np.testing.assert_allclose(between, within, rtol=0, atol=1e-6)
        assert np.all(np.abs(np.diag(between) - 1) < 1e-6)
