"""Activations and losses against NumPy references, their gradients (float64, both modes),
staging and batching, and the numerical stability of the log-sum-exp family."""

from __future__ import annotations

import math

import numpy as np
import pytest

import fnad
import fnad.test_util as tu
from fnad import nn

RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 5)) * 3 + 0.1
ERF = np.vectorize(math.erf)


def np_logsumexp(x, axis=-1):
    m = x.max(axis=axis, keepdims=True)
    return np.squeeze(np.log(np.exp(x - m).sum(axis=axis, keepdims=True)) + m, axis)


ACTIVATIONS = {
    "relu": (nn.relu, lambda x: np.maximum(x, 0)),
    "leaky_relu": (nn.leaky_relu, lambda x: np.where(x > 0, x, 0.01 * x)),
    "elu": (nn.elu, lambda x: np.where(x > 0, x, np.expm1(x))),
    "gelu_tanh": (nn.gelu, lambda x: 0.5 * x * (1 + np.tanh(
        math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))),
    "gelu_exact": (lambda x: nn.gelu(x, approximate=False),
                   lambda x: 0.5 * x * (1 + ERF(x / math.sqrt(2)))),
    "sigmoid": (nn.sigmoid, lambda x: 1 / (1 + np.exp(-x))),
    "silu": (nn.silu, lambda x: x / (1 + np.exp(-x))),
    "tanh": (nn.tanh, np.tanh),
    "softplus": (nn.softplus, lambda x: np.log1p(np.exp(x))),
    "softmax": (nn.softmax, lambda x: np.exp(x) / np.exp(x).sum(-1, keepdims=True)),
    "softmax_axis0": (lambda x: nn.softmax(x, axis=0),
                      lambda x: np.exp(x) / np.exp(x).sum(0, keepdims=True)),
    "log_softmax": (nn.log_softmax, lambda x: x - np_logsumexp(x)[:, None]),
    "logsumexp": (lambda x: nn.logsumexp(x, axis=-1), np_logsumexp),
    "logsumexp_all": (nn.logsumexp, lambda x: np_logsumexp(x.ravel(), 0)),
    "logsumexp_keep": (lambda x: nn.logsumexp(x, axis=-1, keepdims=True),
                       lambda x: np_logsumexp(x)[..., None]),
}


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation(name):
    f, ref = ACTIVATIONS[name]
    for dtype in (np.float32, np.float64):
        x = X.astype(dtype)
        out = f(x)
        assert out.dtype == dtype
        tu.assert_allclose(out, ref(X).astype(dtype))
    tu.check_grads(f, (X,), order=2)
    tu.check_transforms(f, (X.astype(np.float32),))
    tu.check_vmap(f, (X,), in_axes=0)
    tu.check_vmap(f, (X,), in_axes=-1)


def test_stability_at_extremes():
    big = np.array([1000.0, -1000.0, 0.0], np.float32)
    np.testing.assert_allclose(nn.softplus(big), [1000.0, 0.0, math.log(2)], rtol=1e-6)
    np.testing.assert_allclose(nn.logsumexp(np.array([1000.0, 1000.0], np.float32)),
                               1000 + math.log(2), rtol=1e-6)
    np.testing.assert_allclose(nn.log_softmax(np.array([0.0, -1000.0], np.float32)),
                               [0.0, -1000.0], rtol=1e-6)
    assert float(nn.logsumexp(np.array([-np.inf, -np.inf]))) == -np.inf
    np.testing.assert_allclose(nn.softmax(np.array([1e4, 0.0], np.float32)), [1.0, 0.0])
    g = fnad.grad(lambda x: nn.elu(x).sum())(np.array([100.0, -100.0], np.float32))
    np.testing.assert_allclose(g, [1.0, 0.0], atol=1e-30)
    g = fnad.grad(lambda x: nn.logsumexp(x))(np.array([1000.0, 1000.0], np.float32))
    np.testing.assert_allclose(g, [0.5, 0.5])


def test_one_hot():
    labels = np.array([[0, 2], [1, 5]])
    out = nn.one_hot(labels, 3)
    assert out.shape == (2, 2, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out, [[[1, 0, 0], [0, 0, 1]], [[0, 1, 0], [0, 0, 0]]])
    np.testing.assert_array_equal(nn.one_hot(np.array([1, 0]), 2, axis=0), [[0, 1], [1, 0]])
    tu.check_vmap(lambda y: nn.one_hot(y, 4), (np.array([[0, 3], [2, 1]]),))
