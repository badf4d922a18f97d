"""convergent.compare(comm=...) through mpi4py (docs/mpi.md), run by ctest as
`mpirun -n 3 python3 python_mpi4py.py` (and -n 2): arrays and files spread
over the ranks give rank 0 the single process's results (identical Table 1
figures, matchings, MI and top-k; statistics within 1e-12), the other ranks
None; a NaN only the last rank reads raises on every rank with its message.
Environment: CONVERGENT_PYTHON_PACKAGE_DIR (the build tree's package).
"""
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from mpi4py import MPI

sys.path.insert(0, os.environ["CONVERGENT_PYTHON_PACKAGE_DIR"])
import convergent  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()
IMAGES = 1001  # not divisible by 2 or 3
OPTIONS = dict(mi_samples=3000, top_k=4, seed=3)


def check(condition, message):
    if not condition:
        print(f"rank {rank}: FAIL: {message}", flush=True)
        comm.Abort(1)


def nets(nan_in_last_image=False):
    # Each net a different noisy mixture of shared factors (as
    # make_synthetic.py): no two units alike, so no eigenvalue of the
    # clustering is degenerate enough for rounding to pick another basis.
    rng = np.random.default_rng(11)
    shared_conv = rng.standard_normal((IMAGES, 2, 2, 7))
    shared = rng.standard_normal((IMAGES, 10))
    out = {}
    for name in ("a", "b", "c"):
        conv = np.maximum(shared_conv @ rng.standard_normal((7, 5)) + 0.5 * rng.standard_normal((IMAGES, 2, 2, 5)), 0)
        conv = np.ascontiguousarray(conv.transpose(0, 3, 1, 2)).astype(np.float32)
        dense = (shared @ rng.standard_normal((10, 16)) + rng.standard_normal((IMAGES, 16))).astype(np.float32)
        if nan_in_last_image and name == "c":
            dense[-1, 3] = np.nan
        out[name] = {"conv": conv, "dense": dense}
    return out


def same(single, distributed, what):
    for row1, row2 in zip(single.table1(), distributed.table1()):
        for key in ("semi_matching_mean", "matching_mean", "overlap_ratio"):
            check(round(row1[key], 3) == round(row2[key], 3), f"{what}: Table 1 {row1} vs {row2}")
            check(abs(row1[key] - row2[key]) <= 1e-12, f"{what}: Table 1 {row1} vs {row2} beyond 1e-12")
    check(len(single.table1()) == 6, f"{what}: {len(single.table1())} Table 1 rows")
    arrays1, arrays2 = single.arrays, distributed.arrays
    check(set(arrays1) == set(arrays2), f"{what}: different arrays")
    for path, a in arrays1.items():
        b = arrays2[path]
        if any(s in path for s in (".topk", "matched", ".mi.", ".joint_sample")):
            check(np.array_equal(a, b, equal_nan=True), f"{what}: {path} differs")
        else:
            check(np.allclose(a, b, rtol=2e-7, atol=2e-7, equal_nan=True), f"{what}: {path} differs")
    check(distributed.summary["ranks"] == size, f"{what}: summary ranks {distributed.summary.get('ranks')}")


def main():
    data = nets()
    # In-memory arrays: every rank passes the same arrays and reads its slice.
    result = convergent.compare(data, comm=comm, **OPTIONS)
    check((result is None) == (rank != 0), f"rank {rank} got {type(result).__name__}")
    if rank == 0:
        same(convergent.compare(data, **OPTIONS), result, "arrays")
    comm.Barrier()

    # Files, written by rank 0 (the same result directory as the CLI's).
    work = comm.bcast(tempfile.mkdtemp() if rank == 0 else None)
    if rank == 0:
        for name, layers in data.items():
            os.makedirs(os.path.join(work, "nets", name))
            for layer, array in layers.items():
                np.save(os.path.join(work, "nets", name, layer + ".npy"), array)
    comm.Barrier()
    paths = [os.path.join(work, "nets", n) for n in "abc"]
    result = convergent.compare(paths, os.path.join(work, "distributed"), comm=comm.py2f(), **OPTIONS)
    check((result is None) == (rank != 0), f"files: rank {rank} got {type(result).__name__}")
    if rank == 0:
        single = convergent.compare(paths, os.path.join(work, "single"), **OPTIONS)
        same(single, result, "files")
        # Byte-level check of the two directories, as the CLI test does.
        subprocess.run([sys.executable, os.path.join(HERE, "compare_outputs.py"), os.path.join(work, "single"),
                        os.path.join(work, "distributed"), str(size)], check=True)
    comm.Barrier()

    # An error on the last rank only: every rank raises with its message.
    # (Chunks of 400 inputs: every rank also reads the first chunk, the
    # reference point of the debiased CKA sums.)
    try:
        convergent.compare(nets(nan_in_last_image=True), comm=comm, chunk_rows=400, **OPTIONS)
        check(False, "the NaN was not reported")
    except convergent.ConvergentError as e:
        check(f"rank {size - 1}: " in str(e) and "NaN" in str(e), f"unexpected message: {e}")
    comm.Barrier()
    if rank == 0:
        shutil.rmtree(work)
        print(f"ok: convergent.compare(comm=...) over {size} ranks equals one process", flush=True)


try:
    main()
except BaseException:
    # One rank failing must not leave the others waiting in a barrier.
    import traceback
    traceback.print_exc()
    sys.stdout.flush()
    comm.Abort(1)
