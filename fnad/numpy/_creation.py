"""Array creation. Results are concrete NumPy arrays (constants when used under a transform)
that default to float32; `full` with a traced fill value and `*_like` of a traced fill
stay traced.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from fnad import lax
from fnad.core.dtypes import canonical, default_dtype, default_float, float_or_default
from fnad.core.errors import ArgumentError, check_one_device
from fnad.core.ir import get_aval
from fnad.core.trace import Tracer
from fnad.device import device_put, require_gpu
from fnad.numpy._core import asarray, broadcast_to, fresh, is_scalar, shape_of

Shape = int | Sequence[int]


def placed(out: Any, device: Any) -> Any:
    """`out` on `device` (JAX's `device=` of the creation functions: "cpu", "gpu", a
    `Device`); None leaves it where it was made (the host; a traced value stays traced)."""
    return out if device is None or isinstance(out, Tracer) else device_put(out, device)


def zeros(shape: Shape, dtype: Any = None, *, device: Any = None, out_sharding: Any = None
          ) -> np.ndarray:
    """An array of zeros (float32 unless `dtype` says otherwise)."""
    if out_sharding is not None:
        check_one_device("zeros", out_sharding=out_sharding)
    return placed(np.zeros(shape, float_or_default(dtype)), device)


def ones(shape: Shape, dtype: Any = None, *, device: Any = None, out_sharding: Any = None
         ) -> np.ndarray:
    """An array of ones (float32 unless `dtype` says otherwise)."""
    if out_sharding is not None:
        check_one_device("ones", out_sharding=out_sharding)
    return placed(np.ones(shape, float_or_default(dtype)), device)


empty = zeros


def full(shape: Shape, fill_value: Any, dtype: Any = None, *, device: Any = None,
         out_sharding: Any = None) -> Any:
    """An array filled with `fill_value`: float32 for a Python float, int32 for a Python int,
    the value's own dtype for an array; traced when the value is."""
    if out_sharding is not None:
        check_one_device("full", out_sharding=out_sharding)
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    if dtype is None and not is_scalar(fill_value):
        dtype = get_aval(asarray(fill_value)).dtype
    if isinstance(fill_value, Tracer):
        value = asarray(fill_value, dtype)
        return lax.broadcast_in_dim(value, shape, tuple(range(len(shape) - get_aval(value).ndim,
                                                              len(shape))))
    return placed(np.full(shape, fill_value, asarray(fill_value).dtype if dtype is None
                          else dtype), device)


def _like(a: Any, dtype: Any, shape: Shape | None) -> tuple[tuple[int, ...], np.dtype]:
    s = shape_of(a) if shape is None else shape
    return s, np.dtype(dtype) if dtype is not None else get_aval(asarray(a)).dtype


def _weak_like(a: Any, dtype: Any, shape: Shape | None, value: Any) -> Any:
    """`value` as a weakly typed constant when `a` is a weakly typed scalar (a Python number
    given to a transform) and neither dtype nor shape is asked for: JAX's `*_like` keep
    the weak type, so the constant takes the dtype of what it meets. None otherwise."""
    if (dtype is not None or shape not in (None, ()) or not isinstance(a, Tracer)
            or not a.aval.weak_type or not is_scalar(value)):
        return None
    return a.weak_constant(np.asarray(value, a.aval.dtype))


def zeros_like(a: Any, dtype: Any = None, shape: Shape | None = None, *,
               device: Any = None, out_sharding: Any = None) -> np.ndarray:
    """Zeros with the shape and dtype of `a` (a tracer gives a constant: only its shape and
    dtype matter)."""
    if out_sharding is not None:
        check_one_device("zeros_like", out_sharding=out_sharding)
    weak = _weak_like(a, dtype, shape, 0)
    return zeros(*_like(a, dtype, shape), device=device) if weak is None else weak


def ones_like(a: Any, dtype: Any = None, shape: Shape | None = None, *,
              device: Any = None, out_sharding: Any = None) -> np.ndarray:
    """Ones with the shape and dtype of `a`."""
    if out_sharding is not None:
        check_one_device("ones_like", out_sharding=out_sharding)
    weak = _weak_like(a, dtype, shape, 1)
    return ones(*_like(a, dtype, shape), device=device) if weak is None else weak


def empty_like(prototype: Any, dtype: Any = None, shape: Shape | None = None, *,
               device: Any = None) -> np.ndarray:
    """`zeros_like` (fnad never hands out uninitialized memory)."""
    return zeros_like(prototype, dtype, shape, device=device)


def full_like(a: Any, fill_value: Any, dtype: Any = None, shape: Shape | None = None, *,
              device: Any = None, out_sharding: Any = None) -> Any:
    """`fill_value` with the shape of `a`, and its dtype unless `dtype` is given."""
    if out_sharding is not None:
        check_one_device("full_like", out_sharding=out_sharding)
    weak = _weak_like(a, dtype, shape, fill_value)
    if weak is not None:
        return weak
    s, dt = _like(a, dtype, shape)
    return full(s, fill_value, dt, device=device)


def arange(start: Any, stop: Any = None, step: Any = None, dtype: Any = None, *,
           device: Any = None, out_sharding: Any = None) -> np.ndarray:
    """Evenly spaced values in [start, stop): int32 for integer arguments, float32 for
    floats (static arguments only)."""
    if out_sharding is not None:
        check_one_device("arange", out_sharding=out_sharding)
    if stop is None:
        start, stop = 0, start
    out = np.arange(start, stop, 1 if step is None else step)
    if dtype is None:
        dtype = default_dtype("i" if out.dtype.kind in "iub" else "f")
    return placed(out.astype(dtype), device)


def linspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True,
             retstep: bool = False, dtype: Any = None, axis: int = 0, *,
             device: Any = None) -> Any:
    """`num` evenly spaced values from `start` to `stop` (float32 unless `dtype`); array
    bounds give one sequence per element along `axis`, computed in float64. Traced bounds
    (under grad, jit, vmap) give start + (stop - start) * i / (num - 1), differentiable in
    both, with the last value exactly `stop` as NumPy's."""
    if isinstance(start, Tracer) or isinstance(stop, Tracer):
        return _traced_linspace(start, stop, num, endpoint, retstep, dtype, axis)
    out, step = np.linspace(np.asarray(start, np.float64), np.asarray(stop, np.float64), num,
                            endpoint, retstep=True, axis=axis)
    if dtype is None:
        dtype = np.result_type(default_float(), *(np.asarray(v).dtype for v in (start, stop)
                                             if not is_scalar(v) and np.asarray(v).dtype.kind
                                             == "f"))
    out = placed(out.astype(dtype), device)
    return (out, step) if retstep else out


def _traced_linspace(start: Any, stop: Any, num: int, endpoint: bool, retstep: bool,
                     dtype: Any, axis: int) -> Any:
    start, stop = asarray(start), asarray(stop)
    kinds = [get_aval(v).dtype for v in (start, stop) if get_aval(v).dtype.kind in "fc"]
    compute = np.result_type(default_float(), *kinds)
    dtype = compute if dtype is None else np.dtype(dtype)
    shape = np.broadcast_shapes(get_aval(start).shape, get_aval(stop).shape)
    ndim = len(shape) + 1
    axis = axis + ndim if axis < 0 else axis
    out_shape = (*shape[:axis], num, *shape[axis:])
    dims = tuple(d for d in range(ndim) if d != axis)

    def along(v: Any) -> Any:  # a bound broadcast over the new axis
        v = lax.convert_element_type(v, compute)
        v = lax.broadcast_in_dim(v, shape, tuple(range(len(shape) - get_aval(v).ndim,
                                                      len(shape))))
        return lax.broadcast_in_dim(v, out_shape, dims)

    lo, hi = along(start), along(stop)
    div = num - 1 if endpoint else num
    frac = np.arange(num, dtype=np.float64) / (div if div > 0 else 1)
    frac = np.reshape(frac, [num if d == axis else 1 for d in range(ndim)]).astype(compute)
    out = lax.add(lo, lax.mul(lax.sub(hi, lo), broadcast_to(frac, out_shape)))
    if endpoint and num > 1:
        last = np.reshape(np.arange(num) == num - 1, frac.shape)
        out = lax.select_n(broadcast_to(last, out_shape), out, hi)
    if dtype.kind in "iu":
        out = lax.floor(out)
    out = lax.convert_element_type(out, dtype)
    if not retstep:
        return out
    step = lax.div(lax.sub(stop, start), np.asarray(div, compute)) if div > 0 else np.nan
    return out, step


def eye(N: int, M: int | None = None, k: int = 0, dtype: Any = None, *,  # noqa: N803
        device: Any = None) -> np.ndarray:
    """Ones on the `k` diagonal of an N x M matrix (float32 by default)."""
    return placed(np.eye(N, M, k, float_or_default(dtype)), device)


def identity(n: int, dtype: Any = None, *, device: Any = None) -> np.ndarray:
    """The n x n identity (float32 by default)."""
    return eye(n, dtype=dtype, device=device)


def tri(N: int, M: int | None = None, k: int = 0, dtype: Any = None) -> np.ndarray:
    """Ones at and below the `k` diagonal (float32 by default)."""
    return np.tri(N, M, k, float_or_default(dtype))


def copy(a: Any, order: str | None = None) -> Any:
    """A copy of an eager array; a tracer as it is (values are immutable under tracing).
    Values do not depend on memory layout, so any NumPy `order` is accepted."""
    return asarray(a).copy() if not isinstance(a, Tracer) else a


def meshgrid(*xi: Any, copy: bool = True, sparse: bool = False,
             indexing: str = "xy") -> tuple[Any, ...]:
    """Coordinate arrays from 1-d coordinate vectors ('xy' or 'ij' indexing); with
    `sparse`, each keeps its own axis and has size 1 along the others (they broadcast
    together to the full grids). Results are always new arrays (`copy` is accepted)."""
    del copy
    xs = [asarray(x) for x in xi]
    n = len(xs)
    sizes = [get_aval(x).size for x in xs]
    if indexing == "xy" and n >= 2:
        sizes[0], sizes[1] = sizes[1], sizes[0]
    out = []
    for i, x in enumerate(xs):
        axis = (1 - i if i < 2 else i) if indexing == "xy" and n >= 2 else i
        shape = [1] * n
        shape[axis] = get_aval(x).size
        grid = lax.reshape(x, shape) if sparse else broadcast_to(lax.reshape(x, shape), sizes)
        out.append(fresh(grid, x))  # new, as NumPy's
    return tuple(out)


def frombuffer(buffer: Any, dtype: Any = float, count: int = -1, offset: int = 0) -> np.ndarray:
    """The numbers in the bytes of `buffer` read as `dtype` (a new array), held as JAX holds
    them: 64-bit values become 32-bit ones unless x64 is on."""
    out = np.frombuffer(buffer, dtype, count, offset)
    return out.astype(canonical(out.dtype))


def fromstring(string: str, dtype: Any = float, count: int = -1, *, sep: str) -> np.ndarray:
    """The numbers written in `string`, separated by `sep` (NumPy's text mode; its binary
    mode, sep='', is `frombuffer`), held as JAX holds them."""
    if not sep:
        raise ArgumentError("fromstring: give a separator (sep=' ', ','...); for bytes use "
                            "frombuffer")
    out = np.fromstring(string, dtype, count, sep=sep)
    return out.astype(canonical(out.dtype))


def from_dlpack(x: Any, /, *, device: Any = None, copy: bool | None = None) -> Any:
    """An array from any object with `__dlpack__` (a torch or CuPy tensor...), shared with
    it where the library allows unless `copy=True`: a NumPy array for host memory, a CuPy
    array for GPU memory."""
    if x.__dlpack_device__()[0] != 1:  # not kDLCPU: GPU memory stays on the GPU
        out = require_gpu("from_dlpack of device memory").from_dlpack(x)
        return placed(out.copy() if copy else out, device)
    return asarray(np.from_dlpack(x, copy=copy), device=device)


__all__ = ["arange", "copy", "empty", "empty_like", "eye", "from_dlpack", "frombuffer",
           "fromstring", "full", "full_like", "identity", "linspace", "meshgrid", "ones",
           "ones_like", "tri", "zeros", "zeros_like"]
