"""Batching: every value carries a batch axis (or none), and `batch` rules keep it.

Rules move the batch axis as little as possible and take unbatched operands as they are
whenever the primitive allows it, so `vmap` adds no needless broadcasts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fnad.core.errors import TransformError
from fnad.core.ir import ClosedJaxpr, ShapedArray, eval_jaxpr, get_aval
from fnad.core.trace import Trace, Tracer, concretization_error, escaped_error, state
from fnad.interpreters import ad_util
from fnad.interpreters.staging import trace_to_jaxpr


class BatchTracer(Tracer):
    __slots__ = ("val", "bdim")

    def __init__(self, trace: Trace, val: Any, bdim: int):
        self._trace = trace
        self.val = val
        self.bdim = bdim

    @property
    def aval(self) -> ShapedArray:
        aval = get_aval(self.val)
        shape = list(aval.shape)
        del shape[self.bdim]
        return ShapedArray(shape, aval.dtype, aval.weak_type)

    def concrete(self) -> Any:
        raise concretization_error(self)

    def weak_constant(self, x: Any) -> Any:
        """An unbatched weak constant: the one of the trace beneath, whose values ours wrap."""
        return self.val.weak_constant(x) if isinstance(self.val, Tracer) else x


class BatchAxis(int):
    """A vmap's axis size that carries the axis name (None when unnamed). Batch rules get
    it as their `axis_size`, so the sub-jaxprs they batch (`batch_jaxpr`) name the axis
    the same way and collectives inside still see it."""

    name: Any

    def __new__(cls, size: int, name: Any = None) -> BatchAxis:
        self = super().__new__(cls, size)
        self.name = name
        return self


class BatchTrace(Trace):
    transform = "vmap"

    def __init__(self, parent: Trace | None, axis_size: int, axis_name: Any = None):
        super().__init__(parent)
        self.axis_size = BatchAxis(axis_size, axis_name)
        self.axis_name = axis_name

    def unpack(self, x: Any) -> tuple[Any, int | None]:
        if isinstance(x, BatchTracer) and x._trace is self:
            return x.val, x.bdim
        if isinstance(x, Tracer) and x._trace.finished:
            raise escaped_error(x)
        return x, None

    def pack(self, val: Any, bdim: int | None) -> Any:
        return val if bdim is None else BatchTracer(self, val, bdim)

    def process_primitive(self, prim: Any, args: tuple, params: dict) -> Any:
        vals, dims = [], []
        for a in args:
            v, d = self.unpack(a)
            vals.append(v)
            dims.append(d)
        saved = state.trace
        state.trace = self.parent
        try:
            if (self.axis_name is not None and prim.batch_collective is not None
                    and self.axis_name in params["axis_name"]):
                # A collective over this trace's named axis (fnad/lax/collectives.py).
                out, out_dim = prim.batch_collective(self, vals, dims, **params)
            elif all(d is None for d in dims):
                return prim.bind(*vals, **params)
            elif prim.batch is None:
                raise prim.missing_rule("batching (vmap)")
            else:
                out, out_dim = prim.batch(self.axis_size, vals, dims, **params)
        finally:
            state.trace = saved
        if prim.multiple_results:
            return [self.pack(v, d) for v, d in zip(out, out_dim)]
        return self.pack(out, out_dim)


def named_axes(trace: Trace | None) -> tuple[tuple[Any, int], ...]:
    """(name, size) of every named vmap in effect, innermost first."""
    out = []
    while trace is not None:
        if isinstance(trace, BatchTrace) and trace.axis_name is not None:
            out.append((trace.axis_name, trace.axis_size))
        trace = trace.parent
    return tuple(out)


def moveaxis(x: Any, src: int | None, dst: int | None, axis_size: int) -> Any:
    """Move the batch axis from `src` to `dst`; an unbatched value is broadcast when
    `dst` is not None."""
    if dst is None:
        if src is not None:
            raise TransformError("a batched value cannot be returned unbatched (out_axes=None)")
        return x
    if src is None:
        shape = list(get_aval(x).shape)
        shape.insert(dst, axis_size)
        dims = tuple(i for i in range(len(shape)) if i != dst)
        return ad_util.broadcast_in_dim(x, shape, dims)
    if src == dst:
        return x
    perm = list(range(get_aval(x).ndim))
    perm.insert(dst, perm.pop(src))
    return ad_util.transpose(x, perm)


def vmap_flat(f: Callable[..., Sequence[Any]], axis_size: int, args: Sequence[Any],
              in_dims: Sequence[int | None], out_dims: Sequence[int | None] | None = None,
              axis_name: Any = None) -> tuple[list[Any], list[int | None]]:
    """Run `f` batched. With `out_dims` given, outputs are moved there and those are
    returned; otherwise outputs keep the batch axis the rules chose."""
    trace = BatchTrace(state.trace, axis_size, axis_name)
    ins = [trace.pack(a, d) for a, d in zip(args, in_dims)]
    try:
        with trace:
            outs = f(*ins)
        pairs = [trace.unpack(o) for o in outs]
    finally:
        trace.finish()
    if out_dims is None:
        return [v for v, _ in pairs], [d for _, d in pairs]
    return ([moveaxis(v, d, od, axis_size) for (v, d), od in zip(pairs, out_dims)],
            list(out_dims))


def batch_jaxpr(closed: ClosedJaxpr, axis_size: int, in_dims: Sequence[int | None],
                force_batched: bool | Sequence[bool] = False
                ) -> tuple[ClosedJaxpr, list[bool]]:
    """The batched jaxpr: inputs batched at `in_dims`, every batched output at axis 0.

    Returns it with which outputs are batched; `force_batched` outputs always are. A
    `BatchAxis` size gives the axis its name inside.
    """
    axis_name = getattr(axis_size, "name", None)
    n_out = len(closed.out_avals)
    force = [force_batched] * n_out if isinstance(force_batched, bool) else list(force_batched)
    out_batched: list[bool] = []

    def f(*args: Any) -> list[Any]:
        outs, dims = vmap_flat(lambda *xs: eval_jaxpr(closed.jaxpr, closed.consts, *xs),
                               axis_size, args, in_dims, axis_name=axis_name)
        out_batched[:] = [d is not None or fb for d, fb in zip(dims, force)]
        return [moveaxis(o, d, 0 if b else None, axis_size)
                for o, d, b in zip(outs, dims, out_batched)]

    in_avals = []
    for aval, d in zip(closed.in_avals, in_dims):
        shape = list(aval.shape)
        if d is not None:
            shape.insert(d, axis_size)
        in_avals.append(aval.update(shape=shape))
    return trace_to_jaxpr(f, in_avals), out_batched
