"""Parameter initializers: each is `init(key, shape, dtype=float32, out_sharding=None) ->
array` (float64 with `enable_x64`), made by a factory holding its settings. JAX's
`out_sharding` is accepted and changes nothing: fnad's arrays live on one device. Fans are
read from `in_axis`/`out_axis` (defaults fit a dense kernel (in, out); convolution layers
pass in_axis=1, out_axis=0 for OIHW kernels).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import fnad.numpy as fnp
from fnad import random
from fnad.core.dtypes import float_or_default
from fnad.core.errors import ArgumentError

Initializer = Callable[..., Any]
_TRUNC_STD = 0.87962566103423978  # std of a standard normal truncated to [-2, 2]
_COMPLEX_TRUNC_STD = 0.95311164380491208  # of a unit complex normal, |z| truncated to 2


def constant(value: Any, dtype: Any = None) -> Initializer:
    """Every entry `value`.

    >>> constant(0.5)(None, (2,))
    array([0.5, 0.5], dtype=float32)
    """
    def init(key: Any, shape: Sequence[int], dtype: Any = dtype,
             out_sharding: Any = None) -> Any:
        dtype = float_or_default(dtype)
        return fnp.full(tuple(shape), value, dtype)
    return init


zeros, ones = constant(0.0), constant(1.0)


def uniform(scale: float = 1e-2, dtype: Any = None) -> Initializer:
    """Uniform on [0, scale), as JAX's."""
    def init(key: Any, shape: Sequence[int], dtype: Any = dtype,
             out_sharding: Any = None) -> Any:
        dtype = float_or_default(dtype)
        return random.uniform(key, shape, dtype) * np.asarray(scale, dtype)
    return init


def normal(stddev: float = 1e-2, dtype: Any = None) -> Initializer:
    """Normal with mean 0 and standard deviation `stddev`."""
    def init(key: Any, shape: Sequence[int], dtype: Any = dtype,
             out_sharding: Any = None) -> Any:
        dtype = float_or_default(dtype)
        return random.normal(key, shape, dtype) * np.asarray(stddev, dtype)
    return init


def truncated_normal(stddev: float = 1e-2, dtype: Any = None, lower: float = -2.0,
                     upper: float = 2.0) -> Initializer:
    """`stddev` times a standard normal truncated to [lower, upper] (not rescaled, so the
    standard deviation is a little below `stddev`, as in JAX).

    >>> from fnad import random
    >>> w = truncated_normal(1.0)(random.key(0), (1000,))
    >>> bool(abs(w).max() <= 2.0)
    True
    """
    def init(key: Any, shape: Sequence[int], dtype: Any = dtype,
             out_sharding: Any = None) -> Any:
        dtype = float_or_default(dtype)
        return random.truncated_normal(key, lower, upper, shape, dtype) * np.asarray(stddev,
                                                                                   dtype)
    return init


def compute_fans(shape: Sequence[int], in_axis: int | Sequence[int] = -2,
                 out_axis: int | Sequence[int] = -1,
                 batch_axis: int | Sequence[int] = ()) -> tuple[float, float]:
    """(fan_in, fan_out), as JAX computes them: the sizes of the in and out axes (each an
    axis or a sequence of axes), each times the receptive field (the product of the other
    axes but the batch axes, e.g. a convolution's kernel height and width)."""
    shape = tuple(shape)
    if isinstance(in_axis, int) and in_axis == -2 and len(shape) <= 1:
        raise ArgumentError(f"compute_fans: a {len(shape)}-d shape {shape} has no in and out "
                            "axes; give in_axis and out_axis explicitly (as JAX asks)")

    def size(axes: int | Sequence[int]) -> int:
        return shape[axes] if isinstance(axes, int) else math.prod(shape[a] for a in axes)

    in_size, out_size = size(in_axis), size(out_axis)
    field = math.prod(shape) / in_size / out_size / size(batch_axis)
    return in_size * field, out_size * field


def variance_scaling(scale: float, mode: str, distribution: str,
                     in_axis: int | Sequence[int] = -2, out_axis: int | Sequence[int] = -1,
                     batch_axis: int | Sequence[int] = (),
                     dtype: Any = None) -> Initializer:
    """Draws of variance `scale / n`, n the fan_in, fan_out, their mean or their geometric
    mean (`mode` "fan_in", "fan_out", "fan_avg", "fan_geo_avg"), from a "truncated_normal"
    (at 2 sigma, rescaled), "normal" or "uniform" distribution: the family of Glorot, He
    and LeCun initializations."""
    if mode not in ("fan_in", "fan_out", "fan_avg", "fan_geo_avg"):
        raise ArgumentError(f"mode must be fan_in, fan_out, fan_avg or fan_geo_avg, got {mode!r}")

    def init(key: Any, shape: Sequence[int], dtype: Any = dtype,
             out_sharding: Any = None) -> Any:
        dtype = float_or_default(dtype)
        fan_in, fan_out = compute_fans(shape, in_axis, out_axis, batch_axis)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2,
             "fan_geo_avg": math.sqrt(fan_in * fan_out)}[mode]
        var = scale / n
        complex_ = dtype.kind == "c"
        if distribution == "truncated_normal":
            if complex_:
                std = math.sqrt(var) / _COMPLEX_TRUNC_STD
                return _complex_polar(key, shape, dtype, 2.0) * np.asarray(std, dtype)
            std = math.sqrt(var) / _TRUNC_STD
            return random.truncated_normal(key, -2.0, 2.0, shape, dtype) * np.asarray(std, dtype)
        if distribution == "normal":
            return random.normal(key, shape, dtype) * np.asarray(math.sqrt(var), dtype)
        if distribution == "uniform":
            if complex_:
                return _complex_polar(key, shape, dtype) * np.asarray(math.sqrt(var), dtype)
            limit = math.sqrt(3 * var)
            return random.uniform(key, shape, dtype, -limit, limit)
        raise ArgumentError(f"distribution must be truncated_normal, normal or uniform, got "
                         f"{distribution!r}")
    return init


def _complex_polar(key: Any, shape: Sequence[int], dtype: np.dtype,
                   upper: float | None = None) -> Any:
    """Complex draws r e^(i theta), theta uniform, as JAX's complex initializers make them:
    with `upper`, |z| of a unit-variance complex normal truncated to `upper`
    (r = sqrt(-log(1 - (1 - e^-upper^2) u))); without, uniform over the disk of unit
    variance (r = sqrt(2 u))."""
    key_r, key_theta = random.split(key)
    real = np.dtype(dtype.char.lower())
    u = random.uniform(key_r, shape, real).astype(dtype)
    if upper is None:
        r = fnp.sqrt(2 * u)
    else:
        r = fnp.sqrt(-fnp.log(1 - (1 - np.exp(np.asarray(-upper ** 2, dtype))) * u))
    theta = 2 * np.pi * random.uniform(key_theta, shape, real).astype(dtype)
    return r * fnp.exp(1j * theta)


def _family(scale: float, mode: str, distribution: str, doc: str) -> Callable[..., Initializer]:
    def make(in_axis: int | Sequence[int] = -2, out_axis: int | Sequence[int] = -1,
             batch_axis: int | Sequence[int] = (),
             dtype: Any = None) -> Initializer:
        return variance_scaling(scale, mode, distribution, in_axis, out_axis, batch_axis, dtype)
    make.__doc__ = doc
    return make


glorot_uniform = xavier_uniform = _family(1.0, "fan_avg", "uniform",
                                          "Glorot & Bengio (2010): variance 2 / (fan_in + fan_out)")
glorot_normal = xavier_normal = _family(1.0, "fan_avg", "truncated_normal",
                                        "Glorot & Bengio (2010): variance 2 / (fan_in + fan_out)")
he_uniform = kaiming_uniform = _family(2.0, "fan_in", "uniform",
                                       "He et al. (2015), for ReLU nets: variance 2 / fan_in")
he_normal = kaiming_normal = _family(2.0, "fan_in", "truncated_normal",
                                     "He et al. (2015), for ReLU nets: variance 2 / fan_in")
lecun_normal = _family(1.0, "fan_in", "truncated_normal", "LeCun et al. (1998): variance 1 / fan_in")
lecun_uniform = _family(1.0, "fan_in", "uniform", "LeCun et al. (1998): variance 1 / fan_in")


def orthogonal(scale: float = 1.0, column_axis: int = -1, dtype: Any = None
               ) -> Initializer:
    """A (semi-)orthogonal matrix (Saxe et al., 2014), reshaped to `shape`: the Q factor of
    a Gaussian matrix's QR decomposition, signs fixed so it is uniform (Haar) distributed.

    The QR runs in NumPy (`np.linalg.qr`) on the concrete draws, so this initializer needs
    a concrete key: it runs eagerly, as initialization does, not under `jit` or `vmap`.
    """
    def init(key: Any, shape: Sequence[int], dtype: Any = dtype,
             out_sharding: Any = None) -> Any:
        dtype = float_or_default(dtype)
        shape = tuple(shape)
        if len(shape) < 2:
            raise ArgumentError(f"orthogonal needs at least 2 dimensions, got shape {shape}")
        cols = shape[column_axis]
        rows = math.prod(shape) // cols
        # JAX's draws (in `dtype`); the QR in double precision is JAX's to a few ulps
        wide = np.complex128 if dtype.kind == "c" else np.float64
        a = np.asarray(random.normal(key, (max(rows, cols), min(rows, cols)), dtype), wide)
        q, r = np.linalg.qr(a)
        q = q * np.sign(np.diag(r))
        q = q if rows >= cols else q.T
        q = np.moveaxis(q.reshape(*(d for i, d in enumerate(shape)
                                    if i != column_axis % len(shape)), cols), -1, column_axis)
        return (scale * q).astype(dtype)
    return init


def delta_orthogonal(scale: float = 1.0, column_axis: int = -1, dtype: Any = None
                     ) -> Initializer:
    """A convolution kernel (spatial..., in, out) of 1, 2 or 3 spatial dimensions that is
    zero except at the spatial centre, which holds an `orthogonal` (in, out) matrix (Xiao et
    al., 2018): the convolution starts as an orthogonal map of the channels. Needs
    in <= out; runs eagerly, as `orthogonal` does.

    >>> from fnad import random
    >>> w = delta_orthogonal()(random.key(0), (3, 3, 4))  # width 3, 3 in, 4 out
    >>> bool(np.allclose(w[1] @ w[1].T, np.eye(3), atol=1e-6)), float(abs(w[0]).max())
    (True, 0.0)
    """
    ortho = orthogonal(scale, column_axis, dtype)

    def init(key: Any, shape: Sequence[int], dtype: Any = dtype,
             out_sharding: Any = None) -> Any:
        dtype = float_or_default(dtype)
        shape = tuple(shape)
        if len(shape) not in (3, 4, 5):
            raise ArgumentError(f"delta_orthogonal needs a 3-, 4- or 5-d kernel shape "
                             f"(spatial..., in, out), got {shape}")
        if shape[-1] < shape[-2]:
            raise ArgumentError(f"delta_orthogonal needs in <= out channels, got shape {shape}")
        w = np.zeros(shape, dtype)
        w[tuple((d - 1) // 2 for d in shape[:-2])] = ortho(key, shape[-2:], dtype)
        return w
    return init


def identity(gain: float = 1.0) -> Initializer:
    """`gain` times the identity matrix (for square or rectangular 2-d shapes)."""
    def init(key: Any, shape: Sequence[int], dtype: Any = None,
             out_sharding: Any = None) -> Any:
        dtype = float_or_default(dtype)
        if len(shape) != 2:
            raise ArgumentError(f"identity needs a 2-d shape, got {tuple(shape)}")
        return (gain * np.eye(*shape)).astype(dtype)
    return init


__all__ = ["Initializer", "compute_fans", "constant", "delta_orthogonal", "glorot_normal",
           "glorot_uniform", "he_normal", "he_uniform", "identity", "kaiming_normal",
           "kaiming_uniform", "lecun_normal", "lecun_uniform", "normal", "ones", "orthogonal",
           "truncated_normal", "uniform", "variance_scaling", "xavier_normal", "xavier_uniform",
           "zeros"]
