"""jax.dlpack's names: arrays shared with other libraries through the DLPack protocol."""

from __future__ import annotations

from typing import Any

import numpy as np

from fnad.numpy import from_dlpack as _from_dlpack

# the dtypes an array exchanged through DLPack may have (NumPy's DLPack dtypes)
_SUPPORTED = frozenset(np.dtype(t) for t in (
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64", "complex64", "complex128"))


def from_dlpack(external_array: Any, device: Any = None, copy: bool | None = None) -> Any:
    """An array from any object with `__dlpack__` (a torch or CuPy tensor...), sharing its
    memory where the library allows unless `copy=True` (`fnad.numpy.from_dlpack`).

    >>> from_dlpack(np.arange(3)).tolist()
    [0, 1, 2]
    """
    return _from_dlpack(external_array, device=device, copy=copy)


def is_supported_dtype(dtype: Any) -> bool:
    """Whether arrays of `dtype` can be exchanged through DLPack.

    >>> is_supported_dtype(np.float32), is_supported_dtype(np.dtype("U3"))
    (True, False)
    """
    return np.dtype(dtype) in _SUPPORTED


__all__ = ["from_dlpack", "is_supported_dtype"]
