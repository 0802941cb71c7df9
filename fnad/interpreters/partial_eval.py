"""Partial evaluation: run what is known now, stage what is not into a jaxpr.

`linearize` is `jvp` run under a `PartialEvalTrace` in which primals are known and
tangents unknown. Known work runs at the parent level; tangent work is staged into a
*linear* jaxpr whose constants are the residuals the backward pass needs.
`partial_eval_jaxpr` is the jaxpr -> jaxpr version that primitives holding sub-jaxprs
(`jit_call`, `scan`, `cond`) use to split their body into a known and an unknown part.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fnad.core.ir import ClosedJaxpr, Jaxpr, ShapedArray, eval_jaxpr, get_aval
from fnad.core.primitive import Zero
from fnad.core.trace import state
from fnad.interpreters.jvp import JVPTrace, JVPTracer, is_differentiable
from fnad.interpreters.staging import StagedTracer, StagingTrace, trace_to_jaxpr


class PartialEvalTrace(StagingTrace):
    """Binds known values on the parent; stages anything that touches an unknown one."""

    def __init__(self, parent: Any, transform: str = "linearize"):
        super().__init__(parent, transform)

    def is_unknown(self, x: Any) -> bool:
        return type(x) is StagedTracer and x._trace is self

    def process_primitive(self, prim: Any, args: tuple, params: dict) -> Any:
        for a in args:
            if type(a) is StagedTracer and a._trace is self:
                break
        else:
            return self.bind_known(prim, args, params)
        if prim.partial_eval is not None:
            return prim.partial_eval(self, args, params)
        return super().process_primitive(prim, args, params)

    def stage(self, prim: Any, args: Sequence[Any], params: dict) -> Any:
        """Stage one equation (for `partial_eval` rules)."""
        return StagingTrace.process_primitive(self, prim, tuple(args), params)

    def bind_known(self, prim: Any, args: Sequence[Any], params: dict) -> Any:
        """Bind on the parent (for `partial_eval` rules)."""
        saved = state.trace
        state.trace = self.parent
        try:
            return self.parent.process_primitive(prim, tuple(args), params)
        finally:
            state.trace = saved


class Linearized:
    """The linear part of a function at a point: tangents in -> tangents out.

    Only differentiable inputs have a tangent input (`in_mask`); outputs whose tangent is
    a symbolic zero have none (`out_mask`). `jaxpr.consts` are the residuals.
    """

    def __init__(self, jaxpr: ClosedJaxpr, in_avals: list[ShapedArray], in_mask: list[bool],
                 out_avals: list[ShapedArray], out_mask: list[bool]):
        self.jaxpr, self.in_avals, self.in_mask = jaxpr, in_avals, in_mask
        self.out_avals, self.out_mask = out_avals, out_mask
        # () -> the backward pass's hook for transposing one equation faster, or None
        # where it does not apply now (`fnad.eager`: eagerly only)
        self.transposer: Callable[[], Callable[..., Any] | None] | None = None

    def __call__(self, *tangents: Any) -> list[Any]:
        ins = [t for t, m in zip(tangents, self.in_mask) if m and type(t) is not Zero]
        if len(ins) != sum(self.in_mask):  # some tangent given as a symbolic zero
            from fnad.interpreters.jvp import instantiate
            ins = [instantiate(t) for t, m in zip(tangents, self.in_mask) if m]
        outs = iter(eval_jaxpr(self.jaxpr.jaxpr, self.jaxpr.consts, *ins))
        return [next(outs) if m else Zero(a) for a, m in zip(self.out_avals, self.out_mask)]


def linearize_flat(f: Callable[..., Sequence[Any]], primals: Sequence[Any],
                   jvp_trace: Callable[[PartialEvalTrace], JVPTrace] = JVPTrace
                   ) -> tuple[list[Any], Linearized]:
    """Evaluate `f` at `primals` and stage its linearization (flat in, flat out): `jvp` run
    by `jvp_trace` (a `JVPTrace`, or `fnad.eager`'s caching one) over partial evaluation."""
    in_avals = [get_aval(p) for p in primals]
    in_mask = [is_differentiable(a) for a in in_avals]
    pe = PartialEvalTrace(state.trace)
    jt = jvp_trace(pe)
    tangent_args = [pe.new_arg(a) for a, m in zip(in_avals, in_mask) if m]
    targs = iter(tangent_args)
    ins = [JVPTracer(jt, p, next(targs)) if m else p for p, m in zip(primals, in_mask)]
    try:
        with jt:
            outs = f(*ins)
        pairs = [jt.unpack(o) for o in outs]
        primals_out = [p for p, _ in pairs]
        out_mask = [t is not None and type(t) is not Zero for _, t in pairs]
        jaxpr = pe.build(tangent_args, [t for _, t in pairs if t is not None and type(t) is not Zero],
                         dce=True)
    finally:
        jt.finish()
        pe.finish()
    return primals_out, Linearized(jaxpr, in_avals, in_mask,
                                   [get_aval(p) for p in primals_out], out_mask)


def partial_eval_jaxpr(closed: ClosedJaxpr, unknowns: Sequence[bool],
                       instantiate: bool | Sequence[bool] = False
                       ) -> tuple[ClosedJaxpr, ClosedJaxpr, list[bool], int]:
    """Split `closed` into a known part and an unknown part.

    known:   known inputs -> known outputs + residuals
    unknown: residuals + unknown inputs -> unknown outputs
    Returns (known, unknown, out_unknowns, number of residuals). An output marked in
    `instantiate` is made unknown even when it is known.
    """
    in_avals = closed.in_avals
    n_out = len(closed.out_avals)
    inst = [instantiate] * n_out if isinstance(instantiate, bool) else list(instantiate)
    result: dict[str, Any] = {}

    def known_fn(*known_args: Any) -> list[Any]:
        pe = PartialEvalTrace(state.trace, "partial_eval")
        kargs = iter(known_args)
        unknown_args = [pe.new_arg(a) for a, u in zip(in_avals, unknowns) if u]
        uargs = iter(unknown_args)
        args = [next(uargs) if u else next(kargs) for u in unknowns]
        try:
            with pe:
                outs = eval_jaxpr(closed.jaxpr, closed.consts, *args)
            out_unknown = [pe.is_unknown(o) or i for o, i in zip(outs, inst)]
            unknown_part = pe.build(unknown_args, [o for o, u in zip(outs, out_unknown) if u],
                                    dce=True)
        finally:
            pe.finish()
        jaxpr = unknown_part.jaxpr
        result["unknown"] = ClosedJaxpr(
            Jaxpr([], jaxpr.constvars + jaxpr.invars, jaxpr.eqns, jaxpr.outvars), [])
        result["out_unknown"] = out_unknown
        result["num_res"] = len(unknown_part.consts)
        return [o for o, u in zip(outs, out_unknown) if not u] + unknown_part.consts

    known = trace_to_jaxpr(known_fn, [a for a, u in zip(in_avals, unknowns) if not u])
    return known, result["unknown"], result["out_unknown"], result["num_res"]
