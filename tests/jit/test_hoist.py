"""Loop-invariant code motion (`fnad.jit.hoist`): loop bodies keep only the work that
depends on their carry (structure of the optimized jaxpr), and the results stay those of
eager evaluation and of NumPy."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fnad
import fnad.numpy as fnp
from fnad import lax
from fnad.core.ir import ClosedJaxpr, Eqn, Var, typecheck
from fnad.jit import passes
from fnad.jit.hoist import hoist_loop_invariants
from fnad.lax.control_flow import contiguous_constants, scan_p, while_p
from fnad.lax.linalg import dot_general_p
from fnad.lax.structural import transpose_p
from fnad.test_util import assert_allclose, check_grads

F32 = np.float32
BACKENDS = ["numpy", "c"]


def loop_bodies(closed: ClosedJaxpr) -> Iterator[tuple[Eqn, ClosedJaxpr, int]]:
    """(loop equation, body, number of leading constant inputs) of every loop, nested too."""
    for e in closed.eqns:
        if e.prim is scan_p:
            yield e, e.params["jaxpr"], e.params["num_consts"]
            yield from loop_bodies(e.params["jaxpr"])
        elif e.prim is while_p:
            for name in ("cond", "body"):
                body = e.params[f"{name}_jaxpr"]
                yield e, body, e.params[f"{name}_nconsts"]
                yield from loop_bodies(body)


def invariant_eqns(body: ClosedJaxpr, n_consts: int) -> list[Eqn]:
    """The body's equations that read loop constants only (no carry, no xs), scalar
    broadcasts aside."""
    invariant = {id(v) for v in body.jaxpr.invars[:n_consts]}
    found = []
    for e in body.eqns:
        if all(type(a) is not Var or id(a) in invariant for a in e.inputs):
            invariant.update(id(v) for v in e.outputs)
            if not (e.prim.name == "broadcast_in_dim" and e.inputs[0].aval.ndim == 0):
                found.append(e)
    return found


def non_recurrent_eqns(eqn: Eqn) -> list[Eqn]:
    """A scan body's equations that do not both read the carry and feed the next carry:
    work that could run before or after the loop, over the whole sequence."""
    body, nc, nk = eqn.params["jaxpr"], eqn.params["num_consts"], eqn.params["num_carry"]
    reads = {id(v) for v in body.jaxpr.invars[nc:nc + nk]}
    for e in body.eqns:
        if any(type(a) is Var and id(a) in reads for a in e.inputs):
            reads.update(id(v) for v in e.outputs)
    feeds = {id(a) for a in body.jaxpr.outvars[:nk] if type(a) is Var}
    for e in reversed(body.eqns):
        if any(id(v) in feeds for v in e.outputs):
            feeds.update(id(a) for a in e.inputs if type(a) is Var)
    return [e for e in body.eqns if not (id(e.outputs[0]) in reads and id(e.outputs[0]) in feeds)]


def transposed_constant_products(body: ClosedJaxpr, n_consts: int) -> list[Eqn]:
    """The body's matrix products that read a loop-constant matrix transposed (contracting
    its last axis), which BLAS runs slower than on the untransposed copy."""
    consts = {id(v) for v in body.jaxpr.invars[:n_consts]}
    return [e for e in body.eqns if e.prim is dot_general_p and id(e.inputs[1]) in consts
            and e.params["dimension_numbers"][0][1] == (e.inputs[1].aval.ndim - 1,)]


def optimized(f: Callable[..., Any], *args: Any) -> ClosedJaxpr:
    closed = fnad.jit(f).lower(*args)
    typecheck(closed)
    for _, body, _ in loop_bodies(closed):
        typecheck(body)
    return closed


def assert_same(f: Callable[..., Any], *args: Any, rtol: float = 1e-5, atol: float = 1e-6
                ) -> Any:
    """jit on every backend agrees with eager evaluation; returns the eager result."""
    # (eager `dot` of inf/NaN still warns from NumPy: not this module's concern)
    with fnad.disable_jit(), np.errstate(all="ignore"):
        want = f(*args)
    for backend in BACKENDS:
        got = fnad.jit(f, backend=backend)(*args)
        for g, w in zip(fnad.tree.tree_leaves(got), fnad.tree.tree_leaves(want)):
            assert_allclose(g, w, rtol=rtol, atol=atol)
    return want


# ---------------------------------------------------------------------------- an RNN

def rnn_loss(p: dict[str, Any], xs: Any) -> Any:
    def cell(h: Any, x: Any) -> tuple[Any, Any]:
        h = fnp.tanh(x @ p["wi"] + h @ p["wh"].T + p["b"])
        return h, h

    h0 = fnp.zeros((xs.shape[1], p["wh"].shape[0]), p["wh"].dtype)
    h, hs = lax.scan(cell, h0, xs)
    return fnp.sum(h * h) + fnp.mean(hs)


def rnn_numpy(p: dict[str, np.ndarray], xs: np.ndarray) -> tuple[float, dict[str, Any]]:
    """The loss and its gradient by backpropagation through time, in float64 NumPy."""
    p = {k: v.astype(np.float64) for k, v in p.items()}
    xs = xs.astype(np.float64)
    hs = [np.zeros((xs.shape[1], p["wh"].shape[0]))]
    for x in xs:
        hs.append(np.tanh(x @ p["wi"] + hs[-1] @ p["wh"].T + p["b"]))
    stacked = np.stack(hs[1:])
    loss = np.sum(hs[-1] ** 2) + stacked.mean()
    g = {k: np.zeros_like(v) for k, v in p.items()}
    dh = np.zeros_like(hs[0])
    for t in reversed(range(len(xs))):
        dh = dh + 1 / stacked.size + (2 * hs[-1] if t == len(xs) - 1 else 0)
        da = dh * (1 - hs[t + 1] ** 2)
        g["wi"] += xs[t].T @ da
        g["wh"] += da.T @ hs[t]
        g["b"] += da.sum(0)
        dh = da @ p["wh"]
    return loss, g


def rnn_data(steps: int, batch: int, features: int, hidden: int, seed: int = 0
             ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    p = {"wi": rng.standard_normal((features, hidden)) * 0.3,
         "wh": rng.standard_normal((hidden, hidden)) * 0.3, "b": rng.standard_normal(hidden)}
    return ({k: v.astype(F32) for k, v in p.items()},
            rng.standard_normal((steps, batch, features)).astype(F32))


def test_rnn_grad_bodies_keep_only_recurrent_work() -> None:
    p, xs = rnn_data(7, 3, 4, 5)
    closed = optimized(fnad.value_and_grad(rnn_loss), p, xs)
    scans = [e for e in closed.eqns if e.prim is scan_p]
    assert len(scans) == 2  # the forward and the reverse scan
    for _, body, n_consts in loop_bodies(closed):
        assert invariant_eqns(body, n_consts) == []
        assert not any(e.prim is transpose_p for e in body.eqns)
        assert transposed_constant_products(body, n_consts) == []  # dh @ wh.T reads wh.T
        # one matrix product per step: the recurrent one (the input projection runs over
        # the whole sequence before the loop, the weight gradients after it)
        assert [e.prim for e in body.eqns].count(dot_general_p) == 1
    forward, backward = scans
    assert non_recurrent_eqns(forward) == [] and non_recurrent_eqns(backward) == []
    assert backward.params["num_carry"] == 1  # only dh: the gradient sums left the loop
    # the input projection is one product over the stacked xs, before the forward scan
    before = closed.eqns[:closed.eqns.index(forward)]
    assert any(e.prim is dot_general_p and e.outputs[0].aval.shape == (7, 3, 5)
               for e in before)


@pytest.mark.parametrize("shape", [(7, 3, 4, 5), (1, 1, 1, 1), (12, 2, 6, 3)])
def test_rnn_values_and_grads_match_numpy(shape: tuple[int, ...]) -> None:
    p, xs = rnn_data(*shape)
    loss, grads = assert_same(fnad.value_and_grad(rnn_loss), p, xs, rtol=2e-5, atol=1e-5)
    want_loss, want = rnn_numpy(p, xs)
    assert_allclose(loss, want_loss, rtol=1e-5, atol=1e-5)
    for k in want:
        assert_allclose(grads[k], want[k], rtol=1e-4, atol=1e-5)


def test_rnn_grads_against_finite_differences_under_jit() -> None:
    p, xs = rnn_data(4, 2, 3, 3)
    check_grads(fnad.jit(lambda wi, wh, b: rnn_loss({"wi": wi, "wh": wh, "b": b}, xs)),
                (p["wi"], p["wh"], p["b"]), order=1, modes=("rev",))


# ---------------------------------------------------------------------------- the pass alone

def test_invariant_transposes_broadcasts_and_conversions_leave_the_body() -> None:
    def f(w: Any, b: Any, xs: Any) -> Any:
        def body(c: Any, x: Any) -> tuple[Any, Any]:
            w16 = lax.convert_element_type(w.T, np.float64)
            return fnp.tanh(c @ w16 + fnp.broadcast_to(b, c.shape)) * x, c.sum()
        return lax.scan(body, fnp.ones((2, 3), np.float64), xs)

    w, b = np.eye(3, dtype=F32)[::-1], np.arange(3, dtype=F32)
    xs = np.linspace(0.5, 1.5, 4 * 2 * 3).reshape(4, 2, 3)
    before = fnad.make_jaxpr(f)(w, b, xs)
    after = hoist_loop_invariants(before)
    typecheck(after)
    (_, body, n), = loop_bodies(after)
    assert invariant_eqns(body, n) == []
    assert {"transpose", "convert_element_type"} <= {e.prim.name for e in after.eqns}
    assert_allclose(after(w, b, xs), before(w, b, xs))
    assert_same(f, w, b, xs)


def test_a_carry_that_is_also_read_stays_in_the_loop() -> None:
    def f(xs: Any, g: Any) -> Any:
        def body(acc: Any, x: Any) -> tuple[Any, Any]:
            new = acc + x.T @ g
            return new, fnp.sum(new)  # the running sum is read: it is a real carry
        return lax.scan(body, fnp.zeros((3, 2), xs.dtype), xs)

    xs, g = np.arange(24, dtype=F32).reshape(4, 2, 3) / 10, np.ones((2, 2), F32)
    closed = optimized(f, xs, g)
    scan = next(e for e in closed.eqns if e.prim is scan_p)
    assert scan.params["num_carry"] == 1
    acc, ys = assert_same(f, xs, g)
    want = np.cumsum(np.einsum("tij,ik->tjk", xs, g), axis=0)
    assert_allclose(acc, want[-1], rtol=1e-6)
    assert_allclose(ys, want.sum((1, 2)), rtol=1e-6)


@pytest.mark.parametrize("reverse", [False, True])
def test_sum_carries_with_any_contraction(reverse: bool) -> None:
    """Weight-gradient-like sums over steps of products and reductions leave the loop,
    whatever axes the product contracts."""
    def f(xs: Any, w: Any, h0: Any) -> Any:
        def body(c: Any, x: Any) -> tuple[Any, Any]:
            h, a1, a2, a3 = c
            h = fnp.sin(h @ w + x)
            return (h, a1 + lax.dot_general(x, h, (((0,), (0,)), ((), ()))),
                    a2 + lax.dot_general(h, x, (((1,), (1,)), ((), ()))),
                    a3 + h.sum(0)), None
        init = (h0, *(fnp.zeros(n, h0.dtype) for n in ((3, 3), (2, 2), 3)))
        return lax.scan(body, init, xs, reverse=reverse)[0]

    rng = np.random.default_rng(1)
    xs, w = rng.standard_normal((5, 2, 3)), rng.standard_normal((3, 3)) * 0.5
    h0 = rng.standard_normal((2, 3))
    closed = optimized(f, xs, w, h0)
    assert next(e for e in closed.eqns if e.prim is scan_p).params["num_carry"] == 1
    got = assert_same(f, xs, w, h0)
    h, a1, a2, a3 = h0, 0, 0, 0
    for t in (reversed(range(5)) if reverse else range(5)):
        h = np.sin(h @ w + xs[t])
        a1, a2, a3 = a1 + xs[t].T @ h, a2 + h @ xs[t].T, a3 + h.sum(0)
    for g, want in zip(got, (h, a1, a2, a3)):
        assert_allclose(g, want, rtol=1e-12, atol=1e-12)


def test_empty_scan_keeps_the_initial_carries() -> None:
    def f(xs: Any, w: Any) -> Any:
        def body(c: Any, x: Any) -> tuple[Any, Any]:
            h, acc = c
            h = h @ w.T + x @ w
            return (h, acc + x.T @ h), h * 2
        return lax.scan(body, (fnp.ones((2, 3), xs.dtype), fnp.full((3, 3), 5.0, xs.dtype)), xs)

    xs, w = np.zeros((0, 2, 3), F32), np.eye(3, dtype=F32)
    (h, acc), ys = assert_same(f, xs, w)
    assert_allclose(h, np.ones((2, 3)))
    assert_allclose(acc, np.full((3, 3), 5.0))
    assert ys.shape == (0, 2, 3)


def test_nested_scans_and_body_constants() -> None:
    def f(w: Any, xs: Any) -> Any:
        def outer(c: Any, x: Any) -> tuple[Any, Any]:
            def inner(d: Any, y: Any) -> tuple[Any, Any]:
                return fnp.cos(d @ w.T) + y * x.sum(), None
            return lax.scan(inner, c, xs)[0], None
        return lax.scan(outer, fnp.ones((2, 3), xs.dtype), xs)[0]

    rng = np.random.default_rng(2)
    w, xs = rng.standard_normal((3, 3)), rng.standard_normal((3, 2, 3))
    closed = optimized(f, w, xs)
    _, body, _ = next(loop_bodies(closed))  # the inner loop's own passes run when the
    inner = passes.optimize(body)           # outer body is compiled
    (_, inner_body, n), = loop_bodies(inner)
    assert invariant_eqns(inner_body, n) == []
    assert not any(e.prim is transpose_p for e in inner_body.eqns)
    c = np.ones((2, 3))
    for x in xs:
        d = c
        for y in xs:
            d = np.cos(d @ w.T) + y * x.sum()
        c = d
    assert_allclose(assert_same(f, w, xs), c, rtol=1e-12)


@settings(max_examples=15, deadline=None)
@given(steps=st.integers(0, 4), n=st.integers(1, 3), reverse=st.booleans(),
       special=st.sampled_from([0.0, np.inf, -np.inf, np.nan]))
def test_hoisting_keeps_values_with_special_numbers(steps: int, n: int, reverse: bool,
                                                    special: float) -> None:
    def f(w: Any, xs: Any) -> Any:
        def body(c: Any, x: Any) -> tuple[Any, Any]:
            h, acc = c
            h = fnp.maximum(h @ w.T, x @ w)
            return (h, acc + x.T @ h), fnp.exp(x @ w)
        return lax.scan(body, (fnp.ones((2, n), xs.dtype), fnp.zeros((n, n), xs.dtype)), xs,
                        reverse=reverse)

    rng = np.random.default_rng(steps * 10 + n)
    w = rng.standard_normal((n, n))
    xs = rng.standard_normal((steps, 2, n))
    if steps:
        xs[0, 0, 0] = special
    (h, acc), ys = assert_same(f, w, xs)
    hh, aa, yy = np.ones((2, n)), np.zeros((n, n)), np.zeros((steps, 2, n))
    with np.errstate(all="ignore"):
        for t in (reversed(range(steps)) if reverse else range(steps)):
            hh = np.maximum(hh @ w.T, xs[t] @ w)
            aa, yy[t] = aa + xs[t].T @ hh, np.exp(xs[t] @ w)
    assert_allclose(h, hh, rtol=1e-12)
    assert_allclose(acc, aa, rtol=1e-12)
    assert_allclose(ys, yy, rtol=1e-12)


def test_loops_receive_their_constant_matrices_c_contiguous() -> None:
    w = np.arange(12, dtype=F32).reshape(3, 4)
    dense, vector, scalar = np.ones((2, 2), F32), w[0, ::-1], np.float32(2)
    made = contiguous_constants([w.T, w[:, ::2], dense, vector, scalar,
                                 np.broadcast_to(w[0], (3, 4))])
    assert all(m.flags.c_contiguous for m in made[:3] + made[5:])
    assert made[2] is dense and made[3] is vector and made[4] is scalar
    for m, want in zip(made, [w.T, w[:, ::2], dense, vector, scalar]):
        np.testing.assert_array_equal(m, want)
    # a loop reading a transposed constant, on every backend and eagerly
    xs = np.linspace(-1, 1, 5 * 2 * 4, dtype=F32).reshape(5, 2, 4)
    f = lambda w, xs: lax.scan(lambda c, x: (fnp.tanh(c @ w.T + x), c), xs[0], xs)
    w4 = np.arange(16, dtype=F32).reshape(4, 4) / 16
    for w in (w4, np.asfortranarray(w4), w4[::-1]):
        assert_same(f, w, xs)


# ---------------------------------------------------------------------------- while loops

def test_while_loop_bodies_lose_invariant_work() -> None:
    def f(w: Any, x: Any, n: Any) -> Any:
        def body(i: Any, c: Any) -> Any:
            return fnp.tanh(c @ w.T + fnp.broadcast_to(w.sum(0), c.shape))
        return lax.fori_loop(0, n, body, x)  # traced bounds: a while loop

    rng = np.random.default_rng(3)
    w, x = rng.standard_normal((3, 3)).astype(F32), rng.standard_normal((2, 3)).astype(F32)
    n = np.int32(4)
    closed = optimized(f, w, x, n)
    assert any(e.prim is while_p for e in closed.eqns)
    for _, body, n_consts in loop_bodies(closed):
        assert invariant_eqns(body, n_consts) == []
        assert transposed_constant_products(body, n_consts) == []
    c = x
    for _ in range(4):
        c = np.tanh(c @ w.T + w.sum(0))
    assert_allclose(assert_same(f, w, x, n), c, rtol=1e-5)
    assert_allclose(assert_same(f, w, x, np.int32(0)), x)


@pytest.mark.parametrize("loop", ["scan", "while"])
def test_debug_nans_names_the_line_of_work_moved_out_of_a_loop(loop: str) -> None:
    def f(w: Any, x: Any, n: Any) -> Any:
        def body(i: Any, c: Any) -> Any:
            return c + fnp.sqrt(w)  # NaN for w < 0, made before the loop once hoisted
        return lax.fori_loop(0, 3 if loop == "scan" else n, body, x)

    w, x = -np.ones(2, F32), np.zeros(2, F32)
    line = f.__code__.co_firstlineno + 2
    saved = fnad.config.debug_nans
    fnad.config.update("debug_nans", True)
    try:
        with pytest.raises(FloatingPointError, match=f"'sqrt' produced NaN at "
                                                     f"test_hoist.py:{line}"):
            fnad.jit(f)(w, x, np.int32(3))
    finally:
        fnad.config.update("debug_nans", saved)
    assert np.isnan(fnad.jit(f)(w, x, np.int32(3))).all()


@pytest.mark.parametrize("reverse", [False, True])
def test_work_that_only_makes_ys_runs_after_the_loop(reverse: bool) -> None:
    def f(w: Any, xs: Any) -> Any:
        def body(h: Any, x: Any) -> tuple[Any, Any]:
            h2 = fnp.cos(h @ w + x)
            # ys from the new carry, the slice and a constant; `h` (the old carry) is read
            # by a y too, which must then stay in the loop
            return h2, (1.0 - h2 * h2, fnp.sin(h2) * x + w.sum(), h2, h * 3.0)
        return lax.scan(body, fnp.ones((2, 3), xs.dtype), xs, reverse=reverse)

    rng = np.random.default_rng(4)
    w, xs = rng.standard_normal((3, 3)), rng.standard_normal((6, 2, 3))
    closed = optimized(f, w, xs)
    (scan,) = [e for e in closed.eqns if e.prim is scan_p]
    # in the loop: the product, the add and the cosine, and the `h * 3` of the old carry
    assert [e.prim.name for e in scan.params["jaxpr"].eqns] == ["dot_general", "add", "cos",
                                                               "mul"]
    h, (a, b, c, d) = assert_same(f, w, xs)
    hh = np.ones((2, 3))
    want = [np.zeros((6, 2, 3)) for _ in range(4)]
    for t in (reversed(range(6)) if reverse else range(6)):
        new = np.cos(hh @ w + xs[t])
        for k, v in enumerate((1 - new * new, np.sin(new) * xs[t] + w.sum(), new, hh * 3)):
            want[k][t] = v
        hh = new
    assert_allclose(h, hh, rtol=1e-12)
    for got, ref in zip((a, b, c, d), want):
        assert_allclose(got, ref, rtol=1e-12, atol=1e-14)


def test_work_with_large_per_step_temporaries_stays_in_the_loop() -> None:
    """Stacking it over the sequence would take more memory than the pass allows."""
    def f(xs: Any) -> Any:
        def body(c: Any, x: Any) -> tuple[Any, Any]:
            outer = x[:, None] * x[None, :]  # 4 MB a step; 8 steps would stack 32 MB
            return c + x, (fnp.sum(outer, axis=0), fnp.sum(fnp.sin(c) * x))
        return lax.scan(body, fnp.zeros(1024, np.float32), xs)

    xs = np.linspace(-1, 1, 8 * 1024, dtype=np.float32).reshape(8, 1024)
    closed = optimized(f, xs)
    (scan,) = [e for e in closed.eqns if e.prim is scan_p]
    assert any(e.outputs[0].aval.shape == (1024, 1024) for e in scan.params["jaxpr"].eqns)
    c, (rows, dots) = assert_same(f, xs, rtol=1e-5, atol=1e-4)
    assert_allclose(rows, xs * xs.sum(1, keepdims=True), rtol=1e-4, atol=1e-3)
    want = np.cumsum(np.vstack([np.zeros((1, 1024)), xs[:-1]]), axis=0)
    assert_allclose(dots, (np.sin(want) * xs).sum(1), rtol=1e-4, atol=1e-4)
    assert_allclose(c, xs.sum(0), rtol=1e-5, atol=1e-5)
