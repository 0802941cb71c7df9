"""The Cauchy distribution (JAX's `jax.scipy.stats.cauchy`)."""

from __future__ import annotations

import math
from typing import Any

from fnad.scipy.stats._common import fnp, promote_inexact, quiet_all, standardize


def logpdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """log of the density 1 / (pi scale (1 + z^2)).

    >>> round(float(logpdf(np.float64(0.0))), 6)
    -1.14473
    """
    z, scale = standardize(x, loc, scale)
    return -math.log(math.pi) - fnp.log(scale) - fnp.log1p(z * z)


def pdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The Cauchy density."""
    return fnp.exp(logpdf(x, loc, scale))


def cdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """P(X <= x) = 1/2 + arctan(z) / pi, computed from the nearer tail."""
    z, _ = standardize(x, loc, scale)
    return _tail(z)


def _tail(z: Any) -> Any:
    """P(Z <= z): for z < 0 as arctan(-1/z) / pi, which keeps the small values."""
    lower = fnp.arctan2(1.0, -z) / math.pi  # = 1/2 + arctan(z)/pi for every z
    return fnp.where(z < 0, lower, 0.5 + fnp.arctan(z) / math.pi)


def logcdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """log P(X <= x)."""
    return fnp.log(cdf(x, loc, scale))


def sf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """P(X > x)."""
    z, _ = standardize(x, loc, scale)
    return _tail(-z)


def logsf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """log P(X > x)."""
    return fnp.log(sf(x, loc, scale))


def ppf(q: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The quantile loc + scale tan(pi (q - 1/2))."""
    q, loc, scale = promote_inexact(q, loc, scale)
    return loc + scale * fnp.tan(math.pi * (q - 0.5))


def isf(q: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The inverse of `sf`."""
    q, loc, scale = promote_inexact(q, loc, scale)
    return loc + scale * fnp.tan(math.pi * (0.5 - q))


__all__ = ["cdf", "isf", "logcdf", "logpdf", "logsf", "pdf", "ppf", "sf"]
quiet_all(globals(), __all__)
