"""The logistic distribution (JAX's `jax.scipy.stats.logistic`)."""

from __future__ import annotations

from typing import Any

from fnad.scipy import special
from fnad.scipy.stats._common import fnp, promote_inexact, quiet_all, standardize


def _softplus(x: Any) -> Any:
    """log(1 + e^x), without overflow, with its derivative e^x / (1 + e^x) at 0 too."""
    return fnp.logaddexp(x, 0.0)


def logpdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """log of the density e^-z / (scale (1 + e^-z)^2).

    >>> round(float(logpdf(np.float64(0.0))), 6)  # log 1/4
    -1.386294
    """
    z, scale = standardize(x, loc, scale)
    return -z - 2 * _softplus(-z) - fnp.log(scale)


def pdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The logistic density."""
    return fnp.exp(logpdf(x, loc, scale))


def cdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """P(X <= x) = expit(z)."""
    z, _ = standardize(x, loc, scale)
    return special.expit(z)


def sf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """P(X > x) = expit(-z)."""
    z, _ = standardize(x, loc, scale)
    return special.expit(-z)


def ppf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The quantile logit(x) scale + loc."""
    x, loc, scale = promote_inexact(x, loc, scale)
    return special.logit(x) * scale + loc


def isf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The inverse of `sf`."""
    x, loc, scale = promote_inexact(x, loc, scale)
    return loc - special.logit(x) * scale


__all__ = ["cdf", "isf", "logpdf", "pdf", "ppf", "sf"]
quiet_all(globals(), __all__)
