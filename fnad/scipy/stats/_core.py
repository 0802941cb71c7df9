"""The statistics functions of `jax.scipy.stats`: `mode`, `rankdata` and `sem`, written with
pairwise comparisons along one axis (exact, and usable under every transform)."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

import fnad.numpy as fnp
from fnad.core.errors import ArgumentError, ShapeError
from fnad.scipy._util import quiet_all


class ModeResult(NamedTuple):
    mode: Any
    count: Any


def _last(a: Any, axis: int | None) -> Any:
    """`a` with `axis` moved last (flattened when axis is None)."""
    a = fnp.asarray(a)
    return fnp.reshape(a, (-1,)) if axis is None else fnp.moveaxis(a, axis, -1)


def _check_policy(name: str, nan_policy: str) -> None:
    if nan_policy != "propagate":
        raise NotImplementedError(f"{name}: nan_policy={nan_policy!r} is not supported "
                                  "(only 'propagate', as in JAX)")


def mode(a: Any, axis: int | None = 0, nan_policy: str = "propagate",
         keepdims: bool = False) -> ModeResult:
    """The most common value along `axis` (the smallest of ties) and its count.

    >>> mode(np.array([1, 2, 2, 3]))
    ModeResult(mode=array(2), count=array(2, dtype=int32))
    """
    _check_policy("mode", nan_policy)
    x = _last(a, axis)
    if x.shape[-1] == 0:
        raise ShapeError("mode: the reduced axis is empty")
    counts = fnp.sum(x[..., :, None] == x[..., None, :], axis=-1, dtype=np.int32)
    best = fnp.max(counts, axis=-1, keepdims=True)
    big = fnp.where(counts == best, x, fnp.max(x, axis=-1, keepdims=True))
    value, count = fnp.min(big, axis=-1), fnp.max(counts, axis=-1)
    if keepdims:
        out_axis = -1 if axis is None else axis
        value, count = fnp.expand_dims(value, out_axis), fnp.expand_dims(count, out_axis)
    return ModeResult(value, count)


def rankdata(a: Any, method: str = "average", *, axis: int | None = None,
             nan_policy: str = "propagate") -> Any:
    """Ranks from 1 of the entries along `axis` (all of `a` when None), ties resolved by
    `method`: 'average', 'min', 'max', 'dense' or 'ordinal'.

    >>> rankdata(np.array([10, 20, 20, 5]))
    array([2. , 3.5, 3.5, 1. ])
    """
    _check_policy("rankdata", nan_policy)
    x = _last(a, axis)
    less = fnp.sum(x[..., None, :] < x[..., :, None], axis=-1)
    equal = fnp.sum(x[..., None, :] == x[..., :, None], axis=-1)
    if method == "average":
        out = less + (equal + 1) / 2
    elif method == "min":
        out = less + 1
    elif method == "max":
        out = less + equal
    elif method == "dense":
        smaller = x[..., None, :] < x[..., :, None]
        out = fnp.sum(fnp.where(smaller, 1 / equal[..., None, :], 0.0), axis=-1)
        out = fnp.round(out).astype(np.int64) + 1
    elif method == "ordinal":
        out = fnp.argsort(fnp.argsort(x, axis=-1, stable=True), axis=-1) + 1
    else:
        raise ArgumentError(f"rankdata: unknown method {method!r}; use 'average', 'min', "
                         "'max', 'dense' or 'ordinal'")
    out = out if method == "average" else fnp.asarray(out, np.int64)
    if axis is None:
        return fnp.reshape(out, fnp.shape(a)) if np.ndim(a) == 1 else out
    return fnp.moveaxis(out, -1, axis)


def sem(a: Any, axis: int | None = 0, ddof: int = 1, nan_policy: str = "propagate", *,
        keepdims: bool = False) -> Any:
    """The standard error of the mean, std(a, ddof) / sqrt(n), along `axis`.

    >>> round(float(sem(np.array([1.0, 2.0, 3.0]))), 6)
    0.57735
    """
    _check_policy("sem", nan_policy)
    x = fnp.asarray(a)
    if fnp.asarray(x).dtype.kind not in "fc":
        x = fnp.asarray(x, np.float32)
    n = x.size if axis is None else x.shape[axis]
    return fnp.std(x, axis=axis, ddof=ddof, keepdims=keepdims) / np.sqrt(n)


__all__ = ["ModeResult", "mode", "rankdata", "sem"]
quiet_all(globals(), ["mode", "rankdata", "sem"])
