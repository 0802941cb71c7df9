"""`fnad.numpy.linalg`: norms written on `fnad.numpy` (so they work on arrays and tracers).

Decompositions (and the norms that need them: 2, -2, 'nuc' of a matrix) are not offered yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from fnad import lax
from fnad.core.ir import get_aval
from fnad.numpy._core import asarray, normalize_axes, normalize_axis, result_type
from fnad.numpy._reductions import max, min, sum
from fnad.numpy._ufuncs import absolute, multiply, power, sqrt


def _vector_norm(x: Any, ord: Any, axis: tuple[int, ...], keepdims: bool) -> Any:
    if ord is None or ord == 2:
        return sqrt(sum(multiply(x, x), axis, keepdims=keepdims))
    if ord == np.inf:
        return max(absolute(x), axis, keepdims=keepdims)
    if ord == -np.inf:
        return min(absolute(x), axis, keepdims=keepdims)
    if ord == 0:
        nonzero = lax.convert_element_type(lax.ne(x, 0), get_aval(x).dtype)
        return sum(nonzero, axis, keepdims=keepdims)
    if ord == 1:
        return sum(absolute(x), axis, keepdims=keepdims)
    p = float(ord)
    return power(sum(power(absolute(x), p), axis, keepdims=keepdims), 1.0 / p)


def _matrix_norm(x: Any, ord: Any, axis: tuple[int, int], keepdims: bool) -> Any:
    if ord is None or ord == "fro":
        return sqrt(sum(multiply(x, x), axis, keepdims=keepdims))
    if ord not in (1, -1, np.inf, -np.inf):
        raise NotImplementedError(f"matrix norm ord={ord!r} needs a singular value "
                                  "decomposition, which fnad does not offer yet")
    row, col = axis
    inner, outer = (row, col) if ord in (1, -1) else (col, row)
    sums = sum(absolute(x), inner, keepdims=True)
    out = (max if ord in (1, np.inf) else min)(sums, outer, keepdims=True)
    return out if keepdims else lax.reshape(
        out, tuple(d for i, d in enumerate(get_aval(out).shape) if i not in axis))


def norm(x: Any, ord: Any = None, axis: int | Sequence[int] | None = None,
         keepdims: bool = False) -> Any:
    """A vector norm (ord None/2, 1, inf, -inf, 0 or any p) over one axis, or a matrix
    norm ('fro'/None, 1, -1, inf, -inf) over two; with `axis=None` and `ord=None`, the
    2-norm of the flattened array, as in NumPy. Integer input gives float64, as in NumPy.

    >>> norm(np.array([3.0, 4.0]))
    np.float64(5.0)
    """
    x = asarray(x)
    x = lax.convert_element_type(x, result_type(x, 1.0))
    if get_aval(x).dtype.kind == "c":  # every norm offered depends on the magnitudes only
        x = absolute(x)
    nd = get_aval(x).ndim
    if axis is None:
        if ord is None:
            return _vector_norm(x, None, tuple(range(nd)), keepdims)
        if nd not in (1, 2):
            raise ValueError(f"norm with ord={ord!r} and axis=None needs a 1-d or 2-d array, "
                             f"got {nd}-d")
        axis = tuple(range(nd))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    if len(axes) == 1:
        return _vector_norm(x, ord, normalize_axes(axes, nd), keepdims)
    if len(axes) == 2:
        row, col = (normalize_axis(a, nd) for a in axes)
        return _matrix_norm(x, ord, (row, col), keepdims)
    raise ValueError(f"norm takes one axis (vector) or two (matrix), got {axis}")


__all__ = ["norm"]
