"""Bootstrap intervals, held-out scores and the permutation null (step
resampling, docs/resampling.md) through the CLI:

- the permutation null of two independent random nets is centred on the
  value a numpy Monte Carlo gives for independent data of the same shape
  (fresh inputs through each net), within their standard errors; the MI
  semi-matching mean's null (Sec. 3.2) is centred on numpy's own
  permutations of the same data, binned and counted in numpy;
- every Table 1 figure gets an interval, a held-out value and a null; the
  same seed gives byte-identical outputs, another seed other draws;
- the block moments' memory is checked against --max-memory with a message
  naming the estimate.
"""
import json
import math

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from conftest import run_cli

N, INPUTS, UNITS_A, UNITS_B = 300, 12, 8, 10


def random_net(rng, units):
    """A random one-layer ReLU net: weights and biases."""
    return rng.standard_normal((INPUTS, units)), 0.3 * rng.standard_normal(units)


def forward(net, x):
    w, b = net
    return np.maximum(x @ w + b, 0.0)


def figures(a, b):
    """Table 1's semi-matching and matching means and linear CKA (float64)."""
    a = a - a.mean(axis=0)
    b = b - b.mean(axis=0)
    sa, sb = np.sqrt((a * a).sum(axis=0)), np.sqrt((b * b).sum(axis=0))
    corr = (a.T @ b) / np.outer(sa, sb)
    rows, cols = linear_sum_assignment(corr, maximize=True)
    cka = np.linalg.norm(a.T @ b) ** 2 / (np.linalg.norm(a.T @ a) * np.linalg.norm(b.T @ b))
    return {"semi_matching_mean": corr.max(axis=1).mean(), "matching_mean": corr[rows, cols].mean(), "cka": cka}


def bin_codes(x, bins=20, zero=1e-6):
    """Footnote 6: code 0 for values <= zero, then `bins` percentile bins of
    the values above it (numpy's linear quantiles, right-closed bins)."""
    codes = np.zeros(x.shape, dtype=np.int64)
    for u in range(x.shape[1]):
        v = x[:, u].astype(np.float32).astype(np.float64)
        positive = v[v > zero]
        if positive.size == 0:
            continue
        edges = np.quantile(positive, np.arange(1, bins) / bins)
        codes[:, u] = np.where(v > zero, 1 + np.searchsorted(edges, v, side="left"), 0)
    return codes


def mi_matrix(a, b, bins=21):
    """Plug-in MI (nats) of every unit pair from the joint code histograms."""
    ca, cb = bin_codes(a), bin_codes(b)
    n = a.shape[0]
    out = np.zeros((a.shape[1], b.shape[1]))
    for i in range(a.shape[1]):
        for j in range(b.shape[1]):
            joint = np.bincount(ca[:, i] * bins + cb[:, j], minlength=bins * bins).reshape(bins, bins) / n
            px, py = joint.sum(axis=1), joint.sum(axis=0)
            nz = joint > 0
            out[i, j] = max(0.0, (joint[nz] * np.log(joint[nz] / np.outer(px, py)[nz])).sum())
    return out


def write_net(path, layers):
    path.mkdir()
    for name, values in layers.items():
        np.save(path / f"{name}.npy", values.astype(np.float32))


@pytest.fixture(scope="module")
def independent_nets(tmp_path_factory):
    rng = np.random.default_rng(7)
    net_a, net_b = random_net(rng, UNITS_A), random_net(rng, UNITS_B)
    x = rng.standard_normal((N, INPUTS))
    root = tmp_path_factory.mktemp("independent")
    write_net(root / "a", {"fc": forward(net_a, x)})
    write_net(root / "b", {"fc": forward(net_b, x)})
    return root, net_a, net_b


def test_permutation_null_is_centred_on_a_numpy_monte_carlo_of_independent_data(independent_nets, tmp_path):
    root, net_a, net_b = independent_nets
    permutations = 200
    run_cli("compare", root / "a", root / "b", "--out", tmp_path / "out", "--permutations", permutations,
            "--seed", 3, "--no-sparse", "--no-clusters", "--no-top-patches")
    pair = json.loads((tmp_path / "out" / "summary.json").read_text())["layers"]["fc"]["pairs"]["a~b"]
    null = pair["resampling"]["permutation_null"]
    # Monte Carlo: fresh independent inputs for each net, same shapes.
    rng = np.random.default_rng(11)
    draws = 400
    mc = {k: [] for k in ("semi_matching_mean", "matching_mean", "cka")}
    for _ in range(draws):
        f = figures(forward(net_a, rng.standard_normal((N, INPUTS))), forward(net_b, rng.standard_normal((N, INPUTS))))
        for k in mc:
            mc[k].append(f[k])
    for k, values in mc.items():
        entry = null[k]
        assert entry["permutations"] == permutations
        mc_mean, mc_se = np.mean(values), np.std(values, ddof=1) / math.sqrt(draws)
        null_se = entry["null_sd"] / math.sqrt(permutations)
        assert abs(entry["null_mean"] - mc_mean) < 4 * math.hypot(mc_se, null_se), (k, entry, mc_mean, mc_se)
        # The null's replicate values are written too (permutations x figures).
        table = np.load(tmp_path / "out" / "fc" / "a~b.permutation_null.npy")
        names = json.loads((tmp_path / "out" / "summary.json").read_text())["layers"]["fc"]["resampling"]["figures"]
        assert table.shape == (permutations, len(names))
        assert np.isclose(table[:, names.index(k)].mean(), entry["null_mean"], rtol=1e-5)
    # The MI semi-matching mean: its plug-in bias at 21 bins and 300 rows
    # depends on each unit's zero-bin mass, which the permutation keeps and
    # fresh inputs vary (measured: null 0.497, fresh inputs 0.504 +- 0.0005),
    # so its oracle is numpy's own permutations of the same rows.
    a, b = (np.load(root / net / "fc.npy") for net in ("a", "b"))
    mi_null = [mi_matrix(a, b[rng.permutation(N)]).max(axis=1).mean() for _ in range(200)]
    entry = null["mi_semi_matching_mean"]
    assert entry["observed"] == pytest.approx(pair["mutual_information"]["semi_matching_mean"], abs=1e-12)
    assert entry["observed"] == pytest.approx(mi_matrix(a, b).max(axis=1).mean(), abs=1e-9)
    mi_se = math.hypot(np.std(mi_null, ddof=1) / math.sqrt(len(mi_null)), entry["null_sd"] / math.sqrt(permutations))
    assert abs(entry["null_mean"] - np.mean(mi_null)) < 4 * mi_se, (entry, np.mean(mi_null), mi_se)
    # The p-value counts the observed value: (1 + #{null >= observed}) / (1 + R).
    observed = pair["correlation"]["semi_matching_mean"]
    column = table[:, names.index("semi_matching_mean")].astype(np.float64)
    expected_p = (1 + np.count_nonzero(column >= np.float32(observed))) / (1 + permutations)
    assert abs(null["semi_matching_mean"]["p_value"] - expected_p) <= 1.0 / (1 + permutations)


def conv_nets(root, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((60, 4, 3, 3)).astype(np.float32)
    b = (0.8 * a[:, ::-1] + 0.6 * rng.standard_normal(a.shape)).astype(np.float32)  # a planted permutation
    write_net(root / "a", {"conv": a})
    write_net(root / "b", {"conv": b})


def run(root, out, *extra):
    run_cli("compare", root / "a", root / "b", "--out", out, "--no-mi", "--no-clusters", "--no-top-patches", *extra)
    return json.loads((out / "summary.json").read_text())


def test_every_table1_figure_gets_an_interval_a_held_out_value_and_a_null_deterministically(tmp_path):
    conv_nets(tmp_path, 1)
    args = ("--bootstrap", 30, "--bootstrap-blocks", 20, "--holdout", 0.3, "--permutations", 10, "--seed", 5)
    first = run(tmp_path, tmp_path / "one", *args)
    second = run(tmp_path, tmp_path / "two", *args)
    assert (tmp_path / "one" / "summary.json").read_bytes() == (tmp_path / "two" / "summary.json").read_bytes()
    for name in ("a~b.bootstrap.npy", "a~b.permutation_null.npy"):
        assert (tmp_path / "one" / "conv" / name).read_bytes() == (tmp_path / "two" / "conv" / name).read_bytes()
    layer = first["layers"]["conv"]
    meta = layer["resampling"]
    assert meta["blocks"] == 20 and meta["bootstrap"] == 30 and meta["seed"] == 5
    res = layer["pairs"]["a~b"]["resampling"]
    table1 = layer["pairs"]["a~b"]["correlation"]
    for figure in ("semi_matching_mean", "matching_mean", "overlap_ratio"):
        interval = res["bootstrap"][figure]
        assert interval["estimate"] == pytest.approx(table1[figure], abs=1e-12)
        assert interval["low"] <= interval["high"] and interval["replicates"] == 30
        assert res["permutation_null"][figure]["observed"] == pytest.approx(table1[figure], abs=1e-12)
    band = res["fig3_band"]["semi_matching"]  # Fig. 3 bands, per rank of the sorted curve
    assert len(band["low"]) == len(table1["fig3_order"]) == 4
    assert all(lo <= hi for lo, hi in zip(band["low"], band["high"]))
    assert band["low"] == sorted(band["low"], reverse=True)
    for figure in ("cka", "cca_mean", "svcca_mean", "pwcca_symmetric", "procrustes_angular"):
        assert figure in res["bootstrap"] and figure in res["permutation_null"]
    # The planted correspondence: far above its null, matched on held-out images.
    assert res["permutation_null"]["matching_mean"]["z"] > 5
    assert res["holdout"]["held_out"]["matching_mean"] > 0.6
    for figure in ("semi_matching_mean", "matching_mean", "overlap_ratio"):
        assert figure in res["holdout"]["held_out"] and figure in res["holdout"]["in_sample"]
        assert figure in res["bootstrap"] and figure in res["permutation_null"]
    # The clusters chosen on the fit part, scored per leaf on the held-out part.
    if "clusters" in layer:
        clusters = res["holdout"]["clusters"]
        assert clusters["leaves"] == len(clusters["leaf_between_held_out"]) == len(clusters["leaf_between_in_sample"]) > 0
    assert res["holdout"]["fit_samples"] + res["holdout"]["score_samples"] == 60 * 9
    assert len(res["holdout"]["lasso"]["loss_held_out"]) == len(res["holdout"]["lasso"]["alphas"])
    # Another seed: other draws.
    other = run(tmp_path, tmp_path / "three", *args[:-1], 6)
    assert other["layers"]["conv"]["pairs"]["a~b"]["resampling"]["bootstrap"] != res["bootstrap"]
    # Off by default: no resampling objects.
    plain = run(tmp_path, tmp_path / "plain")
    assert "resampling" not in plain["layers"]["conv"]
    assert "resampling" not in plain["layers"]["conv"]["pairs"]["a~b"]


def test_mi_matching_figures_get_intervals_and_nulls_deterministically(tmp_path):
    """The MI figures (Sec. 3.2) of a planted permutation: estimates equal to
    the MI step's, far above their null, held-out scores, byte-identical
    reruns; a subset of the rows as MI sample (--mi-samples) exercises the
    permuted gather."""
    conv_nets(tmp_path, 3)
    args = ("--bootstrap", 20, "--bootstrap-blocks", 20, "--permutations", 10, "--holdout", 0.5, "--seed", 4,
            "--mi-samples", 300,
            "--mi-bins", 5, "--no-sparse", "--no-clusters", "--no-top-patches")
    outs = []
    for name in ("one", "two"):
        run_cli("compare", tmp_path / "a", tmp_path / "b", "--out", tmp_path / name, *args)
        outs.append(tmp_path / name)
    for name in ("summary.json", "conv/a~b.bootstrap.npy", "conv/a~b.permutation_null.npy"):
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name
    layer = json.loads((outs[0] / "summary.json").read_text())["layers"]["conv"]
    names = layer["resampling"]["figures"]
    mi_names = ["mi_semi_matching_mean", "mi_matching_mean", "mi_overlap_ratio"]
    assert names[-3:] == mi_names
    pair = layer["pairs"]["a~b"]
    res = pair["resampling"]
    for figure in mi_names:
        real = pair["mutual_information"][figure[3:]]
        assert res["bootstrap"][figure]["estimate"] == pytest.approx(real, abs=1e-12)
        assert res["bootstrap"][figure]["replicates"] == 20
        assert res["bootstrap"][figure]["low"] <= res["bootstrap"][figure]["high"]
        assert res["permutation_null"][figure]["observed"] == pytest.approx(real, abs=1e-12)
    assert res["permutation_null"]["mi_matching_mean"]["z"] > 5
    assert res["permutation_null"]["mi_matching_mean"]["null_mean"] < 0.5 * pair["mutual_information"]["matching_mean"]
    table = np.load(outs[0] / "conv" / "a~b.permutation_null.npy")
    assert table.shape == (10, len(names))
    # Held-out MI: chosen on the fit blocks' sample rows, scored on the others
    # (which, split by image, together hold every sample row). The planted
    # pairs carry over (the plug-in MI of parts of other sizes differs by
    # its small-sample bias, so no order between the two is asserted).
    holdout = res["holdout"]
    assert holdout["mi_fit_samples"] + holdout["mi_score_samples"] == 300
    for figure in ("mi_semi_matching_mean", "mi_matching_mean"):
        assert holdout["held_out"][figure] > 0.5 * holdout["in_sample"][figure] > 0
    # Without MI: no MI figures.
    plain = run(tmp_path, tmp_path / "nomi", "--bootstrap", 5, "--bootstrap-blocks", 10)
    assert not any(n.startswith("mi_") for n in plain["layers"]["conv"]["resampling"]["figures"])


def test_block_moments_that_do_not_fit_fail_with_the_estimate(tmp_path):
    rng = np.random.default_rng(2)
    write_net(tmp_path / "a", {"fc": rng.standard_normal((400, 300))})
    write_net(tmp_path / "b", {"fc": rng.standard_normal((400, 300))})
    proc = run_cli("compare", tmp_path / "a", tmp_path / "b", "--out", tmp_path / "out", "--bootstrap", 10,
                   "--bootstrap-blocks", 400, "--max-memory", 200, check=False)
    assert proc.returncode != 0
    assert "bootstrap / held-out block moments" in proc.stderr and "400 blocks x 600^2 float64" in proc.stderr, proc.stderr
    assert "--bootstrap-blocks" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_session_batches_give_the_arrays_bootstrap_and_reject_the_permutation_null(convergent, tmp_path):
    """Blocks are a function of the image index, so batched pushes fill the
    same blocks as one array; a session cannot read its pushes again."""
    rng = np.random.default_rng(4)
    a = rng.standard_normal((120, 5)).astype(np.float32)
    b = (0.5 * a[:, ::-1] + rng.standard_normal((120, 5))).astype(np.float32)
    options = {"bootstrap": 40, "bootstrap_blocks": 30, "holdout": 0.4, "seed": 9, "mutual_information": False,
               "clustering": False, "top_patches": False}
    whole = convergent.compare({"x": {"fc": a}, "y": {"fc": b}}, progress=False, **options)
    session = convergent._core.Session(["x", "y"], options, 120)
    for rows in (slice(0, 50), slice(50, 120)):
        session.push(0, "fc", a[rows])
        session.push(1, "fc", b[rows])
    text, _ = session.finish(tmp_path / "session")
    streamed = json.loads(text)["layers"]["fc"]["pairs"]["x~y"]["resampling"]
    wanted = whole.summary["layers"]["fc"]["pairs"]["x~y"]["resampling"]
    for figure, interval in wanted["bootstrap"].items():
        for key in ("estimate", "low", "high"):
            assert streamed["bootstrap"][figure][key] == pytest.approx(interval[key], abs=1e-9), (figure, key)
    assert streamed["holdout"]["held_out"] == pytest.approx(wanted["holdout"]["held_out"], abs=1e-9)
    with pytest.raises(convergent.ConvergentError, match="permutation"):
        convergent._core.Session(["x", "y"], {"permutations": 5}, 0)


def test_baseline_nets_are_for_files_only(convergent):
    rng = np.random.default_rng(1)
    nets = {"x": {"fc": rng.standard_normal((50, 3))}, "y": {"fc": rng.standard_normal((50, 3))}}
    with pytest.raises(convergent.ConvergentError, match="baseline-nets"):
        convergent.compare(nets, progress=False, baseline_nets=["ref=/nonexistent/ref.npz"], mutual_information=False)
