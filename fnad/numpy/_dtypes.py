"""Dtype names, dtype queries and `astype`, and the `ufunc` wrapper class: `jax.numpy`'s
type API, as JAX's scalar types (dtypes that convert when called) and thin functions over
NumPy's."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from fnad import lax
from fnad.core.errors import ArgumentError, ArgumentTypeError
from fnad.core.ir import get_aval
from fnad.core.trace import Tracer
from fnad.numpy._core import asarray, broadcast_to, is_scalar, normalize_axis, shape_of


class _ScalarType(type):
    """The type of `fnad.numpy.float32` and the other scalar types, as JAX's: a dtype
    wherever NumPy takes one (`dtype=`, `astype`, `np.dtype(...)`, equal to and hashed as
    NumPy's type), and a conversion when called (`float32(x)` is `asarray(x, float32)`, so
    it converts traced values too, where NumPy's `np.float32(x)` needs a concrete one)."""

    dtype: np.dtype

    @property
    def __numpy_dtype__(cls) -> np.dtype:
        return cls.dtype

    def __call__(cls, x: Any) -> Any:
        return asarray(x, cls.dtype)

    def __eq__(cls, other: Any) -> bool:
        return cls is other or cls.dtype.type == other

    def __ne__(cls, other: Any) -> bool:
        return not cls == other

    def __hash__(cls) -> int:
        return hash(cls.dtype.type)

    def __instancecheck__(cls, instance: Any) -> bool:
        return isinstance(instance, cls.dtype.type)

    def __repr__(cls) -> str:
        return f"<class 'fnad.numpy.{cls.__name__}'>"


def _scalar_type(np_type: type) -> _ScalarType:
    return _ScalarType(np_type.__name__, (), {"dtype": np.dtype(np_type),
                                              "__module__": "fnad.numpy"})


bool_, int8, int16, int32, int64, uint8, uint16, uint32, uint64 = (
    _scalar_type(t) for t in (np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8,
                              np.uint16, np.uint32, np.uint64))
float16, float32, float64, complex64, complex128 = (
    _scalar_type(t) for t in (np.float16, np.float32, np.float64, np.complex64,
                              np.complex128))
# NumPy's other names (int_ is int64 and float_ float64 in both modes, as in NumPy)
bool = bool_  # noqa: A001
int_, uint, float_, complex_ = int64, uint64, float64, complex128
single, double, csingle, cdouble = float32, float64, complex64, complex128
generic, character, flexible, complexfloating, object_ = (
    np.generic, np.character, np.flexible, np.complexfloating, np.object_)


def _dtype_of(x: Any) -> Any:
    if isinstance(x, (np.dtype, type, str)):
        return x
    if is_scalar(x):
        return type(x)
    return get_aval(asarray(x)).dtype


def can_cast(from_: Any, to: Any, casting: str = "safe") -> bool:
    """Whether a value of `from_`'s dtype (a dtype or an array) casts to `to` under
    `casting`, by NumPy's rules.

    >>> can_cast(np.int32, np.float64)
    True
    """
    return np.can_cast(_dtype_of(from_), to, casting)


def promote_types(a: Any, b: Any) -> np.dtype:
    """The smallest dtype both `a` and `b` cast to safely, by NumPy's rules (fnad's values
    follow NumPy's promotion), with jax.numpy's parameter names."""
    return np.promote_types(a, b)


def isdtype(dtype: Any, kind: Any) -> bool:
    """Whether `dtype` is of `kind` ('bool', 'integral', 'real floating', ..., a dtype, or
    a tuple of those), the array API's dtype test."""
    return np.isdtype(np.dtype(dtype), kind)


def isscalar(element: Any) -> bool:
    """Python numbers, NumPy scalars and 0-d arrays (traced ones too) are scalars, as in
    JAX (NumPy says False for 0-d arrays).

    >>> isscalar(np.array(3.0)), isscalar([1.0])
    (True, False)
    """
    if isinstance(element, (np.ndarray, Tracer)):
        return get_aval(element).ndim == 0
    return np.isscalar(element)


def iterable(y: Any) -> bool:
    """Whether `iter(y)` works (0-d arrays are not iterable)."""
    try:
        iter(y)
    except TypeError:
        return False
    return True


def astype(x: Any, dtype: Any, /, *, copy: bool = False, device: Any = None) -> Any:
    """`x` converted to `dtype` (floats to integers truncate toward zero).

    >>> astype(np.array([1.7, -1.7]), np.int32)
    array([ 1, -1], dtype=int32)
    """
    del copy, device
    return lax.convert_element_type(asarray(x), dtype)


class ufunc:  # noqa: N801  (JAX's and NumPy's name)
    """A universal function made from a scalar-broadcasting `func` of `nin` arrays, with
    NumPy's methods: `outer`, `reduce` (a log-depth tree of `func` calls; `identity`
    serves empty reductions), `accumulate` (a scan) and a functional `at`.

    >>> add = ufunc(lambda a, b: a + b, 2, 1, identity=0)
    >>> add.reduce(np.arange(5))
    array(10)
    """

    def __init__(self, func: Callable[..., Any], /, nin: int, nout: int, *,
                 name: str | None = None, nargs: int | None = None, identity: Any = None,
                 call: Any = None, reduce: Any = None, accumulate: Any = None, at: Any = None,
                 reduceat: Any = None):
        self._func, self.nin, self.nout = func, int(nin), int(nout)
        self._call = call if call is not None else func
        self._reduce, self._accumulate, self._at, self._reduceat = reduce, accumulate, at, reduceat
        self.nargs = nargs if nargs is not None else self.nin
        self.identity = identity
        self.__name__ = name or getattr(func, "__name__", "ufunc")

    def __repr__(self) -> str:
        return f"<fnad.numpy.ufunc '{self.__name__}'>"

    def __call__(self, *args: Any, out: None = None, where: None = None) -> Any:
        if len(args) != self.nin:
            raise ArgumentTypeError(f"{self.__name__} takes {self.nin} arguments, got {len(args)}")
        return self._call(*args)

    def _binary(self, method: str) -> None:
        if self.nin != 2 or self.nout != 1:
            raise ArgumentError(f"{self.__name__}.{method} needs a binary ufunc with one output")

    def outer(self, A: Any, B: Any, /) -> Any:
        """func(a, b) for every pair: shape A.shape + B.shape."""
        self._binary("outer")
        a, b = asarray(A), asarray(B)
        na, nb = get_aval(a).ndim, get_aval(b).ndim
        return self._func(lax.reshape(a, shape_of(a) + (1,) * nb),
                          lax.reshape(b, (1,) * na + shape_of(b)))

    def reduce(self, a: Any, axis: int | None = 0, dtype: Any = None, out: None = None,
               keepdims: bool = False, initial: Any = None, where: None = None) -> Any:
        """`func` folded over `axis` (a tuple, or None for all axes) as a log-depth tree
        (so `func` must be associative), then combined with `initial`; an empty
        reduction gives `initial` or `identity`."""
        self._binary("reduce")
        if self._reduce is not None:
            return self._reduce(a, axis=axis, dtype=dtype, out=out, keepdims=keepdims,
                                initial=initial, where=where)
        if where is not None:
            raise ArgumentError(f"{self.__name__}.reduce takes where= only for the ufuncs "
                                "with a reduction of their own (add, multiply, maximum...)")
        a = asarray(a) if dtype is None else asarray(a, dtype)
        nd = get_aval(a).ndim
        axes = tuple(range(nd)) if axis is None else tuple(
            sorted(normalize_axis(x, nd) for x in ((axis,) if isinstance(axis, int) else axis)))
        keep = [d for d in range(nd) if d not in axes]
        x = lax.transpose(a, tuple(axes) + tuple(keep))
        rest = tuple(shape_of(a)[d] for d in keep)
        x = lax.reshape(x, (math.prod(shape_of(a)[d] for d in axes),) + rest)
        n = shape_of(x)[0]
        start = initial if initial is not None else self.identity
        if n == 0:
            if start is None:
                raise ArgumentError(f"{self.__name__}.reduce of an empty array needs an identity "
                                 "or an initial value")
            out_ = lax.full(rest, start, get_aval(a).dtype)
        else:
            while n > 1:  # halve: pair the first half with the second; an odd one waits
                h = n // 2
                y = self._func(x[:h], x[h:2 * h])
                x = lax.concatenate([y, x[2 * h:]], 0) if n % 2 else y
                n = h + n % 2
            out_ = lax.index_in_dim(x, 0, 0, keepdims=False)
            if initial is not None:
                out_ = self._func(np.asarray(initial, get_aval(a).dtype), out_)
        if keepdims:
            out_ = lax.reshape(out_, tuple(1 if d in axes else n_
                                           for d, n_ in enumerate(shape_of(a))))
        return out_

    def accumulate(self, a: Any, axis: int = 0, dtype: Any = None, out: None = None) -> Any:
        """The running `func` along `axis` (a sequential scan: `func` need not be
        associative)."""
        self._binary("accumulate")
        if self._accumulate is not None:
            return self._accumulate(a, axis=axis, dtype=dtype, out=out)
        a = asarray(a) if dtype is None else asarray(a, dtype)
        ax = normalize_axis(axis, get_aval(a).ndim)
        moved = lax.transpose(a, (ax,) + tuple(d for d in range(get_aval(a).ndim) if d != ax))
        if shape_of(moved)[0] == 0:
            return a

        def step(carry: Any, x: Any) -> tuple[Any, Any]:
            y = self._func(carry, x)
            return y, y

        _, ys = lax.scan(step, moved[0], moved[1:])
        ys = lax.concatenate([lax.expand_dims(moved[0], (0,)), ys], 0)
        perm = list(range(1, get_aval(a).ndim))
        perm.insert(ax, 0)
        return lax.transpose(ys, perm)

    def at(self, a: Any, indices: Any, b: Any = None, /, *, inplace: bool = True) -> Any:
        """`a` with `func` applied at `indices`, unbuffered as NumPy's: an index repeated k
        times is updated k times in turn (`add.at(a, [0, 0], 1)` adds 2). Functional: pass
        `inplace=False`."""
        from fnad.numpy._indexing import at as at_, getitem
        if inplace:
            raise ArgumentError(f"{self.__name__}.at cannot modify its input in place (arrays "
                                "are immutable): pass inplace=False and use the result")
        if self._at is not None:
            return self._at(a, indices, b)
        a = asarray(a)
        shape, dtype = shape_of(a), get_aval(a).dtype
        positions = getitem(lax.reshape(lax.iota(np.int32, math.prod(shape)), shape), indices)
        n = math.prod(shape_of(positions))
        flat_positions = lax.reshape(positions, (n,))
        args = [] if b is None else [
            lax.reshape(broadcast_to(asarray(b), shape_of(positions)), (n,))]

        def update(k: Any, flat: Any) -> Any:  # one position at a time: repeats compound
            i = getitem(flat_positions, k)
            new = self._func(getitem(flat, i), *(getitem(v, k) for v in args))
            return at_(flat)[i].set(lax.convert_element_type(new, dtype))

        flat = lax.fori_loop(0, n, update,
                             lax.reshape(a, (math.prod(shape),)))
        return lax.reshape(flat, shape)

    def reduceat(self, *args: Any, **kwargs: Any) -> Any:
        if self._reduceat is not None:
            return self._reduceat(*args, **kwargs)
        raise NotImplementedError(f"{self.__name__}.reduceat is not offered by fnad.numpy; "
                                  f"use segment sums (fnad.numpy.at(...).add) instead")


__all__ = [
    "astype", "bool", "bool_", "can_cast", "cdouble", "character", "complex128", "complex64",
    "complex_", "complexfloating", "csingle", "double", "flexible", "float16", "float32",
    "float64", "float_", "generic", "int16", "int32", "int64", "int8", "int_", "isdtype",
    "isscalar", "iterable", "object_", "promote_types", "single", "ufunc", "uint", "uint16",
    "uint32",
    "uint64", "uint8",
]
