"""The multinomial distribution (JAX's `jax.scipy.stats.multinomial`): counts `x` (last
axis) of `n` draws with probabilities `p`."""

from __future__ import annotations

from typing import Any

from fnad import lax
from fnad.scipy import special
from fnad.scipy.stats._common import fnp, np, outside, promote_inexact, quiet_all


def logpmf(x: Any, n: Any, p: Any) -> Any:
    """log of n! prod p_i^x_i / x_i! (-inf unless the counts sum to n).

    >>> round(float(logpmf(np.array([1.0, 1.0]), 2, np.array([0.5, 0.5]))), 6)  # log 1/2
    -0.693147
    """
    x, n, p = promote_inexact(x, n, p, broadcast=False)
    out = lax.lgamma(n + 1) + fnp.sum(special.xlogy(x, p) - lax.lgamma(x + 1), axis=-1)
    return outside(fnp.sum(x, axis=-1) != n, -np.inf, out)


def pmf(x: Any, n: Any, p: Any) -> Any:
    """P(X = x)."""
    return fnp.exp(logpmf(x, n, p))


__all__ = ["logpmf", "pmf"]
quiet_all(globals(), __all__)
