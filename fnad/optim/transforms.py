"""The building blocks optimizers are chained from: scaling, momentum, adaptive second-moment
scaling, weight decay and clipping. Each is a `GradientTransformation` whose state is a
pytree (NamedTuples of arrays), so optimizer states flatten, jit and checkpoint like params.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

import fnad.numpy as fnp
from fnad import lax
from fnad.core.ir import get_aval
from fnad.optim.base import (
    GradientTransformation,
    Params,
    Updates,
    stateless,
)
from fnad.optim.schedules import Schedule
from fnad.tree import tree_leaves, tree_map

ScalarOrSchedule = float | Schedule


def _zeros_like(tree: Any) -> Any:
    return tree_map(lambda x: lax.full_like(x, 0), tree)


def _cast(x: Any, like: Any) -> Any:
    return fnp.asarray(x, get_aval(like).dtype)


def _count() -> np.ndarray:
    return np.zeros((), np.int32)


def _incremented(count: Any) -> Any:
    return count + np.int32(1)


def scale(step_size: float) -> GradientTransformation:
    """Multiply updates by a constant.

    >>> scale(0.5).update({"w": 4.0}, ())[0]
    {'w': 2.0}
    """
    return stateless(lambda updates, params: tree_map(lambda g: g * step_size, updates))


class ScaleByScheduleState(NamedTuple):
    count: Any


def scale_by_schedule(schedule: Schedule) -> GradientTransformation:
    """Multiply updates by `schedule(k)` at the k-th update (k from 0).

    >>> from fnad.optim.schedules import linear_schedule
    >>> t = scale_by_schedule(linear_schedule(1.0, 0.0, 2))
    >>> u, s = t.update({"w": np.float32(1)}, t.init(None)); float(u["w"])
    1.0
    """

    def update(updates: Updates, state: ScaleByScheduleState, params: Params = None) -> Any:
        factor = schedule(state.count)
        updates = tree_map(lambda g: g * _cast(factor, g), updates)
        return updates, ScaleByScheduleState(_incremented(state.count))

    return GradientTransformation(lambda params: ScaleByScheduleState(_count()), update)


def scale_by_learning_rate(learning_rate: ScalarOrSchedule) -> GradientTransformation:
    """Multiply updates by `-learning_rate` (a number or a schedule): gradients become steps."""
    if callable(learning_rate):
        return scale_by_schedule(lambda count: -learning_rate(count))
    return scale(-learning_rate)


class TraceState(NamedTuple):
    trace: Any


def trace(decay: float, nesterov: bool = False) -> GradientTransformation:
    """Momentum: `t <- decay * t + g`, giving `t` (heavy ball), or `g + decay * t` with
    `nesterov` (Sutskever et al.'s form of Nesterov's lookahead, which needs no gradient at
    a shifted point: the parameters it tracks are the lookahead points themselves).
    """

    def update(updates: Updates, state: TraceState, params: Params = None) -> Any:
        new = tree_map(lambda g, t: g + decay * t, updates, state.trace)
        out = tree_map(lambda g, t: g + decay * t, updates, new) if nesterov else new
        return out, TraceState(new)

    return GradientTransformation(lambda params: TraceState(_zeros_like(params)), update)


class ScaleByRssState(NamedTuple):
    sum_of_squares: Any


def scale_by_rss(initial_accumulator_value: float = 0.1, eps: float = 1e-7
                 ) -> GradientTransformation:
    """Adagrad's scaling (Duchi et al., 2011): `g / (sqrt(sum of all g**2) + eps)`, the sum
    starting at `initial_accumulator_value`."""

    def init(params: Params) -> ScaleByRssState:
        return ScaleByRssState(tree_map(lambda p: lax.full_like(p, initial_accumulator_value),
                                        params))

    def update(updates: Updates, state: ScaleByRssState, params: Params = None) -> Any:
        acc = tree_map(lambda g, s: s + g * g, updates, state.sum_of_squares)
        out = tree_map(lambda g, s: g / (fnp.sqrt(s) + eps), updates, acc)
        return out, ScaleByRssState(acc)

    return GradientTransformation(init, update)


class ScaleByRmsState(NamedTuple):
    nu: Any


def scale_by_rms(decay: float = 0.9, eps: float = 1e-8, initial_scale: float = 0.0
                 ) -> GradientTransformation:
    """RMSProp's scaling (Tieleman & Hinton, 2012): `nu <- decay nu + (1 - decay) g**2`,
    giving `g / (sqrt(nu) + eps)`."""

    def init(params: Params) -> ScaleByRmsState:
        return ScaleByRmsState(tree_map(lambda p: lax.full_like(p, initial_scale), params))

    def update(updates: Updates, state: ScaleByRmsState, params: Params = None) -> Any:
        nu = tree_map(lambda g, n: decay * n + (1 - decay) * (g * g), updates, state.nu)
        out = tree_map(lambda g, n: g / (fnp.sqrt(n) + eps), updates, nu)
        return out, ScaleByRmsState(nu)

    return GradientTransformation(init, update)


class ScaleByAdamState(NamedTuple):
    count: Any
    mu: Any
    nu: Any


def _bias_correction(decay: float, count: Any) -> Any:
    """`1 - decay ** count`, computed in float64: in float32, `1 - 0.999` alone loses 4
    digits, and Adam's first steps are scaled by its reciprocal."""
    return 1 - fnp.exp(fnp.asarray(count, np.float64) * math.log(decay))


def scale_by_adam(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8
                  ) -> GradientTransformation:
    """Adam's scaling (Kingma & Ba, 2015, Algorithm 1): moments `m`, `v` with exact bias
    correction, giving `m_hat / (sqrt(v_hat) + eps)`."""

    def init(params: Params) -> ScaleByAdamState:
        return ScaleByAdamState(_count(), _zeros_like(params), _zeros_like(params))

    def update(updates: Updates, state: ScaleByAdamState, params: Params = None) -> Any:
        mu = tree_map(lambda g, m: b1 * m + (1 - b1) * g, updates, state.mu)
        nu = tree_map(lambda g, v: b2 * v + (1 - b2) * (g * g), updates, state.nu)
        count = _incremented(state.count)
        c1, c2 = _bias_correction(b1, count), _bias_correction(b2, count)
        out = tree_map(lambda m, v: (m / _cast(c1, m)) / (fnp.sqrt(v / _cast(c2, v)) + eps),
                       mu, nu)
        return out, ScaleByAdamState(count, mu, nu)

    return GradientTransformation(init, update)


def _masked_map(fn: Callable[[Any, Any], Any], mask: Any) -> Callable[[Updates, Params], Any]:
    """`fn(update, param)` on leaves where `mask` (a bool pytree, or a function of the params
    giving one) is true; the update passes unchanged elsewhere."""

    def update_fn(updates: Updates, params: Params) -> Any:
        if params is None:
            raise ValueError("this transformation needs the params: call "
                             "update(updates, state, params)")
        m = tree_map(lambda p: True, params) if mask is None else \
            mask(params) if callable(mask) else mask
        return tree_map(lambda g, p, keep: fn(g, p) if keep else g, updates, params, m)

    return update_fn


def add_decayed_weights(weight_decay: float = 0.0, mask: Any = None) -> GradientTransformation:
    """Add `weight_decay * params` to the updates: L2 weight decay (decoupled from the
    adaptive scaling when chained after it, as in AdamW)."""
    return stateless(_masked_map(lambda g, p: g + weight_decay * p, mask))


def add_l1_decay(weight: float = 0.0, mask: Any = None) -> GradientTransformation:
    """Add `weight * sign(params)` to the updates: the (sub)gradient of an L1 penalty."""
    return stateless(_masked_map(lambda g, p: g + weight * fnp.sign(p), mask))


def clip(max_delta: float) -> GradientTransformation:
    """Clip every update element to `[-max_delta, max_delta]`."""
    return stateless(lambda updates, params: tree_map(
        lambda g: fnp.minimum(fnp.maximum(g, -max_delta), max_delta), updates))


def global_norm(tree: Any) -> Any:
    """The L2 norm of all leaves together, as if concatenated into one vector."""
    return fnp.sqrt(sum(fnp.sum(x * x) for x in tree_leaves(tree)))


def clip_by_global_norm(max_norm: float) -> GradientTransformation:
    """Scale all updates by `max_norm / global_norm` when that norm exceeds `max_norm`,
    keeping their direction (Pascanu et al., 2013)."""

    def update_fn(updates: Updates, params: Params) -> Any:
        norm = global_norm(updates)
        factor = max_norm / fnp.maximum(norm, max_norm)
        return tree_map(lambda g: g * _cast(factor, g), updates)

    return stateless(update_fn)

