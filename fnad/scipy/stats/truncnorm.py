"""The normal distribution truncated to [a, b] in standard units (JAX's
`jax.scipy.stats.truncnorm`). Masses are computed in log space from the nearer tail, so
far-out intervals keep their accuracy."""

from __future__ import annotations

import math
from typing import Any

from fnad.scipy import special
from fnad.scipy._util import clamp
from fnad.scipy.stats._common import fnp, np, outside, quiet_all, standardize


def _log_mass(lo: Any, hi: Any) -> Any:
    """log(Phi(hi) - Phi(lo)) for lo <= hi, from the tail both lie in when they share one."""
    upper = lo > 0  # both in the upper tail: Phi(-lo) - Phi(-hi)
    a, b = fnp.where(upper, -hi, lo), fnp.where(upper, -lo, hi)
    la, lb = special.log_ndtr(a), special.log_ndtr(b)
    return lb + fnp.log1p(-fnp.exp(la - lb))


def logpdf(x: Any, a: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """log of the truncated normal density (-inf outside [a, b]).

    >>> round(float(logpdf(np.float64(0.5), 0.0, 1.0)), 6)
    0.030924
    """
    z, scale, a, b = standardize(x, loc, scale, a, b)
    out = -0.5 * z * z - 0.5 * math.log(2 * math.pi) - fnp.log(scale) - _log_mass(a, b)
    return outside((z < a) | (z > b), -np.inf, out)


def pdf(x: Any, a: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """The truncated normal density."""
    return fnp.exp(logpdf(x, a, b, loc, scale))


def logcdf(x: Any, a: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """log P(X <= x)."""
    z, _, a, b = standardize(x, loc, scale, a, b)
    zc = clamp(z, a, b)
    return outside(z < a, -np.inf, _log_mass(a, zc) - _log_mass(a, b))


def cdf(x: Any, a: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """P(X <= x)."""
    return fnp.exp(logcdf(x, a, b, loc, scale))


def logsf(x: Any, a: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """log P(X > x)."""
    z, _, a, b = standardize(x, loc, scale, a, b)
    zc = clamp(z, a, b)
    return outside(z > b, -np.inf, _log_mass(zc, b) - _log_mass(a, b))


def sf(x: Any, a: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """P(X > x)."""
    return fnp.exp(logsf(x, a, b, loc, scale))


__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "sf"]
quiet_all(globals(), __all__)
