"""`optax.contrib`: the experimental optimizers programs reach as `optax.contrib.*`. So far
`reduce_on_plateau`, which scales updates down when a monitored value stops improving, and
sharpness-aware minimization (`sam`, with its usual adversary step `normalize`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

import fnad.numpy as fnp
from fnad import lax
from fnad.optim.base import (
    GradientTransformation,
    GradientTransformationExtraArgs,
    OptState,
    Params,
    Updates,
    apply_updates,
    checked,
)
from fnad.optim.errors import OptimizerArgumentError
from fnad.optim.numerics import safe_increment
from fnad.optim.tree_utils import tree_dtype, tree_norm
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


class NormalizeState(NamedTuple):
    """`normalize` keeps no state."""


def normalize() -> GradientTransformationExtraArgs:
    """Divide the updates by their global L2 norm (SAM's adversarial direction).

    >>> normalize().update(np.array([3.0, 4.0]), NormalizeState())[0]
    array([0.6, 0.8])
    """
    def update(updates: Updates, state: NormalizeState, params: Params = None
               ) -> tuple[Updates, NormalizeState]:
        norm = tree_norm(updates)
        return tree_map(lambda g: g / norm.astype(fnp.asarray(g).dtype), updates), state

    return checked("normalize", lambda params: NormalizeState(), update)


class SAMState(NamedTuple):
    """Steps since the last outer update, the outer and adversarial optimizers' states, and
    the params of the last outer step (None in opaque mode)."""

    steps_since_sync: Any
    opt_state: OptState
    adv_state: OptState
    cache: Params | None


def sam(optimizer: GradientTransformation, adv_optimizer: GradientTransformation,
        sync_period: int = 2, reset_state: bool = True, opaque_mode: bool = False,
        batch_axis_name: str | None = None) -> GradientTransformationExtraArgs:
    """Sharpness-aware minimization (Foret et al., 2021): `sync_period - 1` ascent steps of
    `adv_optimizer` away from the params, then one `optimizer` step from where they started
    using the gradient at the perturbed point. Transparent mode spreads them over calls
    (each returns the step to take); opaque mode runs them in one call and needs
    `update(..., grad_fn=lambda params, i: grads)`.
    """
    if sync_period < 1:
        raise OptimizerArgumentError(f"sam: sync_period must be >= 1, got {sync_period}")
    if batch_axis_name is not None:
        raise OptimizerArgumentError("sam: batch_axis_name (pmean over devices) is not "
                                     "supported; fnad runs one device per process")

    def init(params: Params) -> SAMState:
        return SAMState(np.int32(0), optimizer.init(params), adv_optimizer.init(params),
                        None if opaque_mode else params)

    def pick(cond: Any, if_true: Any, if_false: Any) -> Any:
        return tree_map(lambda t, f: fnp.where(cond, t, f), if_true, if_false)

    def transparent(updates: Updates, state: SAMState, params: Params, **_: Any
                    ) -> tuple[Updates, SAMState]:
        first, last = state.steps_since_sync == 0, state.steps_since_sync == sync_period - 1
        adv_updates, adv_state = adv_optimizer.update(updates, state.adv_state, params)
        adv_updates = tree_map(lambda x: -x, adv_updates)
        opt_updates, opt_state = optimizer.update(updates, state.opt_state, state.cache)
        opt_updates = tree_map(lambda c, p, u: c - p + u, state.cache, params, opt_updates)
        restart = adv_optimizer.init(params) if reset_state else state.adv_state
        return pick(last, opt_updates, adv_updates), SAMState(
            (state.steps_since_sync + 1) % sync_period,
            pick(last, opt_state, state.opt_state), pick(last, restart, adv_state),
            pick(first, params, state.cache))

    def opaque(updates: Updates, state: SAMState, params: Params, *,
               grad_fn: Callable[[Params, int], Updates] | None = None, **_: Any
               ) -> tuple[Updates, SAMState]:
        if grad_fn is None:
            raise OptimizerArgumentError("sam: opaque_mode=True needs update(..., grad_fn="
                                         "lambda params, i: grads)")
        adv_params, adv_updates, adv_state = params, updates, state.adv_state
        for i in range(sync_period - 1):
            adv_updates, adv_state = adv_optimizer.update(adv_updates, adv_state, adv_params)
            adv_params = apply_updates(adv_params, tree_map(lambda x: -x, adv_updates))
            adv_updates = grad_fn(adv_params, i)
        if reset_state:
            adv_state = adv_optimizer.init(params)
        out, opt_state = optimizer.update(adv_updates, state.opt_state, params)
        return out, SAMState(np.int32(0), opt_state, adv_state, None)

    return checked("sam", init, opaque if opaque_mode else transparent)


__all__ = ["NormalizeState", "ReduceLROnPlateauState", "SAMState", "normalize",
           "reduce_on_plateau", "sam"]
