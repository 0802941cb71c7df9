"""User-controlled differentiation: `stop_gradient`, `custom_jvp`, `custom_vjp`, `checkpoint`.

Each is a primitive holding the function's jaxpr (traced on flat avals, closed-over values
hoisted into operands) plus, for the custom rules, the user's callables. Eagerly, outside
any transform, the decorated function simply runs.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from fnad import tree as tree_util
from fnad.core.errors import (
    ArgumentError,
    ArgumentTypeError,
    ConcretizationError,
    FnadError,
    ShapeError,
    TransformError,
)
from fnad.core.ir import (
    WEAK_CARRIERS,
    ClosedJaxpr,
    Jaxpr,
    ShapedArray,
    abstractify,
    get_aval,
    weak_array,
)
from fnad.core.primitive import Elementwise, Primitive, Zero
from fnad.core.trace import EvalTrace, Tracer, state
from fnad.interpreters.batching import batch_jaxpr, moveaxis, vmap_flat
from fnad.interpreters.jvp import JVPTrace, instantiate, is_differentiable, jvp_flat, jvp_jaxpr
from fnad.interpreters.partial_eval import PartialEvalTrace, linearize_flat, partial_eval_jaxpr
from fnad.interpreters.staging import dead_code_elimination, trace_to_jaxpr
from fnad.interpreters.transpose import is_undefined, pull_back, transpose_jaxpr
from fnad.lax.elementwise import asarray_like, full_like

# ---------------------------------------------------------------------------- stop_gradient

stop_gradient_p = Primitive("stop_gradient")
stop_gradient_p.def_impl(lambda x: x)
stop_gradient_p.def_abstract_eval(lambda x: x)
stop_gradient_p.def_jvp(lambda primals, tangents: (stop_gradient_p.bind(*primals),
                                                   Zero(get_aval(primals[0]))))
stop_gradient_p.def_batch(lambda axis_size, vals, dims: (stop_gradient_p.bind(*vals), dims[0]))
stop_gradient_p.kernel = Elementwise("{0}", flops=0)


def stop_gradient(x: Any) -> Any:
    """`x` unchanged, but with zero derivative: every leaf of the pytree is a constant to AD.

    >>> import fnad
    >>> fnad.grad(lambda x: x * fnad.stop_gradient(x))(3.0)
    array(3., dtype=float32)
    """
    return tree_util.tree_map(lambda leaf: stop_gradient_p.bind(*asarray_like(leaf)), x)


# ---------------------------------------------------------------------------- shared helpers

class _Rule:
    """A user callable as a primitive param: hashable, and equal only to itself."""

    __slots__ = ("fn", "__name__")

    def __init__(self, fn: Callable[..., Any], name: str):
        self.fn = fn
        self.__name__ = name

    def __call__(self, *args: Any) -> Any:
        return self.fn(*args)

    def __repr__(self) -> str:
        return self.__name__


def _leaves(x: Any, what: str) -> tuple[list[Any], Any]:
    """Flatten a pytree whose leaves must be arrays (Python scalars become arrays)."""
    leaves, tree = tree_util.tree_flatten(x)
    out = []
    for leaf in leaves:
        if type(leaf) in (bool, int, float, complex):
            leaf = asarray_like(leaf)[0]
        elif not hasattr(leaf, "dtype"):
            raise FnadError(f"{what} contains {type(leaf).__name__}, which is not an array")
        out.append(leaf)
    return out, tree


def _resolve_args(fun: Callable[..., Any], args: tuple, kwargs: dict) -> tuple:
    """Keyword arguments turned positional and defaults filled in, as JAX does, so that
    argnums address every argument and the rules get every argument."""
    try:
        signature = inspect.signature(fun)
    except (TypeError, ValueError):  # a builtin without a signature: positional only
        if kwargs:
            raise ArgumentTypeError(f"{getattr(fun, '__name__', fun)}: keyword arguments "
                                    "need a function with a signature") from None
        return args
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError as e:
        raise ArgumentTypeError(f"{getattr(fun, '__name__', fun)}: {e}") from None
    for name, p in signature.parameters.items():
        if (p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is not p.empty
                and name not in bound.arguments):
            bound.arguments[name] = p.default
    if bound.kwargs:
        raise TransformError(f"custom derivative functions take no keyword-only arguments; "
                             f"got {sorted(bound.kwargs)}")
    return bound.args


def _split(args: tuple, nondiff: tuple[int, ...]) -> tuple[list[Any], list[Any]]:
    nondiff = tuple(i % len(args) for i in nondiff)
    return ([a for i, a in enumerate(args) if i in nondiff],
            [a for i, a in enumerate(args) if i not in nondiff])


def _merge(nondiff_vals: Sequence[Any], diff_vals: Sequence[Any],
           nondiff: tuple[int, ...]) -> list[Any]:
    n = len(nondiff_vals) + len(diff_vals)
    nondiff = tuple(i % n for i in nondiff)
    nd, d = iter(nondiff_vals), iter(diff_vals)
    return [next(nd) if i in nondiff else next(d) for i in range(n)]


def _closure_converted(f_flat: Callable[..., list[Any]], in_avals: Sequence[ShapedArray]
                       ) -> tuple[ClosedJaxpr, list[Any]]:
    """Trace `f_flat`; its constants (closed-over arrays or outer tracers) become leading
    inputs, so that every transform sees them as operands of the primitive."""
    closed = trace_to_jaxpr(f_flat, in_avals)
    j = closed.jaxpr
    return ClosedJaxpr(Jaxpr([], j.constvars + j.invars, j.eqns, j.outvars), []), closed.consts


def _outputs(out: Any, expected_tree: Any, expected: Sequence[ShapedArray], what: str
             ) -> list[Any]:
    flat, tree = tree_util.tree_flatten(out)
    if expected_tree is not None and tree != expected_tree:
        raise TransformError(f"{what} has structure {tree}, the function's output {expected_tree}")
    # a Python number returned by a rule takes the dtype the function's output has
    leaves = _leaves([np.asarray(x, expected[i].dtype)
                      if type(x) in WEAK_CARRIERS and i < len(expected) else x
                      for i, x in enumerate(flat)], what)[0]
    for x, a in zip(leaves, expected):
        if get_aval(x).shape != a.shape:
            raise TransformError(f"{what}: a leaf of shape {get_aval(x).shape} where the "
                                 f"function's output has shape {a.shape}")
    return leaves


def _check_no_const_tangents(tangents: Sequence[Any], name: str) -> None:
    if any(type(t) is not Zero for t in tangents):
        raise TransformError(
            f"{name}: the function closes over a value that is being differentiated; its "
            "custom rule cannot account for it. Pass that value as an explicit argument.")


def _check_no_batched_consts(dims: Sequence[Any], name: str) -> None:
    if any(d is not None for d in dims):
        raise TransformError(
            f"{name}: the function closes over a value batched by vmap; its custom rule "
            "cannot see the batch axis. Pass that value as an explicit argument.")


def _batch_flat(fn: Callable[..., list[Any]], axis_size: int, in_dims: Sequence[Any]
                ) -> Callable[..., list[Any]]:
    """`fn` (flat arrays -> flat arrays) vmapped over `in_dims`, every output at axis 0."""

    def batched(*xs: Any) -> list[Any]:
        outs, dims = vmap_flat(lambda *a: fn(*a), axis_size, xs, in_dims)
        return [moveaxis(o, d, 0, axis_size) for o, d in zip(outs, dims)]

    return batched


def _batched_operands(vals: Sequence[Any], dims: Sequence[Any], axis_size: int
                      ) -> tuple[list[Any], list[Any]]:
    vals = [moveaxis(v, d, 0, axis_size) if d is not None else v for v, d in zip(vals, dims)]
    return vals, [0 if d is not None else None for d in dims]


def _call_impl(*args: Any, call: ClosedJaxpr, **_: Any) -> list[Any]:
    return call(*args)


def _call_abstract_eval(*avals: ShapedArray, call: ClosedJaxpr, **_: Any) -> list[ShapedArray]:
    return list(call.out_avals)


def _call_primitive(name: str) -> Primitive:
    prim = Primitive(name, multiple_results=True)
    prim.def_impl(_call_impl)
    prim.def_abstract_eval(_call_abstract_eval)
    return prim


def _prepare(fun: Callable[..., Any], nondiff: tuple[int, ...], args: tuple, kwargs: dict
             ) -> tuple[list[Any], list[Any], list[Any], Any, Any, ClosedJaxpr, list[Any]]:
    """Split arguments, flatten the differentiable ones and trace `fun` on them."""
    args = _resolve_args(fun, args, kwargs)
    nd_vals, diff_vals = _split(args, nondiff)
    flat, in_tree = tree_util.tree_flatten(tuple(diff_vals))
    avals = [abstractify(x) for x in flat]  # Python numbers are weakly typed
    leaves = _leaves([weak_array(x) for x in flat], "an argument")[0]
    store: dict[str, Any] = {}

    def f_flat(*xs: Any) -> list[Any]:
        out = fun(*_merge(nd_vals, tree_util.tree_unflatten(in_tree, list(xs)), nondiff))
        out_leaves, store["tree"] = _leaves(out, "the function's output")
        return out_leaves

    call, consts = _closure_converted(f_flat, avals)
    return args, nd_vals, leaves, in_tree, store["tree"], call, consts


def _weak_args(values: Sequence[Any], weak: Sequence[bool]) -> list[Any]:
    """The values the user's rules get: a weakly typed one (an argument or residual that was
    a Python number) that is a concrete array here is given back as that number, so it keeps
    taking the dtype of what it meets in the rule (an exact 0.1 in float64 code)."""
    return [v.item() if w and isinstance(v, np.ndarray) else v for v, w in zip(values, weak)]


# ---------------------------------------------------------------------------- custom_jvp

custom_jvp_call_p = _call_primitive("custom_jvp_call")


def _custom_jvp_call_jvp(primals: Sequence[Any], tangents: Sequence[Any], *,
                         call: ClosedJaxpr, jvp: _Rule, num_consts: int) -> Any:
    _check_no_const_tangents(tangents[:num_consts], "custom_jvp")
    ps = list(primals[num_consts:])
    ts = [instantiate(t) for t in tangents[num_consts:]]
    outs, touts = jvp(ps, ts)
    touts = [t if is_differentiable(get_aval(o)) else Zero(get_aval(o))
             for o, t in zip(outs, touts)]
    return outs, touts


def _custom_jvp_call_batch(axis_size: int, vals: Sequence[Any], dims: Sequence[Any], *,
                           call: ClosedJaxpr, jvp: _Rule, num_consts: int) -> Any:
    _check_no_batched_consts(dims[:num_consts], "custom_jvp")
    vals, in_dims = _batched_operands(vals, dims, axis_size)
    bcall, _ = batch_jaxpr(call, axis_size, in_dims, force_batched=True)
    rule_dims = in_dims[num_consts:]
    n = len(rule_dims)

    def flat_rule(*xs: Any) -> list[Any]:
        outs, touts = jvp(list(xs[:n]), list(xs[n:]))
        return list(outs) + list(touts)

    batched = _batch_flat(flat_rule, axis_size, rule_dims + rule_dims)

    def batched_rule(ps: list[Any], ts: list[Any]) -> tuple[list[Any], list[Any]]:
        res = batched(*ps, *ts)
        return res[:len(res) // 2], res[len(res) // 2:]

    outs = custom_jvp_call_p.bind(*vals, call=bcall, num_consts=num_consts,
                                  jvp=_Rule(batched_rule, f"vmap({jvp.__name__})"))
    return outs, [0] * len(outs)


custom_jvp_call_p.def_jvp(_custom_jvp_call_jvp)
custom_jvp_call_p.def_batch(_custom_jvp_call_batch)


def _argnums(fun: Callable[..., Any], nums: int | Sequence[int], names: str | Sequence[str],
             what: str) -> tuple[int, ...]:
    """`nums` and the positions of the parameters `names` of `fun`, sorted."""
    nums = (nums,) if isinstance(nums, int) else tuple(nums)
    names = (names,) if isinstance(names, str) else tuple(names)
    params = list(inspect.signature(fun).parameters) if names else []
    unknown = [n for n in names if n not in params]
    if unknown:
        name = getattr(fun, "__name__", "the function")
        raise ArgumentError(f"{what} {unknown} name no parameter of {name}{tuple(params)}")
    return tuple(sorted({*nums, *(params.index(n) for n in names)}))


class _CustomDerivative:
    """What custom_jvp and custom_vjp share: the function they wrap (run as it is outside
    any transform) and which of its arguments are not differentiated."""

    def __init__(self, fun: Callable[..., Any], nondiff_argnums: Sequence[int] = (),
                 nondiff_argnames: Sequence[str] = ()):
        functools.update_wrapper(self, fun)
        self.fun = fun
        # names are positions, as in JAX: the rules get those arguments first, in order
        self.nondiff_argnums = _argnums(fun, nondiff_argnums, nondiff_argnames,
                                        "nondiff_argnames")


def _no_symbolic_zeros(f: _CustomDerivative, symbolic_zeros: bool) -> None:
    if symbolic_zeros:
        raise ArgumentError(f"{f.__name__}: symbolic_zeros=True is not offered: rules get "
                            "zero tangents and cotangents as zero arrays; drop the argument "
                            "and treat zeros as values")


class custom_jvp(_CustomDerivative):  # noqa: N801  (JAX's name)
    """A function with a user-defined forward derivative (JAX's `custom_jvp`).

    The rule gets `(primals, tangents)` tuples and returns `(primal_out, tangent_out)`;
    it is itself differentiated normally, so `grad(grad(f))` works.

    >>> import fnad, fnad.numpy as fnp
    >>> @fnad.custom_jvp
    ... def log1pexp(x):
    ...     return fnp.log(1.0 + fnp.exp(x))
    >>> @log1pexp.defjvp
    ... def _(primals, tangents):
    ...     (x,), (t,) = primals, tangents
    ...     return log1pexp(x), t * (1.0 - 1.0 / (1.0 + fnp.exp(x)))
    >>> float(fnad.grad(log1pexp)(100.0))
    1.0
    """

    def __init__(self, fun: Callable[..., Any], nondiff_argnums: Sequence[int] = (),
                 nondiff_argnames: Sequence[str] = ()):
        super().__init__(fun, nondiff_argnums, nondiff_argnames)
        self.jvp: Callable[..., Any] | None = None

    def defjvp(self, jvp: Callable[..., Any], symbolic_zeros: bool = False
               ) -> Callable[..., Any]:
        """Register `jvp(*nondiff_args, primals, tangents) -> (primal_out, tangent_out)`.
        Zero tangents reach the rule as zero arrays (JAX's `symbolic_zeros=False`)."""
        _no_symbolic_zeros(self, symbolic_zeros)
        self.jvp = jvp
        return jvp

    def _call_branching(self, args: tuple, kwargs: dict, error: ConcretizationError) -> Any:
        """A call whose function branches in Python on an argument's value, so it cannot be
        staged: run where the values are concrete, or raise `error` (under jit)."""
        leaves = tree_util.tree_leaves((args, kwargs))
        if not any(isinstance(x, Tracer) for x in leaves):
            return self.fun(*args, **kwargs)  # values only: nothing to differentiate
        trace = state.trace
        if isinstance(trace, PartialEvalTrace) and not any(map(trace.is_unknown, leaves)):
            # known values of a linearization (a rule run under grad of grad): the call
            # belongs to the level below, whose forward-mode trace runs the rule
            state.trace = trace.parent
            try:
                return self(*args, **kwargs)
            finally:
                state.trace = trace
        if not isinstance(trace, JVPTrace):
            raise error
        return self._rule_on_values(args, kwargs)

    def _rule_on_values(self, args: tuple, kwargs: dict) -> Any:
        """The rule run directly on the primal values of the current forward-mode trace, as
        JAX does under `jvp`/`grad` of eager code: a function (or rule) that branches in
        Python on its argument's value cannot be staged, but its values are concrete here."""
        trace = state.trace
        args = _resolve_args(self.fun, args, kwargs)
        nd_vals, diff_vals = _split(args, self.nondiff_argnums)
        flat, in_tree = tree_util.tree_flatten(tuple(diff_vals))
        pairs = [trace.unpack(x) for x in flat]
        tangents = [instantiate(Zero(abstractify(p)) if t is None else t) for p, t in pairs]
        # Python numbers, given to the function or to the transform, stay Python numbers
        # (weak, as in JAX)
        weak = [type(x) in WEAK_CARRIERS or (
                isinstance(x, Tracer) and x.aval.weak_type and not isinstance(p, Tracer))
                for x, (p, _) in zip(flat, pairs)]
        primals = [np.asarray(p).item() if w else p for w, (p, _) in zip(weak, pairs)]
        tangents = [np.asarray(t).item() if w and not isinstance(t, Tracer) else t
                    for w, t in zip(weak, tangents)]
        saved, state.trace = state.trace, trace.parent
        try:
            out, tout = self.jvp(*nd_vals, tuple(tree_util.tree_unflatten(in_tree, primals)),
                                 tuple(tree_util.tree_unflatten(in_tree, tangents)))
        finally:
            state.trace = saved
        outs, out_tree = tree_util.tree_flatten(out)
        outs = [asarray_like(o)[0] for o in outs]
        touts = [_convert(asarray_like(t)[0], get_aval(o).dtype)
                 for o, t in zip(outs, out_tree.flatten_up_to(tout))]
        return tree_util.tree_unflatten(out_tree, [trace.pack(p, t) for p, t in zip(outs, touts)])

    def defjvps(self, *jvps: Callable[..., Any] | None) -> None:
        """Register one rule per argument, `jvp_i(tangent_i, primal_out, *primals)` ->
        its share of the output tangent (None: the output does not depend on argument i);
        the shares are summed (JAX's `defjvps`)."""
        if self.nondiff_argnums:
            raise ArgumentTypeError(f"{self.__name__}: defjvps cannot be used with "
                                    "nondiff_argnums; use defjvp")

        def jvp(primals: tuple, tangents: tuple) -> tuple[Any, Any]:
            ans = self(*primals)
            shares = [rule(t, ans, *primals) for rule, t in zip(jvps, tangents)
                      if rule is not None]
            if not shares:
                return ans, tree_util.tree_map(lambda a: full_like(a, 0), ans)
            return ans, functools.reduce(
                lambda a, b: tree_util.tree_map(lambda u, v: u + v, a, b), shares)

        self.defjvp(jvp)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.jvp is None:
            raise TransformError(f"custom_jvp function {self.__name__} has no rule; "
                                 "register one with .defjvp")
        if type(state.trace) is EvalTrace:
            return self.fun(*args, **kwargs)
        nondiff = self.nondiff_argnums
        try:
            args, nd_vals, leaves, in_tree, out_tree, call, consts = _prepare(
                self.fun, nondiff, args, kwargs)
        except ConcretizationError as e:  # Python control flow on an argument's value
            return self._call_branching(args, kwargs, e)
        user_rule = self.jvp
        weak = [a.weak_type for a in call.in_avals[len(consts):]]

        def rule(ps: list[Any], ts: list[Any]) -> tuple[list[Any], list[Any]]:
            primals = tuple(tree_util.tree_unflatten(in_tree, _weak_args(ps, weak)))
            tangents = tuple(tree_util.tree_unflatten(in_tree, ts))
            res = user_rule(*nd_vals, primals, tangents)
            if not (isinstance(res, (tuple, list)) and len(res) == 2):
                raise TransformError(f"the custom_jvp rule of {self.__name__} must return a "
                                     "pair (primal_out, tangent_out)")
            outs = _outputs(res[0], out_tree, call.out_avals, "the rule's primal output")
            touts = _outputs(res[1], out_tree, call.out_avals, "the rule's tangent output")
            touts = [t if get_aval(t).dtype == get_aval(o).dtype else
                     _convert(t, get_aval(o).dtype) for o, t in zip(outs, touts)]
            return outs, touts

        outs = custom_jvp_call_p.bind(*consts, *leaves, call=call, num_consts=len(consts),
                                      jvp=_Rule(rule, getattr(user_rule, "__name__", "jvp")))
        return tree_util.tree_unflatten(out_tree, outs)


def _convert(x: Any, dtype: Any) -> Any:
    from fnad.lax.elementwise import convert_element_type
    return convert_element_type(x, dtype)


# ---------------------------------------------------------------------------- custom_vjp

custom_vjp_call_p = _call_primitive("custom_vjp_call")
custom_vjp_bwd_p = Primitive("custom_vjp_bwd", multiple_results=True)


def _custom_vjp_call_jvp(primals: Sequence[Any], tangents: Sequence[Any], *,
                         call: ClosedJaxpr, fwd: _Rule, bwd: _Rule, num_consts: int) -> Any:
    _check_no_const_tangents(tangents[:num_consts], "custom_vjp")
    outs, res = fwd(list(primals[num_consts:]))
    ts = [instantiate(t) for t in tangents[num_consts:]]
    touts = custom_vjp_bwd_p.bind(*res, *ts, bwd=bwd, num_res=len(res),
                                  out_avals=tuple(get_aval(o) for o in outs))
    return outs, [t if is_differentiable(get_aval(o)) else Zero(get_aval(o))
                  for o, t in zip(outs, touts)]


def _custom_vjp_call_batch(axis_size: int, vals: Sequence[Any], dims: Sequence[Any], *,
                           call: ClosedJaxpr, fwd: _Rule, bwd: _Rule, num_consts: int) -> Any:
    _check_no_batched_consts(dims[:num_consts], "custom_vjp")
    vals, in_dims = _batched_operands(vals, dims, axis_size)
    bcall, _ = batch_jaxpr(call, axis_size, in_dims, force_batched=True)
    arg_dims = in_dims[num_consts:]
    n_out = len(call.out_avals)
    split: dict[str, int] = {}

    def fwd_flat(*ps: Any) -> list[Any]:
        outs, res = fwd(list(ps))
        split["n_res"] = len(res)
        return list(outs) + list(res)

    batched_fwd = _batch_flat(fwd_flat, axis_size, arg_dims)

    def fwd_rule(ps: list[Any]) -> tuple[list[Any], list[Any]]:
        res = batched_fwd(*ps)
        return res[:n_out], res[n_out:]

    def bwd_rule(res: list[Any], cts: list[Any]) -> list[Any]:
        n_res = len(res)
        batched_bwd = _batch_flat(lambda *xs: bwd(list(xs[:n_res]), list(xs[n_res:])),
                                  axis_size, [0] * (n_res + len(cts)))
        from fnad.lax.reduction import reduce_sum
        return [ct if d is not None else reduce_sum(ct, (0,))
                for ct, d in zip(batched_bwd(*res, *cts), arg_dims)]

    outs = custom_vjp_call_p.bind(
        *vals, call=bcall, num_consts=num_consts,
        fwd=_Rule(fwd_rule, f"vmap({fwd.__name__})"), bwd=_Rule(bwd_rule, f"vmap({bwd.__name__})"))
    return outs, [0] * len(outs)


custom_vjp_call_p.def_jvp(_custom_vjp_call_jvp)
custom_vjp_call_p.def_batch(_custom_vjp_call_batch)


def _custom_vjp_bwd_abstract_eval(*avals: ShapedArray, bwd: _Rule, num_res: int,
                                  out_avals: tuple[ShapedArray, ...]) -> list[ShapedArray]:
    return list(out_avals)


def _custom_vjp_bwd_apply(*args: Any, bwd: _Rule, num_res: int,
                          out_avals: tuple[ShapedArray, ...]) -> list[Any]:
    """Push tangents forward through a function known only by its `bwd`: the map
    ct -> bwd(res, ct) is linear with matrix J^T, so J @ t is its transpose applied to t."""
    res, ts = list(args[:num_res]), list(args[num_res:])
    zeros = [instantiate(Zero(a)) for a in out_avals]
    _, lin = linearize_flat(lambda *cts: list(bwd(res, list(cts))), zeros)
    cts = [instantiate(t) for t, m in zip(ts, lin.out_mask) if m]
    return [instantiate(t) for t in pull_back(lin, cts)]


def _custom_vjp_bwd_transpose(cts: Sequence[Any], *args: Any, bwd: _Rule, num_res: int,
                              out_avals: tuple[ShapedArray, ...]) -> list[Any]:
    res = args[:num_res]
    if any(is_undefined(r) for r in res):
        raise TransformError("custom_vjp: the residuals of fwd cannot be differentiated "
                             "through the backward rule")
    cts = [instantiate(c) for c in cts]
    return [None] * num_res + bwd(list(res), cts)


def _custom_vjp_bwd_jvp(primals: Sequence[Any], tangents: Sequence[Any], **params: Any) -> Any:
    return jvp_flat(lambda *xs: _custom_vjp_bwd_apply(*xs, **params), primals, tangents)


def _custom_vjp_bwd_batch(axis_size: int, vals: Sequence[Any], dims: Sequence[Any],
                          **params: Any) -> Any:
    return vmap_flat(lambda *xs: _custom_vjp_bwd_apply(*xs, **params), axis_size, vals, dims)


custom_vjp_bwd_p.def_impl(_custom_vjp_bwd_apply)
custom_vjp_bwd_p.def_abstract_eval(_custom_vjp_bwd_abstract_eval)
custom_vjp_bwd_p.def_transpose(_custom_vjp_bwd_transpose)
custom_vjp_bwd_p.def_jvp(_custom_vjp_bwd_jvp)
custom_vjp_bwd_p.def_batch(_custom_vjp_bwd_batch)


class custom_vjp(_CustomDerivative):  # noqa: N801  (JAX's name)
    """A function with a user-defined reverse derivative (JAX's `custom_vjp`).

    `fwd(*args) -> (out, residuals)` runs in the forward pass; `bwd(residuals, ct_out)`
    returns one cotangent per (differentiable) argument, `None` for zero.

    >>> import fnad, fnad.numpy as fnp
    >>> @fnad.custom_vjp
    ... def clip_grad(x):
    ...     return x
    >>> clip_grad.defvjp(lambda x: (x, None), lambda _, g: (fnp.minimum(g, 1.0),))
    >>> float(fnad.grad(lambda x: 5.0 * clip_grad(x))(2.0))
    1.0
    """

    def __init__(self, fun: Callable[..., Any], nondiff_argnums: Sequence[int] = (),
                 nondiff_argnames: Sequence[str] = ()):
        super().__init__(fun, nondiff_argnums, nondiff_argnames)
        self.fwd: Callable[..., Any] | None = None
        self.bwd: Callable[..., Any] | None = None

    def defvjp(self, fwd: Callable[..., Any], bwd: Callable[..., Any],
               symbolic_zeros: bool = False, optimize_remat: bool = False) -> None:
        """Register the forward pass (with residuals) and the backward pass. Zero
        cotangents reach `bwd` as zero arrays (JAX's `symbolic_zeros=False`);
        `optimize_remat`, a memory optimization of JAX's, changes no value."""
        _no_symbolic_zeros(self, symbolic_zeros)
        self.fwd, self.bwd = fwd, bwd

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.fwd is None or self.bwd is None:
            raise TransformError(f"custom_vjp function {self.__name__} has no rules; "
                                 "register them with .defvjp(fwd, bwd)")
        if type(state.trace) is EvalTrace:
            return self.fun(*args, **kwargs)
        nondiff = self.nondiff_argnums
        args, nd_vals, leaves, in_tree, out_tree, call, consts = _prepare(
            self.fun, nondiff, args, kwargs)
        user_fwd, user_bwd = self.fwd, self.bwd
        res_tree: dict[str, Any] = {}
        leaf_avals = call.in_avals[len(consts):]
        weak = [a.weak_type for a in leaf_avals]

        def fwd(ps: list[Any]) -> tuple[list[Any], list[Any]]:
            diff = tree_util.tree_unflatten(in_tree, _weak_args(ps, weak))
            res = user_fwd(*_merge(nd_vals, diff, nondiff))
            if not (isinstance(res, (tuple, list)) and len(res) == 2):
                raise TransformError(f"the custom_vjp fwd of {self.__name__} must return a "
                                     "pair (output, residuals)")
            outs = _outputs(res[0], out_tree, call.out_avals, "fwd's output")
            res_flat, res_tree["tree"] = tree_util.tree_flatten(res[1])
            # residuals that are Python numbers reach bwd as Python numbers (weakly typed)
            res_tree["weak"] = [type(x) in WEAK_CARRIERS for x in res_flat]
            return outs, _leaves([weak_array(x) for x in res_flat], "fwd's residuals")[0]

        def bwd(res: list[Any], cts: list[Any]) -> list[Any]:
            residuals = tree_util.tree_unflatten(res_tree["tree"],
                                                 _weak_args(res, res_tree["weak"]))
            ct_out = tree_util.tree_unflatten(out_tree, cts)
            ct_in = user_bwd(*nd_vals, residuals, ct_out)
            if not isinstance(ct_in, (tuple, list)) or len(ct_in) != len(diff_args):
                raise TransformError(
                    f"the custom_vjp bwd of {self.__name__} must return a tuple with one "
                    f"cotangent per differentiable argument ({len(diff_args)}), got "
                    f"{type(ct_in).__name__}")
            flat: list[Any] = []
            for sub, arg in zip(ct_in, diff_args):
                n = tree_util.tree_structure(arg).num_leaves
                flat += [None] * n if sub is None else _leaves(sub, "bwd's cotangent")[0]
            for i, (c, a) in enumerate(zip(flat, leaf_avals)):
                if c is not None and get_aval(c).shape != a.shape:
                    raise ShapeError(
                        f"the custom_vjp bwd of {self.__name__} returned a cotangent of shape "
                        f"{get_aval(c).shape} for an input of shape {a.shape} (input leaf "
                        f"{i}): each cotangent must have its input's shape")
            return [instantiate(Zero(a)) if c is None else _convert(c, a.dtype)
                    for c, a in zip(flat, leaf_avals)]

        diff_args = tree_util.tree_unflatten(in_tree, leaves)
        outs = custom_vjp_call_p.bind(
            *consts, *leaves, call=call, num_consts=len(consts),
            fwd=_Rule(fwd, getattr(user_fwd, "__name__", "fwd")),
            bwd=_Rule(bwd, getattr(user_bwd, "__name__", "bwd")))
        return tree_util.tree_unflatten(out_tree, outs)


# ---------------------------------------------------------------------------- checkpoint

checkpoint_p = Primitive("checkpoint", multiple_results=True)
checkpoint_p.def_impl(lambda *args, jaxpr: jaxpr(*args))
checkpoint_p.def_abstract_eval(lambda *avals, jaxpr: list(jaxpr.out_avals))


def _checkpoint_jvp(primals: Sequence[Any], tangents: Sequence[Any], *, jaxpr: ClosedJaxpr
                    ) -> Any:
    nonzeros = [type(t) is not Zero for t in tangents]
    jvp_closed, out_nz = jvp_jaxpr(jaxpr, nonzeros, instantiate_out=False)
    outs = checkpoint_p.bind(*primals, *(t for t in tangents if type(t) is not Zero),
                             jaxpr=jvp_closed)
    n = len(jaxpr.out_avals)
    touts = iter(outs[n:])
    return outs[:n], [next(touts) if nz else Zero(a)
                      for nz, a in zip(out_nz, jaxpr.out_avals)]


def _restrict(jaxpr: Jaxpr, keep_in: Sequence[bool], keep_out: Sequence[bool]) -> ClosedJaxpr:
    """The jaxpr computing only the kept outputs from only the kept inputs."""
    outvars = [v for v, k in zip(jaxpr.outvars, keep_out) if k]
    eqns = dead_code_elimination(jaxpr.eqns, outvars)
    invars = [v for v, k in zip(jaxpr.invars, keep_in) if k]
    return ClosedJaxpr(Jaxpr([], invars, eqns, outvars), [])


def _checkpoint_partial_eval(trace: Any, args: Sequence[Any], params: dict) -> list[Any]:
    """Known outputs are computed now; every unknown output is staged as one `checkpoint`
    equation over the full body, so the backward pass recomputes the forward work from the
    inputs (the only residuals) instead of storing its intermediates."""
    jaxpr: ClosedJaxpr = params["jaxpr"]
    unknowns = [trace.is_unknown(a) for a in args]
    _, _, out_unknown, _ = partial_eval_jaxpr(jaxpr, unknowns)
    known = _restrict(jaxpr.jaxpr, [not u for u in unknowns], [not u for u in out_unknown])
    known_outs = iter(trace.bind_known(checkpoint_p, [a for a, u in zip(args, unknowns) if not u],
                                       {"jaxpr": known}) if not all(out_unknown) else [])
    staged = _restrict(jaxpr.jaxpr, [True] * len(args), out_unknown)
    unknown_outs = iter(trace.stage(checkpoint_p, args, {"jaxpr": staged})
                        if any(out_unknown) else [])
    return [next(unknown_outs) if u else next(known_outs) for u in out_unknown]


def _checkpoint_transpose(cts: Sequence[Any], *args: Any, jaxpr: ClosedJaxpr) -> list[Any]:
    linear = [is_undefined(a) for a in args]
    transposed = transpose_jaxpr(jaxpr, linear)
    cts = [instantiate(c) for c in cts]
    outs = iter(checkpoint_p.bind(*(a for a in args if not is_undefined(a)), *cts,
                                  jaxpr=transposed))
    return [next(outs) if lin else None for lin in linear]


def _checkpoint_batch(axis_size: int, vals: Sequence[Any], dims: Sequence[Any], *,
                      jaxpr: ClosedJaxpr) -> Any:
    batched, out_batched = batch_jaxpr(jaxpr, axis_size, dims)
    return checkpoint_p.bind(*vals, jaxpr=batched), [0 if b else None for b in out_batched]


checkpoint_p.def_jvp(_checkpoint_jvp)
checkpoint_p.partial_eval = _checkpoint_partial_eval
checkpoint_p.def_transpose(_checkpoint_transpose)
checkpoint_p.def_batch(_checkpoint_batch)


def checkpoint(fun: Callable[..., Any] | None = None, *, prevent_cse: bool = True,
               policy: Callable[..., bool] | None = None,
               static_argnums: int | Sequence[int] = (),
               static_argnames: str | Sequence[str] = (), concrete: bool = False) -> Any:
    """`fun`, rematerialized: reverse mode recomputes its forward pass in the backward pass
    instead of storing its intermediates (less memory, more compute). Alias: `remat`.

    JAX's options are accepted: `static_argnums` and `static_argnames` (Python values baked
    into the trace, as `jit`'s); `policy` (`fnad.checkpoint_policies`) and `prevent_cse`
    tune what JAX saves and compiles, not values: fnad saves nothing inside `fun` whatever the policy. Without
    `fun`, the decorator with these options.

    >>> import fnad, fnad.numpy as fnp
    >>> f = fnad.checkpoint(lambda x: fnp.sin(fnp.sin(x)))
    >>> round(float(fnad.grad(f)(0.0)), 6)
    1.0
    """
    del prevent_cse, policy
    if concrete:
        raise ArgumentError("checkpoint: concrete=True was removed from JAX; pass the Python "
                            "values that control flow depends on with static_argnums")
    if fun is None:
        return functools.partial(checkpoint, static_argnums=static_argnums,
                                 static_argnames=static_argnames)
    static = _argnums(fun, static_argnums, static_argnames, "checkpoint: static_argnames")

    @functools.wraps(fun)
    def remat_fun(*args: Any, **kwargs: Any) -> Any:
        if type(state.trace) is EvalTrace:
            return fun(*args, **kwargs)
        _, _, leaves, _, out_tree, call, consts = _prepare(fun, static, args, kwargs)
        outs = checkpoint_p.bind(*consts, *leaves, jaxpr=call)
        return tree_util.tree_unflatten(out_tree, outs)

    return remat_fun


remat = checkpoint

__all__ = ["stop_gradient", "custom_jvp", "custom_vjp", "checkpoint", "remat"]
