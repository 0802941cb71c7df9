"""The NumPy backend: a jaxpr becomes one generated straight-line Python function.

Each equation becomes one NumPy call (no bind, no abstract evaluation, no pytree work at
run time). Hot elementwise primitives call their ufunc with `out=` into a dead buffer of
the same shape and dtype (found by liveness and alias analysis); other primitives call
their NumPy impl with params bound once; sub-jaxpr params are compiled executables, and
a loop (`scan`, `while_loop`) is one generated function looping over its body's statements.
"""

from __future__ import annotations

import functools
import linecache
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fnad.config import config
from fnad.core import buffers
from fnad.core.errors import ArgumentError
from fnad.core.ir import ClosedJaxpr, Eqn, Literal, ShapedArray, Var
from fnad.core.primitive import Broadcast, Elementwise, Primitive
from fnad.core.quiet import quiet_enter, quiet_exit
from fnad.jit.fusion import FusedKernel, fusion_p
from fnad.lax.control_flow import contiguous_constants, scan_p, while_p
from fnad.lax.elementwise import integer_pow_p, select_n_p
from fnad.lax.linalg import dot_general_p, dot_runner
from fnad.lax.reduction import reduce_sum_p
from fnad.lax.structural import broadcast_in_dim_p


@dataclass
class Kernel:
    """How one equation is written: `fn(*args)`; `out` says whether it can write into a
    reused buffer: "elementwise" (even one of its own dying inputs), "separate" (only a
    buffer dead before it), or None. `fresh` results never alias anything else."""

    fn: Any
    args: list[str]
    out: str | None = None
    fresh: bool = False
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Lowered:
    """The generated function with its source and the numbers `explain` reports."""

    fn: Callable[..., list[Any]]
    source: str
    stats: dict[str, Any]


# ---------------------------------------------------------------------------- emitters
# One entry per primitive that has a faster NumPy spelling than its impl (keyed by the
# primitive object). An emitter returns a Kernel, or None to fall back to calling the impl.

Emitter = Callable[[Eqn, list[str]], "Kernel | None"]
# A backend's own code for an equation (the C backend's loop nests): a function of the
# equation's operands returning its new result, or None to lower it as NumPy does.
Native = Callable[[Eqn], "Callable[..., Any] | None"]


def _emit_integer_pow(eqn: Eqn, ins: list[str]) -> Kernel | None:
    y = eqn.params["y"]
    if y == 2:
        return Kernel(np.multiply, [ins[0], ins[0]], out="elementwise", fresh=True)
    if y == 3 and eqn.outputs[0].aval.dtype.kind in "fc":
        return Kernel(np.power, [ins[0], "3"], out="elementwise", fresh=True)
    return None


_UINT = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def _select_bits(which: np.ndarray, case0: Any, case1: Any, dtype: np.dtype,
                 out: np.ndarray | None = None) -> np.ndarray:
    """`where(which, case1, case0)` for a full-shape bool `which`, on the cases' bits:
    which * (b0 ^ b1) ^ b0. Exact (NaN, inf and -0.0 kept), branch-free (`np.where` on an
    unpredictable mask is several times slower), and one pass when a case is a scalar 0."""
    u = _UINT[dtype.itemsize]
    b0, b1 = np.asarray(case0).view(u), np.asarray(case1).view(u)
    zero0 = b0.ndim == 0 and not b0
    diff = b1 if zero0 else np.bitwise_xor(b0, b1)
    r = np.multiply(which, diff, dtype=u, out=None if out is None else out.view(u))
    if not zero0:
        np.bitwise_xor(r, b0, out=r)
    return r.view(dtype)


def _emit_select_n(eqn: Eqn, ins: list[str]) -> Kernel | None:
    aval = eqn.outputs[0].aval
    if len(ins) != 3 or eqn.inputs[0].aval.dtype != np.bool_:
        return None
    if aval.ndim == 0 or aval.dtype.itemsize not in _UINT or eqn.inputs[0].aval.ndim == 0:
        return Kernel(np.where, [ins[0], ins[2], ins[1]], fresh=True)
    return Kernel(_select_bits, [*ins], out="separate", fresh=True,
                  kwargs={"dtype": aval.dtype})


def _emit_reduce_sum(eqn: Eqn, ins: list[str]) -> Kernel | None:
    aval = eqn.outputs[0].aval
    return Kernel(np.add.reduce, ins, out="separate", fresh=True,
                  kwargs={"axis": eqn.params["axes"], "dtype": aval.dtype})


def _emit_dot_general(eqn: Eqn, ins: list[str]) -> Kernel | None:
    """The product lowered once for these shapes (`dot_runner`): BLAS calls on operands it
    can take, outer products as broadcast multiplies, written into a dead buffer."""
    x, y = (a.aval for a in eqn.inputs)
    run = dot_runner(x.shape, y.shape, eqn.params["dimension_numbers"], x.dtype)
    return Kernel(run, ins, out="separate", fresh=True)


def _broadcast_view(x: Any, shape: tuple[int, ...], strides: tuple[int, ...],
                    expanded: tuple[int, ...]) -> np.ndarray:
    """`broadcast_to(x.reshape(expanded), shape)`, made directly on a C-contiguous `x`'s
    memory with the strides worked out at lowering: a tenth of np.broadcast_to's several
    microseconds (the view may be writeable: generated code never writes into it)."""
    if type(x) is np.ndarray and x.flags.c_contiguous:
        return np.ndarray(shape, x.dtype, x, 0, strides)
    return np.broadcast_to(np.reshape(x, expanded), shape)


def _emit_broadcast_in_dim(eqn: Eqn, ins: list[str]) -> Kernel | None:
    x = eqn.inputs[0].aval
    shape, dims = tuple(eqn.params["shape"]), eqn.params["broadcast_dimensions"]
    expanded, strides = [1] * len(shape), [0] * len(shape)
    step = x.dtype.itemsize
    for d, size in reversed(list(zip(dims, x.shape))):  # x's C-order strides, 0 if size 1
        expanded[d] = size
        strides[d] = step if size != 1 else 0
        step *= size
    return Kernel(_broadcast_view, [ins[0], repr(shape), repr(tuple(strides)),
                                    repr(tuple(expanded))])


def _ufunc_kernel(eqn: Eqn, ins: list[str]) -> Kernel | None:
    """A direct call of the ufunc an `Elementwise` rule names, when it gives exactly the
    promised dtype for these operands (e.g. `div` of floats only: integers truncate)."""
    rule = eqn.prim.kernel
    ufunc = rule.ufunc if type(rule) is Elementwise else None
    if ufunc is None or eqn.params or ufunc.nin != len(ins) or len(eqn.outputs) != 1:
        return None
    if any(a.aval.dtype.kind not in rule.ufunc_kinds for a in eqn.inputs):
        return None
    try:
        with np.errstate(all="ignore"):
            probe = ufunc(*(np.zeros(1, a.aval.dtype) for a in eqn.inputs))
    except TypeError:
        return None
    if eqn.outputs[0].aval.dtype.kind not in "fbiu" or probe.dtype != eqn.outputs[0].aval.dtype:
        return None
    return Kernel(ufunc, ins, out="elementwise", fresh=True)


def _emit_fusion(eqn: Eqn, ins: list[str]) -> Kernel | None:
    """A fused kernel; with one output it may write into a dead buffer, its own dying
    inputs included (it reads each element before writing it)."""
    return Kernel(eqn.params["kernel"], ins, out="elementwise", fresh=True)


EMITTERS: dict[Primitive, Emitter] = {
    fusion_p: _emit_fusion,
    integer_pow_p: _emit_integer_pow,
    select_n_p: _emit_select_n,
    reduce_sum_p: _emit_reduce_sum,
    dot_general_p: _emit_dot_general,
    broadcast_in_dim_p: _emit_broadcast_in_dim,
}


def _kernel(eqn: Eqn, ins: list[str], compile_sub: Callable[[ClosedJaxpr], Any],
            impl_backend: str = "numpy", native: Native | None = None) -> Kernel:
    fn = native(eqn) if native is not None else None
    if fn is not None:
        return Kernel(fn, ins, fresh=True)
    # the emitters are NumPy-only; ufuncs dispatch to CuPy arrays too (NEP 13)
    emitter = EMITTERS.get(eqn.prim) if impl_backend == "numpy" else None
    if emitter is not None:
        k = emitter(eqn, ins)
        if k is not None:
            return k
    k = _ufunc_kernel(eqn, ins)
    if k is not None:
        return k
    p = eqn.params
    if eqn.prim is scan_p and impl_backend == "numpy" and p["length"] > 0:
        loop = ScanLoop(p["num_consts"], p["num_carry"], p["length"], p["reverse"])
        return Kernel(_loop_kernel(eqn, loop, p["jaxpr"], compile_sub), ins)
    if eqn.prim is while_p and impl_backend == "numpy":
        loop = WhileLoop(compile_sub(p["cond_jaxpr"]), p["cond_nconsts"])
        return Kernel(_loop_kernel(eqn, loop, p["body_jaxpr"], compile_sub), ins)
    impl = eqn.prim.impls.get(impl_backend)
    if impl is None:
        from fnad.core.primitive import NotImplementedRuleError
        raise NotImplementedRuleError(f"the NumPy backend cannot run '{eqn.prim.name}': it "
                                      f"has no {impl_backend} implementation")
    params = {k: _compiled_param(v, compile_sub) for k, v in p.items()}
    return Kernel(functools.partial(impl, **params) if params else impl, ins)


def _seq(names: Sequence[str]) -> str:
    """`names` as the inside of a tuple display: "a, b, " (assignable, even when single)."""
    return "".join(n + ", " for n in names)


@dataclass(frozen=True)
class ScanLoop:
    """Lower a scan's body as the whole loop: the function takes the scan's operands
    (constants, initial carry, stacked xs) and returns its results (carry, stacked ys)."""

    num_consts: int
    num_carry: int
    length: int
    reverse: bool

    def rows(self, jaxpr: Any, kernels: list[Kernel]) -> dict[int, str]:
        """The body's results that its ufunc calls and fused kernels can write straight into
        their ys rows (`out=_ys0[_i]`): fresh arrays that are one ys and nothing else."""
        outvars = jaxpr.outvars
        made = {id(v): k for e, k in zip(jaxpr.eqns, kernels) for v in e.outputs}
        rows = {}
        for j, v in enumerate(outvars[self.num_carry:]):
            k = made.get(id(v))
            if (k is not None and v.aval.ndim > 0 and k.fresh and k.out is not None
                    and (isinstance(k.fn, np.ufunc) or type(k.fn) is FusedKernel)
                    and sum(o is v for o in outvars) == 1):
                rows[id(v)] = f"_ys{j}[_i]"
        return rows

    def source(self, jaxpr: Any, args: list[str], step: list[str], results: list[str],
               namer: _Namer, written: Collection[str]) -> tuple[list[str], list[str]]:
        """(lines before the loop, the loop): each step reads its xs rows into the body's
        inputs, runs `step`, writes the ys rows not `written` by it and passes the carry
        on."""
        nc, nk = self.num_consts, self.num_carry
        consts, carry, xs = args[:nc], args[nc:nc + nk], args[nc + nk:]
        before = _contiguous_consts(consts, namer)
        namer.globals["_np_empty"] = np.empty
        ys = [f"_ys{k}" for k in range(len(results) - nk)]
        for y, v in zip(ys, jaxpr.outvars[nk:]):
            shape = (self.length, *v.aval.shape)
            before.append(f"{y} = _np_empty({shape!r}, {namer.obj(v.aval.dtype, '_k')})")
        order = range(self.length - 1, -1, -1) if self.reverse else range(self.length)
        loop = [f"_xs = ({_seq(xs)})", f"for _i in {order!r}:"]
        loop += [f"    {x} = _xs[{k}][_i]" for k, x in enumerate(xs)]
        loop += ["    " + line for line in step]
        loop += [f"    {y}[_i] = {r}" for y, r in zip(ys, results[nk:])
                 if f"{y}[_i]" not in written]
        if carry:
            loop.append(f"    {_seq(carry)}= {_seq(results[:nk])}")
        loop.append(f"return [{', '.join(carry + ys)}]")
        return before, loop


@dataclass(frozen=True)
class WhileLoop:
    """Lower a while loop's body as the whole loop: the function takes the loop's operands
    (the cond's constants, the body's constants, the initial carry) and returns the final
    carry; `cond` is the compiled condition, called once per iteration."""

    cond: Any
    cond_nconsts: int

    def rows(self, jaxpr: Any, kernels: list[Kernel]) -> dict[int, str]:
        return {}  # no ys

    def source(self, jaxpr: Any, args: list[str], step: list[str], results: list[str],
               namer: _Namer, written: Collection[str]) -> tuple[list[str], list[str]]:
        nbc = len(jaxpr.invars) - len(results)
        cond_consts = [f"_cc{k}" for k in range(self.cond_nconsts)]
        consts, carry = args[:nbc], args[nbc:]
        args[:0] = cond_consts  # the function's leading parameters
        before = _contiguous_consts(cond_consts + consts, namer)
        loop = [f"while {namer.obj(self.cond, '_f')}({', '.join(cond_consts + carry)})[0]:"]
        loop += ["    " + line for line in step]
        if carry:
            loop.append(f"    {_seq(carry)}= {_seq(results)}")
        loop.append(f"return [{', '.join(carry)}]")
        return before, loop


def _contiguous_consts(consts: list[str], namer: _Namer) -> list[str]:
    namer.globals["_contiguous_constants"] = contiguous_constants
    return [f"{_seq(consts)}= _contiguous_constants(({_seq(consts)}))"] if consts else []


def _loop_kernel(eqn: Eqn, loop: Any, body: ClosedJaxpr, compile_sub: Callable[..., Any]
                 ) -> Kernel:
    """A loop as one generated function running the loop over the body's statements (no
    call, argument list or result list per step); with debug_nans/debug_infs on, the
    loop's impl, whose steps check what they make."""
    fn = compile_sub(body, loop=loop)

    def run(*args: Any) -> list[Any]:
        if config.debug_nans or config.debug_infs:
            params = {k: _compiled_param(v, compile_sub) for k, v in eqn.params.items()}
            return eqn.prim.impls["numpy"](*args, **params)
        return fn(*args)

    return run


def _compiled_param(value: Any, compile_sub: Callable[[ClosedJaxpr], Any]) -> Any:
    """Sub-jaxpr params (control flow bodies, branches) become compiled executables with the
    same call signature `(*args) -> list`."""
    if isinstance(value, ClosedJaxpr):
        return compile_sub(value)
    if isinstance(value, tuple) and value and all(isinstance(v, ClosedJaxpr) for v in value):
        return tuple(compile_sub(v) for v in value)
    return value


# ---------------------------------------------------------------------------- code generation

def _donated(args: tuple, indices: tuple[int, ...]) -> list[Any]:
    """The donated arguments, each itself when its buffer may be overwritten (a writeable,
    C-contiguous array sharing memory with no other argument), else an owned copy."""
    owners: dict[int, int] = {}
    for a in args:
        if type(a) is np.ndarray:
            o = id(a if a.base is None else a.base)  # NumPy views point at the owner
            owners[o] = owners.get(o, 0) + 1
    out = []
    for i in indices:
        x = args[i]
        if not (type(x) is np.ndarray and x.flags.writeable and x.flags.c_contiguous
                and owners[id(x if x.base is None else x.base)] == 1):
            x = np.array(x)
        out.append(x)
    return out




class _Namer:
    """Python names for atoms and globals for objects the generated code refers to."""

    def __init__(self) -> None:
        self.globals: dict[str, Any] = {"_donated": _donated}
        self.var_names: dict[int, str] = {}
        self._by_id: dict[int, str] = {}

    def obj(self, value: Any, prefix: str = "_g") -> str:
        name = self._by_id.get(id(value))
        if name is None:
            name = f"{prefix}{len(self.globals)}"
            self._by_id[id(value)] = name
            self.globals[name] = value
        return name

    def fn(self, value: Any) -> str:
        if isinstance(value, np.ufunc):
            name = f"_np_{value.__name__}"
            self.globals[name] = value
            return name
        return self.obj(value, "_f")

    def var(self, v: Var, prefix: str = "v") -> str:
        name = self.var_names.get(id(v))
        if name is None:
            name = self.var_names[id(v)] = f"{prefix}{len(self.var_names)}"
        return name

    def atom(self, a: Any) -> str:
        if type(a) is Literal:
            value = np.asarray(a.value)[()]  # a NumPy scalar: the cheapest ufunc operand
            return self.obj(value, "_l")
        return self.var_names[id(a)]


def _kwargs_source(kwargs: dict[str, Any], namer: _Namer) -> list[str]:
    out = []
    for k, v in kwargs.items():
        text = repr(v) if isinstance(v, (int, tuple, type(None))) else namer.obj(v, "_k")
        out.append(f"{k}={text}")
    return out


def _nbytes(aval: ShapedArray) -> int:
    return aval.size * aval.dtype.itemsize


def _take_buffer(aval: ShapedArray, pool: dict[tuple, list[int]], dying_here: list[int],
                 owned: dict[int, Var], exclude: set[int], invar_ids: set[int],
                 own_inputs: bool) -> int | None:
    """A dead owned buffer for a result of `aval`, donated inputs first; with `own_inputs`
    also one of the equation's own inputs dying at it. The buffer leaves the pool, which
    is keyed by (shape, dtype, donated) so that a take costs the same however many dead
    buffers wait in it."""
    key = (aval.shape, aval.dtype)
    for donated in (True, False):
        candidates = pool.get((*key, donated))
        if candidates:
            buffer = candidates.pop()
            break
    else:
        candidates = [r for r in dying_here if r not in exclude
                      and (owned[r].aval.shape, owned[r].aval.dtype) == key] if own_inputs else []
        if not candidates:
            return None
        buffer = ([r for r in candidates if r in invar_ids] or candidates)[-1]
        dying_here.remove(buffer)
    exclude.add(buffer)
    return buffer


def _recycled(aval: ShapedArray, k: Kernel, namer: _Namer, impl_backend: str) -> str | None:
    """For a large fresh NumPy result of a kernel taking `out=` and given no dead buffer:
    an array from `buffers.take`, whose memory is mapped from the second call on."""
    if (impl_backend != "numpy" or k.out is None or not k.fresh or aval.ndim == 0
            or _nbytes(aval) < buffers.MIN_BYTES):
        return None
    namer.globals["_buffers_empty"] = buffers.empty
    return f"_buffers_empty({aval.shape!r}, {namer.obj(aval.dtype, '_k')})"


def lower(closed: ClosedJaxpr, donated: Sequence[bool] = (), name: str = "f",
          compile_sub: Callable[..., Any] | None = None,
          impl_backend: str = "numpy", loop: ScanLoop | WhileLoop | None = None,
          native: Native | None = None) -> Lowered:
    """Generate, compile and return the straight-line NumPy function of `closed`.

    `donated[i]` lets the function overwrite input i once it is dead. `impl_backend` names
    the impls the code calls ("cupy" for the CuPy backend, which reuses this generator).
    `loop` makes `closed` a loop's body and the function the whole loop (see `ScanLoop`,
    `WhileLoop`). `native` gives a backend's own code for the equations it has some for.
    """
    if compile_sub is None:
        raise ArgumentError("lower needs compile_sub to compile sub-jaxprs")
    jaxpr = closed.jaxpr
    namer = _Namer()
    donated = list(donated) + [False] * (len(jaxpr.invars) - len(donated))
    arg_names = [namer.var(v, "a") for v in jaxpr.invars]
    for v, c in zip(jaxpr.constvars, closed.consts):
        namer.var_names[id(v)] = namer.obj(c, "_c")
    for eqn in jaxpr.eqns:
        for v in eqn.outputs:
            namer.var(v)
    kernels = [_kernel(e, [namer.atom(a) for a in e.inputs], compile_sub, impl_backend, native)
               for e in jaxpr.eqns]
    rows = {} if loop is None else loop.rows(jaxpr, kernels)  # results written in place

    # Liveness and aliasing. A root is a buffer some values may view: fresh results and
    # inputs are roots; any other result may alias (view) every root its inputs alias.
    n = len(jaxpr.eqns)
    last_use: dict[int, int] = {}
    for i, eqn in enumerate(jaxpr.eqns):
        for a in eqn.inputs:
            if type(a) is Var:
                last_use[id(a)] = i
    for a in jaxpr.outvars:
        if type(a) is Var:
            last_use[id(a)] = n
    roots: dict[int, frozenset[int]] = {id(v): frozenset([id(v)])
                                        for v in jaxpr.invars + jaxpr.constvars}
    owned: dict[int, Var] = {id(v): v for v, d in zip(jaxpr.invars, donated)
                             if d and v.aval.ndim > 0}
    death: dict[int, int] = {r: last_use.get(r, -1) for r in roots}
    for i, (eqn, k) in enumerate(zip(jaxpr.eqns, kernels)):
        for v in eqn.outputs:
            if k.fresh:
                roots[id(v)] = frozenset([id(v)])
                if v.aval.ndim > 0 and id(v) not in rows:  # a ys row is the loop's
                    owned[id(v)] = v
            else:
                roots[id(v)] = frozenset().union(*(roots[id(a)] for a in eqn.inputs
                                                   if type(a) is Var), [id(v)])
            for r in roots[id(v)]:
                death[r] = max(death.get(r, i), last_use.get(id(v), i))
    dying: dict[int, list[int]] = {}
    for r, d in death.items():
        if r in owned:
            dying.setdefault(d, []).append(r)

    # Emit, handing dead owned buffers to later kernels that can write into them.
    pool: dict[tuple, list[int]] = {}
    for r in dying.get(-1, []):  # donated inputs that are never read
        pool.setdefault((owned[r].aval.shape, owned[r].aval.dtype, True), []).append(r)
    name = "_jit_" + re.sub(r"\W", "_", name)
    body = []
    claimed = [i for i, (v, d) in enumerate(zip(jaxpr.invars, donated)) if d and v.aval.ndim]
    if claimed:
        body.append(f"{''.join(arg_names[i] + ', ' for i in claimed)}= _donated(("
                    f"{''.join(a + ', ' for a in arg_names)}), {tuple(claimed)!r})")
    invar_ids = {id(v) for v in jaxpr.invars}
    reused = reused_bytes = allocated = allocated_bytes = n_donated = 0
    for i, (eqn, k) in enumerate(zip(jaxpr.eqns, kernels)):
        args = list(k.args) + _kwargs_source(k.kwargs, namer)
        exclude = {id(v) for v in eqn.outputs}  # and the buffers given to earlier outputs
        dead = [_take_buffer(v.aval, pool, dying.get(i, []), owned, exclude, invar_ids,
                                k.out == "elementwise")
                   if k.out is not None and v.aval.ndim > 0 and id(v) not in rows else None
                   for v in eqn.outputs]
        for v, b in zip(eqn.outputs, dead):
            if b is not None:
                reused += 1
                reused_bytes += _nbytes(v.aval)
                n_donated += b in invar_ids
            elif k.fresh and v.aval.ndim > 0 and id(v) not in rows:
                allocated += 1
                allocated_bytes += _nbytes(v.aval)
        targets = [rows.get(id(v)) or (namer.var_names[b] if b is not None
                                       else _recycled(v.aval, k, namer, impl_backend))
                   for v, b in zip(eqn.outputs, dead)]
        if len(targets) == 1 and targets[0] is not None:
            args.append(f"out={targets[0]}")
        elif any(targets):  # a fused kernel with several results
            args.append(f"out=({', '.join(t or 'None' for t in targets)},)")
        call = f"{namer.fn(k.fn)}({', '.join(args)})"
        outs = [namer.var_names[id(v)] for v in eqn.outputs]
        target = ("" if not outs else f"{outs[0]} = " if not eqn.prim.multiple_results
                  else f"{', '.join(outs)}, = ")
        info = f"  # {eqn.prim.name}" + (f" {eqn.source_info}" if eqn.source_info else "")
        body.append(f"{target}{call}{info}")
        for r in dying.get(i, []):
            aval = owned[r].aval
            pool.setdefault((aval.shape, aval.dtype, r in invar_ids), []).append(r)
    # Outputs are the caller's to keep and change: a literal, a compiled-in constant (or a
    # view of one) and a read-only broadcast view are returned as fresh copies.
    namer.globals["_np_array"] = np.array
    constant_roots = {id(v) for v in jaxpr.constvars}
    views = {id(v) for e in jaxpr.eqns if type(e.prim.kernel) is Broadcast for v in e.outputs}
    results = []
    for a in jaxpr.outvars:
        if type(a) is Literal:
            results.append(f"_np_array({namer.atom(a)})")
        elif roots.get(id(a), frozenset()) & constant_roots or id(a) in views:
            results.append(f"_np_array({namer.var_names[id(a)]})")
        else:
            results.append(namer.var_names[id(a)])
    # Direct NumPy calls (ufuncs, reductions, matmul) are silent like the impls they
    # replace: NaN/inf are the answer, with no warnings.
    namer.globals["_quiet_enter"], namer.globals["_quiet_exit"] = quiet_enter, quiet_exit
    before: list[str] = []
    if loop is None:
        body.append(f"return [{', '.join(results)}]")
    else:
        before, body = loop.source(jaxpr, arg_names, body, results, namer, rows.values())
    lines = [f"def {name}({', '.join(arg_names)}):", *("    " + line for line in before),
             "    _state = _quiet_enter()", "    try:"]
    lines += ["        " + line for line in body]
    lines += ["    finally:", "        _quiet_exit(_state)"]
    source = "\n".join(lines) + "\n"

    filename = f"<fnad.jit {name} {id(closed):#x}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namer.globals)  # noqa: S102
    stats = {"equations": n, "allocated": allocated, "allocated_bytes": allocated_bytes,
             "reused": reused, "reused_bytes": reused_bytes, "donated_reused": n_donated,
             "constants": len(closed.consts),
             "constant_bytes": sum(int(np.asarray(c).nbytes) for c in closed.consts)}
    return Lowered(namer.globals[name], source, stats)
