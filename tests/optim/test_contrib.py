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
    assert contrib.normalize().init({"a": 1.0}) == optim.EmptyState()  # optax's state type
    with pytest.raises(optim.OptimizerArgumentError, match="sync_period"):
        contrib.sam(optim.sgd(1.0), optim.sgd(1.0), sync_period=0)
    opaque = contrib.sam(optim.sgd(1.0), optim.sgd(1.0), opaque_mode=True)
    with pytest.raises(optim.OptimizerArgumentError, match="grad_fn"):
        opaque.update(np.ones(2), opaque.init(np.ones(2)), np.ones(2))


def _per_example_grads():
    rng = np.random.RandomState(0)
    return {"a": rng.normal(size=(5, 3, 2)), "b": rng.normal(size=(5, 4)) * 3}


def _clipped_mean(grads, clip):
    norms = np.sqrt(sum(np.sum(g.reshape(len(g), -1) ** 2, axis=1) for g in grads.values()))
    factor = np.minimum(1.0, clip / norms)
    return {k: np.tensordot(factor, g, axes=1) / len(factor) for k, g in grads.items()}


@pytest.mark.parametrize("jit", [False, True])
def test_dpsgd_without_noise_steps_along_the_clipped_mean(jit):
    grads, params = _per_example_grads(), {"a": np.zeros((3, 2)), "b": np.zeros(4)}
    opt = contrib.dpsgd(0.5, l2_norm_clip=2.0, noise_multiplier=0.0, seed=3, momentum=0.9)
    update = fnad.jit(opt.update) if jit else opt.update
    state = opt.init(params)
    mean = _clipped_mean(grads, 2.0)
    for step in range(1, 3):
        updates, state = update(grads, state, params)
        momentum_sum = 1.0 if step == 1 else 1.9  # trace: g, then 0.9 g + g
        for k in mean:
            np.testing.assert_allclose(updates[k], -0.5 * momentum_sum * mean[k], rtol=1e-12)


def test_differentially_private_aggregate_noise_has_the_dp_sgd_scale():
    # Noise of std clip * multiplier on the clipped sum, divided by the batch size.
    grads = {"w": np.zeros((4, 20000), np.float32)}
    agg = optim.chain(contrib.differentially_private_aggregate(1.5, 2.0, key=7),
                      optim.scale(1.0))
    state = agg.init({"w": np.zeros(20000, np.float32)})
    first, state = agg.update(grads, state, {"w": np.zeros(20000, np.float32)})
    second, _ = agg.update(grads, state)
    assert first["w"].dtype == np.float32 and first["w"].shape == (20000,)
    for noise in (first["w"], second["w"]):
        assert abs(noise.mean()) < 0.02 and abs(noise.std() - 1.5 * 2.0 / 4) < 0.02
    assert not np.allclose(first["w"], second["w"])  # a fresh key each step


def test_dpsgd_arguments():
    with pytest.raises(optim.OptimizerArgumentError, match="key or seed"):
        contrib.dpsgd(0.1, 1.0, 1.0, key=1, seed=2)
    opt = contrib.dpsgd(0.1, 1.0, 1.0)
    with pytest.raises(optim.OptimizerArgumentError, match="per-example"):
        opt.update({"w": np.float32(1.0)}, opt.init({"w": np.float32(0.0)}))


def _ademamix_reference(grads, b1, b2, b3, alpha, eps, lr, wd, params):
    """AdEMAMix's update (Pagliardini et al., 2024, Algorithm 1) in NumPy."""
    m1 = m2 = nu = np.zeros_like(params)
    out = []
    for t, g in enumerate(grads, 1):
        b3_t, alpha_t = b3(t - 1), alpha(t - 1)
        m1 = b1 * m1 + (1 - b1) * g
        m2 = b3_t * m2 + (1 - b3_t) * g
        nu = b2 * nu + (1 - b2) * g * g
        step = (m1 / (1 - b1 ** t) + alpha_t * m2) / (np.sqrt(nu / (1 - b2 ** t)) + eps)
        out.append(-lr * (step + wd * params))
    return out


@pytest.mark.parametrize("schedules", [False, True])
def test_ademamix_matches_its_update_rule(schedules):
    rng = np.random.RandomState(1)
    grads = [rng.normal(size=3) for _ in range(4)]
    params = np.array([1.0, -2.0, 0.5])
    b3 = optim.linear_schedule(0.9, 0.99, 3) if schedules else 0.999
    alpha = (lambda count: 2.0 + count) if schedules else 5.0
    opt = contrib.ademamix(0.1, b3=b3, alpha=alpha, weight_decay=0.01)
    state = opt.init(params)
    as_fn = lambda v: v if callable(v) else (lambda count: v)
    expected = _ademamix_reference(grads, 0.9, 0.999, as_fn(b3), as_fn(alpha), 1e-8, 0.1,
                                   0.01, params)
    for g, want in zip(grads, expected):
        updates, state = opt.update(g, state, params)
        np.testing.assert_allclose(updates, want, rtol=1e-10)
    assert int(state[0].count) == int(state[0].count_m2) == 4


def test_ademamix_state_keeps_its_dtype_under_float64_schedules():
    # A schedule computed in NumPy's float64 (int32 step / Python float) must not turn a
    # float32 state into float64: scan and while_loop carries need fixed dtypes.
    opt = contrib.ademamix(0.01, b3=lambda step: 0.5 ** (1 / (step / 10.0 + 1)),
                           alpha=lambda step: step / 10.0)
    params = np.array([1.0, 2.0], np.float32)

    def body(carry, _):
        p, s = carry
        u, s = opt.update(2 * p, s, p)
        return (optim.apply_updates(p, u), s), None

    (p, state), _ = fnad.lax.scan(body, (params, opt.init(params)), length=3)
    assert p.dtype == state[0].m2.dtype == np.float32


def test_simplified_ademamix_matches_its_update_rule():
    # Morwani et al. (2025): m <- b1 m + g, n <- b2 n + (1 - b2) g^2,
    # step = -lr ((m + alpha g) / (sqrt(n / (1 - b2^t)) + eps) + wd p)
    rng = np.random.RandomState(2)
    params = np.array([0.5, -1.0, 2.0])
    opt = contrib.simplified_ademamix(0.05, b1=0.9, b2=0.8, alpha=lambda t: 1.0 + t,
                                      weight_decay=0.1)
    state = opt.init(params)
    m = n = np.zeros(3)
    for t in range(1, 5):
        g = rng.normal(size=3)
        m, n = 0.9 * m + g, 0.8 * n + 0.2 * g * g
        want = -0.05 * ((m + t * g) / (np.sqrt(n / (1 - 0.8 ** t)) + 1e-8) + 0.1 * params)
        updates, state = opt.update(g, state, params)
        np.testing.assert_allclose(updates, want, rtol=1e-10)
    assert int(state[0].t) == 4


@pytest.mark.parametrize("jit", [False, True])
def test_schedule_free_sgd_matches_its_averaging_rule(jit):
    # Defazio et al. (2024): z <- z - lr g(y); x <- (1 - c) x + c z with c = w_t / sum w
    # (w = max lr^2: constant here, so c = 1/t); y = b1 x + (1 - b1) z.
    target = np.array([1.0, -2.0])
    grad = lambda y: 2 * (y - target)
    opt = contrib.schedule_free_sgd(0.1, b1=0.8)
    update = fnad.jit(opt.update) if jit else opt.update
    y = np.array([3.0, 3.0])
    state = opt.init(y)
    x = z = y.copy()
    for t in range(1, 6):
        updates, state = update(grad(y), state, y)
        z = z - 0.1 * grad(b_y := 0.8 * x + 0.2 * z)
        x = (1 - 1 / t) * x + z / t
        np.testing.assert_allclose(y, b_y, rtol=1e-12)
        y = optim.apply_updates(y, updates)
        np.testing.assert_allclose(y, 0.8 * x + 0.2 * z, rtol=1e-12)
        np.testing.assert_allclose(contrib.schedule_free_eval_params(state, y), x, rtol=1e-12)
    with pytest.raises(optim.OptimizerArgumentError, match="ScheduleFreeState"):
        contrib.schedule_free_eval_params(optim.EmptyState(), y)


def test_schedule_free_adamw_runs_under_jit_with_warmup():
    opt = contrib.schedule_free_adamw(0.1, warmup_steps=3, weight_decay=0.01)
    params = {"w": np.ones(3, np.float32)}
    state = opt.init(params)
    step = fnad.jit(opt.update)
    for _ in range(4):
        updates, state = step({"w": params["w"] * 2}, state, params)
        params = optim.apply_updates(params, updates)
    assert params["w"].dtype == np.float32 and np.all(params["w"] < 1.0)
    assert float(state.max_lr) == pytest.approx(0.1) and int(state.step_count) == 5


@pytest.mark.parametrize("nesterov", [False, True])
def test_adopt_matches_its_update_rule(nesterov):
    # Taniguchi et al. (2024), Algorithm 2 (with clipping): v_0 = g_0^2, then
    # m <- b1 m + (1 - b1) clip(g / max(sqrt(v_prev), eps), t^0.25); v <- b2 v + (1 - b2) g^2
    rng = np.random.RandomState(3)
    params = np.array([0.5, -1.0, 2.0])
    opt = contrib.adopt(0.1, b1=0.8, b2=0.9, nesterov=nesterov)
    step = fnad.jit(opt.update)
    state = opt.init(params)
    m, v = np.zeros(3), None
    for t in range(5):
        g = rng.normal(size=3) * 3
        if v is None:
            v, want = g * g, np.zeros(3)
        else:
            s = np.clip(g / np.maximum(np.sqrt(v), 1e-6), -t ** 0.25, t ** 0.25)
            m = 0.8 * m + 0.2 * s
            want = -0.1 * ((0.8 * m + 0.2 * s) if nesterov else m)
            v = 0.9 * v + 0.1 * g * g
        updates, state = step(g, state, params)
        np.testing.assert_allclose(updates, want, rtol=1e-10, atol=1e-15)
    assert updates.dtype == np.float64


@pytest.mark.parametrize("init_step", [("distance", 0.5), ("heuristic", 1e-3),
                                       ("learning_rate", 0.2)])
def test_dog_matches_its_step_rule(init_step):
    # Ivgi et al. (2023): eta_t = max(r_eps, max_k |x_k - x_0|) / sqrt(sum_k |g_k|^2 + eps)
    rng = np.random.RandomState(4)
    x0 = np.array([1.0, -2.0, 0.5])
    opt = contrib.dog(init_step=init_step)
    state, x = opt.init(x0), x0
    kind, value = init_step
    r = {"distance": value, "heuristic": value * (1 + np.linalg.norm(x0))}.get(kind, 0.0)
    sum_sq = 0.0
    for t in range(4):
        g = rng.normal(size=3)
        r, sum_sq = max(r, np.linalg.norm(x - x0)), sum_sq + g @ g
        eta = value if (kind == "learning_rate" and t == 0) else r / np.sqrt(sum_sq + 1e-8)
        updates, state = opt.update(g, state, x)
        np.testing.assert_allclose(updates, -eta * g, rtol=1e-12)
        x = optim.apply_updates(x, updates)


def test_dowg_matches_its_step_rule():
    # Khaled et al. (2023): r2 = max(r2, |x - x0|^2); v += r2 |g|^2; eta = r2 / (sqrt(v) + eps)
    rng = np.random.RandomState(5)
    x0 = np.array([1.0, -2.0, 0.5])
    opt = fnad.jit(contrib.dowg(weight_decay=0.1).update)
    state, x = contrib.dowg(weight_decay=0.1).init(x0), x0
    r2, v = 1e-4, 0.0
    for _ in range(4):
        g = rng.normal(size=3)
        d = g + 0.1 * x  # weight decay joins the gradient first
        r2 = max(r2, np.sum((x - x0) ** 2))
        v += r2 * (d @ d)
        updates, state = opt(g, state, x)
        np.testing.assert_allclose(updates, -r2 / (np.sqrt(v) + 1e-4) * d, rtol=1e-12)
        x = optim.apply_updates(x, updates)
    with pytest.raises(optim.OptimizerArgumentError, match="init_step"):
        contrib.dog(init_step=("guess", 1.0))
