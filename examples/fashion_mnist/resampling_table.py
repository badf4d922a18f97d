#!/usr/bin/env python3
"""Markdown tables of Table 1 with bootstrap intervals, permutation nulls and
held-out scores (docs/resampling.md) from a `convergent compare` run with
--bootstrap, --permutations and --holdout (docs/reproduction.md,
"Is 0.75 a lot?").

    python3 examples/fashion_mnist/resampling_table.py OUT_DIR [PAIR ...]

PAIR: "a~b" keys of summary.json (default: every pair of the first layer).
"""
import json
import sys


def fmt(v, digits=3):
    return "—" if v is None else f"{v:.{digits}f}"


def cell(res, figure, percent=False):
    scale = 100.0 if percent else 1.0
    digits = 1 if percent else 3
    unit = "%" if percent else ""
    parts = []
    boot = res.get("bootstrap", {}).get(figure)
    if boot:
        parts.append(f"{fmt(boot['estimate'] * scale, digits)}{unit} [{fmt(boot['low'] * scale, digits)}, "
                     f"{fmt(boot['high'] * scale, digits)}]")
    null = res.get("permutation_null", {}).get(figure)
    if null:
        z = "—" if null["z"] is None else f"{null['z']:.0f}"
        parts.append(f"null {fmt(null['null_mean'] * scale, digits)}{unit} (z {z}, p {null['p_value']:.3f})")
    held = res.get("holdout", {})
    if figure in held.get("held_out", {}):
        parts.append(f"held-out {fmt(held['held_out'][figure], 3)} vs {fmt(held['in_sample'][figure], 3)}")
    return "<br>".join(parts) if parts else "—"


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(f"{argv[1]}/summary.json") as f:
        summary = json.load(f)
    layers = summary["layers"]
    first = next(iter(layers.values()))
    pairs = argv[2:] or list(first["pairs"])
    meta = first.get("resampling", {})
    print(f"bootstrap {meta.get('bootstrap')} replicates over {meta.get('blocks')} image blocks, "
          f"{100 * meta.get('confidence', 0):.0f}% percentile intervals; permutations {meta.get('permutations')}; "
          f"held-out fraction {meta.get('holdout')}; seed {meta.get('seed')}"
          + (f"; reference nets: {', '.join(meta['baseline_nets'])}" if meta.get("baseline_nets") else ""))
    print()
    print("| layer | pair | semi-matching mean | matching mean | overlap | linear CKA |")
    print("|---|---|---|---|---|---|")
    for layer, data in layers.items():
        for pair in pairs:
            res = data["pairs"][pair].get("resampling", {})
            print(f"| {layer} | {pair} | {cell(res, 'semi_matching_mean')} | {cell(res, 'matching_mean')} | "
                  f"{cell(res, 'overlap_ratio', percent=True)} | {cell(res, 'cka')} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
