"""A static cost model over jaxprs: FLOPs, bytes moved and primitive applications.

Costs come from avals alone, one rule per primitive family; sub-jaxprs (jit_call,
checkpoint, custom rules, control flow) are counted where they run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from fnad.core.ir import ClosedJaxpr, Eqn, Jaxpr, Literal, ShapedArray
from fnad.core.primitive import Elementwise

# A transcendental function costs about this many multiply-adds in a libm implementation.
TRANSCENDENTAL_FLOPS = 8
TRANSCENDENTAL = frozenset({
    "exp", "exp2", "expm1", "log", "log1p", "log2", "sin", "cos", "tan", "tanh", "logistic",
    "sqrt", "rsqrt", "cbrt", "pow", "erf", "erfc", "erf_inv", "asin", "acos", "atan", "atan2",
    "sinh", "cosh", "asinh", "acosh", "atanh", "lgamma", "digamma", "igamma",
})
REDUCTIONS = frozenset({
    "reduce_sum", "reduce_max", "reduce_min", "reduce_prod", "reduce_and", "reduce_or",
    "argmax", "argmin", "cumsum", "cumprod", "cummax", "cummin", "cumlogsumexp",
    "reduce_window", "reduce_window_sum", "reduce_window_max", "reduce_precision",
})


def _bytes(aval: ShapedArray) -> int:
    return aval.size * aval.dtype.itemsize


def _dot_general_flops(eqn: Eqn) -> int:
    """2 * M * N * K: one multiply and one add per contracted pair of every output."""
    (xc, _), _ = eqn.params["dimension_numbers"]
    x = eqn.inputs[0].aval
    k = int(np.prod([x.shape[d] for d in xc], dtype=np.int64))
    return 2 * eqn.outputs[0].aval.size * k


def _conv_flops(eqn: Eqn) -> int:
    """2 * out_size * kernel_window * in_features / groups: the kernel holds
    out_features * (in_features / groups) * window weights."""
    rhs = eqn.inputs[1].aval
    out = eqn.outputs[0].aval
    spec = eqn.params.get("dimension_numbers")  # (lhs_spec, rhs_spec, out_spec)
    out_feature_axis = spec[1][0] if spec is not None else 0
    weights_per_output = rhs.size // max(rhs.shape[out_feature_axis], 1)
    return 2 * out.size * weights_per_output


FLOP_RULES: dict[str, Callable[[Eqn], int]] = {
    "dot_general": _dot_general_flops,
    "conv_general_dilated": _conv_flops,
}


def _eqn_flops(eqn: Eqn) -> tuple[int, int]:
    """(flops, transcendental evaluations) of one equation without sub-jaxprs."""
    name = eqn.prim.name
    if name in FLOP_RULES:
        return FLOP_RULES[name](eqn), 0
    if name in REDUCTIONS:
        return sum(a.aval.size for a in eqn.inputs[:1]), 0
    if name in TRANSCENDENTAL:
        n = sum(v.aval.size for v in eqn.outputs)
        return TRANSCENDENTAL_FLOPS * n, n
    k = eqn.prim.kernel
    if type(k) is Elementwise and k.flops:
        return k.flops * sum(v.aval.size for v in eqn.outputs), 0  # elementwise arithmetic
    return 0, 0  # structural: data movement only


def _sub_jaxprs(eqn: Eqn) -> list[tuple[list[Jaxpr], int]]:
    """Groups of sub-jaxprs of an equation: one group per param, with its trip count.
    A tuple of jaxprs (cond branches) is a group of which only one runs."""
    length = eqn.params.get("length")
    trips = length if isinstance(length, int) else 1
    groups = []
    for value in eqn.params.values():
        items = value if isinstance(value, (tuple, list)) else (value,)
        js = [v.jaxpr if isinstance(v, ClosedJaxpr) else v for v in items
              if isinstance(v, (Jaxpr, ClosedJaxpr))]
        if js:
            groups.append((js, trips))
    return groups


def _empty() -> dict[str, Any]:
    return {"flops": 0, "transcendentals": 0, "bytes_read": 0, "bytes_written": 0,
            "primitive_applications": 0, "per_primitive": {}}


def _add(total: dict[str, Any], part: dict[str, Any], times: int = 1) -> None:
    for k in ("flops", "transcendentals", "bytes_read", "bytes_written",
              "primitive_applications"):
        total[k] += part[k] * times
    for name, row in part["per_primitive"].items():
        mine = total["per_primitive"].setdefault(name, {"count": 0, "flops": 0, "bytes": 0})
        for k in mine:
            mine[k] += row[k] * times


def _analyze(jaxpr: Jaxpr) -> dict[str, Any]:
    total = _empty()
    for eqn in jaxpr.eqns:
        groups = _sub_jaxprs(eqn)
        if groups:
            for js, trips in groups:
                parts = [_analyze(j) for j in js]
                _add(total, max(parts, key=lambda p: p["flops"]), trips)
            continue
        flops, trans = _eqn_flops(eqn)
        read = sum(_bytes(a.aval) for a in eqn.inputs if not isinstance(a, Literal))
        written = sum(_bytes(v.aval) for v in eqn.outputs)
        _add(total, {"flops": flops, "transcendentals": trans, "bytes_read": read,
                     "bytes_written": written, "primitive_applications": 1,
                     "per_primitive": {eqn.prim.name: {"count": 1, "flops": flops,
                                                       "bytes": read + written}}})
    return total


def cost_analysis(jaxpr: ClosedJaxpr | Jaxpr) -> dict[str, Any]:
    """Estimated cost of running a jaxpr once, from its avals.

    Returns a dict: `flops`, `transcendentals`, `bytes_read`, `bytes_written`,
    `bytes_accessed` (their sum), `primitive_applications`, and `per_primitive`
    ({name: {count, flops, bytes}}). Elementwise ops cost one FLOP per output element
    (transcendentals TRANSCENDENTAL_FLOPS), `dot_general` 2*M*N*K, convolutions
    2*out_size*window*in_features/groups, reductions one per input element; structural
    ops cost no FLOPs but move bytes. Every equation reads its inputs and writes its
    outputs (no fusion is assumed).

    >>> import numpy as np, fnad
    >>> c = fnad.cost_analysis(fnad.make_jaxpr(lambda a, b: a @ b)(np.ones((2, 3)), np.ones((3, 4))))
    >>> c["flops"]
    48
    """
    j = jaxpr.jaxpr if isinstance(jaxpr, ClosedJaxpr) else jaxpr
    out = _analyze(j)
    out["bytes_accessed"] = out["bytes_read"] + out["bytes_written"]
    return out


__all__ = ["cost_analysis"]
