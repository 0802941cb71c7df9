"""Elementwise primitives, each with all its rules in one block.

Operands must have equal shapes (rank-0 operands broadcast) and equal dtypes; Python
scalars passed to the wrappers take the dtype of the array they meet. `fnad.numpy` adds
NumPy's broadcasting and promotion on top.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fnad.core.errors import DTypeError
from fnad.core.ir import ShapedArray, get_aval
from fnad.core.primitive import Primitive, Zero
from fnad.lax._rules import (
    ANY,
    FLOAT,
    NUMBER,
    check_dtypes,
    defjvp,
    defjvp_zero,
    deflinear,
    elementwise,
    elementwise_batch,
    elementwise_shape,
    is_undefined,
    unbroadcast,
)

_PY_SCALARS = (bool, int, float, complex)
_DEFAULT = {bool: np.bool_, int: np.int32, float: np.float32, complex: np.complex64}


def asarray_like(*args: Any) -> list[Any]:
    """Python scalars become 0-d arrays of the dtype of the first array operand (weak typing,
    NEP 50); with no array operand, of the default dtype (float32, int32, bool)."""
    dtype = None
    for a in args:
        if not isinstance(a, _PY_SCALARS):
            dtype = get_aval(a).dtype
            break
    out = []
    for a in args:
        if isinstance(a, _PY_SCALARS):
            d = _DEFAULT[type(a)] if dtype is None else np.result_type(dtype, a)
            a = np.asarray(a, dtype=d)
        out.append(a)
    return out


def _unary(prim: Primitive):
    def f(x: Any) -> Any:
        return prim.bind(*asarray_like(x))
    f.__name__ = prim.name
    f.__doc__ = f"Elementwise `{prim.name}` (the `{prim.name}` primitive)."
    return f


def _binary(prim: Primitive):
    def f(x: Any, y: Any) -> Any:
        return prim.bind(*asarray_like(x, y))
    f.__name__ = prim.name
    f.__doc__ = f"Elementwise `{prim.name}` (the `{prim.name}` primitive)."
    return f


# ------------------------------------------------------------------ arithmetic

def _trunc_div(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if np.dtype(x.dtype).kind in "iu":
        with np.errstate(divide="ignore", invalid="ignore"):
            q = np.floor_divide(x, np.where(y == 0, 1, y))
            fix = (np.remainder(x, np.where(y == 0, 1, y)) != 0) & ((x < 0) != (y < 0))
            return np.where(y == 0, 0, q + fix).astype(x.dtype)
    return np.divide(x, y)


neg_p = elementwise("neg", np.negative, NUMBER, kernel="(-{0})")
deflinear(neg_p, lambda ct, x: [neg(ct)])

add_p = elementwise("add", np.add, NUMBER, kernel="({0} + {1})")
deflinear(add_p, lambda ct, x, y: [unbroadcast(ct, x.aval) if is_undefined(x) else None,
                                   unbroadcast(ct, y.aval) if is_undefined(y) else None])

sub_p = elementwise("sub", np.subtract, NUMBER, kernel="({0} - {1})")
deflinear(sub_p, lambda ct, x, y: [unbroadcast(ct, x.aval) if is_undefined(x) else None,
                                   unbroadcast(neg(ct), y.aval) if is_undefined(y) else None])

mul_p = elementwise("mul", np.multiply, NUMBER, kernel="({0} * {1})")
defjvp(mul_p, lambda g, ans, x, y: mul(g, y), lambda g, ans, x, y: mul(x, g))


def _mul_transpose(ct: Any, x: Any, y: Any) -> list[Any]:
    if is_undefined(x) and is_undefined(y):
        raise TypeError("mul is not linear in both operands at once")
    if is_undefined(x):
        return [unbroadcast(mul(ct, y), x.aval), None]
    return [None, unbroadcast(mul(x, ct), y.aval)]


mul_p.def_transpose(_mul_transpose)

div_p = elementwise("div", _trunc_div, NUMBER, kernel="({0} / {1})")
defjvp(div_p, lambda g, ans, x, y: div(g, y),
       lambda g, ans, x, y: neg(mul(g, div(ans, y))))


def _div_transpose(ct: Any, x: Any, y: Any) -> list[Any]:
    if is_undefined(y):
        raise TypeError("div is linear only in its numerator")
    return [unbroadcast(div(ct, y), x.aval), None]


div_p.def_transpose(_div_transpose)


def _balanced_eq(x: Any, z: Any, y: Any) -> Any:
    """1 where x alone attains the extremum z, 1/2 where x and y tie, 0 elsewhere."""
    dtype = get_aval(z).dtype
    one, half, zero = (np.asarray(v, dtype) for v in (1, 0.5, 0))
    return select_n(eq(x, z), zero, select_n(eq(y, z), one, half))


max_p = elementwise("max", np.maximum, NUMBER, kernel="fmax{f}({0}, {1})")
defjvp(max_p, lambda g, ans, x, y: mul(g, _balanced_eq(x, ans, y)),
       lambda g, ans, x, y: mul(g, _balanced_eq(y, ans, x)))

min_p = elementwise("min", np.minimum, NUMBER, kernel="fmin{f}({0}, {1})")
defjvp(min_p, lambda g, ans, x, y: mul(g, _balanced_eq(x, ans, y)),
       lambda g, ans, x, y: mul(g, _balanced_eq(y, ans, x)))

# ------------------------------------------------------------------ transcendental

sin_p = elementwise("sin", np.sin, FLOAT, kernel="sin{f}({0})")
defjvp(sin_p, lambda g, ans, x: mul(g, cos(x)))

cos_p = elementwise("cos", np.cos, FLOAT, kernel="cos{f}({0})")
defjvp(cos_p, lambda g, ans, x: neg(mul(g, sin(x))))

exp_p = elementwise("exp", np.exp, FLOAT, kernel="exp{f}({0})")
defjvp(exp_p, lambda g, ans, x: mul(g, ans))

log_p = elementwise("log", np.log, FLOAT, kernel="log{f}({0})")
defjvp(log_p, lambda g, ans, x: div(g, x))

tanh_p = elementwise("tanh", np.tanh, FLOAT, kernel="tanh{f}({0})")
defjvp(tanh_p, lambda g, ans, x: mul(g, sub(1, mul(ans, ans))))


def _logistic(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return np.asarray(1 / (1 + np.exp(-x)), dtype=x.dtype)


logistic_p = elementwise("logistic", _logistic, FLOAT, kernel="(1 / (1 + exp{f}(-{0})))")
defjvp(logistic_p, lambda g, ans, x: mul(g, mul(ans, sub(1, ans))))

sqrt_p = elementwise("sqrt", np.sqrt, FLOAT, kernel="sqrt{f}({0})")
defjvp(sqrt_p, lambda g, ans, x: div(g, mul(2, ans)))

# ------------------------------------------------------------------ integer_pow

integer_pow_p = Primitive("integer_pow")
integer_pow_p.def_impl(lambda x, y: np.asarray(x ** y if y >= 0 else 1 / x ** -y, x.dtype))


@integer_pow_p.def_abstract_eval
def _integer_pow_abstract_eval(x: ShapedArray, y: int) -> ShapedArray:
    if x.dtype.kind in "iu" and y < 0:
        raise DTypeError(f"a negative power ({y}) of integers")
    check_dtypes([x], NUMBER)
    return x


integer_pow_p.def_batch(elementwise_batch(integer_pow_p))
integer_pow_p.kernel = "{pow}"  # rendered as repeated multiplication by the code generator
defjvp(integer_pow_p, lambda g, ans, x, y: mul(g, mul(np.asarray(y, get_aval(x).dtype),
                                                      integer_pow(x, y - 1)))
       if y != 0 else mul(g, np.asarray(0, get_aval(x).dtype)))


def integer_pow(x: Any, y: int) -> Any:
    """`x ** y` for a static Python integer `y`."""
    return integer_pow_p.bind(x, y=int(y))


# ------------------------------------------------------------------ comparisons

def _comparison(name: str, fn: Any, op: str) -> Primitive:
    prim = elementwise(name, fn, ANY, out_dtype=np.bool_, kernel=f"({{0}} {op} {{1}})")
    defjvp_zero(prim)
    return prim


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
    shape = elementwise_shape(*cases)
    if which.shape and which.shape != shape:
        from fnad.core.errors import ShapeError
        raise ShapeError(f"selector shape {which.shape} does not match the cases' {shape}")
    dtype = check_dtypes(cases, ANY)
    return ShapedArray(shape, dtype)


def _select_n_jvp(primals: Any, tangents: Any) -> Any:
    from fnad.interpreters.jvp import instantiate
    ans = select_n_p.bind(*primals)
    aval = get_aval(ans)
    if all(type(t) is Zero for t in tangents[1:]):
        return ans, Zero(aval)
    from fnad.lax._rules import to_aval
    ts = [to_aval(instantiate(t), aval) for t in tangents[1:]]
    return ans, select_n_p.bind(primals[0], *ts)


def _select_n_transpose(ct: Any, which: Any, *cases: Any) -> list[Any]:
    if is_undefined(which):
        raise TypeError("select_n is not linear in its selector")
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
select_n_p.kernel = "select"


def select_n(which: Any, *cases: Any) -> Any:
    """`cases[which]` elementwise; a bool `which` picks `cases[1]` where True."""
    cases = asarray_like(*cases)
    return select_n_p.bind(*asarray_like(which), *cases)


# ------------------------------------------------------------------ convert_element_type

convert_element_type_p = Primitive("convert_element_type")
convert_element_type_p.def_impl(lambda x, new_dtype: np.asarray(x).astype(new_dtype))
convert_element_type_p.def_abstract_eval(lambda x, new_dtype: x.update(dtype=new_dtype))
convert_element_type_p.def_batch(elementwise_batch(convert_element_type_p))
convert_element_type_p.kernel = "convert"


def _convert_jvp(primals: Any, tangents: Any, new_dtype: np.dtype) -> Any:
    (x,), (t,) = primals, tangents
    ans = convert_element_type_p.bind(x, new_dtype=new_dtype)
    if type(t) is Zero or new_dtype.kind not in "fc":
        return ans, Zero(get_aval(ans))
    return ans, convert_element_type_p.bind(t, new_dtype=new_dtype)


convert_element_type_p.def_jvp(_convert_jvp)
convert_element_type_p.def_transpose(
    lambda ct, x, new_dtype: [convert_element_type(ct, x.aval.dtype)])


def convert_element_type(x: Any, new_dtype: Any) -> Any:
    """`x` as `new_dtype` (no equation when it already is)."""
    (x,) = asarray_like(x)
    new_dtype = np.dtype(new_dtype)
    if get_aval(x).dtype == new_dtype:
        return x
    return convert_element_type_p.bind(x, new_dtype=new_dtype)


# ------------------------------------------------------------------ wrappers

neg = _unary(neg_p)
add, sub, mul, div = _binary(add_p), _binary(sub_p), _binary(mul_p), _binary(div_p)
max, min = _binary(max_p), _binary(min_p)  # noqa: A001  (jax.lax names)
sin, cos, exp, log, tanh = (_unary(p) for p in (sin_p, cos_p, exp_p, log_p, tanh_p))
logistic, sqrt = _unary(logistic_p), _unary(sqrt_p)
eq, ne, lt, le, gt, ge = (_binary(p) for p in (eq_p, ne_p, lt_p, le_p, gt_p, ge_p))


def full_like(x: Any, fill_value: Any, dtype: Any = None) -> Any:
    """An array of `fill_value` with `x`'s shape (and dtype unless given)."""
    from fnad.lax.structural import full
    aval = get_aval(x)
    return full(aval.shape, fill_value, aval.dtype if dtype is None else dtype)



__all__ = ["add", "asarray_like", "convert_element_type", "cos", "div", "eq", "exp",
           "full_like", "ge", "gt", "integer_pow", "le", "log", "logistic", "lt", "max", "min",
           "mul", "ne", "neg", "select_n", "sin", "sqrt", "sub", "tanh"]
