"""Helpers of the distribution modules: promotion with loc/scale standardization, the
support masks, and the quieting of eager NumPy arithmetic (see `fnad.scipy._util`)."""

from __future__ import annotations

from typing import Any

import numpy as np

import fnad.numpy as fnp
from fnad.scipy._util import promote_inexact, quiet_all

__all__ = ["fnp", "np", "outside", "promote_inexact", "quiet_all", "standardize"]


def standardize(x: Any, loc: Any, scale: Any, *params: Any) -> tuple[Any, ...]:
    """(z = (x - loc) / scale, scale, *params), all promoted to one float dtype."""
    x, loc, scale, *params = promote_inexact(x, loc, scale, *params)
    return ((x - loc) / scale, scale, *params)


def outside(mask: Any, value: float, out: Any) -> Any:
    """`out` with `value` where `mask` holds, keeping `out`'s dtype."""
    return fnp.where(mask, value, out).astype(out.dtype)
