"""JAX's `jax.ad_checkpoint`: `checkpoint` (`remat`) and the names it can save by."""

from __future__ import annotations

import dataclasses
from typing import Any

from fnad import checkpoint_policies
from fnad.autodiff import print_saved_residuals
from fnad.lax.custom import checkpoint

remat = checkpoint

# What a policy may return instead of a bool, as JAX's: keep a value, recompute it, or move
# it to another memory (one memory here: kept). fnad's checkpoint recomputes whatever the
# policy says, so these only let JAX's custom policies run.
Saveable, Recompute = True, False


@dataclasses.dataclass(frozen=True)
class Offloadable:
    src: str
    dst: str


def checkpoint_name(x: Any, name: str) -> Any:
    """`x`, tagged `name` for the `save_only_these_names`-style policies. fnad's
    `checkpoint` saves nothing whatever the policy, so the tag changes nothing: `x`."""
    del name
    return x


__all__ = ["Offloadable", "Recompute", "Saveable", "checkpoint", "checkpoint_name",
           "checkpoint_policies", "print_saved_residuals", "remat"]
