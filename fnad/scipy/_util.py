"""Helpers shared by fnad.scipy: SciPy's argument promotion (integers become floats)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from fnad.core.quiet import quiet_enter, quiet_exit
from fnad.numpy._core import promote, promote_dtypes, result_type


def promote_inexact(*args: Any, broadcast: bool = True) -> list[Any]:
    """The operands as one float dtype (integers and bools become float32, as in JAX),
    broadcast together unless `broadcast` is False."""
    dtype = result_type(*args)
    if dtype.kind not in "fc":
        dtype = np.dtype(np.float32)
    return (promote if broadcast else promote_dtypes)(*args, dtype=dtype)


def clamp(x: Any, lo: Any = None, hi: Any = None) -> Any:
    """`x` limited to [lo, hi] by selection: the derivative is 1 up to and at the bounds
    (`maximum`/`minimum` split a tie's derivative in half, as JAX's do, which halves the
    derivative of a function evaluated through them exactly at a boundary)."""
    from fnad.numpy import where
    if lo is not None:
        x = where(x < lo, lo, x)
    if hi is not None:
        x = where(x > hi, hi, x)
    return x


def quiet_all(namespace: dict[str, Any], names: list[str]) -> None:
    """Wrap the public functions `names` of a module so that eager NumPy arithmetic inside
    them answers NaN and inf silently, as fnad's primitives do (no warning escapes)."""
    for name in names:
        fn = namespace[name]
        if callable(fn) and not isinstance(fn, type):
            namespace[name] = _quiet(fn)


def _quiet(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        token = quiet_enter()
        try:
            return fn(*args, **kwargs)
        finally:
            quiet_exit(token)
    return wrapper
