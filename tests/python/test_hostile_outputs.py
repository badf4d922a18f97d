"""`convergent compare` and `convergent report` against hostile or failing
file systems: links in a results directory never pull outside files into a
report, a file size limit (`ulimit -f`) is a clean error that leaves no
temporaries, leftovers of crashed runs are removed by the next run (and those
of running processes are not), and --out can never name an input.

Run by ctest with CONVERGENT_CLI set (see conftest.py)."""
import base64
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import run_cli

HERE = Path(__file__).resolve().parent
MAKE_FIXTURE = HERE.parent / "browser" / "make_fixture.py"
SECRET = b"root:x:0:0:convergent-test-secret:/root:/bin/bash\n"


def cli_path():
    path = os.environ.get("CONVERGENT_CLI")
    if not path:
        pytest.skip("CONVERGENT_CLI not set")
    return path


def run(*args, file_size_limit=None):
    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))
    return subprocess.run([cli_path(), *map(str, args)], capture_output=True, text=True, timeout=600,
                          preexec_fn=limit if file_size_limit else None)


@pytest.fixture
def results(tmp_path):
    out = tmp_path / "results"
    subprocess.run([sys.executable, str(MAKE_FIXTURE), str(out)], check=True)
    r = run("report", out)
    if r.returncode != 0 and "built without the viewer" in r.stderr:
        pytest.skip("this convergent was built without the viewer")
    assert r.returncode == 0, r.stderr
    (out / "report.html").unlink()
    return out


def secret_file(tmp_path):
    path = tmp_path / "outside" / "passwd"
    path.parent.mkdir()
    path.write_bytes(SECRET)
    return path


def assert_secret_not_embedded(results):
    encoded = base64.b64encode(SECRET).decode()
    for page in results.rglob("*.html"):
        text = page.read_text(errors="replace")
        assert encoded[:40] not in text and "convergent-test-secret" not in text, page


def dead_pid():
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def two_nets(tmp_path, units=64, samples=200):
    rng = np.random.default_rng(3)
    nets = []
    for name in ("n1", "n2"):
        d = tmp_path / name
        d.mkdir()
        np.save(d / "fc.npy", rng.normal(size=(samples, units)).astype(np.float32))
        nets.append(d)
    return nets


# ---- report: links out of the results directory ------------------------------

def test_report_refuses_a_matrix_that_is_a_link_to_an_outside_file(results, tmp_path):
    target = results / "conv1" / "net1~net2.corr.npy"
    target.unlink()
    target.symlink_to(secret_file(tmp_path))
    r = run("report", results)
    assert r.returncode == 1, r.stderr
    assert "conv1/net1~net2.corr.npy" in r.stderr and "symbolic link" in r.stderr, r.stderr
    assert not (results / "report.html").exists()
    assert_secret_not_embedded(results)


def test_report_refuses_a_linked_subdirectory(results, tmp_path):
    # conv1 moved out and linked back: every name still looks relative and
    # inside, but the files' real paths are outside the results directory.
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (results / "conv1").rename(outside / "conv1")
    (outside / "conv1" / "net1~net2.corr.npy").write_bytes(SECRET)
    (results / "conv1").symlink_to(outside / "conv1", target_is_directory=True)
    r = run("report", results)
    assert r.returncode == 1, r.stderr
    assert "symbolic link" in r.stderr and "conv1" in r.stderr, r.stderr
    assert_secret_not_embedded(results)


def test_report_refuses_a_linked_summary(results, tmp_path):
    real = tmp_path / "summary-elsewhere.json"
    (results / "summary.json").rename(real)
    (results / "summary.json").symlink_to(real)
    r = run("report", results)
    assert r.returncode == 1 and "summary.json" in r.stderr and "symbolic link" in r.stderr, r.stderr
    assert not (results / "report.html").exists()


def test_report_into_a_linked_output_replaces_the_link_not_its_target(results, tmp_path):
    victim = secret_file(tmp_path)
    (results / "report.html").symlink_to(victim)
    r = run("report", results)
    assert r.returncode == 0, r.stderr
    assert victim.read_bytes() == SECRET
    assert not (results / "report.html").is_symlink()


# ---- file size limit (ulimit -f) ---------------------------------------------

def test_report_over_the_file_size_limit_is_a_clean_error(results):
    r = run("report", results, file_size_limit=200_000)  # the page is larger
    assert r.returncode == 1, f"exit {r.returncode} (signal {-r.returncode if r.returncode < 0 else 0}): {r.stderr}"
    assert "report.html" in r.stderr and os.strerror(27) in r.stderr, r.stderr  # EFBIG
    leftovers = [p.name for p in results.iterdir() if "report.html" in p.name]
    assert leftovers == [], leftovers


def test_compare_over_the_file_size_limit_is_a_clean_error(tmp_path):
    n1, n2 = two_nets(tmp_path)  # 64 x 64 float matrices: more than 8 KiB each
    out = tmp_path / "out"
    r = run("compare", n1, n2, "--out", out, "--quiet", file_size_limit=8192)
    assert r.returncode == 1, f"exit {r.returncode} (signal {-r.returncode if r.returncode < 0 else 0}): {r.stderr}"
    assert os.strerror(27) in r.stderr and ".npy" in r.stderr, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["n1", "n2"]


# ---- leftovers of crashed runs -----------------------------------------------

def test_report_removes_temporaries_of_crashed_runs_only(results):
    crashed = results / f".report.html.tmp-{dead_pid()}-Ab3dEf"
    crashed.write_text("half a page")
    running = results / f".report.html.tmp-{os.getpid()}-Zx9yW8"  # this test: alive
    running.write_text("being written")
    r = run("report", results)
    assert r.returncode == 0, r.stderr
    assert not crashed.exists()
    assert running.read_text() == "being written"


def test_compare_removes_staging_directories_of_crashed_runs_only(tmp_path):
    n1, n2 = two_nets(tmp_path, units=6)
    crashed = tmp_path / f".out.tmp-{dead_pid()}-Ab3dEf"
    (crashed / "fc").mkdir(parents=True)
    (crashed / "fc" / "n1~n2.corr.npy").write_bytes(b"half")
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        running = tmp_path / f".out.tmp-{sleeper.pid}-Zx9yW8"
        running.mkdir()
        run_cli("compare", n1, n2, "--out", tmp_path / "out", "--quiet")
        assert not crashed.exists()
        assert running.is_dir()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_compare_killed_mid_run_is_cleaned_up_by_the_next_run(tmp_path):
    n1, n2 = two_nets(tmp_path, units=300, samples=3000)
    out = tmp_path / "out"
    proc = subprocess.Popen([cli_path(), "compare", n1, n2, "--out", out, "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Kill it as soon as its staging directory exists.
    staging = []
    while proc.poll() is None and not staging:
        staging = [p for p in tmp_path.iterdir() if p.name.startswith(".out.tmp-")]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    if not staging or out.exists():
        pytest.skip("compare finished before it could be killed")
    run_cli("compare", n1, n2, "--out", out, "--quiet", "--overwrite")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["n1", "n2", "out"]


# ---- --out naming an input -----------------------------------------------------

@pytest.mark.parametrize("where", ["input", "parent", "inside"])
def test_compare_refuses_an_output_that_is_an_input(tmp_path, where):
    n1, n2 = two_nets(tmp_path, units=4)
    out = {"input": n1, "parent": tmp_path, "inside": n1 / "results"}[where]
    before = {p: p.read_bytes() for p in (n1 / "fc.npy", n2 / "fc.npy")}
    r = run("compare", n1, n2, "--out", out, "--overwrite", "--quiet")
    assert r.returncode != 0, "compare wrote its output over an input"
    assert "input" in r.stderr, r.stderr
    assert {p: p.read_bytes() for p in before} == before
    assert sorted(p.name for p in n1.iterdir()) == ["fc.npy"]
