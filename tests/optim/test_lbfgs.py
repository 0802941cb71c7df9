"""L-BFGS and the line searches: the two-loop recursion against the explicit BFGS inverse
Hessian, the strong Wolfe conditions at the zoom search's step, Armijo's condition at the
backtracking step, value_and_grad_from_state's reuse, and convergence under jit."""

from __future__ import annotations

import numpy as np
import pytest

import fnad
import fnad.numpy as fnp
from fnad import optim

A = np.array([[3.0, 0.5, 0.0], [0.5, 2.0, 0.3], [0.0, 0.3, 1.0]])
B = np.array([1.0, -2.0, 0.5])


def quad(w):
    return 0.5 * fnp.dot(w, fnp.dot(A, w)) - fnp.dot(B, w)


def rosenbrock(w):
    return fnp.sum(100.0 * (w[1:] - w[:-1] ** 2) ** 2 + (1.0 - w[:-1]) ** 2)


def run_lbfgs(f, w, steps, opt=None, jit=True, from_state=True):
    opt = optim.lbfgs() if opt is None else opt
    vg = optim.value_and_grad_from_state(f) if from_state else \
        (lambda w, state: fnad.value_and_grad(f)(w))

    def step(w, state):
        value, grad = vg(w, state=state)
        updates, state = opt.update(grad, state, w, value=value, grad=grad, value_fn=f)
        return optim.apply_updates(w, updates), state

    step = fnad.jit(step) if jit else step
    state = opt.init(w)
    for _ in range(steps):
        w, state = step(w, state)
    return w, state


def test_two_loop_recursion_matches_the_bfgs_inverse_hessian():
    # With exact pairs (s, y) from a quadratic, the L-BFGS direction is H g, where H is the
    # BFGS inverse-Hessian update of gamma * I applied once per stored pair.
    opt = optim.scale_by_lbfgs(memory_size=5)
    ws = [np.array([1.0, 1.0, 1.0]), np.array([0.2, 0.9, -0.4]), np.array([-0.3, 0.1, 0.8])]
    grads = [A @ w - B for w in ws]
    state = opt.init(ws[0])
    for w, g in zip(ws, grads):
        out, state = opt.update(g, state, w)
    s_list = [ws[i + 1] - ws[i] for i in range(2)]
    y_list = [grads[i + 1] - grads[i] for i in range(2)]
    gamma = s_list[-1] @ y_list[-1] / (y_list[-1] @ y_list[-1])
    H = gamma * np.eye(3)
    for s, y in zip(s_list, y_list):
        rho = 1.0 / (y @ s)
        V = np.eye(3) - rho * np.outer(y, s)
        H = V.T @ H @ V + rho * np.outer(s, s)
    np.testing.assert_allclose(out, H @ grads[-1], rtol=1e-10)


def test_first_lbfgs_step_is_a_capped_gradient_step():
    g = np.array([3.0, 4.0])
    out, _ = optim.scale_by_lbfgs().update(g, optim.scale_by_lbfgs().init(g), np.zeros(2))
    np.testing.assert_allclose(out, g / 5.0)


@pytest.mark.parametrize("strategy", ["one", "keep"])
def test_zoom_step_satisfies_the_strong_wolfe_conditions(strategy):
    ls = optim.scale_by_zoom_linesearch(30, initial_guess_strategy=strategy,
                                        approx_dec_rtol=None)
    w = np.array([-1.2, 1.0])
    value, grad = fnad.value_and_grad(rosenbrock)(w)
    direction = -grad
    u, state = ls.update(direction, ls.init(w), w, value=value, grad=grad,
                         value_fn=rosenbrock)
    step = float(state.learning_rate)
    assert step > 0
    new = w + step * direction
    slope0 = grad @ direction
    assert float(rosenbrock(new)) <= float(value) + 1e-4 * step * slope0
    new_grad = fnad.grad(rosenbrock)(new)
    assert abs(new_grad @ direction) <= 0.9 * abs(slope0) + 1e-9
    np.testing.assert_allclose(state.value, rosenbrock(new), rtol=1e-12)
    np.testing.assert_allclose(state.grad, new_grad, rtol=1e-10)
    np.testing.assert_allclose(u, step * direction)


def test_backtracking_step_satisfies_armijo():
    ls = optim.scale_by_backtracking_linesearch(30, store_grad=True)
    w = np.array([-1.2, 1.0])
    value, grad = fnad.value_and_grad(rosenbrock)(w)
    u, state = ls.update(-grad, ls.init(w), w, value=value, grad=grad, value_fn=rosenbrock)
    step = float(state.learning_rate)
    assert 0 < step < 1.0
    assert float(rosenbrock(w + u)) <= float(value) - 1e-4 * step * (grad @ grad)
    assert float(rosenbrock(w + u / 0.8)) > float(value) - 1e-4 * step / 0.8 * (grad @ grad)
    np.testing.assert_allclose(state.grad, fnad.grad(rosenbrock)(w + u), rtol=1e-10)


@pytest.mark.parametrize("jit", [False, True])
def test_verbose_line_searches_report_failures_only(jit, capsys):
    # An ascent direction: no step decreases the objective (optax prints its diagnosis).
    w, f = np.array([1.0, 2.0]), lambda p: fnp.sum(p ** 2)
    value, grad = f(w), 2 * w
    for ls, header in [(optim.scale_by_zoom_linesearch(5, verbose=True),
                        "INFO: optax.scale_by_zoom_linesearch"),
                       (optim.scale_by_backtracking_linesearch(5, verbose=True),
                        "INFO: optax.scale_by_backtracking_linesearch")]:
        update = fnad.jit(ls.update, static_argnames="value_fn") if jit else ls.update
        update(grad, ls.init(w), w, value=value, grad=grad, value_fn=f)
        out = capsys.readouterr().out
        assert header in out and "Slope along update direction: 20.0" in out
        assert ("not a descent direction" in out) == header.endswith("zoom_linesearch")
        update(-grad, ls.init(w), w, value=value, grad=grad, value_fn=f)  # succeeds: silent
        assert capsys.readouterr().out == ""


def test_line_search_reports_a_missing_objective():
    ls = optim.scale_by_zoom_linesearch(10)
    with pytest.raises(ValueError, match="value_fn"):
        ls.update(np.ones(2), ls.init(np.ones(2)), np.ones(2))
    with pytest.raises(TypeError, match="not arguments of value_fn"):
        ls.update(np.ones(2), ls.init(np.ones(2)), np.ones(2), value=1.0, grad=np.ones(2),
                  value_fn=lambda w: fnp.sum(w), data=3)


def test_value_and_grad_from_state_reuses_the_line_search_values():
    calls = []

    def f(w):
        calls.append(1)
        return quad(w)

    opt = optim.lbfgs()
    w = np.zeros(3)
    state = opt.init(w)
    vg = optim.value_and_grad_from_state(f)
    value, grad = vg(w, state=state)  # the initial state holds no value: computed
    updates, state = opt.update(grad, state, w, value=value, grad=grad, value_fn=f)
    w = optim.apply_updates(w, updates)
    n = len(calls)
    value, grad = vg(w, state=state)
    np.testing.assert_allclose(value, quad(w), rtol=1e-12)
    np.testing.assert_allclose(grad, A @ w - B, rtol=1e-10)
    assert len(calls) == n  # nothing recomputed
    with pytest.raises(ValueError, match="exactly one"):
        vg(w, state=optim.adam(0.1).init(w))


def test_lbfgs_solves_a_quadratic_exactly():
    w, _ = run_lbfgs(quad, np.zeros(3), 12)
    np.testing.assert_allclose(w, np.linalg.solve(A, B), rtol=1e-10)


@pytest.mark.parametrize("dtype,tol", [(np.float32, 1e-3), (np.float64, 1e-8)])
def test_lbfgs_minimizes_rosenbrock(dtype, tol):
    w, state = run_lbfgs(rosenbrock, np.array([-1.2, 1.0, -0.5, 0.8], dtype), 60)
    assert w.dtype == dtype
    np.testing.assert_allclose(w, np.ones(4), atol=tol * 10)
    assert float(rosenbrock(w)) < tol


def test_lbfgs_with_backtracking_and_a_learning_rate():
    opt = optim.lbfgs(linesearch=optim.scale_by_backtracking_linesearch(20, store_grad=True))
    w, _ = run_lbfgs(quad, np.zeros(3), 30, opt)
    np.testing.assert_allclose(w, np.linalg.solve(A, B), rtol=1e-6)
    opt = optim.lbfgs(learning_rate=0.5, linesearch=None)
    w, _ = run_lbfgs(quad, np.zeros(3), 60, opt, from_state=False)
    np.testing.assert_allclose(w, np.linalg.solve(A, B), rtol=1e-6)
