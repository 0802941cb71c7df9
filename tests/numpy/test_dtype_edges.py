"""fnad.numpy's elementwise functions against NumPy's over a dtype x edge-value matrix:
bool, 8- to 64-bit integers (their minimum and maximum included), float16 to float64
(signed zeros, subnormals, the largest finite values, +-inf, NaN) and complex. Result
dtypes are NumPy's exactly, values agree to a few ulps, and no NumPy warning escapes.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import fnad
import fnad.numpy as fnp
from fnad.test_util import check_grads

DTYPES = [np.dtype(t) for t in (np.bool_, np.int8, np.uint8, np.int16, np.uint32, np.int32,
                                np.int64, np.float16, np.float32, np.float64, np.complex64,
                                np.complex128)]


def edges(dt: np.dtype) -> np.ndarray:
    """The values where elementwise functions go wrong, for one dtype."""
    if dt.kind == "b":
        return np.array([False, True])
    if dt.kind in "iu":
        info = np.iinfo(dt)
        values = [0, 1, 2, 3, 7, 100, info.max, info.max - 1]
        if dt.kind == "i":
            values += [-1, -2, -3, -7, info.min, info.min + 1]
        return np.array(values, dt)
    if dt.kind == "f":
        fi = np.finfo(dt)
        return np.array([0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, 2.5, -2.5, 3.0, 0.9, -0.9, 30.0,
                         -30.0, np.inf, -np.inf, np.nan, fi.smallest_subnormal,
                         -fi.smallest_subnormal, fi.tiny, fi.max, -fi.max], dt)
    part = edges(np.dtype(np.float32 if dt == np.complex64 else np.float64))
    re, im = np.meshgrid(part[[0, 1, 2, 3, 4, 9, 14, 15, 16, 17, 20]],
                         part[[0, 1, 2, 3, 14, 15, 16, 20]])
    out = np.empty(re.size, dt)
    out.real, out.imag = re.ravel(), im.ravel()
    return out


def _ulps(dt: np.dtype) -> float:
    return 8 * float(np.finfo(dt).eps) if dt.kind in "fc" else 0.0


def assert_numpys(out: object, want: object, where: tuple) -> None:
    """Same dtype, shape and values (NaN where NumPy has NaN, a few ulps otherwise)."""
    out, want = np.asarray(out), np.asarray(want)
    assert out.dtype == want.dtype, (out.dtype, want.dtype)
    if want.dtype.kind in "fc":
        for part in (np.real, np.imag) if want.dtype.kind == "c" else (np.real,):
            o, w = part(out).astype(np.float64), part(want).astype(np.float64)
            with np.errstate(all="ignore"):
                bad = ~((o == w) | (np.isnan(o) & np.isnan(w))
                        | (np.abs(o - w) <= _ulps(want.dtype) * np.abs(w)))
            assert not bad.any(), (*(np.asarray(a)[bad] for a in where), o[bad], w[bad])
    else:
        bad = out != want
        assert not bad.any(), (*(np.asarray(a)[bad] for a in where), out[bad], want[bad])


def check(name: str, *args: np.ndarray) -> None:
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            want = getattr(np, name)(*args)
        except TypeError:  # NumPy has no loop for these dtypes: fnad says so clearly
            with pytest.raises(fnad.FnadError, match=name):
                getattr(fnp, name)(*args)
            return
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        out = getattr(fnp, name)(*args)
    for o, w in zip(*((v,) if not isinstance(v, tuple) else v for v in (out, want))):
        assert_numpys(o, w, args)


UNARY = """absolute fabs negative positive sign signbit floor ceil trunc rint square sqrt cbrt exp
exp2 expm1 log log2 log10 log1p sin cos tan arcsin arccos arctan sinh cosh tanh arcsinh
arccosh arctanh deg2rad rad2deg isnan isinf isfinite logical_not invert bitwise_count
spacing frexp modf angle""".split()


@pytest.mark.parametrize("dt", DTYPES, ids=str)
@pytest.mark.parametrize("name", UNARY)
def test_unary_is_numpys_at_edges(name: str, dt: np.dtype) -> None:
    x = edges(dt)
    if name == "sign" and dt.kind == "c":  # NumPy's |x| overflows there: sign 0 + 0j
        x = x[np.abs(x.real) != np.finfo(x.real.dtype).max]
    check(name, x)


BINARY = """add subtract multiply divide floor_divide remainder fmod maximum minimum fmax
fmin arctan2 hypot copysign nextafter logaddexp logaddexp2 heaviside equal not_equal less less_equal
greater greater_equal logical_and logical_or logical_xor bitwise_and bitwise_or bitwise_xor
gcd lcm""".split()


@pytest.mark.parametrize("dt", DTYPES, ids=str)
@pytest.mark.parametrize("name", BINARY)
def test_binary_is_numpys_at_edges(name: str, dt: np.dtype) -> None:
    e = edges(dt)
    check(name, np.repeat(e, len(e)), np.tile(e, len(e)))


@pytest.mark.parametrize("dt", [d for d in DTYPES if d.kind in "iu"], ids=str)
def test_integer_power_and_shifts_are_numpys(dt: np.dtype) -> None:
    e = edges(dt)
    bits = 8 * dt.itemsize
    check("power", np.repeat(e, 5), np.tile(np.array([0, 1, 2, 7, bits + 1], dt), len(e)))
    shifts = np.array([0, 1, 3, bits - 1], dt)
    for name in ("left_shift", "right_shift"):
        check(name, np.repeat(e, len(shifts)), np.tile(shifts, len(e)))


def test_i0_does_not_overflow_to_nan_at_the_largest_floats() -> None:
    big = np.finfo(np.float64).max
    np.testing.assert_array_equal(fnp.i0(np.array([big, -big])), [np.inf, np.inf])


def test_gcd_lcm_take_unsigned_magnitudes_and_wrap_as_numpy() -> None:
    a = np.array([127, 0, -128, 2, 100, -128, 126], np.int8)
    b = np.array([-128, -128, -128, 127, -127, 3, 127], np.int8)
    with np.errstate(all="ignore"):
        want_gcd, want_lcm = np.gcd(a, b), np.lcm(a, b)
    np.testing.assert_array_equal(fnp.gcd(a, b), want_gcd)
    np.testing.assert_array_equal(fnp.lcm(a, b), want_lcm)  # 126 * 127 wraps to -126


def test_narrowing_casts_overflow_to_inf_silently() -> None:
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        for x in (np.array([1e300, -1e300, 1e-300]), [1e300, -1e300, 1e-300]):
            np.testing.assert_array_equal(fnp.asarray(x, np.float32), [np.inf, -np.inf, 0])
        np.testing.assert_array_equal(fnp.asarray(1e300, np.float16), np.inf)
        np.testing.assert_array_equal(
            fnad.lax.convert_element_type(np.array([7e4, 1e-30]), np.float16), [np.inf, 0])


REDUCTIONS = """sum prod max min ptp cumsum cumprod nansum nanprod nanmax nanmin nancumsum
nancumprod argmax argmin all any count_nonzero""".split()


@pytest.mark.parametrize("dt", DTYPES, ids=str)
@pytest.mark.parametrize("name", REDUCTIONS)
def test_reductions_are_numpys_at_edges(name: str, dt: np.dtype) -> None:
    """inf - inf and inf * 0 inside a running sum or product are NaN, silently."""
    if (name, dt.kind) in (("argmax", "c"), ("argmin", "c"), ("ptp", "b")):
        pytest.skip("refused (as JAX's argmax of complex), by subtract for ptp of bool")
    e = edges(dt)
    for x in (e, e[::-1], e[:2]):
        check(name, x)


def _grads(f: object, x: np.ndarray) -> np.ndarray:
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        return np.asarray(fnad.vmap(fnad.grad(f))(x))


def test_i0_derivative_is_i1_at_zero() -> None:
    x = np.array([0.0, 0.5, -2.0])
    np.testing.assert_allclose(_grads(fnp.i0, x), [0.0, 0.25789430539089636,
                                                   -1.5906368546373295], rtol=1e-14)
    check_grads(fnp.i0, (np.array([0.3, -1.2]),), order=2)


def test_logit_and_entr_derivatives_at_their_edges() -> None:
    """logit' = 1 / (x (1 - x)): +-inf at 0 and 1; entr' = -(log x + 1): +inf at 0,
    -inf at inf, NaN outside the domain and at NaN (no longer 0 there)."""
    special = fnad.scipy.special
    x = np.array([0.0, -0.0, 1.0, 0.5, np.inf])
    np.testing.assert_array_equal(_grads(special.logit, x), [np.inf, -np.inf, np.inf, 4.0, -0.0])
    x = np.array([0.0, 1.0, np.inf, -1.0, np.nan])
    np.testing.assert_array_equal(_grads(special.entr, x), [np.inf, -1.0, -np.inf, np.nan, np.nan])


def test_logaddexp_derivatives_at_infinities() -> None:
    """x + y's derivatives where both are the same infinity, exp(y - x) = 0 beside an
    infinite x, NaN for a NaN operand."""
    for f in (fnp.logaddexp, fnp.logaddexp2):
        g = fnad.grad(f, (0, 1))
        for x, y, want in [(np.inf, np.inf, (1.0, 1.0)), (np.inf, 1.0, (1.0, 0.0)),
                           (1.0, 1.0, (0.5, 0.5)), (np.nan, 1.0, (np.nan, np.nan))]:
            with np.errstate(all="raise"):
                got = g(np.float64(x), np.float64(y))
            np.testing.assert_array_equal(np.array(got), want)


def test_complex_sign_of_huge_parts_does_not_overflow() -> None:
    for dt in (np.complex64, np.complex128):
        big = np.finfo(np.dtype(dt).char.lower()).max
        out = fnp.sign(np.array([complex(big, big)], dt))
        np.testing.assert_allclose(out, [np.sqrt(0.5) * (1 + 1j)], rtol=1e-6)
