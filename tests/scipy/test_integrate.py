"""fnad.scipy.integrate: JAX's spelling of the trapezoid rule, against SciPy's; odeint against
SciPy's odeint (tight tolerances) and closed forms, its adjoint derivatives against float64
finite differences to second order, under jit and vmap."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import scipy.integrate

import fnad
import fnad.numpy as fnp
from fnad.core.errors import ArgumentError, ShapeError
from fnad.scipy import integrate
from fnad.test_util import check_grads


def test_trapezoid_is_scipys():
    rng = np.random.default_rng(0)
    y, x = rng.standard_normal((3, 5)), np.sort(rng.standard_normal(5))
    np.testing.assert_allclose(integrate.trapezoid(y, x), scipy.integrate.trapezoid(y, x))
    np.testing.assert_allclose(integrate.trapezoid(y, dx=0.5, axis=0),
                               scipy.integrate.trapezoid(y, dx=0.5, axis=0))
    check_grads(integrate.trapezoid, (y, x), order=2)


RNG = np.random.default_rng(1)


def autograds_func(y, t, arg1, arg2):
    """The dynamics of HIPS autograd's own odeint test."""
    return -fnp.sqrt(t) - y + arg1 - fnp.mean((y + arg2) ** 2)


def autograds_func_np(y, t, arg1, arg2):
    return -np.sqrt(t) - y + arg1 - np.mean((y + arg2) ** 2)


@pytest.mark.parametrize("t", [np.linspace(0.1, 0.2, 4), np.linspace(0.4, 0.1, 5)],
                         ids=["increasing", "decreasing"])
def test_odeint_matches_scipys(t):
    y0, args = RNG.standard_normal(3), (RNG.standard_normal(3), RNG.standard_normal(3))
    ys = integrate.odeint(autograds_func, y0, t, args)
    ref = scipy.integrate.odeint(autograds_func_np, y0, t, args, rtol=1e-12, atol=1e-12)
    assert ys.shape == (len(t), 3) and ys.dtype == np.float64
    np.testing.assert_allclose(ys, ref, rtol=1e-8, atol=1e-9)


def test_odeint_derivatives_in_y0_t_and_args_to_second_order():
    """Autograd's test: reverse mode, second order, with respect to y0, t and args."""
    y0, t = RNG.standard_normal(3), np.linspace(0.1, 0.2, 4)
    a1, a2 = RNG.standard_normal(3), RNG.standard_normal(3)
    check_grads(lambda y, s, p, q: integrate.odeint(autograds_func, y, s, (p, q)),
                (y0, t, a1, a2), order=2, modes=["rev"])


def test_odeint_closed_forms_pytrees_closures_jit_and_vmap():
    t = np.linspace(0.0, 2.0, 6)
    # a harmonic oscillator as a pytree: (sin, cos)
    out = integrate.odeint(lambda y, s: {"a": y["b"], "b": -y["a"]},
                           {"a": np.float64(0.0), "b": np.float64(1.0)}, t)
    np.testing.assert_allclose(out["a"], np.sin(t), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(out["b"], np.cos(t), rtol=1e-7, atol=1e-9)

    def decay(k):  # closes over k, which is differentiated
        return integrate.odeint(lambda y, s: -k * y, np.float64(1.5), t)[-1]

    k = np.float64(0.7)
    np.testing.assert_allclose(decay(k), 1.5 * np.exp(-k * 2.0), rtol=1e-7)
    np.testing.assert_allclose(fnad.grad(decay)(k), -2.0 * 1.5 * np.exp(-k * 2.0), rtol=1e-6)
    np.testing.assert_allclose(fnad.jit(fnad.grad(decay))(k), fnad.grad(decay)(k), rtol=1e-12)
    y0s = np.array([1.0, 2.0, -0.5])
    batched = fnad.vmap(lambda y: integrate.odeint(lambda y_, s: -y_ * s, y, t))(y0s)
    np.testing.assert_allclose(batched, y0s[:, None] * np.exp(-t ** 2 / 2), rtol=1e-7)
    f32 = integrate.odeint(lambda y, s: -y, np.ones(2, np.float32), t.astype(np.float32))
    assert f32.dtype == np.float32
    np.testing.assert_allclose(f32[:, 0], np.exp(-t), rtol=1e-5)


def test_odeint_signals_failure_and_rejects_bad_times():
    t = np.linspace(0.0, 1.0, 3)
    # a blow-up at t = 1 and a stiff problem past mxstep: NaN from there on, never a number
    ys = integrate.odeint(lambda y, s: y * y, np.float64(1.0), np.array([0.0, 0.5, 2.0]))
    np.testing.assert_allclose(ys[:2], [1.0, 2.0], rtol=1e-7)
    assert np.isnan(ys[2])
    stiff = integrate.odeint(lambda y, s: -1e6 * (y - fnp.cos(s)), np.float64(0.0), t,
                             mxstep=20)
    assert stiff[0] == 0.0 and np.isnan(stiff[1:]).all()
    with np.errstate(all="raise"):  # a zero slope (its first step's 0 / 0), a blow-up
        np.testing.assert_array_equal(integrate.odeint(lambda y, s: 0.0 * y, np.ones(2), t),
                                      np.ones((3, 2)))
        fnad.grad(lambda y0: fnp.sum(integrate.odeint(lambda y, s: y * y, y0, t * 3)))(
            np.ones(2))
    with pytest.raises(ArgumentError, match="monotonic"):
        integrate.odeint(lambda y, s: -y, 1.0, np.array([0.0, 1.0, 0.5]))
    with pytest.raises(ShapeError, match="1-d array"):
        integrate.odeint(lambda y, s: -y, 1.0, 0.5)
    with pytest.raises(ArgumentError, match="tuple"):
        integrate.odeint(lambda y, s, k: -k * y, 1.0, t, 2.0)
    with pytest.raises(ShapeError, match="shapes"):
        integrate.odeint(lambda y, s: fnp.ones(3), np.ones(2), t)


def test_odeint_doctest():
    assert doctest.run_docstring_examples(integrate.odeint, {"np": np}) is None
    result = doctest.testmod(integrate, extraglobs={"np": np})
    assert result.failed == 0 and result.attempted >= 2


def test_odeint_gradient_over_many_times_matches_the_closed_form():
    """y' = -k y + sin t, y(0) = 1 at 200 times: the adjoint's gradient in k against the
    derivative of the exact solution (finite differences of the solver itself carry its
    1e-8 error divided by the step; the closed form does not). One scan body however many
    intervals, so jit compiles it once."""
    t = np.linspace(0.0, 2.0, 200)

    def exact(k):
        y = (1 + 1 / (k * k + 1)) * np.exp(-k * t) + (k * np.sin(t) - np.cos(t)) / (k * k + 1)
        return np.sum(y ** 2)

    loss = lambda k: fnp.sum(integrate.odeint(lambda y, s, k_: -k_ * y + fnp.sin(s),  # noqa: E731
                                              np.float64(1.0), t, (k,)) ** 2)
    h = 1e-6
    expected = (exact(0.7 + h) - exact(0.7 - h)) / (2 * h)
    np.testing.assert_allclose(fnad.grad(loss)(np.float64(0.7)), expected, rtol=1e-8)
    np.testing.assert_allclose(fnad.jit(fnad.grad(loss))(np.float64(0.7)), expected, rtol=1e-8)
