"""Tests for fnad/lax/reduction.py: reducers, arg-reductions and cumulative scans against
NumPy, their derivatives (ties and zeros included) and batching."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fnad
from fnad import lax
from fnad.core.errors import DTypeError, ShapeError
from fnad.test_util import assert_allclose, check_grads, check_transforms, check_vmap

SHAPE = (2, 3, 4)


def distinct(shape, seed=0, dtype=np.float64):
    """Values without ties (max-type derivatives are defined there), away from zero."""
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape))
    vals = (rng.permutation(size) + 1.0) / size * rng.choice([-1.0, 1.0], size)
    return (vals + 0.01 * rng.standard_normal(size)).reshape(shape).astype(dtype)


def near_one(shape, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return (rng.uniform(0.5, 1.5, shape) * rng.choice([-1, 1], shape)).astype(dtype)


# name, wrapper, NumPy reference, argument generator, derivative order checked
REDUCERS = [
    ("sum", lax.reduce_sum, np.sum, distinct, 2),
    ("max", lax.reduce_max, np.max, distinct, 1),
    ("min", lax.reduce_min, np.min, distinct, 1),
    ("prod", lax.reduce_prod, np.prod, near_one, 2),
]
AXES = [(0,), (1,), (2,), (0, 2), (-1,), (0, 1, 2), ()]


@pytest.mark.parametrize("name, f, ref, gen, order", REDUCERS)
@pytest.mark.parametrize("axes", AXES)
def test_reducer_values_and_transforms(name, f, ref, gen, order, axes):
    x = gen(SHAPE, dtype=np.float32)
    out = f(x, axes)
    assert out.dtype == np.float32
    assert_allclose(out, ref(x, axis=tuple(a % 3 for a in axes)) if axes else x)
    check_transforms(lambda x: f(x, axes), (x,))


@pytest.mark.parametrize("name, f, ref, gen, order", REDUCERS)
@pytest.mark.parametrize("axes", [(1,), (0, 2), (0, 1, 2)])
def test_reducer_grads(name, f, ref, gen, order, axes):
    fn = lambda x: f(x, axes)
    x = gen(SHAPE)
    check_grads(fn, (x,), order=order)
    check_transforms(fnad.grad(lambda x: lax.reduce_sum(fn(x), None)), (x,))


@pytest.mark.parametrize("name, f, ref, gen, order", REDUCERS)
@pytest.mark.parametrize("in_axes, axes", [(0, (0,)), (1, (1, 2)), (-1, (0,)), (2, (0, 1))])
def test_reducer_vmap(name, f, ref, gen, order, in_axes, axes):
    check_vmap(lambda x: f(x, axes), (gen((2, 3, 4, 5)),), in_axes, 0)
    check_vmap(lambda x: f(x, axes), (gen((2, 3, 4, 5)),), in_axes, -1)


def test_max_min_ties_share_the_tangent_evenly():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    assert_allclose(fnad.grad(lambda x: lax.reduce_sum(lax.reduce_max(x, (1,)), (0,)))(x),
                    np.array([[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]]))
    assert_allclose(fnad.grad(lambda x: lax.reduce_min(x, (0, 1)))(x),
                    np.array([[1.0, 0, 0], [0, 0, 0]]))


def test_reduce_prod_derivatives_with_zeros():
    # one zero: only its own partial derivative survives; two zeros: the gradient is zero
    x = np.array([[2.0, 0.0, 3.0, -1.0], [0.0, 1.5, 0.0, 2.0]])
    g = fnad.grad(lambda x: lax.reduce_sum(lax.reduce_prod(x, (1,)), (0,)))(x)
    assert_allclose(g, np.array([[0, -6.0, 0, 0], [0, 0, 0, 0]]))
    # the second derivative at a zero: d2/dx0 dx1 of x0*x1*x2*x3 = x2*x3
    check_grads(lambda x: lax.reduce_prod(x, (1,)), (x,), order=2)
    check_grads(lambda x: lax.reduce_prod(x, (0, 1)), (np.array([[0.0, 2.0], [0.5, -3.0]]),),
                order=2)


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.float64, np.float16])
def test_reducers_keep_dtype(dtype):
    x = (np.arange(12).reshape(3, 4) % 5 + 1).astype(dtype)
    for f, ref in [(lax.reduce_sum, np.sum), (lax.reduce_prod, np.prod),
                   (lax.reduce_max, np.max), (lax.reduce_min, np.min)]:
        out = f(x, (0,))
        assert out.dtype == dtype
        assert_allclose(out, ref(x, axis=0).astype(dtype))


def test_empty_reductions_give_identities():
    x = np.zeros((0, 3), np.float32)
    assert_allclose(lax.reduce_max(x, (0,)), np.full(3, -np.inf, np.float32))
    assert_allclose(lax.reduce_min(x, (0,)), np.full(3, np.inf, np.float32))
    assert_allclose(lax.reduce_prod(x, (0,)), np.ones(3, np.float32))
    assert_allclose(lax.reduce_max(np.zeros((0,), np.int32), (0,)),
                    np.array(np.iinfo(np.int32).min, np.int32))


def test_nan_propagates_through_max():
    x = np.array([1.0, np.nan, 3.0])
    assert np.isnan(lax.reduce_max(x, (0,))) and np.isnan(lax.reduce_min(x, (0,)))


@pytest.mark.parametrize("f, ref", [(lax.reduce_and, np.all), (lax.reduce_or, np.any)])
def test_bool_reducers(f, ref):
    x = np.random.default_rng(0).random((3, 4, 2)) > 0.3
    for axes in [(0,), (1, 2), (0, 1, 2)]:
        out = f(x, axes)
        assert out.dtype == np.bool_
        np.testing.assert_array_equal(out, ref(x, axis=axes))
    check_transforms(lambda x: f(x, (1,)), (x,))
    check_vmap(lambda x: f(x, (0,)), (x,), 2, 0)
    with pytest.raises(DTypeError, match="bool"):
        f(np.ones(3), (0,))


def test_reducer_errors():
    with pytest.raises(ShapeError, match="out of range"):
        lax.reduce_max(np.ones((2, 3)), (2,))
    with pytest.raises(DTypeError):
        lax.reduce_sum(np.ones(3, bool), (0,))


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=1, max_size=4), st.data(),
       st.sampled_from([np.float32, np.int32]))
def test_reducers_hypothesis(shape, data, dtype):
    axes = tuple(data.draw(st.sets(st.integers(0, len(shape) - 1))))
    x = (distinct(shape, dtype=np.float64) * 10).astype(dtype)
    for f, ref in [(lax.reduce_sum, np.sum), (lax.reduce_max, np.max),
                   (lax.reduce_min, np.min)]:
        assert_allclose(f(x, axes), ref(x, axis=axes).astype(dtype) if axes else x)
    x = near_one(shape, dtype=dtype) if dtype == np.float32 else np.sign(x).astype(dtype)
    assert_allclose(lax.reduce_prod(x, axes), np.prod(x, axis=axes).astype(dtype) if axes else x)


# ---------------------------------------------------------------------------- argmax/argmin

@pytest.mark.parametrize("f, ref", [(lax.argmax, np.argmax), (lax.argmin, np.argmin)])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_arg_reducers(f, ref, axis):
    x = np.array([[3.0, 1.0, 3.0], [0.0, 0.0, -1.0], [2.0, 5.0, 5.0]])  # ties: first wins
    out = f(x, axis)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, ref(x, axis=axis))
    assert f(x, axis, np.int64).dtype == np.int64
    check_transforms(lambda x: f(x, axis), (x,))
    check_vmap(lambda x: f(x, axis), (np.stack([x, -x, x.T]),), 0, 0)
    check_vmap(lambda x: f(x, axis), (np.stack([x, -x, x.T], 2),), 2, 0)


@pytest.mark.parametrize("f, ref", [(lax.argmax, np.argmax), (lax.argmin, np.argmin)])
def test_arg_reducers_nan_like_numpy(f, ref):
    x = np.array([[1.0, np.nan, 5.0, np.nan], [4.0, 2.0, 3.0, 1.0]])
    np.testing.assert_array_equal(f(x, 1), ref(x, axis=1))
    np.testing.assert_array_equal(f(x.T, 0), ref(x.T, axis=0))
    np.testing.assert_array_equal(f(np.array([True, False, True]), 0),
                                  ref(np.array([True, False, True])))


def test_arg_reducer_is_constant_under_differentiation():
    x = distinct((3, 4))
    # f(x) = sum(x_ij * argmax_j(x_i.)): argmax is piecewise constant, so df/dx = argmax
    f = lambda x: lax.reduce_sum(
        lax.mul(x, lax.broadcast_in_dim(
            lax.convert_element_type(lax.argmax(x, 1), x.dtype), x.shape, (0,))), (0, 1))
    expected = np.broadcast_to(np.argmax(x, axis=1)[:, None], x.shape).astype(x.dtype)
    assert_allclose(fnad.grad(f)(x), expected)
    check_grads(f, (x,), order=2)


def test_arg_reducer_errors():
    with pytest.raises(ShapeError, match="empty"):
        lax.argmax(np.zeros((0, 2)), 0)
    with pytest.raises(DTypeError, match="index_dtype"):
        lax.argmin(np.ones((2, 2)), 0, np.float32)
    with pytest.raises(ShapeError, match="out of range"):
        lax.argmin(np.ones((2, 2)), 2)


# ---------------------------------------------------------------------------- cumulative

def _np_cumulative(ufunc):
    def ref(x, axis, reverse):
        if reverse:
            return np.flip(ufunc.accumulate(np.flip(x, axis), axis=axis), axis)
        return ufunc.accumulate(x, axis=axis)
    return ref


CUMULATIVE = [
    ("cumsum", lax.cumsum, _np_cumulative(np.add), distinct, 2),
    ("cumprod", lax.cumprod, _np_cumulative(np.multiply), near_one, 2),
    ("cummax", lax.cummax, _np_cumulative(np.maximum), distinct, 1),
    ("cummin", lax.cummin, _np_cumulative(np.minimum), distinct, 1),
]


@pytest.mark.parametrize("name, f, ref, gen, order", CUMULATIVE)
@pytest.mark.parametrize("axis, reverse", [(0, False), (1, True), (2, False), (-1, True)])
def test_cumulative(name, f, ref, gen, order, axis, reverse):
    x = gen((3, 4, 5))
    fn = lambda x: f(x, axis, reverse)
    assert_allclose(fn(x.astype(np.float32)), ref(x, axis, reverse).astype(np.float32))
    check_transforms(fn, (x,))
    check_transforms(lambda x: fnad.jvp(fn, (x,), (x * x,))[1], (x,))  # staged derivatives
    check_transforms(lambda x: fnad.vjp(fn, x)[1](x * x), (x,))
    check_grads(fn, (x,), order=order)
    check_vmap(fn, (gen((2, 3, 4, 5)),), 0, 0)
    check_vmap(fn, (gen((3, 4, 2, 5)),), 2, -1)


@pytest.mark.parametrize("name, f, ref, gen, order", CUMULATIVE)
def test_cumulative_int(name, f, ref, gen, order):
    x = np.array([[3, -1, 2, 2, 0], [1, 2, -3, 1, 1]], np.int32)
    out = f(x, 1)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, ref(x, 1, False))


def test_cumprod_derivatives_with_zeros():
    x = np.array([2.0, 0.0, 3.0, 0.5, 0.0, -1.0])
    jac = fnad.jacrev(lambda x: lax.cumprod(x, 0))(x)
    expected = np.zeros((6, 6))  # d out_i / d x_j = prod_{k <= i, k != j} x_k for j <= i
    for i in range(6):
        for j in range(i + 1):
            expected[i, j] = np.prod([x[k] for k in range(i + 1) if k != j])
    assert_allclose(jac, expected)
    check_grads(lambda x: lax.cumprod(x, 0, True), (x,), order=2)


def test_cumsum_transpose_is_reverse_cumsum():
    ct = np.arange(1.0, 5.0)
    _, f_vjp = fnad.vjp(lambda x: lax.cumsum(x, 0), np.zeros(4))
    assert_allclose(f_vjp(ct)[0], np.array([10.0, 9.0, 7.0, 4.0]))
    closed = fnad.make_jaxpr(lambda c: fnad.vjp(lambda x: lax.cumsum(x, 0), np.zeros(4))[1](c))(
        ct)
    names = {(e.prim.name, e.params.get("reverse")) for e in closed.eqns}
    assert ("cumsum", True) in names and {n for n, _ in names} == {"cumsum"}, closed


def test_cummax_ties_and_grad_of_grad():
    x = np.array([1.0, 3.0, 2.0, 3.0, 4.0])
    g = fnad.grad(lambda x: lax.reduce_sum(lax.cummax(x, 0), (0,)))(x)
    # positions 1..3 follow x[1] except where x[3] ties with it (split evenly)
    assert_allclose(g, np.array([1.0, 2.5, 0.0, 0.5, 1.0]))
    # the scan is linear in a piecewise sense: its second derivative vanishes
    h = fnad.jacfwd(fnad.grad(lambda x: lax.reduce_sum(lax.cummax(x, 0), (0,))))(distinct((5,)))
    assert_allclose(h, np.zeros((5, 5)))


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=1, max_size=3), st.data())
def test_cumulative_hypothesis(shape, data):
    axis = data.draw(st.integers(0, len(shape) - 1))
    reverse = data.draw(st.booleans())
    x = near_one(shape)
    for _, f, ref, _, _ in CUMULATIVE:
        assert_allclose(f(x, axis, reverse), ref(x, axis, reverse))
    check_grads(lambda x: lax.cumprod(x, axis, reverse), (x,), order=1)


def test_complex_max_min_and_cumulative_are_lexicographic_as_numpys():
    """Complex numbers order by real part, then imaginary (NumPy's and JAX's); the tangent
    follows the selected element; an empty max is -inf (+0j)."""
    rng = np.random.default_rng(3)
    x = (rng.integers(-2, 3, SHAPE) + 1j * rng.standard_normal(SHAPE))  # real-part ties
    x[0, 0, 0] = complex(np.nan, 1.0)
    for axes in [(0,), (2,), (0, 2)]:
        np.testing.assert_array_equal(lax.reduce_max(x, axes), np.max(x, axis=axes))
        np.testing.assert_array_equal(lax.reduce_min(x, axes), np.min(x, axis=axes))
        np.testing.assert_array_equal(fnad.jit(lambda v, a=axes: lax.reduce_max(v, a))(x),
                                      np.max(x, axis=axes))
    np.testing.assert_array_equal(lax.cummax(x, axis=2), np.maximum.accumulate(x, axis=2))
    np.testing.assert_array_equal(lax.cummin(x, axis=1), np.minimum.accumulate(x, axis=1))
    assert lax.reduce_max(np.zeros(0, np.complex64), (0,)) == complex(-np.inf, 0)
    with pytest.raises(DTypeError):
        lax.argmax(x, 0, np.int32)  # JAX's argmax does not order complex numbers either
    z = distinct(SHAPE).astype(np.complex128) + 1j * distinct(SHAPE, seed=1)
    for prim in (lax.reduce_max, lax.reduce_min):
        check_grads(lambda v, p=prim: p(v, (1,)), (z,), order=2)
    check_grads(lambda v: lax.cummax(v, axis=2), (z,), order=2)
