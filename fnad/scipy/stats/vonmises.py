"""The von Mises distribution on the circle (JAX's `jax.scipy.stats.vonmises`)."""

from __future__ import annotations

import math
from typing import Any

from fnad import lax
from fnad.scipy.stats._common import fnp, np, outside, promote_inexact, quiet_all


def logpdf(x: Any, kappa: Any) -> Any:
    """log of exp(kappa cos x) / (2 pi I0(kappa)), with the scaled Bessel function so large
    kappa do not overflow (NaN for kappa <= 0, as in JAX).

    >>> round(float(logpdf(np.float64(0.0), 1e-9)), 6)  # nearly uniform: -log(2 pi)
    -1.837877
    """
    x, kappa = promote_inexact(x, kappa)
    out = kappa * (fnp.cos(x) - 1) - fnp.log(2 * math.pi * lax.bessel_i0e(kappa))
    return outside(kappa <= 0, np.nan, out)


def pdf(x: Any, kappa: Any) -> Any:
    """The von Mises density."""
    return fnp.exp(logpdf(x, kappa))


__all__ = ["logpdf", "pdf"]
quiet_all(globals(), __all__)
