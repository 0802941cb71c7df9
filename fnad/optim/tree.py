"""`optax.tree`: the functions of `fnad.optim.tree_utils` without their `tree_` prefix
(`optax.tree.norm(grads)`, `optax.tree.get(state, "count")`)."""

from __future__ import annotations

from fnad.optim import tree_utils as _tu

__all__ = sorted(n.removeprefix("tree_") for n in _tu.__all__ if n.startswith("tree_"))
globals().update({n.removeprefix("tree_"): getattr(_tu, n)
                  for n in _tu.__all__ if n.startswith("tree_")})
