"""Losses against NumPy/SciPy formulas (edge values included), their gradients against
central differences, CTC against a sum over all alignments, and jit against eager."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import special

import fnad
import fnad.test_util
from fnad import optim

RNG = np.random.default_rng(0)
P = RNG.normal(size=(4, 5))
T = RNG.normal(size=(4, 5))


def log_softmax(x, axis=-1):
    return x - special.logsumexp(x, axis=axis, keepdims=True)


def test_regression_losses():
    e = P - T
    np.testing.assert_allclose(optim.squared_error(P, T), e ** 2)
    np.testing.assert_allclose(optim.l2_loss(P, T), 0.5 * e ** 2)
    np.testing.assert_allclose(optim.l2_loss(P), 0.5 * P ** 2)
    a = np.abs(e)
    np.testing.assert_allclose(optim.huber_loss(P, T, delta=0.7),
                               np.where(a <= 0.7, 0.5 * e ** 2, 0.7 * (a - 0.35)))
    np.testing.assert_allclose(optim.log_cosh(P, T), np.log(np.cosh(e)), rtol=1e-12)
    assert np.isfinite(optim.log_cosh(np.array([1e4]))).all()
    with pytest.raises(ValueError, match="must match"):
        optim.squared_error(P, T[:, :2])


def test_cosine_similarity_and_distance():
    want = np.sum(P * T, -1) / np.linalg.norm(P, axis=-1) / np.linalg.norm(T, axis=-1)
    np.testing.assert_allclose(optim.cosine_similarity(P, T), want, rtol=1e-12)
    np.testing.assert_allclose(optim.cosine_distance(P, T), 1 - want, rtol=1e-12)
    mask = np.array([True, True, False, True, False])
    got = optim.cosine_similarity(P, T, where=mask)
    Pm, Tm = P[:, mask], T[:, mask]
    np.testing.assert_allclose(got, np.sum(Pm * Tm, -1) / np.linalg.norm(Pm, axis=-1)
                               / np.linalg.norm(Tm, axis=-1), rtol=1e-12)
    assert float(optim.cosine_similarity(np.zeros(2), np.ones(2), epsilon=1e-12)) == 0.0


def test_binary_classification_losses():
    logits = np.array([-50.0, -1.0, 0.0, 2.0, 40.0])
    labels = np.array([0.0, 1.0, 0.5, 0.0, 1.0])
    p = special.expit(logits)
    want = np.maximum(logits, 0) - logits * labels + np.log1p(np.exp(-np.abs(logits)))
    np.testing.assert_allclose(optim.sigmoid_binary_cross_entropy(logits, labels), want,
                               rtol=1e-10, atol=1e-15)
    assert np.isfinite(optim.sigmoid_binary_cross_entropy(np.array([1e3]), np.array([0.0])))
    hard = np.array([0.0, 1.0, 1.0, 0.0, 1.0])
    p_t = np.where(hard == 1, p, 1 - p)
    ce = optim.sigmoid_binary_cross_entropy(logits, hard)
    np.testing.assert_allclose(optim.sigmoid_focal_loss(logits, hard, gamma=2.0),
                               ce * (1 - p_t) ** 2, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(optim.sigmoid_focal_loss(logits, hard, alpha=0.25),
                               np.where(hard == 1, 0.25, 0.75) * ce * (1 - p_t) ** 2,
                               rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(optim.hinge_loss(logits, 2 * hard - 1),
                               np.maximum(0, 1 - logits * (2 * hard - 1)))


def test_softmax_cross_entropies():
    labels = special.softmax(T, axis=-1)
    np.testing.assert_allclose(optim.softmax_cross_entropy(P, labels),
                               -np.sum(labels * log_softmax(P), -1), rtol=1e-12)
    ints = np.array([0, 4, 2, 2])
    np.testing.assert_allclose(optim.softmax_cross_entropy_with_integer_labels(P, ints),
                               -log_softmax(P)[np.arange(4), ints], rtol=1e-12)
    got = optim.softmax_cross_entropy_with_integer_labels(P.T, ints, axis=0)
    np.testing.assert_allclose(got, -log_softmax(P)[np.arange(4), ints], rtol=1e-12)
    keep = np.array([True, False, True, True])  # `where` selects examples
    got = optim.softmax_cross_entropy_with_integer_labels(P, ints, where=keep)
    np.testing.assert_allclose(got, np.where(keep, -log_softmax(P)[np.arange(4), ints], 0.0),
                               rtol=1e-12)
    with pytest.raises(TypeError, match="integers"):
        optim.softmax_cross_entropy_with_integer_labels(P, ints.astype(float))


def test_safe_softmax_cross_entropy_with_masked_classes():
    logits = np.array([[1.0, -np.inf, 0.5], [0.0, 0.0, 0.0]])
    labels = np.array([[0.3, 0.0, 0.7], [1.0, 0.0, 0.0]])
    got = optim.safe_softmax_cross_entropy(logits, labels)
    lp = log_softmax(np.array([1.0, 0.5]))
    np.testing.assert_allclose(got, [-(0.3 * lp[0] + 0.7 * lp[1]), np.log(3.0)], rtol=1e-12)
    g = fnad.grad(lambda z: fnad.numpy.sum(optim.safe_softmax_cross_entropy(z, labels)))(logits)
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g[1], special.softmax(logits[1]) - labels[1], rtol=1e-12)


def test_kl_divergences_and_label_smoothing():
    p = special.softmax(P, axis=-1)
    q = special.softmax(T, axis=-1)
    q[0, 1] = 0.0  # a zero target counts 0
    np.testing.assert_allclose(optim.kl_divergence(np.log(p), q),
                               np.sum(special.rel_entr(q, p), -1), rtol=1e-12)
    np.testing.assert_allclose(optim.generalized_kl_divergence(np.log(2 * p), q),
                               np.sum(special.kl_div(q, 2 * p), -1), rtol=1e-12)
    np.testing.assert_allclose(optim.convex_kl_divergence(np.log(p), q),
                               np.sum(special.kl_div(q, p), -1), rtol=1e-12)
    onehot = np.eye(5)[[0, 3]]
    np.testing.assert_allclose(optim.smooth_labels(onehot, 0.1), 0.9 * onehot + 0.02)


def ctc_brute_force(logprobs, label, blank=0):
    """-log of the summed probability of every alignment that collapses to `label`."""
    steps, classes = logprobs.shape
    total = -np.inf
    for path in itertools.product(range(classes), repeat=steps):
        collapsed = [c for i, c in enumerate(path) if c != blank and (i == 0 or path[i - 1] != c)]
        if collapsed == list(label):
            total = np.logaddexp(total, sum(logprobs[t, c] for t, c in enumerate(path)))
    return -total


def test_ctc_loss_sums_over_alignments():
    logits = RNG.normal(size=(2, 5, 3))
    labels = np.array([[1, 1, 0], [2, 1, 2]])
    label_pad = np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    logit_pad = np.array([[0.0, 0.0, 0.0, 0.0, 1.0], [0.0] * 5])
    got = optim.ctc_loss(logits, logit_pad, labels, label_pad)
    want = [ctc_brute_force(log_softmax(logits[0, :4]), [1, 1]),
            ctc_brute_force(log_softmax(logits[1]), [2, 1, 2])]
    np.testing.assert_allclose(got, want, rtol=1e-6)
    loss, phi, emit = optim.ctc_loss_with_forward_probs(logits, logit_pad, labels, label_pad)
    assert phi.shape == (5, 2, 4) and emit.shape == (5, 2, 3)


def test_ntxent_against_its_formula():
    emb = RNG.normal(size=(4, 3))
    labels = np.array([0, 0, 1, 1])
    got = float(optim.ntxent(emb, labels, temperature=0.5))
    unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    sim = unit @ unit.T / 0.5
    terms = []
    for i in range(4):
        for j in range(4):
            if i != j and labels[i] == labels[j]:
                negatives = [sim[i, k] for k in range(4) if labels[k] != labels[i]]
                terms.append(sim[i, j] - np.log(np.exp(sim[i, j]) + np.sum(np.exp(negatives))))
    np.testing.assert_allclose(got, -np.mean(terms), rtol=1e-6)
    emb32 = emb.astype(np.float32)  # the loss keeps the embeddings' dtype
    assert optim.ntxent(emb32, labels).dtype == np.float32
    assert fnad.grad(lambda e: optim.ntxent(e, labels))(emb32).dtype == np.float32


@pytest.mark.parametrize("name,fn", [
    ("huber", lambda p: optim.huber_loss(p, T)),
    ("log_cosh", lambda p: optim.log_cosh(p, T)),
    ("cosine", lambda p: optim.cosine_similarity(p, T)),
    ("sigmoid_bce", lambda p: optim.sigmoid_binary_cross_entropy(p, (T > 0) * 1.0)),
    ("focal", lambda p: optim.sigmoid_focal_loss(p, (T > 0) * 1.0, alpha=0.3)),
    ("softmax_ce", lambda p: optim.softmax_cross_entropy(p, special.softmax(T, -1))),
    ("integer_ce", lambda p: optim.softmax_cross_entropy_with_integer_labels(
        p, np.array([0, 1, 2, 3]))),
])
def test_gradients_and_jit(name, fn):
    fnad.test_util.check_grads(lambda p: fnad.numpy.sum(fn(p)), (P,), order=1)
    np.testing.assert_allclose(fnad.jit(fn)(P), fn(P), rtol=1e-12)
