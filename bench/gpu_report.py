#!/usr/bin/env python3
"""The report of tools/gpu_check.sh, from the files its steps left in LOGS.

  /usr/bin/python3 bench/gpu_report.py skips JUNIT.xml [JUNIT.xml ...]
      lists the tests ctest skipped for any reason other than "a CUDA device
      is present" (the no-device tests); exit 1 when there is one: on a GPU
      machine every CUDA parity test must run.
  /usr/bin/python3 bench/gpu_report.py table LOGS OUT.md
      writes the markdown section for docs/benchmarks.md: device, driver,
      CUDA version, every GPU figure next to the CPU-backend figure measured
      in the same run, the host/device solver crossovers measured against the
      ones in effect (cuda/src/crossovers.hpp), and the test and step summaries.

Standard library only, except numpy for the end-to-end array comparison
(skipped when numpy is missing)."""
import glob
import json
import os
import sys
import xml.etree.ElementTree as ET

# The only reason a test may skip on a GPU machine: it checks the no-device path.
ALLOWED_SKIP = "a CUDA device is present"


def junit_cases(paths):
    for path in paths:
        try:
            root = ET.parse(path).getroot()
        except (OSError, ET.ParseError):
            continue
        for case in root.iter("testcase"):
            out = case.findtext("system-out") or ""
            yield case.get("name"), case.get("status"), case.find("skipped") is not None, out


def bad_skips(paths):
    return sorted({name for name, _, skipped, out in junit_cases(paths) if skipped and ALLOWED_SKIP not in out})


def cmd_skips(paths):
    names = bad_skips(paths)
    for name in names:
        print(f"still skipped on a GPU machine: {name}")
    if not list(junit_cases(paths)):
        print("no ctest JUnit results found in " + " ".join(paths))
        return 1
    return 1 if names else 0


def read_lines(path):
    rows = []
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError:
                        pass
    except OSError:
        pass
    return rows


def read_kv(path):
    kv = {}
    try:
        with open(path) as f:
            for line in f:
                if "=" in line:
                    k, v = line.rstrip("\n").split("=", 1)
                    kv[k] = v
    except OSError:
        pass
    return kv


def fmt_s(x):
    if x is None:
        return "-"
    return f"{x:.4f}" if x < 0.1 else f"{x:.3f}" if x < 10 else f"{x:.1f}"


def speedup(a, b):
    return f"{a / b:.2f}x" if a and b else "-"


def ratio(a, b):
    if not a or not b:
        return "-"
    r = a / b
    return f"{r:.2f}x" if r < 1 else f"{r:.1f}x"


def num(x):
    return "-" if x is None else f"{x:.0f}"


def sci(x):
    return "-" if x is None else f"{x:.1e}"


def steps_table(logs):
    rows = []
    try:
        with open(os.path.join(logs, "steps.tsv")) as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if len(parts) == 4:
                    rows.append(parts)
    except OSError:
        pass
    return rows


def e2e_section(e2e_dir, steps):
    seconds = {name: float(s) for name, status, s, _ in steps if name.startswith("e2e-") and status == "ok"}
    summaries = {}
    for kind in ("cpu", "cuda"):
        try:
            with open(os.path.join(e2e_dir, f"e2e_{kind}", "summary.json")) as f:
                summaries[kind] = json.load(f)
        except (OSError, json.JSONDecodeError):
            pass
    if not summaries:
        return ["(end to end did not run or wrote no summary.json; see the e2e-* logs)"]
    lines = []
    cpu_s, gpu_s = seconds.get("e2e-cpu"), seconds.get("e2e-cuda")
    ran = summaries.get("cuda", {}).get("backend", "-")
    device = summaries.get("cuda", {}).get("backend_device", "-")
    diff = compare_arrays(os.path.join(e2e_dir, "e2e_cpu"), os.path.join(e2e_dir, "e2e_cuda"))
    lines.append("| case | `--backend cpu` (s) | `--backend cuda` (s) | cpu/cuda | backend that ran | max abs diff of .npy |")
    lines.append("|---|---:|---:|---:|---|---|")
    lines.append(f"| 4 bundled Fashion-MNIST nets, all steps | {fmt_s(cpu_s)} | {fmt_s(gpu_s)} | {ratio(cpu_s, gpu_s)} "
                 f"| {ran} ({device}) | {diff} |")
    # Per-step wall clock from --timings, summed over the layers.
    steps_by_kind = {}
    for kind, summary in summaries.items():
        total = {}
        for layer in summary.get("timings", {}).get("layers", {}).values():
            for step, t in layer.items():
                if isinstance(t, (int, float)):
                    total[step] = total.get(step, 0.0) + t
        steps_by_kind[kind] = total
    names = sorted(set().union(*[set(v) for v in steps_by_kind.values()]))
    if names:
        lines.append("")
        lines.append("| step (summed over layers) | cpu (s) | cuda (s) | cpu/cuda |")
        lines.append("|---|---:|---:|---:|")
        for name in names:
            c, g = steps_by_kind.get("cpu", {}).get(name), steps_by_kind.get("cuda", {}).get(name)
            lines.append(f"| {name} | {fmt_s(c)} | {fmt_s(g)} | {ratio(c, g)} |")
    return lines


def compare_arrays(a_dir, b_dir):
    try:
        import numpy as np
    except ImportError:
        return "numpy missing"
    worst, differing, count = 0.0, [], 0
    for path in glob.glob(os.path.join(a_dir, "**", "*.npy"), recursive=True):
        rel = os.path.relpath(path, a_dir)
        other = os.path.join(b_dir, rel)
        if not os.path.exists(other):
            differing.append(rel + " (missing)")
            continue
        a, b = np.load(path), np.load(other)
        count += 1
        if a.shape != b.shape:
            differing.append(rel + " (shape)")
        elif a.dtype.kind == "f":
            worst = max(worst, float(np.nanmax(np.abs(a.astype(np.float64) - b.astype(np.float64)), initial=0.0)))
        elif not np.array_equal(a, b):
            differing.append(rel)
    text = f"{worst:.1e} over {count} arrays"
    if differing:
        text += f"; integer arrays that differ: {', '.join(sorted(differing)[:4])}" + (" ..." if len(differing) > 4 else "")
    return text


def crossover_text(m, cells):
    """One measured crossover (cuda_bench's measured_crossover) in words."""
    if not m:
        return "not measured"
    n = m.get("n")
    note = m.get("note", "")
    if n is None:
        return f"none measured ({note})"
    text = f"n ~ {n:.0f}" + (f" ({m['cells']} cells)" if cells and m.get("cells") is not None else "")
    return f"{text}; {note}" if note else text


def in_effect_source(summary, variable):
    if summary.get("in_effect_from_environment"):
        return f"(from {variable}; the default is {summary.get('default')})"
    return "(the default)"


def crossover_section(bench):
    """Host vs device solver by size (issue 13 item 4): the rows of
    cuda_bench's crossover cases and the measured crossovers next to the ones
    the CUDA backend used in this run (cuda/src/crossovers.hpp)."""
    assign = [r for r in bench if r.get("case") == "crossover_assignment"]
    eig = [r for r in bench if r.get("case") == "crossover_eigensolve"]
    summaries = {r.get("op"): r for r in bench if r.get("case") == "crossover_summary"}
    if not (assign or eig or summaries):
        return ["### Solver crossovers: not measured in this run (cuda_bench --case crossover)"]
    L = ["### Solver crossovers (issue 13 item 4): where the CUDA backend should run small problems on the host",
         "The CUDA backend runs assignments below `CONVERGENT_CUDA_MIN_ASSIGNMENT` cells (rows x cols) with "
         "host Jonker-Volgenant and eigensolves below `CONVERGENT_CUDA_MIN_EIGENSOLVE` with host LAPACK; "
         "the device side here is a CUDA backend with both set to 0. host/device > 1: the device is faster.",
         "",
         "| n | matrix | host JV (s) | device auction (s) (solver) | host/device | faster | rule in effect |",
         "|---:|---|---:|---:|---:|---|---|"]
    for r in assign:
        if "skipped" in r:
            L.append(f"| {r['n']} | {r['matrix']} | skipped | - | - | - | {r.get('rule_in_effect', '-')} |")
            continue
        L.append(f"| {r['n']} | {r['matrix']} | {fmt_s(r.get('host_seconds'))} "
                 f"| {fmt_s(r.get('device_seconds'))} ({r.get('device_solver', '-')}) "
                 f"| {ratio(r.get('host_seconds'), r.get('device_seconds'))} | {r.get('faster', '-')} "
                 f"| {r.get('rule_in_effect', '-')} |")
    L.append("")
    L.append("| n | k | host LAPACK dsyevr (s) | device cuSOLVER syevdx (s) | host/device | faster | rule in effect "
             "| max abs diff eigenvalues |")
    L.append("|---:|---:|---:|---:|---:|---|---|---:|")
    for r in eig:
        if "skipped" in r:
            L.append(f"| {r['n']} | {r['k']} | skipped | - | - | - | {r.get('rule_in_effect', '-')} | - |")
            continue
        L.append(f"| {r['n']} | {r['k']} | {fmt_s(r.get('host_seconds'))} | {fmt_s(r.get('device_seconds'))} "
                 f"| {ratio(r.get('host_seconds'), r.get('device_seconds'))} | {r.get('faster', '-')} "
                 f"| {r.get('rule_in_effect', '-')} | {sci(r.get('max_abs_diff_eigenvalues'))} |")
    L.append("")
    a, e = summaries.get("assignment"), summaries.get("eigensolve")
    if a:
        measured = a.get("measured", {})
        L.append(f"- measured assignment crossover: correlation matrices {crossover_text(measured.get('correlation'), True)}; "
                 f"uniform {crossover_text(measured.get('uniform'), True)}. In effect: {a.get('in_effect')} cells "
                 f"{in_effect_source(a, 'CONVERGENT_CUDA_MIN_ASSIGNMENT')}; suggested: {a.get('suggested', '-')} cells.")
    if e:
        L.append(f"- measured eigensolve crossover (k = {e.get('k')}): {crossover_text(e.get('measured'), False)}. "
                 f"In effect: n = {e.get('in_effect')} {in_effect_source(e, 'CONVERGENT_CUDA_MIN_EIGENSOLVE')}; "
                 f"suggested: n = {e.get('suggested', '-')}.")
    suggested = [(name, r.get("suggested")) for name, r in (("kDefaultMinAssignmentCells", a),
                                                             ("kDefaultMinEigensolveN", e)) if r]
    if any(v is not None for _, v in suggested):
        L.append("- to adopt: " + ", ".join(f"`{name} = {v}`" for name, v in suggested if v is not None)
                 + " in cuda/src/crossovers.hpp (or export CONVERGENT_CUDA_MIN_ASSIGNMENT / "
                 "CONVERGENT_CUDA_MIN_EIGENSOLVE).")
    return L


def cmd_table(logs, out):
    env = read_kv(os.path.join(logs, "environment.txt"))
    bench = []
    for path in sorted(glob.glob(os.path.join(logs, "bench_*.jsonl"))):
        bench += read_lines(path)
    device = next((r for r in bench if r.get("case") == "device"), {})
    steps = steps_table(logs)
    L = []
    gpu = env.get("gpu_name", device.get("device", "unknown GPU"))
    L.append(f"## GPU, {env.get('date', '?')} ({gpu}, {env.get('gpu_memory', '?')}; "
             f"{env.get('host_cpus', '?')} host cores; commit {env.get('commit', '?')})")
    L.append("")
    L.append(f"- driver {env.get('driver', '?')} (supports CUDA {env.get('driver_cuda', '?')}); "
             f"toolkit {env.get('nvcc', '?')}; runtime {device.get('cuda_runtime', '?')}; "
             f"compute capability {env.get('compute_cap', '?')}")
    L.append(f"- CUDA backend: {device.get('cuda_backend', '?')}; CPU backend (ratio reference, same run, "
             f"same input): {device.get('cpu_backend', '?')} on {env.get('host_cpu', '?')}")
    L.append("- produced by `bash tools/gpu_check.sh`" + (" --quick (small sizes)" if device.get("quick") else "")
             + "; cpu/cuda > 1 means the GPU is faster")
    L.append("")

    stats = [r for r in bench if r.get("case") == "statistics"]
    L.append("### Statistics (Sec. 2): one chunk's moment update (host to host)")
    L.append("| chunk rows x units | CPU backend s (GFLOP/s) | CUDA backend s (GFLOP/s) | cpu/cuda "
             "| cuBLAS DSYRK GFLOP/s | DGEMM GFLOP/s | SGEMM GFLOP/s | backend / DSYRK | max rel diff |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in stats:
        g, d = r.get("cuda_gflops"), r.get("dsyrk_gflops")
        L.append(f"| {r['rows']} x {r['cols']} | {fmt_s(r.get('cpu_seconds'))} ({num(r.get('cpu_gflops'))}) "
                 f"| {fmt_s(r.get('cuda_seconds'))} ({num(g)}) | {ratio(r.get('cpu_seconds'), r.get('cuda_seconds'))} "
                 f"| {num(d)} | {num(r.get('dgemm_gflops'))} | {num(r.get('sgemm_gflops'))} "
                 f"| {f'{g / d:.1%}' if g and d else '-'} | {sci(r.get('max_rel_diff_comoment'))} |")
    L.append("FLOPs counted as DSYRK does (rows x units x (units + 1)); GEMMs: 2 x rows x units^2. "
             "cuBLAS figures are device-resident (no transfers); the backend's include the copies in and out.")
    L.append("")

    L.append("### Mutual information (Sec. 3.2), between two nets, goal < 2 s at 4096 x 4096 x 60,000")
    L.append("| units x units x samples | bins | CPU backend (s) | CUDA backend (s) | cpu/cuda | max abs diff (rows checked) "
             "| CUDA, every bin a one-hot column (s) | modes left out: speed-up |")
    L.append("|---|---:|---:|---:|---:|---|---:|---:|")
    for r in (r for r in bench if r.get("case") == "mutual_information"):
        cpu = r.get("cpu_seconds")
        note = f" (from {r['cpu_rows']} rows, scaled)" if r.get("cpu_extrapolated") else ""
        L.append(f"| {r['units_a']} x {r['units_b']} x {r['samples']} | {r['bins']} | {fmt_s(cpu)}{note} "
                 f"| {fmt_s(r.get('cuda_seconds'))} | {ratio(cpu, r.get('cuda_seconds'))} "
                 f"| {sci(r.get('max_abs_diff_rows_checked'))} ({r.get('cpu_rows')}) "
                 f"| {fmt_s(r.get('cuda_seconds_every_bin'))} | {speedup(r.get('cuda_seconds_every_bin'), r.get('cuda_seconds'))} |")
    L.append("Synthetic codes with half of each unit's samples in the zero bin; modes left out: each unit's most "
             "frequent bin gets no one-hot column (cells completed from the marginals; "
             "CONVERGENT_MI_ONEHOT_MODES=1 keeps them).")
    for r in read_lines(os.path.join(logs, "existing_mi.jsonl")):
        L.append(f"\n`bench_mutual_information --backend cuda --units {r.get('units')}` (binning on the host "
                 f"{fmt_s(r.get('bin_units_seconds_per_net'))} s per net): between nets "
                 f"{fmt_s(r.get('between_net_seconds'))} s, within a net {fmt_s(r.get('within_net_seconds'))} s.")
    L.append("")

    L.append("### Max-weight matching (Sec. 3.1), goal: auction n = 4096 < 50 ms")
    L.append("| n | matrix | CPU backend (solver) s | CUDA backend (solver that ran) s | cpu/cuda | gap | rel. total diff |")
    L.append("|---:|---|---:|---:|---:|---:|---:|")
    for r in (r for r in bench if r.get("case") == "auction"):
        L.append(f"| {r['n']} | {r['matrix']} | {fmt_s(r.get('cpu_seconds'))} ({r.get('cpu_solver')}) "
                 f"| {fmt_s(r.get('cuda_seconds'))} ({r.get('cuda_solver', '-')}) "
                 f"| {ratio(r.get('cpu_seconds'), r.get('cuda_seconds'))} | {sci(r.get('cuda_gap'))} "
                 f"| {sci(r.get('rel_primal_diff'))} |")
    L.append("")

    L.append("### Eigensolve (Sec. 4.1): k smallest eigenpairs of a graph Laplacian (cuSOLVER syevdx vs LAPACK dsyevr)")
    L.append("| n | k | CPU backend (s) | CUDA backend (s) (ran on) | cpu/cuda | max abs diff eigenvalues |")
    L.append("|---:|---:|---:|---:|---:|---:|")
    for r in (r for r in bench if r.get("case") == "eigensolve"):
        L.append(f"| {r['n']} | {r['k']} | {fmt_s(r.get('cpu_seconds'))} "
                 f"| {fmt_s(r.get('cuda_seconds'))} ({r.get('cuda_ran_on', '-')}) "
                 f"| {ratio(r.get('cpu_seconds'), r.get('cuda_seconds'))} | {sci(r.get('max_abs_diff_eigenvalues'))} |")
    L.append("")

    L += crossover_section(bench)
    L.append("")

    L.append("### End to end: `convergent compare --timings` on examples/fashion_mnist/nets/net1..4.npz")
    L += e2e_section(env.get("e2e_dir", logs), steps)
    L.append("")

    junits = sorted(glob.glob(os.path.join(logs, "ctest_*.xml")))
    cases = list(junit_cases(junits))
    if cases:
        passed = sum(1 for _, status, skipped, _ in cases if status == "run" and not skipped)
        failed = sorted(n for n, status, skipped, _ in cases if status == "fail")
        allowed = sum(1 for _, _, skipped, out in cases if skipped and ALLOWED_SKIP in out)
        still = bad_skips(junits)
        L.append(f"Tests (ctest, C/C++ suite + the Python tests with GPU branches): {passed} passed, "
                 f"{len(failed)} failed{': ' + ', '.join(failed[:8]) if failed else ''}, "
                 f"{allowed} skipped because a device is present, "
                 f"{len(still)} still skipped{': ' + ', '.join(still[:8]) if still else ''}.")
        L.append("")
    if steps:
        L.append("| step | status | seconds |")
        L.append("|---|---|---:|")
        for name, status, seconds, _ in steps:
            L.append(f"| {name} | {status} | {float(seconds):.0f} |")
    text = "\n".join(L) + "\n"
    with open(out, "w") as f:
        f.write(text)
    sys.stdout.write(text)
    return 0


def main(argv):
    if len(argv) >= 2 and argv[0] == "skips":
        return cmd_skips(argv[1:])
    if len(argv) == 3 and argv[0] == "table":
        return cmd_table(argv[1], argv[2])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
