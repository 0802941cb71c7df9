"""Sorting along a static axis, on `lax.sort` (stable, NaNs last, as NumPy)."""

from __future__ import annotations

from typing import Any

import numpy as np

from fnad import lax
from fnad.core.ir import get_aval
from fnad.numpy._core import asarray, normalize_axis
from fnad.numpy._shape import ravel


def _prepare(a: Any, axis: int | None) -> tuple[Any, int]:
    a = asarray(a)
    if axis is None:
        return ravel(a), 0
    return a, normalize_axis(axis, get_aval(a).ndim)


def sort(a: Any, axis: int | None = -1, kind: Any = None, order: Any = None,
         stable: bool | None = None) -> Any:
    """`a` sorted along `axis` (the flattened array for None); always stable."""
    del kind, stable
    if order is not None:
        raise NotImplementedError("sort with `order` (structured arrays) is not supported")
    a, ax = _prepare(a, axis)
    return lax.sort(a, dimension=ax)


def argsort(a: Any, axis: int | None = -1, kind: Any = None, order: Any = None,
            stable: bool | None = None) -> Any:
    """The int64 indices that sort `a` along `axis`; ties keep their order (stable)."""
    del kind, stable
    if order is not None:
        raise NotImplementedError("argsort with `order` (structured arrays) is not supported")
    a, ax = _prepare(a, axis)
    return lax.argsort(a, dimension=ax, index_dtype=np.int64)


__all__ = ["argsort", "sort"]
