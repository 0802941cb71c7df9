"""fnad/numpy/_calculus.py and _math.py against NumPy: differences, gradients, integrals,
interpolation, cumulative scans, the float bit helpers (edge values: 0, -0.0, inf, NaN,
subnormals, extremes), integer helpers and whole-array comparisons; derivatives, jit
(inside `check`) and vmap."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special
from fnp_cases import arrays, assert_same, check, nonempty_shapes, shapes
from hypothesis import given, settings, strategies as st

import fnad
import fnad.numpy as fnp
from fnad.test_util import check_grads, check_vmap

SETTINGS = settings(max_examples=8, deadline=None)


@SETTINGS
@given(data=st.data())
def test_diff_ediff1d(data):
    dtype = data.draw(st.sampled_from([np.float64, np.int32, np.bool_]))
    x = data.draw(arrays(dtype, nonempty_shapes))
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    n = data.draw(st.integers(0, 3))
    check(lambda a: fnp.diff(a, n, axis), lambda a: np.diff(a, n, axis), (x,))
    if dtype != np.bool_:
        zero = np.asarray(0, x.dtype)  # a Python 0 would be weak in fnad, int64 in NumPy
        check(lambda a: fnp.diff(a, 1, axis, prepend=zero, append=x.take([0], axis)),
              lambda a: np.diff(a, 1, axis, prepend=zero, append=x.take([0], axis)), (x,))
        check(lambda a: fnp.ediff1d(a, to_end=np.array([7, 8]), to_begin=-1),
              lambda a: np.ediff1d(a, to_end=np.array([7, 8]), to_begin=-1), (x,))


@pytest.mark.parametrize("edge_order", [1, 2])
def test_gradient(edge_order):
    rng = np.random.default_rng(0)
    f = rng.normal(size=(5, 4))
    check(lambda a: fnp.gradient(a, edge_order=edge_order),
          lambda a: np.gradient(a, edge_order=edge_order), (f,))
    xs = np.cumsum(rng.uniform(0.5, 2, 5))
    check(lambda a: fnp.gradient(a, xs, 2.0, edge_order=edge_order),
          lambda a: np.gradient(a, xs, 2.0, edge_order=edge_order), (f,))
    check(lambda a: fnp.gradient(a, 0.5, axis=1, edge_order=edge_order),
          lambda a: np.gradient(a, 0.5, axis=1, edge_order=edge_order), (f,))
    check(lambda a: fnp.gradient(a, axis=(1, 0)), lambda a: np.gradient(a, axis=(1, 0)), (f,))
    check(fnp.gradient, np.gradient, (np.array([1, 4, 9, 16]),))
    check_grads(lambda a: fnp.gradient(a, xs, axis=0, edge_order=edge_order), (f,), order=1)


def test_trapezoid_and_cumulative():
    rng = np.random.default_rng(1)
    y = rng.normal(size=(3, 6))
    x = np.cumsum(rng.uniform(0.1, 1, 6))
    check(fnp.trapezoid, np.trapezoid, (y,))
    check(lambda a: fnp.trapezoid(a, x), lambda a: np.trapezoid(a, x), (y,))
    check(lambda a: fnp.trapezoid(a, dx=0.3, axis=0), lambda a: np.trapezoid(a, dx=0.3, axis=0),
          (y,))
    check_grads(lambda a, b: fnp.trapezoid(a, b), (y, x))
    for inc in (False, True):
        check(lambda a, inc=inc: fnp.cumulative_sum(a, axis=1, include_initial=inc),
              lambda a, inc=inc: np.cumulative_sum(a, axis=1, include_initial=inc), (y,))
        check(lambda a, inc=inc: fnp.cumulative_prod(a, axis=0, include_initial=inc),
              lambda a, inc=inc: np.cumulative_prod(a, axis=0, include_initial=inc), (y,))
    check(lambda a: fnp.cumulative_sum(a), lambda a: np.cumulative_sum(a),
          (np.arange(5, dtype=np.int32),))
    with pytest.raises(ValueError, match="axis"):
        fnp.cumulative_sum(y)


@SETTINGS
@given(data=st.data())
def test_interp(data):
    xp = np.unique(data.draw(arrays(np.float64, st.integers(1, 7).map(lambda n: (n,)), -3, 3)))
    fp = data.draw(arrays(np.float64, xp.shape, -3, 3))
    x = data.draw(arrays(np.float64, shapes, -4, 4))
    x = np.concatenate([np.ravel(x), xp])  # the knots themselves too
    check(fnp.interp, np.interp, (x, xp, fp))
    check(lambda a, b, c: fnp.interp(a, b, c, left=-9.0, right=9.0),
          lambda a, b, c: np.interp(a, b, c, left=-9.0, right=9.0), (x, xp, fp))
    # knots that coincide modulo the period leave the order of their values to the sort
    # (NumPy's is not stable): no case of its own
    if len(xp) > 1 and len(np.unique(np.remainder(xp, 4.0))) == len(xp):
        check(lambda a, b, c: fnp.interp(a, b, c, period=4.0),
              lambda a, b, c: np.interp(a, b, c, period=4.0), (x, xp, fp))


def test_interp_grad_and_dtype():
    xp, fp = np.array([0.0, 1.0, 3.0]), np.array([1.0, -1.0, 2.0])
    check_grads(lambda x, f: fnp.interp(x, xp, f), (np.array([0.3, 2.5]), fp))
    out = fnp.interp(np.float32(0.5), xp.astype(np.float32), fp.astype(np.float32))
    assert out.dtype == np.float32  # float32 inputs stay float32 (NumPy would give float64)


EDGE = np.array([0.0, -0.0, 1.0, -1.5, 0.5, 2.0, 3.0, 1e-310, -1e-310, 5e-324, 1.7e308,
                 -1.7e308, np.inf, -np.inf, np.nan, 123.456, -7.25])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_bit_helpers(dtype):
    with np.errstate(all="ignore"):
        x = EDGE.astype(dtype)
    y = np.roll(x, 3)
    for name in ("signbit", "spacing", "fabs", "isposinf", "isneginf"):
        check(getattr(fnp, name), getattr(np, name), (x,))
    for name in ("copysign", "nextafter", "heaviside"):
        check(getattr(fnp, name), getattr(np, name), (x, y))
    check(fnp.frexp, np.frexp, (x,))
    check(fnp.modf, np.modf, (x,))
    e = np.array([0, 1, -1, 5, -1074, 1100, -2000, 2000, 3, -3, 10, 0, 1, -1, 2, 3, -4],
                 np.int32)
    check(fnp.ldexp, np.ldexp, (x, e))
    m, ex = fnp.frexp(x)
    assert_same(fnp.ldexp(m, ex), x)


@SETTINGS
@given(data=st.data())
def test_elementwise_extras(data):
    dtype = data.draw(st.sampled_from([np.float32, np.float64, np.int32]))
    x = data.draw(arrays(dtype, shapes, -8, 8))
    for name in ("deg2rad", "rad2deg", "radians", "degrees", "sinc", "i0", "angle", "real",
                 "imag", "conj", "conjugate", "iscomplex", "isreal", "fabs"):
        check(getattr(fnp, name), getattr(np, name), (x,), rtol=1e-5 if name == "i0" else None)
    check(fnp.nan_to_num, np.nan_to_num, (x,))
    check(lambda a: fnp.nan_to_num(a, nan=1.0, posinf=2.0, neginf=-2.0),
          lambda a: np.nan_to_num(a, nan=1.0, posinf=2.0, neginf=-2.0), (x,))
    assert fnp.iscomplexobj(x) == np.iscomplexobj(x) and fnp.isrealobj(x) == np.isrealobj(x)


def test_isposinf_isneginf_refuse_complex():
    """A complex infinity has no sign: NumPy and JAX raise, and so does fnad."""
    z = np.array([np.inf + 0j, 1 + 1j])
    for fn in (fnp.isposinf, fnp.isneginf):
        with pytest.raises(fnad.FnadError, match="complex"):
            fn(z)
    x = np.array([np.inf, -np.inf, np.nan, 1.0])
    check(fnp.isposinf, np.isposinf, (x,))
    check(fnp.isneginf, np.isneginf, (x,))


def test_sinc_complex():
    """Complex input stays complex (it lost its imaginary part, as float64)."""
    z = np.array([1 + 2j, -0.5j, 0, 3 - 1j, 0.1 + 0.1j, 1e-9j])
    check(fnp.sinc, np.sinc, (z,))
    check(fnp.sinc, np.sinc, (z.astype(np.complex64),), rtol=2e-5, atol=1e-6)
    check_grads(fnp.sinc, (z,), order=2)


def test_nan_to_num_specials_and_sinc_i0_grads():
    x = np.array([np.nan, np.inf, -np.inf, 1.0], np.float32)
    check(fnp.nan_to_num, np.nan_to_num, (x,))
    check_grads(fnp.sinc, (np.array([0.0, 0.3, -1.7, 1e-9]),), order=3)
    # sinc''(0) = -pi^2 / 3: the Maclaurin branch is smooth at 0
    second = fnad.grad(fnad.grad(fnp.sinc))(0.0)
    np.testing.assert_allclose(second, -np.pi ** 2 / 3, rtol=1e-6)
    z = np.array([0.1, -2.0, 7.5, 150.0])
    check_grads(fnp.i0, (z,), order=2)
    np.testing.assert_allclose(fnad.grad(lambda v: fnp.sum(fnp.i0(v)))(z), scipy.special.i1(z),
                               rtol=1e-10)
    check_grads(lambda a, b: fnp.copysign(a, b), (np.array([1.5, -2.0]), np.array([-1.0, 3.0])))
    check_grads(lambda a: fnp.ldexp(a, np.array([3, -2])), (np.array([1.5, -2.0]),))
    check_vmap(fnp.spacing, (np.array([[1.0, -2.0], [0.0, 1e300]]),))


@SETTINGS
@given(data=st.data())
def test_gcd_lcm_bitcount(data):
    x = data.draw(arrays(np.int32, shapes, -60, 60))
    y = data.draw(arrays(np.int32, x.shape, -60, 60))
    check(fnp.gcd, np.gcd, (x, y))
    check(fnp.lcm, np.lcm, (x, y))
    check(fnp.bitwise_count, np.bitwise_count, (x,))
    s = data.draw(arrays(np.int32, x.shape, 0, 5))
    check(fnp.bitwise_left_shift, np.bitwise_left_shift, (x, s))
    check(fnp.bitwise_right_shift, np.bitwise_right_shift, (x, s))
    check_vmap(fnp.gcd, (np.array([[12, 18], [7, 0]]), np.array([[8, 27], [21, 0]])))


def test_diff_float_scalar_ends_of_an_integer_array():
    """A Python float joined to an integer array promotes it (it was cast to int: 1.5 -> 1)."""
    x = np.array([[3, 1, 2], [0, -4, 7]], np.int32)
    for kw in ({"append": 1.5}, {"prepend": -0.25, "append": 2.5}, {"prepend": 0.5, "n": 2}):
        check(lambda a, kw=kw: fnp.diff(a, **kw), lambda a, kw=kw: np.diff(a, **kw), (x,))
    check(lambda a: fnp.diff(a, axis=0, append=1.5), lambda a: np.diff(a, axis=0, append=1.5),
          (x,))


@pytest.mark.parametrize("fn", ["gcd", "lcm"])
def test_gcd_lcm_broadcast(fn):
    """A scalar or lower-rank operand broadcasts (Euclid's loop carries one shape)."""
    x = np.array([[7, -12, 0], [9, 30, -4]], np.int32)
    for a, b in [(x, 6), (4, x), (x, np.int32(-6)), (x[:, :1], x), (np.uint8(6), np.array([4, 9], np.uint8))]:
        check(getattr(fnp, fn), getattr(np, fn), (a, b))


def test_allclose_array_equal_equiv():
    a = np.array([1.0, np.nan, np.inf])
    b = np.array([1.0 + 1e-9, np.nan, np.inf])
    for en in (False, True):
        assert bool(fnp.allclose(a, b, equal_nan=en)) == np.allclose(a, b, equal_nan=en)
        assert bool(fnp.array_equal(a, a, equal_nan=en)) == np.array_equal(a, a, equal_nan=en)
    assert not bool(fnp.array_equal(np.ones(2), np.ones(3)))
    assert bool(fnp.array_equiv(np.ones((2, 3)), np.ones(3)))
    assert not bool(fnp.array_equiv(np.ones((2, 3)), np.ones(2)))
    assert bool(fnad.jit(fnp.allclose)(np.ones(3), np.ones(3) + 1e-7))


def test_unwrap():
    rng = np.random.default_rng(2)
    p = np.cumsum(rng.uniform(-4, 4, size=(3, 9)), axis=1)
    check(fnp.unwrap, np.unwrap, (p,))
    check(lambda a: fnp.unwrap(a, axis=0), lambda a: np.unwrap(a, axis=0), (p,))
    check(lambda a: fnp.unwrap(a, period=6.0, discont=4.0),
          lambda a: np.unwrap(a, period=6.0, discont=4.0), (p,))
    check(fnp.unwrap, np.unwrap, (np.array([0, 5, 10, -3]),))
    check_grads(fnp.unwrap, (p[0] / 3,), order=1)


def test_interp_derivative_at_the_last_knot_is_the_last_slope():
    """At x == xp[-1] the value is fp[-1] exactly and the derivative the last interval's
    slope (JAX's), not 0; a repeated last knot has no slope."""
    xp, fp = np.array([-1.0, 0.0, 2.0]), np.array([0.0, 1.0, 5.0])
    x = np.array([2.0, 0.0, 1.0])
    assert fnp.interp(x, xp, fp)[0] == 5.0
    np.testing.assert_allclose(fnad.grad(lambda v: fnp.sum(fnp.interp(v, xp, fp)))(x),
                               [2.0, 2.0, 2.0])
    g = fnad.grad(lambda v: fnp.sum(fnp.interp(v, np.array([0.0, 1.0, 1.0]),
                                               np.array([0.0, 3.0, 4.0]))))(np.array([1.0]))
    assert np.all(np.isfinite(g))


def test_interp_keeps_a_complex_fp():
    """Complex fp values interpolate their real and imaginary parts, as NumPy and JAX (the
    imaginary part was dropped)."""
    xp = np.array([0.0, 1.0, 2.0, 4.0], np.float32)
    fp = np.array([1 + 0j, 3 + 2j, 2 - 1j, 1j], np.complex64)
    x = np.array([-1.0, 0.0, 0.5, 3.0, 5.0], np.float32)
    for kw in ({}, {"left": 1j, "right": 2.0}, {"period": 3.0}):
        got = fnp.interp(x, xp, fp, **kw)
        assert got.dtype == np.complex64
        np.testing.assert_allclose(got, np.interp(x, xp, fp, **kw), rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_signbit_of_a_negative_nan(dtype):
    """The sign bit of -NaN is set, as NumPy and JAX read it (fnad said False), and
    copysign takes it."""
    x = np.array([-np.nan, np.nan, -0.0, 0.0, -1.0, np.inf, -np.inf], dtype)
    np.testing.assert_array_equal(fnp.signbit(x), np.signbit(x))
    np.testing.assert_array_equal(fnad.jit(fnp.signbit)(x), np.signbit(x))
    np.testing.assert_array_equal(fnp.copysign(dtype(2), x), np.copysign(dtype(2), x))
