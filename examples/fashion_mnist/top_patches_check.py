"""What the best-matched units see (Li et al., Figs. 2 and 4) on the bundled
Fashion-MNIST nets, checked by a measurable property: the top-9 inputs of
the 8 best semi-matched pairs (by correlation) share more inputs than those
of random unit pairs of the same nets.

    convergent compare examples/fashion_mnist/nets/net{1,2,3,4}.npz --out fm_result \\
        --images examples/fashion_mnist/images.npy
    python3 examples/fashion_mnist/top_patches_check.py fm_result [--layer conv1]

Prints, per net pair, the mean number of shared top-9 inputs of the best 8
pairs, of the worst 8 and of 2,000 random pairs (seeded); exits 1 unless the
best pairs share at least twice as many as random pairs, averaged over the
net pairs.
"""
import argparse
import json
import sys

import numpy as np


def shared(a, b, u, v):
    return len(set(a[u]) & set(b[v]))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("results")
    p.add_argument("--layer", default="conv1")
    args = p.parse_args()
    summary = json.load(open(f"{args.results}/summary.json"))
    layer = summary["layers"][args.layer]
    top = {net: np.load(f"{args.results}/{f['topk']}") for net, f in layer["top_patches"]["nets"].items()}
    rng = np.random.default_rng(0)
    best_all, random_all = [], []
    for key, pair in layer["pairs"].items():
        a, b = key.split("~")
        al = pair["correlation"]
        order, semi = al["fig3_order"], al["semi_matching"]
        best = np.mean([shared(top[a], top[b], r, semi[r]) for r in order[:8]])
        worst = np.mean([shared(top[a], top[b], r, semi[r]) for r in order[-8:]])
        rand = np.mean([shared(top[a], top[b], rng.integers(len(top[a])), rng.integers(len(top[b])))
                        for _ in range(2000)])
        best_all.append(best)
        random_all.append(rand)
        print(f"{args.layer} {key}: shared top-9 inputs, best 8 pairs {best:.2f}, worst 8 {worst:.2f}, random {rand:.2f}")
    ratio = np.mean(best_all) / max(np.mean(random_all), 1e-9)
    print(f"{args.layer}: best 8 / random = {ratio:.1f}")
    return 0 if ratio >= 2 else 1


if __name__ == "__main__":
    sys.exit(main())
