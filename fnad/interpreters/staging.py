"""Staging: record the primitives a function applies as equations of a jaxpr.

`StagingTrace` stages every primitive; `trace_to_jaxpr` runs a flat function on staged
tracers and returns the `ClosedJaxpr`. Values from outside (arrays, or tracers of an
enclosing transform) become constants: scalars inline as `Literal`s, others as constvars.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from fnad.core import cache
from fnad.core.cache import Cache
from fnad.core.errors import current_source_info
from fnad.core.ir import ClosedJaxpr, Eqn, Jaxpr, Literal, ShapedArray, Var, get_aval
from fnad.core.trace import Trace, Tracer, escaped_error, state


class StagedTracer(Tracer):
    """A value of the jaxpr being built: just a `Var`."""

    __slots__ = ("_var",)  # not `var`: that is the array method `x.var()`

    def __init__(self, trace: Trace, var: Var):
        self._trace = trace
        self._var = var

    @property
    def aval(self) -> ShapedArray:
        return self._var.aval

    def weak_constant(self, x: np.ndarray) -> StagedTracer:
        """A Python number (the 0-d array `x`) as a weakly typed literal of this jaxpr."""
        return StagedTracer(self._trace, Literal(x, ShapedArray((), x.dtype, weak_type=True)))


class JaxprBuilder:
    """Equations, constants and the bookkeeping to turn them into a `Jaxpr`."""

    def __init__(self) -> None:
        self.eqns: list[Eqn] = []
        self.consts: dict[int, tuple[Var, Any]] = {}

    def const(self, value: Any) -> Var | Literal:
        if isinstance(value, (np.ndarray, np.generic)) and value.ndim == 0:
            return Literal(value, ShapedArray((), value.dtype))
        entry = self.consts.get(id(value))
        if entry is None:
            aval = (ShapedArray.of_array(value.shape, value.dtype) if type(value) is np.ndarray
                    else get_aval(value))
            entry = self.consts[id(value)] = (Var(aval), value)
        return entry[0]

    def add_eqn(self, prim: Any, inputs: list[Var | Literal], params: dict) -> list[Var]:
        in_avals = [a.aval for a in inputs]
        avals = _abstract_eval(prim, in_avals, params)
        if not prim.multiple_results:
            avals = with_weak_type(prim, in_avals, params, avals)
        outs = [Var(a) for a in avals] if prim.multiple_results else [Var(avals)]
        info = state.source_info or current_source_info()
        self.eqns.append(Eqn(prim, inputs, outs, params, info))
        return outs

    def build(self, invars: Sequence[Var], outvars: Sequence[Var | Literal],
              dce: bool = False) -> ClosedJaxpr:
        eqns = self.eqns
        if dce:
            eqns = dead_code_elimination(eqns, outvars)
        used = set(outvars)
        for e in eqns:
            used.update(e.inputs)
        consts = [(v, x) for v, x in self.consts.values() if v in used]
        jaxpr = Jaxpr([v for v, _ in consts], list(invars), eqns, list(outvars))
        return ClosedJaxpr(jaxpr, [x for _, x in consts])


_OUT_AVALS = Cache(maxsize=50_000)


def _abstract_eval(prim: Any, in_avals: list[ShapedArray], params: dict) -> Any:
    """`prim.abstract_eval`, remembered per (primitive, avals, params): abstract evaluation
    is a pure function of them, and eager linearization stages the same few equations
    over and over (`_check_eager` relies on the same purity)."""
    try:
        key: tuple | None = (prim, cache.RULES_VERSION, *in_avals, *params.items())
        out = _OUT_AVALS.peek(key)
    except TypeError:  # an unhashable param: evaluate every time
        key = out = None
    if out is None:
        out = prim.abstract_eval(*in_avals, **params)
        if key is not None:
            _OUT_AVALS.put(key, out)
    return out


def with_weak_type(prim: Any, in_avals: list[ShapedArray], params: dict,
                   out: ShapedArray) -> ShapedArray:
    """`out` weakly typed exactly when the primitive's rule says so: by default when every
    operand is (JAX's rule: an operation on Python numbers alone gives a Python number).
    Primitives with several results take their avals from their sub-jaxprs as they are."""
    rule = prim.weak_type_rule
    weak = (rule(*in_avals, **params) if rule is not None
            else bool(in_avals) and all(a.weak_type for a in in_avals))
    return out if out.weak_type == weak else out.update(weak_type=weak)


def dead_code_elimination(eqns: list[Eqn], outvars: Sequence[Any]) -> list[Eqn]:
    live = set(outvars)  # Vars and Literals hash by identity
    kept = []
    for eqn in reversed(eqns):
        for v in eqn.outputs:
            if v in live:
                break
        else:
            if not eqn.prim.effectful:
                continue
        kept.append(eqn)
        live.update(eqn.inputs)
    kept.reverse()
    return kept


class StagingTrace(Trace):
    """Stages every primitive into a jaxpr (used by make_jaxpr, jit and control flow)."""

    transform = "jit"

    def __init__(self, parent: Trace | None, transform: str = "jit"):
        super().__init__(parent)
        self.transform = transform
        self.builder = JaxprBuilder()

    def new_arg(self, aval: ShapedArray) -> StagedTracer:
        return StagedTracer(self, Var(aval))

    def to_atom(self, x: Any) -> Var | Literal:
        if (type(x) is StagedTracer or isinstance(x, StagedTracer)) and x._trace is self:
            return x._var
        if isinstance(x, Tracer) and x._trace.finished:
            raise escaped_error(x)
        return self.builder.const(x)

    def process_primitive(self, prim: Any, args: tuple, params: dict) -> Any:
        outs = self.builder.add_eqn(prim, [self.to_atom(a) for a in args], params)
        tracers = [StagedTracer(self, v) for v in outs]
        return tracers if prim.multiple_results else tracers[0]

    def build(self, in_tracers: Sequence[StagedTracer], outs: Sequence[Any],
              dce: bool = False) -> ClosedJaxpr:
        return self.builder.build([t._var for t in in_tracers],
                                  [self.to_atom(x) for x in outs], dce=dce)


def trace_to_jaxpr(f: Callable[..., Sequence[Any]], in_avals: Sequence[ShapedArray],
                   transform: str = "jit") -> ClosedJaxpr:
    """Stage `f` (flat arguments in, a flat sequence out) into a `ClosedJaxpr`."""
    trace = StagingTrace(state.trace, transform)
    args = [trace.new_arg(a) for a in in_avals]
    try:
        with trace:
            outs = f(*args)
        return trace.build(args, outs)
    finally:
        trace.finish()

