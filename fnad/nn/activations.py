"""Activation functions and the numerically stable log-sum-exp family, as plain functions
of arrays (written with `fnad.numpy`, so every transform applies).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

import fnad.numpy as fnp
from fnad import lax
from fnad.core.ir import get_aval

Axis = int | Sequence[int] | None


def relu(x: Any) -> Any:
    """`max(x, 0)`; its derivative at 0 is taken as 0.

    >>> relu(np.array([-1.0, 2.0]))
    array([0., 2.])
    """
    x = fnp.asarray(x)
    return fnp.where(x > 0, x, fnp.zeros_like(x))


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Any:
    """`x` for positive `x`, `negative_slope * x` otherwise."""
    x = fnp.asarray(x)
    return fnp.where(x > 0, x, negative_slope * x)


def elu(x: Any, alpha: float = 1.0) -> Any:
    """`x` for positive `x`, `alpha * (exp(x) - 1)` otherwise."""
    x = fnp.asarray(x)
    # expm1 of min(x, 0) so the unused branch cannot overflow into a NaN gradient
    return fnp.where(x > 0, x, alpha * fnp.expm1(fnp.minimum(x, 0)))


def gelu(x: Any, approximate: bool = True) -> Any:
    """Gaussian error linear unit `x * Phi(x)` (Hendrycks & Gimpel, 2016): exactly with
    `erf`, or with the tanh approximation when `approximate`."""
    x = fnp.asarray(x)
    if approximate:
        inner = math.sqrt(2 / math.pi) * (x + 0.044715 * x * x * x)
        return 0.5 * x * (1 + fnp.tanh(inner))
    return 0.5 * x * (1 + lax.erf(x * math.sqrt(0.5)))


def sigmoid(x: Any) -> Any:
    """The logistic function `1 / (1 + exp(-x))`."""
    return lax.logistic(fnp.asarray(x))


def silu(x: Any) -> Any:
    """`x * sigmoid(x)` (also called swish)."""
    x = fnp.asarray(x)
    return x * sigmoid(x)


swish = silu


def tanh(x: Any) -> Any:
    """Hyperbolic tangent."""
    return fnp.tanh(x)


def softplus(x: Any) -> Any:
    """`log(1 + exp(x))`, as `logaddexp(x, 0)`: it neither overflows nor loses the small
    values, and its second derivative at 0 is right (max(x, 0) + log1p(exp(-|x|)) has 0)."""
    x = fnp.asarray(x)
    return fnp.logaddexp(x, fnp.zeros_like(x))


def logsumexp(x: Any, axis: Axis = None, keepdims: bool = False) -> Any:
    """`log(sum(exp(x), axis))`, shifted by the maximum so it neither overflows nor
    underflows; all `-inf` slices give `-inf`.

    >>> round(float(logsumexp(np.array([1000.0, 1000.0]))), 3)
    1000.693
    """
    x = fnp.asarray(x)
    m = fnp.max(lax.stop_gradient(x), axis=axis, keepdims=True)  # no derivative to trace
    m = fnp.where(fnp.isfinite(m), m, fnp.zeros_like(m))
    out = fnp.log(fnp.sum(fnp.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else fnp.squeeze(out, axis=axis)


def log_softmax(x: Any, axis: Axis = -1) -> Any:
    """`x - logsumexp(x, axis)`: log-probabilities, accurate even for very negative ones."""
    x = fnp.asarray(x)
    return x - logsumexp(x, axis=axis, keepdims=True)


def softmax(x: Any, axis: Axis = -1) -> Any:
    """`exp(x) / sum(exp(x), axis)`, shifted by the maximum for stability."""
    x = fnp.asarray(x)
    e = fnp.exp(x - fnp.max(lax.stop_gradient(x), axis=axis, keepdims=True))
    return e / fnp.sum(e, axis=axis, keepdims=True)


def one_hot(x: Any, num_classes: int, dtype: Any = np.float32, axis: int = -1) -> Any:
    """Indicator vectors of the integer labels `x` along a new axis of size `num_classes`
    (labels outside [0, num_classes) give all zeros).

    >>> one_hot(np.array([2, 0]), 3)
    array([[0., 0., 1.],
           [1., 0., 0.]], dtype=float32)
    """
    x = fnp.asarray(x)
    nd = get_aval(x).ndim + 1
    axis = axis % nd
    classes = np.arange(num_classes, dtype=get_aval(x).dtype).reshape(
        (num_classes,) + (1,) * (nd - 1 - axis))
    return fnp.asarray(fnp.expand_dims(x, axis) == classes, dtype)


__all__ = ["elu", "gelu", "leaky_relu", "log_softmax", "logsumexp", "one_hot", "relu",
           "sigmoid", "silu", "softmax", "softplus", "swish", "tanh"]
