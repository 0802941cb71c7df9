"""Control flow as primitives holding closed sub-jaxprs: `cond` (and `switch`), `while_loop`
and `scan`, with `fori_loop` and `map` on top. Every rule transforms the sub-jaxprs, so a
loop or a branch stays one equation under jvp, grad, vmap and jit (DESIGN.md §5).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from fnad import tree as tree_util
from fnad.core.errors import (
    ArgumentError,
    ArgumentTypeError,
    DTypeError,
    FnadError,
    ShapeError,
    TransformError,
    user_line,
)
from fnad.core.ir import (
    WEAK_CARRIERS,
    ClosedJaxpr,
    Jaxpr,
    Literal,
    ShapedArray,
    Var,
    abstractify,
    get_aval,
    typematch,
    weak_array,
    weak_default,
)
from fnad.core.primitive import Primitive, Zero
from fnad.core.trace import Tracer, state
from fnad.device import array_module
from fnad.interpreters.batching import batch_jaxpr, moveaxis, vmap_flat
from fnad.interpreters.jvp import instantiate, jvp_jaxpr
from fnad.interpreters.partial_eval import partial_eval_jaxpr
from fnad.interpreters.staging import StagedTracer, trace_to_jaxpr
from fnad.interpreters.transpose import (
    UndefinedPrimal,
    backward_pass,
    is_undefined,
    transpose_jaxpr,
)
from fnad.lax.elementwise import (
    add,
    asarray_like,
    convert_element_type,
    gt,
    max,
    min,
    ne,
    select_n,
)
from fnad.lax.reduction import reduce_sum
from fnad.lax.structural import broadcast_in_dim, full


class ControlFlowTypeError(FnadError, TypeError):
    """Branches disagree on their output types, or a loop body changes its carry's type."""


# ---------------------------------------------------------------------------- jaxpr plumbing

def _hoist(closed: ClosedJaxpr) -> tuple[ClosedJaxpr, list[Any]]:
    """Turn constants into leading inputs. Closed-over values (tracers of enclosing transforms
    included) then become operands of the primitive, which those transforms see; a param
    never hides one."""
    j = closed.jaxpr
    return ClosedJaxpr(Jaxpr([], j.constvars + j.invars, j.eqns, j.outvars), []), list(closed.consts)


def _rewire(closed: ClosedJaxpr, ins: Sequence[int | ShapedArray],
            outs: Sequence[int] | None = None) -> ClosedJaxpr:
    """Reorder (or add unused) inputs and reorder (or drop) outputs: `ins[k]` is the index of
    an old input, or the aval of a new unused one; `outs[k]` the index of an old output."""
    j = closed.jaxpr
    invars = [j.invars[i] if isinstance(i, int) else Var(i) for i in ins]
    outvars = j.outvars if outs is None else [j.outvars[i] for i in outs]
    return ClosedJaxpr(Jaxpr(j.constvars, invars, j.eqns, outvars), closed.consts)


def _perm(sizes: Sequence[int], order: Sequence[int]) -> list[int]:
    """Indices that regroup consecutive groups of `sizes` into the group `order`."""
    starts = np.cumsum([0, *sizes]).tolist()
    return [i for g in order for i in range(starts[g], starts[g] + sizes[g])]


def _split(xs: Sequence[Any], *sizes: int) -> list[list[Any]]:
    """Consecutive groups of the given sizes, then the rest."""
    out, start = [], 0
    for n in sizes:
        out.append(list(xs[start:start + n]))
        start += n
    out.append(list(xs[start:]))
    return out


def _step(body: Any) -> Callable[..., list[Any]]:
    """What a loop calls at each step: a compiled body (a jit executable) offers its
    generated function, called directly; a ClosedJaxpr is called as it is."""
    step = getattr(body, "step_function", None)
    return body if step is None else step()


def contiguous_constants(consts: Sequence[Any]) -> list[Any]:
    """A loop's constants, with its strided and transposed matrices made C-contiguous: every
    step reads them, and BLAS and the fused kernels read them fastest so (one copy per run
    of the loop; jit's hoisting hands loops transposed weights, see fnad.jit.hoist)."""
    return [c if getattr(c, "ndim", 0) < 2 or c.flags.c_contiguous
            else array_module([c]).ascontiguousarray(c) for c in consts]


def _fixed_point(step: Callable[[list[bool]], Sequence[bool]], mask: list[bool]) -> list[bool]:
    """Grow `mask` (which carries are nonzero / unknown / batched) until one more trip through
    the body adds nothing: a loop's carry must have the same kind at every iteration."""
    while True:
        new = [a or b for a, b in zip(mask, step(mask))]
        if new == mask:
            return mask
        mask = new


def _agree(transform: Callable[[ClosedJaxpr, Any], tuple[Any, list[bool]]],
           branches: Sequence[ClosedJaxpr]) -> tuple[list[Any], list[bool]]:
    """Transform every branch; where their output masks differ, redo it with the union forced,
    so all branches of a `cond` produce the same outputs."""
    first = [transform(b, False) for b in branches]
    union = [builtins.any(col) for col in zip(*(m for _, m in first))]
    return [r if m == union else transform(b, union)[0]
            for (r, m), b in zip(first, branches)], union


def _zeros(aval: ShapedArray) -> Any:
    return full(aval.shape, 0, aval.dtype)


# ---------------------------------------------------------------------------- tracing user code

def _as_arrays(leaves: Sequence[Any], what: str) -> list[Any]:
    out = []
    for x in leaves:
        if isinstance(x, (bool, int, float, complex)) and not isinstance(x, np.generic):
            x = asarray_like(x)[0]
        elif not hasattr(x, "dtype"):
            raise ControlFlowTypeError(f"{what}: expected arrays, got {type(x).__name__}: {x!r}")
        out.append(x)
    return out


def _weak_literal(x: Any) -> Any:
    """A Python number (not a bool) a staged function returns, as a weakly typed value of
    the jaxpr, as in JAX: it takes the dtype of what it meets (another branch's output, a
    carry's init)."""
    if type(x) not in WEAK_CARRIERS:
        return x
    return StagedTracer(state.trace, Literal(weak_array(x), abstractify(x)))


def _operands(leaves: Sequence[Any], what: str) -> tuple[list[Any], list[ShapedArray]]:
    """Operands or loop inits and their avals: Python numbers are weakly typed (carried
    exactly, taking the dtype of what they meet), as JAX's are."""
    for x in leaves:
        if not isinstance(x, (bool, int, float, complex)) and not hasattr(x, "dtype"):
            raise ControlFlowTypeError(f"{what}: expected arrays, got {type(x).__name__}: {x!r}")
    return [weak_array(x) for x in leaves], [abstractify(x) for x in leaves]


def _same_types(avals: Sequence[ShapedArray], expected: Sequence[ShapedArray]) -> bool:
    """Same shapes and dtypes; weak types may differ (JAX's type check ignores them)."""
    return len(avals) == len(expected) and all(builtins.map(typematch, avals, expected))


def _promote_weak_carry(carry: list[Any], avals: list[ShapedArray],
                        outs: Sequence[ShapedArray]) -> bool:
    """A weakly typed init (a Python number) takes the type the body gives its carry, so
    `fori_loop(0, n, lambda i, v: v * x, 1.0)` runs in `x`'s dtype. Updates `carry` and
    `avals` in place; says whether anything changed (then the body is traced again)."""
    changed = False
    for i, (a, o) in enumerate(zip(avals, outs)):
        if a.weak_type and a.shape == o.shape and a != o:
            if a.dtype != o.dtype:
                carry[i] = convert_element_type(carry[i], o.dtype)
            avals[i] = o
            changed = True
    return changed


def _type_str(tree: Any, avals: Sequence[ShapedArray]) -> str:
    """A pytree of avals, e.g. `(f32[3], {'h': f32[2,4]})`: structure, shapes and dtypes."""
    return repr(tree_util.tree_unflatten(tree, list(avals)))


def _trace(f: Callable[[Any], Any], in_tree: Any, in_avals: Sequence[ShapedArray],
           name: str) -> tuple[ClosedJaxpr, Any]:
    """Stage `f(pytree)` on abstract flat inputs: its jaxpr and its output structure."""
    store: dict[str, Any] = {}

    def flat(*leaves: Any) -> list[Any]:
        out_leaves, store["tree"] = tree_util.tree_flatten(f(tree_util.tree_unflatten(in_tree,
                                                                                       leaves)))
        return _as_arrays([_weak_literal(x) for x in out_leaves],
                          f"{name}: a function returned a non-array")

    closed = trace_to_jaxpr(flat, list(in_avals), transform=name)
    return closed, store["tree"]


def _check_type(name: str, what: str, tree: Any, avals: Sequence[ShapedArray],
                expected_what: str, expected_tree: Any, expected: Sequence[ShapedArray]) -> None:
    if tree != expected_tree or len(avals) != len(expected) or not all(
            typematch(a, e) or (e.weak_type and a.shape == e.shape)  # promoted afterwards
            for a, e in zip(avals, expected)):
        only_dtypes = tree == expected_tree and [a.shape for a in avals] == [
            e.shape for e in expected]
        hint = (" NumPy's promotion changes dtypes: int32 + float32 is float64, and a float64 "
                "array turns float32 values into float64." if only_dtypes else "")
        raise ControlFlowTypeError(
            f"{name}: {what} has type {_type_str(tree, avals)} but {expected_what} has type "
            f"{_type_str(expected_tree, expected)}; they must have the same structure, shapes "
            f"and dtypes (convert with .astype or fnad.lax.convert_element_type).{hint}"
            f"{user_line()}")


# ---------------------------------------------------------------------------- cond

cond_p = Primitive("cond", multiple_results=True)


def _cond_impl(index: Any, *ops: Any, branches: tuple[ClosedJaxpr, ...]) -> list[Any]:
    return branches[int(index)](*ops)


cond_p.def_impl(_cond_impl)


@cond_p.def_abstract_eval
def _cond_abstract_eval(index: ShapedArray, *ops: ShapedArray,
                        branches: tuple[ClosedJaxpr, ...]) -> list[ShapedArray]:
    if index.shape != () or index.dtype != np.int32:
        raise DTypeError(f"the branch index must be an int32 scalar, got {index}")
    for i, b in enumerate(branches):
        if not _same_types(b.in_avals, ops):
            raise DTypeError(f"branch {i} takes {b.in_avals}, given {list(ops)}")
        if not _same_types(b.out_avals, branches[0].out_avals):
            raise DTypeError(f"branch {i} returns {b.out_avals}, branch 0 "
                             f"{branches[0].out_avals}")
    # an output is weakly typed when it is in every branch
    return [a.update(weak_type=all(b.out_avals[k].weak_type for b in branches))
            for k, a in enumerate(branches[0].out_avals)]


def _cond_call(branches: Sequence[ClosedJaxpr], operands: Sequence[Any]
               ) -> tuple[list[Any], dict[str, Any]]:
    """Operands (after the index) and params of a cond: every branch's constants become
    operands that all branches take (each ignores the others')."""
    hoisted = [_hoist(b) for b in branches]
    consts = [c for _, cs in hoisted for c in cs]
    avals = [get_aval(c) for c in consts]
    new, start = [], 0
    for j, cs in hoisted:
        k = len(cs)
        ins: list[int | ShapedArray] = [m - start if start <= m < start + k else avals[m]
                                        for m in range(len(consts))]
        new.append(_rewire(j, ins + [k + i for i in range(len(operands))]))
        start += k
    return [*consts, *operands], {"branches": tuple(new)}


def _cond_jvp(primals: Sequence[Any], tangents: Sequence[Any], *,
              branches: tuple[ClosedJaxpr, ...]) -> tuple[list[Any], list[Any]]:
    index, ops = primals[0], primals[1:]
    nz = [type(t) is not Zero for t in tangents[1:]]
    jvps, out_nz = _agree(lambda b, inst: jvp_jaxpr(b, nz, inst), branches)
    args, params = _cond_call(jvps, [*ops, *(t for t in tangents[1:] if type(t) is not Zero)])
    outs = cond_p.bind(index, *args, **params)
    n = len(out_nz)
    touts = iter(outs[n:])
    return outs[:n], [next(touts) if z else Zero(a)
                      for z, a in zip(out_nz, branches[0].out_avals)]


def _cond_partial_eval(trace: Any, args: Sequence[Any], params: dict[str, Any]) -> list[Any]:
    """Known outputs and residuals come from a cond on the known operands, run now; the rest
    is a staged cond on the residuals and unknown operands. Branches have different
    residuals, so each branch's known part returns zeros in the other branches' slots."""
    index, ops = args[0], args[1:]
    if trace.is_unknown(index):
        return trace.stage(cond_p, args, params)
    uk = [trace.is_unknown(x) for x in ops]

    def split(b: ClosedJaxpr, inst: Any) -> tuple[Any, list[bool]]:
        known, unknown, out_uk, num_res = partial_eval_jaxpr(b, uk, inst)
        return (known, unknown, num_res), out_uk

    parts, out_uk = _agree(split, params["branches"])
    n_known = out_uk.count(False)
    res_avals = [known.out_avals[n_known:] for known, _, _ in parts]
    all_res = [a for avals in res_avals for a in avals]
    known_branches, unknown_branches, start = [], [], 0
    for known, unknown, num_res in parts:
        def padded(*xs: Any, known: ClosedJaxpr = known, start: int = start,
                   end: int = start + num_res) -> list[Any]:
            outs = known(*xs)
            return [*outs[:n_known], *(_zeros(a) for a in all_res[:start]), *outs[n_known:],
                    *(_zeros(a) for a in all_res[end:])]
        known_branches.append(trace_to_jaxpr(padded, known.in_avals))
        slots: list[int | ShapedArray] = [m - start if start <= m < start + num_res else a
                                          for m, a in enumerate(all_res)]
        unknown_branches.append(_rewire(unknown, slots + list(range(num_res, len(
            unknown.in_avals)))))
        start += num_res
    kargs, kparams = _cond_call(known_branches, [x for x, u in zip(ops, uk) if not u])
    known_outs = trace.bind_known(cond_p, [index, *kargs], kparams)
    res = known_outs[n_known:]
    uargs, uparams = _cond_call(unknown_branches, [*res, *(x for x, u in zip(ops, uk) if u)])
    unknown_outs = iter(trace.stage(cond_p, [index, *uargs], uparams))
    known_iter = iter(known_outs[:n_known])
    return [next(unknown_outs) if u else next(known_iter) for u in out_uk]


def _cond_transpose(cts: Sequence[Any], index: Any, *ops: Any,
                    branches: tuple[ClosedJaxpr, ...]) -> list[Any]:
    linear = [is_undefined(x) for x in ops]
    cts = [instantiate(c) for c in cts]
    transposed = [transpose_jaxpr(b, linear) for b in branches]
    args, params = _cond_call(transposed, [*(x for x in ops if not is_undefined(x)), *cts])
    out = iter(cond_p.bind(index, *args, **params))
    return [None] + [next(out) if lin else None for lin in linear]


def _cond_batch(axis_size: int, vals: Sequence[Any], dims: Sequence[int | None], *,
                branches: tuple[ClosedJaxpr, ...]) -> tuple[list[Any], list[int | None]]:
    index, ops = vals[0], vals[1:]
    if dims[0] is not None:
        # A batched index picks a different branch per element: run them all, then select.
        cases = []
        for b in branches:
            outs, out_dims = vmap_flat(lambda *xs, b=b: b(*xs), axis_size, ops, dims[1:])
            cases.append([moveaxis(o, d, 0, axis_size) for o, d in zip(outs, out_dims)])
        which = moveaxis(index, dims[0], 0, axis_size)
        outs = []
        for col in zip(*cases):
            shape = get_aval(col[0]).shape
            outs.append(select_n(broadcast_in_dim(which, shape, (0,)), *col))
        return outs, [0] * len(outs)
    batched, out_b = _agree(lambda b, force: batch_jaxpr(b, axis_size, dims[1:], force),
                            branches)
    args, params = _cond_call(batched, ops)
    return cond_p.bind(index, *args, **params), [0 if b else None for b in out_b]


cond_p.def_jvp(_cond_jvp)
cond_p.partial_eval = _cond_partial_eval
cond_p.def_transpose(_cond_transpose)
cond_p.def_batch(_cond_batch)


def _branches(index: Any, branches: Sequence[Callable[..., Any]], names: Sequence[str],
              operands: Sequence[Any], name: str) -> Any:
    leaves, in_tree = tree_util.tree_flatten(tuple(operands))
    leaves, avals = _operands(leaves, f"{name} operands")
    traced = [_trace(lambda ops, b=b: b(*ops), in_tree, avals, name) for b in branches]
    targets = _weak_output_targets([c.out_avals for c, _ in traced])
    if targets is not None:  # a weak output meets another branch's type: it takes it
        traced = [_trace(lambda ops, b=b: _converted(b(*ops), targets), in_tree, avals, name)
                  for b in branches]
    closed0, tree0 = traced[0]
    for (closed, tree), what in zip(traced[1:], names[1:]):
        _check_type(name, f"{what}'s output", tree, closed.out_avals, f"{names[0]}'s output",
                    tree0, closed0.out_avals)
    args, params = _cond_call([c for c, _ in traced], leaves)
    outs = cond_p.bind(index, *args, **params)
    return tree_util.tree_unflatten(tree0, _leaving(outs, _cond_abstract_eval(
        ShapedArray((), np.int32), *params["branches"][0].in_avals, **params)))


def _leaving(outs: Sequence[Any], avals: Sequence[ShapedArray]) -> list[Any]:
    """Eager results: a weakly typed one (a Python number passed through) becomes an array
    of its kind's default dtype, as a Python number does in `fnad.numpy`."""
    return [o.astype(weak_default(a.dtype)) if a.weak_type and not isinstance(o, Tracer) else o
            for o, a in zip(outs, avals)]


def _weak_output_targets(outs: Sequence[Sequence[ShapedArray]]) -> list[Any] | None:
    """Per output, the dtype weakly typed branch outputs are converted to where the branches
    disagree: the strong branches' dtype, or among weak outputs alone the default dtype of
    their kind (as for an operation on Python numbers). None when nothing is to convert."""
    if len({len(o) for o in outs}) != 1:
        return None  # a structure error, reported by the type check
    targets: list[Any] = []
    for col in zip(*outs):
        strong = {a.dtype for a in col if not a.weak_type}
        if len({a.shape for a in col}) > 1 or len(strong) > 1 or _same_types(col, col[:1] * len(col)):
            targets.append(None)
        else:
            targets.append(strong.pop() if strong else
                           weak_default(np.result_type(*(a.dtype for a in col))))
    return targets if builtins.any(t is not None for t in targets) else None


def _converted(out: Any, targets: Sequence[Any]) -> Any:
    leaves, tree = tree_util.tree_flatten(out)
    if len(leaves) != len(targets):
        return out  # a structure error, reported by the type check
    return tree_util.tree_unflatten(tree, [x if t is None else convert_element_type(x, t)
                                           for x, t in zip(leaves, targets)])


def _scalar(x: Any, name: str, what: str, kinds: str) -> Any:
    (x,) = asarray_like(x)
    aval = get_aval(x)
    if aval.shape != () or aval.dtype.kind not in kinds:
        raise ControlFlowTypeError(
            f"{name}: the {what} must be a scalar, got {aval}; to choose elementwise use "
            "fnad.numpy.where, and under vmap pass a per-example scalar")
    return x


_NO_OPERAND = object()


def _keyword_operand(operands: tuple, operand: Any, name: str) -> tuple:
    """JAX's older `operand=` keyword: the one operand, given instead of positional ones."""
    if operand is _NO_OPERAND:
        return operands
    if operands:
        raise ArgumentTypeError(f"{name}: give the operands positionally or as operand=, "
                                "not both")
    return (operand,)


def cond(pred: Any, true_fun: Callable[..., Any], false_fun: Callable[..., Any],
         *operands: Any, operand: Any = _NO_OPERAND) -> Any:
    """`true_fun(*operands)` if `pred` else `false_fun(*operands)`, as one staged equation.

    Both branches are traced and must return the same types; only one runs (under vmap
    with a batched `pred`, both run and the results are selected). JAX's older `operand=`
    keyword is accepted for a single operand.

    >>> import numpy as np
    >>> cond(np.float32(2.0) > 0, lambda x: x * 2, lambda x: -x, np.float32(3.0))
    np.float32(6.0)
    """
    pred = _scalar(pred, "cond", "predicate", "biuf")
    if get_aval(pred).dtype != np.bool_:
        pred = ne(pred, 0)
    index = convert_element_type(pred, np.int32)
    return _branches(index, (false_fun, true_fun), ("false_fun", "true_fun"),
                     _keyword_operand(operands, operand, "cond"), "cond")


def switch(index: Any, branches: Sequence[Callable[..., Any]], *operands: Any,
           operand: Any = _NO_OPERAND) -> Any:
    """`branches[index](*operands)`, with `index` clamped to the valid range (JAX's older
    `operand=` keyword is accepted for a single operand).

    >>> import numpy as np
    >>> switch(5, [lambda x: x, lambda x: x * 10], np.float32(1.0))
    np.float32(10.0)
    """
    if not branches:
        raise ControlFlowTypeError("switch: needs at least one branch")
    index = convert_element_type(_scalar(index, "switch", "index", "iu"), np.int32)
    index = max(min(index, len(branches) - 1), 0)
    return _branches(index, list(branches), [f"branch {i}" for i in range(len(branches))],
                     _keyword_operand(operands, operand, "switch"), "switch")


# ---------------------------------------------------------------------------- while_loop

while_p = Primitive("while_loop", multiple_results=True)


def _while_impl(*args: Any, cond_jaxpr: ClosedJaxpr, body_jaxpr: ClosedJaxpr,
                cond_nconsts: int, body_nconsts: int) -> list[Any]:
    cc, bc, carry = _split(args, cond_nconsts, body_nconsts)
    cc, bc = contiguous_constants(cc), contiguous_constants(bc)
    cond, body = _step(cond_jaxpr), _step(body_jaxpr)
    while cond(*cc, *carry)[0]:
        carry = body(*bc, *carry)
    return list(carry)


while_p.def_impl(_while_impl)


@while_p.def_abstract_eval
def _while_abstract_eval(*avals: ShapedArray, cond_jaxpr: ClosedJaxpr, body_jaxpr: ClosedJaxpr,
                         cond_nconsts: int, body_nconsts: int) -> list[ShapedArray]:
    cc, bc, carry = _split(avals, cond_nconsts, body_nconsts)
    if (not _same_types(cond_jaxpr.in_avals, cc + carry)
            or not _same_types(cond_jaxpr.out_avals, [ShapedArray((), np.bool_)])):
        raise DTypeError(f"cond_jaxpr has type {cond_jaxpr.in_avals} -> {cond_jaxpr.out_avals}, "
                         f"expected {cc + carry} -> [bool[]]")
    if (not _same_types(body_jaxpr.in_avals, bc + carry)
            or not _same_types(body_jaxpr.out_avals, carry)):
        raise DTypeError(f"body_jaxpr has type {body_jaxpr.in_avals} -> {body_jaxpr.out_avals}, "
                         f"expected {bc + carry} -> {carry}")
    return list(body_jaxpr.out_avals)


def _while_call(cond_jaxpr: ClosedJaxpr, body_jaxpr: ClosedJaxpr, cond_consts: Sequence[Any],
                body_consts: Sequence[Any], carry: Sequence[Any]
                ) -> tuple[list[Any], dict[str, Any]]:
    cond_jaxpr, cc = _hoist(cond_jaxpr)
    body_jaxpr, bc = _hoist(body_jaxpr)
    return [*cc, *cond_consts, *bc, *body_consts, *carry], {
        "cond_jaxpr": cond_jaxpr, "body_jaxpr": body_jaxpr,
        "cond_nconsts": len(cc) + len(cond_consts), "body_nconsts": len(bc) + len(body_consts)}


def _while_jvp(primals: Sequence[Any], tangents: Sequence[Any], *, cond_jaxpr: ClosedJaxpr,
               body_jaxpr: ClosedJaxpr, cond_nconsts: int, body_nconsts: int
               ) -> tuple[list[Any], list[Any]]:
    cc, bc, carry = _split(primals, cond_nconsts, body_nconsts)
    _, bct, ct = _split(tangents, cond_nconsts, body_nconsts)
    bc_nz = [type(t) is not Zero for t in bct]
    carry_nz = _fixed_point(lambda m: jvp_jaxpr(body_jaxpr, bc_nz + m, False)[1],
                            [type(t) is not Zero for t in ct])
    body, _ = jvp_jaxpr(body_jaxpr, bc_nz + carry_nz, carry_nz)
    nb, nc = len(bc), len(carry)
    body = _rewire(body, _perm([nb, nc, sum(bc_nz), sum(carry_nz)], [0, 2, 1, 3]))
    carry_avals = body_jaxpr.out_avals
    cond = _rewire(cond_jaxpr, [*range(cond_nconsts + nc),
                                *(a for a, z in zip(carry_avals, carry_nz) if z)])
    args, params = _while_call(
        cond, body, cc, [*bc, *(t for t in bct if type(t) is not Zero)],
        [*carry, *(instantiate(t) for t, z in zip(ct, carry_nz) if z)])
    outs = while_p.bind(*args, **params)
    touts = iter(outs[nc:])
    return outs[:nc], [next(touts) if z else Zero(a) for z, a in zip(carry_nz, carry_avals)]


def _while_partial_eval(trace: Any, args: Sequence[Any], params: dict[str, Any]) -> Any:
    """Known carries (the primal loop under linearize) run now, as a loop of their own; the
    unknown ones come from the whole loop staged again (recomputing the known part, as JAX
    does). So `linearize` and `jvp` of a while loop work; transposing it does not."""
    cond_jaxpr, body_jaxpr = params["cond_jaxpr"], params["body_jaxpr"]
    nc_, nb = params["cond_nconsts"], params["body_nconsts"]
    cc_u, bc_u, carry_u = _split([trace.is_unknown(a) for a in args], nc_, nb)
    carry_u = _fixed_point(lambda m: partial_eval_jaxpr(body_jaxpr, bc_u + m)[2], carry_u)
    cond_known, _, cond_u, _ = partial_eval_jaxpr(cond_jaxpr, cc_u + carry_u)
    if cond_u[0]:
        raise TransformError("while_loop: the loop's predicate depends on a value being "
                             "differentiated; differentiate a loop whose trip count does not")
    if not any(carry_u):
        return trace.bind_known(while_p, args, params)
    body_known, _, _, _ = partial_eval_jaxpr(body_jaxpr, bc_u + carry_u)
    n_known = carry_u.count(False)
    cc, bc, carry = _split(args, nc_, nb)
    keep = lambda xs, unknown: [x for x, u in zip(xs, unknown) if not u]
    known_args, known_params = _while_call(
        _rewire(cond_known, range(len(cond_known.in_avals)), [0]),
        _rewire(body_known, range(len(body_known.in_avals)), range(n_known)),
        keep(cc, cc_u), keep(bc, bc_u), keep(carry, carry_u))
    known_outs = iter(trace.bind_known(while_p, known_args, known_params))
    staged = trace.stage(while_p, args, params)
    return [s if u else next(known_outs) for s, u in zip(staged, carry_u)]


def _while_transpose(cts: Sequence[Any], *args: Any, **params: Any) -> list[Any]:
    raise TransformError(
        "reverse-mode differentiation (grad, vjp) through while_loop is not supported: its "
        "trip count is only known at run time, so there is no fixed sequence of residuals to "
        "save. Use fori_loop with static (Python int) bounds, which becomes a scan, or write "
        "the loop with scan; forward mode (jvp, jacfwd, linearize) works as it is.")


def _while_batch(axis_size: int, vals: Sequence[Any], dims: Sequence[int | None], *,
                 cond_jaxpr: ClosedJaxpr, body_jaxpr: ClosedJaxpr, cond_nconsts: int,
                 body_nconsts: int) -> tuple[list[Any], list[int | None]]:
    cc, bc, carry = _split(vals, cond_nconsts, body_nconsts)
    ccd, bcd, cd = _split(dims, cond_nconsts, body_nconsts)
    pred_batched = [False]

    def step(mask: list[bool]) -> list[bool]:
        carry_dims = [0 if b else None for b in mask]
        out_b = batch_jaxpr(body_jaxpr, axis_size, bcd + carry_dims)[1]
        pred_batched[0] = batch_jaxpr(cond_jaxpr, axis_size, ccd + carry_dims)[1][0]
        # Elements that stop at different trips make every carry batched.
        return [True] * len(mask) if pred_batched[0] else out_b

    carry_b = _fixed_point(step, [d is not None for d in cd])
    carry_dims = [0 if b else None for b in carry_b]
    body, _ = batch_jaxpr(body_jaxpr, axis_size, bcd + carry_dims, carry_b)
    cond, _ = batch_jaxpr(cond_jaxpr, axis_size, ccd + carry_dims)
    carry = [moveaxis(x, d, bd, axis_size) for x, d, bd in zip(carry, cd, carry_dims)]
    if not pred_batched[0]:
        args, params = _while_call(cond, body, cc, bc, carry)
        return while_p.bind(*args, **params), carry_dims
    nc = len(cc)

    def any_running(*args: Any) -> list[Any]:
        pred = convert_element_type(cond(*args)[0], np.int32)
        return [gt(reduce_sum(pred, (0,)), 0)]

    def masked_body(*args: Any) -> list[Any]:
        cc_, bc_, old = _split(args, nc, len(bc))
        running = cond(*cc_, *old)[0]
        new = body(*bc_, *old)
        return [select_n(broadcast_in_dim(running, get_aval(o).shape, (0,)), o, n)
                for o, n in zip(old, new)]

    loop_cond = trace_to_jaxpr(any_running, cond.in_avals)
    loop_body = trace_to_jaxpr(masked_body, [*cond.in_avals[:nc], *body.in_avals])
    args, params = _while_call(loop_cond, loop_body, cc, [*cc, *bc], carry)
    return while_p.bind(*args, **params), carry_dims


while_p.def_jvp(_while_jvp)
while_p.partial_eval = _while_partial_eval
while_p.def_transpose(_while_transpose)
while_p.def_batch(_while_batch)


def while_loop(cond_fun: Callable[[Any], Any], body_fun: Callable[[Any], Any],
               init_val: Any) -> Any:
    """Repeat `val = body_fun(val)` while `cond_fun(val)`; `val` is a pytree whose type the
    body must keep. Differentiable in forward mode only (see `fori_loop` and `scan`).

    >>> import numpy as np
    >>> while_loop(lambda x: x < 10, lambda x: x * 2, np.int32(1))
    np.int32(16)
    """
    leaves, tree = tree_util.tree_flatten(init_val)
    leaves, avals = _operands(leaves, "while_loop init_val")
    body_jaxpr, body_tree = _trace(body_fun, tree, avals, "while_loop")
    for _ in range(len(avals)):  # a weak carry fed from another can change again
        if not _promote_weak_carry(leaves, avals, body_jaxpr.out_avals):
            break
        body_jaxpr, body_tree = _trace(body_fun, tree, avals, "while_loop")
    cond_jaxpr, cond_tree = _trace(cond_fun, tree, avals, "while_loop")
    if cond_tree.num_leaves != 1 or not typematch(cond_jaxpr.out_avals[0],
                                                  ShapedArray((), np.bool_)):
        raise ControlFlowTypeError(
            "while_loop: cond_fun must return a boolean scalar, got "
            f"{_type_str(cond_tree, cond_jaxpr.out_avals)}")
    _check_type("while_loop", "body_fun's output", body_tree, body_jaxpr.out_avals,
                "init_val", tree, avals)
    args, params = _while_call(cond_jaxpr, body_jaxpr, [], [], leaves)
    return tree_util.tree_unflatten(tree, _leaving(while_p.bind(*args, **params),
                                                   body_jaxpr.out_avals))


def _static_int(x: Any) -> int | None:
    if isinstance(x, Tracer) or isinstance(x, (bool, np.bool_)):
        return None
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, np.ndarray) and x.shape == () and x.dtype.kind in "iu":
        return int(x)
    return None


def fori_loop(lower: Any, upper: Any, body_fun: Callable[[Any, Any], Any], init_val: Any,
              *, unroll: int | bool | None = None) -> Any:
    """`val = body_fun(i, val)` for i in [lower, upper). With concrete bounds this is a `scan`
    (reverse-differentiable, `unroll` as scan's; None is 1); with traced bounds, a
    `while_loop` (forward mode only).

    >>> import numpy as np
    >>> fori_loop(0, 4, lambda i, x: x * 2, np.float32(1.0))
    np.float32(16.0)
    """
    lo, hi = _static_int(lower), _static_int(upper)
    # Python int bounds make a weakly typed index, as in JAX
    weak_start = lo if type(lower) is int and type(upper) is int else None
    lower, upper = asarray_like(lower, upper)

    def checked_body(i: Any, x: Any) -> Any:
        out = body_fun(i, x)
        (out_leaves, out_tree), (x_leaves, x_tree) = (tree_util.tree_flatten(t) for t in (out, x))
        _check_type("fori_loop", "body_fun's result", out_tree,
                    [get_aval(v) for v in _as_arrays(out_leaves, "fori_loop")], "init_val",
                    x_tree, [get_aval(v) for v in _as_arrays(x_leaves, "fori_loop")])
        return out

    if lo is not None and hi is not None:
        def step(carry: Any, _: Any) -> Any:
            i, x = carry
            return (i + 1, checked_body(i, x)), None
        start = lower if weak_start is None else weak_start
        return scan(step, (start, init_val), None, length=builtins.max(hi - lo, 0),
                    unroll=1 if unroll is None else unroll)[0][1]
    lower, upper = _scalar(lower, "fori_loop", "lower bound", "iu"), \
        _scalar(upper, "fori_loop", "upper bound", "iu")

    def body(carry: Any) -> Any:
        i, x = carry
        return i + 1, checked_body(i, x)

    return while_loop(lambda carry: carry[0] < upper, body, (lower, init_val))[1]


# ---------------------------------------------------------------------------- scan

scan_p = Primitive("scan", multiple_results=True)


def _scan_impl(*args: Any, jaxpr: ClosedJaxpr, length: int, reverse: bool, num_consts: int,
               num_carry: int, unroll: int) -> list[Any]:
    xp = array_module(args)  # NumPy, or CuPy on a GPU: the ys are made where they are
    consts, carry, xs = _split(args, num_consts, num_carry)
    if length == 0:  # one call on zeros gives the ys' shapes and dtypes
        with np.errstate(all="ignore"):
            ys = jaxpr(*consts, *carry, *(xp.zeros(x.shape[1:], x.dtype) for x in xs))[num_carry:]
        return [*carry, *(xp.zeros((0, *y.shape), y.dtype) for y in ys)]
    body, consts = _step(jaxpr), contiguous_constants(consts)
    order = range(length - 1, -1, -1) if reverse else range(length)
    out = body(*consts, *carry, *(x[order[0]] for x in xs))
    # each row is written in place: stacking a list of rows costs more
    ys = [xp.empty((length, *xp.shape(y)), y.dtype) for y in out[num_carry:]]
    rows = list(zip(ys, range(num_carry, len(out))))
    for stacked, k in rows:
        stacked[order[0]] = out[k]
    for i in order[1:]:
        out = body(*consts, *out[:num_carry], *[x[i] for x in xs])
        for stacked, k in rows:
            stacked[i] = out[k]
    return [*out[:num_carry], *ys]


scan_p.def_impl(_scan_impl)


@scan_p.def_abstract_eval
def _scan_abstract_eval(*avals: ShapedArray, jaxpr: ClosedJaxpr, length: int, reverse: bool,
                        num_consts: int, num_carry: int, unroll: int) -> list[ShapedArray]:
    consts, carry, xs = _split(avals, num_consts, num_carry)
    for x in xs:
        if not x.shape or x.shape[0] != length:
            raise ShapeError(f"scanned operand {x} has no leading axis of length {length}")
    expected = [*consts, *carry, *(x.update(shape=x.shape[1:]) for x in xs)]
    if (not _same_types(jaxpr.in_avals, expected)
            or not _same_types(jaxpr.out_avals[:num_carry], carry)):
        raise DTypeError(f"body has type {jaxpr.in_avals} -> {jaxpr.out_avals}, expected "
                         f"{expected} -> {carry} + ys")
    return [*jaxpr.out_avals[:num_carry],
            *(y.update(shape=(length, *y.shape)) for y in jaxpr.out_avals[num_carry:])]


def _scan_call(jaxpr: ClosedJaxpr, consts: Sequence[Any], carry: Sequence[Any],
               xs: Sequence[Any], length: int, reverse: bool, unroll: int
               ) -> tuple[list[Any], dict[str, Any]]:
    jaxpr, hoisted = _hoist(jaxpr)
    return [*hoisted, *consts, *carry, *xs], {
        "jaxpr": jaxpr, "length": length, "reverse": reverse,
        "num_consts": len(hoisted) + len(consts), "num_carry": len(carry), "unroll": unroll}


def _scan_jvp(primals: Sequence[Any], tangents: Sequence[Any], *, jaxpr: ClosedJaxpr,
              length: int, reverse: bool, num_consts: int, num_carry: int, unroll: int
              ) -> tuple[list[Any], list[Any]]:
    consts, carry, xs = _split(primals, num_consts, num_carry)
    ct, kt, xt = _split(tangents, num_consts, num_carry)
    c_nz, x_nz = [type(t) is not Zero for t in ct], [type(t) is not Zero for t in xt]
    carry_nz = _fixed_point(
        lambda m: jvp_jaxpr(jaxpr, c_nz + m + x_nz, False)[1][:num_carry],
        [type(t) is not Zero for t in kt])
    ny = len(jaxpr.out_avals) - num_carry
    body, out_nz = jvp_jaxpr(jaxpr, c_nz + carry_nz + x_nz, carry_nz + [False] * ny)
    y_nz = out_nz[num_carry:]
    body = _rewire(body,
                   _perm([num_consts, num_carry, len(xs), sum(c_nz), sum(carry_nz), sum(x_nz)],
                         [0, 3, 1, 4, 2, 5]),
                   _perm([num_carry, ny, sum(carry_nz), sum(y_nz)], [0, 2, 1, 3]))
    args, params = _scan_call(
        body, [*consts, *(t for t in ct if type(t) is not Zero)],
        [*carry, *(instantiate(t) for t, z in zip(kt, carry_nz) if z)],
        [*xs, *(t for t in xt if type(t) is not Zero)], length, reverse, unroll)
    outs = scan_p.bind(*args, **params)
    carry_out, carry_t, ys, ys_t = _split(outs, num_carry, sum(carry_nz), ny)
    out_avals = _scan_abstract_eval(*(get_aval(a) for a in primals), jaxpr=jaxpr, length=length,
                                    reverse=reverse, num_consts=num_consts,
                                    num_carry=num_carry, unroll=unroll)
    t_iter = iter([*carry_t, *ys_t])
    return [*carry_out, *ys], [next(t_iter) if z else Zero(a)
                               for z, a in zip(carry_nz + y_nz, out_avals)]


def _scan_partial_eval(trace: Any, args: Sequence[Any], params: dict[str, Any]) -> list[Any]:
    """A known scan runs now and also returns the residuals each iteration needs, stacked as
    extra ys; the unknown scan is staged and reads them as xs. Residuals that do not change
    between iterations (known constants of the body) are passed once, as constants."""
    jaxpr, num_consts, num_carry = params["jaxpr"], params["num_consts"], params["num_carry"]
    length, reverse, unroll = params["length"], params["reverse"], params["unroll"]
    uk = [trace.is_unknown(a) for a in args]
    c_uk, k_uk, x_uk = _split(uk, num_consts, num_carry)
    carry_uk = _fixed_point(
        lambda m: partial_eval_jaxpr(jaxpr, c_uk + m + x_uk)[2][:num_carry], k_uk)
    ny = len(jaxpr.out_avals) - num_carry
    known, unknown, out_uk, num_res = partial_eval_jaxpr(jaxpr, c_uk + carry_uk + x_uk,
                                                         carry_uk + [False] * ny)
    consts, carry, xs = _split(args, num_consts, num_carry)
    known_consts = [c for c, u in zip(consts, c_uk) if not u]
    known_carry = [c for c, u in zip(carry, carry_uk) if not u]
    known_xs = [x for x, u in zip(xs, x_uk) if not u]
    n_known_out = out_uk.count(False)
    invariant, forwarded = _residual_sources(known, n_known_out, known_consts, len(known_carry),
                                             known_xs)
    stacked = [r for r in range(num_res) if r not in invariant and r not in forwarded]
    known = _rewire(known, range(len(known.in_avals)),
                    [*range(n_known_out), *(n_known_out + r for r in stacked)])
    kargs, kparams = _scan_call(known, known_consts, known_carry, known_xs, length, reverse,
                                unroll)
    known_outs = trace.bind_known(scan_p, kargs, kparams) if known.out_avals else []
    known_outs, stacked_res = known_outs[:n_known_out], iter(known_outs[n_known_out:])

    per_iter = [r for r in range(num_res) if r not in invariant]
    n_uc, n_uk, n_ux = c_uk.count(True), carry_uk.count(True), x_uk.count(True)
    ins: list[int | ShapedArray] = [*invariant, *range(num_res, num_res + n_uc + n_uk),
                                    *per_iter, *range(num_res + n_uc + n_uk,
                                                      num_res + n_uc + n_uk + n_ux)]
    uargs, uparams = _scan_call(
        _rewire(unknown, ins),
        [*invariant.values(), *(c for c, u in zip(consts, c_uk) if u)],
        [c for c, u in zip(carry, carry_uk) if u],
        [*(forwarded[r] if r in forwarded else next(stacked_res) for r in per_iter),
         *(x for x, u in zip(xs, x_uk) if u)], length, reverse, unroll)
    unknown_outs = iter(trace.stage(scan_p, uargs, uparams) if unknown.out_avals else [])
    known_iter = iter(known_outs)
    return [next(unknown_outs) if u else next(known_iter) for u in out_uk]


def _residual_sources(known: ClosedJaxpr, n_out: int, consts: Sequence[Any], n_carry: int,
                      xs: Sequence[Any]) -> tuple[dict[int, Any], dict[int, Any]]:
    """Residuals of a scan body that need not be stacked by the known scan: those that are
    loop-invariant (a constant of the body: pass it once) and those that are a slice of a
    known xs (pass the xs itself). Both map residual index -> value."""
    j = known.jaxpr
    const_pos = {id(v): i for i, v in enumerate(j.constvars)}
    invar_pos = {id(v): i for i, v in enumerate(j.invars)}
    invariant: dict[int, Any] = {}
    forwarded: dict[int, Any] = {}
    for r, v in enumerate(j.outvars[n_out:]):
        i = invar_pos.get(id(v), -1)
        if isinstance(v, Literal):
            invariant[r] = v.value
        elif id(v) in const_pos:
            invariant[r] = known.consts[const_pos[id(v)]]
        elif 0 <= i < len(consts):
            invariant[r] = consts[i]
        elif i >= len(consts) + n_carry:
            forwarded[r] = xs[i - len(consts) - n_carry]
    return invariant, forwarded


def _scan_transpose(cts: Sequence[Any], *args: Any, jaxpr: ClosedJaxpr, length: int,
                    reverse: bool, num_consts: int, num_carry: int, unroll: int) -> list[Any]:
    """A scan the other way: its carry holds the carry's cotangent and the accumulated
    cotangents of the linear constants; its ys are the cotangents of the linear xs."""
    consts, carry, xs = _split(args, num_consts, num_carry)
    c_lin, x_lin = [is_undefined(c) for c in consts], [is_undefined(x) for x in xs]
    fixed_consts = [c for c in consts if not is_undefined(c)]
    fixed_xs = [x for x in xs if not is_undefined(x)]
    lin_const_avals = [c.aval for c in consts if is_undefined(c)]
    carry_avals = jaxpr.out_avals[:num_carry]
    y_avals = jaxpr.out_avals[num_carry:]
    x_avals = jaxpr.in_avals[num_consts + num_carry:]

    def body(*a: Any) -> list[Any]:
        fc, acc, ct_carry, ct_y, fx = _split(a, len(fixed_consts), len(lin_const_avals),
                                             num_carry, len(y_avals))
        fc_it, fx_it = iter(fc), iter(fx)
        ins = [*(UndefinedPrimal(aval) if lin else next(fc_it)
                 for aval, lin in zip(jaxpr.in_avals, c_lin)),
               *(UndefinedPrimal(aval) for aval in carry_avals),
               *(UndefinedPrimal(aval) if lin else next(fx_it)
                 for aval, lin in zip(x_avals, x_lin))]
        ct_in = backward_pass(jaxpr.jaxpr, jaxpr.consts, ins, [*ct_carry, *ct_y])
        cc, ck, cx = _split(ct_in, num_consts, num_carry)
        return [*(add(s, instantiate(c)) for s, c in zip(acc, (c for c in cc if c is not None))),
                *(instantiate(c) for c in ck), *(instantiate(c) for c in cx if c is not None)]

    in_avals = [*(get_aval(c) for c in fixed_consts), *lin_const_avals, *carry_avals,
                *y_avals, *(a for a, lin in zip(x_avals, x_lin) if not lin)]
    body_t = trace_to_jaxpr(body, in_avals)
    ct_carry, ct_ys = cts[:num_carry], cts[num_carry:]
    sargs, sparams = _scan_call(
        body_t, fixed_consts,
        [*(_zeros(a) for a in lin_const_avals), *(instantiate(c) for c in ct_carry)],
        [*(instantiate(c) for c in ct_ys), *fixed_xs], length, not reverse, unroll)
    outs = scan_p.bind(*sargs, **sparams)
    ct_consts, ct_init, ct_xs = _split(outs, len(lin_const_avals), num_carry)
    cc_it, cx_it = iter(ct_consts), iter(ct_xs)
    return [*(next(cc_it) if lin else None for lin in c_lin),
            *(ct if is_undefined(c) else None for c, ct in zip(carry, ct_init)),
            *(next(cx_it) if lin else None for lin in x_lin)]


def _scan_batch(axis_size: int, vals: Sequence[Any], dims: Sequence[int | None], *,
                jaxpr: ClosedJaxpr, length: int, reverse: bool, num_consts: int,
                num_carry: int, unroll: int) -> tuple[list[Any], list[int | None]]:
    consts, carry, xs = _split(vals, num_consts, num_carry)
    cd, kd, xd = _split(dims, num_consts, num_carry)
    # A slice of x loses the scan axis 0; a batch axis at 0 moves behind it first.
    x_body_dims = [None if d is None else builtins.max(d - 1, 0) for d in xd]
    xs = [moveaxis(x, 0, 1, axis_size) if d == 0 else x for x, d in zip(xs, xd)]
    carry_b = _fixed_point(
        lambda m: batch_jaxpr(jaxpr, axis_size, cd + [0 if b else None for b in m]
                              + x_body_dims)[1][:num_carry],
        [d is not None for d in kd])
    carry_dims = [0 if b else None for b in carry_b]
    ny = len(jaxpr.out_avals) - num_carry
    body, out_b = batch_jaxpr(jaxpr, axis_size, cd + carry_dims + x_body_dims,
                              carry_b + [False] * ny)
    carry = [moveaxis(x, d, bd, axis_size) for x, d, bd in zip(carry, kd, carry_dims)]
    args, params = _scan_call(body, consts, carry, xs, length, reverse, unroll)
    return scan_p.bind(*args, **params), carry_dims + [1 if b else None for b in out_b[num_carry:]]


scan_p.def_jvp(_scan_jvp)
scan_p.partial_eval = _scan_partial_eval
scan_p.def_transpose(_scan_transpose)
scan_p.def_batch(_scan_batch)


def scan(f: Callable[[Any, Any], tuple[Any, Any]], init: Any, xs: Any = None,
         length: int | None = None,
         reverse: bool = False, unroll: int | bool = 1) -> tuple[Any, Any]:
    """Loop `carry, y = f(carry, x)` over the leading axis of `xs`; returns the final carry
    and the stacked ys. `xs` and the ys are pytrees (or None, with `length` given). One
    equation, whatever the length: grad runs a reverse scan over saved residuals.
    `unroll` (iterations per loop trip, True for all) is a hint to compiled backends; the
    results do not depend on it.

    >>> import numpy as np
    >>> scan(lambda c, x: (c + x, c + x), np.float32(0), np.arange(4, dtype=np.float32))
    (np.float32(6.0), array([0., 1., 3., 6.], dtype=float32))
    """
    carry, carry_tree = tree_util.tree_flatten(init)
    carry, carry_avals = _operands(carry, "scan init")
    x_leaves, x_tree = tree_util.tree_flatten(xs)
    x_leaves = _as_arrays(x_leaves, "scan xs")
    x_avals = [get_aval(x) for x in x_leaves]
    lengths = sorted({a.shape[0] if a.shape else -1 for a in x_avals})
    if -1 in lengths:
        raise ShapeError("scan: every leaf of xs needs a leading axis to scan over, got "
                         f"{_type_str(x_tree, x_avals)}")
    if length is None:
        if not lengths:
            raise ShapeError("scan: with no xs, give the number of iterations as length=")
        length = lengths[0]
    if lengths and lengths != [length]:
        raise ShapeError(f"scan: xs {_type_str(x_tree, x_avals)} must all have leading axis "
                         f"length {length}")
    unroll = builtins.max(length, 1) if unroll is True else 1 if unroll is False else int(unroll)
    if unroll < 1:
        raise TransformError(f"scan: unroll must be a positive int, got {unroll}")
    in_tree = tree_util.tree_structure((init, xs))

    def body(cx: Any) -> Any:
        out = f(*cx)
        if not (isinstance(out, tuple) and len(out) == 2):
            raise ControlFlowTypeError(
                f"scan: f must return a pair (carry, y), got {type(out).__name__}")
        return out

    x_slices = [a.update(shape=a.shape[1:]) for a in x_avals]
    jaxpr, out_tree = _trace(body, in_tree, carry_avals + x_slices, "scan")
    for _ in range(len(carry)):  # a weak carry fed from another can change again
        if not _promote_weak_carry(carry, carry_avals, jaxpr.out_avals[:len(carry)]):
            break
        jaxpr, out_tree = _trace(body, in_tree, carry_avals + x_slices, "scan")
    out_carry_tree, y_tree = out_tree.children()
    n = len(carry)
    _check_type("scan", "the carry output of f", out_carry_tree, jaxpr.out_avals[:n],
                "init", carry_tree, carry_avals)
    args, params = _scan_call(jaxpr, [], carry, x_leaves, int(length), bool(reverse), unroll)
    outs = _leaving(scan_p.bind(*args, **params), jaxpr.out_avals)  # ys: the same dtypes
    return (tree_util.tree_unflatten(carry_tree, outs[:n]),
            tree_util.tree_unflatten(y_tree, outs[n:]))


def map(f: Callable[[Any], Any], xs: Any, *, batch_size: int | None = None) -> Any:  # noqa: A001  (jax.lax name)
    """`f` applied to each slice of `xs` along its leading axis, stacked: a scan with no carry.
    JAX's `batch_size` (how many slices one step vectorizes) only schedules the work, so
    it is checked and the result is the same.

    >>> import numpy as np
    >>> map(lambda x: x * 2, np.arange(3, dtype=np.float32))
    array([0., 2., 4.], dtype=float32)
    """
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise ArgumentError(f"lax.map: batch_size must be a positive int, got {batch_size!r}")
    return scan(lambda _, x: ((), f(x)), (), xs)[1]


def optimization_barrier(operand: Any) -> Any:
    """`operand` itself: JAX's barrier only constrains how XLA schedules work around it
    (e.g. for rematerialization), never the values."""
    return operand


__all__ = ["cond", "fori_loop", "map", "optimization_barrier", "scan", "switch", "while_loop"]
