"""The chi-squared distribution (JAX's `jax.scipy.stats.chi2`): Gamma(df / 2, 2 scale)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fnad.scipy.stats import gamma
from fnad.scipy.stats._common import promote_inexact, quiet_all


def _from_gamma(fn: Callable[..., Any]) -> Callable[..., Any]:
    def f(x: Any, df: Any, loc: Any = 0, scale: Any = 1) -> Any:
        x, df, loc, scale = promote_inexact(x, df, loc, scale)
        return fn(x, df / 2, loc, 2 * scale)
    f.__name__ = f.__qualname__ = fn.__name__
    f.__doc__ = f"`gamma.{fn.__name__}` with shape df / 2 and scale 2 scale."
    return f


logpdf, pdf, cdf, logcdf, sf, logsf = (_from_gamma(f) for f in (
    gamma.logpdf, gamma.pdf, gamma.cdf, gamma.logcdf, gamma.sf, gamma.logsf))

__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "sf"]
quiet_all(globals(), __all__)
