"""Primitives: a name, `bind`, and every rule a transform needs, registered next to it.

A rule slot left empty means the transform does not support the primitive; the error
says so. `Zero` is the symbolic zero tangent or cotangent that keeps untouched inputs free.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

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


class Primitive:
    """An operation the transforms know; its rules live in the module that defines it.

    impls:         backend name -> function of arrays (eager evaluation)
    abstract_eval: avals, params -> aval (or list of avals when multiple_results)
    jvp:           (primals, tangents, **params) -> (primal_out, tangent_out)
    transpose:     (cotangent, *args, **params) -> cotangent per arg (linear prims only);
                   args being differentiated arrive as `UndefinedPrimal`
    batch:         (axis_size, values, dims, **params) -> (out, out_dim)
    partial_eval:  optional (trace, args, params) -> outs, for prims holding sub-jaxprs
    kernel:        how the jit writes the primitive inside a fused kernel
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
        self.batch: Callable[..., Any] | None = None
        self.partial_eval: Callable[..., Any] | None = None
        self.kernel: Any = None

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
        self.impls[backend] = fn
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
