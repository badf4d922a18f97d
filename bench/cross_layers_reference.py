#!/usr/bin/env python3
"""Benchmark: `convergent compare --cross-layers` (layer x layer minibatch
linear CKA maps, Nguyen et al. 2021) against a numpy float64 reference on the
same activation files, in the same run.

Two nets of different architectures (no common layer, so only the maps run):
A has conv layers 16x16x16 and 32x8x8 and dense 256, 128; B has conv 8x16x16
and dense 512, 64, 10. The numpy side computes, per minibatch of B images, each
layer's float64 Gram and the vectorised unbiased HSIC_1 of all pairs (the
formula of tests/python/test_cross_layers.py), then the CKA maps. Prints a
markdown row; ratio = numpy time / convergent time (> 1: convergent faster),
and the largest |difference| of the maps. Times are the best of --repeat runs.

usage: /usr/bin/python3 bench/cross_layers_reference.py [--cli build/cpu/cli/convergent] [--images 4096] [--batch 256]
"""
import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

NETS = {"A": {"conv1": (16, 16, 16), "conv2": (32, 8, 8), "fc1": (256,), "fc2": (128,)},
        "B": {"block1": (8, 16, 16), "d1": (512,), "d2": (64,), "logits": (10,)}}


def reference(layers, batch):
    """layers: list of (N, ...) float32 arrays -> mean HSIC_1 matrix."""
    n = layers[0].shape[0]
    k = n // batch
    total = np.zeros((len(layers), len(layers)))
    for b in range(k):
        grams = []
        for x in layers:
            xb = x[b * batch:(b + 1) * batch].reshape(batch, -1).astype(np.float64)
            g = xb @ xb.T
            np.fill_diagonal(g, 0.0)
            grams.append(g)
        flat = np.stack([g.ravel() for g in grams])
        rows = np.stack([g.sum(1) for g in grams])
        tot = rows.sum(1)
        m = batch
        total += (flat @ flat.T + np.outer(tot, tot) / ((m - 1) * (m - 2)) - 2.0 / (m - 2) * rows @ rows.T) / (m * (m - 3))
    return total / k


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", default="build/cpu/cli/convergent")
    ap.add_argument("--images", type=int, default=4096)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        data = {}
        z = rng.normal(size=(args.images, 16)).astype(np.float32)
        for net, layers in NETS.items():
            (d / net).mkdir()
            data[net] = {}
            for l, shape in layers.items():
                k = int(np.prod(shape))
                x = np.maximum(z @ rng.normal(size=(16, k)).astype(np.float32) + rng.normal(size=(args.images, k)).astype(np.float32), 0)
                data[net][l] = x.reshape((args.images,) + shape)
                np.save(d / net / f"{l}.npy", data[net][l])
        best_cli = best_np = float("inf")
        for r in range(args.repeat):
            out = d / f"o{r}"
            t0 = time.perf_counter()
            subprocess.run([args.cli, "compare", d / "A", d / "B", "--out", out, "--cross-layers",
                            "--cross-layers-batch", str(args.batch), "--quiet"], check=True)
            best_cli = min(best_cli, time.perf_counter() - t0)
            t0 = time.perf_counter()
            layers = [np.load(d / net / f"{l}.npy", mmap_mode="r") for net in NETS for l in sorted(NETS[net])]
            h = reference(layers, args.batch)
            best_np = min(best_np, time.perf_counter() - t0)
        s = json.loads((out / "summary.json").read_text())["cross_layers"]
        names = [(net, l) for net in NETS for l in sorted(NETS[net])]
        diff = 0.0
        for key, m in s["maps"].items():
            for i, la in enumerate(m["row_layers"]):
                for j, lb in enumerate(m["col_layers"]):
                    gi, gj = names.index((m["rows"], la)), names.index((m["cols"], lb))
                    ref = h[gi, gj] / np.sqrt(h[gi, gi] * h[gj, gj])
                    diff = max(diff, abs(m["cka"][i][j] - ref))
        print("| images | batch | layers | convergent s | numpy s | ratio | max abs diff |")
        print("|---:|---:|---:|---:|---:|---:|---:|")
        print(f"| {args.images} | {args.batch} | {len(names)} | {best_cli:.2f} | {best_np:.2f} | "
              f"{best_np / best_cli:.2f}x | {diff:.1e} |")


if __name__ == "__main__":
    main()
