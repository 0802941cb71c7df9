"""JAX's `jax.checkpoint_policies`: which intermediates of a `checkpoint`ed function reverse
mode may keep instead of recomputing. Each policy is JAX's predicate on an equation,
`policy(prim, *avals, **params) -> bool` (True: saveable). fnad's `checkpoint` accepts any
of them and saves nothing inside the function whatever the policy: values and derivatives
are the same, only memory and compute differ from JAX's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fnad.lax.linalg import dot_general_p

Policy = Callable[..., bool]


def everything_saveable(prim: Any, *avals: Any, **params: Any) -> bool:
    """Save every intermediate (no rematerialization, in JAX)."""
    return True


def nothing_saveable(prim: Any, *avals: Any, **params: Any) -> bool:
    """Save nothing: recompute every intermediate (fnad's behaviour for every policy)."""
    return False


def dots_saveable(prim: Any, *avals: Any, **params: Any) -> bool:
    """Save the results of matrix products (`dot_general`) only."""
    return prim is dot_general_p


checkpoint_dots = dots_saveable


def dots_with_no_batch_dims_saveable(prim: Any, *avals: Any, **params: Any) -> bool:
    """Save the matrix products that have no batch dimensions."""
    if prim is not dot_general_p:
        return False
    (_, (lhs_batch, rhs_batch)) = params.get("dimension_numbers", ((), ((), ())))
    return not lhs_batch and not rhs_batch


checkpoint_dots_with_no_batch_dims = dots_with_no_batch_dims_saveable


def save_only_these_names(*names: str) -> Policy:
    """Save only the values tagged with one of `names` (by `ad_checkpoint.checkpoint_name`)."""
    wanted = set(names)
    return lambda prim, *avals, **params: params.get("name") in wanted


def save_any_names_but_these(*names: str) -> Policy:
    """Save the named values except those tagged with one of `names`."""
    unwanted = set(names)
    return lambda prim, *avals, **params: ("name" in params
                                           and params["name"] not in unwanted)


def save_from_both_policies(policy_1: Policy, policy_2: Policy) -> Policy:
    """Save what either policy saves."""
    return lambda prim, *avals, **params: (policy_1(prim, *avals, **params)
                                           or policy_2(prim, *avals, **params))


def save_anything_except_these_names(*names: str) -> Policy:
    """Save every intermediate except the values tagged with one of `names`."""
    unwanted = set(names)
    return lambda prim, *avals, **params: params.get("name") not in unwanted


def save_and_offload_only_these_names(*, names_which_can_be_saved: Sequence[str],
                                      names_which_can_be_offloaded: Sequence[str],
                                      offload_src: str, offload_dst: str) -> Policy:
    """Save the values tagged with the first names, and move those tagged with the second
    to `offload_dst` memory (one memory here: they are kept)."""
    return save_only_these_names(*names_which_can_be_saved, *names_which_can_be_offloaded)


def offload_dot_with_no_batch_dims(offload_src: str, offload_dst: str) -> Policy:
    """Move the matrix products without batch dimensions to `offload_dst` memory (one
    memory here: they are kept)."""
    return dots_with_no_batch_dims_saveable


__all__ = ["checkpoint_dots", "checkpoint_dots_with_no_batch_dims", "dots_saveable",
           "dots_with_no_batch_dims_saveable", "everything_saveable", "nothing_saveable",
           "offload_dot_with_no_batch_dims", "save_and_offload_only_these_names",
           "save_any_names_but_these", "save_anything_except_these_names",
           "save_from_both_policies", "save_only_these_names"]
