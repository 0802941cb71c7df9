"""Weak scaling of the data-parallel 784-256-128-10 MLP step (128 examples per process) from
1 to 4 MPI processes on this machine, and the share of the step spent in the gradient
all-reduce (`pmean`) and waiting for the slowest process (imbalance; barrier-separated).

Run: `python -m benchmarks.data_parallel` (needs mpirun and mpi4py; one BLAS thread per
process, so on a machine with fewer cores than processes the efficiency measures sharing).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from typing import Any

import numpy as np

import fnad
from fnad import distributed, lax, optim

SIZES = (784, 256, 128, 10)
LOCAL_BATCH = 128
PROCESSES = (1, 2, 4)


def _worker(steps: int = 30, warmup: int = 5) -> None:
    """One process of the job: time each step's parts; rank 0 prints the medians as JSON."""
    from mpi4py import MPI

    import fnad.numpy as fnp
    from benchmarks.autodiff_mlp import mlp_loss

    rank = distributed.process_index()
    rng = np.random.default_rng(rank)
    params = distributed.broadcast_params([
        a for m, n in zip(SIZES[:-1], SIZES[1:])
        for a in ((rng.standard_normal((m, n)) / np.sqrt(m)).astype(np.float32),
                  np.zeros(n, np.float32))])
    x = rng.standard_normal((LOCAL_BATCH, SIZES[0])).astype(np.float32)
    y = np.eye(SIZES[-1], dtype=np.float32)[rng.integers(0, SIZES[-1], LOCAL_BATCH)]
    grad = fnad.jit(fnad.grad(mlp_loss(fnp)))
    opt = optim.sgd(0.01)
    opt_state = opt.init(params)
    update = fnad.jit(lambda g, s, p: (lambda u, s: (optim.apply_updates(p, u), s))(
        *opt.update(g, s, p)))
    average = fnad.pmap(lambda g: lax.pmean(g, "batch"), "batch", in_axes=None, out_axes=None)
    comm = MPI.COMM_WORLD
    parts: dict[str, list[float]] = {"step": [], "wait": [], "allreduce": []}
    for i in range(warmup + steps):
        comm.Barrier()
        t0 = time.perf_counter()
        g = grad(params, x, y)
        t1 = time.perf_counter()
        comm.Barrier()  # waiting for the slowest process is imbalance, not all-reduce
        t1b = time.perf_counter()
        g = average(g)
        t2 = time.perf_counter()
        params, opt_state = update(g, opt_state, params)
        t3 = time.perf_counter()
        if i >= warmup:
            parts["step"].append(t3 - t0)
            parts["wait"].append(t1b - t1)
            parts["allreduce"].append(t2 - t1b)
    medians = {k: statistics.median(v) for k, v in parts.items()}
    slowest = comm.gather(medians, root=0)
    if rank == 0:
        print(json.dumps({k: max(m[k] for m in slowest) for k in parts}), flush=True)


def _launch(n: int) -> dict[str, Any]:
    mpirun = shutil.which("mpirun") or shutil.which("mpiexec")
    assert mpirun is not None
    flags = []
    if "Open MPI" in subprocess.run([mpirun, "--version"], capture_output=True,
                                    text=True).stdout:
        flags = ["--oversubscribe", "--allow-run-as-root"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    proc = subprocess.run([mpirun, "-n", str(n), *flags, sys.executable, "-m",
                           "benchmarks.data_parallel", "worker"],
                          capture_output=True, text=True, timeout=600, env=env, cwd=root)
    if proc.returncode:
        raise RuntimeError(f"mpirun -n {n} failed:\n{proc.stdout}\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        print("data_parallel: skipped (mpi4py is not installed: pip install 'fnad[mpi]')")
        return
    if not (shutil.which("mpirun") or shutil.which("mpiexec")):
        print("data_parallel: skipped (no mpirun: install an MPI implementation)")
        return
    print(f"Data-parallel MLP {'-'.join(map(str, SIZES))} step, {LOCAL_BATCH} examples per "
          f"process (weak scaling), {os.cpu_count()} cores")
    print(f"{'processes':>9} {'step ms':>9} {'wait ms':>8} {'allreduce ms':>13} {'share':>7} "
          f"{'efficiency':>11}")
    base = None
    for n in PROCESSES:
        r = _launch(n)
        base = base or r["step"]
        print(f"{n:>9} {r['step'] * 1e3:>9.2f} {r['wait'] * 1e3:>8.2f} "
              f"{r['allreduce'] * 1e3:>13.3f} "
              f"{r['allreduce'] / r['step']:>7.1%} {base / r['step']:>11.1%}", flush=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["worker"]:
        _worker()
    else:
        main()
