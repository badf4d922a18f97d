"""The Python API and the CLI give identical figures: `convergent compare` on
the bundled Fashion-MNIST nets (examples/fashion_mnist/nets, float16 conv and
dense layers of three nets, so every analysis step runs, cycle consistency
included) against convergent.compare on the same arrays loaded with numpy,
on the same files, and writing a directory; summary.json figures must be
equal exactly (the same pipeline runs) and every .npy byte for byte
(tools/diff_results.py)."""
import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import SOURCE_DIR, run_cli

NETS = SOURCE_DIR / "examples" / "fashion_mnist" / "nets"
NAMES = ("net1", "net2", "net3")
# Fewer MI samples and a short lasso path keep the test short (the options
# are the same on both sides; the defaults are not what is tested here).
OPTIONS = ["--mi-samples", "3000", "--seed", "7", "--lasso-alphas", "0.3,0.1"]
KEYWORDS = {"mi_samples": 3000, "seed": 7, "lasso_alphas": [0.3, 0.1]}
SUBSET = ["conv2", "conv5"]  # the file and layout plumbing; every layer is compared above


def cli_compare(out, *extra):
    run_cli("compare", *[NETS / f"{n}.npz" for n in NAMES], "--out", out, "--quiet", *OPTIONS, *extra)
    return out


@pytest.fixture(scope="module")
def cli_results(tmp_path_factory):
    return cli_compare(tmp_path_factory.mktemp("cli") / "results")


@pytest.fixture(scope="module")
def cli_subset(tmp_path_factory):
    return cli_compare(tmp_path_factory.mktemp("cli") / "subset", "--layers", ",".join(SUBSET))


def without_inputs(summary):
    return {k: v for k, v in summary.items() if k != "inputs"}


def diff_results(a, b):
    proc = subprocess.run([sys.executable, str(SOURCE_DIR / "tools" / "diff_results.py"), str(a), str(b)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_arrays_give_the_cli_figures(convergent, cli_results, tmp_path):
    arrays = {}
    for n in NAMES:
        with np.load(NETS / f"{n}.npz") as z:
            arrays[n] = {layer: z[layer] for layer in z.files}
    assert arrays["net1"]["conv1"].dtype == np.float16 and arrays["net1"]["conv1"].ndim == 4
    result = convergent.compare(arrays, progress=False, **KEYWORDS)
    cli_summary = json.loads((cli_results / "summary.json").read_text())
    assert without_inputs(result.summary) == without_inputs(cli_summary)
    assert result.summary["inputs"] == {n: "<memory>" for n in NAMES}
    assert "cycle_consistency" in result["fc7"].summary and "clusters" in result["conv3"].summary
    on_disk = sorted(str(p.relative_to(cli_results)) for p in cli_results.rglob("*.npy"))
    assert sorted(result.arrays) == on_disk
    for path in on_disk:
        expected = np.load(cli_results / path)
        got = result.arrays[path]
        # In memory the int64 top-k indices are float32 (docs/summary_schema.md, top_patches).
        wanted = np.int64 if path.endswith((".topk.npy", ".topk_positions.npy")) else np.float32
        assert got.dtype == np.float32 and expected.dtype == wanted and got.shape == expected.shape, path
        assert np.array_equal(got, expected, equal_nan=True), path
    # Table 1 figures as the CLI prints them
    for row in result.table1():
        figures = cli_summary["layers"][row["layer"]]["pairs"][f"{row['net_a']}~{row['net_b']}"]["correlation"]
        assert row["matching_mean"] == figures["matching_mean"]
        assert row["semi_matching_mean"] == figures["semi_matching_mean"]
    result.save(tmp_path / "api")
    diff_results(cli_results, tmp_path / "api")


def test_files_give_the_cli_results(convergent, cli_subset, tmp_path):
    inputs = [str(NETS / f"{n}.npz") for n in NAMES]
    in_memory = convergent.compare(inputs, progress=False, layers=SUBSET, **KEYWORDS)
    cli_summary = json.loads((cli_subset / "summary.json").read_text())
    assert in_memory.summary == cli_summary  # inputs included: the same paths
    named = convergent.compare({f"seed{i}": NETS / f"{n}.npz" for i, n in enumerate(NAMES)}, progress=False,
                               layers=SUBSET, **KEYWORDS)
    assert named.nets == ["seed0", "seed1", "seed2"]
    assert named["conv5"].table1("seed0", "seed2") == in_memory["conv5"].table1("net1", "net3")
    written = convergent.compare(inputs, tmp_path / "out", progress=False, layers=SUBSET, **KEYWORDS)
    assert written.summary == cli_summary
    assert (tmp_path / "out" / "summary.json").read_text() == (cli_subset / "summary.json").read_text()
    diff_results(cli_subset, tmp_path / "out")


def test_nhwc_float32_copy_of_the_nets_gives_the_same_figures(convergent, cli_subset):
    # The same values in another layout and dtype are the same data: float16
    # values are exact in float32, and NHWC puts them in the same sample order.
    arrays = {}
    for n in NAMES:
        with np.load(NETS / f"{n}.npz") as z:
            arrays[n] = {layer: np.ascontiguousarray(np.moveaxis(z[layer], 1, -1) if z[layer].ndim == 4 else z[layer],
                                                     dtype=np.float32) for layer in SUBSET}
            # The receptive fields stored beside the layers come along (arrays are read like files).
            arrays[n].update({k: z[k] for k in z.files if k.endswith(".receptive_field") and k.split(".")[0] in SUBSET})
    result = convergent.compare(arrays, progress=False, layout="NHWC", **KEYWORDS)
    cli_summary = json.loads((cli_subset / "summary.json").read_text())
    cli_summary["options"]["layout"] = "NHWC"
    assert without_inputs(result.summary) == without_inputs(cli_summary)
