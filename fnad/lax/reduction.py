"""Reductions over static axes, arg-reductions, and cumulative scans along one axis.

Reducers share one factory (impl with NumPy's identity for empty axes, abstract eval,
batch rule); derivatives are written with the lax wrappers so they compose.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from fnad.core.errors import ArgumentTypeError, DTypeError, ShapeError, check_one_device
from fnad.core.ir import ShapedArray, get_aval
from fnad.core.primitive import Primitive, Reduce, Zero
from fnad.core.quiet import quiet_enter, quiet_exit
from fnad.device import array_module
from fnad.interpreters.transpose import ones_to_first_operand
from fnad.lax._rules import NUMBER, check_dtypes, defjvp_zero, deflinear
from fnad.lax.elementwise import (
    asarray_like,
    convert_element_type,
    div,
    eq,
    max,
    min,
    mul,
)

ORDERED = "fiub"
# max and min compare complex numbers lexicographically (real part, then imaginary), as
# NumPy and JAX do; argmax and argmin do not take them (JAX's do not)
COMPARABLE = ORDERED + "c"


def _reduced_aval(x: ShapedArray, axes: tuple[int, ...]) -> ShapedArray:
    if any(not 0 <= a < x.ndim for a in axes) or len(set(axes)) != len(axes):
        raise ShapeError(f"axes {axes} are not distinct axes of a rank-{x.ndim} operand")
    return ShapedArray([d for i, d in enumerate(x.shape) if i not in axes], x.dtype)


def _reduce_batch(prim: Primitive):
    def rule(axis_size: int, vals: Sequence[Any], dims: Sequence[Any], axes: tuple[int, ...],
             **params: Any):
        bd = dims[0]
        new_axes = tuple(a + (a >= bd) for a in axes)
        out_bd = bd - sum(a < bd for a in new_axes)
        return prim.bind(vals[0], axes=new_axes, **params), out_bd
    return rule


def _identity(dtype: np.dtype, largest: bool) -> Any:
    """The identity of max (largest=False) or min (largest=True) for `dtype`."""
    if dtype.kind in "fc":
        return np.inf if largest else -np.inf
    if dtype.kind == "b":
        return largest
    info = np.iinfo(dtype)
    return info.max if largest else info.min


def _reducer(name: str, impl: Callable[..., Any], kinds: str, kernel: str) -> Primitive:
    """A reduction primitive with params `axes` (a sorted tuple)."""
    prim = Primitive(name)

    def silent_impl(x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
        token = quiet_enter()  # inf - inf, inf * 0: NaN is the answer, with no warning
        try:
            return np.asarray(impl(x, axes))
        finally:
            quiet_exit(token)

    prim.def_impl(silent_impl)

    def abstract_eval(x: ShapedArray, axes: tuple[int, ...]) -> ShapedArray:
        check_dtypes([x], kinds)
        return _reduced_aval(x, axes)

    prim.def_abstract_eval(abstract_eval)
    prim.def_batch(_reduce_batch(prim))
    prim.kernel = Reduce(kernel)
    return prim


def _reduce_wrapper(prim: Primitive, doc: str) -> Callable[..., Any]:
    def f(operand: Any, axes: Sequence[int], *, out_sharding: Any = None) -> Any:
        if out_sharding is not None:  # JAX's reduce_sum has it; the others take it too
            check_one_device(prim.name, out_sharding=out_sharding)
        (x,) = asarray_like(operand)
        axes = normalize_axes(axes, get_aval(x).ndim)
        if not axes:
            return x
        return prim.bind(x, axes=axes)
    f.__name__ = prim.name
    f.__doc__ = doc
    return f


def normalize_axes(axes: int | Sequence[int] | None, ndim: int) -> tuple[int, ...]:
    if axes is None:
        return tuple(range(ndim))
    if isinstance(axes, (int, np.integer)):
        axes = (axes,)
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ShapeError(f"axis {a} is out of range for a rank-{ndim} value")
        out.append(int(a) % ndim)
    return tuple(sorted(out))


def _expand(r: Any, shape: Sequence[int], axes: tuple[int, ...]) -> Any:
    """Broadcast a reduction's result back over the reduced `axes`."""
    from fnad.lax.structural import broadcast_in_dim
    kept = tuple(i for i in range(len(shape)) if i not in axes)
    return broadcast_in_dim(r, tuple(shape), kept)


# ------------------------------------------------------------------ reduce_sum

reduce_sum_p = _reducer("reduce_sum", lambda x, axes: np.add.reduce(x, axis=axes, dtype=x.dtype),
                        NUMBER, "sum")
deflinear(reduce_sum_p,
          lambda ct, x, axes: [_expand(ct, x.aval.shape, axes)])
reduce_sum_p.transpose_ones = ones_to_first_operand
reduce_sum = _reduce_wrapper(reduce_sum_p, "Sum over `axes`.")

# ------------------------------------------------------------------ reduce_max, reduce_min


def _extremum_jvp(prim: Primitive):
    """The tangent at the extremum's location; tied locations share it evenly (like JAX)."""

    def jvp(primals: Sequence[Any], tangents: Sequence[Any], axes: tuple[int, ...]):
        (x,), (t,) = primals, tangents
        ans = prim.bind(x, axes=axes)
        if type(t) is Zero:
            return ans, Zero(get_aval(ans))
        at = convert_element_type(eq(x, _expand(ans, get_aval(x).shape, axes)),
                                  get_aval(t).dtype)
        return ans, div(reduce_sum(mul(t, at), axes), reduce_sum(at, axes))

    prim.def_jvp(jvp)


reduce_max_p = _reducer(
    "reduce_max",
    lambda x, axes: np.maximum.reduce(x, axis=axes, initial=_identity(x.dtype, False)),
    COMPARABLE, "max")
_extremum_jvp(reduce_max_p)
reduce_max = _reduce_wrapper(reduce_max_p, """Maximum over `axes` (NaN propagates).

    >>> reduce_max(np.array([[1, 5], [3, 2]]), (1,))
    array([5, 3])
    """)

reduce_min_p = _reducer(
    "reduce_min",
    lambda x, axes: np.minimum.reduce(x, axis=axes, initial=_identity(x.dtype, True)),
    COMPARABLE, "min")
_extremum_jvp(reduce_min_p)
reduce_min = _reduce_wrapper(reduce_min_p, "Minimum over `axes` (NaN propagates).")

# ------------------------------------------------------------------ reduce_prod

reduce_prod_p = _reducer("reduce_prod", lambda x, axes: np.multiply.reduce(x, axis=axes, dtype=x.dtype),
                         NUMBER, "prod")


def _reduce_prod_jvp(primals: Sequence[Any], tangents: Sequence[Any], axes: tuple[int, ...]):
    """d prod = sum_i t_i * prod_{j != i} x_j, the products of all-but-one built from
    exclusive cumulative products from both ends: no division, so zeros are fine."""
    from fnad.lax.structural import reshape, transpose
    (x,), (t,) = primals, tangents
    ans = reduce_prod_p.bind(x, axes=axes)
    if type(t) is Zero:
        return ans, Zero(get_aval(ans))
    shape = get_aval(x).shape
    kept = [i for i in range(len(shape)) if i not in axes]
    n = int(np.prod([shape[a] for a in axes], dtype=np.int64))
    flat_shape = (*(shape[i] for i in kept), n)

    def flat(v: Any) -> Any:
        return reshape(transpose(v, (*kept, *axes)), flat_shape)

    x2, last = flat(x), len(kept)
    others = mul(_exclusive_cumprod(x2, last, False), _exclusive_cumprod(x2, last, True))
    return ans, reduce_sum(mul(flat(t), others), (last,))


def _exclusive_cumprod(x: Any, axis: int, reverse: bool) -> Any:
    return _shift(cumprod(x, axis, reverse), axis, 1, 1, reverse)


reduce_prod_p.def_jvp(_reduce_prod_jvp)
reduce_prod = _reduce_wrapper(reduce_prod_p, "Product over `axes`.")

# ------------------------------------------------------------------ reduce_and, reduce_or

reduce_and_p = _reducer("reduce_and", lambda x, axes: np.all(x, axis=axes), "b", "and")
defjvp_zero(reduce_and_p)
reduce_and = _reduce_wrapper(reduce_and_p, "Logical and over `axes` (bool operands).")

reduce_or_p = _reducer("reduce_or", lambda x, axes: np.any(x, axis=axes), "b", "or")
defjvp_zero(reduce_or_p)
reduce_or = _reduce_wrapper(reduce_or_p, "Logical or over `axes` (bool operands).")

# ------------------------------------------------------------------ argmax, argmin


def _arg_reducer(name: str, np_fn: Callable[..., Any]) -> Primitive:
    """Index of the first extremum along `axes=(axis,)`; a NaN counts as the extremum,
    as in NumPy."""
    prim = Primitive(name)

    def impl(x: np.ndarray, axes: tuple[int, ...], index_dtype: np.dtype) -> np.ndarray:
        if index_dtype.kind not in "iu":  # the abstract eval explains
            raise ArgumentTypeError(f"index_dtype {index_dtype}")
        return np.asarray(np_fn(x, axis=axes[0]), dtype=index_dtype)

    prim.def_impl(impl)

    def abstract_eval(x: ShapedArray, axes: tuple[int, ...], index_dtype: np.dtype):
        check_dtypes([x], ORDERED)
        if len(axes) != 1:
            raise ShapeError(f"reduces exactly one axis, got axes={axes}")
        if index_dtype.kind not in "iu":
            raise DTypeError(f"index_dtype must be an integer dtype, got {index_dtype}")
        if x.shape[axes[0]] == 0:
            raise ShapeError(f"axis {axes[0]} of {x} is empty: no index to return")
        return _reduced_aval(x, axes).update(dtype=index_dtype)

    prim.def_abstract_eval(abstract_eval)
    prim.def_batch(_reduce_batch(prim))
    defjvp_zero(prim)
    return prim


argmax_p = _arg_reducer("argmax", np.argmax)
argmin_p = _arg_reducer("argmin", np.argmin)


def argmax(operand: Any, axis: int, index_dtype: Any = np.int32) -> Any:
    """Index of the first maximum along `axis` (the first NaN, if any, like NumPy).

    >>> argmax(np.array([1.0, 3.0, 3.0]), 0)
    array(1, dtype=int32)
    """
    (x,) = asarray_like(operand)
    axes = normalize_axes(axis, get_aval(x).ndim)
    return argmax_p.bind(x, axes=axes, index_dtype=np.dtype(index_dtype))


def argmin(operand: Any, axis: int, index_dtype: Any = np.int32) -> Any:
    """Index of the first minimum along `axis` (the first NaN, if any, like NumPy)."""
    (x,) = asarray_like(operand)
    axes = normalize_axes(axis, get_aval(x).ndim)
    return argmin_p.bind(x, axes=axes, index_dtype=np.dtype(index_dtype))


# ------------------------------------------------------------------ cumulative scans


def _cumulative(name: str, ufunc: np.ufunc, kinds: str) -> Primitive:
    """A scan along `axis` (from the end when `reverse`), same shape and dtype."""
    prim = Primitive(name)

    def impl(x: np.ndarray, axis: int, reverse: bool) -> np.ndarray:
        if reverse:
            x = np.flip(x, axis)
        token = quiet_enter()  # inf - inf, inf * 0: NaN is the answer, with no warning
        try:
            out = ufunc.accumulate(x, axis=axis, dtype=x.dtype)
        finally:
            quiet_exit(token)
        return np.asarray(np.flip(out, axis) if reverse else out)

    def abstract_eval(x: ShapedArray, axis: int, reverse: bool) -> ShapedArray:
        check_dtypes([x], kinds)
        if not 0 <= axis < x.ndim:
            raise ShapeError(f"axis {axis} is out of range for {x}")
        return x

    def batch(axis_size: int, vals: Sequence[Any], dims: Sequence[Any], axis: int,
              reverse: bool):
        bd = dims[0]
        return prim.bind(vals[0], axis=axis + (axis >= bd), reverse=reverse), bd

    prim.def_impl(impl)
    prim.def_abstract_eval(abstract_eval)
    prim.def_batch(batch)
    return prim


def _shift(x: Any, axis: int, d: int, fill: Any, reverse: bool) -> Any:
    """`x` moved `d` places along `axis` (towards the end, or the start when `reverse`),
    `fill` flowing in."""
    from fnad.lax.structural import pad
    config = [(0, 0, 0)] * get_aval(x).ndim
    config[axis] = (-d, d, 0) if reverse else (d, -d, 0)
    return pad(x, np.asarray(fill, get_aval(x).dtype), config)


def _scan_jvp(prim: Primitive, combine: Callable[[Any, Any], Any], identity: Callable[..., Any]):
    """The jvp of an inclusive scan as the jvp of a log-depth (Hillis-Steele) scan written
    with `combine`: exact where `combine`'s own derivative is (zeros in a product too)."""
    from fnad.interpreters.jvp import jvp_flat

    def scan(x: Any, axis: int, reverse: bool) -> Any:
        n, d = get_aval(x).shape[axis], 1
        fill = identity(get_aval(x).dtype)
        while d < n:
            x = combine(x, _shift(x, axis, d, fill, reverse))
            d *= 2
        return x

    def jvp(primals: Sequence[Any], tangents: Sequence[Any], axis: int, reverse: bool):
        (x,), (t,) = primals, tangents
        ans = prim.bind(x, axis=axis, reverse=reverse)
        if type(t) is Zero:
            return ans, Zero(get_aval(ans))
        _, (t_out,) = jvp_flat(lambda v: [scan(v, axis, reverse)], [x], [t])
        return ans, t_out

    prim.def_jvp(jvp)


cumsum_p = _cumulative("cumsum", np.add, NUMBER)
deflinear(cumsum_p, lambda ct, x, axis, reverse: [cumsum(ct, axis, not reverse)])

cumprod_p = _cumulative("cumprod", np.multiply, NUMBER)
_scan_jvp(cumprod_p, mul, lambda dtype: 1)

cummax_p = _cumulative("cummax", np.maximum, COMPARABLE)
_scan_jvp(cummax_p, max, lambda dtype: _identity(dtype, False))

cummin_p = _cumulative("cummin", np.minimum, COMPARABLE)
_scan_jvp(cummin_p, min, lambda dtype: _identity(dtype, True))


def _cumulative_wrapper(prim: Primitive, doc: str) -> Callable[..., Any]:
    def f(operand: Any, axis: int = 0, reverse: bool = False) -> Any:
        (x,) = asarray_like(operand)
        (axis,) = normalize_axes(axis, get_aval(x).ndim)
        return prim.bind(x, axis=axis, reverse=bool(reverse))
    f.__name__ = prim.name
    f.__doc__ = doc
    return f


cumsum = _cumulative_wrapper(cumsum_p, """Running sum along `axis` (from the end if `reverse`).

    >>> cumsum(np.array([1, 2, 3]), reverse=True)
    array([6, 5, 3])
    """)
cumprod = _cumulative_wrapper(cumprod_p, "Running product along `axis`.")
cummax = _cumulative_wrapper(cummax_p, "Running maximum along `axis`.")
cummin = _cumulative_wrapper(cummin_p, "Running minimum along `axis`.")


# ------------------------------------------------------------------ CuPy implementations
# NumPy's impls above use `ufunc.reduce/accumulate` and `initial=`, which CuPy lacks. These
# use only the API NumPy and CuPy share (tests run them on NumPy arrays).

def _reduce_xp(name: str) -> Callable[..., Any]:
    def impl(x: Any, axes: tuple[int, ...]) -> Any:
        xp = array_module([x])
        if name in ("sum", "prod"):
            return xp.asarray(getattr(xp, name)(x, axis=axes, dtype=x.dtype))
        return xp.asarray(getattr(xp, name)(x, axis=axes))
    return impl


def _extremum_xp(name: str, largest: bool) -> Callable[..., Any]:
    """max/min, with the identity where nothing is reduced (CuPy has no `initial=`)."""
    def impl(x: Any, axes: tuple[int, ...]) -> Any:
        xp = array_module([x])
        if any(x.shape[a] == 0 for a in axes):
            shape = tuple(n for i, n in enumerate(x.shape) if i not in axes)
            return xp.full(shape, _identity(x.dtype, largest), x.dtype)
        return xp.asarray(getattr(xp, name)(x, axis=axes))
    return impl


def _arg_reducer_xp(name: str) -> Callable[..., Any]:
    def impl(x: Any, axes: tuple[int, ...], index_dtype: np.dtype) -> Any:
        xp = array_module([x])
        return xp.asarray(getattr(xp, name)(x, axis=axes[0])).astype(index_dtype)
    return impl


def _cumulative_xp(name: str) -> Callable[..., Any]:
    """cumsum/cumprod by the library; cummax/cummin by a log-depth (Hillis-Steele) scan."""
    def scan(xp: Any, x: Any, axis: int) -> Any:
        if name in ("cumsum", "cumprod"):
            return getattr(xp, name)(x, axis=axis, dtype=x.dtype)
        fn = xp.maximum if name == "cummax" else xp.minimum
        d, n = 1, x.shape[axis]
        while d < n:
            head = tuple(slice(d, None) if i == axis else slice(None) for i in range(x.ndim))
            tail = tuple(slice(None, -d) if i == axis else slice(None) for i in range(x.ndim))
            y = x.copy()
            y[head] = fn(x[head], x[tail])
            x, d = y, 2 * d
        return x

    def impl(x: Any, axis: int, reverse: bool) -> Any:
        xp = array_module([x])
        if reverse:
            return xp.ascontiguousarray(xp.flip(scan(xp, xp.flip(x, axis), axis), axis))
        return xp.asarray(scan(xp, x, axis))
    return impl


for _p, _fn in [(reduce_sum_p, _reduce_xp("sum")), (reduce_prod_p, _reduce_xp("prod")),
                (reduce_and_p, _reduce_xp("all")), (reduce_or_p, _reduce_xp("any")),
                (reduce_max_p, _extremum_xp("max", False)),
                (reduce_min_p, _extremum_xp("min", True)),
                (argmax_p, _arg_reducer_xp("argmax")), (argmin_p, _arg_reducer_xp("argmin")),
                (cumsum_p, _cumulative_xp("cumsum")), (cumprod_p, _cumulative_xp("cumprod")),
                (cummax_p, _cumulative_xp("cummax")), (cummin_p, _cumulative_xp("cummin"))]:
    _p.def_impl(_fn, "cupy")


__all__ = ["argmax", "argmin", "cummax", "cummin", "cumprod", "cumsum", "reduce_and",
           "reduce_max", "reduce_min", "reduce_or", "reduce_prod", "reduce_sum"]
