"""Global switches: `fnad.config.update(name, value)`, with defaults from environment variables.

Each option `name` reads `FNAD_<NAME>` at import (e.g. `FNAD_EXPLAIN_CACHE_MISSES=1`), so
debugging switches can be turned on without editing code.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from fnad.core.errors import FnadError

_TRUE = {"1", "true", "yes", "on"}
# Called with an option's name after `update` changes it (fnad.debugging arms its checks).
watchers: list[Callable[[str], None]] = []


def _env_bool(name: str) -> bool:
    return os.environ.get(f"FNAD_{name.upper()}", "").strip().lower() in _TRUE


class Config:
    """The options, read as attributes (`fnad.config.debug_nans`) and set with `update`.

    explain_cache_misses: log why `jit` retraces (which argument's shape, dtype,
                          structure or static value changed), on the "fnad.jit" logger.
    debug_nans / debug_infs: raise NonFiniteError (a FloatingPointError) naming the first
                          primitive that produced NaN / inf and its line: eagerly after each
                          primitive; under jit when an output has one, by re-running eagerly.
    jit_backend:          the backend `jit` compiles for when none is given: "auto" (the
                          fused C backend when a C compiler is found, else "numpy"),
                          "numpy" or "c".
    check_leaks:          after each public transform returns, raise if tracers it made are
                          still alive (see `fnad.checking_leaks`).
    keep_freed_memory:    (Linux, glibc) keep freed memory in the process instead of
                          handing it back to the system, so that new arrays of a few
                          megabytes do not pay page faults on every step; the whole
                          process's allocations are affected (docs/performance.md, tip 9).
    """

    _DEFAULTS: dict[str, Any] = {"explain_cache_misses": False, "debug_nans": False,
                                 "debug_infs": False, "jit_backend": "auto",
                                 "check_leaks": False, "keep_freed_memory": False}

    def __init__(self) -> None:
        for name, default in self._DEFAULTS.items():
            if isinstance(default, bool):
                value: Any = _env_bool(name)
            else:
                value = os.environ.get(f"FNAD_{name.upper()}", default)
            object.__setattr__(self, name, value)

    def update(self, name: str, value: Any) -> None:
        """Set one option.

        >>> import fnad
        >>> fnad.config.update("explain_cache_misses", True)
        >>> fnad.config.update("explain_cache_misses", False)
        """
        if name not in self._DEFAULTS:
            raise FnadError(f"unknown config option {name!r}; the options are "
                            f"{', '.join(sorted(self._DEFAULTS))}")
        if isinstance(self._DEFAULTS[name], bool) and not isinstance(value, bool):
            raise FnadError(f"config option {name!r} takes True or False, got {value!r}")
        object.__setattr__(self, name, value)
        for watcher in watchers:
            watcher(name)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("set options with fnad.config.update(name, value)")

    def __repr__(self) -> str:
        body = ", ".join(f"{k}={getattr(self, k)!r}" for k in self._DEFAULTS)
        return f"Config({body})"


config = Config()


# glibc's mallopt parameters: (M_MMAP_THRESHOLD, M_TRIM_THRESHOLD, M_TOP_PAD) and the values
# keeping freed memory (arrays up to 32 MB come from the heap, which is never trimmed and
# grows 64 MB at a time) or glibc's defaults (128 KB each, without their dynamic adjustment,
# which any mallopt call ends)
_PARAMS = (-3, -1, -2)
_KEEP, _DEFAULTS = (32 << 20, 1 << 30, 64 << 20), (128 << 10,) * 3


def _mallopt() -> Callable[[int, int], int] | None:
    import ctypes
    return getattr(ctypes.CDLL(None), "mallopt", None)


def _keep_freed_memory(name: str) -> None:
    if name != "keep_freed_memory":
        return
    mallopt = _mallopt()
    if mallopt is None:
        object.__setattr__(config, name, False)
        raise FnadError("keep_freed_memory needs glibc's mallopt (Linux); here, set "
                        "nothing, or use your C library's own allocator settings")
    for param, value in zip(_PARAMS, _KEEP if config.keep_freed_memory else _DEFAULTS):
        mallopt(param, value)


watchers.append(_keep_freed_memory)
if config.keep_freed_memory and _mallopt() is not None:  # FNAD_KEEP_FREED_MEMORY=1
    _keep_freed_memory("keep_freed_memory")
