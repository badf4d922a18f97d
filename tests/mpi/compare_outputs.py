"""Compares the results directory of a distributed run with a single
process's (docs/mpi.md): summary.json and every .npy file.

usage: compare_outputs.py SINGLE DISTRIBUTED RANKS [--report]

With RANKS = 1 everything is byte-identical. Otherwise: exact (byte-identical) unless listed as statistics: the matchings (the
.corr_matched / alignment arrays, the "matching" index lists), the MI sample,
histograms and matrices, the top-k lists, every integer. Statistics (float
figures that come from the moments: means, correlations, Table 1 means,
similarity indices, ...) within 1e-12 relative (1e-12 absolute near 0),
since rank 0 merges the ranks' moments in rank order (Chan et al.) where one
process adds chunk after chunk. Table 1 figures are compared as printed by
the CLI and the paper (3 decimals) exactly, and within 1e-12 in full.
"""
import json
import math
import os
import sys

import numpy as np

RELATIVE = 1e-12
# Keys that legitimately differ: the rank count, the backend's thread count
# (mpirun binds each rank to a core), wall-clock timings.
IGNORED = {"ranks", "backend_device", "timings"}
# Table 1 (Sec. 3.1): semi-matching mean, max-weight matching mean, overlap.
TABLE1 = {"semi_matching_mean", "matching_mean", "overlap_ratio"}

worst = {"relative": 0.0, "where": ""}
exact_floats = [0, 0]  # identical / compared


def close(a, b, where):
    exact_floats[1] += 1
    if a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)):
        exact_floats[0] += 1
        return
    scale = max(abs(a), abs(b))
    rel = abs(a - b) / scale if scale > 1.0 else abs(a - b)
    if rel > worst["relative"]:
        worst.update(relative=rel, where=where)
    if rel > RELATIVE:
        sys.exit(f"{where}: {a!r} vs {b!r} (difference {rel:.3g} > {RELATIVE})")


rounding_sensitive = []  # clusterings whose hierarchy differs


def similar(a, b):
    """walk() as a predicate: equal structure, numbers within RELATIVE."""
    if isinstance(a, dict):
        return isinstance(b, dict) and set(a) == set(b) and all(similar(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(similar(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, (int, float)):
        return abs(a - b) <= RELATIVE * max(1.0, abs(a), abs(b))
    return a == b


def walk(a, b, where):
    if isinstance(a, dict) and "eigenvalues" in a and "clusters" in a:
        # A pair's spectral clustering (Sec. 4): the graph's eigenvalues and
        # the cluster count follow from the statistics and must agree. The
        # hierarchy below (k-means on eigenvectors, then recursive splits)
        # can pick another of near-equal splits when its input moves by a
        # rounding, as it does in one process between thread counts
        # (docs/mpi.md): compared, and reported when it differs.
        for k in ("eigenvalues", "k", "k_eigengap", "alpha", "tau", "seed"):
            walk(a.get(k), b.get(k), f"{where}/{k}")
        if not similar(a, b):
            rounding_sensitive.append(where)
        return
    if isinstance(a, dict):
        ka = set(a) - IGNORED
        kb = set(b) - IGNORED
        if ka != kb:
            sys.exit(f"{where}: keys differ: {sorted(ka ^ kb)}")
        for k in sorted(ka):
            if k in TABLE1 and isinstance(a[k], float):
                # The figure as Table 1 prints it must be identical.
                if round(a[k], 3) != round(b[k], 3):
                    sys.exit(f"{where}/{k}: Table 1 figure {a[k]!r} vs {b[k]!r}")
            walk(a[k], b[k], f"{where}/{k}")
    elif isinstance(a, list):
        if len(a) != len(b):
            sys.exit(f"{where}: lengths {len(a)} vs {len(b)}")
        for i, (x, y) in enumerate(zip(a, b)):
            walk(x, y, f"{where}[{i}]")
    elif isinstance(a, bool) or isinstance(a, int) or isinstance(a, str) or a is None:
        if a != b:
            sys.exit(f"{where}: {a!r} vs {b!r}")
    elif isinstance(a, float):
        if not isinstance(b, (int, float)):
            sys.exit(f"{where}: {a!r} vs {b!r}")
        close(a, float(b), where)
    else:
        sys.exit(f"{where}: unexpected {type(a)}")


def exact_array(name):
    # Index arrays, the matchings, the MI (sample rows gathered in global
    # order, integer histogram counts): identical.
    return any(s in name for s in (".topk", "matched", ".mi.", ".joint_sample", "matching"))


def main():
    single, distributed, ranks = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(os.path.join(single, "summary.json")) as f:
        s1 = json.load(f)
    with open(os.path.join(distributed, "summary.json")) as f:
        s2 = json.load(f)
    if s2.get("ranks") != ranks:
        sys.exit(f"summary.json ranks = {s2.get('ranks')!r}, expected {ranks}")
    if "ranks" in s1:
        sys.exit("the single-process summary.json records ranks")
    walk(s1, s2, "summary.json")
    files1, files2 = set(), set()
    for root, files in ((single, files1), (distributed, files2)):
        for d, _, names in os.walk(root):
            for n in names:
                if n.endswith(".npy"):
                    files.add(os.path.relpath(os.path.join(d, n), root))
    if files1 != files2:
        sys.exit(f"the .npy files differ: {sorted(files1 ^ files2)}")
    if not files1:
        sys.exit("no .npy files to compare")
    identical = 0
    for name in sorted(files1):
        a = np.load(os.path.join(single, name))
        b = np.load(os.path.join(distributed, name))
        if a.shape != b.shape or a.dtype != b.dtype:
            sys.exit(f"{name}: {a.shape} {a.dtype} vs {b.shape} {b.dtype}")
        if np.array_equal(a, b, equal_nan=True):
            identical += 1
            continue
        if exact_array(name) or not np.issubdtype(a.dtype, np.floating):
            sys.exit(f"{name}: differs ({int((a != b).sum())} of {a.size} values); must be identical")
        # float32 files of float64 statistics: one float32 rounding step.
        scale = np.maximum(np.maximum(np.abs(a), np.abs(b)), 1.0).astype(np.float64)
        rel = float(np.nanmax(np.abs(a.astype(np.float64) - b.astype(np.float64)) / scale))
        if rel > 1.2e-7:
            sys.exit(f"{name}: differs by {rel:.3g} relative, more than a float32 rounding of a 1e-12 difference")
    # One rank streams every image in the single process's chunks: nothing
    # is merged, so everything must be byte-identical.
    if ranks == 1 and (identical != len(files1) or exact_floats[0] != exact_floats[1] or rounding_sensitive):
        sys.exit(f"one rank: {len(files1) - identical} .npy files and {exact_floats[1] - exact_floats[0]} "
                 f"summary.json numbers differ from the single process (largest at {worst['where']})")
    if "--report" in sys.argv:
        print(f"{distributed}: {identical}/{len(files1)} .npy files identical; "
              f"{exact_floats[0]}/{exact_floats[1]} summary.json numbers identical; "
              f"largest difference {worst['relative']:.3g} at {worst['where'] or '-'}"
              + (f"; clustering hierarchies that differ (rounding-sensitive): {', '.join(rounding_sensitive)}"
                 if rounding_sensitive else ""))


if __name__ == "__main__":
    main()
