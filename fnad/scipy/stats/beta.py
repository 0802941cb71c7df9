"""The beta distribution (JAX's `jax.scipy.stats.beta`), on [loc, loc + scale]."""

from __future__ import annotations

from typing import Any

from fnad.scipy import special
from fnad.scipy._util import clamp
from fnad.scipy.stats._common import fnp, np, outside, quiet_all, standardize


def logpdf(x: Any, a: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """log of the Beta(a, b) density (-inf outside the support).

    >>> round(float(logpdf(np.float64(0.5), 2.0, 2.0)), 6)  # log 1.5
    0.405465
    """
    z, scale, a, b = standardize(x, loc, scale, a, b)
    out = (special.xlogy(a - 1, z) + special.xlog1py(b - 1, -z) - special.betaln(a, b)
           - fnp.log(scale))
    return outside((z < 0) | (z > 1), -np.inf, out)


def pdf(x: Any, a: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The Beta(a, b) density."""
    return fnp.exp(logpdf(x, a, b, loc, scale))


def cdf(x: Any, a: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """P(X <= x), the regularized incomplete beta function (differentiable in x)."""
    z, _, a, b = standardize(x, loc, scale, a, b)
    return special.betainc(a, b, clamp(z, 0, 1))


def sf(x: Any, a: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """P(X > x), as I_{1-x}(b, a), accurate where it is small."""
    z, _, a, b = standardize(x, loc, scale, a, b)
    return special.betainc(b, a, 1 - clamp(z, 0, 1))


def logcdf(x: Any, a: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """log P(X <= x)."""
    return fnp.log(cdf(x, a, b, loc, scale))


def logsf(x: Any, a: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """log P(X > x)."""
    return fnp.log(sf(x, a, b, loc, scale))


__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "sf"]
quiet_all(globals(), __all__)
