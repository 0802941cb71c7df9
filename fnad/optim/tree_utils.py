"""`optax.tree_utils`: arithmetic, reductions and state look-ups over pytrees, so that
optimizer code written as `optax.tree_utils.tree_add(...)` or `otu.tree_get(state,
"count")` runs unchanged. `fnad.optim.tree` has the same functions without the `tree_`
prefix, as `optax.tree` has.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable
from typing import Any

import numpy as np

import fnad.numpy as fnp
from fnad import random
from fnad.optim.errors import OptimizerArgumentError, OptimizerKeyError
from fnad.optim.numerics import (
    bias_correction as tree_bias_correction,
    tree_add_scale,
    tree_vdot,
    update_infinity_moment as tree_update_infinity_moment,
    update_moment as tree_update_moment,
    update_moment_per_elem_norm as tree_update_moment_per_elem_norm,
)
from fnad.optim.wrappers import tree_map_params
from fnad.tree import DictKey, SequenceKey, tree_leaves, tree_map, tree_reduce, tree_structure

# ------------------------------------------------------------------------------ arithmetic


def tree_add(tree_x: Any, tree_y: Any, *other_trees: Any) -> Any:
    """The leafwise sum of two or more pytrees of one structure."""
    return tree_map(lambda *leaves: sum(leaves[1:], leaves[0]), tree_x, tree_y, *other_trees)


def tree_sub(tree_x: Any, tree_y: Any) -> Any:
    """`tree_x - tree_y`, leaf by leaf."""
    return tree_map(operator.sub, tree_x, tree_y)


def tree_mul(tree_x: Any, tree_y: Any) -> Any:
    """`tree_x * tree_y`, leaf by leaf."""
    return tree_map(operator.mul, tree_x, tree_y)


def tree_div(tree_x: Any, tree_y: Any) -> Any:
    """`tree_x / tree_y`, leaf by leaf."""
    return tree_map(operator.truediv, tree_x, tree_y)


def tree_scale(scalar: Any, tree: Any) -> Any:
    """Every leaf times `scalar`."""
    return tree_map(lambda x: scalar * x, tree)


def tree_conj(tree: Any) -> Any:
    """The complex conjugate of every leaf."""
    return tree_map(fnp.conj, tree)


def tree_real(tree: Any) -> Any:
    """The real part of every leaf."""
    return tree_map(fnp.real, tree)


def tree_where(condition: Any, tree_x: Any, tree_y: Any) -> Any:
    """`where(condition, x, y)` for each pair of leaves."""
    return tree_map(lambda x, y: fnp.where(condition, x, y), tree_x, tree_y)


def tree_clip(tree: Any, min_value: Any = None, max_value: Any = None) -> Any:
    """Every leaf clipped to `[min_value, max_value]` (`None`: unbounded)."""
    return tree_map(lambda x: fnp.clip(x, min_value, max_value), tree)


# ------------------------------------------------------------------------------ reductions


def tree_sum(tree: Any, associative_reduction: bool = False) -> Any:
    """The sum of every element of every leaf (0 for an empty tree)."""
    return tree_reduce(operator.add, tree_map(fnp.sum, tree), 0)


def tree_max(tree: Any) -> Any:
    """The largest element of the tree (-inf for a tree without elements)."""
    maxes = [fnp.max(x) for x in tree_leaves(tree) if fnp.size(x)]
    return tree_reduce(fnp.maximum, maxes, -float("inf"))


def tree_min(tree: Any) -> Any:
    """The smallest element of the tree (inf for a tree without elements)."""
    mins = [fnp.min(x) for x in tree_leaves(tree) if fnp.size(x)]
    return tree_reduce(fnp.minimum, mins, float("inf"))


def tree_size(tree: Any) -> int:
    """The number of elements in all leaves together."""
    return sum(int(np.size(x)) for x in tree_leaves(tree))


def tree_norm(tree: Any, ord: Any = None, squared: bool = False) -> Any:  # noqa: A002
    """The vector norm of all leaves taken as one vector: `ord` is None or 2, 1, or inf."""
    if ord is None or ord == 2:
        sq = tree_sum(tree_map(lambda x: fnp.real(x * fnp.conj(x)), tree))
        return fnp.asarray(sq if squared else fnp.sqrt(sq))
    if ord == 1:
        out = tree_sum(tree_map(fnp.abs, tree))
    elif ord in (np.inf, "inf", "infinity"):
        out = tree_max(tree_map(fnp.abs, tree))
    else:
        raise OptimizerArgumentError(f"tree_norm: ord={ord!r} is not supported; use None, 1, 2 or inf")
    return fnp.asarray(out * out if squared else out)


def tree_allclose(a: Any, b: Any, rtol: Any = 1e-05, atol: Any = 1e-08,
                  equal_nan: bool = False) -> bool:
    """Whether two pytrees have one structure and leaves that are all close."""
    if tree_structure(a) != tree_structure(b):
        return False
    return all(bool(fnp.allclose(x, y, rtol=rtol, atol=atol, equal_nan=equal_nan))
               for x, y in zip(tree_leaves(a), tree_leaves(b)))


# --------------------------------------------------------------------- creation, casting


def tree_zeros_like(tree: Any, dtype: Any = None) -> Any:
    """A tree of the same structure with every leaf zeros."""
    return tree_map(lambda x: fnp.zeros_like(x, dtype=dtype), tree)


def tree_ones_like(tree: Any, dtype: Any = None) -> Any:
    """A tree of the same structure with every leaf ones."""
    return tree_map(lambda x: fnp.ones_like(x, dtype=dtype), tree)


def tree_full_like(tree: Any, fill_value: Any, dtype: Any = None) -> Any:
    """A tree of the same structure with every leaf filled with `fill_value`."""
    return tree_map(lambda x: fnp.full_like(x, fill_value, dtype=dtype), tree)


def tree_cast(tree: Any, dtype: Any) -> Any:
    """Every leaf converted to `dtype` (`None`: unchanged)."""
    return tree if dtype is None else tree_map(lambda x: fnp.asarray(x).astype(dtype), tree)


def tree_cast_like(tree: Any, other_tree: Any) -> Any:
    """Every leaf converted to the dtype of the matching leaf of `other_tree`."""
    return tree_map(lambda x, y: fnp.asarray(x).astype(fnp.asarray(y).dtype), tree, other_tree)


def tree_dtype(tree: Any, mixed_dtype_handler: str | None = None) -> Any:
    """The dtype the leaves share; with leaves of several dtypes, `mixed_dtype_handler`
    picks one: 'promote' (their result type), 'highest' or 'lowest' (by itemsize)."""
    dtypes = [fnp.asarray(x).dtype for x in tree_leaves(tree)]
    if not dtypes:
        return fnp.zeros(()).dtype
    if len(set(dtypes)) == 1:
        return dtypes[0]
    if mixed_dtype_handler == "promote":
        return fnp.result_type(*dtypes)
    if mixed_dtype_handler in ("highest", "lowest"):
        pick = max if mixed_dtype_handler == "highest" else min
        return pick(dtypes, key=lambda d: d.itemsize)
    raise OptimizerArgumentError(f"tree_dtype: the leaves have dtypes {sorted({d.name for d in dtypes})}; "
                     "pass mixed_dtype_handler='promote', 'highest' or 'lowest'")


def tree_batch_shape(tree: Any, shape: tuple[int, ...] = ()) -> Any:
    """Shape-and-dtype stand-ins for the leaves with `shape` prepended."""
    from fnad.api_extra import ShapeDtypeStruct

    return tree_map(lambda x: ShapeDtypeStruct(tuple(shape) + np.shape(x),
                                               fnp.asarray(x).dtype), tree)


def tree_split_key_like(rng_key: Any, target_tree: Any) -> Any:
    """One independent key per leaf of `target_tree`, in a tree of its structure."""
    structure = tree_structure(target_tree)
    keys = random.split(rng_key, structure.num_leaves)
    return structure.unflatten(list(keys))


def tree_random_like(rng_key: Any, target_tree: Any,
                     sampler: Callable[..., Any] = random.normal, dtype: Any = None) -> Any:
    """Random leaves shaped like `target_tree`'s, each drawn with its own key."""
    keys = tree_split_key_like(rng_key, target_tree)
    return tree_map(lambda x, k: sampler(k, np.shape(x), dtype or fnp.asarray(x).dtype),
                    target_tree, keys)


def tree_unwrap_random_key_data(input_tree: Any) -> Any:
    """The tree itself: fnad's keys are raw uint32 arrays already."""
    return input_tree


# ---------------------------------------------------------------------------- state access


@dataclasses.dataclass(frozen=True)
class NamedTupleKey:
    """A path entry for the field `name` of a named tuple of class `tuple_name`."""

    tuple_name: str
    name: str


def _is_named_tuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(x, "_fields")


def _children(node: Any) -> list[tuple[Any, Any, Any]]:
    """(path entry, name to match, child) of a dict, named tuple, list or tuple."""
    if isinstance(node, dict):
        return [(DictKey(k), k, v) for k, v in node.items()]
    if _is_named_tuple(node):
        return [(NamedTupleKey(type(node).__name__, f), f, getattr(node, f))
                for f in node._fields]
    if isinstance(node, (list, tuple)):
        return [(SequenceKey(i), i, v) for i, v in enumerate(node)]
    return []


def tree_get_all_with_path(tree: Any, key: Any,
                           filtering: Callable[[tuple, Any], bool] | None = None
                           ) -> list[tuple[tuple, Any]]:
    """Every `(path, value)` whose dict key, named-tuple field or named-tuple class name is
    `key` (and that `filtering(path, value)` accepts), outermost first."""
    found: list[tuple[tuple, Any]] = []

    def visit(path: tuple, node: Any) -> None:
        if _is_named_tuple(node) and type(node).__name__ == key and (
                filtering is None or filtering(path, node)):
            found.append((path, node))
            return
        for entry, name, child in _children(node):
            if name == key and not isinstance(name, int) and (
                    filtering is None or filtering((*path, entry), child)):
                found.append(((*path, entry), child))
            else:
                visit((*path, entry), child)

    visit((), tree)
    return found


def tree_get(tree: Any, key: Any, default: Any = None,
             filtering: Callable[[tuple, Any], bool] | None = None) -> Any:
    """The one value of `tree` at dict key, named-tuple field or named-tuple name `key`
    (`default` if there is none); `KeyError` if there are several."""
    found = tree_get_all_with_path(tree, key, filtering)
    if len(found) > 1:
        paths = [p for p, _ in found]
        raise OptimizerKeyError(f"tree_get: {key!r} occurs {len(found)} times, at {paths}; pass "
                       "filtering=lambda path, value: ... to choose one")
    return found[0][1] if found else default


def tree_set(tree: Any, filtering: Callable[[tuple, Any], bool] | None = None, /,
             **kwargs: Any) -> Any:
    """A copy of `tree` with the values at the dict keys, named-tuple fields or named
    tuples named in `kwargs` replaced by theirs; `KeyError` for a name not in the tree."""
    missing = [k for k in kwargs if not tree_get_all_with_path(tree, k, filtering)]
    if missing:
        raise OptimizerKeyError(f"tree_set: {missing} are not keys, fields or named tuples of the tree")

    def replace(path: tuple, node: Any) -> Any:
        if _is_named_tuple(node) and type(node).__name__ in kwargs and (
                filtering is None or filtering(path, node)):
            return kwargs[type(node).__name__]
        children = _children(node)
        if not children:
            return node
        new = [kwargs[name] if (isinstance(name, str) and name in kwargs and (
                   filtering is None or filtering((*path, entry), child)))
               else replace((*path, entry), child) for entry, name, child in children]
        if isinstance(node, dict):
            return type(node)(zip(node.keys(), new))
        if _is_named_tuple(node):
            return type(node)(*new)
        return type(node)(new)

    return replace((), tree)


__all__ = [
    "NamedTupleKey", "tree_add", "tree_add_scale", "tree_allclose", "tree_batch_shape",
    "tree_bias_correction", "tree_cast", "tree_cast_like", "tree_clip", "tree_conj",
    "tree_div", "tree_dtype", "tree_full_like", "tree_get", "tree_get_all_with_path",
    "tree_map_params", "tree_max", "tree_min", "tree_mul", "tree_norm", "tree_ones_like",
    "tree_random_like", "tree_real", "tree_scale", "tree_set", "tree_size",
    "tree_split_key_like", "tree_sub", "tree_sum", "tree_unwrap_random_key_data",
    "tree_update_infinity_moment", "tree_update_moment", "tree_update_moment_per_elem_norm",
    "tree_vdot", "tree_where", "tree_zeros_like",
]
