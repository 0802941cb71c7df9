"""jax.numpy's ufunc methods and attributes on fnad.numpy's ufuncs: `add.reduce`,
`multiply.accumulate`, `maximum.outer`, `add.at(x, i, v, inplace=False)`, `nin`,
`identity`... Imported last by fnad.numpy (the specialized methods are its reductions
and index updates, which import the ufuncs themselves)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fnad.numpy import _reductions, _ufuncs
from fnad.numpy._core import asarray
from fnad.numpy._dtypes import ufunc
from fnad.numpy._indexing import at


def _reduction(fn: Callable[..., Any], takes_dtype: bool = True) -> Callable[..., Any]:
    def reduce(a: Any, *, axis: Any, dtype: Any, out: None, keepdims: bool, initial: Any,
               where: Any) -> Any:
        if not takes_dtype:
            a = asarray(a) if dtype is None else asarray(a, dtype)
            return fn(a, axis=axis, out=out, keepdims=keepdims, initial=initial, where=where)
        return fn(a, axis=axis, dtype=dtype, out=out, keepdims=keepdims, initial=initial,
                  where=where)
    return reduce


def _boolean_reduction(fn: Callable[..., Any]) -> Callable[..., Any]:
    def reduce(a: Any, *, axis: Any, dtype: Any, out: None, keepdims: bool, initial: Any,
               where: Any) -> Any:
        del dtype
        r = fn(a, axis=axis, out=out, keepdims=keepdims, where=where)
        return r if initial is None else (r & bool(initial) if fn is _reductions.all
                                          else r | bool(initial))
    return reduce


def _update(method: str) -> Callable[..., Any]:
    def at_(a: Any, indices: Any, b: Any) -> Any:
        return getattr(at(a)[indices], method)(b)
    return at_


# JAX's specializations: the reduction, accumulation and scatter of the same arithmetic
_SPECIAL: dict[str, dict[str, Any]] = {
    "add": {"reduce": _reduction(_reductions.sum), "accumulate": _reductions.cumsum,
            "at": _update("add")},
    "multiply": {"reduce": _reduction(_reductions.prod), "accumulate": _reductions.cumprod,
                 "at": _update("multiply")},
    "subtract": {"at": _update("subtract")},
    "maximum": {"reduce": _reduction(_reductions.max, takes_dtype=False), "at": _update("max")},
    "minimum": {"reduce": _reduction(_reductions.min, takes_dtype=False), "at": _update("min")},
    "logical_and": {"reduce": _boolean_reduction(_reductions.all)},
    "logical_or": {"reduce": _boolean_reduction(_reductions.any)},
}

for _f in vars(_ufuncs).values():
    _np_ufunc = getattr(_f, "_numpy_ufunc", None)
    if _np_ufunc is None or not callable(_f):
        continue
    _u = ufunc(_f, _np_ufunc.nin, _np_ufunc.nout, name=_f.__name__,
               identity=_np_ufunc.identity, **_SPECIAL.get(_np_ufunc.__name__, {}))
    _f.nin, _f.nout, _f.nargs, _f.identity = _u.nin, _u.nout, _u.nargs, _u.identity
    _f.outer, _f.reduce, _f.accumulate, _f.at, _f.reduceat = (
        _u.outer, _u.reduce, _u.accumulate, _u.at, _u.reduceat)
