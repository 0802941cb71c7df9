"""The gamma distribution (JAX's `jax.scipy.stats.gamma`), shape `a`."""

from __future__ import annotations

from typing import Any

from fnad import lax
from fnad.scipy import special
from fnad.scipy._util import clamp
from fnad.scipy.stats._common import fnp, np, outside, quiet_all, standardize


def logpdf(x: Any, a: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """log of the Gamma(a, scale) density (-inf below loc).

    >>> round(float(logpdf(np.float64(1.0), 1.0)), 6)  # the exponential: -1
    -1.0
    """
    z, scale, a = standardize(x, loc, scale, a)
    # below loc the density is computed at z = 1 and replaced: log of a negative z there
    # made the derivatives in a and loc NaN (JAX's are those of the -inf constant, 0)
    safe = fnp.where(z < 0, 1.0, z)
    out = special.xlogy(a - 1, safe) - safe - lax.lgamma(a) - fnp.log(scale)
    return outside(z < 0, -np.inf, out)


def pdf(x: Any, a: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The Gamma(a, scale) density."""
    return fnp.exp(logpdf(x, a, loc, scale))


def cdf(x: Any, a: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """P(X <= x) = P(a, z), differentiable in x and a."""
    z, _, a = standardize(x, loc, scale, a)
    return lax.igamma(a, clamp(z, 0))


def sf(x: Any, a: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """P(X > x) = Q(a, z), accurate where it is small."""
    z, _, a = standardize(x, loc, scale, a)
    return lax.igammac(a, clamp(z, 0))


def logcdf(x: Any, a: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """log P(X <= x)."""
    return fnp.log(cdf(x, a, loc, scale))


def logsf(x: Any, a: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """log P(X > x)."""
    return fnp.log(sf(x, a, loc, scale))


__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "sf"]
quiet_all(globals(), __all__)
