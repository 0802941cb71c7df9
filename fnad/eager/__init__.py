"""The eager fast path of reverse mode, chosen by the API when every input is a NumPy array.

`linearize_flat` is the interpreters' `linearize_flat` with each primitive's jvp and
transpose rules traced once per signature and replayed as generated code
(`fnad.eager.rules`); for any other input it is the reference path itself. Rules that
could not be derived are counted in `fallbacks()`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from fnad.core.trace import EvalTrace, state
from fnad.eager import rules
from fnad.interpreters import partial_eval


def linearize_flat(f: Callable[..., Sequence[Any]], primals: Sequence[Any]
                   ) -> tuple[list[Any], partial_eval.Linearized]:
    """`fnad.interpreters.partial_eval.linearize_flat`, the fast way where it applies."""
    if type(state.trace) is not EvalTrace or not all(
            isinstance(p, (np.ndarray, np.generic)) for p in primals):
        return partial_eval.linearize_flat(f, primals)
    traces: list[rules.LinearizeTrace] = []

    def jvp_trace(pe: partial_eval.PartialEvalTrace) -> rules.LinearizeTrace:
        traces.append(rules.LinearizeTrace(pe))
        return traces[0]

    outs, lin = partial_eval.linearize_flat(f, primals, jvp_trace)
    lin.transposer = functools.partial(rules.transposer, traces[0].transposes)
    return outs, lin


def fallbacks() -> dict[tuple[str, str], int]:
    """(primitive, exception type) -> how often a rule could not be derived for the fast
    path, so the reference path ran instead (a nonzero count is worth a bug report)."""
    return dict(rules.FALLBACKS)


__all__ = ["fallbacks", "linearize_flat"]
