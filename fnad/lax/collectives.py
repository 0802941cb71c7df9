"""Collectives over named axes: `psum`, `pmean`, `pmax`, `pmin`, `all_gather`, `axis_index`.

A name belongs either to a `vmap(f, axis_name=...)`, whose BatchTrace reduces over its batch
axis with ordinary lax operations (each primitive's `batch_collective` rule), or to a
`fnad.pmap`, which binds it to a communicator (`bind_axis`) that the eager impls call (MPI,
NCCL). Under `jit` they stage like any primitive and the compiled code calls the same impls.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

import numpy as np

from fnad import tree as tree_util
from fnad.core.errors import (
    ArgumentError,
    FnadError,
    ShapeError,
    check_one_device,
    check_unsupported,
)
from fnad.core.ir import ShapedArray, get_aval
from fnad.core.primitive import Primitive, Zero
from fnad.core.trace import state
from fnad.interpreters.transpose import is_undefined
from fnad.lax._rules import FLOAT, NUMBER, check_dtypes, deflinear
from fnad.lax.elementwise import (
    asarray_like,
    broadcasted_iota,
    convert_element_type,
    div,
    eq,
    full_like,
    iota,
    mul,
    select_n,
)
from fnad.lax.reduction import reduce_max, reduce_min, reduce_sum
from fnad.lax.structural import reshape


class Communicator(Protocol):
    """What a pmap axis needs from a communication layer (see `fnad.distributed`)."""

    rank: int
    size: int

    def allreduce(self, xs: Sequence[Any], op: str) -> list[Any]:
        """Elementwise `op` ('sum', 'max' or 'min') of each array over all participants."""

    def allgather(self, x: Any) -> Any:
        """Every participant's `x`, stacked along a new leading axis."""


_bound: contextvars.ContextVar[dict[Any, Communicator]] = contextvars.ContextVar(
    "fnad_axis_env", default={})  # noqa: B039  (never mutated: bind_axis copies it)


@contextlib.contextmanager
def bind_axis(name: Any, comm: Communicator) -> Iterator[None]:
    """Make `name` a process-level axis inside this block: collectives over it call `comm`."""
    token = _bound.set({**_bound.get(), name: comm})
    try:
        yield
    finally:
        _bound.reset(token)


def _comm(name: Any) -> Communicator:
    comm = _bound.get().get(name)
    if comm is None:
        raise FnadError(
            f"unbound axis name {name!r}: a collective over it must run inside "
            f"vmap(f, axis_name={name!r}) or fnad.pmap(f, axis_name={name!r}), while it "
            "runs: write pmap(jit(f)), not jit(pmap(f))")
    return comm


def axis_size(axis_name: Any) -> int:
    """The size of a named axis: the innermost `vmap` of that name, else the pmap's
    process count. Like `psum(1, axis_name)`, without communicating."""
    from fnad.interpreters.batching import BatchTrace
    t = state.trace
    while t is not None:
        if isinstance(t, BatchTrace) and t.axis_name == axis_name:
            return int(t.axis_size)
        t = t.parent
    return _comm(axis_name).size


def _names(axis_name: Any) -> tuple[Any, ...]:
    return tuple(axis_name) if isinstance(axis_name, (tuple, list)) else (axis_name,)


def _single(axis_name: Any, what: str) -> tuple[Any]:
    names = _names(axis_name)
    if len(names) != 1:
        raise FnadError(f"{what} takes a single axis name, got {axis_name!r}")
    return names  # type: ignore[return-value]


# ------------------------------------------------------------------ psum, pmean, pmax, pmin

def _allreduce_impl(op: str, mean: bool = False) -> Callable[..., list[Any]]:
    def impl(*xs: Any, axis_name: tuple[Any, ...]) -> list[Any]:
        outs = list(xs)
        for name in axis_name:
            comm = _comm(name)
            outs = comm.allreduce(outs, op)
            if mean:
                outs = [(o / comm.size).astype(o.dtype, copy=False) for o in outs]
        return outs

    return impl


def _allreducer(name: str, op: str, kinds: str, local: Callable[[Any, int], Any],
                unbatched: Callable[[Any, int], Any]) -> Primitive:
    """A variadic all-reduce primitive: one equation (and one bucketed message) per call.

    `local(v, d)` reduces a value batched at `d` over the vmapped axis; `unbatched(v, n)`
    is the result for a value equal on all `n` members of it.
    """
    prim = Primitive(name, multiple_results=True)
    prim.effectful = True  # never constant-folded at compile time, nor dropped on one rank
    impl = _allreduce_impl(op, mean=name == "pmean")
    prim.def_impl(impl)
    prim.def_impl(impl, "cupy")

    @prim.def_abstract_eval
    def abstract_eval(*avals: ShapedArray, axis_name: tuple[Any, ...]) -> list[ShapedArray]:
        for a in avals:
            check_dtypes([a], kinds)
        return list(avals)

    def batch_collective(trace: Any, vals: Sequence[Any], dims: Sequence[int | None], *,
                         axis_name: tuple[Any, ...]) -> tuple[list[Any], list[None]]:
        prim.abstract_eval(*(get_aval(v) for v in vals), axis_name=axis_name)  # dtype errors
        outs = [unbatched(v, trace.axis_size) if d is None else local(v, d)
                for v, d in zip(vals, dims)]
        rest = tuple(n for n in axis_name if n != trace.axis_name)
        if rest:
            outs = prim.bind(*outs, axis_name=rest)
        return outs, [None] * len(outs)

    prim.batch_collective = batch_collective
    # Over the name of another (outer) axis the values pass through, batch axes in place.
    prim.def_batch(lambda axis_size, vals, dims, **params: (prim.bind(*vals, **params),
                                                            list(dims)))
    return prim


psum_p = _allreducer("psum", "sum", NUMBER, lambda v, d: reduce_sum(v, (d,)),
                     lambda v, n: mul(v, np.asarray(n, get_aval(v).dtype)))
pmean_p = _allreducer("pmean", "sum", FLOAT,
                      lambda v, d: div(reduce_sum(v, (d,)),
                                       np.asarray(get_aval(v).shape[d], get_aval(v).dtype)),
                      lambda v, n: v)
pmax_p = _allreducer("pmax", "max", NUMBER, lambda v, d: reduce_max(v, (d,)), lambda v, n: v)
pmin_p = _allreducer("pmin", "min", NUMBER, lambda v, d: reduce_min(v, (d,)), lambda v, n: v)


def _self_transpose(prim: Primitive) -> Callable[..., list[Any]]:
    """y_i = sum_j x_j on every member i, so dx_j = sum_i dy_i: the transpose of psum is psum
    of the cotangents (and of pmean, pmean)."""

    def transpose(cts: Sequence[Any], *xs: Any, axis_name: tuple[Any, ...]) -> list[Any]:
        live = [i for i, (ct, x) in enumerate(zip(cts, xs))
                if is_undefined(x) and type(ct) is not Zero]
        res: list[Any] = [None] * len(xs)
        if live:
            for i, o in zip(live, prim.bind(*(cts[i] for i in live), axis_name=axis_name)):
                res[i] = o
        return res

    return transpose


deflinear(psum_p, _self_transpose(psum_p))
deflinear(pmean_p, _self_transpose(pmean_p))


def _extremum_jvp(prim: Primitive) -> Callable[..., Any]:
    """The tangent of the member(s) holding the extremum, averaged over ties (a select)."""

    def jvp(primals: Sequence[Any], tangents: Sequence[Any], *, axis_name: tuple[Any, ...]):
        ans = prim.bind(*primals, axis_name=axis_name)
        live = [i for i, t in enumerate(tangents) if type(t) is not Zero]
        out_t: list[Any] = [Zero(get_aval(a)) for a in ans]
        if not live:
            return ans, out_t
        hits = [eq(primals[i], ans[i]) for i in live]
        counts = psum_p.bind(*(convert_element_type(h, get_aval(ans[i]).dtype)
                               for h, i in zip(hits, live)), axis_name=axis_name)
        picked = psum_p.bind(*(select_n(h, full_like(tangents[i], 0), tangents[i])
                               for h, i in zip(hits, live)), axis_name=axis_name)
        for i, p, c in zip(live, picked, counts):
            out_t[i] = div(p, c)
        return ans, out_t

    return jvp


pmax_p.def_jvp(_extremum_jvp(pmax_p))
pmin_p.def_jvp(_extremum_jvp(pmin_p))


def _no_groups(where: str, axis_index_groups: Any) -> None:
    check_unsupported(where, "fnad's collectives run over every member of the named axis; "
                      "split the axis into two named axes instead",
                      axis_index_groups=axis_index_groups)


def _tree_collective(prim: Primitive, doc: str) -> Callable[..., Any]:
    def wrapper(x: Any, axis_name: Any, *, axis_index_groups: Any = None) -> Any:
        if axis_index_groups is not None:
            _no_groups(prim.name, axis_index_groups)
        leaves, treedef = tree_util.tree_flatten(x)
        leaves = [asarray_like(v)[0] for v in leaves]
        outs = prim.bind(*leaves, axis_name=_names(axis_name)) if leaves else []
        return tree_util.tree_unflatten(treedef, outs)

    wrapper.__name__ = wrapper.__qualname__ = prim.name
    wrapper.__doc__ = doc
    return wrapper


psum = _tree_collective(psum_p, """Sum of `x` (a pytree of arrays) over the named axis or
    axes, the same result on every member; the leaves travel as one message.

    >>> import numpy as np, fnad
    >>> fnad.vmap(lambda x: psum(x, "i"), axis_name="i")(np.arange(3.0, dtype=np.float32))
    array([3., 3., 3.], dtype=float32)
    """)
pmean = _tree_collective(pmean_p, """Mean of `x` (a pytree) over the named axis or axes:
    averages gradients in data-parallel training.

    >>> import numpy as np, fnad
    >>> fnad.vmap(lambda x: pmean(x, "i"), axis_name="i")(np.arange(3.0, dtype=np.float32))
    array([1., 1., 1.], dtype=float32)
    """)
pmax = _tree_collective(pmax_p, """Elementwise maximum of `x` (a pytree) over named axes.""")
pmin = _tree_collective(pmin_p, """Elementwise minimum of `x` (a pytree) over named axes.""")


# ------------------------------------------------------------------ all_gather

all_gather_p = Primitive("all_gather")
all_gather_p.effectful = True


def _gathered_shape(shape: tuple[int, ...], axis: int, tiled: bool, n: int) -> tuple[int, ...]:
    if tiled:
        return (*shape[:axis], shape[axis] * n, *shape[axis + 1:])
    return (*shape[:axis], n, *shape[axis:])


def _all_gather_impl(x: Any, *, axis_name: tuple[Any], axis: int, tiled: bool,
                     axis_size: int) -> Any:
    comm = _comm(axis_name[0])
    if comm.size != axis_size:
        raise FnadError(f"all_gather was traced for an axis {axis_name[0]!r} of size "
                        f"{axis_size}, but it has {comm.size} members here")
    g = comm.allgather(x)
    g = g.transpose((*range(1, axis + 1), 0, *range(axis + 1, g.ndim)))
    return g.reshape(_gathered_shape(x.shape, axis, tiled, axis_size)) if tiled else g


all_gather_p.def_impl(_all_gather_impl)
all_gather_p.def_impl(_all_gather_impl, "cupy")


@all_gather_p.def_abstract_eval
def _all_gather_abstract_eval(x: ShapedArray, *, axis_name: tuple[Any], axis: int,
                              tiled: bool, axis_size: int) -> ShapedArray:
    if tiled and not x.ndim:
        raise ShapeError("a tiled all_gather needs an operand of rank >= 1")
    return ShapedArray(_gathered_shape(x.shape, axis, tiled, axis_size), x.dtype)


def _all_gather_batch_collective(trace: Any, vals: Sequence[Any], dims: Sequence[int | None],
                                 *, axis_name: tuple[Any], axis: int, tiled: bool,
                                 axis_size: int) -> tuple[Any, None]:
    from fnad.interpreters.batching import moveaxis
    (v,), (d,) = vals, dims
    out = moveaxis(v, d, axis, axis_size)
    if tiled:
        shape = get_aval(out).shape
        out = reshape(out, (*shape[:axis], shape[axis] * shape[axis + 1], *shape[axis + 2:]))
    return out, None


def _all_gather_batch(batch_size: int, vals: Sequence[Any], dims: Sequence[int | None],
                      *, axis: int, **params: Any) -> tuple[Any, int]:
    from fnad.interpreters.batching import moveaxis
    v = moveaxis(vals[0], dims[0], 0, batch_size)
    return all_gather_p.bind(v, axis=axis + 1, **params), 0


def _all_gather_transpose(ct: Any, x: Any, *, axis_name: tuple[Any], axis: int, tiled: bool,
                          axis_size: int) -> list[Any]:
    """y_i = stack_j x_j on every member i, so dx_j = sum_i dy_i[j]: sum the cotangents
    over the axis and keep this member's slot."""
    (s,) = psum_p.bind(ct, axis_name=axis_name)
    if tiled:
        shape = get_aval(s).shape
        s = reshape(s, (*shape[:axis], axis_size, shape[axis] // axis_size, *shape[axis + 1:]))
    mine = eq(broadcasted_iota(np.int32, get_aval(s).shape, axis),
              axis_index_p.bind(axis_name=axis_name))
    return [reduce_sum(select_n(mine, full_like(s, 0), s), (axis,))]


all_gather_p.batch_collective = _all_gather_batch_collective
all_gather_p.def_batch(_all_gather_batch)
deflinear(all_gather_p, _all_gather_transpose)


def all_gather(x: Any, axis_name: Any, *, axis_index_groups: Any = None, axis: int = 0,
               tiled: bool = False, to: str = "varying") -> Any:
    """Every member's `x` (a pytree), stacked along a new `axis` (concatenated along `axis`
    when `tiled`), the same result on every member. `to` is the result's manual-axis type
    in JAX's shard_map typing ('varying', 'reduced' or 'invarying'): the values are the
    same.

    >>> import numpy as np, fnad
    >>> fnad.vmap(lambda x: all_gather(x, "i"), axis_name="i")(np.arange(2.0))[0]
    array([0., 1.])
    """
    if axis_index_groups is not None:
        _no_groups("all_gather", axis_index_groups)
    if to not in ("varying", "reduced", "invarying"):
        raise ArgumentError(f"all_gather: to must be 'varying', 'reduced' or 'invarying', "
                            f"got {to!r}")
    names = _single(axis_name, "all_gather")
    n = axis_size(names[0])

    def gather(v: Any) -> Any:
        (v,) = asarray_like(v)
        nd = get_aval(v).ndim + (not tiled)
        if not -nd <= axis < nd:
            raise ShapeError(f"all_gather: axis {axis} is out of range for an operand of "
                             f"shape {get_aval(v).shape}")
        return all_gather_p.bind(v, axis_name=names, axis=axis % nd, tiled=bool(tiled),
                                 axis_size=n)

    return tree_util.tree_map(gather, x)


# ------------------------------------------------------------------ axis_index

axis_index_p = Primitive("axis_index")
axis_index_p.effectful = True


def _axis_index_impl(*, axis_name: tuple[Any]) -> np.ndarray:
    return np.asarray(_comm(axis_name[0]).rank, np.int32)


axis_index_p.def_impl(_axis_index_impl)
axis_index_p.def_abstract_eval(lambda *, axis_name: ShapedArray((), np.dtype(np.int32)))
axis_index_p.batch_collective = (
    lambda trace, vals, dims, *, axis_name: (iota(np.int32, trace.axis_size), 0))


def axis_index(axis_name: Any) -> Any:
    """This member's position (int32) along the named axis: the process rank under pmap.

    >>> import numpy as np, fnad
    >>> fnad.vmap(lambda x: axis_index("i") + x, axis_name="i")(np.zeros(3, np.int32))
    array([0, 1, 2], dtype=int32)
    """
    return axis_index_p.bind(axis_name=_single(axis_name, "axis_index"))


def with_sharding_constraint(x: Any, shardings: Any) -> Any:
    """`x` (a pytree), constrained to the layout `shardings` give (one sharding, or a tree
    of them matching `x`): on fnad's one device per process, `x` itself; a layout over
    several devices raises rather than be silently dropped.

    >>> import numpy as np
    >>> with_sharding_constraint(np.ones(2), None)
    array([1., 1.])
    """
    for s in tree_util.tree_leaves(shardings):  # (a PartitionSpec names a mesh's axes)
        if hasattr(s, "device_set"):
            check_one_device("with_sharding_constraint", shardings=s)
    return x


__all__ = ["all_gather", "axis_index", "axis_size", "pmax", "pmean", "pmin", "psum",
           "with_sharding_constraint"]
