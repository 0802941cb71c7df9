"""NumPy's broadcasting and dtype promotion over `fnad.lax` (no primitives of its own)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from fnad import lax
from fnad.core.errors import ShapeError, user_line
from fnad.core.ir import get_aval
from fnad.core.trace import Tracer

_PY_SCALARS = (bool, int, float, complex)


def _dtype_of(x: Any) -> Any:
    return x if isinstance(x, _PY_SCALARS) else get_aval(x).dtype


def result_type(*args: Any) -> np.dtype:
    """NumPy 2 promotion: Python scalars are weak and take the arrays' dtype (NEP 50)."""
    if all(isinstance(a, _PY_SCALARS) for a in args):
        return lax.asarray_like(*args)[0].dtype if len(args) == 1 else np.dtype(
            np.result_type(*(lax.asarray_like(a)[0].dtype for a in args)))
    return np.result_type(*(_dtype_of(a) for a in args))


def asarray(x: Any, dtype: Any = None) -> Any:
    """An array (or the tracer itself); Python floats default to float32."""
    if isinstance(x, Tracer):
        return x if dtype is None else lax.convert_element_type(x, dtype)
    if isinstance(x, np.ndarray) or (hasattr(x, "__cuda_array_interface__")):
        return x if dtype is None or x.dtype == np.dtype(dtype) else x.astype(dtype)
    if isinstance(x, (list, tuple)) and any(isinstance(e, Tracer) for e in _flatten(x)):
        return stack([asarray(e, dtype) for e in x])
    if dtype is None and isinstance(x, _PY_SCALARS):
        return lax.asarray_like(x)[0]
    arr = np.asarray(x, dtype=dtype)
    if dtype is None and arr.dtype == np.float64 and not isinstance(x, np.generic):
        arr = arr.astype(np.float32)
    elif dtype is None and arr.dtype == np.int64 and not isinstance(x, np.generic):
        arr = arr.astype(np.int32)
    return arr


array = asarray


def _flatten(x: Any) -> list[Any]:
    if isinstance(x, (list, tuple)):
        return [e for i in x for e in _flatten(i)]
    return [x]


def broadcast_shapes(*shapes: Sequence[int]) -> tuple[int, ...]:
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise ShapeError(f"shapes {', '.join(str(tuple(s)) for s in shapes)} cannot be "
                         f"broadcast together{user_line()}") from None


def broadcast_to(x: Any, shape: Sequence[int]) -> Any:
    x = asarray(x)
    shape = tuple(shape)
    xs = get_aval(x).shape
    if xs == shape:
        return x
    if broadcast_shapes(xs, shape) != shape:
        raise ShapeError(f"cannot broadcast shape {xs} to {shape}{user_line()}")
    nd = len(shape) - len(xs)
    return lax.broadcast_in_dim(x, shape, tuple(range(nd, len(shape))))


def promote_dtypes(*args: Any, dtype: Any = None) -> list[Any]:
    """Operands converted to their common dtype (NumPy 2 rules) or to `dtype`."""
    dt = np.dtype(dtype) if dtype is not None else result_type(*args)
    return [lax.convert_element_type(asarray(a), dt) if not isinstance(a, _PY_SCALARS)
            else np.asarray(a, dt) for a in args]


def promote(*args: Any, dtype: Any = None) -> list[Any]:
    """Operands converted to one dtype and broadcast to one shape (rank-0 ones stay rank 0,
    since the primitives broadcast scalars themselves)."""
    arrays = promote_dtypes(*args, dtype=dtype)
    shapes = [get_aval(a).shape for a in arrays]
    shape = broadcast_shapes(*shapes)
    return [a if s == shape or s == () else broadcast_to(a, shape)
            for a, s in zip(arrays, shapes)]


def stack(arrays: Sequence[Any], axis: int = 0) -> Any:
    from fnad.numpy import concatenate, expand_dims
    return concatenate([expand_dims(asarray(a), axis) for a in arrays], axis=axis)
