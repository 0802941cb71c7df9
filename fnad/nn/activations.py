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
from fnad.core.dtypes import default_float, default_int, float_or_default
from fnad.core.errors import ArgumentError, ShapeError
from fnad.core.ir import get_aval
from fnad.lax.custom import custom_jvp
from fnad.numpy._core import normalize_axis
from fnad.scipy import special as _special
from fnad.scipy._util import quiet_all

Axis = int | Sequence[int] | None


def _inexact(x: Any, ufunc: bool = False) -> Any:
    """`x` as an array, a bool or integer one converted to a float dtype as JAX's activation
    of that name does (NumPy's promotion would give float64, or float16 for bools): the
    default float (float32, float64 under x64) where JAX first meets a Python float; with
    `ufunc`, where JAX first applies a jax.numpy function, float32 for up to 32-bit
    integers and the default float for 64-bit ones (they differ under x64)."""
    x = fnp.asarray(x)
    dtype = get_aval(x).dtype
    if dtype.kind not in "biu":
        return x
    return fnp.asarray(x, np.float32 if ufunc and dtype.itemsize < 8 else default_float())


def _bool_as_int(x: Any) -> Any:
    """`x` as an array, a bool one as the default integer dtype (JAX's piecewise-linear
    activations of bools give integers)."""
    x = fnp.asarray(x)
    return fnp.asarray(x, default_int()) if get_aval(x).dtype.kind == "b" else x


def relu(x: Any) -> Any:
    """`max(x, 0)`; its derivative at 0 is taken as 0.

    >>> relu(np.array([-1.0, 2.0]))
    array([0., 2.])
    """
    x = _bool_as_int(x)
    # NaN stays NaN with derivative 0 (JAX's relu: the tangent where x > 0)
    return fnp.where(x > 0, x, lax.stop_gradient(fnp.where(x <= 0, fnp.zeros_like(x), x)))


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Any:
    """`x` for `x >= 0`, `negative_slope * x` otherwise (so the derivative at 0 is 1, as
    in JAX)."""
    x = _inexact(x)
    return fnp.where(x >= 0, x, negative_slope * x)


def elu(x: Any, alpha: float = 1.0) -> Any:
    """`x` for positive `x`, `alpha * (exp(x) - 1)` otherwise (derivative `alpha` at 0)."""
    x = _inexact(x)
    # the exponential sees 0 where x > 0, so the unused branch cannot overflow into a NaN
    # gradient
    return fnp.where(x > 0, x, alpha * fnp.expm1(fnp.where(x > 0, fnp.zeros_like(x), x)))


def gelu(x: Any, approximate: bool = True) -> Any:
    """Gaussian error linear unit `x * Phi(x)` (Hendrycks & Gimpel, 2016): exactly with
    `erf`, or with the tanh approximation when `approximate`."""
    x = _inexact(x, ufunc=True)
    if approximate:
        inner = math.sqrt(2 / math.pi) * (x + 0.044715 * x * x * x)
        return fnp.multiply(0.5 * x, 1 + fnp.tanh(inner))
    # erfc, as JAX: 1 + erf(x) loses the small values for negative x
    return fnp.multiply(0.5 * x, lax.erfc(x * -math.sqrt(0.5)))


def sigmoid(x: Any) -> Any:
    """The logistic function `1 / (1 + exp(-x))`."""
    return lax.logistic(fnp.asarray(x))


def silu(x: Any) -> Any:
    """`x * sigmoid(x)` (also called swish)."""
    x = fnp.asarray(x)
    return fnp.multiply(x, sigmoid(x))


swish = silu


def tanh(x: Any) -> Any:
    """Hyperbolic tangent."""
    return fnp.tanh(_inexact(x, ufunc=True))


def softplus(x: Any) -> Any:
    """`log(1 + exp(x))`, as `logaddexp(x, 0)`: it neither overflows nor loses the small
    values, and its second derivative at 0 is right (max(x, 0) + log1p(exp(-|x|)) has 0)."""
    x = _inexact(x, ufunc=True)
    return fnp.logaddexp(x, fnp.zeros_like(x))


def _masked(x: Any, where: Any, fill: float) -> Any:
    """`x` with the entries outside `where` replaced by `fill` (x itself without a mask)."""
    return x if where is None else fnp.where(where, x, fill)


# jax.nn.logsumexp is jax.scipy.special.logsumexp: one implementation
logsumexp = _special.logsumexp


def _count(x: Any, axis: Axis, where: Any, keepdims: bool) -> Any:
    """How many entries of `x` (those in `where`) each reduction over `axis` sees."""
    ones = fnp.ones_like(x) if where is None else fnp.asarray(
        fnp.broadcast_to(where, get_aval(x).shape), get_aval(x).dtype)
    return fnp.sum(ones, axis=axis, keepdims=keepdims)


def logmeanexp(x: Any, axis: Axis = None, where: Any = None, keepdims: bool = False) -> Any:
    """`log(mean(exp(x), axis))` = `logsumexp(x) - log(n)`, n the number of entries reduced
    (those in `where`).

    >>> round(float(logmeanexp(np.array([0.0, np.log(3.0)]))), 6)
    0.693147
    """
    x = _inexact(x, ufunc=True)
    return fnp.subtract(logsumexp(x, axis=axis, keepdims=keepdims, where=where),
                        fnp.log(_count(x, axis, where, keepdims)))


def _stable_max(x: Any, axis: Axis) -> Any:
    """The shift of the softmax family: the maximum along `axis` (no derivative), 0 where
    every entry is -inf (masked out); +inf stays, so a row holding +inf is NaN, as in JAX."""
    m = fnp.max(lax.stop_gradient(x), axis=axis, keepdims=True, initial=-np.inf)  # empty
    return fnp.where(m == -np.inf, fnp.zeros_like(m), m)


def log_softmax(x: Any, axis: Axis = -1, where: Any = None) -> Any:
    """`x - logsumexp(x, axis)`: log-probabilities, accurate even for very negative ones;
    entries outside `where` are left out and give `-inf`."""
    x = _masked(_inexact(x, ufunc=True), where, -np.inf)
    shifted = x - _stable_max(x, axis)
    out = shifted - fnp.log(fnp.sum(fnp.exp(shifted), axis=axis, keepdims=True))
    return _masked(out, where, -np.inf)


def softmax(x: Any, axis: Axis = -1, where: Any = None) -> Any:
    """`exp(x) / sum(exp(x), axis)`, shifted by the maximum for stability; entries outside
    `where` are left out and give 0."""
    x = _masked(_inexact(x, ufunc=True), where, -np.inf)
    e = fnp.exp(x - _stable_max(x, axis))
    return _masked(fnp.divide(e, fnp.sum(e, axis=axis, keepdims=True)), where, 0.0)


def standardize(x: Any, axis: Axis = -1, mean: Any = None, variance: Any = None,
                epsilon: float = 1e-5, where: Any = None, *, algorithm: str = "fast") -> Any:
    """`(x - mean) / sqrt(variance + epsilon)` along `axis`, the statistics computed over the
    entries in `where` unless given; the variance as `mean(x**2) - mean(x)**2` clipped at 0
    (`algorithm` "fast", JAX's default) or as `mean((x - mean)**2)` ("stable").

    >>> standardize(np.array([1.0, 3.0]), epsilon=0.0)
    array([-1.,  1.])
    """
    if algorithm not in ("fast", "stable"):
        raise ArgumentError(f"standardize: algorithm must be 'fast' or 'stable', got "
                            f"{algorithm!r}")
    x = _inexact(x, ufunc=True)
    if mean is None or variance is None:
        n = _count(x, axis, where, True)
        if mean is None:
            mean = fnp.divide(fnp.sum(_masked(x, where, 0.0), axis=axis, keepdims=True), n)
        if variance is None:
            dev = fnp.square(fnp.subtract(x, mean)) if algorithm == "stable" else x * x
            sq = fnp.divide(fnp.sum(_masked(dev, where, 0.0), axis=axis, keepdims=True), n)
            variance = sq if algorithm == "stable" else \
                fnp.maximum(fnp.subtract(sq, fnp.square(mean)), 0)
    return fnp.multiply(fnp.subtract(x, mean), lax.rsqrt(fnp.asarray(variance) + epsilon))


def one_hot(x: Any, num_classes: int, *, dtype: Any = None, axis: int = -1) -> Any:
    """Indicator vectors of the integer labels `x` along a new axis of size `num_classes`
    (labels outside [0, num_classes) give all zeros).

    >>> one_hot(np.array([2, 0]), 3)
    array([[0., 0., 1.],
           [1., 0., 0.]], dtype=float32)
    """
    x = fnp.asarray(x)
    nd = get_aval(x).ndim + 1
    axis = normalize_axis(axis, nd)
    classes = np.arange(num_classes, dtype=get_aval(x).dtype).reshape(
        (num_classes,) + (1,) * (nd - 1 - axis))
    return fnp.asarray(fnp.expand_dims(x, axis) == classes, float_or_default(dtype))


def relu6(x: Any) -> Any:
    """`min(max(x, 0), 6)`; its derivative at 0 and at 6 is taken as 0 (as in JAX).

    >>> relu6(np.array([-1.0, 3.0, 7.0]))
    array([0., 3., 6.])
    """
    x = fnp.asarray(x)
    if get_aval(x).dtype.kind in "biu":  # JAX: the float 6.0 makes the result a float
        x = fnp.asarray(x, default_float())
    inside = (x > 0) & (x < 6)
    return fnp.where(inside, x, lax.stop_gradient(fnp.clip(x, 0, 6)))


def hard_sigmoid(x: Any) -> Any:
    """`relu6(x + 3) / 6`: a piecewise-linear sigmoid.

    >>> hard_sigmoid(np.array([-4.0, 0.0, 4.0]))
    array([0. , 0.5, 1. ])
    """
    return relu6(_inexact(x) + 3.0) / 6.0


def hard_silu(x: Any) -> Any:
    """`x * hard_sigmoid(x)` (also called hard swish).

    >>> hard_silu(np.array([-4.0, 1.0, 4.0]))
    array([-0.        ,  0.66666667,  4.        ])
    """
    x = _inexact(x)
    return fnp.multiply(x, hard_sigmoid(x))


hard_swish = hard_silu


def hard_tanh(x: Any) -> Any:
    """`x` clipped to [-1, 1]; the derivative is 1 on the closed interval, 0 outside.

    >>> hard_tanh(np.array([-2.0, 0.5, 2.0]))
    array([-1. ,  0.5,  1. ])
    """
    x = _bool_as_int(x)
    one = fnp.ones_like(x)
    return fnp.where(x > 1, one, fnp.where(x < -1, -one, x))


def log_sigmoid(x: Any) -> Any:
    """`log(sigmoid(x))` = `-softplus(-x)`, accurate for large `|x|`.

    >>> round(float(log_sigmoid(np.float64(-800.0))), 1)
    -800.0
    """
    return -softplus(-_inexact(x, ufunc=True))


def soft_sign(x: Any) -> Any:
    """`x / (|x| + 1)`.

    >>> soft_sign(np.array([-3.0, 1.0]))
    array([-0.75,  0.5 ])
    """
    x = _inexact(x, ufunc=True)
    return fnp.divide(x, fnp.abs(x) + 1)


def selu(x: Any) -> Any:
    """Scaled ELU (Klambauer et al., 2017): `scale * elu(x, alpha)` with the self-normalizing
    constants `alpha` = 1.6732632423543772, `scale` = 1.0507009873554805.

    >>> round(float(selu(np.float64(1.0))), 6)
    1.050701
    """
    return _SELU_SCALE * elu(x, _SELU_ALPHA)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def celu(x: Any, alpha: float = 1.0) -> Any:
    """Continuously differentiable ELU (Barron, 2017):
    `max(x, 0) + alpha * expm1(min(x, 0) / alpha)`.

    >>> round(float(celu(np.float64(-1.0), alpha=2.0)), 6)
    -0.786939
    """
    x = _inexact(x)
    return fnp.maximum(x, 0.0) + alpha * fnp.expm1(fnp.minimum(x, 0.0) / alpha)


def glu(x: Any, axis: int = -1) -> Any:
    """Gated linear unit (Dauphin et al., 2017): split `x` in two halves `a, b` along `axis`
    and return `a * sigmoid(b)`; the axis must have even length.

    >>> glu(np.array([2.0, 0.0]))
    array([1.])
    """
    x = fnp.asarray(x)
    shape = get_aval(x).shape
    if not shape or shape[axis] % 2:
        raise ShapeError(f"glu: axis {axis} of the input of shape {shape} must have even "
                         "length, to split it into value and gate halves; pad or slice it.")
    a, b = fnp.split(x, 2, axis=axis)
    return fnp.multiply(a, sigmoid(b))


def squareplus(x: Any, b: float = 4) -> Any:
    """`(x + sqrt(x**2 + b)) / 2` (So, 2021): a smooth ReLU made of algebra only.

    >>> squareplus(np.array([0.0, 3.0]), b=16)
    array([2., 4.])
    """
    x = _inexact(x, ufunc=True)
    return fnp.add(x, fnp.sqrt(x * x + b)) / 2


def mish(x: Any) -> Any:
    """`x * tanh(softplus(x))` (Misra, 2019).

    >>> round(float(mish(np.float64(1.0))), 6)
    0.865098
    """
    x = _inexact(x, ufunc=True)
    return fnp.multiply(x, fnp.tanh(softplus(x)))


def sparse_plus(x: Any) -> Any:
    """0 for `x <= -1`, `(x + 1)**2 / 4` between, `x` for `x >= 1`: a softplus that is
    exactly 0 and exactly linear outside [-1, 1].

    >>> sparse_plus(np.array([-2.0, 0.0, 2.0]))
    array([0.  , 0.25, 2.  ])
    """
    x = _inexact(x)
    return fnp.where(x <= -1, fnp.zeros_like(x), fnp.where(x >= 1, x, (x + 1) ** 2 / 4))


def sparse_sigmoid(x: Any) -> Any:
    """`clip(x + 1, 0, 2) / 2`, the derivative of `sparse_plus` (Blondel et al., 2020).

    >>> sparse_sigmoid(np.array([-2.0, 0.0, 2.0]))
    array([0. , 0.5, 1. ])
    """
    return 0.5 * fnp.clip(_inexact(x) + 1.0, 0.0, 2.0)


def identity(x: Any) -> Any:
    """The argument as an array, unchanged.

    >>> identity([1.0, -2.0])
    array([ 1., -2.], dtype=float32)
    """
    return fnp.asarray(x)


@custom_jvp
def log1mexp(x: Any) -> Any:
    """`log(1 - exp(-x))` for `x >= 0`, accurate at both ends (Maechler, 2012): through
    `log(-expm1(-x))` below log 2 and `log1p(-exp(-x))` above; the derivative is
    `1 / expm1(x)`.

    >>> round(float(log1mexp(np.float64(1e-10))), 4)
    -23.0259
    """
    x = _inexact(x, ufunc=True)
    small = x < math.log(2)
    return fnp.where(small, fnp.log(-fnp.expm1(-x)), fnp.log1p(-fnp.exp(-x)))


@log1mexp.defjvp
def _log1mexp_jvp(primals: Any, tangents: Any) -> Any:
    (x,), (t,) = primals, tangents
    return log1mexp(x), t / fnp.expm1(x)


__all__ = ["celu", "elu", "gelu", "glu", "hard_sigmoid", "hard_silu", "hard_swish",
           "hard_tanh", "identity", "leaky_relu", "log1mexp", "log_sigmoid", "log_softmax",
           "logmeanexp", "logsumexp", "mish", "one_hot", "relu", "relu6", "selu", "sigmoid",
           "silu", "soft_sign", "softmax", "softplus", "sparse_plus", "sparse_sigmoid",
           "squareplus", "standardize", "swish", "tanh"]

# eager NumPy arithmetic on huge or infinite inputs answers inf/NaN silently, as JAX's
quiet_all(globals(), __all__)
