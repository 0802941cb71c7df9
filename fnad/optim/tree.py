"""optax.tree: arithmetic on pytrees of arrays (parameters, updates, moments), leaf by
leaf, and the reductions optimizers take over whole trees (sums, norms, inner products).
"""

from __future__ import annotations

import functools
import math
import operator
from typing import Any

import numpy as np

import fnad.numpy as fnp
from fnad.optim.errors import OptimizerArgumentError
from fnad.optim.numerics import (  # optax.tree's moment helpers are these
    bias_correction,
    update_infinity_moment,
    update_moment,
    update_moment_per_elem_norm,
)
from fnad.tree import tree_leaves, tree_map, tree_reduce


def _none_is_leaf(x: Any) -> bool:
    return x is None


def add(tree_x: Any, tree_y: Any, *other_trees: Any) -> Any:
    """The leafwise sum of two or more trees."""
    return tree_map(lambda *leaves: functools.reduce(operator.add, leaves), tree_x, tree_y,
                    *other_trees)


def sub(tree_x: Any, tree_y: Any) -> Any:
    """`tree_x - tree_y` leaf by leaf."""
    return tree_map(operator.sub, tree_x, tree_y)


def mul(tree_x: Any, tree_y: Any) -> Any:
    """`tree_x * tree_y` leaf by leaf."""
    return tree_map(operator.mul, tree_x, tree_y)


def div(tree_x: Any, tree_y: Any) -> Any:
    """`tree_x / tree_y` leaf by leaf."""
    return tree_map(operator.truediv, tree_x, tree_y)


def scale(scalar: Any, tree: Any) -> Any:
    """`scalar * tree` leaf by leaf."""
    return tree_map(lambda x: scalar * x, tree)


def add_scale(tree_x: Any, scalar: Any, tree_y: Any) -> Any:
    """`tree_x + scalar * tree_y` leaf by leaf (None leaves of `tree_x` stay None)."""
    return tree_map(lambda x, y: None if x is None else x + scalar * y, tree_x, tree_y,
                    is_leaf=_none_is_leaf)


def vdot(tree_x: Any, tree_y: Any) -> Any:
    """The inner product of two trees, as if each were one flattened vector (the first
    conjugated, as `vdot`)."""
    dots = tree_map(lambda a, b: fnp.vdot(fnp.ravel(a), fnp.ravel(b)), tree_x, tree_y)
    return tree_reduce(operator.add, dots, 0)


def sum(tree: Any) -> Any:  # noqa: A001 (optax's name)
    """The sum of every entry of every leaf."""
    return tree_reduce(operator.add, tree_map(fnp.sum, tree), 0)


def max(tree: Any) -> Any:  # noqa: A001 (optax's name)
    """The largest entry of any leaf (-inf for a tree without entries)."""
    maxes = [fnp.max(x) for x in tree_leaves(tree) if fnp.size(x)]
    return functools.reduce(fnp.maximum, maxes, -math.inf)


def min(tree: Any) -> Any:  # noqa: A001 (optax's name)
    """The smallest entry of any leaf (inf for a tree without entries)."""
    mins = [fnp.min(x) for x in tree_leaves(tree) if fnp.size(x)]
    return functools.reduce(fnp.minimum, mins, math.inf)


def size(tree: Any) -> int:
    """The number of entries of all leaves together."""
    return int(np.sum([fnp.size(x) for x in tree_leaves(tree)], dtype=np.int64))


def conj(tree: Any) -> Any:
    """The complex conjugate of every leaf."""
    return tree_map(fnp.conj, tree)


def real(tree: Any) -> Any:
    """The real part of every leaf."""
    return tree_map(fnp.real, tree)


def _abs_sq(x: Any) -> Any:
    return fnp.square(fnp.real(x)) + fnp.square(fnp.imag(x))


def norm(tree: Any, ord: int | float | str | None = None, squared: bool = False) -> Any:  # noqa: A002
    """The norm of all leaves as one flattened vector: L2 (`ord` None or 2), L1 or the
    max norm (`ord` inf); its square with `squared`."""
    if ord is None or ord == 2:
        sq = sum(tree_map(_abs_sq, tree))
        return fnp.asarray(sq if squared else fnp.sqrt(sq))
    if ord == 1:
        out = sum(tree_map(fnp.abs, tree))
    elif ord in (math.inf, "inf", "infinity"):
        out = max(tree_map(fnp.abs, tree))
    else:
        raise OptimizerArgumentError(f"optim.tree.norm: ord must be None, 1, 2 or inf, got {ord!r}")
    return fnp.asarray(_abs_sq(out) if squared else out)


def batch_shape(tree: Any, shape: tuple[int, ...] = ()) -> Any:
    """Every leaf broadcast to `shape` followed by its own shape."""
    return tree_map(lambda x: fnp.broadcast_to(x, (*shape, *fnp.shape(x))), tree)


def zeros_like(tree: Any, dtype: Any = None) -> Any:
    """Zeros shaped like every leaf."""
    return tree_map(lambda x: fnp.zeros_like(x, dtype=dtype), tree)


def ones_like(tree: Any, dtype: Any = None) -> Any:
    """Ones shaped like every leaf."""
    return tree_map(lambda x: fnp.ones_like(x, dtype=dtype), tree)


def full_like(tree: Any, fill_value: Any, dtype: Any = None) -> Any:
    """`fill_value` shaped like every leaf."""
    return tree_map(lambda x: fnp.full_like(x, fill_value, dtype=dtype), tree)


def clip(tree: Any, min_value: Any = None, max_value: Any = None) -> Any:
    """Every leaf clipped to [min_value, max_value]."""
    return tree_map(lambda x: fnp.clip(x, min_value, max_value), tree)


def where(condition: Any, tree_x: Any, tree_y: Any) -> Any:
    """`where(condition, x, y)` leaf by leaf."""
    return tree_map(lambda x, y: fnp.where(condition, x, y), tree_x, tree_y)


def allclose(a: Any, b: Any, rtol: Any = 1e-5, atol: Any = 1e-8, equal_nan: bool = False
             ) -> Any:
    """Whether every pair of leaves is `allclose`."""
    close = [fnp.allclose(x, y, rtol=rtol, atol=atol, equal_nan=equal_nan)
             for x, y in zip(tree_leaves(a), tree_leaves(b))]
    return functools.reduce(operator.and_, close, True)


def cast(tree: Any, dtype: Any) -> Any:
    """Every leaf as `dtype` (the tree unchanged for None)."""
    return tree if dtype is None else tree_map(lambda x: fnp.asarray(x, dtype), tree)


def cast_like(tree: Any, other_tree: Any) -> Any:
    """Every leaf as the dtype of the matching leaf of `other_tree`."""
    return tree_map(lambda x, y: fnp.asarray(x, fnp.asarray(y).dtype), tree, other_tree)


__all__ = ["add", "add_scale", "allclose", "batch_shape", "bias_correction", "cast", "cast_like",
           "clip", "conj", "div", "full_like", "max", "min", "mul", "norm", "ones_like", "real",
           "scale", "size", "sub", "sum", "update_infinity_moment", "update_moment",
           "update_moment_per_elem_norm", "vdot", "where", "zeros_like"]
