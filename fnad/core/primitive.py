"""Primitives: a name, `bind`, and every rule a transform needs, registered next to it.

A rule slot left empty means the transform does not support the primitive; the error
says so. `Zero` is the symbolic zero tangent or cotangent that keeps untouched inputs free.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from fnad.core import cache
from fnad.core.errors import DTypeError, FnadError, ShapeError, user_line
from fnad.core.ir import ShapedArray
from fnad.core.trace import state


class Zero:
    """A symbolic zero of a given aval: no array is made until one is needed."""

    __slots__ = ("aval",)

    def __init__(self, aval: ShapedArray):
        self.aval = aval

    def __repr__(self) -> str:
        return f"Zero({self.aval})"


# ---------------------------------------------------------------------------- kernel rules
# How `jit` writes a primitive: the typed value of `Primitive.kernel`. Fusion, the passes
# and the code generators dispatch on these types, never on primitive names.

C_TYPES = {
    "float32": "float", "float64": "double", "int8": "signed char", "int16": "short",
    "int32": "int", "int64": "long long", "uint8": "unsigned char", "uint16": "unsigned short",
    "uint32": "unsigned int", "uint64": "unsigned long long", "bool": "unsigned char",
}


# The same, keyed by the dtype itself: a dtype's `.name` is computed in Python at each
# read, and fusion asks of every operand of every equation.
C_DTYPES = {np.dtype(name): t for name, t in C_TYPES.items()}


def c_type(dtype: Any) -> str:
    """The C (and CUDA) type kernels use for `dtype` (bools are bytes)."""
    t = C_DTYPES.get(dtype)
    if t is not None:
        return t
    name = np.dtype(dtype).name
    if name not in C_TYPES:
        raise NotImplementedError(f"no kernel type for {name}")
    return C_TYPES[name]


class KernelRule:
    """Base of the kernel rules; a primitive without one runs its impl (or a backend's)."""


@dataclasses.dataclass(frozen=True)
class Elementwise(KernelRule):
    """An elementwise primitive inside a fused kernel.

    `expr` is a C/CUDA expression template (`{0}`, `{1}`... operands, `{f}` the float32
    suffix of math functions, `{name}` a param), a tuple of `(dtype kind, template)` pairs
    chosen by the first operand's kind (`"*"` for the rest), or a function
    `expr(args, arg_dtypes, out_dtype, params) -> str` for what a template cannot say.
    `ufunc`, when set, computes the primitive exactly for operands of `ufunc_kinds`, so
    NumPy lowerings call it directly. `fusable=False` keeps the primitive out of kernels.
    `flops` is the arithmetic per output element for cost models (0: data movement).
    `transcendental` marks a libm function (exp, tanh...): NumPy spends an order of
    magnitude longer per element on it than on arithmetic, a vectorized kernel much less,
    so regions with one fuse at smaller sizes.
    """

    expr: str | tuple[tuple[str, str], ...] | Callable[..., str] | None = None
    ufunc: Any = None
    ufunc_kinds: str = "fbiu"
    fusable: bool = True
    flops: int = 1
    transcendental: bool = False

    def __repr__(self) -> str:  # stable across processes: kernel names hash it
        expr = self.expr
        if callable(expr):
            expr = f"{expr.__module__}.{expr.__qualname__}"
        return f"Elementwise({expr!r})"

    def render(self, args: Sequence[str], arg_dtypes: Sequence[Any], out_dtype: Any,
               params: dict[str, Any]) -> str:
        """The C expression of the primitive applied to `args`."""
        if callable(self.expr):
            return self.expr(args, arg_dtypes, out_dtype, params)
        template = self.expr
        if isinstance(template, tuple):
            by_kind = dict(template)
            template = by_kind.get(np.dtype(arg_dtypes[0]).kind, by_kind.get("*"))
        first = arg_dtypes[0] if arg_dtypes else out_dtype
        suffix = "f" if np.dtype(first) == np.float32 else ""
        return template.format(*args, f=suffix, **params)


@dataclasses.dataclass(frozen=True)
class Broadcast(KernelRule):
    """A broadcast: a free view outside kernels, an index map inside them."""


@dataclasses.dataclass(frozen=True)
class Reduce(KernelRule):
    """A reduction over params["axes"] combining with `kind` (sum, prod, max, min, and, or)."""

    kind: str


@dataclasses.dataclass(frozen=True)
class LibraryCall(KernelRule):
    """Lowered as a call of a tuned library (BLAS, cuBLAS, cuDNN, sort) through its impl."""


@dataclasses.dataclass(frozen=True)
class CLoop(KernelRule):
    """A hand-written C loop nest, for work NumPy can only do in several whole-array
    passes or slowly (a window's argmax and its scatter, im2col, outer products): the
    same arithmetic as the impl, in its order. `lower(in_avals, params)`
    gives `(source, symbol, run)`, or None where the impl serves these operands; the C
    backend compiles `source` (cached by its hash) and calls `run(fn, *operands)` with
    `fn(*addresses)` calling the compiled `symbol`, whose parameters are all pointers.
    Other backends run the impl."""

    lower: Callable[..., Any]


def c_source(template: str, **constants: Any) -> str:
    """A `CLoop`'s C source: `template` after one `#define` per constant it is specialized
    on (its type, its symbol's name, sizes the compiler should see)."""
    return "".join(f"#define {k} {v}\n" for k, v in constants.items()) + template


@dataclasses.dataclass(frozen=True)
class JaxprCall(KernelRule):
    """A call of the sub-jaxpr in params[param]: the jit inlines it into its caller."""

    param: str = "jaxpr"


# Rule slots: setting any of them bumps fnad.core.cache.RULES_VERSION, so caches of
# derived rules (the eager differentiation fast path) never use a rule that was redefined.
_RULE_SLOTS = frozenset({"impls", "abstract_eval_rule", "jvp", "transpose", "transpose_ones",
                         "batch", "weak_type_rule",
                         "batch_collective", "partial_eval", "simplify", "kernel", "effectful"})


class Primitive:
    """An operation the transforms know; its rules live in the module that defines it.

    impls:            backend name -> function of arrays (eager evaluation); "numpy" is
                      written against the array API NumPy and CuPy share, "cupy" only where
                      CuPy needs its own
    abstract_eval:    avals, params -> aval (or list of avals when multiple_results)
    jvp:              (primals, tangents, **params) -> (primal_out, tangent_out)
    transpose:        (cotangent, *args, **params) -> cotangent per arg (linear prims only);
                      args being differentiated arrive as `UndefinedPrimal`
    transpose_ones:   optional: the transpose for grad's all-ones seed cotangent, kept
                      symbolic (`Ones`) so that nothing multiplies by it; None: use
                      `transpose`
    batch:            (axis_size, values, dims, **params) -> (out, out_dim)
    batch_collective: (trace, values, dims, **params) -> (out, out_dim): a collective over
                      a vmap's named axis
    partial_eval:     optional (trace, args, params) -> outs, for prims holding sub-jaxprs
    simplify:         optional (eqn, producer) -> an atom replacing its output, a rewritten
                      equation, or None; `producer(atom)` is the equation that made it
    weak_type_rule:   optional (*avals, **params) -> bool: whether the output is weakly
                      typed (default: when every operand is)
    effectful:        never dropped, folded, merged or cached (I/O, collectives)
    kernel:           a `KernelRule`: how the jit writes the primitive
    """

    def __init__(self, name: str, *, multiple_results: bool = False):
        self.name = name
        self.module = _defining_module()
        REGISTRY[name] = self
        self.multiple_results = multiple_results
        self.impls: dict[str, Callable[..., Any]] = {}
        self.abstract_eval_rule: Callable[..., Any] | None = None
        self.jvp: Callable[..., Any] | None = None
        self.transpose: Callable[..., Any] | None = None
        self.transpose_ones: Callable[..., Any] | None = None
        self.batch: Callable[..., Any] | None = None
        self.batch_collective: Callable[..., Any] | None = None
        self.partial_eval: Callable[..., Any] | None = None
        self.simplify: Callable[..., Any] | None = None
        self.weak_type_rule: Callable[..., bool] | None = None
        self.effectful = False
        self.kernel: KernelRule | None = None

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _RULE_SLOTS:
            cache.RULES_VERSION += 1
        object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        return self.name

    def bind(self, *args: Any, **params: Any) -> Any:
        return state.trace.process_primitive(self, args, params)

    def abstract_eval(self, *avals: ShapedArray, **params: Any) -> Any:
        """The output aval(s); shape and dtype errors name this primitive and the user line."""
        try:
            return self.abstract_eval_rule(*avals, **params)
        except (ShapeError, DTypeError) as e:
            if getattr(e, "_fnad_named", False):
                raise
            shapes = ", ".join(str(a) for a in avals)
            err = type(e)(f"{self.name}: {e} (operands {shapes}){user_line()}")
            err._fnad_named = True
            raise err.with_traceback(None) from None

    def def_impl(self, fn: Callable[..., Any], backend: str = "numpy") -> Callable[..., Any]:
        self.impls = {**self.impls, backend: fn}
        return fn

    def def_abstract_eval(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        self.abstract_eval_rule = fn
        return fn

    def def_jvp(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        self.jvp = fn
        return fn

    def def_transpose(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        self.transpose = fn
        return fn

    def def_batch(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        self.batch = fn
        return fn

    def missing_rule(self, transform: str) -> FnadError:
        return NotImplementedRuleError(
            f"{transform} of the primitive '{self.name}' is not supported{user_line()}")


# Every primitive by name, registered as it is made (the latest of a name wins).
REGISTRY: dict[str, Primitive] = {}

# Modules whose helpers make primitives on behalf of their caller.
_FACTORY_MODULES = frozenset({__name__, "fnad.lax._rules"})


def _defining_module() -> str:
    """The module whose code made the primitive (past the factory helpers)."""
    frame = sys._getframe(2)
    while frame is not None and frame.f_globals.get("__name__") in _FACTORY_MODULES:
        frame = frame.f_back
    return "" if frame is None else frame.f_globals.get("__name__", "")


def fnad_primitives() -> dict[str, Primitive]:
    """The primitives fnad's own modules defined so far (not ones user or test code made),
    by name; importing `fnad` and `fnad.jit.fusion` defines them all."""
    return {n: p for n, p in sorted(REGISTRY.items()) if p.module.startswith("fnad.")}


class NotImplementedRuleError(FnadError, NotImplementedError):
    """A transform met a primitive that has no rule for it."""
