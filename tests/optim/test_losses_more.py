"""The optax losses added after the first set (Dice, Fenchel-Young, sparsemax, perceptron,
multiclass hinge, poly, ranking softmax, triplet, KL with log targets): values against NumPy/SciPy
float64 formulas and hand-computed values (zeros, ties and large values included), gradients
against central differences, jit against eager, vmap against the batched call."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy import special

import fnad
import fnad.numpy as fnp
import fnad.test_util
from fnad import optim
from fnad.nn import logsumexp

RNG = np.random.default_rng(0)
S = RNG.normal(size=(4, 5))
INTS = np.array([0, 4, 2, 2])


def ref_simplex_projection(v):
    """Projection onto the probability simplex by bisection on the threshold (a different
    algorithm from the sort-based one under test)."""
    lo, hi = np.min(v) - 1.0, np.max(v)
    for _ in range(200):
        tau = 0.5 * (lo + hi)
        if np.sum(np.maximum(v - tau, 0.0)) > 1.0:
            lo = tau
        else:
            hi = tau
    return np.maximum(v - 0.5 * (lo + hi), 0.0)


def ref_sparsemax_loss(s, y):
    p = ref_simplex_projection(s)
    return p @ s + 0.5 * (1.0 - p @ p) - s[y]


def ref_sparse_plus(x):
    return np.where(x <= -1, 0.0, np.where(x >= 1, x, (x + 1) ** 2 / 4))


def ref_dice(probs, targets, axis, smooth=1.0, alpha=0.5, beta=0.5):
    i = np.sum(probs * targets, axis=axis)
    fp = np.sum(probs, axis=axis) - i
    fn = np.sum(targets, axis=axis) - i
    return 1.0 - (i + smooth) / (i + alpha * fp + beta * fn + smooth)


def test_kl_divergence_with_log_targets():
    lp = np.log(special.softmax(S, -1))
    lt = np.log(special.softmax(RNG.normal(size=S.shape), -1))
    want = np.sum(np.exp(lt) * (lt - lp), -1)
    np.testing.assert_allclose(optim.kl_divergence_with_log_targets(lp, lt), want, rtol=1e-12)
    np.testing.assert_allclose(optim.kl_divergence(lp, np.exp(lt)), want, rtol=1e-12)
    mask = S > 0
    np.testing.assert_allclose(optim.kl_divergence_with_log_targets(lp, lt, where=mask),
                               np.sum(np.where(mask, np.exp(lt) * (lt - lp), 0), -1),
                               rtol=1e-12)
    np.testing.assert_allclose(optim.kl_divergence_with_log_targets(lp, lt, axis=0),
                               np.sum(np.exp(lt) * (lt - lp), 0), rtol=1e-12)
    assert float(optim.kl_divergence_with_log_targets(lp[0], lp[0])) == 0.0
    with pytest.raises(TypeError, match="floating"):
        optim.kl_divergence_with_log_targets(np.zeros(3, np.int32), lt[0])


def test_poly_loss_cross_entropy():
    labels = special.softmax(RNG.normal(size=S.shape), -1)
    p = special.softmax(S, -1)
    ce = -np.sum(labels * (S - special.logsumexp(S, -1, keepdims=True)), -1)
    for eps in (2.0, -1.0, 0.0):
        np.testing.assert_allclose(optim.poly_loss_cross_entropy(S, labels, epsilon=eps),
                                   ce + eps * np.sum(labels * (1 - p), -1), rtol=1e-12)
    # one-hot labels: -log p_t + epsilon * (1 - p_t)
    pt = p[np.arange(4), INTS]
    np.testing.assert_allclose(optim.poly_loss_cross_entropy(S, np.eye(5)[INTS]),
                               -np.log(pt) + 2.0 * (1 - pt), rtol=1e-12)
    mask = np.ones(S.shape, bool)
    mask[:, 3:] = False
    pm = special.softmax(S[:, :3], -1)
    lm = labels[:, :3]
    want = (-np.sum(lm * (S[:, :3] - special.logsumexp(S[:, :3], -1, keepdims=True)), -1)
            + 2.0 * np.sum(lm * (1 - pm), -1))
    np.testing.assert_allclose(optim.poly_loss_cross_entropy(S, labels, where=mask), want,
                               rtol=1e-12)
    big = np.array([[1e3, -1e3, 0.0]])
    np.testing.assert_allclose(optim.poly_loss_cross_entropy(big, np.array([[0.0, 1.0, 0.0]])),
                               [2e3 + 2.0], rtol=1e-12)
    with pytest.raises(TypeError, match="floating"):
        optim.poly_loss_cross_entropy(S, np.eye(5, dtype=np.int32)[INTS])


def test_perceptron_and_sparsemax_losses():
    x = np.array([-1e6, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0, 1e6])
    t = np.array([1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, -1.0])
    np.testing.assert_array_equal(optim.perceptron_loss(x, t), np.maximum(0, -x * t))
    with pytest.raises(ValueError, match="must match"):
        optim.perceptron_loss(x, t[:3])
    labels = np.array([1, 0, 1, 1, 0, 0, 1, 0])
    np.testing.assert_array_equal(optim.sparsemax_loss(x, labels),
                                  ref_sparse_plus(np.where(labels == 1, -x, x)))
    np.testing.assert_array_equal(optim.sparsemax_loss(np.array([-1.0, 1.0, 0.0, 0.0]),
                                                       np.array([0, 1, 0, 1])), [0, 0, .25, .25])
    # zero exactly where sparse_sigmoid(x) equals the label
    zero = np.asarray(optim.sparsemax_loss(x, labels)) == 0
    np.testing.assert_array_equal(zero, np.asarray(fnad.nn.sparse_sigmoid(x)) == labels)


def test_multiclass_hinge_and_perceptron_losses():
    rows = np.arange(4)
    picked = S[rows, INTS]
    margin = S + 1.0 - np.eye(5)[INTS]
    np.testing.assert_allclose(optim.multiclass_hinge_loss(S, INTS),
                               np.max(margin, -1) - picked, rtol=1e-12)
    np.testing.assert_allclose(optim.multiclass_perceptron_loss(S, INTS),
                               np.max(S, -1) - picked, rtol=1e-12)
    ties = np.array([[2.0, 2.0, 0.0], [0.0, 0.0, 0.0], [1e3, -1e3, 0.0]])
    labels = np.array([0, 2, 1])
    np.testing.assert_array_equal(optim.multiclass_perceptron_loss(ties, labels), [0, 0, 2e3])
    np.testing.assert_array_equal(optim.multiclass_hinge_loss(ties, labels), [1, 1, 2e3 + 1])
    np.testing.assert_array_equal(optim.multiclass_hinge_loss(np.array([3.0, 1.0]), 0), 0.0)


def test_multiclass_sparsemax_loss():
    got = optim.multiclass_sparsemax_loss(S, INTS)
    want = [ref_sparsemax_loss(s, y) for s, y in zip(S, INTS)]
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    # hand values: a clear winner costs 0; equal scores cost 1/2 - 1/(2n)
    np.testing.assert_allclose(
        optim.multiclass_sparsemax_loss(np.array([[3.0, 0.0, 0.0], [0.0, 0.0, 0.0],
                                                  [1e3, -1e3, 0.0]]), np.array([0, 1, 1])),
        [0.0, 0.5 - 1 / 6, 2e3], rtol=1e-12)
    # its gradient is sparsemax(s) - one_hot(y)
    grad = fnad.grad(lambda s: fnp.sum(optim.multiclass_sparsemax_loss(s, INTS)))(S)
    want_grad = np.stack([ref_simplex_projection(s) for s in S]) - np.eye(5)[INTS]
    np.testing.assert_allclose(grad, want_grad, atol=1e-10)
    batched = optim.multiclass_sparsemax_loss(S.reshape(2, 2, 5), INTS.reshape(2, 2))
    np.testing.assert_allclose(batched, np.reshape(got, (2, 2)), rtol=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-20, 20, allow_nan=False).map(lambda v: round(v, 1)),
                min_size=1, max_size=7), st.data())
def test_sparsemax_loss_hypothesis(scores, data):
    s = np.array(scores)
    y = data.draw(st.integers(0, len(scores) - 1))
    got = float(optim.multiclass_sparsemax_loss(s[None], np.array([y]))[0])
    assert got >= -1e-12
    np.testing.assert_allclose(got, ref_sparsemax_loss(s, y), rtol=1e-9, atol=1e-9)
    grad = fnad.grad(lambda v: optim.multiclass_sparsemax_loss(v[None], np.array([y]))[0])(s)
    np.testing.assert_allclose(grad, ref_simplex_projection(s) - np.eye(len(s))[y], atol=1e-9)


def test_make_fenchel_young_loss():
    labels = special.softmax(RNG.normal(size=S.shape), -1)
    loss = optim.make_fenchel_young_loss(logsumexp)
    want = special.logsumexp(S, -1) - np.sum(labels * S, -1)
    np.testing.assert_allclose(loss(S, labels), want, rtol=1e-12)
    # with one-hot targets, the logsumexp loss is the softmax cross-entropy
    np.testing.assert_allclose(loss(S, np.eye(5)[INTS]),
                               optim.softmax_cross_entropy_with_integer_labels(S, INTS),
                               rtol=1e-12)
    np.testing.assert_allclose(loss(S.reshape(2, 2, 5), labels.reshape(2, 2, 5)),
                               want.reshape(2, 2), rtol=1e-12)
    tempered = optim.make_fenchel_young_loss(lambda x, t=1.0: t * logsumexp(x / t))
    np.testing.assert_allclose(tempered(S, labels, t=2.0),
                               2 * special.logsumexp(S / 2, -1) - np.sum(labels * S, -1),
                               rtol=1e-12)
    perceptron = optim.make_fenchel_young_loss(fnp.max)
    np.testing.assert_allclose(perceptron(S, np.eye(5)[INTS]),
                               optim.multiclass_perceptron_loss(S, INTS), rtol=1e-12)
    with pytest.raises(TypeError, match="callable"):
        optim.make_fenchel_young_loss(3.0)


def test_triplet_margin_loss():
    a, p, n = RNG.normal(size=(3, 4, 6))
    for degree, margin in ((2, 1.0), (1, 0.5), (4, 2.0)):  # optax's signed powers
        dp = (np.sum((a - p) ** degree, -1) + 1e-6) ** (1 / degree)
        dn = (np.sum((a - n) ** degree, -1) + 1e-6) ** (1 / degree)
        np.testing.assert_allclose(optim.triplet_margin_loss(a, p, n, norm_degree=degree,
                                                             margin=margin),
                                   np.maximum(dp - dn + margin, 0), rtol=1e-12)
    anchors = np.array([[0.0, 0.0], [1.0, 1.0]])
    got = optim.triplet_margin_loss(anchors, anchors + 0.1, np.array([[1.0, 0.0], [0.0, 1.0]]))
    np.testing.assert_allclose(got, [0.1414, 0.1414], atol=1e-4)
    np.testing.assert_allclose(optim.triplet_margin_loss(a.T, p.T, n.T, axis=0),
                               optim.triplet_margin_loss(a, p, n), rtol=1e-12)
    assert float(optim.triplet_margin_loss(a[0], a[0], a[0] + 10.0)) == 0.0
    with pytest.raises(TypeError, match="floating"):
        optim.triplet_margin_loss(np.zeros(2, np.int32), a[0, :2], a[0, :2])


def test_ranking_softmax_loss():
    rel = RNG.integers(0, 3, size=S.shape).astype(float)
    per_list = -np.sum(rel * (S - special.logsumexp(S, -1, keepdims=True)), -1)
    np.testing.assert_allclose(optim.ranking_softmax_loss(S, rel), np.mean(per_list),
                               rtol=1e-12)
    np.testing.assert_allclose(optim.ranking_softmax_loss(S, rel, reduce_fn=fnp.sum),
                               np.sum(per_list), rtol=1e-12)
    np.testing.assert_allclose(optim.ranking_softmax_loss(S, rel, reduce_fn=None), per_list,
                               rtol=1e-12)
    w = RNG.random(S.shape)
    mask = RNG.random(S.shape) < 0.6
    mask[0] = False
    mask[1, :2] = True
    want = []
    for s, r, ww, m in zip(S, rel, w, mask):
        if not m.any():
            want.append(0.0)
            continue
        lsm = s[m] - special.logsumexp(s[m])
        want.append(-np.sum(r[m] * ww[m] * lsm))
    want = np.array(want)
    got = optim.ranking_softmax_loss(S, rel, where=mask, weights=w, reduce_fn=None)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(optim.ranking_softmax_loss(S, rel, where=mask, weights=w),
                               np.mean(want[1:]), rtol=1e-12)
    none = np.zeros(S.shape, bool)
    assert float(optim.ranking_softmax_loss(S, rel, where=none)) == 0.0
    g = fnad.grad(lambda s: optim.ranking_softmax_loss(s, rel, where=mask))(S)
    assert np.isfinite(g).all() and (g[~mask] == 0).all()
    np.testing.assert_allclose(optim.ranking_softmax_loss(np.array([1e3, -1e3]),
                                                          np.array([0.0, 1.0])), 2e3)


def test_dice_loss():
    logits = RNG.normal(size=(2, 3, 4, 3))
    targets = np.eye(3)[RNG.integers(0, 3, size=(2, 3, 4))]
    probs = special.softmax(logits, -1)
    per_class = ref_dice(probs, targets, (1, 2))
    np.testing.assert_allclose(optim.dice_loss(logits, targets), per_class.mean(-1), rtol=1e-12)
    np.testing.assert_allclose(optim.dice_loss(logits, targets, reduction="sum"),
                               per_class.sum(-1), rtol=1e-12)
    np.testing.assert_allclose(optim.dice_loss(logits, targets, reduction="none"), per_class,
                               rtol=1e-12)
    np.testing.assert_allclose(
        optim.dice_loss(logits, targets, alpha=0.3, beta=0.7, smooth=0.5),
        ref_dice(probs, targets, (1, 2), 0.5, 0.3, 0.7).mean(-1), rtol=1e-12)
    cw = np.array([0.5, 1.0, 2.0])
    np.testing.assert_allclose(
        optim.dice_loss(logits, targets, class_weights=cw, ignore_background=True),
        (per_class * cw)[:, 1:].mean(-1), rtol=1e-12)
    np.testing.assert_allclose(optim.dice_loss(logits, targets, axis=(1,)),
                               ref_dice(probs, targets, (1,)).mean(-1), rtol=1e-12)
    np.testing.assert_allclose(optim.dice_loss(probs, targets, apply_softmax=False),
                               per_class.mean(-1), rtol=1e-12)
    # one channel: sigmoid; perfect predictions cost 0 whatever smooth is
    binary = (RNG.random((2, 3, 4)) < 0.5) * 1.0
    bl = RNG.normal(size=(2, 3, 4))
    want = ref_dice(special.expit(bl)[..., None], binary[..., None], (1, 2)).mean(-1)
    np.testing.assert_allclose(optim.dice_loss(bl[..., None], binary[..., None]), want,
                               rtol=1e-12)
    np.testing.assert_allclose(optim.dice_loss(bl, binary[..., None]), want, rtol=1e-12)
    np.testing.assert_allclose(optim.binary_dice_loss(bl, binary), want, rtol=1e-12)
    np.testing.assert_allclose(optim.binary_dice_loss(bl[..., None], binary[..., None]), want,
                               rtol=1e-12)
    np.testing.assert_allclose(
        optim.binary_dice_loss(special.expit(bl), binary, smooth=0.2, apply_sigmoid=False),
        ref_dice(special.expit(bl), binary, (1, 2), 0.2), rtol=1e-12)
    np.testing.assert_allclose(optim.binary_dice_loss(binary, binary, smooth=0.0,
                                                      apply_sigmoid=False), [0.0, 0.0])
    # all-zero targets and predictions: smooth makes it 0, not 0/0
    assert float(optim.binary_dice_loss(np.zeros((1, 3)), np.zeros((1, 3)),
                                        apply_sigmoid=False)[0]) == 0.0
    with pytest.raises(ValueError, match="reduction"):
        optim.dice_loss(logits, targets, reduction="max")
    with pytest.raises(ValueError, match="sum"):
        optim.dice_loss(logits, targets, apply_softmax=False)
    with pytest.raises(ValueError, match="1-D"):
        optim.dice_loss(logits, targets, class_weights=np.ones((1, 3)))
    with pytest.raises(ValueError, match="must match"):
        optim.dice_loss(logits, targets[..., :2])


def test_multiclass_generalized_dice_loss():
    logits = RNG.normal(size=(2, 3, 4, 3))
    targets = np.eye(3)[RNG.choice(3, size=(2, 3, 4), p=[0.7, 0.2, 0.1])]
    freq = targets.sum((0, 1, 2))
    w = 1 / (freq ** 2 + 1e-7)
    w = w / w.sum() * 3
    per_class = ref_dice(special.softmax(logits, -1), targets, (1, 2)) * w
    np.testing.assert_allclose(optim.multiclass_generalized_dice_loss(logits, targets),
                               per_class.mean(), rtol=1e-12)
    np.testing.assert_allclose(
        optim.multiclass_generalized_dice_loss(logits, targets, ignore_background=True,
                                               smooth=0.3),
        (ref_dice(special.softmax(logits, -1), targets, (1, 2), 0.3) * w)[:, 1:].mean(),
        rtol=1e-12)
    with pytest.raises(ValueError, match="must match"):
        optim.multiclass_generalized_dice_loss(logits, targets[..., :2])


SEG_LOGITS = RNG.normal(size=(2, 3, 2, 3))
SEG_TARGETS = np.eye(3)[RNG.integers(0, 3, size=(2, 3, 2))]
REL = RNG.integers(0, 3, size=S.shape).astype(float)
MASK = RNG.random(S.shape) < 0.7
A, P, N = RNG.normal(size=(3, 4, 6))


@pytest.mark.parametrize("name,fn,x", [
    ("kl_log_targets", lambda x: optim.kl_divergence_with_log_targets(
        x, np.log(special.softmax(S, -1))), np.log(special.softmax(S.T, 0)).T),
    ("kl_log_targets_t", lambda x: optim.kl_divergence_with_log_targets(S, x, where=MASK), S),
    ("poly", lambda x: optim.poly_loss_cross_entropy(x, special.softmax(-S, -1)), S),
    ("poly_where", lambda x: optim.poly_loss_cross_entropy(x, special.softmax(-S, -1),
                                                           epsilon=-1.0, where=MASK | (S < 0)), S),
    ("perceptron", lambda x: optim.perceptron_loss(x, np.sign(S[::-1])), S),
    ("sparsemax", lambda x: optim.sparsemax_loss(x, S[::-1] > 0), 1.5 * S),
    ("multiclass_hinge", lambda x: optim.multiclass_hinge_loss(x, INTS), S),
    ("multiclass_perceptron", lambda x: optim.multiclass_perceptron_loss(x, INTS), S),
    ("multiclass_sparsemax", lambda x: optim.multiclass_sparsemax_loss(x, INTS), S),
    ("fenchel_young", lambda x: optim.make_fenchel_young_loss(logsumexp)(
        x, special.softmax(-S, -1)), S),
    ("triplet", lambda x: optim.triplet_margin_loss(x, P, N, margin=3.0), A),
    ("triplet_l4", lambda x: optim.triplet_margin_loss(A, x, N, norm_degree=4, margin=3.0), P),
    ("ranking", lambda x: optim.ranking_softmax_loss(x, REL, where=MASK, weights=REL + 1), S),
    ("ranking_labels", lambda x: optim.ranking_softmax_loss(S, x, reduce_fn=None), REL),
    ("dice", lambda x: optim.dice_loss(x, SEG_TARGETS, alpha=0.2, beta=0.8,
                                       class_weights=np.array([1.0, 2.0, 3.0])), SEG_LOGITS),
    ("dice_targets", lambda x: optim.dice_loss(SEG_LOGITS, x, reduction="none"), SEG_TARGETS),
    ("generalized_dice", lambda x: optim.multiclass_generalized_dice_loss(x, SEG_TARGETS),
     SEG_LOGITS),
    ("binary_dice", lambda x: optim.binary_dice_loss(x, SEG_TARGETS[..., 0]), SEG_LOGITS[..., 0]),
])
def test_gradients_and_jit(name, fn, x):
    fnad.test_util.check_grads(lambda v: fnp.sum(fn(v)), (x,), order=1)
    np.testing.assert_allclose(fnad.jit(fn)(x), fn(x), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", ["multiclass_hinge_loss", "multiclass_perceptron_loss",
                                  "multiclass_sparsemax_loss"])
def test_vmap_over_examples(name):
    fn = getattr(optim, name)
    np.testing.assert_allclose(fnad.vmap(fn)(S, INTS), fn(S, INTS), rtol=1e-12)
    np.testing.assert_allclose(fnad.vmap(fnad.jit(fn))(S, INTS), fn(S, INTS), rtol=1e-12)
    per_example = fnad.vmap(fnad.grad(lambda s, y: fn(s[None], y[None])[0]))(S, INTS)
    np.testing.assert_allclose(per_example, fnad.grad(lambda s: fnp.sum(fn(s, INTS)))(S),
                               rtol=1e-12, atol=1e-15)


def test_float32_stays_float32():
    x = S.astype(np.float32)
    for out in (optim.multiclass_sparsemax_loss(x, INTS), optim.poly_loss_cross_entropy(x, x),
                optim.ranking_softmax_loss(x, np.abs(x)), optim.triplet_margin_loss(x, x, x),
                optim.dice_loss(x[None], (x[None] > 0).astype(np.float32))):
        assert np.asarray(out).dtype == np.float32


def test_docstring_examples():
    result = doctest.testmod(fnad.optim.losses, extraglobs={"np": np})
    assert result.failed == 0 and result.attempted > 0
