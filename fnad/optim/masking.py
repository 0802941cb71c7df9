"""`masked` and `partition`: apply a transformation to some parameters only (e.g. no weight
decay on biases and norms, or one optimizer per group of parameters).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any, NamedTuple

from fnad.optim.base import (
    GradientTransformation,
    GradientTransformationExtraArgs,
    Params,
    Updates,
    checked,
    with_extra_args_support,
)
from fnad.optim.errors import OptimizerArgumentError
from fnad.tree import tree_leaves, tree_map, tree_structure


class MaskedState(NamedTuple):
    inner_state: Any


class MaskedNode(NamedTuple):
    """Stands in for a masked-out leaf: a pytree node with no leaves, so the inner
    transformation neither sees nor keeps state for it."""


def _is_mask_fn(mask: Any) -> bool:
    leaves = tree_leaves(tree_map(callable, mask))
    return bool(leaves) and all(leaves)


def masked(inner: GradientTransformation, mask: Any, *,
           mask_compatible_extra_args: bool = False) -> GradientTransformationExtraArgs:
    """Apply `inner` where `mask` (a bool pytree, a prefix of the params, or a function of
    the params giving one) is True; elsewhere the updates pass unchanged and `inner` keeps
    no state for them.

    >>> from fnad.optim import sgd
    >>> t = masked(sgd(1.0), {"w": True, "b": False})
    >>> t.update({"w": 1.0, "b": 1.0}, t.init({"w": 0.0, "b": 0.0}))[0]
    {'b': 1.0, 'w': -1.0}
    """
    inner = with_extra_args_support(inner)

    def hide(tree: Any, mask_tree: Any) -> Any:
        return tree_map(lambda m, x: x if m else MaskedNode(), mask_tree, tree)

    def mask_of(tree: Any) -> Any:
        return mask(tree) if _is_mask_fn(mask) else mask

    def init(params: Params) -> MaskedState:
        return MaskedState(inner.init(hide(params, mask_of(params))))

    def update(updates: Updates, state: MaskedState, params: Params = None,
               **extra_args: Any) -> tuple[Updates, MaskedState]:
        mask_tree = mask_of(updates)
        if mask_compatible_extra_args:
            shape = tree_structure(updates)
            extra_args = {k: hide(v, mask_tree) if tree_structure(v) == shape else v
                          for k, v in extra_args.items()}
        new, inner_state = inner.update(hide(updates, mask_tree), state.inner_state,
                                        None if params is None else hide(params, mask_tree),
                                        **extra_args)
        out = tree_map(lambda m, n, old: n if m else old, mask_tree, new, updates)
        return out, MaskedState(inner_state)

    return checked("masked", init, update)


class PartitionState(NamedTuple):
    inner_states: Mapping[Hashable, Any]


def partition(transforms: Mapping[Hashable, GradientTransformation], param_labels: Any, *,
              mask_compatible_extra_args: bool = False) -> GradientTransformationExtraArgs:
    """One transformation per group of parameters: `param_labels` (a pytree of labels, or a
    function of the params giving one) names each leaf's group, a key of `transforms`.

    >>> from fnad.optim import sgd
    >>> t = partition({"a": sgd(1.0), "b": sgd(2.0)}, {"w": "a", "v": "b"})
    >>> t.update({"w": 1.0, "v": 1.0}, t.init({"w": 0.0, "v": 0.0}))[0]
    {'v': -2.0, 'w': -1.0}
    """
    transforms = {k: with_extra_args_support(v) for k, v in transforms.items()}

    def labels_of(tree: Any) -> Any:
        return param_labels(tree) if callable(param_labels) else param_labels

    def group(labels: Any, name: Hashable) -> GradientTransformationExtraArgs:
        return masked(transforms[name], tree_map(lambda label: label == name, labels),
                      mask_compatible_extra_args=mask_compatible_extra_args)

    def init(params: Params) -> PartitionState:
        labels = labels_of(params)
        unknown = set(tree_leaves(labels)) - set(transforms)
        if unknown:
            raise OptimizerArgumentError(f"partition: labels {sorted(map(str, unknown))} have no "
                             f"transformation; transforms has {sorted(map(str, transforms))}")
        return PartitionState({k: group(labels, k).init(params) for k in transforms})

    def update(updates: Updates, state: PartitionState, params: Params = None,
               **extra_args: Any) -> tuple[Updates, PartitionState]:
        labels = labels_of(updates)
        new = {}
        for k in transforms:
            updates, new[k] = group(labels, k).update(updates, state.inner_states[k], params,
                                                      **extra_args)
        return updates, PartitionState(new)

    return checked("partition", init, update)


multi_transform = partition
MultiTransformState = PartitionState

__all__ = ["MaskedNode", "MaskedState", "MultiTransformState", "PartitionState", "masked",
           "multi_transform", "partition"]
