"""Loop-invariant code motion: work a loop body (`scan`, `while_loop`) would redo at every
iteration moves out of the loop, so the loop runs only what really depends on its carry.

- Equations whose inputs are all loop-invariant (the body's constants, and values made of
  them only: transposes, broadcasts, conversions, any pure equation) run once before the
  loop, and their results enter it as new constants.
- In a `scan`, equations that read only constants and the scanned slices (not the carry)
  run once before the loop on the whole stacked `xs`, batched by `vmap`; their per-step
  values enter as new `xs`: one large matrix product instead of `length` small ones.
- A matrix product in a loop that reads a constant matrix transposed (`g @ w.T`, as the
  backward step of a recurrent layer does) reads `transpose(w)` instead: the transpose
  leaves the loop, which receives it C-contiguous, and BLAS multiplies untransposed
  operands faster (OpenBLAS: 28 vs 16 us for 32x128 @ (128x128).T).
- A `scan` carry that only accumulates a matrix product or a sum (`acc + x_t^T g_t`, as the
  weight gradients of a reverse scan do) leaves the loop: the loop stacks the product's
  per-step operands as new ys, and one contraction over them after the loop adds them all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fnad.core.errors import FnadError
from fnad.core.ir import ClosedJaxpr, Eqn, Jaxpr, Literal, Var
from fnad.core.primitive import Broadcast
from fnad.interpreters.batching import batch_jaxpr
from fnad.lax.control_flow import scan_p, while_p
from fnad.lax.elementwise import add_p
from fnad.lax.linalg import BLAS_DTYPES, dot_general_p
from fnad.lax.reduction import reduce_sum_p
from fnad.lax.structural import broadcast_in_dim_p, reshape_p, transpose_p

Atom = Var | Literal

# The per-step values a scan's work makes, once stacked before or after the loop, may take
# this many bytes, or twice the bytes of the stacked values they are made from, whichever
# is more; larger work stays in the loop.
STACKED_BYTES = 1 << 24


def _fits(length: int, made: Sequence[Eqn], sources: Sequence[Var]) -> bool:
    def size(vs: Sequence[Var]) -> int:
        return length * sum(v.aval.size * v.aval.dtype.itemsize for v in vs)
    return size([v for e in made for v in e.outputs]) <= max(STACKED_BYTES, 2 * size(sources))


class _Outer:
    """The jaxpr being rebuilt: its equations, and its constants (which a loop body's own
    constants join when an equation reading them leaves the loop)."""

    def __init__(self, closed: ClosedJaxpr):
        self.constvars, self.consts = list(closed.jaxpr.constvars), list(closed.consts)
        self.eqns: list[Eqn] = []
        self.producer: dict[int, Eqn] = {}

    def add(self, eqn: Eqn) -> None:
        self.eqns.append(eqn)
        self.producer.update((id(v), eqn) for v in eqn.outputs)

    def emit(self, prim: Any, ins: list[Atom], aval: Any, source_info: Any, **params: Any
             ) -> Var:
        out = Var(aval)
        self.add(Eqn(prim, ins, [out], params, source_info))
        return out

    def const(self, value: Any, aval: Any) -> Var:
        v = Var(aval)
        self.constvars.append(v)
        self.consts.append(value)
        return v

    def lift(self, eqns: Sequence[Eqn], env: dict[int, Atom],
             named: dict[int, Var] | None = None) -> None:
        """Append copies of body equations, reading inputs through `env` (body var id ->
        outer atom) and recording their outputs in it: fresh vars, or the outer var
        `named` gives for that body var."""
        named = named or {}
        for e in eqns:
            ins = [env[id(a)] if type(a) is Var else a for a in e.inputs]
            outs = [named.get(id(v)) or Var(v.aval) for v in e.outputs]
            env.update((id(v), o) for v, o in zip(e.outputs, outs))
            self.add(e.replace(inputs=ins, outputs=outs))


def _closure(eqns: Sequence[Eqn], known: set[int], movable: Callable[[Eqn], bool]
             ) -> list[Eqn]:
    """The equations (in order) computable from the `known` vars alone."""
    known, moved = set(known), []
    for e in eqns:
        if movable(e) and all(type(a) is not Var or id(a) in known for a in e.inputs):
            moved.append(e)
            known.update(id(v) for v in e.outputs)
    return moved


def _used(eqns: Sequence[Eqn], outvars: Sequence[Atom]) -> set[int]:
    return {id(a) for e in eqns for a in e.inputs if type(a) is Var} | {
        id(a) for a in outvars if type(a) is Var}


def _prune(invars: Sequence[Var], atoms: Sequence[Atom], used: set[int]
           ) -> tuple[list[Var], list[Atom]]:
    """The inputs a body still reads, with the outer atoms that feed them."""
    kept = [(v, a) for v, a in zip(invars, atoms) if id(v) in used]
    return [v for v, _ in kept], [a for _, a in kept]


def _hoistable(eqn: Eqn) -> bool:
    # A broadcast of a scalar stays: it is free, and simplification feeds the scalar itself
    # to the elementwise work that reads it (fused kernels then take it as an argument).
    return not eqn.prim.effectful and not (type(eqn.prim.kernel) is Broadcast
                                           and eqn.inputs[0].aval.ndim == 0)


def _untransposed_products(body: Jaxpr, n_consts: int) -> Jaxpr:
    """`dot_general(x, w)` contracting the last axis of a constant matrix `w` becomes
    `dot_general(x, transpose(w))` contracting its first axis (same result), for `_licm` to
    move the transpose out of the loop."""
    consts = {id(v) for v in body.invars[:n_consts]}
    eqns, changed = [], False
    for e in body.eqns:
        if e.prim is dot_general_p:
            (xc, yc), (xb, _) = e.params["dimension_numbers"]
            x, w = e.inputs
            if (not xb and yc == (1,) and type(w) is Var and id(w) in consts
                    and w.aval.ndim == 2 and x.aval.ndim == 2
                    and w.aval.dtype in BLAS_DTYPES):
                rows, cols = w.aval.shape
                wt = Var(w.aval.update(shape=(cols, rows)))
                eqns.append(Eqn(transpose_p, [w], [wt], {"permutation": (1, 0)},
                                e.source_info))
                e = e.replace(inputs=[x, wt],
                              params=dict(e.params, dimension_numbers=((xc, (0,)), ((), ()))))
                changed = True
        eqns.append(e)
    return Jaxpr(body.constvars, body.invars, eqns, body.outvars) if changed else body


def _licm(body: Jaxpr, n_consts: int, const_atoms: Sequence[Atom], outer: _Outer
          ) -> tuple[Jaxpr, list[Atom]] | None:
    """Move the body's invariant equations before the loop. Returns the new body, whose
    constants (its first inputs) are fed by the returned atoms, or None when none moved."""
    body = _untransposed_products(body, n_consts)
    consts = body.invars[:n_consts]
    moved = _closure(body.eqns, {id(v) for v in consts}, _hoistable)
    if not moved:
        return None
    env = {id(v): a for v, a in zip(consts, const_atoms)}
    outer.lift(moved, env)
    gone = {id(e) for e in moved}
    kept = [e for e in body.eqns if id(e) not in gone]
    made = [v for e in moved for v in e.outputs]
    invars, atoms = _prune([*consts, *made], [*const_atoms, *(env[id(v)] for v in made)],
                           _used(kept, body.outvars))
    return Jaxpr([], [*invars, *body.invars[n_consts:]], kept, body.outvars), atoms


def _opened(closed: ClosedJaxpr, atoms: Sequence[Atom], outer: _Outer
            ) -> tuple[Jaxpr, list[Atom]]:
    """The body with its own constants turned into leading inputs fed by outer constants."""
    j = closed.jaxpr
    if not closed.consts:
        return j, list(atoms)
    new = [outer.const(c, v.aval) for v, c in zip(j.constvars, closed.consts)]
    return Jaxpr([], [*j.constvars, *j.invars], j.eqns, j.outvars), [*new, *atoms]


# ---------------------------------------------------------------------------- scan

class _Scan:
    """A scan equation taken apart: body, operand atoms by role, and output vars."""

    def __init__(self, eqn: Eqn, outer: _Outer):
        p = eqn.params
        self.eqn, self.length = eqn, p["length"]
        nc, nk = p["num_consts"], p["num_carry"]
        self.body, ins = _opened(p["jaxpr"], eqn.inputs, outer)
        nc += len(ins) - len(eqn.inputs)
        self.consts, self.carry, self.xs = ins[:nc], ins[nc:nc + nk], ins[nc + nk:]
        self.carry_out, self.ys_out = eqn.outputs[:nk], eqn.outputs[nk:]

    def parts(self) -> tuple[list[Var], list[Var], list[Var]]:
        nc, nk = len(self.consts), len(self.carry)
        inv = self.body.invars
        return inv[:nc], inv[nc:nc + nk], inv[nc + nk:]

    def eqn_out(self) -> Eqn:
        params = dict(self.eqn.params, jaxpr=ClosedJaxpr(self.body, []),
                      num_consts=len(self.consts), num_carry=len(self.carry))
        return Eqn(scan_p, [*self.consts, *self.carry, *self.xs],
                   [*self.carry_out, *self.ys_out], params, self.eqn.source_info)


def _scan_invariants(s: _Scan, outer: _Outer) -> None:
    r = _licm(s.body, len(s.consts), s.consts, outer)
    if r is not None:
        s.body, s.consts = r


def _batched(j: Jaxpr, n_invariant: int, length: int) -> ClosedJaxpr | None:
    """`j` vmapped over a leading axis of `length` on all inputs but the first
    `n_invariant`, every output batched; None when a primitive has no batch rule."""
    n = len(j.invars) - n_invariant
    try:
        return batch_jaxpr(ClosedJaxpr(j, []), length, [None] * n_invariant + [0] * n, True)[0]
    except FnadError:
        return None


def _lift_batched(batched: ClosedJaxpr, env: dict[int, Atom], outer: _Outer,
                  named: dict[int, Var] | None = None) -> None:
    env.update((id(v), outer.const(c, v.aval))
               for v, c in zip(batched.jaxpr.constvars, batched.consts))
    outer.lift(batched.jaxpr.eqns, env, named)


def _scan_batch_xs(s: _Scan, outer: _Outer) -> None:
    """Equations reading only constants and slices of xs run before the loop, vmapped over
    the whole sequence; the values the loop needs from them enter as new xs."""
    consts, carry, xs = s.parts()
    if not xs or s.length == 0:
        return
    moved = _closure(s.body.eqns, {id(v) for v in (*consts, *xs)},
                     lambda e: not e.prim.effectful)
    per_step = {id(v) for v in xs}
    for e in moved:
        if any(type(a) is Var and id(a) in per_step for a in e.inputs):
            per_step.update(id(v) for v in e.outputs)
    gone = {id(e) for e in moved if id(e.outputs[0]) in per_step} if moved else set()
    if not gone:
        return
    kept = [e for e in s.body.eqns if id(e) not in gone]
    used = _used(kept, s.body.outvars)
    frontier = [v for e in moved if id(e) in gone for v in e.outputs if id(v) in used]
    if not _fits(s.length, [e for e in moved if id(e) in gone], xs):
        return
    batched = _batched(Jaxpr([], [*consts, *xs], moved, frontier), len(consts), s.length)
    if batched is None:
        return
    env: dict[int, Atom] = {id(v): a for v, a in zip(batched.jaxpr.invars,
                                                     [*s.consts, *s.xs])}
    _lift_batched(batched, env, outer)
    stacked = [env.get(id(a), a) if type(a) is Var else a for a in batched.jaxpr.outvars]
    c_in, c_atoms = _prune(consts, s.consts, used)
    x_in, x_atoms = _prune([*xs, *frontier], [*s.xs, *stacked], used)
    s.body = Jaxpr([], [*c_in, *carry, *x_in], kept, s.body.outvars)
    s.consts, s.xs = c_atoms, x_atoms


def _sum_source(s: _Scan, k: int, producer: dict[int, Eqn], uses: dict[int, int]
                ) -> tuple[Eqn, Eqn, Eqn | None] | None:
    """(add, product, transpose or None) when carry k is `carry + product` (or `carry +
    transpose(product)`) and nothing else reads the carry or the product: a product is a
    `dot_general` without batch axes or a `reduce_sum`, of per-step values (not of loop
    constants)."""
    consts, carry, _ = s.parts()
    c, o = carry[k], s.body.outvars[k]
    add = producer.get(id(o)) if type(o) is Var else None
    if add is None or add.prim is not add_p or uses.get(id(o)) != 1 or uses.get(id(c)) != 1:
        return None
    others = [a for a in add.inputs if a is not c]
    if len(others) != 1 or type(others[0]) is not Var or uses.get(id(others[0])) != 1:
        return None
    m = others[0]
    if (m.aval.shape, m.aval.dtype) != (c.aval.shape, c.aval.dtype):
        return None
    prod, wrap = producer.get(id(m)), None
    if prod is not None and prod.prim is transpose_p:
        wrap, m = prod, prod.inputs[0]
        prod = producer.get(id(m)) if type(m) is Var and uses.get(id(m)) == 1 else None
    if prod is None:
        return None
    if prod.prim is dot_general_p:
        if any(prod.params["dimension_numbers"][1]):
            return None
    elif prod.prim is not reduce_sum_p:
        return None
    invariant = {id(v) for v in consts}
    if any(type(a) is not Var or id(a) in invariant for a in prod.inputs):
        return None
    return add, prod, wrap


def _stacked_product(prod: Eqn, stacked: list[Atom], length: int, outer: _Outer) -> Atom:
    """The sum over the scan axis of `prod` applied to each step's operands, as one
    equation over the stacked operands."""
    aval, info = prod.outputs[0].aval, prod.source_info
    if prod.prim is reduce_sum_p:
        axes = (0, *(a + 1 for a in prod.params["axes"]))
        return outer.emit(reduce_sum_p, stacked, aval, info, **dict(prod.params, axes=axes))
    (xc, yc), _ = prod.params["dimension_numbers"]
    if tuple(xc) == (0,) and tuple(yc) == (0,):  # x_t^T g_t: one GEMM over (T * rows)
        flat = []
        for a, per in zip(stacked, prod.inputs):
            shape = (length * per.aval.shape[0], *per.aval.shape[1:])
            flat.append(outer.emit(reshape_p, [a], per.aval.update(shape=shape), info,
                                   new_sizes=shape))
        return outer.emit(dot_general_p, flat, aval, info,
                          dimension_numbers=(((0,), (0,)), ((), ())))
    dn = (((0, *(d + 1 for d in xc)), (0, *(d + 1 for d in yc))), ((), ()))
    return outer.emit(dot_general_p, stacked, aval, info, dimension_numbers=dn)


class _Sum:
    """A carry that leaves the loop: its initial value and final var, the body's `add`,
    product and optional transpose equations, and the stacked operands of the product."""

    def __init__(self, carry: Var, init: Atom, final: Var, add: Eqn, prod: Eqn,
                 wrap: Eqn | None):
        self.carry, self.init, self.final = carry, init, final
        self.add, self.prod, self.wrap = add, prod, wrap
        self.stacked: list[Atom] = []

    def body_eqns(self) -> list[Eqn]:
        return [self.add, self.prod] + ([self.wrap] if self.wrap else [])

    def emit(self, length: int, outer: _Outer) -> None:
        total = _stacked_product(self.prod, self.stacked, length, outer)
        if self.wrap is not None:
            total = outer.emit(transpose_p, [total], self.wrap.outputs[0].aval,
                               self.wrap.source_info, **self.wrap.params)
        ins = [self.init if a is self.carry else total for a in self.add.inputs]
        outer.add(Eqn(add_p, ins, [self.final], self.add.params, self.add.source_info))


def _scan_sum_carries(s: _Scan) -> list[_Sum]:
    """Carries that only accumulate a product leave the loop; returns them, to be computed
    after it from the product's stacked operands (new ys of the loop, or its xs)."""
    if s.length == 0:
        return []
    producer = {id(v): e for e in s.body.eqns for v in e.outputs}
    uses: dict[int, int] = {}
    for a in [a for e in s.body.eqns for a in e.inputs] + list(s.body.outvars):
        if type(a) is Var:
            uses[id(a)] = uses.get(id(a), 0) + 1
    consts, carry, xs = s.parts()
    sums = {}
    for k in range(len(carry)):
        found = _sum_source(s, k, producer, uses)
        if found is not None:
            sums[k] = _Sum(carry[k], s.carry[k], s.carry_out[k], *found)
    if not sums:
        return []
    stacked_of: dict[int, Atom] = {id(v): a for v, a in zip(xs, s.xs)}
    new_ys: list[Var] = []
    for sm in sums.values():
        for a in sm.prod.inputs:
            if id(a) not in stacked_of:  # a per-step value: the loop stacks it as a new y
                new_ys.append(a)
                out = Var(a.aval.update(shape=(s.length, *a.aval.shape)))
                s.ys_out = [*s.ys_out, out]
                stacked_of[id(a)] = out
            sm.stacked.append(stacked_of[id(a)])
    gone = {id(e) for sm in sums.values() for e in sm.body_eqns()}
    keep = [k for k in range(len(carry)) if k not in sums]
    nk = len(carry)
    eqns = [e for e in s.body.eqns if id(e) not in gone]
    outvars = [*(s.body.outvars[k] for k in keep), *s.body.outvars[nk:], *new_ys]
    x_in, s.xs = _prune(xs, s.xs, _used(eqns, outvars))
    s.body = Jaxpr([], [*consts, *(carry[k] for k in keep), *x_in], eqns, outvars)
    s.carry = [s.carry[k] for k in keep]
    s.carry_out = [s.carry_out[k] for k in keep]
    return list(sums.values())


def _scan_broadcast_xs(s: _Scan, outer: _Outer) -> None:
    """An xs that is a value broadcast along the scan axis gives every step that value:
    the body reads it as a constant."""
    consts, carry, xs = s.parts()
    moved = []
    for i, (v, a) in enumerate(zip(xs, s.xs)):
        e = outer.producer.get(id(a)) if type(a) is Var else None
        if (e is not None and e.prim is broadcast_in_dim_p
                and tuple(e.params["broadcast_dimensions"]) == tuple(range(1, v.aval.ndim + 1))
                and e.inputs[0].aval.shape == v.aval.shape):
            moved.append(i)
    if moved:
        s.body = Jaxpr([], [*consts, *(xs[i] for i in moved), *carry,
                            *(v for i, v in enumerate(xs) if i not in moved)],
                       s.body.eqns, s.body.outvars)
        s.consts = [*s.consts, *(outer.producer[id(s.xs[i])].inputs[0] for i in moved)]
        s.xs = [a for i, a in enumerate(s.xs) if i not in moved]


def _scan_batch_ys(s: _Scan) -> Callable[[_Outer], None] | None:
    """Equations that only make ys (nothing the carry needs) and read only constants, xs
    and other ys leave the loop: after it they run once, vmapped over the stacked values.
    Returns what emits them after the scan, or None."""
    if s.length == 0:
        return None
    consts, carry, xs = s.parts()
    nk = len(carry)
    eqns, ys = s.body.eqns, s.body.outvars[nk:]
    stacked: dict[int, Atom] = {id(v): a for v, a in zip(xs, s.xs)}
    for y, out in zip(ys, s.ys_out):
        if type(y) is Var:
            stacked.setdefault(id(y), out)
    invariant = {id(v) for v in consts}
    carried = {id(a) for a in s.body.outvars[:nk]}
    users: dict[int, list[int]] = {}
    for e in eqns:
        for a in e.inputs:
            users.setdefault(id(a), []).append(id(e))
    moved = {id(e) for e in eqns if not e.prim.effectful}
    while True:  # shrink until each moved equation's inputs and users allow it
        now, avail = set(), invariant | set(stacked)
        for e in eqns:
            if id(e) in moved and all(type(a) is not Var or id(a) in avail for a in e.inputs):
                now.add(id(e))
                avail.update(id(v) for v in e.outputs)
        for e in reversed(eqns):
            if id(e) in now and any(id(v) in carried or any(
                    u not in now for u in users.get(id(v), [])) for v in e.outputs):
                now.discard(id(e))
        if now == moved:
            break
        moved = now
    made = {id(v) for e in eqns if id(e) in moved for v in e.outputs}
    out_at = [i for i, y in enumerate(ys) if type(y) is Var and id(y) in made]
    if not out_at:
        return None
    wanted = [ys[i] for i in out_at]
    if len({id(v) for v in wanted}) != len(wanted):  # a y returned twice: leave it
        return None
    moved_eqns = [e for e in eqns if id(e) in moved]
    read = list({id(a): a for e in moved_eqns for a in e.inputs
                 if type(a) is Var and id(a) not in made}.values())
    read.sort(key=lambda v: id(v) not in invariant)  # constants first
    if not _fits(s.length, moved_eqns, [v for v in read if id(v) not in invariant]):
        return None
    batched = _batched(Jaxpr([], read, moved_eqns, wanted),
                       sum(id(v) in invariant for v in read), s.length)
    if batched is None:
        return None
    bj = batched.jaxpr
    produced = {id(v) for e in bj.eqns for v in e.outputs}
    if (len({id(v) for v in bj.outvars}) != len(bj.outvars)
            or any(id(v) not in produced for v in bj.outvars)
            or any(v.aval != s.ys_out[i].aval for v, i in zip(bj.outvars, out_at))):
        return None
    named = {id(v): s.ys_out[i] for v, i in zip(bj.outvars, out_at)}
    const_atoms = {id(v): a for v, a in zip(consts, s.consts)}
    atoms = [const_atoms[id(v)] if id(v) in invariant else stacked[id(v)] for v in read]
    keep = [i for i in range(len(ys)) if i not in out_at]
    kept = [e for e in eqns if id(e) not in moved]
    outvars = [*s.body.outvars[:nk], *(ys[i] for i in keep)]
    used = _used(kept, outvars)
    c_in, s.consts = _prune(consts, s.consts, used)
    x_in, s.xs = _prune(xs, s.xs, used)
    s.body = Jaxpr([], [*c_in, *carry, *x_in], kept, outvars)
    s.ys_out = [s.ys_out[i] for i in keep]

    def emit(outer: _Outer) -> None:
        env: dict[int, Atom] = dict(zip((id(v) for v in bj.invars), atoms))
        _lift_batched(batched, env, outer, named)

    return emit


def _scan_invariant_ys(s: _Scan) -> list[tuple[Var, Atom]]:
    """ys that are loop constants leave the loop: returns (ys output, constant) pairs, each
    to be broadcast along the scan axis after it."""
    consts = {id(v): a for v, a in zip(s.parts()[0], s.consts)}
    nk = len(s.carry)
    ys = s.body.outvars[nk:]
    out = [i for i, y in enumerate(ys) if type(y) is Literal or id(y) in consts]
    if not out:
        return []
    found = [(s.ys_out[i], ys[i] if type(ys[i]) is Literal else consts[id(ys[i])])
             for i in out]
    s.body = Jaxpr([], s.body.invars, s.body.eqns,
                   [*s.body.outvars[:nk], *(y for i, y in enumerate(ys) if i not in out)])
    s.ys_out = [v for i, v in enumerate(s.ys_out) if i not in out]
    return found


def _scan(eqn: Eqn, outer: _Outer) -> None:
    s = _Scan(eqn, outer)
    _scan_broadcast_xs(s, outer)
    _scan_invariants(s, outer)
    _scan_batch_xs(s, outer)
    sums = _scan_sum_carries(s)
    after = _scan_batch_ys(s)
    invariant_ys = _scan_invariant_ys(s)
    outer.add(s.eqn_out())
    for sm in sums:
        sm.emit(s.length, outer)
    if after is not None:
        after(outer)
    for y, a in invariant_ys:
        outer.add(Eqn(broadcast_in_dim_p, [a], [y],
                      {"shape": y.aval.shape,
                       "broadcast_dimensions": tuple(range(1, y.aval.ndim))},
                      eqn.source_info))


# ---------------------------------------------------------------------------- while

def _while(eqn: Eqn, outer: _Outer) -> None:
    p = eqn.params
    ncc, nbc = p["cond_nconsts"], p["body_nconsts"]
    cond, c_atoms = _opened(p["cond_jaxpr"], eqn.inputs[:ncc], outer)
    body, b_atoms = _opened(p["body_jaxpr"], eqn.inputs[ncc:ncc + nbc], outer)
    r = _licm(cond, len(c_atoms), c_atoms, outer)
    if r is not None:
        cond, c_atoms = r
    r = _licm(body, len(b_atoms), b_atoms, outer)
    if r is not None:
        body, b_atoms = r
    params = dict(p, cond_jaxpr=ClosedJaxpr(cond, []), body_jaxpr=ClosedJaxpr(body, []),
                  cond_nconsts=len(c_atoms), body_nconsts=len(b_atoms))
    outer.add(Eqn(while_p, [*c_atoms, *b_atoms, *eqn.inputs[ncc + nbc:]],
                          list(eqn.outputs), params, eqn.source_info))


# ---------------------------------------------------------------------------- the pass

_LOOPS: dict[Any, Callable[[Eqn, _Outer], None]] = {scan_p: _scan, while_p: _while}


def hoist_loop_invariants(closed: ClosedJaxpr) -> ClosedJaxpr:
    """Move loop-invariant and non-recurrent work out of the loops of `closed` (see the
    module docstring). Nested loops are handled when their enclosing body is compiled.

    >>> import numpy as np, fnad
    >>> from fnad.jit.passes import optimize
    >>> f = lambda w, xs: fnad.lax.scan(lambda c, x: (c @ w.T + x, None), xs[0], xs)[0]
    >>> closed = fnad.make_jaxpr(f)(np.eye(2, dtype=np.float32), np.ones((3, 2), np.float32))
    >>> "transpose" in str(hoist_loop_invariants(closed).eqns[-1].params["jaxpr"])
    False
    """
    if not any(e.prim in _LOOPS for e in closed.jaxpr.eqns):
        return closed
    outer = _Outer(closed)
    for e in closed.jaxpr.eqns:
        rule = _LOOPS.get(e.prim)
        if rule is None:
            outer.add(e)
        else:
            rule(e, outer)
    return ClosedJaxpr(Jaxpr(outer.constvars, closed.jaxpr.invars, outer.eqns,
                             closed.jaxpr.outvars), outer.consts)


__all__ = ["hoist_loop_invariants"]
