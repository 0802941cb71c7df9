"""Fusion planning: regions of elementwise equations become one kernel each.

`fuse(closed, launcher)` rewrites a jaxpr so that each maximal region of elementwise
equations of one shape (broadcasts of region inputs included) is one `fusion` equation,
and each `reduce_sum/max/min` absorbs the elementwise work that feeds it (recomputed, so
the region stays available to its other consumers). Library calls (`dot_general`, `conv`)
and everything else stay as they are; elementwise work after them starts the next kernel.
A backend lowers the rewritten jaxpr like any other, with `launcher` running the kernels.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any

import numpy as np

from fnad.core.ir import ClosedJaxpr, Eqn, Jaxpr, Literal, ShapedArray, Var
from fnad.core.primitive import (
    C_DTYPES,
    Broadcast,
    CLoop,
    Elementwise,
    LibraryCall,
    Primitive,
    Reduce,
)
from fnad.device import array_module
from fnad.jit.kernels import (
    DENSE,
    FIXED,
    SCALAR,
    STRIDED,
    UNIT,
    Kernel,
    Op,
    Operand,
    Reduction,
)

# What a region costs, measured on one core: each NumPy ufunc call about 0.45 us plus
# 0.15 ns per element (2 ns for a libm function: tanh, exp...); a fused kernel one launch
# (LAUNCH_US: the C backend's launch extension and the kernel's Python wrapper) plus about
# 0.2 ns per element whatever its length, since it streams its operands once, and 1 ns
# per element for each libm function (vectorized). A region fuses where that is cheaper.
NUMPY_CALL_US, NUMPY_ELEMENT_US, KERNEL_ELEMENT_US = 0.45, 0.15e-3, 0.2e-3
NUMPY_LIBM_US, KERNEL_LIBM_US = 2e-3, 1e-3
LAUNCH_US = 3.3
# Equations per fused kernel at most: gcc's time grows faster than linearly in the size of
# one function, so a longer region is cut into several kernels. Measured on one kernel of a
# gradient chain: about 0.12 s per compile plus 1.3-1.7 ms per equation up to 1024
# equations, then 3 ms at 2048 and 5 ms at 4096 (a 20k-equation kernel took minutes).
MAX_OPS = 512
# Arrays a fused kernel reads and writes at most: gcc's register allocation and combining
# passes take time quadratic in the pointer arguments of one loop (a 256-input kernel took
# 1.8 s, a 64-input one 0.17 s), and a gradient's kernels read or save a value every few
# equations, so this cut usually comes first.
MAX_OPERANDS = 64
_REDUCE_KINDS = ("sum", "max", "min")


def pays(elements: int, eqns: Sequence[Eqn], launch_us: float, reduces: bool = False
         ) -> bool:
    """Whether one kernel doing the elementwise `eqns` (and a reduction, if it `reduces`)
    over `elements` beats a NumPy call per equation."""
    ops = len(eqns) + reduces
    libm = sum(e.prim.kernel.transcendental for e in eqns)
    numpy = ops * (NUMPY_CALL_US + elements * NUMPY_ELEMENT_US) + libm * elements * NUMPY_LIBM_US
    return ops >= 2 and numpy > launch_us + elements * (KERNEL_ELEMENT_US + libm * KERNEL_LIBM_US)


def is_elementwise(eqn: Eqn) -> bool:
    k = eqn.prim.kernel
    return type(k) is Elementwise and k.fusable and _typed(eqn)


def is_reduction(eqn: Eqn) -> bool:
    """A reduction over the trailing axes: its kernel reads rows contiguously. (Over leading
    axes NumPy's own reduction, which walks rows and accumulates columns, does better.)"""
    k = eqn.prim.kernel
    if not (type(k) is Reduce and k.kind in _REDUCE_KINDS and _typed(eqn)):
        return False
    nd, axes = eqn.inputs[0].aval.ndim, eqn.params["axes"]
    return nd > 0 and tuple(axes) == tuple(range(nd - len(axes), nd))


def _typed(eqn: Eqn) -> bool:
    return all(a.aval.dtype in C_DTYPES for a in (*eqn.inputs, *eqn.outputs))


def _is_broadcast(eqn: Eqn) -> bool:
    return type(eqn.prim.kernel) is Broadcast and eqn.inputs[0].aval.dtype in C_DTYPES


# ---------------------------------------------------------------------------- kernels

class InputSpec:
    """How a kernel input maps onto the iteration space: `axis_map[d]` is the input axis
    read along iteration axis d (None: broadcast along it)."""

    __slots__ = ("axis_map",)

    def __init__(self, axis_map: tuple[int | None, ...]):
        self.axis_map = axis_map


def _contiguous(shape: Sequence[int]) -> list[int]:
    strides, acc = [], 1
    for d in reversed(shape):
        strides.append(acc)
        acc *= d
    return strides[::-1]


class FusedKernel:
    """One fused region, compiled per access pattern of its inputs (dense, scalar or
    strided, decided from the arrays at run time) by `compile`, and called on arrays."""

    def __init__(self, ops: tuple[Op, ...], specs: Sequence[InputSpec],
                 in_dtypes: Sequence[np.dtype], outputs: tuple[int, ...],
                 out_avals: Sequence[ShapedArray], space: Callable[[Sequence[Any]], tuple],
                 rank: int, reduction: Reduction | None,
                 compile: Callable[[Kernel], Callable[..., None]], label: str):
        self.ops, self.specs, self.in_dtypes = ops, list(specs), list(in_dtypes)
        self.outputs, self.out_avals = outputs, list(out_avals)
        self.space, self.rank, self.reduction = space, rank, reduction
        self.compile, self.label = compile, label
        self.compiled: dict[tuple[str, ...], Any] = {}
        self.runs: dict[tuple, Callable] = {}  # (type, shape, strides) of each input -> run

    def __repr__(self) -> str:
        return self.label

    def kernel(self, accesses: tuple[str, ...], rank: int) -> Kernel:
        return Kernel(tuple(Operand(d, a) for d, a in zip(self.in_dtypes, accesses)),
                      self.ops, self.outputs, rank, self.reduction)

    def __call__(self, *arrays: Any, out: Any = None) -> list[Any]:
        """Run on `arrays`; `out` (an array for one output, else a tuple with None where a
        new array is wanted) is written in place, which is safe when it is read at the same
        index only, as a dense input."""
        try:  # a layout met before (the type is in the key: a NumPy scalar gets its own)
            run = self.runs[tuple([(type(x), x.shape, x.strides) for x in arrays])]
        except (KeyError, AttributeError):  # a new layout, or a Python number
            run = self.runner(arrays)
        return run(arrays, out)

    def runner(self, arrays: Sequence[Any]) -> Callable[[Sequence[Any], Any], list[Any]]:
        """`run(arrays, out)` for arrays of these types, shapes and strides (kept for the
        next call): the launch planned once, with what each call must still do."""
        xp = array_module(arrays)  # NumPy or CuPy: outputs are made where the inputs are
        convert = any(type(a) is not xp.ndarray for a in arrays)

        def as_arrays(values: Sequence[Any]) -> list[Any]:  # NumPy scalars, Python numbers
            return [a if type(a) is xp.ndarray else xp.asarray(a) for a in values]

        launch, indirect = self.plan(as_arrays(arrays))
        specs = [(a.shape, a.dtype) for a in self.out_avals]
        empty = xp.empty

        if len(specs) == 1 and not (convert or indirect):  # the common case
            (shape, dtype), = specs

            def run(arrays: Sequence[Any], out: Any) -> list[Any]:
                o = empty(shape, dtype) if out is None else out
                launch(arrays, (o,))
                return [o]
        else:
            def run(arrays: Sequence[Any], out: Any) -> list[Any]:
                if convert:
                    arrays = as_arrays(arrays)
                given = out if type(out) is tuple else (out,) * len(specs)
                outs = []
                for o, (shape, dtype) in zip(given, specs):
                    if o is not None and indirect and any(xp.shares_memory(o, arrays[k])
                                                          for k in indirect):
                        o = None
                    outs.append(empty(shape, dtype) if o is None else o)
                launch(arrays, outs)
                return outs
        try:
            self.runs[tuple([(type(x), x.shape, x.strides) for x in arrays])] = run
        except AttributeError:  # a Python number: planned again at each call
            pass
        return run

    def plan(self, arrays: Sequence[Any]) -> tuple:
        """How to launch on arrays of these shapes and strides: the compiled kernel for
        their access patterns, ready for the iteration space and each input's strides in
        it, and the inputs not read densely (an output written in place may not overlap
        them)."""
        key, shape, strides = self.layout(arrays)
        run = self.compiled.get(key)
        if run is None:
            run = self.compiled[key] = self.compile(self.kernel(key[1:], key[0]))
        return run.launcher(shape, strides), [k for k, a in enumerate(key[1:])
                                              if a not in (DENSE, SCALAR)]

    def expected(self, avals: Sequence[ShapedArray]) -> Kernel:
        """The kernel a launch on C-contiguous inputs of these avals compiles, so that a
        backend can build a program's kernels together before it first runs."""
        (rank, *accesses), _, _ = self.layout([_Contiguous(a) for a in avals])
        return self.kernel(tuple(accesses), rank)

    def layout(self, arrays: Sequence[Any]) -> tuple[tuple, list[int], list]:
        """The kernel key (rank, then each input's access pattern), the iteration space and
        each strided input's element strides in it, for arrays of these shapes and
        strides."""
        shape = self.space(arrays)
        strides: list[list[int] | None] = []
        for spec, x in zip(self.specs, arrays):
            item = x.itemsize
            strides.append(None if x.size == 1 else
                           [0 if a is None or x.shape[a] == 1 else x.strides[a] // item
                            for a in spec.axis_map])
        rank = self.rank
        if self.reduction is None:  # an elementwise kernel may merge axes
            shape, strides = _coalesce(list(shape), strides)
            rank = len(shape)
        dense = _contiguous(shape)
        accesses = []
        for i, st in enumerate(strides):
            if st is None:
                accesses.append(SCALAR)
            elif st == dense:
                accesses.append(DENSE)
                strides[i] = None
            else:
                accesses.append({1: UNIT, 0: FIXED}.get(st[-1], STRIDED))
        return (rank, *accesses), shape, strides


class _Contiguous:
    """The layout of a C-contiguous array of `aval` (what `FusedKernel.layout` reads)."""

    def __init__(self, aval: ShapedArray):
        self.shape, self.size, self.itemsize = aval.shape, aval.size, aval.dtype.itemsize
        self.strides = tuple(s * self.itemsize for s in _contiguous(aval.shape))


def _coalesce(shape: list[int], strides: list[list[int] | None]
              ) -> tuple[list[int], list[list[int] | None]]:
    """Merge neighbouring axes that every operand walks as one (row-major, or broadcast
    along both): a (N, C, H, W) + (C,) bias becomes (N, C, H*W), whose rows are long
    enough to vectorize and few enough to index cheaply."""
    d = len(shape) - 1
    while d > 0:
        if all(st is None or st[d - 1] == st[d] * shape[d] for st in strides):
            shape[d - 1:d + 1] = [shape[d - 1] * shape[d]]
            for st in strides:
                if st is not None:
                    st[d - 1:d + 1] = [st[d]]
        d -= 1
    return shape, strides


fusion_p = Primitive("fusion", multiple_results=True)
fusion_p.def_impl(lambda *args, kernel: kernel(*args))
fusion_p.def_abstract_eval(lambda *avals, kernel: list(kernel.out_avals))


# ---------------------------------------------------------------------------- planning

def _literal_expr(lit: Literal) -> str:
    """A literal as a C constant (the compiler folds and hoists it)."""
    v, dtype = lit.value, lit.aval.dtype
    if dtype.kind == "f":
        x = float(v)
        if x != x:
            return "(FNAD_INF - FNAD_INF)"
        if x in (float("inf"), float("-inf")):
            return "FNAD_INF" if x > 0 else "(-FNAD_INF)"
        return repr(x) + ("f" if dtype == np.float32 else "")
    if dtype == np.bool_:
        return "1" if bool(v) else "0"
    return f"(({C_DTYPES[dtype]}){int(v)}{'LL' if dtype.itemsize == 8 else ''})"


def _axis_map(eqn: Eqn, ndim: int) -> tuple[int | None, ...]:
    amap: list[int | None] = [None] * ndim
    for i, d in enumerate(eqn.params["broadcast_dimensions"]):
        amap[d] = i
    return tuple(amap)


def _build(eqns: Sequence[Eqn], wanted: Sequence[Var], shape: tuple[int, ...],
           order: tuple[int, ...], reduce_kind: str | None, n_reduced: int,
           compile: Callable[[Kernel], Any], label: str,
           out_avals: Sequence[ShapedArray]) -> tuple[FusedKernel, list[Any]]:
    """A FusedKernel computing `wanted` from `eqns` over the iteration space `shape`
    (visited in axis `order`), and the outside atoms it reads. Literals become constants
    of the kernel body, not arguments."""
    ndim = len(shape)
    broadcasts = {id(e.outputs[0]): (e.inputs[0], _axis_map(e, ndim))
                  for e in eqns if _is_broadcast(e)}
    compute = [e for e in eqns if not _is_broadcast(e)]
    computed = {id(e.outputs[0]) for e in compute}
    inputs: list[Any] = []
    specs: list[InputSpec] = []
    index: dict[tuple[int, tuple], int] = {}

    def input_of(atom: Any) -> int:
        src, amap = broadcasts.get(id(atom), (atom, (None,) * ndim if atom.aval.ndim == 0
                                              else tuple(range(ndim))))
        key = (id(src), amap)
        if key not in index:
            index[key] = len(inputs)
            inputs.append(src)
            specs.append(InputSpec(tuple(amap[d] for d in order)))
        return index[key]

    for e in compute:  # first the inputs, so that op values are numbered after them
        for a in e.inputs:
            if id(a) not in computed and type(a) is not Literal:
                input_of(a)
    value: dict[int, int] = {}
    ops: list[Op] = []

    def operand(a: Any) -> int:
        if type(a) is Literal:
            ops.append(Op("literal", Elementwise(_literal_expr(a)), (), a.aval.dtype))
            return len(inputs) + len(ops) - 1
        return value[id(a)] if id(a) in computed else input_of(a)

    for e in compute:
        args = tuple(operand(a) for a in e.inputs)
        params = tuple(sorted((k, v) for k, v in e.params.items()
                              if isinstance(v, (int, float, bool, str, np.dtype))))
        value[id(e.outputs[0])] = len(inputs) + len(ops)
        ops.append(Op(e.prim.name, e.prim.kernel, args, e.outputs[0].aval.dtype, params))
    out_ids = tuple(value[id(v)] for v in wanted)
    reduction = Reduction(reduce_kind, out_ids[0], n_reduced) if reduce_kind else None
    space = tuple(shape[d] for d in order)
    fused = FusedKernel(tuple(ops), specs, [a.aval.dtype for a in inputs],
                        () if reduction else out_ids, out_avals, lambda arrays: space,
                        ndim - n_reduced, reduction, compile, label)
    return fused, inputs


class _Region:
    """An open elementwise region: its equations (in order), the shape they share, and the
    arrays it would read and write as a kernel closed now."""

    def __init__(self, shape: tuple[int, ...], consumers: dict[int, list[Eqn]],
                 returned: set[int]):
        self.shape, self.consumers, self.returned = shape, consumers, returned
        self.eqns: list[Eqn] = []
        self.produced: set[int] = set()
        self.size = 0  # equations that compute (broadcasts aside)
        self.inputs: set[int] = set()
        self.pending: dict[int, int] = {}  # produced value -> its uses not in the region
        self.live = 0  # produced values used outside it so far (or returned)

    @property
    def operands(self) -> int:
        return len(self.inputs) + self.live

    def add(self, eqn: Eqn) -> None:
        self.eqns.append(eqn)
        for a in eqn.inputs:
            if type(a) is Literal:
                continue
            if id(a) not in self.produced:
                self.inputs.add(id(a))
            elif id(a) not in self.returned:
                self.pending[id(a)] -= 1
                self.live -= self.pending[id(a)] == 0
        for v in eqn.outputs:
            self.produced.add(id(v))
            uses = self.pending[id(v)] = len(self.consumers.get(id(v), ()))
            self.live += uses > 0 or id(v) in self.returned
        self.size += not _is_broadcast(eqn)

    def prologue(self, src: Any) -> list[Eqn]:
        """The region's equations that compute `src`, in order (empty if it doesn't)."""
        if type(src) is Literal or id(src) not in self.produced:
            return []
        needed, picked = {id(src)}, []
        for eqn in reversed(self.eqns):
            if any(id(v) in needed for v in eqn.outputs):
                picked.append(eqn)
                needed.update(id(a) for a in eqn.inputs if id(a) in self.produced)
        return picked[::-1]


def fuse(closed: ClosedJaxpr, compile: Callable[[Kernel], Any],
         launch_us: float | None = None, max_ops: int | None = None,
         max_operands: int | None = None) -> ClosedJaxpr:
    """The jaxpr with fused regions replaced by `fusion` equations; `compile(kernel)`
    returns the callable that runs one generated kernel. Regions too small to pay for a
    launch of `launch_us` microseconds (default `LAUNCH_US`; 0 fuses every region) are left
    to NumPy; a region is cut after `max_ops` equations (default `MAX_OPS`) or once it
    reads and writes about `max_operands` arrays (default `MAX_OPERANDS`), so that compile
    time stays linear in the program's size.

    One region per shape stays open, so interleaved work on differently shaped values
    (an optimizer updating every parameter, say) still fuses per shape. A region is
    emitted when something outside it needs one of its values, or at the end.
    """
    launch_us = LAUNCH_US if launch_us is None else launch_us
    max_ops = MAX_OPS if max_ops is None else max_ops
    max_operands = MAX_OPERANDS if max_operands is None else max_operands
    jaxpr = closed.jaxpr
    consumers: dict[int, list[Eqn]] = {}
    for eqn in jaxpr.eqns:
        for a in eqn.inputs:
            consumers.setdefault(id(a), []).append(eqn)
    returned = {id(a) for a in jaxpr.outvars}
    out_eqns: list[Eqn] = []
    regions: dict[tuple[int, ...], _Region] = {}
    absorbed: set[int] = set()  # reductions that compute their input themselves
    count = [0]

    def label(kind: str) -> str:
        count[0] += 1
        return f"{kind}_{count[0]}"

    def feeds_kernels(eqn: Eqn) -> bool:
        users = consumers.get(id(eqn.outputs[0]), [])
        return id(eqn.outputs[0]) not in returned and all(
            is_elementwise(u) or is_reduction(u) for u in users)

    def close(r: _Region) -> None:
        del regions[r.shape]
        members = {id(e) for e in r.eqns}
        outside = [v for e in r.eqns for v in e.outputs if id(v) in returned or any(
            id(u) not in members and id(u) not in absorbed for u in consumers.get(id(v), []))]
        compute = [e for e in r.eqns if not _is_broadcast(e)]
        if not pays(int(np.prod(r.shape)), compute, launch_us):
            out_eqns.extend(r.eqns)  # too little work to pay for a kernel launch
            return
        # broadcasts also read outside the region stay (NumPy views cost nothing)
        views = [e for e in r.eqns if _is_broadcast(e) and e.outputs[0] in outside]
        out_eqns.extend(views)
        wanted = [v for v in outside if not any(e.outputs[0] is v for e in views)]
        if wanted:
            fused, inputs = _build(r.eqns, wanted, r.shape, tuple(range(len(r.shape))),
                                   None, 0, compile, label("elementwise"),
                                   [v.aval for v in wanted])
            out_eqns.append(Eqn(fusion_p, inputs, list(wanted), {"kernel": fused},
                                r.eqns[-1].source_info))

    def close_readers_of(eqn: Eqn, keep: _Region | None = None) -> None:
        for r in list(regions.values()):
            if r is not keep and any(id(a) in r.produced for a in eqn.inputs):
                close(r)

    for eqn in jaxpr.eqns:
        if is_elementwise(eqn) or (_is_broadcast(eqn) and feeds_kernels(eqn)):
            shape = eqn.outputs[0].aval.shape
            region = regions.get(shape)
            if region is not None and _is_broadcast(eqn) and id(eqn.inputs[0]) in region.produced:
                close(region)
                region = None
            close_readers_of(eqn, keep=region)
            if region is not None and (region.size >= max_ops
                                       or region.operands >= max_operands):
                close(region)
                region = None
            if region is None:
                region = regions[shape] = _Region(shape, consumers, returned)
            region.add(eqn)
            continue
        if is_reduction(eqn) and eqn.inputs[0].aval.shape in regions:
            prologue = regions[eqn.inputs[0].aval.shape].prologue(eqn.inputs[0])
            computed = [e for e in prologue if not _is_broadcast(e)]
            if computed and pays(int(np.prod(eqn.inputs[0].aval.shape)), computed, launch_us,
                                 reduces=True):
                # (a lone broadcast is a free view: nothing to fuse)
                x_shape = eqn.inputs[0].aval.shape
                axes = eqn.params["axes"]
                kept = tuple(d for d in range(len(x_shape)) if d not in axes)
                fused, inputs = _build(prologue, [eqn.inputs[0]], x_shape, kept + tuple(axes),
                                       eqn.prim.kernel.kind, len(axes), compile,
                                       label("reduce"),
                                       [eqn.outputs[0].aval])
                close_readers_of(Eqn(fusion_p, inputs, [], {}),
                                 keep=regions[eqn.inputs[0].aval.shape])
                out_eqns.append(Eqn(fusion_p, inputs, list(eqn.outputs), {"kernel": fused},
                                    eqn.source_info))
                absorbed.add(id(eqn))
                continue
        close_readers_of(eqn)
        out_eqns.append(eqn)
    for r in list(regions.values()):
        close(r)
    return ClosedJaxpr(Jaxpr(jaxpr.constvars, jaxpr.invars, out_eqns, jaxpr.outvars),
                       closed.consts)


def describe(before: ClosedJaxpr, after: ClosedJaxpr, nests: Collection[int] = ()
             ) -> list[str]:
    """What fusion did, for `explain`: each kernel with its size and bytes moved, the library
    calls, the C loop nests (`nests`: the ids of the equations the backend runs as one),
    and the launches saved against one kernel per equation."""
    kernels = [e for e in after.eqns if e.prim is fusion_p]
    fused_away = len(before.eqns) - (len(after.eqns) - len(kernels))
    loops = [e.prim.name for e in after.eqns if id(e) in nests]
    library = [e.prim.name for e in after.eqns  # CLoop ones without their nest: the impl
               if type(e.prim.kernel) in (LibraryCall, CLoop) and id(e) not in nests]
    lines = [f"kernels:   {len(kernels)} fused kernels doing the work of {fused_away} "
             f"equations ({fused_away - len(kernels)} launches saved), "
             f"{len(library)} library calls ({', '.join(sorted(set(library))) or 'none'})"
             + (f", {len(loops)} C loop nests ({', '.join(sorted(set(loops)))})"
                if loops else "")]
    for e in kernels:
        k = e.params["kernel"]
        read = sum(a.aval.size * a.aval.dtype.itemsize for a in e.inputs)
        written = sum(v.aval.size * v.aval.dtype.itemsize for v in e.outputs)
        space = "x".join(map(str, k.space([]))) or "1"
        ops = sum(op.prim != "literal" for op in k.ops)
        lines.append(f"  {k.label}: {ops} ops over {space}, reads {read} B, "
                     f"writes {written} B")
    return lines


__all__ = ["describe", "fuse", "fusion_p", "FusedKernel", "is_elementwise", "is_reduction"]
