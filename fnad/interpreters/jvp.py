"""Forward mode: every value becomes a dual number (primal, tangent).

Each primitive's `jvp` rule pushes tangents forward. Tangents may be symbolic `Zero`s,
so nothing is computed for values that do not depend on the differentiated inputs.
Primals stay as concrete as the parent trace's values: Python control flow on them works.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fnad.core.ir import ClosedJaxpr, ShapedArray, eval_jaxpr, get_aval
from fnad.core.primitive import Zero
from fnad.core.trace import Trace, Tracer, escaped_error, state
from fnad.interpreters import ad_util
from fnad.interpreters.staging import trace_to_jaxpr, with_weak_type


class JVPTracer(Tracer):
    __slots__ = ("primal", "tangent", "aval")

    def __init__(self, trace: Trace, primal: Any, tangent: Any,
                 aval: ShapedArray | None = None):
        self._trace = trace
        self.primal = primal
        self.tangent = tangent
        # an attribute, not a property: the wrappers, rules and fnad.numpy read it several
        # times per operation. `aval` is the primal's, when the caller knows it
        self.aval = get_aval(primal) if aval is None else aval

    def concrete(self) -> Any:
        p = self.primal
        return p.concrete() if isinstance(p, Tracer) else p

    def weak_constant(self, x: Any) -> JVPTracer:
        """A Python number as a weak dual number with a zero tangent (when the primals are
        concrete arrays, this tracer is the only place that knows the value is weak)."""
        primal = self.primal.weak_constant(x) if isinstance(self.primal, Tracer) else x
        aval = ShapedArray((), x.dtype, weak_type=True)
        return JVPTracer(self._trace, primal, Zero(aval), aval)

    def as_weak(self) -> JVPTracer:
        """This dual number, weakly typed (a Python number given to a transform)."""
        return JVPTracer(self._trace, self.primal, self.tangent,
                         self.aval.update(weak_type=True))


def is_differentiable(aval: ShapedArray) -> bool:
    return aval.dtype.kind in "fc"


class JVPTrace(Trace):
    transform = "jvp"

    def unpack(self, x: Any) -> tuple[Any, Any]:
        if isinstance(x, JVPTracer) and x._trace is self:
            return x.primal, x.tangent
        if isinstance(x, Tracer) and x._trace.finished:
            raise escaped_error(x)
        return x, None

    def pack(self, primal: Any, tangent: Any) -> Any:
        if tangent is None or type(tangent) is Zero:
            return primal
        return JVPTracer(self, primal, tangent)

    def process_primitive(self, prim: Any, args: tuple, params: dict) -> Any:
        primals, tangents = [], []
        nonzero = weak = False
        for a in args:  # `unpack`, inlined: this runs on every operation
            if type(a) is JVPTracer and a._trace is self:
                primals.append(a.primal)
                tangents.append(a.tangent)
                nonzero = True
                if a.aval.weak_type:
                    weak = True
                continue
            if isinstance(a, Tracer) and a._trace.finished:
                raise escaped_error(a)
            primals.append(a)
            tangents.append(None)
        parent, saved = self.parent, state.trace
        state.trace = parent
        try:
            if not nonzero:
                return parent.process_primitive(prim, tuple(primals), params)
            if prim.jvp is None:
                raise prim.missing_rule("differentiation (jvp)")
            tangents = [Zero(get_aval(p)) if t is None else t
                        for p, t in zip(primals, tangents)]
            out, tout = prim.jvp(primals, tangents, **params)
        finally:
            state.trace = saved
        if weak:
            return self._weak_outputs(prim, args, params, out, tout)
        if prim.multiple_results:
            return [self.pack(p, t) for p, t in zip(out, tout)]
        if tout is None or type(tout) is Zero:
            return out
        return JVPTracer(self, out, tout)

    def _weak_outputs(self, prim: Any, args: tuple, params: dict, out: Any, tout: Any) -> Any:
        """Outputs of an operation on weakly typed operands, with the weak types the
        primitive's rule gives (concrete primals cannot carry them)."""
        in_avals = [get_aval(a) for a in args]
        if prim.multiple_results:
            avals = [a if a.weak_type else None for a in prim.abstract_eval(*in_avals, **params)]
        else:
            avals = [with_weak_type(prim, in_avals, params, get_aval(out))]
            out, tout = [out], [tout]
        res = [JVPTracer(self, p, Zero(a) if t is None else t, a) if a is not None and a.weak_type
               else self.pack(p, t) for p, t, a in zip(out, tout, avals)]
        return res if prim.multiple_results else res[0]


def jvp_flat(f: Callable[..., Sequence[Any]], primals: Sequence[Any],
             tangents: Sequence[Any]) -> tuple[list[Any], list[Any]]:
    """Run `f` on dual numbers. Tangents may be `Zero`; returned tangents may be `Zero`."""
    trace = JVPTrace(state.trace)
    ins = [trace.pack(p, t) for p, t in zip(primals, tangents)]
    try:
        with trace:
            outs = f(*ins)
        pairs = [trace.unpack(o) for o in outs]
    finally:
        trace.finish()
    return ([p for p, _ in pairs],
            [Zero(get_aval(p)) if t is None else t for p, t in pairs])


def instantiate(t: Any, aval: ShapedArray | None = None) -> Any:
    """A real array for a possibly symbolic zero."""
    if type(t) is Zero:
        return ad_util.zeros(t.aval)
    return t


def jvp_jaxpr(closed: ClosedJaxpr, nonzeros: Sequence[bool],
              instantiate_out: bool | Sequence[bool] = True
              ) -> tuple[ClosedJaxpr, list[bool]]:
    """The jaxpr (primals, nonzero tangents) -> (primals out, nonzero tangents out).

    Returns it with which output tangents are nonzero.
    """
    n = len(closed.in_avals)
    tangent_avals = [a for a, nz in zip(closed.in_avals, nonzeros) if nz]
    out_nz: list[bool] = []

    def f(*args: Any) -> list[Any]:
        primals, ts = list(args[:n]), iter(args[n:])
        tangents = [next(ts) if nz else Zero(a) for a, nz in zip(closed.in_avals, nonzeros)]
        outs, touts = jvp_flat(lambda *xs: eval_jaxpr(closed.jaxpr, closed.consts, *xs),
                               primals, tangents)
        inst = ([instantiate_out] * len(outs) if isinstance(instantiate_out, bool)
                else instantiate_out)
        touts = [instantiate(t) if i and is_differentiable(get_aval(o)) else t
                 for t, i, o in zip(touts, inst, outs)]
        out_nz[:] = [type(t) is not Zero for t in touts]
        return outs + [t for t in touts if type(t) is not Zero]

    return trace_to_jaxpr(f, list(closed.in_avals) + tangent_avals), out_nz

