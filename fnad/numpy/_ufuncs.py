"""NumPy's elementwise functions, each a few `fnad.lax` calls.

`_ufunc` asks NumPy's own ufunc which loop dtypes it would pick (so output dtypes match
NumPy's exactly, weak Python scalars included), converts and broadcasts the operands, and
runs the lax body on them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from fnad import lax
from fnad.core.cache import Cache
from fnad.core.errors import (
    ArgumentError,
    ArgumentTypeError,
    check_no_out,
    check_unsupported,
)
from fnad.core.ir import get_aval
from fnad.core.trace import Tracer
from fnad.lax.elementwise import imag_part, real_part
from fnad.numpy._core import (
    PY_SCALARS,
    asarray,
    broadcast_shapes,
    broadcast_to,
    broadcast_together,
    convert,
    fresh,
    is_scalar,
    promote_dtypes,
    result_type,
    ufunc_dtypes,
    weak_operand,
)


def prepare(ufunc: np.ufunc, *args: Any, dtype: Any = None) -> tuple[list[Any], np.dtype]:
    """Operands converted to the loop dtypes NumPy's `ufunc` picks (for output `dtype`, if
    given) and broadcast, and the output dtype."""
    key = _plan_key(ufunc, args, dtype)
    plan = _PLANS.peek(key) if key is not None else None
    if plan is None:
        args = tuple(a if is_scalar(a) else asarray(a) for a in args)
        dts = ufunc_dtypes(ufunc, args, dtype)
        weak = weak_operand(args)  # Python numbers meeting only weak tracers stay weak
        ops = broadcast_together(*(convert(a, d, weak) for a, d in zip(args, dts)))
        if key is not None:
            _PLANS.put(key, (_conversions(args, dts, ops), dts[-1]))
        return ops, dts[-1]
    steps, out_dtype = plan
    ops = []
    for a, (dt, shape, dims) in zip(args, steps):
        if dt is not None:
            a = np.asarray(a, dt) if type(a) in PY_SCALARS else lax.convert_element_type(a, dt)
        if shape is not None:
            a = lax.broadcast_in_dim(a, shape, dims)
        ops.append(a)
    return ops, out_dtype


# (ufunc, dtype, operand signatures) -> ((dtype to convert to, shape to broadcast to,
# broadcast dimensions) per operand, output dtype): NumPy's loop choice and broadcasting
# depend only on these, and the eager path runs the same few ufuncs over and over
# operand signature -> (conversions and broadcasts of each operand, output dtype)
_PLANS = Cache(maxsize=10_000)


def _plan_key(ufunc: np.ufunc, args: tuple, dtype: Any) -> tuple | None:
    """The operands' signatures (shape and dtype, or a Python number's type), or None when
    an operand is something else (a list, a NumPy scalar, a CuPy array...)."""
    key: list[Any] = [ufunc, dtype]
    for a in args:
        t = type(a)
        if t is np.ndarray:
            key += (a.shape, a.dtype)
        elif t in PY_SCALARS:
            key.append(t)
        elif isinstance(a, Tracer):
            aval = a.aval
            if aval.weak_type:  # weak tracers are rare: their conversions are not remembered
                return None
            key.append(aval)
        else:
            return None
    return tuple(key)


def _conversions(args: tuple, dts: tuple, ops: list[Any]) -> list[tuple[Any, Any, Any]]:
    steps = []
    for a, d, op in zip(args, dts, ops):
        aval, out = (None if is_scalar(a) else get_aval(a)), get_aval(op)
        dt = d if aval is None or aval.dtype != d else None
        shape = dims = None
        if aval is not None and aval.shape != out.shape:
            shape = out.shape
            dims = tuple(range(len(shape) - len(aval.shape), len(shape)))
        steps.append((dt, shape, dims))
    return steps


def _ufunc(ufunc: np.ufunc, name: str | None = None) -> Callable[[Callable[..., Any]], Any]:
    """Decorator: the body receives operands of NumPy's loop dtypes, already broadcast; the
    function takes NumPy's `dtype=` (the loop with that output dtype)."""

    def wrap(body: Callable[..., Any]) -> Any:
        # jax.numpy's names: x for one operand, x1 and x2 for two; `out` and `where` as
        # JAX's ufuncs take them (None only). The body is written in each: no extra call
        # on the eager hot path.
        if ufunc.nin == 1:
            def f(x: Any, *, dtype: Any = None, out: None = None, where: None = None) -> Any:
                if out is not None or where is not None:
                    _no_out_where(f.__name__, out, where)
                ops, out_dtype = prepare(ufunc, x, dtype=dtype)
                return fresh(lax.convert_element_type(body(*ops), out_dtype), x)
        else:
            def f(x1: Any, x2: Any, *, dtype: Any = None, out: None = None, where: None = None
                  ) -> Any:
                if out is not None or where is not None:
                    _no_out_where(f.__name__, out, where)
                ops, out_dtype = prepare(ufunc, x1, x2, dtype=dtype)
                return fresh(lax.convert_element_type(body(*ops), out_dtype), x1, x2)

        f.__name__ = f.__qualname__ = name or ufunc.__name__
        f._numpy_ufunc = ufunc  # its methods: fnad.numpy._ufunc_methods
        f.__doc__ = body.__doc__ or f"NumPy's `{f.__name__}` on arrays and tracers."
        return f

    return wrap


def _no_out_where(name: str, out: Any, where: Any) -> None:
    """JAX's ufuncs take `out` and `where` as None only (arrays are immutable; mask with
    `where(mask, f(x), x)` instead)."""
    check_no_out(name, out)
    check_unsupported(name, "mask the result with fnad.numpy.where instead", where=where)


def _is_float(x: Any) -> bool:
    return get_aval(x).dtype.kind in "fc"


def _is_bool(x: Any) -> bool:
    return get_aval(x).dtype == np.bool_


def _lift(ufunc: np.ufunc, lax_fn: Callable[..., Any], name: str | None = None) -> Any:
    """A ufunc whose body is one lax function."""
    return _ufunc(ufunc, name)(lambda *xs: lax_fn(*xs))


def _identity_unless_float(ufunc: np.ufunc, lax_fn: Callable[..., Any]) -> Any:
    """floor/ceil/trunc: NumPy 2 keeps integers (and bools) as they are."""
    return _ufunc(ufunc)(lambda x: lax_fn(x) if _is_float(x) else x)


# ------------------------------------------------------------------ unary arithmetic

negative = _lift(np.negative, lax.neg)
positive = _ufunc(np.positive)(lambda x: x)


def _complex_abs(x: Any) -> Any:
    """|x| of complex x as big * sqrt(1 + (small / big)**2) over the parts' magnitudes:
    no overflow of re**2, and JAX's derivative 0 at 0; inf where a part is infinite, a
    NaN in the other one included (inf / inf made it NaN), as NumPy's."""
    re, im = lax.abs(real_part(x)), lax.abs(imag_part(x))
    big, small = lax.max(re, im), lax.min(re, im)
    ratio = lax.div(small, lax.select_n(lax.eq(big, 0), big, lax.full_like(big, 1)))
    out = lax.mul(big, lax.sqrt(lax.add(lax.mul(ratio, ratio), lax.full_like(ratio, 1))))
    infinite = lax.bitwise_or(lax.eq(re, np.inf), lax.eq(im, np.inf))
    out = lax.select_n(infinite, out, lax.full_like(out, np.inf))
    # at 0 the derivative is 0, as JAX's (the max of the parts' magnitudes split it there)
    return lax.select_n(lax.eq(big, 0), out, lax.full_like(out, 0))


@_ufunc(np.absolute)
def absolute(x: Any) -> Any:
    """|x|; the magnitude (a float array) for complex x."""
    if get_aval(x).dtype.kind in "bu":
        return x
    return _complex_abs(x) if get_aval(x).dtype.kind == "c" else lax.abs(x)


abs = absolute  # noqa: A001


@_ufunc(np.sign)
def sign(x: Any) -> Any:
    """-1, 0 or 1 by sign (NaN for NaN); x / |x| for complex x (0 at 0), with derivative 0
    as JAX's."""
    if get_aval(x).dtype.kind != "c":
        return lax.sign(x)
    # (re, im) / big / sqrt(1 + (small / big)^2) over the parts' magnitudes: neither |x|
    # overflowing (huge parts) nor a complex division by a subnormal |x| (which overflowed)
    re, im = real_part(x), imag_part(x)
    big, small = lax.max(lax.abs(re), lax.abs(im)), lax.min(lax.abs(re), lax.abs(im))
    big = lax.select_n(lax.eq(big, 0), big, lax.full_like(big, 1))
    ratio = lax.div(small, big)
    norm = lax.sqrt(lax.add(lax.mul(ratio, ratio), lax.full_like(ratio, 1)))
    out = lax.complex(lax.div(lax.div(re, big), norm), lax.div(lax.div(im, big), norm))
    # one infinite part: the unit along it, as NumPy's (inf / inf made it NaN)
    re_inf, im_inf = (lax.eq(lax.abs(v), np.inf) for v in (re, im))
    unit = lax.complex(*(lax.select_n(i, lax.full_like(v, 0), lax.sign(v))
                         for i, v in ((re_inf, re), (im_inf, im))))
    return lax.stop_gradient(lax.select_n(lax.ne(re_inf, im_inf), out, unit))


floor = _identity_unless_float(np.floor, lax.floor)
ceil = _identity_unless_float(np.ceil, lax.ceil)


def _trunc(x: Any) -> Any:
    return lax.select_n(lax.lt(x, 0), lax.floor(x), lax.ceil(x))


trunc = fix = _identity_unless_float(np.trunc, _trunc)


def _round_half_even(x: Any) -> Any:
    """Round half to even; complex x part by part."""
    if get_aval(x).dtype.kind == "c":
        return lax.complex(_round_half_even(real_part(x)), _round_half_even(imag_part(x)))
    return lax.round(x, lax.RoundingMethod.TO_NEAREST_EVEN)


rint = _lift(np.rint, _round_half_even)


def round(a: Any, decimals: int = 0, out: None = None) -> Any:  # noqa: A001
    """Round half to even at `decimals` places (NumPy's rule: scale, `rint`, unscale);
    integers are returned as they are for `decimals >= 0`.

    >>> round(np.array([0.5, 1.5, 2.675]), 2)
    array([0.5 , 1.5 , 2.68])
    """
    if out is not None:
        check_no_out("round", out)
    a = asarray(a)
    if not _is_float(a):
        if decimals >= 0:
            return fresh(a, a)
        scale = 10 ** -decimals
        q, r = divmod(a, scale)  # a = q * scale + r with 0 <= r < scale; ties go to even q
        twice = multiply(r, 2)
        up = logical_or(greater(twice, scale),
                        logical_and(equal(twice, scale), equal(remainder(q, 2), 1)))
        return multiply(add(q, up), scale)
    if decimals == 0:
        return rint(a)
    scale = 10.0 ** decimals
    return lax.div(rint(lax.mul(a, scale)), scale)


around = round
square = _ufunc(np.square)(lambda x: lax.integer_pow(x, 2))
reciprocal = _ufunc(np.reciprocal)(lambda x: lax.div(1, x))

# ------------------------------------------------------------------ transcendental

exp = _lift(np.exp, lax.exp)
exp2 = _lift(np.exp2, lax.exp2)
expm1 = _lift(np.expm1, lax.expm1)
log = _lift(np.log, lax.log)
log1p = _lift(np.log1p, lax.log1p)


def _log_base(base: float) -> Callable[[Any], Any]:
    """log(x) / log(base); for complex x part by part, since a complex division would
    turn log(inf + 0j) = inf + 0j into inf + NaN j."""
    def fn(x: Any) -> Any:
        out = lax.log(x)
        if get_aval(x).dtype.kind != "c":
            return lax.div(out, np.log(base).astype(get_aval(x).dtype))
        scale = np.log(base).astype(get_aval(real_part(out)).dtype)
        return lax.complex(lax.div(real_part(out), scale), lax.div(imag_part(out), scale))
    return fn


log2 = _ufunc(np.log2)(_log_base(2))
log10 = _ufunc(np.log10)(_log_base(10))
sqrt = _lift(np.sqrt, lax.sqrt)
cbrt = _lift(np.cbrt, lax.cbrt)
sin, cos, tan = _lift(np.sin, lax.sin), _lift(np.cos, lax.cos), _lift(np.tan, lax.tan)
arcsin, arccos = _lift(np.arcsin, lax.asin), _lift(np.arccos, lax.acos)
arctan = _lift(np.arctan, lax.atan)
sinh, cosh, tanh = _lift(np.sinh, lax.sinh), _lift(np.cosh, lax.cosh), _lift(np.tanh, lax.tanh)
arcsinh, arccosh = _lift(np.arcsinh, lax.asinh), _lift(np.arccosh, lax.acosh)
arctanh = _lift(np.arctanh, lax.atanh)
asin, acos, atan, asinh, acosh, atanh = arcsin, arccos, arctan, arcsinh, arccosh, arctanh

# ------------------------------------------------------------------ classification

isnan = _ufunc(np.isnan)(lambda x: lax.ne(x, x))
isfinite = _ufunc(np.isfinite)(lambda x: lax.is_finite(x) if _is_float(x) else lax.eq(x, x))


@_ufunc(np.isinf)
def isinf(x: Any) -> Any:
    """True where x is +-inf; for complex x, where either part is."""
    if get_aval(x).dtype.kind == "c":
        return lax.bitwise_or(isinf(real_part(x)), isinf(imag_part(x)))
    return lax.eq(lax.abs(x), np.inf) if _is_float(x) else lax.ne(x, x)

# ------------------------------------------------------------------ binary arithmetic


def _bool_or(fn: Callable[..., Any], bool_fn: Callable[..., Any]) -> Callable[..., Any]:
    """NumPy's add/multiply on bools are logical or/and."""
    return lambda x, y: bool_fn(x, y) if _is_bool(x) else fn(x, y)


add = _ufunc(np.add)(_bool_or(lax.add, lax.bitwise_or))
subtract = _lift(np.subtract, lax.sub)
multiply = _ufunc(np.multiply)(_bool_or(lax.mul, lax.bitwise_and))
divide = true_divide = _lift(np.divide, lax.div)
maximum = _ufunc(np.maximum)(_bool_or(lax.max, lax.bitwise_or))
minimum = _ufunc(np.minimum)(_bool_or(lax.min, lax.bitwise_and))


def _nan_ignoring(ufunc: np.ufunc, extremum: Callable[[Any, Any], Any],
                  wins: Callable[[Any, Any], Any]) -> Any:
    """fmax/fmin: x where it `wins` over y or y is NaN, else y (NaN only where both are); a
    tie goes to y, so the derivative there is y's alone, as in JAX."""

    def body(x: Any, y: Any) -> Any:
        if not _is_float(x):
            return extremum(x, y)
        return lax.select_n(lax.bitwise_or(wins(x, y), lax.ne(y, y)), y, x)

    body.__doc__ = f"{extremum.__name__.capitalize()} ignoring NaNs (NaN only where both are)."
    return _ufunc(ufunc)(body)


fmax = _nan_ignoring(np.fmax, maximum, lax.gt)
fmin = _nan_ignoring(np.fmin, minimum, lax.lt)


def _floor_divmod(x: Any, y: Any) -> tuple[Any, Any]:
    """Python's floor division and modulo (sign of the divisor), built from lax's
    truncating `div` and `rem` with NumPy's float algorithm."""
    mod = lax.rem(x, y)
    wrong_sign = lax.bitwise_and(lax.ne(mod, 0), lax.ne(lax.lt(mod, 0), lax.lt(y, 0)))
    if not _is_float(x):
        fix = lax.convert_element_type(wrong_sign, get_aval(x).dtype)
        return lax.sub(lax.div(x, y), fix), lax.add(mod, lax.mul(fix, y))
    div = lax.div(lax.sub(x, mod), y)
    div = lax.select_n(wrong_sign, div, lax.sub(div, 1))
    floordiv = lax.floor(div)
    floordiv = lax.select_n(lax.gt(lax.sub(div, floordiv), 0.5), floordiv, lax.add(floordiv, 1))
    floordiv = lax.select_n(lax.eq(y, 0), floordiv, lax.div(x, y))  # x / 0: inf or nan
    return floordiv, lax.select_n(wrong_sign, mod, lax.add(mod, y))


@_ufunc(np.floor_divide)
def floor_divide(x: Any, y: Any) -> Any:
    """Python's `x // y`. Piecewise constant, so its derivative is 0 everywhere, as in JAX
    (x / 0's inf or NaN included: the x / y it selects there would leak -x / y**2)."""
    out = _floor_divmod(x, y)[0]
    return lax.stop_gradient(out) if _is_float(out) else out

remainder = mod = _ufunc(np.remainder)(lambda x, y: _floor_divmod(x, y)[1])
fmod = _lift(np.fmod, lax.rem)


def divmod(x: Any, y: Any) -> tuple[Any, Any]:  # noqa: A001
    """`(floor_divide(x, y), remainder(x, y))`."""
    return floor_divide(x, y), remainder(x, y)


def power(x: Any, y: Any, dtype: Any = None) -> Any:
    """`x ** y`; a Python integer exponent becomes `integer_pow` (repeated multiplication,
    exact for integers and differentiable at x = 0). Integer arrays to integer array
    powers multiply in the integer dtype (square and multiply over the exponent's bits),
    so they wrap around on overflow as NumPy's and JAX's do; a negative exponent gives
    1 / x**-y truncated, as JAX (1 and -1 give 1 or -1, every other base 0; no error).

    >>> power(np.arange(3, dtype=np.float32), 2)
    array([0., 1., 4.], dtype=float32)
    """
    (x_, y_), out_dtype = prepare(np.power, x, y, dtype=dtype)
    if isinstance(y, int) and not isinstance(y, bool):
        if y < 0 and out_dtype.kind in "iu":
            raise ArgumentError(f"integers to negative integer powers ({y}) are not allowed")
        return lax.integer_pow(x_, y)
    if out_dtype.kind in "iu":
        return _integer_power(x_, y_, out_dtype)
    return lax.convert_element_type(lax.pow(x_, y_), out_dtype)


def _integer_power(x: Any, y: Any, dtype: np.dtype) -> Any:
    """x ** y of integer arrays in their dtype, wrapping on overflow: one while loop over
    the bits of y (as many rounds as the largest exponent has bits)."""
    shape = broadcast_shapes(get_aval(x).shape, get_aval(y).shape)
    x, y = (broadcast_to(lax.convert_element_type(v, dtype), shape) for v in (x, y))
    negative = lax.lt(y, 0) if dtype.kind == "i" else None
    exps = y if negative is None else lax.select_n(negative, y, lax.full_like(y, 0))

    def body(state: tuple[Any, Any, Any]) -> tuple[Any, Any, Any]:
        acc, base, e = state
        odd = lax.ne(lax.bitwise_and(e, lax.full_like(e, 1)), 0)
        acc = lax.select_n(odd, acc, lax.mul(acc, base))
        return acc, lax.mul(base, base), lax.shift_right_logical(e, lax.full_like(e, 1))

    def cond(state: tuple[Any, Any, Any]) -> Any:
        e = state[2]
        return lax.reduce_or(lax.ne(e, 0), tuple(range(get_aval(e).ndim)))

    out = lax.while_loop(cond, body, (lax.full_like(x, 1), x, exps))[0]
    if negative is None:
        return out
    one, zero = lax.full_like(x, 1), lax.full_like(x, 0)
    odd = lax.ne(lax.bitwise_and(y, lax.full_like(y, 1)), 0)
    minus_one = lax.select_n(odd, one, lax.neg(one))  # (-1) ** y
    inverse = lax.select_n(lax.eq(x, one), lax.select_n(lax.eq(x, lax.neg(one)), zero, minus_one),
                           one)  # 1 / x**-y truncated toward zero
    return lax.select_n(negative, out, inverse)


pow = power  # noqa: A001
float_power = _lift(np.float_power, lax.pow)
arctan2 = atan2 = _lift(np.arctan2, lax.atan2)


@_ufunc(np.hypot)
def hypot(x: Any, y: Any) -> Any:
    """sqrt(x**2 + y**2) without overflow or underflow: s * sqrt((x/s)**2 + (y/s)**2) with
    s = max(|x|, |y|) held constant to AD, so derivatives of every order are those of
    sqrt(x**2 + y**2), at |x| == |y| too; inf where either is infinite (even with a NaN), as
    NumPy; at (0, 0) the derivative is JAX's (1/2 to each operand through the max tie), not
    sqrt's NaN.

    >>> float(hypot(np.float64(3e200), np.float64(4e200)))
    5e+200
    """
    ax, ay = lax.abs(x), lax.abs(y)
    big = lax.max(ax, ay)
    zero = lax.eq(big, 0)
    one = lax.full_like(big, 1)
    scale = lax.stop_gradient(lax.select_n(zero, big, one))
    sx, sy = lax.div(x, scale), lax.div(y, scale)
    squares = lax.select_n(zero, lax.add(lax.mul(sx, sx), lax.mul(sy, sy)), one)
    out = lax.select_n(zero, lax.mul(scale, lax.sqrt(squares)), big)
    infinite = lax.bitwise_or(lax.eq(ax, np.inf), lax.eq(ay, np.inf))
    return lax.select_n(infinite, out, lax.full_like(out, np.inf))


def _log_add(x: Any, y: Any, base2: bool) -> Any:
    """log(exp(x) + exp(y)) (base 2 if `base2`) without overflow: big + log1p(exp(-|x - y|)),
    with `big` and the sign of -|x - y| taken from one side, x's at a tie. Each side is the
    smooth function itself, so every derivative is right at x = y (1/2, then +-1/4); max
    and abs there give balanced first derivatives but lose the curvature.

    float16 is computed in float32, as NumPy's half loops (and XLA) do: the final sum
    cancels, and float16 would lose the leading digits there.
    """
    if get_aval(x).dtype == np.float16:
        wide = [lax.convert_element_type(v, np.float32) for v in (x, y)]
        return lax.convert_element_type(_log_add(*wide, base2), np.float16)
    delta = lax.sub(x, y)
    nan = lax.ne(delta, delta)  # inf - inf (or a NaN operand): x + y
    # where x and y are the same infinity, the derivatives are x + y's (1 and 1, as JAX's),
    # with no NaN from the unselected side; a NaN operand keeps NaN derivatives
    delta = lax.select_n(lax.bitwise_and(nan, lax.eq(x, y)), delta, lax.full_like(delta, 0))
    x_big = lax.ge(delta, lax.full_like(delta, 0))
    big = lax.select_n(x_big, y, x)
    gap = lax.select_n(x_big, delta, lax.neg(delta))
    if base2:  # log2(1 + 2^gap), not a rescaling of x and y by log(2), which rounds them
        ln2 = np.log(2).astype(get_aval(x).dtype)
        term = lax.div(lax.log1p(lax.exp2(gap)), ln2)
    else:
        term = lax.log1p(lax.exp(gap))
    return lax.select_n(nan, lax.add(big, term), lax.add(x, y))


@_ufunc(np.logaddexp)
def logaddexp(x: Any, y: Any) -> Any:
    """log(exp(x) + exp(y)) without overflow, with every derivative right at x = y.

    >>> float(logaddexp(0.0, 0.0))  # doctest: +ELLIPSIS
    0.693147...
    """
    return _log_add(x, y, base2=False)


@_ufunc(np.logaddexp2)
def logaddexp2(x: Any, y: Any) -> Any:
    """log2(2**x + 2**y) without overflow, with every derivative right at x = y."""
    return _log_add(x, y, base2=True)


# ------------------------------------------------------------------ logical and bitwise


def _truth(x: Any) -> Any:
    return x if _is_bool(x) else lax.ne(x, 0)


logical_and = _ufunc(np.logical_and)(lambda x, y: lax.bitwise_and(_truth(x), _truth(y)))
logical_or = _ufunc(np.logical_or)(lambda x, y: lax.bitwise_or(_truth(x), _truth(y)))
logical_xor = _ufunc(np.logical_xor)(lambda x, y: lax.ne(_truth(x), _truth(y)))
logical_not = _ufunc(np.logical_not)(lambda x: lax.eq(_truth(x), False))

bitwise_and = _lift(np.bitwise_and, lax.bitwise_and)
bitwise_or = _lift(np.bitwise_or, lax.bitwise_or)
bitwise_xor = _lift(np.bitwise_xor, lax.bitwise_xor)
invert = bitwise_not = bitwise_invert = _lift(np.invert, lax.bitwise_not, "invert")
left_shift = _lift(np.left_shift, lax.shift_left)
right_shift = _ufunc(np.right_shift)(
    lambda x, y: (lax.shift_right_logical if get_aval(x).dtype.kind == "u"
                  else lax.shift_right_arithmetic)(x, y))

# ------------------------------------------------------------------ comparisons

equal, not_equal = _lift(np.equal, lax.eq), _lift(np.not_equal, lax.ne)
less, less_equal = _lift(np.less, lax.lt), _lift(np.less_equal, lax.le)
greater, greater_equal = _lift(np.greater, lax.gt), _lift(np.greater_equal, lax.ge)


def clip(arr: Any = None, /, min: Any = None, max: Any = None, *,  # noqa: A002
         a: Any = None, a_min: Any = None, a_max: Any = None) -> Any:
    """`arr` limited to [min, max] (either may be None): minimum(maximum(arr, min), max),
    NumPy 2's definition, so NaN bounds propagate as in NumPy. `a`, `a_min` and `a_max`
    are NumPy's older names (keywords), as JAX still takes them."""
    if (min is not None and a_min is not None) or (max is not None and a_max is not None) \
            or (arr is not None and a is not None):
        raise ArgumentTypeError("clip takes each argument once: arr or a=, min or a_min=, "
                                "max or a_max=")
    a = arr if a is None else a
    a_min = a_min if min is None else min
    a_max = a_max if max is None else max
    if a_min is not None:
        a = maximum(a, a_min)
    if a_max is not None:
        a = minimum(a, a_max)
    return fresh(asarray(a), a) if a_min is None and a_max is None else a


def where(condition: Any, x: Any = None, y: Any = None, /, *, size: int | None = None,
          fill_value: Any = None) -> Any:
    """`x` where `condition` is true, else `y`, broadcast together and promoted.

    With only `condition`, `nonzero(condition, size=size, fill_value=fill_value)`, as in
    JAX: pass `size` to use it under jit.

    >>> where(np.array([True, False]), 1.0, 2.0)
    array([1., 2.], dtype=float32)
    """
    if x is None and y is None:
        from fnad.numpy._sets import nonzero
        return nonzero(condition, size=size, fill_value=fill_value)
    if x is None or y is None:
        raise ArgumentTypeError("fnad.numpy.where needs both x and y, or neither")
    c = _truth(asarray(condition))
    xs, ys = promote_dtypes(x, y)
    shape = broadcast_shapes(*(get_aval(v).shape for v in (c, xs, ys)))
    c = c if get_aval(c).shape == () else broadcast_to(c, shape)
    return lax.select_n(c, broadcast_to(ys, shape), broadcast_to(xs, shape))


def isclose(a: Any, b: Any, rtol: float = 1e-5, atol: float = 1e-8,
            equal_nan: bool = False) -> Any:
    """|a - b| <= atol + rtol * |b|, with equal infinities close and NaNs unequal unless
    `equal_nan`."""
    a, b = promote_dtypes(a, b, dtype=result_type(a, b, 1.0))
    close = less_equal(absolute(subtract(a, b)), add(atol, multiply(rtol, absolute(b))))
    close = logical_or(logical_and(close, isfinite(b)), equal(a, b))
    return logical_or(close, logical_and(isnan(a), isnan(b))) if equal_nan else close


__all__ = [
    "abs", "absolute", "acos", "acosh", "add", "arccos", "arccosh", "arcsin", "arcsinh",
    "arctan", "arctan2", "arctanh", "around", "asin", "asinh", "atan", "atan2", "atanh",
    "bitwise_and", "bitwise_invert", "bitwise_not", "bitwise_or", "bitwise_xor", "cbrt", "ceil",
    "clip", "cos", "cosh", "divide", "divmod", "equal", "exp", "exp2", "expm1", "fix",
    "float_power", "floor", "floor_divide", "fmax", "fmin", "fmod", "greater", "greater_equal",
    "hypot", "invert", "isclose", "isfinite", "isinf", "isnan", "left_shift", "less",
    "less_equal", "log", "log10", "log1p", "log2", "logaddexp", "logaddexp2", "logical_and",
    "logical_not", "logical_or", "logical_xor", "maximum", "minimum", "mod", "multiply",
    "negative", "not_equal", "positive", "pow", "power", "reciprocal", "remainder",
    "right_shift", "rint", "round", "sign", "sin", "sinh", "sqrt", "square",
    "subtract", "tan", "tanh", "true_divide", "trunc", "where",
]
