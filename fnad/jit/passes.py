"""Optimization passes of the jit compiler: each is ClosedJaxpr -> ClosedJaxpr and keeps
`typecheck` green. `optimize` runs them in order: inlining of nested `jit_call`s,
algebraic simplification, common-subexpression elimination, constant folding, DCE.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from fnad.core.ir import ClosedJaxpr, Eqn, Jaxpr, Literal, Var

Atom = Var | Literal
Pass = Callable[[ClosedJaxpr], ClosedJaxpr]


def _effectful(eqn: Eqn) -> bool:
    return getattr(eqn.prim, "effectful", False)


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
    """Replace every nested `jit_call` by the equations of its jaxpr (fresh variables)."""
    if not any(e.prim.name == "jit_call" for e in closed.jaxpr.eqns):
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
            if e.prim.name == "jit_call":
                local.update((id(v), a) for v, a in zip(e.outputs, inline(e.params["jaxpr"],
                                                                            e_ins)))
                continue
            outs = [Var(v.aval) for v in e.outputs]
            local.update((id(v), o) for v, o in zip(e.outputs, outs))
            rw.eqns.append(e.replace(inputs=e_ins, outputs=outs))
        return [read(a) for a in inner.jaxpr.outvars]

    for eqn in closed.jaxpr.eqns:
        eqn = rw.inputs(eqn)
        if eqn.prim.name == "jit_call":
            rw.replace(eqn.outputs, inline(eqn.params["jaxpr"], eqn.inputs))
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

def _is_elementwise(prim: Any) -> bool:
    """Elementwise primitives take rank-0 operands in place of full ones."""
    kernel = getattr(prim, "kernel", None)
    return (isinstance(kernel, str) and "{0}" in kernel) or prim.name == "select_n"


def _literal_equals(a: Atom, x: float) -> bool:
    return type(a) is Literal and bool(np.all(np.asarray(a.value) == x))


def _scalar_operands(eqn: Eqn, producer: dict[int, Eqn]) -> Eqn:
    """Feed an elementwise equation the scalar behind a broadcast_in_dim of it, as long as
    the rules still give the same output."""
    if not _is_elementwise(eqn.prim):
        return eqn
    ins = list(eqn.inputs)
    for i, a in enumerate(ins):
        p = producer.get(id(a)) if type(a) is Var else None
        if p is None or p.prim.name != "broadcast_in_dim" or p.inputs[0].aval.shape != ():
            continue
        trial = ins[:i] + [p.inputs[0]] + ins[i + 1:]
        try:
            out = eqn.prim.abstract_eval(*(t.aval for t in trial), **eqn.params)
        except Exception:
            continue
        if (list(out) if eqn.prim.multiple_results else [out]) == [v.aval for v in eqn.outputs]:
            ins = trial
    return eqn if ins == eqn.inputs else eqn.replace(inputs=ins)


def _swapped_dot(eqn: Eqn, dot: Eqn) -> Eqn | None:
    """transpose(dot_general(a, b)) that only swaps the free axes of a and b is
    dot_general(b, a): the product is written in the layout its users read."""
    (ac, bc), (ab, bb) = dot.params["dimension_numbers"]
    if ab or bb:
        return None
    na = dot.inputs[0].aval.ndim - len(ac)
    nb = dot.inputs[1].aval.ndim - len(bc)
    if eqn.params["permutation"] != (*range(na, na + nb), *range(na)):
        return None
    return dot.replace(inputs=[dot.inputs[1], dot.inputs[0]], outputs=eqn.outputs,
                       params={**dot.params, "dimension_numbers": ((bc, ac), (bb, ab))})


def _rewrite(eqn: Eqn, producer: dict[int, Eqn], uses: dict[int, int]) -> Atom | Eqn:
    """One equation's simplification: an atom that replaces its output, or an equation."""
    name, ins, params = eqn.prim.name, eqn.inputs, eqn.params
    out = eqn.outputs[0] if len(eqn.outputs) == 1 else None

    def same(a: Atom) -> bool:
        return out is not None and a.aval == out.aval

    def made_by(a: Atom, prim_name: str) -> Eqn | None:
        p = producer.get(id(a)) if type(a) is Var else None
        return p if p is not None and p.prim.name == prim_name else None

    if name == "mul":
        for a, b in ((ins[0], ins[1]), (ins[1], ins[0])):
            if _literal_equals(b, 1) and same(a):
                return a
    elif name == "add":
        for a, b in ((ins[0], ins[1]), (ins[1], ins[0])):
            if _literal_equals(b, 0) and same(a):
                return a
    elif name == "sub":
        if _literal_equals(ins[1], 0) and same(ins[0]):
            return ins[0]
    elif name == "neg":
        p = made_by(ins[0], "neg")
        if p is not None:
            return p.inputs[0]
    elif name == "convert_element_type":
        if same(ins[0]):
            return ins[0]
    elif name == "transpose":
        perm = params["permutation"]
        if perm == tuple(range(len(perm))):
            return ins[0]
        p = made_by(ins[0], "transpose")
        if p is not None:
            inner = p.params["permutation"]
            composed = tuple(inner[i] for i in perm)
            if composed == tuple(range(len(composed))):
                return p.inputs[0]
            return eqn.replace(inputs=[p.inputs[0]], params={**params, "permutation": composed})
        p = made_by(ins[0], "dot_general")
        if p is not None and uses.get(id(ins[0])) == 1:
            return _swapped_dot(eqn, p) or eqn
    elif name == "reshape":
        src = ins[0]
        p = made_by(src, "reshape")
        if p is not None:
            src = p.inputs[0]
        if same(src):
            return src
        if src is not ins[0]:
            return eqn.replace(inputs=[src])
    elif name == "broadcast_in_dim":
        if same(ins[0]):
            return ins[0]
    return eqn


def simplify(closed: ClosedJaxpr) -> ClosedJaxpr:
    """Algebraic simplification: x*1, 1*x, x+0, 0+x, x-0, neg(neg x), transpose of a
    transpose, reshape of a reshape, identity conversions/broadcasts, scalars fed to
    elementwise primitives directly instead of through a broadcast, and a transposed
    matrix product computed with its operands swapped."""
    rw = _Rewriter(closed)
    producer: dict[int, Eqn] = {}
    uses: dict[int, int] = {}
    for a in [a for e in closed.jaxpr.eqns for a in e.inputs] + closed.jaxpr.outvars:
        uses[id(a)] = uses.get(id(a), 0) + 1
    for eqn in closed.jaxpr.eqns:
        eqn = _scalar_operands(rw.inputs(eqn), producer)
        result = _rewrite(eqn, producer, uses)
        if type(result) is not Eqn:
            rw.replace(eqn.outputs, [result])
            continue
        rw.eqns.append(result)
        producer.update((id(v), result) for v in result.outputs)
    return rw.build()


# ---------------------------------------------------------------------------- pipeline

PIPELINE: tuple[Pass, ...] = (inline_jit_calls, simplify, cse, fold_constants, simplify, dce)


def optimize(closed: ClosedJaxpr, passes: Sequence[Pass] = PIPELINE) -> ClosedJaxpr:
    """Run the passes in order (inline, simplify, CSE, fold, simplify, DCE)."""
    for p in passes:
        closed = p(closed)
    return closed
