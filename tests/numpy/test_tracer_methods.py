"""Operators and array methods on tracers: a traced `x + y` (or `x.sum(0)`) must give what
NumPy gives on the same arrays, dtype included; tracers stay unhashable."""

from __future__ import annotations

import operator

import numpy as np
import pytest
from fnp_cases import assert_same

import fnad
from fnad.core.ir import eval_jaxpr, typecheck


def traced(f, *args):
    """`f` staged with make_jaxpr and evaluated: every operator goes through the tracer."""
    closed = fnad.make_jaxpr(f)(*args)
    typecheck(closed)
    out = eval_jaxpr(closed.jaxpr, closed.consts, *args)
    return out[0] if len(out) == 1 else out


rng = np.random.default_rng(0)
F = rng.uniform(0.5, 3, (2, 3)).astype(np.float32)
G = rng.uniform(-3, -0.5, (3,)).astype(np.float32)
I = rng.integers(-9, 9, (2, 3)).astype(np.int32)
J = rng.integers(1, 5, (3,)).astype(np.int32)
B = np.array([True, False, True])

BINARY = [operator.add, operator.sub, operator.mul, operator.truediv, operator.floordiv,
          operator.mod, operator.pow, operator.lt, operator.le, operator.eq, operator.ne,
          operator.gt, operator.ge]
BITWISE = [operator.and_, operator.or_, operator.xor, operator.lshift, operator.rshift]


@pytest.mark.parametrize("op", BINARY + BITWISE, ids=lambda op: op.__name__)
@np.errstate(invalid="ignore")  # negative ** fractional is NaN, for NumPy as for fnad
def test_binary_operators_and_reflections(op):
    pairs = [(I, J), (J, I)] if op in BITWISE else [(F, G), (G, F), (I, J), (F, J)]
    if op in (operator.and_, operator.or_, operator.xor):
        pairs.append((B, B))
    for x, y in pairs:
        if op is operator.pow and x.dtype.kind == "i":
            x = np.abs(x)
        expected = op(x, y)
        assert_same(traced(op, x, y), expected)  # tracer op tracer
        assert_same(traced(lambda a, y=y: op(a, y), x), expected)  # tracer op array
        assert_same(traced(lambda b, x=x: op(x, b), y), expected)  # array op tracer (reflected)
        for s in (2, 1.5):  # weak Python scalars on either side
            if op in BITWISE and isinstance(s, float):
                continue
            assert_same(traced(lambda a, s=s: op(a, s), x), op(x, s))
            if op not in (operator.pow,) or x.dtype.kind == "f":
                assert_same(traced(lambda a, s=s: op(s, a), x), op(s, x))


def test_matmul_and_unary_operators():
    m = rng.standard_normal((3, 4)).astype(np.float32)
    assert_same(traced(operator.matmul, F, m), F @ m)
    assert_same(traced(lambda b: F @ b, m), F @ m)
    for op in (operator.neg, operator.pos, abs):
        assert_same(traced(op, G), op(G))
        assert_same(traced(op, I), op(I))
    assert_same(traced(operator.invert, I), ~I)
    assert_same(traced(operator.invert, B), ~B)


METHODS = [
    lambda x: x.astype(np.int32), lambda x: x.reshape(3, 2), lambda x: x.reshape((-1,)),
    lambda x: x.transpose(), lambda x: x.transpose(1, 0), lambda x: x.T, lambda x: x.mT,
    lambda x: x.sum(), lambda x: x.sum(0, keepdims=True), lambda x: x.mean(axis=1),
    lambda x: x.var(ddof=1), lambda x: x.std(0), lambda x: x.max(1), lambda x: x.min(),
    lambda x: x.prod(0), lambda x: x.argmax(), lambda x: x.argmin(1), lambda x: x.all(),
    lambda x: x.any(0), lambda x: x.cumsum(1), lambda x: x.cumprod(), lambda x: x.ravel(),
    lambda x: x.flatten(), lambda x: x.reshape(1, 2, 3).squeeze(0), lambda x: x.clip(1, 2),
    lambda x: x.dot(x.T), lambda x: x.swapaxes(0, 1), lambda x: x.round(1), lambda x: x.conj(),
    lambda x: x.trace(), lambda x: x.argsort(), lambda x: x.repeat(2, 0),
]


@pytest.mark.parametrize("f", METHODS)
def test_methods_match_numpy(f):
    assert_same(traced(f, F), f(F))


def test_sort_returns_the_sorted_value():  # NumPy's ndarray.sort works in place instead
    assert_same(traced(lambda x: x.sort(0), F), np.sort(F, 0))


def test_shape_properties():
    assert_same(traced(lambda x: x * x.shape[0] + x.ndim + x.size, F), F * 2 + 2 + 6)


def test_eq_gives_an_array_and_tracers_stay_unhashable():
    def f(x):
        assert x.shape == (2, 3) and (x == x).shape == (2, 3)
        with pytest.raises(TypeError, match="hashable"):
            hash(x)
        with pytest.raises(TypeError):
            {x: 1}  # noqa: B018
        return x == 1.0

    assert_same(traced(f, F), F == 1.0)


def test_conj_real_imag_of_complex_and_real_tracers():
    z, x = np.array([1 + 2j, 3 - 1j]), np.array([1.0, -2.0])
    for v in (z, x):
        out = fnad.jit(lambda a: (a.conj(), a.conjugate(), a.real, a.imag))(v)
        for got, expected in zip(out, (v.conj(), v.conjugate(), v.real, v.imag)):
            assert_same(got, expected)
    g = fnad.grad(lambda a: ((a * (1 + 1j)).conj().real + (a * 1j).imag).sum())(x)
    np.testing.assert_array_equal(g, [2.0, 2.0])
