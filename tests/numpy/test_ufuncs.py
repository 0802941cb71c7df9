"""fnad.numpy's elementwise functions against NumPy: values and output dtypes (weak
Python scalars included), eagerly and staged; derivatives of the composite ones."""

from __future__ import annotations

import numpy as np
import pytest
from fnp_cases import ALL, FLOATS, NUMERIC, arrays, assert_same, check, shapes
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import fnad
import fnad.numpy as fnp
from fnad.core.errors import DTypeError
from fnad.test_util import check_grads, check_vmap

SETTINGS = settings(max_examples=15, deadline=None)

# name, domain (lo, hi), dtypes
UNARY = [
    ("negative", (-5, 5), NUMERIC), ("positive", (-5, 5), NUMERIC),
    ("absolute", (-5, 5), ALL), ("abs", (-5, 5), NUMERIC), ("sign", (-5, 5), NUMERIC),
    ("floor", (-5, 5), ALL), ("ceil", (-5, 5), ALL), ("trunc", (-5, 5), NUMERIC),
    ("rint", (-5, 5), ALL), ("square", (-5, 5), ALL), ("reciprocal", (0.5, 4), NUMERIC),
    ("exp", (-5, 5), ALL), ("exp2", (-5, 5), NUMERIC), ("expm1", (-5, 5), NUMERIC),
    ("log", (0.1, 10), NUMERIC), ("log1p", (-0.5, 10), NUMERIC), ("log2", (0.1, 10), NUMERIC),
    ("log10", (0.1, 10), NUMERIC), ("sqrt", (0, 10), ALL), ("cbrt", (-10, 10), NUMERIC),
    ("sin", (-5, 5), ALL), ("cos", (-5, 5), NUMERIC), ("tan", (-1.2, 1.2), NUMERIC),
    ("arcsin", (-0.99, 0.99), NUMERIC), ("arccos", (-0.99, 0.99), NUMERIC),
    ("arctan", (-5, 5), NUMERIC), ("sinh", (-3, 3), NUMERIC), ("cosh", (-3, 3), NUMERIC),
    ("tanh", (-5, 5), NUMERIC), ("arcsinh", (-5, 5), NUMERIC), ("arccosh", (1.01, 10), NUMERIC),
    ("arctanh", (-0.99, 0.99), NUMERIC), ("logical_not", (-2, 2), ALL),
    ("invert", (-100, 100), (np.int32, np.bool_)),
    ("isnan", (-5, 5), ALL), ("isinf", (-5, 5), ALL), ("isfinite", (-5, 5), ALL),
]
ALIASES = {"abs": np.abs}


@pytest.mark.parametrize("name,domain,dtypes", UNARY, ids=[c[0] for c in UNARY])
@SETTINGS
@given(data=st.data())
def test_unary(name, domain, dtypes, data):
    dtype = data.draw(st.sampled_from(dtypes))
    x = data.draw(arrays(dtype, shapes, *domain))
    check(getattr(fnp, name), ALIASES.get(name, getattr(np, name)), (x,))


@pytest.mark.parametrize("name", ["isnan", "isinf", "isfinite", "sign", "absolute", "floor"])
@SETTINGS
@given(data=st.data())
def test_unary_special_values(name, data):
    x = data.draw(arrays(data.draw(st.sampled_from(FLOATS)), shapes, special=True))
    check(getattr(fnp, name), getattr(np, name), (x,))


DIVISORS = dict(nonzero=True)
# name, domain of x, domain of y (extra keywords for `arrays`), dtypes
BINARY = [
    ("add", (-5, 5), {}, ALL), ("subtract", (-5, 5), {}, NUMERIC),
    ("multiply", (-5, 5), {}, ALL), ("divide", (-5, 5), DIVISORS, NUMERIC),
    ("true_divide", (-5, 5), DIVISORS, NUMERIC),
    ("floor_divide", (-9, 9), DIVISORS, NUMERIC), ("remainder", (-9, 9), DIVISORS, NUMERIC),
    ("mod", (-9, 9), DIVISORS, NUMERIC), ("fmod", (-9, 9), DIVISORS, NUMERIC),
    ("power", (0.5, 3), {"lo": 0, "hi": 3}, NUMERIC),
    ("float_power", (0.5, 3), {"lo": -2, "hi": 2}, FLOATS),
    ("maximum", (-5, 5), {}, ALL), ("minimum", (-5, 5), {}, ALL),
    ("fmax", (-5, 5), {}, NUMERIC), ("fmin", (-5, 5), {}, NUMERIC),
    ("hypot", (-5, 5), {}, NUMERIC), ("arctan2", (-5, 5), {}, NUMERIC),
    ("logaddexp", (-5, 5), {}, NUMERIC), ("logaddexp2", (-5, 5), {}, NUMERIC),
    ("equal", (-2, 2), {"lo": -2, "hi": 2}, ALL), ("not_equal", (-2, 2), {"lo": -2, "hi": 2}, ALL),
    ("less", (-2, 2), {"lo": -2, "hi": 2}, ALL), ("less_equal", (-2, 2), {"lo": -2, "hi": 2}, ALL),
    ("greater", (-2, 2), {"lo": -2, "hi": 2}, ALL),
    ("greater_equal", (-2, 2), {"lo": -2, "hi": 2}, ALL),
    ("logical_and", (-2, 2), {}, ALL), ("logical_or", (-2, 2), {}, ALL),
    ("logical_xor", (-2, 2), {}, ALL),
    ("bitwise_and", (-100, 100), {}, (np.int32, np.bool_)),
    ("bitwise_or", (-100, 100), {}, (np.int32, np.bool_)),
    ("bitwise_xor", (-100, 100), {}, (np.int32, np.bool_)),
    ("left_shift", (-1000, 1000), {"lo": 0, "hi": 20}, (np.int32,)),
    ("right_shift", (-1000, 1000), {"lo": 0, "hi": 20}, (np.int32,)),
]


@pytest.mark.parametrize("name,xdom,ykw,dtypes", BINARY, ids=[c[0] for c in BINARY])
@SETTINGS
@given(data=st.data())
def test_binary(name, xdom, ykw, dtypes, data):
    """Broadcast shapes and mixed dtypes (NumPy's promotion), or a weak Python scalar."""
    (sx, sy), _ = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3,
                                                              max_side=3))
    dx, dy = data.draw(st.sampled_from(dtypes)), data.draw(st.sampled_from(dtypes))
    x = data.draw(arrays(dx, sx, *xdom))
    y = data.draw(arrays(dy, sy, **ykw))
    fnp_fn, np_fn = getattr(fnp, name), getattr(np, name)
    if data.draw(st.booleans()):  # y as a weak Python scalar of its kind, closed over
        y = y.reshape(-1)[0].item() if y.size else {"b": True, "i": 1}.get(y.dtype.kind, 1.0)
        check(lambda a: fnp_fn(a, y), lambda a: np_fn(a, y), (x,))
    else:
        check(fnp_fn, np_fn, (x, y))


def test_power_python_int_exponents():
    x = np.array([0.5, -1.5, 2.0], np.float32)
    for k in (-2, 0, 1, 3):
        check(lambda a, k=k: fnp.power(a, k), lambda a, k=k: np.power(a, k), (x,))
    check(lambda a: fnp.power(a, 3), lambda a: np.power(a, 3), (np.arange(-3, 3, dtype=np.int32),))
    with pytest.raises(ValueError, match="negative"):
        fnp.power(np.arange(3, dtype=np.int32), -1)


def test_integer_array_powers_wrap_around():
    """Integer powers multiply in their dtype, so overflow wraps as NumPy's does (they were
    computed in float64 and saturated: 200 ** 3 in uint8 gave 255)."""
    u = np.array([0, 1, 200, 255, 7], np.uint8)
    check(fnp.power, np.power, (u, np.array([3, 5, 3, 2, 0], np.uint8)))
    check(fnp.power, np.power, (u, np.uint8(3)))
    a = np.array([[7, -7, 0, 3, 5], [-2, 3, 2, -3, 1]], np.int32)
    check(fnp.power, np.power, (a, np.array([2, 3, 1, 40, 31], np.int32)))
    check(fnp.power, np.power, (np.array([2, 3, -5]), np.array([62, 39, 27])))
    check(fnp.power, np.power, (np.int8(-3), np.array([5, 0, 7], np.int8)))


def test_integer_array_powers_with_negative_exponents_truncate():
    """x ** -n of integer arrays is 1 / x**n truncated toward zero, as JAX: 2 ** -1 is 0 (it
    was rounded to 1) and 0 ** -1 is 0 (it was inf converted: 2147483647)."""
    x = np.array([2, 1, -1, 0, -2, 3, -1, 1], np.int32)
    y = np.array([-1, -2, -3, -1, -2, -1, -2, -7], np.int32)
    want = np.array([0, 1, -1, 0, 0, 0, 1, 1], np.int32)
    np.testing.assert_array_equal(fnp.power(x, y), want)
    np.testing.assert_array_equal(fnad.jit(fnp.power)(x, y), want)


def test_floor_divide_derivative_is_zero():
    """Piecewise constant: 0 everywhere, x / 0 included (it leaked -x / y**2 there)."""
    x = np.array([2.5, -3.0, 0.0, 7.0, np.inf, 1.0])
    y = np.array([0.7, 2.0, 0.0, 0.0, -1.0, -np.inf])
    check_grads(fnp.floor_divide, (x[:2], y[:2]), order=2)
    for argnum in (0, 1):
        g = fnad.grad(lambda a, b: fnp.sum(fnp.floor_divide(a, b)), argnum)(x, y)
        np.testing.assert_array_equal(g, np.zeros_like(x))
        g = fnad.grad(lambda a, b: fnp.sum(fnp.divmod(a, b)[0]), argnum)(x, y)
        np.testing.assert_array_equal(g, np.zeros_like(x))


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_complex_sign_rounding_isinf(dtype):
    """sign, rint, round and isinf take complex input, as NumPy's and JAX's (they raised)."""
    z = np.array([[1 + 2j, -0.5j, 0, 3 - 1j], [2.5 + 3.5j, -1.5 - 0.25j, 7j, -4.0]], dtype)
    tol = dict(rtol=2e-5, atol=1e-6) if dtype == np.complex64 else {}
    for name in ("sign", "rint", "round", "around"):
        check(getattr(fnp, name), getattr(np, name), (z,), **tol)
    check(lambda a: fnp.round(a, 1), lambda a: np.round(a, 1), (z * 1.37,), **tol)
    special = np.array([np.inf + 0j, complex(0, -np.inf), complex(np.nan, 1), 1 + 1j], dtype)
    check(fnp.isinf, np.isinf, (special,))
    check(fnp.isinf, np.isinf, (z,))


def test_scalar_only_operands_default_to_float32_int32():
    assert fnp.add(1.5, 2).dtype == np.float32
    assert fnp.multiply(2, 3).dtype == np.int32
    assert fnp.sin(1).dtype == np.float64  # an int32 operand: NumPy's sin loop is float64


@SETTINGS
@given(data=st.data())
def test_clip(data):
    dtype = data.draw(st.sampled_from(NUMERIC))
    x = data.draw(arrays(dtype, shapes))
    lo = data.draw(st.sampled_from([None, -1, -1.5]))
    hi = data.draw(st.sampled_from([None, 2, 2.5]) if lo is not None else st.sampled_from([2]))
    check(lambda a: fnp.clip(a, lo, hi), lambda a: np.clip(a, lo, hi), (x,))
    check(fnp.clip, np.clip, (x, np.zeros(x.shape[-1:], dtype), np.float32(3)))


@SETTINGS
@given(data=st.data())
def test_where(data):
    (sc, sx, sy), _ = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3,
                                                                  max_side=3))
    c = data.draw(arrays(data.draw(st.sampled_from(ALL)), sc, -1, 1))
    x = data.draw(arrays(data.draw(st.sampled_from(ALL)), sx))
    y = data.draw(arrays(data.draw(st.sampled_from(ALL)), sy))
    check(fnp.where, np.where, (c, x, y))
    check(lambda c_, x_: fnp.where(c_, x_, 0.5), lambda c_, x_: np.where(c_, x_, 0.5), (c, x))


@SETTINGS
@given(data=st.data())
def test_round_and_isclose(data):
    dtype = data.draw(st.sampled_from(NUMERIC))
    x = data.draw(arrays(dtype, shapes, -500, 500))
    decimals = data.draw(st.integers(-2, 3))
    check(lambda a: fnp.round(a, decimals), lambda a: np.round(a, decimals), (x,))
    y = data.draw(arrays(dtype, x.shape, -500, 500))
    check(fnp.isclose, np.isclose, (x, y))
    check(fnp.isclose, np.isclose, (x, x))


def test_round_integers_half_to_even():
    x = np.array([25, 15, -25, -15, 14, 16, -16, 35, 250, -149], np.int32)
    for decimals in (-1, -2, 0, 1):
        check(lambda a, d=decimals: fnp.round(a, d), lambda a, d=decimals: np.round(a, d), (x,))


def test_divmod_and_zero_divisor_floats():
    x = np.array([-7.5, 7.0, 1.0, -1.0, 0.0], np.float64)
    y = np.array([2.0, -2.0, 0.1, 0.0, 3.0], np.float64)
    check(lambda a, b: fnp.divmod(a, b), lambda a, b: np.divmod(a, b), (x, y))


def test_unsupported_dtype_is_a_clear_error():
    with pytest.raises(DTypeError, match="negative"):
        fnp.negative(np.array([True]))
    with pytest.raises(TypeError, match="both x and y"):
        fnp.where(np.array([True]), 1.0)  # the one-argument form is nonzero (test_sets)


GRAD_CASES = [
    ("logaddexp", lambda x, y: fnp.logaddexp(x, y), 2),
    ("logaddexp tie", lambda x, y: fnp.logaddexp(x, x), 2),
    ("hypot", fnp.hypot, 2), ("floor_divide*x", lambda x, y: fnp.remainder(x, 7.0) * y, 2),
    ("power", lambda x, y: fnp.power(fnp.abs(x) + 1, y), 2),
    ("where", lambda x, y: fnp.where(x > 0, x * y, fnp.sin(y)), 2),
    ("clip", lambda x, y: fnp.clip(x, -0.5, 0.5) * y, 2), ("log2", lambda x, y: fnp.log2(x * x + 1) + y, 2),
]


@pytest.mark.parametrize("name,f,order", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_grads(name, f, order):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((2, 3)), rng.standard_normal((3,))
    check_grads(f, (x, y), order=order)


@pytest.mark.parametrize("in_axes", [(0, 0), (1, None), (None, -1), (-1, 0)])
def test_vmap(in_axes):
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((3, 3)), rng.standard_normal((3, 3))
    for f in (fnp.logaddexp, fnp.floor_divide, lambda a, b: fnp.where(a > b, a, 2.0)):
        check_vmap(f, (x, y), in_axes=in_axes)


def test_float_list_defaults_to_float32():
    assert_same(fnp.asarray([1.0, 2.0]), np.array([1.0, 2.0], np.float32))
    assert_same(fnp.asarray([[1, 2]]), np.array([[1, 2]], np.int32))
    assert_same(fnp.asarray(np.float64(1.5)), np.float64(1.5))


@pytest.mark.parametrize("name,dtype", [("sin", np.float32), ("exp", np.float64),
                                        ("add", np.float32), ("floor_divide", np.float64),
                                        ("power", np.float64), ("less", np.bool_)])
def test_dtype_argument_picks_numpys_loop(name, dtype):
    x, y = np.arange(1, 5, dtype=np.int32), np.arange(4, 0, -1, dtype=np.int32)
    f, g = getattr(fnp, name), getattr(np, name)
    args = (x,) if g.nin == 1 else (x, y)
    check(lambda *a: f(*a, dtype=dtype), lambda *a: g(*a, dtype=dtype), args)


def test_hypot_neither_overflows_nor_underflows_and_has_jax_derivatives_at_zero():
    x = np.array([3e200, 0.0, np.inf, np.nan, np.nan, 1e-300, -3.0, 0.0])
    y = np.array([4e200, 0.0, np.nan, 1.0, np.inf, 1e-300, 4.0, -0.0])
    for f in (fnp.hypot, fnad.jit(fnp.hypot)):
        np.testing.assert_allclose(f(x, y), np.hypot(x, y), rtol=1e-15)  # NaN where NumPy's
    # at (0, 0) each operand gets 1/2 through the max/min tie (JAX's), not sqrt's NaN
    gx, gy = fnad.grad(lambda a, b: fnp.sum(fnp.hypot(a, b)), argnums=(0, 1))(
        np.array([0.0, 3.0]), np.array([0.0, -4.0]))
    np.testing.assert_allclose(gx, [0.5, 0.6])
    np.testing.assert_allclose(gy, [0.5, -0.8])


def test_hypot_second_derivatives_are_right_where_the_operands_tie():
    # max/min of |x|, |y| must not leak a tie's 1/2 split into second derivatives
    x = np.array([2.0, -1.5, 0.3])
    check_grads(fnp.hypot, (x, x), order=2)
    check_grads(lambda a: fnp.hypot(a, -x), (x,), order=3)
    h = fnad.hessian(lambda a: fnp.hypot(a, 2.0))(np.float64(2.0))
    np.testing.assert_allclose(h, 4.0 / 8.0 ** 1.5)  # y**2 / (x**2 + y**2)**1.5


def test_fmax_fmin_ties_go_to_the_second_operand_as_in_jax():
    x, y = np.array([1.0, 2.0, 0.0, np.nan, 1.0]), np.array([1.0, 1.0, 3.0, 1.0, np.nan])
    for f, np_f, x_grad in ((fnp.fmax, np.fmax, [0, 1, 0, 0, 1]),
                            (fnp.fmin, np.fmin, [0, 0, 1, 0, 1])):
        assert np.array_equal(f(x, y), np_f(x, y), equal_nan=True)
        gx, gy = fnad.grad(lambda a, b, f=f: fnp.sum(f(a, b)), argnums=(0, 1))(x, y)
        np.testing.assert_array_equal(gx, x_grad)
        np.testing.assert_array_equal(gx + gy, 1.0)


def test_real_if_close_is_numpys():
    cases = [np.array([2.1 + 4e-14j, 5.2 + 3e-15j]), np.array([2.1 + 4e-10j]),
             np.array([1.0, 2.0]), np.array([1 + 1e-7j], np.complex64),
             np.array([1 + 1e-5j], np.complex64)]
    for v in cases:
        assert_same(fnp.real_if_close(v), np.real_if_close(v))
    assert_same(fnp.real_if_close(np.array([1 + 1e-3j]), tol=0.01),
                np.real_if_close(np.array([1 + 1e-3j]), tol=0.01))
    check_grads(fnp.real_if_close, (np.array([0.4 + 0.1j, 0.3]),), order=2)
    check_grads(lambda x: fnp.real_if_close(x * (1 + 0j)), (np.array([0.4, 0.3]),), order=2)
    with pytest.raises(fnad.ConcretizationError):
        fnad.jit(fnp.real_if_close)(np.array([1 + 0j]))


def test_complex_parts_with_infinities_are_exact():
    """imag, conj and lax.complex went through a product with 1j, where an infinite part
    met a zero (inf * 0 = NaN): abs(inf + 0j) was NaN, imag(0 + inf j) NaN, and so on."""
    from fnad import lax

    z = np.array([np.inf + 0j, complex(0, np.inf), complex(np.inf, -np.inf),
                  complex(np.nan, 1), 3 + 4j, complex(-np.inf, 2), complex(np.inf, np.nan)])
    for dtype in (np.complex64, np.complex128):
        zz = z.astype(dtype)
        for fn, ref in [(fnp.abs, np.abs), (fnp.imag, np.imag), (fnp.real, np.real),
                        (fnp.conj, np.conj), (fnp.angle, np.angle),
                        (fnp.iscomplex, np.iscomplex), (fnp.isreal, np.isreal),
                        (fnp.nan_to_num, np.nan_to_num)]:
            got = fn(zz)
            np.testing.assert_array_equal(got, ref(zz))
            assert got.dtype == ref(zz).dtype, fn
            np.testing.assert_array_equal(fnad.jit(fn)(zz), ref(zz))
    parts = lax.complex(np.array([np.inf, 1.0, np.nan]), np.array([0.0, np.inf, 2.0]))
    np.testing.assert_array_equal(parts.real, [np.inf, 1.0, np.nan])
    np.testing.assert_array_equal(parts.imag, [0.0, np.inf, 2.0])
    # |z| has derivative 0 at 0, as JAX's (the tie of the parts' magnitudes split it)
    np.testing.assert_array_equal(fnad.grad(lambda v: fnp.abs(v).sum())(np.zeros(2, complex)),
                                  [0, 0])


def test_i0_refuses_complex_as_jax():
    """It converted complex input to float, silently keeping the real part."""
    with pytest.raises(fnad.DTypeError, match="complex"):
        fnp.i0(np.array([1 + 1j]))
