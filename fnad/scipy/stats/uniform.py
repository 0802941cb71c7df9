"""The uniform distribution on [loc, loc + scale] (JAX's `jax.scipy.stats.uniform`)."""

from __future__ import annotations

from typing import Any

from fnad.scipy._util import clamp
from fnad.scipy.stats._common import fnp, np, outside, promote_inexact, quiet_all, standardize


def logpdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """log(1 / scale) inside [loc, loc + scale], -inf outside.

    >>> float(logpdf(np.float64(0.5)))
    0.0
    """
    z, scale = standardize(x, loc, scale)
    return outside((z < 0) | (z > 1), -np.inf, -fnp.log(scale) + 0 * z)


def pdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The uniform density."""
    return fnp.exp(logpdf(x, loc, scale))


def cdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """P(X <= x)."""
    z, _ = standardize(x, loc, scale)
    return clamp(z, 0, 1)


def ppf(q: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The quantile loc + q scale (NaN outside [0, 1])."""
    q, loc, scale = promote_inexact(q, loc, scale)
    return outside((q < 0) | (q > 1), np.nan, loc + q * scale)


__all__ = ["cdf", "logpdf", "pdf", "ppf"]
quiet_all(globals(), __all__)
