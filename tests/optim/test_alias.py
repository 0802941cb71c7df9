"""Optimizers: three steps against the papers' update rules (as optax writes them) in NumPy,
Nesterov's lookahead equivalence, and convergence on a quadratic and on Rosenbrock in both
dtypes, under jit, for every optimizer."""

from __future__ import annotations

import numpy as np
import pytest

import fnad
from fnad import optim

GRADS = [np.array([0.5, -1.0, 2.0]), np.array([0.1, 0.3, -0.4]), np.array([-0.2, 0.0, 1.5])]
GRADS = GRADS + [g[::-1] * 0.7 for g in GRADS] + [g * -1.3 for g in GRADS]  # 9 steps: RAdam
# leaves its momentum-only phase at the 6th
P0 = np.array([1.0, -2.0, 0.5])
LR = 0.1


def run_steps(opt, p0=P0, grads=GRADS, **extra):
    """Params after each of the updates `grads`."""
    params = {"w": p0}
    state = opt.init(params)
    out = []
    for g in grads:
        updates, state = opt.update({"w": g}, state, params, **extra)
        params = optim.apply_updates(params, updates)
        out.append(params["w"])
    return out


def reference(step):
    """Params after each gradient, for an update rule `step(p, g, k, mem) -> p` (k from 1)."""
    p, mem, out = P0.copy(), {}, []
    for k, g in enumerate(GRADS, 1):
        p = step(p, g, k, mem)
        out.append(p)
    return out


def ema(mem, key, decay, x, init=0.0):
    mem[key] = decay * mem.get(key, init) + (1 - decay) * x
    return mem[key]


def norm(x):
    return np.sqrt(np.sum(x * x))


def sgd_ref(p, g, k, mem):
    return p - LR * g


def momentum_ref(p, g, k, mem, beta=0.9):
    mem["v"] = beta * mem.get("v", 0) + g
    return p - LR * mem["v"]


def nesterov_ref(p, g, k, mem, beta=0.9):
    mem["v"] = beta * mem.get("v", 0) + g
    return p - LR * (g + beta * mem["v"])


def adagrad_ref(p, g, k, mem):
    mem["G"] = mem.get("G", 0.1) + g ** 2
    return p - LR * g / np.sqrt(mem["G"] + 1e-7)


def rmsprop_ref(p, g, k, mem, rho=0.9):
    nu = ema(mem, "nu", rho, g ** 2)
    return p - LR * g / np.sqrt(nu + 1e-8)


def centered_rmsprop_ref(p, g, k, mem, rho=0.9):
    mu, nu = ema(mem, "mu", rho, g), ema(mem, "nu", rho, g ** 2)
    return p - LR * g / np.sqrt(nu - mu ** 2 + 1e-8)


def adam_ref(p, g, k, mem, b1=0.9, b2=0.999, eps=1e-8, wd=0.0, nesterov=False):
    m, v = ema(mem, "m", b1, g), ema(mem, "v", b2, g ** 2)
    if nesterov:
        m_hat = b1 * m / (1 - b1 ** (k + 1)) + (1 - b1) * g / (1 - b1 ** k)
    else:
        m_hat = m / (1 - b1 ** k)
    return p - LR * (m_hat / (np.sqrt(v / (1 - b2 ** k)) + eps) + wd * p)


def amsgrad_ref(p, g, k, mem, b1=0.9, b2=0.999):
    m, v = ema(mem, "m", b1, g), ema(mem, "v", b2, g ** 2)
    mem["vmax"] = np.maximum(mem.get("vmax", 0.0), v / (1 - b2 ** k))
    return p - LR * (m / (1 - b1 ** k)) / (np.sqrt(mem["vmax"]) + 1e-8)


def adamax_ref(p, g, k, mem, b1=0.9, b2=0.999, eps=1e-8):
    m = ema(mem, "m", b1, g)
    mem["u"] = np.maximum(b2 * mem.get("u", 0.0), np.abs(g) + eps)
    return p - LR * m / (1 - b1 ** k) / mem["u"]


def radam_ref(p, g, k, mem, b1=0.9, b2=0.999, eps=1e-8):
    m, v = ema(mem, "m", b1, g), ema(mem, "v", b2, g ** 2)
    rho_inf = 2 / (1 - b2) - 1
    rho = rho_inf - 2 * k * b2 ** k / (1 - b2 ** k)
    m_hat = m / (1 - b1 ** k)
    if rho < 5.0:  # too few degrees of freedom: momentum only
        return p - LR * m_hat
    r = np.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
    return p - LR * r * m_hat / (np.sqrt(v / (1 - b2 ** k)) + eps)


def yogi_ref(p, g, k, mem, b1=0.9, b2=0.999, eps=1e-3):
    m = ema(mem, "m", b1, g, init=1e-6)
    v = mem.get("v", 1e-6)
    mem["v"] = v - (1 - b2) * np.sign(v - g ** 2) * g ** 2
    return p - LR * (m / (1 - b1 ** k)) / (np.sqrt(mem["v"] / (1 - b2 ** k)) + eps)


def adabelief_ref(p, g, k, mem, b1=0.9, b2=0.999, eps=1e-16):
    m = ema(mem, "m", b1, g)
    mem["s"] = b2 * mem.get("s", 0.0) + (1 - b2) * (g - m) ** 2 + 1e-16
    return p - LR * (m / (1 - b1 ** k)) / (np.sqrt(mem["s"] / (1 - b2 ** k)) + eps)


def lion_ref(p, g, k, mem, b1=0.9, b2=0.99, wd=1e-3):
    m = mem.get("m", 0.0)
    step = np.sign((1 - b1) * g + b1 * m)
    mem["m"] = b2 * m + (1 - b2) * g
    return p - LR * (step + wd * p)


def lamb_ref(p, g, k, mem, b1=0.9, b2=0.999, eps=1e-6, wd=0.01):
    m, v = ema(mem, "m", b1, g), ema(mem, "v", b2, g ** 2)
    r = m / (1 - b1 ** k) / (np.sqrt(v / (1 - b2 ** k)) + eps) + wd * p
    return p - LR * norm(p) / norm(r) * r


def lars_ref(p, g, k, mem, wd=0.01, tc=1e-3, beta=0.9):
    d = g + wd * p
    d = tc * norm(p) / norm(d) * d
    mem["v"] = beta * mem.get("v", 0.0) - LR * d
    return p + mem["v"]


def fromage_ref(p, g, k, mem):
    return (p - LR * norm(p) / norm(g) * g) / np.sqrt(1 + LR ** 2)


def novograd_ref(p, g, k, mem, b1=0.9, b2=0.25, eps=1e-6, wd=0.0):
    gn2 = np.sum(g ** 2)
    mem["v"] = gn2 if k == 1 else b2 * mem["v"] + (1 - b2) * gn2
    d = g / (np.sqrt(mem["v"]) + eps) + wd * p
    mem["m"] = d if k == 1 else b1 * mem["m"] + d
    return p - LR * mem["m"]


def sign_sgd_ref(p, g, k, mem):
    return p - LR * np.sign(g)


def signum_ref(p, g, k, mem, beta=0.9):
    return p - LR * np.sign(ema(mem, "m", beta, g))


def adadelta_ref(p, g, k, mem, rho=0.9, eps=1e-6):
    eg = ema(mem, "eg", rho, g ** 2)
    dx = np.sqrt(mem.get("ex", 0.0) + eps) / np.sqrt(eg + eps) * g
    ema(mem, "ex", rho, dx ** 2)
    return p - LR * dx


def adan_ref(p, g, k, mem, b1=0.98, b2=0.92, b3=0.99, eps=1e-8, eps_root=1e-8):
    diff = 0 * g if k == 1 else g - mem["prev"]
    mem["prev"] = g
    m, v = ema(mem, "m", b1, g), ema(mem, "v", b2, diff)
    n = ema(mem, "n", b3, (g + (1 - b2) * diff) ** 2)
    c = lambda x, b: x / (1 - b ** k)
    return p - LR * (c(m, b1) + (1 - b2) * c(v, b2)) / (np.sqrt(c(n, b3) + eps_root) + eps)


def sm3_ref(p, g, k, mem, beta=0.9):
    # For a vector the cover is the vector itself: Adagrad, then momentum.
    mem["acc"] = mem.get("acc", 0.0) + g ** 2
    u = g / np.sqrt(mem["acc"] + 1e-8)
    return p - LR * ema(mem, "nu", beta, u)


def adafactor_ref(p, g, k, mem):
    rate = 1 - k ** -0.8  # unfactored vector: a plain second moment
    mem["v"] = rate * mem.get("v", 0.0) + (1 - rate) * (g ** 2 + 1e-30)
    u = g / np.sqrt(mem["v"])
    u = u / max(1.0, np.sqrt(np.mean(u ** 2)))
    return p - LR * u * max(np.sqrt(np.mean(p ** 2)), 1e-3)


def rprop_ref(p, g, k, mem, lr=LR):
    # optax's form: the step taken is the step computed at the previous update.
    prev, steps = mem.get("prev", 0 * g), mem.get("steps", lr + 0 * g)
    s = g * prev
    steps = np.where(s == 0, steps, np.clip(steps * np.where(s > 0, 1.2, 0.5), 1e-6, 50.0))
    new_prev = np.where(s < 0, 0.0, steps * np.sign(g))
    out = np.where(s < 0, 0.0, prev)
    mem["prev"], mem["steps"] = new_prev, steps
    return p - out


def optimistic_ref(p, g, k, mem, a=1.0, b=1.0):
    prev = mem.get("g", g)
    mem["g"] = g
    return p - LR * ((a + b) * g - b * prev)


def amsgrad_nobias_ref(p, g, k, mem):
    return amsgrad_ref(p, g, k, mem)


CASES = {
    "sgd": (optim.sgd(LR), sgd_ref),
    "momentum": (optim.momentum(LR, 0.9), momentum_ref),
    "nesterov": (optim.nesterov(LR, 0.9), nesterov_ref),
    "adagrad": (optim.adagrad(LR), adagrad_ref),
    "rmsprop": (optim.rmsprop(LR), rmsprop_ref),
    "rmsprop_centered": (optim.rmsprop(LR, centered=True), centered_rmsprop_ref),
    "adam": (optim.adam(LR), adam_ref),
    "adamw": (optim.adamw(LR, weight_decay=0.01), lambda *a: adam_ref(*a, wd=0.01)),
    "nadam": (optim.nadam(LR), lambda *a: adam_ref(*a, nesterov=True)),
    "nadamw": (optim.nadamw(LR, weight_decay=0.01),
               lambda *a: adam_ref(*a, wd=0.01, nesterov=True)),
    "amsgrad": (optim.amsgrad(LR), amsgrad_ref),
    "adamax": (optim.adamax(LR), adamax_ref),
    "radam": (optim.radam(LR), radam_ref),
    "yogi": (optim.yogi(LR), yogi_ref),
    "adabelief": (optim.adabelief(LR), adabelief_ref),
    "lion": (optim.lion(LR), lion_ref),
    "lamb": (optim.lamb(LR, weight_decay=0.01), lamb_ref),
    "lars": (optim.lars(LR, weight_decay=0.01), lars_ref),
    "fromage": (optim.fromage(LR), fromage_ref),
    "novograd": (optim.novograd(LR), novograd_ref),
    "sign_sgd": (optim.sign_sgd(LR), sign_sgd_ref),
    "signum": (optim.signum(LR), signum_ref),
    "adadelta": (optim.adadelta(LR), adadelta_ref),
    "adan": (optim.adan(LR), adan_ref),
    "sm3": (optim.sm3(LR), sm3_ref),
    "adafactor": (optim.adafactor(LR), adafactor_ref),
    "rprop": (optim.rprop(LR), rprop_ref),
    "optimistic_gd": (optim.optimistic_gradient_descent(LR), optimistic_ref),
}


@pytest.mark.parametrize("name", CASES)
def test_three_steps_match_the_update_rule(name):
    opt, ref = CASES[name]
    rtol = 1e-7 if name == "adafactor" else 1e-10  # its decay rate is float32, as in optax
    for got, want in zip(run_steps(opt), reference(ref)):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-12)


def test_radam_rectifies_once_rho_passes_the_threshold():
    # With b2 = 0.999 the degrees of freedom rho stay below 5 for the first steps: RAdam is
    # plain momentum there (a step of lr * m_hat, not Adam's sign-like step).
    (p1,) = run_steps(optim.radam(LR), grads=GRADS[:1])
    np.testing.assert_allclose(p1, P0 - LR * GRADS[0], rtol=1e-12)


def test_adam_first_step_is_lr_times_sign():
    # With exact bias correction, Adam's first step is lr * g / (|g| + eps): a sign step.
    (p1,) = run_steps(optim.adam(LR, eps=0.0), grads=GRADS[:1])
    np.testing.assert_allclose(p1, P0 - LR * np.sign(GRADS[0]), rtol=1e-15)
    (p1,) = run_steps(optim.adam(LR, eps=0.0), P0.astype(np.float32),
                      [GRADS[0].astype(np.float32)])
    assert p1.dtype == np.float32  # bias correction in float32, as optax: 1 - 0.999 is off
    np.testing.assert_allclose(p1, P0 - LR * np.sign(GRADS[0]), rtol=1e-5)  # by 1.3e-5


def test_polyak_step_uses_the_loss_value():
    g = GRADS[0]
    (p1,) = run_steps(optim.polyak_sgd(max_learning_rate=10.0), grads=[g], value=2.0)
    np.testing.assert_allclose(p1, P0 - 2.0 / np.sum(g ** 2) * g, rtol=1e-12)
    (p1,) = run_steps(optim.polyak_sgd(max_learning_rate=0.1), grads=[g], value=2.0)
    np.testing.assert_allclose(p1, P0 - 0.1 * g, rtol=1e-12)


def test_noisy_sgd_noise_has_the_annealed_variance():
    eta, gamma = 0.5, 0.55
    opt = optim.noisy_sgd(1.0, eta=eta, gamma=gamma, key=3)
    params = {"w": np.zeros(20000)}
    state = opt.init(params)
    for k in (1, 2):
        updates, state = opt.update({"w": np.zeros(20000)}, state, params)
        var = np.var(updates["w"])
        assert abs(var / (eta / k ** gamma) - 1) < 0.05


def test_nesterov_tracks_the_lookahead_point():
    # Classic NAG: v <- mu v - lr grad(theta + mu v); theta <- theta + v. Sutskever's form
    # tracks phi = theta + mu v, so its params must equal the classic lookahead points.
    mu, f_grad = 0.9, lambda x: np.array([2.0, 20.0]) * x
    theta, v = np.array([1.0, 1.0]), np.zeros(2)
    params = {"w": theta.copy()}
    opt = optim.nesterov(LR / 10, mu)
    state = opt.init(params)
    for _ in range(5):
        updates, state = opt.update({"w": f_grad(params["w"])}, state, params)
        params = optim.apply_updates(params, updates)
        v = mu * v - LR / 10 * f_grad(theta + mu * v)
        theta = theta + v
        np.testing.assert_allclose(params["w"], theta + mu * v, rtol=1e-12)


def test_learning_rate_schedule_is_used_per_step():
    sched = optim.linear_schedule(0.3, 0.1, 2)
    got = run_steps(optim.sgd(sched), grads=GRADS[:3])
    p = P0.copy()
    for lr, g, q in zip([0.3, 0.2, 0.1], GRADS, got):
        p = p - lr * g
        np.testing.assert_allclose(q, p, rtol=1e-6, atol=1e-7)


def test_state_is_a_pytree_of_arrays():
    opt = optim.adam(LR)
    state = opt.init({"w": P0})
    leaves = fnad.tree.tree_leaves(state)
    assert all(isinstance(x, np.ndarray) for x in leaves)
    assert [x.shape for x in leaves] == [(), (3,), (3,)]


# ------------------------------------------------------------------ convergence

def quadratic(p):
    x = p["x"]
    return fnad.numpy.sum(np.array([1.0, 4.0], x.dtype) * (x - 1.0) ** 2)


def rosenbrock(p):
    a, b = p["x"][0], p["x"][1]
    return (1.0 - a) ** 2 + 100.0 * (b - a ** 2) ** 2


# optimizer -> (constructor, learning rate on the quadratic, on Rosenbrock)
OPTIMIZERS = {
    "sgd": (optim.sgd, 2e-2, 1e-3), "momentum": (optim.momentum, 1e-2, 5e-4),
    "nesterov": (optim.nesterov, 1e-2, 5e-4), "adagrad": (optim.adagrad, 0.5, 0.2),
    "rmsprop": (optim.rmsprop, 2e-2, 3e-3), "adam": (optim.adam, 0.1, 2e-2),
    "adamw": (lambda lr: optim.adamw(lr, weight_decay=1e-4), 0.1, 2e-2),
    "nadam": (optim.nadam, 0.1, 2e-2), "nadamw": (optim.nadamw, 0.1, 2e-2),
    "amsgrad": (optim.amsgrad, 0.1, 2e-2), "adamax": (optim.adamax, 0.1, 2e-2),
    "adamaxw": (optim.adamaxw, 0.1, 2e-2), "radam": (lambda lr: optim.chain(optim.clip_by_global_norm(1.0), optim.radam(lr)), 0.1,
              1e-2),  # its first, momentum-only steps are raw gradient steps: clipped,
    "yogi": (optim.yogi, 0.1, 2e-2), "adabelief": (optim.adabelief, 0.1, 2e-2),
    "adan": (optim.adan, 0.1, 2e-2), "lion": (optim.lion, 2e-2, 3e-3),
    "lamb": (optim.lamb, 2e-2, 1e-2), "lars": (lambda lr: optim.lars(lr, trust_coefficient=1.0),
                                                  2e-2, 2e-3),
    "fromage": (optim.fromage, 2e-2, 1e-2), "novograd": (optim.novograd, 0.1, 1e-2),
    "sign_sgd": (optim.sign_sgd, 1e-2, 2e-3), "signum": (optim.signum, 1e-2, 2e-3),
    "adadelta": (optim.adadelta, 10.0, 10.0), "sm3": (optim.sm3, 0.1, 0.05),
    "adafactor": (optim.adafactor, 2e-2, 1e-2), "rprop": (optim.rprop, 1e-2, 1e-3),
    "optimistic_gd": (optim.optimistic_gradient_descent, 1e-2, 5e-4),
    "optimistic_adam": (optim.optimistic_adam_v2, 0.1, 1e-2),
    "polyak_sgd": (lambda lr: optim.polyak_sgd(max_learning_rate=lr), 0.2, 1e-2),
    "noisy_sgd": (lambda lr: optim.noisy_sgd(lr, eta=1e-4, key=0), 2e-2, 1e-3),
}


def minimize(loss, opt, x0, steps):
    @fnad.jit
    def step(params, state):
        value, g = fnad.value_and_grad(loss)(params)
        updates, state = opt.update(g, state, params, value=value)
        return optim.apply_updates(params, updates), state

    params = {"x": x0}
    state = opt.init(params)
    for _ in range(steps):
        params, state = step(params, state)
    return params


def _extra_args_ok(opt):
    return opt if isinstance(opt, optim.GradientTransformationExtraArgs) else \
        optim.with_extra_args_support(opt)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_converges_on_a_quadratic(name, dtype):
    make, lr, _ = OPTIMIZERS[name]
    x0 = np.array([-1.0, 2.0], dtype)
    params = minimize(quadratic, _extra_args_ok(make(lr)), x0, 200)
    assert params["x"].dtype == dtype
    assert float(quadratic(params)) < 1e-2 * float(quadratic({"x": x0}))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_reduces_rosenbrock(name, dtype):
    make, _, lr = OPTIMIZERS[name]
    x0 = np.array([-1.2, 1.0], dtype)
    params = minimize(rosenbrock, _extra_args_ok(make(lr)), x0, 200)
    assert params["x"].dtype == dtype
    assert float(rosenbrock(params)) < 0.2 * float(rosenbrock({"x": x0}))


@pytest.mark.parametrize("name", ["adam", "sm3", "novograd", "adafactor", "lamb", "rprop"])
def test_jit_and_vmap_agree_with_eager(name):
    # every optimizer runs jitted in the convergence tests; these have the most unusual
    # state (lists per axis, first-step branches, factored moments, sign memories)
    opt, _ = CASES[name]

    def two_steps(g1, g2, p):
        params, state = {"w": p}, opt.init({"w": p})
        for g in (g1, g2):
            updates, state = opt.update({"w": g}, state, params)
            params = optim.apply_updates(params, updates)
        return params["w"]

    args = (GRADS[0], GRADS[1], P0)
    eager = two_steps(*args)
    np.testing.assert_allclose(fnad.jit(two_steps)(*args), eager, rtol=1e-12, atol=1e-15)
    batch = np.stack([GRADS[1], GRADS[2]])  # a batch of independent problems
    got = fnad.vmap(two_steps, in_axes=(None, 0, None))(GRADS[0], batch, P0)
    for row, g2 in zip(got, batch):
        np.testing.assert_allclose(row, two_steps(GRADS[0], g2, P0), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", ["adam", "sgd", "adamw", "lion", "rmsprop", "lamb"])
def test_a_learning_rate_of_none_is_refused(name):
    """None would leave updates unscaled and unnegated (an ascent into NaN); optax refuses
    it too."""
    with pytest.raises(fnad.FnadError, match="the learning rate is None"):
        getattr(optim, name)(None)
