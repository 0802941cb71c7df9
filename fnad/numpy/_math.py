"""More of NumPy's elementwise functions and array comparisons, composed from `fnad.lax`.

Floating-point bit helpers (copysign, frexp, ldexp, spacing, nextafter), integer
helpers (gcd, lcm, bit counts), angle conversions, classification, `nan_to_num`, `i0`,
`sinc`, `unwrap` and the whole-array comparisons (`allclose`, `array_equal`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from fnad import lax
from fnad.core.errors import ArgumentTypeError, DTypeError, check_no_out, user_line
from fnad.core.ir import get_aval
from fnad.lax import elementwise as ew
from fnad.lax.custom import custom_jvp
from fnad.numpy._core import (
    asarray,
    broadcast_to,
    broadcast_together,
    fresh,
    result_type,
    shape_of,
    ufunc_dtypes,
)
from fnad.numpy._reductions import all as _all
from fnad.numpy._ufuncs import (
    _ufunc,
    absolute,
    add,
    isclose,
    isnan,
    left_shift,
    less,
    remainder,
    right_shift,
    subtract,
    where,
)


def _float(x: Any) -> bool:
    return get_aval(x).dtype.kind == "f"


@_ufunc(np.signbit)
def signbit(x: Any) -> Any:
    """True where the sign bit is set: negatives, -0.0 and NaNs with the bit set (read from
    the bits, as NumPy and JAX)."""
    if not _float(x):
        return lax.lt(x, 0) if get_aval(x).dtype.kind == "i" else lax.ne(x, x)
    bits = lax.bitcast_convert_type(x, np.dtype(f"int{8 * get_aval(x).dtype.itemsize}"))
    return lax.lt(bits, lax.full_like(bits, 0))


@_ufunc(np.copysign)
def copysign(x1: Any, x2: Any) -> Any:
    """abs(x1) with the sign (bit) of x2."""
    mag = lax.abs(x1)
    return lax.select_n(signbit(x2), mag, lax.neg(mag))


nextafter = _ufunc(np.nextafter)(lambda x, y: lax.nextafter(x, y))


@_ufunc(np.spacing)
def spacing(x: Any) -> Any:
    """The distance from x to the next float away from zero (negative for x < 0, positive
    at -0.0); for float16 (NumPy's half loop, which JAX copies) the distance to the next
    float up, NaN at -inf as at inf."""
    inf, minus_inf = lax.full_like(x, np.inf), lax.full_like(x, -np.inf)
    down = lax.eq(x, -np.inf) if get_aval(x).dtype == np.float16 else lax.lt(x, 0)
    return lax.sub(lax.nextafter(x, lax.select_n(down, inf, minus_inf)), x)


def _pow2(e: Any, dtype: np.dtype, parts: int) -> list[Any]:
    """2**e as `parts` factors, each representable, so that even 2**-1074 * 2**1100 and
    other extreme products are computed without an intermediate overflow."""
    e = lax.convert_element_type(e, np.int64)
    out = []
    for k in range(parts, 0, -1):
        piece = lax.div(e, np.int64(k))
        out.append(lax.exp2(lax.convert_element_type(piece, dtype)))
        e = lax.sub(e, piece)
    return out


def ldexp(x1: Any, x2: Any) -> Any:
    """x1 * 2**x2 for integer x2, exact (no intermediate overflow or underflow).

    >>> ldexp(np.float32(3.0), np.int32(4))
    np.float32(48.0)
    """
    x1, x2 = asarray(x1), asarray(x2)
    dts = ufunc_dtypes(np.ldexp, (x1, x2))
    if get_aval(x2).dtype.kind not in "iub":
        raise ArgumentTypeError(f"ldexp needs an integer exponent, got {get_aval(x2).dtype}{user_line()}")
    x1 = lax.convert_element_type(x1, dts[0])
    fi = np.finfo(dts[0])
    limit = int(fi.maxexp - fi.minexp + fi.nmant + 2)
    e = lax.clamp(np.int64(-limit), lax.convert_element_type(x2, np.int64), np.int64(limit))
    x1, e = broadcast_together(x1, e)
    out = x1
    for factor in _pow2(e, dts[0], 3):
        out = lax.mul(out, factor)
    return out


def frexp(x: Any) -> tuple[Any, Any]:
    """(mantissa, exponent) with x = mantissa * 2**exponent and 0.5 <= abs(mantissa) < 1;
    zeros, infinities and NaNs give (x, 0). The exponent is int32, as in NumPy.

    >>> frexp(np.float64(8.0))
    (array(0.5), array(4, dtype=int32))
    """
    x = asarray(x)
    dt = ufunc_dtypes(np.frexp, (x,))[1]
    x = lax.convert_element_type(x, dt)
    special = lax.bitwise_or(lax.eq(x, 0), lax.bitwise_not(lax.is_finite(x)))
    ax = lax.select_n(special, lax.abs(x), lax.full_like(x, 1))
    e = lax.add(lax.floor(lax.div(lax.log(ax), np.asarray(np.log(2), dt))), np.asarray(1, dt))
    e = lax.convert_element_type(e, np.int32)
    m = ldexp(ax, lax.neg(e))
    for _ in range(2):  # the log may be one off near powers of two
        hi, lo = lax.ge(m, np.asarray(1, dt)), lax.lt(m, np.asarray(0.5, dt))
        m = lax.select_n(hi, lax.select_n(lo, m, lax.mul(m, np.asarray(2, dt))),
                         lax.mul(m, np.asarray(0.5, dt)))
        e = lax.add(e, lax.sub(lax.convert_element_type(hi, np.int32),
                               lax.convert_element_type(lo, np.int32)))
    m = copysign(m, x)
    return (lax.select_n(special, m, x),
            lax.select_n(special, e, lax.full_like(e, 0)))


def modf(x: Any, /, out: None = None) -> tuple[Any, Any]:
    """(fractional part, integral part), both with the sign of x.

    >>> modf(np.array([-2.5, 3.0]))
    (array([-0.5,  0. ]), array([-2.,  3.]))
    """
    if out is not None:
        check_no_out("modf", out)
    x = asarray(x)
    dt = ufunc_dtypes(np.modf, (x,))[1]
    x = lax.convert_element_type(x, dt)
    whole = lax.select_n(lax.lt(x, 0), lax.floor(x), lax.ceil(x))  # trunc
    finite = lax.is_finite(x)
    frac = lax.select_n(finite, lax.full_like(x, 0), lax.sub(x, whole))
    frac = lax.select_n(lax.ne(x, x), frac, x)
    return copysign(frac, x), whole


fabs = _ufunc(np.fabs)(lambda x: lax.abs(x))


@_ufunc(np.heaviside)
def heaviside(x1: Any, x2: Any) -> Any:
    """0 where x1 < 0, x2 where x1 == 0, 1 where x1 > 0 (NaN stays NaN)."""
    zero, one = lax.full_like(x1, 0), lax.full_like(x1, 1)
    out = lax.select_n(lax.lt(x1, 0), lax.select_n(lax.gt(x1, 0), x2, one), zero)
    return lax.select_n(lax.ne(x1, x1), out, x1)


deg2rad = radians = _ufunc(np.deg2rad, "deg2rad")(
    lambda x: lax.mul(x, np.asarray(np.pi / 180, get_aval(x).dtype)))
rad2deg = degrees = _ufunc(np.rad2deg, "rad2deg")(
    lambda x: lax.mul(x, np.asarray(180 / np.pi, get_aval(x).dtype)))


def sinc(x: Any) -> Any:
    """sin(pi x) / (pi x), 1 at 0 and smooth there to every derivative order (a Maclaurin
    polynomial near 0). Integers become float64, as in NumPy; complex x stays complex.

    >>> sinc(np.array([0.0, 0.5]))
    array([1.        , 0.63661977])
    """
    x = asarray(x)
    dt = get_aval(x).dtype if get_aval(x).dtype.kind in "fc" else np.dtype(np.float64)
    px = lax.mul(lax.convert_element_type(x, dt), np.asarray(np.pi, dt))
    small = lax.lt(absolute(px), 0.5)
    safe = lax.select_n(small, px, lax.full_like(px, 1))
    near = lax.select_n(small, lax.full_like(px, 0), px)
    sq = lax.mul(near, near)
    poly = np.asarray(0, dt)
    for k in range(9, 0, -1):  # 1 + sum_k (-1)^k y^2k / (2k + 1)!, Horner in y^2
        poly = lax.mul(lax.add(poly, np.asarray((-1) ** k / math.factorial(2 * k + 1), dt)), sq)
    return lax.select_n(small, lax.div(lax.sin(safe), safe), lax.add(poly, np.asarray(1, dt)))


# ------------------------------------------------------------------ integers


def _unsigned_abs(x: Any) -> Any:
    """|x| in the unsigned type of x's width, as NumPy's gcd and lcm take it: |INT_MIN|
    is representable there."""
    dt = get_aval(x).dtype
    if dt.kind != "i":
        return x
    return lax.convert_element_type(lax.abs(x), np.dtype(f"u{dt.itemsize}"))


def _euclid(a: Any, b: Any) -> Any:
    """gcd(|a|, |b|) by Euclid's algorithm on unsigned magnitudes, one while loop for the
    whole array (a rank-0 operand is broadcast first: the loop's carry keeps one shape)."""
    shape = np.broadcast_shapes(get_aval(a).shape, get_aval(b).shape)
    a, b = (broadcast_to(_unsigned_abs(v), shape) for v in (a, b))

    def body(ab: tuple[Any, Any]) -> tuple[Any, Any]:
        x, y = ab
        nz = lax.ne(y, 0)
        safe = lax.select_n(nz, lax.full_like(y, 1), y)
        return lax.select_n(nz, x, y), lax.select_n(nz, y, lax.rem(x, safe))

    def cond(ab: tuple[Any, Any]) -> Any:
        return lax.reduce_or(lax.ne(ab[1], 0), tuple(range(get_aval(ab[1]).ndim)))

    return lax.while_loop(cond, body, (a, b))[0]


@_ufunc(np.gcd)
def gcd(x1: Any, x2: Any) -> Any:
    """The greatest common divisor of abs(x1) and abs(x2) (0 for two zeros), computed on
    unsigned magnitudes and wrapped back, as NumPy's (gcd(-128, 0) of int8 is -128)."""
    return lax.convert_element_type(_euclid(x1, x2), get_aval(x1).dtype)


@_ufunc(np.lcm)
def lcm(x1: Any, x2: Any) -> Any:
    """The least common multiple of abs(x1) and abs(x2) (0 if either is 0): |x1| / gcd *
    |x2| on unsigned magnitudes, wrapping on overflow and back to x1's dtype, as NumPy's."""
    g = _euclid(x1, x2)
    zero = lax.eq(g, 0)
    q = lax.div(_unsigned_abs(x1), lax.select_n(zero, g, lax.full_like(g, 1)))
    out = lax.select_n(zero, lax.mul(q, _unsigned_abs(x2)), lax.full_like(g, 0))
    return lax.convert_element_type(out, get_aval(x1).dtype)


@_ufunc(np.bitwise_count)
def bitwise_count(x: Any) -> Any:
    """The number of 1 bits in abs(x) (uint8, as NumPy)."""
    return lax.population_count(lax.abs(x) if get_aval(x).dtype.kind == "i" else x)


bitwise_left_shift, bitwise_right_shift = left_shift, right_shift

# ------------------------------------------------------------------ complex parts

def real(val: Any) -> Any:
    """The real part (a float array for complex input; the array itself for real input).

    >>> real(np.array([1 + 2j]))
    array([1.])
    """
    return ew.real_part(asarray(val))


def imag(val: Any) -> Any:
    """The imaginary part (zeros of the input's dtype for real input)."""
    val = asarray(val)
    return ew.imag_part(val) if get_aval(val).dtype.kind == "c" else lax.full_like(val, 0)


def real_if_close(a: Any, tol: float = 100) -> Any:
    """NumPy's `real_if_close`: the real part when every imaginary part is below `tol`
    (in machine epsilons of the dtype when tol > 1), else `a` itself. The result's dtype
    depends on the values, so `a` must be concrete (eager code, or grad of it); under jit
    or vmap it is a ConcretizationError.

    >>> real_if_close(np.array([2.1 + 4e-15j, 5.2 + 3e-15j]))
    array([2.1, 5.2])
    """
    a = asarray(a)
    dtype = get_aval(a).dtype
    if dtype.kind != "c":
        return a
    if tol > 1:
        tol = np.finfo(dtype).eps * tol
    close = _all(lax.lt(lax.abs(ew.imag_part(a)), np.asarray(tol, ew.imag_part(a).dtype)))
    return ew.real_part(a) if bool(close) else a


def conjugate(x: Any) -> Any:
    """The complex conjugate (a copy for real input, as NumPy's ufunc gives)."""
    x = asarray(x)
    return fresh(ew.conj_value(x), x)


conj = conjugate


def angle(z: Any, deg: bool = False) -> Any:
    """The argument of each element, atan2(imag, real): for real input pi for negatives
    (and -0.0), 0 otherwise (in degrees if `deg`)."""
    from fnad.numpy._ufuncs import arctan2
    z = asarray(z)
    # a Python 0 for real input: NumPy's weak scalar makes bool input float64, not float16
    out = arctan2(imag(z), real(z)) if get_aval(z).dtype.kind == "c" else arctan2(0, z)
    return rad2deg(out) if deg else out


def iscomplex(x: Any) -> Any:
    """Elementwise: a nonzero imaginary part (always False for real input)."""
    x = asarray(x)
    if get_aval(x).dtype.kind == "c":
        return lax.ne(ew.imag_part(x), 0)
    return lax.full_like(x, False, np.bool_)


def isreal(x: Any) -> Any:
    """Elementwise: a zero imaginary part (always True for real input)."""
    return lax.bitwise_not(iscomplex(x))


def iscomplexobj(x: Any) -> bool:
    """Whether `x` has a complex dtype."""
    return np.dtype(result_type(x)).kind == "c"


def isrealobj(x: Any) -> bool:
    """Whether `x` has a non-complex dtype."""
    return not iscomplexobj(x)


def isposinf(x: Any, /, out: None = None) -> Any:
    """Elementwise x == +inf (False for non-float dtypes; complex x is an error, as in
    NumPy and JAX: a complex infinity has no sign)."""
    if out is not None:
        check_no_out("isposinf", out)
    x = asarray(x)
    if get_aval(x).dtype.kind == "c":
        raise DTypeError(f"isposinf is not defined for complex input ({get_aval(x).dtype})")
    return lax.eq(x, np.inf) if _float(x) else lax.full_like(x, False, np.bool_)


def isneginf(x: Any, /, out: None = None) -> Any:
    """Elementwise x == -inf (False for non-float dtypes; complex x is an error, as in
    NumPy and JAX: a complex infinity has no sign)."""
    if out is not None:
        check_no_out("isneginf", out)
    x = asarray(x)
    if get_aval(x).dtype.kind == "c":
        raise DTypeError(f"isneginf is not defined for complex input ({get_aval(x).dtype})")
    return lax.eq(x, -np.inf) if _float(x) else lax.full_like(x, False, np.bool_)


def nan_to_num(x: Any, copy: bool = True, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> Any:
    """NaN replaced by `nan`, +inf by `posinf` (default the dtype's largest finite value),
    -inf by `neginf` (default the most negative); other dtypes are returned unchanged.

    >>> nan_to_num(np.array([np.nan, np.inf, -1.0], np.float32))
    array([ 0.0000000e+00,  3.4028235e+38, -1.0000000e+00], dtype=float32)
    """
    del copy
    x = asarray(x)
    if get_aval(x).dtype.kind == "c":  # part by part, as NumPy
        parts = (ew.real_part(x), ew.imag_part(x))
        return lax.complex(*(nan_to_num(p, nan=nan, posinf=posinf, neginf=neginf)
                             for p in parts))
    if not _float(x):
        return fresh(x, x)  # NumPy copies (copy=True) even when there is nothing to change
    fi = np.finfo(get_aval(x).dtype)
    x = where(isnan(x), nan, x)
    x = where(lax.eq(x, np.inf), fi.max if posinf is None else posinf, x)
    return where(lax.eq(x, -np.inf), fi.min if neginf is None else neginf, x)


def i0(x: Any) -> Any:
    """The modified Bessel function of the first kind, order 0 (float64 for integers, as
    in NumPy); differentiable (its derivative is I1).

    >>> i0(np.array([0.0, 1.0]))
    array([1.        , 1.26606588])
    """
    x = asarray(x)
    if get_aval(x).dtype.kind == "c":  # it was converted, keeping the real part
        raise DTypeError(f"i0 does not take complex input (as in JAX){user_line()}")
    dt = get_aval(x).dtype if _float(x) else np.dtype(np.float64)
    return _i0(lax.convert_element_type(x, dt))


@custom_jvp
def _i0(x: Any) -> Any:
    """exp(|x|) i0e(x), whose derivative is I1 = exp(|x|) i1e(x): the product rule would
    give 1 at 0, from abs's one-sided derivative there."""
    return lax.mul(lax.exp(lax.abs(x)), lax.bessel_i0e(x))


@_i0.defjvp
def _i0_jvp(primals: Any, tangents: Any) -> Any:
    (x,), (t,) = primals, tangents
    return _i0(x), lax.mul(t, lax.mul(lax.exp(lax.abs(x)), lax.bessel_i1e(x)))


# ------------------------------------------------------------------ whole-array comparisons


def allclose(a: Any, b: Any, rtol: float = 1e-5, atol: float = 1e-8,
             equal_nan: bool = False) -> Any:
    """Whether every element of a is close to b (`isclose`), as a 0-d bool array.

    >>> bool(allclose(np.array([1.0, 2.0]), np.array([1.0, 2.0 + 1e-9])))
    True
    """
    return _all(isclose(a, b, rtol, atol, equal_nan))


def array_equal(a1: Any, a2: Any, equal_nan: bool = False) -> Any:
    """Whether the arrays have one shape and equal elements (a 0-d bool array).

    >>> bool(array_equal(np.arange(3), np.arange(3.0)))
    True
    """
    a1, a2 = asarray(a1), asarray(a2)
    if shape_of(a1) != shape_of(a2):
        return np.asarray(False)
    eq = lax.eq(*_common(a1, a2))
    if equal_nan:
        eq = lax.bitwise_or(eq, lax.bitwise_and(isnan(a1), isnan(a2)))
    return _all(eq)


def _common(a1: Any, a2: Any) -> tuple[Any, Any]:
    dt = result_type(a1, a2)
    return lax.convert_element_type(a1, dt), lax.convert_element_type(a2, dt)


def array_equiv(a1: Any, a2: Any) -> Any:
    """Whether the arrays broadcast together and are equal elementwise (a 0-d bool)."""
    a1, a2 = asarray(a1), asarray(a2)
    try:
        np.broadcast_shapes(shape_of(a1), shape_of(a2))
    except ValueError:
        return np.asarray(False)
    from fnad.numpy._ufuncs import equal
    return _all(equal(a1, a2))


# ------------------------------------------------------------------ unwrap


def unwrap(p: Any, discont: float | None = None, axis: int = -1,
           period: float = 2 * np.pi) -> Any:
    """`p` with jumps larger than `discont` (default period / 2) along `axis` replaced by
    their complement modulo `period`, as NumPy's `unwrap`.

    >>> unwrap(np.array([0.0, 3.0, 6.5]))
    array([0.        , 3.        , 0.21681469])
    """
    from fnad.numpy._calculus import diff
    from fnad.numpy._reductions import cumsum
    from fnad.numpy._shape import concatenate, moveaxis
    p = asarray(p)
    dt = get_aval(p).dtype if _float(p) else np.dtype(np.float64)
    p = moveaxis(lax.convert_element_type(p, dt), axis, -1)
    if shape_of(p)[-1] < 2:
        return moveaxis(p, -1, axis)
    half = period / 2
    discont = half if discont is None else max(discont, half)
    dd = diff(p, axis=-1)
    ddmod = subtract(remainder(add(dd, half), period), half)
    ddmod = where(lax.bitwise_and(lax.eq(ddmod, -half), lax.gt(dd, 0)), half, ddmod)
    correct = where(less(absolute(dd), discont), 0, subtract(ddmod, dd))
    zero = lax.full_like(lax.slice_in_dim(p, 0, 1, axis=-1), 0)
    out = add(p, concatenate([zero, cumsum(correct, axis=-1)], axis=-1))
    return moveaxis(out, -1, axis)


__all__ = [
    "allclose", "angle", "array_equal", "array_equiv", "bitwise_count", "bitwise_left_shift",
    "bitwise_right_shift", "conj", "conjugate", "copysign", "deg2rad", "degrees", "fabs",
    "frexp", "gcd", "heaviside", "i0", "imag", "iscomplex", "iscomplexobj", "isneginf",
    "isposinf", "isreal", "isrealobj", "lcm", "ldexp", "modf", "nan_to_num", "nextafter",
    "rad2deg", "radians", "real", "real_if_close", "signbit", "sinc", "spacing", "unwrap",
]
