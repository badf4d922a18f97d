"""Writes three synthetic nets (directories of <layer>.npy) for the MPI
tests: 1001 inputs, which neither 2 nor 3 ranks divide evenly; a conv layer
(1001, 6, 3, 3) and a dense layer (1001, 20), each net a noisy rotation of
shared factors so the matchings are not trivial.

usage: make_synthetic.py OUTDIR [--nan-in-last-image]
With --nan-in-last-image net b's conv layer has a NaN in the last image,
which only the last rank of a distributed run reads.
"""
import os
import sys

import numpy as np

IMAGES = 1001


def main():
    out = sys.argv[1]
    rng = np.random.default_rng(7)
    factors_conv = rng.standard_normal((IMAGES, 3, 3, 8))
    factors_dense = rng.standard_normal((IMAGES, 12))
    for n, name in enumerate("abc"):
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        mix = rng.standard_normal((8, 6))
        conv = np.maximum(factors_conv @ mix + 0.5 * rng.standard_normal((IMAGES, 3, 3, 6)), 0)
        conv = np.ascontiguousarray(conv.transpose(0, 3, 1, 2)).astype(np.float32)  # (N, C, H, W)
        dense = (factors_dense @ rng.standard_normal((12, 20)) + rng.standard_normal((IMAGES, 20)) + 3.0 * n)
        dense = dense.astype(np.float32)
        if name == "b" and "--nan-in-last-image" in sys.argv:
            conv[-1, 2, 1, 1] = np.nan
        np.save(os.path.join(d, "conv.npy"), conv)
        np.save(os.path.join(d, "dense.npy"), dense)


if __name__ == "__main__":
    main()
