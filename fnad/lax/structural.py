"""Structural primitives: broadcasting, reshaping, slicing, padding, gathering and
scattering: moving data without arithmetic.

Each block gives the impl, the abstract evaluation, the jvp (from linearity in the array
operands; index operands are not differentiable), the transpose and the batch rule.
"""

from __future__ import annotations

import builtins
import importlib
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from fnad.core.errors import DTypeError, ShapeError, check_one_device
from fnad.core.ir import ShapedArray, get_aval
from fnad.core.primitive import Broadcast, Primitive, Zero
from fnad.device import array_module, is_gpu_array
from fnad.interpreters import ad_util
from fnad.interpreters.transpose import ones_to_first_operand
from fnad.lax._rules import (
    NUMBER,
    check_dtypes,
    defjvp_zero,
    deflinear,
    is_undefined,
    same_aval,
)
from fnad.lax.elementwise import (
    add,
    add_p,
    asarray_like,
    convert_element_type,
    div,
    eq,
    lt,
    mul,
    ne,
    select_n,
    sub,
)

# ------------------------------------------------------------------ broadcast_in_dim

broadcast_in_dim_p = Primitive("broadcast_in_dim")


def _broadcast_in_dim_impl(x: np.ndarray, shape: tuple[int, ...],
                           broadcast_dimensions: tuple[int, ...]) -> np.ndarray:
    expanded = [1] * len(shape)
    for d, size in zip(broadcast_dimensions, x.shape):
        expanded[d] = size
    # always a fresh array: a broadcast view would alias the input, read-only (the design's
    # rule: a result is fresh, or the view NumPy's function of the same name returns)
    out = np.empty(shape, x.dtype) if type(x) is np.ndarray else \
        np.empty_like(x, shape=shape)  # a CuPy array: its own module's allocation
    out[...] = x.reshape(expanded)
    return out


broadcast_in_dim_p.def_impl(_broadcast_in_dim_impl)


@broadcast_in_dim_p.def_abstract_eval
def _broadcast_in_dim_abstract_eval(x: ShapedArray, shape: tuple[int, ...],
                                    broadcast_dimensions: tuple[int, ...]) -> ShapedArray:
    dims = broadcast_dimensions
    if len(dims) != x.ndim:
        raise ShapeError(f"broadcast_dimensions {dims} must name one output axis per operand "
                         f"axis ({x.ndim})")
    if any(b <= a for a, b in zip(dims, dims[1:])) or any(not 0 <= d < len(shape) for d in dims):
        raise ShapeError(f"broadcast_dimensions {dims} must be strictly increasing axes of "
                         f"{shape}")
    for d, size in zip(dims, x.shape):
        if size not in (1, shape[d]):
            raise ShapeError(f"operand axis of size {size} cannot broadcast to output axis {d} "
                             f"of size {shape[d]} (target shape {shape})")
    return ShapedArray(shape, x.dtype)


def _broadcast_in_dim_transpose(ct: Any, x: Any, shape: tuple[int, ...],
                                broadcast_dimensions: tuple[int, ...]) -> list[Any]:
    from fnad.lax.reduction import reduce_sum
    in_shape = x.aval.shape
    summed = [d for d in range(len(shape)) if d not in broadcast_dimensions]
    kept = [i for i, d in enumerate(broadcast_dimensions) if in_shape[i] == 1 and shape[d] != 1]
    summed += [broadcast_dimensions[i] for i in kept]
    out = reduce_sum(ct, tuple(sorted(summed))) if summed else ct
    return [reshape(out, in_shape) if kept else out]


def _broadcast_in_dim_batch(axis_size: int, vals: Sequence[Any], dims: Sequence[Any],
                            shape: tuple[int, ...], broadcast_dimensions: tuple[int, ...]):
    (x,), (bd,) = vals, dims
    out_bd = 0 if bd == 0 else broadcast_dimensions[bd - 1] + 1
    new_dims = [d + (d >= out_bd) for d in broadcast_dimensions]
    new_dims.insert(bd, out_bd)
    new_shape = list(shape)
    new_shape.insert(out_bd, axis_size)
    return broadcast_in_dim_p.bind(x, shape=tuple(new_shape),
                                   broadcast_dimensions=tuple(new_dims)), out_bd


deflinear(broadcast_in_dim_p, _broadcast_in_dim_transpose)
broadcast_in_dim_p.def_batch(_broadcast_in_dim_batch)
broadcast_in_dim_p.kernel = Broadcast()
broadcast_in_dim_p.simplify = (
    lambda eqn, producer, uses: eqn.inputs[0] if same_aval(eqn, eqn.inputs[0]) else None)


def broadcast_in_dim(operand: Any, shape: Sequence[int], broadcast_dimensions: Sequence[int],
                     *, out_sharding: Any = None) -> Any:
    """Broadcast `operand` to `shape`, its axis i becoming output axis
    `broadcast_dimensions[i]`."""
    if out_sharding is not None:
        check_one_device("broadcast_in_dim", out_sharding=out_sharding)
    (x,) = asarray_like(operand)
    shape, dims = tuple(int(d) for d in shape), tuple(int(d) for d in broadcast_dimensions)
    if get_aval(x).shape == shape and dims == tuple(range(len(shape))):
        return x
    return broadcast_in_dim_p.bind(x, shape=shape, broadcast_dimensions=dims)


def broadcast(operand: Any, sizes: Sequence[int], *, out_sharding: Any = None) -> Any:
    """Add leading axes of the given sizes."""
    (x,) = asarray_like(operand)
    nd = get_aval(x).ndim
    return broadcast_in_dim(x, tuple(sizes) + get_aval(x).shape,
                            tuple(range(len(sizes), len(sizes) + nd)), out_sharding=out_sharding)


def full(shape: Sequence[int], fill_value: Any, dtype: Any = None, *, sharding: Any = None
         ) -> Any:
    """An array of `shape` filled with `fill_value` (float32 for a Python float)."""
    if sharding is not None:
        check_one_device("full", sharding=sharding)
    if dtype is None:
        (value,) = asarray_like(fill_value)
    else:
        value = np.asarray(fill_value, dtype=dtype) if not hasattr(fill_value, "aval") else \
            _convert(fill_value, dtype)
    return broadcast_in_dim(value, tuple(shape), ())


def _convert(x: Any, dtype: Any) -> Any:
    from fnad.lax.elementwise import convert_element_type
    return convert_element_type(x, dtype)


# ------------------------------------------------------------------ reshape

reshape_p = Primitive("reshape")
reshape_p.def_impl(lambda x, new_sizes: x.reshape(new_sizes))


@reshape_p.def_abstract_eval
def _reshape_abstract_eval(x: ShapedArray, new_sizes: tuple[int, ...]) -> ShapedArray:
    if int(np.prod(new_sizes, dtype=np.int64)) != x.size:
        raise ShapeError(f"cannot reshape {x} ({x.size} elements) to {new_sizes}")
    return ShapedArray(new_sizes, x.dtype)


def _reshape_batch(axis_size: int, vals: Sequence[Any], dims: Sequence[Any],
                   new_sizes: tuple[int, ...]):
    from fnad.interpreters.batching import moveaxis
    x = moveaxis(vals[0], dims[0], 0, axis_size)
    return reshape_p.bind(x, new_sizes=(axis_size, *new_sizes)), 0


def _reshape_simplify(eqn: Any, producer: Any, uses: Any) -> Any:
    """A reshape of a reshape reads the first one's operand; a reshape to the same shape
    is its operand."""
    src = eqn.inputs[0]
    p = producer(src)
    if p is not None and p.prim is reshape_p:
        src = p.inputs[0]
    if same_aval(eqn, src):
        return src
    return eqn.replace(inputs=[src]) if src is not eqn.inputs[0] else None


deflinear(reshape_p, lambda ct, x, new_sizes: [reshape(ct, x.aval.shape)])
reshape_p.def_batch(_reshape_batch)
reshape_p.transpose_ones = ones_to_first_operand
reshape_p.simplify = _reshape_simplify


def reshape(operand: Any, new_sizes: Sequence[int], dimensions: Sequence[int] | None = None,
            *, out_sharding: Any = None) -> Any:
    """`operand` with shape `new_sizes` (row-major order; no -1), after transposing its axes to
    the order `dimensions` when given (JAX's `lax.reshape`)."""
    if out_sharding is not None:
        check_one_device("reshape", out_sharding=out_sharding)
    (x,) = asarray_like(operand)
    if dimensions is not None:
        x = transpose(x, tuple(int(d) for d in dimensions))
    new_sizes = tuple(int(d) for d in new_sizes)
    if get_aval(x).shape == new_sizes:
        return x
    return reshape_p.bind(x, new_sizes=new_sizes)


# ------------------------------------------------------------------ transpose

transpose_p = Primitive("transpose")
transpose_p.def_impl(lambda x, permutation: np.transpose(x, permutation))


@transpose_p.def_abstract_eval
def _transpose_abstract_eval(x: ShapedArray, permutation: tuple[int, ...]) -> ShapedArray:
    if sorted(permutation) != list(range(x.ndim)):
        raise ShapeError(f"permutation {permutation} is not a permutation of {x.ndim} axes")
    return ShapedArray(tuple(x.shape[p] for p in permutation), x.dtype)


def _transpose_transpose(ct: Any, x: Any, permutation: tuple[int, ...]) -> list[Any]:
    return [transpose(ct, tuple(int(i) for i in np.argsort(permutation)))]


def _transpose_batch(axis_size: int, vals: Sequence[Any], dims: Sequence[Any],
                     permutation: tuple[int, ...]):
    bd = dims[0]
    perm = (bd, *(p + (p >= bd) for p in permutation))
    return transpose_p.bind(vals[0], permutation=perm), 0


def _transpose_simplify(eqn: Any, producer: Any, uses: Any) -> Any:
    """The identity permutation is its operand; a transpose of a transpose is one transpose
    (or none); a transpose that only swaps a matrix product's free axes is the product of
    the swapped operands, written in the layout its users read."""
    from fnad.lax.linalg import dot_general_p, swapped_dot
    x, perm = eqn.inputs[0], eqn.params["permutation"]
    if perm == tuple(range(len(perm))):
        return x
    p = producer(x)
    if p is not None and p.prim is transpose_p:
        inner = p.params["permutation"]
        composed = tuple(inner[i] for i in perm)
        if composed == tuple(range(len(composed))):
            return p.inputs[0]
        return eqn.replace(inputs=[p.inputs[0]], params={**eqn.params, "permutation": composed})
    if p is not None and p.prim is dot_general_p and uses(x) == 1:
        return swapped_dot(eqn, p)
    return None


deflinear(transpose_p, _transpose_transpose)
transpose_p.def_batch(_transpose_batch)
transpose_p.transpose_ones = ones_to_first_operand
transpose_p.simplify = _transpose_simplify


def transpose(operand: Any, permutation: Sequence[int]) -> Any:
    """Permute the axes of `operand`: output axis i is input axis `permutation[i]`."""
    (x,) = asarray_like(operand)
    permutation = tuple(int(p) for p in permutation)
    if permutation == tuple(range(len(permutation))):
        return x
    return transpose_p.bind(x, permutation=permutation)


# ------------------------------------------------------------------ helpers

def _zeros(aval: ShapedArray) -> Any:
    return full(aval.shape, 0, aval.dtype)


def _axes(dims: Sequence[int], ndim: int, what: str) -> tuple[int, ...]:
    """Check `dims` are distinct axes of a rank-`ndim` value."""
    dims = tuple(dims)
    if len(set(dims)) != len(dims) or any(not 0 <= d < ndim for d in dims):
        raise ShapeError(f"{what} {dims} must be distinct axes in [0, {ndim})")
    return dims


def _normalize(dims: Sequence[int] | int, ndim: int) -> tuple[int, ...]:
    """Wrapper-level axes: an int or a sequence, negative ones counted from the end."""
    dims = (dims,) if isinstance(dims, (int, np.integer)) else dims
    return tuple(int(d) + ndim if -ndim <= d < 0 else int(d) for d in dims)


def _deflinear_in(prim: Primitive, linear: tuple[int, ...],
                  transpose_rule: Callable[..., Any]) -> None:
    """A primitive jointly linear in the operands at positions `linear`; the others (index
    operands) are not differentiated and pass through as primals."""

    def jvp(primals: Sequence[Any], tangents: Sequence[Any], **params: Any):
        from fnad.interpreters.jvp import instantiate
        ans = prim.bind(*primals, **params)
        if all(type(tangents[i]) is Zero for i in linear):
            return ans, Zero(get_aval(ans))
        args = [instantiate(t) if i in linear else p
                for i, (p, t) in enumerate(zip(primals, tangents))]
        return ans, prim.bind(*args, **params)

    prim.def_jvp(jvp)
    prim.def_transpose(transpose_rule)


def _check_index_scalars(starts: Sequence[ShapedArray], ndim: int) -> None:
    if len(starts) != ndim:
        raise ShapeError(f"{len(starts)} start indices for a rank-{ndim} operand")
    for s in starts:
        if s.shape != () or s.dtype.kind not in "iu":
            raise DTypeError(f"start indices must be integer scalars, got {s}")


def _index_array(x: Any) -> Any:
    """Python ints become int32 scalars; arrays and tracers pass."""
    return np.asarray(x, np.int32) if isinstance(x, (int, np.integer)) else x


def _start_indices(name: str, shape: Sequence[int], start_indices: Any,
                   allow_negative_indices: bool | Sequence[bool]) -> list[Any]:
    """JAX's start indices of a dynamic slice: where negatives are allowed (per axis), a
    negative start counts from the end (`i + n`); the primitive then clamps the window
    into bounds. A static negative start where they are not allowed raises, as in JAX."""
    starts = list(start_indices)
    if len(starts) != len(shape):
        raise ShapeError(f"{name}: {len(starts)} start indices for an operand of shape "
                         f"{tuple(shape)}; give one per axis")
    allow = ([allow_negative_indices] * len(shape) if isinstance(allow_negative_indices, bool)
             else [bool(a) for a in allow_negative_indices])
    if len(allow) != len(shape):
        raise ShapeError(f"{name}: allow_negative_indices has {len(allow)} entries for an "
                         f"operand of shape {tuple(shape)}; give a bool or one per axis")
    out = []
    for i, n, neg in zip(starts, shape, allow):
        if isinstance(i, (int, np.integer)) and not isinstance(i, (bool, np.bool_)):
            i = int(i)
            if i < 0 and not neg:
                raise IndexError(f"{name}: start index {i} is out of bounds for an axis of "
                                 f"size {n} with allow_negative_indices=False")
            i = i + n if i < 0 else i
            out.append(np.asarray(builtins.min(builtins.max(i, 0), n), np.int32))
            continue
        dtype = get_aval(i).dtype
        if not neg or dtype.kind != "i" or get_aval(i).shape != ():
            out.append(i)  # unsigned: never negative (and the primitive checks the rest)
            continue
        if n > np.iinfo(dtype).max:  # i + n must not wrap around
            i, dtype = convert_element_type(i, np.int32), np.dtype(np.int32)
        if type(i) is np.ndarray:  # eager: no need to bind three primitives
            out.append(np.where(i < 0, i + dtype.type(n), i).astype(dtype))
        else:
            out.append(select_n(lt(i, 0), i, add(i, np.asarray(n, dtype))))
    return out


# ------------------------------------------------------------------ squeeze

squeeze_p = Primitive("squeeze")


def _squeeze_impl(x: Any, dimensions: tuple[int, ...]) -> Any:
    """A reshape (a view), on NumPy and CuPy alike."""
    gone = {d % x.ndim for d in dimensions} if x.ndim else set()
    return x.reshape([n for i, n in enumerate(x.shape) if i not in gone])


squeeze_p.def_impl(_squeeze_impl)


@squeeze_p.def_abstract_eval
def _squeeze_abstract_eval(x: ShapedArray, dimensions: tuple[int, ...]) -> ShapedArray:
    _axes(dimensions, x.ndim, "dimensions")
    if any(x.shape[d] != 1 for d in dimensions):
        raise ShapeError(f"dimensions {dimensions} must all have size 1")
    return ShapedArray([n for i, n in enumerate(x.shape) if i not in dimensions], x.dtype)


def _squeeze_batch(axis_size: int, vals: Sequence[Any], dims: Sequence[Any],
                   dimensions: tuple[int, ...]):
    bd = dims[0]
    new = tuple(d + (d >= bd) for d in dimensions)
    return squeeze_p.bind(vals[0], dimensions=new), bd - sum(d < bd for d in new)


deflinear(squeeze_p, lambda ct, x, dimensions: [expand_dims(ct, dimensions)])
squeeze_p.def_batch(_squeeze_batch)
squeeze_p.transpose_ones = ones_to_first_operand


def squeeze(array: Any, dimensions: Sequence[int] | int) -> Any:
    """Remove the size-1 axes `dimensions` of `array`.

    >>> squeeze(np.zeros((1, 3, 1)), (0, 2)).shape
    (3,)
    """
    (x,) = asarray_like(array)
    dims = tuple(sorted(_normalize(dimensions, get_aval(x).ndim)))
    return squeeze_p.bind(x, dimensions=dims) if dims else x


# ------------------------------------------------------------------ expand_dims

expand_dims_p = Primitive("expand_dims")


def _expand_dims_impl(x: Any, dimensions: tuple[int, ...]) -> Any:
    """A reshape (a view), on NumPy and CuPy alike."""
    shape = list(x.shape)
    for d in sorted(d % (x.ndim + len(dimensions)) for d in dimensions):
        shape.insert(d, 1)
    return x.reshape(shape)


expand_dims_p.def_impl(_expand_dims_impl)


@expand_dims_p.def_abstract_eval
def _expand_dims_abstract_eval(x: ShapedArray, dimensions: tuple[int, ...]) -> ShapedArray:
    rank = x.ndim + len(dimensions)
    _axes(dimensions, rank, "dimensions")
    sizes = iter(x.shape)
    return ShapedArray([1 if i in dimensions else next(sizes) for i in range(rank)], x.dtype)


def _expand_dims_batch(axis_size: int, vals: Sequence[Any], dims: Sequence[Any],
                       dimensions: tuple[int, ...]):
    # The batch axis goes just before the output position of the operand axis it preceded.
    bd = dims[0]
    rank = get_aval(vals[0]).ndim - 1 + len(dimensions)
    kept = [i for i in range(rank) if i not in dimensions]
    out_bd = kept[bd] if bd < len(kept) else rank
    new = tuple(d + (d >= out_bd) for d in dimensions)
    return expand_dims_p.bind(vals[0], dimensions=new), out_bd


deflinear(expand_dims_p, lambda ct, x, dimensions: [squeeze(ct, dimensions)])
expand_dims_p.def_batch(_expand_dims_batch)
expand_dims_p.transpose_ones = ones_to_first_operand


def expand_dims(array: Any, dimensions: Sequence[int] | int) -> Any:
    """Insert size-1 axes so that they sit at `dimensions` of the result.

    >>> expand_dims(np.zeros(3), (0, -1)).shape
    (1, 3, 1)
    """
    (x,) = asarray_like(array)
    dimensions = (dimensions,) if isinstance(dimensions, (int, np.integer)) else dimensions
    dims = tuple(sorted(_normalize(dimensions, get_aval(x).ndim + len(dimensions))))
    return expand_dims_p.bind(x, dimensions=dims) if dims else x


# ------------------------------------------------------------------ rev

rev_p = Primitive("rev")


def _rev_impl(x: Any, dimensions: tuple[int, ...]) -> Any:
    """Reversed slices (a view), on NumPy and CuPy alike."""
    flipped = {d % x.ndim for d in dimensions} if x.ndim else set()
    return x[tuple(builtins.slice(None, None, -1) if i in flipped else builtins.slice(None)
                   for i in range(x.ndim))]


rev_p.def_impl(_rev_impl)


@rev_p.def_abstract_eval
def _rev_abstract_eval(x: ShapedArray, dimensions: tuple[int, ...]) -> ShapedArray:
    _axes(dimensions, x.ndim, "dimensions")
    return x


def _rev_batch(axis_size: int, vals: Sequence[Any], dims: Sequence[Any],
               dimensions: tuple[int, ...]):
    bd = dims[0]
    return rev_p.bind(vals[0], dimensions=tuple(d + (d >= bd) for d in dimensions)), bd


deflinear(rev_p, lambda ct, x, dimensions: [rev(ct, dimensions)])
rev_p.def_batch(_rev_batch)
rev_p.transpose_ones = ones_to_first_operand


def rev(operand: Any, dimensions: Sequence[int] | int) -> Any:
    """Reverse `operand` along `dimensions`.

    >>> rev(np.arange(3), (0,))
    array([2, 1, 0])
    """
    (x,) = asarray_like(operand)
    dims = tuple(sorted(_normalize(dimensions, get_aval(x).ndim)))
    return rev_p.bind(x, dimensions=dims) if dims else x


# ------------------------------------------------------------------ pad

pad_p = Primitive("pad")


def _dilated(n: int, interior: int) -> int:
    return n + (n - 1) * interior if n > 0 else 0


def _pad_impl(x: np.ndarray, padding_value: np.ndarray,
              padding_config: tuple[tuple[int, int, int], ...]) -> np.ndarray:
    grown = [builtins.max(lo, 0) + _dilated(n, i) + builtins.max(hi, 0)
             for n, (lo, hi, i) in zip(x.shape, padding_config)]
    out = array_module([x]).full(grown, padding_value, dtype=x.dtype)
    out[tuple(builtins.slice(builtins.max(lo, 0), builtins.max(lo, 0) + _dilated(n, i), i + 1)
              for n, (lo, _, i) in zip(x.shape, padding_config))] = x
    return out[tuple(builtins.slice(-builtins.min(lo, 0), g + builtins.min(hi, 0))
                     for g, (lo, hi, _) in zip(grown, padding_config))]


pad_p.def_impl(_pad_impl)


@pad_p.def_abstract_eval
def _pad_abstract_eval(x: ShapedArray, padding_value: ShapedArray,
                       padding_config: tuple[tuple[int, int, int], ...]) -> ShapedArray:
    if padding_value.shape != ():
        raise ShapeError(f"the padding value must be a scalar, got {padding_value}")
    if padding_value.dtype != x.dtype:
        raise DTypeError(f"padding value dtype {padding_value.dtype} differs from the "
                         f"operand's {x.dtype}")
    if len(padding_config) != x.ndim or any(len(c) != 3 for c in padding_config):
        raise ShapeError(f"padding_config {padding_config} needs one (low, high, interior) "
                         f"per axis of a rank-{x.ndim} operand")
    if any(i < 0 for _, _, i in padding_config):
        raise ShapeError(f"interior padding must be >= 0 in {padding_config}")
    shape = [lo + _dilated(n, i) + hi for n, (lo, hi, i) in zip(x.shape, padding_config)]
    if any(n < 0 for n in shape):
        raise ShapeError(f"padding_config {padding_config} crops more than the operand holds "
                         f"(result shape {tuple(shape)})")
    return ShapedArray(shape, x.dtype)


def _pad_transpose(ct: Any, x: Any, padding_value: Any,
                   padding_config: tuple[tuple[int, int, int], ...]) -> list[Any]:
    from fnad.lax.reduction import reduce_sum
    zero = np.zeros((), get_aval(ct).dtype)
    inner = pad(ct, zero, [(-lo, -hi, 0) for lo, hi, _ in padding_config])
    shape = get_aval(inner).shape
    t_x = slice(inner, [0] * len(shape), shape, [i + 1 for _, _, i in padding_config])
    t_value = None
    if is_undefined(padding_value):
        everything = tuple(range(len(shape)))
        t_value = sub(reduce_sum(ct, everything), reduce_sum(t_x, everything))
    return [t_x if is_undefined(x) else None, t_value]


def _pad_batch(axis_size: int, vals: Sequence[Any], dims: Sequence[Any],
               padding_config: tuple[tuple[int, int, int], ...]):
    from fnad.interpreters.batching import moveaxis
    (x, value), (bx, bv) = vals, dims
    if bv is None:
        config = list(padding_config)
        config.insert(bx, (0, 0, 0))
        return pad_p.bind(x, value, padding_config=tuple(config)), bx
    # A batched padding value: pad with zeros, then select the value where padding went.
    x = moveaxis(x, bx, 0, axis_size)
    padded = pad_p.bind(x, np.zeros((), get_aval(x).dtype),
                        padding_config=((0, 0, 0), *padding_config))
    shape = get_aval(padded).shape
    inside = pad(full(get_aval(x).shape[1:], True), False, padding_config)
    inside = broadcast_in_dim(inside, shape, tuple(range(1, len(shape))))
    return select_n(inside, broadcast_in_dim(value, shape, (0,)), padded), 0


deflinear(pad_p, _pad_transpose)
pad_p.def_batch(_pad_batch)


def pad(operand: Any, padding_value: Any, padding_config: Sequence[Sequence[int]]) -> Any:
    """Pad `operand` with `padding_value`: per axis `(low, high, interior)` elements go before,
    after and between its elements; negative `low`/`high` crop instead.

    >>> pad(np.array([1, 2]), 0, [(1, -1, 1)])
    array([0, 1, 0])
    """
    x, padding_value = asarray_like(operand, padding_value)
    config = tuple(tuple(int(v) for v in c) for c in padding_config)
    if all(c == (0, 0, 0) for c in config) and len(config) == get_aval(x).ndim:
        return x
    return pad_p.bind(x, padding_value, padding_config=config)


# ------------------------------------------------------------------ concatenate

concatenate_p = Primitive("concatenate")
concatenate_p.def_impl(lambda *xs, dimension: np.concatenate(xs, axis=dimension))


@concatenate_p.def_abstract_eval
def _concatenate_abstract_eval(*xs: ShapedArray, dimension: int) -> ShapedArray:
    if not xs:
        raise ShapeError("needs at least one operand")
    first = xs[0]
    if not 0 <= dimension < first.ndim:
        raise ShapeError(f"dimension {dimension} is not an axis of rank-{first.ndim} operands")
    for x in xs:
        if x.dtype != first.dtype:
            raise DTypeError(f"dtypes {', '.join(str(a.dtype) for a in xs)} must be equal")
        if x.ndim != first.ndim or any(a != b for i, (a, b) in enumerate(zip(x.shape, first.shape))
                                       if i != dimension):
            raise ShapeError(f"shapes must agree except along dimension {dimension}")
    shape = list(first.shape)
    shape[dimension] = sum(x.shape[dimension] for x in xs)
    return ShapedArray(shape, first.dtype)


def _concatenate_transpose(ct: Any, *xs: Any, dimension: int) -> list[Any]:
    shape = get_aval(ct).shape
    out, start = [], 0
    for x in xs:
        n = get_aval(x).shape[dimension]
        if is_undefined(x):
            lo = [0] * len(shape)
            hi = list(shape)
            lo[dimension], hi[dimension] = start, start + n
            out.append(slice(ct, lo, hi))
        else:
            out.append(None)
        start += n
    return out


def _concatenate_batch(axis_size: int, vals: Sequence[Any], dims: Sequence[Any],
                       dimension: int):
    from fnad.interpreters.batching import moveaxis
    bd = next(d for d in dims if d is not None)
    xs = [moveaxis(x, d, bd, axis_size) for x, d in zip(vals, dims)]
    return concatenate_p.bind(*xs, dimension=dimension + (dimension >= bd)), bd


deflinear(concatenate_p, _concatenate_transpose)
concatenate_p.def_batch(_concatenate_batch)


def concatenate(operands: Sequence[Any], dimension: int) -> Any:
    """Join `operands` along `dimension`.

    >>> concatenate([np.zeros(2), np.ones(1)], 0)
    array([0., 0., 1.])
    """
    operands = asarray_like(*operands)
    if not operands:
        raise ShapeError("concatenate needs at least one operand")
    if len(operands) == 1:
        return operands[0]
    (dimension,) = _normalize(dimension, get_aval(operands[0]).ndim)
    return concatenate_p.bind(*operands, dimension=dimension)


# ------------------------------------------------------------------ slice

slice_p = Primitive("slice")


def _slice_impl(x: np.ndarray, start_indices: tuple[int, ...], limit_indices: tuple[int, ...],
                strides: tuple[int, ...]) -> np.ndarray:
    return x[tuple(builtins.slice(*a) for a in zip(start_indices, limit_indices, strides))]


slice_p.def_impl(_slice_impl)


@slice_p.def_abstract_eval
def _slice_abstract_eval(x: ShapedArray, start_indices: tuple[int, ...],
                         limit_indices: tuple[int, ...], strides: tuple[int, ...]) -> ShapedArray:
    if not len(start_indices) == len(limit_indices) == len(strides) == x.ndim:
        raise ShapeError(f"start_indices {start_indices}, limit_indices {limit_indices} and "
                         f"strides {strides} need one entry per axis ({x.ndim})")
    for s, e, n in zip(start_indices, limit_indices, x.shape):
        if not 0 <= s <= e <= n:
            raise ShapeError(f"slice [{s}:{e}] is not within an axis of size {n} (start "
                             f"indices {start_indices}, limit indices {limit_indices})")
    if any(st < 1 for st in strides):
        raise ShapeError(f"strides {strides} must be >= 1")
    return ShapedArray([(e - s + st - 1) // st for s, e, st in
                        zip(start_indices, limit_indices, strides)], x.dtype)


def _slice_transpose(ct: Any, x: Any, start_indices: tuple[int, ...],
                     limit_indices: tuple[int, ...], strides: tuple[int, ...]) -> list[Any]:
    config = []
    for n, m, s, st in zip(x.aval.shape, get_aval(ct).shape, start_indices, strides):
        end = s + (m - 1) * st + 1 if m else s
        config.append((s, n - end, st - 1))
    return [pad(ct, np.zeros((), x.aval.dtype), config)]


def _slice_batch(axis_size: int, vals: Sequence[Any], dims: Sequence[Any],
                 start_indices: tuple[int, ...], limit_indices: tuple[int, ...],
                 strides: tuple[int, ...]):
    bd = dims[0]

    def ins(t: tuple[int, ...], v: int) -> tuple[int, ...]:
        return (*t[:bd], v, *t[bd:])

    return slice_p.bind(vals[0], start_indices=ins(start_indices, 0),
                        limit_indices=ins(limit_indices, axis_size),
                        strides=ins(strides, 1)), bd


deflinear(slice_p, _slice_transpose)
slice_p.def_batch(_slice_batch)


def slice(operand: Any, start_indices: Sequence[int], limit_indices: Sequence[int],  # noqa: A001
          strides: Sequence[int] | None = None) -> Any:
    """The static strided slice `x[start:limit:stride, ...]` (all entries >= 0).

    >>> slice(np.arange(6), (1,), (6,), (2,))
    array([1, 3, 5])
    """
    (x,) = asarray_like(operand)
    shape = get_aval(x).shape
    starts = tuple(int(s) for s in start_indices)
    limits = tuple(int(s) for s in limit_indices)
    strides = (1,) * len(starts) if strides is None else tuple(int(s) for s in strides)
    if starts == (0,) * len(shape) and limits == shape and strides == (1,) * len(shape):
        return x
    return slice_p.bind(x, start_indices=starts, limit_indices=limits, strides=strides)


# ------------------------------------------------------------------ dynamic_slice

dynamic_slice_p = Primitive("dynamic_slice")


def _clamped(starts: Sequence[Any], shape: Sequence[int], sizes: Sequence[int]) -> list[int]:
    """XLA's rule: starts are clamped so the window stays inside the operand."""
    return [int(np.clip(s, 0, n - k)) for s, n, k in zip(starts, shape, sizes)]


def _window(starts: Sequence[int], sizes: Sequence[int]) -> tuple[builtins.slice, ...]:
    return tuple(builtins.slice(s, s + k) for s, k in zip(starts, sizes))


def _dynamic_slice_impl(x: np.ndarray, *starts: np.ndarray,
                        slice_sizes: tuple[int, ...]) -> np.ndarray:
    return x[_window(_clamped(starts, x.shape, slice_sizes), slice_sizes)]


dynamic_slice_p.def_impl(_dynamic_slice_impl)


@dynamic_slice_p.def_abstract_eval
def _dynamic_slice_abstract_eval(x: ShapedArray, *starts: ShapedArray,
                                 slice_sizes: tuple[int, ...]) -> ShapedArray:
    _check_index_scalars(starts, x.ndim)
    if len(slice_sizes) != x.ndim or any(not 0 <= k <= n for k, n in zip(slice_sizes, x.shape)):
        raise ShapeError(f"slice_sizes {slice_sizes} must be within the operand shape {x.shape}")
    return ShapedArray(slice_sizes, x.dtype)


def _dynamic_slice_transpose(ct: Any, x: Any, *starts: Any,
                             slice_sizes: tuple[int, ...]) -> list[Any]:
    # the primitive's starts are already counted from the start: they are not wrapped again
    return ([dynamic_update_slice(_zeros(x.aval), ct, starts, allow_negative_indices=False)]
            + [None] * len(starts))


def _window_indices(starts: Sequence[Any], bdims: Sequence[Any], shape: Sequence[int],
                    sizes: Sequence[int], axis_size: int) -> Any:
    """Gather/scatter indices, batch first, of the windows at (clamped, batched) `starts`:
    shape (axis_size, *sizes, len(sizes))."""
    from fnad.interpreters.batching import moveaxis
    from fnad.lax.elementwise import max as lax_max, min as lax_min
    grid = (axis_size, *sizes, 1)
    cols = []
    for j, (s, bd, n, k) in enumerate(zip(starts, bdims, shape, sizes)):
        s = convert_element_type(lax_min(lax_max(s, 0), n - k), np.int32)
        s = moveaxis(s, bd, 0, axis_size)
        offsets = np.arange(k, dtype=np.int32)
        cols.append(add(broadcast_in_dim(s, grid, (0,)),
                        broadcast_in_dim(offsets, grid, (j + 1,))))
    return concatenate(cols, len(grid) - 1)


def _dynamic_slice_batch(axis_size: int, vals: Sequence[Any], dims: Sequence[Any],
                         slice_sizes: tuple[int, ...]):
    (x, *starts), (bx, *bs) = vals, dims
    if all(b is None for b in bs):
        starts.insert(bx, np.zeros((), np.int32))
        sizes = (*slice_sizes[:bx], axis_size, *slice_sizes[bx:])
        return dynamic_slice_p.bind(x, *starts, slice_sizes=sizes), bx
    # Batched starts: a gather of windows along the axes the window does not cover whole.
    shape = list(get_aval(x).shape)
    if bx is not None:
        del shape[bx]
    axes = tuple(i for i, (n, k) in enumerate(zip(shape, slice_sizes)) if k < n)
    if not axes:
        return x, bx
    idx = _window_indices([starts[i] for i in axes], [bs[i] for i in axes],
                          [shape[i] for i in axes], [slice_sizes[i] for i in axes], axis_size)
    out, out_bd = gather_p.batch(axis_size, [x, idx], [bx, 0], axes=axes, mode="clip")
    order = list(axes) + [i for i in range(len(shape)) if i not in axes]
    perm = tuple(int(p) for p in np.argsort(order))
    if perm == tuple(range(len(perm))):
        return out, out_bd
    return transpose_p.batch(axis_size, [out], [out_bd], permutation=perm)


_deflinear_in(dynamic_slice_p, (0,), _dynamic_slice_transpose)
dynamic_slice_p.def_batch(_dynamic_slice_batch)


def dynamic_slice(operand: Any, start_indices: Sequence[Any], slice_sizes: Sequence[int], *,
                  allow_negative_indices: bool | Sequence[bool] = True) -> Any:
    """The window of `slice_sizes` at traced `start_indices`, as JAX's: a negative start
    counts from the end (unless `allow_negative_indices` is False for its axis), then the
    window is moved to stay in bounds.

    >>> dynamic_slice(np.arange(5), (np.int32(4),), (2,))
    array([3, 4])
    >>> dynamic_slice(np.arange(5), (np.int32(-3),), (2,))
    array([2, 3])
    """
    (x,) = asarray_like(operand)
    starts = _start_indices("dynamic_slice", get_aval(x).shape, start_indices,
                            allow_negative_indices)
    return dynamic_slice_p.bind(x, *starts, slice_sizes=tuple(int(k) for k in slice_sizes))


# ------------------------------------------------------------------ dynamic_update_slice

dynamic_update_slice_p = Primitive("dynamic_update_slice")


def _dynamic_update_slice_impl(x: np.ndarray, update: np.ndarray,
                               *starts: np.ndarray) -> np.ndarray:
    out = x.copy()
    out[_window(_clamped(starts, x.shape, update.shape), update.shape)] = update
    return out


dynamic_update_slice_p.def_impl(_dynamic_update_slice_impl)


@dynamic_update_slice_p.def_abstract_eval
def _dynamic_update_slice_abstract_eval(x: ShapedArray, update: ShapedArray,
                                        *starts: ShapedArray) -> ShapedArray:
    _check_index_scalars(starts, x.ndim)
    if update.ndim != x.ndim or any(k > n for k, n in zip(update.shape, x.shape)):
        raise ShapeError(f"the update {update} must fit inside the operand {x}")
    if update.dtype != x.dtype:
        raise DTypeError(f"update dtype {update.dtype} differs from the operand's {x.dtype}")
    return x


def _dynamic_update_slice_transpose(ct: Any, x: Any, update: Any, *starts: Any) -> list[Any]:
    u_aval = get_aval(update)
    # the primitive's starts are already counted from the start: they are not wrapped again
    t_x = (dynamic_update_slice(ct, _zeros(u_aval), starts, allow_negative_indices=False)
           if is_undefined(x) else None)
    t_u = (dynamic_slice(ct, starts, u_aval.shape, allow_negative_indices=False)
           if is_undefined(update) else None)
    return [t_x, t_u] + [None] * len(starts)


def _dynamic_update_slice_batch(axis_size: int, vals: Sequence[Any], dims: Sequence[Any]):
    from fnad.interpreters.batching import moveaxis
    (x, update, *starts), (bx, bu, *bs) = vals, dims
    if all(b is None for b in bs):
        bd = bx if bx is not None else bu
        x, update = moveaxis(x, bx, bd, axis_size), moveaxis(update, bu, bd, axis_size)
        starts.insert(bd, np.zeros((), np.int32))
        return dynamic_update_slice_p.bind(x, update, *starts), bd
    # Batched starts: a scatter of windows along the axes the update does not cover whole.
    shape, u_shape = list(get_aval(x).shape), list(get_aval(update).shape)
    if bx is not None:
        del shape[bx]
    if bu is not None:
        del u_shape[bu]
    axes = tuple(i for i, (n, k) in enumerate(zip(shape, u_shape)) if k < n)
    if not axes:
        return update, bu
    idx = _window_indices([starts[i] for i in axes], [bs[i] for i in axes],
                          [shape[i] for i in axes], [u_shape[i] for i in axes], axis_size)
    perm = axes + tuple(i for i in range(len(shape)) if i not in axes)
    if bu is None:
        update = transpose(update, perm)
    else:
        update, bu = transpose_p.batch(axis_size, [update], [bu], permutation=perm)
    return scatter_p.batch(axis_size, [x, idx, update], [bx, 0, bu], axes=axes, mode="clip")


_deflinear_in(dynamic_update_slice_p, (0, 1), _dynamic_update_slice_transpose)
dynamic_update_slice_p.def_batch(_dynamic_update_slice_batch)


def dynamic_update_slice(operand: Any, update: Any, start_indices: Sequence[Any], *,
                         allow_negative_indices: bool | Sequence[bool] = True) -> Any:
    """`operand` with the window at traced `start_indices` replaced by `update`; the starts are
    read as `dynamic_slice` reads them (negatives from the end, then moved into bounds).

    >>> dynamic_update_slice(np.zeros(4), np.ones(2), (np.int32(1),))
    array([0., 1., 1., 0.])
    >>> dynamic_update_slice(np.zeros(4), np.ones(2), (-1,))
    array([0., 0., 1., 1.])
    """
    x, update = asarray_like(operand, update)
    starts = _start_indices("dynamic_update_slice", get_aval(x).shape, start_indices,
                            allow_negative_indices)
    return dynamic_update_slice_p.bind(x, update, *starts)


# ------------------------------------------------------------------ gather and scatters
#
# Points along `axes`: `indices` has shape P + (len(axes),); point p reads (or writes) the
# operand at `indices[p]` along `axes`, taking the other axes whole. The result of a gather
# (and the updates of a scatter) has shape P + the operand's other axes, in order. This is
# NumPy's `x[i0, i1, ...]` with the indexed axes moved first. Out-of-bounds points are
# clamped (mode "clip") or, with mode "drop", read as zero / not written. Gather and
# scatter_add with the same mode are each other's transposes.

_MODES = ("clip", "drop")


def _point_shape(x: ShapedArray, indices: ShapedArray, axes: tuple[int, ...],
                 mode: str) -> tuple[int, ...]:
    if indices.dtype.kind not in "iu":
        raise DTypeError(f"indices must be integers, got {indices.dtype}")
    if mode not in _MODES:
        raise ShapeError(f"mode must be one of {_MODES}, got {mode!r}")
    _axes(axes, x.ndim, "axes")
    if not axes or indices.ndim < 1 or indices.shape[-1] != len(axes):
        raise ShapeError(f"indices {indices} must end in an axis of size len(axes) >= 1 "
                         f"(axes {axes})")
    return indices.shape[:-1] + tuple(n for i, n in enumerate(x.shape) if i not in axes)


def _points(x: np.ndarray, indices: np.ndarray, axes: tuple[int, ...]):
    """The operand with `axes` moved first (a view), the clipped index components, and
    which points are in bounds."""
    xp = array_module([x, indices])
    rest = [i for i in range(x.ndim) if i not in axes]
    moved = xp.transpose(x, (*axes, *rest))
    comps, valid = [], xp.ones(indices.shape[:-1], bool)
    for j, a in enumerate(axes):
        c, n = indices[..., j], x.shape[a]
        valid &= (c >= 0) & (c < n)
        comps.append(xp.clip(c, 0, builtins.max(n - 1, 0)))
    return moved, comps, valid


gather_p = Primitive("gather")


def _gather_impl(x: np.ndarray, indices: np.ndarray, axes: tuple[int, ...],
                 mode: str) -> np.ndarray:
    xp = array_module([x, indices])
    moved, comps, valid = _points(x, indices, axes)
    if any(x.shape[a] == 0 for a in axes):
        return xp.zeros(indices.shape[:-1] + moved.shape[len(axes):], x.dtype)
    out = moved[tuple(comps)]
    if mode == "drop":
        out = xp.where(valid.reshape(valid.shape + (1,) * (out.ndim - valid.ndim)), out,
                       xp.zeros((), x.dtype))
    return out


gather_p.def_impl(_gather_impl)
gather_p.def_abstract_eval(lambda x, indices, axes, mode: ShapedArray(
    _point_shape(x, indices, axes, mode), x.dtype))


def _gather_transpose(ct: Any, x: Any, indices: Any, axes: tuple[int, ...],
                      mode: str) -> list[Any]:
    return [scatter_add(_zeros(x.aval), indices, ct, axes, mode), None]


def _with_batch_iota(indices: Any, axis_size: int) -> Any:
    """Batch-first indices with the batch position prepended as an index component, so
    that batch element b of the indices reads batch element b of the operand."""
    aval = get_aval(indices)
    iota = broadcast_in_dim(np.arange(axis_size, dtype=aval.dtype),
                            (*aval.shape[:-1], 1), (0,))
    return concatenate([iota, indices], aval.ndim - 1)


def _batched_index_operands(axis_size: int, x: Any, bx: Any, indices: Any, bi: Any,
                            axes: tuple[int, ...]):
    """Operand and indices batched together: both batch-first, the batch axis indexed."""
    from fnad.interpreters.batching import moveaxis
    x = moveaxis(x, bx, 0, axis_size)
    indices = _with_batch_iota(moveaxis(indices, bi, 0, axis_size), axis_size)
    return x, indices, (0, *(a + 1 for a in axes))


def _gather_batch(axis_size: int, vals: Sequence[Any], dims: Sequence[Any],
                  axes: tuple[int, ...], mode: str):
    from fnad.interpreters.batching import moveaxis
    (x, indices), (bx, bi) = vals, dims
    if bi is None:
        new = tuple(a + (a >= bx) for a in axes)
        out_bd = get_aval(indices).ndim - 1 + sum(1 for d in range(bx) if d not in new)
        return gather_p.bind(x, indices, axes=new, mode=mode), out_bd
    if bi == get_aval(indices).ndim - 1:
        indices, bi = moveaxis(indices, bi, 0, axis_size), 0
    if bx is None:
        return gather_p.bind(x, indices, axes=axes, mode=mode), bi
    x, indices, new = _batched_index_operands(axis_size, x, bx, indices, bi, axes)
    return gather_p.bind(x, indices, axes=new, mode=mode), 0


_deflinear_in(gather_p, (0,), _gather_transpose)
gather_p.def_batch(_gather_batch)


def gather(x: Any, indices: Any, axes: Sequence[int], mode: str = "clip") -> Any:
    """Points of `x` along `axes`: the result has shape `indices.shape[:-1]` + the other
    axes of `x`; `indices[..., j]` indexes axis `axes[j]`. Out-of-bounds points are clamped
    (`mode="clip"`) or read as 0 (`mode="drop"`).

    >>> gather(np.arange(6).reshape(2, 3), np.array([[2], [0]]), (1,))
    array([[2, 5],
           [0, 3]])
    """
    (x,) = asarray_like(x)
    axes = _normalize(axes, get_aval(x).ndim)
    return gather_p.bind(x, _index_array(indices), axes=axes, mode=mode)


def _scatter_impl(combine: Any, x: np.ndarray, indices: np.ndarray, updates: np.ndarray,
                  axes: tuple[int, ...], mode: str) -> np.ndarray:
    out = np.array(x, copy=True)
    moved, comps, valid = _points(out, indices, axes)  # writes to `moved` land in `out`
    if mode == "drop":
        comps, updates = [c[valid] for c in comps], updates[valid]
    if any(x.shape[a] == 0 for a in axes):
        return out
    if combine is None:
        moved[tuple(comps)] = updates  # repeated points: the last one wins
    else:
        combine.at(moved, tuple(comps), updates)
    return out


def _scatter_abstract_eval(kinds: str):
    def rule(x: ShapedArray, indices: ShapedArray, updates: ShapedArray,
             axes: tuple[int, ...], mode: str) -> ShapedArray:
        shape = _point_shape(x, indices, axes, mode)
        if updates.shape != shape:
            raise ShapeError(f"updates {updates} must have shape {shape} (the indices' points "
                             "followed by the operand's other axes)")
        check_dtypes([x, updates], kinds)
        return x
    return rule


def _scatter_batch(prim: Primitive):
    def rule(axis_size: int, vals: Sequence[Any], dims: Sequence[Any],
             axes: tuple[int, ...], mode: str):
        from fnad.interpreters.batching import moveaxis
        (x, indices, updates), (bx, bi, bu) = vals, dims
        if bi is None:
            bd = 0 if bx is None else bx
            x = moveaxis(x, bx, bd, axis_size)
            new = tuple(a + (a >= bd) for a in axes)
            ub = get_aval(indices).ndim - 1 + sum(1 for d in range(bd) if d not in new)
            updates = moveaxis(updates, bu, ub, axis_size)
            return prim.bind(x, indices, updates, axes=new, mode=mode), bd
        x, indices, new = _batched_index_operands(axis_size, x, bx, indices, bi, axes)
        updates = moveaxis(updates, bu, 0, axis_size)
        return prim.bind(x, indices, updates, axes=new, mode=mode), 0
    return rule


def _scatter_primitive(name: str, combine: Any, kinds: str) -> Primitive:
    prim = Primitive(name)
    prim.def_impl(lambda x, indices, updates, axes, mode:
                      _scatter_impl(combine, x, indices, updates, axes, mode))
    prim.def_abstract_eval(_scatter_abstract_eval(kinds))
    prim.def_batch(_scatter_batch(prim))
    return prim


_ATOMIC_ADD = ("float32", "int32", "uint32", "uint64")  # cupyx.scatter_add's dtypes


def _scatter_xp(combine: str | None) -> Callable[..., Any]:
    """CuPy's scatter (it has no `ufunc.at`): the last update wins, or every update is
    combined in order (`combine`: add, mul, max, min), on a contiguous (points, rest)
    copy of the operand. Written with the API NumPy and CuPy share."""
    def impl(x: Any, indices: Any, updates: Any, axes: tuple[int, ...], mode: str) -> Any:
        xp = array_module([x, indices, updates])
        if any(x.shape[a] == 0 for a in axes):
            return x.copy()
        rest = [i for i in range(x.ndim) if i not in axes]
        perm = (*axes, *rest)
        moved = xp.ascontiguousarray(xp.transpose(x, perm))
        lead = moved.shape[:len(axes)]
        table = moved.reshape(math.prod(lead), math.prod(moved.shape[len(axes):]))
        _, comps, valid = _points(x, indices, axes)
        rows = xp.zeros(valid.shape, dtype=np.int64)
        for c, n in zip(comps, lead):
            rows = rows * n + c.astype(np.int64)
        rows, valid = rows.reshape(-1), valid.reshape(-1)
        upd = updates.reshape(rows.shape[0], table.shape[1])
        if mode == "drop":
            rows, upd = rows[valid], upd[valid]
        _combine_rows(xp, table, rows, upd, combine)
        return xp.ascontiguousarray(xp.transpose(moved, np.argsort(perm)))
    return impl


def _combine_rows(xp: Any, table: Any, rows: Any, upd: Any, combine: str | None) -> None:
    """table[rows[i]] = combine(table[rows[i]], upd[i]) for every i in order, in place."""
    if rows.shape[0] == 0:
        return
    if combine == "add" and table.dtype.name in _ATOMIC_ADD and is_gpu_array(table):
        importlib.import_module("cupyx").scatter_add(table, rows, upd)
        return
    order = xp.argsort(rows, kind="stable")  # a row's updates keep their order
    ranked = rows[order]
    first = xp.searchsorted(ranked, ranked, side="left")
    position = xp.arange(ranked.shape[0]) - first  # the update's rank among its row's
    if combine is None:  # only each row's last update is written
        last = xp.searchsorted(ranked, ranked, side="right") - 1
        keep = order[xp.arange(ranked.shape[0]) == last]
        table[rows[keep]] = upd[keep]
        return
    fn = {"add": xp.add, "mul": xp.multiply, "max": xp.maximum, "min": xp.minimum}[combine]
    for r in range(int(position.max()) + 1):  # rounds touch each row at most once
        pick = order[position == r]
        table[rows[pick]] = fn(table[rows[pick]], upd[pick])


def _scatter_wrapper(prim: Primitive, what: str):
    def f(x: Any, indices: Any, updates: Any, axes: Sequence[int], mode: str = "drop") -> Any:
        x, updates = asarray_like(x, updates)
        axes = _normalize(axes, get_aval(x).ndim)
        return prim.bind(x, _index_array(indices), updates, axes=axes, mode=mode)
    f.__name__ = prim.name
    f.__doc__ = (f"`x` with {what} at the points `indices` along `axes` (see `gather` for "
                 "the layout of `updates`); out-of-bounds points are dropped (`mode=\"drop\"`) "
                 "or clamped (`mode=\"clip\"`).")
    return f


scatter_add_p = _scatter_primitive("scatter_add", np.add, NUMBER)
scatter_p = _scatter_primitive("scatter", None, "fciub")
scatter_mul_p = _scatter_primitive("scatter_mul", np.multiply, NUMBER)
scatter_min_p = _scatter_primitive("scatter_min", np.minimum, NUMBER)
scatter_max_p = _scatter_primitive("scatter_max", np.maximum, NUMBER)
for _p, _combine in [(scatter_p, None), (scatter_add_p, "add"), (scatter_mul_p, "mul"),
                     (scatter_max_p, "max"), (scatter_min_p, "min")]:
    _p.def_impl(_scatter_xp(_combine), "cupy")

scatter_add = _scatter_wrapper(scatter_add_p, "`updates` added (repeated points accumulate)")
scatter = _scatter_wrapper(scatter_p, "`updates` written (of repeated points the last wins)")
scatter_mul = _scatter_wrapper(scatter_mul_p, "elements multiplied by `updates`")
scatter_min = _scatter_wrapper(scatter_min_p, "the minimum of each element and `updates`")
scatter_max = _scatter_wrapper(scatter_max_p, "the maximum of each element and `updates`")


def _scatter_add_transpose(ct: Any, x: Any, indices: Any, updates: Any,
                           axes: tuple[int, ...], mode: str) -> list[Any]:
    t_updates = gather(ct, indices, axes, mode) if is_undefined(updates) else None
    return [ct if is_undefined(x) else None, None, t_updates]


_deflinear_in(scatter_add_p, (0, 2), _scatter_add_transpose)


def _point_ids(updates: ShapedArray, indices: ShapedArray) -> Any:
    """1, 2, ... numbering the points, broadcast over the updates' shape."""
    points = indices.shape[:-1]
    ids = np.arange(1, int(np.prod(points, dtype=np.int64)) + 1, dtype=np.int32)
    return broadcast_in_dim(ids.reshape(points), updates.shape, tuple(range(len(points))))


def _scatter_jvp(primals: Sequence[Any], tangents: Sequence[Any], axes: tuple[int, ...],
                 mode: str):
    # Which update lands where is found by scattering point ids; the tangent then takes the
    # operand's tangent where nothing landed and the winning update's tangent elsewhere.
    from fnad.interpreters.jvp import instantiate
    (x, indices, updates), (tx, _, tu) = primals, tangents
    ans = scatter_p.bind(x, indices, updates, axes=axes, mode=mode)
    aval, u_aval = get_aval(ans), get_aval(updates)
    if type(tx) is Zero and type(tu) is Zero:
        return ans, Zero(aval)
    ids = _point_ids(u_aval, get_aval(indices))
    landed = scatter(full(aval.shape, 0, np.int32), indices, ids, axes, mode)
    won = eq(gather(landed, indices, axes, mode), ids)
    t_out = scatter_add(select_n(ne(landed, 0), instantiate(tx), _zeros(aval)), indices,
                        select_n(won, _zeros(u_aval), instantiate(tu)), axes, mode)
    return ans, t_out


scatter_p.def_jvp(_scatter_jvp)


def _scatter_mul_jvp(primals: Sequence[Any], tangents: Sequence[Any], axes: tuple[int, ...],
                     mode: str):
    # d(x * prod u) = tx * prod u + sum_j x * (prod_{i != j} u_i) tu_j. The product of the
    # other updates at a point is found without dividing by zero: by counting zeros.
    from fnad.interpreters.jvp import instantiate
    (x, indices, updates), (tx, _, tu) = primals, tangents
    ans = scatter_mul_p.bind(x, indices, updates, axes=axes, mode=mode)
    aval, u_aval = get_aval(ans), get_aval(updates)
    t_out = None
    if type(tx) is not Zero:
        t_out = mul(instantiate(tx), scatter_mul(full(aval.shape, 1, aval.dtype), indices,
                                                 updates, axes, mode))
    if type(tu) is not Zero:
        is_zero = eq(updates, np.zeros((), aval.dtype))
        safe = select_n(is_zero, updates, full(u_aval.shape, 1, aval.dtype))
        zeros_at = scatter_add(full(aval.shape, 0, np.int32), indices,
                               convert_element_type(is_zero, np.int32), axes, mode)
        n_zeros = gather(zeros_at, indices, axes, mode)
        nonzero_prod = gather(scatter_mul(full(aval.shape, 1, aval.dtype), indices, safe,
                                          axes, mode), indices, axes, mode)
        others = select_n(is_zero,
                          select_n(eq(n_zeros, 0), _zeros(u_aval), div(nonzero_prod, safe)),
                          select_n(eq(n_zeros, 1), _zeros(u_aval), nonzero_prod))
        term = scatter_add(_zeros(aval), indices,
                           mul(mul(gather(x, indices, axes, mode), others), instantiate(tu)),
                           axes, mode)
        t_out = term if t_out is None else add(t_out, term)
    return ans, Zero(aval) if t_out is None else t_out


scatter_mul_p.def_jvp(_scatter_mul_jvp)


def _scatter_extremum_jvp(prim: Primitive):
    # Like elementwise max/min: the tangent is the mean of the tangents of the values that
    # attain the result (operand and updates alike).
    def jvp(primals: Sequence[Any], tangents: Sequence[Any], axes: tuple[int, ...], mode: str):
        from fnad.interpreters.jvp import instantiate
        (x, indices, updates), (tx, _, tu) = primals, tangents
        ans = prim.bind(x, indices, updates, axes=axes, mode=mode)
        aval, u_aval = get_aval(ans), get_aval(updates)
        if type(tx) is Zero and type(tu) is Zero:
            return ans, Zero(aval)
        x_wins = eq(x, ans)
        u_wins = eq(updates, gather(ans, indices, axes, mode))
        count = add(convert_element_type(x_wins, aval.dtype),
                    scatter_add(_zeros(aval), indices, convert_element_type(u_wins, aval.dtype),
                                axes, mode))
        total = scatter_add(select_n(x_wins, _zeros(aval), instantiate(tx)), indices,
                            select_n(u_wins, _zeros(u_aval), instantiate(tu)), axes, mode)
        return ans, div(total, count)
    return jvp


scatter_min_p.def_jvp(_scatter_extremum_jvp(scatter_min_p))
scatter_max_p.def_jvp(_scatter_extremum_jvp(scatter_max_p))

# ------------------------------------------------------------------ bitcast_convert_type

bitcast_convert_type_p = Primitive("bitcast_convert_type")


def _bitcast_shape(x: ShapedArray, new_dtype: np.dtype) -> tuple[int, ...]:
    """JAX's rule: a wider input gains a trailing axis of the width ratio; a narrower one
    loses its trailing axis, which must be that ratio."""
    old, new = x.dtype.itemsize, new_dtype.itemsize
    if old == new:
        return x.shape
    if old > new:
        return (*x.shape, old // new)
    if not x.shape or x.shape[-1] != new // old:
        raise ShapeError(f"bitcasting {x} to {new_dtype} needs a trailing axis of size "
                         f"{new // old}")
    return x.shape[:-1]


@bitcast_convert_type_p.def_abstract_eval
def _bitcast_abstract_eval(x: ShapedArray, new_dtype: np.dtype) -> ShapedArray:
    if x.dtype.kind == "b" or new_dtype.kind == "b":
        raise DTypeError(f"cannot bitcast {x.dtype} to {new_dtype}: bool has no fixed bits")
    return ShapedArray(_bitcast_shape(x, new_dtype), new_dtype)


def _bitcast_impl(x: Any, new_dtype: np.dtype) -> Any:
    """The same bits read as `new_dtype` (NumPy and CuPy alike: a contiguous view)."""
    shape = _bitcast_shape(ShapedArray(x.shape, x.dtype), new_dtype)
    return array_module([x]).ascontiguousarray(x).view(new_dtype).reshape(shape)


def _bitcast_batch(axis_size: int, vals: Sequence[Any], dims: Sequence[Any],
                   new_dtype: np.dtype) -> tuple[Any, int]:
    from fnad.interpreters.batching import moveaxis
    x = moveaxis(vals[0], dims[0], 0, axis_size)  # the trailing axis stays trailing
    return bitcast_convert_type_p.bind(x, new_dtype=new_dtype), 0


bitcast_convert_type_p.def_impl(_bitcast_impl)
bitcast_convert_type_p.def_batch(_bitcast_batch)
defjvp_zero(bitcast_convert_type_p)  # bits reinterpreted: no derivative (as in JAX)


def bitcast_convert_type(operand: Any, new_dtype: Any) -> Any:
    """The bits of `operand` as `new_dtype` (JAX's `lax.bitcast_convert_type`): a wider
    input gains a trailing axis, a narrower result drops one.

    >>> bitcast_convert_type(np.float32(1.0), np.int32)
    array(1065353216, dtype=int32)
    """
    (operand,) = asarray_like(operand)
    return bitcast_convert_type_p.bind(operand, new_dtype=np.dtype(new_dtype))


# The interpreters' array hooks (fnad.interpreters.ad_util).
ad_util.register(zeros=lambda aval: full(aval.shape, 0, aval.dtype), add=add_p.bind,
                 broadcast_in_dim=broadcast_in_dim, transpose=transpose)

__all__ = ["bitcast_convert_type", "broadcast", "broadcast_in_dim", "concatenate", "dynamic_slice",
           "dynamic_update_slice", "expand_dims", "full", "gather", "pad", "reshape", "rev",
           "scatter", "scatter_add", "scatter_max", "scatter_min", "scatter_mul", "slice",
           "squeeze", "transpose"]
