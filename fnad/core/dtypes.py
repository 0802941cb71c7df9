"""fnad's default dtypes: 32-bit (float32, int32, complex64), or 64-bit when the config
option `enable_x64` is on (JAX's `jax_enable_x64`). Every function that picks a dtype for
created arrays or Python numbers asks here, at call time, so the switch takes effect for
everything traced after it.

Arrays given by the user keep their dtype in either mode (NumPy's rule: a float64 input
stays float64 even in 32-bit mode).
"""

from __future__ import annotations

from typing import Any

import numpy as np

_32 = {"b": np.dtype(np.bool_), "i": np.dtype(np.int32), "u": np.dtype(np.uint32),
       "f": np.dtype(np.float32), "c": np.dtype(np.complex64)}
_64 = {"b": np.dtype(np.bool_), "i": np.dtype(np.int64), "u": np.dtype(np.uint64),
       "f": np.dtype(np.float64), "c": np.dtype(np.complex128)}
# JAX's dtype of the tangent of an integer or boolean value: it has no tangent, and the
# zero-size void dtype says so without taking memory (`jax.dtypes.float0`)
float0 = np.dtype([("float0", np.void, 0)])
_KIND_OF_PYTHON = {bool: "b", int: "i", float: "f", complex: "c"}
_defaults = _32


def set_x64(on: bool) -> None:
    """Switch the defaults (called by `fnad.config.update("enable_x64", ...)`)."""
    global _defaults
    _defaults = _64 if on else _32


def x64_enabled() -> bool:
    return _defaults is _64


def default_dtype(kind: str) -> np.dtype:
    """The default dtype of a dtype kind ("b", "i", "u", "f" or "c").

    >>> default_dtype("f")
    dtype('float32')
    """
    return _defaults[kind]


def default_float() -> np.dtype:
    return _defaults["f"]


def default_int() -> np.dtype:
    return _defaults["i"]


def python_default(t: type) -> np.dtype:
    """The dtype a Python number of type `t` (bool, int, float, complex) becomes alone."""
    return _defaults[_KIND_OF_PYTHON[t]]


def float_or_default(dtype: Any) -> np.dtype:
    """`dtype`, or the default float for None (JAX's `dtype=None`)."""
    return _defaults["f"] if dtype is None else np.dtype(dtype)


def canonical(dtype: Any) -> np.dtype:
    """`dtype` as JAX holds it: 64-bit numbers are 32-bit ones unless x64 is on."""
    dtype = np.dtype(dtype)
    if _defaults is _64 or dtype.itemsize != 8 * (2 if dtype.kind == "c" else 1):
        return dtype
    return _32.get(dtype.kind, dtype)


__all__ = ["canonical", "default_dtype", "default_float", "default_int", "float0",
           "float_or_default", "python_default", "set_x64", "x64_enabled"]
