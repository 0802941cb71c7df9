"""jax.profiler's names: named spans of a program, recorded while a trace runs.

`trace(log_dir)` (or `start_trace`/`stop_trace`) records every `TraceAnnotation`,
`StepTraceAnnotation` and `annotate_function` span, with its thread, and Python's own
profile of the traced code; `stop_trace` writes them under `log_dir` as
`fnad.trace.json` (Chrome trace events: open it in Perfetto or chrome://tracing) and
`fnad.prof` (`pstats`, or snakeviz). Outside a trace the annotations cost a clock read.
fnad runs on the host, so there is no device timeline and no device memory profile.
"""

from __future__ import annotations

import contextlib
import cProfile
import functools
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from fnad.core.errors import ArgumentError

_lock = threading.Lock()
_active: dict[str, Any] = {}  # while a trace runs: log_dir, events, profile, start


def start_trace(log_dir: str | os.PathLike[str], create_perfetto_link: bool = False,
                create_perfetto_trace: bool = False, profiler_options: Any = None) -> None:
    """Start recording spans and a Python profile, to be written under `log_dir`."""
    del create_perfetto_link, create_perfetto_trace, profiler_options  # (one format here)
    with _lock:
        if _active:
            raise ArgumentError("start_trace: a trace is already running; call stop_trace "
                                "first")
        profile = cProfile.Profile()
        _active.update(log_dir=os.fspath(log_dir), events=[], profile=profile,
                       start=time.perf_counter_ns())
    profile.enable()


def stop_trace() -> None:
    """Stop the trace and write `fnad.trace.json` and `fnad.prof` under its `log_dir`."""
    with _lock:
        if not _active:
            raise ArgumentError("stop_trace: no trace is running; call start_trace first")
        state = dict(_active)
        _active.clear()
    state["profile"].disable()
    os.makedirs(state["log_dir"], exist_ok=True)
    events = [{"name": name, "ph": "X", "pid": os.getpid(), "tid": tid,
               "ts": (begin - state["start"]) / 1e3, "dur": (end - begin) / 1e3,
               **({"args": args} if args else {})}
              for name, tid, begin, end, args in state["events"]]
    with open(os.path.join(state["log_dir"], "fnad.trace.json"), "w") as f:
        json.dump({"traceEvents": events, "displayTimeUnit": "ms"}, f)
    state["profile"].dump_stats(os.path.join(state["log_dir"], "fnad.prof"))


@contextlib.contextmanager
def trace(log_dir: str | os.PathLike[str], create_perfetto_link: bool = False,
          create_perfetto_trace: bool = False) -> Iterator[None]:
    """`start_trace(log_dir)` for the block, `stop_trace()` after it."""
    start_trace(log_dir, create_perfetto_link, create_perfetto_trace)
    try:
        yield
    finally:
        stop_trace()


class TraceAnnotation:
    """A named span of the trace (a context manager); `kwargs` become its arguments."""

    def __init__(self, name: str, **kwargs: Any):
        self.name, self.args = name, kwargs

    def __enter__(self) -> TraceAnnotation:
        self._begin = time.perf_counter_ns()
        return self

    def __exit__(self, *exc: Any) -> None:
        end = time.perf_counter_ns()
        events = _active.get("events")
        if events is not None:
            events.append((self.name, threading.get_ident(), self._begin, end, self.args))


class StepTraceAnnotation(TraceAnnotation):
    """A training step's span: `StepTraceAnnotation("train", step_num=i)`."""


def annotate_function(func: Callable[..., Any] | None = None, name: str | None = None,
                      **kwargs: Any) -> Any:
    """`func` with each call a span named `name` (its qualified name by default); also a
    decorator factory (`@annotate_function(name="step")`)."""
    if func is None:
        return functools.partial(annotate_function, name=name, **kwargs)

    @functools.wraps(func)
    def annotated(*args: Any, **kw: Any) -> Any:
        with TraceAnnotation(name or func.__qualname__, **kwargs):
            return func(*args, **kw)

    return annotated


def start_server(port: int) -> None:
    """JAX's remote-profiling server, which fnad has not: a warning on the "fnad.profiler"
    logger says so (no capture will connect), and the program runs on."""
    logging.getLogger("fnad.profiler").warning(
        "start_server(%s): fnad has no remote profiling server; record a trace in the "
        "process with fnad.profiler.trace(log_dir)", port)


def stop_server() -> None:
    """The counterpart of `start_server`: no server runs, so nothing to stop."""


def device_memory_profile(backend: str | None = None) -> bytes:
    """JAX's pprof profile of device memory: fnad's arrays are host NumPy arrays."""
    raise ArgumentError("device_memory_profile: fnad's arrays live in host memory (NumPy), "
                        "where tracemalloc or a memory profiler sees them")


def save_device_memory_profile(filename: str, backend: str | None = None) -> None:
    """As `device_memory_profile`."""
    device_memory_profile(backend)


__all__ = ["StepTraceAnnotation", "TraceAnnotation", "annotate_function",
           "device_memory_profile", "save_device_memory_profile", "start_server",
           "start_trace", "stop_server", "stop_trace", "trace"]
