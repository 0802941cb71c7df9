"""The jaxpr: fnad's small typed IR, its pretty-printer, its type checker and its evaluator.

A `Jaxpr` is one function body in SSA form: equations apply primitives to `Var`s and
scalar `Literal`s. Vars carry only an abstract value; names are given by the printer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from fnad.core import dtypes
from fnad.core.errors import (
    ArgumentError,
    ArgumentTypeError,
    FnadError,
    IntegerOverflowError,
    SourceInfo,
)

_SHORT_DTYPE = {
    "float16": "f16", "bfloat16": "bf16", "float32": "f32", "float64": "f64",
    "int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64",
    "uint8": "u8", "uint16": "u16", "uint32": "u32", "uint64": "u64",
    "bool": "bool", "complex64": "c64", "complex128": "c128",
}


def short_dtype(dtype: np.dtype) -> str:
    return _SHORT_DTYPE.get(np.dtype(dtype).name, np.dtype(dtype).name)


# Python numbers are weakly typed (JAX's `weak_type`): inside a transform they are carried
# at full Python precision, take the dtype of the arrays they meet, and leave a transform
# as fnad's default dtype of their kind (as a Python number given to fnad.numpy does).
WEAK_CARRIERS = {int: np.dtype(np.int64), float: np.dtype(np.float64),
                 complex: np.dtype(np.complex128)}


_NUMBER_OF_KIND = {"b": False, "i": 0, "u": 0, "f": 0.0, "c": 0j}


def weak_number(aval: ShapedArray) -> Any:
    """A Python number of a weakly typed value's kind: what it promotes like (NEP 50)."""
    return _NUMBER_OF_KIND[aval.dtype.kind]


def weak_default(dtype: np.dtype) -> np.dtype:
    """The dtype a weakly typed value of `dtype` becomes when it leaves a transform."""
    kind = np.dtype(dtype).kind
    return dtypes.default_dtype("i" if kind == "u" else kind) if kind in "biufc" else \
        np.dtype(dtype)


class ShapedArray:
    """An abstract value: the shape and dtype that every value and tracer has, and whether
    it is weakly typed (a Python number that takes the dtype of what it meets)."""

    __slots__ = ("shape", "dtype", "weak_type", "_hash")

    def __init__(self, shape: Sequence[int], dtype: Any, weak_type: bool = False):
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        self.weak_type = bool(weak_type)
        self._hash = hash((self.shape, self.dtype, self.weak_type))

    @classmethod
    def of_array(cls, shape: tuple[int, ...], dtype: np.dtype) -> ShapedArray:
        """The aval of a NumPy array from its own shape and dtype, already normalized
        (the eager path makes hundreds of these per gradient: skip the conversions)."""
        self = object.__new__(cls)
        self.shape, self.dtype, self.weak_type = shape, dtype, False
        self._hash = hash((shape, dtype, False))
        return self

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def update(self, shape: Sequence[int] | None = None, dtype: Any = None,
               weak_type: bool | None = None) -> ShapedArray:
        return ShapedArray(self.shape if shape is None else shape,
                           self.dtype if dtype is None else dtype,
                           self.weak_type if weak_type is None else weak_type)

    def strip_weak_type(self) -> ShapedArray:
        return self.update(weak_type=False) if self.weak_type else self

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, ShapedArray) and self.shape == other.shape
                and self.dtype == other.dtype and self.weak_type == other.weak_type)

    def __hash__(self) -> int:
        return self._hash

    def str_short(self) -> str:
        """`f32[2,3]`: what jaxprs print (JAX prints no weak marker there)."""
        return f"{short_dtype(self.dtype)}[{','.join(map(str, self.shape))}]"

    def __str__(self) -> str:
        return ("~" if self.weak_type else "") + self.str_short()

    __repr__ = __str__


def typematch(a: ShapedArray, b: ShapedArray) -> bool:
    """Same shape and dtype; weak types are ignored, as JAX's type checker does."""
    return a.shape == b.shape and a.dtype == b.dtype


def get_aval(x: Any) -> ShapedArray:
    """The abstract value of an array, a NumPy scalar or a tracer."""
    if type(x) is np.ndarray:
        return ShapedArray.of_array(x.shape, x.dtype)
    aval = getattr(x, "aval", None)  # a tracer's
    if aval is not None:
        return aval
    if isinstance(x, np.generic):
        return ShapedArray.of_array(x.shape, x.dtype)
    if type(x) in (bool, int, float, complex):
        raise FnadError(f"expected an array, got the Python scalar {x!r}; "
                        "wrap it with fnad.numpy.asarray")
    try:
        return ShapedArray(x.shape, x.dtype)
    except AttributeError:
        raise FnadError(f"expected an array, got {type(x).__name__}: {x!r}. A class holding "
                        "arrays must be registered as a pytree node first: "
                        "fnad.tree.register_dataclass or fnad.tree.register_pytree_node"
                        ) from None


def abstractify(x: Any) -> ShapedArray:
    """The aval of a value entering a transform: a Python int, float or complex is weakly
    typed (of its carrier dtype, int64, float64 or complex128: its exact value); a Python
    bool is a strong bool, as in JAX."""
    carrier = WEAK_CARRIERS.get(type(x))
    if carrier is not None:
        _check_int_range(x)
        return ShapedArray((), carrier, weak_type=True)
    if type(x) is bool:
        return ShapedArray((), np.bool_)
    return get_aval(x)


def weak_array(x: Any) -> Any:
    """A Python number as a 0-d array of the dtype `abstractify` gives it; others unchanged."""
    if type(x) in WEAK_CARRIERS:
        _check_int_range(x)
        return np.asarray(x, WEAK_CARRIERS[type(x)])
    return np.asarray(x) if type(x) is bool else x


def _check_int_range(x: Any) -> None:
    """A Python int entering a transform must fit the default integer dtype it takes when it
    meets nothing wider (int32; int64 with x64), as in JAX: past it, it would wrap silently."""
    if type(x) is int and not -2**31 <= x < 2**31:  # the common case: one comparison
        info = np.iinfo(dtypes.default_int())
        if not info.min <= x <= info.max:
            raise IntegerOverflowError(
                f"the Python int {x} entering a transform does not fit {info.dtype} (JAX "
                "raises OverflowError too); pass it as an array of a wide enough dtype "
                "(np.int64(x), or np.float64 for a float), or mark the argument static")


class Var:
    """A named SSA value of a jaxpr (named only when printed)."""

    __slots__ = ("aval",)

    def __init__(self, aval: ShapedArray):
        self.aval = aval

    def __repr__(self) -> str:
        return f"Var({self.aval})"


class Literal:
    """A scalar constant inlined in an equation."""

    __slots__ = ("value", "aval")

    def __init__(self, value: Any, aval: ShapedArray | None = None):
        self.value = value
        self.aval = aval if aval is not None else get_aval(value)

    def __repr__(self) -> str:
        v = self.value.item() if getattr(self.value, "size", 0) == 1 else self.value
        return repr(v)


Atom = Var | Literal


class Eqn:
    """One equation: `outputs = prim[params] inputs`, with the user line that traced it."""

    __slots__ = ("prim", "inputs", "outputs", "params", "source_info")

    def __init__(self, prim: Any, inputs: list[Atom], outputs: list[Var],
                 params: dict[str, Any], source_info: SourceInfo | None = None):
        self.prim, self.inputs, self.outputs = prim, inputs, outputs
        self.params, self.source_info = params, source_info

    def replace(self, **kw: Any) -> Eqn:
        fields = {k: getattr(self, k) for k in self.__slots__}
        fields.update(kw)
        return Eqn(**fields)


class Jaxpr:
    """A function body: constants and inputs in, equations, outputs out."""

    __slots__ = ("constvars", "invars", "eqns", "outvars")

    def __init__(self, constvars: list[Var], invars: list[Var], eqns: list[Eqn],
                 outvars: list[Atom]):
        self.constvars, self.invars = list(constvars), list(invars)
        self.eqns, self.outvars = list(eqns), list(outvars)

    @property
    def in_avals(self) -> list[ShapedArray]:
        return [v.aval for v in self.invars]

    @property
    def out_avals(self) -> list[ShapedArray]:
        return [v.aval for v in self.outvars]

    def __str__(self) -> str:
        return pretty(self)

    def pretty(self, source_info: bool = False) -> str:
        return pretty(self, source_info=source_info)


class ClosedJaxpr:
    """A jaxpr with values bound to its constvars."""

    __slots__ = ("jaxpr", "consts")

    def __init__(self, jaxpr: Jaxpr, consts: Sequence[Any]):
        if len(consts) != len(jaxpr.constvars):
            raise ArgumentError("ClosedJaxpr: one constant per constvar")
        self.jaxpr, self.consts = jaxpr, list(consts)

    @property
    def in_avals(self) -> list[ShapedArray]:
        return self.jaxpr.in_avals

    @property
    def out_avals(self) -> list[ShapedArray]:
        return self.jaxpr.out_avals

    @property
    def eqns(self) -> list[Eqn]:
        return self.jaxpr.eqns

    def __call__(self, *args: Any) -> list[Any]:
        return eval_jaxpr(self.jaxpr, self.consts, *args)

    def __str__(self) -> str:
        return pretty(self.jaxpr)

    def __repr__(self) -> str:
        return str(self)

    def pretty(self, source_info: bool = False) -> str:
        return pretty(self.jaxpr, source_info=source_info)


# ---------------------------------------------------------------------------- printing

def _var_name(i: int) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"
    name = ""
    i += 1
    while i > 0:
        i, r = divmod(i - 1, 26)
        name = letters[r] + name
    return name


class _Names:
    def __init__(self) -> None:
        self.names: dict[int, str] = {}

    def __call__(self, v: Atom) -> str:
        if isinstance(v, Literal):
            return repr(v)
        name = self.names.get(id(v))
        if name is None:
            name = self.names[id(v)] = _var_name(len(self.names))
        return name

    def binder(self, v: Var) -> str:
        return f"{self(v)}:{v.aval.str_short()}"


def _format_param(value: Any, names: _Names, indent: int, source_info: bool) -> str:
    if isinstance(value, ClosedJaxpr):
        value = value.jaxpr
    if isinstance(value, Jaxpr):
        return _pretty(value, _Names(), indent + 4, source_info)
    if isinstance(value, (tuple, list)) and value and isinstance(value[0], (Jaxpr, ClosedJaxpr)):
        inner = [_format_param(v, names, indent + 2, source_info) for v in value]
        return "(\n" + ",\n".join(" " * (indent + 4) + s for s in inner) + "\n" + " " * indent + ")"
    if isinstance(value, np.dtype):
        return short_dtype(value)
    if isinstance(value, type) and issubclass(value, np.generic):
        return short_dtype(np.dtype(value))
    if callable(value) and hasattr(value, "__name__"):
        return value.__name__
    return repr(value)


def _pretty(jaxpr: Jaxpr, names: _Names, indent: int, source_info: bool) -> str:
    pad = " " * indent
    consts = " ".join(names.binder(v) for v in jaxpr.constvars)
    ins = " ".join(names.binder(v) for v in jaxpr.invars)
    lines = [f"{{ lambda {consts}; {ins}. let"]
    for eqn in jaxpr.eqns:
        outs = " ".join(names.binder(v) for v in eqn.outputs) or "()"
        params = " ".join(f"{k}={_format_param(v, names, indent + 4, source_info)}"
                          for k, v in eqn.params.items())
        head = f"{eqn.prim.name}[{params}]" if params else eqn.prim.name
        args = " ".join(names(a) for a in eqn.inputs)
        line = f"{pad}    {outs} = {head} {args}".rstrip()
        if source_info and eqn.source_info is not None:
            line += f"    # {eqn.source_info}"
        lines.append(line)
    outs = ", ".join(names(v) for v in jaxpr.outvars)
    trailing = "," if len(jaxpr.outvars) == 1 else ""
    lines.append(f"{pad}  in ({outs}{trailing}) }}")
    return "\n".join(lines)


def pretty(jaxpr: Jaxpr, source_info: bool = False) -> str:
    """JAX-style text of a jaxpr; sub-jaxprs in params are printed nested and indented."""
    return _pretty(jaxpr, _Names(), 0, source_info)


# ---------------------------------------------------------------------------- checking

class JaxprTypeError(FnadError, TypeError):
    """A jaxpr is ill-typed: a transform produced something the rules disagree with."""


def typecheck(jaxpr: Jaxpr | ClosedJaxpr) -> None:
    """Re-derive every equation's output avals from its inputs and raise on any mismatch."""
    if isinstance(jaxpr, ClosedJaxpr):
        for v, c in zip(jaxpr.jaxpr.constvars, jaxpr.consts):
            if not typematch(get_aval(c), v.aval):
                raise JaxprTypeError(f"constant of aval {get_aval(c)} bound to a {v.aval} var")
        jaxpr = jaxpr.jaxpr
    defined: set[int] = set()

    def define(v: Var, where: str) -> None:
        if not isinstance(v, Var):
            raise JaxprTypeError(f"{where}: binder {v!r} is not a Var")
        if id(v) in defined:
            raise JaxprTypeError(f"{where}: a variable is defined twice\n{pretty(jaxpr)}")
        defined.add(id(v))

    def read(a: Atom, where: str) -> ShapedArray:
        if isinstance(a, Literal):
            if a.aval.shape != ():
                raise JaxprTypeError(f"{where}: literal {a!r} is not a scalar")
            return a.aval
        if id(a) not in defined:
            raise JaxprTypeError(f"{where}: variable used before it is defined\n{pretty(jaxpr)}")
        return a.aval

    for v in jaxpr.constvars + jaxpr.invars:
        define(v, "inputs")
    for i, eqn in enumerate(jaxpr.eqns):
        where = f"equation {i} ({eqn.prim.name})"
        in_avals = [read(a, where) for a in eqn.inputs]
        for p in eqn.params.values():
            if isinstance(p, (Jaxpr, ClosedJaxpr)):
                typecheck(p)
            elif isinstance(p, (tuple, list)):
                for q in p:
                    if isinstance(q, (Jaxpr, ClosedJaxpr)):
                        typecheck(q)
        out = eqn.prim.abstract_eval(*in_avals, **eqn.params)
        out = list(out) if eqn.prim.multiple_results else [out]
        declared = [v.aval for v in eqn.outputs]
        if len(out) != len(declared) or not all(map(typematch, out, declared)):
            raise JaxprTypeError(f"{where}: rules give {out}, the jaxpr declares {declared}")
        for v in eqn.outputs:
            define(v, where)
    for a in jaxpr.outvars:
        read(a, "outputs")


# ---------------------------------------------------------------------------- evaluation

def eval_jaxpr(jaxpr: Jaxpr, consts: Sequence[Any], *args: Any) -> list[Any]:
    """Bind each equation's primitive on the given values: arrays, or an outer trace's tracers.

    Binding (rather than calling impls) is what lets a rewritten jaxpr compose with
    whatever transform is current.
    """
    from fnad.core.trace import state

    if len(args) != len(jaxpr.invars):
        raise ArgumentTypeError(f"jaxpr takes {len(jaxpr.invars)} arguments, got {len(args)}")
    env: dict[Var, Any] = dict(zip(jaxpr.constvars, consts))
    env.update(zip(jaxpr.invars, args))
    saved = state.source_info
    try:
        for eqn in jaxpr.eqns:
            state.source_info = eqn.source_info
            ins = [env[a] if type(a) is Var else a.value for a in eqn.inputs]
            out = eqn.prim.bind(*ins, **eqn.params)
            if eqn.prim.multiple_results:
                env.update(zip(eqn.outputs, out))
            else:
                env[eqn.outputs[0]] = out
    finally:
        state.source_info = saved
    return [env[a] if type(a) is Var else a.value for a in jaxpr.outvars]
