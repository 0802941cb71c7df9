"""Sorting along a static axis, on `lax.sort` (stable, NaNs last, as NumPy)."""

from __future__ import annotations

from typing import Any

import numpy as np

from fnad import lax
from fnad.core.errors import ArgumentError, ArgumentTypeError, DTypeError, ShapeError, user_line
from fnad.core.ir import get_aval
from fnad.numpy._core import asarray, normalize_axis
from fnad.numpy._shape import ravel


def _prepare(a: Any, axis: int | None) -> tuple[Any, int]:
    a = asarray(a)
    if axis is None:
        return ravel(a), 0
    return a, normalize_axis(axis, get_aval(a).ndim)


def sort(a: Any, axis: int | None = -1, *, kind: Any = None, order: Any = None,
         stable: bool = True, descending: bool = False) -> Any:
    """`a` sorted along `axis` (the flattened array for None); always stable. With
    `descending` (JAX's), largest first, NaNs first."""
    del kind, stable
    if order is not None:
        raise NotImplementedError("sort with `order` (structured arrays) is not supported")
    a, ax = _prepare(a, axis)
    out = lax.sort(a, dimension=ax)
    return lax.rev(out, (ax,)) if descending else out


def argsort(a: Any, axis: int | None = -1, *, kind: Any = None, order: Any = None,
            stable: bool = True, descending: bool = False, dtype: Any = None) -> Any:
    """The indices (int64, NumPy's, or JAX's `dtype`) that sort `a` along `axis`; ties keep
    their order (stable), also with `descending` (JAX's: largest first)."""
    del kind, stable
    if order is not None:
        raise NotImplementedError("argsort with `order` (structured arrays) is not supported")
    a, ax = _prepare(a, axis)
    index_dtype = np.dtype(np.int64 if dtype is None else dtype)
    if index_dtype.kind not in "iu":
        raise DTypeError(f"argsort: dtype must be an integer dtype, got {index_dtype}")
    if not descending:
        return lax.argsort(a, dimension=ax, index_dtype=index_dtype)
    # stable among ties: sort the reversed array ascending, then reverse back and renumber
    n = get_aval(a).shape[ax]
    order = lax.argsort(lax.rev(a, (ax,)), dimension=ax, index_dtype=index_dtype)
    return lax.sub(np.asarray(n - 1, index_dtype), lax.rev(order, (ax,)))


__all__ = ["argsort", "sort"]


def _nan_last_less(a: Any, b: Any, strict: bool) -> Any:
    """a < b (or a <= b) in NumPy's sort order, where NaN is larger than everything."""
    if get_aval(a).dtype.kind not in "fc":
        return lax.lt(a, b) if strict else lax.le(a, b)
    a_nan, b_nan = lax.ne(a, a), lax.ne(b, b)
    if strict:
        return lax.bitwise_or(lax.lt(a, b), lax.bitwise_and(b_nan, lax.bitwise_not(a_nan)))
    return lax.bitwise_or(lax.le(a, b), b_nan)


def searchsorted(a: Any, v: Any, side: str = "left", sorter: Any = None, *,
                 method: str = "scan") -> Any:
    """Where each element of `v` would go in the sorted 1-d `a` to keep it sorted: the
    first such place (`side="left"`) or the last (`"right"`); int64, as NumPy. A binary
    search of log2(len(a)) + 1 steps, run for every element of `v` at once.

    >>> searchsorted(np.array([1, 2, 2, 3]), np.array([2, 5]), side="right")
    array([3, 4])
    """
    del method
    from fnad.numpy._core import promote_dtypes
    from fnad.numpy._indexing import take
    a, v = asarray(a), asarray(v)
    if get_aval(a).ndim != 1:
        raise ShapeError(f"searchsorted needs a 1-d sorted array, got shape "
                         f"{get_aval(a).shape}{user_line()}")
    if side not in ("left", "right"):
        raise ArgumentError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
    if sorter is not None:
        a = take(a, asarray(sorter), mode="promise_in_bounds")
    a, v = promote_dtypes(a, v)
    n = get_aval(a).shape[0]
    lo = lax.full_like(v, 0, np.int64)
    hi = lax.full_like(v, n, np.int64)
    for _ in range(n.bit_length()):
        active = lax.lt(lo, hi)
        mid = lax.div(lax.add(lo, hi), np.int64(2))
        am = take(a, lax.min(mid, np.int64(n - 1)), mode="promise_in_bounds")
        if side == "left":
            go_right = _nan_last_less(am, v, strict=True)
        else:
            go_right = lax.bitwise_not(_nan_last_less(v, am, strict=True))
        lo = lax.select_n(lax.bitwise_and(active, go_right), lo, lax.add(mid, np.int64(1)))
        hi = lax.select_n(lax.bitwise_and(active, lax.bitwise_not(go_right)), hi, mid)
    return lo


def digitize(x: Any, bins: Any, right: bool = False, *, method: str | None = None) -> Any:
    """The index of the bin of `bins` (monotonic, increasing or decreasing) each x falls
    in: bins[i-1] <= x < bins[i] (or < and <= with `right`), as NumPy.

    >>> digitize(np.array([0.5, 1.0, 3.0]), np.array([0.0, 1.0, 2.0]))
    array([1, 2, 3])
    """
    bins = asarray(bins)
    if get_aval(bins).ndim != 1:
        raise ShapeError(f"digitize needs 1-d bins, got shape {get_aval(bins).shape}"
                         f"{user_line()}")
    n = get_aval(bins).shape[0]
    method = "scan" if method is None else method
    inc = searchsorted(bins, x, side="left" if right else "right", method=method)
    if n < 2 or (isinstance(bins, np.ndarray) and bins[0] <= bins[-1]):
        return inc
    # decreasing bins: count from the end of the reversed (increasing) bins
    dec = lax.sub(np.int64(n), searchsorted(lax.rev(bins, (0,)), x,
                                            side="left" if right else "right", method=method))
    if isinstance(bins, np.ndarray):
        return dec
    return lax.select_n(lax.le(bins[0], bins[-1]), dec, inc)  # traced: decided at run time


def lexsort(keys: Any, axis: int = -1) -> Any:
    """The int64 indices that sort by the last key, ties broken by the one before, and so
    on (stable), as NumPy.

    >>> lexsort((np.array([1, 0, 1]), np.array([0, 0, 0])))
    array([1, 0, 2])
    """
    keys = [asarray(k) for k in keys]
    if not keys:
        raise ArgumentTypeError("lexsort needs at least one key")
    from fnad.numpy._indexing import take_along_axis
    idx = argsort(keys[0], axis=axis)
    for k in keys[1:]:  # least significant first; each stable sort keeps earlier orders
        order = argsort(take_along_axis(k, idx, axis, mode="promise_in_bounds"), axis=axis)
        idx = take_along_axis(idx, order, axis, mode="promise_in_bounds")
    return idx


def sort_complex(a: Any) -> Any:
    """`a` sorted along its last axis (by real part, then imaginary), as a complex array:
    complex input keeps its dtype; real input becomes complex64 for float32 and smaller,
    complex128 otherwise."""
    a = asarray(a)
    dt = get_aval(a).dtype
    if dt.kind == "c":
        return sort(a, axis=-1)
    small = dt.itemsize <= (4 if dt.kind == "f" else 2)
    return lax.convert_element_type(sort(a, axis=-1), np.complex64 if small else np.complex128)


def partition(a: Any, kth: int, axis: int = -1) -> Any:
    """`a` with the kth element along `axis` in its sorted place, smaller ones before and
    larger after. fnad returns the fully sorted array, one valid such arrangement (JAX
    returns another; only the kth element's value is specified)."""
    a = asarray(a)
    _check_kth(a, kth, axis)
    return sort(a, axis=axis)


def argpartition(a: Any, kth: int, axis: int = -1) -> Any:
    """Indices that `partition` `a` (here: that fully sort it, which is one valid answer)."""
    a = asarray(a)
    _check_kth(a, kth, axis)
    return argsort(a, axis=axis)


def _check_kth(a: Any, kth: Any, axis: int) -> None:
    n = get_aval(a).shape[normalize_axis(axis, get_aval(a).ndim)]
    for k in np.atleast_1d(kth):
        if not -n <= int(k) < n:
            raise ArgumentError(f"kth {int(k)} is out of bounds for an axis of length {n}")


__all__ += ["argpartition", "digitize", "lexsort", "partition", "searchsorted",
            "sort_complex"]
