#!/usr/bin/env python3
"""Prints the paper's tables from a `convergent compare` result directory, as
markdown: Table 1 (semi-matching, matching, overlap) for net1~net2 and as a
mean over all pairs, the MI check (top-8 overlap, MI Table 1), sparse
prediction (loss vs non-zero weights), clustering, cycle consistency and the
mean-activation comparison.

usage: /usr/bin/python3 examples/fashion_mnist/paper_tables.py RESULT_DIR
"""
import json
import sys
from pathlib import Path

import numpy as np

PAPER_TABLE1 = {"conv1": (0.703, 0.663, 72.9), "conv2": (0.577, 0.527, 58.6), "conv3": (0.483, 0.445, 61.2),
                "conv4": (0.374, 0.348, 54.7), "conv5": (0.577, 0.527, 68.4)}


def mean_std(values):
    v = np.array([x for x in values if x is not None], dtype=float)
    return (v.mean(), v.std()) if v.size else (float("nan"), float("nan"))


def main():
    out = Path(sys.argv[1])
    s = json.loads((out / "summary.json").read_text())
    layers = list(s["layers"])
    first = f"{s['nets'][0]}~{s['nets'][1]}"
    print(f"backend: {s['backend_device']}; nets: {', '.join(s['nets'])}\n")

    print("### Table 1 (correlation)\n")
    print("| layer | units | dead (per net) | semi-matching " + first + " | matching | overlap | "
          "semi-matching, mean ± sd over all pairs | matching | overlap | paper semi / matching / overlap |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---|")
    for l in layers:
        lj = s["layers"][l]
        pairs = lj["pairs"]
        c = pairs[first]["correlation"]
        sm = mean_std([p["correlation"]["semi_matching_mean"] for p in pairs.values()])
        mm = mean_std([p["correlation"]["matching_mean"] for p in pairs.values()])
        om = mean_std([100 * p["correlation"]["overlap_ratio"] for p in pairs.values()])
        units = next(iter(lj["units"].values()))
        dead = "/".join(str(len(v)) for v in lj["dead_units"].values())
        paper = PAPER_TABLE1.get(l)
        ptxt = f"{paper[0]:.3f} / {paper[1]:.3f} / {paper[2]:.1f}%" if paper else "—"
        print(f"| {l} | {units} | {dead} | {c['semi_matching_mean']:.3f} | {c['matching_mean']:.3f} | "
              f"{100 * c['overlap_ratio']:.1f}% | {sm[0]:.3f} ± {sm[1]:.3f} | {mm[0]:.3f} ± {mm[1]:.3f} | "
              f"{om[0]:.1f} ± {om[1]:.1f}% | {ptxt} |")

    if all("similarity_indices" in p for l in layers for p in s["layers"][l]["pairs"].values()):
        print("\n### Whole-layer similarity indices beside Table 1 (mean ± sd over all pairs)\n")
        keys = [("cka", "linear CKA"), ("cka_debiased", "debiased CKA"), ("cca_mean", "mean CCA"),
                ("svcca_mean", "SVCCA (0.99)"), ("pwcca", "PWCCA"), ("procrustes_angular", "Procrustes angle"),
                ("procrustes_euclidean", "Procrustes distance")]
        print("| layer | matching mean (Table 1) | " + " | ".join(label for _, label in keys) + " | SVCCA dims " + first + " |")
        print("|---|---:|" + "---:|" * len(keys) + "---|")
        for l in layers:
            pairs = s["layers"][l]["pairs"]
            mm = mean_std([p["correlation"]["matching_mean"] for p in pairs.values()])
            cells = []
            for key, _ in keys:
                m = mean_std([p["similarity_indices"][key] for p in pairs.values()])
                cells.append(f"{m[0]:.3f} ± {m[1]:.3f}")
            dims = "/".join(str(v) for v in pairs[first]["similarity_indices"]["svcca_dims"].values())
            print(f"| {l} | {mm[0]:.3f} ± {mm[1]:.3f} | " + " | ".join(cells) + f" | {dims} |")

    if all("mutual_information" in p for l in layers for p in s["layers"][l]["pairs"].values()):
        print("\n### Mutual information (Sec. 3.2)\n")
        print("| layer | MI semi-matching (nats) " + first + " | MI matching | MI overlap | top-8 pairs shared with correlation " + first +
              " | top-8 shared, mean over pairs |")
        print("|---|---:|---:|---:|---:|---:|")
        for l in layers:
            pairs = s["layers"][l]["pairs"]
            m = pairs[first]["mutual_information"]
            t8 = mean_std([p["mutual_information"]["top8_overlap_with_correlation"] for p in pairs.values()])
            print(f"| {l} | {m['semi_matching_mean']:.3f} | {m['matching_mean']:.3f} | {100 * m['overlap_ratio']:.1f}% | "
                  f"{m['top8_overlap_with_correlation']} / 8 | {t8[0]:.1f} / 8 |")

    if all("sparse_prediction" in p for l in layers for p in s["layers"][l]["pairs"].values()):
        print("\n### Sparse prediction (" + first + ": each unit of the first net from all units of the second)\n")
        alphas = s["layers"][layers[0]]["pairs"][first]["sparse_prediction"]["alphas"]
        print("| layer | " + " | ".join(f"α={a:g}: loss / non-zero" for a in alphas) + " |")
        print("|---|" + "---:|" * len(alphas))
        for l in layers:
            sp = s["layers"][l]["pairs"][first]["sparse_prediction"]
            cells = [f"{lo:.3f} / {nz:.1f}" for lo, nz in zip(sp["mean_loss"], sp["mean_nonzero"])]
            print(f"| {l} | " + " | ".join(cells) + " |")

    if all("clusters" in s["layers"][l] for l in layers):
        print("\n### Hierarchical spectral clustering (" + first + ")\n")
        print("| layer | k | eigengap k | nodes | leaves | leaves with both nets | mean between-net sim. (both nets) | mean within-net sim. | top-8 between-net sim. |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
        for l in layers:
            c = s["layers"][l]["clusters"][first]
            nodes = c["clusters"]
            leaves = [n for n in nodes if n["leaf"]]
            both = [n for n in leaves if all(len(v) > 0 for v in n["members"].values())]
            b = np.mean([n["between_net_similarity"] for n in both]) if both else float("nan")
            w = np.mean([n["within_net_similarity"] for n in leaves])
            top = ", ".join(f"{x:.2f}" for x in c["sorted_between_net_similarity"][:8])
            print(f"| {l} | {c['k']} | {c['k_eigengap']} | {len(nodes)} | {len(leaves)} | {len(both)} | {b:.3f} | {w:.3f} | {top} |")

    if all("cycle_consistency" in s["layers"][l] for l in layers):
        print("\n### Core vs rare units (cycle consistency over all nets)\n")
        print("| layer | core units (return in every triangle) | full cycle returns |")
        print("|---|---:|---:|")
        for l in layers:
            cc = s["layers"][l]["cycle_consistency"]
            print(f"| {l} | {100 * cc['core_fraction']:.1f}% | {100 * cc['cycle_return_fraction']:.1f}% |")

    if all("mean_activation" in s["layers"][l] for l in layers):
        print("\n### Sorted mean activations (abstract, finding 3)\n")
        print("| layer | within-net spread of unit means (mean over nets) | between-net distance of sorted curves (mean over pairs) | ratio |")
        print("|---|---:|---:|---:|")
        for l in layers:
            ma = s["layers"][l]["mean_activation"]
            spread = np.mean(list(ma["within_net_spread"].values()))
            dist = np.mean(list(ma["between_net_distance"].values()))
            ratio = ma["distance_to_spread_ratio"]
            print(f"| {l} | {spread:.4f} | {dist:.4f} | {ratio:.3f} |")


if __name__ == "__main__":
    main()
