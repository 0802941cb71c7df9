"""Numerical helpers against NumPy/SciPy: safe norms (finite gradients at zero), saturating
counters, moments and bias correction, power iteration, inverse matrix roots, NNLS, and the
diagonal normal distribution."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import linalg, optimize, stats

import fnad
from fnad import optim

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("ord,axis", [(None, None), (1, None), (2, 1), (np.inf, 0)])
def test_safe_norm_values(ord, axis):
    x = RNG.normal(size=(3, 4)) if axis is not None else RNG.normal(size=5)
    np.testing.assert_allclose(optim.safe_norm(x, 1e-3, ord=ord, axis=axis),
                               np.linalg.norm(x, ord=ord, axis=axis), rtol=1e-12)
    np.testing.assert_allclose(optim.safe_norm(x, 1e3, ord=ord, axis=axis, keepdims=True),
                               np.full(np.shape(np.linalg.norm(x, ord, axis, keepdims=True)),
                                       1e3))


def test_safe_norm_and_rms_have_finite_gradients_at_zero():
    g = fnad.grad(lambda x: optim.safe_norm(x, 1e-6))(np.zeros(3))
    np.testing.assert_array_equal(g, np.zeros(3))
    g = fnad.grad(lambda x: optim.safe_root_mean_squares(x, 1e-6))(np.zeros(3))
    np.testing.assert_array_equal(g, np.zeros(3))
    x = np.array([3.0, 4.0])
    np.testing.assert_allclose(fnad.grad(lambda x: optim.safe_norm(x, 1e-6))(x), x / 5.0)


def test_safe_increment_saturates():
    assert int(optim.safe_increment(np.int32(5))) == 6
    assert int(optim.safe_int32_increment(np.int32(2**31 - 1))) == 2**31 - 1
    top = np.finfo(np.float32).max
    assert optim.safe_increment(np.float32(top)) == top
    with pytest.raises(TypeError, match="integer or float"):
        optim.safe_increment(np.bool_(True))


def test_moments_and_bias_correction():
    g, m = {"a": np.array([-2.0, 1.0])}, {"a": np.array([1.0, 1.0])}
    np.testing.assert_allclose(optim.update_moment(g, m, 0.9, 2)["a"], 0.1 * g["a"] ** 2 + 0.9)
    np.testing.assert_allclose(optim.update_moment_per_elem_norm(g, m, 0.9, 3)["a"],
                               0.1 * np.abs(g["a"]) ** 3 + 0.9)
    np.testing.assert_allclose(optim.update_infinity_moment(g, m, 0.5, 0.1)["a"], [2.1, 1.1])
    np.testing.assert_allclose(optim.bias_correction(m, 0.999, 3)["a"], 1 / (1 - 0.999 ** 3),
                               rtol=1e-12)
    assert float(optim.global_norm({"a": np.array([3.0]), "b": [np.array([4.0])]})) == 5.0


def test_scale_gradient():
    f = lambda x: optim.scale_gradient(x, 0.25) ** 2
    assert float(f(3.0)) == 9.0
    assert float(fnad.grad(f)(3.0)) == 1.5
    assert float(fnad.grad(lambda x: optim.scale_gradient(x, 0.0) * x)(3.0)) == 3.0


def test_power_iteration_finds_the_dominant_eigenpair():
    m = RNG.normal(size=(5, 5))
    m = m @ m.T
    w, v = np.linalg.eigh(m)
    ev, vec = optim.power_iteration(m, num_iters=1000, error_tolerance=1e-10)
    np.testing.assert_allclose(ev, w[-1], rtol=1e-8)
    np.testing.assert_allclose(np.abs(vec), np.abs(v[:, -1]), atol=1e-5)
    ev, _ = optim.power_iteration(lambda x: m @ x, v0=np.ones(5), num_iters=1000,
                                  error_tolerance=1e-10)
    np.testing.assert_allclose(ev, w[-1], rtol=1e-8)
    with pytest.raises(ValueError, match="v0"):
        optim.power_iteration(lambda x: x)


@pytest.mark.parametrize("p", [2, 4])
def test_matrix_inverse_pth_root(p):
    m = RNG.normal(size=(4, 4))
    m = m @ m.T + np.eye(4)
    root, err = optim.matrix_inverse_pth_root(m, p, ridge_epsilon=0.0)
    np.testing.assert_allclose(root, linalg.fractional_matrix_power(m, -1.0 / p), rtol=2e-4,
                               atol=1e-5)
    assert float(err) < 1e-3


def test_nnls_matches_scipy():
    a = RNG.normal(size=(8, 4))
    b = RNG.normal(size=8)
    got = optim.nnls(a, b, iters=3000)
    want, _ = optimize.nnls(a, b)
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert np.all(got >= 0)
    with pytest.raises(ValueError, match="row count"):
        optim.nnls(a, b[:3], iters=2)


def test_multi_normal():
    loc, log_scale = np.array([1.0, -2.0]), np.array([0.0, np.log(3.0)])
    d = optim.multi_normal(loc, log_scale)
    x = np.array([[0.5, 1.0], [2.0, -2.0]])
    want = stats.norm(loc, np.exp(log_scale)).logpdf(x).sum(-1)
    np.testing.assert_allclose(d.log_prob(x), want, rtol=1e-12)
    draws = d.sample((20000,), fnad.random.key(0))
    assert draws.shape == (20000, 2)
    np.testing.assert_allclose(draws.mean(0), loc, atol=0.06)
    np.testing.assert_allclose(draws.std(0), np.exp(log_scale), rtol=0.03)
