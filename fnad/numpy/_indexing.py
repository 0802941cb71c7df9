"""NumPy indexing of fnad values: `getitem(x, idx)` is `x[idx]`, and `at(x)[idx].set(v)`
(`x.at[idx].set(v)` on tracers) is a functional update that returns a new array.

Static ints and slices lower to slice/rev/squeeze, traced scalar ints to dynamic_slice and
integer arrays to gather; updates write back with pad + select_n, dynamic_update_slice and
the scatters. Reads clamp out-of-bounds array indices; updates drop them.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from fnad import lax
from fnad.core.errors import ArgumentError, ConcretizationError, ShapeError, user_line
from fnad.core.ir import get_aval
from fnad.core.trace import Tracer, state
from fnad.interpreters.batching import BatchTrace, BatchTracer
from fnad.interpreters.staging import StagedTracer, StagingTrace
from fnad.numpy import _core, _ufuncs
from fnad.numpy._core import asarray, broadcast_shapes, broadcast_to


class NonConcreteBooleanIndexError(ConcretizationError):
    """A boolean mask index was traced: the result's shape would depend on its values."""


# An index entry per axis of the operand once new axes are inserted:
#   ("slice", start, count, step)  static, step may be negative
#   ("int", i)                     static, in bounds, non-negative
#   ("dyn", tracer)                traced integer scalar
#   ("array", ints)                integer array (NumPy or traced), advanced indexing

def _has_tracer(x: Any) -> bool:
    return isinstance(x, Tracer) or (isinstance(x, (list, tuple)) and
                                     any(_has_tracer(e) for e in x))


def _from_sequence(seq: Sequence[Any]) -> Any:
    """A (nested) list index as an array; with tracers inside, stacked with lax."""
    if not _has_tracer(seq):
        arr = np.asarray(seq)
        return arr.astype(np.intp) if arr.size == 0 and arr.dtype.kind == "f" else arr
    parts = [_from_sequence(e) if isinstance(e, (list, tuple)) else e for e in seq]
    parts = [lax.expand_dims(lax.convert_element_type(p, np.int32), 0)
             for p in lax.asarray_like(*parts)]
    return lax.concatenate(parts, 0)


def _classify(item: Any) -> tuple:
    """One user index item as (kind, value)."""
    if item is None:
        return ("new",)
    if item is Ellipsis:
        return ("ellipsis",)
    if isinstance(item, slice):
        for v in (item.start, item.stop, item.step):
            if isinstance(v, Tracer):
                raise IndexError(f"slice bounds must be static{user_line()}; for a window at "
                                 "a traced start use fnad.lax.dynamic_slice")
        return ("slice", slice(*(None if v is None else int(v)
                                 for v in (item.start, item.stop, item.step))))
    if isinstance(item, (bool, np.bool_)):
        return ("mask", np.asarray(item))
    if isinstance(item, (int, np.integer)):
        return ("int", int(item))
    if isinstance(item, (list, tuple)):
        item = _from_sequence(item)
    if type(item) is _Unbatched:  # a constant under vmap: concrete, as in JAX
        item = item.val
    if isinstance(item, Tracer):
        kind = item.dtype.kind
        if kind == "b":
            raise NonConcreteBooleanIndexError(
                f"a traced boolean mask ({item.aval}) was used as an index{user_line()}. "
                f"Under {item._trace.stack()} its values are abstract, and the shape of "
                "x[mask] would depend on them. Use fnad.numpy.where(mask, x, fill) to keep "
                "the shape, or pass the mask as a concrete NumPy array.")
        if kind not in "iu":
            raise IndexError(f"arrays used as indices must be integers or booleans, got "
                             f"{item.aval}{user_line()}")
        return ("dyn", item) if item.ndim == 0 else ("array", item)
    if isinstance(item, (np.ndarray, np.generic)):
        item = np.asarray(item)
        if item.dtype == np.bool_:
            return ("mask", item)
        if item.dtype.kind not in "iu":
            raise IndexError(f"arrays used as indices must be integers or booleans, got "
                             f"dtype {item.dtype}{user_line()}")
        return ("int", int(item)) if item.ndim == 0 else ("array", item)
    raise IndexError(f"unsupported index {item!r} of type {type(item).__name__}{user_line()}: "
                     "use ints, slices, None, Ellipsis, integer arrays or boolean masks")


class _Plan:
    """An index resolved against a shape: new axes to insert, one entry per axis after
    inserting them, and where NumPy places the advanced-index dimensions."""

    def __init__(self, shape: tuple[int, ...], idx: Any):
        items = [_classify(i) for i in (idx if isinstance(idx, tuple) else (idx,))]
        used = sum(1 if k[0] in ("slice", "int", "dyn", "array") else
                   k[1].ndim if k[0] == "mask" else 0 for k in items)
        if sum(k[0] == "ellipsis" for k in items) > 1:
            raise IndexError(f"an index can only have a single ellipsis ('...'){user_line()}")
        if used > len(shape):
            raise IndexError(f"too many indices for an array of shape {shape}: {used} axes "
                             f"were indexed{user_line()}")
        self.new_axes: list[int] = []
        self.entries: list[tuple] = []
        axis = 0
        ellipsis_at = len(shape) + len(items)  # where an explicit ellipsis went
        if all(k[0] != "ellipsis" for k in items):
            items.append(("ellipsis", "implicit"))
        for item in items:
            kind = item[0]
            if kind == "new":
                self.new_axes.append(len(self.entries))
                self.entries.append(("slice", 0, 1, 1))
            elif kind == "ellipsis":
                if len(item) == 1:
                    ellipsis_at = len(self.entries)
                for _ in range(len(shape) - used):
                    self.entries.append(("slice", 0, shape[axis], 1))
                    axis += 1
            elif kind == "slice":
                start, stop, step = item[1].indices(shape[axis])
                self.entries.append(("slice", start, len(range(start, stop, step)), step))
                axis += 1
            elif kind == "int":
                i, n = item[1], shape[axis]
                if not -n <= i < n:
                    raise IndexError(f"index {i} is out of bounds for axis {axis} with size "
                                     f"{n}{user_line()}")
                self.entries.append(("int", i % n))
                axis += 1
            elif kind in ("dyn", "array"):
                self.entries.append(item)
                axis += 1
            else:  # a boolean mask
                mask = item[1]
                if mask.ndim == 0:  # a new axis, indexed by [0] or []
                    self.new_axes.append(len(self.entries))
                    self.entries.append(("array", np.arange(int(mask))))
                    continue
                covered = shape[axis:axis + mask.ndim]
                if mask.shape != covered:
                    raise IndexError(f"boolean index of shape {mask.shape} does not match the "
                                     f"indexed axes of size {covered}{user_line()}")
                self.entries.extend(("array", c) for c in np.nonzero(mask))
                axis += mask.ndim
        arrays = [k for k, e in enumerate(self.entries) if e[0] == "array"]
        self.has_array = bool(arrays)
        # NumPy: scalars join the advanced indices; adjacent ones keep their place (an
        # ellipsis between them separates them, even when it stands for no axis).
        adv = [k for k, e in enumerate(self.entries)
               if e[0] == "array" or (arrays and e[0] in ("int", "dyn"))]
        adjacent = bool(adv) and adv == list(range(adv[0], adv[-1] + 1)) and \
            not adv[0] < ellipsis_at <= adv[-1]
        self.place = sum(e[0] == "slice" for e in self.entries[:adv[0]]) if adjacent else 0


# ---------------------------------------------------------------------------- lowering

def _static_window(entries: list[tuple], shape: tuple[int, ...]):
    """The static slice (starts, limits, strides) taking the entries' slices and ints, and
    the axes to reverse after it (negative steps)."""
    starts, limits, strides, flips = [], [], [], []
    for k, (e, n) in enumerate(zip(entries, shape)):
        if e[0] == "slice":
            _, start, count, step = e
            if count == 0:
                start, limit, stride = 0, 0, 1
            elif step > 0:
                limit, stride = start + (count - 1) * step + 1, step
            else:
                start, limit, stride = start + (count - 1) * step, start + 1, -step
                if count > 1:
                    flips.append(k)
        elif e[0] == "int":
            start, limit, stride = e[1], e[1] + 1, 1
        else:
            start, limit, stride = 0, n, 1
        starts.append(start)
        limits.append(limit)
        strides.append(stride)
    return starts, limits, strides, flips


def _normalized(i: Any, n: int) -> Any:
    """A traced index with negative values counted from the end (`i + n` where `i < 0`)."""
    if get_aval(i).dtype.kind == "u":
        return i
    return lax.select_n(lax.lt(i, 0), i, lax.add(i, n))


def _dynamic_window(x: Any, entries: list[tuple]):
    """The traced-scalar axes of `entries` as a dynamic_slice of `x` (size 1 there), with
    its start indices; `x` itself and None when there are none."""
    if all(e[0] != "dyn" for e in entries):
        return x, None
    shape = get_aval(x).shape
    starts = [_normalized(e[1], n) if e[0] == "dyn" else np.int32(0)
              for e, n in zip(entries, shape)]
    sizes = [1 if e[0] == "dyn" else n for e, n in zip(entries, shape)]
    return lax.dynamic_slice(x, starts, sizes, allow_negative_indices=False), starts


def _indices(arrays: list[Any], sizes: list[int]) -> tuple[Any, tuple[int, ...]]:
    """Integer index arrays (negatives normalized) broadcast together and stacked on a last
    axis, as gather/scatter indices; with their broadcast shape."""
    try:
        b = broadcast_shapes(*(get_aval(a).shape for a in arrays))
    except ShapeError:
        raise IndexError("shape mismatch: index arrays of shapes "
                         f"{', '.join(str(get_aval(a).shape) for a in arrays)} cannot be "
                         f"broadcast together{user_line()}") from None
    cols = []
    for a, n in zip(arrays, sizes):
        if isinstance(a, Tracer):
            a = lax.convert_element_type(_normalized(a, n), np.int32)
            cols.append(lax.broadcast_in_dim(a, (*b, 1), tuple(range(len(b) - a.ndim, len(b)))))
        else:  # clipping to [-1, n] keeps out-of-bounds indices out of bounds
            a = np.clip(np.where(a < 0, a + n, a), -1, n).astype(np.int32)
            cols.append(np.broadcast_to(a, b)[..., None])
    if all(isinstance(c, np.ndarray) for c in cols):
        return np.concatenate(cols, -1), b
    return lax.concatenate(cols, len(b)), b


def _arrays(entries: list[tuple], shape: tuple[int, ...]):
    """The axes of the array entries (aligned with `shape`), their gather/scatter indices
    and the indices' broadcast shape."""
    axes = [k for k, e in enumerate(entries) if e[0] == "array"]
    indices, b = _indices([entries[k][1] for k in axes], [shape[k] for k in axes])
    return axes, indices, b


def _scalar_axes(plan: _Plan) -> list[int]:
    return [k for k, e in enumerate(plan.entries) if e[0] in ("int", "dyn")]


def _batch_perm(ndim: int, nb: int, place: int) -> tuple[int, ...]:
    """Moves the `nb` leading (advanced-index) axes to `place`."""
    return (*range(nb, nb + place), *range(nb), *range(nb + place, ndim))


def getitem(x: Any, idx: Any, mode: str | None = None, fill_value: Any = None) -> Any:
    """`x[idx]` with NumPy's basic and advanced (integer array) indexing, on arrays and
    tracers alike. Out-of-bounds array or traced indices are clamped; with `mode="fill"`
    (or "drop", as JAX's `.at[idx].get`) an out-of-bounds array index reads `fill_value`
    (by default NaN, or the dtype's extreme integer). A concrete boolean mask works, a
    traced one cannot (its result's shape would depend on its values).

    >>> getitem(np.arange(10).reshape(2, 5), (slice(None), [4, -1, 0]))
    array([[4, 4, 0],
           [9, 9, 5]])
    """
    x = asarray(x)
    plan = _Plan(get_aval(x).shape, idx)
    x = lax.expand_dims(x, plan.new_axes)
    x, _ = _dynamic_window(x, plan.entries)
    starts, limits, strides, flips = _static_window(plan.entries, get_aval(x).shape)
    x = lax.rev(lax.slice(x, starts, limits, strides), flips)
    scalars = _scalar_axes(plan)
    x = lax.squeeze(x, scalars)
    if not plan.has_array:
        return x
    kept = [e for k, e in enumerate(plan.entries) if k not in scalars]
    axes, indices, b = _arrays(kept, get_aval(x).shape)
    if mode in ("fill", "drop"):
        dtype = get_aval(x).dtype
        inside = lax.gather(lax.full(get_aval(x).shape, True), indices, axes, mode="drop")
        fill = np.asarray(_fill(dtype, fill_value), dtype)
        out = lax.select_n(inside, lax.full_like(inside, fill, dtype),
                           lax.gather(x, indices, axes, mode="drop"))
    else:
        out = lax.gather(x, indices, axes, mode="clip")
    return lax.transpose(out, _batch_perm(get_aval(out).ndim, len(b), plan.place))


# ---------------------------------------------------------------------------- updates

def _write_static(w: Any, window: tuple, region: Any) -> Any:
    """`w` with its static window (see `_static_window`) replaced by `region`: a pad of
    the region selected where it lands, so nothing is mutated and it transposes to a slice."""
    starts, limits, strides, flips = window
    shape = get_aval(w).shape
    if not flips and list(starts) == [0] * len(shape) and list(limits) == list(shape) \
            and list(strides) == [1] * len(shape):
        return region
    if any(s == e for s, e in zip(starts, limits)):
        return w
    region = lax.rev(region, flips)
    config = [(s, n - e, st - 1) for s, e, st, n in zip(starts, limits, strides, shape)]
    inside = lax.pad(lax.full(get_aval(region).shape, True), False, config)
    return lax.select_n(inside, w, lax.pad(region, np.zeros((), get_aval(w).dtype), config))


def _in_bounds(entries: list[tuple], starts: list[Any], shape: tuple[int, ...]) -> Any:
    """Whether every traced scalar index is in bounds (rank-0 bool)."""
    ok: Any = None
    for e, i, n in zip(entries, starts, shape):
        if e[0] == "dyn":
            here = lax.eq(lax.min(lax.max(i, 0), n - 1), i)
            ok = here if ok is None else lax.select_n(ok, np.False_, here)
    return ok


_COMBINE = {"set": lambda r, v: v, "add": lax.add, "multiply": lax.mul, "min": lax.min,
            "max": lax.max}
_SCATTER = {"set": lax.scatter, "add": lax.scatter_add, "multiply": lax.scatter_mul,
            "min": lax.scatter_min, "max": lax.scatter_max}
_MODES = (None, "drop", "fill", "clip", "promise_in_bounds")


def _update(x: Any, idx: Any, v: Any, op: str, mode: str | None = None) -> Any:
    """`x` with `x[idx]` combined with `v` by `op`: read the indexed region, update it
    (elementwise, or by a scatter for array indices) and write it back. Out-of-bounds
    array indices are dropped, or clamped with `mode="clip"`."""
    x = asarray(x)
    plan = _Plan(get_aval(x).shape, idx)
    xe = lax.expand_dims(x, plan.new_axes)
    w, dyn_starts = _dynamic_window(xe, plan.entries)
    window = _static_window(plan.entries, get_aval(w).shape)
    region = lax.rev(lax.slice(w, *window[:3]), window[3])
    r_shape = get_aval(region).shape
    scalars = _scalar_axes(plan)
    dtype = get_aval(x).dtype
    v = lax.convert_element_type(asarray(v), dtype) if _has_tracer(v) else np.asarray(v, dtype)
    if not plan.has_array:
        v = broadcast_to(v, [n for k, n in enumerate(r_shape) if k not in scalars])
        region = _COMBINE[op](region, lax.reshape(v, r_shape))
    else:
        axes, indices, b = _arrays(plan.entries, r_shape)
        rest = [n for k, n in enumerate(r_shape) if k not in axes]
        sliced = [n for k, n in enumerate(r_shape) if k not in axes and k not in scalars]
        p = plan.place
        v = broadcast_to(v, (*sliced[:p], *b, *sliced[p:]))
        v = lax.transpose(v, _batch_perm(len(sliced) + len(b), p, len(b)))
        region = _SCATTER[op](region, indices, lax.reshape(v, (*b, *rest)), axes,
                              mode="clip" if mode == "clip" else "drop")
    w_new = _write_static(w, window, region)
    if dyn_starts is not None:  # an out-of-bounds traced scalar index writes nothing
        w_new = lax.select_n(_in_bounds(plan.entries, dyn_starts, get_aval(xe).shape),
                             w, w_new)
        w_new = lax.dynamic_update_slice(xe, w_new, dyn_starts, allow_negative_indices=False)
    return lax.squeeze(w_new, plan.new_axes)


def _check_mode(mode: str | None) -> None:
    if mode not in _MODES:
        raise ArgumentError(f"at[...] takes mode= one of {_MODES}, got {mode!r}")


class _IndexUpdateRef:
    """`at(x)[idx]`: the functional update methods for one index (JAX's). Every method
    takes JAX's `indices_are_sorted` and `unique_indices` hints (unused) and `mode`: for
    updates, out-of-bounds array indices are dropped ("drop", "fill", None) or clamped
    ("clip"); `get` clamps them (None, "clip") or reads `fill_value` ("fill", "drop")."""

    __slots__ = ("x", "idx")

    def __init__(self, x: Any, idx: Any):
        self.x, self.idx = x, idx

    def get(self, *, indices_are_sorted: bool = False, unique_indices: bool = False,
            mode: str | None = None, fill_value: Any = None) -> Any:
        """`x[idx]`."""
        _check_mode(mode)
        return getitem(self.x, self.idx, mode, fill_value)

    def _apply_op(self, v: Any, op: str, mode: str | None) -> Any:
        _check_mode(mode)
        return _update(self.x, self.idx, v, op, mode)

    def set(self, values: Any, *, indices_are_sorted: bool = False,  # noqa: A003
            unique_indices: bool = False, mode: str | None = None) -> Any:
        """A copy of `x` with `x[idx] = values` (of repeated indices, the last wins)."""
        return self._apply_op(values, "set", mode)

    def add(self, values: Any, *, indices_are_sorted: bool = False,
            unique_indices: bool = False, mode: str | None = None) -> Any:
        """A copy of `x` with `x[idx] += values`, accumulating at repeated indices."""
        return self._apply_op(values, "add", mode)

    def subtract(self, values: Any, *, indices_are_sorted: bool = False,
                 unique_indices: bool = False, mode: str | None = None) -> Any:
        """A copy of `x` with `x[idx] -= values`, accumulating at repeated indices."""
        return self._apply_op(lax.neg(asarray(values, get_aval(asarray(self.x)).dtype)),
                              "add", mode)

    def multiply(self, values: Any, *, indices_are_sorted: bool = False,
                 unique_indices: bool = False, mode: str | None = None) -> Any:
        """A copy of `x` with `x[idx] *= values`, accumulating at repeated indices."""
        return self._apply_op(values, "multiply", mode)

    mul = multiply

    def divide(self, values: Any, *, indices_are_sorted: bool = False,
               unique_indices: bool = False, mode: str | None = None) -> Any:
        """A copy of `x` with `x[idx] /= values` (by their product at repeated indices)."""
        from fnad.numpy import divide, ones_like
        return divide(self.x, at(ones_like(self.x))[self.idx].multiply(values, mode=mode))

    def power(self, values: Any, *, indices_are_sorted: bool = False,
              unique_indices: bool = False, mode: str | None = None) -> Any:
        """A copy of `x` with `x[idx] **= values` (by their product at repeated indices)."""
        from fnad.numpy import ones_like, power
        return power(self.x, at(ones_like(self.x))[self.idx].multiply(values, mode=mode))

    def min(self, values: Any, *, indices_are_sorted: bool = False,  # noqa: A003
            unique_indices: bool = False, mode: str | None = None) -> Any:
        """A copy of `x` with `x[idx] = minimum(x[idx], values)`."""
        return self._apply_op(values, "min", mode)

    def max(self, values: Any, *, indices_are_sorted: bool = False,  # noqa: A003
            unique_indices: bool = False, mode: str | None = None) -> Any:
        """A copy of `x` with `x[idx] = maximum(x[idx], values)`."""
        return self._apply_op(values, "max", mode)

    def apply(self, func: Any, *, indices_are_sorted: bool = False,
              unique_indices: bool = False, mode: str | None = None) -> Any:
        """A copy of `x` with `x[idx] = func(x[idx])` for a unary elementwise `func`
        (applied once per element, repeated indices included)."""
        _check_mode(mode)
        return _update(self.x, self.idx, func(getitem(self.x, self.idx)), "set", mode)


class _IndexUpdateHelper:
    __slots__ = ("x",)

    def __init__(self, x: Any):
        self.x = x

    def __getitem__(self, idx: Any) -> _IndexUpdateRef:
        return _IndexUpdateRef(self.x, idx)


def at(x: Any) -> _IndexUpdateHelper:
    """Functional index updates for any array, eager or traced (JAX's `x.at`):
    `at(x)[idx].set(v)`, `.add`, `.subtract`, `.multiply` (`.mul`), `.divide`, `.power`,
    `.min`, `.max`, `.apply(func)`, `.get`. The input is never mutated. Out-of-bounds array
    indices and traced scalar indices are dropped (clamped with `mode="clip"`).

    >>> at(np.zeros(3))[np.array([0, 0, 2])].add(1.0)
    array([2., 0., 1.])
    """
    return _IndexUpdateHelper(x)


# ---------------------------------------------------------------------------- take

def _fill(dtype: np.dtype, fill_value: Any) -> Any:
    """JAX's value for an out-of-bounds read in mode 'fill': NaN, the most negative signed
    integer, the largest unsigned one, or True."""
    if fill_value is not None:
        return fill_value
    if dtype.kind in "fc":
        return np.nan
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return info.min if dtype.kind == "i" else info.max
    return True


def _take_indices(name: str, indices: Any, n: int, mode: str | None, wrap_negative: bool = True
                  ) -> tuple[Any, Any]:
    """`indices` made valid for an axis of size `n` as `mode` says, and (for mode 'fill',
    JAX's default) the mask of those that were valid, else None. Negative indices count
    from the end (with `wrap_negative`), except under `take`'s 'clip', which clamps them
    to 0 as NumPy's does; without it they are out of bounds."""
    if mode not in (None, "fill", "clip", "wrap", "promise_in_bounds"):
        raise ArgumentError(f"{name}: mode must be 'fill', 'clip', 'wrap' or "
                            f"'promise_in_bounds', got {mode!r}{user_line()}")
    indices = asarray(indices)
    if mode == "wrap":
        return _ufuncs.remainder(indices, n), None
    valid = None
    if mode in (None, "fill"):
        valid = _ufuncs.logical_and(_ufuncs.greater_equal(indices, -n if wrap_negative else 0),
                                    _ufuncs.less(indices, n))
    if wrap_negative and not (mode == "clip" and name == "take"):
        indices = _ufuncs.where(_ufuncs.less(indices, 0), indices + n, indices)
    return _ufuncs.clip(indices, 0, max(n - 1, 0)), valid


def take(a: Any, indices: Any, axis: int | None = None, out: None = None,
         mode: str | None = None, unique_indices: bool = False,
         indices_are_sorted: bool = False, fill_value: Any = None) -> Any:
    """NumPy's `take`: `a[..., indices, ...]` along `axis` (of the flattened `a` when None).
    Out-of-bounds indices read `fill_value` (mode 'fill', JAX's default: NaN for floats),
    are clamped ('clip': negative ones to 0, as NumPy's; 'promise_in_bounds': after
    counting negative ones from the end) or wrap around ('wrap').

    >>> take(np.arange(6).reshape(2, 3), np.array([2, 0]), axis=1)
    array([[2, 0],
           [5, 3]])
    >>> take(np.arange(3.0), np.array([1, 5]))
    array([ 1., nan])
    """
    if out is not None:
        raise ArgumentError(f"take: out= is not supported; use the result{user_line()}")
    a = asarray(a)
    if axis is None:
        a, axis = lax.reshape(a, (get_aval(a).size,)), 0
    shape, nd = get_aval(a).shape, get_aval(a).ndim
    if not -nd <= axis < nd:
        raise ShapeError(f"axis {axis} is out of range for an array of rank {nd}{user_line()}")
    axis %= nd
    indices, valid = _take_indices("take", indices, shape[axis], mode)
    result = getitem(a, (slice(None),) * axis + (indices,))
    if valid is None:
        return result
    mask = lax.reshape(valid, (1,) * axis + get_aval(valid).shape + (1,) * (nd - axis - 1))
    return _ufuncs.where(mask, result, _core.asarray(_fill(get_aval(a).dtype, fill_value),
                                                     get_aval(a).dtype))


def take_along_axis(arr: Any, indices: Any, axis: int | None = -1, mode: str | None = None,
                    fill_value: Any = None, *, wrap_negative_indices: bool | None = None
                    ) -> Any:
    """NumPy's `take_along_axis`: `out[..., j, ...] = arr[..., indices[..., j, ...], ...]`,
    `indices` broadcasting against `arr` on the other axes. Out-of-bounds indices read
    `fill_value` (mode 'fill', JAX's default), are clamped ('clip') or wrap ('wrap');
    negative ones count from the end unless `wrap_negative_indices` is False (JAX's), when
    they are out of bounds too.

    >>> take_along_axis(np.array([[10, 30, 20]]), np.array([[0, 2, 1]]), axis=1)
    array([[10, 20, 30]])
    """
    arr, indices = asarray(arr), asarray(indices)
    if axis is None:
        arr, axis = lax.reshape(arr, (get_aval(arr).size,)), 0
        indices = lax.reshape(indices, (get_aval(indices).size,))
    shape, nd = get_aval(arr).shape, get_aval(arr).ndim
    if get_aval(indices).ndim != nd:
        raise ShapeError(f"indices of shape {get_aval(indices).shape} must have the rank of the "
                         f"array {shape}{user_line()}")
    if not -nd <= axis < nd:
        raise ShapeError(f"axis {axis} is out of range for an array of rank {nd}{user_line()}")
    axis %= nd
    indices, valid = _take_indices("take_along_axis", indices, shape[axis], mode,
                                   wrap_negative_indices is not False)
    idx = tuple(indices if d == axis else
                np.arange(n).reshape([n if k == d else 1 for k in range(nd)])
                for d, n in enumerate(shape))
    result = getitem(arr, idx)
    if valid is None:
        return result
    return _ufuncs.where(valid, result, _core.asarray(_fill(get_aval(arr).dtype, fill_value),
                                                      get_aval(arr).dtype))


def public_asarray(a: Any, dtype: Any = None, order: str | None = None, *,
                   copy: bool | None = None, device: Any = None, out_sharding: Any = None
                   ) -> Any:
    """An array (or the tracer itself) of `dtype`; Python floats and float lists default to
    float32, Python ints to int32. Inside `jit` or `vmap` a NumPy array becomes a value of
    the transform, so a traced index can index it (JAX's `jnp.asarray(table)[i]`). `copy`
    is the array API's (True: always new; False: an error where a copy is needed), `device`
    JAX's.

    >>> import fnad
    >>> fnad.vmap(lambda i: public_asarray(np.array([10, 20, 30]))[i])(np.array([2, 0]))
    array([30, 10])
    """
    return _lift(_core.asarray(a, dtype, order, copy=copy, device=device,
                               out_sharding=out_sharding))


def public_array(object: Any, dtype: Any = None, copy: bool = True,  # noqa: A002
                 order: str | None = "K", ndmin: int = 0, *, device: Any = None,
                 out_sharding: Any = None) -> Any:
    """Like `asarray`, but an eager NumPy array is copied unless `copy=False` (NumPy's rule);
    `ndmin` prepends axes of size 1 up to that many.

    >>> public_array([1.0, 2.0]).dtype
    dtype('float32')
    """
    return _lift(_core.array(object, dtype, copy, order, ndmin, device=device,
                             out_sharding=out_sharding))


public_asarray.__name__ = public_asarray.__qualname__ = "asarray"
public_array.__name__ = public_array.__qualname__ = "array"


class _Unbatched(BatchTracer):
    """A constant as a value of a vmap: not mapped (no batch axis), so it costs nothing."""

    __slots__ = ()

    def __init__(self, trace: BatchTrace, val: np.ndarray):
        super().__init__(trace, val, None)  # type: ignore[arg-type]  # no batch axis

    @property
    def aval(self) -> Any:
        return get_aval(self.val)

    def concrete(self) -> Any:
        """The constant itself: under vmap alone it stays concrete, as in JAX (a mask or a
        count made of it works with Python control flow and data-dependent shapes)."""
        return self.val


def _lift(x: Any) -> Any:
    """A NumPy array (of rank >= 1) as a value of the current jit or vmap, which a traced
    index can index; anything else as it is."""
    if type(x) is not np.ndarray or x.ndim == 0:
        return x
    trace = state.trace
    if type(trace) is StagingTrace:
        return StagedTracer(trace, trace.builder.const(x))
    if type(trace) is BatchTrace:
        return _Unbatched(trace, x)
    return x


Tracer.__getitem__ = getitem
Tracer.numpy_api = sys.modules["fnad.numpy"]  # for the hints of NumPy functions on tracers
Tracer.at = property(at)

__all__ = ["at", "getitem", "take", "take_along_axis", "NonConcreteBooleanIndexError"]
