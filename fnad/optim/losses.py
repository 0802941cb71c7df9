"""Loss functions with optax's names and conventions: elementwise (or per-example) losses
with no reduction, so callers choose `mean`, `sum` or a weighting themselves.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import fnad.numpy as fnp
from fnad import lax
from fnad.lax.custom import custom_jvp
from fnad.nn.activations import log_softmax, logsumexp, one_hot, softmax, softplus
from fnad.optim.errors import OptimizerArgumentError, OptimizerTypeError
from fnad.optim.numerics import dtype_of

Axis = int | tuple[int, ...] | None


def _errors(predictions: Any, targets: Any) -> Any:
    predictions = fnp.asarray(predictions)
    if targets is None:
        return predictions
    targets = fnp.asarray(targets)
    if fnp.shape(predictions) != fnp.shape(targets):
        raise OptimizerArgumentError(f"predictions have shape {fnp.shape(predictions)} but targets "
                         f"{fnp.shape(targets)}: they must match (reshape one of them)")
    return predictions - targets


def squared_error(predictions: Any, targets: Any = None) -> Any:
    """`(predictions - targets)**2` elementwise (targets default to 0).

    >>> squared_error(np.array([1.0, 3.0]), np.array([0.0, 1.0]))
    array([1., 4.])
    """
    e = _errors(predictions, targets)
    return e * e


def l2_loss(predictions: Any, targets: Any = None) -> Any:
    """Half the squared error, `0.5 * (predictions - targets)**2` elementwise.

    >>> l2_loss(np.array([2.0]))
    array([2.])
    """
    return 0.5 * squared_error(predictions, targets)


def huber_loss(predictions: Any, targets: Any = None, *, delta: float = 1.0) -> Any:
    """Quadratic for errors within `delta`, linear beyond (Huber, 1964): robust to outliers.

    >>> huber_loss(np.array([0.5, 3.0]))
    array([0.125, 2.5  ])
    """
    a = fnp.abs(_errors(predictions, targets))
    quadratic = fnp.minimum(a, delta)
    return 0.5 * quadratic * quadratic + delta * (a - quadratic)


def log_cosh(predictions: Any, targets: Any = None) -> Any:
    """`log(cosh(error))`, written as `logaddexp(e, -e) - log 2` so it never overflows.

    >>> np.round(log_cosh(np.array([0.0, 100.0])), 4)
    array([ 0.    , 99.3069])
    """
    e = _errors(predictions, targets)
    return fnp.logaddexp(e, -e) - fnp.asarray(np.log(2.0), dtype_of(e))


def _masked_sum(x: Any, axis: Axis, where: Any, keepdims: bool = False) -> Any:
    if where is not None:
        x = fnp.where(where, x, 0)
    return fnp.sum(x, axis=axis, keepdims=keepdims)


def cosine_similarity(predictions: Any, targets: Any, *, epsilon: float = 0.0,
                      axis: Axis = -1, where: Any = None) -> Any:
    """The cosine of the angle between `predictions` and `targets` along `axis` (each
    norm at least `sqrt(epsilon)`).

    >>> float(cosine_similarity(np.array([1.0, 0.0]), np.array([1.0, 1.0])))  # doctest: +ELLIPSIS
    0.7071...
    """
    a, b = fnp.asarray(predictions), fnp.asarray(targets)
    a_norm = fnp.sqrt(fnp.maximum(_masked_sum(a * a, axis, where, True), epsilon))
    b_norm = fnp.sqrt(fnp.maximum(_masked_sum(b * b, axis, where, True), epsilon))
    return _masked_sum((a / a_norm) * (b / b_norm), axis, where)


def cosine_distance(predictions: Any, targets: Any, *, epsilon: float = 0.0, axis: Axis = -1,
                    where: Any = None) -> Any:
    """`1 - cosine_similarity`: 0 for vectors pointing the same way, 2 for opposite ones.

    >>> float(cosine_distance(np.array([1.0, 0.0]), np.array([-2.0, 0.0])))
    2.0
    """
    return 1.0 - cosine_similarity(predictions, targets, epsilon=epsilon, axis=axis,
                                   where=where)


def _log_sigmoid(x: Any) -> Any:
    return -softplus(-x)


def sigmoid_binary_cross_entropy(logits: Any, labels: Any) -> Any:
    """Binary cross-entropy of `sigmoid(logits)` against `labels` in [0, 1], elementwise,
    computed from the logits so it stays finite for large ones.

    >>> np.round(sigmoid_binary_cross_entropy(np.array([0.0, 100.0]), np.array([1.0, 0.0])), 4)
    array([  0.6931, 100.    ])
    """
    logits = fnp.asarray(logits)
    labels = fnp.asarray(labels, dtype_of(logits))
    return -labels * _log_sigmoid(logits) - (1.0 - labels) * _log_sigmoid(-logits)


def sigmoid_focal_loss(logits: Any, labels: Any, *, alpha: float | None = None,
                       gamma: float = 2.0) -> Any:
    """Focal loss (Lin et al., 2017): binary cross-entropy weighted by `(1 - p_t)**gamma`,
    so easy examples count less; `alpha` weighs positives against negatives.

    >>> np.round(sigmoid_focal_loss(np.array([0.0]), np.array([1.0])), 4)
    array([0.1733])
    """
    logits = fnp.asarray(logits)
    labels = fnp.asarray(labels, dtype_of(logits))
    ce = sigmoid_binary_cross_entropy(logits, labels)
    y = fnp.where(labels >= 0.5, labels, 1.0 - labels)
    x = fnp.where(labels >= 0.5, -logits, logits)
    log_one_minus_pt = (_log_sigmoid(x) + fnp.log(y)
                        + softplus(-x + fnp.log1p(-y) - fnp.log(y)))
    loss = ce * fnp.exp(gamma * log_one_minus_pt)
    if alpha is None:
        return loss
    return (alpha * labels + (1.0 - alpha) * (1.0 - labels)) * loss


def hinge_loss(predictor_outputs: Any, targets: Any) -> Any:
    """`max(0, 1 - outputs * targets)` for targets in {-1, 1}.

    >>> hinge_loss(np.array([0.5, 2.0]), np.array([1.0, 1.0]))
    array([0.5, 0. ])
    """
    return fnp.maximum(0, 1 - fnp.asarray(predictor_outputs) * targets)


def softmax_cross_entropy(logits: Any, labels: Any, axis: Axis = -1, where: Any = None) -> Any:
    """Cross-entropy of `softmax(logits)` against label distributions, summed over `axis`.

    >>> np.round(softmax_cross_entropy(np.array([[0.0, 0.0]]), np.array([[1.0, 0.0]])), 4)
    array([0.6931])
    """
    logits = fnp.asarray(logits)
    if where is not None:
        where = fnp.asarray(where)
        if where.ndim != logits.ndim:
            where = fnp.expand_dims(where, axis)
        logits = fnp.where(where, logits, -np.inf)
    log_probs = log_softmax(logits, axis)
    terms = fnp.asarray(labels) * log_probs
    if where is not None:
        terms = fnp.where(where, terms, 0.0)
    return -fnp.sum(terms, axis=axis)


def softmax_cross_entropy_with_integer_labels(logits: Any, labels: Any, axis: Axis = -1,
                                              where: Any = None) -> Any:
    """Cross-entropy of `softmax(logits)` against integer class labels:
    `logsumexp(logits) - logits[label]`.

    >>> np.round(softmax_cross_entropy_with_integer_labels(np.array([[0.0, 0.0]]),
    ...                                                    np.array([1])), 4)
    array([0.6931])
    """
    logits = fnp.asarray(logits)
    labels = fnp.asarray(labels)
    if not np.issubdtype(dtype_of(labels), np.integer):
        raise OptimizerTypeError(f"softmax_cross_entropy_with_integer_labels: labels must be integers, "
                        f"got {dtype_of(labels)}; for probabilities use "
                        "softmax_cross_entropy")
    if where is not None:
        where = fnp.asarray(where)
        if where.ndim != logits.ndim:
            where = fnp.expand_dims(where, axis)
    if isinstance(axis, tuple):
        ndim = logits.ndim
        class_axes = tuple(a % ndim for a in axis)
        batch = tuple(a for a in range(ndim) if a not in class_axes)
        logits = fnp.transpose(logits, batch + class_axes)
        logits = fnp.reshape(logits, fnp.shape(logits)[:len(batch)] + (-1,))
        if where is not None:
            where = fnp.transpose(where, batch + class_axes)
            where = fnp.reshape(where, fnp.shape(where)[:len(batch)] + (-1,))
        axis = len(batch)
    axis = axis % logits.ndim
    picked = fnp.take_along_axis(logits, fnp.expand_dims(labels, axis), axis=axis,
                                 mode="promise_in_bounds")
    picked = fnp.squeeze(picked, axis=axis)
    if where is None:
        return logsumexp(logits, axis=axis) - picked
    norm = logsumexp(fnp.where(where, logits, -np.inf), axis=axis)
    return fnp.where(fnp.any(where, axis=axis), norm - picked, 0.0)


@custom_jvp
def _weighted_log_softmax(x: Any, weights: Any) -> Any:
    used = weights != 0.0
    return fnp.where(used, weights * fnp.where(used, log_softmax(x, axis=-1), 0.0), 0.0)


def _weighted_log_softmax_jvp(primals: tuple, tangents: tuple) -> tuple:
    x, w = primals
    dx, dw = tangents
    lsm = log_softmax(x, axis=-1)
    used = w != 0.0
    lsm = fnp.where(used, lsm, 0.0)  # where w is 0 the term and its derivative are 0
    out = fnp.where(used, w * lsm, 0.0)
    dout = w * dx - w * fnp.sum(dx * softmax(x, axis=-1), axis=-1, keepdims=True) + dw * lsm
    return out, dout


_weighted_log_softmax.defjvp(_weighted_log_softmax_jvp)


def safe_softmax_cross_entropy(logits: Any, labels: Any) -> Any:
    """`softmax_cross_entropy` over the last axis that stays finite (with a finite
    gradient) where a logit is `-inf` and its label 0, e.g. masked-out classes.

    >>> abs(float(safe_softmax_cross_entropy(np.array([0.0, -np.inf]), np.array([1.0, 0.0]))))
    0.0
    """
    return -fnp.sum(_weighted_log_softmax(fnp.asarray(logits), fnp.asarray(labels)), axis=-1)


def kl_divergence(log_predictions: Any, targets: Any, axis: Axis = -1, where: Any = None) -> Any:
    """`KL(targets || predictions)` from log-predictions and target probabilities, summed
    over `axis` (terms with target 0 count 0).

    >>> float(kl_divergence(np.log(np.array([0.5, 0.5])), np.array([1.0, 0.0])))  # doctest: +ELLIPSIS
    0.6931...
    """
    targets = fnp.asarray(targets)
    safe = fnp.where(targets == 0, 1.0, targets)
    loss = targets * (fnp.where(targets == 0, 0.0, fnp.log(safe)) - log_predictions)
    return _masked_sum(loss, axis, where)


def generalized_kl_divergence(log_predictions: Any, targets: Any, axis: Axis = -1,
                              where: Any = None) -> Any:
    """KL divergence between unnormalized measures: `kl_divergence + sum(exp(log_p) - t)`.

    >>> float(generalized_kl_divergence(np.log(np.array([2.0])), np.array([1.0])))  # doctest: +ELLIPSIS
    0.3068...
    """
    extra = _masked_sum(fnp.exp(log_predictions) - targets, axis, where)
    return kl_divergence(log_predictions, targets, axis, where) + extra


convex_kl_divergence = generalized_kl_divergence


def smooth_labels(labels: Any, alpha: float, *, axis: Axis = -1, where: Any = None) -> Any:
    """Label smoothing (Szegedy et al., 2016): `(1 - alpha) * labels + alpha / classes`.

    >>> smooth_labels(np.array([1.0, 0.0]), 0.2)
    array([0.9, 0.1])
    """
    labels = fnp.asarray(labels)
    if where is None:
        axes = axis if isinstance(axis, tuple) else (axis,) if axis is not None \
            else tuple(range(labels.ndim))
        n = int(np.prod([fnp.shape(labels)[a] for a in axes]))
    else:
        n = fnp.sum(fnp.asarray(where), axis=axis, keepdims=True)
    return (1.0 - alpha) * labels + alpha / n


def ctc_loss_with_forward_probs(logits: Any, logit_paddings: Any, labels: Any,
                                label_paddings: Any, *, blank_id: int = 0,
                                log_epsilon: float = -1e5) -> tuple[Any, Any, Any]:
    """CTC loss per sequence (Graves et al., 2006) and the forward log-probabilities of
    ending in a blank (`[T, B, N+1]`) or a label (`[T, B, N]`) state at each step.
    `logits` are `[B, T, K]`; paddings are 1.0 at padded positions.

    >>> loss, _, _ = ctc_loss_with_forward_probs(np.zeros((1, 1, 2)), np.zeros((1, 1)),
    ...                                          np.ones((1, 1), np.int32), np.zeros((1, 1)))
    >>> round(float(loss[0]), 4)
    0.6931
    """
    logits = fnp.asarray(logits)
    b, _, k = fnp.shape(logits)
    labels = fnp.asarray(labels)
    if fnp.shape(labels)[0] != b:
        raise OptimizerArgumentError(f"ctc_loss: labels have batch size {fnp.shape(labels)[0]}, logits "
                         f"{b}")
    n = fnp.shape(labels)[1]
    dtype = dtype_of(logits)
    logprobs = log_softmax(logits)
    label_lens = n - fnp.asarray(fnp.sum(label_paddings, axis=1), np.int32)
    repeat = fnp.asarray(labels[:, :-1] == labels[:, 1:], dtype)
    repeat = fnp.pad(repeat, ((0, 0), (0, 1)))
    phi_probs = fnp.transpose(logprobs[:, :, blank_id:blank_id + 1], (1, 0, 2))
    emit_probs = fnp.transpose(fnp.einsum("btk,bnk->btn", logprobs,
                                          one_hot(labels, k, dtype)), (1, 0, 2))
    phi0 = fnp.concatenate([fnp.zeros((b, 1), dtype),
                            fnp.full((b, n), log_epsilon, dtype)], axis=1)
    emit0 = fnp.full((b, n), log_epsilon, dtype)

    def add_phi(phi: Any, score: Any) -> Any:
        return fnp.concatenate([phi[:, :1], fnp.logaddexp(phi[:, 1:], score)], axis=-1)

    def step(carry: tuple, x: tuple) -> tuple:
        prev_phi, prev_emit = carry
        p_emit, p_phi, pad = x
        phi = add_phi(prev_phi, prev_emit + log_epsilon * repeat)
        next_emit = fnp.logaddexp(phi[:, :-1] + p_emit, prev_emit + p_emit)
        next_phi = add_phi(phi + p_phi, prev_emit + p_phi + log_epsilon * (1.0 - repeat))
        pad = fnp.reshape(pad, (b, 1))
        next_emit = pad * prev_emit + (1.0 - pad) * next_emit
        next_phi = pad * prev_phi + (1.0 - pad) * next_phi
        return (next_phi, next_emit), (next_phi, next_emit)

    pads = fnp.transpose(fnp.asarray(logit_paddings, dtype), (1, 0))
    _, (alpha_phi, alpha_emit) = lax.scan(step, (phi0, emit0), (emit_probs, phi_probs, pads))
    last = add_phi(alpha_phi[-1], alpha_emit[-1])
    alpha_phi = fnp.concatenate([alpha_phi[:-1], last[None]], axis=0)
    loss = -fnp.sum(last * one_hot(label_lens, n + 1, dtype), axis=1)
    return loss, alpha_phi, alpha_emit


def ctc_loss(logits: Any, logit_paddings: Any, labels: Any, label_paddings: Any, *,
             blank_id: int = 0, log_epsilon: float = -1e5) -> Any:
    """CTC loss per sequence: `-log p(labels | logits)` summed over all alignments.

    >>> round(float(ctc_loss(np.zeros((1, 2, 2)), np.zeros((1, 2)), np.ones((1, 1), np.int32),
    ...                      np.zeros((1, 1)))[0]), 4)
    0.2877
    """
    return ctc_loss_with_forward_probs(logits, logit_paddings, labels, label_paddings,
                                       blank_id=blank_id, log_epsilon=log_epsilon)[0]


def ntxent(embeddings: Any, labels: Any, temperature: float = 0.07) -> Any:
    """The normalized temperature-scaled cross-entropy of SimCLR (Chen et al., 2020): pulls
    together embeddings with equal labels, pushes the others apart.

    >>> e = np.array([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0]])
    >>> float(ntxent(e, np.array([0, 0, 1]))) < 0.01
    True
    """
    embeddings, labels = fnp.asarray(embeddings), fnp.asarray(labels)
    if fnp.shape(labels)[0] != fnp.shape(embeddings)[0]:
        raise OptimizerArgumentError(f"ntxent: labels have {fnp.shape(labels)[0]} rows but embeddings "
                         f"{fnp.shape(embeddings)[0]}")
    eps = float(np.finfo(dtype_of(embeddings)).eps)
    sims = cosine_similarity(embeddings[None, :, :], embeddings[:, None, :],
                             epsilon=eps) / temperature
    same = labels[:, None] == labels[None, :]
    diffs = ~same
    matches = fnp.logical_and(same, ~fnp.eye(fnp.shape(labels)[0], dtype=bool))
    x_diffs = fnp.where(diffs, sims, -np.inf)
    x_matches = fnp.where(matches, sims, -np.inf)
    top = lax.stop_gradient(fnp.max(fnp.concatenate([x_diffs, x_matches], axis=-1), axis=1,
                                    keepdims=True))
    shifted_matches = x_matches - top
    denom = fnp.sum(fnp.exp(x_diffs - top), axis=1, keepdims=True) + fnp.exp(shifted_matches)
    log_softm = shifted_matches - fnp.log(denom)
    return -fnp.sum(fnp.where(matches, log_softm, 0.0)) / fnp.sum(matches)
