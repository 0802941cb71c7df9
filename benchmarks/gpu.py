"""fnad on a GPU: the MLP train step of `benchmarks.jit_mlp` and the CNN train step of
`benchmarks.cnn_step` with fnad `jit` (fused CUDA kernels through CuPy) against eager fnad
on CuPy arrays, hand-written CuPy (the MLP's NumPy step run on CuPy arrays) and JAX `jit`
when it has a GPU; and the bandwidth a fused elementwise kernel (the 10-op chain of
`benchmarks.elementwise_chain`) achieves against the device's measured copy bandwidth.

Without CuPy, a GPU, or fnad's CuPy backend it says so and returns (exit status 0).
Run: `python -m benchmarks.gpu [--quick] [--markdown PATH]`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

import numpy as np

import fnad
import fnad.numpy as fnp
from benchmarks import _util, cnn_step, elementwise_chain, jit_mlp
from fnad.backends import available_backends


def find_gpu() -> tuple[ModuleType | None, str]:
    """(cupy, device name), or (None, why there is no usable GPU)."""
    cupy = _util.optional("cupy")
    if cupy is None:
        return None, "CuPy is not installed (pip install 'fnad[cuda12]' or 'fnad[cuda13]')"
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            return None, "CuPy finds no CUDA device"
        name = cupy.cuda.runtime.getDeviceProperties(0)["name"]
    except Exception as e:  # noqa: BLE001 - no driver, no device: CuPy raises its own errors
        return None, f"CuPy cannot reach a GPU ({type(e).__name__}: {e})"
    if "cupy" not in available_backends() or not hasattr(fnad, "device_put"):
        return None, "this fnad has no CuPy backend (fnad.backends lists no 'cupy')"
    return cupy, name.decode() if isinstance(name, bytes) else str(name)


def gpu_jax() -> ModuleType | None:
    """JAX, when it runs on a GPU (a CPU-only JAX is no anchor here)."""
    jax = _util.optional("jax")
    return jax if jax is not None and jax.default_backend() == "gpu" else None


def synced(cupy: ModuleType, fns: dict[str, Callable[[], Any]]) -> dict[str, Callable[[], Any]]:
    """Each fn followed by a device synchronization, so wall time covers the GPU work."""
    def wrap(fn: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            out = fn()
            cupy.cuda.get_current_stream().synchronize()
            return out
        return run

    return {name: wrap(fn) for name, fn in fns.items()}


def mlp_systems(cupy: ModuleType, batch: int) -> dict[str, Callable[[], Any]]:
    params, x, y = jit_mlp.init(batch)
    dev = lambda tree: fnad.device_put(tree, "gpu")
    gp, gx, gy = dev(params), dev(x), dev(y)
    runs = {"fnad jit": jit_mlp.stepper(fnad.jit(jit_mlp.train_step, donate_argnums=(0, 1, 2)),
                                        gp, gx, gy),
            "fnad eager (CuPy impls)": jit_mlp.stepper(jit_mlp.train_step, gp, gx, gy),
            # NumPy functions dispatch to CuPy on CuPy arrays (__array_ufunc__/_function__)
            "CuPy by hand": jit_mlp.stepper(jit_mlp.numpy_step, gp, gx, gy)}
    jax = gpu_jax()
    if jax is not None:
        f = jit_mlp.jax_step()
        runs["JAX jit"] = jit_mlp.stepper(lambda *a: jax.block_until_ready(tuple(f(*a))),
                                          *jax.device_put((params, x, y)))
    return synced(cupy, runs)


def cnn_systems(cupy: ModuleType, side: int, batch: int) -> dict[str, Callable[[], Any]]:
    params, x, y = cnn_step.data(side, batch)
    opt = fnad.optim.adam(cnn_step.LR)
    state = lambda: fnad.device_put((params, opt.init(params)), "gpu")
    gx, gy = fnad.device_put((x, y), "gpu")
    step = cnn_step.fnad_step()
    runs = {"fnad jit": _util.stepper(fnad.jit(step, donate_argnums=0), state(), gx, gy),
            "fnad eager (CuPy impls)": _util.stepper(step, state(), gx, gy)}
    if gpu_jax() is not None:
        runs["JAX jit"] = cnn_step.jax_run(params, x, y)
    return synced(cupy, runs)


def bandwidth_table(cupy: ModuleType, n: int, args: Any) -> _util.Table:
    x = cupy.asarray(np.random.default_rng(0).uniform(-2, 2, n).astype(np.float32))
    dst = cupy.empty_like(x)
    fused = fnad.jit(lambda v: elementwise_chain.chain(fnp, v))
    np.testing.assert_allclose(cupy.asnumpy(fused(x)),
                               elementwise_chain.chain(np, cupy.asnumpy(x)), rtol=1e-5, atol=1e-6)
    runs = {"fnad jit (one fused kernel)": lambda: fused(x),
            "CuPy eager (one kernel per op)": lambda: elementwise_chain.chain(cupy, x),
            "device copy (cupy.copyto)": lambda: cupy.copyto(dst, x)}
    jax = gpu_jax()
    if jax is not None:
        jf = jax.jit(lambda v: elementwise_chain.chain(jax.numpy, v))
        jx = jax.device_put(cupy.asnumpy(x))
        runs["JAX jit"] = lambda: jf(jx).block_until_ready()
    times = _util.measure(synced(cupy, runs), args, 4.0)
    table = _util.timing_table(
        f"gpu: 10-op elementwise chain on 2^{n.bit_length() - 1} float32", times,
        "CuPy eager (one kernel per op)",
        {"GB/s (read+write)": lambda name, t: f"{2 * x.nbytes / t / 1e9:.1f}"})
    table.target("fused kernel bandwidth / device copy's",
                 times["device copy (cupy.copyto)"] / times["fnad jit (one fused kernel)"])
    return table


def main(argv: Sequence[str] | None = None) -> None:
    args = _util.parse_args(__doc__, argv)
    cupy, device = find_gpu()
    if cupy is None:
        _util.report_skip("gpu", device, args)
        return
    batch = 8 if args.quick else 128
    side, cnn_batch = cnn_step.QUICK if args.quick else cnn_step.FULL
    tables = []
    for title, runs in ((f"MLP 784-256-128-10 train step, Adam, batch {batch}",
                         mlp_systems(cupy, batch)),
                        (f"CNN train step on 1x{side}x{side}, Adam, batch {cnn_batch}",
                         cnn_systems(cupy, side, cnn_batch))):
        _util.check_losses(runs)
        times = _util.measure(runs, args, 4.0)
        table = _util.timing_table(f"gpu ({device}): {title}", times, "fnad jit")
        table.target("fnad jit / JAX jit", _util.ratio(times, "fnad jit", "JAX jit"))
        tables.append(table)
    tables.append(bandwidth_table(cupy, 1 << (12 if args.quick else 26), args))
    _util.report(tables, args)


if __name__ == "__main__":
    main()
