"""tools/gpu_check.sh without a GPU: it must refuse at once (exit 2, one line
saying why, nothing built), and --dry-run must print the whole plan without
running any of it. The GPU path itself runs only on a device machine."""
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

SOURCE_DIR = Path(os.environ.get("CONVERGENT_SOURCE_DIR", Path(__file__).resolve().parents[2]))
SCRIPT = SOURCE_DIR / "tools" / "gpu_check.sh"


def run(tmp_path, *args, smi=None, extra_env=None):
    env = dict(os.environ)
    env["CONVERGENT_GPU_BUILD_DIR"] = str(tmp_path / "build")
    env.pop("OUT", None)
    if smi is not None:
        env["CONVERGENT_NVIDIA_SMI"] = str(smi)
    env.update(extra_env or {})
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=120)


def fake_smi(tmp_path, body, name="nvidia-smi"):
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def assert_refused(proc, tmp_path, reason):
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("gpu_check: no usable NVIDIA GPU: "), lines[0]
    assert reason in lines[0]
    assert proc.stdout == ""
    assert not (tmp_path / "build").exists(), "nothing may be configured or built without a GPU"


def test_no_nvidia_smi_is_refused(tmp_path):
    proc = run(tmp_path, smi=tmp_path / "no-such-nvidia-smi")
    assert_refused(proc, tmp_path, "not found")


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="this machine has nvidia-smi")
def test_this_machine_is_refused(tmp_path):
    proc = run(tmp_path)
    assert_refused(proc, tmp_path, "'nvidia-smi' not found")


def test_driver_without_device_is_refused(tmp_path):
    # What nvidia-smi says on a machine with the driver and no usable GPU.
    smi = fake_smi(tmp_path, 'echo "No devices were found"; exit 6')
    proc = run(tmp_path, smi=smi)
    assert_refused(proc, tmp_path, "failed: No devices were found")


def test_empty_gpu_list_is_refused(tmp_path):
    smi = fake_smi(tmp_path, "exit 0")
    proc = run(tmp_path, smi=smi)
    assert_refused(proc, tmp_path, "lists no GPU")


def test_driver_older_than_the_toolkit_is_refused(tmp_path):
    nvcc = fake_smi(tmp_path, 'echo "Cuda compilation tools, release 13.0, V13.0.48"', name="nvcc")
    smi = fake_smi(
        tmp_path,
        'case "$1" in -L) echo "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-0)";; '
        '--query-gpu=*) echo "NVIDIA H100 80GB HBM3, 535.104.05, 81559 MiB, 9.0";; '
        '*) echo "| Driver Version: 535.104.05   CUDA Version: 12.2 |";; esac',
    )
    proc = run(tmp_path, smi=smi, extra_env={"CUDACXX": str(nvcc)})
    assert_refused(proc, tmp_path, "supports CUDA 12.2, older than the toolkit's CUDA 13.0")


def test_dry_run_prints_the_plan_and_runs_nothing(tmp_path):
    # Even with no GPU at all: the plan is printed, nothing is run or created.
    proc = run(tmp_path, "--dry-run", smi=tmp_path / "no-such-nvidia-smi")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert not (tmp_path / "build").exists()
    build = str(tmp_path / "build")
    steps = [line.split("]")[0][1:] for line in out.splitlines() if line.startswith("[")]
    assert steps == [
        "detect", "detect", "configure", "build", "probe", "probe-c-abi", "version",
        "tests-cuda", "tests-python-gpu",
        "bench-statistics", "bench-mutual-info", "bench-auction", "bench-eigensolve", "bench-mi-existing",
        "e2e-cpu", "e2e-cuda", "report",
        "tests-suite", "tests-skips", "report",
    ], out
    # Every command runs under a hard time limit.
    assert all("timeout " in line for line in out.splitlines() if line.startswith("[") and "[detect]" not in line)
    assert f"cmake -S {SOURCE_DIR} -B {build}" in out
    assert "-DCONVERGENT_CUDA=ON -DCONVERGENT_VIEWER=OFF" in out
    assert "-DCMAKE_CUDA_ARCHITECTURES=" in out
    assert "--target all cuda_bench" in out
    assert "ctest --test-dir " + build + " -R Cuda" in out
    assert f"{build}/bench/cuda_bench --case mutual_information" in out
    assert "--backend cuda --units 4096" in out
    assert "--backend cpu" in out and "compare" in out
    for net in ("net1", "net2", "net3", "net4"):
        assert f"examples/fashion_mnist/nets/{net}.npz" in out
    assert f"{build}/gpu_benchmarks.md" in out


def test_dry_run_report_goes_to_out(tmp_path):
    out_dir = tmp_path / "out"
    proc = run(tmp_path, "--dry-run", "--quick", extra_env={"OUT": str(out_dir)})
    assert proc.returncode == 0, proc.stderr
    assert f"{out_dir}/gpu_benchmarks.md" in proc.stdout
    assert "--case auction --quick" in proc.stdout
    assert not out_dir.exists()


def test_unknown_argument_is_a_usage_error(tmp_path):
    proc = run(tmp_path, "--frobnicate")
    assert proc.returncode == 64
    assert "unknown argument" in proc.stderr
