"""The generalized normal distribution with shape `beta` (JAX's
`jax.scipy.stats.gennorm`): density beta / (2 Gamma(1/beta)) exp(-|x|^beta)."""

from __future__ import annotations

from typing import Any

from fnad import lax
from fnad.scipy.stats._common import fnp, promote_inexact, quiet_all


def logpdf(x: Any, beta: Any) -> Any:
    """log of the generalized normal density (beta = 2: N(0, 1/2); beta = 1: Laplace).

    >>> round(float(logpdf(np.float64(0.0), 1.0)), 6)
    -0.693147
    """
    x, beta = promote_inexact(x, beta)
    return fnp.log(0.5 * beta) - lax.lgamma(1 / beta) - fnp.abs(x) ** beta


def pdf(x: Any, beta: Any) -> Any:
    """The generalized normal density."""
    return fnp.exp(logpdf(x, beta))


def cdf(x: Any, beta: Any) -> Any:
    """P(X <= x) = (1 + sign(x) P(1/beta, |x|^beta)) / 2."""
    x, beta = promote_inexact(x, beta)
    return 0.5 * (1 + fnp.sign(x) * lax.igamma(1 / beta, fnp.abs(x) ** beta))


__all__ = ["cdf", "logpdf", "pdf"]
quiet_all(globals(), __all__)
