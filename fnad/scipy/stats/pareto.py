"""The Pareto distribution with shape `b` (JAX's `jax.scipy.stats.pareto`)."""

from __future__ import annotations

from typing import Any

from fnad.scipy._util import clamp
from fnad.scipy.stats._common import fnp, np, outside, promote_inexact, quiet_all, standardize


def logpdf(x: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """log of the density b / z^(b+1) / scale on z >= 1.

    >>> round(float(logpdf(np.float64(1.0), 2.0)), 6)
    0.693147
    """
    z, scale, b = standardize(x, loc, scale, b)
    return outside(z < 1, -np.inf, fnp.log(b) - fnp.log(scale) - (b + 1) * fnp.log(z))


def pdf(x: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The Pareto density."""
    return fnp.exp(logpdf(x, b, loc, scale))


def logsf(x: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """log P(X > x) = -b log z (0 below the support)."""
    z, _, b = standardize(x, loc, scale, b)
    return -b * fnp.log(clamp(z, 1))


def sf(x: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """P(X > x) = z^-b."""
    return fnp.exp(logsf(x, b, loc, scale))


def cdf(x: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """P(X <= x) = 1 - z^-b."""
    return -fnp.expm1(logsf(x, b, loc, scale))


def logcdf(x: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """log P(X <= x)."""
    return fnp.log(cdf(x, b, loc, scale))


def ppf(q: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The quantile scale (1 - q)^(-1/b) + loc."""
    q, b, loc, scale = promote_inexact(q, b, loc, scale)
    out = scale * fnp.exp(-fnp.log1p(-q) / b) + loc
    return outside((q < 0) | (q > 1), np.nan, out)


__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "ppf", "sf"]
quiet_all(globals(), __all__)
