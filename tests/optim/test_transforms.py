"""Building blocks: clipping, weight decay, chaining, scaling by a schedule, under jit/vmap."""

from __future__ import annotations

import numpy as np
import pytest

import fnad
import fnad.test_util
from fnad import optim

G = {"a": np.array([3.0, -4.0]), "b": np.array([[12.0]])}  # global norm 13
P = {"a": np.array([1.0, -2.0]), "b": np.array([[-0.5]])}


def update(t, g=G, p=P):
    return t.update(g, t.init(p), p)[0]


def test_clip_elementwise():
    out = update(optim.clip(3.5))
    np.testing.assert_array_equal(out["a"], [3.0, -3.5])
    np.testing.assert_array_equal(out["b"], [[3.5]])


@pytest.mark.parametrize("max_norm,factor", [(26.0, 1.0), (6.5, 0.5)])
def test_clip_by_global_norm(max_norm, factor):
    np.testing.assert_allclose(float(optim.global_norm(G)), 13.0)
    out = update(optim.clip_by_global_norm(max_norm))
    for k in G:
        np.testing.assert_allclose(out[k], G[k] * factor)


def test_decayed_weights_and_l1():
    out = update(optim.add_decayed_weights(0.1))
    np.testing.assert_allclose(out["a"], G["a"] + 0.1 * P["a"])
    out = update(optim.add_l1_decay(0.1))
    np.testing.assert_allclose(out["b"], G["b"] + 0.1 * np.sign(P["b"]))


def test_decay_mask_skips_leaves():
    out = update(optim.add_decayed_weights(0.1, mask=lambda p: {"a": False, "b": True}))
    np.testing.assert_array_equal(out["a"], G["a"])
    np.testing.assert_allclose(out["b"], G["b"] + 0.1 * P["b"])


def test_decay_needs_params():
    t = optim.add_decayed_weights(0.1)
    with pytest.raises(ValueError, match="params"):
        t.update(G, t.init(P))


def test_chain_applies_in_order():
    # clip, then scale: -(clip(g)) * 2, not clip(-2 g)
    t = optim.chain(optim.clip(1.0), optim.scale(-2.0))
    np.testing.assert_array_equal(update(t)["a"], [-2.0, 2.0])


def test_scale_by_schedule_counts_steps():
    t = optim.scale_by_schedule(lambda k: k + 1.0)
    state = t.init(P)
    for k in range(3):
        out, state = t.update(G, state)
        np.testing.assert_allclose(out["a"], G["a"] * (k + 1))


def test_update_under_transforms():
    # One optimizer step is a pure function: it stages, vmaps over a batch of problems,
    # and differentiates (the gradient of a step with respect to the gradient).
    opt = optim.adam(0.1)

    def step(g, p):
        updates, _ = opt.update({"w": g}, opt.init({"w": p}), {"w": p})
        return optim.apply_updates({"w": p}, updates)["w"]

    g, p = np.array([0.3, -2.0, 0.0]), np.array([1.0, 2.0, 3.0])
    fnad.test_util.check_transforms(step, (g, p))
    fnad.test_util.check_vmap(step, (np.stack([g, 2 * g]), p), in_axes=(0, None))
    fnad.test_util.check_grads(lambda p: step(g + 1, p), (p,), order=1)
    np.testing.assert_allclose(fnad.jit(step)(g, p), step(g, p), rtol=1e-6)
