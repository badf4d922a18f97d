"""End-to-end `convergent compare`: numbers against numpy float64, and every
bad input gives a clear error, a non-zero exit and no output left behind."""
import json
import os
import struct

import numpy as np
import pytest

from conftest import as_samples, corr_float64, run_cli


def make_nets(root, n_images=60, seed=0):
    """Two nets that share a latent signal: net b's units are a noisy,
    permuted, rescaled copy of net a's, plus one dead unit."""
    rng = np.random.default_rng(seed)
    latent_conv = rng.normal(size=(n_images, 8, 5, 4)).astype(np.float32)
    latent_fc = rng.normal(size=(n_images, 12)).astype(np.float32)
    a_conv = np.maximum(latent_conv + 0.3 * rng.normal(size=latent_conv.shape), 0)
    a_conv[:, 5] = 0.0  # dead unit (a row of the between-net matrix)
    a = {
        "conv1": a_conv.astype(np.float32),
        "fc6": (latent_fc + 100.0).astype(np.float32),  # large offset: tests the centring
    }
    perm_c = rng.permutation(8)
    perm_f = rng.permutation(12)
    b_conv = np.maximum(latent_conv[:, perm_c] * 2.0 + 0.5 * rng.normal(size=latent_conv.shape), 0)
    b_conv[:, 3] = 0.0  # dead unit
    b = {
        "conv1": b_conv.astype(np.float32),
        "fc6": (latent_fc[:, perm_f] + rng.normal(size=latent_fc.shape)).astype(np.float64),
    }
    a_dir = root / "neta"
    a_dir.mkdir()
    for k, v in a.items():
        np.save(a_dir / f"{k}.npy", v)
    np.savez_compressed(root / "netb.npz", **b)
    return a, b, a_dir, root / "netb.npz"


def test_compare_matches_numpy_float64(tmp_path, cli):
    a, b, a_path, b_path = make_nets(tmp_path)
    out = tmp_path / "out"
    cli("compare", a_path, b_path, "--out", out, "--chunk-rows", "37", "--backend", "cpu")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["schema_version"] == 1
    assert summary["backend"] == "cpu"
    assert summary["nets"] == ["neta", "netb"]
    for layer in ("conv1", "fc6"):
        xa, xb = as_samples(a[layer]), as_samples(b[layer])
        lj = summary["layers"][layer]
        assert lj["samples"] == xa.shape[0]
        assert lj["units"] == {"neta": xa.shape[1], "netb": xb.shape[1]}
        np.testing.assert_allclose(lj["mean"]["neta"], xa.astype(np.float64).mean(0), rtol=0, atol=1e-6)
        np.testing.assert_allclose(lj["std"]["netb"], xb.astype(np.float32).astype(np.float64).std(0), rtol=0, atol=1e-6)
        for (p, q, x, y) in (("neta", "netb", xa, xb), ("neta", "neta", xa, xa), ("netb", "netb", xb, xb)):
            got = np.load(out / layer / f"{p}~{q}.corr.npy")
            assert got.dtype == np.float32
            ref = corr_float64(x.astype(np.float32), y.astype(np.float32))
            if p == q:
                dead = x.std(0) == 0
                np.fill_diagonal(ref, np.where(dead, 0.0, 1.0))
            # float32 storage of the result: compare at float32 resolution of
            # values <= 1 plus the 1e-6 accuracy budget.
            np.testing.assert_allclose(got, ref, rtol=0, atol=1e-6)
    assert summary["layers"]["conv1"]["dead_units"] == {"neta": [5], "netb": [3]}
    # dead unit: correlation exactly 0
    between = np.load(out / "conv1" / "neta~netb.corr.npy")
    assert np.all(between[:, 3] == 0) and np.all(between[5, :] == 0)
    # Table 1 on live units only: dead rows unmatched, dead columns never chosen
    c = summary["layers"]["conv1"]["pairs"]["neta~netb"]["correlation"]
    assert c["semi_matching"][5] == -1 and c["semi_matching_values"][5] is None
    assert c["matching"][5] == -1 and 3 not in c["matching"] and 3 not in c["semi_matching"]
    live_r = [i for i in range(8) if i != 5]
    live_c = [j for j in range(8) if j != 3]
    ref = corr_float64(as_samples(a["conv1"]), as_samples(b["conv1"]))[np.ix_(live_r, live_c)]
    assert abs(c["semi_matching_mean"] - ref.max(axis=1).mean()) < 1e-6
    from scipy.optimize import linear_sum_assignment
    r, k = linear_sum_assignment(ref, maximize=True)
    assert abs(c["matching_mean"] - ref[r, k].mean()) < 1e-6
    assert 5 not in c["fig3_order"] and len(c["fig3_order"]) == 7


def test_layers_option_and_three_nets(tmp_path, cli):
    a, b, a_path, b_path = make_nets(tmp_path)
    c_dir = tmp_path / "netc"
    c_dir.mkdir()
    np.save(c_dir / "fc6.npy", (a["fc6"] * 3).astype(np.float32))
    np.save(c_dir / "conv1.npy", a["conv1"])
    out = tmp_path / "out"
    cli("compare", a_path, b_path, c_dir, "--out", out, "--layers", "fc6")
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["layers"]) == ["fc6"]
    assert set(summary["layers"]["fc6"]["pairs"]) == {"neta~netb", "neta~netc", "netb~netc"}
    ac = np.load(out / "fc6" / "neta~netc.corr.npy")
    np.testing.assert_allclose(np.diag(ac), 1.0, atol=1e-6)


def test_float16_big_endian_fortran_inputs(tmp_path, cli):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(40, 5, 3, 2)).astype(np.float32)
    d1, d2 = tmp_path / "n1", tmp_path / "n2"
    d1.mkdir(), d2.mkdir()
    np.save(d1 / "conv.npy", x.astype(np.float16))
    np.save(d2 / "conv.npy", np.asfortranarray(x.astype(">f8")))
    out = tmp_path / "out"
    cli("compare", d1, d2, "--out", out)
    got = np.load(out / "conv" / "n1~n2.corr.npy")
    ref = corr_float64(as_samples(x.astype(np.float16).astype(np.float32)), as_samples(x))
    np.testing.assert_allclose(got, ref, atol=1e-6)


def test_channels_last(tmp_path, cli):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(30, 4, 3, 6)).astype(np.float32)  # NHWC, 6 channels
    d1, d2 = tmp_path / "n1", tmp_path / "n2"
    d1.mkdir(), d2.mkdir()
    np.save(d1 / "conv.npy", x)
    np.save(d2 / "conv.npy", x[..., ::-1].copy())
    out = tmp_path / "out"
    cli("compare", d1, d2, "--out", out, "--channels-last")
    got = np.load(out / "conv" / "n1~n2.corr.npy")
    ref = corr_float64(x.reshape(-1, 6), x[..., ::-1].reshape(-1, 6))
    np.testing.assert_allclose(got, ref, atol=1e-6)


# ---- bad input ---------------------------------------------------------------

def assert_clean_failure(tmp_path, proc, out, *needles):
    assert proc.returncode != 0, proc.stdout
    err = proc.stderr
    for needle in needles:
        assert needle.lower() in err.lower(), f"{needle!r} not in stderr:\n{err}"
    assert not out.exists(), "output directory left behind"
    leftovers = [p.name for p in out.parent.iterdir() if p.name.startswith(".out.tmp")]
    assert not leftovers, leftovers


def two_dirs(tmp_path, x=None, y=None, layer="fc"):
    rng = np.random.default_rng(5)
    d1, d2 = tmp_path / "n1", tmp_path / "n2"
    d1.mkdir(), d2.mkdir()
    np.save(d1 / f"{layer}.npy", rng.normal(size=(20, 4)).astype(np.float32) if x is None else x)
    np.save(d2 / f"{layer}.npy", rng.normal(size=(20, 4)).astype(np.float32) if y is None else y)
    return d1, d2


def test_truncated_file(tmp_path):
    d1, d2 = two_dirs(tmp_path)
    f = d2 / "fc.npy"
    f.write_bytes(f.read_bytes()[:-50])
    out = tmp_path / "out"
    assert_clean_failure(tmp_path, run_cli("compare", d1, d2, "--out", out, check=False), out, "fc.npy", "truncated")


def test_bad_header(tmp_path):
    d1, d2 = two_dirs(tmp_path)
    f = d1 / "fc.npy"
    raw = bytearray(f.read_bytes())
    raw[0:6] = b"NOTNPY"
    f.write_bytes(bytes(raw))
    out = tmp_path / "out"
    assert_clean_failure(tmp_path, run_cli("compare", d1, d2, "--out", out, check=False), out, "fc.npy")


def test_wrong_dtype(tmp_path):
    d1, d2 = two_dirs(tmp_path, y=np.arange(80, dtype=np.int32).reshape(20, 4))
    out = tmp_path / "out"
    assert_clean_failure(tmp_path, run_cli("compare", d1, d2, "--out", out, check=False), out, "fc.npy", "<i4")


def test_object_array_refused(tmp_path):
    d1, d2 = two_dirs(tmp_path)
    np.save(d2 / "fc.npy", np.array([{"a": 1}] * 4, dtype=object), allow_pickle=True)
    out = tmp_path / "out"
    assert_clean_failure(tmp_path, run_cli("compare", d1, d2, "--out", out, check=False), out, "fc.npy")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values(tmp_path, bad):
    y = np.random.default_rng(6).normal(size=(20, 4)).astype(np.float32)
    y[13, 2] = bad
    d1, d2 = two_dirs(tmp_path, y=y)
    out = tmp_path / "out"
    proc = run_cli("compare", d1, d2, "--out", out, check=False)
    assert_clean_failure(tmp_path, proc, out, "fc.npy")
    assert ("nan" in proc.stderr.lower()) or ("inf" in proc.stderr.lower()) or ("finite" in proc.stderr.lower())


def test_mismatched_sample_counts(tmp_path):
    d1, d2 = two_dirs(tmp_path, y=np.ones((19, 4), np.float32))
    out = tmp_path / "out"
    assert_clean_failure(tmp_path, run_cli("compare", d1, d2, "--out", out, check=False), out, "n2", "19", "20")


def test_missing_layer_in_one_net(tmp_path):
    d1, d2 = two_dirs(tmp_path)
    np.save(d1 / "conv9.npy", np.ones((20, 3), np.float32))
    out = tmp_path / "out"
    assert_clean_failure(tmp_path, run_cli("compare", d1, d2, "--out", out, check=False), out, "conv9", "n2")
    proc = run_cli("compare", d1, d2, "--out", out, "--layers", "fc,nope", check=False)
    assert_clean_failure(tmp_path, proc, out, "nope")


def test_absurd_claimed_shape(tmp_path):
    d1, d2 = two_dirs(tmp_path)
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1099511627776), }"
    header = header + " " * (118 - len(header)) + "\n"
    (d2 / "fc.npy").write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + b"\0" * 64)
    out = tmp_path / "out"
    assert_clean_failure(tmp_path, run_cli("compare", d1, d2, "--out", out, check=False), out, "fc.npy")


def test_rank3_layer_refused(tmp_path):
    d1, d2 = two_dirs(tmp_path, y=np.ones((20, 4, 2), np.float32))
    out = tmp_path / "out"
    assert_clean_failure(tmp_path, run_cli("compare", d1, d2, "--out", out, check=False), out, "fc.npy")


def test_missing_input_path(tmp_path):
    d1, _ = two_dirs(tmp_path)
    out = tmp_path / "out"
    assert_clean_failure(tmp_path, run_cli("compare", d1, tmp_path / "nope.npz", "--out", out, check=False), out, "nope.npz")


def test_existing_output_is_not_clobbered(tmp_path):
    d1, d2 = two_dirs(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    proc = run_cli("compare", d1, d2, "--out", out, check=False)
    assert proc.returncode != 0 and "overwrite" in proc.stderr
    assert (out / "keep.txt").read_text() == "mine"
    run_cli("compare", d1, d2, "--out", out, "--overwrite")
    assert (out / "summary.json").exists() and not (out / "keep.txt").exists()


def test_cuda_without_gpu_is_an_error(tmp_path):
    d1, d2 = two_dirs(tmp_path)
    out = tmp_path / "out"
    proc = run_cli("compare", d1, d2, "--out", out, "--backend", "cuda", check=False)
    if proc.returncode == 0:
        summary = json.loads((out / "summary.json").read_text())
        assert summary["backend"] == "cuda"  # a GPU is present: it must really have run there
        return
    assert_clean_failure(tmp_path, proc, out, "cuda")


def test_usage_errors_exit_2(tmp_path):
    assert run_cli("compare", tmp_path, check=False).returncode == 2
    assert run_cli("compare", tmp_path, tmp_path, "--out", tmp_path / "o", "--bogus", check=False).returncode == 2
    assert run_cli("frobnicate", check=False).returncode == 2
    assert run_cli("compare", tmp_path, tmp_path, "--out", tmp_path / "o", "--backend", "gpu", check=False).returncode != 0


def test_layer_name_that_escapes_the_output_is_refused(tmp_path):
    import zipfile
    rng = np.random.default_rng(9)
    d1 = tmp_path / "n1"
    d1.mkdir()
    for n in ("n1.npz", "n2.npz"):
        with zipfile.ZipFile(tmp_path / n, "w") as z:
            import io
            buf = io.BytesIO()
            np.save(buf, rng.normal(size=(20, 4)).astype(np.float32))
            z.writestr("../../evil.npy", buf.getvalue())
    out = tmp_path / "deep" / "out"
    proc = run_cli("compare", tmp_path / "n1.npz", tmp_path / "n2.npz", "--out", out, check=False)
    assert proc.returncode != 0
    assert "evil" in proc.stderr
    assert not (tmp_path / "evil").exists() and not out.exists()


def test_output_directory_gets_the_umask_mode(tmp_path):
    d1, d2 = two_dirs(tmp_path)
    out = tmp_path / "out"
    old = os.umask(0o022)
    try:
        run_cli("compare", d1, d2, "--out", out)
    finally:
        os.umask(old)
    assert (out.stat().st_mode & 0o777) == 0o755


def test_out_of_range_integers_are_usage_errors(tmp_path):
    d1, d2 = two_dirs(tmp_path)
    out = tmp_path / "out"
    for flag, value in (("--mi-bins", "4294967297"), ("--mi-bins", "255"), ("--cluster-k", "-5"),
                        ("--chunk-rows", "99999999999999999999"), ("--mi-samples", "1")):
        proc = run_cli("compare", d1, d2, "--out", out, flag, value, check=False)
        assert proc.returncode == 2, (flag, value, proc.stderr)
        assert flag in proc.stderr
        assert not out.exists()


def test_real_activations_match_numpy_float64(tmp_path):
    """The bundled Fashion-MNIST nets (real post-ReLU activations, float16,
    many dead units): every layer's within and between correlation, mean and
    std equal numpy float64 to 1e-6."""
    from conftest import SOURCE_DIR
    nets = SOURCE_DIR / "examples" / "fashion_mnist" / "nets"
    a_path, b_path = nets / "net1.npz", nets / "net2.npz"
    out = tmp_path / "out"
    run_cli("compare", a_path, b_path, "--out", out, "--no-mi", "--no-sparse", "--no-clusters",
            "--chunk-rows", "1000")
    summary = json.loads((out / "summary.json").read_text())
    za, zb = np.load(a_path), np.load(b_path)
    layers = [f for f in za.files if not f.endswith(".receptive_field")]  # the bundled nets store their fields
    assert len(layers) == 7 and sorted(summary["layers"]) == sorted(layers)
    for layer in layers:
        xa = as_samples(za[layer].astype(np.float32))
        xb = as_samples(zb[layer].astype(np.float32))
        lj = summary["layers"][layer]
        np.testing.assert_allclose(lj["mean"]["net1"], xa.astype(np.float64).mean(0), rtol=0, atol=1e-6)
        np.testing.assert_allclose(lj["std"]["net2"], xb.astype(np.float64).std(0), rtol=0, atol=1e-6)
        assert lj["dead_units"]["net1"] == [int(i) for i in np.flatnonzero(xa.std(0) == 0)]
        for p, q, x, y in (("net1", "net2", xa, xb), ("net1", "net1", xa, xa)):
            got = np.load(out / layer / f"{p}~{q}.corr.npy")
            ref = corr_float64(x, y)
            if p == q:
                np.fill_diagonal(ref, np.where(x.std(0) == 0, 0.0, 1.0))
            np.testing.assert_allclose(got, ref, rtol=0, atol=1e-6, err_msg=f"{layer} {p}~{q}")


def test_lasso_weights_export_matches_sklearn(tmp_path):
    from sklearn.linear_model import Lasso
    a, b, a_path, b_path = make_nets(tmp_path)
    out = tmp_path / "out"
    run_cli("compare", a_path, b_path, "--out", out, "--layers", "fc6", "--no-mi", "--no-clusters",
            "--lasso-alphas", "0.1,0.02", "--lasso-weights")
    summary = json.loads((out / "summary.json").read_text())
    w = np.load(out / "fc6" / "neta~netb.lasso_weights.npy")
    assert w.shape == (2, 12, 12) and w.dtype == np.float32
    assert summary["layers"]["fc6"]["files"]["neta~netb"]["lasso_weights"] == "fc6/neta~netb.lasso_weights.npy"
    x = b["fc6"].astype(np.float32).astype(np.float64)
    y = a["fc6"].astype(np.float64)
    xs = (x - x.mean(0)) / x.std(0)
    ys = (y - y.mean(0)) / y.std(0)
    sp = summary["layers"]["fc6"]["pairs"]["neta~netb"]["sparse_prediction"]
    for k, alpha in enumerate((0.1, 0.02)):
        for u in (0, 7):
            ref = Lasso(alpha=alpha, tol=1e-10, max_iter=100000).fit(xs, ys[:, u]).coef_
            np.testing.assert_allclose(w[k, u], ref, atol=1e-4)
        assert sp["nonzero"][k][7] == int(np.count_nonzero(w[k, 7]))


def test_same_seed_same_result_other_seed_other_sample(tmp_path):
    a, b, a_path, b_path = make_nets(tmp_path, n_images=400)
    outs = []
    for name, seed in (("o1", "7"), ("o2", "7"), ("o3", "8")):
        out = tmp_path / name
        run_cli("compare", a_path, b_path, "--out", out, "--seed", seed, "--mi-samples", "500")
        outs.append(out)
    s1, s2, s3 = (json.loads((o / "summary.json").read_text()) for o in outs)
    assert s1 == s2
    for f in ("conv1/neta~netb.mi.npy", "fc6/neta~netb.corr.npy"):
        assert (outs[0] / f).read_bytes() == (outs[1] / f).read_bytes()
    # another seed draws other MI sample rows; the statistics do not change
    assert (outs[0] / "fc6/neta~netb.corr.npy").read_bytes() == (outs[2] / "fc6/neta~netb.corr.npy").read_bytes()
    assert (outs[0] / "conv1/neta~netb.mi.npy").read_bytes() != (outs[2] / "conv1/neta~netb.mi.npy").read_bytes()
