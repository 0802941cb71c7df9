"""optim.perturbations (optax.perturbations): Monte-Carlo smoothings against their closed
forms: the Gumbel-perturbed argmax is a softmax, the normal-smoothed ReLU has slope Phi."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special, stats

import fnad
import fnad.numpy as fnp
from fnad import random
from fnad.optim import perturbations

X = np.array([0.3, -0.5, 1.0, 0.1], np.float32)


def one_hot_argmax(x):
    return fnad.nn.one_hot(fnp.argmax(x), x.shape[0])


def test_gumbel_perturbed_argmax_is_a_softmax():
    f = perturbations.make_perturbed_fun(one_hot_argmax, 40000, 0.5)
    np.testing.assert_allclose(f(random.key(0), X), special.softmax(X / 0.5), atol=0.01)


@pytest.mark.parametrize("use_baseline", [True, False])
def test_normal_smoothed_relu_gradient_is_phi(use_baseline):
    relu_sum = lambda x: fnp.sum(fnp.maximum(x, 0.0))
    f = perturbations.make_perturbed_fun(relu_sum, 40000, 0.7, perturbations.Normal(),
                                         use_baseline)
    grad = fnad.jit(fnad.grad(f, argnums=1))(random.key(1), X)
    assert grad.dtype == np.float32
    np.testing.assert_allclose(grad, stats.norm.cdf(X / 0.7), atol=0.05 if use_baseline
                               else 0.15)
    # E max(x + s z, 0) = x Phi(x/s) + s phi(x/s)
    want = np.sum(X * stats.norm.cdf(X / 0.7) + 0.7 * stats.norm.pdf(X / 0.7))
    np.testing.assert_allclose(f(random.key(2), X), want, rtol=0.02)


def test_pytree_inputs_and_outputs():
    tree = {"a": X[:2], "b": (X[2:],)}
    fun = lambda t: {"s": fnp.sum(t["a"]) * fnp.sum(t["b"][0])}
    f = perturbations.make_perturbed_fun(fun, 2000, 0.1, perturbations.Normal())
    out = f(random.key(3), tree)
    # a bilinear function of independent noises: smoothing leaves it unchanged in mean
    np.testing.assert_allclose(out["s"], fun(tree)["s"], atol=0.02)
    grads = fnad.grad(lambda t: f(random.key(3), t)["s"])(tree)
    np.testing.assert_allclose(grads["a"], np.full(2, X[2:].sum()), atol=0.15)
