"""Wrappers on their exact semantics: accumulation equals one big batch, masked leaves stay
untouched, non-finite steps are skipped and counted, injected hyperparameters change without
recompiling, and each wrapper gives the same numbers under jit as eagerly."""

from __future__ import annotations

import numpy as np
import pytest

import fnad
import fnad.numpy as fnp
from fnad import optim

RNG = np.random.default_rng(0)
X = RNG.normal(size=(8, 3))
Y = RNG.normal(size=(8,))
PARAMS = {"w": np.array([0.5, -0.3, 0.2]), "b": np.array(0.1)}


def loss(params, x, y):
    return fnp.mean((x @ params["w"] + params["b"] - y) ** 2)


def grads(params, x=X, y=Y):
    return fnad.grad(loss)(params, x, y)


def assert_trees_close(a, b, **kw):
    for x, y in zip(fnad.tree.tree_leaves(a), fnad.tree.tree_leaves(b)):
        np.testing.assert_allclose(x, y, **kw)


@pytest.mark.parametrize("jit", [False, True])
def test_multisteps_equals_one_big_batch(jit):
    big = optim.adam(0.1)
    acc = optim.MultiSteps(optim.adam(0.1), every_k_schedule=4, accumulator_dtype=np.float64)
    update = fnad.jit(acc.update) if jit else acc.update
    p_big, s_big = PARAMS, big.init(PARAMS)
    p_acc, s_acc = PARAMS, acc.init(PARAMS)
    for _ in range(2):
        u, s_big = big.update(grads(p_big), s_big, p_big)
        p_big = optim.apply_updates(p_big, u)
        for i in range(4):  # four micro-batches of two examples
            g = grads(p_acc, X[2 * i:2 * i + 2], Y[2 * i:2 * i + 2])
            u, s_acc = update(g, s_acc, p_acc)
            if i < 3:
                assert all(np.all(x == 0) for x in fnad.tree.tree_leaves(u))
                assert not bool(acc.has_updated(s_acc))
            p_acc = optim.apply_updates(p_acc, u)
        assert bool(acc.has_updated(s_acc))
        assert_trees_close(p_acc, p_big, rtol=1e-10)  # a running mean: rounding differs
    assert int(s_acc.gradient_step) == 2


def test_multisteps_skips_a_non_finite_micro_step_without_counting_it():
    acc = optim.MultiSteps(optim.sgd(1.0), 2, should_skip_update_fn=optim.skip_not_finite,
                           accumulator_dtype=np.float64)
    state = acc.init(PARAMS)
    nan = {"w": np.full(3, np.nan), "b": np.array(1.0)}
    u, state = acc.update(nan, state, PARAMS)
    assert int(state.mini_step) == 0 and int(state.skip_state["num_not_finite"]) == 3
    g = grads(PARAMS)
    _, state = acc.update(g, state, PARAMS)
    u, state = acc.update(g, state, PARAMS)
    assert_trees_close(u, {"w": -g["w"], "b": -g["b"]}, rtol=1e-12)


def test_masked_leaves_are_untouched():
    g = grads(PARAMS)
    for mask in ({"w": True, "b": False}, lambda p: {"w": True, "b": False}):
        opt = optim.masked(optim.chain(optim.adam(0.1), optim.add_decayed_weights(0.5)), mask)
        state = opt.init(PARAMS)
        assert isinstance(state.inner_state[0][0].mu["b"], optim.MaskedNode)
        for _ in range(3):
            u, state = opt.update(g, state, PARAMS)
            assert u["b"] is g["b"]  # passed through as it came
        ref = optim.chain(optim.adam(0.1), optim.add_decayed_weights(0.5))
        rs = ref.init({"w": PARAMS["w"]})
        for _ in range(3):
            ru, rs = ref.update({"w": g["w"]}, rs, {"w": PARAMS["w"]})
        np.testing.assert_allclose(u["w"], ru["w"], rtol=1e-12)


def test_weight_decay_mask_skips_biases():
    opt = optim.adamw(0.1, weight_decay=0.5, mask={"w": True, "b": False})
    plain = optim.adam(0.1)
    g = grads(PARAMS)
    u, _ = opt.update(g, opt.init(PARAMS), PARAMS)
    ru, _ = plain.update(g, plain.init(PARAMS), PARAMS)
    np.testing.assert_allclose(u["b"], ru["b"], rtol=1e-12)
    np.testing.assert_allclose(u["w"], ru["w"] - 0.1 * 0.5 * PARAMS["w"], rtol=1e-12)


def test_partition_gives_each_group_its_optimizer():
    g = grads(PARAMS)
    opt = optim.multi_transform({"fast": optim.sgd(1.0), "slow": optim.sgd(0.01)},
                                {"w": "fast", "b": "slow"})
    u, _ = opt.update(g, opt.init(PARAMS), PARAMS)
    np.testing.assert_allclose(u["w"], -g["w"])
    np.testing.assert_allclose(u["b"], -0.01 * g["b"])
    with pytest.raises(ValueError, match="no transformation"):
        optim.partition({"fast": optim.sgd(1.0)}, {"w": "fast", "b": "x"}).init(PARAMS)


@pytest.mark.parametrize("jit", [False, True])
def test_apply_if_finite_skips_and_counts(jit):
    opt = optim.apply_if_finite(optim.adam(0.1), max_consecutive_errors=2)
    update = fnad.jit(opt.update) if jit else opt.update
    state = opt.init(PARAMS)
    g = grads(PARAMS)
    _, state = update(g, state, PARAMS)
    bad = {"w": np.array([np.nan, 0.0, 0.0]), "b": np.array(np.inf)}
    for k in (1, 2):
        u, new = update(bad, state, PARAMS)
        assert all(np.all(x == 0) for x in fnad.tree.tree_leaves(u))
        assert_trees_close(new.inner_state, state.inner_state, rtol=0)
        assert (int(new.notfinite_count), int(new.total_notfinite)) == (k, k)
        assert not bool(new.last_finite)
        state = new
    u, state = update(bad, state, PARAMS)  # the third in a row goes through
    assert np.isnan(u["w"][0])
    u, state = update(g, state, PARAMS)
    assert int(state.notfinite_count) == 0 and int(state.total_notfinite) == 3


def test_inject_hyperparams_changes_without_recompiling():
    traces = []
    opt = optim.inject_hyperparams(optim.adamw)(learning_rate=0.1, weight_decay=0.0)

    @fnad.jit
    def step(g, state, params):
        traces.append(1)
        return opt.update(g, state, params)

    state = opt.init(PARAMS)
    assert set(state.hyperparams) >= {"learning_rate", "b1", "b2", "eps", "weight_decay"}
    assert state.hyperparams["learning_rate"].dtype == np.float64  # the params' dtype
    g = grads(PARAMS)
    u1, s1 = step(g, state, PARAMS)
    state.hyperparams["learning_rate"] = np.asarray(0.2)
    u2, _ = step(g, state, PARAMS)
    assert len(traces) == 1
    np.testing.assert_allclose(u2["w"], 2 * u1["w"], rtol=1e-12)
    ref, _ = optim.adamw(0.1, weight_decay=0.0).update(
        g, optim.adamw(0.1, weight_decay=0.0).init(PARAMS), PARAMS)
    assert_trees_close(u1, ref, rtol=1e-12)


def test_inject_hyperparams_evaluates_schedules_per_step():
    opt = optim.inject_hyperparams(optim.sgd)(learning_rate=optim.linear_schedule(1.0, 0.0, 4))
    state = opt.init(PARAMS)
    seen = []
    for _ in range(3):
        _, state = opt.update(grads(PARAMS), state, PARAMS)
        seen.append(float(state.hyperparams["learning_rate"]))
    assert seen == pytest.approx([1.0, 0.75, 0.5])
    with pytest.raises(ValueError, match="static_args"):
        optim.inject_hyperparams(optim.sgd, static_args=("lr",))


def test_lookahead_syncs_every_period():
    opt = optim.lookahead(optim.sgd(0.5), sync_period=2, slow_step_size=0.5)
    params = optim.LookaheadParams.init_synced({"x": np.array([4.0])})
    state = opt.init(params)
    fast, slow = 4.0, 4.0
    for k in range(1, 5):
        u, state = opt.update({"x": 2 * params.fast["x"]}, state, params)  # f = x**2
        params = optim.apply_updates(params, u)
        fast = fast - 0.5 * 2 * fast
        if k % 2 == 0:
            slow = slow + 0.5 * (fast - slow)
            fast = slow
        np.testing.assert_allclose([params.fast["x"][0], params.slow["x"][0]], [fast, slow])


def test_flatten_matches_leafwise_optimizer():
    g = grads(PARAMS)
    flat, plain = optim.flatten(optim.adam(0.1)), optim.adam(0.1)
    assert optim.flatten(optim.adam(0.1)).init(PARAMS)[0].mu.shape == (4,)
    u, _ = flat.update(g, flat.init(PARAMS), PARAMS)
    ru, _ = plain.update(g, plain.init(PARAMS), PARAMS)
    assert_trees_close(u, ru, rtol=1e-12)


def test_freeze_and_selective_transform_zero_frozen_leaves():
    g = grads(PARAMS)
    for opt in (optim.chain(optim.freeze({"w": False, "b": True}), optim.sgd(1.0)),
                optim.selective_transform(optim.sgd(1.0), freeze_mask={"w": False, "b": True})):
        u, _ = opt.update(g, opt.init(PARAMS), PARAMS)
        assert float(u["b"]) == 0.0
        np.testing.assert_allclose(u["w"], -g["w"])


def test_conditional_wrappers_follow_the_step():
    g = {"x": np.array(1.0)}
    for wrap, other in ((optim.conditionally_transform, 1.0), (optim.conditionally_mask, 0.0)):
        opt = wrap(optim.sgd(2.0, momentum=0.5), lambda step: step % 2 == 1)
        state = opt.init(g)
        got = []
        for _ in range(4):
            u, state = opt.update(g, state)
            got.append(float(u["x"]))
        assert got == [other, -2.0, other, -3.0]  # momentum only advances when applied


def test_apply_every_sums_k_steps():
    opt = optim.apply_every(3)
    state = opt.init({"x": 0.0})
    got = []
    for k in range(1, 7):
        u, state = opt.update({"x": np.asarray(float(k))}, state)
        got.append(float(u["x"]))
    assert got == [0.0, 0.0, 6.0, 0.0, 0.0, 15.0]


def test_monitor_snapshot_and_ema_measure_without_changing_updates():
    g = grads(PARAMS)
    opt = optim.chain(optim.monitor({"norm": optim.global_norm,
                                     "avg": optim.measure_with_ema(optim.global_norm, 0.5)}),
                      optim.snapshot("raw_b", lambda u: u["b"]), optim.sgd(1.0))
    state = opt.init(PARAMS)
    u, state = opt.update(g, state, PARAMS)
    np.testing.assert_allclose(u["w"], -g["w"])
    norm = np.sqrt(np.sum(g["w"] ** 2) + g["b"] ** 2)
    np.testing.assert_allclose(state[0].measurements["norm"], norm)
    np.testing.assert_allclose(state[0].measurements["avg"], norm)  # debiased first step
    np.testing.assert_allclose(state[1].measurement["raw_b"], g["b"])


def test_tree_map_params_maps_only_params_shaped_state():
    opt = optim.adam(0.1)
    state = opt.init(PARAMS)
    out = optim.tree_map_params(opt, lambda x: x + 1.0, state,
                                transform_non_params=lambda x: x * 0 + 7)
    np.testing.assert_allclose(out[0].mu["w"], np.ones(3))
    assert int(out[0].count) == 7


def test_wrapped_updates_jit_like_eager():
    g = grads(PARAMS)
    for opt in (optim.lookahead(optim.adam(0.1), 2, 0.5),
                optim.inject_hyperparams(optim.lamb)(learning_rate=0.1),
                optim.inject_hyperparams(optim.radam)(learning_rate=0.1),
                optim.inject_hyperparams(optim.fromage)(learning_rate=0.1),
                optim.zero_nans(), optim.apply_every(2)):
        params = optim.LookaheadParams.init_synced(PARAMS) \
            if "Lookahead" in type(opt.init(optim.LookaheadParams.init_synced(PARAMS))).__name__ \
            else PARAMS
        state = opt.init(params)
        eager = opt.update(g, state, params)
        staged = fnad.jit(opt.update)(g, state, params)
        assert_trees_close(eager, staged, rtol=1e-12)
