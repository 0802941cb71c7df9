"""The geometric distribution on 1, 2, ... (JAX's `jax.scipy.stats.geom`)."""

from __future__ import annotations

from typing import Any

from fnad.scipy import special
from fnad.scipy.stats._common import fnp, np, promote_inexact, quiet_all
from fnad.scipy.stats._discrete import on_support


def logpmf(k: Any, p: Any, loc: Any = 0) -> Any:
    """log of (1 - p)^(k - 1) p, the first success at trial k.

    >>> round(float(logpmf(2, np.float64(0.5))), 6)
    -1.386294
    """
    k, p, loc = promote_inexact(k, p, loc)
    k = k - loc
    return on_support(k, 1, np.inf, special.xlog1py(k - 1, -p) + fnp.log(p))


def pmf(k: Any, p: Any, loc: Any = 0) -> Any:
    """P(K = k)."""
    return fnp.exp(logpmf(k, p, loc))


__all__ = ["logpmf", "pmf"]
quiet_all(globals(), __all__)
