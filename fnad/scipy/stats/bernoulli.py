"""The Bernoulli distribution (JAX's `jax.scipy.stats.bernoulli`)."""

from __future__ import annotations

from typing import Any

from fnad.scipy import special
from fnad.scipy.stats._common import fnp, np, outside, promote_inexact, quiet_all
from fnad.scipy.stats._discrete import on_support


def logpmf(k: Any, p: Any, loc: Any = 0) -> Any:
    """log P(K = k): log p at 1, log(1 - p) at 0, -inf elsewhere.

    >>> round(float(logpmf(1, np.float64(0.25))), 6)
    -1.386294
    """
    k, p, loc = promote_inexact(k, p, loc)
    k = k - loc
    return on_support(k, 0, 1, special.xlogy(k, p) + special.xlog1py(1 - k, -p))


def pmf(k: Any, p: Any, loc: Any = 0) -> Any:
    """P(K = k)."""
    return fnp.exp(logpmf(k, p, loc))


def cdf(k: Any, p: Any) -> Any:
    """P(K <= k): 0 below 0, 1 - p on [0, 1), 1 from 1 on."""
    k, p = promote_inexact(k, p)
    out = fnp.where(k < 0, 0.0, fnp.where(k < 1, 1 - p, 1.0)).astype(p.dtype)
    return outside(fnp.isnan(k) | (p < 0) | (p > 1), np.nan, out)


def ppf(q: Any, p: Any) -> Any:
    """The smallest k with P(K <= k) >= q (NaN outside [0, 1])."""
    q, p = promote_inexact(q, p)
    out = fnp.where(q <= 1 - p, 0.0, 1.0).astype(q.dtype)
    out = fnp.where(q == 0, -1.0, out).astype(q.dtype)
    return outside((q < 0) | (q > 1) | (p < 0) | (p > 1), np.nan, out)


__all__ = ["cdf", "logpmf", "pmf", "ppf"]
quiet_all(globals(), __all__)
