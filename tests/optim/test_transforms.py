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


def test_clip_by_block_rms_and_normalize():
    out = update(optim.clip_by_block_rms(2.0))
    rms_a = np.sqrt(np.mean(G["a"] ** 2))
    np.testing.assert_allclose(out["a"], G["a"] * 2.0 / rms_a)
    np.testing.assert_allclose(out["b"], G["b"] * 2.0 / 12.0)
    out = update(optim.normalize_by_update_norm(eps=0.0))
    np.testing.assert_allclose(out["a"], G["a"] / 13.0)


def test_adaptive_grad_clip_is_unitwise():
    w = np.array([[1.0, 0.0], [0.0, 3.0]])  # units are columns: norms 1 and 3
    g = np.array([[3.0, 0.1], [4.0, 0.1]])  # column norms 5 and ~0.14
    out = optim.adaptive_grad_clip(0.5).update({"w": g}, optim.EmptyState(), {"w": w})[0]["w"]
    np.testing.assert_allclose(out[:, 0], g[:, 0] * 0.5 / 5.0)
    np.testing.assert_allclose(out[:, 1], g[:, 1])


def test_per_example_clipping_against_a_loop():
    rng = np.random.default_rng(1)
    grads = {"a": rng.normal(size=(5, 3)), "b": rng.normal(size=(5, 2, 2))}
    total, count = optim.per_example_global_norm_clip(grads, 1.5)
    want = {k: 0.0 for k in grads}
    clipped = 0
    for i in range(5):
        n = np.sqrt(sum(np.sum(g[i] ** 2) for g in grads.values()))
        f = min(1.0, 1.5 / n)
        clipped += f < 1.0
        for k in grads:
            want[k] = want[k] + f * grads[k][i]
    for k in grads:
        np.testing.assert_allclose(total[k], want[k], rtol=1e-12)
    assert int(count) == clipped
    sums, counts = optim.per_example_layer_norm_clip(grads, 1.5, uniform=False)
    share = 1.5 * np.sqrt(4 / 7)
    np.testing.assert_allclose(sums["b"], optim.per_example_global_norm_clip(
        grads["b"], share)[0], rtol=1e-12)
    with pytest.raises(ValueError, match="batch axis"):
        optim.per_example_global_norm_clip({"a": np.ones((2, 1)), "b": np.ones((3, 1))}, 1.0)


def test_per_example_clipping_of_integer_grads_gives_fractions():
    # optax's docstring example: rows of norm 0, 5, 5, 5 clipped to 1.25 sum to 1.75 each
    grads = [np.array([[0, 0, 0], [0, 3, 4], [4, 0, 3], [3, 4, 0]], np.int32)]
    total, count = optim.per_example_global_norm_clip(grads, 1.25)
    np.testing.assert_allclose(total[0], [1.75, 1.75, 1.75], rtol=1e-6)
    assert total[0].dtype == np.float32 and int(count) == 3
    sums, _ = optim.per_example_layer_norm_clip(grads, 1.25)
    np.testing.assert_allclose(sums[0], [1.75, 1.75, 1.75], rtol=1e-6)


def test_centralize_and_constraints():
    g = {"m": np.array([[1.0, 3.0], [2.0, 2.0]]), "v": np.array([1.0, 2.0])}
    out = optim.centralize().update(g, optim.EmptyState())[0]
    np.testing.assert_allclose(out["m"], [[-1.0, 1.0], [0.0, 0.0]])
    np.testing.assert_array_equal(out["v"], g["v"])
    p = {"x": np.array([1.0, 1.0])}
    u = optim.keep_params_nonnegative().update({"x": np.array([-3.0, -0.5])},
                                               optim.EmptyState(), p)[0]
    np.testing.assert_allclose(u["x"], [-1.0, -0.5])
    t = optim.zero_nans()
    u, s = t.update({"x": np.array([np.nan, 2.0])}, t.init(p))
    np.testing.assert_array_equal(u["x"], [0.0, 2.0])
    assert bool(s.found_nan["x"])


def test_param_scaled_updates():
    p = {"a": np.array([3.0, 4.0]), "b": np.array([[0.0]])}
    g = {"a": np.array([1.0, 1.0]), "b": np.array([[2.0]])}
    out = optim.scale_by_param_block_norm().update(g, optim.EmptyState(), p)[0]
    np.testing.assert_allclose(out["a"], g["a"] * 5.0)
    np.testing.assert_allclose(out["b"], g["b"] * 1e-3)  # zero params: the floor
    out = optim.scale_by_param_block_rms().update(g, optim.EmptyState(), p)[0]
    np.testing.assert_allclose(out["a"], g["a"] * np.sqrt(12.5))
    out = optim.scale_by_trust_ratio().update(g, optim.EmptyState(), p)[0]
    np.testing.assert_allclose(out["a"], g["a"] * 5.0 / np.sqrt(2.0))
    np.testing.assert_allclose(out["b"], g["b"])  # zero param norm: ratio 1


def test_ema_debias_and_learning_rate_sign():
    t = optim.ema(0.9, debias=False)
    s = t.init({"x": 0.0})
    u, s = t.update({"x": np.asarray(1.0)}, s)
    u, s = t.update({"x": np.asarray(1.0)}, s)
    np.testing.assert_allclose(u["x"], 0.19)
    t = optim.ema(0.9)
    u, _ = t.update({"x": np.asarray(2.0)}, t.init({"x": 0.0}))
    np.testing.assert_allclose(u["x"], 2.0)
    u, _ = optim.scale_by_learning_rate(0.5, flip_sign=False).update({"x": 2.0},
                                                                     optim.EmptyState())
    assert u["x"] == 1.0
    assert optim.scale_by_learning_rate(None).update({"x": 2.0}, optim.EmptyState())[0] == \
        {"x": 2.0}


def test_scheduled_weight_decay_counts_steps():
    t = optim.add_decayed_weights(lambda k: 0.1 * (k + 1))
    s = t.init(P)
    for k in range(3):
        u, s = t.update(G, s, P)
        np.testing.assert_allclose(u["a"], G["a"] + 0.1 * (k + 1) * P["a"])


def test_add_noise_is_reproducible_and_annealed():
    t = optim.add_noise(1.0, 0.55, key=7)
    zeros = {"a": np.zeros(4000)}
    u1, s = t.update(zeros, t.init(zeros))
    u2, _ = t.update(zeros, s)
    again, _ = t.update(zeros, t.init(zeros))
    np.testing.assert_array_equal(u1["a"], again["a"])
    assert abs(np.var(u2["a"]) / 2 ** -0.55 - 1) < 0.1
    assert abs(np.corrcoef(u1["a"], u2["a"])[0, 1]) < 0.1


def test_distance_over_gradients_grows_with_distance():
    t = optim.scale_by_distance_over_gradients(eps=0.0)
    p0 = {"a": np.array([3.0, 4.0])}
    s = t.init(p0)
    g = {"a": np.array([1.0, 0.0])}
    u, s = t.update(g, s, p0)
    np.testing.assert_allclose(u["a"], 1e-6 * 6.0 * g["a"])
    p1 = {"a": np.array([3.0, 2.0])}
    u, s = t.update(g, s, p1)
    np.testing.assert_allclose(u["a"], 2.0 / np.sqrt(2.0) * g["a"])


def test_named_chain_and_stateless_helpers():
    t = optim.named_chain(("clip", optim.clip(1.0)), ("neg", optim.stateless_with_tree_map(
        lambda g, p: -g * p)))
    state = t.init(P)
    assert list(state) == ["clip", "neg"]
    out = t.update(G, state, P)[0]
    np.testing.assert_allclose(out["a"], -np.clip(G["a"], -1, 1) * P["a"])
    with pytest.raises(ValueError, match="unique"):
        optim.named_chain(("x", optim.identity()), ("x", optim.identity()))
    new, old = {"w": np.array(1.0)}, {"w": np.array(3.0)}
    assert float(optim.incremental_update(new, old, 0.25)["w"]) == 2.5
    assert [float(optim.periodic_update(new, old, k, 3)["w"]) for k in range(4)] == \
        [1.0, 3.0, 3.0, 1.0]


def test_sm3_covers_scalars_and_matrices():
    # A matrix's accumulator is the minimum over its row and column covers of the running
    # maxima: after one step it is g**2 itself, so the step is g / |g| (momentum b1 = 0).
    t = optim.scale_by_sm3(b1=0.0, eps=0.0)
    p = {"m": np.zeros((2, 3)), "s": np.zeros(())}
    g = {"m": np.array([[1.0, -2.0, 3.0], [4.0, 5.0, -6.0]]), "s": np.array(-2.0)}
    u, s = t.update(g, t.init(p))
    np.testing.assert_allclose(u["m"], np.sign(g["m"]))
    np.testing.assert_allclose(u["s"], -1.0)
    assert [m.shape for m in s.mu["m"]] == [(2,), (3,)]
    np.testing.assert_allclose(s.mu["m"][0], [9.0, 36.0])  # row maxima of g**2
    u, s = t.update(g, s)
    rows, cols = np.array([9.0, 36.0]), np.array([16.0, 25.0, 36.0])
    acc = np.minimum(rows[:, None], cols[None, :]) + g["m"] ** 2
    np.testing.assert_allclose(u["m"], g["m"] / np.sqrt(acc))
    np.testing.assert_allclose(u["s"], -2.0 / np.sqrt(8.0))


def test_piecewise_constant_rejects_negative_scales():
    with pytest.raises(ValueError, match="non-negative"):
        optim.piecewise_constant_schedule(1.0, {3: -0.5})
    assert float(optim.piecewise_constant_schedule(0.5)(10)) == 0.5
