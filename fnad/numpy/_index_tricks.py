"""NumPy's index tricks `r_`, `c_`, `mgrid`, `ogrid`, `s_` and `index_exp` (JAX's
`jnp.r_`, ...): `r_` and `c_` concatenate arrays, tracers, scalars and slice ranges, so they
work under every transform; `mgrid` and `ogrid` make dense and open grids of slice ranges."""

from __future__ import annotations

from typing import Any

import numpy as np

from fnad.core.errors import ArgumentError
from fnad.core.ir import get_aval
from fnad.numpy._core import asarray, result_type
from fnad.numpy._creation import arange, linspace, meshgrid
from fnad.numpy._shape import concatenate, reshape, stack, transpose


def _range(item: slice) -> Any:
    """A slice as values: `start:stop:step` as arange's, `start:stop:nj` n points from
    start to stop (both included)."""
    start = 0 if item.start is None else item.start
    step = 1 if item.step is None else item.step
    if isinstance(step, complex):
        return linspace(start, item.stop, int(abs(step)))
    return arange(start, item.stop, step)


class _Concatenator:
    """`r_[a, b, 1:4]`: the items as arrays of at least `ndmin` dimensions (a 1-d item's
    axis placed at `trans1d`), joined along `axis`; a first string item 'axis[,ndmin[,
    trans1d]]' overrides those, as NumPy's."""

    def __init__(self, axis: int, ndmin: int, trans1d: int, name: str) -> None:
        self.axis, self.ndmin, self.trans1d, self.name = axis, ndmin, trans1d, name

    def __getitem__(self, key: Any) -> Any:
        items = list(key) if isinstance(key, tuple) else [key]
        axis, ndmin, trans1d = self.axis, self.ndmin, self.trans1d
        if items and isinstance(items[0], str):
            axis, ndmin, trans1d = self._directive(items.pop(0), ndmin, trans1d)
        values = [_range(item) if isinstance(item, slice) else item for item in items]
        if any(isinstance(v, str) for v in values):
            raise ArgumentError(f"{self.name}: a string is only allowed as the first item")
        if not values:
            return np.array([], np.float64)
        dtype = result_type(*values)
        return concatenate([self._at_least(asarray(v, dtype), ndmin, trans1d)
                            for v in values], axis)

    def _directive(self, text: str, ndmin: int, trans1d: int) -> tuple[int, int, int]:
        try:
            parts = [int(p) for p in text.split(",")]
        except ValueError:
            raise ArgumentError(f"{self.name}: the directive {text!r} is not supported; "
                                "give 'axis[,ndmin[,trans1d]]' (NumPy's matrix "
                                "directives 'r' and 'c' make no matrices here)") from None
        if len(parts) > 3:
            raise ArgumentError(f"{self.name}: too many numbers in the directive {text!r}")
        defaults = [self.axis, ndmin, trans1d]
        return tuple(parts + defaults[len(parts):])  # type: ignore[return-value]

    @staticmethod
    def _at_least(x: Any, ndmin: int, trans1d: int) -> Any:
        shape = get_aval(x).shape
        if len(shape) >= ndmin:
            return x
        x = reshape(x, (1,) * (ndmin - len(shape)) + shape)
        if trans1d == -1:
            return x
        k2, k1 = ndmin - len(shape), trans1d if trans1d >= 0 else trans1d + ndmin - len(shape) + 1
        axes = list(range(ndmin))
        return transpose(x, axes[:k1] + axes[k2:] + axes[k1:k2])


class _Grid:
    """`mgrid[0:2, 0:1:3j]`: the slice ranges' coordinates on their grid ("ij" order), in
    their common dtype: stacked into one array (dense), or as a list of arrays that
    broadcast together (open, `ogrid`); a single slice gives its range."""

    def __init__(self, sparse: bool, name: str) -> None:
        self.sparse, self.name = sparse, name

    def __getitem__(self, key: Any) -> Any:
        items = key if isinstance(key, tuple) else (key,)
        if not all(isinstance(item, slice) for item in items):
            raise ArgumentError(f"{self.name} takes slices (start:stop:step), got {key!r}")
        ranges = [_range(item) for item in items]
        if not isinstance(key, tuple):
            return ranges[0]
        # the widest kind's dtype (float32 ranges and int32 ones make float32, as JAX)
        kind = max((get_aval(r).dtype.kind for r in ranges), key="biufc".index)
        dtype = result_type(*(r for r in ranges if get_aval(r).dtype.kind == kind))
        grids = meshgrid(*(asarray(r, dtype) for r in ranges), indexing="ij",
                         sparse=self.sparse)
        return list(grids) if self.sparse else stack(grids)


r_ = _Concatenator(0, 1, -1, "r_")
c_ = _Concatenator(-1, 2, 0, "c_")
mgrid = _Grid(False, "mgrid")
ogrid = _Grid(True, "ogrid")
s_, index_exp = np.s_, np.index_exp

__all__ = ["c_", "index_exp", "mgrid", "ogrid", "r_", "s_"]
