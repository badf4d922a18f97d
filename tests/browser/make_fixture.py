#!/usr/bin/python3
"""Writes a synthetic but schema-conformant results directory
(docs/summary_schema.md) for the viewer tests: what `convergent compare`
would write for a few small nets, computed here with numpy/scipy.

    make_fixture.py OUT_DIR [--crafted]

Layers conv1 and conv2 carry every analysis; fc8 has unequal unit counts
(unmatched rows) and no mutual information, sparse prediction, clustering or
mean_activation, so the page must show "not computed" there. Only conv1 has
cycle_consistency (core vs rare units). The *_matched.npy files are written
as `convergent compare` does, though `convergent report` does not embed them. --crafted names
the nets with HTML/script payloads (file names stay safe through the
summary's "files" map) to test that the page shows them as text.
"""
import json
import os
import sys

import numpy as np
from scipy.optimize import linear_sum_assignment

CRAFTED_NETS = ["<img src=x onerror=window.__pwned=1>", "</script><script>window.__pwned=2</script>", "net3"]


def correlation(x, y):
    xs = (x - x.mean(0)) / x.std(0)
    ys = (y - y.mean(0)) / y.std(0)
    return (xs.T @ ys) / x.shape[0]


def alignment(w):
    """Sec. 3.1: semi-matching (row argmax) and max-weight matching."""
    rows, cols = w.shape
    semi = w.argmax(1)
    semi_values = w[np.arange(rows), semi]
    r_idx, c_idx = linear_sum_assignment(-w)
    matching = -np.ones(rows, dtype=int)
    matching[r_idx] = c_idx
    matching_values = [float(w[r, matching[r]]) if matching[r] >= 0 else None for r in range(rows)]
    matched = matching >= 0
    order = sorted(range(rows), key=lambda r: (-semi_values[r], r))
    matched_cols = [int(matching[r]) for r in range(rows) if matching[r] >= 0]
    matched_order = matched_cols + [c for c in range(cols) if c not in set(matched_cols)]
    return {
        "semi_matching": semi.tolist(),
        "semi_matching_values": semi_values.tolist(),
        "semi_matching_mean": float(semi_values.mean()),
        "matching": matching.tolist(),
        "matching_values": matching_values,
        "matching_mean": float(np.mean([v for v in matching_values if v is not None])),
        "overlap_ratio": float(np.mean(semi == matching)),
        "fig3_order": order,
        "fig3_semi_matching": [float(semi_values[r]) for r in order],
        "fig3_matching": [matching_values[r] for r in order],
        "matched_order": matched_order,
        "solver": {"name": "scipy-lsa", "primal": float(w[matched, matching[matched]].sum()),
                   "dual_bound": float(w[matched, matching[matched]].sum()), "gap": 0.0},
    }, np.ascontiguousarray(w[:, matched_order])


def top8(a):
    pairs = sorted(zip(a["semi_matching_values"], range(len(a["semi_matching"])), a["semi_matching"]),
                   key=lambda t: -t[0])[:8]
    return {(r, c) for _, r, c in pairs}


def clusters(caa, cab, cbb, na, nb, a, b, rng):
    """A two-level cluster tree over the combined graph (Sec. 4, 6.5, 6.6)."""
    w = np.block([[caa, cab], [cab.T, cbb]])
    n = na + nb
    # Greedy grouping: seed on the strongest remaining unit, take its 3 best partners.
    left = list(range(n))
    groups = []
    while left:
        s = left[0]
        partners = sorted(left[1:], key=lambda j: -w[s, j])[:3]
        g = [s] + partners
        groups.append(g)
        left = [u for u in left if u not in g]
    nodes, permutation = [], []

    def members(g):
        return {a: sorted(int(u) for u in g if u < na), b: sorted(int(u - na) for u in g if u >= na)}

    def sims(g):
        ga = [u for u in g if u < na]
        gb = [u - na for u in g if u >= na]
        between = float(cab[np.ix_(ga, gb)].mean()) if ga and gb else 0.0
        within_a = float(caa[np.ix_(ga, ga)].mean()) if ga else 0.0
        within_b = float(cbb[np.ix_(gb, gb)].mean()) if gb else 0.0
        return between, (within_a + within_b) / 2

    next_id = 0
    for i in range(0, len(groups), 2):
        top = groups[i] + (groups[i + 1] if i + 1 < len(groups) else [])
        bs, ws = sims(top)
        root = next_id
        next_id += 1
        nodes.append({"id": root, "parent": -1, "depth": 0, "leaf": False, "members": members(top),
                      "between_net_similarity": bs, "within_net_similarity": ws})
        for g in groups[i:i + 2]:
            bs, ws = sims(g)
            nodes.append({"id": next_id, "parent": root, "depth": 1, "leaf": True, "members": members(g),
                          "between_net_similarity": bs, "within_net_similarity": ws})
            next_id += 1
            permutation += [int(u) for u in g]
    leaves = [nd for nd in nodes if nd["leaf"]]
    leaves.sort(key=lambda nd: -nd["between_net_similarity"])
    lap = np.diag(np.where(w > 0.2, w, 0).sum(1)) - np.where(w > 0.2, w, 0)
    return {
        "tau": 0.2, "alpha": 0.025, "k": len(groups) // 2, "k_eigengap": len(groups) // 2, "seed": 0,
        "eigenvalues": np.linalg.eigvalsh(lap)[:10].tolist(),
        "clusters": nodes,
        "leaves_by_similarity": [nd["id"] for nd in leaves],
        "permutation": permutation,
        "sorted_between_net_similarity": [nd["between_net_similarity"] for nd in leaves],
        "sorted_within_net_similarity": [nd["within_net_similarity"] for nd in leaves],
    }


def cycle_consistency(nets, pairs):
    """Core vs rare units (docs/summary_schema.md): follow the correlation
    max-matching of each unit of nets[0] around the cycle and every triangle."""
    def step(u, a, b):
        if u < 0:
            return -1
        if a + "~" + b in pairs:
            return int(pairs[a + "~" + b]["correlation"]["matching"][u])
        back = pairs[b + "~" + a]["correlation"]["matching"]  # inverse: the row matched to column u
        return back.index(u) if u in back else -1

    def walk(u, path):
        for a, b in zip(path, path[1:]):
            u = step(u, a, b)
        return u

    ref = nets[0]
    units = len(pairs[nets[0] + "~" + nets[1]]["correlation"]["matching"])
    cycle = list(nets) + [ref]
    ends = [walk(u, cycle) for u in range(units)]
    triangles = [(i, j) for i in range(1, len(nets)) for j in range(i + 1, len(nets))]
    frac = [sum(walk(u, [ref, nets[i], nets[j], ref]) == u for i, j in triangles) / len(triangles) for u in range(units)]
    core = [u for u in range(units) if frac[u] == 1.0]
    return {"reference": ref, "cycle": cycle, "units": units, "triangles": len(triangles),
            "cycle_returns": [e == u for u, e in enumerate(ends)], "cycle_end": ends,
            "cycle_return_fraction": float(np.mean([e == u for u, e in enumerate(ends)])),
            "triangle_return_fraction": frac,
            "core_units": core, "rare_units": [u for u in range(units) if u not in core],
            "core_fraction": len(core) / units}


def sparse(a, b):
    alphas = [0.5, 0.2, 0.1, 0.05, 0.02, 0.01]
    mean_nonzero = [0.0, 0.6, 1.4, 2.7, 4.9, 7.5]
    mean_loss = [0.5, 0.33, 0.24, 0.19, 0.16, 0.15]
    return {"targets": a, "predictors": b, "alphas": alphas, "mean_loss": mean_loss,
            "mean_nonzero": mean_nonzero,
            "loss": [[v] * 3 for v in mean_loss], "nonzero": [[v] * 3 for v in mean_nonzero]}


def similarity(x, y, a, b):
    """The similarity_indices object (linear CKA computed; the rest crafted)."""
    x, y = x - x.mean(0), y - y.mean(0)
    cka = float(np.linalg.norm(x.T @ y) ** 2 / (np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)))
    return {"samples": len(x), "units": {a: x.shape[1], b: y.shape[1]},
            "dead_units_excluded": {a: 0, b: 1}, "cka": cka, "cka_debiased": None,
            "cka_debiased_note": "not available for device-pushed batches",
            "cca": [0.9, 0.5], "cca_mean": 0.7, "svcca_variance": 0.99, "svcca_dims": {a: 5, b: 6},
            "svcca": [0.9], "svcca_mean": 0.8, "pwcca": 0.75, "pwcca_weights": a, "pwcca_reverse": 0.74,
            "pwcca_symmetric": 0.745, "procrustes_alpha": 1.0, "procrustes_euclidean": 1.5,
            "procrustes_angular": 0.6, "ridge": {a: 0.0, b: 0.0}, "warnings": []}


def main():
    out = sys.argv[1]
    crafted = "--crafted" in sys.argv[2:]
    nets = CRAFTED_NETS if crafted else ["net1", "net2", "net3"]
    file_name = {n: ("n%d" % i if crafted else n) for i, n in enumerate(nets)}
    rng = np.random.default_rng(7)
    images = 400
    layers_spec = {"conv1": [24, 24, 24], "conv2": [32, 32, 32], "fc8": [20, 16, 16]}
    summary = {
        "schema_version": 1, "convergent_version": "0.1.0", "backend": "cpu",
        "backend_device": "cpu (fixture)", "backend_requested": "auto",
        "nets": nets, "inputs": {n: "fixture/%s.npz" % file_name[n] for n in nets},
        "options": {"seed": 0, "mi_bins": 20, "mi_samples": images},
        "layers": {},
    }
    for li, (layer, units) in enumerate(layers_spec.items()):
        full = layer != "fc8"
        os.makedirs(os.path.join(out, layer), exist_ok=True)
        latent = rng.standard_normal((images, 24))
        acts = {}
        for n, s in zip(nets, units):
            mix = rng.standard_normal((24, s)) * (rng.random(s) < 0.7) + 0.3 * rng.standard_normal((24, s))
            acts[n] = np.maximum(latent @ mix + 0.8 * rng.standard_normal((images, s)), 0) + li
        lj = {"shape": {"images": images, "positions": 1}, "samples": images,
              "units": {n: s for n, s in zip(nets, units)},
              "dead_units": {n: [] for n in nets},
              "mean": {n: acts[n].mean(0).tolist() for n in nets},
              "std": {n: acts[n].std(0).tolist() for n in nets},
              "files": {}, "pairs": {}}
        corr = {}
        for i, a in enumerate(nets):
            for b in nets[i:]:
                key = a + "~" + b
                stem = "%s/%s~%s" % (layer, file_name[a], file_name[b])
                c = correlation(acts[a], acts[b]).astype(np.float32)
                corr[key] = c
                files = {"corr": stem + ".corr.npy"}
                np.save(os.path.join(out, files["corr"]), c)
                mi_matrix = (-0.5 * np.log(1 - np.minimum(c.astype(np.float64) ** 2, 0.999))).astype(np.float32)
                if full:
                    files["mi"] = stem + ".mi.npy"
                    np.save(os.path.join(out, files["mi"]), mi_matrix)
                if a != b:
                    pair = {}
                    pair["correlation"], matched = alignment(c.astype(np.float64))
                    files["corr_matched"] = stem + ".corr_matched.npy"
                    np.save(os.path.join(out, files["corr_matched"]), matched.astype(np.float32))
                    if full:
                        mi_al, mi_matched = alignment(mi_matrix.astype(np.float64))
                        mi_al["top8_overlap_with_correlation"] = len(top8(mi_al) & top8(pair["correlation"]))
                        mi_al["bins"] = 21
                        mi_al["samples"] = images
                        pair["mutual_information"] = mi_al
                        files["mi_matched"] = stem + ".mi_matched.npy"
                        np.save(os.path.join(out, files["mi_matched"]), mi_matched.astype(np.float32))
                        pair["sparse_prediction"] = sparse(a, b)
                        pair["similarity_indices"] = similarity(acts[a], acts[b], a, b)
                    lj["pairs"][key] = pair
                lj["files"][key] = files
        if layer == "conv1":  # only conv1: the other layers show "not computed"
            lj["cycle_consistency"] = cycle_consistency(nets, lj["pairs"])
        if full:
            lj["clusters"] = {}
            for i, a in enumerate(nets):
                for b in nets[i + 1:]:
                    lj["clusters"][a + "~" + b] = clusters(corr[a + "~" + a], corr[a + "~" + b], corr[b + "~" + b],
                                                           acts[a].shape[1], acts[b].shape[1], a, b, rng)
            sorted_means = {n: sorted(acts[n].mean(0).tolist(), reverse=True) for n in nets}
            lj["mean_activation"] = {
                "sorted_means": sorted_means,
                "between_net_distance": {a + "~" + b: float(np.sqrt(np.mean(
                    (np.array(sorted_means[a]) - np.array(sorted_means[b])) ** 2)))
                    for i, a in enumerate(nets) for b in nets[i + 1:]},
                "within_net_spread": {n: float(np.std(sorted_means[n])) for n in nets},
                "distance_to_spread_ratio": 0.1,
            }
        summary["layers"][layer] = lj
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)


if __name__ == "__main__":
    main()
