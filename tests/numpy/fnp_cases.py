"""Shared generators and the comparison every fnad.numpy test runs: the same call on
NumPy and on fnad.numpy, eagerly and staged (`check_transforms`), equal in value, shape
and dtype."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fnad import tree as tree_util
from fnad.test_util import check_transforms

FLOATS = (np.float32, np.float64)
NUMERIC = (np.float32, np.float64, np.int32)
ALL = (np.float32, np.float64, np.int32, np.bool_)

shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)
nonempty_shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)


def elements(dtype: Any, lo: float = -5, hi: float = 5, special: bool = False) -> Any:
    """Values of `dtype` in [lo, hi] (for floats, NaN and infinities too if `special`)."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return st.booleans()
    if dtype.kind in "iu":
        return st.integers(int(np.ceil(lo)), int(np.floor(hi)))
    if special:
        return st.floats(width=8 * dtype.itemsize) | st.sampled_from([np.nan, np.inf, -np.inf])
    lo, hi = (float(dtype.type(v)) for v in (lo, hi))  # representable bounds
    return st.floats(lo, hi, width=8 * dtype.itemsize)


def arrays(dtype: Any, shape: Any, lo: float = -5, hi: float = 5, special: bool = False,
           nonzero: bool = False) -> Any:
    """Arrays of `dtype` and `shape` (a tuple or a strategy); `nonzero` keeps every
    magnitude >= 1/2 (divisors)."""
    out = hnp.arrays(dtype, shape, elements=elements(dtype, lo, hi, special))
    if nonzero:
        out = out.map(lambda a: np.where(np.abs(a) < 0.5, np.ones((), a.dtype), a))
    return out


def _tol(dtype: np.dtype) -> tuple[float, float]:
    return {np.dtype(np.float16): (1e-3, 1e-3), np.dtype(np.float32): (2e-5, 1e-6)}.get(
        dtype, (1e-10, 1e-12))


def assert_same(actual: Any, expected: Any, rtol: float | None = None,
                atol: float | None = None, check_dtype: bool = True) -> None:
    """Equal structure, shapes, dtypes (unless told) and values (NaNs equal)."""
    a_leaves, a_tree = tree_util.tree_flatten(actual)
    e_leaves, e_tree = tree_util.tree_flatten(expected)
    assert a_tree == e_tree, f"structures differ: {a_tree} vs {e_tree}"
    for a, e in zip(a_leaves, e_leaves):
        a, e = np.asarray(a), np.asarray(e)
        assert a.shape == e.shape, f"shapes differ: {a.shape} vs {e.shape}"
        if check_dtype:
            assert a.dtype == e.dtype, f"dtypes differ: {a.dtype} vs NumPy's {e.dtype}"
        if e.dtype.kind in "fc":
            r, t = _tol(e.dtype)
            np.testing.assert_allclose(a, e, rtol=rtol or r, atol=atol or t, equal_nan=True)
        else:
            np.testing.assert_array_equal(a, e)


def check(fnp_fn: Callable[..., Any], np_fn: Callable[..., Any], args: Sequence[Any],
          rtol: float | None = None, atol: float | None = None, check_dtype: bool = True
          ) -> None:
    """`fnp_fn(*args)` equals `np_fn(*args)` eagerly, and tracing it changes nothing."""
    with np.errstate(all="ignore"):
        expected = np_fn(*args)
        assert_same(fnp_fn(*args), expected, rtol, atol, check_dtype)
        check_transforms(fnp_fn, args, atol, rtol)


def axes_for(ndim: int, allow_tuple: bool = True) -> Any:
    """None, an int (possibly negative) or a tuple of distinct axes of a rank-`ndim` array."""
    options = [st.none()]
    if ndim:
        options.append(st.integers(-ndim, ndim - 1))
        if allow_tuple:
            options.append(st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim)
                           .map(lambda axes: tuple(a - ndim if a % 2 else a for a in axes)))
    return st.one_of(*options)
