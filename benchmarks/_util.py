"""Shared helpers of the benchmark scripts: thread pinning (FNAD_BENCH_THREADS=n, default 1;
"default" leaves every library its own default threading), round-robin median timing, optional
imports of the anchor libraries (JAX, PyTorch, HIPS autograd), and result tables printed as
text and written as Markdown. Importing it sets the thread variables for pools that start
later (OpenMP in the C kernels); `parse_args` (`pin_threads`) limits pools already loaded
(OpenBLAS) and holds the process to that many CPUs (XLA's pool follows the CPUs, not a
variable).
"""

from __future__ import annotations

import os

_MODE = os.environ.get("FNAD_BENCH_THREADS", "1")
PINNED = _MODE != "default"
# an int when every system is pinned to that many threads; "default" otherwise (so titles
# read "1 thread(s)" or "default thread(s)")
THREADS: int | str = int(_MODE) if PINNED else "default"
if PINNED:
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                 "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ[_var] = str(THREADS)
    os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false"

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import importlib  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from importlib import metadata  # noqa: E402
from types import ModuleType  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402


def pin_threads() -> None:
    """Hold the process to THREADS CPUs, and limit BLAS/OpenMP pools that were loaded before
    this module set the environment (e.g. when another benchmark imported NumPy first).
    XLA's CPU runtime sizes its pool from the CPUs it may run on and reads no thread
    variable: with the variables alone a "pinned" JAX used 1.8 cores (CPU time / wall time
    of a jitted GEMM). Call it before JAX's first computation; every `main` does."""
    if not PINNED:
        return
    if hasattr(os, "sched_setaffinity"):  # threads started later inherit it (XLA's pool)
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:THREADS])
    from threadpoolctl import threadpool_limits
    threadpool_limits(THREADS)


def optional(name: str) -> ModuleType | None:
    """The module `name` (jax, torch, autograd, cupy...), or None when it is not installed.
    PyTorch comes pinned to the benchmark's thread count."""
    try:
        module = importlib.import_module(name)
    except ImportError:
        return None
    if name == "torch" and PINNED:
        module.set_num_threads(THREADS)
    return module


# ------------------------------------------------------------------------------ timing

def compare(fns: dict[str, Callable[[], Any]], min_time: float = 2.0, min_repeats: int = 5,
            warmup: int = 2) -> dict[str, float]:
    """Median seconds per call of each `fn()`: `warmup` calls each, then calls in turn
    (round robin) for at least `min_time` seconds and `min_repeats` calls each, so a change
    of machine load during the run hits every system alike."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    start = time.perf_counter()
    while (min(map(len, times.values())) < min_repeats
           or time.perf_counter() - start < min_time):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def measure(fns: dict[str, Callable[[], Any]], args: argparse.Namespace, min_time: float
            ) -> dict[str, float]:
    """`compare` at full size; with --quick, one call each (it only checks they run)."""
    if args.quick:
        return compare(fns, min_time=0.0, min_repeats=1, warmup=0)
    return compare(fns, min_time=min_time)


def once(fn: Callable[[], Any]) -> float:
    """Seconds taken by one call of `fn()` (for first-call latencies)."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def stepper(step: Callable[..., tuple[Any, Any]], state: Any, *data: Any
            ) -> Callable[[], Any]:
    """A closure running `state, loss = step(state, *data)` once per call, threading each
    step's state (parameters, optimizer state) into the next; it returns the loss."""
    box = [state]

    def run() -> Any:
        box[0], loss = step(box[0], *data)
        return loss

    return run


def jax_adam_stepper(loss: Callable[..., Any], params: Any, x: Any, y: Any,
                     *adam_args: float) -> Callable[[], Any]:
    """A `stepper` running jitted JAX Adam steps on `loss(params, x, y)` (waiting for each,
    since JAX dispatches asynchronously)."""
    import jax
    import jax.numpy as jnp
    update = adam(jax.tree_util.tree_map, jnp.sqrt, *adam_args)

    def step(state: tuple, x: Any, y: Any) -> tuple[tuple, Any]:
        p, m, v, t = state
        value, grads = jax.value_and_grad(loss)(p, x, y)
        return (*update(p, m, v, t, grads), t + 1), value

    zeros = lambda: jax.tree_util.tree_map(jnp.zeros_like, params)
    state = jax.device_put((params, zeros(), zeros(), np.float32(1)))
    f = jax.jit(step, donate_argnums=0)
    return stepper(lambda *a: jax.block_until_ready(f(*a)), state, jax.device_put(x),
                   jax.device_put(y))


def adam(tree_map: Callable[..., Any], sqrt: Callable[[Any], Any], lr: float = 1e-3,
         b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> Callable[..., tuple]:
    """Adam over pytrees for an anchor library without an optimizer package (JAX):
    `update(params, m, v, t, grads) -> (params, m, v)` with `t` counting from 1."""

    def update(params: Any, m: Any, v: Any, t: Any, grads: Any) -> tuple:
        m = tree_map(lambda a, g: b1 * a + (1 - b1) * g, m, grads)
        v = tree_map(lambda a, g: b2 * a + (1 - b2) * g * g, v, grads)
        lr_t = lr * sqrt(1 - b2 ** t) / (1 - b1 ** t)
        params = tree_map(lambda p, a, b: p - lr_t * a / (sqrt(b) + eps), params, m, v)
        return params, m, v

    return update


def fnad_train_systems(step: Callable[..., tuple[Any, Any]], make_state: Callable[[], Any],
                       *data: Any) -> dict[str, Callable[[], Any]]:
    """Steppers of `step(state, *data) -> (state, loss)`: jitted on each CPU backend (state
    donated) and eager, each from a fresh copy of `make_state()` (donated buffers get
    overwritten)."""
    import fnad
    fresh = lambda: fnad.tree.tree_map(np.array, make_state())
    runs = {f"fnad jit {b}": stepper(fnad.jit(step, donate_argnums=0, backend=b), fresh(),
                                     *data) for b in ("numpy", "c")}
    runs["fnad eager"] = stepper(step, fresh(), *data)
    return runs


def check_losses(runs: dict[str, Callable[[], Any]], steps: int = 2, rtol: float = 2e-3
                 ) -> None:
    """Every system's first `steps` losses agree (they start from the same parameters), so
    the table compares the same computation."""
    for i in range(steps):
        losses = {name: float(run()) for name, run in runs.items()}
        first = next(iter(losses.values()))
        if not np.allclose(list(losses.values()), first, rtol=rtol):
            raise AssertionError(f"step {i + 1}: the systems' losses disagree: {losses}")


# ------------------------------------------------------------------------------ tables

def fmt_time(seconds: float) -> str:
    """A duration with a unit that keeps 3-4 significant digits."""
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "us")):
        if seconds >= scale:
            return f"{seconds / scale:.3f} {unit}"
    return f"{seconds * 1e9:.1f} ns"


@dataclasses.dataclass
class Table:
    """A titled table of strings, with notes (targets, caveats) printed under it."""

    title: str
    headers: list[str]
    rows: list[list[str]] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)

    def add(self, *cells: Any) -> None:
        self.rows.append([str(c) for c in cells])

    def target(self, text: str, ratio: float | None, limit: float | None = None,
               above: bool = False) -> None:
        """Note `ratio` and whether it meets a target (`ratio <= limit`, or `>=` with
        `above`); with no limit, just the ratio."""
        if ratio is None:
            self.notes.append(f"{text}: not measured (a system is not installed)")
            return
        if limit is None:
            self.notes.append(f"{text}: {ratio:.2f}")
            return
        met = ratio >= limit if above else ratio <= limit
        self.notes.append(f"target: {text}: {ratio:.2f} ({'met' if met else 'NOT met'})")

    def text(self) -> str:
        widths = [max(len(r[i]) for r in [self.headers, *self.rows])
                  for i in range(len(self.headers))]
        line = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                       for i, (c, w) in enumerate(zip(cells, widths)))
        out = [self.title, "  " + line(self.headers)]
        out += ["  " + line(r) for r in self.rows]
        out += [f"  {n}" for n in self.notes]
        return "\n".join(out)

    def markdown(self) -> str:
        out = [f"### {self.title}", "", "| " + " | ".join(self.headers) + " |",
               "|" + "|".join(["---"] + ["---:"] * (len(self.headers) - 1)) + "|"]
        out += ["| " + " | ".join(r) + " |" for r in self.rows]
        if self.notes:
            out += [""] + [f"- {n}" for n in self.notes]
        return "\n".join(out) + "\n"


def timing_table(title: str, times: dict[str, float], baseline: str,
                 extra: dict[str, Callable[[str, float], str]] | None = None) -> Table:
    """One row per system: its median time, its ratio to `baseline`'s, and one cell per
    `extra` column computed from (system, time)."""
    extra = extra or {}
    table = Table(title, ["system", "median", f"x {baseline}", *extra])
    for name, t in times.items():
        table.add(name, fmt_time(t), f"{t / times[baseline]:.2f}",
                  *(cell(name, t) for cell in extra.values()))
    return table


def ratio(times: dict[str, float], a: str, b: str) -> float | None:
    """times[a] / times[b], or None when either system was not run."""
    return times[a] / times[b] if a in times and b in times else None


# ------------------------------------------------------------------------------ running

def parse_args(doc: str | None, argv: Sequence[str] | None) -> argparse.Namespace:
    """The options every benchmark takes: --quick (tiny sizes, for smoke tests) and
    --markdown PATH (append the tables to a Markdown file)."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes and few repeats: checks that it runs, not speed")
    parser.add_argument("--markdown", metavar="PATH",
                        help="append the result tables to this Markdown file")
    args = parser.parse_args(argv)
    pin_threads()
    return args


def report(tables: Sequence[Table], args: argparse.Namespace) -> None:
    """Print the tables, and append them to the --markdown file when one was given."""
    for table in tables:
        print(table.text(), end="\n\n", flush=True)
    if args.markdown:
        with open(args.markdown, "a") as f:
            f.write("\n".join(t.markdown() for t in tables) + "\n")


def report_skip(name: str, reason: str, args: argparse.Namespace) -> None:
    """Say (and write to the --markdown file) why a benchmark did not run."""
    print(f"{name}: skipped: {reason}\n", flush=True)
    if args.markdown:
        with open(args.markdown, "a") as f:
            f.write(f"### {name}\n\nSkipped: {reason}.\n\n")


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            found = re.search(r"^model name\s*:\s*(.+)$", f.read(), re.M)
    except OSError:
        found = None
    return found.group(1).strip() if found else (platform.processor() or platform.machine())


def environment() -> str:
    """One line naming the CPU, the thread count and the library versions."""
    versions = [f"Python {platform.python_version()}", f"NumPy {np.__version__}"]
    for dist in ("jax", "torch", "autograd", "cupy-cuda12x", "cupy-cuda13x"):
        try:
            versions.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            pass
    return (f"{_cpu_name()}, {os.cpu_count()} cores, {THREADS} thread(s) per system; "
            f"{', '.join(versions)}")
