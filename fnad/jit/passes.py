"""Optimization passes of the jit compiler: each is ClosedJaxpr -> ClosedJaxpr and keeps
`typecheck` green. `optimize` runs them in order: inlining of nested `jit_call`s,
algebraic simplification, common-subexpression elimination, constant folding, pooling
windows (`pooling.py`), DCE.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from fnad.core.ir import ClosedJaxpr, Eqn, Jaxpr, Literal, Var
from fnad.core.primitive import Broadcast, Elementwise, JaxprCall
from fnad.jit.hoist import hoist_loop_invariants
from fnad.jit.pooling import pool_windows

Atom = Var | Literal
Pass = Callable[[ClosedJaxpr], ClosedJaxpr]


def _effectful(eqn: Eqn) -> bool:
    return eqn.prim.effectful


def _inlined_call(eqn: Eqn) -> ClosedJaxpr | None:
    """The sub-jaxpr a call primitive (`JaxprCall` kernel rule) runs, to inline."""
    k = eqn.prim.kernel
    return eqn.params[k.param] if type(k) is JaxprCall else None


class _Rewriter:
    """Rebuilds a jaxpr equation by equation, renaming atoms as rewrites replace them."""

    def __init__(self, closed: ClosedJaxpr):
        self.jaxpr = closed.jaxpr
        self.constvars = list(closed.jaxpr.constvars)
        self.consts = list(closed.consts)
        self.env: dict[int, Atom] = {}
        self.eqns: list[Eqn] = []

    def read(self, a: Atom) -> Atom:
        return self.env.get(id(a), a) if type(a) is Var else a

    def inputs(self, eqn: Eqn) -> Eqn:
        ins = [self.read(a) for a in eqn.inputs]
        if all(x is y for x, y in zip(ins, eqn.inputs)):
            return eqn
        return eqn.replace(inputs=ins)

    def replace(self, outputs: Sequence[Var], atoms: Sequence[Atom]) -> None:
        self.env.update((id(v), a) for v, a in zip(outputs, atoms))

    def add_const(self, value: Any, aval: Any) -> Var:
        """A constvar bound to `value` (one per distinct constant object)."""
        for v, c in zip(self.constvars, self.consts):
            if c is value:
                return v
        v = Var(aval)
        self.constvars.append(v)
        self.consts.append(value)
        return v

    def build(self) -> ClosedJaxpr:
        outvars = [self.read(a) for a in self.jaxpr.outvars]
        return ClosedJaxpr(Jaxpr(self.constvars, self.jaxpr.invars, self.eqns, outvars),
                           self.consts)


# ---------------------------------------------------------------------------- inlining

def inline_jit_calls(closed: ClosedJaxpr) -> ClosedJaxpr:
    """Replace every nested call (`jit_call`) by the equations of its jaxpr (fresh
    variables)."""
    if not any(type(e.prim.kernel) is JaxprCall for e in closed.jaxpr.eqns):
        return closed
    rw = _Rewriter(closed)

    def inline(inner: ClosedJaxpr, ins: Sequence[Atom]) -> list[Atom]:
        local: dict[int, Atom] = {id(v): rw.add_const(c, v.aval)
                                  for v, c in zip(inner.jaxpr.constvars, inner.consts)}
        local.update((id(v), a) for v, a in zip(inner.jaxpr.invars, ins))

        def read(a: Atom) -> Atom:
            return local.get(id(a), a) if type(a) is Var else a

        for e in inner.jaxpr.eqns:
            e_ins = [read(a) for a in e.inputs]
            sub = _inlined_call(e)
            if sub is not None:
                local.update((id(v), a) for v, a in zip(e.outputs, inline(sub, e_ins)))
                continue
            outs = [Var(v.aval) for v in e.outputs]
            local.update((id(v), o) for v, o in zip(e.outputs, outs))
            rw.eqns.append(e.replace(inputs=e_ins, outputs=outs))
        return [read(a) for a in inner.jaxpr.outvars]

    for eqn in closed.jaxpr.eqns:
        eqn = rw.inputs(eqn)
        sub = _inlined_call(eqn)
        if sub is not None:
            rw.replace(eqn.outputs, inline(sub, eqn.inputs))
        else:
            rw.eqns.append(eqn)
    return rw.build()


# ---------------------------------------------------------------------------- DCE

def dce(closed: ClosedJaxpr) -> ClosedJaxpr:
    """Drop equations whose outputs are never used (effectful ones stay) and unused consts."""
    jaxpr = closed.jaxpr
    live = {id(a) for a in jaxpr.outvars if type(a) is Var}
    kept = []
    for eqn in reversed(jaxpr.eqns):
        if _effectful(eqn) or any(id(v) in live for v in eqn.outputs):
            kept.append(eqn)
            live.update(id(a) for a in eqn.inputs if type(a) is Var)
    kept.reverse()
    consts = [(v, c) for v, c in zip(jaxpr.constvars, closed.consts) if id(v) in live]
    if len(kept) == len(jaxpr.eqns) and len(consts) == len(jaxpr.constvars):
        return closed
    return ClosedJaxpr(Jaxpr([v for v, _ in consts], jaxpr.invars, kept, jaxpr.outvars),
                       [c for _, c in consts])


# ---------------------------------------------------------------------------- CSE

def _atom_key(a: Atom) -> Any:
    if type(a) is Var:
        return id(a)
    v = np.asarray(a.value)
    return ("literal", v.dtype.str, v.tobytes())


def _eqn_key(eqn: Eqn) -> Any:
    key = (eqn.prim, tuple(_atom_key(a) for a in eqn.inputs), tuple(sorted(eqn.params.items())))
    try:
        hash(key)
    except TypeError:
        return None
    return key


def cse(closed: ClosedJaxpr) -> ClosedJaxpr:
    """Reuse the outputs of an earlier equation with the same primitive, inputs and params."""
    rw = _Rewriter(closed)
    seen: dict[Any, Eqn] = {}
    for eqn in closed.jaxpr.eqns:
        eqn = rw.inputs(eqn)
        key = None if _effectful(eqn) else _eqn_key(eqn)
        if key is not None:
            prev = seen.get(key)
            if prev is not None:
                rw.replace(eqn.outputs, prev.outputs)
                continue
            seen[key] = eqn
        rw.eqns.append(eqn)
    return rw.build()


# ---------------------------------------------------------------------------- constant folding

FOLD_MAX_SIZE = 256  # elements: larger results stay computed at run time (no big constants)


def _has_subjaxpr(eqn: Eqn) -> bool:
    return any(isinstance(p, ClosedJaxpr) or (isinstance(p, tuple) and p and
                                              isinstance(p[0], ClosedJaxpr))
               for p in eqn.params.values())


def fold_constants(closed: ClosedJaxpr, max_size: int = FOLD_MAX_SIZE) -> ClosedJaxpr:
    """Evaluate now the equations whose inputs are all constants and whose outputs are small;
    rank-0 results become literals, others new constants."""
    from fnad.core.trace import Tracer
    rw = _Rewriter(closed)
    known: dict[int, Any] = {id(v): c for v, c in zip(closed.jaxpr.constvars, closed.consts)
                             if not isinstance(c, Tracer)}

    def value(a: Atom) -> Any:
        return a.value if type(a) is Literal else known[id(a)]

    for eqn in closed.jaxpr.eqns:
        eqn = rw.inputs(eqn)
        impl = eqn.prim.impls.get("numpy")
        if (impl is None or _effectful(eqn) or _has_subjaxpr(eqn)
                or any(type(a) is Var and id(a) not in known for a in eqn.inputs)
                or any(v.aval.size > max_size for v in eqn.outputs)):
            rw.eqns.append(eqn)
            continue
        try:
            with np.errstate(all="ignore"):
                out = impl(*(value(a) for a in eqn.inputs), **eqn.params)
        except Exception:  # leave it to run time, where the error is reported properly
            rw.eqns.append(eqn)
            continue
        outs = out if eqn.prim.multiple_results else [out]
        atoms = []
        for v, o in zip(eqn.outputs, outs):
            o = np.asarray(o, dtype=v.aval.dtype)
            atom = Literal(o, v.aval) if o.ndim == 0 else rw.add_const(o, v.aval)
            if type(atom) is Var:
                known[id(atom)] = o
            atoms.append(atom)
        rw.replace(eqn.outputs, atoms)
    return rw.build()


# ---------------------------------------------------------------------------- simplification

def _scalar_operands(eqn: Eqn, producer: dict[int, Eqn]) -> Eqn:
    """Feed an elementwise equation the scalar behind a broadcast of it, as long as the
    rules still give the same output."""
    if type(eqn.prim.kernel) is not Elementwise:
        return eqn
    ins = list(eqn.inputs)
    for i, a in enumerate(ins):
        p = producer.get(id(a)) if type(a) is Var else None
        if p is None or type(p.prim.kernel) is not Broadcast or p.inputs[0].aval.shape != ():
            continue
        trial = ins[:i] + [p.inputs[0]] + ins[i + 1:]
        try:
            out = eqn.prim.abstract_eval(*(t.aval for t in trial), **eqn.params)
        except Exception:
            continue
        if (list(out) if eqn.prim.multiple_results else [out]) == [v.aval for v in eqn.outputs]:
            ins = trial
    return eqn if ins == eqn.inputs else eqn.replace(inputs=ins)


def simplify(closed: ClosedJaxpr) -> ClosedJaxpr:
    """Algebraic simplification: each primitive's own `simplify` rule (x*1, x+0, neg(neg x),
    a transpose of a transpose, a reshape of a reshape, identity conversions and
    broadcasts, a transposed matrix product computed with its operands swapped...), and
    scalars fed to elementwise primitives directly instead of through a broadcast."""
    rw = _Rewriter(closed)
    producer: dict[int, Eqn] = {}
    uses: dict[int, int] = {}
    for a in [a for e in closed.jaxpr.eqns for a in e.inputs] + closed.jaxpr.outvars:
        uses[id(a)] = uses.get(id(a), 0) + 1
    def made_by(a: Atom) -> Eqn | None:
        return producer.get(id(a)) if type(a) is Var else None

    def n_uses(a: Atom) -> int:
        return uses.get(id(a), 0)

    for eqn in closed.jaxpr.eqns:
        eqn = _scalar_operands(rw.inputs(eqn), producer)
        rule = eqn.prim.simplify
        result = rule(eqn, made_by, n_uses) if rule is not None else None
        if result is None:
            result = eqn
        if type(result) is not Eqn:
            rw.replace(eqn.outputs, [result])
            continue
        rw.eqns.append(result)
        producer.update((id(v), result) for v in result.outputs)
    return rw.build()


# ---------------------------------------------------------------------------- pipeline

PIPELINE: tuple[Pass, ...] = (inline_jit_calls, simplify, cse, fold_constants, simplify,
                              pool_windows, hoist_loop_invariants, cse, dce)


def optimize(closed: ClosedJaxpr, passes: Sequence[Pass] = PIPELINE) -> ClosedJaxpr:
    """Run the passes in order (inline, simplify, CSE, fold, simplify, pooling,
    loop-invariant code motion, CSE, DCE)."""
    for p in passes:
        closed = p(closed)
    return closed
