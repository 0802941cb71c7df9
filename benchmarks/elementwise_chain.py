"""A 10-op elementwise chain on 2^24 float32 values: fnad `jit` fusing it into one C loop
(and the NumPy backend, which reuses buffers but runs one op at a time) against NumPy, JAX
`jit` and PyTorch when installed; and the bandwidth each achieves (bytes read and written
by one pass over the data) against a plain NumPy copy's. Fresh 64 MB outputs cost page
faults that NumPy's copy (glibc's memcpy) absorbs better than a computing loop does, so
the fused chain is also timed writing into its donated input.

Run: `python -m benchmarks.elementwise_chain [--quick] [--markdown PATH]`.
"""

from __future__ import annotations

import statistics
import time
import types
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import fnad
import fnad.numpy as fnp
from benchmarks import _util


def chain(xp: Any, x: Any) -> Any:
    """Ten elementwise ops written against a NumPy-like module; memory-bound once fused."""
    y = x * 1.5
    y = y + 0.5
    y = y * y
    y = y - x
    y = xp.abs(y)
    y = xp.minimum(y, 4.0)
    y = xp.maximum(y, 0.25)
    y = xp.sqrt(y)
    y = y * x
    return y + 1.0


def numpy_in_place(x: np.ndarray) -> np.ndarray:
    """The same chain with one temporary reused through `out=` (NumPy at its best)."""
    y = np.multiply(x, np.float32(1.5))
    for op, b in ((np.add, 0.5), (np.multiply, None), (np.subtract, x), (np.abs, ...),
                  (np.minimum, 4.0), (np.maximum, 0.25), (np.sqrt, ...), (np.multiply, x),
                  (np.add, 1.0)):
        if b is ...:
            op(y, out=y)
        else:
            op(y, y if b is None else b if isinstance(b, np.ndarray) else np.float32(b), out=y)
    return y


def donated_time(x: np.ndarray, repeats: int) -> float:
    """Median seconds of the fused chain writing its result into its donated input: the
    kernel's own bandwidth, without the page faults of a fresh 64 MB output (each call
    gets a copy of `x` made, and faulted in, before the clock starts)."""
    f = fnad.jit(lambda v: chain(fnp, v), backend="c", donate_argnums=0)
    np.testing.assert_allclose(f(x.copy()), chain(np, x), rtol=1e-5, atol=1e-6)
    times = []
    for _ in range(repeats):
        v = x.copy()
        t0 = time.perf_counter()
        f(v)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def anchors(x: np.ndarray) -> dict[str, Callable[[], Any]]:
    """JAX jit and PyTorch eager on the same chain, for those installed."""
    out: dict[str, Callable[[], Any]] = {}
    jax = _util.optional("jax")
    if jax is not None:
        f = jax.jit(lambda v: chain(jax.numpy, v))
        jx = jax.device_put(x)
        out["JAX jit"] = lambda: f(jx).block_until_ready()
    torch = _util.optional("torch")
    if torch is not None:
        tx = torch.from_numpy(x)
        like_np = types.SimpleNamespace(abs=torch.abs, sqrt=torch.sqrt,
                                        minimum=torch.clamp_max, maximum=torch.clamp_min)
        out["PyTorch eager"] = lambda: chain(like_np, tx)
    return out


def main(argv: Sequence[str] | None = None) -> None:
    args = _util.parse_args(__doc__, argv)
    n = 1 << (12 if args.quick else 24)
    x = np.random.default_rng(0).uniform(-2, 2, n).astype(np.float32)
    jitted = {b: fnad.jit(lambda v: chain(fnp, v), backend=b) for b in ("c", "numpy")}
    expected = chain(np, x)
    for f in (*jitted.values(), numpy_in_place):
        np.testing.assert_allclose(f(x), expected, rtol=1e-5, atol=1e-6)  # FMA
    systems = {"fnad jit c (fused)": lambda: jitted["c"](x),
               "fnad jit numpy": lambda: jitted["numpy"](x),
               "NumPy": lambda: chain(np, x),
               "NumPy, out= in place": lambda: numpy_in_place(x),
               **anchors(x),
               "NumPy copy (x.copy())": x.copy}
    times = _util.measure(systems, args, 8.0)
    times["fnad jit c (fused, donated input)"] = donated_time(x, 3 if args.quick else 40)
    bandwidth = lambda t: 2 * x.nbytes / t / 1e9  # one read and one write of n floats
    table = _util.timing_table(
        f"elementwise_chain: 10 ops on 2^{n.bit_length() - 1} float32, "
        f"{_util.THREADS} thread(s)", times, "NumPy",
        {"GB/s (read+write)": lambda name, t: f"{bandwidth(t):.2f}"})
    fused = times["fnad jit c (fused)"]
    table.target("NumPy / fnad fused C >= 3", times["NumPy"] / fused, 3.0, above=True)
    table.target("NumPy out= in place / fnad fused C",
                 times["NumPy, out= in place"] / fused)
    table.target("fused C bandwidth / NumPy copy's >= 0.6",
                 times["NumPy copy (x.copy())"] / fused, 0.6, above=True)
    table.target("the same, writing into the donated input (no fresh pages) >= 0.6",
                 times["NumPy copy (x.copy())"] / times["fnad jit c (fused, donated input)"],
                 0.6, above=True)
    table.target("fnad fused C / JAX jit", _util.ratio(times, "fnad jit c (fused)", "JAX jit"))
    _util.report([table], args)


if __name__ == "__main__":
    main()
