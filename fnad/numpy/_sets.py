"""Functions whose result size depends on the data: `nonzero` and friends, `unique` and
the set operations, `extract`/`compress`, plus `isin`, `place`, `put`, `trim_zeros`.

As in JAX, each takes a static `size=` (with `fill_value=` for the padding) so it can
run under `jit` and `vmap`: the elements are sorted or masked at full length and then
compacted into `size` slots with one scatter. Without `size`, the data must be concrete
(eager code, or `grad`/`jvp` of eager code); under `jit` that raises a
`ConcretizationError` asking for `size=`.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from fnad import lax
from fnad.core.errors import (
    ArgumentError,
    ConcretizationError,
    ShapeError,
    check_no_out,
    user_line,
)
from fnad.core.ir import get_aval
from fnad.core.trace import Tracer
from fnad.numpy._core import asarray, normalize_axis, result_type, shape_of
from fnad.numpy._indexing import at, take
from fnad.numpy._reductions import any as _any, cumsum
from fnad.numpy._shape import concatenate, moveaxis, ravel, reshape, stack
from fnad.numpy._sorting import argsort, lexsort, searchsorted
from fnad.numpy._ufuncs import isnan, logical_and, logical_not, not_equal, where


def concrete(x: Any, fn: str, kw: str = "size") -> np.ndarray:
    """The concrete value of `x`, or a `ConcretizationError` saying that `fn`'s result
    shape depends on it and that `kw=` fixes it."""
    if not isinstance(x, Tracer):
        return x.get() if hasattr(x, "__cuda_array_interface__") else np.asarray(x)
    try:
        return np.asarray(x.concrete())
    except ConcretizationError:
        if kw.isidentifier():
            fix = (f"Pass a static {kw}="
                   f"{' (and fill_value= for the padding)' if kw == 'size' else ''}, as in "
                   "JAX, or call it outside jit/vmap.")
        else:
            fix = f"Use {kw}."
        raise ConcretizationError(
            f"fnad.numpy.{fn}: the shape of the result depends on the values of an abstract "
            f"array ({x.aval}){user_line()}. Under {x._trace.stack()} only its shape and "
            f"dtype are known. {fix}") from None


def _compact(arrays: list[Any], mask: Any, size: int, fills: list[Any]) -> list[Any]:
    """The rows of each array (first axis, length n) where the bool `mask` holds, in
    order, in `size` slots; the rest of the slots hold the matching fill value."""
    pos = lax.sub(cumsum(mask, dtype=np.int64), np.int64(1))
    target = lax.expand_dims(where(mask, pos, np.int64(size)), (1,))  # size: dropped
    out = []
    for a, f in zip(arrays, fills):
        a = asarray(a)
        f = lax.convert_element_type(asarray(f), get_aval(a).dtype)
        base = lax.broadcast_in_dim(f, (size,) + shape_of(a)[1:],  # a fill value or a row
                                    tuple(range(1, get_aval(f).ndim + 1)))
        out.append(lax.scatter(base, target, a, (0,), mode="drop"))
    return out


def _count(mask: Any, size: int | None, fn: str) -> int:
    if size is not None:
        if int(size) < 0:
            raise ArgumentError(f"{fn}: size must be non-negative, got {size}")
        return int(size)
    return int(concrete(mask, fn).sum())


# ------------------------------------------------------------------ nonzero and friends


def nonzero(a: Any, *, size: int | None = None, fill_value: Any = None) -> tuple[Any, ...]:
    """The int64 indices of the nonzero elements, one array per axis (C order). With
    `size`, exactly `size` of them: truncated, or padded with `fill_value` (default 0; a
    scalar or one per axis).

    >>> nonzero(np.array([[0, 3], [4, 0]]))
    (array([0, 1]), array([1, 0]))
    """
    a = asarray(a)
    shape = shape_of(a)
    if not shape:
        raise ArgumentError("nonzero of a 0-d array is not allowed (NumPy 2); use "
                         "atleast_1d(a).nonzero()")
    mask = not_equal(ravel(a), 0) if get_aval(a).dtype != np.bool_ else ravel(a)
    k = _count(mask, size, "nonzero")
    flat = lax.iota(np.int64, math.prod(shape))
    idx, valid = _compact([flat, lax.full_like(flat, True, np.bool_)], mask, k, [0, False])
    fills = fill_value if isinstance(fill_value, (tuple, list)) else [fill_value] * len(shape)
    if len(fills) != len(shape):
        raise ArgumentError(f"nonzero: fill_value needs one entry per axis ({len(shape)}), got "
                         f"{len(fills)}")
    out = []
    stride = math.prod(shape)
    for n, f in zip(shape, fills):
        stride //= n
        coord = lax.rem(lax.div(idx, np.int64(stride)), np.int64(n))
        out.append(coord if f is None else where(valid, coord, asarray(f, np.int64)))
    return tuple(out)


def flatnonzero(a: Any, *, size: int | None = None, fill_value: Any = None) -> Any:
    """The int64 indices of the nonzero elements of the flattened array."""
    return nonzero(ravel(asarray(a)), size=size, fill_value=fill_value)[0]


def argwhere(a: Any, *, size: int | None = None, fill_value: Any = None) -> Any:
    """The indices of the nonzero elements as rows: shape (count or size, ndim)."""
    a = asarray(a)
    if get_aval(a).ndim == 0:
        rows = nonzero(reshape(a, (1,)), size=size, fill_value=fill_value)[0]
        return lax.full((shape_of(rows)[0], 0), 0, get_aval(rows).dtype)  # no coordinates
    return stack(nonzero(a, size=size, fill_value=fill_value), axis=1)


def extract(condition: Any, arr: Any, *, size: int | None = None, fill_value: Any = 0) -> Any:
    """The elements of the flattened `arr` where the flattened `condition` is nonzero."""
    arr = ravel(asarray(arr))
    cond = ravel(asarray(condition))
    mask = not_equal(cond, 0) if get_aval(cond).dtype != np.bool_ else cond
    if shape_of(mask) != shape_of(arr):
        raise ShapeError(f"extract: condition of {shape_of(mask)[0]} elements for an array "
                         f"of {shape_of(arr)[0]}{user_line()}")
    return _compact([arr], mask, _count(mask, size, "extract"), [fill_value])[0]


def compress(condition: Any, a: Any, axis: int | None = None, *, size: int | None = None,
             fill_value: Any = 0, out: None = None) -> Any:
    """The slices of `a` along `axis` (the flattened `a` for None) where the 1-d
    `condition` is true; a shorter condition counts as False for the rest, and entries of
    a longer one past the axis must be False (as NumPy; a traced one's are ignored, as JAX).

    >>> compress(np.array([True, False, True]), np.arange(6).reshape(3, 2), axis=0)
    array([[0, 1],
           [4, 5]])
    """
    if out is not None:
        check_no_out("compress", out)
    a = asarray(a)
    cond = asarray(condition)
    if get_aval(cond).ndim != 1:
        raise ShapeError(f"compress needs a 1-d condition, got {shape_of(cond)}{user_line()}")
    if axis is None:
        a, axis = ravel(a), 0
    ax = normalize_axis(axis, get_aval(a).ndim)
    x = moveaxis(a, ax, 0)
    n, m = shape_of(x)[0], shape_of(cond)[0]
    mask = not_equal(cond, 0) if get_aval(cond).dtype != np.bool_ else cond
    if m > n:
        if not isinstance(mask, Tracer) and np.any(mask[n:]):
            raise ShapeError(f"compress: condition of length {m} selects past the axis of "
                             f"length {n}{user_line()}")
        mask = mask[:n]
    if m < n:
        mask = concatenate([mask, lax.full((n - m,), False, np.bool_)])
    out = _compact([x], mask, _count(mask, size, "compress"), [fill_value])[0]
    return moveaxis(out, 0, ax)


# ------------------------------------------------------------------ unique


class UniqueAllResult(NamedTuple):
    values: Any
    indices: Any
    inverse_indices: Any
    counts: Any


class UniqueCountsResult(NamedTuple):
    values: Any
    counts: Any


class UniqueInverseResult(NamedTuple):
    values: Any
    inverse_indices: Any


def _differs(a: Any, b: Any, equal_nan: bool) -> Any:
    d = not_equal(a, b)
    if equal_nan and get_aval(a).dtype.kind in "fc":
        d = logical_and(d, logical_not(logical_and(isnan(a), isnan(b))))
    return d


def unique(ar: Any, return_index: bool = False, return_inverse: bool = False,
           return_counts: bool = False, axis: int | None = None, *, equal_nan: bool = True,
           size: int | None = None, fill_value: Any = None, sorted: bool = True) -> Any:
    """The sorted unique elements (or, with `axis`, unique slices), optionally with the
    index of each one's first occurrence, the inverse (shaped like the input for
    axis=None, as NumPy 2) and the counts. With `size`, exactly `size` values, padded with
    `fill_value` (default: the smallest value), indices with the smallest value's (so
    `ar[index]` is that value, as in JAX), counts with 0.

    >>> unique(np.array([3, 1, 3, 2]), return_counts=True)
    (array([1, 2, 3]), array([1, 1, 2]))
    """
    del sorted  # always sorted, which NumPy and JAX allow
    a = asarray(ar)
    in_shape = shape_of(a)
    if axis is None:
        x = ravel(a)
        rows = x
    else:
        ax = normalize_axis(axis, len(in_shape))
        moved = moveaxis(a, ax, 0)
        rows = reshape(moved, (in_shape[ax], -1))
    n = shape_of(rows)[0]
    if axis is None:
        perm = argsort(rows)
    else:
        m = shape_of(rows)[1]
        perm = lexsort([rows[:, j] for j in range(m - 1, -1, -1)]) if m else \
            lax.iota(np.int64, n)
    srt = take(rows, perm, axis=0, mode="promise_in_bounds")
    if n:
        diff = _differs(srt[1:], srt[:-1], equal_nan)
        if axis is not None:
            diff = _any(diff, axis=1)
        first = concatenate([lax.full((1,), True, np.bool_), diff])
    else:
        first = lax.full((0,), True, np.bool_)
    k = _count(first, size, "unique")
    fill = srt[0] if fill_value is None and n else (0 if fill_value is None else fill_value)
    values = _compact([srt], first, k, [fill])[0]
    if axis is not None:
        values = moveaxis(reshape(values, (k,) + tuple(np.delete(in_shape, ax))), 0, ax)
    outs = [values]
    if return_index:
        outs.append(_compact([perm], first, k, [perm[0] if n else 0])[0])
    if return_inverse:
        group = lax.sub(cumsum(first, dtype=np.int64), np.int64(1))
        inv = at(lax.full((n,), 0, np.int64))[perm].set(group)
        outs.append(reshape(inv, in_shape) if axis is None else inv)
    if return_counts:
        starts = _compact([lax.iota(np.int64, n)], first, n + 1, [n])[0]
        counts = lax.sub(starts[1:], starts[:-1])
        counts = counts[:k] if k <= n else concatenate(
            [counts, lax.full((k - n,), 0, np.int64)])
        outs.append(lax.max(counts, np.int64(0)))
    return outs[0] if len(outs) == 1 else tuple(outs)


def unique_values(x: Any, /, *, size: int | None = None, fill_value: Any = None) -> Any:
    """The sorted unique values (NaNs are distinct, as NumPy 2's `unique_values`)."""
    return unique(x, equal_nan=False, size=size, fill_value=fill_value)


def unique_counts(x: Any, /, *, size: int | None = None,
                  fill_value: Any = None) -> UniqueCountsResult:
    """(values, counts) of the unique values (NaNs distinct)."""
    return UniqueCountsResult(*unique(x, return_counts=True, equal_nan=False, size=size,
                                      fill_value=fill_value))


def unique_inverse(x: Any, /, *, size: int | None = None,
                   fill_value: Any = None) -> UniqueInverseResult:
    """(values, inverse_indices) with values[inverse_indices] == x (NaNs distinct)."""
    return UniqueInverseResult(*unique(x, return_inverse=True, equal_nan=False, size=size,
                                       fill_value=fill_value))


def unique_all(x: Any, /, *, size: int | None = None,
               fill_value: Any = None) -> UniqueAllResult:
    """(values, indices, inverse_indices, counts) of the unique values (NaNs distinct)."""
    return UniqueAllResult(*unique(x, True, True, True, equal_nan=False, size=size,
                                   fill_value=fill_value))


# ------------------------------------------------------------------ membership and sets


def isin(element: Any, test_elements: Any, assume_unique: bool = False, invert: bool = False,
         *, method: str = "auto") -> Any:
    """Elementwise: whether each element is among `test_elements` (NaN never is).

    >>> isin(np.array([1, 2, 3]), np.array([3, 1]))
    array([ True, False,  True])
    """
    del assume_unique, method
    e, t = asarray(element), ravel(asarray(test_elements))
    dt = result_type(e, t)
    e, t = lax.convert_element_type(e, dt), lax.convert_element_type(t, dt)
    nd = get_aval(e).ndim
    if shape_of(t)[0] == 0:
        found = lax.full(shape_of(e), False, np.bool_)
    else:
        eq = lax.eq(lax.broadcast_in_dim(e, shape_of(e) + shape_of(t), tuple(range(nd))),
                    lax.broadcast_in_dim(t, shape_of(e) + shape_of(t), (nd,)))
        found = lax.reduce_or(eq, (nd,))
    return logical_not(found) if invert else found


def _sorted_firsts(x: Any, assume_unique: bool) -> tuple[Any, Any, Any]:
    """The flattened `x` sorted, the permutation, and a mask of first occurrences."""
    x = ravel(asarray(x))
    perm = argsort(x)
    s = take(x, perm, mode="promise_in_bounds")
    n = shape_of(s)[0]
    if assume_unique or n == 0:
        return s, perm, lax.full((n,), True, np.bool_)
    return s, perm, concatenate([lax.full((1,), True, np.bool_), not_equal(s[1:], s[:-1])])


def _smallest_selected(s: Any, mask: Any, fill_value: Any) -> Any:
    """JAX's default padding of a set result: its smallest value (s is sorted)."""
    if fill_value is not None:
        return fill_value
    if not shape_of(s)[0]:
        return 0
    first = lax.argmax(lax.convert_element_type(mask, np.int32), 0, np.int64)
    return take(s, first, mode="promise_in_bounds")


def _set_result(s: Any, mask: Any, size: int | None, fill_value: Any, fn: str) -> Any:
    fill = _smallest_selected(s, mask, fill_value)
    return _compact([s], mask, _count(mask, size, fn), [fill])[0]


def intersect1d(ar1: Any, ar2: Any, assume_unique: bool = False, return_indices: bool = False,
                *, size: int | None = None, fill_value: Any = None) -> Any:
    """The sorted values in both arrays; with `return_indices`, also where each first
    occurs in `ar1` and in `ar2` (flattened). With `size`, padded with `fill_value`
    (default: the smallest value of the result, as JAX; indices with 0).

    >>> intersect1d(np.array([1, 2, 2, 3]), np.array([2, 3, 3]))
    array([2, 3])
    """
    s1, p1, first = _sorted_firsts(ar1, assume_unique)
    r2 = ravel(asarray(ar2))
    mask = logical_and(first, isin(s1, r2))
    k = _count(mask, size, "intersect1d")
    fill = _smallest_selected(s1, mask, fill_value)
    values = _compact([s1], mask, k, [fill])[0]
    if not return_indices:
        return values
    p2 = argsort(r2)
    s2 = take(r2, p2, mode="promise_in_bounds")
    n2 = shape_of(s2)[0]
    pos = lax.min(searchsorted(s2, s1), np.int64(max(n2 - 1, 0)))
    i2 = take(p2, pos, mode="promise_in_bounds") if n2 else lax.full_like(p1, 0)
    i1, i2 = _compact([p1, i2], mask, k, [0, 0])
    return values, i1, i2


def union1d(ar1: Any, ar2: Any, *, size: int | None = None, fill_value: Any = None) -> Any:
    """The sorted unique values of both arrays."""
    return unique(concatenate([ravel(asarray(ar1)), ravel(asarray(ar2))]), size=size,
                  fill_value=fill_value)


def setdiff1d(ar1: Any, ar2: Any, assume_unique: bool = False, *, size: int | None = None,
              fill_value: Any = None) -> Any:
    """The sorted unique values of `ar1` that are not in `ar2`. With `size`, padded with
    `fill_value`, by default 0 (what JAX's setdiff1d pads with, though its docstring says
    the smallest value; the other set operations pad with the smallest value)."""
    s1, _, first = _sorted_firsts(ar1, assume_unique)
    mask = logical_and(first, isin(s1, ar2, invert=True))
    return _set_result(s1, mask, size, 0 if fill_value is None else fill_value, "setdiff1d")


def setxor1d(ar1: Any, ar2: Any, assume_unique: bool = False, *, size: int | None = None,
             fill_value: Any = None) -> Any:
    """The sorted values in exactly one of the arrays."""
    r1, r2 = ravel(asarray(ar1)), ravel(asarray(ar2))
    s, _, first = _sorted_firsts(concatenate([r1, r2]), False)
    mask = logical_and(first, not_equal(isin(s, r1), isin(s, r2)))
    return _set_result(s, mask, size, fill_value, "setxor1d")


# ------------------------------------------------------------------ functional writes


def _inplace(inplace: bool, fn: str) -> None:
    if inplace:
        raise ArgumentError(f"fnad.numpy.{fn} cannot modify its input in place (fnad arrays are "
                         f"values, as JAX's): pass inplace=False and use the result")


def place(arr: Any, mask: Any, vals: Any, *, inplace: bool = True) -> Any:
    """`arr` with the elements where `mask` holds replaced, in order, by `vals` (cycled).
    Functional: pass `inplace=False`, as in JAX.

    >>> place(np.zeros(4), np.array([1, 0, 1, 1]), np.array([7.0, 8.0]), inplace=False)
    array([7., 0., 8., 7.])
    """
    _inplace(inplace, "place")
    arr = asarray(arr)
    m = ravel(asarray(mask))
    m = not_equal(m, 0) if get_aval(m).dtype != np.bool_ else m
    v = ravel(asarray(vals))
    nv = shape_of(v)[0]
    if nv == 0:
        if isinstance(m, Tracer) or np.any(m):
            raise ArgumentError("place: cannot place from an empty vals array")
        return arr
    k = lax.rem(lax.max(lax.sub(cumsum(m, dtype=np.int64), np.int64(1)), np.int64(0)),
                np.int64(nv))
    picked = take(v, k, mode="promise_in_bounds")
    out = where(m, lax.convert_element_type(picked, get_aval(arr).dtype), ravel(arr))
    return reshape(out, shape_of(arr))


def put(a: Any, ind: Any, v: Any, mode: str | None = None, *, inplace: bool = True) -> Any:
    """The flattened `a` with `a.flat[ind] = v` (v cycled), reshaped back; `mode` 'wrap'
    or 'clip' treats out-of-bounds indices, 'raise' (the default) rejects them when they
    are concrete and drops them under jit. Functional: pass `inplace=False`."""
    _inplace(inplace, "put")
    a = asarray(a)
    flat = ravel(a)
    n = shape_of(flat)[0]
    idx = ravel(asarray(ind))
    vals = ravel(asarray(v, get_aval(a).dtype))
    m = shape_of(idx)[0]
    if m == 0:
        return a
    if shape_of(vals)[0] != m:
        vals = take(vals, lax.rem(lax.iota(np.int64, m), np.int64(shape_of(vals)[0])),
                    mode="promise_in_bounds")
    idx = lax.convert_element_type(idx, np.int64)
    if mode == "wrap":
        idx = lax.rem(lax.add(lax.rem(idx, np.int64(n)), np.int64(n)), np.int64(n))
    elif mode == "clip":
        idx = lax.clamp(np.int64(0), idx, np.int64(n - 1))
    elif mode in (None, "raise"):
        if not isinstance(idx, Tracer):
            bad = (idx < -n) | (idx >= n)
            if np.any(bad):
                raise IndexError(f"put: index {int(idx[bad][0])} is out of bounds for size {n}")
        idx = where(lax.lt(idx, 0), lax.add(idx, np.int64(n)), idx)
    else:
        raise ArgumentError(f"put: mode must be 'raise', 'wrap' or 'clip', got {mode!r}")
    out = lax.scatter(flat, lax.expand_dims(idx, (1,)), vals, (0,), mode="drop")
    return reshape(out, shape_of(a))


def trim_zeros(filt: Any, trim: str = "fb", axis: Any = None) -> Any:
    """`filt` without its leading ('f') and/or trailing ('b') zeros. The length depends on
    the data, so the values must be concrete (as in JAX, this is not jittable)."""
    del axis
    f = asarray(filt)
    if get_aval(f).ndim != 1:
        raise ShapeError(f"trim_zeros needs a 1-d array, got {shape_of(f)}{user_line()}")
    nz = np.flatnonzero(concrete(f, "trim_zeros", "concrete values (outside jit/vmap), as in JAX"))
    n = shape_of(f)[0]
    lo = int(nz[0]) if "f" in trim.lower() and nz.size else (n if not nz.size else 0)
    hi = int(nz[-1]) + 1 if "b" in trim.lower() and nz.size else n
    return f[lo:max(lo, hi)]


__all__ = [
    "argwhere", "compress", "extract", "flatnonzero", "intersect1d", "isin", "nonzero",
    "place", "put", "setdiff1d", "setxor1d", "trim_zeros", "union1d", "unique", "unique_all",
    "unique_counts", "unique_inverse", "unique_values",
]
