"""What `jit` costs before and around the work: the per-call time of a jitted 3-op function
of a scalar (flattening, cache lookup, generated code), the first-call latency of the
MLP train step of `benchmarks.jit_mlp` (trace + passes + code generation + one run) on both
backends, against JAX `jit`'s when installed, and the first call of `jit(grad(f))` with an
empty kernel cache for straight-line programs of thousands of elementwise operations
(issue 21: the C compiler's time must stay linear in the program's size).

Run: `python -m benchmarks.dispatch [--quick] [--markdown PATH]`.
"""

from __future__ import annotations

import contextlib
import os
import resource
import tempfile
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

import fnad
import fnad.numpy as fnp
from benchmarks import _util
from benchmarks.jit_mlp import init, jax_step, stepper, train_step
from fnad.backends import c_backend


def scalar_fn(xp: Any) -> Callable[[Any], Any]:
    return lambda x: xp.tanh(x) * 2.0 + 1.0


def per_call(min_time: float) -> _util.Table:
    """Median time of one call of the jitted 3-op scalar function."""
    s = np.float32(0.5)
    systems: dict[str, Callable[[], Any]] = {}
    for backend in ("numpy", "c"):
        f = fnad.jit(scalar_fn(fnp), backend=backend)
        systems[f"fnad jit {backend}"] = lambda f=f: f(s)
    g = scalar_fn(np)
    systems["NumPy, same 3 ops"] = lambda: g(s)
    jax = _util.optional("jax")
    if jax is not None:
        h = jax.jit(scalar_fn(jax.numpy))
        js = jax.numpy.float32(0.5)
        systems["JAX jit"] = lambda: h(js).block_until_ready()
    times = _util.compare(systems, min_time=min_time)
    table = _util.timing_table(f"dispatch: one call of jit(tanh(x) * 2 + 1) on a float32 "
                               f"scalar, {_util.THREADS} thread(s)", times, "NumPy, same 3 ops")
    for backend in ("numpy", "c"):
        table.target(f"fnad jit {backend} / JAX jit <= 2",
                     _util.ratio(times, f"fnad jit {backend}", "JAX jit"), 2.0)
    return table


def first_calls(batch: int, repeats: int, cold_c: bool) -> _util.Table:
    """Latency of the first call of a freshly jitted train step (median of `repeats` fresh
    functions), split into tracing, the passes, and code generation plus one run."""
    params, x, y = init(batch)
    args = (params, {k: np.zeros_like(v) for k, v in params.items()},
            {k: np.zeros_like(v) for k, v in params.items()}, np.float32(1), x, y)
    median = lambda fn: float(np.median([_util.once(fn) for _ in range(repeats)]))
    rows = {"trace (make_jaxpr)": median(lambda: fnad.make_jaxpr(train_step)(*args)),
            "trace + passes (jit(f).lower)": median(lambda: fnad.jit(train_step).lower(*args))}
    if cold_c:
        with cold_kernel_cache():
            rows["first call, c, cold kernel cache"] = _util.once(
                lambda: fnad.jit(train_step, backend="c")(*args))
    for backend in ("numpy", "c"):  # (c: kernels from the disk cache, built above or before)
        rows[f"first call, {backend}"] = median(
            lambda b=backend: fnad.jit(train_step, backend=b)(*args))
    run = stepper(fnad.jit(train_step), params, x, y)
    rows["later calls, numpy (one step)"] = _util.compare({"step": run}, min_time=0.2)["step"]
    jax = _util.optional("jax")
    if jax is not None:
        jax.numpy.zeros(1).block_until_ready()  # start the runtime outside the timing
        rows["JAX jit, first call"] = median(
            lambda: jax.block_until_ready(jax_step()(*jax.device_put(args))))
    table = _util.Table(f"dispatch: first call of the jitted MLP train step (batch {batch}, "
                        f"Adam; median of {repeats} fresh functions)", ["phase", "time"])
    for name, t in rows.items():
        table.add(name, _util.fmt_time(t))
    for backend in ("numpy", "c"):
        table.target(f"fnad first call, {backend} / JAX's <= 0.1",
                     _util.ratio(rows, f"first call, {backend}", "JAX jit, first call"), 0.1)
    return table


@contextlib.contextmanager
def cold_kernel_cache() -> Iterator[None]:
    """An empty kernel cache, on disk and in memory, while it is open: every kernel meets
    the C compiler."""
    with tempfile.TemporaryDirectory() as tmp:
        old = os.environ.get("FNAD_CACHE_DIR")
        os.environ["FNAD_CACHE_DIR"] = tmp
        c_backend._COMPILED.clear()
        try:
            yield
        finally:
            os.environ.pop("FNAD_CACHE_DIR") if old is None else os.environ.update(
                FNAD_CACHE_DIR=old)
            c_backend._COMPILED.clear()


def chain(n: int) -> Callable[[Any], Any]:
    """A straight-line program of n elementwise equations (an unrolled loop of sin, mul,
    add, with a new constant each step), summed."""
    def f(x: Any) -> Any:
        for i in range(n // 3):
            x = fnp.sin(x) * 1.01 + 0.001 * i
        return fnp.sum(x)
    return f


def cold_chains(sizes: Sequence[int]) -> _util.Table:
    """The first call of `jit(grad(chain(n)))` on 1000 float32 with an empty kernel cache,
    the CPU time of the C compiler processes in it (they run in parallel), and a later
    call."""
    x = np.linspace(-1, 1, 1000, dtype=np.float32)
    table = _util.Table("dispatch: first call of jit(grad(f)) of a straight-line program of "
                        "n elementwise ops, C backend, empty kernel cache",
                        ["n", "first call", "compiler CPU time", "later call"])
    times = {}
    for n in sizes:
        f = fnad.jit(fnad.grad(chain(n)), backend="c")
        with cold_kernel_cache():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            times[n] = _util.once(lambda f=f: f(x))
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            later = min(_util.once(lambda f=f: f(x)) for _ in range(5))
        cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        table.add(n, _util.fmt_time(times[n]), _util.fmt_time(cpu), _util.fmt_time(later))
    if 10_000 in times:
        table.target("10k ops cold, seconds <= 10", times[10_000], 10.0)
    return table


def main(argv: Sequence[str] | None = None) -> None:
    args = _util.parse_args(__doc__, argv)
    _util.report([per_call(0.05 if args.quick else 4.0),
                  first_calls(8 if args.quick else 128, 1 if args.quick else 5,
                              cold_c=not args.quick),
                  cold_chains((2500,) if args.quick else (2500, 5000, 10_000, 20_000))], args)


if __name__ == "__main__":
    main()
