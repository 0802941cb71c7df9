"""Learning-rate schedules: plain functions of the step count (an int, or a traced int32
under `jit`), written with `fnad.numpy` so they stage like any other code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import fnad.numpy as fnp
from fnad import lax

Schedule = Callable[[Any], Any]


def _step(count: Any) -> Any:
    return fnp.asarray(count, np.float32)


def constant_schedule(value: float) -> Schedule:
    """The same value at every step.

    >>> round(float(constant_schedule(0.1)(5)), 6)
    0.1
    """
    return lambda count: lax.full_like(_step(count), value)


def piecewise_constant_schedule(init_value: float,
                                boundaries_and_scales: dict[int, float]) -> Schedule:
    """`init_value`, multiplied by `scale` from step `boundary` on, for each pair (step decay).

    >>> round(float(piecewise_constant_schedule(1.0, {2: 0.5, 4: 0.1})(4)), 6)
    0.05
    """
    pairs = sorted(boundaries_and_scales.items())

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
    if transition_steps <= 0:
        raise ValueError(f"transition_steps must be positive, got {transition_steps}")

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


def cosine_decay_schedule(init_value: float, decay_steps: int, alpha: float = 0.0) -> Schedule:
    """Half a cosine from `init_value` to `alpha * init_value` over `decay_steps`, then flat.

    >>> round(float(cosine_decay_schedule(1.0, 10)(5)), 6)
    0.5
    """
    if decay_steps <= 0:
        raise ValueError(f"decay_steps must be positive, got {decay_steps}")

    def schedule(count: Any) -> Any:
        k = fnp.minimum(_step(count), float(decay_steps))
        cosine = 0.5 * (1 + fnp.cos(k * float(np.pi / decay_steps)))
        return init_value * ((1 - alpha) * cosine + alpha)

    return schedule


def linear_schedule(init_value: float, end_value: float, transition_steps: int,
                    transition_begin: int = 0) -> Schedule:
    """Linear from `init_value` (until `transition_begin`) to `end_value`, then flat
    (a linear warmup when `end_value > init_value`).

    >>> float(linear_schedule(0.0, 1.0, 4)(1))
    0.25
    """
    if transition_steps <= 0:
        raise ValueError(f"transition_steps must be positive, got {transition_steps}")

    def schedule(count: Any) -> Any:
        frac = fnp.minimum(fnp.maximum(
            (_step(count) - transition_begin) / transition_steps, 0.0), 1.0)
        return init_value + (end_value - init_value) * frac

    return schedule


def join_schedules(schedules: Sequence[Schedule], boundaries: Sequence[int]) -> Schedule:
    """`schedules[i]` from step `boundaries[i - 1]` on, counting its steps from there.

    >>> s = join_schedules([constant_schedule(1.0), linear_schedule(1.0, 0.0, 2)], [3])
    >>> float(s(2)), float(s(4))
    (1.0, 0.5)
    """
    if len(boundaries) != len(schedules) - 1:
        raise ValueError(f"{len(schedules)} schedules need {len(schedules) - 1} boundaries, "
                         f"got {len(boundaries)}")

    def schedule(count: Any) -> Any:
        k = _step(count)
        out = schedules[0](k)
        for boundary, s in zip(boundaries, schedules[1:]):
            out = fnp.where(k >= boundary, s(k - boundary), out)
        return out

    return schedule


def warmup_cosine_decay_schedule(init_value: float, peak_value: float, warmup_steps: int,
                                 decay_steps: int, end_value: float = 0.0) -> Schedule:
    """Linear warmup from `init_value` to `peak_value` over `warmup_steps`, then cosine decay
    to `end_value` at step `decay_steps` (counted from 0, warmup included).

    >>> float(warmup_cosine_decay_schedule(0.0, 1.0, 2, 6)(1))
    0.5
    """
    return join_schedules(
        [linear_schedule(init_value, peak_value, warmup_steps), _shifted(
            cosine_decay_schedule(peak_value - end_value, decay_steps - warmup_steps),
            end_value)],
        [warmup_steps])


def _shifted(schedule: Schedule, offset: float) -> Schedule:
    return lambda count: schedule(count) + offset
