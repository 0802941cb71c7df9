"""Tools to understand a function's derivatives: forward against reverse mode
(`compare_modes`) and what reverse mode keeps in memory (`saved_residuals`).
"""

from __future__ import annotations

import dataclasses
import functools
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from fnad import tree as tree_util
from fnad.core.errors import FnadError
from fnad.core.ir import Literal, get_aval
from fnad.cost import cost_analysis
from fnad.eager import linearize_flat
from fnad.interpreters.staging import trace_to_jaxpr


def _flat(f: Callable[..., Any], args: tuple) -> tuple[Callable[..., list[Any]], list[Any]]:
    from fnad.api import _array_leaves, _flat_fun

    leaves, in_tree = tree_util.tree_flatten((args, {}))
    return _flat_fun(f, in_tree, {}), _array_leaves(leaves)


# ---------------------------------------------------------------------------- residuals

@dataclasses.dataclass(frozen=True)
class Residual:
    """One array reverse mode keeps from the forward pass for the backward pass."""

    shape: tuple[int, ...]
    dtype: np.dtype
    nbytes: int
    source: str  # the primitive and user line that produced it, or which input it is


def saved_residuals(f: Callable[..., Any], *args: Any) -> list[Residual]:
    """The residuals of `vjp(f, *args)`, each with the user line that produced it.

    The linearization is traced (not run), so each residual is a variable whose producing
    equation records its source line; Python control flow on traced values is not allowed.
    """
    f_flat, leaves = _flat(f, args)
    avals = [get_aval(x) for x in leaves]

    def residuals_of(*xs: Any) -> list[Any]:
        _, lin = linearize_flat(f_flat, xs)
        return list(lin.jaxpr.consts)

    closed = trace_to_jaxpr(residuals_of, avals, transform="saved_residuals")
    producers = {id(v): eqn for eqn in closed.eqns for v in eqn.outputs}
    inputs = {id(v): i for i, v in enumerate(closed.jaxpr.invars)}
    out = []
    for v in closed.jaxpr.outvars:
        if isinstance(v, Literal):
            continue
        if id(v) in inputs:
            source = f"input {inputs[id(v)]} of the function (flattened)"
        elif id(v) in producers:
            eqn = producers[id(v)]
            where = f" at {eqn.source_info}" if eqn.source_info is not None else ""
            source = f"{eqn.prim.name}{where}"
        else:
            source = "a constant the function closes over"
        out.append(Residual(v.aval.shape, v.aval.dtype,
                            v.aval.size * v.aval.dtype.itemsize, source))
    return out


def print_saved_residuals(f: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Print what reverse mode keeps for the backward pass: shape, dtype, bytes and origin.
    Keyword arguments are held fixed (not differentiated), as in JAX.

    >>> import fnad, fnad.numpy as fnp
    >>> fnad.print_saved_residuals(lambda x: fnp.sin(x) * x, 1.0)  # doctest: +ELLIPSIS
    shape  dtype ...
    """
    rows = saved_residuals(functools.partial(f, **kwargs), *args)
    table = [("shape", "dtype", "bytes", "produced by")]
    table += [(str(r.shape), r.dtype.name, str(r.nbytes), r.source) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(3)]
    for row in table:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[3])
    print(f"total: {len(rows)} residuals, {sum(r.nbytes for r in rows)} bytes")


# ---------------------------------------------------------------------------- compare_modes

@dataclasses.dataclass
class ModeStats:
    """Measurements of one way of computing the Jacobian."""

    time_s: float
    primitive_applications: int
    flops: int
    residual_bytes: int


@dataclasses.dataclass
class ModeComparison:
    """`compare_modes`' report: per-mode stats, the problem's shape and the advice."""

    modes: dict[str, ModeStats]
    n_inputs: int
    n_outputs: int
    recommended: str
    reason: str
    max_abs_difference: float

    def __str__(self) -> str:
        head = ("mode", "time (ms)", "primitives", "FLOPs", "residual bytes")
        rows = [head] + [(name, f"{s.time_s * 1e3:.3f}", str(s.primitive_applications),
                          str(s.flops), str(s.residual_bytes)) for name, s in self.modes.items()]
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
        lines = ["  ".join(c.rjust(w) if i else c.ljust(w)
                           for i, (c, w) in enumerate(zip(r, widths))) for r in rows]
        lines.append(f"Jacobians agree (max |fwd - rev| = {self.max_abs_difference:.3g})")
        lines.append(f"recommended: {self.recommended}: {self.reason}")
        return "\n".join(lines)


def _median_time(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def compare_modes(f: Callable[..., Any], *args: Any, argnums: int | Sequence[int] = 0,
                  repeats: int = 5, rtol: float | None = None, atol: float | None = None
                  ) -> ModeComparison:
    """Compute the Jacobian of `f` with `jacfwd` and `jacrev`, check they agree, and
    report each mode's cost: median wall time, primitive applications and FLOPs of the
    Jacobian's jaxpr, and bytes of residuals kept for the backward pass.

    >>> import numpy as np, fnad, fnad.numpy as fnp
    >>> report = fnad.compare_modes(lambda x: fnp.sum(fnp.sin(x)), np.ones(100))
    >>> report.recommended
    'jacrev'
    """
    from fnad.api import jacfwd, jacrev, make_jaxpr

    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    jacs = {"jacfwd": jacfwd(f, argnums), "jacrev": jacrev(f, argnums)}
    results = {name: jac(*args) for name, jac in jacs.items()}
    fwd_leaves = [np.asarray(x) for x in tree_util.tree_leaves(results["jacfwd"])]
    rev_leaves = [np.asarray(x) for x in tree_util.tree_leaves(results["jacrev"])]
    diff = max((float(np.max(np.abs(a - b), initial=0.0))
                for a, b in zip(fwd_leaves, rev_leaves)), default=0.0)
    for a, b in zip(fwd_leaves, rev_leaves):
        single = a.dtype.itemsize <= 4
        if a.shape != b.shape or not np.allclose(
                a, b, rtol=rtol if rtol is not None else (1e-4 if single else 1e-9),
                atol=atol if atol is not None else (1e-5 if single else 1e-12)):
            raise FnadError(f"compare_modes: jacfwd and jacrev disagree (shapes {a.shape} and "
                            f"{b.shape}, max abs difference {diff:.3g}): a jvp or transpose "
                            "rule is wrong")

    diff_args = tuple(args[i] for i in nums)

    def g(*d: Any) -> Any:
        full = list(args)
        for i, v in zip(nums, d):
            full[i] = v
        return f(*full)

    g_flat, leaves = _flat(g, diff_args)
    outs, lin = linearize_flat(g_flat, leaves)
    residual_bytes = sum(get_aval(c).size * get_aval(c).dtype.itemsize for c in lin.jaxpr.consts)
    n = sum(get_aval(x).size for x in leaves)
    m = sum(get_aval(o).size for o in outs)

    modes = {}
    for name, jac in jacs.items():
        cost = cost_analysis(make_jaxpr(jac)(*args))
        modes[name] = ModeStats(_median_time(functools.partial(jac, *args), repeats),
                                cost["primitive_applications"], cost["flops"],
                                residual_bytes if name == "jacrev" else 0)
    recommended = "jacfwd" if n <= m else "jacrev"
    reason = (f"f maps {n} input elements to {m} output elements; forward mode pushes one "
              f"tangent per input ({n}), reverse mode pulls one cotangent per output ({m}) "
              "and keeps residuals")
    faster = min(modes, key=lambda k: modes[k].time_s)
    if faster != recommended:
        reason += f" (here {faster} measured faster: at this size overheads dominate)"
    return ModeComparison(modes, n, m, recommended, reason, diff)


__all__ = ["compare_modes", "print_saved_residuals", "saved_residuals", "ModeComparison",
           "ModeStats", "Residual"]
