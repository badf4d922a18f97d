#!/usr/bin/python3
"""Writes the seed corpora of the libFuzzer harnesses (docs/fuzzing.md).

    make_corpus.py [CORPUS_DIR]     (default: tests/fuzz/corpus next to this file)

corpus/npy/        the .npy fixtures of tests/data/npy: f2/f4/f8, both byte orders,
                   C and Fortran order, versions 1-3, plus the refused dtypes and a
                   4-D (N, C, H, W) layer
corpus/npz/        the .npz fixtures: stored, deflated, zip64, bzip2, encrypted, a
                   member that is not .npy
corpus/stats_capi/ call programs in the encoding of fuzz_stats_capi.cpp
corpus/viewer/     results directories (tests/browser/make_fixture.py) packed as
                   summary.json + "\\n=== path\\n" + bytes, reduced to stay small

The outputs are committed; rerun after changing a fixture or an encoding.
Needs Debian's python3 with numpy and scipy (make_fixture.py).
"""
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))
NPY_FIXTURES = os.path.join(SOURCE, "tests", "data", "npy")


def clean(directory):
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)


def npy_corpus(out):
    clean(out)
    for name in sorted(os.listdir(NPY_FIXTURES)):
        if name.endswith(".npy"):
            shutil.copy(os.path.join(NPY_FIXTURES, name), os.path.join(out, name))
    rng = np.random.default_rng(0)
    np.save(os.path.join(out, "conv_nchw_f4.npy"), rng.standard_normal((2, 3, 2, 2)).astype("<f4"))
    np.save(os.path.join(out, "dense_dead_unit_f8.npy"), np.array([[1.0, 2.0], [1.0, 3.0]], dtype=">f8"))
    np.save(os.path.join(out, "empty_f4.npy"), np.zeros((0, 3), dtype="<f4"))


def npz_corpus(out):
    clean(out)
    for name in sorted(os.listdir(NPY_FIXTURES)):
        if name.endswith(".npz") and os.path.getsize(os.path.join(NPY_FIXTURES, name)) <= 8192:
            shutil.copy(os.path.join(NPY_FIXTURES, name), os.path.join(out, name))
    rng = np.random.default_rng(1)
    layers = {"conv1": rng.standard_normal((2, 2, 2, 2)).astype("<f2"), "fc": rng.standard_normal((3, 2))}
    np.savez(os.path.join(out, "small_stored.npz"), **layers)
    np.savez_compressed(os.path.join(out, "small_deflated.npz"), **layers)


# ---- fuzz_stats_capi programs (op byte % 10, then the slot byte, then operands)
CREATE, PUSH, MERGE, FINALIZE, READ, SAVE, LOAD, DESTROY, STALE, ANALYSES = range(10)


def values(count, seed, special=()):
    """count value bytes: small numbers (b % 16 >= 10), with special bytes mixed in."""
    rng = np.random.default_rng(seed)
    out = [int(16 * rng.integers(0, 16) + rng.integers(10, 16)) for _ in range(count)]
    for position, byte in special:
        out[position] = byte
    return out


def create(slot, units, backend=1):
    return [CREATE, slot, len(units) - 1] + list(units) + [backend]


def push(slot, net, rows, units, layout=0, ld_delta=1, seed=0, special=()):
    return [PUSH, slot, net, rows, layout, ld_delta] + values(rows * units, seed, special)


def accumulator_file(widths, count, rng):
    width = sum(widths)
    data = b"CVGMOM01" + struct.pack("<q", len(widths)) + struct.pack("<%dq" % len(widths), *widths)
    data += struct.pack("<q", count)
    data += struct.pack("<%dd" % width, *rng.standard_normal(width))
    m = rng.standard_normal((width, width))
    data += struct.pack("<%dd" % (width * width), *(m @ m.T).ravel())
    return data


def stats_corpus(out):
    clean(out)
    rng = np.random.default_rng(2)
    programs = {
        # Two nets, pushed, finalised, read, saved, reloaded, read, analysed.
        "roundtrip": create(0, [3, 2]) + push(0, 0, 4, 3, seed=1) + push(0, 1, 4, 2, seed=2)
        + [FINALIZE, 0, READ, 0, 0, 1, 0, 1, SAVE, 0, 0, LOAD, 1, 0, FINALIZE, 1, READ, 1, 1, 0, 1, 1,
           ANALYSES, 0, 0, 1],
        # NaN and Inf rows are refused, column-major data, a bad ld.
        "nan_inf_colmajor": create(0, [2, 2]) + push(0, 0, 3, 2, layout=1, seed=3, special=[(1, 0)])
        + push(0, 0, 3, 2, layout=1, seed=4, special=[(2, 1)]) + push(0, 0, 3, 2, layout=1, ld_delta=0, seed=5)
        + push(0, 1, 3, 2, layout=1, seed=6) + [FINALIZE, 0, READ, 0, 0, 0, 1, 2],
        # Extremes and denormals, dead units (constant values), one sample.
        "extremes_dead": create(0, [4]) + push(0, 0, 1, 4, seed=7, special=[(0, 3), (1, 4), (2, 5), (3, 6)])
        + [FINALIZE, 0, READ, 0, 0, 0, 0, 1] + push(0, 0, 2, 4, seed=8, special=[(0, 9), (4, 9)])
        + [FINALIZE, 0, READ, 0, 0, 0, 1, 3],
        # Merge of two accumulators, a self merge, a mismatched merge, destroy and the stale handle.
        "merge_destroy": create(0, [2, 1]) + create(1, [2, 1]) + create(2, [1, 1])
        + push(0, 0, 2, 2, seed=9) + push(0, 1, 2, 1, seed=10) + push(1, 0, 3, 2, seed=11)
        + push(1, 1, 3, 1, seed=12) + [MERGE, 0, 1, MERGE, 0, 0, MERGE, 0, 2, FINALIZE, 0, READ, 0, 0, 1, 0, 1,
                                       DESTROY, 1, STALE, 0, DESTROY, 1],
        # Partial batches: save with a pending batch, finalise without samples, bad nets.
        "pending_batch": create(0, [2, 2, 1]) + push(0, 0, 2, 2, seed=13) + [SAVE, 0, 0, FINALIZE, 0]
        + push(0, 0, 2, 2, seed=14) + push(0, 4, 2, 2, seed=15) + push(0, 1, 3, 2, seed=16)
        + [READ, 0, 4, 3, 2, 0, SAVE, 0, 3],
        # A saved file loaded damaged (byte changed, truncated).
        "damaged_load": create(0, [2]) + push(0, 0, 3, 2, seed=17) + [SAVE, 0, 0, LOAD, 1, 1, 20, 0, 0x7f,
                                                                      LOAD, 2, 1, 41, 1, READ, 1, 0, 0, 0, 1],
        # Raw accumulator files: a valid one, wrong magic.
        "raw_load": [LOAD, 0, 2, len(accumulator_file([2, 1], 5, rng)) // 4] + list(accumulator_file([2, 1], 5, rng))
        + [FINALIZE, 0, READ, 0, 0, 1, 0, 1, ANALYSES, 0, 0, 1, LOAD, 1, 2, 4] + list(b"CVGMOM02\x01\0\0\0\0\0\0\0"),
        # Invalid creates: no units, unknown backend, CUDA without a device.
        "bad_create": create(0, [0, 2]) + create(0, [2], backend=3) + create(0, [2], backend=2) + [READ, 0, 0, 0, 0, 0],
    }
    for name, program in programs.items():
        with open(os.path.join(out, name + ".bin"), "wb") as f:
            f.write(bytes(b & 0xFF for b in program))


# ---- viewer: packed results directories
MARKER = b"\n=== "


def rounded(value):
    if isinstance(value, float):
        return float("%.2g" % value)
    if isinstance(value, list):
        return [rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    return value


def pack(results, summary, paths):
    data = json.dumps(rounded(summary), separators=(",", ":")).encode()
    for path in paths:
        with open(os.path.join(results, path), "rb") as f:
            data += MARKER + path.encode() + b"\n" + f.read()
    return data


def npy_bytes(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def viewer_corpus(out):
    clean(out)
    with tempfile.TemporaryDirectory() as tmp:
        for crafted in (False, True):
            results = os.path.join(tmp, "crafted" if crafted else "plain")
            subprocess.run([sys.executable, os.path.join(SOURCE, "tests", "browser", "make_fixture.py"), results]
                           + (["--crafted"] if crafted else []), check=True, stdout=subprocess.DEVNULL)
            with open(os.path.join(results, "summary.json")) as f:
                summary = json.load(f)
            nets = summary["nets"]
            first_pair = nets[0] + "~" + nets[1]
            for layer in summary["layers"]:
                if layer == "conv2" or (crafted and layer != "fc8"):
                    continue  # conv1 has every analysis conv2 has: small seeds fuzz faster
                one = dict(summary, layers={layer: summary["layers"][layer]})
                files = summary["layers"][layer]["files"]
                # Every file of the first pair and of its within-net blocks.
                keys = [first_pair, nets[0] + "~" + nets[0], nets[1] + "~" + nets[1]]
                paths = sorted({p for key in keys for kind, p in files.get(key, {}).items() if not kind.endswith("_matched")})
                name = ("crafted_" if crafted else "") + layer
                with open(os.path.join(out, name + ".bin"), "wb") as f:
                    f.write(pack(results, one, paths))
    for name, text in {"not_json": b"{\"schema_version\": 1, \"nets\": [", "wrong_version": b"{\"schema_version\": 2}",
                       "minimal": b"{\"schema_version\":1,\"nets\":[\"a\",\"b\"],\"layers\":{\"l\":{\"units\":{\"a\":1,\"b\":1},"
                                  b"\"files\":{\"a~b\":{\"corr\":\"l/a~b.corr.npy\"}}}}}" + MARKER + b"l/a~b.corr.npy\n"
                                  + npy_bytes(np.array([[0.5]], dtype="<f4"))}.items():
        with open(os.path.join(out, name + ".bin"), "wb") as f:
            f.write(text)


def main():
    corpus = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus")
    npy_corpus(os.path.join(corpus, "npy"))
    npz_corpus(os.path.join(corpus, "npz"))
    stats_corpus(os.path.join(corpus, "stats_capi"))
    viewer_corpus(os.path.join(corpus, "viewer"))


if __name__ == "__main__":
    main()
