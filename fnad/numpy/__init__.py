"""fnad.numpy: a NumPy-shaped API written on `fnad.lax`; import it as `fnp`.

It works on NumPy arrays and on tracers alike, follows NumPy's broadcasting and NEP 50
promotion, and adds no primitives of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from fnad import lax
from fnad.core.ir import get_aval
from fnad.lax.reduction import normalize_axes
from fnad.numpy._core import (
    array,
    asarray,
    broadcast_shapes,
    broadcast_to,
    promote,
    promote_dtypes,
    result_type,
)

float32, float64, int32, int64, bool_ = np.float32, np.float64, np.int32, np.int64, np.bool_
float16, uint8, uint32, int8, int16 = np.float16, np.uint8, np.uint32, np.int8, np.int16
pi, e, inf, nan = np.pi, np.e, np.inf, np.nan
ndarray = np.ndarray


def _float_dtype(*args: Any) -> np.dtype:
    dt = result_type(*args)
    return dt if dt.kind in "fc" else np.dtype(np.float64 if dt.itemsize > 4 else np.float32) \
        if dt.kind != "b" else np.dtype(np.float32)


def _binary(lax_fn: Any, name: str, floats: bool = False):
    def f(x: Any, y: Any) -> Any:
        dt = _float_dtype(x, y) if floats else None
        return lax_fn(*promote(x, y, dtype=dt))
    f.__name__ = name
    f.__doc__ = f"NumPy's `{name}`, broadcasting and promoting its operands."
    return f


def _unary_float(lax_fn: Any, name: str):
    def f(x: Any) -> Any:
        (x,) = promote(x, dtype=_float_dtype(x))
        return lax_fn(x)
    f.__name__ = name
    f.__doc__ = f"NumPy's `{name}` (integer inputs become float)."
    return f


add = _binary(lax.add, "add")
subtract = _binary(lax.sub, "subtract")
multiply = _binary(lax.mul, "multiply")
true_divide = divide = _binary(lax.div, "divide", floats=True)
maximum = _binary(lax.max, "maximum")
minimum = _binary(lax.min, "minimum")
equal, not_equal = _binary(lax.eq, "equal"), _binary(lax.ne, "not_equal")
less, less_equal = _binary(lax.lt, "less"), _binary(lax.le, "less_equal")
greater, greater_equal = _binary(lax.gt, "greater"), _binary(lax.ge, "greater_equal")
sin, cos, exp, log = (_unary_float(f, n) for f, n in
                      ((lax.sin, "sin"), (lax.cos, "cos"), (lax.exp, "exp"), (lax.log, "log")))
tanh, sqrt = _unary_float(lax.tanh, "tanh"), _unary_float(lax.sqrt, "sqrt")


def negative(x: Any) -> Any:
    return lax.neg(asarray(x))


def power(x: Any, y: Any) -> Any:
    """`x ** y`; a Python integer exponent becomes repeated multiplication."""
    if isinstance(y, int) and not isinstance(y, bool):
        return lax.integer_pow(asarray(x), y)
    raise NotImplementedError("power with a non-integer exponent needs the pow primitive")


def where(condition: Any, x: Any, y: Any) -> Any:
    """`x` where `condition` is true, else `y` (broadcast together)."""
    c = asarray(condition)
    x, y = promote(x, y)
    shape = broadcast_shapes(get_aval(c).shape, get_aval(x).shape, get_aval(y).shape)
    c = broadcast_to(lax.ne(c, 0) if get_aval(c).dtype != np.bool_ else c, shape)
    return lax.select_n(c, *(broadcast_to(v, shape) for v in (y, x)))


def sum(a: Any, axis: int | Sequence[int] | None = None, keepdims: bool = False,  # noqa: A001
        dtype: Any = None) -> Any:
    a = asarray(a, dtype)
    if get_aval(a).dtype == np.bool_:
        a = lax.convert_element_type(a, np.int32)
    axes = normalize_axes(axis, get_aval(a).ndim)
    out = lax.reduce_sum(a, axes)
    return _keep(out, get_aval(a).shape, axes) if keepdims else out


def _keep(out: Any, shape: tuple[int, ...], axes: tuple[int, ...]) -> Any:
    return lax.reshape(out, tuple(1 if i in axes else d for i, d in enumerate(shape)))


def mean(a: Any, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Any:
    a = asarray(a)
    axes = normalize_axes(axis, get_aval(a).ndim)
    n = int(np.prod([get_aval(a).shape[i] for i in axes], dtype=np.int64))
    total = sum(lax.convert_element_type(a, _float_dtype(a)), axes, keepdims)
    return lax.div(total, n)


def reshape(a: Any, newshape: int | Sequence[int]) -> Any:
    a = asarray(a)
    shape = (newshape,) if isinstance(newshape, int) else tuple(newshape)
    if -1 in shape:
        known = int(np.prod([d for d in shape if d != -1], dtype=np.int64))
        shape = tuple(get_aval(a).size // max(known, 1) if d == -1 else d for d in shape)
    return lax.reshape(a, shape)


def transpose(a: Any, axes: Sequence[int] | None = None) -> Any:
    a = asarray(a)
    nd = get_aval(a).ndim
    return lax.transpose(a, tuple(reversed(range(nd))) if axes is None else
                         tuple(int(i) % nd for i in axes))


def moveaxis(a: Any, source: int | Sequence[int], destination: int | Sequence[int]) -> Any:
    a = asarray(a)
    nd = get_aval(a).ndim
    src = [s % nd for s in ((source,) if isinstance(source, int) else source)]
    dst = [d % nd for d in ((destination,) if isinstance(destination, int) else destination)]
    order = [i for i in range(nd) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return lax.transpose(a, tuple(order))


def matmul(a: Any, b: Any) -> Any:
    """Matrix product with NumPy's rules for 1-d operands and batch broadcasting."""
    a, b = promote_dtypes(a, b)
    if get_aval(a).shape == () or get_aval(b).shape == ():
        raise ValueError("matmul: operands must not be scalars")
    na, nb = get_aval(a).ndim, get_aval(b).ndim
    if na == 1 and nb == 1:
        return lax.dot_general(a, b, (((0,), (0,)), ((), ())))
    if nb == 1:
        return lax.dot_general(a, b, (((na - 1,), (0,)), ((), ())))
    if na == 1:
        return lax.dot_general(a, b, (((0,), (nb - 2,)), ((), ())))
    if na == 2 and nb == 2:
        return lax.dot_general(a, b, (((1,), (0,)), ((), ())))
    batch = broadcast_shapes(get_aval(a).shape[:-2], get_aval(b).shape[:-2])
    a = broadcast_to(a, (*batch, *get_aval(a).shape[-2:]))
    b = broadcast_to(b, (*batch, *get_aval(b).shape[-2:]))
    k = len(batch)
    return lax.dot_general(a, b, (((k + 1,), (k,)), (tuple(range(k)), tuple(range(k)))))


def dot(a: Any, b: Any) -> Any:
    """NumPy's dot: a sum product over the last axis of `a` and the second-to-last of `b`."""
    a, b = promote_dtypes(a, b)
    na, nb = get_aval(a).ndim, get_aval(b).ndim
    if na == 0 or nb == 0:
        return multiply(a, b)
    return lax.dot_general(a, b, (((na - 1,), (max(nb - 2, 0),)), ((), ())))


def zeros(shape: int | Sequence[int], dtype: Any = np.float32) -> np.ndarray:
    return np.zeros(shape, dtype)


def ones(shape: int | Sequence[int], dtype: Any = np.float32) -> np.ndarray:
    return np.ones(shape, dtype)


def expand_dims(a: Any, axis: int) -> Any:
    a = asarray(a)
    shape = list(get_aval(a).shape)
    shape.insert(axis % (len(shape) + 1), 1)
    return lax.reshape(a, shape)


from fnad.numpy import _tracer_methods  # noqa: E402,F401  (installs Tracer operators)
