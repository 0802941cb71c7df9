"""Learning-rate schedules: plain functions of the step count (an int, or a traced int32
under `jit`), written with `fnad.numpy` so they stage like any other code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

import fnad.numpy as fnp
from fnad import lax
from fnad.optim.errors import OptimizerArgumentError

Schedule = Callable[[Any], Any]


def _positive(schedule: str, name: str, steps: int) -> None:
    if steps <= 0:
        raise OptimizerArgumentError(f"{schedule}: {name} must be positive, got {steps}")


def _step(count: Any) -> Any:
    return fnp.asarray(count, np.float32)


def constant_schedule(value: float) -> Schedule:
    """The same value at every step.

    >>> round(float(constant_schedule(0.1)(5)), 6)
    0.1
    """
    return lambda count: lax.full_like(_step(count), value)


def piecewise_constant_schedule(init_value: float,
                                boundaries_and_scales: dict[int, float] | None = None
                                ) -> Schedule:
    """`init_value`, multiplied by `scale` from step `boundary` on, for each pair (step decay).

    >>> round(float(piecewise_constant_schedule(1.0, {2: 0.5, 4: 0.1})(4)), 6)
    0.05
    """
    pairs = sorted((boundaries_and_scales or {}).items())
    if any(scale < 0 for _, scale in pairs):
        raise OptimizerArgumentError(f"piecewise_constant_schedule expects non-negative scales, got "
                         f"{boundaries_and_scales}")

    def schedule(count: Any) -> Any:
        k, v = _step(count), lax.full_like(_step(count), init_value)
        for boundary, scale in pairs:
            v = fnp.where(k >= boundary, v * scale, v)
        return v

    return schedule


def exponential_decay(init_value: float, transition_steps: int, decay_rate: float,
                      transition_begin: int = 0, staircase: bool = False,
                      end_value: float | None = None) -> Schedule:
    """`init_value * decay_rate ** ((k - transition_begin) / transition_steps)`, constant
    before `transition_begin`; `staircase` floors the exponent (step decay); `end_value`
    bounds the decay.

    >>> float(exponential_decay(1.0, 10, 0.5)(20))
    0.25
    """
    if transition_steps <= 0 or decay_rate == 0:
        return constant_schedule(init_value)
    transition_begin = max(transition_begin, 0)

    def schedule(count: Any) -> Any:
        p = fnp.maximum(_step(count) - transition_begin, 0.0) / transition_steps
        if staircase:
            p = fnp.floor(p)
        v = init_value * fnp.exp(p * float(np.log(decay_rate)))
        if end_value is not None:
            bound = fnp.maximum if decay_rate < 1 else fnp.minimum
            v = bound(v, end_value)
        return v

    return schedule


def step_decay(init_value: float, step_size: int, factor: float) -> Schedule:
    """`init_value * factor ** floor(k / step_size)`: exponential decay in a staircase.

    >>> round(float(step_decay(1.0, 3, 0.1)(7)), 6)
    0.01
    """
    return exponential_decay(init_value, step_size, factor, staircase=True)


def inverse_time_decay(init_value: float, tau: float) -> Schedule:
    """`init_value * tau / max(k, tau)`: constant for `tau` steps, then decaying as 1/k,
    the Robbins-Monro rate whose sum diverges while its squares' sum converges.

    >>> float(inverse_time_decay(1.0, 10)(40))
    0.25
    """
    return lambda count: init_value * tau / fnp.maximum(_step(count), float(tau))


def cosine_decay_schedule(init_value: float, decay_steps: int, alpha: float = 0.0,
                          exponent: float = 1.0) -> Schedule:
    """Half a cosine (raised to `exponent`) from `init_value` to `alpha * init_value` over
    `decay_steps`, then flat.

    >>> round(float(cosine_decay_schedule(1.0, 10)(5)), 6)
    0.5
    """
    _positive("cosine_decay_schedule", "decay_steps", decay_steps)

    def schedule(count: Any) -> Any:
        k = fnp.minimum(_step(count), float(decay_steps))
        cosine = 0.5 * (1 + fnp.cos(k * float(np.pi / decay_steps)))
        return init_value * ((1 - alpha) * cosine ** exponent + alpha)

    return schedule


def polynomial_schedule(init_value: float, end_value: float, power: float,
                        transition_steps: int, transition_begin: int = 0) -> Schedule:
    """From `init_value` (until `transition_begin`) to `end_value` along
    `(init - end) * (1 - t/T)**power + end`, then flat; constant if `transition_steps <= 0`.

    >>> float(polynomial_schedule(1.0, 0.0, 2, 4)(2))
    0.25
    """
    if transition_steps <= 0:
        return constant_schedule(init_value)
    transition_begin = max(transition_begin, 0)

    def schedule(count: Any) -> Any:
        k = fnp.clip(_step(count) - transition_begin, 0.0, float(transition_steps))
        return (init_value - end_value) * (1 - k / transition_steps) ** power + end_value

    return schedule


def linear_schedule(init_value: float, end_value: float, transition_steps: int,
                    transition_begin: int = 0) -> Schedule:
    """Linear from `init_value` (until `transition_begin`) to `end_value`, then flat
    (a linear warmup when `end_value > init_value`).

    >>> float(linear_schedule(0.0, 1.0, 4)(1))
    0.25
    """
    return polynomial_schedule(init_value, end_value, 1, transition_steps, transition_begin)


def piecewise_interpolate_schedule(interpolate_type: str, init_value: float,
                                   boundaries_and_scales: dict[int, float] | None = None
                                   ) -> Schedule:
    """Like `piecewise_constant_schedule`, but moving from each value to the next over the
    interval before its boundary, linearly or along a half cosine.

    >>> float(piecewise_interpolate_schedule("linear", 1.0, {4: 0.5})(2))
    0.75
    """
    if interpolate_type not in ("linear", "cosine"):
        raise OptimizerArgumentError(f"piecewise_interpolate_schedule: interpolate_type must be 'linear' "
                         f"or 'cosine', got {interpolate_type!r}")
    pairs = sorted((boundaries_and_scales or {}).items())
    if any(scale < 0 for _, scale in pairs):
        raise OptimizerArgumentError("piecewise_interpolate_schedule expects non-negative scales")
    bounds = [0] + [b for b, _ in pairs]
    # Python floats: weak, so the schedule stays float32 (NumPy's float64 values made it
    # float64, and with it every update scaled by it)
    values = [float(v) for v in np.cumprod([init_value] + [sc for _, sc in pairs])]

    def schedule(count: Any) -> Any:
        k = _step(count)
        out = lax.full_like(k, float(values[-1]))
        for i in range(len(pairs) - 1, -1, -1):
            lo, hi, start, end = bounds[i], bounds[i + 1], values[i], values[i + 1]
            pct = (k - lo) / max(hi - lo, 1)
            if interpolate_type == "linear":
                v = (end - start) * pct + start
            else:
                v = end + (start - end) / 2.0 * (fnp.cos(float(np.pi) * pct) + 1)
            out = fnp.where(fnp.logical_and(lo <= k, k < hi), v, out)
        return fnp.where(k < 0, 0.0, out)

    return schedule


def linear_onecycle_schedule(transition_steps: int, peak_value: float, pct_start: float = 0.3,
                             pct_final: float = 0.85, div_factor: float = 25.0,
                             final_div_factor: float = 1e4) -> Schedule:
    """One cycle (Smith & Topin, 2017), linearly: up from `peak / div_factor` to `peak` by
    `pct_start` of the steps, back down by `pct_final`, then to `initial / final_div_factor`.

    >>> float(linear_onecycle_schedule(10, 1.0)(3))
    1.0
    """
    _positive("linear_onecycle_schedule", "transition_steps", transition_steps)
    return piecewise_interpolate_schedule("linear", peak_value / div_factor, {
        int(pct_start * transition_steps): div_factor,
        int(pct_final * transition_steps): 1.0 / div_factor,
        transition_steps: 1.0 / final_div_factor})


def cosine_onecycle_schedule(transition_steps: int, peak_value: float, pct_start: float = 0.3,
                             div_factor: float = 25.0, final_div_factor: float = 1e4
                             ) -> Schedule:
    """One cycle along half cosines: up from `peak / div_factor` to `peak` by `pct_start` of
    the steps, then down to `peak / (div_factor * final_div_factor)`.

    >>> round(float(cosine_onecycle_schedule(10, 1.0)(3)), 6)
    1.0
    """
    _positive("cosine_onecycle_schedule", "transition_steps", transition_steps)
    return piecewise_interpolate_schedule("cosine", peak_value / div_factor, {
        int(pct_start * transition_steps): div_factor,
        int(transition_steps): 1.0 / (div_factor * final_div_factor)})


def join_schedules(schedules: Sequence[Schedule], boundaries: Sequence[int]) -> Schedule:
    """`schedules[i]` from step `boundaries[i - 1]` on, counting its steps from there.

    >>> s = join_schedules([constant_schedule(1.0), linear_schedule(1.0, 0.0, 2)], [3])
    >>> float(s(2)), float(s(4))
    (1.0, 0.5)
    """
    if len(boundaries) != len(schedules) - 1:
        raise OptimizerArgumentError(f"{len(schedules)} schedules need {len(schedules) - 1} boundaries, "
                         f"got {len(boundaries)}")

    def schedule(count: Any) -> Any:
        k = _step(count)
        out = schedules[0](k)
        for boundary, s in zip(boundaries, schedules[1:]):
            out = fnp.where(k >= boundary, s(k - boundary), out)
        return out

    return schedule


def warmup_constant_schedule(init_value: float, peak_value: float, warmup_steps: int
                             ) -> Schedule:
    """Linear warmup from `init_value` to `peak_value` over `warmup_steps`, then constant.

    >>> float(warmup_constant_schedule(0.0, 1.0, 4)(2))
    0.5
    """
    return linear_schedule(init_value, peak_value, warmup_steps)


def warmup_cosine_decay_schedule(init_value: float, peak_value: float, warmup_steps: int,
                                 decay_steps: int, end_value: float = 0.0,
                                 exponent: float = 1.0) -> Schedule:
    """Linear warmup from `init_value` to `peak_value` over `warmup_steps`, then cosine decay
    to `end_value` at step `decay_steps` (counted from 0, warmup included).

    >>> float(warmup_cosine_decay_schedule(0.0, 1.0, 2, 6)(1))
    0.5
    """
    alpha = 0.0 if peak_value == 0.0 else end_value / peak_value
    return join_schedules([linear_schedule(init_value, peak_value, warmup_steps),
                           cosine_decay_schedule(peak_value, decay_steps - warmup_steps, alpha,
                                                 exponent)], [warmup_steps])


def warmup_exponential_decay_schedule(init_value: float, peak_value: float, warmup_steps: int,
                                      transition_steps: int, decay_rate: float,
                                      transition_begin: int = 0, staircase: bool = False,
                                      end_value: float | None = None) -> Schedule:
    """Linear warmup to `peak_value` over `warmup_steps`, then `exponential_decay` from it.

    >>> float(warmup_exponential_decay_schedule(0.0, 1.0, 2, 1, 0.5)(4))
    0.25
    """
    return join_schedules([linear_schedule(init_value, peak_value, warmup_steps),
                           exponential_decay(peak_value, transition_steps, decay_rate,
                                             transition_begin, staircase, end_value)],
                          [warmup_steps])


def sgdr_schedule(cosine_kwargs: Iterable[dict[str, Any]]) -> Schedule:
    """Warm restarts (Loshchilov & Hutter, 2017): `warmup_cosine_decay_schedule`s one after
    another, each given by its keyword arguments and lasting its `decay_steps`.

    >>> s = sgdr_schedule([dict(init_value=0.0, peak_value=1.0, warmup_steps=1,
    ...                         decay_steps=3)] * 2)
    >>> float(s(1)), float(s(4))
    (1.0, 1.0)
    """
    schedules, boundaries, step = [], [], 0
    for kwargs in cosine_kwargs:
        schedules.append(warmup_cosine_decay_schedule(**kwargs))
        step += kwargs["decay_steps"]
        boundaries.append(step)
    return join_schedules(schedules, boundaries[:-1])
