"""Python operators and NumPy array methods of `Tracer`, forwarded to `fnad.numpy`, so that
traced code reads like NumPy code. `==` gives an array (the tracer stays unhashable).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import fnad.numpy as fnp
from fnad.core.errors import ArgumentTypeError, ShapeError
from fnad.core.trace import Tracer
from fnad.lax.structural import bitcast_convert_type


def _swap(f: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    return lambda self, other: f(other, self)


def _binary_ops(ops: dict[str, Callable[[Any, Any], Any]]) -> dict[str, Any]:
    """`__op__` and its reflected `__rop__` for each operator."""
    out: dict[str, Any] = {}
    for name, f in ops.items():
        out[f"__{name}__"] = f
        out[f"__r{name}__"] = _swap(f)
    return out


def _shape_args(f: Callable[..., Any]) -> Callable[..., Any]:
    """`x.reshape(2, 3)` as well as `x.reshape((2, 3))`."""
    return lambda self, *s, **kw: f(self, s[0] if len(s) == 1 else s, **kw)


def _method(fn: Callable[..., Any], *names: str) -> Callable[..., Any]:
    """`fn(self, ...)` as a method taking `names` positionally, in jax.Array's order (whose
    `keepdims`, `ddof` and `out` may come positionally, unlike fnad.numpy's functions')."""

    def method(self: Tracer, *args: Any, **kwargs: Any) -> Any:
        if len(args) > len(names):
            raise ArgumentTypeError(f"{fn.__name__}() takes at most {len(names)} positional "
                                    f"arguments ({', '.join(names)}), got {len(args)}")
        kwargs.update(zip(names, args))
        if "out" in kwargs and kwargs["out"] is None:
            del kwargs["out"]
        return fn(self, **kwargs)

    method.__name__ = fn.__name__
    return method


_SUM = ("axis", "dtype", "out", "keepdims", "initial", "where", "promote_integers")
_MAX = ("axis", "out", "keepdims", "initial", "where")
_VAR = ("axis", "dtype", "out", "ddof", "keepdims")


def _comparison(f: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """`==` or `!=`; with None or a string it is Python's (identity), as for JAX's arrays."""
    return lambda self, other: NotImplemented if other is None or isinstance(other, str) \
        else f(self, other)


def _astype(self: Tracer, dtype: Any, copy: bool = False, device: Any = None) -> Any:
    """JAX's `astype`: values are immutable, so `copy` changes nothing."""
    return fnp.asarray(self, dtype)


def _view(self: Tracer, dtype: Any = None, type: Any = None) -> Any:
    """The same bits read as `dtype` (NumPy's `view`): a narrower dtype lengthens the last
    axis, a wider one shortens it."""
    if type is not None:
        raise ArgumentTypeError("view(type=...) makes an array subclass; traced values have "
                                "none, so give only a dtype")
    if dtype is None:
        return self
    new, shape = np.dtype(dtype), self.shape
    ratio = new.itemsize / self.dtype.itemsize
    if ratio == 1:
        return bitcast_convert_type(self, new)
    if not shape or (ratio > 1 and shape[-1] % ratio):
        raise ShapeError(f"view of {self.dtype}{list(shape)} as {new}: the last axis must "
                         f"hold a whole number of {new} elements")
    if ratio < 1:
        return fnp.reshape(bitcast_convert_type(self, new), (*shape[:-1], -1))
    return bitcast_convert_type(fnp.reshape(self, (*shape[:-1], -1, int(ratio))), new)


_METHODS: dict[str, Any] = {
    **_binary_ops({"add": fnp.add, "sub": fnp.subtract, "mul": fnp.multiply,
                   "truediv": fnp.divide, "floordiv": fnp.floor_divide, "mod": fnp.remainder,
                   "pow": fnp.power, "matmul": fnp.matmul, "and": fnp.bitwise_and,
                   "or": fnp.bitwise_or, "xor": fnp.bitwise_xor, "lshift": fnp.left_shift,
                   "rshift": fnp.right_shift, "divmod": fnp.divmod}),
    "__neg__": fnp.negative, "__pos__": fnp.positive, "__abs__": fnp.absolute,
    "__invert__": fnp.invert,
    "__lt__": fnp.less, "__le__": fnp.less_equal, "__gt__": fnp.greater,
    "__ge__": fnp.greater_equal, "__eq__": _comparison(fnp.equal),
    "__ne__": _comparison(fnp.not_equal), "astype": _astype, "view": _view,
    "reshape": _shape_args(fnp.reshape),
    "transpose": lambda self, *axes: fnp.transpose(
        self, axes[0] if len(axes) == 1 and not isinstance(axes[0], int) else axes or None),
    "T": property(lambda self: fnp.transpose(self)),
    "mT": property(fnp.matrix_transpose),
    "swapaxes": fnp.swapaxes, "squeeze": fnp.squeeze, "ravel": fnp.ravel,
    "flatten": fnp.ravel, "repeat": fnp.repeat, "flip": fnp.flip,
    "sum": _method(fnp.sum, *_SUM), "prod": _method(fnp.prod, *_SUM),
    "mean": _method(fnp.mean, "axis", "dtype", "out", "keepdims"),
    "var": _method(fnp.var, *_VAR), "std": _method(fnp.std, *_VAR),
    "max": _method(fnp.max, *_MAX), "min": _method(fnp.min, *_MAX),
    "argmax": _method(fnp.argmax, "axis", "out", "keepdims"),
    "argmin": _method(fnp.argmin, "axis", "out", "keepdims"),
    "all": _method(fnp.all, "axis", "out", "keepdims"),
    "any": _method(fnp.any, "axis", "out", "keepdims"),
    "cumsum": _method(fnp.cumsum, "axis", "dtype", "out"),
    "cumprod": _method(fnp.cumprod, "axis", "dtype", "out"),
    "round": _method(fnp.round, "decimals", "out"),
    "trace": _method(fnp.trace, "offset", "axis1", "axis2", "dtype", "out"),
    "clip": fnp.clip, "dot": fnp.dot,
    "diagonal": fnp.diagonal, "sort": fnp.sort, "argsort": fnp.argsort,
    "conj": fnp.conj, "conjugate": fnp.conjugate,
    "real": property(fnp.real), "imag": property(fnp.imag),
}

for _name, _fn in _METHODS.items():
    setattr(Tracer, _name, _fn)
