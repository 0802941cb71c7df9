"""The wrapped Cauchy distribution on [0, 2 pi] (JAX's `jax.scipy.stats.wrapcauchy`)."""

from __future__ import annotations

import math
from typing import Any

from fnad.scipy.stats._common import fnp, np, outside, promote_inexact, quiet_all


def logpdf(x: Any, c: Any) -> Any:
    """log of (1 - c^2) / (2 pi (1 + c^2 - 2 c cos x)) for 0 < c < 1 (NaN otherwise), -inf
    outside [0, 2 pi].

    >>> round(float(logpdf(np.float64(1.0), 0.5)), 6)
    -1.782643
    """
    x, c = promote_inexact(x, c)
    out = fnp.log1p(-c * c) - math.log(2 * math.pi) - fnp.log(1 + c * c - 2 * c * fnp.cos(x))
    out = outside((x < 0) | (x > 2 * math.pi), -np.inf, out)
    return outside((c <= 0) | (c >= 1), np.nan, out)


def pdf(x: Any, c: Any) -> Any:
    """The wrapped Cauchy density."""
    return fnp.exp(logpdf(x, c))


__all__ = ["logpdf", "pdf"]
quiet_all(globals(), __all__)
