#!/usr/bin/env python3
"""End-to-end benchmark: `convergent compare` (all layers, all pairs,
correlation + MI matching, sparse prediction, clustering, mean activation)
against a plain numpy/scipy/sklearn pipeline doing the same analyses on the
same activation files, in the same run.

The reference pipeline per layer: float64 np.corrcoef of all nets' units;
per pair: row argmax + scipy.optimize.linear_sum_assignment(maximize=True) on
the correlation and on the MI matrix; MI from the paper's percentile bins
(np.quantile) via one-hot matrix products; sklearn Lasso path (warm start)
for every unit; spectral clustering via np.linalg.eigh of L = D - W and
sklearn KMeans(n_init=10) at the same k (first level only: the reference is
the cheaper side); sorted means. Ratio = reference time / convergent time.

usage: /usr/bin/python3 bench/end_to_end_reference.py --cli build/cpu/cli/convergent NET.npz NET.npz ...
"""
import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "python"))
from binning_reference import numpy_binning  # noqa: E402  (the paper's binning, numpy only)

ALPHAS = [0.3, 0.1, 0.05, 0.03, 0.02, 0.01, 0.005]


def samples_of(a):
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 4:
        n, c, h, w = a.shape
        a = a.transpose(0, 2, 3, 1).reshape(n * h * w, c)
    return a


def layer_names(npz):
    """The activation arrays of a net's .npz ((N, C) or (N, C, H, W)), not
    its metadata (e.g. '<layer>.receptive_field')."""
    return [k for k in sorted(npz.files) if npz[k].ndim in (2, 4)]


def mi_matrix(ca, cb, nb):
    n = ca.shape[0]
    oa = np.zeros((n, ca.shape[1] * nb), np.float32)
    ob = np.zeros((n, cb.shape[1] * nb), np.float32)
    rows = np.arange(n)
    for u in range(ca.shape[1]):
        oa[rows, u * nb + ca[:, u]] = 1
    for u in range(cb.shape[1]):
        ob[rows, u * nb + cb[:, u]] = 1
    joint = (oa.T @ ob).reshape(ca.shape[1], nb, cb.shape[1], nb).transpose(0, 2, 1, 3) / n
    pa = joint.sum(axis=3, keepdims=True)
    pb = joint.sum(axis=2, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = joint * np.log(joint / (pa * pb))
    return np.nansum(t, axis=(2, 3))


def correlation_and_mi_matching(paths, mi_samples=60000, seed=0):
    """Per layer: float64 statistics and correlation, the paper's binning and
    one-hot MI within and between nets, semi-matching and
    linear_sum_assignment on both; yields (xs, widths, offs, corr, c, i, j)
    for every net pair i < j once its matchings are done, and a final
    (xs, ..., None, None, None) per layer."""
    nets = [np.load(p) for p in paths]
    rng = np.random.default_rng(seed)
    for layer in layer_names(nets[0]):
        xs = [samples_of(z[layer]) for z in nets]
        widths = [x.shape[1] for x in xs]
        offs = np.cumsum([0] + widths)
        x = np.concatenate(xs, axis=1)
        _ = x.mean(0), x.std(0)
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = np.nan_to_num(np.corrcoef(x, rowvar=False))
        n = x.shape[0]
        rows = np.sort(rng.choice(n, size=min(n, mi_samples), replace=False))
        codes = [numpy_binning(xi[rows], 20)[0].T.astype(np.int64) for xi in xs]
        for i in range(len(xs)):
            for j in range(i, len(xs)):
                mi = mi_matrix(codes[i], codes[j], 21)
                if i == j:
                    continue
                c = corr[offs[i]:offs[i + 1], offs[j]:offs[j + 1]]
                for m in (c, mi):
                    m.argmax(axis=1)
                    linear_sum_assignment(m, maximize=True)
                yield xs, widths, offs, corr, c, i, j
        yield xs, widths, offs, corr, None, None, None


def reference_pipeline(paths, mi_samples=60000, seed=0):
    from sklearn.cluster import KMeans
    from sklearn.linear_model import Lasso

    for xs, widths, offs, corr, c, i, j in correlation_and_mi_matching(paths, mi_samples, seed):
        if c is None:  # the layer's pairs are done
            for xi in xs:
                np.sort(xi.mean(0))[::-1]
            continue
        # sparse prediction: every unit of net i from net j
        sd_i, sd_j = xs[i].std(0), xs[j].std(0)
        live_j = sd_j > 0
        xj = (xs[j][:, live_j] - xs[j][:, live_j].mean(0)) / sd_j[live_j]
        for u in range(widths[i]):
            if sd_i[u] == 0:
                continue
            y = (xs[i][:, u] - xs[i][:, u].mean()) / sd_i[u]
            model = Lasso(alpha=ALPHAS[0], warm_start=True, max_iter=10000, tol=1e-7)
            for a in ALPHAS:
                model.set_params(alpha=a)
                model.fit(xj, y)
        # spectral clustering (first level)
        w = np.block([[corr[offs[i]:offs[i + 1], offs[i]:offs[i + 1]], c],
                      [c.T, corr[offs[j]:offs[j + 1], offs[j]:offs[j + 1]]]])
        w = np.where(w >= 0.2, w, 0.0)
        np.fill_diagonal(w, 0.0)
        lap = np.diag(w.sum(1)) - w
        vals, vecs = np.linalg.eigh(lap)
        k = max(2, min(len(vals) // 4, 40))
        KMeans(n_clusters=k, n_init=10, random_state=seed).fit(vecs[:, :k])


def live_match(block, live_a, live_b):
    """Semi-matching and matching columns of the live rows on the live
    columns (dead units, zero variance, are left out as convergent does by
    default; their rows get -1)."""
    ra, cb = np.flatnonzero(live_a), np.flatnonzero(live_b)
    semi = np.full(block.shape[0], -1)
    matching = np.full(block.shape[0], -1)
    sub = block[np.ix_(ra, cb)]
    if sub.size:
        semi[ra] = cb[sub.argmax(axis=1)]
        rows, cols = linear_sum_assignment(sub, maximize=True)
        matching[ra[rows]] = cb[cols]
    return semi, matching


def lasso_path_on_covariance(r_all, big_r, alphas, tol=1e-7, max_iter=10000):
    """sklearn's compiled coordinate descent on the Gram matrix
    (enet_coordinate_descent_gram) per target, on the standardised problem
    0.5 (1 - 2 w.r + w R w) + alpha |w|_1 (Q = R, q = r, ||y||^2 = 1: the
    duality gap in the units of convergent's tol), warm-started along the
    path. Returns loss and nonzero counts [alpha][target]."""
    from sklearn.linear_model._cd_fast import enet_coordinate_descent_gram
    rng = np.random.RandomState(0)
    q_norm = np.ones(1)
    big_r = np.ascontiguousarray(big_r)
    loss = np.zeros((len(alphas), r_all.shape[0]))
    nonzero = np.zeros((len(alphas), r_all.shape[0]), dtype=np.int64)
    for t in range(r_all.shape[0]):
        q = np.ascontiguousarray(r_all[t])
        w = np.zeros(big_r.shape[0])
        for k, a in enumerate(alphas):
            w = enet_coordinate_descent_gram(w, a, 0.0, big_r, q, q_norm, max_iter, tol, rng, False, False)[0]
            w = np.asarray(w)
            loss[k, t] = 0.5 * (1.0 - 2.0 * w @ q + w @ big_r @ w)
            nonzero[k, t] = np.count_nonzero(w)
    return loss, nonzero


def strong_pipeline(paths, mi_samples=60000, seed=0, bins=21):
    """The strongest numpy/scipy/sklearn pipeline we could write for the same
    analyses (bench/strong_reference.py's pieces): float64 statistics by
    dsyrk on chunks with Chan merges; argmax and linear_sum_assignment on the
    live units; the documented MI row sample and binning, joint counts by
    np.bincount over combined codes (zero bin skipped, mode row completed);
    sparse prediction by compiled coordinate descent on the correlation
    (no second pass over the data); spectral clustering by
    scipy.linalg.eigh(subset_by_index) of L = D - W and sklearn KMeans
    (n_init=10, first level only: the cheaper side); sorted means.
    Returns per layer and pair what convergent writes, for the checks."""
    from scipy.linalg import eigh
    from sklearn.cluster import KMeans
    from strong_reference import correlation, mi_rows, sample_rows, statistics

    nets = [np.load(p) for p in paths]
    results = {}
    for layer in layer_names(nets[0]):
        xs = [samples_of(z[layer]) for z in nets]
        widths = [x.shape[1] for x in xs]
        offs = np.cumsum([0] + widths)
        mean, cov = statistics(xs)
        corr = correlation(cov)
        live = np.diag(cov) > 0
        n = xs[0].shape[0]
        rows = sample_rows(n, mi_samples, seed)
        codes = [numpy_binning(xi[rows].astype(np.float32), bins - 1)[0] for xi in xs]
        mi = {}
        for i in range(len(xs)):
            for j in range(i, len(xs)):
                m = mi_rows(codes[i], codes[j], bins, np.arange(widths[i]), i == j, "listed")
                if i == j:
                    m = np.triu(m) + np.triu(m, 1).T
                mi[i, j] = m
        for xi in xs:
            np.sort(xi.mean(0))[::-1]
        for i in range(len(xs)):
            for j in range(i + 1, len(xs)):
                la, lb = live[offs[i]:offs[i + 1]], live[offs[j]:offs[j + 1]]
                c = corr[offs[i]:offs[i + 1], offs[j]:offs[j + 1]]
                out = {"corr": c, "mi": mi[i, j]}
                out["corr_semi"], out["corr_match"] = live_match(c, la, lb)
                out["mi_semi"], out["mi_match"] = live_match(mi[i, j], la, lb)
                ra = np.flatnonzero(la)
                out["corr_semi_mean"] = float(c[ra, out["corr_semi"][ra]].mean()) if ra.size else float("nan")
                rm = np.flatnonzero(out["corr_match"] >= 0)  # matched rows (more live rows than columns: some are not)
                out["corr_match_mean"] = float(c[rm, out["corr_match"][rm]].mean()) if rm.size else float("nan")
                # sparse prediction of net i's live units from net j's live units
                big_r = corr[offs[j]:offs[j + 1], offs[j]:offs[j + 1]][np.ix_(lb, lb)]
                r_t = c[np.ix_(la, lb)]
                loss, nonzero = lasso_path_on_covariance(r_t, big_r, ALPHAS)
                out["mean_loss"], out["mean_nonzero"] = loss.mean(axis=1), nonzero.mean(axis=1)
                # spectral clustering (first level)
                w = np.block([[corr[offs[i]:offs[i + 1], offs[i]:offs[i + 1]], c],
                              [c.T, corr[offs[j]:offs[j + 1], offs[j]:offs[j + 1]]]])
                keep = np.concatenate([la, lb])
                w = w[np.ix_(keep, keep)]
                w = np.where(w >= 0.2, w, 0.0)
                np.fill_diagonal(w, 0.0)
                lap = np.diag(w.sum(1)) - w
                k = max(2, min(lap.shape[0] // 4, 40))
                vals, vecs = eigh(lap, subset_by_index=[0, k - 1])
                KMeans(n_clusters=k, n_init=10, random_state=seed).fit(vecs)
                results[layer, i, j] = out
    return results


def check_strong(results, out_dir, nets):
    """Asserts the strong reference's answers equal convergent's: matchings
    (semi and one-to-one, correlation and MI) identical, Table 1 figures
    (semi-matching and matching means) within 1e-9, MI and correlation
    within the float32 rounding of convergent's files, the sparse prediction
    path's mean loss within 1e-6 and mean non-zero count within 0.05.
    Returns the largest differences."""
    s = json.loads((Path(out_dir) / "summary.json").read_text())
    names = s["nets"]
    worst = {"table1": 0.0, "mi_file": 0.0, "mean_loss": 0.0, "mean_nonzero": 0.0}
    for (layer, i, j), r in results.items():
        key = f"{names[i]}~{names[j]}"
        where = f"{layer} {key}"
        pair = s["layers"][layer]["pairs"][key]
        for kind, name in (("corr", "correlation"), ("mi", "mutual_information")):
            assert np.array_equal(r[f"{kind}_semi"], np.asarray(pair[name]["semi_matching"])), f"{where}: {kind} semi-matching differs"
            ours = np.asarray(pair[name]["matching"])
            if not np.array_equal(r[f"{kind}_match"], ours):
                # Only acceptable between two optimal matchings of a matrix
                # with exact ties (MI of units with few non-zero samples):
                # the same total, to rounding, and counted in the report.
                m = r[kind]
                rows = np.flatnonzero(ours >= 0)
                total_ours = m[rows, ours[rows]].sum()
                rows_ref = np.flatnonzero(r[f"{kind}_match"] >= 0)
                total_ref = m[rows_ref, r[f"{kind}_match"][rows_ref]].sum()
                assert abs(total_ours - total_ref) <= 1e-9 * max(1.0, abs(total_ref)), \
                    f"{where}: {kind} matchings differ and so do their totals ({total_ours!r} vs {total_ref!r})"
                worst.setdefault("tied_matchings", []).append(
                    f"{where} {kind}: {int(np.sum(r[f'{kind}_match'] != ours))} rows differ, equal totals")
        for ours, ref in ((pair["correlation"]["semi_matching_mean"], r["corr_semi_mean"]),
                          (pair["correlation"]["matching_mean"], r["corr_match_mean"])):
            worst["table1"] = max(worst["table1"], abs(ours - ref))
        files = s["layers"][layer]["files"][key]
        mi_file = np.load(Path(out_dir) / files["mi"]).astype(np.float64)
        d = np.abs(mi_file - r["mi"])
        assert np.all(d <= 1.2e-7 * np.abs(r["mi"]) + 1e-12), f"{where}: MI differs from the float32 file by {d.max():g}"
        worst["mi_file"] = max(worst["mi_file"], float(d.max()))
        sp = pair.get("sparse_prediction")
        if sp is not None:
            worst["mean_loss"] = max(worst["mean_loss"], float(np.max(np.abs(np.asarray(sp["mean_loss"]) - r["mean_loss"]))))
            worst["mean_nonzero"] = max(worst["mean_nonzero"],
                                        float(np.max(np.abs(np.asarray(sp["mean_nonzero"]) - r["mean_nonzero"]))))
    assert worst["table1"] <= 1e-9, f"Table 1 figures differ by {worst['table1']:g}"
    assert worst["mean_loss"] <= 1e-6, f"sparse prediction mean loss differs by {worst['mean_loss']:g}"
    assert worst["mean_nonzero"] <= 0.05, f"sparse prediction mean non-zero count differs by {worst['mean_nonzero']:g}"
    return worst


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", default="build/cpu/cli/convergent")
    ap.add_argument("--json")
    ap.add_argument("--reference", choices=["strong", "naive", "both"], default="both",
                    help="strong: bench/strong_reference.py's pieces (the headline); naive: np.corrcoef, one-hot MI, "
                         "sklearn Lasso on the raw data")
    ap.add_argument("--repeat", type=int, default=1, help="best of this many runs of each side (alternated)")
    ap.add_argument("nets", nargs="+")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT / "bench"))

    # The same analyses on both sides: correlation and MI matching, sparse
    # prediction, clustering, mean activation (not the similarity indices or
    # top-k patches, which the references do not compute).
    flags = ["--no-similarity-indices", "--no-top-patches"]
    refs = ["strong", "naive"] if args.reference == "both" else [args.reference]
    best = {"convergent": float("inf"), "strong": float("inf"), "naive": float("inf")}
    cpu = dict(best)  # CPU seconds (user + sys, all threads): robust on a shared machine
    worst = None
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        for _ in range(args.repeat):
            shutil.rmtree(out, ignore_errors=True)
            t0, c0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run([args.cli, "compare", *args.nets, "--out", str(out), "--quiet", "--backend", "cpu", *flags],
                           check=True)
            best["convergent"] = min(best["convergent"], time.perf_counter() - t0)
            c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu["convergent"] = min(cpu["convergent"], c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime)
            backend = json.loads((out / "summary.json").read_text())["backend_device"]
            for ref in refs:
                t0, c0 = time.perf_counter(), time.process_time()
                if ref == "strong":
                    results = strong_pipeline(args.nets)
                else:
                    reference_pipeline(args.nets)
                best[ref] = min(best[ref], time.perf_counter() - t0)
                cpu[ref] = min(cpu[ref], time.process_time() - c0)
                if ref == "strong":
                    worst = check_strong(results, out, args.nets)

    t_ours = best["convergent"]
    print("| case | reference | reference (s) | convergent (s) | ratio | CPU s reference / convergent | CPU ratio | convergent backend |")
    print("|---|---|---:|---:|---:|---:|---:|---|")
    rows = []
    for ref in refs:
        label = ("strong numpy/scipy (dsyrk, bincount MI, compiled CD on the covariance, eigh subset)" if ref == "strong"
                 else "naive numpy/scipy/sklearn (np.corrcoef, one-hot MI, sklearn Lasso on raw data)")
        row = {"case": f"end-to-end, {len(args.nets)} nets", "reference": ref, "reference_s": best[ref],
               "convergent_s": t_ours, "ratio": best[ref] / t_ours, "reference_cpu_s": cpu[ref],
               "convergent_cpu_s": cpu["convergent"], "cpu_ratio": cpu[ref] / cpu["convergent"], "backend": backend}
        rows.append(row)
        print(f"| {row['case']} | {label} | {best[ref]:.2f} | {t_ours:.2f} | {row['ratio']:.1f}x | "
              f"{cpu[ref]:.1f} / {cpu['convergent']:.1f} | {row['cpu_ratio']:.1f}x | {backend} |")
    if worst is not None:
        print()
        print(f"Strong reference agrees (asserted): matchings identical (except optimal matchings that differ on "
              f"exact ties, listed below, with equal totals); Table 1 means within {worst['table1']:.1e}; "
              f"MI within the float32 file's rounding (max {worst['mi_file']:.1e}); sparse prediction mean loss within "
              f"{worst['mean_loss']:.1e}, mean non-zero count within {worst['mean_nonzero']:.2f}. "
              f"Best of {args.repeat}, alternated.")
        for t in worst.get("tied_matchings", []):
            print(f"- optimal matchings that differ on exact ties: {t}")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "agreement": worst}, indent=1))


if __name__ == "__main__":
    main()
