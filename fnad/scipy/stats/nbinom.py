"""The negative binomial distribution: failures before the n-th success (JAX's
`jax.scipy.stats.nbinom`)."""

from __future__ import annotations

from typing import Any

from fnad import lax
from fnad.scipy import special
from fnad.scipy.stats._common import fnp, np, promote_inexact, quiet_all
from fnad.scipy.stats._discrete import on_support


def logpmf(k: Any, n: Any, p: Any, loc: Any = 0) -> Any:
    """log of Gamma(k + n) / (Gamma(n) k!) p^n (1 - p)^k.

    >>> round(float(logpmf(0, 1, np.float64(0.5))), 6)
    -0.693147
    """
    k, n, p, loc = promote_inexact(k, n, p, loc)
    k = k - loc
    comb = lax.lgamma(k + n) - lax.lgamma(n) - lax.lgamma(k + 1)
    return on_support(k, 0, np.inf, comb + special.xlogy(n, p) + special.xlog1py(k, -p))


def pmf(k: Any, n: Any, p: Any, loc: Any = 0) -> Any:
    """P(K = k)."""
    return fnp.exp(logpmf(k, n, p, loc))


__all__ = ["logpmf", "pmf"]
quiet_all(globals(), __all__)
