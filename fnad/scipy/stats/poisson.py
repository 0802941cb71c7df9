"""The Poisson distribution (JAX's `jax.scipy.stats.poisson`)."""

from __future__ import annotations

import math
from typing import Any

from fnad import lax
from fnad.scipy import special
from fnad.scipy._util import clamp
from fnad.scipy.stats._common import fnp, np, outside, promote_inexact, quiet_all
from fnad.scipy.stats._discrete import on_support


def logpmf(k: Any, mu: Any, loc: Any = 0) -> Any:
    """log of mu^k e^-mu / k!.

    >>> round(float(logpmf(0, np.float64(2.0))), 6)
    -2.0
    """
    k, mu, loc = promote_inexact(k, mu, loc)
    k = k - loc
    return on_support(k, 0, np.inf, special.xlogy(k, mu) - lax.lgamma(k + 1) - mu)


def pmf(k: Any, mu: Any, loc: Any = 0) -> Any:
    """P(K = k)."""
    return fnp.exp(logpmf(k, mu, loc))


def cdf(k: Any, mu: Any, loc: Any = 0) -> Any:
    """P(K <= k) = Q(floor(k) + 1, mu)."""
    k, mu, loc = promote_inexact(k, mu, loc)
    k = fnp.floor(k - loc)
    safe = fnp.maximum(k, 0)
    return outside(k < 0, 0.0, lax.igammac(safe + 1, mu))


def entropy(mu: Any, loc: Any = 0) -> Any:
    """The entropy -sum_k p(k) log p(k): summed over k <= mu + 10 sqrt(mu) + 20 terms
    for mu < 100, the asymptotic 1/2 log(2 pi e mu) - 1/(12 mu) - ... beyond. `loc`
    shifts the support and leaves the entropy unchanged.

    >>> round(float(entropy(np.float64(1.0))), 6)
    1.304842
    """
    (mu,) = promote_inexact(mu)
    small = clamp(mu, hi=100.0)
    ks = fnp.arange(0, 220, dtype=mu.dtype)
    shape = (1,) * mu.ndim + (-1,)
    logp = logpmf(fnp.reshape(ks, shape), small[..., None])
    direct = -fnp.sum(fnp.where(fnp.isfinite(logp), fnp.exp(logp) * logp, 0.0), axis=-1)
    big = clamp(mu, 100.0)
    asym = (0.5 * fnp.log(2 * math.pi * math.e * big) - 1 / (12 * big)
            - 1 / (24 * big * big) - 19 / (360 * big ** 3))
    out = fnp.where(mu < 100, direct, asym)
    return outside(mu <= 0, np.nan, out)


__all__ = ["cdf", "entropy", "logpmf", "pmf"]
quiet_all(globals(), __all__)
