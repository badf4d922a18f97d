"""--timings adds a stage breakdown to summary.json (and nothing otherwise)."""
import json
import time

import numpy as np

from conftest import run_cli


def test_timings_cover_the_pass_and_every_step_that_ran(tmp_path):
    rng = np.random.default_rng(2)
    for net in ("a", "b", "c"):
        (tmp_path / net).mkdir()
        np.save(tmp_path / net / "fc.npy", rng.normal(size=(200, 8)).astype(np.float32))
        np.save(tmp_path / net / "conv.npy", rng.normal(size=(20, 4, 3, 3)).astype(np.float32))
    nets = [tmp_path / n for n in ("a", "b", "c")]
    t0 = time.monotonic()
    run_cli("compare", *nets, "--out", tmp_path / "t", "--timings", "--no-sparse", "--quiet")
    wall = time.monotonic() - t0
    summary = json.loads((tmp_path / "t" / "summary.json").read_text())
    timings = summary["timings"]
    assert set(timings["layers"]) == {"fc", "conv"}
    seconds = {}
    for layer, t in timings["layers"].items():
        seconds[layer] = {k: v for k, v in t.items() if k != "memory_estimate_bytes"}
        # sparse prediction was switched off; cycle consistency runs with 3 nets
        assert set(seconds[layer]) == {"pass", "statistics", "correlation_matching", "similarity_indices",
                                       "mutual_information", "clustering", "cycle_consistency",
                                       "mean_activation", "top_patches"}, t
        assert all(v >= 0 for v in seconds[layer].values())
    # the planned peak memory of each layer (what --max-memory is checked against)
    assert set(timings["memory_estimate_bytes"]) == {"fc", "conv"}
    assert all(v > 0 for v in timings["memory_estimate_bytes"].values())
    total = timings["backend_setup"] + sum(sum(t.values()) for t in seconds.values())
    assert 0 < total <= wall
    run_cli("compare", *nets, "--out", tmp_path / "plain", "--quiet")
    assert "timings" not in json.loads((tmp_path / "plain" / "summary.json").read_text())
