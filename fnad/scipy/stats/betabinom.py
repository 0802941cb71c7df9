"""The beta-binomial distribution (JAX's `jax.scipy.stats.betabinom`)."""

from __future__ import annotations

from typing import Any

from fnad import lax
from fnad.scipy import special
from fnad.scipy.stats._common import fnp, promote_inexact, quiet_all
from fnad.scipy.stats._discrete import on_support


def logpmf(k: Any, n: Any, a: Any, b: Any, loc: Any = 0) -> Any:
    """log of C(n, k) B(k + a, n - k + b) / B(a, b).

    >>> round(float(logpmf(1, 2, np.float64(1.0), 1.0)), 6)  # uniform on 0..2
    -1.098612
    """
    k, n, a, b, loc = promote_inexact(k, n, a, b, loc)
    k = k - loc
    comb = lax.lgamma(n + 1) - lax.lgamma(k + 1) - lax.lgamma(n - k + 1)
    out = comb + special.betaln(k + a, n - k + b) - special.betaln(a, b)
    return on_support(k, 0, n, out)


def pmf(k: Any, n: Any, a: Any, b: Any, loc: Any = 0) -> Any:
    """P(K = k)."""
    return fnp.exp(logpmf(k, n, a, b, loc))


__all__ = ["logpmf", "pmf"]
quiet_all(globals(), __all__)
