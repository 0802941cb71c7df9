"""The pooling pass of the jit: a max, min or sum over axes that a reshape split off an
operand's axes (`x.reshape(B, C, H // 2, 2, W // 2, 2).max(axis=(3, 5))`) becomes a
window reduction of the operand itself, which loops over the few window offsets with
whole-array operations instead of reducing tiny inner axes.

The derivative of `reduce_max` splits a window's cotangent evenly among tied maxima (as
in JAX); traced, it is a tie mask over the reshaped operand, a count of ties, and a
masked broadcast reshaped back. The pass rewrites that chain too, into a window scatter
with `ties="split"` that computes the same numbers (NaN windows included), so every
value is unchanged: only where it is computed changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fnad.core.ir import ClosedJaxpr, Eqn, Jaxpr, Var
from fnad.lax.conv import (
    reduce_window_max_p,
    reduce_window_min_p,
    reduce_window_sum_p,
    select_scatter_p,
)
from fnad.lax.elementwise import convert_element_type_p, div_p, eq_p, mul_p
from fnad.lax.reduction import reduce_max_p, reduce_min_p, reduce_sum_p
from fnad.lax.structural import broadcast_in_dim_p, reshape_p

MAX_WINDOW = 16  # elements per window: larger windows loop over too many offsets

_WINDOWED = {reduce_max_p: reduce_window_max_p, reduce_min_p: reduce_window_min_p,
             reduce_sum_p: reduce_window_sum_p}
_KIND = {reduce_max_p: "max", reduce_min_p: "min"}


def split_windows(shape: Sequence[int], new_sizes: Sequence[int], axes: Sequence[int]
                  ) -> tuple[int, ...] | None:
    """The window of each axis of `shape` when reshaping it to `new_sizes` splits some axes
    into (outer, inner) pairs and `axes` are exactly the inner factors; None otherwise.

    >>> split_windows((8, 4, 6), (8, 2, 2, 3, 2), (2, 4))
    (1, 2, 2)
    """
    window, i, j = [], 0, 0
    axes = set(axes)
    while j < len(new_sizes):
        if j in axes or i >= len(shape):
            return None
        if j + 1 in axes:
            if new_sizes[j] * new_sizes[j + 1] != shape[i] or new_sizes[j] < 2:
                return None
            window.append(new_sizes[j + 1])
            j += 2
        else:
            if new_sizes[j] != shape[i]:
                return None
            window.append(1)
            j += 1
        i += 1
    if i != len(shape) or not axes or _size(window) > MAX_WINDOW:
        return None
    return tuple(window)


def _size(window: Sequence[int]) -> int:
    out = 1
    for k in window:
        out *= k
    return out


def _window_params(window: tuple[int, ...]) -> dict[str, Any]:
    n = len(window)
    return {"window_dimensions": window, "window_strides": window,
            "padding": ((0, 0),) * n, "base_dilation": (1,) * n, "window_dilation": (1,) * n}


class _Graph:
    """Who makes each variable and who reads it."""

    def __init__(self, eqns: Sequence[Eqn]):
        self.producer: dict[int, Eqn] = {}
        self.users: dict[int, list[Eqn]] = {}
        for e in eqns:
            for a in e.inputs:
                if type(a) is Var:
                    self.users.setdefault(id(a), []).append(e)
            self.producer.update((id(v), e) for v in e.outputs)

    def made_by(self, a: Any, prim: Any) -> Eqn | None:
        e = self.producer.get(id(a)) if type(a) is Var else None
        return e if e is not None and e.prim is prim else None

    def read_by(self, a: Any, prim: Any) -> list[Eqn]:
        return [e for e in self.users.get(id(a), []) if e.prim is prim]


def _is_upsample(e: Eqn, shape: tuple[int, ...], kept: tuple[int, ...]) -> bool:
    return (e.params["shape"] == shape
            and tuple(e.params["broadcast_dimensions"]) == kept)


def _tie_split_scatters(g: _Graph, reduce: Eqn, x: Var, params: dict[str, Any]
                        ) -> dict[int, Eqn]:
    """The equations `n = reshape(broadcast(i / count) * hit)` of reduce_max's transpose,
    keyed by id, each rewritten as `n = window_select_scatter(i, x)`. `hit` must be
    `convert(eq(b, broadcast(c)))` and `count` `reduce_sum(hit)` over the window axes,
    for this reduction's `c = reduce_max(b)`, `b = reshape(x)`."""
    (b,), (c,), axes = reduce.inputs, reduce.outputs, reduce.params["axes"]
    shape = b.aval.shape
    kept = tuple(i for i in range(len(shape)) if i not in axes)
    out: dict[int, Eqn] = {}
    for up in g.read_by(c, broadcast_in_dim_p):
        if not _is_upsample(up, shape, kept):
            continue
        for cmp in g.read_by(up.outputs[0], eq_p):
            if {id(a) for a in cmp.inputs} != {id(b), id(up.outputs[0])}:
                continue
            for conv in g.read_by(cmp.outputs[0], convert_element_type_p):
                hit = conv.outputs[0]
                if hit.aval.dtype != x.aval.dtype:
                    continue
                counts = [e.outputs[0] for e in g.read_by(hit, reduce_sum_p)
                          if tuple(e.params["axes"]) == tuple(axes)]
                for mul in g.read_by(hit, mul_p):
                    other = mul.inputs[1] if mul.inputs[0] is hit else mul.inputs[0]
                    bcast = g.made_by(other, broadcast_in_dim_p)
                    if bcast is None or not _is_upsample(bcast, shape, kept):
                        continue
                    share = g.made_by(bcast.inputs[0], div_p)
                    if share is None or not any(share.inputs[1] is n for n in counts):
                        continue
                    ct = share.inputs[0]
                    if type(ct) is not Var or ct.aval != c.aval:
                        continue
                    for back in g.read_by(mul.outputs[0], reshape_p):
                        eqn = _replacement(select_scatter_p, [ct, x], back,
                                           {"kind": _KIND[reduce.prim], "ties": "split",
                                            **params})
                        if eqn is not None:
                            out[id(back)] = eqn
    return out


def _replacement(prim: Any, inputs: list[Var], old: Eqn, params: dict[str, Any]
                 ) -> Eqn | None:
    """`prim[params] inputs` writing `old`'s output, if it gives exactly that aval (shape,
    dtype and weak type); else None."""
    try:
        aval = prim.abstract_eval(*(v.aval for v in inputs), **params)
    except Exception:  # e.g. a dtype the window primitive does not take: leave it
        return None
    if aval != old.outputs[0].aval:
        return None
    return Eqn(prim, inputs, old.outputs, params, old.source_info)


def pool_windows(closed: ClosedJaxpr) -> ClosedJaxpr:
    """Rewrite reductions over reshape-split window axes (and reduce_max/min's tie-split
    backward) into window reductions (and window scatters); the dead tie masks are left
    for DCE."""
    eqns = closed.jaxpr.eqns
    g = _Graph(eqns)
    swap: dict[int, Eqn] = {}
    for e in eqns:
        if e.prim not in _WINDOWED or id(e) in swap:
            continue
        split = g.made_by(e.inputs[0], reshape_p)
        if split is None or type(split.inputs[0]) is not Var:
            continue
        x = split.inputs[0]
        window = split_windows(x.aval.shape, split.params["new_sizes"], e.params["axes"])
        if window is None:
            continue
        params = _window_params(window)
        eqn = _replacement(_WINDOWED[e.prim], [x], e, params)
        if eqn is None:
            continue
        swap[id(e)] = eqn
        if e.prim in _KIND:
            swap.update(_tie_split_scatters(g, e, x, params))
    if not swap:
        return closed
    jaxpr = closed.jaxpr
    return ClosedJaxpr(Jaxpr(jaxpr.constvars, jaxpr.invars,
                             [swap.get(id(e), e) for e in eqns], jaxpr.outvars),
                       closed.consts)
