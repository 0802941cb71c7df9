"""Student's t distribution (JAX's `jax.scipy.stats.t`)."""

from __future__ import annotations

import math
from typing import Any

from fnad import lax
from fnad.scipy.stats._common import fnp, quiet_all, standardize


def logpdf(x: Any, df: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """log of the density of t with `df` degrees of freedom, shifted and scaled.

    >>> round(float(logpdf(np.float64(0.0), 1.0)), 6)  # Cauchy: -log(pi)
    -1.14473
    """
    z, scale, df = standardize(x, loc, scale, df)
    half = (df + 1) / 2
    return (lax.lgamma(half) - lax.lgamma(df / 2) - 0.5 * fnp.log(df * math.pi)
            - fnp.log(scale) - half * fnp.log1p(z * z / df))


def pdf(x: Any, df: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The density of t with `df` degrees of freedom."""
    return fnp.exp(logpdf(x, df, loc, scale))


def _half_tail(z: Any, df: Any) -> Any:
    """P(T < -|z|) = I_{df / (df + z^2)}(df/2, 1/2) / 2 (differentiable in z, not in df)."""
    return 0.5 * lax.betainc(df / 2, fnp.full_like(df, 0.5), df / (df + z * z))


def cdf(x: Any, df: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """SciPy's `t.cdf`, through the regularized incomplete beta function (differentiable in
    `x`, `loc` and `scale`; not in `df`, as `betainc` in its first argument).

    >>> round(float(cdf(np.float64(1.0), 1.0)), 6)  # Cauchy: 1/2 + atan(1)/pi
    0.75
    """
    z, _, df = standardize(x, loc, scale, df)
    tail = _half_tail(z, df)
    return fnp.where(z < 0, tail, 1 - tail)


def logcdf(x: Any, df: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """log of `cdf`, taken on the tail probability (accurate far in the left tail)."""
    z, _, df = standardize(x, loc, scale, df)
    tail = _half_tail(z, df)
    return fnp.where(z < 0, fnp.log(tail), fnp.log1p(-tail))


def sf(x: Any, df: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The survival function 1 - cdf, exact in the right tail."""
    z, _, df = standardize(x, loc, scale, df)
    tail = _half_tail(z, df)
    return fnp.where(z > 0, tail, 1 - tail)


__all__ = ["cdf", "logcdf", "logpdf", "pdf", "sf"]
quiet_all(globals(), __all__)
