"""The NumPy backend: generated code equals eager evaluation on random programs (buffer
reuse must never clobber a live value, a view, an input or an output), with donation too;
special emitters; compiled sub-jaxprs for control flow."""

from __future__ import annotations

import functools
import gc
from typing import Any

import numpy as np
from hypothesis import given, settings, strategies as st

import fnad
import fnad.numpy as fnp
from fnad import lax
from fnad.jit.executable import Executable
from fnad.test_util import assert_allclose

F32 = np.float32

UNARY = {"neg": fnp.negative, "exp": lambda x: fnp.exp(x * 0.1), "tanh": fnp.tanh,
         "T": lambda x: x.T, "reshape": lambda x: x.reshape(9).reshape(3, 3),
         "colsum": lambda x: fnp.broadcast_to(fnp.sum(x, axis=0), (3, 3)),
         "rowsum": lambda x: fnp.broadcast_to(fnp.sum(x, axis=1, keepdims=True), (3, 3)), "square": lambda x: x ** 2}
BINARY = {"add": fnp.add, "sub": fnp.subtract, "mul": fnp.multiply, "max": fnp.maximum,
          "matmul": lambda x, y: (x @ y) * 0.3, "where": lambda x, y: fnp.where(x > y, x, y)}

op = st.one_of(
    st.tuples(st.just(1), st.sampled_from(sorted(UNARY)), st.integers(0, 99)),
    st.tuples(st.just(2), st.sampled_from(sorted(BINARY)), st.integers(0, 99),
              st.integers(0, 99)))


def program(ops: list[tuple], outputs: list[int]) -> Any:
    def f(a, b, c):
        vals = [a, b, c]
        for o in ops:
            if o[0] == 1:
                vals.append(UNARY[o[1]](vals[o[2] % len(vals)]))
            else:
                vals.append(BINARY[o[1]](vals[o[2] % len(vals)], vals[o[3] % len(vals)]))
        return [vals[i % len(vals)] for i in outputs]
    return f


@settings(max_examples=40, deadline=None)
@given(ops=st.lists(op, min_size=1, max_size=12),
       outputs=st.lists(st.integers(0, 99), min_size=1, max_size=3),
       donate=st.sampled_from([(), (0,), (0, 2)]))
def test_random_programs_match_eager(ops: list[tuple], outputs: list[int], donate: tuple) -> None:
    f = program(ops, outputs)
    rng = np.random.default_rng(0)
    args = [rng.standard_normal((3, 3)).astype(F32) for _ in range(3)]
    want = f(*(a.copy() for a in args))
    copies = [a.copy() for a in args]
    got = fnad.jit(f, donate_argnums=donate)(*args)
    assert_allclose(got, want)
    for i, (a, c) in enumerate(zip(args, copies)):
        if i not in donate:
            assert_allclose(a, c, err_msg="a non-donated input was overwritten")


def test_outputs_sharing_a_buffer_are_not_overwritten() -> None:
    def f(x):
        y = fnp.exp(x)
        z = y.T  # a view of y, returned
        return z, y * 2.0, fnp.tanh(y) + 1.0

    x = np.linspace(0, 1, 4, dtype=F32).reshape(2, 2)
    assert_allclose(fnad.jit(f)(x), f(x))


def test_matrix_products_every_layout() -> None:
    a = np.linspace(-1, 1, 12, dtype=F32).reshape(3, 4)
    b = np.linspace(0, 2, 12, dtype=F32).reshape(4, 3)
    for dims in [(((1,), (0,)), ((), ())), (((0,), (1,)), ((), ())),
                 (((1,), (1,)), ((), ())), (((0,), (0,)), ((), ()))]:
        y = b if dims[0][0][0] + dims[0][1][0] == 1 else b.T.copy()
        g = lambda x, y, d=dims: lax.dot_general(x, y, d)  # noqa: E731
        assert_allclose(fnad.jit(g)(a, y), g(a, y))
    v = np.arange(4, dtype=F32)
    for g in (lambda x, w: x @ w, lambda x, w: w @ x.T, lambda x, w: fnp.dot(w, w)):
        assert_allclose(fnad.jit(g)(a, v), g(a, v))


def test_integer_division_truncates_like_eager() -> None:
    x, y = np.array([-7, 7, 5], np.int32), np.array([2, -2, 0], np.int32)
    assert_allclose(fnad.jit(lax.div)(x, y), lax.div(x, y))


def test_integer_pow_and_reductions() -> None:
    x = np.linspace(-2, 2, 6, dtype=F32).reshape(2, 3)
    f = lambda x: (x ** 2, x ** 3, x ** 5, fnp.sum(x ** 2, axis=1), fnp.sum(x))  # noqa: E731
    assert_allclose(fnad.jit(f)(x), f(x))


def test_no_warnings_for_nan_and_inf(recwarn: Any) -> None:
    out = fnad.jit(lambda x: fnp.log(x) / x)(np.array([0.0, -1.0], F32))
    assert np.isneginf(out[0]) and np.isnan(out[1]) and not recwarn.list


def _executables_in(fn: Any) -> list[Executable]:
    found = []
    for g in fn.__globals__.values():
        if isinstance(g, functools.partial):
            for v in g.keywords.values():
                found += [e for e in (v if isinstance(v, tuple) else (v,))
                          if isinstance(e, Executable)]
    return found


def test_control_flow_bodies_are_compiled_executables() -> None:
    def f(x, n):
        y = lax.cond(fnp.sum(x) > 0, lambda v: v * 2.0, lambda v: v - 1.0, x)
        y = lax.fori_loop(0, 3, lambda i, c: c * 1.5, y)  # concrete bounds: a scan
        return lax.fori_loop(0, n, lambda i, c: c + 1.0, y)  # traced bounds: a while loop

    jf = fnad.jit(f)
    x = np.array([1.0, -2.0], F32)
    assert_allclose(jf(x, 2), f(x, 2))
    assert_allclose(jf(-x, 0), f(-x, 0))
    exe = jf._cache.get(jf._cache.keys()[0]).executable
    assert len(_executables_in(exe.fn)) == 2  # the two branches
    # each loop is one generated function looping over its body's statements
    sources = [o.source for o in gc.get_objects() if isinstance(o, Executable)]
    assert any("for _i in range(0, 3):" in s for s in sources)
    assert any("while _f" in s and "[0]:" in s for s in sources)


def test_select_is_exact_for_every_case_kind() -> None:
    rng = np.random.default_rng(1)
    c = rng.random((4, 5)) > 0.5
    a = rng.standard_normal((4, 5))
    for dtype in (np.float32, np.float64, np.int8, np.bool_):
        x = (a * 10).astype(dtype) if dtype is not np.bool_ else a > 0
        if dtype in (np.float32, np.float64):
            x[0, :3] = [np.nan, -0.0, np.inf]
        zero, one = np.zeros((), dtype)[()], np.ones((), dtype)[()]
        for case0, case1 in ((x, x[::-1]), (zero, x), (x, zero), (one, zero), (x.T.T, one)):
            f = lambda c, p, q: lax.select_n(c, p, q)  # noqa: E731
            got, want = fnad.jit(f)(c, case0, case1), np.where(c, case1, case0)
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(got, want)
            if dtype in (np.float32, np.float64):
                np.testing.assert_array_equal(np.signbit(got), np.signbit(want))
