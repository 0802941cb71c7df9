"""The left-skewed Gumbel distribution (JAX's `jax.scipy.stats.gumbel_l`), the mirror
image of `gumbel_r`."""

from __future__ import annotations

from typing import Any

from fnad.scipy.stats._common import fnp, promote_inexact, quiet_all, standardize


def logpdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """log of the density exp(z - e^z) / scale.

    >>> float(logpdf(np.float64(0.0)))
    -1.0
    """
    z, scale = standardize(x, loc, scale)
    return z - fnp.exp(z) - fnp.log(scale)


def pdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The left Gumbel density."""
    return fnp.exp(logpdf(x, loc, scale))


def logsf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """log P(X > x) = -e^z."""
    z, _ = standardize(x, loc, scale)
    return -fnp.exp(z)


def sf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """P(X > x) = exp(-e^z)."""
    return fnp.exp(logsf(x, loc, scale))


def cdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """P(X <= x) = 1 - exp(-e^z), accurate where it is small."""
    return -fnp.expm1(logsf(x, loc, scale))


def logcdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """log P(X <= x)."""
    return fnp.log(cdf(x, loc, scale))


def ppf(p: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The quantile loc + scale log(-log(1 - p))."""
    p, loc, scale = promote_inexact(p, loc, scale)
    return loc + scale * fnp.log(-fnp.log1p(-p))


__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "ppf", "sf"]
quiet_all(globals(), __all__)
