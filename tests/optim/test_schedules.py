"""Schedules against their formulas, eagerly and on traced step counts."""

from __future__ import annotations

import math

import numpy as np
import pytest

import fnad
import fnad.test_util
from fnad import optim

STEPS = range(0, 40)


def formula_cases():
    cos = lambda k, T: 0.5 * (1 + math.cos(math.pi * min(k, T) / T))
    return {
        "constant": (optim.constant_schedule(0.3), lambda k: 0.3),
        "piecewise": (optim.piecewise_constant_schedule(1.0, {10: 0.5, 20: 0.1}),
                      lambda k: 1.0 * (0.5 if k >= 10 else 1) * (0.1 if k >= 20 else 1)),
        "step": (optim.step_decay(2.0, 7, 0.5), lambda k: 2.0 * 0.5 ** (k // 7)),
        "exponential": (optim.exponential_decay(1.0, 10, 0.3, transition_begin=5),
                        lambda k: 0.3 ** (max(k - 5, 0) / 10)),
        "exponential_end": (optim.exponential_decay(1.0, 10, 0.3, end_value=0.2),
                            lambda k: max(0.3 ** (k / 10), 0.2)),
        "inverse_time": (optim.inverse_time_decay(0.5, 8), lambda k: 0.5 * 8 / max(k, 8)),
        "cosine": (optim.cosine_decay_schedule(2.0, 30, alpha=0.1),
                   lambda k: 2.0 * (0.9 * cos(k, 30) + 0.1)),
        "linear": (optim.linear_schedule(0.0, 1.0, 10, transition_begin=3),
                   lambda k: min(max((k - 3) / 10, 0.0), 1.0)),
        "warmup_cosine": (optim.warmup_cosine_decay_schedule(0.1, 1.0, 5, 25, end_value=0.05),
                          lambda k: 0.1 + 0.9 * k / 5 if k < 5
                          else 0.05 + 0.95 * cos(k - 5, 20)),
        "cosine_exponent": (optim.cosine_decay_schedule(1.0, 20, alpha=0.2, exponent=2.0),
                            lambda k: 0.8 * cos(k, 20) ** 2 + 0.2),
        "polynomial": (optim.polynomial_schedule(1.0, 0.1, 2, 20, transition_begin=5),
                       lambda k: 0.9 * (1 - min(max(k - 5, 0), 20) / 20) ** 2 + 0.1),
        "interp_linear": (optim.piecewise_interpolate_schedule("linear", 1.0, {10: 0.5, 20: 0.1}),
                          lambda k: np.interp(k, [0, 10, 20], [1.0, 0.5, 0.05])),
        "interp_cosine": (optim.piecewise_interpolate_schedule("cosine", 2.0, {16: 0.25}),
                          lambda k: 0.5 + 0.75 * (1 + math.cos(math.pi * k / 16))
                          if k < 16 else 0.5),
        "onecycle_linear": (optim.linear_onecycle_schedule(30, 1.0),
                            lambda k: np.interp(k, [0, 9, 25, 30], [0.04, 1.0, 0.04, 4e-6])),
        "onecycle_cosine": (optim.cosine_onecycle_schedule(30, 1.0),
                            lambda k: 1.0 + (0.04 - 1.0) / 2 * (math.cos(math.pi * k / 9) + 1)
                            if k < 9 else 4e-6 + (1.0 - 4e-6) / 2 * (
                                math.cos(math.pi * min(k - 9, 21) / 21) + 1)),
        "warmup_constant": (optim.warmup_constant_schedule(0.1, 1.0, 5),
                            lambda k: 0.1 + 0.9 * min(k, 5) / 5),
        "warmup_exponential": (optim.warmup_exponential_decay_schedule(0.0, 1.0, 5, 10, 0.5),
                               lambda k: k / 5 if k < 5 else 0.5 ** ((k - 5) / 10)),
        "sgdr": (optim.sgdr_schedule([dict(init_value=0.0, peak_value=1.0, warmup_steps=2,
                                           decay_steps=10)] * 4),
                 lambda k: (k % 10) / 2 if k % 10 < 2 else cos(k % 10 - 2, 8)),
        "join": (optim.join_schedules([optim.constant_schedule(1.0),
                                       optim.linear_schedule(1.0, 0.0, 10)], [15]),
                 lambda k: 1.0 if k < 15 else max(1 - (k - 15) / 10, 0.0)),
    }


CASES = formula_cases()


@pytest.mark.parametrize("name", CASES)
def test_matches_formula(name):
    schedule, formula = CASES[name]
    got = [float(schedule(k)) for k in STEPS]
    np.testing.assert_allclose(got, [formula(k) for k in STEPS], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", CASES)
def test_traced_step_counts(name):
    schedule, _ = CASES[name]
    ks = np.arange(40, dtype=np.int32)
    expected = np.array([float(schedule(k)) for k in STEPS], np.float32)
    np.testing.assert_allclose(fnad.vmap(schedule)(ks), expected, rtol=1e-6)
    fnad.test_util.check_transforms(schedule, (np.int32(17),))


def test_bad_arguments():
    with pytest.raises(ValueError, match="boundaries"):
        optim.join_schedules([optim.constant_schedule(1.0)] * 2, [])
    with pytest.raises(ValueError, match="decay_steps"):
        optim.cosine_decay_schedule(1.0, 0)
    with pytest.raises(ValueError, match="interpolate_type"):
        optim.piecewise_interpolate_schedule("cubic", 1.0, {})
    with pytest.raises(ValueError, match="transition_steps"):
        optim.linear_onecycle_schedule(0, 1.0)


def test_degenerate_transitions_are_constant():
    # As in optax: no steps to move over means the initial value throughout.
    for schedule in (optim.linear_schedule(0.3, 1.0, 0), optim.exponential_decay(0.3, 0, 0.5),
                     optim.polynomial_schedule(0.3, 1.0, 2, -1)):
        assert [float(schedule(k)) for k in (0, 5)] == pytest.approx([0.3, 0.3])


def test_interpolated_schedules_stay_float32_and_keep_updates_float32():
    """piecewise_interpolate_schedule and the one-cycle schedules built on it returned
    float64 (their values were NumPy float64 scalars), which made every update they scale
    float64; optax's are float32."""
    for schedule in (optim.piecewise_interpolate_schedule("linear", 1.0, {3: 0.5}),
                     optim.piecewise_interpolate_schedule("cosine", 1.0, {3: 0.5}),
                     optim.linear_onecycle_schedule(10, 1.0),
                     optim.cosine_onecycle_schedule(10, 1.0)):
        for k in (0, 2, np.int32(5), 20):
            assert np.asarray(schedule(k)).dtype == np.float32
        opt = optim.sgd(schedule)
        params = {"w": np.ones(3, np.float32)}
        updates, _ = opt.update({"w": np.full(3, 0.5, np.float32)}, opt.init(params), params)
        assert updates["w"].dtype == np.float32
    s = optim.linear_onecycle_schedule(10, 1.0)
    # linear from 1/25 to 1 over the first 3 steps
    np.testing.assert_allclose(float(s(2)), 0.04 + (1 - 0.04) * 2 / 3, rtol=1e-6)
