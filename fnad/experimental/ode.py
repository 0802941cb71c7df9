"""`jax.experimental.ode.odeint`: the adaptive ODE solver of `fnad.scipy.integrate` with
JAX's signature (extra arguments positional, no step limit by default)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from fnad.scipy.integrate import odeint as _scipy_odeint


def odeint(func: Callable[..., Any], y0: Any, t: Any, *args: Any, rtol: float = 1.4e-8,
           atol: float = 1.4e-8, mxstep: float = np.inf, hmax: float = np.inf) -> Any:
    """y at each time of `t` for dy/dt = func(y, t, *args), y(t[0]) = y0 (a pytree):
    `fnad.scipy.integrate.odeint` with JAX's signature. Reverse-mode derivatives of any
    order in y0, t, args and the arrays func closes over.

    >>> ys = odeint(lambda y, t, k: -k * y, np.float64(1.0), np.array([0.0, 1.0]), 2.0)
    >>> round(float(ys[1]), 6)  # exp(-2)
    0.135335
    """
    return _scipy_odeint(func, y0, t, args, rtol=rtol, atol=atol, mxstep=mxstep, hmax=hmax)


__all__ = ["odeint"]
