"""Tests for fnad/distributed.py: pmap, shard_batch and broadcast_params in one process, and
(marked `mpi`) under `mpirun -n 2` and `-n 4`, where this file is also the worker script:
all-reduced gradients against the full-batch gradient, replicas bit-identical after 20
steps, collectives across processes, and a raising rank that ends the whole job."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import fnad
import fnad.numpy as fnp
from fnad import distributed, lax
from fnad.core.errors import FnadError
from fnad.test_util import assert_allclose

# ------------------------------------------------------------------ one process


def test_single_process_world():
    assert distributed.process_count() >= 1
    assert 0 <= distributed.process_index() < distributed.process_count()


@pytest.fixture
def one_process(monkeypatch):
    """The world of this test process, whatever launched it."""
    monkeypatch.setattr(distributed, "_world", distributed.SingleProcess())


def test_pmap_one_process_is_the_function_on_its_slice(one_process):
    x = np.arange(6.0, dtype=np.float32).reshape(1, 2, 3)
    w = np.float32(2.0)

    def f(x, w):
        return {"sum": lax.psum(x, "d") * w, "idx": lax.axis_index("d"),
                "gather": lax.all_gather(x, "d", axis=1), "mean": lax.pmean(x.sum(), "d")}

    out = fnad.pmap(f, "d", in_axes=(0, None), out_axes={"sum": 0, "idx": None,
                                                         "gather": 0, "mean": None})(x, w)
    assert_allclose(out["sum"], x * 2)
    assert int(out["idx"]) == 0
    assert out["gather"].shape == (1, 2, 1, 3)
    assert_allclose(out["mean"], x.sum())


def test_pmap_of_jit_and_grad(one_process):
    x = np.linspace(-1, 1, 4).reshape(1, 4)
    step = fnad.pmap(fnad.jit(fnad.grad(lambda v: fnp.sum(fnp.sin(lax.psum(v, "d"))))), "d")
    assert_allclose(step(x), np.cos(x))


def test_pmap_errors(one_process):
    with pytest.raises(FnadError, match="size 1"):
        fnad.pmap(lambda x: x, "d")(np.ones((2, 3)))
    with pytest.raises(FnadError, match="unbound axis name 'e'"):
        fnad.pmap(lambda x: lax.psum(x, "e"), "d")(np.ones((1, 3)))


def test_shard_batch_and_broadcast(one_process, monkeypatch):
    batch = {"x": np.arange(12.0).reshape(6, 2), "y": np.arange(6)}
    shard = distributed.shard_batch(batch)
    assert_allclose(shard["x"], batch["x"][None])
    params = [np.ones(3, np.float32)]
    assert_allclose(distributed.broadcast_params(params), params)

    class ThirdOfThree(distributed.SingleProcess):
        rank, size = 2, 3

    monkeypatch.setattr(distributed, "_world", ThirdOfThree())
    assert_allclose(distributed.shard_batch(batch)["y"], np.array([[4, 5]]))
    with pytest.raises(FnadError, match="does not split evenly"):
        distributed.shard_batch(np.ones(4))


# ------------------------------------------------------------------ the MPI worker

SIZES = (12, 16, 10)
GLOBAL_BATCH = 16


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return [{"w": (rng.standard_normal((m, n)) / np.sqrt(m)).astype(np.float32),
             "b": np.zeros(n, np.float32)} for m, n in zip(SIZES[:-1], SIZES[1:])]


def loss(params, x, y):
    h = x
    for layer in params[:-1]:
        h = fnp.tanh(h @ layer["w"] + layer["b"])
    logits = h @ params[-1]["w"] + params[-1]["b"]
    return fnad.nn.softmax_cross_entropy(logits, y)


def data(step):
    rng = np.random.default_rng(100 + step)
    return (rng.standard_normal((GLOBAL_BATCH, SIZES[0])).astype(np.float32),
            rng.integers(0, SIZES[-1], GLOBAL_BATCH).astype(np.int32))


def sgd(params, grads, lr=0.5):
    return fnad.tree.tree_map(lambda p, g: p - lr * g, params, grads)


def worker_train():
    """Data-parallel SGD against the same SGD on the full batch in this process."""
    rank, size = distributed.process_index(), distributed.process_count()
    assert size > 1
    params = distributed.broadcast_params(init_params(seed=rank))  # rank 0's draw wins
    assert_allclose(params, init_params(seed=0), atol=0, rtol=0)
    grad_step = fnad.pmap(fnad.jit(lambda p, x, y: lax.pmean(fnad.grad(loss)(p, x, y), "d")),
                          "d", in_axes=(None, 0, 0), out_axes=None)

    x, y = data(0)
    g = grad_step(params, *distributed.shard_batch((x, y)))
    # equal to the full-batch gradient to float32 rounding
    assert_allclose(g, fnad.grad(loss)(params, x, y), atol=2e-6, rtol=2e-5)

    single = params
    for step in range(20):
        x, y = data(step)
        params = sgd(params, grad_step(params, *distributed.shard_batch((x, y))))
        single = sgd(single, fnad.grad(loss)(single, x, y))
    assert loss(params, *data(0)) < loss(init_params(), *data(0))
    # bit-identical across processes: every rank's parameters, gathered
    gathered = fnad.pmap(lambda p: lax.all_gather(p, "d"), "d", in_axes=None,
                         out_axes=None)(params)
    for mine, everyone in zip(fnad.tree.tree_leaves(params), fnad.tree.tree_leaves(gathered)):
        assert everyone.shape == (size, *mine.shape)
        assert all(np.array_equal(row, mine) for row in everyone)
    assert_allclose(params, single, atol=1e-4, rtol=1e-4)  # same run, summed in other order

    # collectives across processes, against their definitions on every rank's value
    ranks = np.arange(size, dtype=np.float32)
    mine = np.array([[rank, -rank]], np.float32)
    out = fnad.pmap(lambda v: (lax.psum(v, "d"), lax.pmax(v, "d"), lax.pmin(v, "d"),
                               lax.axis_index("d"), lax.all_gather(v, "d", tiled=True),
                               lax.psum(v.astype(np.int32), "d")), "d")(mine)
    assert_allclose(out[0], np.array([[ranks.sum(), -ranks.sum()]]))
    assert_allclose(out[1], np.array([[size - 1, 0]], np.float32))
    assert_allclose(out[2], np.array([[0, 1 - size]], np.float32))
    assert out[3].tolist() == [rank]
    assert_allclose(out[4], np.stack([ranks, -ranks], 1).reshape(1, -1))
    assert out[5].dtype == np.int32
    # SPMD gradients across processes equal the named vmap's on the stacked values
    f = lambda v: fnp.sum(fnp.sin(lax.all_gather(v, "d") * lax.pmax(v, "d")))
    X = np.linspace(0.1, 1, size * 3).reshape(size, 3)
    across = fnad.pmap(fnad.grad(f), "d")(X[rank:rank + 1])
    assert_allclose(across[0], fnad.vmap(fnad.grad(f), axis_name="d")(X)[rank], atol=1e-12)
    print(f"OK rank {rank}", flush=True)


def worker_raise():
    """Rank 1 fails before a collective the others are already waiting in."""
    if distributed.process_index() == 1:
        raise ValueError("rank 1 fails on purpose")
    fnad.pmap(lambda v: lax.psum(v, "d"), "d")(np.ones((1, 3)))


# ------------------------------------------------------------------ launching it

MPIRUN = shutil.which("mpirun") or shutil.which("mpiexec")
HAVE_MPI4PY = importlib.util.find_spec("mpi4py") is not None
needs_mpi = pytest.mark.skipif(
    MPIRUN is None or not HAVE_MPI4PY,
    reason="needs an MPI launcher (mpirun: e.g. apt-get install openmpi-bin libopenmpi-dev) "
           "and mpi4py (pip install 'fnad[mpi]')")


def mpirun(n, worker, timeout):
    flags = []
    version = subprocess.run([MPIRUN, "--version"], capture_output=True, text=True).stdout
    if "Open MPI" in version:  # small machines, containers running as root
        flags = ["--oversubscribe", "--allow-run-as-root"]
    # An explicit environment: if this process has initialized MPI as a singleton, the C-level
    # environment it inherits to children names that singleton and confuses mpirun.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_", "PMIX_"))}
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")  # processes may outnumber cores
    return subprocess.run([MPIRUN, "-n", str(n), *flags, sys.executable, __file__, worker],
                          capture_output=True, text=True, timeout=timeout, env=env)


@pytest.mark.mpi
@needs_mpi
@pytest.mark.parametrize("n", [2, 4])
def test_data_parallel_training_under_mpirun(n):
    proc = mpirun(n, "train", timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert all(f"OK rank {r}" in proc.stdout for r in range(n)), proc.stdout


@pytest.mark.mpi
@needs_mpi
@pytest.mark.parametrize("n", [2, 4])
def test_a_raising_rank_ends_the_job(n):
    proc = mpirun(n, "raise", timeout=60)  # a hang fails the test with TimeoutExpired
    assert proc.returncode != 0
    assert "rank 1 fails on purpose" in proc.stderr


def worker_exit():
    """Rank 1 calls sys.exit(3) while the others wait for it in a collective: it hung, rank 0
    spinning in Allreduce, rank 1 sitting in MPI_Finalize."""
    if distributed.process_index() == 1:
        sys.exit(3)
    fnad.pmap(lambda v: lax.psum(v, "d"), "d")(np.ones((1, 3)))


@pytest.mark.mpi
@needs_mpi
@pytest.mark.parametrize("n", [2, 4])
def test_sys_exit_on_one_rank_ends_the_job(n):
    proc = mpirun(n, "exit", timeout=60)  # a hang fails the test with TimeoutExpired
    assert proc.returncode != 0
    assert "rank 1 called sys.exit(3); aborting the job" in proc.stderr


def test_sys_exit_hook_aborts_only_on_failure(monkeypatch):
    """The hook itself, without MPI: what it does at exit for each sys.exit status."""
    aborted, hooks = [], []

    class Comm:
        def Get_rank(self):
            return 1

        def Abort(self, status):
            aborted.append(status)

    monkeypatch.setattr(sys, "exit", sys.exit)  # restored afterwards
    monkeypatch.setattr(distributed.atexit, "register", hooks.append)
    for status, expected in [(None, []), (0, []), (3, [3]), ("bad input", [1])]:
        aborted.clear()
        distributed._install_exit_hook(Comm())
        with pytest.raises(SystemExit):
            sys.exit(status)
        hooks.pop()()
        assert aborted == expected, status


if __name__ == "__main__":
    {"train": worker_train, "raise": worker_raise, "exit": worker_exit}[sys.argv[1]]()


def test_pmap_takes_jax_parameters(one_process):
    """jax.pmap's signature: axis_name optional, static_broadcasted_argnums passed as they
    are, devices/backend/axis_size/donate_argnums accepted for one device per process."""
    x = np.arange(3.0).reshape(1, 3)
    np.testing.assert_array_equal(fnad.pmap(lambda v: v * 2)(x), 2 * x)
    scaled = fnad.pmap(lambda v, k, s: lax.psum(v, "d") * k + s, "d", in_axes=(0, None, 0),
                       static_broadcasted_argnums=(1,), donate_argnums=0, axis_size=1)
    np.testing.assert_array_equal(scaled(x, 3, x), 4 * x)
    with pytest.raises(fnad.FnadError, match="devices"):
        fnad.pmap(lambda v: v, devices=[0, 1])
    with pytest.raises(fnad.FnadError, match="axis_size"):
        fnad.pmap(lambda v: v, axis_size=4)
    with pytest.raises(TypeError):
        fnad.pmap(lambda v: v, "d", 0)  # in_axes is keyword-only, as in JAX
