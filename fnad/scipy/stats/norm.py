"""The normal distribution (JAX's `jax.scipy.stats.norm`)."""

from __future__ import annotations

import math
from typing import Any

from fnad.scipy import special
from fnad.scipy.stats._common import fnp, promote_inexact, quiet_all, standardize

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def logpdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """log of the N(loc, scale^2) density.

    >>> round(float(logpdf(np.float64(0.0))), 6)
    -0.918939
    """
    z, scale = standardize(x, loc, scale)
    return -0.5 * z * z - fnp.log(scale) - _HALF_LOG_2PI


def pdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The N(loc, scale^2) density."""
    return fnp.exp(logpdf(x, loc, scale))


def cdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """P(X <= x)."""
    z, _ = standardize(x, loc, scale)
    return special.ndtr(z)


def logcdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """log P(X <= x), accurate far into the lower tail."""
    z, _ = standardize(x, loc, scale)
    return special.log_ndtr(z)


def sf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """P(X > x)."""
    z, _ = standardize(x, loc, scale)
    return special.ndtr(-z)


def logsf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """log P(X > x)."""
    z, _ = standardize(x, loc, scale)
    return special.log_ndtr(-z)


def ppf(q: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The quantile function, the inverse of `cdf`."""
    q, loc, scale = promote_inexact(q, loc, scale)
    return special.ndtri(q) * scale + loc


def isf(q: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The inverse of `sf`."""
    q, loc, scale = promote_inexact(q, loc, scale)
    return loc - special.ndtri(q) * scale


__all__ = ["cdf", "isf", "logcdf", "logpdf", "logsf", "pdf", "ppf", "sf"]
quiet_all(globals(), __all__)
