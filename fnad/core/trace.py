"""Traces and tracers: how `bind` reaches the transform that is current.

There is one current trace per thread. A transform makes a trace whose parent is the
trace current when it started, runs the user's function with itself current, and does
its own work by binding primitives with its parent current. Each trace object is its own
tag: a tracer belongs to exactly one trace, so nested transforms of the same kind never
confuse each other's tracers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from fnad.core import cache
from fnad.core.cache import Cache
from fnad.core.errors import (
    ArgumentTypeError,
    ConcretizationError,
    EscapedTracerError,
    user_line,
)
from fnad.core.ir import ShapedArray, get_aval, weak_default


class Trace:
    """A transform in progress. Subclasses implement `process_primitive`."""

    transform = "trace"  # the transform's name, for messages

    def __init__(self, parent: Trace | None):
        self.parent = parent
        self.finished = False
        self._saved: list[Trace] = []

    def process_primitive(self, prim: Any, args: tuple, params: dict) -> Any:
        raise NotImplementedError

    def __enter__(self) -> Trace:
        self._saved.append(state.trace)
        state.trace = self
        return self

    def __exit__(self, *exc: Any) -> None:
        state.trace = self._saved.pop()

    def finish(self) -> None:
        self.finished = True

    def stack(self) -> str:
        """The transforms in effect, outermost first, e.g. 'jit > grad'."""
        names = []
        t: Trace | None = self
        while t is not None and not isinstance(t, EvalTrace):
            names.append(t.transform)
            t = t.parent
        return " > ".join(reversed(names))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {id(self):#x}>"


class EvalTrace(Trace):
    """The bottom trace: runs each primitive's implementation on concrete arrays."""

    transform = "eval"
    # fn(prim, args, out) run on every result while debug_nans/debug_infs is on (fnad.debugging)
    check_output: Any = None

    def process_primitive(self, prim: Any, args: tuple, params: dict) -> Any:
        key: list[Any] = [prim]
        backend = "numpy"
        for a in args:
            if type(a) is np.ndarray:  # the common case first
                key += (a.shape, a.dtype)
                continue
            if isinstance(a, Tracer):
                raise escaped_error(a)
            if type(a).__module__.startswith("cupy"):
                backend = "cupy"
            key += (getattr(a, "shape", None), getattr(a, "dtype", None))
        _check_eager(prim, args, params, key)
        if backend in IMPL_LOADERS:  # a backend's impls are installed on first use (CuPy's)
            IMPL_LOADERS.pop(backend)()
        impl = prim.impls.get(backend)
        if impl is None:
            raise prim.missing_rule(f"eager evaluation on {backend}")
        out = impl(*args, **params)
        if self.check_output is not None:
            self.check_output(prim, args, out)
        return out


# backend name -> installs that backend's eager impls; registered by `fnad.backends`
IMPL_LOADERS: dict[str, Callable[[], None]] = {}

_CHECKED = Cache(maxsize=50_000)  # the signatures already checked


def _check_eager(prim: Any, args: tuple, params: dict, key: list[Any]) -> None:
    """Apply the primitive's abstract evaluation to eager operands, once per (primitive,
    shapes, dtypes, params): NumPy would silently broadcast, promote or clip where a
    traced program fails, so eager code gets the same errors as traced code."""
    try:
        k = (*key, cache.RULES_VERSION, *params.items())
        if _CHECKED.peek(k) is not None:
            return
    except TypeError:  # an unhashable param: check every time
        k = None
    if prim.abstract_eval_rule is not None:
        prim.abstract_eval(*(get_aval(a) for a in args), **params)
    if k is not None:
        _CHECKED.put(k, True)


class _State(threading.local):
    def __init__(self) -> None:
        self.trace: Trace = EvalTrace(None)
        self.source_info: Any = None  # set by eval_jaxpr so re-traced eqns keep their line


state = _State()


def escaped_error(tracer: Tracer) -> EscapedTracerError:
    return EscapedTracerError(
        f"a tracer of {tracer._trace.transform} ({tracer.aval}) was used outside the "
        f"transform that made it{user_line()}. Values computed inside a transformed "
        "function must be returned from it, not kept in a global, a closure or an "
        "attribute. Return the value instead, or pass it in as an argument.")


class Tracer:
    """A value being traced by a transform. Operators and array methods forward to
    `fnad.numpy` (installed by that module)."""

    __slots__ = ("_trace",)
    __array_priority__ = 1000
    numpy_api: Any = None  # the fnad.numpy module, installed by it (core imports nothing above)

    @property
    def aval(self) -> ShapedArray:
        raise NotImplementedError

    shape = property(lambda self: self.aval.shape)
    # a weakly typed value (a Python number given to a transform) reads as the default dtype
    # it becomes on leaving the transform, as JAX's (its aval keeps the exact carrier dtype)
    dtype = property(lambda self: weak_default(self.aval.dtype) if self.aval.weak_type
                     else self.aval.dtype)
    ndim = property(lambda self: self.aval.ndim)
    size = property(lambda self: self.aval.size)

    def __len__(self) -> int:
        if not self.aval.shape:
            raise ArgumentTypeError("len() of a 0-d (scalar) value")
        return self.aval.shape[0]

    def __iter__(self):
        if not self.aval.shape:
            raise ArgumentTypeError("iteration over a 0-d (scalar) value")
        return (self[i] for i in range(self.aval.shape[0]))

    def concrete(self) -> Any:
        """The concrete value behind this tracer, if its transform keeps one."""
        raise concretization_error(self)

    def weak_constant(self, x: np.ndarray) -> Any:
        """A Python number (the 0-d array `x`) as a weakly typed value of this tracer's
        transform, so that an operation between it and this tracer stays weak when this
        tracer is (`fnad.numpy` promotion). A transform that tracks no weak types keeps `x`."""
        return x

    def __bool__(self) -> bool:
        # allowed under jvp/grad of eager code: it reads the primal and drops nothing the
        # result depends on smoothly (JAX's rule too)
        return bool(self.concrete())

    def __int__(self) -> int:
        return int(self._number("int()"))

    def __float__(self) -> float:
        return float(self._number("float()"))

    def __complex__(self) -> complex:
        return complex(self._number("complex()"))

    def __index__(self) -> int:
        try:
            return int(np.asarray(self._number("operator.index()")).__index__())
        except ConcretizationError as e:
            if getattr(self, "tangent", None) is not None:
                raise
            raise index_error(self) from e.__cause__

    def _number(self, how: str) -> Any:
        """The concrete value for a conversion to a Python number. A tracer carrying a
        derivative (a jvp tracer: its `tangent`) refuses: the number would silently cut
        the derivative to zero."""
        if getattr(self, "tangent", None) is not None:
            raise derivative_error(self, how)
        return self.concrete()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if self._trace.finished:
            raise escaped_error(self)
        if self.aval.dtype.kind in "iub":  # most likely `table[i]` with a NumPy `table`
            raise index_error(self)
        raise concretization_error(self, "converted to a NumPy array")

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        fn = getattr(self.numpy_api, ufunc.__name__, None)
        if ufunc in _OPERATOR_UFUNCS and method == "__call__" and not kwargs and fn is not None:
            return fn(*inputs)  # `array + tracer`: NumPy's operator hands itself over here
        what = ufunc.__name__ if method == "__call__" else f"{ufunc.__name__}.{method}"
        raise ArgumentTypeError(numpy_hint(self, what, fn is not None and method == "__call__"))

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        if func in _ABSTRACT_FUNCTIONS and len(args) == 1 and not kwargs:
            return _ABSTRACT_FUNCTIONS[func](self.aval)  # answered by the shape alone
        name = func.__name__
        if name in _METHOD_FUNCTIONS and args and args[0] is self:
            # NumPy hands these to the array's method of that name, which JAX's arrays have:
            # `np.sum(tracer)` works under JAX, as fnad.numpy's function
            if kwargs.get("out", 0) is None:
                kwargs = {k: v for k, v in kwargs.items() if k != "out"}
            return getattr(self.numpy_api, name)(*args, **kwargs)
        raise ArgumentTypeError(numpy_hint(self, name, callable(getattr(self.numpy_api, name, None))))

    def __setitem__(self, idx: Any, value: Any) -> None:
        raise ArgumentTypeError(f"a traced value ({self.aval}) cannot be changed in place "
                        f"(x[...] = v){user_line()}: values are immutable under "
                        f"{self._trace.stack()}. Use x = x.at[idx].set(v) (or .add, .multiply, "
                        ".min, .max), which returns the updated array; fnad.numpy.at(x)[idx] "
                        "works on NumPy arrays too.")

    def item(self) -> Any:
        """The Python scalar, when the transform keeps a concrete value (jvp/grad of eager
        code); a `ConcretizationError` under jit or vmap."""
        return np.asarray(self._number(".item()")).item()

    def tolist(self) -> Any:
        return np.asarray(self._number(".tolist()")).tolist()

    def __hash__(self) -> int:
        raise ArgumentTypeError(f"a traced value ({self.aval}) is not hashable; "
                        "pass hashable configuration through static_argnums instead")

    def __repr__(self) -> str:
        return f"Traced<{self.aval}>with<{self._trace.transform}>"

    # jax.Array's remaining attributes, so JAX programs run unchanged on traced values
    weak_type = property(lambda self: self.aval.weak_type)
    itemsize = property(lambda self: self.aval.dtype.itemsize)
    nbytes = property(lambda self: self.aval.size * self.aval.dtype.itemsize)

    def __contains__(self, value: Any) -> Any:
        # an array, as JAX's: Python's `in` converts it, which needs a concrete value
        return self.numpy_api.any(self == value)

    def __round__(self, ndigits: int | None = None) -> Any:
        return self.numpy_api.round(self, ndigits or 0)

    def __reversed__(self):
        return iter(self[::-1])

    def __copy__(self) -> Tracer:
        return self

    def __deepcopy__(self, memo: Any) -> Tracer:
        return self

    def __array_namespace__(self, *, api_version: str | None = None) -> Any:
        return self.numpy_api

    def copy(self) -> Tracer:
        return self  # values are immutable: a copy is the value itself

    def take(self, indices: Any, axis: int | None = None, out: None = None,
             **kwargs: Any) -> Any:
        return self.numpy_api.take(self, indices, axis, **kwargs)

    def compress(self, condition: Any, axis: int | None = None, **kwargs: Any) -> Any:
        return self.numpy_api.compress(condition, self, axis, **kwargs)

    def choose(self, choices: Any, out: None = None, mode: str = "raise") -> Any:
        return self.numpy_api.choose(self, choices, mode=mode)

    def searchsorted(self, v: Any, side: str = "left", sorter: Any = None, **kwargs: Any) -> Any:
        return self.numpy_api.searchsorted(self, v, side, sorter, **kwargs)

    def nonzero(self, **kwargs: Any) -> Any:
        return self.numpy_api.nonzero(self, **kwargs)

    def ptp(self, axis: Any = None, out: None = None, keepdims: bool = False) -> Any:
        return self.numpy_api.ptp(self, axis, keepdims=keepdims)

    def argpartition(self, kth: int, axis: int = -1) -> Any:
        return self.numpy_api.argpartition(self, kth, axis)


# NumPy functions that call the method of the same name of an array that is not a NumPy
# one (numpy/_core/fromnumeric.py's _wrapfunc/_wrapreduction)
_METHOD_FUNCTIONS = frozenset({
    "all", "any", "argmax", "argmin", "argpartition", "argsort", "choose", "clip", "compress",
    "cumprod", "cumsum", "max", "mean", "min", "nonzero", "prod", "repeat", "reshape", "round",
    "searchsorted", "squeeze", "std", "sum", "swapaxes", "take", "transpose", "var"})
_ABSTRACT_FUNCTIONS = {np.shape: lambda a: a.shape, np.ndim: lambda a: a.ndim,
                       np.size: lambda a: a.size}

# the ufuncs behind NumPy arrays' operators: `np_array + tracer` is computed, not refused
_OPERATOR_UFUNCS = frozenset({
    np.add, np.subtract, np.multiply, np.divide, np.floor_divide, np.remainder, np.divmod,
    np.power, np.matmul, np.left_shift, np.right_shift, np.bitwise_and, np.bitwise_or,
    np.bitwise_xor, np.less, np.less_equal, np.equal, np.not_equal, np.greater,
    np.greater_equal})


def numpy_hint(tracer: Tracer, name: str, exists: bool) -> str:
    instead = (f"Use fnad.numpy.{name} (import fnad.numpy as fnp) instead." if exists else
               f"fnad.numpy has no {name}: write it with fnad.numpy / fnad.lax functions, or "
               "call NumPy outside the transform.")
    return (f"numpy.{name} was called on a traced value ({tracer.aval}){user_line()}: NumPy "
            f"functions need concrete arrays. {instead}")


def index_error(tracer: Tracer) -> ConcretizationError:
    return ConcretizationError(
        f"a traced integer ({tracer.aval}) was used as a Python index (into a NumPy array, a "
        f"list, a range) or converted to a NumPy array{user_line()}. Under {tracer._trace.stack()} it is abstract, and "
        "NumPy arrays cannot be indexed by traced values: write fnad.numpy.asarray(table)[i], "
        "fnad.numpy.take(table, i, axis=0) or fnad.numpy.at(table)[i].get() for `table[i]`. "
        "If the index is configuration rather than data, mark its argument static "
        "(jit's static_argnums).")


def derivative_error(tracer: Tracer, how: str) -> ConcretizationError:
    return ConcretizationError(
        f"{how} of a value being differentiated ({tracer.aval}) under "
        f"{tracer._trace.stack()}{user_line()} would give a Python number without its "
        "derivative, so the result's derivative would silently be zero. Keep it an array: "
        "use fnad.numpy functions (fnad.numpy.exp, not math.exp) on it; to use the value on "
        "purpose without its derivative, convert fnad.lax.stop_gradient(x); to log it, "
        "return it as an auxiliary output (has_aux=True) or use fnad.debug.print.")


def concretization_error(tracer: Tracer, what: str = "used as a Python bool, int or float"
                         ) -> ConcretizationError:
    return ConcretizationError(
        f"a traced value ({tracer.aval}) was {what}{user_line()}. Under "
        f"{tracer._trace.stack()} it is abstract: only its shape and dtype are known. "
        "Instead of Python control flow on it use fnad.numpy.where, fnad.lax.cond, "
        "fnad.lax.switch, fnad.lax.while_loop, fnad.lax.fori_loop or fnad.lax.scan; "
        "if the value is configuration rather than data, mark its argument static "
        "(jit's static_argnums / static_argnames).")


class _ArrayType(type):
    def __instancecheck__(cls, x: Any) -> bool:
        return (isinstance(x, (np.ndarray, np.generic, Tracer))
                or type(x).__module__.startswith("cupy"))

    def __subclasscheck__(cls, sub: type) -> bool:
        return (issubclass(sub, (np.ndarray, np.generic, Tracer))
                or sub.__module__.startswith("cupy"))


class Array(metaclass=_ArrayType):
    """The type of fnad's array values: NumPy arrays and scalars, CuPy arrays, and tracers
    (JAX's `jax.Array`). For annotations and `isinstance`; it is never instantiated."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        raise ArgumentTypeError("fnad.Array is a type for annotations and isinstance; create "
                                "arrays with fnad.numpy.asarray")
