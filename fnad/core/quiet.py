"""NumPy's "ignore all floating-point errors" state, entered and left cheaply.

Primitives answer NaN and inf without warnings, as in JAX. `np.errstate` costs about a
microsecond per use, which matters when it wraps every eager operation; NumPy 2 keeps the
state in a context variable that can be set and reset directly.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np


def _functions() -> tuple[Callable[[], Any], Callable[[Any], None]]:
    try:
        from numpy._core._ufunc_config import _extobj_contextvar as var
        with np.errstate(all="ignore"):
            ignore = var.get()
        return functools.partial(var.set, ignore), var.reset
    except (ImportError, AttributeError):  # older NumPy: the global seterr
        return (lambda: np.seterr(all="ignore")), (lambda old: np.seterr(**old))


# quiet_enter() -> token; quiet_exit(token) restores the state from before
quiet_enter, quiet_exit = _functions()
