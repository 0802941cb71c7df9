"""`update` refuses grads, state and params that do not fit together, naming the path of the
first mismatching leaf and which of them it is, in eager code and under jit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fnad
from fnad import optim
from fnad.optim import OptimizerStateError

PARAMS = {"w": np.ones((2, 3)), "b": np.zeros(3)}
GRADS = {"w": np.full((2, 3), 0.5), "b": np.ones(3)}


def test_state_of_another_optimizer_is_refused():
    # The silent case of old: a chain zipped adam's transformations with sgd's shorter state
    # and returned the raw gradients as updates.
    with pytest.raises(OptimizerStateError, match=r"state .*init\(params\)"):
        optim.adam(1e-3).update(GRADS, optim.sgd(0.1).init(PARAMS), PARAMS)


def test_chain_checks_the_number_of_states():
    inner = optim.chain(optim.clip(1.0), optim.scale(-0.1))
    outer = optim.chain(inner)
    state = (inner.init(PARAMS)[:1],)
    with pytest.raises(OptimizerStateError, match=r"state\[0\] is a tuple of 1 where "
                                                  r"init\(params\)\[0\] is a tuple of 2"):
        outer.update(GRADS, state, PARAMS)
    with pytest.raises(OptimizerStateError, match=r"state is a tuple of 1 where"):
        inner.update(GRADS, state[0], PARAMS)


def test_missing_and_extra_grads_are_named_from_the_callers_side():
    opt = optim.sgd(0.1)
    state = opt.init(PARAMS)
    with pytest.raises(OptimizerStateError, match=r"grads is missing \['b'\]"):
        opt.update({"w": GRADS["w"]}, state, PARAMS)
    with pytest.raises(OptimizerStateError, match=r"grads has \['c'\], which params lacks"):
        opt.update({**GRADS, "c": np.ones(1)}, state, PARAMS)


def test_a_broadcastable_but_wrong_shape_is_refused():
    opt = optim.adam(0.1)
    bad = {"w": np.ones((1, 3)), "b": GRADS["b"]}
    with pytest.raises(OptimizerStateError,
                       match=r"grads\['w'\] has shape \(1, 3\) where params\['w'\] has shape "
                             r"\(2, 3\)"):
        opt.update(bad, opt.init(PARAMS), PARAMS)


def test_state_for_other_params_names_the_state_path():
    opt = optim.adam(0.1)
    state = opt.init({"w": np.ones((2, 3)), "b": np.zeros(4)})
    with pytest.raises(OptimizerStateError,
                       match=r"state\[0\]\.mu\['b'\] has shape \(4,\) where "
                             r"init\(params\)\[0\]\.mu\['b'\] has shape \(3,\)"):
        opt.update(GRADS, state, PARAMS)


def test_without_params_the_state_is_checked_against_the_grads():
    opt = optim.adam(0.1)
    with pytest.raises(OptimizerStateError, match=r"state\[0\]\.mu is missing \['b'\]"):
        opt.update(GRADS, opt.init({"w": PARAMS["w"]}))


def test_list_params_of_another_length():
    opt = optim.sgd(0.1, momentum=0.9)
    with pytest.raises(OptimizerStateError, match=r"grads is a list of 1 where params is a "
                                                  r"list of 2"):
        opt.update([np.ones(2)], opt.init([np.ones(2), np.ones(2)]), [np.ones(2), np.ones(2)])


def test_checks_run_under_jit():
    opt = optim.adam(0.1)
    state = opt.init(PARAMS)
    step = fnad.jit(lambda g, s, p: opt.update(g, s, p))
    step(GRADS, state, PARAMS)
    with pytest.raises(OptimizerStateError, match=r"grads\['w'\] has shape"):
        step({"w": np.ones((1, 3)), "b": GRADS["b"]}, state, PARAMS)


def test_apply_updates_checks_shapes():
    with pytest.raises(OptimizerStateError, match=r"updates\['b'\] has shape \(1,\)"):
        optim.apply_updates(PARAMS, {"w": GRADS["w"], "b": np.ones(1)})


def test_matching_arguments_pass_through_every_wrapper():
    # The state keeps init's structure through updates, so the checks never refuse it.
    for opt in (optim.masked(optim.adam(0.1), {"w": True, "b": False}),
                optim.MultiSteps(optim.adam(0.1), 2),
                optim.apply_if_finite(optim.adam(0.1), 2),
                optim.inject_hyperparams(optim.adamw)(learning_rate=0.1),
                optim.flatten(optim.adam(0.1)),
                optim.chain(optim.monitor({"n": optim.global_norm,
                                           "ema": optim.measure_with_ema(optim.global_norm,
                                                                         0.9)}),
                            optim.snapshot("b", lambda u: u["b"]), optim.sgd(0.1)),
                optim.named_chain(("noise", optim.add_noise(0.1, 0.5, key=0)),
                                  ("step", optim.sm3(0.1))),
                optim.partition({"a": optim.lion(0.1), "b": optim.adafactor(0.1)},
                                {"w": "a", "b": "b"}),
                optim.conditionally_mask(optim.novograd(0.1), lambda step: step > 0),
                optim.chain(optim.apply_every(2), optim.zero_nans(), optim.rprop(0.1))):
        state = opt.init(PARAMS)
        for _ in range(3):
            updates, state = opt.update(GRADS, state, PARAMS)
        assert fnad.tree.tree_structure(updates) == fnad.tree.tree_structure(PARAMS)

SHAPES = st.lists(st.integers(1, 3), min_size=0, max_size=2).map(tuple)
TREES = st.dictionaries(st.sampled_from("abcd"), SHAPES, min_size=1, max_size=4)


@settings(max_examples=25, deadline=None)
@given(TREES, st.sampled_from(["drop", "add", "reshape"]), st.data())
def test_any_single_mismatch_is_named(shapes, change, data):
    params = {k: np.zeros(s) for k, s in shapes.items()}
    grads = {k: np.ones(s) for k, s in shapes.items()}
    key = data.draw(st.sampled_from(sorted(shapes)))
    if change == "drop":
        del grads[key]
        want = rf"grads is missing \['{key}'\]"
    elif change == "add":
        grads["z"] = np.ones(2)
        want = r"grads has \['z'\], which params lacks"
    else:
        grads[key] = np.ones(shapes[key] + (2,))
        want = rf"grads\['{key}'\] has shape"
    opt = optim.adamw(0.1)
    with pytest.raises(OptimizerStateError, match=want):
        opt.update(grads, opt.init(params), params)


def test_python_number_params_take_the_updates_dtype_in_a_scan():
    # optax's optimistic_adam docstring: params (1.0, 2.0) carried through lax.scan. A
    # weakly typed param has no dtype of its own, so the float32 update decides it and the
    # carry keeps its type (casting to the float64 carrier broke the scan).
    opt = optim.adam(0.1)

    def step(carry, _):
        params, state = carry
        grads = fnad.grad(lambda p: p[0] * p[1] ** 2)(params)
        updates, state = opt.update(grads, state, params)
        return (optim.apply_updates(params, updates), state), params[0]

    (params, _), history = fnad.lax.scan(step, ((1.0, 2.0), opt.init((1.0, 2.0))), length=3)
    assert params[0].dtype == history.dtype == np.float32
    # Adam's first step is -lr * sign(g); g = (y**2, 2xy) = (4, 4) > 0
    np.testing.assert_allclose(history[1], 0.9, rtol=1e-6)
    assert optim.apply_updates({"w": np.float32(1)}, {"w": np.float64(0.5)})["w"].dtype == \
        np.float32
