"""Segment reductions (JAX's `jax.ops`): `segment_sum`, `segment_prod`, `segment_max` and
`segment_min` combine the rows of `data` that share a segment id, as graph networks and
ragged batches need. Each is one scatter, so they differentiate, vectorize and compile.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fnad import numpy as fnp
from fnad.core.errors import ArgumentError, ShapeError, user_line
from fnad.core.ir import get_aval
from fnad.core.trace import Tracer
from fnad.lax.reduction import _identity


def _segment(kind: str, data: Any, segment_ids: Any, num_segments: int | None,
             mode: Any) -> Any:
    data, ids = fnp.asarray(data), fnp.asarray(segment_ids)
    name = f"segment_{kind}"
    d_shape, i_aval = get_aval(data).shape, get_aval(ids)
    if i_aval.dtype.kind not in "iu":
        raise ArgumentError(f"{name}: segment_ids must be integers, got {i_aval.dtype}"
                            f"{user_line()}")
    if i_aval.ndim != 1 or not d_shape or d_shape[0] != i_aval.shape[0]:
        raise ShapeError(f"{name}: segment_ids must be 1-d with one id per row of data, got "
                         f"shapes {i_aval.shape} and {d_shape}{user_line()}")
    if num_segments is None:
        if isinstance(ids, Tracer):
            raise ArgumentError(f"{name}: pass num_segments when segment_ids are traced (under "
                                f"jit or vmap the output size must be static){user_line()}")
        num_segments = int(np.max(ids, initial=-1)) + 1
    n = int(num_segments)
    # ids outside [0, n) contribute nothing (negative ones too, which indexing would wrap)
    ids = fnp.where((ids < 0) | (ids >= n), n, ids)
    dtype = get_aval(data).dtype
    if kind == "sum":
        start = fnp.zeros((n, *d_shape[1:]), dtype)
    elif kind == "prod":
        start = fnp.ones((n, *d_shape[1:]), dtype)
    else:  # the identity of max (min): the lowest (highest) value of the dtype
        start = fnp.full((n, *d_shape[1:]), _identity(dtype, largest=kind == "min"), dtype)
    update = {"sum": "add", "prod": "multiply", "max": "max", "min": "min"}[kind]
    return getattr(fnp.at(start)[ids], update)(data, mode="drop" if mode is None else mode)


def segment_sum(data: Any, segment_ids: Any, num_segments: int | None = None,
                indices_are_sorted: bool = False, unique_indices: bool = False,
                bucket_size: int | None = None, mode: Any = None) -> Any:
    """out[s] = the sum of the rows data[i] with segment_ids[i] == s, for s in
    range(num_segments) (by default max(segment_ids) + 1, concrete ids only); ids outside
    that range are dropped. The sortedness and bucket hints are accepted and not needed.

    >>> segment_sum(np.arange(5.0), np.array([0, 0, 1, 2, 2]), 3)
    array([1., 2., 7.])
    """
    return _segment("sum", data, segment_ids, num_segments, mode)


def segment_prod(data: Any, segment_ids: Any, num_segments: int | None = None,
                 indices_are_sorted: bool = False, unique_indices: bool = False,
                 bucket_size: int | None = None, mode: Any = None) -> Any:
    """The product of each segment's rows (1 for an empty segment); see `segment_sum`."""
    return _segment("prod", data, segment_ids, num_segments, mode)


def segment_max(data: Any, segment_ids: Any, num_segments: int | None = None,
                indices_are_sorted: bool = False, unique_indices: bool = False,
                bucket_size: int | None = None, mode: Any = None) -> Any:
    """The maximum of each segment's rows (-inf, or the dtype's lowest value, for an empty
    one; tied maxima share the gradient); see `segment_sum`."""
    return _segment("max", data, segment_ids, num_segments, mode)


def segment_min(data: Any, segment_ids: Any, num_segments: int | None = None,
                indices_are_sorted: bool = False, unique_indices: bool = False,
                bucket_size: int | None = None, mode: Any = None) -> Any:
    """The minimum of each segment's rows (+inf, or the dtype's highest value, for an empty
    one); see `segment_sum`."""
    return _segment("min", data, segment_ids, num_segments, mode)


__all__ = ["segment_max", "segment_min", "segment_prod", "segment_sum"]
