"""`optax.projections`: Euclidean projections of a pytree (as one vector) onto convex
sets, for projected gradient methods: `params = projection_simplex(params)` after each
update. Each is the argmin of ||x - y||_2 over the set, built from differentiable
operations (a sort for the simplex and the l1 ball), with fnad.numpy's functions rather
than operators: on eager NumPy values an operator is NumPy's, warnings and all.
"""

from __future__ import annotations

from typing import Any

import fnad.numpy as fnp
from fnad.flatten_util import ravel_pytree
from fnad.optim.errors import OptimizerArgumentError
from fnad.tree import tree_map, tree_structure


def _vector(tree: Any) -> tuple[Any, Any]:
    """The tree as one flat vector, and the way back (each leaf keeps its dtype)."""
    return ravel_pytree(tree_map(fnp.asarray, tree))


def _bound(value: Any, tree: Any, name: str) -> Any:
    """A bound given as a scalar, or as a tree of the same structure, leaf by leaf."""
    if tree_structure(value).num_leaves == 1 and not isinstance(value, (list, tuple, dict)):
        return tree_map(lambda _: value, tree)
    if tree_structure(value) != tree_structure(tree):
        raise OptimizerArgumentError(f"{name}: a scalar or a tree of the structure of the "
                                     f"projected tree, got {tree_structure(value)}")
    return value


def projection_box(tree: Any, lower: Any, upper: Any) -> Any:
    """Onto lower <= y <= upper (scalars, or trees shaped like `tree`): a clip."""
    return tree_map(lambda x, lo, hi: fnp.clip(x, lo, hi), tree,
                    _bound(lower, tree, "projection_box"),
                    _bound(upper, tree, "projection_box"))


def projection_hypercube(tree: Any, scale: Any = 1) -> Any:
    """Onto the hypercube [0, scale]^n."""
    return projection_box(tree, 0, scale)


def projection_non_negative(tree: Any) -> Any:
    """Onto the non-negative orthant: max(x, 0)."""
    return tree_map(lambda x: fnp.maximum(x, 0), tree)


def projection_linf_ball(tree: Any, scale: Any = 1) -> Any:
    """Onto ||y||_inf <= scale: a clip to [-scale, scale]."""
    return projection_box(tree, -scale, scale)


def _simplex(v: Any, scale: Any) -> Any:
    """Onto {y >= 0, sum(y) = scale} by the sort-based rule: the threshold theta with
    sum(max(v - theta, 0)) = scale, read off the largest entries."""
    u = fnp.sort(v)[::-1]
    cumulative = fnp.subtract(fnp.cumsum(u), scale)
    ranks = fnp.arange(1, v.shape[0] + 1, dtype=v.dtype)
    support = fnp.sum(fnp.subtract(u, fnp.divide(cumulative, ranks)) > 0)  # stay positive
    theta = fnp.divide(cumulative[support - 1], support.astype(v.dtype))
    return fnp.maximum(fnp.subtract(v, theta), 0)


def projection_simplex(tree: Any, scale: Any = 1) -> Any:
    """Onto the simplex {y >= 0, sum of all entries = scale} (the probability simplex by
    default), the whole tree as one vector.

    >>> import numpy as np
    >>> projection_simplex(np.array([0.5, 2.0, -1.0]))
    array([0., 1., 0.])
    """
    v, unravel = _vector(tree)
    return unravel(_simplex(v, scale))


def projection_l1_sphere(tree: Any, scale: Any = 1) -> Any:
    """Onto ||y||_1 = scale: the signs of x on the simplex projection of |x|."""
    v, unravel = _vector(tree)
    return unravel(fnp.multiply(fnp.sign(v), _simplex(fnp.abs(v), scale)))


def projection_l1_ball(tree: Any, scale: Any = 1) -> Any:
    """Onto ||y||_1 <= scale: x itself inside, its l1-sphere projection outside."""
    v, unravel = _vector(tree)
    inside = fnp.sum(fnp.abs(v)) <= scale
    return unravel(fnp.where(inside, v, fnp.multiply(fnp.sign(v), _simplex(fnp.abs(v), scale))))


def projection_l2_sphere(tree: Any, scale: Any = 1) -> Any:
    """Onto ||y||_2 = scale: x rescaled to that norm."""
    v, unravel = _vector(tree)
    return unravel(fnp.multiply(v, fnp.divide(scale, fnp.linalg.norm(v))))


def projection_l2_ball(tree: Any, scale: Any = 1) -> Any:
    """Onto ||y||_2 <= scale: x, rescaled only where its norm is larger (scale > 0)."""
    v, unravel = _vector(tree)
    norm = fnp.linalg.norm(v)
    return unravel(fnp.multiply(v, fnp.divide(scale, fnp.maximum(norm, scale))))


def _plane_step(x: Any, a: Any) -> tuple[Any, Any, Any]:
    v, unravel = _vector(x)
    w, _ = _vector(a)
    if w.shape != v.shape:
        raise OptimizerArgumentError(f"a has {w.shape[0]} entries, x has {v.shape[0]}: they "
                                     "must be trees of the same structure and shapes")
    return v, w, unravel


def projection_halfspace(x: Any, a: Any, b: Any) -> Any:
    """Onto {y : <a, y> <= b} (`a` a tree shaped like `x`, `b` a scalar)."""
    v, w, unravel = _plane_step(x, a)
    excess = fnp.maximum(fnp.subtract(fnp.vdot(w, v), b), 0)
    return unravel(fnp.subtract(v, fnp.multiply(fnp.divide(excess, fnp.vdot(w, w)), w)))


def projection_hyperplane(x: Any, a: Any, b: Any) -> Any:
    """Onto {y : <a, y> = b}."""
    v, w, unravel = _plane_step(x, a)
    return unravel(fnp.subtract(v, fnp.multiply(
        fnp.divide(fnp.subtract(fnp.vdot(w, v), b), fnp.vdot(w, w)), w)))


def projection_vector(x: Any, a: Any) -> Any:
    """Onto the line spanned by `a`: (<a, x> / <a, a>) a."""
    v, w, unravel = _plane_step(x, a)
    return unravel(fnp.multiply(fnp.divide(fnp.vdot(w, v), fnp.vdot(w, w)), w))


__all__ = ["projection_box", "projection_halfspace", "projection_hypercube",
           "projection_hyperplane", "projection_l1_ball", "projection_l1_sphere",
           "projection_l2_ball", "projection_l2_sphere", "projection_linf_ball",
           "projection_non_negative", "projection_simplex", "projection_vector"]
