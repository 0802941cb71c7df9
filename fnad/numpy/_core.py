"""NumPy's conversion, broadcasting and dtype promotion over `fnad.lax` (no primitives).

Every `fnad.numpy` function starts here: operands become arrays (or stay tracers), take a
common dtype by NumPy 2 rules (Python scalars are weak, NEP 50) and broadcast together.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from fnad import lax
from fnad.config import config
from fnad.core.cache import Cache
from fnad.core.dtypes import default_dtype
from fnad.core.errors import (
    ArgumentError,
    ArgumentTypeError,
    DTypeError,
    ShapeError,
    check_one_device,
    user_line,
)
from fnad.core.ir import get_aval, weak_number
from fnad.core.quiet import quiet_enter, quiet_exit
from fnad.core.trace import Tracer

PY_SCALARS = (bool, int, float, complex)


def is_scalar(x: Any) -> bool:
    """A Python number: weakly typed, it takes the dtype of the arrays it meets."""
    return isinstance(x, PY_SCALARS) and not isinstance(x, np.generic)  # np.float64 is a float


def _weak_dtype(x: Any) -> Any:
    """What NumPy's promotion needs to know of an operand: its dtype, or for a Python number
    (or a weakly typed tracer) its type (`int`, `float`, `complex`: weak); a Python bool is a
    strong bool."""
    if isinstance(x, bool):
        return np.dtype(np.bool_)
    if is_scalar(x):
        return type(x)
    aval = get_aval(x)
    return _weak_dtype(weak_number(aval)) if aval.weak_type else aval.dtype


def weak_operand(args: Sequence[Any]) -> Tracer | None:
    """A weakly typed tracer among `args` when every operand is weak (Python numbers other
    than bools, weak tracers): the operation computes in the default dtype, as it does on
    Python numbers eagerly (1 + 2.5 is float32), and its result stays weak (JAX's rule)."""
    weak = None
    for a in args:
        if isinstance(a, Tracer) and a.aval.weak_type:
            weak = a if weak is None else weak
        elif not is_scalar(a) or isinstance(a, bool):
            return None
    return weak


def _as_number(x: Any) -> Any:
    """A Python number standing for a weak operand (a weak tracer: one of its kind)."""
    return x if is_scalar(x) else weak_number(get_aval(x))


_PYTHON_DATA = (np.dtype(np.int64), np.dtype(np.float64), np.dtype(np.complex128))


def scalar_default(scalars: Sequence[Any]) -> np.dtype:
    """The dtype Python numbers alone promote to: fnad's default of the kind NumPy picks
    (1 + 2.5 is float32, not float64)."""
    return default_dtype(np.result_type(*scalars).kind)


def result_type(*args: Any) -> np.dtype:
    """NumPy 2 promotion: Python scalars are weak and take the arrays' dtype (NEP 50); with
    only Python scalars, the defaults float32 / int32 / bool.

    >>> result_type(np.ones(2, np.float32), 2.0)
    dtype('float32')
    """
    args = [a if is_scalar(a) or isinstance(a, (np.dtype, type)) else asarray(a) for a in args]
    if all(is_scalar(a) for a in args):
        return scalar_default(args)
    if weak_operand(args) is not None:
        return scalar_default([_as_number(a) for a in args])
    return np.result_type(*(a if is_scalar(a) or isinstance(a, (np.dtype, type))
                            else get_aval(a).dtype for a in args))


def _not_numbers(x: Any) -> ArgumentTypeError:
    """The error for a value no array of numbers holds (NumPy would make NaN of None)."""
    return ArgumentTypeError(
        f"asarray: {x!r} ({type(x).__name__}) is not a number, a boolean or an array of them; "
        "fnad arrays (as JAX's) hold numbers only: convert it first, or pass it as a static "
        "argument")


def asarray(a: Any, dtype: Any = None, order: str | None = None, *, copy: bool | None = None,
            device: Any = None, out_sharding: Any = None) -> Any:
    """An array (or the tracer itself) of `dtype`; Python floats and float lists default to
    float32, Python ints to int32. `copy` as in the array API (True: always a new array;
    False: never, an error where converting needs one), `device` as JAX's ("cpu", "gpu").
    Values do not depend on memory layout, so any NumPy `order` is accepted.

    >>> asarray([1.0, 2.0]).dtype
    dtype('float32')
    """
    if copy is not None or device is not None or out_sharding is not None:
        check_one_device("asarray", out_sharding=out_sharding)
        out = asarray(a, dtype)
        if out is a and copy and isinstance(out, np.ndarray):
            out = out.copy()
        elif out is not a and copy is False and not is_scalar(a) and not isinstance(a, Tracer):
            what = (f"an array of dtype {a.dtype} needs a copy to become {np.dtype(dtype)}"
                    if hasattr(a, "dtype") else f"a {type(a).__name__} is copied into a new array")
            raise ArgumentError(f"asarray(copy=False): {what}; pass copy=None to allow it")
        if device is None:
            return out
        from fnad.numpy._creation import placed
        return placed(out, device)
    if isinstance(a, Tracer):
        return a if dtype is None else lax.convert_element_type(a, dtype)
    if isinstance(a, np.ndarray) or hasattr(a, "__cuda_array_interface__"):
        return a if dtype is None or a.dtype == np.dtype(dtype) else _cast(a, np.dtype(dtype))
    if a is None or isinstance(a, (str, bytes)):
        raise _not_numbers(a)
    if isinstance(a, (list, tuple)):
        leaves = _flatten(a)
        for e in leaves:
            if e is None or isinstance(e, (str, bytes)):
                raise _not_numbers(e)
        if dtype is None and leaves and all(is_scalar(e) or isinstance(e, (np.generic, Tracer))
                                            or type(e) is np.ndarray for e in leaves):
            dtype = result_type(*leaves)  # Python numbers weak: float64 leaves stay float64
        if any(isinstance(e, Tracer) for e in leaves):
            from fnad.numpy._shape import stack
            return stack([asarray(e, dtype) for e in a])
    if dtype is None and is_scalar(a):
        return lax.asarray_like(a)[0]
    integers = dtype is not None and np.dtype(dtype).kind in "iu"
    token = quiet_enter()  # a number beyond the dtype's range is inf, silently, as in JAX
    try:
        if integers:
            natural = np.asarray(a)
            if natural.dtype.kind in "fc":  # floats to integers: as jit computes them
                return _cast(natural, np.dtype(dtype))
        arr = np.asarray(a, dtype=dtype)
    except TypeError as e:  # a dict, an object
        raise _not_numbers(a) from e
    finally:
        quiet_exit(token)
    if arr.dtype.kind in "OUSV":  # objects, strings, records
        raise _not_numbers(a)
    if dtype is None and not isinstance(a, np.generic) and arr.dtype in _PYTHON_DATA:
        arr = arr.astype(default_dtype(arr.dtype.kind), copy=False)  # Python data: defaults
    return arr


def _cast(x: np.ndarray, dtype: np.dtype) -> Any:
    """`x` as `dtype` by lax's rules where NumPy's differ: complex to real is lax's error
    (not a ComplexWarning and a dropped imaginary part), floats to integers saturate and
    NaN is 0 (not NumPy's undefined cast and its warning), a narrowing float overflows to
    inf silently, as under jit and in JAX."""
    if x.dtype.kind in "fc":
        return lax.convert_element_type(x, dtype)
    return x.astype(dtype)


def array(object: Any, dtype: Any = None, copy: bool = True,  # noqa: A002  (JAX's name)
          order: str | None = "K", ndmin: int = 0, *, device: Any = None,
          out_sharding: Any = None) -> Any:
    """Like `asarray`, but an eager NumPy array is copied unless `copy=False` (NumPy's rule);
    `ndmin` prepends axes of size 1 up to that many."""
    out = asarray(object, dtype, device=device, out_sharding=out_sharding)
    if copy and out is object and isinstance(out, np.ndarray):
        out = out.copy()
    missing = ndmin - get_aval(out).ndim
    return lax.reshape(out, (1,) * missing + get_aval(out).shape) if missing > 0 else out


def fresh(out: Any, *inputs: Any) -> Any:
    """`out`, copied when it is an eager array sharing memory with one of `inputs`: for
    functions whose NumPy namesake returns a new array even when there is nothing to do
    (a result is fresh, or the view NumPy's function returns; docs/sharp_bits.md)."""
    if type(out) is np.ndarray and any(
            out is x or (out.base is not None and type(x) is np.ndarray
                         and np.may_share_memory(out, x)) for x in inputs):
        return out.copy()  # (an array owning its memory shares it with no input: cheap test)
    return out


def _flatten(x: Any) -> list[Any]:
    if isinstance(x, (list, tuple)):
        return [e for i in x for e in _flatten(i)]
    return [x]


def broadcast_shapes(*shapes: Sequence[int]) -> tuple[int, ...]:
    """The shape NumPy broadcasting gives, or a `ShapeError` naming the shapes."""
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise ShapeError(f"shapes {', '.join(str(tuple(s)) for s in shapes)} cannot be "
                         f"broadcast together{user_line()}") from None


def broadcast_to(array: Any, shape: int | Sequence[int], *, out_sharding: Any = None) -> Any:
    """`array` broadcast to `shape` (NumPy rules; no copy eagerly is not promised)."""
    if out_sharding is not None:
        check_one_device("broadcast_to", out_sharding=out_sharding)
    x = asarray(array)
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    xs = get_aval(x).shape
    if xs == shape:
        if type(x) is not np.ndarray:
            return x
        view = x.view()  # NumPy's broadcast_to: a read-only view, whatever the shape
        view.flags.writeable = False
        return view
    if len(xs) > len(shape) or broadcast_shapes(xs, shape) != shape:
        raise ShapeError(f"cannot broadcast shape {xs} to {shape}{user_line()}")
    nd = len(shape) - len(xs)
    return lax.broadcast_in_dim(x, shape, tuple(range(nd, len(shape))))


def convert(x: Any, dtype: Any, weak: Tracer | None = None) -> Any:
    """`x` as `dtype`: a Python number becomes a 0-d array (a weak constant of `weak`'s
    transform, when given), an array is cast (no equation when it already has that dtype)."""
    if is_scalar(x):
        x = np.asarray(x, dtype)
        return x if weak is None else weak.weak_constant(x)
    return lax.convert_element_type(asarray(x), dtype)


def promote_dtypes(*args: Any, dtype: Any = None) -> list[Any]:
    """Operands converted to their common dtype (NumPy 2 rules) or to `dtype`."""
    if dtype is None and _same_dtype(args):  # nothing to convert: the common case
        return list(args)
    dt = np.dtype(dtype) if dtype is not None else result_type(*args)
    weak = weak_operand(args)
    return [convert(a, dt, weak) for a in args]


def _same_dtype(args: Sequence[Any]) -> bool:
    """All operands are arrays or tracers of one dtype."""
    dtypes = set()
    for a in args:
        if type(a) is np.ndarray:
            dtypes.add(a.dtype)
        elif isinstance(a, Tracer):
            dtypes.add(a.aval.dtype)
        else:
            return False
    return len(dtypes) == 1


def broadcast_together(*arrays: Any) -> list[Any]:
    """Arrays broadcast to one shape; rank-0 ones stay rank 0, since elementwise primitives
    broadcast scalars themselves."""
    shapes = [get_aval(a).shape for a in arrays]
    if len({s for s in shapes if s}) <= 1:  # the common case: nothing to broadcast
        return list(arrays)
    shape = broadcast_shapes(*shapes)
    if config.numpy_rank_promotion != "allow" and len({len(s) for s in shapes if s}) > 1:
        _rank_promotion(shapes)
    return [a if s == shape or s == () else broadcast_to(a, shape)
            for a, s in zip(arrays, shapes)]


def _rank_promotion(shapes: list[tuple[int, ...]]) -> None:
    """Warn or raise, as config.numpy_rank_promotion asks, for operands of different ranks."""
    message = (f"operands of shapes {', '.join(map(str, shapes))} broadcast to a higher rank"
               f"{user_line()}, which numpy_rank_promotion={config.numpy_rank_promotion!r} "
               "forbids; add the missing axes explicitly (x[None, :], expand_dims, reshape), "
               "or set fnad.config.update('numpy_rank_promotion', 'allow')")
    if config.numpy_rank_promotion == "raise":
        raise ShapeError(message)
    warnings.warn(message, UserWarning, stacklevel=2)  # JAX's kind of warning


def promote(*args: Any, dtype: Any = None) -> list[Any]:
    """Operands converted to one dtype and broadcast to one shape."""
    return broadcast_together(*promote_dtypes(*args, dtype=dtype))


_LOOPS = Cache()  # (ufunc, dtypes, dtype) -> NumPy's loop choice, which is slow to ask for


def ufunc_dtypes(ufunc: np.ufunc, args: Sequence[Any], dtype: Any = None
                 ) -> tuple[np.dtype, ...]:
    """The loop dtypes NumPy picks for `ufunc` on `args` (inputs, then outputs), honouring
    weak Python scalars; with only Python scalars, their fnad defaults (float32...).
    `dtype` asks for the loop with that output dtype, as NumPy's `dtype=` does."""
    if all(is_scalar(a) for a in args):
        dts: tuple[Any, ...] = (scalar_default(args),) * len(args)
    elif weak_operand(args) is not None:
        dts = (scalar_default([_as_number(a) for a in args]),) * len(args)
    else:
        dts = tuple(_weak_dtype(a) for a in args)
    key = (ufunc, dts, dtype)
    loop = _LOOPS.peek(key)
    if loop is not None:
        return loop
    try:
        kw = {} if dtype is None else {"signature": (None,) * ufunc.nin + (np.dtype(dtype),)}
        return _LOOPS.put(key, ufunc.resolve_dtypes(dts + (None,) * ufunc.nout, **kw))
    except TypeError:
        names = ", ".join(getattr(d, "__name__", str(d)) for d in dts)
        raise DTypeError(f"{ufunc.__name__} does not support operands of dtype {names}"
                         f"{user_line()}") from None


def normalize_axis(axis: int, ndim: int) -> int:
    """A non-negative axis, or a `ShapeError` for one out of range."""
    if not -ndim <= axis < ndim:
        raise ShapeError(f"axis {axis} is out of range for a rank-{ndim} value{user_line()}")
    return int(axis) % ndim


def normalize_axes(axis: int | Sequence[int] | None, ndim: int) -> tuple[int, ...]:
    """Sorted non-negative axes; `None` means all of them."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = tuple(sorted(normalize_axis(a, ndim) for a in axes))
    if len(set(out)) != len(out):
        raise ShapeError(f"repeated axis in {axis}{user_line()}")
    return out


def shape_of(x: Any) -> tuple[int, ...]:
    return get_aval(x).shape if isinstance(x, Tracer) else np.shape(x)
