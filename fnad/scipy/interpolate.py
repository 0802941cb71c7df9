"""`fnad.scipy.interpolate`: `RegularGridInterpolator` as JAX has it ('linear' and 'nearest'
on a rectilinear grid, `fill_value` outside it). The cell of each query point comes from
`searchsorted` on each axis; the value is a weighted sum of the cell's corners, so it
differentiates in the query points, the values and the grid, jits and vmaps. The
interpolator is a pytree (grid, values, fill_value), so it can be a `jit` argument."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

import fnad.numpy as fnp
from fnad import tree
from fnad.core.errors import ArgumentError, ShapeError, user_line
from fnad.core.ir import get_aval
from fnad.core.trace import Tracer
from fnad.scipy._util import promote_inexact, quiet_methods

_METHODS = ("linear", "nearest")


def _get(table: Any, index: Any) -> Any:
    """`table[index]` where the table may be a NumPy array and the index traced."""
    return fnp.at(table)[index].get()


def _check_method(method: Any) -> None:
    if method not in _METHODS:
        raise ArgumentError(f"RegularGridInterpolator: method must be 'linear' or 'nearest', "
                            f"got {method!r}")


class RegularGridInterpolator:
    """Interpolation of `values` given on the grid `points` (one strictly increasing 1-d
    array per leading axis of `values`), as `scipy.interpolate.RegularGridInterpolator`
    in JAX's form: query points outside the grid give `fill_value` (NaN by default), or
    are extrapolated from the edge cells when it is None; `bounds_error=True` is not
    supported, as in JAX (the check would need concrete query points)."""

    def __init__(self, points: Sequence[Any], values: Any, method: str = "linear",
                 bounds_error: bool = False, fill_value: Any = np.nan) -> None:
        _check_method(method)
        if bounds_error:
            raise NotImplementedError("RegularGridInterpolator: bounds_error=True is not "
                                      "supported (as in JAX); use fill_value instead")
        (values,) = promote_inexact(fnp.asarray(values))
        shape = get_aval(values).shape
        if len(points) > len(shape):
            raise ShapeError(f"RegularGridInterpolator: there are {len(points)} point "
                             f"arrays, but values has {len(shape)} dimensions{user_line()}")
        # integer grids become float32 (JAX computes int32 - float32 in float32)
        grid = tuple(promote_inexact(fnp.asarray(p))[0] for p in points)
        for i, g in enumerate(grid):
            if get_aval(g).shape != (shape[i],):
                raise ShapeError(f"RegularGridInterpolator: points[{i}] must be 1-d with "
                                 f"values.shape[{i}] = {shape[i]} entries, got shape "
                                 f"{get_aval(g).shape}{user_line()}")
            if get_aval(g).dtype.kind == "c":
                raise ArgumentError(f"RegularGridInterpolator: points[{i}] must be real")
            if not isinstance(g, Tracer) and not bool(fnp.all(g[1:] > g[:-1])):
                raise ArgumentError(f"RegularGridInterpolator: points[{i}] must be strictly "
                                    "increasing (reverse it and that axis of values)")
        if fill_value is not None:
            fill_value = fnp.asarray(fill_value)
            dtype = get_aval(values).dtype
            if not np.can_cast(get_aval(fill_value).dtype, dtype, casting="same_kind"):
                raise ArgumentError("RegularGridInterpolator: fill_value must be None or of a "
                                    f"type compatible with values ({dtype}), got "
                                    f"{get_aval(fill_value).dtype}")
            fill_value = fill_value.astype(dtype)
        self.method = method
        self.bounds_error = bounds_error
        self.grid = grid
        self.values = values
        self.fill_value = fill_value

    def __call__(self, xi: Any, method: str | None = None) -> Any:
        """The interpolated values at `xi`: an array whose last axis holds the coordinates
        (a 1-d array is a list of points), or a tuple of coordinate arrays that broadcast
        together. The result has xi's point shape followed by values' trailing axes."""
        method = self.method if method is None else method
        _check_method(method)
        ndim = len(self.grid)
        xi = self._points(xi, ndim)
        point_shape = get_aval(xi).shape[:-1]
        xi = xi.reshape(-1, ndim)
        indices, distances = [], []
        outside = None
        for d, g in enumerate(self.grid):
            x = xi[:, d]
            size = get_aval(g).shape[0]
            if size == 1:
                if method == "linear":
                    raise ShapeError(f"RegularGridInterpolator: method 'linear' needs at least "
                                     f"2 points in each dimension, got 1 in dimension {d}"
                                     f"{user_line()}")
                i, y = fnp.zeros(x.shape, np.int32), fnp.zeros_like(x)
            else:
                i = fnp.clip(fnp.searchsorted(g, x) - 1, 0, size - 2)
                y = (x - _get(g, i)) / (_get(g, i + 1) - _get(g, i))
            indices.append(i)
            distances.append(y)
            beyond = (x < g[0]) | (x > g[-1])
            outside = beyond if outside is None else outside | beyond
        trailing = (None,) * (get_aval(self.values).ndim - ndim)
        if method == "nearest":
            result = _get(self.values, tuple(fnp.where(y <= 0.5, i, i + 1)
                                             for i, y in zip(indices, distances)))
        else:
            result = None
            for corner in itertools.product((False, True), repeat=ndim):
                weight = math.prod((y if up else 1 - y for up, y in zip(corner, distances)),
                                   start=1)
                term = _get(self.values, tuple(i + up for up, i in zip(corner, indices)))
                term = term * weight[(slice(None), *trailing)]
                result = term if result is None else result + term
        if self.fill_value is not None:
            result = fnp.where(outside[(slice(None), *trailing)], self.fill_value, result)
        return result.reshape(point_shape + get_aval(self.values).shape[ndim:])

    @staticmethod
    def _points(xi: Any, ndim: int) -> Any:
        """The query points as one inexact array of shape (..., ndim)."""
        if isinstance(xi, tuple) and len(xi) == 1:
            xi = xi[0]
        if isinstance(xi, tuple):
            xi = fnp.stack(promote_inexact(*(fnp.asarray(c) for c in xi)), axis=-1)
        else:
            (xi,) = promote_inexact(fnp.asarray(xi))
            if get_aval(xi).ndim == 1:
                xi = xi.reshape(-1, ndim)
        if get_aval(xi).dtype.kind == "c":
            raise ArgumentError("RegularGridInterpolator: the query points must be real")
        if get_aval(xi).ndim == 0 or get_aval(xi).shape[-1] != ndim:
            raise ShapeError(f"RegularGridInterpolator: the query points have dimension "
                             f"{get_aval(xi).shape[-1:]}, but the grid has dimension {ndim}"
                             f"{user_line()}")
        return xi


def _unflatten(aux: tuple[str, bool], children: Sequence[Any]) -> RegularGridInterpolator:
    """The interpolator around transformed leaves, unchecked (they may be tracers or the
    placeholders tree utilities use)."""
    obj = object.__new__(RegularGridInterpolator)
    obj.method, obj.bounds_error = aux
    obj.grid, obj.values, obj.fill_value = children
    return obj


tree.register_pytree_node(
    RegularGridInterpolator,
    lambda obj: ((obj.grid, obj.values, obj.fill_value), (obj.method, obj.bounds_error)),
    _unflatten)

quiet_methods(RegularGridInterpolator, ["__init__", "__call__"])

__all__ = ["RegularGridInterpolator"]
