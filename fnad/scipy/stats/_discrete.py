"""What the discrete distributions share: the support test (integers in a range)."""

from __future__ import annotations

from typing import Any

from fnad.scipy.stats._common import fnp, np, outside


def on_support(k: Any, low: Any, high: Any, out: Any) -> Any:
    """`out` where k is an integer in [low, high], -inf elsewhere (NaN stays NaN)."""
    bad = (k != fnp.round(k)) | (k < low) | (k > high)
    return outside(bad & ~fnp.isnan(k), -np.inf, out)
