"""Losses against NumPy formulas, their gradients, reductions, and stability."""

from __future__ import annotations

import numpy as np
import pytest

import fnad.test_util as tu
from fnad import nn

RNG = np.random.default_rng(1)
P, T = RNG.standard_normal((4, 3)) * 2, RNG.standard_normal((4, 3))
LOGITS = RNG.standard_normal((4, 5)) * 2
LABELS = np.array([0, 4, 2, 2])
PROBS = RNG.dirichlet(np.ones(5), size=4)
BIN = RNG.uniform(size=(4, 3))


def np_log_softmax(x):
    m = x.max(-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(-1, keepdims=True))


def np_huber(d, delta):
    a = np.abs(d)
    return np.where(a <= delta, 0.5 * d * d, delta * (a - 0.5 * delta))


LOSSES = {
    "mse": (nn.mse, (P, T), lambda p, t: ((p - t) ** 2).mean()),
    "huber": (lambda p, t: nn.huber(p, t, delta=1.5), (P, T),
              lambda p, t: np_huber(p - t, 1.5).mean()),
    "ce_int": (lambda x: nn.softmax_cross_entropy(x, LABELS), (LOGITS,),
               lambda x: -np_log_softmax(x)[np.arange(4), LABELS].mean()),
    "ce_probs": (nn.softmax_cross_entropy, (LOGITS, PROBS),
                 lambda x, q: -(q * np_log_softmax(x)).sum(-1).mean()),
    "bce": (nn.binary_cross_entropy_with_logits, (P, BIN),
            lambda x, z: -(z * np.log(1 / (1 + np.exp(-x))) +
                           (1 - z) * np.log(1 - 1 / (1 + np.exp(-x)))).mean()),
    "l1": (lambda a, b: nn.l1_penalty({"a": a, "b": [b]}), (P, T),
           lambda a, b: np.abs(a).sum() + np.abs(b).sum()),
    "l2": (lambda a, b: nn.l2_penalty({"a": a, "b": [b]}), (P, T),
           lambda a, b: 0.5 * ((a ** 2).sum() + (b ** 2).sum())),
}


@pytest.mark.parametrize("name", LOSSES)
def test_loss(name):
    f, args, ref = LOSSES[name]
    tu.assert_allclose(f(*args), np.asarray(ref(*args)), rtol=1e-10, atol=1e-12)
    tu.check_grads(f, args, order=2)
    tu.check_transforms(f, tuple(a.astype(np.float32) for a in args))


def test_reductions():
    per_elem = nn.mse(P, T, reduction="none")
    assert per_elem.shape == (4, 3)
    np.testing.assert_allclose(nn.mse(P, T, reduction="sum"), per_elem.sum())
    per_example = nn.softmax_cross_entropy(LOGITS, LABELS, reduction="none")
    assert per_example.shape == (4,)
    np.testing.assert_allclose(per_example, nn.softmax_cross_entropy(
        LOGITS, np.eye(5)[LABELS], reduction="none"))
    with pytest.raises(ValueError, match="reduction"):
        nn.mse(P, T, reduction="avg")


def test_softmax_cross_entropy_on_another_axis():
    out = nn.softmax_cross_entropy(LOGITS.T, LABELS, axis=0, reduction="none")
    np.testing.assert_allclose(out, nn.softmax_cross_entropy(LOGITS, LABELS, reduction="none"))


def test_stable_for_huge_logits():
    x = np.array([1000.0, -1000.0], np.float32)
    np.testing.assert_allclose(
        nn.binary_cross_entropy_with_logits(x, np.array([0.0, 1.0], np.float32), "none"),
        [1000.0, 1000.0])
    np.testing.assert_allclose(
        nn.softmax_cross_entropy(np.array([[1000.0, -1000.0]], np.float32), np.array([1])),
        2000.0)
