"""The rest of JAX's top-level API: shapes without computation (`eval_shape`,
`ShapeDtypeStruct`), transposition of linear functions, closure conversion, custom
gradients, host callbacks and the names that only organize or wait (`named_scope`,
`block_until_ready`). Each is written on the transforms of `fnad.api` and the interpreters.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from fnad import tree as tree_util
from fnad.api import jacrev
from fnad.core.errors import (
    ArgumentTypeError,
    ConcretizationError,
    DTypeError,
    ShapeError,
    TransformError,
)
from fnad.core.ir import ShapedArray, abstractify, eval_jaxpr, get_aval, weak_default
from fnad.core.primitive import Zero
from fnad.core.trace import EvalTrace, Tracer, state
from fnad.device import is_gpu_array
from fnad.interpreters.jvp import instantiate
from fnad.interpreters.staging import trace_to_jaxpr
from fnad.interpreters.transpose import UndefinedPrimal, backward_pass
from fnad.lax.callback import bind_pure_callback
from fnad.lax.custom import custom_vjp
from fnad.lax.elementwise import asarray_like

__all__ = ["ShapeDtypeStruct", "block_until_ready", "closure_convert", "custom_gradient",
           "ensure_compile_time_eval", "eval_shape", "jacobian", "linear_transpose",
           "named_call", "named_scope", "pure_callback"]


# ---------------------------------------------------------------------------- shapes


class ShapeDtypeStruct:
    """A shape and a dtype standing for an array that need not exist: what `eval_shape`
    returns, and an argument `eval_shape`, `make_jaxpr` and `linear_transpose` accept in
    place of an array. ``sharding`` is accepted and kept (one process has one layout).

    >>> s = ShapeDtypeStruct((2, 3), np.float32)
    >>> s, s.ndim, s.size
    (ShapeDtypeStruct(shape=(2, 3), dtype=float32), 2, 6)
    """

    __slots__ = ("shape", "dtype", "sharding", "weak_type")

    def __init__(self, shape: Sequence[int], dtype: Any, sharding: Any = None, *,
                 weak_type: bool = False) -> None:
        if dtype is None:  # np.dtype(None) would be float64
            raise ArgumentTypeError("ShapeDtypeStruct: dtype must be specified")
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        self.sharding = sharding
        self.weak_type = weak_type

    @classmethod
    def like(cls, x: Any) -> ShapeDtypeStruct:
        """The shape and dtype of `x` (an array, tracer or Python number; a number is weakly
        typed), e.g. as the result spec of a `pure_callback` that keeps its input's type."""
        weak = type(x) in (bool, int, float, complex)
        aval = get_aval(asarray_like(x)[0] if weak else x)
        return cls(aval.shape, aval.dtype, getattr(x, "sharding", None),
                   weak_type=weak or aval.weak_type)

    def update(self, **changes: Any) -> ShapeDtypeStruct:
        """A copy with `shape`, `dtype`, `sharding` or `weak_type` changed."""
        fields = {"shape": self.shape, "dtype": self.dtype, "sharding": self.sharding,
                  "weak_type": self.weak_type}
        unknown = set(changes) - set(fields)
        if unknown:
            raise ArgumentTypeError(f"ShapeDtypeStruct.update: unknown fields {sorted(unknown)}")
        fields.update(changes)
        weak_type = fields.pop("weak_type")
        return ShapeDtypeStruct(**fields, weak_type=weak_type)

    @property
    def aval(self) -> ShapedArray:
        """The abstract value, so every transform can trace with this in place of an array."""
        return ShapedArray(self.shape, self.dtype)

    ndim = property(lambda self: self.aval.ndim, doc="The number of dimensions.")
    size = property(lambda self: self.aval.size, doc="The number of elements.")

    def __len__(self) -> int:
        if not self.shape:
            raise ArgumentTypeError("len() of a 0-d ShapeDtypeStruct")
        return self.shape[0]

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, ShapeDtypeStruct) and self.shape == other.shape
                and self.dtype == other.dtype and self.weak_type == other.weak_type)

    def __hash__(self) -> int:
        return hash((self.shape, self.dtype, self.weak_type))

    def __repr__(self) -> str:
        weak = ", weak_type=True" if self.weak_type else ""
        return f"ShapeDtypeStruct(shape={self.shape}, dtype={self.dtype.name}{weak})"


def _flat_avals(tree: Any, weak: bool = False) -> tuple[list[ShapedArray], Any]:
    """The avals of the leaves; Python numbers of their default dtype, or with `weak`
    weakly typed (as a transform's arguments are)."""
    leaves, treedef = tree_util.tree_flatten(tree)
    if weak:
        return [abstractify(x) for x in leaves], treedef
    return [get_aval(asarray_like(x)[0] if type(x) in (bool, int, float, complex) else x)
            for x in leaves], treedef


def _trace(fun: Callable[..., Any], args: tuple, kwargs: dict, what: str,
           weak: bool = False) -> tuple[Any, Any, Any]:
    """`fun(*args, **kwargs)` staged on the avals of the arguments (see `_flat_avals`):
    (ClosedJaxpr, input structure, output structure)."""
    avals, in_tree = _flat_avals((args, kwargs), weak)
    store: dict[str, Any] = {}

    def flat(*leaves: Any) -> list[Any]:
        a, k = tree_util.tree_unflatten(in_tree, leaves)
        outs, store["tree"] = tree_util.tree_flatten(fun(*a, **k))
        return [asarray_like(x)[0] if type(x) in (bool, int, float, complex) else x
                for x in outs]

    closed = trace_to_jaxpr(flat, avals, transform=what)
    return closed, in_tree, store["tree"]


def eval_shape(fun: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """The shapes and dtypes of `fun(*args, **kwargs)` as a pytree of `ShapeDtypeStruct`,
    found by tracing, without computing anything. Arguments may be arrays or
    `ShapeDtypeStruct`s.

    >>> import fnad.numpy as fnp
    >>> eval_shape(lambda x: fnp.sum(x, axis=0), ShapeDtypeStruct((5, 3), np.float32))
    ShapeDtypeStruct(shape=(3,), dtype=float32)
    """
    closed, _, out_tree = _trace(fun, args, kwargs, "eval_shape", weak=True)
    return tree_util.tree_unflatten(out_tree, [_struct(a) for a in closed.out_avals])


def _struct(aval: ShapedArray) -> ShapeDtypeStruct:
    """The struct of a result: a weakly typed one in its kind's default dtype, as it leaves
    a transform (a Python number's result is float32 with weak_type=True, as JAX's)."""
    dtype = weak_default(aval.dtype) if aval.weak_type else aval.dtype
    return ShapeDtypeStruct(aval.shape, dtype, weak_type=aval.weak_type)


# ---------------------------------------------------------------------------- derivatives


def jacobian(fun: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False,
             holomorphic: bool = False, allow_int: bool = False) -> Callable[..., Any]:
    """The Jacobian of `fun` by reverse mode (JAX's `jacobian` is `jacrev`): output
    dimensions first, then the argument's. With `has_aux`, `fun` returns `(out, aux)` and
    the result is `(jacobian, aux)`; with `holomorphic=True`, the complex Jacobian of a
    complex function of complex inputs.

    >>> import fnad.numpy as fnp
    >>> jacobian(lambda x: x ** 2)(np.array([1.0, 3.0]))
    array([[2., 0.],
           [0., 6.]])
    """
    return jacrev(fun, argnums, has_aux=has_aux, holomorphic=holomorphic, allow_int=allow_int)


def linear_transpose(fun: Callable[..., Any], *primals: Any, reduce_axes: Sequence[Any] = ()
                     ) -> Callable[[Any], tuple[Any, ...]]:
    """The transpose of the linear function `fun`, at arguments shaped like `primals`
    (arrays or `ShapeDtypeStruct`s; only their shapes and dtypes are used): a function
    mapping an output cotangent to the tuple of input cotangents. `fun` is traced and
    transposed equation by equation, so a nonlinear `fun` is an error, not a silent
    derivative.

    >>> import fnad.numpy as fnp
    >>> t = linear_transpose(lambda x: fnp.cumsum(x), ShapeDtypeStruct((3,), np.float64))
    >>> t(np.array([1.0, 0.0, 0.0]))
    (array([1., 0., 0.]),)
    """
    if reduce_axes:
        raise TransformError("linear_transpose: reduce_axes (named-axis reductions) has no "
                             "meaning on one process; leave it empty.")
    closed, in_tree, out_tree = _trace(fun, primals, {}, "linear_transpose")
    for a in closed.in_avals:
        if a.dtype.kind not in "fc":
            raise DTypeError(f"linear_transpose: the arguments must be float or complex, got "
                             f"{a.dtype}; a linear function of integers has no transpose.")

    def transposed(out_cotangent: Any) -> tuple[Any, ...]:
        cts, ct_tree = tree_util.tree_flatten(out_cotangent)
        if ct_tree != out_tree:
            raise TransformError(f"linear_transpose: the cotangent has structure {ct_tree}, "
                                 f"the output of the function {out_tree}.")
        cts = [asarray_like(c)[0] if type(c) in (bool, int, float, complex) else c for c in cts]
        for c, a in zip(cts, closed.out_avals):
            if get_aval(c) != a:
                raise ShapeError(f"linear_transpose: a cotangent of {get_aval(c)} for an output "
                                 f"of {a}; give cotangents with the outputs' shapes and dtypes.")
        args = [UndefinedPrimal(a) for a in closed.in_avals]
        try:
            grads = backward_pass(closed.jaxpr, closed.consts, args, cts)
        except Exception as e:  # a primitive without a transpose rule, or a nonlinear use
            if "transpose" not in str(e) and "linear" not in str(e):
                raise
            raise TransformError(f"linear_transpose: the function is not linear in its "
                                 f"arguments ({e})") from e
        grads = [instantiate(g) if type(g) is Zero else g for g in grads]
        return tuple(tree_util.tree_unflatten(in_tree, grads)[0])

    return transposed


def closure_convert(fun: Callable[..., Any], *example_args: Any
                    ) -> tuple[Callable[..., Any], list[Any]]:
    """`(converted, consts)`: `converted(*args, *consts)` computes `fun(*args)`, with the
    float values of enclosing transforms that `fun` closes over (tracers: what a gradient
    must reach) passed explicitly, as JAX's; concrete arrays stay inside. `custom_vjp` and
    `custom_jvp` need this for rules whose function closes over values being
    differentiated.

    >>> import fnad, fnad.numpy as fnp
    >>> w = np.array([2.0, 3.0])
    >>> def loss(s):
    ...     f, consts = closure_convert(lambda x: x * s * w, np.ones(2))
    ...     return fnp.sum(f(np.ones(2), *consts)), len(consts)  # s is hoisted, w is not
    >>> fnad.grad(loss, has_aux=True)(1.0)
    (array(5., dtype=float32), 1)
    """
    closed, in_tree, out_tree = _trace(fun, example_args, {}, "closure_convert")
    consts = list(closed.consts)
    hoist = [i for i, c in enumerate(consts)
             if isinstance(c, Tracer) and get_aval(c).dtype.kind in "fc"]
    n_args = len(example_args)

    def converted(*args: Any) -> Any:
        if len(args) != n_args + len(hoist):
            raise TransformError(f"closure_convert: the converted function takes the "
                                 f"{n_args} arguments and then the {len(hoist)} hoisted "
                                 f"constants, got {len(args)} values.")
        leaves, tree = tree_util.tree_flatten((tuple(args[:n_args]), {}))
        if tree != in_tree:
            raise TransformError(f"closure_convert: arguments of structure {tree}, traced "
                                 f"with {in_tree}.")
        # Python numbers take the dtype they were traced with (weakly typed, as JAX's)
        avals = closed.jaxpr.invars
        leaves = [np.asarray(x, avals[i].aval.dtype) if type(x) in (bool, int, float, complex)
                  else x for i, x in enumerate(leaves)]
        vals = list(consts)
        for i, c in zip(hoist, args[n_args:]):
            # a Python number (a weak value a custom rule hands back) takes the const's dtype
            vals[i] = np.asarray(c, get_aval(consts[i]).dtype) if type(c) in (int, float) else c
        return tree_util.tree_unflatten(out_tree, eval_jaxpr(closed.jaxpr, vals, *leaves))

    return converted, [consts[i] for i in hoist]


class _GradRule:
    """`custom_gradient`'s residual: the user's gradient function, traced to a jaxpr whose
    constants (the values it closes over) are the pytree's leaves."""

    def __init__(self, consts: list[Any], static: tuple) -> None:
        self.consts, self.static = consts, static


tree_util.register_pytree_node(_GradRule, lambda r: (r.consts, r.static),
                               lambda static, consts: _GradRule(list(consts), static))


class _Static:
    """Held by identity in a treedef (a jaxpr and structures that need not be hashable)."""

    def __init__(self, *items: Any) -> None:
        self.items = items


def custom_gradient(fun: Callable[..., Any]) -> Callable[..., Any]:
    """A function with its gradient given inline: `fun(*args)` returns
    `(output, vjp)`, with `vjp(cotangent)` giving the cotangents of the arguments (a tuple,
    one per positional argument; a single value for a single argument).

    >>> import fnad, fnad.numpy as fnp
    >>> @custom_gradient
    ... def clipped_square(x):
    ...     return x ** 2, lambda g: (fnp.clip(g * 2 * x, -1.0, 1.0),)
    >>> float(fnad.grad(clipped_square)(3.0))
    1.0
    """

    def primal(*args: Any) -> Any:
        return fun(*args)[0]

    functools.update_wrapper(primal, fun)
    wrapped = custom_vjp(primal)

    def fwd(*args: Any) -> tuple[Any, _GradRule]:
        out, rule = fun(*args)
        avals, out_tree = _flat_avals(out)
        store: dict[str, Any] = {}

        def flat_rule(*ct_leaves: Any) -> list[Any]:
            cts = rule(tree_util.tree_unflatten(out_tree, ct_leaves))
            leaves, store["tree"] = tree_util.tree_flatten(cts)
            return leaves

        closed = trace_to_jaxpr(flat_rule, avals, transform="custom_gradient")
        return out, _GradRule(list(closed.consts),
                              (_Static(closed.jaxpr, store["tree"], out_tree),))

    def bwd(res: _GradRule, ct: Any) -> tuple[Any, ...]:
        jaxpr, ct_tree, out_tree = res.static[0].items
        leaves, tree = tree_util.tree_flatten(ct)
        if tree != out_tree:
            raise TransformError(f"custom_gradient: cotangent of structure {tree} for an "
                                 f"output of structure {out_tree}")
        cts = tree_util.tree_unflatten(ct_tree, eval_jaxpr(jaxpr, res.consts, *leaves))
        return cts if isinstance(cts, tuple) else (cts,)

    wrapped.defvjp(fwd, bwd)
    return wrapped


# ---------------------------------------------------------------------------- evaluation


class _CompileTimeEvalTrace(EvalTrace):
    """Runs primitives on concrete values now, even under `jit`; an operation on a traced
    value is left to the transforms that were in effect (`outer`), as in JAX."""

    transform = "ensure_compile_time_eval"

    def __init__(self, outer: Any):
        super().__init__(None)
        self.outer = outer

    def process_primitive(self, prim: Any, args: tuple, params: dict) -> Any:
        if any(isinstance(a, Tracer) for a in args):
            return self.outer.process_primitive(prim, args, params)
        return super().process_primitive(prim, args, params)


@contextlib.contextmanager
def ensure_compile_time_eval() -> Iterator[None]:
    """Inside this block, operations on concrete values run eagerly, even while `jit`
    traces: results are concrete arrays (usable in Python control flow) instead of staged
    values. Operations on traced values are traced as outside the block.

    >>> import fnad, fnad.numpy as fnp
    >>> @fnad.jit
    ... def f(x):
    ...     with ensure_compile_time_eval():
    ...         n = int(fnp.sum(fnp.arange(4)))  # concrete: 6
    ...     return x * n
    >>> float(f(np.float32(2.0)))
    12.0
    """
    with _CompileTimeEvalTrace(state.trace):
        yield


def block_until_ready(x: Any) -> Any:
    """Wait until every array of the pytree `x` is computed, and return `x`. NumPy results
    are ready when returned; on a GPU, this waits for the queued kernels (for timing).

    >>> block_until_ready({"w": np.ones(2)})
    {'w': array([1., 1.])}
    """
    for leaf in tree_util.tree_leaves(x):
        if isinstance(leaf, Tracer):
            raise ConcretizationError("block_until_ready: got a traced value; call it on "
                                      "the results of a transformed function, outside it.")
        if is_gpu_array(leaf):
            with leaf.device:
                import cupy  # only reached with a CuPy array in hand
                cupy.cuda.get_current_stream().synchronize()
    return x


def named_call(fun: Callable[..., Any], *, name: str | None = None) -> Callable[..., Any]:
    """`fun` under a name, for profiles. fnad's jaxprs and kernels carry no names, so this
    returns a function that calls `fun` (JAX programs using it run unchanged).

    >>> named_call(abs, name="magnitude")(-2)
    2
    """

    @functools.wraps(fun)
    def named(*args: Any, **kwargs: Any) -> Any:
        return fun(*args, **kwargs)

    if name is not None:
        named.__name__ = name
    return named


@contextlib.contextmanager
def named_scope(name: str) -> Iterator[None]:
    """A name for the operations of the block, for profiles; in fnad it checks `name` and
    does nothing else (jaxprs carry no scope names).

    >>> with named_scope("encoder"):
    ...     pass
    """
    if not isinstance(name, str):
        raise TransformError(f"named_scope: the name must be a string, got {name!r}")
    yield


# ---------------------------------------------------------------------------- callbacks


def pure_callback(callback: Callable[..., Any], result_shape_dtypes: Any, *args: Any,
                  sharding: Any = None, vmap_method: str | None = None, **kwargs: Any) -> Any:
    """Call the Python function `callback` on NumPy arrays and return its results, which
    must match `result_shape_dtypes` (a pytree of `ShapeDtypeStruct`s or arrays) in shape
    (dtypes of the same kind are converted). It works eagerly and under every transform:
    under `jit` the callback runs on the host each time the compiled program runs.

    The callback must be pure, as in JAX: fnad may call it again, or not at all when its
    results are unused (or once at compile time when its operands are constants). It is
    not differentiable (wrap it in `custom_jvp`/`custom_vjp`); under `vmap`, `vmap_method`
    says how: "sequential" (a loop of calls), "expand_dims" or "broadcast_all" (one call
    with a leading batch axis, size 1 or full on the unbatched operands), or
    "legacy_vectorized"; None raises there. `sharding` is accepted (one process).

    >>> pure_callback(lambda x: np.sort(x), ShapeDtypeStruct((3,), np.float64),
    ...               np.array([3.0, 1.0, 2.0]))
    array([1., 2., 3.])
    """
    avals, out_tree = _flat_avals(result_shape_dtypes)
    return bind_pure_callback(callback, avals, out_tree, args, kwargs, vmap_method)
