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


def _loss(p):
    return fnad.numpy.sum((p["w"] - 3.0) ** 2 * np.array([1.0, 4.0])) + p["b"] ** 2


@pytest.mark.parametrize("opaque, expected", [
    (False, ([0.39909, 0.39912], 0.60393)),   # optax 0.2's params after 12 jitted steps
    (True, ([1.17555, 1.17631], -0.05917)),
])
def test_sam_matches_optax(opaque, expected):
    adversary = optim.chain(contrib.normalize(), optim.sgd(0.05))
    opt = contrib.sam(optim.adam(0.1), adversary, sync_period=3, opaque_mode=opaque)
    params = {"w": np.zeros(2, np.float32), "b": np.float32(1.0)}
    state = opt.init(params)

    @fnad.jit
    def step(p, s):
        kw = {"grad_fn": lambda q, i: fnad.grad(_loss)(q)} if opaque else {}
        u, s = opt.update(fnad.grad(_loss)(p), s, p, **kw)
        return optim.apply_updates(p, u), s

    for _ in range(12):
        params, state = step(params, state)
    np.testing.assert_allclose(params["w"], expected[0], atol=2e-5)
    np.testing.assert_allclose(params["b"], expected[1], atol=2e-5)
    assert int(state.steps_since_sync) == 0


def test_normalize_and_sam_arguments():
    out, _ = contrib.normalize().update({"a": np.array([3.0]), "b": np.array([4.0])},
                                        contrib.NormalizeState())
    np.testing.assert_allclose([out["a"][0], out["b"][0]], [0.6, 0.8])
    with pytest.raises(optim.OptimizerArgumentError, match="sync_period"):
        contrib.sam(optim.sgd(1.0), optim.sgd(1.0), sync_period=0)
    opaque = contrib.sam(optim.sgd(1.0), optim.sgd(1.0), opaque_mode=True)
    with pytest.raises(optim.OptimizerArgumentError, match="grad_fn"):
        opaque.update(np.ones(2), opaque.init(np.ones(2)), np.ones(2))
