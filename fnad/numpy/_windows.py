"""Window functions (Bartlett, Blackman, Hamming, Hann, Kaiser): created arrays, float32
(float64 with `enable_x64`) like every fnad creation function; `kaiser`'s beta may be
traced."""

from __future__ import annotations

from typing import Any

import numpy as np

from fnad import lax
from fnad.core.dtypes import default_float
from fnad.core.trace import Tracer
from fnad.numpy._core import asarray


def _points(M: int) -> np.ndarray:
    return np.arange(int(M), dtype=np.float64)


def _cosine_window(M: int, coeffs: tuple[float, ...]) -> np.ndarray:
    """sum_k (-1)^k c_k cos(2 pi k n / (M - 1)), evaluated in float64."""
    M = int(M)
    if M < 1:
        return np.zeros((0,), default_float())
    if M == 1:
        return np.ones((1,), default_float())
    x = 2 * np.pi * _points(M) / (M - 1)
    w = sum((-1) ** k * c * np.cos(k * x) for k, c in enumerate(coeffs))
    return w.astype(default_float())


def bartlett(M: int) -> np.ndarray:
    """The triangular window of M points (float32).

    >>> bartlett(5)
    array([0. , 0.5, 1. , 0.5, 0. ], dtype=float32)
    """
    M = int(M)
    if M < 1:
        return np.zeros((0,), default_float())
    if M == 1:
        return np.ones((1,), default_float())
    n = _points(M)
    return (1 - np.abs(2 * n / (M - 1) - 1)).astype(default_float())


def blackman(M: int) -> np.ndarray:
    """The Blackman window: 0.42 - 0.5 cos + 0.08 cos(2x) (float32)."""
    return _cosine_window(M, (0.42, 0.5, 0.08))


def hamming(M: int) -> np.ndarray:
    """The Hamming window: 0.54 - 0.46 cos (float32)."""
    return _cosine_window(M, (0.54, 0.46))


def hanning(M: int) -> np.ndarray:
    """The Hann window: 0.5 - 0.5 cos (float32)."""
    return _cosine_window(M, (0.5, 0.5))


def kaiser(M: int, beta: Any) -> Any:
    """The Kaiser window I0(beta sqrt(1 - (2n/(M-1) - 1)^2)) / I0(beta), float32; `beta`
    may be traced (and differentiated).

    >>> kaiser(3, 0.0)
    array([1., 1., 1.], dtype=float32)
    """
    from fnad.numpy._math import i0
    M = int(M)
    if M < 1:
        return np.zeros((0,), default_float())
    if M == 1:
        return np.ones((1,), default_float())
    b = asarray(beta, default_float()) if not isinstance(beta, Tracer) else \
        lax.convert_element_type(beta, default_float())
    r = (2 * _points(M) / (M - 1) - 1).astype(default_float())
    arg = lax.mul(b, np.sqrt(np.maximum(1 - r * r, 0)).astype(default_float()))
    return lax.div(i0(arg), i0(b))


__all__ = ["bartlett", "blackman", "hamming", "hanning", "kaiser"]
