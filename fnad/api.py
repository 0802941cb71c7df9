"""The transforms users call: argument handling and pytrees around the interpreters."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from fnad import tree as tree_util
from fnad.core.dtypes import canonical, float0
from fnad.core.errors import (
    ArgumentTypeError,
    DTypeError,
    FnadError,
    TransformError,
    check_unsupported,
)
from fnad.core.ir import (
    ShapedArray,
    abstractify,
    get_aval,
    weak_array,
    weak_default,
)
from fnad.core.primitive import Zero
from fnad.core.trace import Tracer
from fnad.eager import linearize_flat
from fnad.interpreters.batching import vmap_flat
from fnad.interpreters.jvp import JVPTracer, instantiate, jvp_flat
from fnad.interpreters.staging import trace_to_jaxpr
from fnad.interpreters.transpose import pull_back


def _flat_fun(f: Callable[..., Any], in_tree: Any, out_store: dict[str, Any],
              weak: Sequence[bool] = ()) -> Callable[..., list[Any]]:
    """`f` over flat leaves; the output structure is recorded in `out_store['tree']`, which
    outputs are weakly typed in `out_store['weak']`. Leaves marked in `weak` were Python
    numbers: `f` sees them weakly typed again (see `_weak_leaves`)."""

    def flat(*leaves: Any) -> list[Any]:
        if any(weak):
            leaves = tuple(_as_weak(x) if w else x for x, w in zip(leaves, weak))
        args, kwargs = tree_util.tree_unflatten(in_tree, leaves)
        out = f(*args, **kwargs)
        out_leaves, out_store["tree"] = tree_util.tree_flatten(out)
        outs = [_as_value(x) for x in out_leaves]
        out_store["weak"] = [isinstance(x, Tracer) and x.aval.weak_type for x in outs]
        return outs

    return flat


def _weak_leaves(leaves: Sequence[Any]) -> tuple[list[Any], list[bool]]:
    """Python numbers (not bools) as 0-d arrays holding their exact value (float64, int64,
    complex128), and which leaves are weakly typed (those, and weak tracers): inside the
    transform they take the dtype of what they meet, as JAX's do."""
    return [weak_array(x) for x in leaves], [abstractify(x).weak_type for x in leaves]


def _as_weak(x: Any) -> Any:
    """A leaf that was a Python number, weakly typed again: a dual number marked weak, or
    (when the transform left it concrete) the Python number itself."""
    if isinstance(x, JVPTracer):
        return x.as_weak()
    return x.item() if isinstance(x, np.ndarray) else x


def _materialized(xs: Sequence[Any], weak: Sequence[bool]) -> list[Any]:
    """Weakly typed results leaving a transform in the default dtype of their kind (float32,
    int32...), as a Python number given to `fnad.numpy` becomes (still weak under an outer
    transform: see `convert_element_type`'s weak-type rule)."""
    from fnad.lax.elementwise import convert_element_type
    return [(convert_element_type(x, weak_default(x.dtype)) if isinstance(x, Tracer)
             else x.astype(weak_default(x.dtype))) if w else x for x, w in zip(xs, weak)]


def _as_value(x: Any) -> Any:
    if type(x) in (bool, int, float, complex):
        from fnad.lax.elementwise import asarray_like
        return asarray_like(x)[0]
    if not hasattr(x, "dtype"):
        raise ArgumentTypeError(f"a transformed function returned {type(x).__name__}, which "
                                "is not an array; return arrays (or pytrees of them)")
    return x


def _owned(tree: Any) -> Any:
    """`tree` with read-only NumPy views (broadcasts of one value) copied: results of a
    transform are the caller's to change in place, as NumPy results are."""
    return tree_util.tree_map(_owned_leaf, tree)


def _owned_leaf(x: Any) -> Any:
    return np.array(x) if isinstance(x, np.ndarray) and not x.flags.writeable else x


def _array_leaves(leaves: Sequence[Any]) -> list[Any]:
    """Python numbers become arrays of their default dtype (float32, int32, bool)."""
    from fnad.lax.elementwise import asarray_like
    return [asarray_like(x)[0] if type(x) in (bool, int, float, complex) else x
            for x in leaves]


# ---------------------------------------------------------------------------- make_jaxpr

def make_jaxpr(fun: Callable[..., Any], static_argnums: int | Sequence[int] = (),
               axis_env: Sequence[tuple[Any, int]] | None = None, return_shape: bool = False
               ) -> Callable[..., Any]:
    """The function that traces `fun` on given arguments and returns its `ClosedJaxpr` (with
    `return_shape`, and the outputs' `ShapeDtypeStruct`s, as JAX's). JAX's `axis_env`
    (named axes for collectives outside a map) is taken as None only: trace the
    collectives inside `fnad.vmap(..., axis_name=...)` instead.

    >>> import numpy as np, fnad
    >>> print(fnad.make_jaxpr(lambda x: fnad.numpy.sin(x) * 2.0)(np.ones(3, np.float32)))
    { lambda ; a:f32[3]. let
        b:f32[3] = sin a
        c:f32[3] = mul b 2.0
      in (c,) }
    """
    check_unsupported("make_jaxpr", "fnad binds axis names in vmap and pmap only",
                      axis_env=axis_env)
    static = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)

    @functools.wraps(fun)
    def traced(*args: Any, **kwargs: Any) -> Any:
        dyn = [a for i, a in enumerate(args) if i not in static]

        def g(*dyn_args: Any, **kw: Any) -> Any:
            it = iter(dyn_args)
            full = [a if i in static else next(it) for i, a in enumerate(args)]
            return fun(*full, **kw)

        leaves, in_tree = tree_util.tree_flatten((tuple(dyn), kwargs))
        store: dict[str, Any] = {}
        jaxpr = trace_to_jaxpr(_flat_fun(g, in_tree, store), [abstractify(x) for x in leaves],
                               transform="make_jaxpr")
        if not return_shape:
            return jaxpr
        from fnad.api_extra import _struct
        return jaxpr, tree_util.tree_unflatten(store["tree"], [_struct(a)
                                                               for a in jaxpr.out_avals])

    return traced


# ---------------------------------------------------------------------------- forward mode

def jvp(fun: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any],
        has_aux: bool = False) -> tuple[Any, ...]:
    """Evaluate `fun` at `primals` and push `tangents` forward: (fun(primals), J @ tangents).
    With `has_aux`, `fun` returns (output, aux) and jvp returns (output, tangent, aux).
    Integer and boolean values have no tangent: give theirs as `float0` zeros (as in JAX)
    or zeros of their dtype; an integer output's tangent is zeros of its dtype.

    >>> import fnad
    >>> fnad.jvp(fnad.numpy.sin, (0.0,), (2.0,))[1]
    array(2., dtype=float32)
    """
    out, tangent, aux = _jvp(fun, primals, tangents, has_aux)
    return (out, tangent, aux) if has_aux else (out, tangent)


def _jvp(fun: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any],
         has_aux: bool) -> tuple[Any, Any, Any]:
    """`jvp`'s (output, tangent, aux), an integer output's tangent zeros of its dtype."""
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TransformError("jvp takes primals and tangents as tuples of arguments")
    p_leaves, p_tree = tree_util.tree_flatten(tuple(primals))
    t_leaves, t_tree = tree_util.tree_flatten(tuple(tangents))
    if p_tree != t_tree:
        raise TransformError(f"jvp: primals have structure {p_tree} but tangents {t_tree}")
    p_leaves, weak = _weak_leaves(p_leaves)
    t_leaves = [_tangent_for(get_aval(p), t, "jvp") for p, t in zip(p_leaves, t_leaves)]
    store: dict[str, Any] = {}
    g = (lambda *a, **k: _split_aux(fun(*a, **k), store)) if has_aux else fun
    flat = _flat_fun(g, tree_util.tree_structure((tuple(primals), {})), store, weak)
    outs, touts = jvp_flat(flat, p_leaves, t_leaves)
    outs = _materialized(outs, store["weak"])
    touts = _materialized([instantiate(t) for t in touts], store["weak"])
    aux = tree_util.tree_map(_primal_of, store["aux"]) if has_aux else None
    return (*_owned((tree_util.tree_unflatten(store["tree"], outs),
                     tree_util.tree_unflatten(store["tree"], touts))), aux)


def _float0_if_int(x: Any) -> Any:
    """The tangent or cotangent of an integer or boolean value: JAX's `float0` zeros."""
    aval = get_aval(x)
    return np.zeros(aval.shape, float0) if aval.dtype.kind in "biu" else x


def _same_tangent_dtype(primal: np.dtype, tangent: np.dtype) -> bool:
    """Whether JAX takes a `tangent` of this dtype for a `primal` of that one: the same
    dtype, where JAX (without x64) holds both 64-bit ones as 32-bit ones."""
    return primal == tangent or canonical(primal) == canonical(tangent)


def _tangent_for(aval: ShapedArray, t: Any, name: str) -> Any:
    """`t` as the tangent (for `vjp`, the cotangent) of a value of `aval`: its shape, and a
    dtype JAX would take (a Python number of the value's kind is taken as weak); a symbolic
    zero for an integer value, which has no tangent."""
    what, of = ("cotangent", "an output") if name == "vjp" else ("tangent", "a primal")
    py = type(t) in (bool, int, float, complex)
    if py:
        from fnad.lax.elementwise import asarray_like
        t = asarray_like(t)[0]
    dtype, shape = np.dtype(getattr(t, "dtype", object)), np.shape(t)
    if shape != aval.shape:
        raise TransformError(f"{name}: {what} of shape {shape} for {of} of shape {aval.shape}")
    if aval.dtype.kind not in "fc":
        return Zero(aval)  # no derivative: whatever is given (JAX's float0 zeros) is unused
    if dtype == float0 or not (_same_tangent_dtype(aval.dtype, dtype)
                               or (py and dtype.kind in "fc")):
        raise TransformError(f"{name}: {what} of dtype {dtype} for {of} of dtype "
                             f"{aval.dtype}; give it that dtype (t.astype({aval.dtype}))")
    from fnad.lax.elementwise import convert_element_type
    return convert_element_type(t, aval.dtype)


def linearize(fun: Callable[..., Any], *primals: Any, has_aux: bool = False) -> Any:
    """f(primals) and the linear map tangents -> J @ tangents, evaluated without re-running
    fun. With `has_aux`, `fun` returns (output, aux) and linearize returns (output, f_jvp, aux).
    """
    leaves, in_tree = tree_util.tree_flatten((primals, {}))
    leaves, weak = _weak_leaves(leaves)
    store: dict[str, Any] = {}
    g = (lambda *a, **k: _split_aux(fun(*a, **k), store)) if has_aux else fun
    outs, lin = linearize_flat(_flat_fun(g, in_tree, store, weak), leaves)
    out_tree, out_weak = store["tree"], store["weak"]

    def f_jvp(*tangents: Any) -> Any:
        t_leaves, t_tree = tree_util.tree_flatten((tangents, {}))
        if t_tree != in_tree:
            raise TransformError(f"linearize: tangents have structure {t_tree}, the primals "
                                 f"{in_tree}")
        t_leaves = [_tangent_for(get_aval(p), t, "linearize")
                    for p, t in zip(leaves, t_leaves)]
        touts = _materialized([instantiate(t) for t in lin(*t_leaves)], out_weak)
        return _owned(tree_util.tree_unflatten(out_tree, touts))

    out = _owned(tree_util.tree_unflatten(out_tree, _materialized(outs, out_weak)))
    if has_aux:
        return out, f_jvp, tree_util.tree_map(_primal_of, store["aux"])
    return out, f_jvp


# ---------------------------------------------------------------------------- reverse mode

def vjp(fun: Callable[..., Any], *primals: Any, has_aux: bool = False,
        reduce_axes: Sequence[Any] = ()) -> Any:
    """f(primals) and the function cotangent -> cotangent @ J (one per primal).

    With `has_aux`, fun returns (output, aux) and vjp returns (output, f_vjp, aux). The
    cotangent of an integer primal is zeros of its dtype (JAX's are `float0` zeros).
    `reduce_axes` is JAX's deprecated argument; only its default is taken.
    """
    if reduce_axes:
        raise TransformError("vjp: reduce_axes is not supported (JAX deprecated it); sum "
                             "the cotangents over the named axes with lax.psum instead")
    outs, out_tree, pullback, aux = _vjp_flat(fun, primals, has_aux)

    def f_vjp(cotangent: Any) -> tuple[Any, ...]:
        ct_leaves, ct_tree = tree_util.tree_flatten(cotangent)
        if ct_tree != out_tree:
            raise TransformError(f"vjp: the cotangent has structure {ct_tree}, the output "
                                 f"{out_tree}")
        return pullback(ct_leaves)

    out = _owned(tree_util.tree_unflatten(out_tree, outs))
    if has_aux:
        return out, f_vjp, aux
    return out, f_vjp


def _vjp_flat(f: Callable[..., Any], primals: Sequence[Any], has_aux: bool,
              float0_ints: bool = False
              ) -> tuple[list[Any], Any, Callable[[list[Any]], Any], Any]:
    """(flat outputs, output structure, pullback of flat cotangents -> the cotangent of
    `primals` (a tuple), aux). An integer primal's cotangent is zeros of its dtype, or with
    `float0_ints` JAX's `float0` zeros (`grad`'s `allow_int`)."""
    leaves, in_tree = tree_util.tree_flatten((tuple(primals), {}))
    leaves, weak = _weak_leaves(leaves)
    store: dict[str, Any] = {}
    g = (lambda *a, **k: _split_aux(f(*a, **k), store)) if has_aux else f
    outs, lin = linearize_flat(_flat_fun(g, in_tree, store, weak), leaves)
    outs = _materialized(outs, store["weak"])

    def pullback(ct_leaves: list[Any]) -> Any:
        cts = [_tangent_for(a, c, "vjp") for c, a in zip(ct_leaves, lin.out_avals)]
        cts = [c for c, m in zip(cts, lin.out_mask) if m]
        grads = [_owned_leaf(instantiate(ct)) for ct in pull_back(lin, cts)]
        grads = _materialized(grads, weak)
        if float0_ints:
            grads = [_float0_if_int(x) for x in grads]
        return tree_util.tree_unflatten(in_tree, grads)[0]

    aux = tree_util.tree_map(_primal_of, store["aux"]) if has_aux else None
    return outs, store["tree"], pullback, aux


def _primal_of(x: Any) -> Any:
    """An auxiliary output leaves the finished linearization as its primal value."""
    from fnad.interpreters.jvp import JVPTracer
    while isinstance(x, JVPTracer) and x._trace.finished:
        x = x.primal
    return x


def _split_aux(out: Any, store: dict[str, Any]) -> Any:
    if not (isinstance(out, tuple) and len(out) == 2):
        raise TransformError("with has_aux=True the function must return a pair "
                             "(output, auxiliary data)")
    store["aux"] = out[1]
    return out[0]


def _partial_at(f: Callable[..., Any], args: Sequence[Any], nums: Sequence[int],
                kwargs: dict[str, Any] | None = None) -> Callable[..., Any]:
    """`f` as a function of `args[nums]` only, the other arguments fixed."""

    def g(*values: Any) -> Any:
        full = list(args)
        for i, v in zip(nums, values):
            full[i] = v
        return f(*full, **(kwargs or {}))

    return g


def _check_float(leaves: Sequence[Any], name: str, holomorphic: bool = False,
                 complex_ok: bool = True, allow_int: bool = False) -> None:
    """Inputs to differentiate: float (or complex, where `complex_ok`); complex only, with
    `holomorphic` (the derivative f'(z) is defined for complex z alone). With `allow_int`,
    integer and boolean inputs pass too (their derivative is zero, JAX's `allow_int`)."""
    for x in leaves:
        dtype = get_aval(x).dtype
        if allow_int and dtype.kind in "biu":
            continue
        if holomorphic and dtype.kind != "c":
            raise DTypeError(f"{name} with holomorphic=True requires inputs with complex "
                             f"dtype, got {dtype}. Convert the argument to complex "
                             "(x.astype(np.complex64)), or drop holomorphic=True.")
        if dtype.kind not in ("fc" if complex_ok or holomorphic else "f"):
            if dtype.kind == "c":
                raise DTypeError(f"{name} requires real-valued inputs, got {dtype}. For a "
                                 "holomorphic function pass holomorphic=True; otherwise "
                                 "use jvp, or jacrev for a real-valued function.")
            raise TransformError(f"{name}: differentiation needs float inputs, got {dtype}. "
                                 "Convert the argument to a float dtype, or leave it out of "
                                 "argnums.")


def _check_output(dtype: np.dtype, name: str, holomorphic: bool, reverse: bool = False
                  ) -> None:
    """Outputs to differentiate: complex with `holomorphic`, real without (a complex
    output's gradient is not one array: it needs a cotangent, i.e. vjp); in reverse mode
    (`grad`, `jacrev`) float, as JAX's (an integer output has no cotangent to start from)."""
    if reverse and dtype.kind not in "fc":
        raise DTypeError(f"{name} needs float-valued outputs, got {dtype} (a TypeError, as in "
                         "JAX); an integer or boolean output has no derivative: differentiate "
                         "the float computation behind it, or use jacfwd")
    if holomorphic and dtype.kind != "c":
        raise DTypeError(f"{name} with holomorphic=True requires outputs with complex dtype, "
                         f"got {dtype}; drop holomorphic=True for a real-valued function")
    if not holomorphic and dtype.kind == "c":
        raise DTypeError(f"{name} requires real-valued outputs, got {dtype}. For a "
                         "holomorphic function pass holomorphic=True; for any other complex "
                         "output use vjp or jvp, or differentiate a real function of it "
                         "(fnad.numpy.real, fnad.numpy.abs)")


def _argnums_tuple(argnums: int | Sequence[int]) -> tuple[int, ...]:
    return (argnums,) if isinstance(argnums, int) else tuple(argnums)


def value_and_grad(fun: Callable[..., Any], argnums: int | Sequence[int] = 0,
                   has_aux: bool = False, holomorphic: bool = False, allow_int: bool = False,
                   reduce_axes: Sequence[Any] = (), *,
                   argnum: int | Sequence[int] | None = None) -> Callable[..., Any]:
    """The function returning (fun(*args), gradient of fun with respect to args[argnums]).
    With `holomorphic=True`, fun maps complex inputs to a complex scalar and the "gradient"
    is the complex derivative f'(z). With `allow_int=True`, integer and boolean arguments
    may be differentiated: their gradient is `float0` zeros, as in JAX. `argnum` is
    autograd's spelling of `argnums`; `reduce_axes` is JAX's deprecated argument (only its
    default is taken).

    >>> import fnad
    >>> fnad.value_and_grad(lambda x: x * x)(3.0)
    (array(9., dtype=float32), array(6., dtype=float32))
    """
    argnums = argnums if argnum is None else argnum
    nums = _argnums_tuple(argnums)
    if len(set(nums)) != len(nums):
        raise TransformError(f"grad: argnums {argnums} names an argument twice; name each "
                             "once")
    if reduce_axes:
        raise TransformError("grad: reduce_axes is not supported (JAX deprecated it); sum "
                             "the gradient over the named axes with lax.psum instead")

    @functools.wraps(fun)
    def vg(*args: Any, **kwargs: Any) -> Any:
        for i in nums:
            if not -len(args) <= i < len(args):
                raise TransformError(f"argnums {argnums} is out of range for {len(args)} "
                                     "positional arguments")
        norm = tuple(i % len(args) for i in nums)
        diff = tuple(args[i] for i in norm)
        for i, a in zip(norm, diff):  # name the argument
            _check_float(_array_leaves(tree_util.tree_leaves(a)), f"grad of argument {i}",
                         holomorphic, allow_int=allow_int)
        outs, out_tree, pullback, aux = _vjp_flat(_partial_at(fun, args, norm, kwargs), diff,
                                                  has_aux, float0_ints=True)
        # one array, not a container of one (JAX's rule)
        aval = get_aval(outs[0]) if out_tree.num_nodes == 1 == len(outs) else None
        # one element: shape () as JAX requires, or (1,), (1, 1)... as autograd allows
        if aval is None or math.prod(aval.shape) != 1:
            shapes = [get_aval(x).shape for x in outs]
            hint = ("; if it returns (loss, auxiliary data), pass has_aux=True"
                    if not has_aux and len(out_tree.children()) == 2 else "")
            raise TransformError(f"grad needs a function returning one scalar array, got "
                                 f"outputs of shapes {shapes} in {out_tree}; use vjp or "
                                 f"jacrev for other outputs{hint}")
        _check_output(aval.dtype, "grad", holomorphic, reverse=True)
        grads = pullback([np.ones(aval.shape, aval.dtype)])
        grads = grads[0] if isinstance(argnums, int) else grads
        out = _owned(tree_util.tree_unflatten(out_tree, outs))
        if has_aux:
            return (out, aux), grads
        return out, grads

    return vg


def grad(fun: Callable[..., Any], argnums: int | Sequence[int] = 0,
         has_aux: bool = False, holomorphic: bool = False, allow_int: bool = False,
         reduce_axes: Sequence[Any] = (), *,
         argnum: int | Sequence[int] | None = None) -> Callable[..., Any]:
    """The gradient of a scalar function with respect to args[argnums]. With
    `holomorphic=True`, the complex derivative f'(z) of a complex function of complex z;
    `allow_int` and `reduce_axes` are `value_and_grad`'s.
    `argnum` is autograd's spelling of `argnums`. The output is one element: shape () as
    JAX requires, or any shape of size 1 (`sum(x, keepdims=True)`), as autograd allows.

    >>> import fnad
    >>> fnad.grad(fnad.numpy.sin)(0.0)
    array(1., dtype=float32)
    >>> fnad.grad(lambda z: z * z, holomorphic=True)(1 + 1j)
    array(2.+2.j, dtype=complex64)
    """
    vg = value_and_grad(fun, argnums if argnum is None else argnum, has_aux, holomorphic,
                        allow_int, reduce_axes)

    @functools.wraps(fun)
    def g(*args: Any, **kwargs: Any) -> Any:
        (value, grads) = vg(*args, **kwargs)
        if has_aux:
            return grads, value[1]
        return grads

    return g


# ---------------------------------------------------------------------------- vmap

def vmap(fun: Callable[..., Any], in_axes: Any = 0, out_axes: Any = 0, axis_name: Any = None,
         axis_size: int | None = None, spmd_axis_name: Any = None, sum_match: bool = False
         ) -> Callable[..., Any]:
    """Map `fun` over an axis of its inputs, as one batched computation. `spmd_axis_name`
    (JAX's sharding of the mapped axis over a mesh) changes nothing on one device; with
    `sum_match`, a mapped output whose out_axes is None is summed over the mapped axis.

    >>> import numpy as np, fnad
    >>> fnad.vmap(lambda x: x.sum())(np.ones((3, 2), np.float32))
    array([2., 2., 2.], dtype=float32)
    """

    @functools.wraps(fun)
    def batched(*args: Any, **kwargs: Any) -> Any:
        if isinstance(in_axes, list):
            axes_prefix: Any = tuple(in_axes)
        else:
            axes_prefix = in_axes
        if not isinstance(axes_prefix, tuple):
            axes_prefix = (axes_prefix,) * len(args)
        if len(axes_prefix) != len(args):
            raise TransformError(f"vmap: in_axes {in_axes} has {len(axes_prefix)} entries for "
                                 f"{len(args)} positional arguments")
        leaves, in_tree = tree_util.tree_flatten((args, kwargs))
        try:
            axes = tree_util.tree_broadcast_prefix((axes_prefix, {k: 0 for k in kwargs}),
                                                   (args, kwargs))
        except FnadError as e:
            raise TransformError(f"vmap: in_axes {in_axes} does not match the arguments' "
                                 f"structure: {e}") from None
        bad = [ax for ax in axes if ax is not None and not isinstance(ax, (int, np.integer))]
        if bad:
            raise TransformError(f"vmap: in_axes entries must be ints or None, got {bad[0]!r} "
                                 f"(in_axes={in_axes!r})")
        # unmapped Python scalars pass through as they are (a jit inside may take them static)
        leaves = [x if ax is None else _array_leaves([x])[0] for x, ax in zip(leaves, axes)]
        dims, sizes = [], []
        for i, (x, ax) in enumerate(zip(leaves, axes)):
            if ax is None:
                dims.append(None)
                continue
            nd = get_aval(x).ndim
            if not -nd <= ax < nd:
                raise TransformError(f"vmap: in_axes {ax} is out of range for an argument of "
                                     f"shape {get_aval(x).shape} (leaf {i})")
            dims.append(ax % nd)
            sizes.append((i, get_aval(x).shape[ax % nd]))
        size = axis_size
        if size is None:
            if not sizes:
                raise TransformError("vmap: no argument is mapped (all in_axes are None); "
                                     "give axis_size")
            size = sizes[0][1]
        bad = [(i, s) for i, s in sizes if s != size]
        if bad:
            desc = ", ".join(f"leaf {i} has size {s}" for i, s in sizes)
            given = f" but axis_size is {axis_size}" if axis_size is not None else ""
            raise TransformError(f"vmap: mapped axes disagree in size: {desc}{given}")
        store: dict[str, Any] = {}
        flat = _flat_fun(fun, in_tree, store)
        outs, out_dims = vmap_flat(flat, size, leaves, dims, axis_name=axis_name)
        out_tree = store["tree"]
        try:
            oax = tree_util.tree_broadcast_prefix(out_axes, tree_util.tree_unflatten(
                out_tree, [0] * len(outs)))
        except FnadError as e:
            raise TransformError(f"vmap: out_axes {out_axes} does not match the output "
                                 f"structure: {e}") from None
        from fnad.interpreters.batching import moveaxis
        results = []
        for o, d, od in zip(outs, out_dims, oax):
            if od is not None:
                rank = get_aval(o).ndim + (d is None)
                if not -rank <= od < rank:
                    raise TransformError(f"vmap: out_axes {od} is out of range for an output "
                                         f"of rank {rank} (with the mapped axis)")
                od %= rank
            elif d is not None and sum_match:  # JAX's: summed over the mapped axis
                from fnad.lax.reduction import reduce_sum
                o, d = reduce_sum(o, (d,)), None
            elif d is not None:
                raise TransformError("vmap: an output with out_axes=None depends on the "
                                     "mapped inputs; map it (out_axes=0), or sum it over "
                                     "the mapped axis with sum_match=True")
            results.append(moveaxis(o, d, od, size))
        return _owned(tree_util.tree_unflatten(out_tree, results))

    return batched


# ---------------------------------------------------------------------------- jacobians

def _std_basis(leaves: Sequence[Any]) -> list[np.ndarray]:
    """The identity, split per leaf: row i of the stacked result is the i-th basis vector."""
    avals = [get_aval(x) for x in leaves]
    total = sum(a.size for a in avals)
    dtype = np.result_type(*[a.dtype for a in avals]) if avals else np.float32
    eye = np.eye(total, dtype=dtype)
    out, start = [], 0
    for a in avals:
        out.append(eye[:, start:start + a.size].reshape((total, *a.shape)).astype(a.dtype))
        start += a.size
    return out


def jacfwd(fun: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False,
           holomorphic: bool = False) -> Callable[..., Any]:
    """The Jacobian by forward mode: one batched `jvp` over the input basis (vmap). With
    `has_aux`, `fun` returns `(output, aux)` and the result is `(jacobian, aux)`; with
    `holomorphic=True`, the complex Jacobian df_i/dz_j of a complex function of complex z.

    >>> import numpy as np, fnad
    >>> fnad.jacfwd(lambda z: z ** 2, holomorphic=True)(np.array([1j, 2.0 + 0j]))
    array([[0.+2.j, 0.+0.j],
           [0.+0.j, 4.+0.j]])
    """
    nums = _argnums_tuple(argnums)

    @functools.wraps(fun)
    def jac(*args: Any) -> Any:
        diff = [args[i] for i in nums]
        leaves, tree = tree_util.tree_flatten(tuple(diff))
        leaves = _array_leaves(leaves)
        _check_float(leaves, "jacfwd", holomorphic, complex_ok=False)
        g = _partial_at(fun, args, nums)

        def pushforward(*basis: Any) -> Any:
            prim_tree = tree_util.tree_unflatten(tree, leaves)
            tan_tree = tree_util.tree_unflatten(tree, list(basis))
            out, tangent, _ = _jvp(g, tuple(prim_tree), tuple(tan_tree), False)
            if not has_aux:
                return tangent
            _split_aux(out, {})  # the pair check, with its message
            return tangent[0], out[1]

        basis = _std_basis(leaves)
        stacked = vmap(pushforward, in_axes=0, out_axes=(-1, None) if has_aux else -1)(*basis)
        if has_aux:
            stacked, aux = stacked
        if holomorphic:
            for o in tree_util.tree_leaves(stacked):
                _check_output(get_aval(o).dtype, "jacfwd", holomorphic)
        out_leaves, out_tree = tree_util.tree_flatten(stacked)
        from fnad import numpy as fnp
        result = []
        for o in out_leaves:
            n_out_dims = get_aval(o).ndim - 1
            blocks, start = [], 0
            for x in leaves:
                a = get_aval(x)
                block = o if len(leaves) == 1 else o[..., start:start + a.size]
                blocks.append(fnp.reshape(block, (*get_aval(o).shape[:n_out_dims], *a.shape)))
                start += a.size
            per_arg = tree_util.tree_unflatten(tree, blocks)
            result.append(per_arg[0] if isinstance(argnums, int) else per_arg)
        jacobian = tree_util.tree_unflatten(out_tree, result)
        return (jacobian, aux) if has_aux else jacobian

    return jac


def jacrev(fun: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False,
           holomorphic: bool = False, allow_int: bool = False) -> Callable[..., Any]:
    """The Jacobian by reverse mode: one batched `vjp` over the output basis (vmap). With
    `has_aux`, `fun` returns `(output, aux)` and the result is `(jacobian, aux)`; with
    `holomorphic=True`, the complex Jacobian df_i/dz_j of a complex function of complex z;
    with `allow_int=True`, integer arguments' blocks are zeros of their dtype, as JAX's.

    >>> import numpy as np, fnad
    >>> fnad.jacrev(lambda x: x ** 2)(np.array([1.0, 3.0]))
    array([[2., 0.],
           [0., 6.]])
    """
    nums = _argnums_tuple(argnums)

    @functools.wraps(fun)
    def jac(*args: Any) -> Any:
        diff = tuple(args[i] for i in nums)
        leaves, tree = tree_util.tree_flatten(diff)
        _check_float(_array_leaves(leaves), "jacrev", holomorphic, allow_int=allow_int)
        out, f_vjp, *aux = vjp(_partial_at(fun, args, nums), *diff, has_aux=has_aux)
        out_leaves, out_tree = tree_util.tree_flatten(out)
        out_leaves = _array_leaves(out_leaves)
        for o in out_leaves:
            _check_output(get_aval(o).dtype, "jacrev", holomorphic, reverse=True)
        basis = _std_basis(out_leaves)
        cts = vmap(lambda *b: f_vjp(tree_util.tree_unflatten(out_tree, list(b))))(*basis)
        ct_leaves_per_arg = tree_util.tree_leaves(cts)  # each (n_out_total, *in_shape)
        from fnad import numpy as fnp
        result = []
        start = 0
        for o in out_leaves:
            a = get_aval(o)
            blocks = [fnp.reshape(c if len(out_leaves) == 1 else c[start:start + a.size],
                                  (*a.shape, *get_aval(c).shape[1:]))
                      for c in ct_leaves_per_arg]
            per_arg = tree_util.tree_unflatten(tree, blocks)
            result.append(per_arg[0] if isinstance(argnums, int) else per_arg)
            start += a.size
        jacobian = tree_util.tree_unflatten(out_tree, result)
        return (jacobian, aux[0]) if has_aux else jacobian

    return jac


def hessian(fun: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False,
            holomorphic: bool = False) -> Callable[..., Any]:
    """The Hessian as forward-over-reverse: jacfwd(jacrev(fun)). With `has_aux`, `fun` returns
    `(output, aux)` and the result is `(hessian, aux)`."""
    return jacfwd(jacrev(fun, argnums, has_aux, holomorphic), argnums, has_aux, holomorphic)


# ---------------------------------------------------------------------------- autograd's names
# autograd's differential operators, so that autograd code runs after renaming its imports.
# Each differentiates args[argnum] (an int, or a sequence for a tuple of arguments); the
# other arguments and keywords are held fixed.

def _at(f: Callable[..., Any], argnum: int | Sequence[int], args: Sequence[Any],
        kwargs: dict[str, Any]) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    """`f` as a function of args[argnum] alone, and those arguments."""
    nums = _argnums_tuple(argnum)
    for i in nums:
        if not -len(args) <= i < len(args):
            raise TransformError(f"argnum {argnum} is out of range for {len(args)} "
                                 "positional arguments")
    norm = tuple(i % len(args) for i in nums)
    return _partial_at(f, args, norm, kwargs), tuple(args[i] for i in norm)


def _one(argnum: int | Sequence[int], per_arg: tuple[Any, ...]) -> Any:
    return per_arg[0] if isinstance(argnum, int) else per_arg


def _ones_like(tree: Any, name: str) -> Any:
    def ones(x: Any) -> np.ndarray:
        aval = get_aval(weak_array(x))
        _check_output(aval.dtype, name, False)
        return np.ones(aval.shape, aval.dtype)

    return tree_util.tree_map(ones, tree)


def elementwise_grad(f: Callable[..., Any], argnum: int | Sequence[int] = 0
                     ) -> Callable[..., Any]:
    """autograd's `elementwise_grad`: the vjp of a real `f` with a cotangent of ones, i.e.
    the sum of each column of the Jacobian, which is the elementwise derivative when `f`
    acts elementwise (for any other `f`, use `jacrev`).

    >>> import numpy as np, fnad, fnad.numpy as fnp
    >>> fnad.elementwise_grad(fnp.sin)(np.zeros(2))
    array([1., 1.])
    """
    @functools.wraps(f)
    def eg(*args: Any, **kwargs: Any) -> Any:
        g, diff = _at(f, argnum, args, kwargs)
        out, f_vjp = vjp(g, *diff)
        return _one(argnum, f_vjp(_ones_like(out, "elementwise_grad")))

    return eg


def deriv(f: Callable[..., Any], argnum: int | Sequence[int] = 0) -> Callable[..., Any]:
    """autograd's `deriv`: the jvp of `f` along a tangent of ones, i.e. the sum of each row
    of the Jacobian (f'(x) for a scalar x), by forward mode.

    >>> import numpy as np, fnad
    >>> fnad.deriv(lambda x: x ** 3)(np.float64(2.0))
    np.float64(12.0)
    """
    @functools.wraps(f)
    def d(*args: Any, **kwargs: Any) -> Any:
        g, diff = _at(f, argnum, args, kwargs)
        _check_float(_array_leaves(tree_util.tree_leaves(diff)), "deriv")
        return jvp(g, diff, tuple(_ones_like(diff, "deriv")))[1]

    return d


def holomorphic_grad(f: Callable[..., Any], argnum: int | Sequence[int] = 0
                     ) -> Callable[..., Any]:
    """autograd's `holomorphic_grad`: `grad(f, argnum, holomorphic=True)`, the complex
    derivative f'(z) of a complex scalar function of complex z."""
    return grad(f, argnum, holomorphic=True)


def grad_and_aux(f: Callable[..., Any], argnum: int | Sequence[int] = 0
                 ) -> Callable[..., Any]:
    """autograd's `grad_and_aux`: for `f` returning `(loss, aux)`, the function returning
    `(gradient of loss, aux)`: `grad(f, argnum, has_aux=True)`."""
    return grad(f, argnum, has_aux=True)


def make_vjp(f: Callable[..., Any], argnum: int | Sequence[int] = 0) -> Callable[..., Any]:
    """autograd's `make_vjp`: `make_vjp(f)(*args)` is `(f_vjp, f(*args))` (JAX's `vjp`
    returns them the other way round), with `f_vjp(cotangent)` the cotangent of
    args[argnum] alone."""
    @functools.wraps(f)
    def mv(*args: Any, **kwargs: Any) -> tuple[Callable[[Any], Any], Any]:
        g, diff = _at(f, argnum, args, kwargs)
        out, f_vjp = vjp(g, *diff)
        return (lambda cotangent: _one(argnum, f_vjp(cotangent))), out

    return mv


def make_jvp(f: Callable[..., Any], argnum: int | Sequence[int] = 0) -> Callable[..., Any]:
    """autograd's `make_jvp`: `make_jvp(f)(*args)` is the function `v -> (f(*args), J v)`,
    with `v` a tangent of args[argnum] (a tuple of them for a sequence `argnum`)."""
    @functools.wraps(f)
    def mj(*args: Any, **kwargs: Any) -> Callable[[Any], tuple[Any, Any]]:
        g, diff = _at(f, argnum, args, kwargs)
        return lambda v: jvp(g, diff, (v,) if isinstance(argnum, int) else tuple(v))

    return mj


def hessian_tensor_product(f: Callable[..., Any], argnum: int = 0) -> Callable[..., Any]:
    """autograd's `hessian_tensor_product` (alias `hessian_vector_product`): the function
    `(*args, v) -> H v`, the Hessian of scalar `f` in args[argnum] contracted with `v` of
    that argument's shape, by forward-over-reverse (no Hessian is formed)."""
    df = grad(f, argnum)

    @functools.wraps(f)
    def hvp(*args_and_v: Any, **kwargs: Any) -> Any:
        *args, v = args_and_v
        g, diff = _at(df, argnum, args, kwargs)
        return jvp(g, diff, (v,))[1]

    return hvp


hessian_vector_product = hessian_tensor_product


def tensor_jacobian_product(f: Callable[..., Any], argnum: int = 0) -> Callable[..., Any]:
    """autograd's `tensor_jacobian_product` (alias `vector_jacobian_product`): the function
    `(*args, v) -> tensordot(v, J, v.ndim)`, the Jacobian of `f` in args[argnum]
    left-contracted with `v` over the leading output axes (a vjp when `v` has the
    output's shape)."""
    from fnad import numpy as fnp

    @functools.wraps(f)
    def tjp(*args_and_v: Any, **kwargs: Any) -> Any:
        *args, v = args_and_v
        contracted = lambda *a: fnp.tensordot(v, f(*a, **kwargs), np.ndim(v))
        return jacrev(contracted, argnum)(*args)

    return tjp


vector_jacobian_product = tensor_jacobian_product


def make_hvp(f: Callable[..., Any], argnum: int = 0) -> Callable[..., Any]:
    """autograd's `make_hvp`: `make_hvp(f)(*args)` is `(hvp, gradient)`, where `hvp(v)` is
    the Hessian-vector product at args, reusing one linearization of the gradient."""
    df = grad(f, argnum)

    @functools.wraps(f)
    def mh(*args: Any, **kwargs: Any) -> tuple[Callable[[Any], Any], Any]:
        g, diff = _at(df, argnum, args, kwargs)
        gradient, hvp = linearize(g, *diff)
        return hvp, gradient

    return mh


def make_ggnvp(f: Callable[..., Any], g: Callable[[Any], Any] | None = None,
               f_argnum: int = 0) -> Callable[..., Any]:
    """autograd's `make_ggnvp`: `make_ggnvp(f, g)(*args)` is the generalized Gauss-Newton
    product `v -> J^T H J v`, with J the Jacobian of `f` in args[f_argnum] and H the
    Hessian of the scalar `g` (by default sum(y**2, axis=-1) / 2) at f(*args)."""
    g = (lambda y: 0.5 * _fnp_sum_sq(y)) if g is None else g

    @functools.wraps(f)
    def mg(*args: Any, **kwargs: Any) -> Callable[[Any], Any]:
        fx, diff = _at(f, f_argnum, args, kwargs)
        y, f_jvp = linearize(fx, *diff)
        _, f_vjp = vjp(fx, *diff)
        _, g_hvp = linearize(grad(g), y)
        return lambda v: f_vjp(g_hvp(f_jvp(v)))[0]

    return mg


def _fnp_sum_sq(y: Any) -> Any:
    from fnad import numpy as fnp
    return fnp.sum(y * y, axis=-1)
