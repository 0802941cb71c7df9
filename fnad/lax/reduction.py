"""Reductions over static axes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from fnad.core.errors import ShapeError
from fnad.core.ir import ShapedArray, get_aval
from fnad.core.primitive import Primitive
from fnad.lax._rules import NUMBER, check_dtypes, deflinear
from fnad.lax.elementwise import asarray_like


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


# ------------------------------------------------------------------ reduce_sum

reduce_sum_p = Primitive("reduce_sum")
reduce_sum_p.def_impl(lambda x, axes: np.asarray(np.sum(x, axis=axes, dtype=x.dtype)))


@reduce_sum_p.def_abstract_eval
def _reduce_sum_abstract_eval(x: ShapedArray, axes: tuple[int, ...]) -> ShapedArray:
    check_dtypes([x], NUMBER)
    return _reduced_aval(x, axes)


def _reduce_sum_transpose(ct: Any, x: Any, axes: tuple[int, ...]) -> list[Any]:
    from fnad.lax.structural import broadcast_in_dim
    kept = tuple(i for i in range(x.aval.ndim) if i not in axes)
    return [broadcast_in_dim(ct, x.aval.shape, kept)]


deflinear(reduce_sum_p, _reduce_sum_transpose)
reduce_sum_p.def_batch(_reduce_batch(reduce_sum_p))
reduce_sum_p.kernel = "sum"


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


def reduce_sum(x: Any, axes: Sequence[int]) -> Any:
    """Sum over `axes`."""
    (x,) = asarray_like(x)
    axes = normalize_axes(axes, get_aval(x).ndim)
    if not axes:
        return x
    return reduce_sum_p.bind(x, axes=axes)


__all__ = ["reduce_sum"]
