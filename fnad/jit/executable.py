"""Compiled executables: jaxpr -> passes -> backend lowering, cached on the jaxpr's identity.

An `Executable` is called like the `ClosedJaxpr` it was compiled from (`(*args) -> list`),
so primitives holding sub-jaxprs run compiled bodies through the same interface.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fnad.config import config
from fnad.core.cache import IdentityCache
from fnad.core.errors import NonFiniteError
from fnad.core.ir import ClosedJaxpr, ShapedArray, eval_jaxpr
from fnad.core.trace import EvalTrace
from fnad.debugging import nonfinite_kind
from fnad.jit import passes
from fnad.jit.backends import get_backend, resolve


def _format_bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return ""


class Executable:
    """A compiled jaxpr: `exe(*flat_args) -> list of outputs`; `explain()` shows the plan."""

    def __init__(self, traced: ClosedJaxpr, optimized: ClosedJaxpr, lowered: Any,
                 backend: str, name: str, donated: Sequence[bool]):
        self.traced, self.closed = traced, optimized
        self.fn = lowered.fn
        self.source, self.stats = lowered.source, lowered.stats
        self.backend, self.name, self.donated = backend, name, tuple(donated)

    def __call__(self, *args: Any) -> list[Any]:
        outs = self.fn(*args)
        if config.debug_nans or config.debug_infs:
            self.check_finite(args, outs)
        return outs

    def step_function(self) -> Callable[..., list[Any]]:
        """The function a loop calls at each step (read once per loop run): the generated
        code itself. With the finite checks on, a step checks the NaN/inf it makes; one
        that came in through its inputs was made before the loop (passes may move work
        out of a loop body), and the enclosing program reports it."""
        if not (config.debug_nans or config.debug_infs):
            return self.fn

        def step(*args: Any) -> list[Any]:
            outs = self.fn(*args)
            if all(nonfinite_kind(a) is None for a in args):
                self.check_finite(args, outs)
            return outs

        return step

    def __getattr__(self, attr: str) -> Any:
        # Anything else a control-flow impl may ask of the ClosedJaxpr it was given.
        if attr.startswith("__") or attr == "closed":
            raise AttributeError(attr)
        return getattr(self.closed, attr)

    @property
    def in_avals(self) -> list[ShapedArray]:
        return self.closed.in_avals

    @property
    def out_avals(self) -> list[ShapedArray]:
        return self.closed.out_avals

    def check_finite(self, args: Sequence[Any], outs: Sequence[Any]) -> None:
        """Raise FloatingPointError if an output has a NaN/inf that config asks to catch,
        naming the first equation that produced one (found by re-running eagerly)."""
        if all(nonfinite_kind(o) is None for o in outs):
            return
        raise NonFiniteError(f"jit({self.name}): {_locatenonfinite_kind(self.traced, args)}. "
                                 "Turn off fnad.config debug_nans/debug_infs to allow it.")

    def explain(self) -> str:
        """The plan: equations before and after the passes, buffers, bytes, generated code."""
        s = self.stats
        ins = ", ".join(str(a) for a in self.in_avals)
        outs = ", ".join(str(a) for a in self.out_avals)
        donated = [i for i, d in enumerate(self.donated) if d]
        lines = [
            f"jit({self.name}) on the {self.backend} backend",
            f"  equations: {len(self.traced.eqns)} traced, {s['equations']} after the passes",
            f"  inputs:    ({ins})" + (f", donated {donated}" if donated else ""),
            f"  outputs:   ({outs})",
            f"  buffers:   {s['allocated']} allocated ({_format_bytes(s['allocated_bytes'])}), "
            f"{s['reused']} written into dead buffers with out= "
            f"({_format_bytes(s['reused_bytes'])}), {s['donated_reused']} of them donated "
            "inputs",
            f"  constants: {s['constants']} ({_format_bytes(s['constant_bytes'])})",
        ]
        lines += ["  " + line for line in s.get("fusion", [])]
        lines.append("  generated code:")
        lines += ["    " + line for line in self.source.rstrip().splitlines()]
        return "\n".join(lines)


def _locatenonfinite_kind(closed: ClosedJaxpr, args: Sequence[Any]) -> str:
    for i, (v, a) in enumerate(zip(closed.jaxpr.invars, args)):
        kind = nonfinite_kind(a)
        if kind is not None:
            return f"input {i} ({v.aval}) already contains {kind}"
    with EvalTrace(None):  # fnad.debugging's eager check raises at the first culprit
        eval_jaxpr(closed.jaxpr, closed.consts, *args)
    return "an output contains NaN or inf (with donated inputs the equation is not located)"


_executables = IdentityCache(maxsize=1024)

def compile_jaxpr(closed: ClosedJaxpr, backend: str | None = None,
                  donated: Sequence[bool] = (), name: str = "jaxpr",
                  optimize: bool = True, traced: ClosedJaxpr | None = None,
                  loop: Any = None) -> Executable:
    """The executable of `closed` (optimized, then lowered), compiled once per jaxpr object.

    `optimize=False` skips the passes for a jaxpr that has been through them already
    (`traced`, the jaxpr before them, is then only reported by `explain`). `loop` (a
    `numpy_backend.ScanLoop` or `WhileLoop`) compiles a loop's body as the whole loop.

    >>> import numpy as np, fnad
    >>> closed = fnad.make_jaxpr(lambda x: x * 2.0)(np.ones(2, np.float32))
    >>> compile_jaxpr(closed)(np.ones(2, np.float32))
    [array([2., 2.], dtype=float32)]
    """
    backend = resolve(backend or config.jit_backend)
    key = (backend, tuple(donated), loop)
    exe = _executables.get(closed, key)
    if exe is None:
        with EvalTrace(None):  # passes and codegen work on arrays, whatever trace is current
            optimized = passes.optimize(closed) if optimize else closed
            lowered = get_backend(backend).lower(
                optimized, donated, name,
                compile_sub=lambda c, **kw: compile_jaxpr(c, backend, **kw),
                **({} if loop is None else {"loop": loop}))
        exe = _executables.put(closed, key, Executable(traced or closed, optimized, lowered,
                                                       backend, name, donated))
    return exe


__all__ = ["Executable", "compile_jaxpr"]
