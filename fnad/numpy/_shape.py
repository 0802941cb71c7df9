"""NumPy's shape manipulation: reshaping, joining, splitting, tiling, flipping and padding,
each lowered to `fnad.lax` structural primitives (reshape, transpose, broadcast_in_dim,
slice, concatenate, pad, rev).
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from fnad import lax
from fnad.core.errors import ArgumentError, ShapeError, check_no_out, check_one_device, user_line
from fnad.core.ir import get_aval
from fnad.numpy._core import (
    asarray,
    broadcast_shapes,
    broadcast_to,
    convert,
    fresh,
    normalize_axes,
    normalize_axis,
    promote_dtypes,
    shape_of,
)

IntOrSeq = int | Sequence[int]


def shape(a: Any) -> tuple[int, ...]:
    """The shape of an array, a tracer, a nested list or a Python number."""
    return tuple(shape_of(a))


def ndim(a: Any) -> int:
    return len(shape_of(a))


def size(a: Any, axis: int | None = None) -> int:
    s = shape_of(a)
    return int(np.prod(s, dtype=np.int64)) if axis is None else s[normalize_axis(axis, len(s))]


def _tuple(x: IntOrSeq) -> tuple[int, ...]:
    return (int(x),) if isinstance(x, (int, np.integer)) else tuple(int(i) for i in x)


def reshape(a: Any, shape: IntOrSeq, order: str = "C", *, copy: bool | None = None,
            out_sharding: Any = None) -> Any:
    """`a` with a new shape (one entry may be -1), read and written in row-major ('C') or
    column-major ('F') order; `copy` and `out_sharding` are accepted as JAX does (results
    are fresh values)."""
    _check_order("reshape", order)
    a = asarray(a)
    new = _tuple(shape)
    n = get_aval(a).size
    if new.count(-1) > 1:
        raise ShapeError(f"can only specify one unknown dimension in {new}{user_line()}")
    if -1 in new:
        known = int(np.prod([d for d in new if d != -1], dtype=np.int64))
        if known == 0 or n % known:
            raise ShapeError(f"cannot reshape {get_aval(a).shape} to {new}{user_line()}")
        new = tuple(n // known if d == -1 else d for d in new)
    if order == "F":
        return transpose(lax.reshape(transpose(a), new[::-1]))
    return lax.reshape(a, new)


def _check_order(name: str, order: str) -> None:
    if order not in ("C", "F"):
        raise ArgumentError(f"{name}: order must be 'C' (row-major) or 'F' (column-major), "
                            f"got {order!r}{user_line()}")


def ravel(a: Any, order: str = "C", *, out_sharding: Any = None) -> Any:
    """`a` flattened to one axis, in row-major ('C') or column-major ('F') order."""
    return reshape(a, -1, order)


def transpose(a: Any, axes: Sequence[int] | None = None) -> Any:
    """`a` with its axes permuted (reversed when `axes` is None)."""
    a = asarray(a)
    nd = get_aval(a).ndim
    if axes is None:
        return lax.transpose(a, tuple(reversed(range(nd))))
    perm = tuple(normalize_axis(i, nd) for i in axes)
    if sorted(perm) != list(range(nd)):
        raise ShapeError(f"axes {tuple(axes)} are not a permutation of {nd} axes{user_line()}")
    return lax.transpose(a, perm)


def permute_dims(a: Any, axes: Sequence[int] | None = None) -> Any:
    return transpose(a, axes)


def matrix_transpose(a: Any) -> Any:
    """Swap the last two axes."""
    return swapaxes(a, -1, -2)


def swapaxes(a: Any, axis1: int, axis2: int) -> Any:
    """`a` with two axes exchanged."""
    a = asarray(a)
    nd = get_aval(a).ndim
    perm = list(range(nd))
    i, j = normalize_axis(axis1, nd), normalize_axis(axis2, nd)
    perm[i], perm[j] = perm[j], perm[i]
    return lax.transpose(a, tuple(perm))


def moveaxis(a: Any, source: IntOrSeq, destination: IntOrSeq) -> Any:
    """`a` with the `source` axes moved to the `destination` positions, others in order."""
    a = asarray(a)
    nd = get_aval(a).ndim
    src = [normalize_axis(s, nd) for s in _tuple(source)]
    dst = [normalize_axis(d, nd) for d in _tuple(destination)]
    if len(src) != len(dst):
        raise ShapeError(f"source {source} and destination {destination} differ in length")
    order = [i for i in range(nd) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return lax.transpose(a, tuple(order))


def squeeze(a: Any, axis: IntOrSeq | None = None) -> Any:
    """`a` without its size-1 axes (all of them, or those named, which must be size 1)."""
    a = asarray(a)
    s = get_aval(a).shape
    axes = tuple(i for i, d in enumerate(s) if d == 1) if axis is None else \
        normalize_axes(axis, len(s))
    if builtins.any(s[i] != 1 for i in axes):
        raise ShapeError(f"cannot squeeze axes {axis} of shape {s}: not of size 1{user_line()}")
    return lax.reshape(a, tuple(d for i, d in enumerate(s) if i not in axes))


def expand_dims(a: Any, axis: IntOrSeq) -> Any:
    """`a` with new size-1 axes at the positions `axis` of the result."""
    a = asarray(a)
    s = get_aval(a).shape
    axes = normalize_axes(axis, len(s) + len(_tuple(axis)))
    it = iter(s)
    return lax.reshape(a, tuple(1 if i in axes else next(it)
                                for i in range(len(s) + len(axes))))


def broadcast_arrays(*args: Any) -> tuple[Any, ...]:
    """The arguments broadcast to their common shape (dtypes unchanged)."""
    arrays = [asarray(a) for a in args]
    s = broadcast_shapes(*(get_aval(a).shape for a in arrays))
    return tuple(broadcast_to(a, s) for a in arrays)


def atleast_1d(*arys: Any) -> Any:
    """Each argument with at least one axis (a list when given several)."""
    return _atleast(arys, lambda s: s if s else (1,))


def atleast_2d(*arys: Any) -> Any:
    """Each argument with at least two axes: (N,) becomes (1, N)."""
    return _atleast(arys, lambda s: s if len(s) >= 2 else (1,) * (2 - len(s)) + s)


def atleast_3d(*arys: Any) -> Any:
    """Each argument with at least three axes: (N,) -> (1, N, 1), (M, N) -> (M, N, 1)."""
    return _atleast(arys, lambda s: {0: (1, 1, 1), 1: (1, *s, 1), 2: (*s, 1)}.get(len(s), s))


def _atleast(arys: Sequence[Any], new_shape: Any) -> Any:
    out = [lax.reshape(a, new_shape(get_aval(a).shape)) for a in map(asarray, arys)]
    return out[0] if len(out) == 1 else out


# ------------------------------------------------------------------ joining and splitting

def concatenate(arrays: Sequence[Any], axis: int | None = 0, dtype: Any = None) -> Any:
    """The arrays joined along an existing axis (flattened first when `axis` is None),
    promoted to their common dtype."""
    arrays = promote_dtypes(*arrays, dtype=dtype)
    if axis is None:
        arrays, axis = [ravel(a) for a in arrays], 0
    if not arrays:
        raise ArgumentError("need at least one array to concatenate")
    nd = get_aval(arrays[0]).ndim
    if nd == 0:
        raise ShapeError(f"zero-dimensional arrays cannot be concatenated{user_line()}")
    if len(arrays) == 1:
        return fresh(arrays[0], arrays[0])
    return lax.concatenate(arrays, normalize_axis(axis, nd))


def concat(arrays: Sequence[Any], /, *, axis: int | None = 0) -> Any:
    """The array API's `concatenate`."""
    return concatenate(arrays, axis)


def stack(arrays: Sequence[Any], axis: int = 0, out: None = None, dtype: Any = None) -> Any:
    """The arrays (all of one shape) joined along a new axis."""
    if out is not None:
        check_no_out("stack", out)
    arrays = promote_dtypes(*arrays, dtype=dtype)
    shapes = {get_aval(a).shape for a in arrays}
    if len(shapes) > 1:
        raise ShapeError(f"stack needs arrays of one shape, got {sorted(shapes)}{user_line()}")
    return concatenate([expand_dims(a, axis) for a in arrays], axis)


def hstack(tup: Sequence[Any], dtype: Any = None) -> Any:
    """Join along axis 1 (axis 0 for 1-d arrays)."""
    arrays = [atleast_1d(a) for a in tup]
    return concatenate(arrays, 0 if get_aval(arrays[0]).ndim == 1 else 1, dtype)


def vstack(tup: Sequence[Any], dtype: Any = None) -> Any:
    """Join along axis 0, 1-d arrays becoming rows."""
    return concatenate([atleast_2d(a) for a in tup], 0, dtype)


row_stack = vstack


def dstack(tup: Sequence[Any], dtype: Any = None) -> Any:
    """Join along axis 2, after `atleast_3d`."""
    return concatenate([atleast_3d(a) for a in tup], 2, dtype)


def column_stack(tup: Sequence[Any]) -> Any:
    """Join 1-d arrays as columns (and 2-d arrays along axis 1)."""
    cols = [asarray(a) for a in tup]
    return concatenate([lax.reshape(c, (get_aval(c).size, 1)) if get_aval(c).ndim < 2 else c
                        for c in cols], 1)


def slice_axis(a: Any, axis: int, start: int, stop: int, step: int = 1) -> Any:
    """`a[..., start:stop:step, ...]` on one axis, with static bounds already in range."""
    s = get_aval(a).shape
    starts = [0] * len(s)
    limits = list(s)
    strides = [1] * len(s)
    starts[axis], limits[axis], strides[axis] = start, stop, step
    if (start, stop, step) == (0, s[axis], 1):
        return a
    return lax.slice(a, tuple(starts), tuple(limits), tuple(strides))


def array_split(ary: Any, indices_or_sections: IntOrSeq, axis: int = 0) -> list[Any]:
    """Split into `n` nearly equal pieces (the first ones one longer), or at the given
    indices."""
    a = asarray(ary)
    ax = normalize_axis(axis, get_aval(a).ndim)
    n = get_aval(a).shape[ax]
    if isinstance(indices_or_sections, (int, np.integer)):
        k = int(indices_or_sections)
        if k <= 0:
            raise ArgumentError("number of sections must be larger than 0")
        sizes = [n // k + 1] * (n % k) + [n // k] * (k - n % k)
        bounds = np.concatenate([[0], np.cumsum(sizes)]).tolist()
    else:
        bounds = [0, *(builtins.min(builtins.max(int(i) + n * (int(i) < 0), 0), n)
                       for i in indices_or_sections), n]
    return [slice_axis(a, ax, lo, builtins.max(lo, hi)) for lo, hi in zip(bounds, bounds[1:])]


def split(ary: Any, indices_or_sections: IntOrSeq, axis: int = 0) -> list[Any]:
    """Split into `n` equal pieces (an error if they cannot be equal), or at the given
    indices along `axis`."""
    if isinstance(indices_or_sections, (int, np.integer)):
        n = shape_of(ary)[normalize_axis(axis, len(shape_of(ary)))]
        if n % int(indices_or_sections):
            raise ShapeError(f"an axis of size {n} cannot be split into "
                             f"{indices_or_sections} equal pieces{user_line()}")
    return array_split(ary, indices_or_sections, axis)


def hsplit(ary: Any, indices_or_sections: IntOrSeq) -> list[Any]:
    return split(ary, indices_or_sections, 1 if len(shape_of(ary)) > 1 else 0)


def vsplit(ary: Any, indices_or_sections: IntOrSeq) -> list[Any]:
    return split(ary, indices_or_sections, 0)


# ------------------------------------------------------------------ repeating and flipping

def tile(A: Any, reps: IntOrSeq) -> Any:
    """`A` repeated `reps` times along each axis: one broadcast to interleaved
    (rep, size) axes, then one reshape."""
    a = asarray(A)
    reps = _tuple(reps)
    s = get_aval(a).shape
    nd = builtins.max(len(s), len(reps))
    s = (1,) * (nd - len(s)) + s
    reps = (1,) * (nd - len(reps)) + reps
    a = lax.reshape(a, s)
    inter = tuple(v for r, d in zip(reps, s) for v in (r, d))
    out = lax.broadcast_in_dim(a, inter, tuple(range(1, 2 * nd, 2)))
    return lax.reshape(out, tuple(r * d for r, d in zip(reps, s)))


def repeat(a: Any, repeats: IntOrSeq, axis: int | None = None, *,
           total_repeat_length: int | None = None, out_sharding: Any = None) -> Any:
    """Each element repeated `repeats` times along `axis` (the flattened array for None):
    an int, or one int per element. Without `total_repeat_length` the repeats are static;
    with it (JAX's) they may be traced, and the result has that length: cut short, or
    continued with the last element."""
    if out_sharding is not None:
        check_one_device("repeat", out_sharding=out_sharding)
    a = asarray(a)
    if axis is None:
        a, axis = ravel(a), 0
    ax = normalize_axis(axis, get_aval(a).ndim)
    s = get_aval(a).shape
    if total_repeat_length is not None:
        return _repeat_to_length(a, repeats, ax, int(total_repeat_length))
    if not isinstance(repeats, (int, np.integer)):
        reps = [int(r) for r in repeats]
        if len(reps) == 1:
            return repeat(a, reps[0], ax)
        if len(reps) != s[ax]:
            raise ShapeError(f"{len(reps)} repeats for an axis of size {s[ax]}{user_line()}")
        if not reps:
            return a
        return concatenate([repeat(slice_axis(a, ax, i, i + 1), r, ax)
                            for i, r in enumerate(reps)], ax)
    r = int(repeats)
    wide = (*s[:ax + 1], r, *s[ax + 1:])
    dims = tuple(i + (i > ax) for i in range(len(s)))
    out = lax.broadcast_in_dim(a, wide, dims)
    return lax.reshape(out, (*s[:ax], s[ax] * r, *s[ax + 1:]))


def _repeat_to_length(a: Any, repeats: Any, ax: int, length: int) -> Any:
    """`repeat` with a static output length: output position j takes the element whose
    run of repeats covers it (the last element past the total)."""
    from fnad.numpy._indexing import take
    from fnad.numpy._reductions import cumsum
    from fnad.numpy._sorting import searchsorted
    n = get_aval(a).shape[ax]
    if n == 0 and length:
        raise ShapeError(f"repeat: total_repeat_length {length} for an empty axis{user_line()}")
    ends = cumsum(broadcast_to(asarray(repeats), (n,)))
    source = searchsorted(ends, lax.iota(get_aval(ends).dtype, length), side="right")
    return take(a, lax.min(source, np.asarray(builtins.max(n - 1, 0), source.dtype)), axis=ax)


def flip(m: Any, axis: IntOrSeq | None = None) -> Any:
    """`m` with the order of elements reversed along `axis` (all axes for None)."""
    m = asarray(m)
    axes = normalize_axes(axis, get_aval(m).ndim)
    return lax.rev(m, axes) if axes else m


def fliplr(m: Any) -> Any:
    return flip(m, 1)


def flipud(m: Any) -> Any:
    return flip(m, 0)


def roll(a: Any, shift: IntOrSeq, axis: IntOrSeq | None = None) -> Any:
    """Elements shifted cyclically along `axis` (the flattened array for None)."""
    a = asarray(a)
    if axis is None:
        return reshape(roll(ravel(a), shift, 0), get_aval(a).shape)
    shifts, axes = _tuple(shift), _tuple(axis)
    shifts, axes = np.broadcast_arrays(shifts, axes)
    for sh, ax in zip(shifts.tolist(), axes.tolist()):
        ax = normalize_axis(ax, get_aval(a).ndim)
        n = get_aval(a).shape[ax]
        k = sh % n if n else 0
        if k:
            a = lax.concatenate([slice_axis(a, ax, n - k, n), slice_axis(a, ax, 0, n - k)], ax)
    return fresh(a, a)


def rot90(m: Any, k: int = 1, axes: tuple[int, int] = (0, 1)) -> Any:
    """`m` rotated by 90 degrees `k` times in the plane of `axes` (from the first towards
    the second)."""
    nd = get_aval(asarray(m)).ndim
    if len(axes) != 2 or normalize_axis(axes[0], nd) == normalize_axis(axes[1], nd):
        raise ShapeError(f"rot90: axes must be two different axes, got {axes}{user_line()}")
    k %= 4
    if k == 0:
        return asarray(m)
    if k == 2:
        return flip(m, axes)
    if k == 1:
        return swapaxes(flip(m, axes[1]), *axes)
    return flip(swapaxes(m, *axes), axes[1])


# ------------------------------------------------------------------ padding

def _pad_widths(pad_width: Any, nd: int) -> list[tuple[int, int]]:
    widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (nd, 2))
    if (widths < 0).any():
        raise ArgumentError(f"pad widths must be non-negative, got {pad_width}")
    return [(int(lo), int(hi)) for lo, hi in widths]


def _pad_axis(x: Any, ax: int, lo: int, hi: int, mode: str, odd: bool = False) -> Any:
    """Pad one axis by slicing and concatenating, growing in steps no longer than what the
    current array can mirror, so that wide pads repeat the pattern as NumPy does. `odd`
    reflections are 2 * edge - mirror image (reflect and symmetric modes)."""
    while lo or hi:
        n = get_aval(x).shape[ax]
        if n == 0:
            raise ShapeError(f"cannot pad an empty axis in mode {mode!r}{user_line()}")
        if mode == "edge" or (mode == "reflect" and n == 1):
            left = repeat(slice_axis(x, ax, 0, 1), lo, ax)
            right = repeat(slice_axis(x, ax, n - 1, n), hi, ax)
            l_, h_ = lo, hi
        elif mode == "reflect":
            l_, h_ = builtins.min(lo, n - 1), builtins.min(hi, n - 1)
            left = flip(slice_axis(x, ax, 1, l_ + 1), ax)
            right = flip(slice_axis(x, ax, n - 1 - h_, n - 1), ax)
        elif mode == "symmetric":
            l_, h_ = builtins.min(lo, n), builtins.min(hi, n)
            left = flip(slice_axis(x, ax, 0, l_), ax)
            right = flip(slice_axis(x, ax, n - h_, n), ax)
        else:  # wrap: whole periods of the original, then the window around it
            kl, kh = -(-lo // n), -(-hi // n)
            tiled = concatenate([x] * (kl + 1 + kh), ax)
            return slice_axis(tiled, ax, kl * n - lo, (kl + 1) * n + hi)
        if odd and mode in ("reflect", "symmetric"):  # 2 * edge - mirror image
            if l_:
                edge = repeat(slice_axis(x, ax, 0, 1), l_, ax)
                left = lax.sub(lax.add(edge, edge), left)
            if h_:
                edge = repeat(slice_axis(x, ax, n - 1, n), h_, ax)
                right = lax.sub(lax.add(edge, edge), right)
        x = concatenate([p for p, w in ((left, l_), (x, 1), (right, h_)) if w], ax)
        lo, hi = lo - l_, hi - h_
    return x


def _block(x: Any, ax: int, width: int, value: Any) -> Any:
    """A block of `value` shaped like `x` but `width` long on axis `ax`."""
    s = list(get_aval(x).shape)
    s[ax] = width
    dtype = get_aval(x).dtype
    return lax.full(tuple(s), np.asarray(value, dtype), dtype)


def _pairs(value: Any, nd: int, name: str) -> list[tuple[Any, Any]]:
    """A per-axis (before, after) pair from a scalar, a pair or one pair per axis."""
    v = np.asarray(value, dtype=object if value is None else None)
    try:
        pairs = np.broadcast_to(v, (nd, 2))
    except ValueError:
        raise ShapeError(f"pad: {name} must be a scalar, a pair or one pair per axis, got "
                         f"{value!r}{user_line()}") from None
    return [(a, b) for a, b in pairs]


def _pad_stat(x: Any, ax: int, lo: int, hi: int, mode: str, lengths: tuple[Any, Any]) -> Any:
    """Pad one axis with a statistic of the `lengths` elements nearest each side (all of
    them for None), rounded for integer arrays, as NumPy."""
    from fnad.numpy._reductions import max, mean, min
    from fnad.numpy._stats import median
    from fnad.numpy._ufuncs import rint
    n = get_aval(x).shape[ax]
    dtype = get_aval(x).dtype
    stat = {"maximum": max, "minimum": min, "mean": mean, "median": median}[mode]
    sides = []
    for width, length, at_start in ((lo, lengths[0], True), (hi, lengths[1], False)):
        if not width:
            sides.append(None)
            continue
        k = n if length is None else builtins.min(int(length), n)
        if k <= 0 or n == 0:
            raise ArgumentError(f"pad mode {mode!r} needs a non-empty axis and stat_length "
                                f">= 1, got axis length {n}, stat_length {length}{user_line()}")
        part = slice_axis(x, ax, 0, k) if at_start else slice_axis(x, ax, n - k, n)
        value = stat(part, axis=ax, keepdims=True)
        if dtype.kind in "iub" and mode in ("mean", "median"):
            value = rint(value)
        sides.append(repeat(lax.convert_element_type(value, dtype), width, ax))
    parts = [p for p in (sides[0], x, sides[1]) if p is not None]
    return concatenate(parts, ax) if len(parts) > 1 else x


def _pad_ramp(x: Any, ax: int, lo: int, hi: int, ends: tuple[Any, Any]) -> Any:
    """Pad one axis with linear ramps from `ends` towards the edge values (the edges
    excluded): NumPy's linspace(end, edge, width, endpoint=False), i * (edge - end) / width
    + end in float, floored for integer arrays, mirrored on the far side."""
    from fnad.numpy._ufuncs import add, divide, floor, multiply, subtract
    n = get_aval(x).shape[ax]
    if n == 0:
        raise ShapeError(f"cannot pad an empty axis in mode 'linear_ramp'{user_line()}")
    dtype = get_aval(x).dtype
    ft = dtype if dtype.kind in "fc" else np.dtype(np.float64)
    sides = []
    for width, end, at_start in ((lo, ends[0], True), (hi, ends[1], False)):
        if not width:
            sides.append([])
            continue
        edge = lax.convert_element_type(
            slice_axis(x, ax, 0, 1) if at_start else slice_axis(x, ax, n - 1, n), ft)
        shape = [1] * get_aval(x).ndim
        shape[ax] = width
        start = convert(end, ft)
        ramp = add(multiply(np.arange(width, dtype=ft).reshape(shape),
                            divide(subtract(edge, start), width)), start)
        if dtype.kind not in "fc":
            ramp = floor(ramp)
        ramp = lax.convert_element_type(ramp, dtype)
        sides.append([ramp if at_start else flip(ramp, ax)])
    return concatenate([*sides[0], x, *sides[1]], ax) if lo or hi else x


def pad(array: Any, pad_width: Any, mode: str = "constant", **kwargs: Any) -> Any:
    """`array` padded on each axis by (before, after) widths, NumPy's and JAX's modes:

    'constant' (`constant_values`; one `lax.pad`, or per-axis values), 'edge', 'reflect'
    and 'symmetric' (with `reflect_type` 'even' or 'odd'), 'wrap', 'maximum', 'minimum',
    'mean', 'median' (over `stat_length` elements next to each side, or the whole axis),
    'linear_ramp' (to `end_values`) and 'empty' (zeros here). Axes are padded in order, each
    seeing the previous ones' padding, as NumPy's.

    >>> pad(np.array([1, 2, 3]), (2, 1), mode="reflect")
    array([3, 2, 1, 2, 3, 2])
    """
    allowed = {"constant": {"constant_values"}, "empty": set(), "edge": set(),
               "wrap": set(), "reflect": {"reflect_type"}, "symmetric": {"reflect_type"},
               "linear_ramp": {"end_values"}, **dict.fromkeys(
                   ("maximum", "minimum", "mean", "median"), {"stat_length"})}
    if mode not in allowed:
        raise NotImplementedError(f"pad mode {mode!r}: fnad.numpy supports "
                                  f"{', '.join(repr(m) for m in allowed)}")
    extra = set(kwargs) - allowed[mode]
    if extra:
        raise ArgumentError(f"pad mode {mode!r} does not take {sorted(extra)}{user_line()}")
    x = asarray(array)
    nd = get_aval(x).ndim
    widths = _pad_widths(pad_width, nd)
    dtype = get_aval(x).dtype
    if mode in ("constant", "empty"):
        constant_values = kwargs.get("constant_values", 0)
        if np.ndim(constant_values) == 0 or hasattr(constant_values, "aval"):
            value = convert(constant_values, dtype)
            return fresh(lax.pad(x, value, tuple((lo, hi, 0) for lo, hi in widths)), x)
        values = np.broadcast_to(np.asarray(constant_values), (nd, 2))
        for ax, ((lo, hi), (vlo, vhi)) in enumerate(zip(widths, values)):
            x = concatenate(([_block(x, ax, lo, vlo)] if lo else []) + [x]
                            + ([_block(x, ax, hi, vhi)] if hi else []), ax)
        return fresh(x, array)
    if mode in ("maximum", "minimum", "mean", "median"):
        lengths = _pairs(kwargs.get("stat_length"), nd, "stat_length")
        for ax, ((lo, hi), pair) in enumerate(zip(widths, lengths)):
            x = _pad_stat(x, ax, lo, hi, mode, pair)
        return fresh(x, array)
    if mode == "linear_ramp":
        ends = _pairs(kwargs.get("end_values", 0), nd, "end_values")
        for ax, ((lo, hi), pair) in enumerate(zip(widths, ends)):
            x = _pad_ramp(x, ax, lo, hi, pair)
        return fresh(x, array)
    odd = kwargs.get("reflect_type", "even")
    if odd not in ("even", "odd"):
        raise ArgumentError(f"pad: reflect_type must be 'even' or 'odd', got {odd!r}"
                            f"{user_line()}")
    for ax, (lo, hi) in enumerate(widths):
        x = _pad_axis(x, ax, lo, hi, mode, odd == "odd")
    return fresh(x, array)


__all__ = ["array_split", "atleast_1d", "atleast_2d", "atleast_3d", "broadcast_arrays",
           "column_stack", "concat", "concatenate", "dstack", "expand_dims", "flip", "fliplr",
           "flipud", "hsplit", "hstack", "matrix_transpose", "moveaxis", "ndim", "pad",
           "permute_dims", "ravel", "repeat", "reshape", "roll", "rot90", "row_stack", "shape",
           "size", "split", "squeeze", "stack", "swapaxes", "tile", "transpose", "vsplit",
           "vstack"]
