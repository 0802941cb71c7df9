"""JAX's `jax.ad_checkpoint`: `checkpoint` (`remat`) and the names it can save by."""

from __future__ import annotations

from typing import Any

from fnad.lax.custom import checkpoint

remat = checkpoint


def checkpoint_name(x: Any, name: str) -> Any:
    """`x`, tagged `name` for the `save_only_these_names`-style policies. fnad's
    `checkpoint` saves nothing whatever the policy, so the tag changes nothing: `x`."""
    del name
    return x


__all__ = ["checkpoint", "checkpoint_name", "remat"]
