"""Structural primitives: broadcasting, reshaping and moving data without arithmetic.

All are linear; each block gives the impl, the abstract evaluation, the transpose (the
jvp follows from linearity) and the batch rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from fnad.core.errors import ShapeError
from fnad.core.ir import ShapedArray, get_aval
from fnad.core.primitive import Primitive
from fnad.lax._rules import deflinear
from fnad.lax.elementwise import asarray_like

# ------------------------------------------------------------------ broadcast_in_dim

broadcast_in_dim_p = Primitive("broadcast_in_dim")


def _broadcast_in_dim_impl(x: np.ndarray, shape: tuple[int, ...],
                           broadcast_dimensions: tuple[int, ...]) -> np.ndarray:
    expanded = [1] * len(shape)
    for d, size in zip(broadcast_dimensions, np.shape(x)):
        expanded[d] = size
    return np.broadcast_to(np.reshape(x, expanded), shape)


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
broadcast_in_dim_p.kernel = "broadcast"


def broadcast_in_dim(x: Any, shape: Sequence[int], broadcast_dimensions: Sequence[int]) -> Any:
    """Broadcast `x` to `shape`, its axis i becoming output axis `broadcast_dimensions[i]`."""
    (x,) = asarray_like(x)
    shape, dims = tuple(int(d) for d in shape), tuple(int(d) for d in broadcast_dimensions)
    if get_aval(x).shape == shape and dims == tuple(range(len(shape))):
        return x
    return broadcast_in_dim_p.bind(x, shape=shape, broadcast_dimensions=dims)


def broadcast(x: Any, sizes: Sequence[int]) -> Any:
    """Add leading axes of the given sizes."""
    (x,) = asarray_like(x)
    nd = get_aval(x).ndim
    return broadcast_in_dim(x, tuple(sizes) + get_aval(x).shape,
                            tuple(range(len(sizes), len(sizes) + nd)))


def full(shape: Sequence[int], fill_value: Any, dtype: Any = None) -> Any:
    """An array of `shape` filled with `fill_value` (float32 for a Python float)."""
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
reshape_p.def_impl(lambda x, new_sizes: np.reshape(x, new_sizes))


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


deflinear(reshape_p, lambda ct, x, new_sizes: [reshape(ct, x.aval.shape)])
reshape_p.def_batch(_reshape_batch)


def reshape(x: Any, new_sizes: Sequence[int]) -> Any:
    """`x` with shape `new_sizes` (row-major order; no -1)."""
    (x,) = asarray_like(x)
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


deflinear(transpose_p, _transpose_transpose)
transpose_p.def_batch(_transpose_batch)


def transpose(x: Any, permutation: Sequence[int]) -> Any:
    """Permute the axes of `x`: output axis i is input axis `permutation[i]`."""
    (x,) = asarray_like(x)
    permutation = tuple(int(p) for p in permutation)
    if permutation == tuple(range(len(permutation))):
        return x
    return transpose_p.bind(x, permutation=permutation)


__all__ = ["broadcast", "broadcast_in_dim", "full", "reshape", "transpose"]
