"""Array manipulation and construction beyond `_shape`: insert/delete/append, block,
resize, choose/select/piecewise, kron/cross/matvec, the index helpers (indices, ix_,
tri*_indices, diag_indices, ravel_multi_index, unravel_index), functional fills, and
`vectorize` / `apply_along_axis` (on the batching interpreter, as JAX's are on vmap)."""

from __future__ import annotations

import builtins
import functools
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from fnad import lax, tree as tree_util
from fnad.core.dtypes import default_dtype, default_int, python_default
from fnad.core.errors import ArgumentError, ArgumentTypeError, ShapeError, user_line
from fnad.core.ir import get_aval
from fnad.core.trace import Tracer
from fnad.interpreters import batching
from fnad.interpreters.batching import vmap_flat
from fnad.numpy._core import (
    asarray,
    broadcast_shapes,
    broadcast_to,
    fresh,
    normalize_axis,
    result_type,
    shape_of,
)
from fnad.numpy._indexing import at, take
from fnad.numpy._products import diag, matmul
from fnad.numpy._sets import concrete, nonzero
from fnad.numpy._shape import (
    concatenate,
    expand_dims,
    moveaxis,
    ravel,
    reshape,
    split,
    stack,
    transpose,
)
from fnad.numpy._ufuncs import add, clip, multiply, subtract, where

# ------------------------------------------------------------------ insert, delete, append


def _codes(arr: Any, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Run NumPy's `fn` on the flat positions of `arr`: which element lands where."""
    return fn(np.arange(math.prod(shape_of(arr))).reshape(shape_of(arr)))


def _static(obj: Any, fn: str) -> Any:
    if isinstance(obj, slice):
        return obj
    if isinstance(obj, Tracer):
        return concrete(obj, fn, "a static (concrete) index")
    if isinstance(obj, (int, np.integer)):
        return obj
    obj = np.asarray(obj)
    return obj.astype(np.int64) if obj.size == 0 else obj  # [] means no index, not floats


def delete(arr: Any, obj: Any, axis: int | None = None, *,
           assume_unique_indices: bool = False) -> Any:
    """`arr` without the entries `obj` (an int, slice or index array) along `axis` (of the
    flattened array for None). A traced index array works with `assume_unique_indices=True`
    (JAX's way under jit: the result's length is then known; indices out of range are
    clipped, as JAX's).

    >>> delete(np.arange(5), [0, 3])
    array([1, 2, 4])
    """
    arr = asarray(arr)
    if isinstance(obj, Tracer) and assume_unique_indices and get_aval(obj).dtype.kind in "iu":
        return _delete_traced(arr, obj, axis)
    obj = _static(obj, "delete")
    codes = _codes(arr, lambda c: np.delete(c, obj, axis))
    return take(ravel(arr), codes.astype(np.int64), mode="promise_in_bounds")


def _along(arr: Any, axis: int | None) -> tuple[Any, int]:
    """`arr` flattened for axis None, and the axis as a non-negative int."""
    if axis is None:
        return ravel(arr), 0
    return arr, normalize_axis(axis, get_aval(arr).ndim)


def _positions(idx: Any, n: int) -> Any:
    """int64 positions along an axis of length `n`: negatives from the end, then clipped
    to [0, n], as JAX's insert and delete take them."""
    return clip(where(lax.lt(idx, np.int64(0)), lax.add(idx, np.int64(n)), idx), 0, n)


def _delete_traced(arr: Any, obj: Any, axis: int | None) -> Any:
    """delete of distinct traced indices: the kept positions are i + (how many deleted
    indices lie at or below it), for i below n - len(obj)."""
    from fnad.numpy._sorting import searchsorted, sort
    a, ax = _along(arr, axis)
    n = shape_of(a)[ax]
    idx = lax.convert_element_type(ravel(obj), np.int64)
    idx = _positions(idx, n)
    k = shape_of(idx)[0]
    idx = lax.sub(sort(idx), lax.iota(np.int64, k))
    kept = lax.iota(np.int64, n - k)
    kept = lax.add(kept, lax.convert_element_type(searchsorted(idx, kept, side="right"),
                                                  np.int64))
    return take(a, kept, axis=ax, mode="promise_in_bounds")


def _insert_traced(arr: Any, obj: Any, values: Any, axis: int | None) -> Any:
    """insert at traced positions (JAX's way: the result's length is known from obj's and
    values' shapes): values go to their positions shifted by the insertions before them,
    the rest of the slots take arr in order."""
    from fnad.numpy._sorting import argsort
    a, ax = _along(arr, axis)
    shape = shape_of(a)
    n = shape[ax]
    vals = lax.convert_element_type(values, get_aval(a).dtype)
    vals = reshape(vals, (1,) * (len(shape) - get_aval(vals).ndim) + shape_of(vals))
    idx = lax.convert_element_type(obj, np.int64)
    if get_aval(idx).ndim == 0:  # one position: the values form one block there
        vals = moveaxis(vals, 0, ax) if get_aval(values).ndim else vals
        idx = lax.broadcast_in_dim(idx, (shape_of(vals)[ax],), ())
    elif get_aval(idx).ndim != 1:
        raise ShapeError(f"insert: obj must be a scalar or 1-d, got shape {shape_of(idx)}"
                         f"{user_line()}")
    k = builtins.max(shape_of(idx)[0], shape_of(vals)[ax])
    idx = broadcast_to(idx, (k,))
    idx = _positions(idx, n)
    at_v = at(idx)[argsort(idx, stable=True)].add(lax.iota(np.int64, k))
    kept = at(lax.full((n + k,), True, np.bool_))[at_v].set(False)
    at_a = nonzero(kept, size=n)[0]
    out_shape = shape[:ax] + (n + k,) + shape[ax + 1:]
    out = lax.full(out_shape, 0, get_aval(a).dtype)
    lead = (slice(None),) * ax
    out = at(out)[lead + (at_v,)].set(broadcast_to(vals, shape[:ax] + (k,) + shape[ax + 1:]))
    return at(out)[lead + (at_a,)].set(a)


def insert(arr: Any, obj: Any, values: Any, axis: int | None = None) -> Any:
    """`values` inserted before the positions `obj` along `axis` (of the flattened array
    for None), broadcast as NumPy's `insert` does; traced positions work too (the length
    is known from the shapes; positions out of range are clipped, as JAX's).

    >>> insert(np.array([1, 2, 3]), 1, np.array([9, 8]))
    array([1, 9, 8, 2, 3])
    """
    arr, values = asarray(arr), asarray(values)
    if isinstance(obj, Tracer) and get_aval(obj).dtype.kind in "iu":
        return _insert_traced(arr, obj, values, axis)
    obj = _static(obj, "insert")
    dt = get_aval(arr).dtype
    vcodes = -1 - np.arange(math.prod(shape_of(values))).reshape(shape_of(values))
    codes = _codes(arr, lambda c: np.insert(c, obj, vcodes, axis))
    flat_a = ravel(arr)
    flat_v = ravel(lax.convert_element_type(values, dt))
    from_a = (take(flat_a, np.maximum(codes, 0).astype(np.int64), mode="promise_in_bounds")
              if codes.size else lax.full(codes.shape, 0, dt))
    if not shape_of(flat_v)[0]:
        return from_a
    from_v = take(flat_v, np.maximum(-1 - codes, 0).astype(np.int64), mode="promise_in_bounds")
    return where(codes >= 0, from_a, from_v)


def append(arr: Any, values: Any, axis: int | None = None) -> Any:
    """`values` joined after `arr` (both flattened for `axis=None`)."""
    arr, values = asarray(arr), asarray(values)
    if axis is None:
        return concatenate([ravel(arr), ravel(values)])
    return concatenate([arr, values], axis)


def resize(a: Any, new_shape: int | Sequence[int]) -> Any:
    """An array of `new_shape` filled with `a`'s elements, repeated cyclically.

    >>> resize(np.array([1, 2, 3]), (2, 2))
    array([[1, 2],
           [3, 1]])
    """
    a = ravel(asarray(a))
    shape = (new_shape,) if isinstance(new_shape, (int, np.integer)) else tuple(new_shape)
    size, n = math.prod(shape), shape_of(a)[0]
    if n == 0 or size == 0:
        return lax.full(shape, 0, get_aval(a).dtype)
    return reshape(take(a, np.arange(size) % n, mode="promise_in_bounds"), shape)


def rollaxis(a: Any, axis: int, start: int = 0) -> Any:
    """`axis` moved to sit before `start` (NumPy's older `moveaxis`)."""
    a = asarray(a)
    nd = get_aval(a).ndim
    axis = normalize_axis(axis, nd)
    if start < 0:
        start += nd
    if not 0 <= start <= nd:
        raise ShapeError(f"rollaxis: start {start} is out of range for rank {nd}{user_line()}")
    if axis < start:
        start -= 1
    perm = [d for d in range(nd) if d != axis]
    perm.insert(start, axis)
    return transpose(a, perm)


def dsplit(ary: Any, indices_or_sections: Any) -> list[Any]:
    """Split along axis 2 (arrays of rank >= 3)."""
    if len(shape_of(ary)) < 3:
        raise ShapeError(f"dsplit needs rank >= 3, got {shape_of(ary)}{user_line()}")
    return split(ary, indices_or_sections, axis=2)


def unstack(x: Any, /, *, axis: int = 0) -> tuple[Any, ...]:
    """The slices of `x` along `axis`, that axis removed (the inverse of `stack`)."""
    x = asarray(x)
    ax = normalize_axis(axis, get_aval(x).ndim)
    return tuple(lax.index_in_dim(x, i, ax, keepdims=False) for i in range(shape_of(x)[ax]))


def _depth(x: Any) -> int:
    return 1 + _depth(x[0]) if isinstance(x, list) and x else (1 if isinstance(x, list) else 0)


def block(arrays: Any) -> Any:
    """An array assembled from nested lists of blocks: the innermost lists are joined
    along the last axis, the next ones along the one before, and so on.

    >>> block([[np.eye(2), np.zeros((2, 1))], [np.ones((1, 2)), np.full((1, 1), 5.0)]])
    array([[1., 0., 0.],
           [0., 1., 0.],
           [1., 1., 5.]])
    """
    depth = _depth(arrays)
    leaves = tree_util.tree_leaves(arrays)
    nd = builtins.max([depth] + [len(shape_of(asarray(v))) for v in leaves])

    def assemble(x: Any, level: int) -> Any:
        if not isinstance(x, list):
            if level != depth:  # NumPy's and JAX's rule: every block at one depth
                raise ShapeError(f"block: list depths differ: a block at depth {level}, "
                                 f"another at {depth}{user_line()}")
            x = asarray(x)
            return reshape(x, (1,) * (nd - len(shape_of(x))) + shape_of(x))
        if not x:
            raise ArgumentError("block: lists must not be empty")
        return concatenate([assemble(v, level + 1) for v in x], axis=level - depth)

    return fresh(assemble(arrays, 0) if depth else asarray(arrays), *leaves)


# ------------------------------------------------------------------ choosing


def choose(a: Any, choices: Sequence[Any], out: None = None, mode: str = "raise") -> Any:
    """choices[a[i]][i] elementwise (everything broadcast together); `mode` 'wrap' or
    'clip' handles out-of-range `a`, 'raise' rejects it when `a` is concrete."""
    a = asarray(a)
    n = len(choices)
    if mode == "wrap":
        a = lax.rem(lax.add(lax.rem(a, n), n), n)
    elif mode == "clip":
        a = lax.clamp(np.asarray(0, get_aval(a).dtype), a, np.asarray(n - 1, get_aval(a).dtype))
    elif mode == "raise":
        if not isinstance(a, Tracer) and (np.any(a < 0) or np.any(a >= n)):
            raise ArgumentError(f"choose: indices must lie in [0, {n}) for mode='raise'")
    else:
        raise ArgumentError(f"choose: mode must be 'raise', 'wrap' or 'clip', got {mode!r}")
    cs = [asarray(c) for c in choices]
    dt = result_type(*cs)
    shape = broadcast_shapes(shape_of(a), *(shape_of(c) for c in cs))
    out_ = broadcast_to(lax.convert_element_type(cs[0], dt), shape)
    a = broadcast_to(a, shape)
    for i, c in enumerate(cs[1:], 1):
        out_ = where(lax.eq(a, i), c, out_)
    return out_


def select(condlist: Sequence[Any], choicelist: Sequence[Any], default: Any = 0) -> Any:
    """The choice of the first true condition, elementwise; `default` where none is.

    >>> select([np.array([True, False]), np.array([True, True])], [1, 2], 0)
    array([1, 2], dtype=int32)
    """
    if len(condlist) != len(choicelist):
        raise ArgumentError(f"select: {len(condlist)} conditions for {len(choicelist)} choices")
    if not condlist:
        raise ArgumentError("select needs at least one condition")
    out = asarray(default) if not isinstance(default, (int, float, bool)) else default
    out = where(False, choicelist[0], out) if not isinstance(out, Tracer) else out
    for cond, choice in zip(reversed(condlist), reversed(choicelist)):
        cond = asarray(cond)
        if get_aval(cond).dtype != np.bool_:
            raise ArgumentTypeError(f"select: conditions must be bool arrays, got {get_aval(cond)}")
        out = where(cond, choice, out)
    return out


def piecewise(x: Any, condlist: Any, funclist: Sequence[Any], *args: Any, **kw: Any) -> Any:
    """funclist[i](x) where condlist[i] holds (the last true condition wins, as NumPy);
    one extra function gives the value where none holds (default 0). Entries may be
    constants. Every function is evaluated on the whole of `x`.

    >>> piecewise(np.array([-1.0, 2.0]), [np.array([True, False])], [lambda v: -v, 5.0])
    array([1., 5.])
    """
    x = asarray(x)
    if isinstance(condlist, (np.ndarray, Tracer)) and get_aval(asarray(condlist)).ndim == \
            get_aval(x).ndim:
        condlist = [condlist]
    conds = [asarray(c) for c in condlist]
    if len(funclist) not in (len(conds), len(conds) + 1):
        raise ArgumentError(f"piecewise: {len(funclist)} functions for {len(conds)} conditions "
                         f"(give one per condition, plus an optional default)")

    def value(f: Any) -> Any:
        v = f(x, *args, **kw) if callable(f) else f
        return lax.convert_element_type(broadcast_to(asarray(v, get_aval(x).dtype),
                                                     shape_of(x)), get_aval(x).dtype)

    out = value(funclist[-1]) if len(funclist) == len(conds) + 1 else \
        lax.full(shape_of(x), 0, get_aval(x).dtype)
    for c, f in zip(conds, funclist):
        out = where(c, value(f), out)
    return out


# ------------------------------------------------------------------ products


def kron(a: Any, b: Any) -> Any:
    """The Kronecker product: blocks a[i, j] * b.

    >>> kron(np.array([1, 10]), np.array([1, 2]))
    array([ 1,  2, 10, 20])
    """
    a, b = asarray(a), asarray(b)
    nd = builtins.max(get_aval(a).ndim, get_aval(b).ndim)
    sa = (1,) * (nd - get_aval(a).ndim) + shape_of(a)
    sb = (1,) * (nd - get_aval(b).ndim) + shape_of(b)
    a2 = reshape(a, tuple(d for n in sa for d in (n, 1)))
    b2 = reshape(b, tuple(d for n in sb for d in (1, n)))
    return reshape(multiply(a2, b2), tuple(x * y for x, y in zip(sa, sb)))


def cross(a: Any, b: Any, axisa: int = -1, axisb: int = -1, axisc: int = -1,
          axis: int | None = None) -> Any:
    """The cross product of 3-vectors (or the z component for 2-vectors) along the given
    axes, broadcasting the others.

    >>> cross(np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0]))
    array([0., 0., 1.])
    """
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = asarray(a), asarray(b)
    a = moveaxis(a, axisa, -1)
    b = moveaxis(b, axisb, -1)
    na, nb = shape_of(a)[-1], shape_of(b)[-1]
    if na not in (2, 3) or nb not in (2, 3):
        raise ShapeError(f"cross: vectors must have 2 or 3 components, got {na} and {nb}"
                         f"{user_line()}")
    a0, a1 = a[..., 0], a[..., 1]
    b0, b1 = b[..., 0], b[..., 1]
    z = subtract(multiply(a0, b1), multiply(a1, b0))
    if na == 2 and nb == 2:
        return z
    a2 = a[..., 2] if na == 3 else 0
    b2 = b[..., 2] if nb == 3 else 0
    x = subtract(multiply(a1, b2), multiply(a2, b1))
    y = subtract(multiply(a2, b0), multiply(a0, b2))
    out = stack(list(broadcast_arrays_(x, y, z)), -1)
    return moveaxis(out, -1, axisc)


def broadcast_arrays_(*xs: Any) -> list[Any]:
    xs = [asarray(x) for x in xs]
    shape = broadcast_shapes(*(shape_of(x) for x in xs))
    return [broadcast_to(x, shape) for x in xs]


def matvec(x1: Any, x2: Any, /) -> Any:
    """Matrix-vector products over broadcast batch axes: (..., m, n) @ (..., n)."""
    x2 = asarray(x2)
    return matmul(x1, expand_dims(x2, -1))[..., 0]


def vecmat(x1: Any, x2: Any, /) -> Any:
    """Vector-matrix products over broadcast batch axes: (..., n) @ (..., n, m)."""
    x1 = asarray(x1)
    return matmul(expand_dims(x1, -2), x2)[..., 0, :]


def diagflat(v: Any, k: int = 0) -> Any:
    """A 2-d array with the flattened `v` on diagonal `k`."""
    return diag(ravel(asarray(v)), k)


def make_diagonal(D: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    """HIPS autograd's complement of `diagonal`: a new array whose `diagonal(out, 0, axis1,
    axis2)` is `D` (its last axis on the diagonal, zeros elsewhere, its other axes kept).

    >>> make_diagonal(np.array([1.0, 2.0]), axis1=-1, axis2=-2)
    array([[1., 0.],
           [0., 2.]])
    """
    if offset != 0:
        raise ArgumentError(f"make_diagonal: only offset 0 is supported, got {offset}; for a "
                            f"vector use diag(v, k){user_line()}")
    D = asarray(D)
    shape = shape_of(D)
    if not shape:
        raise ShapeError(f"make_diagonal needs at least one axis, got a scalar{user_line()}")
    n, ndim = shape[-1], len(shape) + 1
    a1, a2 = (normalize_axis(a, ndim) for a in (axis1, axis2))
    if a1 == a2:
        raise ArgumentError(f"make_diagonal: axis1 and axis2 must differ, got {axis1} and "
                            f"{axis2}{user_line()}")
    square = multiply(expand_dims(D, -1), lax.convert_element_type(np.eye(n), D.dtype))
    return moveaxis(square, (-2, -1), (a1, a2))


def fill_diagonal(a: Any, val: Any, wrap: bool = False, *, inplace: bool = True) -> Any:
    """`a` with its main diagonal set to `val` (cycled); for a tall 2-d array `wrap`
    restarts the diagonal below. Functional: pass `inplace=False`, as in JAX.

    >>> fill_diagonal(np.zeros((2, 2)), 1.0, inplace=False)
    array([[1., 0.],
           [0., 1.]])
    """
    from fnad.numpy._sets import put
    if inplace:
        raise ArgumentError("fnad.numpy.fill_diagonal cannot modify its input in place: pass "
                         "inplace=False and use the result")
    a = asarray(a)
    shape = shape_of(a)
    if len(shape) < 2 or (len(shape) > 2 and len(set(shape)) != 1):
        raise ShapeError(f"fill_diagonal needs a 2-d array or one with equal sides, got "
                         f"{shape}{user_line()}")
    if len(shape) == 2:
        step = shape[1] + 1
        end = shape[0] * shape[1] if wrap else min(shape[0], shape[1]) * shape[1]
    else:
        step = sum(shape[0] ** k for k in range(len(shape)))
        end = math.prod(shape)
    idx = np.arange(0, end, step)
    if idx.size == 0:
        return a
    vals = ravel(asarray(val, get_aval(a).dtype))
    return put(a, idx, vals, inplace=False)


# ------------------------------------------------------------------ index helpers


def indices(dimensions: Sequence[int], dtype: Any = None, sparse: bool = False) -> Any:
    """Grids of the index along each axis: shape (len(dimensions), *dimensions), or
    broadcastable pieces with `sparse`."""
    dims = tuple(int(d) for d in dimensions)
    dtype = default_int() if dtype is None else dtype
    out = []
    for i, n in enumerate(dims):
        shape = tuple(n if j == i else 1 for j in range(len(dims)))
        g = np.arange(n, dtype=dtype).reshape(shape)
        out.append(g if sparse else np.broadcast_to(g, dims))
    return tuple(out) if sparse else np.stack(out) if out else np.zeros((0,), dtype)


def ix_(*args: Any) -> tuple[Any, ...]:
    """Open-mesh index arrays: the i-th 1-d sequence reshaped to broadcast along axis i.

    >>> [x.shape for x in ix_(np.arange(2), np.arange(3))]
    [(2, 1), (1, 3)]
    """
    out = []
    for i, s in enumerate(args):
        s = asarray(s)
        if get_aval(s).ndim != 1:
            raise ShapeError(f"ix_ needs 1-d sequences, got shape {shape_of(s)}{user_line()}")
        if get_aval(s).dtype == np.bool_:
            s = asarray(np.flatnonzero(concrete(
                s, "ix_", "integer indices instead of a traced boolean mask")))
        shape = [1] * len(args)
        shape[i] = shape_of(s)[0]
        out.append(reshape(s, tuple(shape)))
    return tuple(out)


def tril_indices(n: int, k: int = 0, m: int | None = None) -> tuple[Any, Any]:
    """The (row, column) indices of the lower triangle of an (n, m) array (int64)."""
    return np.tril_indices(n, k, m)


def triu_indices(n: int, k: int = 0, m: int | None = None) -> tuple[Any, Any]:
    """The (row, column) indices of the upper triangle of an (n, m) array (int64)."""
    return np.triu_indices(n, k, m)


def tril_indices_from(arr: Any, k: int = 0) -> tuple[Any, Any]:
    """`tril_indices` for the shape of the 2-d `arr`."""
    s = shape_of(arr)
    if len(s) != 2:
        raise ShapeError(f"tril_indices_from needs a 2-d array, got {s}{user_line()}")
    return tril_indices(s[0], k, s[1])


def triu_indices_from(arr: Any, k: int = 0) -> tuple[Any, Any]:
    """`triu_indices` for the shape of the 2-d `arr`."""
    s = shape_of(arr)
    if len(s) != 2:
        raise ShapeError(f"triu_indices_from needs a 2-d array, got {s}{user_line()}")
    return triu_indices(s[0], k, s[1])


def diag_indices(n: int, ndim: int = 2) -> tuple[Any, ...]:
    """The indices of the main diagonal of an n x n x ... array of rank `ndim`."""
    return np.diag_indices(n, ndim)


def diag_indices_from(arr: Any) -> tuple[Any, ...]:
    """`diag_indices` for `arr`, whose sides must be equal."""
    s = shape_of(arr)
    if len(s) < 2 or len(set(s)) != 1:
        raise ShapeError(f"diag_indices_from needs an array with equal sides, got {s}"
                         f"{user_line()}")
    return diag_indices(s[0], len(s))


def mask_indices(n: int, mask_func: Callable[..., Any], k: int = 0, *,
                 size: int | None = None) -> tuple[Any, Any]:
    """The indices where `mask_func(ones((n, n)), k)` is nonzero (e.g. `triu`); with
    `size`, exactly that many (cut, or padded with 0), as JAX's `nonzero(size=)`."""
    m = concrete(asarray(mask_func(np.ones((n, n), np.int32), k)), "mask_indices",
                 "a mask_func that does not depend on traced values")
    rows, cols = np.nonzero(m != 0)
    if size is None:
        return rows, cols
    return tuple(np.pad(v[:size], (0, max(size - len(v), 0))) for v in (rows, cols))


def ravel_multi_index(multi_index: Sequence[Any], dims: Sequence[int], mode: str = "raise",
                      order: str = "C", *, dtype: Any = None) -> Any:
    """The flat index (int64, NumPy's, or JAX's `dtype`) of each multi-index into an array
    of shape `dims`; `mode` 'wrap' or 'clip' handles out-of-range entries, 'raise' rejects
    them when concrete.

    >>> ravel_multi_index((np.array([1, 0]), np.array([2, 1])), (2, 3))
    array([5, 1])
    """
    if len(multi_index) != len(dims):
        raise ArgumentError(f"ravel_multi_index: {len(multi_index)} index arrays for "
                         f"{len(dims)} dimensions")
    idx = [lax.convert_element_type(asarray(i), np.int64) for i in multi_index]
    for i, n in zip(idx, dims):
        if get_aval(i).dtype.kind not in "iu":
            raise ArgumentTypeError("ravel_multi_index needs integer index arrays")
        if mode == "raise" and not isinstance(i, Tracer) and (np.any(i < 0) or np.any(i >= n)):
            raise ArgumentError(f"ravel_multi_index: invalid entry for a dimension of size {n}")
    if mode == "wrap":
        idx = [lax.rem(lax.add(lax.rem(i, np.int64(n)), np.int64(n)), np.int64(n))
               for i, n in zip(idx, dims)]
    elif mode == "clip":
        idx = [lax.clamp(np.int64(0), i, np.int64(max(n - 1, 0))) for i, n in zip(idx, dims)]
    order_dims = list(zip(idx, dims))
    if order == "F":
        order_dims = order_dims[::-1]
    out: Any = np.int64(0)
    for i, n in order_dims:
        out = add(multiply(out, np.int64(n)), i)
    return out if dtype is None else lax.convert_element_type(out, dtype)


def unravel_index(indices: Any, shape: Sequence[int]) -> tuple[Any, ...]:
    """The multi-index of each flat index into an array of `shape` (C order); negative
    indices count from the end, as in JAX, and out-of-range ones are clipped.

    >>> unravel_index(np.array([5, 1]), (2, 3))
    (array([1, 0]), array([2, 1]))
    """
    i = asarray(indices)
    if get_aval(i).dtype.kind not in "iu":
        raise ArgumentTypeError(f"unravel_index needs integer indices, got {get_aval(i).dtype}")
    size = math.prod(shape)
    i = lax.convert_element_type(i, np.int64)
    i = where(lax.lt(i, 0), add(i, np.int64(size)), i)
    i = lax.clamp(np.int64(0), i, np.int64(max(size - 1, 0)))
    out = []
    stride = size
    for n in shape:
        stride //= max(n, 1)
        out.append(lax.rem(lax.div(i, np.int64(max(stride, 1))), np.int64(max(n, 1))))
    return tuple(out)


def fromfunction(function: Callable[..., Any], shape: Sequence[int], *, dtype: Any = float,
                 **kwargs: Any) -> Any:
    """`function(*indices(shape))`: the function is called once, with index grids of
    `dtype` (float32 for Python's `float`, fnad's default).

    >>> fromfunction(lambda i, j: i + j, (2, 2), dtype=int)
    array([[0, 1],
           [1, 2]], dtype=int32)
    """
    dt = python_default(dtype) if dtype in (bool, int, float, complex) else dtype
    return function(*indices(shape, dtype=dt), **kwargs)


# ------------------------------------------------------------------ vectorize


def _vmap(fn: Callable[..., Any], args: list[Any], dims: list[int | None], size: int) -> Any:
    """fn mapped over axis dims[i] of each argument (None: shared); outputs stacked on a
    new leading axis."""
    treedef: list[Any] = []

    def flat_fn(*xs: Any) -> list[Any]:
        leaves, td = tree_util.tree_flatten(fn(*xs))
        treedef.append(td)
        return [asarray(v) for v in leaves]

    outs, out_dims = vmap_flat(flat_fn, size, args, dims)
    return [batching.moveaxis(o, d, 0, size) for o, d in zip(outs, out_dims)], treedef[0]


_DIMS = r"\(\s*(?:\w+(?:\s*,\s*\w+)*)?\s*\)"
_SIGNATURE = re.compile(rf"^{_DIMS}(?:\s*,\s*{_DIMS})*\s*->\s*{_DIMS}(?:\s*,\s*{_DIMS})*$")


def _parse_signature(sig: str) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    if not _SIGNATURE.match(sig):
        raise ArgumentError(f"vectorize: not a valid gufunc signature: {sig!r}")
    ins, outs = sig.split("->")
    parse = lambda side: [tuple(d for d in re.split(r"\s*,\s*", g.strip()) if d)  # noqa: E731
                          for g in re.findall(r"\(([^)]*)\)", side)]
    return parse(ins), parse(outs)


class vectorize:  # noqa: N801  (NumPy's and JAX's name)
    """`pyfunc` applied elementwise (or over the core dimensions of a gufunc `signature`
    such as "(n),(n)->()") to broadcast arguments, by the batching transform: one call
    of `pyfunc` on batched values, as `jax.numpy.vectorize` (not a Python loop).
    Arguments in `excluded` (positions or names) and keyword arguments pass unchanged.

    >>> vectorize(lambda a, b: a + b)(np.arange(3), 1)
    array([1, 2, 3])
    """

    def __init__(self, pyfunc: Callable[..., Any], otypes: Any = None, doc: str | None = None,
                 excluded: Any = frozenset(), cache: bool = False, signature: str | None = None):
        self.pyfunc, self.excluded, self.signature = pyfunc, frozenset(excluded), signature
        functools.update_wrapper(self, pyfunc)
        if doc is not None:
            self.__doc__ = doc

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        keep = [i for i in range(len(args)) if i not in self.excluded]
        fixed = {k: v for k, v in kwargs.items()}
        arrays = [asarray(args[i]) for i in keep]
        if self.signature is not None:
            in_core, out_core = _parse_signature(self.signature)
            if len(in_core) != len(arrays):
                raise ArgumentTypeError(f"vectorize: signature {self.signature!r} has {len(in_core)} "
                                f"inputs, got {len(arrays)} arrays")
        else:
            in_core = [()] * len(arrays)
        loops, sizes = [], {}
        for a, core in zip(arrays, in_core):
            shape = shape_of(a)
            if len(shape) < len(core):
                raise ShapeError(f"vectorize: an input of shape {shape} has fewer axes than "
                                 f"its core dimensions {core}{user_line()}")
            for name, n in zip(core, shape[len(shape) - len(core):]):
                if sizes.setdefault(name, n) != n:
                    raise ShapeError(f"vectorize: core dimension {name} is {sizes[name]} "
                                     f"and {n}{user_line()}")
            loops.append(shape[:len(shape) - len(core)])
        loop = broadcast_shapes(*loops) if loops else ()
        size = math.prod(loop)
        flat = [reshape(broadcast_to(a, loop + shape_of(a)[len(s):]), (size,) +
                        shape_of(a)[len(s):]) for a, s in zip(arrays, loops)]

        def call(*xs: Any) -> Any:
            full = list(args)
            for i, x in zip(keep, xs):
                full[i] = x
            return self.pyfunc(*full, **fixed)

        if size == 0:
            raise ShapeError(f"vectorize over an empty loop shape {loop} is not supported: "
                             f"the output shape would be unknown{user_line()}")
        outs, treedef = _vmap(call, flat, [0] * len(flat), size)
        outs = [reshape(o, loop + shape_of(o)[1:]) for o in outs]
        return tree_util.tree_unflatten(treedef, outs)


def apply_along_axis(func1d: Callable[..., Any], axis: int, arr: Any, *args: Any,
                     **kwargs: Any) -> Any:
    """`func1d` applied to every 1-d slice along `axis` (batched, one call); its output
    axes replace `axis`.

    >>> apply_along_axis(lambda v: v.sum(), 1, np.arange(6).reshape(2, 3))
    array([ 3, 12])
    """
    arr = asarray(arr)
    ax = normalize_axis(axis, get_aval(arr).ndim)
    moved = moveaxis(arr, ax, -1)
    outer = shape_of(moved)[:-1]
    size = math.prod(outer)
    rows = reshape(moved, (size, shape_of(moved)[-1]))
    outs, treedef = _vmap(lambda r: func1d(r, *args, **kwargs), [rows], [0], size)
    (out,) = outs
    out = reshape(out, outer + shape_of(out)[1:])
    k = get_aval(out).ndim - len(outer)
    # the output axes sit where `axis` was
    perm = list(range(ax)) + list(range(len(outer), len(outer) + k)) + \
        list(range(ax, len(outer)))
    return transpose(out, perm)


def apply_over_axes(func: Callable[[Any, int], Any], a: Any, axes: Sequence[int] | int) -> Any:
    """`func(a, axis)` for each axis in turn, keeping the rank (a reduced axis is kept
    with size 1)."""
    a = asarray(a)
    for ax in ([axes] if isinstance(axes, (int, np.integer)) else axes):
        nd = get_aval(a).ndim
        res = asarray(func(a, normalize_axis(ax, nd)))
        if get_aval(res).ndim == nd - 1:
            res = expand_dims(res, normalize_axis(ax, nd))
        elif get_aval(res).ndim != nd:
            raise ArgumentError("apply_over_axes: func must keep the rank or reduce one axis")
        a = res
    return a


# ------------------------------------------------------------------ spaced values


def logspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, base: Any = 10.0,
             dtype: Any = None, axis: int = 0) -> Any:
    """base ** linspace(start, stop, num), computed in float64 and returned as
    `linspace` would type it (float32 by default).

    >>> logspace(0.0, 2.0, 3)
    array([  1.,  10., 100.], dtype=float32)
    """
    from fnad.numpy._creation import linspace
    y = linspace(start, stop, num, endpoint, dtype=np.float64, axis=axis)
    dt = dtype if dtype is not None else linspace(start, stop, num, endpoint, axis=axis).dtype
    b = np.asarray(base, np.float64)
    b = np.expand_dims(b, axis) if b.ndim else b
    with np.errstate(over="ignore", under="ignore"):  # overflow is inf, as in NumPy
        return (b ** y).astype(dt)


def geomspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, dtype: Any = None,
              axis: int = 0) -> Any:
    """`num` numbers spaced evenly on a log scale from `start` to `stop` (same sign,
    nonzero, or complex); the ends are exact. The default float (or complex) dtype unless
    float bounds are wider, as `linspace`.

    >>> geomspace(1.0, 1000.0, 4)
    array([   1.,   10.,  100., 1000.], dtype=float32)
    """
    from fnad.numpy._creation import linspace
    from fnad.numpy._ufuncs import absolute, exp, log, sign
    s, e = asarray(start), asarray(stop)
    dt = np.dtype(dtype) if dtype is not None else np.result_type(
        default_dtype("f"), *(get_aval(v).dtype for v in (s, e) if get_aval(v).dtype.kind in "fc"))
    if not isinstance(s, Tracer) and not isinstance(e, Tracer):  # concrete: NumPy's, wide
        wide = np.result_type(s, e, np.float64)
        if np.any(s == 0) or np.any(e == 0):
            raise ArgumentError("geomspace: start and stop must be nonzero")
        if wide.kind == "f" and np.any((s < 0) != (e < 0)):
            raise ArgumentError("geomspace: real start and stop must have one sign")
        return np.geomspace(np.asarray(s, wide), np.asarray(e, wide), num, endpoint,
                            axis=axis).astype(dt)
    shape = np.broadcast_shapes(get_aval(s).shape, get_aval(e).shape)  # one sequence each
    s, e = (broadcast_to(lax.convert_element_type(v, dt), (1, *shape)) for v in (s, e))
    t = reshape(linspace(0.0, 1.0, num, endpoint, dtype=dt), (num,) + (1,) * len(shape))
    ls, le = log(absolute(s)), log(absolute(e))
    out = multiply(sign(s), exp(add(ls, multiply(t, subtract(le, ls)))))
    if num > 0:  # the ends exact
        out = concatenate([s, out[1:]])
        if endpoint and num > 1:
            out = concatenate([out[:-1], e])
    return moveaxis(out, 0, axis) if axis else out


__all__ = [
    "append", "apply_along_axis", "apply_over_axes", "block", "choose", "cross", "delete",
    "diag_indices", "diag_indices_from", "diagflat", "dsplit", "fill_diagonal", "fromfunction",
    "geomspace", "indices", "insert", "ix_", "kron", "logspace", "make_diagonal", "mask_indices",
    "matvec",
    "piecewise", "ravel_multi_index", "resize", "rollaxis", "select", "tril_indices",
    "tril_indices_from", "triu_indices", "triu_indices_from", "unravel_index", "unstack",
    "vecmat", "vectorize",
]


def put_along_axis(arr: Any, indices: Any, values: Any, axis: int | None,
                   inplace: bool = True, *, mode: str | None = None) -> Any:
    """`arr` with `values` written at `indices` along `axis` (the flattened array for
    None), pairing them as `take_along_axis` does. Functional: pass `inplace=False`.

    >>> put_along_axis(np.zeros((2, 2)), np.array([[1], [0]]), 5.0, 1, inplace=False)
    array([[0., 5.],
           [5., 0.]])
    """
    from fnad.numpy._indexing import at as at_
    if inplace:
        raise ArgumentError("fnad.numpy.put_along_axis cannot modify its input in place: pass "
                         "inplace=False and use the result")
    del mode
    arr, indices = asarray(arr), asarray(indices)
    shape = shape_of(arr)
    if axis is None:
        out = at_(ravel(arr))[ravel(indices)].set(ravel(asarray(values)))
        return reshape(out, shape)
    nd = len(shape)
    ax = normalize_axis(axis, nd)
    if get_aval(indices).ndim != nd:
        raise ShapeError(f"put_along_axis: indices of shape {shape_of(indices)} must have the "
                         f"rank of the array {shape}{user_line()}")
    bshape = broadcast_shapes(tuple(1 if d == ax else n for d, n in enumerate(shape)),
                              shape_of(indices))
    idx = tuple(broadcast_to(indices, bshape) if d == ax else
                np.broadcast_to(np.arange(n).reshape([n if k == d else 1 for k in range(nd)]),
                                bshape)
                for d, n in enumerate(shape))
    return at_(arr)[idx].set(broadcast_to(asarray(values, get_aval(arr).dtype), bshape))


def packbits(a: Any, axis: int | None = None, bitorder: str = "big") -> Any:
    """The nonzero-ness of `a`'s elements packed 8 to a uint8 along `axis` (the flattened
    array for None), zero-padded at the end.

    >>> packbits(np.array([1, 0, 1, 1]))
    array([176], dtype=uint8)
    """
    a = asarray(a)
    if get_aval(a).dtype.kind not in "biu":
        raise ArgumentTypeError(f"packbits needs bool or integer input, got {get_aval(a).dtype}")
    if bitorder not in ("big", "little"):
        raise ArgumentError(f"packbits: bitorder must be 'big' or 'little', got {bitorder!r}")
    if axis is None:
        a, axis = ravel(a), 0
    ax = normalize_axis(axis, get_aval(a).ndim)
    bits = lax.convert_element_type(lax.ne(a, np.zeros((), get_aval(a).dtype)), np.uint8)
    bits = moveaxis(bits, ax, -1)
    n = shape_of(bits)[-1]
    pad = -n % 8
    if pad:
        bits = concatenate([bits, lax.full(shape_of(bits)[:-1] + (pad,), 0, np.uint8)], -1)
    bits = reshape(bits, shape_of(bits)[:-1] + ((n + pad) // 8, 8))
    weights = (1 << np.arange(8)).astype(np.uint8)
    weights = weights[::-1] if bitorder == "big" else weights
    packed = lax.reduce_sum(multiply(bits, weights), (get_aval(bits).ndim - 1,))
    return moveaxis(lax.convert_element_type(packed, np.uint8), -1, ax)


def unpackbits(a: Any, axis: int | None = None, count: int | None = None,
               bitorder: str = "big") -> Any:
    """The bits of a uint8 array as 0/1 uint8 values along `axis` (flattened for None);
    `count` keeps that many (negative: drops from the end).

    >>> unpackbits(np.array([176], np.uint8))
    array([1, 0, 1, 1, 0, 0, 0, 0], dtype=uint8)
    """
    a = asarray(a)
    if get_aval(a).dtype != np.uint8:
        raise ArgumentTypeError(f"unpackbits needs a uint8 array, got {get_aval(a).dtype}")
    if bitorder not in ("big", "little"):
        raise ArgumentError(f"unpackbits: bitorder must be 'big' or 'little', got {bitorder!r}")
    if axis is None:
        a, axis = ravel(a), 0
    ax = normalize_axis(axis, get_aval(a).ndim)
    x = moveaxis(a, ax, -1)
    shifts = np.arange(8, dtype=np.uint8)
    shifts = shifts[::-1] if bitorder == "big" else shifts
    wide = lax.broadcast_in_dim(x, shape_of(x) + (8,), tuple(range(get_aval(x).ndim)))
    shifts = np.broadcast_to(shifts, shape_of(wide))
    bits = lax.bitwise_and(lax.shift_right_logical(wide, shifts), np.uint8(1))
    bits = reshape(bits, shape_of(x)[:-1] + (shape_of(x)[-1] * 8,))
    if count is not None:
        n = shape_of(bits)[-1]
        keep = count if count >= 0 else max(n + count, 0)
        if keep <= n:
            bits = bits[..., :keep]
        else:
            bits = concatenate([bits, lax.full(shape_of(bits)[:-1] + (keep - n,), 0,
                                               np.uint8)], -1)
    return moveaxis(bits, -1, ax)


__all__ += ["packbits", "put_along_axis", "unpackbits"]
