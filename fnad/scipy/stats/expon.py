"""The exponential distribution (JAX's `jax.scipy.stats.expon`)."""

from __future__ import annotations

from typing import Any

from fnad.scipy._util import clamp
from fnad.scipy.stats._common import fnp, np, outside, promote_inexact, quiet_all, standardize


def logpdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """log of the density exp(-z) / scale on z >= 0.

    >>> float(logpdf(np.float64(2.0)))
    -2.0
    """
    z, scale = standardize(x, loc, scale)
    return outside(z < 0, -np.inf, -z - fnp.log(scale))


def pdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The exponential density."""
    return fnp.exp(logpdf(x, loc, scale))


def cdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """P(X <= x) = 1 - exp(-z)."""
    z, _ = standardize(x, loc, scale)
    return -fnp.expm1(-clamp(z, 0))


def logcdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """log P(X <= x)."""
    return fnp.log(cdf(x, loc, scale))


def sf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """P(X > x) = exp(-z)."""
    return fnp.exp(logsf(x, loc, scale))


def logsf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """log P(X > x) = -z."""
    z, _ = standardize(x, loc, scale)
    return -clamp(z, 0)


def ppf(q: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The quantile -log(1 - q) scale + loc (NaN outside [0, 1])."""
    q, loc, scale = promote_inexact(q, loc, scale)
    return outside((q < 0) | (q > 1), np.nan, -fnp.log1p(-q) * scale + loc)


__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "ppf", "sf"]
quiet_all(globals(), __all__)
