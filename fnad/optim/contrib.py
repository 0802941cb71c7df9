"""`optax.contrib`: the experimental optimizers programs reach as `optax.contrib.*`. So far
`reduce_on_plateau`, which scales updates down when a monitored value stops improving.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

import fnad.numpy as fnp
from fnad import lax
from fnad.optim.base import GradientTransformationExtraArgs, Params, Updates, checked
from fnad.optim.errors import OptimizerArgumentError
from fnad.optim.numerics import safe_increment
from fnad.optim.tree_utils import tree_dtype
from fnad.tree import tree_map


class ReduceLROnPlateauState(NamedTuple):
    """The scale applied to updates, the best (averaged) value so far, and the counters."""

    scale: Any
    best_value: Any
    plateau_count: Any
    cooldown_count: Any
    count: Any
    avg_value: Any


def reduce_on_plateau(factor: float = 0.1, patience: int = 10, rtol: float = 1e-4,
                      atol: float = 0.0, cooldown: int = 0, accumulation_size: int = 1,
                      min_scale: float = 0.0) -> GradientTransformationExtraArgs:
    """Multiply updates by a scale that drops by `factor` (not below `min_scale`) once the
    `value` passed to `update` (averaged over `accumulation_size` calls) has not improved
    by `rtol`/`atol` for `patience` averages; `cooldown` averages then pass unchecked.

    >>> opt = reduce_on_plateau(patience=1)
    >>> state = opt.init(np.zeros(2, np.float32))
    >>> for v in (1.0, 1.0):
    ...     updates, state = opt.update(np.ones(2, np.float32), state, value=v)
    >>> updates
    array([0.1, 0.1], dtype=float32)
    """
    if not 0.0 < factor < 1.0:
        raise OptimizerArgumentError(f"reduce_on_plateau: factor must be in (0, 1), got {factor}")
    if rtol < 0.0 or atol < 0.0 or (rtol == 0.0 and atol == 0.0) or rtol > 1.0:
        raise OptimizerArgumentError(
            f"reduce_on_plateau: need 0 <= rtol <= 1, atol >= 0 and one of them positive, "
            f"got rtol={rtol}, atol={atol}")

    def init(params: Params) -> ReduceLROnPlateauState:
        low, high = tree_dtype(params, "lowest"), tree_dtype(params, "highest")
        return ReduceLROnPlateauState(
            scale=np.asarray(1.0, low), best_value=np.asarray(np.inf, high),
            plateau_count=np.int32(0), cooldown_count=np.int32(0), count=np.int32(0),
            avg_value=np.asarray(0.0, high))

    def judge(state: ReduceLROnPlateauState) -> ReduceLROnPlateauState:
        improved = state.avg_value < (1 - rtol) * state.best_value - atol
        best = fnp.where(improved, state.avg_value, state.best_value)
        plateau = fnp.where(improved, np.int32(0), safe_increment(state.plateau_count))
        reduce = plateau == patience
        cooling = state.cooldown_count > 0
        scale = fnp.where(cooling | ~reduce, state.scale,
                          fnp.maximum(state.scale * factor, min_scale).astype(state.scale.dtype))
        return ReduceLROnPlateauState(
            scale=scale, best_value=best,
            plateau_count=fnp.where(cooling | reduce, np.int32(0), plateau),
            cooldown_count=fnp.where(cooling, state.cooldown_count - 1,
                                     fnp.where(reduce, np.int32(cooldown), np.int32(0))),
            count=np.int32(0), avg_value=fnp.zeros_like(state.avg_value))

    def update(updates: Updates, state: ReduceLROnPlateauState, params: Params = None, *,
               value: Any, **_: Any) -> tuple[Updates, ReduceLROnPlateauState]:
        count = safe_increment(state.count)
        avg = (state.count * state.avg_value + fnp.asarray(value).astype(
            state.avg_value.dtype)) / count
        state = state._replace(avg_value=avg.astype(state.avg_value.dtype), count=count)
        state = lax.cond(count == accumulation_size, judge, lambda s: s, state)
        return tree_map(lambda g: state.scale * g, updates), state

    return checked("reduce_on_plateau", init, update)


__all__ = ["ReduceLROnPlateauState", "reduce_on_plateau"]
