"""`fnad.scipy.ndimage`: `map_coordinates` as JAX has it (orders 0 and 1). Each output value
is a weighted sum of input values gathered at the neighbouring grid points, so it
differentiates in the input and (order 1) in the coordinates, jits and vmaps.

The modes are the ones SciPy documents: JAX's 'constant' and 'wrap' are SciPy's
'grid-constant' and 'grid-wrap' (points beyond the edge see `cval`, or the periodic
continuation of the whole grid)."""

from __future__ import annotations

import functools
import itertools
import math
import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import fnad.numpy as fnp
from fnad import lax
from fnad.core.errors import ArgumentError, ShapeError, user_line
from fnad.core.ir import get_aval
from fnad.scipy._util import quiet_all


def _mirror(i: Any, size: int) -> Any:
    """Reflection about the edge samples: period 2 * (size - 1), edges not repeated."""
    if size == 1:
        return fnp.zeros_like(i)
    j = i % (2 * size - 2)
    return fnp.where(j < size, j, 2 * size - 2 - j)


def _reflect(i: Any, size: int) -> Any:
    """Reflection about the outer edges of the samples: period 2 * size, edges repeated."""
    j = i % (2 * size)
    return fnp.where(j < size, j, 2 * size - 1 - j)


# mode -> index inside [0, size) that an integer grid index reads
_FOLD: dict[str, Callable[[Any, int], Any]] = {
    "constant": lambda i, size: fnp.clip(i, 0, size - 1),
    "nearest": lambda i, size: fnp.clip(i, 0, size - 1),
    "wrap": lambda i, size: i % size,
    "mirror": _mirror,
    "reflect": _reflect,
}
_SCIPY_ONLY = ("grid-constant", "grid-wrap", "grid-mirror")


def _nodes(c: Any, order: int) -> list[tuple[Any, Any]]:
    """(integer grid index, weight) pairs that interpolate at coordinate `c` (1-D)."""
    if order == 0:
        # JAX rounds half away from zero (SciPy's own rule differs at exact halves)
        return [(lax.convert_element_type(lax.round(c), np.int32), None)]
    lower = fnp.floor(c)
    upper_weight = c - lower
    index = lax.convert_element_type(lower, np.int32)
    return [(index, 1 - upper_weight), (index + 1, upper_weight)]


def map_coordinates(input: Any, coordinates: Sequence[Any], order: int,  # noqa: A002
                    mode: str = "constant", cval: Any = 0.0) -> Any:
    """The values of `input` at fractional `coordinates` (one array per axis, broadcast
    together) by nearest-neighbour (`order=0`) or multilinear (`order=1`) interpolation;
    `mode` says what points outside the grid read. Integer inputs give their dtype, the
    interpolated value rounded half away from zero, as JAX."""
    if mode not in _FOLD:
        if mode in _SCIPY_ONLY:
            raise NotImplementedError(f"map_coordinates: mode {mode!r} is not supported (as in "
                                      f"JAX); the modes are {sorted(_FOLD)}")
        raise ArgumentError(f"map_coordinates: mode must be one of {sorted(_FOLD)}, got "
                            f"{mode!r}")
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)):
        raise ArgumentError(f"map_coordinates: order must be an integer, got {order!r}")
    if order not in (0, 1):
        raise NotImplementedError(f"map_coordinates: order must be 0 or 1 (as in JAX), got "
                                  f"{order}")
    input = fnp.asarray(input)  # noqa: A001
    shape = get_aval(input).shape
    if isinstance(coordinates, (str, bytes)) or not hasattr(coordinates, "__len__"):
        raise ArgumentError("map_coordinates: coordinates must be a sequence of arrays, one "
                            f"per axis of input, got {type(coordinates).__name__}")
    coords = [fnp.asarray(c) for c in coordinates]
    if len(coords) != len(shape) or not shape:
        raise ShapeError(f"map_coordinates: coordinates must be a sequence of input.ndim "
                         f"({len(shape)}) arrays, got {len(coords)}{user_line()}")
    if 0 in shape:
        raise ShapeError(f"map_coordinates: input of shape {shape} has no values to "
                         f"interpolate{user_line()}")
    dtype = get_aval(input).dtype
    if any(get_aval(c).dtype.kind == "c" for c in coords):
        raise ArgumentError("map_coordinates: coordinates must be real")
    # integer coordinates are exact in the input's float precision
    real = np.dtype(np.float64 if dtype in (np.float64, np.complex128) else np.float32)
    coords = [c if get_aval(c).dtype.kind == "f" else lax.convert_element_type(c, real)
              for c in coords]
    fill = fnp.asarray(cval, dtype=dtype)
    per_axis = []
    for c, size in zip(coords, shape):
        pairs = []
        for index, weight in _nodes(c, order):
            inside = (index >= 0) & (index < size) if mode == "constant" else None
            pairs.append((_FOLD[mode](index, size), inside, weight))
        per_axis.append(pairs)
    total = None
    for corner in itertools.product(*per_axis):
        indices, insides, weights = zip(*corner)
        value = fnp.at(input)[tuple(indices)].get()  # input may be NumPy, indices traced
        if mode == "constant":
            value = fnp.where(functools.reduce(operator.and_, insides), value, fill)
        if order == 1:
            value = math.prod(weights[1:], start=weights[0]) * value
        total = value if total is None else total + value
    if dtype.kind in "iu" and order == 1:
        total = lax.round(total)
    return fnp.asarray(total).astype(dtype)


__all__ = ["map_coordinates"]

quiet_all(globals(), __all__)
