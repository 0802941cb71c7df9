"""The binomial distribution (JAX's `jax.scipy.stats.binom`)."""

from __future__ import annotations

from typing import Any

from fnad import lax
from fnad.scipy import special
from fnad.scipy.stats._common import fnp, promote_inexact, quiet_all
from fnad.scipy.stats._discrete import on_support


def logpmf(k: Any, n: Any, p: Any, loc: Any = 0) -> Any:
    """log of C(n, k) p^k (1 - p)^(n - k).

    >>> round(float(logpmf(1, 2, np.float64(0.5))), 6)  # log 1/2
    -0.693147
    """
    k, n, p, loc = promote_inexact(k, n, p, loc)
    k = k - loc
    comb = lax.lgamma(n + 1) - lax.lgamma(k + 1) - lax.lgamma(n - k + 1)
    return on_support(k, 0, n, comb + special.xlogy(k, p) + special.xlog1py(n - k, -p))


def pmf(k: Any, n: Any, p: Any, loc: Any = 0) -> Any:
    """P(K = k)."""
    return fnp.exp(logpmf(k, n, p, loc))


__all__ = ["logpmf", "pmf"]
quiet_all(globals(), __all__)
