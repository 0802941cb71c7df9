"""Losses (each reduced to a scalar by default: `reduction="mean"`, `"sum"` or `"none"`)
and weight penalties over whole parameter pytrees.
"""

from __future__ import annotations

from typing import Any

import fnad.numpy as fnp
from fnad.core.errors import ArgumentError, ShapeError, user_line
from fnad.core.ir import get_aval
from fnad.nn.activations import log_softmax, one_hot, softplus
from fnad.tree import tree_leaves


def _reduce(values: Any, reduction: str) -> Any:
    if reduction == "mean":
        return fnp.mean(values)
    if reduction == "sum":
        return fnp.sum(values)
    if reduction == "none":
        return values
    raise ArgumentError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def mse(predictions: Any, targets: Any, reduction: str = "mean") -> Any:
    """Squared error `(predictions - targets)**2`, averaged by default.

    >>> import numpy as np
    >>> float(mse(np.array([1.0, 3.0]), np.array([0.0, 0.0])))
    5.0
    """
    d = fnp.subtract(predictions, targets)
    return _reduce(d * d, reduction)


def huber(predictions: Any, targets: Any, delta: float = 1.0, reduction: str = "mean") -> Any:
    """Huber loss: `d**2 / 2` for `|d| <= delta`, `delta * (|d| - delta / 2)` beyond, with
    `d = predictions - targets`: quadratic near 0, linear (robust to outliers) far out."""
    d = fnp.abs(fnp.subtract(predictions, targets))
    small = fnp.minimum(d, delta)
    return _reduce(0.5 * small * small + delta * (d - small), reduction)


def softmax_cross_entropy(logits: Any, labels: Any, axis: int = -1,
                          reduction: str = "mean") -> Any:
    """Cross-entropy of `softmax(logits)` against `labels`: integer class indices (the shape
    of `logits` without `axis`), or probabilities / one-hot vectors shaped like `logits`.

    >>> import numpy as np
    >>> round(float(softmax_cross_entropy(np.zeros((1, 4)), np.array([2]))), 4)
    1.3863
    """
    logits = fnp.asarray(logits)
    labels = fnp.asarray(labels)
    logp = log_softmax(logits, axis=axis)
    shape, label_shape = get_aval(logits).shape, get_aval(labels).shape
    if get_aval(labels).dtype.kind in "iu":
        classes = shape[:axis % len(shape)] + shape[axis % len(shape) + 1:]
        if label_shape != classes:
            raise ShapeError(f"softmax_cross_entropy: integer labels of shape {label_shape} "
                             f"for logits of shape {shape} must have shape {classes} (one "
                             f"class index per row){user_line()}")
        labels = one_hot(labels, shape[axis], dtype=get_aval(logp).dtype, axis=axis)
    elif label_shape != shape:
        raise ShapeError(f"softmax_cross_entropy: probability labels of shape {label_shape} "
                         f"must have the logits' shape {shape} (integer class indices have "
                         f"shape {shape[:-1]} for axis=-1){user_line()}")
    return _reduce(-fnp.sum(labels * logp, axis=axis), reduction)


def binary_cross_entropy_with_logits(logits: Any, labels: Any, reduction: str = "mean") -> Any:
    """Cross-entropy of `sigmoid(logits)` against labels in [0, 1], computed as
    `softplus(x) - x * z`, which never overflows and keeps its curvature at x = 0."""
    x = fnp.asarray(logits)
    z = fnp.asarray(labels, get_aval(x).dtype)
    return _reduce(softplus(x) - x * z, reduction)


def l1_penalty(params: Any) -> Any:
    """`sum(|w|)` over every leaf of a parameter pytree."""
    return sum((fnp.sum(fnp.abs(w)) for w in tree_leaves(params)), fnp.asarray(0.0))


def l2_penalty(params: Any) -> Any:
    """`sum(w**2) / 2` over every leaf of a parameter pytree (its gradient is the params)."""
    return 0.5 * sum((fnp.sum(w * w) for w in tree_leaves(params)), fnp.asarray(0.0))


__all__ = ["binary_cross_entropy_with_logits", "huber", "l1_penalty", "l2_penalty", "mse",
           "softmax_cross_entropy"]
