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


__all__ = ["logpdf", "pdf"]
quiet_all(globals(), __all__)
