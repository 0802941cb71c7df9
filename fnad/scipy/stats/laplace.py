"""The Laplace distribution (JAX's `jax.scipy.stats.laplace`)."""

from __future__ import annotations

import math
from typing import Any

from fnad.scipy.stats._common import fnp, quiet_all, standardize


def logpdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """log of the density exp(-|z|) / (2 scale).

    >>> round(float(logpdf(np.float64(0.0))), 6)
    -0.693147
    """
    z, scale = standardize(x, loc, scale)
    return -fnp.abs(z) - fnp.log(scale) - math.log(2)


def pdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The Laplace density."""
    return fnp.exp(logpdf(x, loc, scale))


def cdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """P(X <= x)."""
    z, _ = standardize(x, loc, scale)
    half = 0.5 * fnp.exp(-fnp.abs(z))
    return fnp.where(z < 0, half, 1 - half)


__all__ = ["cdf", "logpdf", "pdf"]
quiet_all(globals(), __all__)
