"""Helpers shared by fnad.scipy: SciPy's argument promotion (integers become floats)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from fnad.core.dtypes import default_float
from fnad.core.quiet import quiet_enter, quiet_exit
from fnad.numpy._core import is_scalar, promote, promote_dtypes, result_type


def _weak(x: Any) -> bool:
    """A Python number or a weakly typed tracer (it takes the dtype of what it meets)."""
    return is_scalar(x) or bool(getattr(getattr(x, "aval", None), "weak_type", False))


def promote_inexact(*args: Any, broadcast: bool = True) -> list[Any]:
    """The operands as one float dtype (integers and bools become float32, as in JAX; 64-bit
    integers float64 under x64, where JAX has them), broadcast together unless `broadcast`
    is False. A Python float meeting integer arrays is weak there too: int32 data with
    `loc=1.0` is float32 (JAX), not NumPy's float64."""
    dtype = result_type(*args)
    strong = [a for a in args if not _weak(a)]
    strong_dtype = result_type(*strong) if strong else None
    integers = strong_dtype is not None and strong_dtype.kind in "biu"
    if dtype.kind not in "fc" or integers:
        wide = integers and strong_dtype.itemsize == 8 and default_float() == np.float64
        dtype = np.dtype(np.complex64 if dtype.kind == "c" else np.float64 if wide
                         else np.float32)
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


def quiet_methods(cls: type, names: Iterable[str]) -> None:
    """`quiet_all` for the methods `names` of `cls` (interpolators, rotations: their eager
    NumPy arithmetic answers NaN and inf silently too); class methods stay class methods."""
    for name in names:
        attr = vars(cls)[name]
        if isinstance(attr, classmethod):
            setattr(cls, name, classmethod(_quiet(attr.__func__)))
        else:
            setattr(cls, name, _quiet(attr))


def _quiet(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        token = quiet_enter()
        try:
            return fn(*args, **kwargs)
        finally:
            quiet_exit(token)
    return wrapper
