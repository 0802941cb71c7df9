"""Thread safety: transforms running in several threads at once share no trace state.

Eight threads run grad, jit (a shared jitted function and fresh ones), vmap and their
compositions at the same time, each checking every result against NumPy."""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest

import fnad
import fnad.numpy as fnp
from fnad import lax
from fnad.test_util import assert_allclose

N_THREADS = 8
ROUNDS = 12


def loss(w, x):
    return (fnp.tanh(x @ w) ** 2).sum()


def loss_grad_reference(w, x):
    t = np.tanh(x @ w)
    return x.T @ (2 * t * (1 - t ** 2))


SHARED_JIT = fnad.jit(fnad.grad(loss))


def _work(seed: int, errors: list, barrier: threading.Barrier) -> None:
    rng = np.random.default_rng(seed)
    scale = float(seed + 1)  # a per-thread value the functions close over
    barrier.wait()
    try:
        for r in range(ROUNDS):
            n = 2 + (seed + r) % 3  # shapes differ across threads: jit retraces concurrently
            w = rng.standard_normal((3, n))
            x = rng.standard_normal((4, 3))
            expected = loss_grad_reference(w, x)
            assert_allclose(fnad.grad(loss)(w, x), expected, err_msg=f"grad, thread {seed}")
            assert_allclose(SHARED_JIT(w, x), expected, err_msg=f"shared jit, thread {seed}")
            fresh = fnad.jit(lambda v: fnp.sin(v) * scale)
            assert_allclose(fresh(x), np.sin(x) * scale, err_msg=f"jit, thread {seed}")
            per_row = fnad.vmap(fnad.grad(lambda row: fnp.sum(fnp.exp(row) * scale)))(x)
            assert_allclose(per_row, np.exp(x) * scale, err_msg=f"vmap(grad), thread {seed}")
            cumsum = fnad.jit(lambda v: lax.scan(lambda c, a: (c + a, c + a), v[0] * 0, v)[1])
            assert_allclose(cumsum(x), np.cumsum(x, axis=0), err_msg=f"scan, thread {seed}")
    except BaseException as e:  # reported by the main thread
        errors.append((seed, e))


def test_transforms_in_eight_threads_at_once() -> None:
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads often, to interleave the traces
    try:
        errors: list = []
        barrier = threading.Barrier(N_THREADS)
        threads = [threading.Thread(target=_work, args=(i, errors, barrier))
                   for i in range(N_THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in threads), "a thread hung"
    finally:
        sys.setswitchinterval(old)
    if errors:
        seed, e = errors[0]
        pytest.fail(f"{len(errors)} thread(s) failed; thread {seed}: {type(e).__name__}: {e}")


def test_a_trace_in_one_thread_is_not_current_in_another() -> None:
    seen = {}
    inside = threading.Event()
    release = threading.Event()

    def other() -> None:
        inside.wait(10)
        seen["other"] = type(fnad.core.trace.state.trace).__name__
        release.set()

    def f(x):
        inside.set()
        release.wait(10)
        seen["own"] = type(fnad.core.trace.state.trace).__name__
        return x * 2.0

    t = threading.Thread(target=other)
    t.start()
    fnad.jit(f)(np.ones(2, np.float32))
    t.join()
    assert seen == {"own": "StagingTrace", "other": "EvalTrace"}
