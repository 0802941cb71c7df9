"""NumPy's reductions and scans over static axes, on `fnad.lax` reductions.

Output dtypes follow NumPy (a sum of int32 is int64, a mean of ints is float64): each
function asks NumPy what it would return for a tiny array of the input's dtype.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from fnad import lax
from fnad.core.cache import Cache
from fnad.core.errors import ArgumentError, DTypeError, check_no_out, user_line
from fnad.core.ir import get_aval
from fnad.lax.elementwise import abs_squared
from fnad.numpy._core import asarray, broadcast_to, fresh, normalize_axes, normalize_axis
from fnad.numpy._ufuncs import isnan, sqrt, subtract, where as _select

Axis = int | Sequence[int] | None


def _np_dtype(np_fn: Callable[..., Any], x: Any, **kw: Any) -> np.dtype:
    """The dtype NumPy's `np_fn` returns for an array of `x`'s dtype."""
    dtype = get_aval(x).dtype
    # cached: running NumPy on a dummy array costs more than a small eager reduction
    key = (np_fn, dtype, tuple(kw.items()))
    found = _RESULT_DTYPES.peek(key)
    if found is None:
        found = _RESULT_DTYPES.put(key, np.dtype(np_fn(np.ones((1,), dtype), **kw).dtype))
    return found


_RESULT_DTYPES = Cache(maxsize=1024)


def _keep(out: Any, shape: tuple[int, ...], axes: tuple[int, ...], keepdims: bool) -> Any:
    if not keepdims:
        return out
    return lax.reshape(out, tuple(1 if i in axes else d for i, d in enumerate(shape)))


def _count(shape: tuple[int, ...], axes: tuple[int, ...]) -> int:
    return math.prod(shape[i] for i in axes)


def _masked(a: Any, where: Any, fill: Any) -> Any:
    """`a` with `fill` where the mask `where` (broadcast to `a`) is False."""
    return a if where is None else _select(broadcast_to(where, get_aval(a).shape), a, fill)


def _reducer(np_fn: Callable[..., Any], lax_fn: Callable[..., Any], name: str,
             bool_fn: Callable[..., Any] | None = None, accumulates: bool = True,
             identity: Any = None, combine: Callable[..., Any] | None = None) -> Any:
    """A NumPy reduction (sum, prod, max, min) on one lax reduction; `bool_fn` serves bool
    operands (max of bools is `any`), `accumulates` says it takes `dtype=`. `where=` leaves
    masked-out elements out (they count as `identity`), `initial=` joins the result by
    `combine`. Without an identity (max, min), reducing zero elements is an error, as in
    NumPy, and `where=` needs `initial=`."""

    def f(a: Any, axis: Axis = None, dtype: Any = None, out: None = None,
          keepdims: bool = False, initial: Any = None, where: Any = None,
          promote_integers: bool = True) -> Any:
        if out is not None:
            check_no_out(name, out)
        a = asarray(a)
        if not promote_integers and dtype is None and get_aval(a).dtype.kind in "iu":
            dtype = get_aval(a).dtype  # JAX's: integers keep their width
        out_dtype = _np_dtype(np_fn, a, **({"dtype": dtype} if accumulates else {}))
        a = lax.convert_element_type(a, out_dtype)
        shape = get_aval(a).shape
        axes = normalize_axes(axis, len(shape))
        if identity is None and initial is None and (
                where is not None or _count(shape, axes) == 0):
            raise ArgumentError(
                f"{'a where= mask' if where is not None else 'a zero-size array'} in reduction "
                f"operation {np_fn.__name__}, which has no identity, needs initial= (shape "
                f"{shape}, axis {axis}){user_line()}")
        a = _masked(a, where, initial if identity is None else identity)
        fn = bool_fn if bool_fn is not None and out_dtype == np.bool_ else lax_fn
        result = fn(a, axes) if axes else fresh(a, a)
        if initial is not None:
            result = combine(result, lax.convert_element_type(asarray(initial), out_dtype))
        return _keep(result, shape, axes, keepdims)

    f.__name__ = f.__qualname__ = name
    f.__doc__ = (f"NumPy's `{name}` over `axis` (an int, a tuple, or None for all axes), "
                 "with `keepdims`, `where=` masks and `initial=`; JAX's "
                 "`promote_integers=False` keeps an integer input's width.")
    return f


def _truth(a: Any) -> Any:
    a = asarray(a)
    return a if get_aval(a).dtype == np.bool_ else lax.ne(a, 0)


def all(a: Any, axis: Axis = None, out: None = None, keepdims: bool = False,  # noqa: A001
        *, where: Any = None) -> Any:
    """True where every element along `axis` (of those `where` selects) is nonzero."""
    return _all(_truth(a), axis, None, out, keepdims=keepdims, where=where)


def any(a: Any, axis: Axis = None, out: None = None, keepdims: bool = False,  # noqa: A001
        *, where: Any = None) -> Any:
    """True where some element along `axis` (of those `where` selects) is nonzero."""
    return _any(_truth(a), axis, None, out, keepdims=keepdims, where=where)


_all = _reducer(np.all, lax.reduce_and, "all", accumulates=False, identity=True)
_any = _reducer(np.any, lax.reduce_or, "any", accumulates=False, identity=False)
sum = _reducer(np.sum, lax.reduce_sum, "sum", lambda a, axes: any(a, axes),  # noqa: A001
               identity=0, combine=lax.add)
prod = _reducer(np.prod, lax.reduce_prod, "prod", lambda a, axes: all(a, axes), identity=1,
                combine=lax.mul)
_max = _reducer(np.max, lax.reduce_max, "max", lax.reduce_or, accumulates=False,
                combine=lax.max)
_min = _reducer(np.min, lax.reduce_min, "min", lax.reduce_and, accumulates=False,
                combine=lax.min)


def max(a: Any, axis: Axis = None, out: None = None, keepdims: bool = False,  # noqa: A001
        initial: Any = None, where: Any = None) -> Any:
    """The largest element along `axis` (NaN if any is NaN, as in NumPy); `where=` needs
    `initial=`, the value of rows with nothing selected."""
    return _max(a, axis, None, out, keepdims=keepdims, initial=initial, where=where)


def min(a: Any, axis: Axis = None, out: None = None, keepdims: bool = False,  # noqa: A001
        initial: Any = None, where: Any = None) -> Any:
    """The smallest element along `axis` (NaN if any is NaN, as in NumPy); `where=` needs
    `initial=`, the value of rows with nothing selected."""
    return _min(a, axis, None, out, keepdims=keepdims, initial=initial, where=where)


amax, amin = max, min


def _nan_stat_dtype(name: str, a: Any, dtype: Any) -> None:
    """NumPy's rule for nanmean/nanvar/nanstd: an inexact `a` needs an inexact `dtype` (in
    an integer one the NaNs to skip are gone, and the statistic is something else)."""
    if dtype is None or np.dtype(dtype).kind in "fc":
        return
    if get_aval(asarray(a)).dtype.kind in "fc":
        raise DTypeError(f"{name}: an inexact array needs an inexact dtype, got "
                         f"{np.dtype(dtype)}{user_line()}")


def _float_stat(np_fn: Callable[..., Any], a: Any, dtype: Any) -> tuple[Any, np.dtype]:
    """`a` in the dtype a mean/var is computed in (float32 for float16, as NumPy does), and
    the dtype NumPy returns."""
    a = asarray(a)
    out_dtype = _np_dtype(np_fn, a, dtype=dtype)
    compute = np.float32 if out_dtype == np.float16 else out_dtype
    if get_aval(a).dtype.kind == "c":  # var/std of complex: real results of complex work
        compute = np.promote_types(get_aval(a).dtype, compute)
    return lax.convert_element_type(a, compute), out_dtype


def _selected(shape: tuple[int, ...], axes: tuple[int, ...], where: Any, dtype: Any,
              keepdims: bool) -> Any:
    """How many elements along `axes` the mask `where` selects (all, without a mask)."""
    if where is None:
        return _count(shape, axes)
    return sum(lax.convert_element_type(broadcast_to(where, shape), dtype), axes,
               keepdims=keepdims)


def _count_dtype(x: Any) -> np.dtype:
    """The dtype to count a mean's elements in: x's if inexact, else int64 (no wrapping)."""
    dt = get_aval(x).dtype
    return dt if dt.kind in "fc" else np.dtype(np.int64)


def _mean_of(total: Any, count: Any, out_dtype: np.dtype) -> Any:
    """`total / count` in `out_dtype`: an integer `dtype`'s wrapped sum is divided exactly and
    truncated, as NumPy does (a count above the dtype's range must not wrap too)."""
    if get_aval(total).dtype.kind in "iub":
        total = lax.convert_element_type(total, np.float64)
        count = lax.convert_element_type(count, np.float64)
    return lax.convert_element_type(lax.div(total, count), out_dtype)


def mean(a: Any, axis: Axis = None, dtype: Any = None, out: None = None,
         keepdims: bool = False, *, where: Any = None) -> Any:
    """The arithmetic mean along `axis` (float64 for integer input, as in NumPy) of the
    elements `where` selects (NaN where it selects none).

    >>> mean(np.array([[1, 2], [3, 4]]), axis=0)
    array([2., 3.])
    """
    a, out_dtype = _float_stat(np.mean, a, dtype)
    shape = get_aval(a).shape
    axes = normalize_axes(axis, len(shape))
    # summed in the compute dtype: an integer `dtype` wraps, as in NumPy and JAX
    total = sum(a, axes, get_aval(a).dtype, out, keepdims=keepdims, where=where)
    count = _selected(shape, axes, where, _count_dtype(total), keepdims)
    return _mean_of(total, count, out_dtype)


def _ddof(ddof: int, correction: int | float | None) -> int | float:
    """NumPy's `ddof`, or the array API's name for it, `correction`."""
    if correction is None:
        return ddof
    if ddof:
        raise ArgumentError("var/std take ddof= or correction= (the same number), not both")
    return correction


_mean = mean  # var's and std's parameter `mean` shadows the function


def var(a: Any, axis: Axis = None, dtype: Any = None, out: None = None, ddof: int = 0,
        keepdims: bool = False, *, where: Any = None, mean: Any = None,
        correction: int | float | None = None) -> Any:
    """The variance along `axis`: mean squared deviation of the elements `where` selects,
    divided by `n - ddof` (`correction` is the array API's name for `ddof`); NaN where
    `n - ddof <= 0`, as in JAX. `mean` (NumPy 2's) is the mean to use, shaped as with
    `keepdims=True`."""
    ddof = _ddof(ddof, correction)
    a, out_dtype = _float_stat(np.var, a, dtype)
    shape = get_aval(a).shape
    axes = normalize_axes(axis, len(shape))
    center = (_mean(a, axes, get_aval(a).dtype, out, keepdims=True, where=where) if mean is None
              else asarray(mean))
    centered = subtract(a, center)
    sq = abs_squared(centered)  # |d|**2: real for complex
    ssq = sum(sq, axes, get_aval(sq).dtype, keepdims=keepdims, where=where)
    count = _selected(shape, axes, where, _count_dtype(ssq), keepdims)
    if where is None:
        dof = count - ddof
        return (_mean_of(ssq, dof, out_dtype) if dof > 0
                else lax.full_like(ssq, np.nan, out_dtype))
    dof = lax.sub(count, ddof)
    return _select(lax.gt(dof, 0), _mean_of(ssq, dof, out_dtype), np.nan)


def std(a: Any, axis: Axis = None, dtype: Any = None, out: None = None, ddof: int = 0,
        keepdims: bool = False, *, where: Any = None, mean: Any = None,
        correction: int | float | None = None) -> Any:
    """The standard deviation along `axis`: `sqrt(var(...))` with the same arguments. Over
    one element (ddof 0, no mask) it is `var` itself, 0 or NaN, so that the derivative of
    that constant is 0 rather than sqrt's 0 * inf at 0 (JAX gives NaN there)."""
    ddof = _ddof(ddof, correction)
    v = var(a, axis, dtype, out, ddof=ddof, keepdims=keepdims, where=where, mean=mean)
    shape = get_aval(asarray(a)).shape
    if ddof == 0 and where is None and _count(shape, normalize_axes(axis, len(shape))) == 1:
        return v
    return sqrt(v)


def _arg_reducer(lax_fn: Callable[..., Any], name: str) -> Any:
    def f(a: Any, axis: int | None = None, out: None = None, keepdims: bool | None = None
          ) -> Any:
        if out is not None:
            check_no_out(name, out)
        a = asarray(a)
        shape = get_aval(a).shape
        if axis is None:
            idx = lax_fn(lax.reshape(a, (get_aval(a).size,)), 0, np.int64)
            return lax.reshape(idx, (1,) * len(shape)) if keepdims else idx
        ax = normalize_axis(axis, len(shape))
        return _keep(lax_fn(a, ax, np.int64), shape, (ax,), keepdims)

    f.__name__ = f.__qualname__ = name
    f.__doc__ = (f"NumPy's `{name}`: int64 indices along `axis` (of the flattened array "
                 "for None); the first one on ties.")
    return f


argmax = _arg_reducer(lax.argmax, "argmax")
argmin = _arg_reducer(lax.argmin, "argmin")


def _scan(np_fn: Callable[..., Any], lax_fn: Callable[..., Any], name: str) -> Any:
    def f(a: Any, axis: int | None = None, dtype: Any = None, out: None = None) -> Any:
        if out is not None:
            check_no_out(name, out)
        a = asarray(a)
        a = lax.convert_element_type(a, _np_dtype(np_fn, a, dtype=dtype))
        if axis is None or get_aval(a).ndim == 0:  # a scalar scans as one element, as NumPy
            a, axis = lax.reshape(a, (get_aval(a).size,)), 0 if axis is None else axis
        return lax_fn(a, normalize_axis(axis, get_aval(a).ndim))

    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"NumPy's `{name}` along `axis` (of the flattened array for None)."
    return f


cumsum = _scan(np.cumsum, lax.cumsum, "cumsum")
cumprod = _scan(np.cumprod, lax.cumprod, "cumprod")


def nansum(a: Any, axis: Axis = None, dtype: Any = None, out: None = None,
           keepdims: bool = False, initial: Any = None, where: Any = None) -> Any:
    """`sum` treating NaNs as zero."""
    a = asarray(a)
    return sum(_select(isnan(a), 0, a), axis, dtype, out, keepdims=keepdims, initial=initial,
               where=where)


def nanmean(a: Any, axis: Axis = None, dtype: Any = None, out: None = None,
            keepdims: bool = False, where: Any = None) -> Any:
    """`mean` of the non-NaN elements (of those `where` selects)."""
    _nan_stat_dtype("nanmean", a, dtype)
    a, out_dtype = _float_stat(np.mean, a, dtype)
    present = lax.eq(a, a) if where is None else lax.bitwise_and(
        lax.eq(a, a), broadcast_to(asarray(where), get_aval(a).shape))
    count = sum(present, axis, _count_dtype(a), keepdims=keepdims)
    total = nansum(a, axis, get_aval(a).dtype, out, keepdims=keepdims, where=where)
    return _mean_of(total, count, out_dtype)


def count_nonzero(a: Any, axis: Axis = None, keepdims: bool = False) -> Any:
    """How many elements along `axis` are nonzero (int64, as NumPy)."""
    return sum(_truth(a), axis, np.int64, keepdims=keepdims)


__all__ = ["all", "amax", "amin", "any", "argmax", "argmin", "count_nonzero", "cumprod",
           "cumsum", "max", "mean", "min", "nanmean", "nansum", "prod", "std", "sum", "var"]
