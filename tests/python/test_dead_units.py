"""--dead-units exclude|include: dead (zero-variance) units are left out of the
matchings and Table 1 means, or kept with correlation 0 as the paper's own
code did. Checked against numpy float64 correlation and scipy's
linear_sum_assignment on the same data."""
import json

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from conftest import corr_float64, run_cli


@pytest.fixture(scope="module")
def nets(tmp_path_factory):
    d = tmp_path_factory.mktemp("dead")
    rng = np.random.default_rng(11)
    base = rng.normal(size=(400, 6))
    a = base + 0.3 * rng.normal(size=base.shape)
    b = base[:, ::-1] + 0.3 * rng.normal(size=base.shape)
    a[:, 1] = 0.0   # dead in net a
    b[:, 4] = 2.5   # dead (constant) in net b
    for name, x in (("a", a), ("b", b)):
        (d / name).mkdir()
        np.save(d / name / "fc.npy", x.astype(np.float32))
    return d, a.astype(np.float32), b.astype(np.float32)


def table1(c, rows, cols):
    sub = c[np.ix_(rows, cols)]
    semi = sub.max(axis=1).mean()
    r, k = linear_sum_assignment(sub, maximize=True)
    return semi, sub[r, k].mean()


def run(d, tmp_path, mode):
    out = tmp_path / mode
    args = ["compare", d / "a", d / "b", "--out", out, "--no-mi", "--no-sparse", "--no-clusters", "--quiet"]
    if mode != "default":
        args += ["--dead-units", mode]
    run_cli(*args)
    s = json.loads((out / "summary.json").read_text())
    return s, s["layers"]["fc"]["pairs"]["a~b"]["correlation"]


def test_exclude_is_the_default_and_leaves_dead_units_out(nets, tmp_path):
    d, a, b = nets
    c = np.nan_to_num(corr_float64(a, b))
    summary, corr = run(d, tmp_path, "default")
    assert summary["options"]["dead_units"] == "exclude"
    semi, matching = table1(c, [0, 2, 3, 4, 5], [0, 1, 2, 3, 5])
    assert corr["semi_matching_mean"] == pytest.approx(semi, abs=1e-6)
    assert corr["matching_mean"] == pytest.approx(matching, abs=1e-6)
    assert corr["semi_matching"][1] == -1 and corr["matching"][1] == -1


def test_include_keeps_them_with_correlation_zero(nets, tmp_path):
    d, a, b = nets
    c = corr_float64(a, b)
    c[~np.isfinite(c)] = 0.0  # a dead unit correlates 0 with everything
    summary, corr = run(d, tmp_path, "include")
    assert summary["options"]["dead_units"] == "include"
    semi, matching = table1(c, list(range(6)), list(range(6)))
    assert corr["semi_matching_mean"] == pytest.approx(semi, abs=1e-6)
    assert corr["matching_mean"] == pytest.approx(matching, abs=1e-6)
    assert corr["matching"][1] >= 0 and corr["matching_values"][1] == pytest.approx(0.0, abs=1e-7)
    # including zeros lowers the means: the paper's convention is the stricter one
    _, excluded = run(d, tmp_path, "exclude")
    assert corr["matching_mean"] < excluded["matching_mean"]


def stats_table1_equals_the_cli(stats_class, nets, tmp_path):
    """Table 1 of a Statistics/Stats object (the package's or the C ABI's)
    equals the CLI's for both dead-unit modes; returns the CLI's figures."""
    d, a, b = nets
    st = stats_class([6, 6], backend="cpu")
    st.push(0, a)
    st.push(1, b)
    st.finalize()
    cli = {}
    for mode in ("exclude", "include"):
        _, corr = run(d, tmp_path, mode)
        t = st.table1(0, 1, dead_units=mode)
        assert t["semi_matching_mean"] == pytest.approx(corr["semi_matching_mean"], abs=1e-6)
        assert t["matching_mean"] == pytest.approx(corr["matching_mean"], abs=1e-6)
        assert t["overlap_ratio"] == pytest.approx(corr["overlap_ratio"], abs=1e-12)
        cli[mode] = corr
    return cli


def test_python_table1_equals_the_cli(nets, tmp_path, convergent):
    # The API used to disagree with the CLI: semi_matching(correlation) kept
    # dead units at 0. Statistics.table1 uses the CLI's convention (and
    # option), and so does compare() (the same pipeline).
    _, a, b = nets
    cli = stats_table1_equals_the_cli(convergent.Statistics, nets, tmp_path)
    for mode, corr in cli.items():
        result = convergent.compare({"a": {"fc": a}, "b": {"fc": b}}, dead_units=mode, mutual_information=False,
                                    sparse_prediction=False, clustering=False)
        assert result["fc"].table1("a", "b") == {k: corr[k] for k in
                                                 ("semi_matching_mean", "matching_mean", "overlap_ratio")}


def test_c_api_table1_equals_the_cli(nets, tmp_path, capi):
    stats_table1_equals_the_cli(capi.Stats, nets, tmp_path)
