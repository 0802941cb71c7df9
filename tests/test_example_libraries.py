"""fnad.example_libraries.optimizers (JAX's jax.example_libraries.optimizers): each
optimizer's triple against its update written in NumPy, on a pytree, eagerly and jitted;
schedules and gradient clipping against their formulas."""

from __future__ import annotations

import numpy as np
import pytest

import fnad
from fnad.example_libraries import optimizers as O

B1, B2, EPS = 0.9, 0.999, 1e-8


def numpy_step(name: str, i: int, g: np.ndarray, s: list[np.ndarray], lr: float) -> list:
    """The reference: one update of state `s` (x first) in float64."""
    x = s[0]
    if name == "sgd":
        return [x - lr * g]
    if name == "momentum":
        v = 0.9 * s[1] + g
        return [x - lr * v, v]
    if name == "nesterov":
        v = 0.8 * s[1] + g
        return [x - lr * (0.8 * v + g), v]
    if name == "adagrad":
        g_sq = s[1] + g * g
        m = 0.1 * g / np.sqrt(g_sq) + 0.9 * s[2]
        return [x - lr * m, g_sq, m]
    if name == "rmsprop":
        avg = 0.9 * s[1] + 0.1 * g * g
        return [x - lr * g / np.sqrt(avg + EPS), avg]
    if name == "rmsprop_momentum":
        avg = 0.9 * s[1] + 0.1 * g * g
        mom = 0.9 * s[2] + lr * g / np.sqrt(avg + EPS)
        return [x - mom, avg, mom]
    if name == "adam":
        m, v = (1 - B1) * g + B1 * s[1], (1 - B2) * g * g + B2 * s[2]
        step = lr * (m / (1 - B1 ** (i + 1))) / (np.sqrt(v / (1 - B2 ** (i + 1))) + EPS)
        return [x - step, m, v]
    m, u = (1 - B1) * g + B1 * s[1], np.maximum(B2 * s[2], np.abs(g))  # adamax
    return [x - lr / (1 - B1 ** (i + 1)) * m / (u + EPS), m, u]


MAKERS = {"sgd": lambda: O.sgd(0.1), "momentum": lambda: O.momentum(0.1, 0.9),
          "nesterov": lambda: O.nesterov(0.1, 0.8), "adagrad": lambda: O.adagrad(0.1),
          "rmsprop": lambda: O.rmsprop(0.1), "rmsprop_momentum": lambda: O.rmsprop_momentum(0.1),
          "adam": lambda: O.adam(0.1), "adamax": lambda: O.adamax(0.1)}


@pytest.mark.parametrize("name", MAKERS)
@pytest.mark.parametrize("jitted", [False, True])
def test_optimizers_match_their_numpy_updates(name, jitted):
    params = {"w": np.array([1.0, -2.0, 0.5]), "b": (np.array(0.3), np.array([[1.0, 2.0]]))}
    init, update, get_params = MAKERS[name]()
    step = fnad.jit(update) if jitted else update
    state = init(params)
    leaves = fnad.tree.leaves(params)
    ref = [[x] + [np.zeros_like(x)] * {"sgd": 0, "momentum": 1, "nesterov": 1,
                                      "rmsprop": 1}.get(name, 2) for x in leaves]
    for i in range(4):
        grads = fnad.tree.map(lambda x: np.sin(x) * 2 + 0.1, get_params(state))
        state = step(i, grads, state)
        ref = [numpy_step(name, i, np.sin(s[0]) * 2 + 0.1, s, 0.1) for s in ref]
    got = fnad.tree.leaves(get_params(state))
    for a, r in zip(got, ref):
        np.testing.assert_allclose(a, r[0], rtol=1e-10, atol=1e-12)
    assert fnad.tree.structure(get_params(state)) == fnad.tree.structure(params)


def test_schedules_clipping_and_dtypes():
    np.testing.assert_allclose(O.exponential_decay(0.1, 2, 0.5)(3), 0.1 * 0.5 ** 1.5,
                               rtol=1e-6)
    np.testing.assert_allclose(O.inverse_time_decay(0.1, 2, 0.5, staircase=True)(3),
                               0.1 / 1.5, rtol=1e-6)
    np.testing.assert_allclose(O.polynomial_decay(0.1, 4, 0.01, power=2.0)(2),
                               0.09 * 0.25 + 0.01, rtol=1e-6)
    pw = O.piecewise_constant([1, 3], [0.1, 0.05, 0.01])
    assert [float(pw(i)) for i in (0, 1, 2, 3, 4)] == pytest.approx([0.1, 0.1, 0.05, 0.05,
                                                                     0.01])
    assert float(fnad.jit(pw)(2)) == pytest.approx(0.05)
    g = {"a": np.array([3.0, 4.0]), "b": np.array(12.0)}
    assert float(O.l2_norm(g)) == pytest.approx(13.0)
    clipped = O.clip_grads(g, 6.5)
    np.testing.assert_allclose(clipped["a"], [1.5, 2.0])
    np.testing.assert_allclose(O.clip_grads(g, 20.0)["b"], 12.0)
    # float32 parameters stay float32 under a schedule of an integer step count, jitted too
    init, update, get_params = O.adam(O.exponential_decay(0.1, 2, 0.5))
    state = fnad.jit(update)(0, {"w": np.ones(2, np.float32)}, init({"w": np.zeros(2, np.float32)}))
    assert get_params(state)["w"].dtype == np.float32
    with pytest.raises(fnad.FnadError, match="structure"):
        update(0, [np.ones(2)], state)


@pytest.mark.parametrize("schedule", [O.exponential_decay(0.1, 2, 0.5),
                                      O.inverse_time_decay(0.1, 2, 0.5),
                                      O.inverse_time_decay(0.1, 2, 0.5, staircase=True),
                                      O.polynomial_decay(0.1, 4, 0.01, power=2.0)])
def test_schedules_of_python_counts_are_python_floats(schedule):
    # as JAX's: a Python step count gives a (weak) Python float, so float16 parameters stay
    # float16 (a float32 step size made them float32)
    assert type(schedule(3)) is float
    init, update, get_params = O.sgd(schedule)
    state = init({"w": np.ones(3, np.float16)})
    for i in range(3):
        state = update(i, {"w": np.ones(3, np.float16)}, state)
    assert get_params(state)["w"].dtype == np.float16
    lrs = sum(schedule(i) for i in range(3))
    np.testing.assert_allclose(get_params(state)["w"], 1 - lrs, rtol=2e-3)


def test_clip_grads_to_zero_norm_warns_nothing():
    # max_norm 0 with zero gradients is 0 / 0: NaN as in JAX, without NumPy's warning
    with np.errstate(all="raise"):
        out = O.clip_grads({"g": np.zeros(2, np.float32)}, 0.0)
    assert np.isnan(out["g"]).all() and out["g"].dtype == np.float32


def test_stax_layers_shapes_and_values():
    from fnad import random
    from fnad.example_libraries import stax

    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 6, 6, 3))
    key = random.key(0)
    # every init's output shape is the apply output's, past the batch axis (-1 at init;
    # pooling's shape rule makes it 0 there, as JAX's does)
    layers = [stax.Dense(5), stax.Conv(4, (3, 3), (1, 2), "SAME"), stax.BatchNorm(),
              stax.MaxPool((2, 2), (2, 2)), stax.SumPool((3, 3)), stax.AvgPool((2, 2), (1, 1),
                                                                               "SAME"),
              stax.Flatten, stax.Relu, stax.LogSoftmax, stax.Identity]
    for init_fun, apply_fun in layers:
        shape, params = init_fun(key, (-1, 6, 6, 3))
        out = apply_fun(params, x)
        assert out.shape[1:] == tuple(shape[1:]), (shape, out.shape)
    _, (w, b) = stax.Dense(5)[0](key, (-1, 3))
    np.testing.assert_allclose(stax.Dense(5)[1]((w, b), x[0, 0]), x[0, 0] @ w + b, rtol=1e-6)
    windows = x.reshape(2, 3, 2, 3, 2, 3)
    np.testing.assert_allclose(stax.MaxPool((2, 2), (2, 2))[1]((), x), windows.max((2, 4)))
    np.testing.assert_allclose(stax.AvgPool((2, 2), (2, 2))[1]((), x), windows.mean((2, 4)))
    shape, (beta, gamma) = stax.BatchNorm()[0](key, (-1, 6, 6, 3))
    z = stax.BatchNorm()[1]((beta, gamma), x)
    np.testing.assert_allclose(z.mean((0, 1, 2)), 0, atol=1e-10)
    np.testing.assert_allclose(z.var((0, 1, 2)), 1, atol=1e-3)
    # Dropout keeps with probability `rate` (JAX's stax convention) and rescales
    kept = stax.Dropout(0.5)[1]((), np.ones((200, 200)), rng=random.key(1))
    assert set(np.unique(kept)) <= {0.0, 2.0} and abs((kept > 0).mean() - 0.5) < 0.02
    np.testing.assert_array_equal(stax.Dropout(0.5, mode="test")[1]((), x), x)
    with pytest.raises(ValueError, match="rng"):
        stax.Dropout(0.5)[1]((), x)
    # fan out, parallel branches, fan in
    init_fun, apply_fun = stax.serial(stax.FanOut(2), stax.parallel(stax.Dense(4), stax.Identity),
                                      stax.FanInConcat())
    shape, params = init_fun(key, (-1, 3))
    out = apply_fun(params, x[0, 0:2, 0])
    assert shape == (-1, 7) and out.shape == (2, 7)
    np.testing.assert_allclose(out[:, 4:], x[0, 0:2, 0])
    # parallel's shapes and params are tuples, as JAX's (they were lists: another pytree)
    shapes, branch_params = stax.parallel(stax.Dense(2), stax.Identity)[0](key, [(-1, 3)] * 2)
    assert shapes == ((-1, 2), (-1, 3)) and type(branch_params) is tuple
    assert fnad.tree.tree_structure(params[1]) == fnad.tree.tree_structure(((0, 0), ()))
    summed = stax.serial(stax.FanOut(3), stax.FanInSum)[1]([(), ()], x)
    np.testing.assert_allclose(summed, 3 * x)


def test_stax_with_optimizers_trains():
    from fnad import random
    from fnad.example_libraries import stax

    init_fun, apply_fun = stax.serial(stax.Dense(16), stax.Tanh, stax.Dense(2), stax.LogSoftmax)
    _, params = init_fun(random.key(0), (-1, 3))
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 3)).astype(np.float32)
    y = (x[:, 0] * x[:, 1] > 0).astype(np.int32)
    loss = lambda p: -np.mean(  # noqa: E731
        fnad.numpy.take_along_axis(apply_fun(p, x), y[:, None], axis=1))
    opt_init, opt_update, get_params = O.adam(0.05)
    state = opt_init(params)
    step = fnad.jit(lambda i, s: opt_update(i, fnad.grad(loss)(get_params(s)), s))
    first = float(loss(params))
    for i in range(60):
        state = step(i, state)
    assert float(loss(get_params(state))) < 0.5 * first


def test_infinities_give_answers_without_numpy_warnings():
    """Updates and layers run NumPy's arithmetic on eager arrays: inf and NaN gradients or
    inputs must give inf/NaN without NumPy's warnings."""
    from fnad import random
    from fnad.example_libraries import stax

    params = {"w": np.array([1.0, np.inf, -np.inf, 0.0])}
    grads = {"w": np.array([np.inf, np.nan, 1.0, 0.0])}
    x = np.full((1, 4, 4, 2), np.inf)
    x[0, 0, 0, 0] = -np.inf
    with np.errstate(all="raise"):
        for make in MAKERS.values():
            init, update, get_params = make()
            get_params(update(0, grads, init(params)))
        O.clip_grads(grads, 1.0)
        for init_fun, apply_fun in (stax.Dense(3), stax.Conv(2, (2, 2)), stax.BatchNorm(),
                                    stax.AvgPool((2, 2)), stax.Dropout(0.5)):
            _, layer_params = init_fun(random.key(0), (-1, 4, 4, 2))
            apply_fun(layer_params, x, rng=random.key(1))
        stax.FanInSum[1]((), [x, -x])
        # a decay past the float range: inf or 0, as JAX's, for Python and array counts
        for count in (2000, np.int32(2000)):
            assert np.isinf(O.exponential_decay(1.0, 1, 2.0)(count))
            assert O.exponential_decay(1.0, 1, 0.5)(count) == 0


def _sm3_reference(x, grads, lr, momentum):
    """SM3-II (Anil et al., 2019) for a matrix in NumPy: per-row and per-column maxima of
    the accumulator, whose minimum plus g**2 is the next accumulator."""
    rows, cols, m = np.zeros(x.shape[0]), np.zeros(x.shape[1]), np.zeros_like(x)
    for g in grads:
        accum = np.minimum(rows[:, None], cols[None, :]) + g * g
        m = (1 - momentum) * np.where(accum > 0, g / np.sqrt(np.where(accum > 0, accum, 1)),
                                      0) + momentum * m
        x = x - lr * m
        rows, cols = accum.max(axis=1), accum.max(axis=0)
    return x


@pytest.mark.parametrize("jitted", [False, True])
def test_sm3_matches_its_update_rule(jitted):
    rng = np.random.default_rng(0)
    x0 = rng.normal(size=(3, 4))
    grads = [rng.normal(size=(3, 4)) for _ in range(4)]
    grads[1][0] = 0.0  # a zero row: its accumulator entries stay positive from before
    init, update, get_params = O.sm3(0.1, momentum=0.5)
    step = fnad.jit(update) if jitted else update
    state = init({"w": x0, "s": np.array(2.0)})
    for i, g in enumerate(grads):
        state = step(i, {"w": g, "s": np.array(float(i) - 1.0)}, state)
    np.testing.assert_allclose(get_params(state)["w"], _sm3_reference(x0, grads, 0.1, 0.5),
                               rtol=1e-12)
    # A scalar is one entry whose accumulator is the sum of its squared gradients.
    np.testing.assert_allclose(get_params(state)["s"],
                               _sm3_reference(np.full((1, 1), 2.0), [np.full((1, 1), i - 1.0)
                                                                     for i in range(4)],
                                              0.1, 0.5)[0, 0], rtol=1e-12)
    assert get_params(state)["s"].shape == ()


def test_optimizer_triple_is_named_and_state_unpacks_for_saving():
    opt = O.adam(0.1)
    assert isinstance(opt, O.Optimizer) and opt.init_fn is opt[0]
    params = {"w": np.array([1.0, 2.0]), "b": [np.array(3.0)]}
    state = opt.update_fn(0, {"w": np.array([0.5, -1.0]), "b": [np.array(2.0)]},
                          opt.init_fn(params))
    marked = O.unpack_optimizer_state(state)
    assert isinstance(marked["w"], O.JoinPoint)
    np.testing.assert_array_equal(marked["w"].subtree[0], opt.params_fn(state)["w"])
    again = O.pack_optimizer_state(marked)
    assert again.tree_def == state.tree_def and again.subtree_defs == state.subtree_defs
    for a, b in zip(fnad.tree.leaves(again), fnad.tree.leaves(state)):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(fnad.FnadError, match="JoinPoint"):
        O.pack_optimizer_state({"w": np.zeros(2)})


def _transposed_conv_reference(x, w, stride):
    """A VALID transposed convolution (NHWC, HWIO; the kernel used as is, as JAX's
    `lax.conv_transpose` with transpose_kernel=False) by scattering each input pixel:
    out[a * s + k - 1 - p] += x[a] * w[p] along each spatial axis, whose length is
    in * s + max(k - s, 0) (JAX's VALID padding; zeros past the last scattered pixel)."""
    n, h, wd, _ = x.shape
    kh, kw, _, o = w.shape
    out = np.zeros((n, h * stride[0] + max(kh - stride[0], 0),
                    wd * stride[1] + max(kw - stride[1], 0), o))
    for a in range(h):
        for b in range(wd):
            for p in range(kh):
                for q in range(kw):
                    out[:, a * stride[0] + kh - 1 - p, b * stride[1] + kw - 1 - q] += \
                        x[:, a, b] @ w[p, q]
    return out


def test_stax_transposed_convolutions():
    from fnad import random
    from fnad.example_libraries import stax

    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 4, 3, 3))
    key = random.key(0)
    init_fun, apply_fun = stax.ConvTranspose(5, (3, 2), strides=(2, 3))
    shape, (w, b) = init_fun(key, (-1, 4, 3, 3))
    assert shape == (-1, 9, 9, 5) and w.shape == (3, 2, 3, 5) and b.shape == (1, 1, 1, 5)
    out = apply_fun((w, b), x)
    np.testing.assert_allclose(out, _transposed_conv_reference(x, w, (2, 3)) + b, rtol=1e-5,
                               atol=1e-6)
    # SAME upsamples by the stride exactly; the 1-d layer is the 2-d one on a width of 1.
    assert stax.ConvTranspose(5, (3, 3), (2, 2), "SAME")[0](key, (-1, 4, 3, 3))[0] == \
        (-1, 8, 6, 5)
    init_1d, apply_1d = stax.Conv1DTranspose(5, (3,), strides=(2,))
    shape, (w1, b1) = init_1d(key, (-1, 4, 3))
    assert shape == (-1, 9, 5)
    np.testing.assert_allclose(apply_1d((w1, b1), x[:, :, 0]),
                               _transposed_conv_reference(x[:, :, :1], w1[:, None], (2, 1))
                               [:, :, 0] + b1, rtol=1e-5, atol=1e-6)
    assert stax.glorot is stax.glorot_normal and stax.logsoftmax is stax.log_softmax
