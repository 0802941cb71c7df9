"""Loops lowered as one generated loop (`numpy_backend.ScanLoop`, `WhileLoop`): the carry
passes from step to step by simultaneous assignment, a scan's xs rows are read and ys rows
written in scan order, a while loop asks its condition before each step, and every result
equals eager evaluation, on the NumPy and C backends."""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fnad
import fnad.numpy as fnp
from fnad import lax
from fnad.jit.executable import Executable
from fnad.test_util import assert_allclose

F32 = np.float32


def eager_and_jit(f: Callable[..., Any], *args: Any) -> None:
    with fnad.disable_jit():
        want = fnad.tree.tree_leaves(f(*args))
    for backend in ("numpy", "c"):
        got = fnad.tree.tree_leaves(fnad.jit(f, backend=backend)(*args))
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert np.shape(g) == np.shape(w) and np.result_type(g) == np.result_type(w)
            assert_allclose(g, w, rtol=1e-6, atol=1e-6)


X = np.linspace(-1.0, 1.0, 5 * 3, dtype=F32).reshape(5, 3)

CASES: dict[str, tuple[Callable[..., Any], tuple[Any, ...]]] = {
    # carries that trade places, read the old values of each other
    "swapped carries": (lambda a, b, xs: lax.scan(lambda c, x: ((c[1] + x, c[0] * 2.0), c[0]),
                                                   (a, b), xs), (X[0], X[1], X)),
    "reverse": (lambda c, xs: lax.scan(lambda c, x: (c * 0.5 + x, c), c, xs, reverse=True),
                (X[0], X)),
    # a carry or ys that is an input: the row, the constant, the old carry
    "passthrough": (lambda c, w, xs: lax.scan(lambda c, x: (x, (c, w, x)), c, xs),
                    (X[0], X[1], X)),
    "constant results": (lambda c, xs: lax.scan(lambda c, x: (fnp.ones(3, F32), 2.0), c, xs),
                         (X[0], X)),
    "no carry": (lambda xs: lax.scan(lambda c, x: (c, fnp.sin(x)), (), xs)[1], (X,)),
    "no xs": (lambda c: lax.scan(lambda c, _: (c * 1.5, c.sum()), c, None, length=4), (X[0],)),
    "scalar rows": (lambda c, xs: lax.scan(lambda c, x: (c + x, c * x), c, xs),
                    (F32(0.5), X[:, 0])),
    "integer carry": (lambda xs: lax.scan(lambda c, x: ((c[0] + 1, c[1] + x), c[0]),
                                          (np.int32(0), F32(0)), xs), (X[:, 0],)),
    "nested": (lambda c, xs: lax.scan(
        lambda c, x: (lax.scan(lambda d, y: (d * y + 1.0, d), c, x)[0], c), c, xs),
        (F32(0.25), X)),
    "one step": (lambda c, xs: lax.scan(lambda c, x: (c + x, c), c, xs[:1]), (X[0], X)),
    "empty": (lambda c, xs: lax.scan(lambda c, x: (c + x, c), c, xs[:0]), (X[0], X)),
    # while loops: constants of the condition and of the body, swapped carries
    "while": (lambda w, n: lax.while_loop(lambda c: (c[0] < n) & (c[2].sum() < 50.0),
                                          lambda c: (c[0] + 1, c[2], c[1] @ w + 1.0),
                                          (np.int32(0), X[0], X[1])),
              (np.eye(3, dtype=F32).T * 1.5, np.int32(4))),
    "while, no iteration": (lambda c: lax.while_loop(lambda c: c.sum() > 100.0,
                                                     lambda c: c * 2.0, c), (X[0],)),
    "fori_loop with traced bounds": (lambda c, n: lax.fori_loop(
        np.int32(1), n, lambda i, c: c * 0.5 + i.astype(F32), c), (X[0], np.int32(5))),
    "while inside a scan": (lambda c, xs: lax.scan(
        lambda c, x: (lax.while_loop(lambda d: d.sum() < x.sum() + 3.0,
                                     lambda d: d + 1.0, c), c), c, xs), (X[0], X)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_generated_loop_equals_eager(name: str) -> None:
    f, args = CASES[name]
    eager_and_jit(f, *args)


def test_gradients_through_the_generated_loop() -> None:
    def loss(w: Any, xs: Any) -> Any:
        h, hs = lax.scan(lambda h, x: (fnp.tanh(h @ w + x), h), fnp.zeros(3, F32), xs)
        return fnp.sum(h ** 2) + fnp.sum(hs)

    w = np.eye(3, dtype=F32) * 0.5 + 0.1
    for backend in ("numpy", "c"):
        got = fnad.jit(fnad.grad(loss), backend=backend)(w, X)
        want = fnad.grad(loss)(w, X)
        assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert any(isinstance(o, Executable) and "for _i in range(4, -1, -1):" in o.source
               for o in gc.get_objects())  # the backward scan runs as a reversed loop


@pytest.mark.parametrize("loop", ["scan", "while"])
def test_debug_nans_checks_the_steps_of_a_generated_loop(loop: str) -> None:
    xs = np.array([1.0, -5.0, 1.0], F32)
    f = fnad.jit(lambda c, xs: lax.scan(lambda c, x: (fnp.log(c + x), c), c, xs)
                 if loop == "scan" else
                 lax.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, fnp.log(c[1] - 3.0)),
                                (np.int32(0), c)))
    f(F32(1.0), xs)  # NaN is an answer while the check is off
    fnad.config.update("debug_nans", True)
    try:
        with pytest.raises(FloatingPointError, match="log"):
            f(F32(1.0), xs)
    finally:
        fnad.config.update("debug_nans", False)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 6), st.integers(1, 3), st.booleans(),
       st.sampled_from([0.0, np.nan, np.inf, -np.inf, 1e-30, 3e38]))
def test_generated_loop_matches_eager_on_random_programs(length: int, n: int, reverse: bool,
                                                         edge: float) -> None:
    rng = np.random.default_rng(length * 7 + n)
    xs = rng.standard_normal((length, n)).astype(F32)
    xs[0, 0] = edge
    w = rng.standard_normal((n, n)).astype(F32)

    def f(c: Any, w: Any, xs: Any) -> Any:
        def body(c: Any, x: Any) -> Any:
            h, k = c
            return (fnp.tanh(h @ w.T + x), k + fnp.max(x)), (h, fnp.where(x > 0, x, k))
        return lax.scan(body, c, xs, reverse=reverse)

    eager_and_jit(f, (np.zeros(n, F32), F32(0)), w, xs)


def test_kernels_write_their_ys_rows_in_place() -> None:
    """A ys made by a fused kernel or a ufunc is written straight into its row
    (`out=_ys0[_i]`), not copied there; one that is also the carry is copied."""
    w = np.eye(3, dtype=F32) * 0.5

    def f(c, xs):
        return lax.scan(lambda c, x: (fnp.tanh(c @ w + x), (fnp.tanh(c @ w + x) * 2.0,
                                                            fnp.tanh(c @ w + x))), c, xs)

    fnad.clear_caches()  # only this test's executables below
    gc.collect()
    eager_and_jit(f, X[0], X)
    sources = [o.source for o in gc.get_objects() if isinstance(o, Executable)
               and "for _i in range(0, 5):" in o.source and "_ys1" in o.source]
    assert sources
    for source in sources:
        assert "out=_ys0[_i]" in source or "_ys0[_i]," in source  # the product by 2.0
        assert "_ys0[_i] = " not in source
        assert "_ys1[_i] = " in source  # also the carry: its own copy
