"""Host callbacks: `pure_callback_p` calls a Python function on NumPy arrays from eager code
and from inside staged programs (the jit backends run its impl, as for any primitive with
no kernel rule). `fnad.pure_callback` is the user's entry; the rules follow JAX's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from fnad import tree as tree_util
from fnad.core.errors import DTypeError, ShapeError, TransformError
from fnad.core.ir import ShapedArray, get_aval
from fnad.core.primitive import NotImplementedRuleError, Primitive, Zero
from fnad.device import is_gpu_array
from fnad.interpreters.batching import moveaxis
from fnad.lax.control_flow import scan
from fnad.lax.elementwise import asarray_like

VMAP_METHODS = ("sequential", "sequential_unrolled", "expand_dims", "broadcast_all",
                "legacy_vectorized")


@dataclasses.dataclass(frozen=True, eq=False)
class FlatCallback:
    """The user's callback as a primitive param: called with flat NumPy arrays, it returns
    the flat leaves of its result. Equal (and hashing alike) when it wraps the same function
    object with the same argument and result structures, so the jit's CSE may merge two
    calls of it on the same operands, which a pure function allows."""

    fn: Callable[..., Any]
    in_tree: Any   # the (args, kwargs) structure of the call
    out_tree: Any  # the structure of result_shape_dtypes

    def __eq__(self, other: object) -> bool:
        return (type(other) is FlatCallback and other.fn is self.fn
                and other.in_tree == self.in_tree and other.out_tree == self.out_tree)

    def __hash__(self) -> int:
        return hash((id(self.fn), self.in_tree, self.out_tree))

    def __repr__(self) -> str:
        return getattr(self.fn, "__qualname__", type(self.fn).__qualname__)

    def __call__(self, *flat_args: np.ndarray) -> list[Any]:
        args, kwargs = tree_util.tree_unflatten(self.in_tree, flat_args)
        leaves, tree = tree_util.tree_flatten(self.fn(*args, **kwargs))
        if len(leaves) != self.out_tree.num_leaves:
            raise TransformError(
                f"pure_callback: the callback {self!r} returned {len(leaves)} arrays "
                f"(structure {tree}) where result_shape_dtypes has "
                f"{self.out_tree.num_leaves} ({self.out_tree}); return what it declares")
        return leaves


pure_callback_p = Primitive("pure_callback", multiple_results=True)


def _read_only(x: Any) -> np.ndarray:
    """A host copy the callback may read and keep but not write (JAX hands it immutable
    arrays): the jit reuses its buffers, and the caller's data must not change."""
    x = x.get() if is_gpu_array(x) else np.array(x, copy=True)
    x.flags.writeable = False
    return x


def _result(i: int, value: Any, aval: ShapedArray, callback: FlatCallback) -> np.ndarray:
    """Result `i` checked against its declared aval and made a fresh array of its dtype."""
    value = np.asarray(value)
    if value.shape != aval.shape:
        raise ShapeError(f"pure_callback: the callback {callback!r} returned shape "
                         f"{value.shape} for result {i} where result_shape_dtypes says "
                         f"{aval.shape}")
    if not np.can_cast(value.dtype, aval.dtype, "same_kind"):
        raise DTypeError(f"pure_callback: the callback {callback!r} returned {value.dtype} "
                         f"for result {i} where result_shape_dtypes says {aval.dtype}; "
                         "convert it in the callback")
    return np.array(value, dtype=aval.dtype, copy=True)


def _pure_callback_impl(*args: Any, callback: FlatCallback, result_avals: tuple,
                        vmap_method: str | None) -> list[np.ndarray]:
    leaves = callback(*(_read_only(a) for a in args))
    return [_result(i, v, a, callback) for i, (v, a) in enumerate(zip(leaves, result_avals))]


pure_callback_p.def_impl(_pure_callback_impl)


@pure_callback_p.def_abstract_eval
def _pure_callback_abstract_eval(*avals: ShapedArray, callback: FlatCallback,
                                 result_avals: tuple, vmap_method: str | None
                                 ) -> list[ShapedArray]:
    return list(result_avals)


@pure_callback_p.def_jvp
def _pure_callback_jvp(primals: Sequence[Any], tangents: Sequence[Any], **params: Any
                       ) -> tuple[list[Any], list[Any]]:
    """A callback has no derivative; with only zero tangents (operands not being
    differentiated) it runs as it is, as in JAX."""
    if any(type(t) is not Zero for t in tangents):
        raise TransformError(
            f"pure_callback: the callback {params['callback']!r} cannot be differentiated "
            "(fnad, like JAX, does not look inside Python code). Give it a derivative: wrap "
            "the call in fnad.custom_jvp or fnad.custom_vjp with a rule (which may itself "
            "call pure_callback), or stop_gradient its operands")
    out = pure_callback_p.bind(*primals, **params)
    return out, [Zero(get_aval(o)) for o in out]


@pure_callback_p.def_batch
def _pure_callback_batch(axis_size: int, vals: Sequence[Any], dims: Sequence[int | None], *,
                         callback: FlatCallback, result_avals: tuple, vmap_method: str | None
                         ) -> tuple[list[Any], list[int]]:
    """JAX's vmap methods: a loop of calls (`sequential`), one call on operands with the
    batch axis first, the unbatched ones given a size-1 axis (`expand_dims`) or broadcast
    (`broadcast_all`) or left as they are (`legacy_vectorized`)."""
    params = dict(callback=callback, vmap_method=vmap_method)
    batched = tuple(ShapedArray((int(axis_size), *a.shape), a.dtype) for a in result_avals)
    vals = [moveaxis(v, d, 0, axis_size) if d is not None else v for v, d in zip(vals, dims)]
    if vmap_method == "legacy_vectorized":
        out = pure_callback_p.bind(*vals, result_avals=batched, **params)
    elif vmap_method in ("expand_dims", "broadcast_all"):
        size = axis_size if vmap_method == "broadcast_all" else 1
        vals = [v if d is not None else moveaxis(v, None, 0, size) for v, d in zip(vals, dims)]
        out = pure_callback_p.bind(*vals, result_avals=batched, **params)
    elif vmap_method in ("sequential", "sequential_unrolled"):
        which = [i for i, d in enumerate(dims) if d is not None]

        def one(_: Any, xs: list[Any]) -> tuple[tuple, list[Any]]:
            args = list(vals)
            for i, x in zip(which, xs):
                args[i] = x
            return (), pure_callback_p.bind(*args, result_avals=result_avals, **params)

        out = scan(one, (), [vals[i] for i in which],
                   unroll=vmap_method == "sequential_unrolled")[1]
    else:
        raise NotImplementedRuleError(
            f"pure_callback: vmap of the callback {callback!r} needs a vmap_method, and it "
            f"was {vmap_method!r}. Pass vmap_method= one of {', '.join(VMAP_METHODS)} to "
            "pure_callback: 'sequential' calls it once per batch element; 'expand_dims' and "
            "'broadcast_all' call it once on arrays with a leading batch axis (size 1 or "
            "the batch size for the unbatched ones)")
    return list(out), [0] * len(out)


def bind_pure_callback(callback: Callable[..., Any], result_avals: Sequence[ShapedArray],
                       out_tree: Any, args: tuple, kwargs: dict, vmap_method: str | None
                       ) -> Any:
    """The results of `callback(*args, **kwargs)` through `pure_callback_p`, unflattened
    into `out_tree`."""
    if vmap_method is not None and vmap_method not in VMAP_METHODS:
        raise TransformError(f"pure_callback: unknown vmap_method {vmap_method!r}; use one of "
                             f"{', '.join(VMAP_METHODS)} (or None, for no vmap)")
    leaves, in_tree = tree_util.tree_flatten((args, kwargs))
    # Python numbers as 0-d arrays of the default dtypes, eagerly as under a transform
    leaves = [asarray_like(x)[0] if type(x) in (bool, int, float, complex) else x
              for x in leaves]
    flat = pure_callback_p.bind(
        *leaves, callback=FlatCallback(callback, in_tree, out_tree),
        result_avals=tuple(ShapedArray(a.shape, a.dtype) for a in result_avals),
        vmap_method=vmap_method)
    return tree_util.tree_unflatten(out_tree, flat)


__all__: list[str] = []
