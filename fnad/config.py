"""Global switches: `fnad.config.update(name, value)`, with defaults from environment variables.

Each option `name` reads `FNAD_<NAME>` at import (e.g. `FNAD_EXPLAIN_CACHE_MISSES=1`), so
debugging switches can be turned on without editing code.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from fnad.core import dtypes
from fnad.core.errors import FnadError

_TRUE = {"1", "true", "yes", "on"}
# Called with an option's name after `update` changes it (fnad.debugging arms its checks).
watchers: list[Callable[[str], None]] = []


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
    num_threads:          the threads NumPy's BLAS and the C backend's OpenMP kernels may
                          use together (an int >= 1), or None for the libraries' defaults
                          (every core); FNAD_NUM_THREADS=1 pins both. The kernels go
                          parallel only above about 4M elements, and their OpenMP threads
                          wait passively, so they do not take cores from the BLAS
                          (docs/performance.md, tip 8).
    keep_freed_memory:    (Linux, glibc; on by default) keep freed memory in the process
                          instead of handing it back to the system, so that the arrays of
                          a few megabytes every step allocates anew (eagerly or under jit)
                          do not pay a page fault per 4 KB on every step, and recycle
                          results of 8 MB and more once nothing refers to them; the whole
                          process's allocations are affected (docs/performance.md, tip 9).
                          Off where malloc is not glibc's or MALLOC_*_ variables tune it;
                          FNAD_KEEP_FREED_MEMORY=0 turns it off.
    enable_x64:           64-bit defaults: arrays made from Python numbers and lists, the
                          creation functions, random draws and initializers give float64,
                          int64 and complex128 instead of float32, int32 and complex64
                          (JAX's `jax_enable_x64`; FNAD_ENABLE_X64=1, or JAX_ENABLE_X64=1).
                          Arrays passed in keep their dtype in both modes.
    default_matmul_precision: JAX's option, accepted for its programs; fnad multiplies at
                          the operands' full precision, so every value acts as "highest".
    disable_jit:          run jitted functions as plain Python (JAX's `jax_disable_jit`; a
                          `fnad.disable_jit(...)` block overrides it).
    log_compiles:         log each `jit` compilation at WARNING level on the "fnad.jit"
                          logger (at DEBUG level otherwise).
    numpy_rank_promotion: what `fnad.numpy` does when operands of different nonzero ranks
                          broadcast together: "allow" (the default), "warn" or "raise"
                          (JAX's option: rank promotion can hide a shape bug).
    platforms:            the platforms fnad may use by default, in order of preference
                          ("cpu", "gpu" or "cuda", comma-separated; JAX's `jax_platforms`,
                          also under its older name `platform_name`), or None for a GPU
                          when CuPy sees one: `default_backend()`, `devices()` and
                          `device_put` follow it. "cpu" keeps everything on the host.
    compilation_cache_dir, persistent_cache_min_compile_time_secs,
    persistent_cache_min_entry_size_bytes, traceback_filtering: JAX's options, accepted
                          so that JAX programs run; they change nothing here (compiled
                          kernels are always cached on disk, see docs/jit.md).

    JAX's names of these options work too: `update("jax_enable_x64", True)`, and reading
    `fnad.config.jax_enable_x64`; each option is read at import from FNAD_<NAME>, or from
    JAX_<NAME> when that is unset (JAX_ENABLE_X64=1, JAX_PLATFORMS=cpu).
    """

    _DEFAULTS: dict[str, Any] = {
        "explain_cache_misses": False, "debug_nans": False, "debug_infs": False,
        "jit_backend": "auto", "check_leaks": False, "keep_freed_memory": True,
        "num_threads": None, "enable_x64": False, "default_matmul_precision": None,
        "disable_jit": False, "log_compiles": False, "numpy_rank_promotion": "allow",
        "platforms": None, "compilation_cache_dir": None,
        "persistent_cache_min_compile_time_secs": 1.0,
        "persistent_cache_min_entry_size_bytes": 0, "traceback_filtering": "auto"}
    _CHOICES: dict[str, tuple[Any, ...]] = {
        "default_matmul_precision": (None, "default", "high", "highest", "bfloat16",
                                     "tensorfloat32", "float32", "bfloat16_3x",
                                     "tensorfloat32_3x", "float32_3x", "fastest"),
        "numpy_rank_promotion": ("allow", "warn", "raise")}
    _ALIASES = {"platform_name": "platforms", "check_tracer_leaks": "check_leaks"}

    def __init__(self) -> None:
        for name, default in self._DEFAULTS.items():
            raw = os.environ.get(f"FNAD_{name.upper()}") or os.environ.get(f"JAX_{name.upper()}")
            if name == "platforms":
                raw = raw or os.environ.get("JAX_PLATFORM_NAME")
            value = default if not raw else self._parse(name, raw, f"FNAD_{name.upper()}")
            object.__setattr__(self, name, value)

    def update(self, name: str, value: Any) -> None:
        """Set one option.

        >>> import fnad
        >>> fnad.config.update("explain_cache_misses", True)
        >>> fnad.config.update("explain_cache_misses", False)
        """
        asked, name = name, self._own_name(name)
        if name not in self._DEFAULTS:
            raise FnadError(f"unknown config option {asked!r}; the options are "
                            f"{', '.join(sorted(self._DEFAULTS))} (or JAX's jax_ names)")
        value = self._parse(name, value, name)
        object.__setattr__(self, name, value)
        for watcher in watchers:
            watcher(name)

    def _parse(self, name: str, value: Any, source: str) -> Any:
        """`value` checked for option `name`; a string from the environment converted."""
        default = self._DEFAULTS[name]
        if isinstance(default, bool):
            if isinstance(value, str) and source != name:
                return value.strip().lower() in _TRUE
            if not isinstance(value, bool):
                raise FnadError(f"config option {name!r} takes True or False, got {value!r}")
        elif name == "num_threads":
            value = _thread_count(value, source)
        elif name == "platforms":
            value = _platforms(value, source)
        elif name in self._CHOICES and value not in self._CHOICES[name]:
            raise FnadError(f"{source} takes one of {self._CHOICES[name]}, got {value!r}")
        return value

    def _own_name(self, name: str) -> str:
        """fnad's name of an option: JAX's "jax_enable_x64" is "enable_x64"."""
        if name.startswith("jax_"):
            name = name[4:]
        return self._ALIASES.get(name, name)

    def __getattr__(self, name: str) -> Any:  # only for names that are not attributes
        own = self._own_name(name)
        if own != name and own in self._DEFAULTS:
            return getattr(self, own)
        raise AttributeError(f"fnad.config has no option {name!r}; the options are "
                             f"{', '.join(sorted(self._DEFAULTS))}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("set options with fnad.config.update(name, value)")

    def __repr__(self) -> str:
        body = ", ".join(f"{k}={getattr(self, k)!r}" for k in self._DEFAULTS)
        return f"Config({body})"


def _thread_count(value: Any, source: str) -> int | None:
    """`value` as a thread count (None stays None), or an error naming `source`."""
    if value is None:
        return None
    try:
        count = int(value)
    except (TypeError, ValueError):
        count = 0
    if count < 1 or (not isinstance(value, str) and count != value) or isinstance(value, bool):
        raise FnadError(f"{source} takes a thread count >= 1 or None (the libraries' "
                        f"defaults), got {value!r}")
    return count


def _platforms(value: Any, source: str) -> str | None:
    """A comma-separated list of known platforms (checked, lower case), or None."""
    if value is None:
        return None
    names = [p.strip() for p in str(value).lower().split(",")] if isinstance(value, str) else []
    if not names or any(p not in _PLATFORMS for p in names):
        raise FnadError(f"{source} takes None or platforms among {sorted(_PLATFORMS)}, "
                        f"comma-separated in order of preference (e.g. 'cpu'), got {value!r}")
    return ",".join(names)


_PLATFORMS = {"cpu", "gpu", "cuda"}
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
if config.keep_freed_memory:  # the default; FNAD_KEEP_FREED_MEMORY=0 leaves malloc alone
    if _mallopt() is None or any(k.startswith("MALLOC_") and k.endswith("_")
                                 for k in os.environ):  # not glibc, or tuned by the user
        object.__setattr__(config, "keep_freed_memory", False)
    else:
        _keep_freed_memory("keep_freed_memory")


def _limit_threads(name: str) -> None:
    """Apply `num_threads` to the pools loaded now (through threadpoolctl: NumPy's BLAS,
    libgomp once a C kernel has loaded it) and, through OMP_NUM_THREADS, to OpenMP when it
    loads later. OpenMP's count is per calling thread: set it from the thread that runs
    the computation."""
    if name != "num_threads":
        return
    from threadpoolctl import threadpool_limits
    count = config.num_threads
    if count is None:
        if _USER_OMP_NUM_THREADS is None:  # back to what the user had set, if anything
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = _USER_OMP_NUM_THREADS
        count = os.cpu_count() or 1
    else:
        os.environ["OMP_NUM_THREADS"] = str(count)
    threadpool_limits(count)


_USER_OMP_NUM_THREADS = os.environ.get("OMP_NUM_THREADS")


def _retrace(name: str) -> None:
    """Forget everything traced under the options that change what tracing makes: the
    default dtypes (switched here), and the rank promotion checks."""
    if name == "enable_x64" and config.enable_x64 != dtypes.x64_enabled():
        dtypes.set_x64(config.enable_x64)
    elif name != "numpy_rank_promotion":
        return
    from fnad.core.cache import clear_caches
    clear_caches()


watchers.append(_retrace)
dtypes.set_x64(config.enable_x64)
watchers.append(_limit_threads)
if config.num_threads is not None:  # FNAD_NUM_THREADS=n
    _limit_threads("num_threads")
