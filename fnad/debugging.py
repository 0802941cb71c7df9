"""Debugging switches that catch bugs where they start: NaN/inf checks on every eager
primitive (`debug_nans`, `debug_infs`; jit re-runs its program eagerly to find the culprit),
and leak checks for tracers that outlive their transform (`checking_leaks`).
"""

from __future__ import annotations

import contextlib
import gc
import threading
import weakref
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from fnad.config import config, watchers
from fnad.core import errors
from fnad.core.errors import LeakedTracerError, NonFiniteError, SourceInfo, current_source_info
from fnad.core.ir import Var, get_aval
from fnad.core.trace import EvalTrace, Trace, Tracer, state
from fnad.interpreters.staging import JaxprBuilder

# ---------------------------------------------------------------------------- NaN / inf


def nonfinite_kind(x: Any) -> str | None:
    """'NaN' or 'inf' when `x` has one that config asks to catch, else None."""
    dtype = getattr(x, "dtype", None)
    if dtype is None or dtype.kind not in "fc":
        return None
    if config.debug_nans and np.isnan(x).any():
        return "NaN"
    if config.debug_infs and np.isinf(x).any():
        return "inf"
    return None


def check_output(prim: Any, args: Sequence[Any], out: Any) -> None:
    """Raise NonFiniteError if `prim` just produced a NaN/inf that config asks to catch.

    Installed on `EvalTrace` while `debug_nans` or `debug_infs` is on.
    """
    outs = out if prim.multiple_results else (out,)
    for o in outs:
        kind = nonfinite_kind(o)
        if kind is None:
            continue
        info = state.source_info or current_source_info()  # eval_jaxpr sets the former
        where = f" at {info}" if info is not None else ""
        operands = ", ".join(str(get_aval(a)) for a in args)
        seeded = [i for i, a in enumerate(args) if nonfinite_kind(a) == kind]
        cause = (f"; operand {seeded[0]} already contained {kind}, so it came from earlier "
                 "(an input, or an op that is not checked)" if seeded else "")
        raise NonFiniteError(
            f"debug_{kind.lower()}s: '{prim.name}' produced {kind}{where} (operands "
            f"{operands}){cause}. Turn off fnad.config.update('debug_{kind.lower()}s', False) "
            "to allow it.")


def _arm_nonfinite_checks(name: str = "debug_nans") -> None:
    if name in ("debug_nans", "debug_infs"):
        on = config.debug_nans or config.debug_infs
        EvalTrace.check_output = staticmethod(check_output) if on else None


# ---------------------------------------------------------------------------- leaks

class _LeakState:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.contexts = 0  # open checking_leaks() blocks, in any thread
        self.known: weakref.WeakSet[Any] = weakref.WeakSet()  # traces already reported


_leaks = _LeakState()


def _inner_tracers(t: Tracer) -> Iterator[Any]:
    """The values held in a tracer's slots (a JVP tracer's primal and tangent, ...)."""
    for cls in type(t).__mro__:
        for slot in getattr(cls, "__slots__", ()):
            value = getattr(t, slot, None)
            if value is not None and value is not t:
                yield value


def _origin(t: Tracer) -> str:
    """Where a tracer was made: the equation that staged it, when some trace staged one."""
    for value in _inner_tracers(t):
        if isinstance(value, Var):
            builder = getattr(t._trace, "builder", None)
            for eqn in getattr(builder, "eqns", ()):
                if any(o is value for o in eqn.outputs):
                    at = f" at {eqn.source_info}" if eqn.source_info is not None else ""
                    return f"made by '{eqn.prim.name}'{at}"
            return "an argument of the transformed function"
        if isinstance(value, Tracer):
            inner = _origin(value)
            if inner:
                return inner
    return ""


def _binding(obj: Any, ignore: set[int]) -> str:
    """' bound to NAME' when a namespace (a module's or an object's) binds `obj`."""
    for owner in gc.get_referrers(obj):
        if id(owner) in ignore:
            continue
        names = owner if isinstance(owner, dict) else getattr(owner, "__dict__", None)
        if isinstance(names, dict):
            for key, value in names.items():
                if value is obj and isinstance(key, str):
                    return f" bound to '{key}'"
    return ""


def _holder(t: Tracer, ignore: set[int]) -> str:
    """What keeps the tracer alive, named where a module or object binds it."""
    for ref in gc.get_referrers(t):
        if id(ref) in ignore or isinstance(ref, Tracer) or type(ref).__name__ == "frame":
            continue
        if isinstance(ref, (list, tuple, dict, set)):
            return f"held in a {type(ref).__name__}{_binding(ref, ignore)}"
        attrs = getattr(ref, "__dict__", None)  # an object holding it as an attribute
        if isinstance(attrs, dict):
            for key, value in attrs.items():
                if value is t:
                    return f"held as attribute '{key}' of a {type(ref).__name__}"
        return f"held in a {type(ref).__name__}"
    return ""


_OWNERS = (Tracer, Trace, JaxprBuilder, dict, list, tuple)


def _kept_alive_by(roots: list[Tracer]) -> dict[int, set[int]]:
    """For each root, the ids of what it keeps alive through tracers, traces and the
    constants their jaxpr builders hold (not through primitives, functions or modules)."""
    out = {}
    for root in roots:
        seen: set[int] = set()
        todo = [root]
        while todo:
            for ref in gc.get_referents(todo.pop()):
                if isinstance(ref, _OWNERS) and id(ref) not in seen and ref is not root:
                    seen.add(id(ref))
                    todo.append(ref)
        out[id(root)] = seen
    return out


def _leaked_tracers() -> list[Tracer]:
    """Live tracers of finished traces not reported before, leaving out those that another
    such tracer keeps alive. Their traces count as reported from now on."""
    gc.collect()
    found = [o for o in gc.get_objects()
             if isinstance(o, Tracer) and o._trace.finished and o._trace not in _leaks.known]
    kept = _kept_alive_by(found)
    roots = [t for t in found
             if not any(id(t) in kept[id(u)] for u in found if u is not t)]
    for t in found:
        _leaks.known.add(t._trace)
    return roots or found


def check_leaks(name: str) -> None:
    """Raise LeakedTracerError if tracers of finished transforms are still alive.

    Run after each outermost public transform while leak checking is on; each leaked
    trace is reported once.
    """
    leaked = _leaked_tracers()
    if not leaked:
        return
    ignore = {id(leaked)}
    lines = []
    for t in leaked:
        if len(lines) == 10:
            lines.append(f"  ... and {len(leaked) - 10} more")
            break
        details = "; ".join(d for d in (_origin(t), _holder(t, ignore)) if d)
        lines.append(f"  {t.aval} tracer of {t._trace.transform}"
                     + (f" ({details})" if details else ""))
    info: SourceInfo | None = current_source_info()
    at = f" called at {info}" if info is not None else ""
    count = "1 tracer is" if len(leaked) == 1 else f"{len(leaked)} tracers are"
    raise LeakedTracerError(
        f"checking_leaks: {name}{at} returned, but {count} still alive:\n" + "\n".join(lines)
        + "\nValues computed inside a transformed function must be returned from it, not "
        "kept in a global, a closure or an attribute.")


def _arm_leak_checks(name: str = "check_leaks") -> None:
    if name != "check_leaks":
        return
    on = config.check_leaks or _leaks.contexts > 0
    if on and check_leaks not in errors.after_call_hooks:
        _leaked_tracers()  # leaks from before checking began are not blamed on later calls
        errors.after_call_hooks.append(check_leaks)
    elif not on and check_leaks in errors.after_call_hooks:
        errors.after_call_hooks.remove(check_leaks)


@contextlib.contextmanager
def checking_leaks() -> Iterator[None]:
    """Inside this block, raise when a public transform returns while tracers it made are
    still alive (stored in a global, a closure or an attribute). Slow: for debugging.
    `FNAD_CHECK_LEAKS=1` (or `fnad.config.update("check_leaks", True)`) turns it on for good.

    >>> import fnad, numpy as np
    >>> with fnad.checking_leaks():
    ...     fnad.grad(lambda x: (x * x).sum())(np.ones(2))
    array([2., 2.])
    """
    with _leaks.lock:
        _leaks.contexts += 1
        _arm_leak_checks()
    try:
        yield
    finally:
        with _leaks.lock:
            _leaks.contexts -= 1
            _arm_leak_checks()


watchers.extend([_arm_nonfinite_checks, _arm_leak_checks])
_arm_nonfinite_checks()
_arm_leak_checks()

__all__ = ["check_leaks", "check_output", "checking_leaks", "nonfinite_kind"]
