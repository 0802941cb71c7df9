"""Loss functions with optax's names and conventions: elementwise (or per-example) losses
with no reduction, so callers choose `mean`, `sum` or a weighting themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import fnad.numpy as fnp
from fnad import lax
from fnad.core.trace import Tracer
from fnad.lax.custom import custom_jvp
from fnad.nn.activations import (
    log_softmax,
    logsumexp,
    one_hot,
    sigmoid,
    softmax,
    softplus,
    sparse_plus,
)
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
                                          one_hot(labels, k, dtype=dtype)), (1, 0, 2))
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
    loss = -fnp.sum(last * one_hot(label_lens, n + 1, dtype=dtype), axis=1)
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
    # the count of matches in the loss's dtype: an int64 count would make it float64
    return -fnp.sum(fnp.where(matches, log_softm, 0.0)) / fnp.sum(matches, dtype=log_softm.dtype)


def _check_floating(name: str, **arrays: Any) -> None:
    for arg, value in arrays.items():
        if not np.issubdtype(dtype_of(value), np.floating):
            raise OptimizerTypeError(f"{name}: {arg} must be floating point, got "
                                     f"{dtype_of(value)}")


def _check_same_shape(name: str, a: Any, b: Any) -> None:
    if fnp.shape(a) != fnp.shape(b):
        raise OptimizerArgumentError(f"{name}: shapes {fnp.shape(a)} and {fnp.shape(b)} "
                                     "must match (reshape one of them)")


def kl_divergence_with_log_targets(log_predictions: Any, log_targets: Any, axis: Axis = -1,
                                   where: Any = None) -> Any:
    """`kl_divergence` with the targets also given as log-probabilities:
    `sum(exp(log_t) * (log_t - log_p))` over `axis`.

    >>> float(kl_divergence_with_log_targets(np.log([0.5, 0.5]), np.log([0.5, 0.5])))
    0.0
    """
    log_predictions, log_targets = fnp.asarray(log_predictions), fnp.asarray(log_targets)
    _check_floating("kl_divergence_with_log_targets", log_predictions=log_predictions,
                    log_targets=log_targets)
    return _masked_sum(fnp.exp(log_targets) * (log_targets - log_predictions), axis, where)


def poly_loss_cross_entropy(logits: Any, labels: Any, *, epsilon: float = 2.0,
                            axis: Axis = -1, where: Any = None) -> Any:
    """Poly-1 loss (Leng et al., 2022): `softmax_cross_entropy + epsilon * (1 - p_t)`,
    with `p_t` the probability given to the labels.

    >>> round(float(poly_loss_cross_entropy(np.array([0.0, 0.0]), np.array([1.0, 0.0]))), 4)
    1.6931
    """
    logits, labels = fnp.asarray(logits), fnp.asarray(labels)
    _check_floating("poly_loss_cross_entropy", logits=logits, labels=labels)
    p = softmax(logits, axis=axis, where=where)
    one_minus_pt = _masked_sum(labels * (1 - p), axis, where)
    return softmax_cross_entropy(logits, labels, axis=axis, where=where) + epsilon * one_minus_pt


def perceptron_loss(predictor_outputs: Any, targets: Any) -> Any:
    """`max(0, -outputs * targets)` for targets in {-1, 1}: 0 once the sign is right.

    >>> perceptron_loss(np.array([-0.5, 2.0]), np.array([1.0, 1.0]))
    array([0.5, 0. ])
    """
    predictor_outputs, targets = fnp.asarray(predictor_outputs), fnp.asarray(targets)
    _check_same_shape("perceptron_loss", predictor_outputs, targets)
    return fnp.maximum(0, -predictor_outputs * targets)


def sparsemax_loss(logits: Any, labels: Any) -> Any:
    """Binary sparsemax loss (Blondel et al., 2020): `sparse_plus(-logits)` for label 1,
    `sparse_plus(logits)` for label 0; zero exactly when `sparse_sigmoid(logits) == labels`.

    >>> sparsemax_loss(np.array([0.0, 2.0]), np.array([1, 0]))
    array([0.25, 2.  ])
    """
    logits = fnp.asarray(logits)
    return sparse_plus(fnp.where(fnp.asarray(labels), -logits, logits))


def _scores_and_one_hot(scores: Any, labels: Any) -> tuple[Any, Any]:
    scores = fnp.asarray(scores)
    return scores, one_hot(fnp.asarray(labels), fnp.shape(scores)[-1], dtype=dtype_of(scores))


def multiclass_hinge_loss(scores: Any, labels: Any) -> Any:
    """Multiclass hinge loss (Crammer and Singer, 2001) for integer labels:
    `max_k(scores_k + [k != label]) - scores[label]`.

    >>> multiclass_hinge_loss(np.array([[2.0, 0.5], [0.0, 0.5]]), np.array([0, 0]))
    array([0. , 1.5])
    """
    scores, oh = _scores_and_one_hot(scores, labels)
    return fnp.max(scores + 1.0 - oh, axis=-1) - fnp.sum(scores * oh, axis=-1)


def multiclass_perceptron_loss(scores: Any, labels: Any) -> Any:
    """Multiclass perceptron loss for integer labels: `max(scores) - scores[label]`.

    >>> multiclass_perceptron_loss(np.array([[2.0, 0.5], [0.0, 0.5]]), np.array([0, 0]))
    array([0. , 0.5])
    """
    scores, oh = _scores_and_one_hot(scores, labels)
    return fnp.max(scores, axis=-1) - fnp.sum(scores * oh, axis=-1)


@custom_jvp
def _projection_simplex(x: Any) -> Any:
    # Euclidean projection of each row (last axis) onto the probability simplex
    # (Held et al., 1974; Duchi et al., 2008): relu(x - tau) with tau from the sorted row.
    n = fnp.shape(x)[-1]
    u = fnp.flip(fnp.sort(x, axis=-1), axis=-1)
    cumsum = fnp.cumsum(u, axis=-1)
    ks = fnp.arange(1, n + 1, dtype=dtype_of(x))
    support = fnp.sum(fnp.asarray(u * ks + 1.0 > cumsum, np.int32), axis=-1, keepdims=True)
    top = fnp.take_along_axis(cumsum, support - 1, axis=-1, mode="promise_in_bounds")
    tau = (top - 1.0) / fnp.asarray(support, dtype_of(x))
    return fnp.maximum(x - tau, 0.0)


def _projection_simplex_jvp(primals: tuple, tangents: tuple) -> tuple:
    (x,), (dx,) = primals, tangents
    p = _projection_simplex(x)
    support = fnp.asarray(p > 0, dtype_of(x))
    mean = fnp.sum(support * dx, axis=-1, keepdims=True) / fnp.sum(support, axis=-1,
                                                                   keepdims=True)
    return p, support * (dx - mean)


_projection_simplex.defjvp(_projection_simplex_jvp)


def multiclass_sparsemax_loss(scores: Any, labels: Any) -> Any:
    """Sparsemax loss (Martins and Astudillo, 2016) for integer labels over the last axis:
    the Fenchel-Young loss of the Gini entropy, whose gradient is
    `sparsemax(scores) - one_hot(labels)`.

    >>> multiclass_sparsemax_loss(np.array([[3.0, 0.0], [0.0, 0.0]]), np.array([0, 0]))
    array([0.  , 0.25])
    """
    scores, oh = _scores_and_one_hot(scores, labels)
    p = _projection_simplex(scores)
    shifted = scores - fnp.sum(scores * oh, axis=-1, keepdims=True)
    shifted = fnp.where(oh > 0, 0.0, shifted)
    return (fnp.sum(p * fnp.where(p > 0, shifted, 0.0), axis=-1)
            + 0.5 * (1.0 - fnp.sum(p * p, axis=-1)))


def make_fenchel_young_loss(max_fun: Callable[..., Any]) -> Callable[..., Any]:
    """The Fenchel-Young loss (Blondel et al., 2020) of `max_fun`, a convex function of a
    vector: `loss(scores, targets, *args, **kwargs) = max_fun(scores, ...) - <targets,
    scores>` over the last axis (leading axes are batch axes).

    >>> loss = make_fenchel_young_loss(logsumexp)
    >>> round(float(loss(np.array([0.0, 0.0]), np.array([1.0, 0.0]))), 4)
    0.6931
    """
    if not callable(max_fun):
        raise OptimizerTypeError(f"make_fenchel_young_loss: max_fun must be callable, got "
                                 f"{type(max_fun).__name__}")
    max_last_axis = fnp.vectorize(max_fun, signature="(n)->()")

    def fenchel_young_loss(scores: Any, targets: Any, *args: Any, **kwargs: Any) -> Any:
        scores, targets = fnp.asarray(scores), fnp.asarray(targets)
        return max_last_axis(scores, *args, **kwargs) - fnp.sum(fnp.conj(targets) * scores,
                                                                 axis=-1)

    return fenchel_young_loss


def triplet_margin_loss(anchors: Any, positives: Any, negatives: Any, axis: int = -1,
                        norm_degree: float = 2, margin: float = 1.0,
                        eps: float = 1e-6) -> Any:
    """Triplet margin loss (Balntas et al., 2016):
    `max(0, d(anchor, positive) - d(anchor, negative) + margin)` with
    `d(a, b) = (sum((a - b)**norm_degree, axis) + eps)**(1 / norm_degree)`.

    >>> np.round(triplet_margin_loss(np.zeros((1, 2)), np.full((1, 2), 0.1),
    ...                              np.array([[1.0, 0.0]])), 4)
    array([0.1414])
    """
    anchors, positives, negatives = (fnp.asarray(anchors), fnp.asarray(positives),
                                     fnp.asarray(negatives))
    _check_floating("triplet_margin_loss", anchors=anchors, positives=positives,
                    negatives=negatives)

    def distance(other: Any) -> Any:
        return fnp.power(fnp.sum(fnp.power(anchors - other, norm_degree), axis=axis) + eps,
                         1.0 / norm_degree)

    return fnp.maximum(distance(positives) - distance(negatives) + margin, 0.0)


def ranking_softmax_loss(logits: Any, labels: Any, *, where: Any = None, weights: Any = None,
                         reduce_fn: Callable[..., Any] | None = fnp.mean) -> Any:
    """Listwise softmax cross-entropy over the last axis (items of a list), with relevance
    `labels` (optionally times `weights`); `where` drops items, and lists with none left
    count 0. `reduce_fn` (`fnp.mean`, `fnp.sum` or None for per-list losses) reduces.

    >>> round(float(ranking_softmax_loss(np.array([0.0, 0.0]), np.array([1.0, 0.0]))), 4)
    0.6931
    """
    logits = fnp.asarray(logits)
    _check_floating("ranking_softmax_loss", logits=logits)
    labels = fnp.asarray(labels, dtype_of(logits))
    valid = None
    if where is not None:
        where = fnp.asarray(where)
        valid = fnp.any(where, axis=-1)
        labels = fnp.where(where, labels, 0.0)
        # dropped items get -inf; a list with none left gets finite logits (its loss is 0)
        logits = fnp.where(where, logits, -np.inf)
        logits = fnp.where(valid[..., None], logits, 0.0)
    if weights is not None:
        labels = labels * weights
    log_probs = log_softmax(logits, axis=-1)
    if where is not None:
        log_probs = fnp.where(where, log_probs, 0.0)
    loss = -fnp.sum(labels * log_probs, axis=-1)
    if reduce_fn is None:
        return loss if valid is None else fnp.where(valid, loss, 0.0)
    out = reduce_fn(loss, where=valid)
    if reduce_fn is fnp.mean:  # a mean over no valid list is 0, unless a loss is NaN
        out = fnp.where(fnp.isnan(out) & ~fnp.any(fnp.isnan(loss)), 0.0, out)
    return out


_REDUCTIONS = ("mean", "sum", "none")


def dice_loss(predictions: Any, targets: Any, *, class_weights: Any = None,
              smooth: float = 1.0, alpha: float = 0.5, beta: float = 0.5,
              apply_softmax: bool = True, reduction: str = "mean",
              ignore_background: bool = False, axis: Axis = None) -> Any:
    """Soft Dice loss (Milletari et al., 2016), per class `1 - (I + smooth) / (I +
    alpha * FP + beta * FN + smooth)` with `I = sum(p * t)` over `axis` (default: all but
    the first and last), then `reduction` over classes (the last axis; 'mean', 'sum' or
    'none'). `alpha != beta` gives the Tversky loss. Predictions are logits (softmax, or
    sigmoid for one channel) unless `apply_softmax=False`.

    >>> np.round(dice_loss(np.array([[[20.0], [-20.0]]]), np.array([[[1.0], [0.0]]])), 4)
    array([0.])
    """
    predictions, targets = fnp.asarray(predictions), fnp.asarray(targets)
    if reduction not in _REDUCTIONS:
        raise OptimizerArgumentError(f"dice_loss: reduction must be one of {_REDUCTIONS}, got "
                                     f"{reduction!r}")
    if predictions.ndim == targets.ndim - 1:
        predictions = predictions[..., None]
    if targets.ndim == predictions.ndim - 1:
        targets = targets[..., None]
    _check_same_shape("dice_loss", predictions, targets)
    classes = fnp.shape(predictions)[-1]
    if not apply_softmax and classes > 1 and not isinstance(predictions, Tracer):
        sums = np.sum(np.asarray(predictions), axis=-1)
        if not np.allclose(sums, 1.0, rtol=1e-5):
            raise OptimizerArgumentError(
                "dice_loss: with apply_softmax=False predictions must be probabilities "
                f"summing to 1 over the class axis; sums range over [{sums.min():.6f}, "
                f"{sums.max():.6f}]")
    probs = predictions
    if apply_softmax:
        probs = sigmoid(predictions) if classes == 1 else softmax(predictions, axis=-1)
    if axis is None:
        axis = tuple(range(1, probs.ndim - 1))
    intersection = fnp.sum(probs * targets, axis=axis)
    pred_sum = fnp.sum(probs, axis=axis)
    target_sum = fnp.sum(targets, axis=axis)
    denominator = (intersection + alpha * (pred_sum - intersection)
                   + beta * (target_sum - intersection) + smooth)
    loss = 1.0 - (intersection + smooth) / denominator
    if class_weights is not None:
        class_weights = fnp.asarray(class_weights)
        if class_weights.ndim != 1:
            raise OptimizerArgumentError(f"dice_loss: class_weights must be 1-D, got shape "
                                         f"{fnp.shape(class_weights)}")
        loss = loss * class_weights
    if ignore_background and classes > 1:
        loss = loss[..., 1:]
    if reduction == "mean":
        return fnp.mean(loss, axis=-1)
    if reduction == "sum":
        return fnp.sum(loss, axis=-1)
    return loss


def binary_dice_loss(predictions: Any, targets: Any, *, smooth: float = 1.0,
                     apply_sigmoid: bool = True) -> Any:
    """`dice_loss` for one foreground class: predictions (logits unless
    `apply_sigmoid=False`) and binary targets of shape `[...]` or `[..., 1]`.

    >>> np.round(binary_dice_loss(np.array([[20.0, -20.0]]), np.array([[1.0, 0.0]])), 4)
    array([0.])
    """
    predictions, targets = fnp.asarray(predictions), fnp.asarray(targets)
    if predictions.ndim == targets.ndim and fnp.shape(predictions)[-1] != 1:
        predictions, targets = predictions[..., None], targets[..., None]
    return dice_loss(predictions, targets, smooth=smooth, apply_softmax=apply_sigmoid,
                     reduction="mean")


def multiclass_generalized_dice_loss(predictions: Any, targets: Any, *, smooth: float = 1.0,
                                     apply_softmax: bool = True,
                                     ignore_background: bool = False) -> Any:
    """Generalized Dice loss (Sudre et al., 2017): `dice_loss` per class weighted by the
    inverse squared class frequency in `targets` (weights normalized to mean 1), averaged
    over everything into a scalar.

    >>> t = np.array([[[1.0, 0.0], [0.0, 1.0]]])
    >>> float(multiclass_generalized_dice_loss(20.0 * t - 10.0, t)) < 1e-4
    True
    """
    predictions, targets = fnp.asarray(predictions), fnp.asarray(targets)
    _check_same_shape("multiclass_generalized_dice_loss", predictions, targets)
    frequencies = fnp.sum(targets, axis=tuple(range(targets.ndim - 1)))
    weights = 1.0 / (frequencies ** 2 + 1e-7)
    weights = weights / fnp.sum(weights) * fnp.shape(weights)[0]
    return fnp.mean(dice_loss(predictions, targets, class_weights=weights, smooth=smooth,
                              apply_softmax=apply_softmax, reduction="none",
                              ignore_background=ignore_background))
