"""`jax.lax` functions that are compositions of fnad's primitives (no primitive lives here).

The `*_in_dim` helpers, `split`/`stack`/`tile`, `select`, the generic `reduce` and
`associative_scan`, `cumlogsumexp`, the convolution variants and shape helpers, and the
`Precision` / dimension-number types. Each one is differentiable, batchable and jittable
because the primitives it is made of are.
"""

from __future__ import annotations

import builtins
import enum
import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Union

import numpy as np

from fnad import tree as tree_util
from fnad.core.errors import ArgumentError, DTypeError, ShapeError, check_one_device
from fnad.core.ir import get_aval
from fnad.interpreters.jvp import instantiate, jvp_flat
from fnad.lax import elementwise as ew, reduction as red, structural as st
from fnad.lax.conv import (
    conv_dimension_numbers as _conv_dimension_numbers,
    conv_general_dilated,
    padtype_to_pads,
)
from fnad.lax.custom import stop_gradient
from fnad.lax.linalg import dot_general

# ------------------------------------------------------------------ types


class Precision(enum.Enum):
    """JAX's matmul/conv precision hint. fnad computes in the operands' dtype at full
    precision on every backend (no bfloat16 or TF32 passes), so every value gives the
    result `HIGHEST` gives in JAX; it is accepted for compatibility.

    >>> Precision("highest") is Precision.HIGHEST
    True
    """

    DEFAULT = 0
    HIGH = 1
    HIGHEST = 2

    @classmethod
    def _missing_(cls, value: object) -> Precision | None:
        names = {"default": cls.DEFAULT, "fastest": cls.DEFAULT, "bfloat16": cls.DEFAULT,
                 "high": cls.HIGH, "bfloat16_3x": cls.HIGH, "tensorfloat32": cls.HIGH,
                 "highest": cls.HIGHEST, "float32": cls.HIGHEST}
        return names.get(value.lower()) if isinstance(value, str) else None


PrecisionLike = Union[None, str, Precision, tuple[str, str], tuple[Precision, Precision]]
DotDimensionNumbers = tuple[tuple[Sequence[int], Sequence[int]],
                            tuple[Sequence[int], Sequence[int]]]


class ConvDimensionNumbers(NamedTuple):
    """Axis positions of (batch, feature, *spatial) in the lhs, (out feature, in feature,
    *spatial) in the rhs, and (batch, feature, *spatial) in the output."""

    lhs_spec: tuple[int, ...]
    rhs_spec: tuple[int, ...]
    out_spec: tuple[int, ...]


ConvGeneralDilatedDimensionNumbers = Union[None, ConvDimensionNumbers, tuple[str, str, str]]


def conv_dimension_numbers(lhs_shape: Sequence[int] | int, rhs_shape: Sequence[int] | int,
                           dimension_numbers: Any) -> ConvDimensionNumbers:
    """`dimension_numbers` (None, three layout strings such as ("NHWC", "HWIO", "NHWC"),
    or axis tuples) as a `ConvDimensionNumbers`; takes shapes, as JAX's does (or ranks).

    >>> conv_dimension_numbers((1, 5, 5, 3), (3, 3, 3, 8), ("NHWC", "HWIO", "NHWC"))
    ConvDimensionNumbers(lhs_spec=(0, 3, 1, 2), rhs_spec=(3, 2, 0, 1), out_spec=(0, 3, 1, 2))
    """
    ranks = [s if isinstance(s, (int, np.integer)) else len(s) for s in (lhs_shape, rhs_shape)]
    return ConvDimensionNumbers(*_conv_dimension_numbers(*ranks, dimension_numbers))


def conv_general_permutations(dimension_numbers: Any) -> ConvDimensionNumbers:
    """The axis permutations of three layout strings, e.g. ("NCHW", "OIHW", "NCHW")."""
    lhs = dimension_numbers[0]
    return conv_dimension_numbers(len(lhs), len(lhs), dimension_numbers)


# ------------------------------------------------------------------ small helpers

def dtype(x: Any, *, canonicalize: bool = False) -> np.dtype:
    """The dtype of an array, tracer, Python number (fnad's default) or dtype-like.

    >>> dtype(1.0)
    dtype('float32')
    """
    del canonicalize
    if isinstance(x, (np.dtype, type, str)):
        return np.dtype(x)
    return get_aval(ew.asarray_like(x)[0]).dtype


def empty(shape: Any = (), dtype: Any = None, *, out_sharding: Any = None) -> Any:
    """An array of zeros (fnad never hands out uninitialized memory). `empty(dtype)`, the
    older one-argument form, gives a scalar."""
    if out_sharding is not None:
        check_one_device("empty", out_sharding=out_sharding)
    if dtype is None and not isinstance(shape, (int, np.integer, tuple, list)):
        shape, dtype = (), shape
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    return st.full(shape, 0, np.float32 if dtype is None else dtype)


def reciprocal(x: Any) -> Any:
    """1 / x elementwise, for float and complex x (as JAX's: an integer reciprocal would
    truncate to 0; `fnad.numpy.reciprocal` keeps NumPy's integer rule).

    >>> reciprocal(np.float32(4.0))
    np.float32(0.25)
    """
    (x,) = ew.asarray_like(x)
    if get_aval(x).dtype.kind not in "fc":
        raise DTypeError(f"lax.reciprocal takes float or complex operands, got "
                         f"{get_aval(x).dtype}; convert first (lax.convert_element_type)")
    return ew.div(ew.full_like(x, 1), x)


def select(pred: Any, on_true: Any, on_false: Any) -> Any:
    """`on_true` where the bool `pred` is True, else `on_false` (no broadcasting but of a
    scalar `pred`, as in JAX).

    >>> select(np.array([True, False]), np.ones(2), np.zeros(2))
    array([1., 0.])
    """
    return ew.select_n(pred, on_false, on_true)


def _axis(axis: int, ndim: int, fn: str) -> int:
    if not -ndim <= axis < builtins.max(ndim, 1):
        raise ShapeError(f"lax.{fn}: axis {axis} is out of range for rank {ndim}")
    return int(axis) % builtins.max(ndim, 1)


def broadcast_shapes(*shapes: Sequence[int]) -> tuple[int, ...]:
    """The shape NumPy broadcasting gives `shapes`, or a `ShapeError` naming them."""
    try:
        return tuple(np.broadcast_shapes(*(tuple(s) for s in shapes)))
    except ValueError:
        raise ShapeError(f"lax.broadcast_shapes: {shapes} do not broadcast together") from None


def broadcast_to_rank(x: Any, rank: int) -> Any:
    """`x` with leading axes of size 1 added up to `rank`."""
    (x,) = ew.asarray_like(x)
    nd = get_aval(x).ndim
    return x if nd >= rank else st.reshape(x, (1,) * (rank - nd) + get_aval(x).shape)


def broadcast_like(arr: Any, like_arr: Any) -> Any:
    """`arr` broadcast (NumPy rules, leading axes) to the shape of `like_arr`."""
    (x,) = ew.asarray_like(arr)
    shape, xs = get_aval(like_arr).shape, get_aval(x).shape
    if broadcast_shapes(xs, shape) != tuple(shape):
        raise ShapeError(f"lax.broadcast_like: shape {xs} does not broadcast to {shape}")
    return st.broadcast_in_dim(x, shape, tuple(range(len(shape) - len(xs), len(shape))))


def collapse(operand: Any, start_dimension: int, stop_dimension: int | None = None) -> Any:
    """Axes `start_dimension:stop_dimension` merged into one.

    >>> collapse(np.zeros((2, 3, 4)), 0, 2).shape
    (6, 4)
    """
    (operand,) = ew.asarray_like(operand)
    shape = get_aval(operand).shape
    lo, hi, _ = builtins.slice(start_dimension, stop_dimension).indices(len(shape))
    return st.reshape(operand, shape[:lo] + (math.prod(shape[lo:hi]),) + shape[hi:])


# ------------------------------------------------------------------ *_in_dim helpers

def slice_in_dim(operand: Any, start_index: int | None, limit_index: int | None,
                 stride: int = 1, axis: int = 0) -> Any:
    """`operand[start:limit:stride]` along `axis` (static bounds; negatives count from
    the end).

    >>> slice_in_dim(np.arange(6), 1, -1, 2)
    array([1, 3])
    """
    (operand,) = ew.asarray_like(operand)
    shape = get_aval(operand).shape
    ax = _axis(axis, len(shape), "slice_in_dim")
    n = shape[ax]
    lo = 0 if start_index is None else (start_index + n if start_index < 0 else start_index)
    hi = n if limit_index is None else (limit_index + n if limit_index < 0 else limit_index)
    start, limit, strides = [0] * len(shape), list(shape), [1] * len(shape)
    start[ax], limit[ax], strides[ax] = int(lo), int(builtins.max(hi, lo)), int(stride)
    return st.slice(operand, start, limit, strides)


def index_in_dim(operand: Any, index: int, axis: int = 0, keepdims: bool = True) -> Any:
    """Row `index` (static; negative counts from the end) along `axis`."""
    (operand,) = ew.asarray_like(operand)
    ax = _axis(axis, get_aval(operand).ndim, "index_in_dim")
    n = get_aval(operand).shape[ax]
    if not -n <= index < n:
        raise IndexError(f"lax.index_in_dim: index {index} is out of bounds for axis {ax} "
                         f"of size {n}")
    index = index % n
    out = slice_in_dim(operand, index, index + 1, 1, ax)
    return out if keepdims else st.squeeze(out, (ax,))


def _starts(operand: Any, index: Any, axis: int) -> list[Any]:
    return [index if d == axis else 0 for d in range(get_aval(operand).ndim)]


def dynamic_slice_in_dim(operand: Any, start_index: Any, slice_size: int, axis: int = 0, *,
                         allow_negative_indices: bool = True) -> Any:
    """`slice_size` rows from the traced `start_index` along `axis` (a negative start counts
    from the end, then the window is moved into bounds, as in `dynamic_slice`).

    >>> dynamic_slice_in_dim(np.arange(5), np.int32(-2), 2)
    array([3, 4])
    """
    (operand,) = ew.asarray_like(operand)
    shape = get_aval(operand).shape
    ax = _axis(axis, len(shape), "dynamic_slice_in_dim")
    sizes = list(shape)
    sizes[ax] = int(slice_size)
    return st.dynamic_slice(operand, _starts(operand, start_index, ax), sizes,
                            allow_negative_indices=allow_negative_indices)


def dynamic_index_in_dim(operand: Any, index: Any, axis: int = 0, keepdims: bool = True, *,
                         allow_negative_indices: bool = True) -> Any:
    """Row `index` (traced) along `axis`."""
    out = dynamic_slice_in_dim(operand, index, 1, axis,
                               allow_negative_indices=allow_negative_indices)
    return out if keepdims else st.squeeze(out, (_axis(axis, get_aval(out).ndim, "index"),))


def dynamic_update_slice_in_dim(operand: Any, update: Any, start_index: Any, axis: int, *,
                                allow_negative_indices: bool = True) -> Any:
    """`operand` with `update` written from the traced `start_index` along `axis`."""
    operand, update = ew.asarray_like(operand, update)
    ax = _axis(axis, get_aval(operand).ndim, "dynamic_update_slice_in_dim")
    return st.dynamic_update_slice(operand, update, _starts(operand, start_index, ax),
                                   allow_negative_indices=allow_negative_indices)


def dynamic_update_index_in_dim(operand: Any, update: Any, index: Any, axis: int, *,
                                allow_negative_indices: bool = True) -> Any:
    """`operand` with row `index` along `axis` replaced by `update` (with or without that
    axis)."""
    operand, update = ew.asarray_like(operand, update)
    ax = _axis(axis, get_aval(operand).ndim, "dynamic_update_index_in_dim")
    if get_aval(update).ndim == get_aval(operand).ndim - 1:
        update = st.expand_dims(update, (ax,))
    return dynamic_update_slice_in_dim(operand, update, index, ax,
                                       allow_negative_indices=allow_negative_indices)


def index_take(src: Any, idxs: Sequence[Any], axes: Sequence[int]) -> Any:
    """`src` at the points `(idxs[0][k], idxs[1][k], ...)` along `axes`: shape
    `idxs[0].shape + the other axes of src`."""
    cols = [st.expand_dims(ew.asarray_like(i)[0], (-1,)) for i in idxs]
    return st.gather(src, st.concatenate(cols, -1), tuple(axes))


# ------------------------------------------------------------------ split, stack, tile

def split(operand: Any, sizes: Sequence[int], axis: int = 0) -> list[Any]:
    """Consecutive chunks of `sizes` along `axis` (they must add up to its length).

    >>> [p.tolist() for p in split(np.arange(5), (2, 3))]
    [[0, 1], [2, 3, 4]]
    """
    (operand,) = ew.asarray_like(operand)
    shape = get_aval(operand).shape
    ax = _axis(axis, len(shape), "split")
    if builtins.sum(sizes) != shape[ax] or builtins.any(s < 0 for s in sizes):
        raise ShapeError(f"lax.split: sizes {tuple(sizes)} must be non-negative and add up to "
                         f"the length {shape[ax]} of axis {ax} (shape {shape})")
    bounds = np.cumsum([0, *sizes])
    return [slice_in_dim(operand, int(lo), int(hi), 1, ax) for lo, hi in zip(bounds, bounds[1:])]


def stack(operands: Sequence[Any], axis: int = 0) -> Any:
    """Arrays of one shape joined along a new `axis`."""
    ops = ew.asarray_like(*operands)
    ax = _axis(axis, get_aval(ops[0]).ndim + 1, "stack")
    return st.concatenate([st.expand_dims(o, (ax,)) for o in ops], ax)


def unstack(x: Any, axis: int = 0) -> tuple[Any, ...]:
    """The slices of `x` along `axis`, that axis removed."""
    (x,) = ew.asarray_like(x)
    ax = _axis(axis, get_aval(x).ndim, "unstack")
    return tuple(index_in_dim(x, i, ax, keepdims=False) for i in range(get_aval(x).shape[ax]))


def tile(operand: Any, reps: Sequence[int]) -> Any:
    """`operand` repeated `reps[i]` times along axis i (`len(reps)` equals its rank).

    >>> tile(np.array([1, 2]), (2,))
    array([1, 2, 1, 2])
    """
    (operand,) = ew.asarray_like(operand)
    shape = get_aval(operand).shape
    reps = tuple(int(r) for r in reps)
    if len(reps) != len(shape):
        raise ShapeError(f"lax.tile: reps {reps} needs one entry per axis of shape {shape}")
    wide = tuple(d for pair in zip(reps, shape) for d in pair)
    x = st.broadcast_in_dim(operand, wide, tuple(range(1, 2 * len(shape), 2)))
    return st.reshape(x, tuple(r * d for r, d in zip(reps, shape)))


# ------------------------------------------------------------------ products

def batch_matmul(lhs: Any, rhs: Any, precision: PrecisionLike = None) -> Any:
    """Matrix products over the leading (batch) axes: (..., m, k) @ (..., k, n)."""
    lhs, rhs = ew.asarray_like(lhs, rhs)
    la, ra = get_aval(lhs), get_aval(rhs)
    if la.ndim != ra.ndim or la.ndim < 2 or la.shape[:-2] != ra.shape[:-2]:
        raise ShapeError(f"lax.batch_matmul needs operands of one rank >= 2 and equal batch "
                         f"axes, got {la.shape} and {ra.shape}")
    batch = tuple(range(la.ndim - 2))
    return dot_general(lhs, rhs, (((la.ndim - 1,), (ra.ndim - 2,)), (batch, batch)),
                       precision=precision)


# ------------------------------------------------------------------ integer helpers

def clz(x: Any) -> Any:
    """The number of leading zero bits of each integer.

    >>> clz(np.array([1, 255], np.uint8))
    array([7, 0], dtype=uint8)
    """
    (x,) = ew.asarray_like(x)
    dt = get_aval(x).dtype
    if dt.kind not in "iu":
        raise DTypeError(f"lax.clz needs an integer operand, got {dt}")
    bits = dt.itemsize * 8
    shift = 1
    while shift < bits:  # smear the highest set bit into every lower one
        x = ew.bitwise_or(x, ew.shift_right_logical(x, np.asarray(shift, dt)))
        shift *= 2
    return ew.sub(np.asarray(bits, dt), ew.population_count(x))


def mulhi(x: Any, y: Any) -> Any:
    """The high half of the double-width product of two integers of one dtype.

    >>> mulhi(np.uint8(200), np.uint8(200))
    array(156, dtype=uint8)
    """
    x, y = ew.asarray_like(x, y)
    dt = get_aval(x).dtype
    if dt.kind not in "iu" or get_aval(y).dtype != dt:
        raise DTypeError(f"lax.mulhi needs two integers of one dtype, got {dt} and "
                         f"{get_aval(y).dtype}")
    bits = dt.itemsize * 8
    if bits < 64:
        wide = np.dtype(f"{dt.kind}{2 * dt.itemsize}")
        p = ew.mul(ew.convert_element_type(x, wide), ew.convert_element_type(y, wide))
        return ew.convert_element_type(ew.shift_right_arithmetic(p, np.asarray(bits, wide)), dt)
    u = np.dtype(np.uint64)
    xu, yu = ew.convert_element_type(x, u), ew.convert_element_type(y, u)
    mask, s32 = np.asarray(0xFFFFFFFF, u), np.asarray(32, u)
    xl, xh = ew.bitwise_and(xu, mask), ew.shift_right_logical(xu, s32)
    yl, yh = ew.bitwise_and(yu, mask), ew.shift_right_logical(yu, s32)
    ll, lh, hl, hh = ew.mul(xl, yl), ew.mul(xl, yh), ew.mul(xh, yl), ew.mul(xh, yh)
    mid = ew.add(ew.add(ew.shift_right_logical(ll, s32), ew.bitwise_and(lh, mask)),
                 ew.bitwise_and(hl, mask))
    hi = ew.add(ew.add(hh, ew.shift_right_logical(lh, s32)),
                ew.add(ew.shift_right_logical(hl, s32), ew.shift_right_logical(mid, s32)))
    if dt.kind == "i":  # signed: subtract y where x < 0 and x where y < 0 (mod 2**64)
        zero = np.asarray(0, u)
        hi = ew.sub(hi, ew.select_n(ew.lt(x, 0), zero, yu))
        hi = ew.sub(hi, ew.select_n(ew.lt(y, 0), zero, xu))
    return ew.convert_element_type(hi, dt)


# ------------------------------------------------------------------ complex parts


def real(x: Any) -> Any:
    """The real part (`x` itself for real operands)."""
    (x,) = ew.asarray_like(x)
    return ew.real_part(x)


def imag(x: Any) -> Any:
    """The imaginary part (zeros for real operands)."""
    (x,) = ew.asarray_like(x)
    return ew.imag_part(x) if get_aval(x).dtype.kind == "c" else ew.full_like(x, 0)


def conj(x: Any) -> Any:
    """The complex conjugate; complex, as JAX's, for float operands too (complex64 for
    float32, complex128 for float64).

    >>> conj(np.array([2.0, -1.0], np.float32))
    array([ 2.+0.j, -1.+0.j], dtype=complex64)
    """
    (x,) = ew.asarray_like(x)
    dtype = get_aval(x).dtype
    if dtype.kind == "f":
        return ew.convert_element_type(x, np.complex64 if dtype.itemsize <= 4 else np.complex128)
    return ew.conj_value(x)


def complex(x: Any, y: Any) -> Any:  # noqa: A001  (jax.lax name)
    """x + 1j * y, complex64 for float32 parts and complex128 for float64 (exactly: an
    infinite part beside a zero one stays as it is).

    >>> complex(np.float32(1.0), np.float32(2.0))
    array(1.+2.j, dtype=complex64)
    """
    x, y = ew.asarray_like(x, y)
    dt = np.result_type(get_aval(x).dtype, get_aval(y).dtype)
    if dt.kind != "f" or dt.itemsize < 4:
        raise DTypeError(f"lax.complex needs float32 or float64 parts, got {dt}")
    return ew.complex_p.bind(ew.convert_element_type(x, dt), ew.convert_element_type(y, dt))


# ------------------------------------------------------------------ generic reductions

_MONOIDS: dict[Any, tuple[Callable[..., Any], Callable[[np.dtype], Any]]] = {
    ew.add: (red.reduce_sum, lambda d: 0),
    ew.mul: (red.reduce_prod, lambda d: 1),
    ew.max: (red.reduce_max, lambda d: -np.inf if d.kind == "f"
             else (False if d.kind == "b" else np.iinfo(d).min)),
    ew.min: (red.reduce_min, lambda d: np.inf if d.kind == "f"
             else (True if d.kind == "b" else np.iinfo(d).max)),
}


def _is_identity(init: Any, value: Any) -> bool:
    return (not hasattr(init, "aval") and np.ndim(init) == 0
            and bool(np.asarray(init == value)))


def _tree_reduce(xs: list[Any], inits: list[Any], combine: Callable[[list[Any], list[Any]],
                                                                    list[Any]]) -> list[Any]:
    """Reduce the last axis of every array in `xs` pairwise (log depth), padding with the
    init values to a power of two; then combine the init in once more, as XLA's reduce."""
    n = get_aval(xs[0]).shape[-1]
    size = 1 << builtins.max(n - 1, 0).bit_length()
    nd = get_aval(xs[0]).ndim
    xs = [st.pad(x, ew.convert_element_type(i, get_aval(x).dtype),
                 [(0, 0, 0)] * (nd - 1) + [(0, size - n, 0)]) for x, i in zip(xs, inits)]
    while size > 1:
        size //= 2
        xs = combine([slice_in_dim(x, 0, size, 1, -1) for x in xs],
                     [slice_in_dim(x, size, 2 * size, 1, -1) for x in xs])
    xs = [st.squeeze(x, (nd - 1,)) for x in xs]
    return combine([_bcast(i, x) for x, i in zip(xs, inits)], xs)


def _bcast(init: Any, like: Any) -> Any:
    aval = get_aval(like)
    (i,) = ew.asarray_like(init)
    i = ew.convert_element_type(i, aval.dtype)
    return st.broadcast_in_dim(i, aval.shape, ())


def reduce(operands: Any, init_values: Any, computation: Callable[..., Any],  # noqa: A001
           dimensions: Sequence[int], out_sharding: Any = None) -> Any:
    """Reduce `operands` (an array or a pytree of arrays of one shape) over `dimensions`
    with the associative `computation(x, y)` starting from `init_values` (same pytree).
    `lax.add`/`mul`/`max`/`min` with their identity use the dedicated reductions; any
    other computation runs as a log-depth tree of elementwise calls on whole arrays.

    >>> reduce(np.arange(6.0).reshape(2, 3), 0.0, ew.add, (1,))
    array([ 3., 12.])
    """
    if out_sharding is not None:
        check_one_device("reduce", out_sharding=out_sharding)
    flat, treedef = tree_util.tree_flatten(operands)
    inits, init_def = tree_util.tree_flatten(init_values)
    if treedef != init_def:
        raise ShapeError("lax.reduce: operands and init_values must be pytrees of one "
                         f"structure, got {treedef} and {init_def}")
    flat = list(ew.asarray_like(*flat))
    shape = get_aval(flat[0]).shape
    dims = tuple(sorted(_axis(d, len(shape), "reduce") for d in dimensions))
    monoid = _MONOIDS.get(computation)
    if len(flat) == 1 and monoid is not None and \
            _is_identity(inits[0], monoid[1](get_aval(flat[0]).dtype)):
        return tree_util.tree_unflatten(treedef, [monoid[0](flat[0], dims) if dims
                                                  else flat[0]])
    keep = [d for d in range(len(shape)) if d not in dims]
    out_shape = tuple(shape[d] for d in keep)
    n = math.prod(shape[d] for d in dims)
    moved = [st.reshape(st.transpose(x, keep + list(dims)), out_shape + (n,)) for x in flat]

    def combine(a: list[Any], b: list[Any]) -> list[Any]:
        out = computation(tree_util.tree_unflatten(treedef, a),
                          tree_util.tree_unflatten(treedef, b))
        return tree_util.tree_leaves(out)

    if n == 0:
        return tree_util.tree_unflatten(
            treedef, [st.broadcast_in_dim(ew.convert_element_type(ew.asarray_like(i)[0],
                                                                   get_aval(x).dtype),
                                          out_shape, ()) for x, i in zip(flat, inits)])
    return tree_util.tree_unflatten(treedef, _tree_reduce(moved, inits, combine))


def reduce_xor(operand: Any, axes: Sequence[int]) -> Any:
    """Bitwise xor (for bools: parity) over `axes`."""
    (operand,) = ew.asarray_like(operand)
    dt = get_aval(operand).dtype
    if dt.kind not in "biu":
        raise DTypeError(f"lax.reduce_xor needs bool or integer operands, got {dt}")
    fn = ew.ne if dt == np.bool_ else ew.bitwise_xor
    return reduce(operand, np.zeros((), dt), fn, axes)


# ------------------------------------------------------------------ scans

def associative_scan(fn: Callable[[Any, Any], Any], elems: Any, reverse: bool = False,
                     axis: int = 0) -> Any:
    """Inclusive prefix scan of `elems` (a pytree of arrays with one length along `axis`)
    with the associative `fn`, in O(log n) depth: combine neighbours, scan the half, and
    fill in the others, as JAX does.

    >>> associative_scan(ew.add, np.arange(1, 5))
    array([ 1,  3,  6, 10])
    """
    flat, treedef = tree_util.tree_flatten(elems)
    flat = list(ew.asarray_like(*flat))
    if not flat:
        return elems
    ax = _axis(axis, get_aval(flat[0]).ndim, "associative_scan")
    n = get_aval(flat[0]).shape[ax]
    if builtins.any(get_aval(x).shape[ax] != n for x in flat):
        raise ShapeError("lax.associative_scan: every leaf of elems needs the same length "
                         f"along axis {ax}, got {[get_aval(x).shape for x in flat]}")
    if reverse:
        flat = [st.rev(x, (ax,)) for x in flat]

    def combine(a: list[Any], b: list[Any]) -> list[Any]:
        out = fn(tree_util.tree_unflatten(treedef, a), tree_util.tree_unflatten(treedef, b))
        return tree_util.tree_leaves(out)

    def scan(xs: list[Any]) -> list[Any]:
        k = get_aval(xs[0]).shape[ax]
        if k < 2:
            return xs
        pairs = combine([slice_in_dim(x, 0, k - 1, 2, ax) for x in xs],
                        [slice_in_dim(x, 1, None, 2, ax) for x in xs])
        odd = scan(pairs)  # the scan at positions 1, 3, 5, ...
        if k % 2 == 0:
            even = combine([slice_in_dim(x, 0, -1, 1, ax) for x in odd],
                           [slice_in_dim(x, 2, None, 2, ax) for x in xs])
        else:
            even = combine(odd, [slice_in_dim(x, 2, None, 2, ax) for x in xs])
        even = [st.concatenate([slice_in_dim(x, 0, 1, 1, ax), e], ax)
                for x, e in zip(xs, even)]
        return [_interleave(e, o, ax) for e, o in zip(even, odd)]

    out = scan(flat)
    if reverse:
        out = [st.rev(x, (ax,)) for x in out]
    return tree_util.tree_unflatten(treedef, out)


def _interleave(even: Any, odd: Any, axis: int) -> Any:
    """Elements of `even` at 0, 2, 4... and of `odd` at 1, 3, 5... along `axis`."""
    ne, no = get_aval(even).shape[axis], get_aval(odd).shape[axis]
    nd = get_aval(even).ndim
    zero = np.zeros((), get_aval(even).dtype)
    cfg_e = [(0, 0, 0)] * nd
    cfg_o = [(0, 0, 0)] * nd
    total = ne + no
    cfg_e[axis] = (0, total - (2 * ne - 1), 1)
    cfg_o[axis] = (1, total - 2 * no, 1)
    return ew.add(st.pad(even, zero, cfg_e), st.pad(odd, zero, cfg_o))


def _logaddexp(a: Any, b: Any) -> Any:
    """log(exp(a) + exp(b)) without overflow; equal infinities give themselves."""
    hi, lo = ew.max(a, b), ew.min(a, b)
    delta = ew.select_n(ew.eq(hi, lo), ew.sub(lo, hi), ew.full_like(hi, 0))
    return ew.add(hi, ew.log1p(ew.exp(delta)))


def cumlogsumexp(operand: Any, axis: int = 0, reverse: bool = False) -> Any:
    """log(cumsum(exp(operand))) along `axis`, computed stably.

    >>> cumlogsumexp(np.log(np.array([1.0, 2.0, 3.0])))
    array([0.        , 1.09861229, 1.79175947])
    """
    (operand,) = ew.asarray_like(operand)
    if get_aval(operand).dtype.kind != "f":
        raise DTypeError(f"lax.cumlogsumexp needs a float operand, got "
                         f"{get_aval(operand).dtype}")
    return associative_scan(_logaddexp, operand, reverse=reverse, axis=axis)


# ------------------------------------------------------------------ convolution helpers

def _conv_sizes(lhs: Sequence[int], rhs: Sequence[int], strides: Sequence[int],
                pads: Sequence[tuple[int, int]]) -> tuple[int, ...]:
    return tuple(builtins.max(0, (n + lo + hi - k) // s + 1) if n + lo + hi >= k else 0
                 for n, k, s, (lo, hi) in zip(lhs, rhs, strides, pads))


def conv_shape_tuple(lhs_shape: Sequence[int], rhs_shape: Sequence[int],
                     strides: Sequence[int], pads: Any, batch_group_count: int = 1
                     ) -> tuple[int, ...]:
    """The output shape of a convolution in the canonical layout (N, C, *spatial) and
    (O, I, *spatial); `pads` is 'SAME', 'VALID' or (low, high) pairs.

    >>> conv_shape_tuple((1, 3, 8, 8), (4, 3, 3, 3), (2, 2), "SAME")
    (1, 4, 4, 4)
    """
    if isinstance(pads, str):
        pads = padtype_to_pads(lhs_shape[2:], rhs_shape[2:], strides, pads)
    if len(pads) != len(lhs_shape) - 2:
        raise ShapeError(f"conv_shape_tuple: {len(pads)} padding pairs for "
                         f"{len(lhs_shape) - 2} spatial axes")
    return (lhs_shape[0] // batch_group_count, rhs_shape[0],
            *_conv_sizes(lhs_shape[2:], rhs_shape[2:], strides, pads))


def conv_general_shape_tuple(lhs_shape: Sequence[int], rhs_shape: Sequence[int],
                             window_strides: Sequence[int], padding: Any,
                             dimension_numbers: Any) -> tuple[int, ...]:
    """The output shape of `conv_general_dilated` (no dilation) in the output layout of
    `dimension_numbers`."""
    dn = conv_dimension_numbers(lhs_shape, rhs_shape, dimension_numbers)
    lhs = tuple(lhs_shape[d] for d in dn.lhs_spec)
    rhs = tuple(rhs_shape[d] for d in dn.rhs_spec)
    out = conv_shape_tuple(lhs, rhs, window_strides, padding)
    return tuple(out[i] for i in np.argsort(dn.out_spec))


def _transpose_pads(k: int, s: int, padding: str) -> tuple[int, int]:
    """The padding of the lhs-dilated convolution that `conv_transpose` runs, for a
    dilated kernel of size `k`: output size n * s for 'SAME', (n - 1) * s + k for
    'VALID' (Keras' Conv2DTranspose sizes)."""
    if padding == "SAME":
        total = k + s - 2
        lo = k - 1 if s > k - 1 else -(-total // 2)
    elif padding == "VALID":
        total, lo = k + s - 2 + builtins.max(k - s, 0), k - 1
    else:
        raise ArgumentError(f"conv_transpose padding must be 'SAME', 'VALID' or (low, high) "
                         f"pairs, got {padding!r}")
    return lo, total - lo


_TRANSPOSE_DEFAULT = {2: ("NC", "IO", "NC"), 3: ("NHC", "HIO", "NHC"),
                      4: ("NHWC", "HWIO", "NHWC"), 5: ("NHWDC", "HWDIO", "NHWDC")}


def _conv_transpose_args(lhs_shape: Sequence[int], rhs_shape: Sequence[int],
                         strides: Sequence[int], padding: Any, rhs_dilation: Any,
                         dimension_numbers: Any, use_consistent_padding: bool = False
                         ) -> tuple[Any, ConvDimensionNumbers]:
    nd = len(lhs_shape)
    if dimension_numbers is None:
        if nd not in _TRANSPOSE_DEFAULT:
            raise ShapeError(f"conv_transpose has default layouts for ranks 2 to 5 only, got "
                             f"rank {nd}; pass dimension_numbers")
        dimension_numbers = _TRANSPOSE_DEFAULT[nd]
    dn = conv_dimension_numbers(lhs_shape, rhs_shape, dimension_numbers)
    ks = [rhs_shape[d] for d in dn.rhs_spec[2:]]
    dil = tuple(rhs_dilation) if rhs_dilation is not None else (1,) * (nd - 2)
    if isinstance(padding, str):
        pads = [_transpose_pads((k - 1) * d + 1, s, padding.upper())
                for k, d, s in zip(ks, dil, strides)]
    elif use_consistent_padding:  # the forward conv's pads, as PyTorch reads them
        pads = [((k - 1) * d - lo, (k - 1) * d - hi) for k, d, (lo, hi) in zip(ks, dil, padding)]
    else:
        pads = [tuple(p) for p in padding]
    return pads, dn


def conv_transpose(lhs: Any, rhs: Any, strides: Sequence[int], padding: Any,
                   rhs_dilation: Sequence[int] | None = None, dimension_numbers: Any = None,
                   transpose_kernel: bool = False, precision: PrecisionLike = None,
                   preferred_element_type: Any = None, use_consistent_padding: bool = False
                   ) -> Any:
    """Transposed convolution (a convolution of the `strides`-dilated lhs), with Keras'
    Conv2DTranspose output sizes; layouts default to ("NHWC", "HWIO", "NHWC") and the
    like. `transpose_kernel=True` flips the kernel and swaps its feature axes, giving the
    gradient of a forward convolution. Pairs of ints in `padding` pad the transposed
    convolution itself, or with `use_consistent_padding` are the forward convolution's
    padding (so that the result is that convolution's transpose, as in PyTorch).

    >>> conv_transpose(np.ones((1, 4, 4, 1)), np.ones((3, 3, 1, 1)), (2, 2), "SAME").shape
    (1, 8, 8, 1)
    """
    lhs, rhs = ew.asarray_like(lhs, rhs)
    pads, dn = _conv_transpose_args(get_aval(lhs).shape, get_aval(rhs).shape, strides, padding,
                                    rhs_dilation, dimension_numbers, use_consistent_padding)
    if transpose_kernel:
        rhs = st.rev(rhs, dn.rhs_spec[2:])
        perm = list(range(get_aval(rhs).ndim))
        o, i = dn.rhs_spec[0], dn.rhs_spec[1]
        perm[o], perm[i] = perm[i], perm[o]
        rhs = st.transpose(rhs, perm)
    return conv_general_dilated(lhs, rhs, (1,) * len(pads), pads, lhs_dilation=strides,
                                      rhs_dilation=rhs_dilation, dimension_numbers=dn,
                                      precision=precision,
                                      preferred_element_type=preferred_element_type)


def conv_transpose_shape_tuple(lhs_shape: Sequence[int], rhs_shape: Sequence[int],
                               window_strides: Sequence[int], padding: Any,
                               dimension_numbers: Any) -> tuple[int, ...]:
    """The output shape `conv_transpose` gives (in the output layout)."""
    pads, dn = _conv_transpose_args(lhs_shape, rhs_shape, window_strides, padding, None,
                                    dimension_numbers)
    lhs = [lhs_shape[d] for d in dn.lhs_spec]
    rhs = [rhs_shape[d] for d in dn.rhs_spec]
    dilated = [(n - 1) * s + 1 if n else 0 for n, s in zip(lhs[2:], window_strides)]
    out = (lhs[0], rhs[0], *_conv_sizes(dilated, rhs[2:], (1,) * len(pads), pads))
    return tuple(out[i] for i in np.argsort(dn.out_spec))


def reduce_window_shape_tuple(operand_shape: Sequence[int], window_dimensions: Sequence[int],
                              window_strides: Sequence[int], padding: Any,
                              base_dilation: Sequence[int] | None = None,
                              window_dilation: Sequence[int] | None = None
                              ) -> tuple[int, ...]:
    """The output shape of `reduce_window` with these arguments."""
    nd = len(operand_shape)
    bd = base_dilation or (1,) * nd
    wd = window_dilation or (1,) * nd
    win = [(k - 1) * d + 1 if k else 0 for k, d in zip(window_dimensions, wd)]
    base = [(n - 1) * d + 1 if n else 0 for n, d in zip(operand_shape, bd)]
    pads = padtype_to_pads(base, win, window_strides, padding)
    return _conv_sizes(base, win, window_strides, pads)


def conv(lhs: Any, rhs: Any, window_strides: Sequence[int], padding: Any,
         precision: PrecisionLike = None, preferred_element_type: Any = None) -> Any:
    """`conv_general_dilated` in the NCHW/OIHW layout, without dilation (JAX's `lax.conv`).

    >>> conv(np.ones((1, 1, 4, 4)), np.ones((1, 1, 3, 3)), (1, 1), "VALID").shape
    (1, 1, 2, 2)
    """
    return conv_general_dilated(lhs, rhs, window_strides, padding, precision=precision,
                                preferred_element_type=preferred_element_type)


def conv_with_general_padding(lhs: Any, rhs: Any, window_strides: Sequence[int], padding: Any,
                              lhs_dilation: Sequence[int] | None,
                              rhs_dilation: Sequence[int] | None,
                              precision: PrecisionLike = None,
                              preferred_element_type: Any = None) -> Any:
    """`conv_general_dilated` in the NCHW/OIHW layout with explicit dilations."""
    return conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation,
                                      rhs_dilation, precision=precision,
                                      preferred_element_type=preferred_element_type)


def conv_general_dilated_patches(lhs: Any, filter_shape: Sequence[int],
                                 window_strides: Sequence[int], padding: Any,
                                 lhs_dilation: Sequence[int] | None = None,
                                 rhs_dilation: Sequence[int] | None = None,
                                 dimension_numbers: Any = None,
                                 precision: PrecisionLike = None,
                                 preferred_element_type: Any = None) -> Any:
    """The patches `conv_general_dilated` would multiply with a kernel of spatial shape
    `filter_shape`: the output's feature axis holds, channel-major, every input channel at
    every filter position (C * prod(filter_shape) features), as in JAX.

    >>> conv_general_dilated_patches(np.ones((1, 2, 5, 5)), (3, 3), (1, 1), "VALID").shape
    (1, 18, 3, 3)
    """
    (lhs,) = ew.asarray_like(lhs)
    la = get_aval(lhs)
    dn = conv_dimension_numbers(la.ndim, la.ndim, dimension_numbers)
    channels = la.shape[dn.lhs_spec[1]]
    k = math.prod(filter_shape)
    eye = np.eye(k, dtype=la.dtype).reshape((k, 1, *filter_shape))
    rhs = np.tile(eye, (channels,) + (1,) * (len(filter_shape) + 1))
    canon = ConvDimensionNumbers(dn.lhs_spec, tuple(range(la.ndim)), dn.out_spec)
    return conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation,
                                      rhs_dilation, canon, feature_group_count=channels,
                                      precision=precision,
                                      preferred_element_type=preferred_element_type)


def conv_general_dilated_local(lhs: Any, rhs: Any, window_strides: Sequence[int],
                               padding: Any, filter_shape: Sequence[int],
                               lhs_dilation: Sequence[int] | None = None,
                               rhs_dilation: Sequence[int] | None = None,
                               dimension_numbers: Any = None,
                               precision: PrecisionLike = None) -> Any:
    """A locally connected (unshared) convolution: every output position has its own
    kernel. `rhs` holds, in the rhs layout of `dimension_numbers`, (out features,
    C * prod(filter_shape) channel-major, *output spatial sizes), as in JAX."""
    (lhs, rhs) = ew.asarray_like(lhs, rhs)
    la, ra = get_aval(lhs), get_aval(rhs)
    dn = conv_dimension_numbers(la.ndim, ra.ndim, dimension_numbers)
    patches = conv_general_dilated_patches(lhs, filter_shape, window_strides, padding,
                                           lhs_dilation, rhs_dilation, dimension_numbers,
                                           precision)
    nsp = la.ndim - 2
    # patches to (N, K, *spatial), rhs to (O, K, *spatial), contract K per position
    p = st.transpose(patches, dn.out_spec)
    w = st.transpose(rhs, dn.rhs_spec)
    sp = tuple(range(2, 2 + nsp))
    out = dot_general(p, w, (((1,), (1,)), (sp, sp)), precision=precision)
    # out: (*spatial, N, O) -> (N, O, *spatial) -> the output layout
    canon = st.transpose(out, (nsp, nsp + 1, *range(nsp)))
    return st.transpose(canon, tuple(int(i) for i in np.argsort(dn.out_spec)))


# ------------------------------------------------------------------ scatter variants

def scatter_sub(x: Any, indices: Any, updates: Any, axes: Sequence[int],
                mode: str = "drop") -> Any:
    """`x` with `updates` subtracted at the points `indices` along `axes` (fnad's scatter
    layout: see `gather`); repeated points accumulate."""
    return st.scatter_add(x, indices, ew.neg(ew.asarray_like(updates)[0]), axes, mode)


def scatter_apply(x: Any, indices: Any, func: Callable[[Any], Any], axes: Sequence[int],
                  mode: str = "drop") -> Any:
    """`x` with `func` applied to the elements at the points `indices` along `axes` (once
    per distinct point)."""
    (x,) = ew.asarray_like(x)
    return st.scatter(x, indices, func(st.gather(x, indices, axes, "clip")), axes, mode)


# ------------------------------------------------------------------ implicit solves

def custom_root(f: Callable[[Any], Any], initial_guess: Any,
                solve: Callable[[Callable[[Any], Any], Any], Any],
                tangent_solve: Callable[[Callable[[Any], Any], Any], Any],
                has_aux: bool = False) -> Any:
    """A root of `f` found by `solve(f, initial_guess)`, differentiated implicitly: the
    derivative of x* with f(x*) = 0 through whatever `f` closes over, -J^-1 df, with
    `tangent_solve(g, y)` solving the linear g(x) = y (J = the Jacobian of f at the root).

    >>> custom_root(lambda x: x * x - 4.0, 1.0,
    ...             lambda f, x0: 2.0, lambda g, y: y / g(1.0))
    np.float32(2.0)
    """
    out = solve(f, stop_gradient(initial_guess))
    x, aux = out if has_aux else (out, None)
    x = stop_gradient(ew.asarray_like(x)[0] if not isinstance(x, (dict, list, tuple)) else x)
    flat_x, treedef = tree_util.tree_flatten(x)

    def f_flat(*xs: Any) -> list[Any]:
        y = f(tree_util.tree_unflatten(treedef, list(xs)))
        return tree_util.tree_leaves(y[0] if has_aux else y)

    def linear(v: Any) -> Any:
        vs = [ew.convert_element_type(t, get_aval(p).dtype)
              for t, p in zip(tree_util.tree_leaves(v), flat_x)]
        _, ts = jvp_flat(f_flat, flat_x, vs)
        return tree_util.tree_unflatten(treedef, [instantiate(t) for t in ts])

    fx = f(x)
    fx = fx[0] if has_aux else fx
    step = tangent_solve(linear, fx)
    x = tree_util.tree_map(ew.sub, x, step)
    return (x, aux) if has_aux else x


__all__ = [
    "ConvDimensionNumbers", "ConvGeneralDilatedDimensionNumbers", "DotDimensionNumbers",
    "Precision", "PrecisionLike", "associative_scan", "batch_matmul", "broadcast_like",
    "broadcast_shapes", "broadcast_to_rank", "clz", "collapse",
    "complex", "conj", "conv", "conv_dimension_numbers", "conv_general_dilated_local",
    "conv_general_dilated_patches", "conv_general_permutations", "conv_general_shape_tuple",
    "conv_shape_tuple", "conv_transpose", "conv_transpose_shape_tuple",
    "conv_with_general_padding", "cumlogsumexp", "custom_root", "dtype",
    "dynamic_index_in_dim", "dynamic_slice_in_dim", "dynamic_update_index_in_dim",
    "dynamic_update_slice_in_dim", "empty", "imag", "index_in_dim", "index_take", "mulhi", "real",
    "reciprocal", "reduce", "reduce_window_shape_tuple", "reduce_xor", "scatter_apply",
    "scatter_sub", "select", "slice_in_dim", "split", "stack", "tile", "unstack",
]
