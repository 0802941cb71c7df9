"""Python operators and array methods of `Tracer`, forwarded to `fnad.numpy`."""

from __future__ import annotations

from typing import Any

import fnad.numpy as fnp
from fnad.core.trace import Tracer


def _swap(f: Any) -> Any:
    return lambda self, other: f(other, self)


_METHODS = {
    "__add__": fnp.add, "__radd__": _swap(fnp.add),
    "__sub__": fnp.subtract, "__rsub__": _swap(fnp.subtract),
    "__mul__": fnp.multiply, "__rmul__": _swap(fnp.multiply),
    "__truediv__": fnp.divide, "__rtruediv__": _swap(fnp.divide),
    "__matmul__": fnp.matmul, "__rmatmul__": _swap(fnp.matmul),
    "__neg__": fnp.negative, "__pos__": lambda self: self,
    "__pow__": fnp.power,
    "__lt__": fnp.less, "__le__": fnp.less_equal, "__gt__": fnp.greater,
    "__ge__": fnp.greater_equal, "__eq__": fnp.equal, "__ne__": fnp.not_equal,
    "sum": fnp.sum, "mean": fnp.mean, "reshape": lambda self, *s: fnp.reshape(
        self, s[0] if len(s) == 1 else s),
    "transpose": lambda self, *axes: fnp.transpose(self, axes or None),
    "T": property(lambda self: fnp.transpose(self)),
    "astype": lambda self, dtype: fnp.asarray(self, dtype),
}

for _name, _fn in _METHODS.items():
    setattr(Tracer, _name, _fn)
