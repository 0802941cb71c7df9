"""Optimizers: three steps against the papers' update rules written out in NumPy, Nesterov's
lookahead equivalence, and convergence on a quadratic and on Rosenbrock in both dtypes."""

from __future__ import annotations

import numpy as np
import pytest

import fnad
from fnad import optim

GRADS = [np.array([0.5, -1.0, 2.0]), np.array([0.1, 0.3, -0.4]), np.array([-0.2, 0.0, 1.5])]
P0 = np.array([1.0, -2.0, 0.5])
LR = 0.1


def run_steps(opt, p0=P0, grads=GRADS):
    """Params after each of the updates `grads`, and the final state."""
    params = {"w": p0}
    state = opt.init(params)
    out = []
    for g in grads:
        updates, state = opt.update({"w": g}, state, params)
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
    return p - LR * g / (np.sqrt(mem["G"]) + 1e-7)


def rmsprop_ref(p, g, k, mem, rho=0.9):
    mem["nu"] = rho * mem.get("nu", 0) + (1 - rho) * g ** 2
    return p - LR * g / (np.sqrt(mem["nu"]) + 1e-8)


def adam_ref(p, g, k, mem, b1=0.9, b2=0.999, eps=1e-8, wd=0.0):
    mem["m"] = b1 * mem.get("m", 0) + (1 - b1) * g
    mem["v"] = b2 * mem.get("v", 0) + (1 - b2) * g ** 2
    m_hat, v_hat = mem["m"] / (1 - b1 ** k), mem["v"] / (1 - b2 ** k)
    return p - LR * (m_hat / (np.sqrt(v_hat) + eps) + wd * p)


CASES = {
    "sgd": (optim.sgd(LR), sgd_ref),
    "momentum": (optim.momentum(LR, 0.9), momentum_ref),
    "nesterov": (optim.nesterov(LR, 0.9), nesterov_ref),
    "adagrad": (optim.adagrad(LR), adagrad_ref),
    "rmsprop": (optim.rmsprop(LR), rmsprop_ref),
    "adam": (optim.adam(LR), adam_ref),
    "adamw": (optim.adamw(LR, weight_decay=0.01), lambda *a: adam_ref(*a, wd=0.01)),
}


@pytest.mark.parametrize("name", CASES)
def test_three_steps_match_the_update_rule(name):
    opt, ref = CASES[name]
    for got, want in zip(run_steps(opt), reference(ref)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_adam_first_step_is_lr_times_sign():
    # With exact bias correction, Adam's first step is lr * g / (|g| + eps): a sign step.
    (p1,) = run_steps(optim.adam(LR, eps=0.0), grads=GRADS[:1])
    np.testing.assert_allclose(p1, P0 - LR * np.sign(GRADS[0]), rtol=1e-15)
    (p1,) = run_steps(optim.adam(LR, eps=0.0), P0.astype(np.float32),
                      [GRADS[0].astype(np.float32)])
    np.testing.assert_allclose(p1, P0 - LR * np.sign(GRADS[0]), rtol=1e-6)


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
    lrs = [0.3, 0.2, 0.1]
    got = run_steps(optim.sgd(sched))
    p = P0.copy()
    for lr, g, q in zip(lrs, GRADS, got):
        p = p - lr * g
        np.testing.assert_allclose(q, p, rtol=1e-6)


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
    a, b = p["x"]
    return (1.0 - a) ** 2 + 100.0 * (b - a ** 2) ** 2


# optimizer -> (constructor, learning rate on the quadratic, on Rosenbrock)
OPTIMIZERS = {
    "sgd": (optim.sgd, 2e-2, 1e-3), "momentum": (optim.momentum, 1e-2, 5e-4),
    "nesterov": (optim.nesterov, 1e-2, 5e-4), "adagrad": (optim.adagrad, 0.2, 0.2),
    "rmsprop": (optim.rmsprop, 6e-2, 3e-3), "adam": (optim.adam, 0.4, 2e-2),
    "adamw": (lambda lr: optim.adamw(lr, weight_decay=1e-4), 0.4, 2e-2),
}


def minimize(loss, opt, x0, steps):
    params = {"x": x0}
    state = opt.init(params)
    step = fnad.value_and_grad(loss)
    step = fnad.jit(step)
    for _ in range(steps):
        _, g = step(params)
        updates, state = opt.update(g, state, params)
        params = optim.apply_updates(params, updates)
    return params


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_converges_on_a_quadratic(name, dtype):
    make, lr, _ = OPTIMIZERS[name]
    x0 = np.array([-1.0, 2.0], dtype)
    params = minimize(quadratic, make(lr), x0, 300)
    assert params["x"].dtype == dtype
    assert float(quadratic(params)) < 1e-3 * float(quadratic({"x": x0}))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_reduces_rosenbrock(name, dtype):
    make, _, lr = OPTIMIZERS[name]
    x0 = (np.array(-1.2, dtype), np.array(1.0, dtype))
    params = minimize(rosenbrock, make(lr), x0, 300)
    assert all(x.dtype == dtype for x in params["x"])
    assert float(rosenbrock(params)) < 0.2 * float(rosenbrock({"x": x0}))
