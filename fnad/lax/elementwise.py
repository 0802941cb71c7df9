"""Elementwise primitives, each with all its rules in one block.

Operands must have equal shapes (rank-0 operands broadcast) and equal dtypes; Python
scalars passed to the wrappers take the dtype of the array they meet. `fnad.numpy` adds
NumPy's broadcasting and promotion on top. Each `kernel` is an `Elementwise` rule: a C/CUDA
expression template (or templates keyed by the first operand's dtype kind, "*" for the
others), and the NumPy ufunc that computes the primitive exactly, if there is one.
"""

from __future__ import annotations

import enum
import importlib
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.polynomial import polynomial as _poly

from fnad.core.dtypes import python_default
from fnad.core.errors import (
    ArgumentError,
    ArgumentTypeError,
    DTypeError,
    ShapeError,
    check_one_device,
    check_unsupported,
)
from fnad.core.ir import ShapedArray, get_aval, weak_default, weak_number
from fnad.core.primitive import Elementwise, Primitive, Zero, c_type
from fnad.core.quiet import quiet_enter, quiet_exit
from fnad.core.trace import Tracer
from fnad.device import array_module, is_gpu_array
from fnad.interpreters.transpose import Ones, ones_to_first_operand
from fnad.lax._rules import (
    ANY,
    BOOL_OR_INT,
    FLOAT,
    INTEGER,
    NUMBER,
    REAL,
    REAL_NUMBER,
    check_dtypes,
    defjvp,
    defjvp_zero,
    deflinear,
    elementwise,
    elementwise_batch,
    elementwise_shape,
    identity_operand,
    is_undefined,
    same_aval,
    to_aval,
    unbroadcast,
)

_PYTHON_NUMBERS = frozenset((bool, int, float, complex))


def asarray_like(*args: Any) -> list[Any]:
    """Python scalars become 0-d arrays of the dtype of the first array operand (weak typing,
    NEP 50); with no array operand, of the default dtype (float32, int32, bool).

    A weakly typed tracer (a Python number given to a transform) counts as a Python number
    when a strongly typed operand is present: it takes that operand's dtype. Otherwise it
    is the array operand, and Python scalars meeting it become weak constants of its dtype.
    """
    for a in args:  # the common case, on every bind: arrays and strong tracers only
        t = type(a)
        if t is not np.ndarray and (
                t in _PYTHON_NUMBERS or (isinstance(a, Tracer) and a.aval.weak_type)):
            return _weak_operands(args)
    return list(args)


def _weak_operands(args: tuple) -> list[Any]:
    scalar = weak = None
    for a in args:
        if type(a) in _PYTHON_NUMBERS:
            scalar = True
        elif weak is None and isinstance(a, Tracer) and a.aval.weak_type:
            weak = a
    dtype = None
    for a in args:  # the first strongly typed operand's (np.float64 is a float: it has one)
        if type(a) not in _PYTHON_NUMBERS and not (isinstance(a, Tracer) and a.aval.weak_type):
            dtype = get_aval(a).dtype
            break
    if scalar is None and dtype is None:
        return list(args)  # weak tracers alone: nothing to convert
    out = []
    for a in args:
        if type(a) in _PYTHON_NUMBERS:
            if dtype is not None:
                a = np.asarray(a, dtype=np.result_type(dtype, a))
            elif weak is not None:
                a = weak.weak_constant(np.asarray(a, dtype=np.result_type(weak.aval.dtype, a)))
            else:
                a = np.asarray(a, dtype=python_default(type(a)))
        elif dtype is not None and isinstance(a, Tracer) and a.aval.weak_type:
            a = convert_element_type(a, np.result_type(dtype, weak_number(a.aval)))
        out.append(a)
    return out


def _wrapper(prim: Primitive, nargs: int = 1, name: str | None = None,
             accuracy: bool = False) -> Callable[..., Any]:
    """The public function binding `prim`, with jax.lax's signature: `(x)`, `(x, *,
    accuracy=None)` (the transcendental functions) or `(x, y)`. Python scalar operands
    are weakly typed."""
    name = name or prim.name
    if nargs == 2:
        def f(x: Any, y: Any) -> Any:
            return prim.bind(*asarray_like(x, y))
    elif accuracy:
        def f(x: Any, *, accuracy: Any = None) -> Any:
            if accuracy is not None:
                check_unsupported(name, "fnad evaluates it to full accuracy",
                                  accuracy=accuracy)
            return prim.bind(*asarray_like(x))
    else:
        def f(x: Any) -> Any:
            return prim.bind(*asarray_like(x))
    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"Elementwise `{prim.name}` (the `{prim.name}` primitive)."
    return f


def _prim(name: str, fn: Callable[..., Any], kinds: str = NUMBER,
          kernel: str | dict[str, str] | None = None, out_dtype: Any = None,
          ufunc: np.ufunc | None = None, ufunc_kinds: str = "fbiu",
          transcendental: bool = False) -> Primitive:
    """An elementwise primitive whose NumPy impl is silent (no overflow or domain warnings:
    NaN and inf are the answer, as in JAX) and returns exactly the promised dtype.

    `kernel` is its C expression template (a dict: templates by dtype kind); `ufunc`, the
    NumPy ufunc that computes it exactly for `ufunc_kinds` (by default `fn` when it is one).
    """

    def impl(*args: Any, **params: Any) -> Any:
        first = args[0]
        dtype = first.dtype if out_dtype is None else np.dtype(out_dtype)
        token = quiet_enter()
        try:
            out = fn(*args, **params)
            return out if out.dtype == dtype else out.astype(dtype)  # overflows to inf quietly
        finally:
            quiet_exit(token)

    if ufunc is None and isinstance(fn, np.ufunc):
        ufunc = fn
    expr = tuple(sorted(kernel.items())) if isinstance(kernel, dict) else kernel
    rule = Elementwise(expr, ufunc=ufunc, ufunc_kinds=ufunc_kinds, fusable=expr is not None,
                       transcendental=transcendental)
    return elementwise(name, impl, kinds, out_dtype=out_dtype, kernel=rule)


def _math(name: str, fn: Callable[..., Any], rule: Callable[..., Any] | None,
          kernel: str | None = "", kinds: str = FLOAT) -> Primitive:
    """A unary float function: `rule(g, ans, x)` is its jvp; the kernel defaults to the C
    math function of the same name. `kinds=REAL`: complex-valued operands are refused."""
    prim = _prim(name, fn, kinds, kernel=f"{name}{{f}}({{0}})" if kernel == "" else kernel,
                 transcendental=True)
    defjvp(prim, rule)
    return prim


def _zero_jvp(prim: Primitive) -> Primitive:
    defjvp_zero(prim)
    return prim


# ------------------------------------------------------------------ arithmetic

def _trunc_div(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """C division: integers truncate toward zero (x / 0 gives 0); floats divide."""
    if np.dtype(x.dtype).kind in "iu":
        safe = np.where(y == 0, 1, y)
        q = np.floor_divide(x, safe)
        fix = (np.remainder(x, safe) != 0) & ((x < 0) != (safe < 0))
        return np.where(y == 0, 0, q + fix)
    return np.divide(x, y)


neg_p = _prim("neg", np.negative, NUMBER, kernel="(-{0})")
deflinear(neg_p, lambda ct, x: [neg(ct)])


def _neg_simplify(eqn: Any, producer: Any, uses: Any) -> Any:
    p = producer(eqn.inputs[0])
    return p.inputs[0] if p is not None and p.prim is neg_p else None


neg_p.simplify = _neg_simplify


def _add_sub_jvp(prim: Primitive, negate_y: bool) -> Callable[..., Any]:
    """x + y, x - y: an operand without a tangent adds nothing, so the other's tangent
    passes through (broadcast when rank 0) instead of meeting a materialized zero."""

    def jvp(primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
        ans = prim.bind(*primals)
        aval = get_aval(ans)
        tx, ty = tangents
        if type(tx) is Zero and type(ty) is Zero:
            return ans, Zero(aval)
        if type(tx) is Zero:
            return ans, to_aval(neg(ty) if negate_y else ty, aval)
        if type(ty) is Zero:
            return ans, to_aval(tx, aval)
        return ans, prim.bind(tx, ty)

    return jvp


add_p = _prim("add", np.add, NUMBER, kernel="({0} + {1})")
add_p.def_jvp(_add_sub_jvp(add_p, negate_y=False))
add_p.def_transpose(lambda ct, x, y: [unbroadcast(ct, x.aval) if is_undefined(x) else None,
                                      unbroadcast(ct, y.aval) if is_undefined(y) else None])
add_p.simplify = identity_operand(((0, 1), 0), ((1, 0), 0))
# an all-ones cotangent passes to each full-shape operand unchanged
add_p.transpose_ones = lambda ct, x, y: (
    [Ones(a.aval) if is_undefined(a) else None for a in (x, y)]
    if all(a.aval.shape == ct.aval.shape for a in (x, y) if is_undefined(a)) else None)

sub_p = _prim("sub", np.subtract, NUMBER, kernel="({0} - {1})")
sub_p.def_jvp(_add_sub_jvp(sub_p, negate_y=True))
sub_p.def_transpose(lambda ct, x, y: [unbroadcast(ct, x.aval) if is_undefined(x) else None,
                                      unbroadcast(neg(ct), y.aval) if is_undefined(y) else None])
sub_p.simplify = identity_operand(((0, 1), 0))

mul_p = _prim("mul", np.multiply, NUMBER, kernel="({0} * {1})")
defjvp(mul_p, lambda g, ans, x, y: mul(g, y), lambda g, ans, x, y: mul(x, g))


def _mul_transpose(ct: Any, x: Any, y: Any) -> list[Any]:
    if is_undefined(x) and is_undefined(y):
        raise ArgumentTypeError("mul is not linear in both operands at once")
    if is_undefined(x):
        return [unbroadcast(mul(ct, y), x.aval), None]
    return [None, unbroadcast(mul(x, ct), y.aval)]


mul_p.def_transpose(_mul_transpose)
mul_p.simplify = identity_operand(((0, 1), 1), ((1, 0), 1))
# ones * y: the cotangent of x is y itself (summed down to x's shape)
mul_p.transpose_ones = lambda ct, x, y: (
    None if is_undefined(x) == is_undefined(y) else
    [unbroadcast(to_aval(y, ct.aval), x.aval), None] if is_undefined(x) else
    [None, unbroadcast(to_aval(x, ct.aval), y.aval)])

# Kernels keyed by dtype kind: integer x / 0 and INT_MIN / -1 trap in C, so they are
# guarded (x / 0 is 0; INT_MIN / -1 wraps, as in NumPy).
div_p = _prim("div", _trunc_div, NUMBER, ufunc=np.divide, ufunc_kinds="f", kernel={
    "i": "(({1}) == 0 ? 0 : ({1}) == -1 ? -(unsigned long long)({0}) : ({0}) / ({1}))",
    "u": "(({1}) == 0 ? 0 : ({0}) / ({1}))", "*": "({0} / {1})"})
defjvp(div_p, lambda g, ans, x, y: div(g, y),
       lambda g, ans, x, y: neg(mul(g, div(ans, y))))


def _div_transpose(ct: Any, x: Any, y: Any) -> list[Any]:
    if is_undefined(y):
        raise ArgumentTypeError("div is linear only in its numerator")
    return [unbroadcast(div(ct, y), x.aval), None]


div_p.def_transpose(_div_transpose)

# C's fmod and %: the result has the sign of the dividend (integers: x % 0 gives 0).
rem_p = _prim("rem", lambda x, y: np.fmod(x, np.where(y == 0, 1, y)) * (y != 0)
              if x.dtype.kind in "iu" else np.fmod(x, y), REAL_NUMBER, kernel={
                  "i": "(({1}) == 0 || ({1}) == -1 ? 0 : ({0}) % ({1}))",
                  "u": "(({1}) == 0 ? 0 : ({0}) % ({1}))", "*": "fmod{f}({0}, {1})"})
defjvp(rem_p, lambda g, ans, x, y: g,
       lambda g, ans, x, y: mul(neg(g), mul(sign(div(x, y)), floor(abs(div(x, y))))))


def _pow_jvp_x(g: Any, ans: Any, x: Any, y: Any) -> Any:
    # y * x^(y-1), with the 0 * inf of y == 0 at x == 0 read as 0 (only there: at y == 0
    # elsewhere its y-derivative x^-1 must survive). The unselected branch takes exponent 0
    # there, so that no inf (x^-2 at x == 0) enters higher derivatives as 0 * inf either.
    both = and_p.bind(eq(y, 0), eq(x, 0))
    return mul(g, select_n(both, mul(y, pow(x, sub(select_n(both, y, 1), 1))), 0))


def _pow_jvp_y(g: Any, ans: Any, x: Any, y: Any) -> Any:
    # log(x) x^y, read as 0 at x == 0 (where x^y is 0 or 1 and flat in y for y > 0).
    return mul(g, mul(log(select_n(eq(x, 0), x, 1)), ans))


pow_p = _prim("pow", np.power, FLOAT, kernel="pow{f}({0}, {1})", transcendental=True)
defjvp(pow_p, _pow_jvp_x, _pow_jvp_y)


def _balanced_eq(x: Any, z: Any, y: Any) -> Any:
    """1 where x alone attains the extremum z, 1/2 where x and y tie, 0 elsewhere."""
    # [x == z] / (1 + [y == z]): cheap elementwise arithmetic, where two full-size selects
    # (NumPy's `where` on a random mask) cost several times more eagerly.
    dtype = get_aval(z).dtype
    return div(convert_element_type(eq(x, z), dtype),
               add(convert_element_type(eq(y, z), dtype), 1))


# max and min propagate NaN like NumPy and JAX (C's fmax/fmin would drop it).
max_p = _prim("max", np.maximum, ANY, kernel="(({0}) > ({1}) || ({0}) != ({0}) ? ({0}) : ({1}))")
defjvp(max_p, lambda g, ans, x, y: mul(g, _balanced_eq(x, ans, y)),
       lambda g, ans, x, y: mul(g, _balanced_eq(y, ans, x)))

min_p = _prim("min", np.minimum, ANY, kernel="(({0}) < ({1}) || ({0}) != ({0}) ? ({0}) : ({1}))")
defjvp(min_p, lambda g, ans, x, y: mul(g, _balanced_eq(x, ans, y)),
       lambda g, ans, x, y: mul(g, _balanced_eq(y, ans, x)))


def _atan2_rule(which: int) -> Callable[..., Any]:
    def rule(g: Any, ans: Any, x: Any, y: Any) -> Any:
        num = y if which == 0 else neg(x)
        return mul(g, div(num, add(square(x), square(y))))
    return rule


atan2_p = _prim("atan2", np.arctan2, REAL, kernel="atan2{f}({0}, {1})", transcendental=True)
defjvp(atan2_p, _atan2_rule(0), _atan2_rule(1))

nextafter_p = _zero_jvp(_prim("nextafter", np.nextafter, REAL,
                              kernel="nextafter{f}({0}, {1})"))

square_p = _prim("square", np.square, NUMBER, kernel="({0} * {0})")
defjvp(square_p, lambda g, ans, x: mul(g, mul(2, x)))

# signed operands only, as JAX's (|x| of an unsigned x is x: fnad.numpy.absolute says so);
# fabs keeps -0.0 -> 0.0, which a comparison would not
abs_p = _prim("abs", np.abs, "fi", kernel={"f": "fabs{f}({0})", "*": "(({0}) > 0 ? ({0}) : -({0}))"})
# JAX's derivative: +g where x >= 0 (at 0 and -0 too, where sign(x) would give 0), -g below
defjvp(abs_p, lambda g, ans, x: select_n(ge(x, 0), neg(g), g))

sign_p = _zero_jvp(_prim("sign", np.sign, REAL_NUMBER,
                         kernel="(({0}) != ({0}) ? ({0}) : (({0}) > 0) - (({0}) < 0))"))
floor_p = _zero_jvp(_prim("floor", np.floor, REAL, kernel="floor{f}({0})"))
ceil_p = _zero_jvp(_prim("ceil", np.ceil, REAL, kernel="ceil{f}({0})"))


class RoundingMethod(enum.IntEnum):
    """How `round` breaks ties (jax.lax's names and values)."""

    AWAY_FROM_ZERO = 0
    TO_NEAREST_EVEN = 1


def _round_impl(x: np.ndarray, rounding_method: int) -> np.ndarray:
    if rounding_method == RoundingMethod.TO_NEAREST_EVEN:
        return np.rint(x)
    t = np.trunc(x)  # x - t is exact, so ties are recognised exactly
    return np.where(np.abs(x - t) >= 0.5, t + np.sign(x), t)


# Its kernel names the `rounding_method` param: code generators format params by name.
round_p = _zero_jvp(_prim("round", _round_impl, REAL,
                          kernel="(({rounding_method}) ? rint{f}({0}) : round{f}({0}))"))

is_finite_p = _zero_jvp(_prim("is_finite", np.isfinite, FLOAT, out_dtype=np.bool_,
                              kernel="isfinite({0})"))

clamp_p = _prim("clamp", lambda lo, x, hi: np.minimum(np.maximum(x, lo), hi),
                REAL_NUMBER,
                # max(x, lo) then min(., hi), NaN from any operand (x != x: NaN); hi wins
                # when lo > hi, as in the impl (the fuzzer found a kernel returning lo)
                kernel="(((({1}) < ({0}) || ({0}) != ({0})) ? ({0}) : ({1})) > ({2}) || "
                       "({2}) != ({2}) ? ({2}) : ((({1}) < ({0}) || ({0}) != ({0})) ? ({0}) "
                       ": ({1})))")


def _clamp_rule(passes: Callable[[Any, Any, Any], Any]) -> Callable[..., Any]:
    """The tangent of one operand flows where `passes(lo, x, hi)` holds."""
    def rule(g: Any, ans: Any, lo: Any, x: Any, hi: Any) -> Any:
        return select_n(passes(lo, x, hi), 0, to_aval(g, get_aval(ans)))
    return rule


defjvp(clamp_p,
       _clamp_rule(lambda lo, x, hi: bitwise_and(gt(lo, x), lt(lo, hi))),
       _clamp_rule(lambda lo, x, hi: bitwise_and(gt(x, lo), lt(x, hi))),
       _clamp_rule(lambda lo, x, hi: lt(hi, x)))

# ------------------------------------------------------------------ exponentials, roots, trig

exp_p = _math("exp", np.exp, lambda g, ans, x: mul(g, ans))
exp2_p = _math("exp2", np.exp2, lambda g, ans, x: mul(g, mul(ans, math.log(2))))
log_p = _math("log", np.log, lambda g, ans, x: div(g, x))
log1p_p = _math("log1p", np.log1p, lambda g, ans, x: div(g, add(x, 1)))
expm1_p = _math("expm1", np.expm1, lambda g, ans, x: mul(g, add(ans, 1)))
sqrt_p = _math("sqrt", np.sqrt, lambda g, ans, x: div(g, mul(2, ans)))
rsqrt_p = _math("rsqrt", lambda x: 1 / np.sqrt(x),
                lambda g, ans, x: mul(g, mul(-0.5, div(ans, x))), kernel="(1 / sqrt{f}({0}))")
cbrt_p = _math("cbrt", np.cbrt, lambda g, ans, x: mul(g, mul(1 / 3, integer_pow(ans, -2))),
               kinds=REAL)

sin_p = _math("sin", np.sin, lambda g, ans, x: mul(g, cos(x)))
cos_p = _math("cos", np.cos, lambda g, ans, x: neg(mul(g, sin(x))))
tan_p = _math("tan", np.tan, lambda g, ans, x: mul(g, add(square(ans), 1)))
asin_p = _math("asin", np.arcsin, lambda g, ans, x: mul(g, rsqrt(sub(1, square(x)))))
acos_p = _math("acos", np.arccos, lambda g, ans, x: neg(mul(g, rsqrt(sub(1, square(x))))))
atan_p = _math("atan", np.arctan, lambda g, ans, x: div(g, add(square(x), 1)))
sinh_p = _math("sinh", np.sinh, lambda g, ans, x: mul(g, cosh(x)))
cosh_p = _math("cosh", np.cosh, lambda g, ans, x: mul(g, sinh(x)))
tanh_p = _math("tanh", np.tanh, lambda g, ans, x: mul(g, sub(1, square(ans))))
asinh_p = _math("asinh", np.arcsinh, lambda g, ans, x: mul(g, rsqrt(add(square(x), 1))))


def _acosh_jvp(g: Any, ans: Any, x: Any) -> Any:
    """g / sqrt(x^2 - 1), with x^2 - 1 as (x - 1)(x + 1) (exact near 1) and its zero at
    -1 made +0: +inf at +-1 and JAX's (real) values below -1, where acosh itself is NaN.
    Complex x takes sqrt(x - 1) sqrt(x + 1), acosh's branch (sqrt of the product is not)."""
    if get_aval(x).dtype.kind == "c":
        return mul(g, mul(rsqrt(sub(x, 1)), rsqrt(add(x, 1))))
    d = mul(sub(x, 1), add(x, 1))
    return mul(g, rsqrt(select_n(eq(d, 0), d, full_like(d, 0))))


acosh_p = _math("acosh", np.arccosh, _acosh_jvp)
atanh_p = _math("atanh", np.arctanh,
                lambda g, ans, x: div(g, mul(sub(1, x), add(x, 1))))
logistic_p = _math("logistic", lambda x: 1 / (1 + np.exp(-x)),
                   lambda g, ans, x: mul(g, mul(ans, sub(1, ans))),
                   kernel="(1 / (1 + exp{f}(-{0})))")

# ------------------------------------------------------------------ special functions
# NumPy has none of these; they are evaluated in float64 (series, continued fractions,
# asymptotic expansions with recurrences and reflection), accurate to ~1e-14.

_SQRT_PI = math.sqrt(math.pi)
_BERNOULLI = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510)  # B2..B16
_ASYMPTOTIC_FROM = 12.0  # the asymptotic series is used at x >= this (+ m for polygamma)
_ERF_SPLIT = 1.5         # series below, continued fraction above


def _erf_series(x: np.ndarray) -> np.ndarray:
    """erf(x) = 2/sqrt(pi) exp(-x^2) sum_n 2^n x^(2n+1) / (2n+1)!!: positive terms, so no
    cancellation (70 terms suffice for |x| < 1.5)."""
    x2 = x * x
    term, total = x, x
    for n in range(1, 70):
        term = term * (2 * x2) / (2 * n + 1)
        total = total + term
    return 2 / _SQRT_PI * np.exp(-x2) * total


def _erfc_fraction(x: np.ndarray) -> np.ndarray:
    """erfc(x) for x >= 1.5 by its continued fraction, exp(-x^2) split to stay exact."""
    x = np.minimum(x, 40)  # erfc(40) underflows to 0 already; this keeps inf out
    t = x
    for k in range(100, 0, -1):
        t = x + (k / 2) / t
    hi = np.round(x * 64) / 64  # hi * hi is exact
    return np.exp(-hi * hi) * np.exp(-(x - hi) * (x + hi)) / _SQRT_PI / t


def _erf_parts(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(small, erf of the small |x|, erfc of the large |x|), in float64."""
    x = np.asarray(x, np.float64)
    a = np.abs(x)
    small = a < _ERF_SPLIT
    return small, _erf_series(np.where(small, x, 0)), _erfc_fraction(np.where(small, 2, a))


def _erf(x: np.ndarray) -> np.ndarray:
    small, s, c = _erf_parts(x)
    return np.where(small, s, np.copysign(1 - c, x))


def _erfc(x: np.ndarray) -> np.ndarray:
    small, s, c = _erf_parts(x)
    return np.where(small, 1 - s, np.where(x < 0, 2 - c, c))


def _erf_inv(y: np.ndarray) -> np.ndarray:
    """Winitzki's closed-form estimate, then Halley steps on erf (erfc near |y| = 1)."""
    y = np.asarray(y, np.float64)
    inside = np.abs(y) < 1
    a = np.where(inside, np.abs(y), 0.5)
    log1m = np.log1p(-a * a)
    k = 2 / (math.pi * 0.147) + log1m / 2
    x = np.sqrt(np.sqrt(k * k - log1m / 0.147) - k)
    for _ in range(4):
        f = np.where(a > 0.5, (1 - a) - _erfc(x), _erf(x) - a)
        x = x - f / (2 / _SQRT_PI * np.exp(-x * x) + x * f)
    return np.copysign(np.where(inside, x, np.where(np.abs(y) == 1, np.inf, np.nan)), y)


def _limits(x: np.ndarray, out: np.ndarray, at_inf: float, at_neg_inf: float) -> np.ndarray:
    """`out` with NaN propagated and the values at +-inf filled in."""
    return np.select([np.isnan(x), x == np.inf, x == -np.inf], [np.nan, at_inf, at_neg_inf], out)


def _shift(x: np.ndarray, to: float) -> tuple[np.ndarray, np.ndarray, int]:
    """For x >= 1/2: how many unit steps `n` bring x to `to` or beyond, and x + n."""
    n = np.maximum(np.ceil(to - x), 0)
    return n, x + n, int(n.max(initial=0))


def _reflected(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x < 1/2 are reflected to 1 - x; r is x's offset from the nearest integer (exact)."""
    x = np.asarray(x, np.float64)
    neg = x < 0.5
    return neg, np.where(neg, 1 - x, x), x - np.round(x)


def _lgamma(x: np.ndarray) -> np.ndarray:
    """log|Gamma(x)|: Stirling's series at x >= 12, the recurrence below, reflection for
    x < 1/2."""
    neg, y, r = _reflected(x)
    n, z, steps = _shift(np.where(np.isfinite(y), y, _ASYMPTOTIC_FROM), _ASYMPTOTIC_FROM)
    log_prod = np.zeros_like(z)
    for k in range(steps):
        log_prod = log_prod + np.log(np.where(k < n, y + k, 1))
    series, zp = np.zeros_like(z), z
    for k, b in enumerate(_BERNOULLI, 1):
        series = series + b / (2 * k * (2 * k - 1) * zp)
        zp = zp * z * z
    out = (z - 0.5) * np.log(z) - z + 0.5 * math.log(2 * math.pi) + series - log_prod
    out = np.where(neg, math.log(math.pi) - np.log(np.abs(np.sin(math.pi * r))) - out, out)
    near = (np.abs(x - 1) < 0.3) | (np.abs(x - 2) < 0.3)  # about the zeros: relative accuracy
    if near.any():
        out = np.where(near, _lgamma_near_one_two(np.where(near, x, 1.0)), out)
    return _limits(x, out, np.inf, np.inf)


def _zeta_int(k: int) -> float:
    """Riemann's zeta(k), k >= 2: 99 terms and Euler-Maclaurin's tail from 100."""
    n = 100.0
    return (math.fsum(j ** -k for j in range(1, 100)) + n ** (1 - k) / (k - 1) + n ** -k / 2
            + k * n ** (-k - 1) / 12 - k * (k + 1) * (k + 2) * n ** (-k - 3) / 720)


# lgamma(1 + e) = -gamma e + sum_k>=2 (-1)^k zeta(k) e^k / k, for |e| < 0.3 (40 terms)
_LGAMMA_ONE = (0.0, -0.5772156649015329) + tuple(
    (-1) ** k * _zeta_int(k) / k for k in range(2, 40))


def _lgamma_near_one_two(x: np.ndarray) -> np.ndarray:
    """lgamma within 0.3 of 1 or 2 by its Taylor series about 1 (about 2 through
    lgamma(x) = lgamma(x - 1) + log(x - 1)): exact zeros at 1 and 2, and full relative
    accuracy beside them, where Stirling's series less log(12!) leaves 1e-15 absolute."""
    upper = x > 1.5
    e = np.where(upper, x - 2, x - 1)
    out = _poly.polyval(e, _LGAMMA_ONE)
    return np.where(upper, out + np.log1p(e), out)


def _cot_derivative(m: int) -> np.ndarray:
    """Coefficients of P_m with d^m/dz^m cot(z) = P_m(cot z) (cot' = -(1 + cot^2))."""
    p = np.array([0.0, 1.0])
    for _ in range(m):
        p = -_poly.polymul([1.0, 0.0, 1.0], _poly.polyder(p))
    return p


def _polygamma(x: np.ndarray, m: int) -> np.ndarray:
    """The m-th derivative of digamma: its asymptotic series at x >= 12 + m, the recurrence
    psi_m(x) = psi_m(x + 1) - (-1)^m m! / x^(m+1) below, reflection for x < 1/2. NaN at
    the poles (non-positive integers) for even m, +inf for odd m (as JAX and SciPy)."""
    neg, y, r = _reflected(x)
    n, z, steps = _shift(np.where(np.isfinite(y), y, _ASYMPTOTIC_FROM), _ASYMPTOTIC_FROM + m)
    acc = np.zeros_like(z)
    for k in range(steps):
        acc = acc + np.where(k < n, (y + k) ** -(m + 1), 0)
    if m == 0:
        out, zp = np.log(z) - 0.5 / z - acc, z * z
        for k, b in enumerate(_BERNOULLI, 1):
            out, zp = out - b / (2 * k * zp), zp * z * z
    else:
        series = math.factorial(m - 1) / z ** m + math.factorial(m) / (2 * z ** (m + 1))
        zp = z ** (m + 2)
        for k, b in enumerate(_BERNOULLI, 1):
            series = series + b * math.factorial(2 * k + m - 1) / math.factorial(2 * k) / zp
            zp = zp * z * z
        out = (-1) ** (m + 1) * (series + math.factorial(m) * acc)
    cot = np.cos(math.pi * r) / np.sin(math.pi * r)
    reflected = (-1) ** m * out - math.pi ** (m + 1) * _poly.polyval(cot, _cot_derivative(m))
    out = np.where(neg, np.where(r == 0, np.inf if m % 2 else np.nan, reflected), out)
    return _limits(x, out, np.inf if m == 0 else 0.0, np.nan)


_TWO_OVER_SQRT_PI = 2 / _SQRT_PI

erf_p = _math("erf", _erf, lambda g, ans, x: mul(g, mul(_TWO_OVER_SQRT_PI, exp(neg(square(x))))),
              kinds=REAL)
erfc_p = _math("erfc", _erfc,
               lambda g, ans, x: mul(g, mul(-_TWO_OVER_SQRT_PI, exp(neg(square(x))))),
               kinds=REAL)
erf_inv_p = _math("erf_inv", _erf_inv,
                  lambda g, ans, x: mul(g, mul(_SQRT_PI / 2, exp(square(ans)))), kernel=None,
                  kinds=REAL)
lgamma_p = _math("lgamma", _lgamma, lambda g, ans, x: mul(g, digamma(x)), kinds=REAL)
digamma_p = _math("digamma", lambda x: _polygamma(x, 0),
                  lambda g, ans, x: mul(g, polygamma(1, x)), kernel=None, kinds=REAL)

polygamma_p = _prim("polygamma", _polygamma, REAL)
defjvp(polygamma_p, lambda g, ans, x, m: mul(g, polygamma(m + 1, x)))

# ------------------------------------------------------------------ integer_pow

integer_pow_p = Primitive("integer_pow")


def _integer_pow_impl(x: np.ndarray, y: int) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.asarray(x ** y if y >= 0 else 1 / x ** -y, x.dtype)


integer_pow_p.def_impl(_integer_pow_impl)


@integer_pow_p.def_abstract_eval
def _integer_pow_abstract_eval(x: ShapedArray, y: int) -> ShapedArray:
    if x.dtype.kind in "iu" and y < 0:
        raise DTypeError(f"a negative power ({y}) of integers")
    check_dtypes([x], NUMBER)
    return x


integer_pow_p.def_batch(elementwise_batch(integer_pow_p))
def _integer_pow_expr(args: Sequence[str], arg_dtypes: Any, out_dtype: Any,
                      params: Any) -> str:
    """Repeated multiplication."""
    y, out_t = int(params["y"]), c_type(out_dtype)
    if y == 0:
        return f"(({out_t})1)"
    prod = " * ".join([args[0]] * abs(y))
    return f"(({out_t})1 / ({prod}))" if y < 0 else f"({prod})"


integer_pow_p.kernel = Elementwise(_integer_pow_expr)
defjvp(integer_pow_p, lambda g, ans, x, y: mul(g, mul(np.asarray(y, get_aval(x).dtype),
                                                      integer_pow(x, y - 1)))
       if y != 0 else mul(g, np.asarray(0, get_aval(x).dtype)))


def integer_pow(x: Any, y: int) -> Any:
    """`x ** y` for a static Python integer `y`.

    >>> integer_pow(np.float32(3), 2)
    array(9., dtype=float32)
    """
    (x,) = asarray_like(x)
    if int(y) == 1:  # no equation for the identity (the derivative of x ** 2 asks for it)
        return x
    return integer_pow_p.bind(x, y=int(y))


# ------------------------------------------------------------------ bitwise
# On bool and integers. Shifts follow XLA: amounts outside [0, bits) shift everything out,
# and arithmetic shifts read the bits as signed (also for unsigned types). The shift
# kernels widen to 64 bits, so they assume operands are typed variables (sizeof works).

def _as_bits(x: np.ndarray, kind: str) -> np.ndarray:
    """x's bits viewed as the signed ('i') or unsigned ('u') integer of its width."""
    x = np.asarray(x)
    return x.view(np.dtype(f"{kind}{x.dtype.itemsize}"))


def _shift_impl(op: Callable[[np.ndarray, np.ndarray], np.ndarray], kind: str,
                overflow: Callable[[np.ndarray, int], Any]) -> Callable[..., Any]:
    def impl(x: np.ndarray, s: np.ndarray) -> np.ndarray:
        bits = np.dtype(x.dtype).itemsize * 8
        v = _as_bits(x, kind)
        inside = (s >= 0) & (s < bits)
        amount = np.where(inside, s, 0).astype(v.dtype)
        return np.asarray(np.where(inside, op(v, amount), overflow(v, bits)),
                          v.dtype).view(x.dtype)
    return impl


_BITS = "sizeof({0}) * 8"
_IN_RANGE = f"((unsigned long long)({{1}}) < {_BITS})"

and_p = _zero_jvp(_prim("and", np.bitwise_and, BOOL_OR_INT, kernel="({0} & {1})"))
or_p = _zero_jvp(_prim("or", np.bitwise_or, BOOL_OR_INT, kernel="({0} | {1})"))
xor_p = _zero_jvp(_prim("xor", np.bitwise_xor, BOOL_OR_INT, kernel="({0} ^ {1})"))
not_p = _zero_jvp(_prim("not", np.invert, BOOL_OR_INT, kernel={"b": "(!{0})", "*": "(~{0})"}))
shift_left_p = _zero_jvp(_prim(
    "shift_left", _shift_impl(np.left_shift, "u", lambda v, bits: 0), INTEGER,
    kernel=f"({_IN_RANGE} ? (unsigned long long)({{0}}) << ({{1}}) : 0)"))
shift_right_logical_p = _zero_jvp(_prim(
    "shift_right_logical", _shift_impl(np.right_shift, "u", lambda v, bits: 0), INTEGER,
    kernel=f"({_IN_RANGE} ? ((unsigned long long)({{0}}) & (~0ULL >> (64 - {_BITS}))) "
           f">> ({{1}}) : 0)"))
shift_right_arithmetic_p = _zero_jvp(_prim(
    "shift_right_arithmetic",
    _shift_impl(np.right_shift, "i", lambda v, bits: v >> (bits - 1)), INTEGER,
    kernel=f"((long long)((unsigned long long)({{0}}) << (64 - {_BITS})) >> (64 - {_BITS}) "
           f">> ({_IN_RANGE} ? ({{1}}) : {_BITS} - 1))"))
population_count_p = _zero_jvp(_prim("population_count",
                                     lambda x: np.bitwise_count(_as_bits(x, "u")), INTEGER))

# ------------------------------------------------------------------ comparisons

def _comparison(name: str, fn: Any, op: str) -> Primitive:
    return _zero_jvp(_prim(name, fn, ANY, out_dtype=np.bool_, kernel=f"({{0}} {op} {{1}})"))


eq_p = _comparison("eq", np.equal, "==")
ne_p = _comparison("ne", np.not_equal, "!=")
lt_p = _comparison("lt", np.less, "<")
le_p = _comparison("le", np.less_equal, "<=")
gt_p = _comparison("gt", np.greater, ">")
ge_p = _comparison("ge", np.greater_equal, ">=")

# ------------------------------------------------------------------ select_n

select_n_p = Primitive("select_n")


def _select_n_impl(which: np.ndarray, *cases: np.ndarray) -> np.ndarray:
    if len(cases) == 2:
        return np.where(which, cases[1], cases[0])
    return np.choose(which, cases)


select_n_p.def_impl(_select_n_impl)


@select_n_p.def_abstract_eval
def _select_n_abstract_eval(which: ShapedArray, *cases: ShapedArray) -> ShapedArray:
    if not cases:
        raise DTypeError("needs at least one case")
    if which.dtype != np.bool_ and which.dtype.kind not in "iu":
        raise DTypeError(f"the selector must be bool or int, got {which.dtype}")
    if which.dtype == np.bool_ and len(cases) > 2:
        raise DTypeError("a bool selector chooses between exactly two cases")
    shape = elementwise_shape(which, *cases)  # each may be rank 0
    dtype = check_dtypes(cases, ANY)
    return ShapedArray(shape, dtype)


def _select_n_jvp(primals: Any, tangents: Any) -> Any:
    from fnad.interpreters.jvp import instantiate
    ans = select_n_p.bind(*primals)
    aval = get_aval(ans)
    if all(type(t) is Zero for t in tangents[1:]):
        return ans, Zero(aval)
    ts = [to_aval(instantiate(t), aval) for t in tangents[1:]]
    return ans, select_n_p.bind(primals[0], *ts)


def _select_n_transpose(ct: Any, which: Any, *cases: Any) -> list[Any]:
    if is_undefined(which):
        raise ArgumentTypeError("select_n is not linear in its selector")
    zeros = full_like(ct, 0)
    out: list[Any] = [None]
    for i, c in enumerate(cases):
        if is_undefined(c):
            picked = select_n_p.bind(which, *[ct if j == i else zeros for j in range(len(cases))])
            out.append(unbroadcast(picked, c.aval))
        else:
            out.append(None)
    return out


select_n_p.def_jvp(_select_n_jvp)
select_n_p.def_transpose(_select_n_transpose)
select_n_p.def_batch(elementwise_batch(select_n_p))
def _select_expr(args: Sequence[str], arg_dtypes: Any, out_dtype: Any, params: Any) -> str:
    which, cases = args[0], list(args[1:])
    if len(cases) == 2:
        return f"({which} ? {cases[1]} : {cases[0]})"
    expr = cases[-1]
    for i in range(len(cases) - 2, -1, -1):
        expr = f"({which} == {i} ? {cases[i]} : {expr})"
    return expr


select_n_p.kernel = Elementwise(_select_expr, flops=0)
select_n_p.weak_type_rule = lambda which, *cases: all(c.weak_type for c in cases)


def select_n(which: Any, *cases: Any) -> Any:
    """`cases[which]` elementwise; a bool `which` picks `cases[1]` where True. Rank-0
    operands (the selector too) broadcast.

    >>> select_n(np.array([True, False]), np.float32(0), np.float32(1))
    array([1., 0.], dtype=float32)
    """
    cases = asarray_like(*cases)
    return select_n_p.bind(*asarray_like(which), *cases)


# ------------------------------------------------------------------ convert_element_type

convert_element_type_p = Primitive("convert_element_type")


def _convert_impl(x: np.ndarray, new_dtype: np.dtype) -> np.ndarray:
    """NumPy's cast, silently (a float narrowing overflows to inf or underflows to 0, as
    in JAX), except that float to integer saturates."""
    token = quiet_enter()
    try:
        return _convert_values(x, new_dtype)
    finally:
        quiet_exit(token)


def _convert_values(x: np.ndarray, new_dtype: np.dtype) -> np.ndarray:
    xp = array_module([x])
    if x.dtype.kind == "c" and new_dtype.kind not in "cb":  # the real part, without warning
        x = x.real
    if x.dtype.kind != "f" or new_dtype.kind not in "iu":
        return x.astype(new_dtype)
    # JAX's (XLA's) float to integer conversion saturates: out of range gives the nearest
    # bound, NaN gives 0 (NumPy's cast is undefined there); a bound beyond the float's
    # range compares as inf
    info = np.iinfo(new_dtype)
    high, low = x >= float(info.max), x <= float(info.min)
    out = xp.where(high | low | xp.isnan(x), 0, x).astype(new_dtype)
    return xp.where(high, new_dtype.type(info.max), xp.where(low, new_dtype.type(info.min), out))


convert_element_type_p.def_impl(_convert_impl)
convert_element_type_p.def_abstract_eval(lambda x, new_dtype: x.update(dtype=new_dtype))
convert_element_type_p.def_batch(elementwise_batch(convert_element_type_p))


def _int_literal(v: int) -> str:
    return f"({v + 1}LL - 1)" if v < 0 else f"{v}ULL"


def _convert_expr(args: Sequence[str], arg_dtypes: Any, out_dtype: Any, params: Any) -> str:
    out_dtype, x = np.dtype(out_dtype), args[0]
    if out_dtype == np.bool_:
        return f"({x} != 0)"
    t = c_type(out_dtype)
    if np.dtype(arg_dtypes[0]).kind == "f" and out_dtype.kind in "iu":  # saturating, as impl
        info = np.iinfo(out_dtype)
        return (f"(({x}) != ({x}) ? ({t})0 : ({x}) >= {float(info.max)!r} ? "
                f"({t}){_int_literal(int(info.max))} : ({x}) <= {float(info.min)!r} ? "
                f"({t}){_int_literal(int(info.min))} : ({t})({x}))")
    return f"(({t})({x}))"


convert_element_type_p.kernel = Elementwise(_convert_expr, flops=0)
# Converting a weakly typed value gives a strong one (JAX's `astype`), except to the default
# dtype of a kind: Python numbers meeting only Python numbers compute in it and stay weak.
convert_element_type_p.weak_type_rule = (
    lambda x, new_dtype: x.weak_type and np.dtype(new_dtype) == weak_default(new_dtype))


def _convert_jvp(primals: Any, tangents: Any, new_dtype: np.dtype) -> Any:
    (x,), (t,) = primals, tangents
    ans = convert_element_type_p.bind(x, new_dtype=new_dtype)
    if type(t) is Zero or new_dtype.kind not in "fc":
        return ans, Zero(get_aval(ans))
    return ans, convert_element_type_p.bind(t, new_dtype=new_dtype)


convert_element_type_p.def_jvp(_convert_jvp)
convert_element_type_p.def_transpose(  # of real -> complex: the cotangent's real part
    lambda ct, x, new_dtype: [_convert(ct, x.aval.dtype)])
convert_element_type_p.transpose_ones = ones_to_first_operand
convert_element_type_p.simplify = (
    lambda eqn, producer, uses: eqn.inputs[0] if same_aval(eqn, eqn.inputs[0]) else None)


def convert_element_type(operand: Any, new_dtype: Any) -> Any:
    """`operand` as `new_dtype` (no equation when it already is). Complex to real keeps the real
    part, as JAX's does (without NumPy's ComplexWarning); its rules are complex-correct.
    Floats to integers saturate as in JAX: out of range gives the nearest bound, NaN 0.

    >>> convert_element_type(np.float32(2.7), np.int32)
    array(2, dtype=int32)
    """
    x, t = operand, type(operand)
    if t in _PYTHON_NUMBERS:  # a Python number alone: the default dtype
        x = np.asarray(x, python_default(t))
    new_dtype = np.dtype(new_dtype)
    dtype = x.dtype if t is np.ndarray else get_aval(x).dtype  # a weak tracer's carrier
    return x if dtype == new_dtype else convert_element_type_p.bind(x, new_dtype=new_dtype)


def _convert(x: Any, new_dtype: np.dtype) -> Any:
    if get_aval(x).dtype == new_dtype:
        return x
    return convert_element_type_p.bind(x, new_dtype=new_dtype)


# ------------------------------------------------------------------ imag, complex
# The imaginary part and a complex number from its parts, exactly: by multiplying with 1j
# an infinite part met a zero one (inf * 0) and became NaN (abs(inf + 0j) was NaN).

_REAL_OF = {np.dtype(np.complex64): np.dtype(np.float32),
            np.dtype(np.complex128): np.dtype(np.float64)}
_COMPLEX_OF = {v: k for k, v in _REAL_OF.items()}

imag_p = Primitive("imag")
imag_p.def_impl(lambda x: x.imag.copy())  # a fresh array: .imag is a view of x


@imag_p.def_abstract_eval
def _imag_abstract_eval(x: ShapedArray) -> ShapedArray:
    check_dtypes([x], "c")
    return x.update(dtype=_REAL_OF[x.dtype])


imag_p.def_batch(elementwise_batch(imag_p))
imag_p.kernel = Elementwise(fusable=False)
# the transpose of real(-1j * x): the cotangent times -1j, as JAX's
deflinear(imag_p, lambda ct, x: [complex_p.bind(full_like(ct, 0), neg(ct))])

complex_p = Primitive("complex")


def _complex_impl(x: Any, y: Any) -> Any:
    xp = array_module([x, y])
    out = xp.empty(np.broadcast_shapes(x.shape, y.shape), _COMPLEX_OF[x.dtype])
    out.real, out.imag = x, y
    return out


complex_p.def_impl(_complex_impl)


@complex_p.def_abstract_eval
def _complex_abstract_eval(x: ShapedArray, y: ShapedArray) -> ShapedArray:
    dtype = check_dtypes([x, y], "f")
    if dtype not in _COMPLEX_OF:
        raise DTypeError(f"takes float32 or float64 parts, got {dtype}")
    return ShapedArray(elementwise_shape(x, y), _COMPLEX_OF[dtype])


complex_p.def_batch(elementwise_batch(complex_p))
complex_p.kernel = Elementwise(fusable=False)


def _complex_transpose(ct: Any, x: Any, y: Any) -> list[Any]:
    """x + 1j * y: x's real cotangent is the cotangent's real part, y's minus its imaginary
    part (JAX's convention)."""
    return [unbroadcast(real_part(ct), x.aval) if is_undefined(x) else None,
            unbroadcast(neg(imag_p.bind(ct)), y.aval) if is_undefined(y) else None]


deflinear(complex_p, _complex_transpose)


def real_part(x: Any) -> Any:
    """The real part of a complex array as a float array (complex-correct in every rule:
    its jvp is the tangent's real part, its transpose the real cotangent as complex);
    a real array as it is. For fnad's own complex-aware functions (abs, var, norm, vdot)."""
    dtype = get_aval(x).dtype
    return _convert(x, np.dtype(dtype.char.lower())) if dtype.kind == "c" else x


def imag_part(x: Any) -> Any:
    """The imaginary part of a complex array as a float array."""
    return imag_p.bind(x)


def conj_value(x: Any) -> Any:
    """The complex conjugate, re - 1j * im; a real array as it is."""
    if get_aval(x).dtype.kind != "c":
        return x
    return complex_p.bind(real_part(x), neg(imag_part(x)))


def abs_squared(x: Any) -> Any:
    """|x|**2 as a float array: re**2 + im**2 for complex x, x * x for real x."""
    if get_aval(x).dtype.kind != "c":
        return mul(x, x)
    re, im = real_part(x), imag_part(x)
    return add(mul(re, re), mul(im, im))


# ------------------------------------------------------------------ iota

iota_p = Primitive("iota")


def _iota_impl(dtype: np.dtype, shape: tuple[int, ...], dimension: int) -> np.ndarray:
    _iota_abstract_eval(dtype, shape, dimension)
    line = np.arange(shape[dimension], dtype=dtype)
    expanded = [1] * len(shape)
    expanded[dimension] = shape[dimension]
    return np.array(np.broadcast_to(line.reshape(expanded), shape))


@iota_p.def_abstract_eval
def _iota_abstract_eval(dtype: np.dtype, shape: tuple[int, ...], dimension: int
                        ) -> ShapedArray:
    if any(d < 0 for d in shape):
        raise ShapeError(f"shape {shape} has a negative size")
    if not 0 <= dimension < len(shape):
        raise ShapeError(f"dimension {dimension} is not an axis of shape {shape}")
    if dtype.kind not in "iuf":
        raise DTypeError(f"counts in an int or float dtype, not {dtype}")
    return ShapedArray(shape, dtype)


iota_p.def_impl(_iota_impl)


def broadcasted_iota(dtype: Any, shape: Sequence[int], dimension: int, *,
                     out_sharding: Any = None) -> Any:
    """0, 1, 2... along `dimension` of an array of `shape`, repeated along the others.

    >>> broadcasted_iota(np.int32, (2, 3), 1)
    array([[0, 1, 2],
           [0, 1, 2]], dtype=int32)
    """
    if out_sharding is not None:
        check_one_device("broadcasted_iota", out_sharding=out_sharding)
    shape = tuple(int(d) for d in shape)
    dimension = int(dimension) + (len(shape) if int(dimension) < 0 else 0)
    return iota_p.bind(dtype=np.dtype(dtype), shape=shape, dimension=dimension)


def iota(dtype: Any, size: int) -> Any:
    """0, 1, ..., size - 1 as `dtype`.

    >>> iota(np.float32, 3)
    array([0., 1., 2.], dtype=float32)
    """
    return broadcasted_iota(dtype, (int(size),), 0)


# ------------------------------------------------------------------ wrappers

neg, sign, floor, ceil, is_finite, abs, square = (  # noqa: A001  (jax.lax names)
    _wrapper(p) for p in (neg_p, sign_p, floor_p, ceil_p, is_finite_p, abs_p, square_p))
exp, exp2, log, log1p, expm1, sqrt, rsqrt, cbrt = (
    _wrapper(p, accuracy=True)
    for p in (exp_p, exp2_p, log_p, log1p_p, expm1_p, sqrt_p, rsqrt_p, cbrt_p))
sin, cos, tan, tanh, logistic = (
    _wrapper(p, accuracy=True) for p in (sin_p, cos_p, tan_p, tanh_p, logistic_p))
asin, acos, atan, sinh, cosh, asinh, acosh, atanh = (
    _wrapper(p) for p in (asin_p, acos_p, atan_p, sinh_p, cosh_p, asinh_p, acosh_p, atanh_p))
erf, erfc, erf_inv, lgamma, digamma = (
    _wrapper(p) for p in (erf_p, erfc_p, erf_inv_p, lgamma_p, digamma_p))
add, sub, div, rem, atan2 = (_wrapper(p, 2) for p in (add_p, sub_p, div_p, rem_p, atan2_p))


def mul(x: Any, y: Any, *, out_dtype: Any = None) -> Any:
    """Elementwise `x * y`; with `out_dtype`, of the operands converted to it first (as
    JAX's `lax.mul` does on backends without a mixed-precision multiply)."""
    if out_dtype is not None:
        x, y = (convert_element_type(v, out_dtype) for v in asarray_like(x, y))
    return mul_p.bind(*asarray_like(x, y))


def nextafter(x1: Any, x2: Any) -> Any:
    """The next float after `x1` towards `x2`, elementwise (the `nextafter` primitive)."""
    return nextafter_p.bind(*asarray_like(x1, x2))


def pow(x: Any, y: Any) -> Any:  # noqa: A001
    """Elementwise `x ** y`; an integer exponent array raises a float or complex base to
    its values, as JAX's `lax.pow` (the `pow` primitive).

    >>> pow(np.array([2.0, 3.0]), np.array([3, -1], np.int32))
    array([8.        , 0.33333333])
    """
    x, y = asarray_like(x, y)
    xd, yd = get_aval(x).dtype, get_aval(y).dtype
    if yd.kind in "iu" and xd.kind in "fc":
        y = convert_element_type(y, xd)
    return pow_p.bind(x, y)
max, min = _wrapper(max_p, 2), _wrapper(min_p, 2)  # noqa: A001


def clamp(min: Any, x: Any, max: Any) -> Any:  # noqa: A002  (jax.lax's names)
    """`x` limited to [`min`, `max`] elementwise (the `clamp` primitive)."""
    return clamp_p.bind(*asarray_like(min, x, max))


bitwise_and, bitwise_or, bitwise_xor = (
    _wrapper(p, 2, f"bitwise_{p.name}") for p in (and_p, or_p, xor_p))
bitwise_not = _wrapper(not_p, 1, "bitwise_not")
shift_left, shift_right_logical, shift_right_arithmetic = (
    _wrapper(p, 2) for p in (shift_left_p, shift_right_logical_p, shift_right_arithmetic_p))
population_count = _wrapper(population_count_p)
eq, ne, lt, le, gt, ge = (_wrapper(p, 2) for p in (eq_p, ne_p, lt_p, le_p, gt_p, ge_p))


def round(x: Any, rounding_method: int = RoundingMethod.AWAY_FROM_ZERO) -> Any:  # noqa: A001
    """Round to an integral value; ties go away from zero (or to even with
    `RoundingMethod.TO_NEAREST_EVEN`), as in jax.lax.round.

    >>> round(np.float32(2.5))
    array(3., dtype=float32)
    """
    method = RoundingMethod(rounding_method)  # ValueError for anything else
    return round_p.bind(*asarray_like(x), rounding_method=int(method))


def polygamma(m: Any, x: Any) -> Any:
    """The `m`-th derivative of `digamma`. The orders `m >= 0` are integers: a Python
    number, or a concrete array of x's shape and dtype (elementwise), as JAX takes them;
    `fnad.scipy.special.polygamma` broadcasts and takes integer arrays.

    >>> float(polygamma(1, np.float64(1.0)))  # pi^2 / 6
    1.6449340668482264
    """
    if isinstance(m, Tracer):
        raise ArgumentError(f"polygamma: the order m must be concrete (a number or a NumPy "
                            f"array), got a traced {m.aval}; pass it as a static argument")
    orders = np.asarray(m)
    (x,) = asarray_like(x)
    aval = get_aval(x)
    if hasattr(m, "dtype") and (orders.dtype != aval.dtype or orders.shape not in ((), aval.shape)):
        error = DTypeError if orders.dtype != aval.dtype else ShapeError
        raise error(f"polygamma: the orders m ({orders.dtype}{list(orders.shape)}) must have "
                    f"the dtype and shape of x ({aval.str_short()}), as in JAX; convert and "
                    f"broadcast them, or use fnad.scipy.special.polygamma")
    if not np.all((orders >= 0) & (orders == np.round(orders))):
        raise ArgumentError(f"polygamma: the orders m must be non-negative integers, got {m}")
    if orders.ndim == 0:
        return polygamma_p.bind(x, m=int(orders))
    out = None
    for k in np.unique(orders):
        value = polygamma_p.bind(x, m=int(k))
        out = value if out is None else select_n(orders == k, out, value)
    return out


def full_like(x: Any, fill_value: Any, dtype: Any = None, shape: Any = None,
              sharding: Any = None) -> Any:
    """An array of `fill_value` with `x`'s shape and dtype, unless given."""
    from fnad.lax.structural import full
    aval = get_aval(x)
    return full(aval.shape if shape is None else shape, fill_value,
                aval.dtype if dtype is None else dtype, sharding=sharding)


# ------------------------------------------------------------------ CuPy implementations
# Where the NumPy impls above do not run on CuPy arrays as they are (`np.asarray`, NumPy's
# own ufuncs and series). Written with the API NumPy and CuPy share, so tests run them on
# NumPy arrays too; the CuPy backend moves NumPy operands to the device before calling.

def _integer_pow_xp(x: Any, y: int) -> Any:
    return (x ** y if y >= 0 else 1 / x ** -y).astype(x.dtype, copy=False)


def _select_n_xp(which: Any, *cases: Any) -> Any:
    xp = array_module([which, *cases])
    if len(cases) == 2:
        out = xp.where(which, cases[1], cases[0])
    else:  # a bool `which` has exactly two cases, so it is an integer here
        shape = next((tuple(x.shape) for x in (which, *cases) if x.ndim), ())
        out = xp.broadcast_to(cases[-1], shape)
        for i in range(len(cases) - 2, -1, -1):
            out = xp.where(which == i, cases[i], out)
    return xp.asarray(out).astype(cases[0].dtype, copy=False)


def _bits(x: Any, kind: str) -> Any:
    """x's bits as the signed ('i') or unsigned ('u') integer of its width."""
    return x.view(np.dtype(f"{kind}{x.dtype.itemsize}"))


def _shift_xp(op: str, kind: str) -> Callable[..., Any]:
    """XLA's shifts: amounts outside [0, bits) shift everything out (the sign bit, for an
    arithmetic shift)."""
    def impl(x: Any, s: Any) -> Any:
        xp = array_module([x, s])
        bits = x.dtype.itemsize * 8
        v = _bits(x, kind)
        inside = (s >= 0) & (s < bits)
        amount = xp.where(inside, s, 0).astype(v.dtype)
        shifted = getattr(xp, op)(v, amount)
        out = v >> (bits - 1) if kind == "i" else xp.zeros((), v.dtype)
        return xp.where(inside, shifted, out).astype(v.dtype).view(x.dtype)
    return impl


def _population_count_xp(x: Any) -> Any:
    """Bits set, by the SWAR sum on 64-bit words (bytes summed by shifts: no overflow)."""
    v = _bits(x, "u").astype(np.uint64)
    v = v - ((v >> 1) & 0x5555555555555555)
    v = (v & 0x3333333333333333) + ((v >> 2) & 0x3333333333333333)
    v = (v + (v >> 4)) & 0x0F0F0F0F0F0F0F0F
    v = v + (v >> 8)
    v = v + (v >> 16)
    v = v + (v >> 32)
    return (v & 0x7F).astype(x.dtype)


def _special_module(x: Any) -> Any:
    """The SciPy-shaped special functions of x's library: cupyx.scipy.special on the GPU
    (scipy.special for NumPy arrays, which only tests pass here)."""
    return importlib.import_module("cupyx.scipy.special" if is_gpu_array(x)
                                   else "scipy.special")


def _special_xp(name: str) -> Callable[[Any], Any]:
    """A float64 special function (as the NumPy impls compute them), cast back."""
    def impl(x: Any) -> Any:
        return getattr(_special_module(x), name)(x.astype(np.float64)).astype(x.dtype)
    return impl


def _polygamma_xp(x: Any, m: int) -> Any:
    """digamma (m = 0) or (-1)^(m+1) m! zeta(m+1, x); at the poles (0, -1, -2, ...) +inf
    for odd m, NaN for even m (as the NumPy impl)."""
    xp, special = array_module([x]), _special_module(x)
    x64 = x.astype(np.float64)
    out = special.digamma(x64) if m == 0 else \
        (-1) ** (m + 1) * math.factorial(m) * special.zeta(m + 1.0, x64)
    poles = (x64 <= 0) & (x64 == xp.floor(x64))
    return xp.where(poles, np.inf if m % 2 else np.nan, out).astype(x.dtype)


for _p, _fn in [(integer_pow_p, _integer_pow_xp), (select_n_p, _select_n_xp),
                (convert_element_type_p, _convert_impl),
                (shift_left_p, _shift_xp("left_shift", "u")),
                (shift_right_logical_p, _shift_xp("right_shift", "u")),
                (shift_right_arithmetic_p, _shift_xp("right_shift", "i")),
                (population_count_p, _population_count_xp),
                (erf_p, _special_xp("erf")), (erfc_p, _special_xp("erfc")),
                (erf_inv_p, _special_xp("erfinv")), (lgamma_p, _special_xp("gammaln")),
                (digamma_p, lambda x: _polygamma_xp(x, 0)), (polygamma_p, _polygamma_xp)]:
    _p.def_impl(_fn, "cupy")



__all__ = [
    "RoundingMethod", "abs", "acos", "acosh", "add", "asarray_like", "asin", "asinh", "atan",
    "atan2", "atanh", "bitwise_and", "bitwise_not", "bitwise_or", "bitwise_xor",
    "broadcasted_iota", "cbrt", "ceil", "clamp", "convert_element_type", "cos", "cosh",
    "digamma", "div", "eq", "erf", "erf_inv", "erfc", "exp", "exp2", "expm1", "floor",
    "full_like", "ge", "gt", "integer_pow", "iota", "is_finite", "le", "lgamma", "log",
    "log1p", "logistic", "lt", "max", "min", "mul", "ne", "neg", "nextafter", "polygamma",
    "population_count", "pow", "rem", "round", "rsqrt", "select_n", "shift_left",
    "shift_right_arithmetic", "shift_right_logical", "sign", "sin", "sinh", "sqrt", "square",
    "sub", "tan", "tanh",
]
