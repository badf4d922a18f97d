#!/usr/bin/python3
"""Regenerates the small .npy/.npz fixtures in tests/data/npy/ with numpy.

Run with Debian's python3:  /usr/bin/python3 tests/data/make_npy_fixtures.py
numpy writes every fixture; the expected values (expected_*.f32, rows_*.f32)
are numpy's own float32 conversions, raw little-endian float32 in C order, so
the C++ tests compare against numpy without calling Python.
"""
import io
import os
import struct
import zipfile
import zlib

import numpy as np

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "npy")
SHAPE = (2, 3, 2, 4)


def base_values(dtype):
    """48 values with the special cases of each dtype at fixed C-order indices."""
    v = np.random.default_rng(7).standard_normal(48) * 10.0
    v[0] = 0.0
    v[1] = -0.0
    v[2] = np.inf
    v[3] = -np.inf
    v[4] = np.nan
    v[5] = 1.0 / 3.0  # rounds differently in every precision
    if dtype == "f2":
        v[6] = 2.0 ** -24          # smallest half subnormal
        v[7] = -(2.0 ** -14) * 0.75  # a larger subnormal
        v[8] = 65504.0             # largest half
        v[9] = 2.0 ** -14          # smallest normal half
        v[10] = 1e5                # overflows to inf in half
    elif dtype == "f4":
        v[6] = 1e-40               # float32 subnormal
        v[7] = 3.4e38
        v[8] = -1.17549435e-38
    else:
        v[6] = 1e-300              # underflows to 0 in float32
        v[7] = 1e39                # overflows to inf in float32
        v[8] = 123456789.123456789
    return v.reshape(SHAPE)


def write_npy(path, arr, version):
    with open(path, "wb") as f:
        np.lib.format.write_array(f, arr, version=version, allow_pickle=True)


def dtype_fixtures():
    for kind in ("f2", "f4", "f8"):
        with np.errstate(all="ignore"):
            logical = base_values(kind).astype("<" + kind)
            expected = logical.astype("<f4")
        expected.tofile(os.path.join(HERE, "expected_%s.f32" % kind))
        for order_name, byteorder in (("le", "<"), ("be", ">")):
            data = logical.astype(byteorder + kind)
            for layout in ("C", "F"):
                arr = np.asfortranarray(data) if layout == "F" else np.ascontiguousarray(data)
                for major in (1, 2, 3):
                    name = "%s_%s_%s_v%d.npy" % (kind, order_name, layout, major)
                    write_npy(os.path.join(HERE, name), arr, (major, 0))
                    back = np.load(os.path.join(HERE, name))
                    assert back.dtype == arr.dtype and back.flags.f_contiguous == (layout == "F")
                    assert np.array_equal(back, arr, equal_nan=True)


def refused_dtype_fixtures():
    np.save(os.path.join(HERE, "int32.npy"), np.arange(6, dtype="<i4").reshape(2, 3))
    np.save(os.path.join(HERE, "complex64.npy"), np.ones((2, 3), dtype="<c8"))
    np.save(os.path.join(HERE, "bool.npy"), np.ones((2, 3), dtype=bool))
    np.save(os.path.join(HERE, "object.npy"), np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    np.save(os.path.join(HERE, "structured.npy"), np.zeros(2, dtype=[("a", "<f4"), ("b", "<i4")]))


def layer_arrays():
    rng = np.random.default_rng(11)
    conv = (rng.standard_normal((3, 5, 2, 3)) * 4).astype("<f4")   # (N, C, H, W)
    fc = (rng.standard_normal((3, 7)) * 4).astype("<f4")           # (N, C)
    return conv, fc


def write_zip64_archive(path, members):
    """A stored zip whose central directory uses zip64 for every size and
    offset, with a zip64 end record and locator (what a >4 GiB archive has)."""
    out = bytearray()
    cd = bytearray()
    for name, data in members:
        nb = name.encode()
        crc = zlib.crc32(data)
        offset = len(out)
        extra = struct.pack("<HHQQ", 1, 16, len(data), len(data))
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0x21, crc,
                           0xFFFFFFFF, 0xFFFFFFFF, len(nb), len(extra)) + nb + extra + data
        cextra = struct.pack("<HHQQQ", 1, 24, len(data), len(data), offset)
        cd += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0x21, crc,
                          0xFFFFFFFF, 0xFFFFFFFF, len(nb), len(cextra), 0, 0, 0, 0,
                          0xFFFFFFFF) + nb + cextra
    cd_offset = len(out)
    out += cd
    z64 = len(out)
    n = len(members)
    out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, n, n, len(cd), cd_offset)
    out += struct.pack("<IIQI", 0x07064B50, 0, z64, 1)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    with open(path, "wb") as f:
        f.write(out)


def npy_bytes(arr):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr)
    return buf.getvalue()


def npz_fixtures():
    conv, fc = layer_arrays()
    conv_f = np.asfortranarray(conv)
    fc_f = np.asfortranarray(fc)
    # Expected (N*H*W) x C rows: Sec. 2 footnote 3, every position is a sample.
    conv.transpose(0, 2, 3, 1).reshape(-1, conv.shape[1]).astype("<f4").tofile(os.path.join(HERE, "rows_conv.f32"))
    fc.astype("<f4").tofile(os.path.join(HERE, "rows_fc.f32"))
    arrays = {"conv": conv, "convF": conv_f, "fc": fc, "fcF": fc_f,
              "conv_f2be": conv.astype(">f2"), "conv_f8F": np.asfortranarray(conv.astype(">f8"))}
    # numpy.savez writes stored members with zip64 local extra fields
    # (force_zip64=True), savez_compressed deflated ones.
    np.savez(os.path.join(HERE, "net_stored.npz"), **arrays)
    np.savez_compressed(os.path.join(HERE, "net_deflated.npz"), **arrays)
    with zipfile.ZipFile(os.path.join(HERE, "net_zip64.npz"), "w", zipfile.ZIP_STORED) as z:
        for name in ("conv", "fc"):
            with z.open(name + ".npy", "w", force_zip64=True) as f:
                f.write(npy_bytes(arrays[name]))
    write_zip64_archive(os.path.join(HERE, "net_zip64_full.npz"),
                        [("conv.npy", npy_bytes(conv)), ("fc.npy", npy_bytes(fc))])
    with zipfile.ZipFile(os.path.join(HERE, "bzip2.npz"), "w", zipfile.ZIP_BZIP2) as z:
        z.writestr("fc.npy", npy_bytes(fc))
    with zipfile.ZipFile(os.path.join(HERE, "not_npy_member.npz"), "w", zipfile.ZIP_STORED) as z:
        z.writestr("fc.npy", npy_bytes(fc))
        z.writestr("junk.npy", b"this is not an npy file")
    # Encrypted: a stored archive with the "encrypted" flag (bit 0) set in
    # both the local and the central header.
    data = bytearray()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("fc.npy", npy_bytes(fc))
    data = bytearray(buf.getvalue())
    local = data.find(b"PK\x03\x04")
    central = data.find(b"PK\x01\x02")
    data[local + 6] |= 1
    data[central + 8] |= 1
    with open(os.path.join(HERE, "encrypted.npz"), "wb") as f:
        f.write(data)
    # A net as a directory: layers are the *.npy files; other files and
    # subdirectories are ignored.
    net_dir = os.path.join(HERE, "net_dir")
    os.makedirs(os.path.join(net_dir, "subdir"), exist_ok=True)
    np.save(os.path.join(net_dir, "conv.npy"), conv)
    np.save(os.path.join(net_dir, "fcF.npy"), fc_f)
    np.save(os.path.join(net_dir, "subdir", "ignored.npy"), fc)
    with open(os.path.join(net_dir, "notes.txt"), "w") as f:
        f.write("not a layer\n")

    for name in ("net_stored.npz", "net_deflated.npz", "net_zip64.npz", "net_zip64_full.npz"):
        with np.load(os.path.join(HERE, name)) as z:
            assert np.array_equal(z["conv"], conv) and np.array_equal(z["fc"], fc), name


def main():
    os.makedirs(HERE, exist_ok=True)
    dtype_fixtures()
    refused_dtype_fixtures()
    npz_fixtures()
    total = 0
    for root, _, files in os.walk(HERE):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    print("fixtures: %d bytes" % total)
    assert total < 200 * 1024


if __name__ == "__main__":
    main()
