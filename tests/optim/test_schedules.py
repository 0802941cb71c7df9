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
    with pytest.raises(ValueError, match="transition_steps"):
        optim.linear_schedule(0.0, 1.0, 0)
