"""fnad.optim.contrib (optax.contrib): reduce_on_plateau against the scale schedule optax
produces for the same values, eagerly and under jit, and its argument checks."""

from __future__ import annotations

import numpy as np
import pytest

import fnad
from fnad import optim
from fnad.optim import contrib

# The values fed in, and the scale and plateau count optax 0.2 gives after each update for
# factor=0.5, patience=2, cooldown=1, accumulation_size=2, rtol=0, atol=1e-3, min_scale=0.1.
VALUES = [5, 4, 4, 4, 4, 4, 3.9995, 4, 4, 4, 4, 4, 2, 2, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4]
SCALES = [1.0] * 7 + [0.5] * 10 + [0.25] * 6 + [0.125]
PLATEAU = [0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1, 0]


@pytest.mark.parametrize("jit", [False, True])
def test_reduce_on_plateau_matches_optax_schedule(jit):
    opt = optim.chain(optim.sgd(0.1), contrib.reduce_on_plateau(
        factor=0.5, patience=2, cooldown=1, accumulation_size=2, rtol=0.0, atol=1e-3,
        min_scale=0.1))
    params = np.ones(2, np.float32)
    state = opt.init(params)
    step = lambda g, s, v: opt.update(g, s, params, value=v)
    step = fnad.jit(step) if jit else step
    for value, scale, plateau in zip(VALUES, SCALES, PLATEAU):
        updates, state = step(np.ones(2, np.float32), state, value)
        assert float(state[1].scale) == scale and int(state[1].plateau_count) == plateau
        np.testing.assert_allclose(updates, -0.1 * scale * np.ones(2), rtol=1e-6)
        assert updates.dtype == np.float32


def test_reduce_on_plateau_stops_at_min_scale_and_checks_arguments():
    opt = contrib.reduce_on_plateau(factor=0.1, patience=1, min_scale=0.05)
    state = opt.init({"w": np.zeros(3)})
    for _ in range(4):
        _, state = opt.update({"w": np.ones(3)}, state, value=1.0)
    assert float(state.scale) == 0.05
    with pytest.raises(optim.OptimizerArgumentError, match="factor"):
        contrib.reduce_on_plateau(factor=1.5)
    with pytest.raises(optim.OptimizerArgumentError, match="rtol"):
        contrib.reduce_on_plateau(rtol=0.0, atol=0.0)
