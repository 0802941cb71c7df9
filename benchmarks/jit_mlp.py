"""The jit compiler on the reference network: an MLP 784-256-128-10 (ReLU, softmax
cross-entropy, Adam) train step at batch 128 and 1024, float32. Prints medians for the
fnad jit step (NumPy backend), eager fnad, a hand-written NumPy forward/backward/Adam (the
floor), JAX jit and PyTorch when importable; the first-call latency (trace + passes +
codegen) and the per-call overhead of a jitted 3-op scalar function.

Run: `python -m benchmarks.jit_mlp` (or through the benchmarks runner). Threads as
benchmarks/_util.py sets them (FNAD_BENCH_THREADS: a count, default 1, or "default").
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import fnad
import fnad.numpy as fnp
from benchmarks import _util
from benchmarks._util import compare
from fnad.backends import available_backends

SIZES = (784, 256, 128, 10)
LR, B1, B2, EPS = 1e-3, 0.9, 0.999, 1e-8


def median_time(fn: Callable[[], Any], min_time: float = 0.5, min_repeats: int = 5) -> float:
    """Median wall time of `fn()` in seconds, over at least `min_time` seconds of calls."""
    return compare({"fn": fn}, min_time, min_repeats)["fn"]


def init(batch: int, seed: int = 0) -> tuple[dict, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    params = {}
    for i, (m, n) in enumerate(zip(SIZES[:-1], SIZES[1:])):
        params[f"w{i}"] = (rng.standard_normal((m, n)) / np.sqrt(m)).astype(np.float32)
        params[f"b{i}"] = np.zeros(n, np.float32)
    x = rng.standard_normal((batch, SIZES[0])).astype(np.float32)
    y = np.eye(SIZES[-1], dtype=np.float32)[rng.integers(0, SIZES[-1], batch)]
    return params, x, y


def zeros_like(params: dict) -> dict:
    return {k: np.zeros_like(v) for k, v in params.items()}


# ---------------------------------------------------------------------------- fnad

def loss_fn(params: dict, x: Any, y: Any) -> Any:
    h = x
    for i in range(len(SIZES) - 1):
        h = h @ params[f"w{i}"] + params[f"b{i}"]
        if i < len(SIZES) - 2:
            h = fnp.maximum(h, 0.0)
    top = fnad.lax.stop_gradient(fnp.max(h, axis=1, keepdims=True))
    lse = fnp.log(fnp.sum(fnp.exp(h - top), axis=1, keepdims=True)) + top
    return fnp.mean(lse - fnp.sum(h * y, axis=1, keepdims=True))


def train_step(params: dict, m: dict, v: dict, t: Any, x: Any, y: Any) -> tuple:
    """One Adam step; `t` (the step number, from 1) is a traced float: no retrace per step."""
    loss, grads = fnad.value_and_grad(loss_fn)(params, x, y)
    lr_t = LR * fnp.sqrt(1 - fnp.exp(t * math.log(B2))) / (1 - fnp.exp(t * math.log(B1)))
    new_p, new_m, new_v = {}, {}, {}
    for k, g in grads.items():
        new_m[k] = B1 * m[k] + (1 - B1) * g
        new_v[k] = B2 * v[k] + (1 - B2) * (g * g)
        new_p[k] = params[k] - lr_t * new_m[k] / (fnp.sqrt(new_v[k]) + EPS)
    return new_p, new_m, new_v, loss


# ---------------------------------------------------------------------------- NumPy floor

def numpy_step(params: dict, m: dict, v: dict, t: float, x: np.ndarray, y: np.ndarray
               ) -> tuple:
    """Hand-written forward, backward and in-place Adam."""
    n_layers = len(SIZES) - 1
    acts, pre = [x], []
    h = x
    for i in range(n_layers):
        z = h @ params[f"w{i}"]
        z += params[f"b{i}"]
        pre.append(z)
        h = np.maximum(z, 0) if i < n_layers - 1 else z
        acts.append(h)
    top = h.max(axis=1, keepdims=True)
    e = np.exp(h - top)
    s = e.sum(axis=1, keepdims=True)
    loss = np.mean(np.log(s[:, 0]) + top[:, 0] - (h * y).sum(axis=1))
    d = (e / s - y) / x.shape[0]
    grads = {}
    for i in reversed(range(n_layers)):
        grads[f"w{i}"] = acts[i].T @ d
        grads[f"b{i}"] = d.sum(axis=0)
        if i:
            d = d @ params[f"w{i}"].T
            d *= pre[i - 1] > 0
    lr_t = LR * np.sqrt(1 - B2 ** t) / (1 - B1 ** t)
    for k, g in grads.items():
        m[k] *= B1
        m[k] += (1 - B1) * g
        v[k] *= B2
        v[k] += (1 - B2) * (g * g)
        params[k] -= lr_t * m[k] / (np.sqrt(v[k]) + EPS)
    return params, m, v, loss


# ---------------------------------------------------------------------------- others

def jax_step() -> Callable[..., Any] | None:
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None

    def loss(params, x, y):
        h = x
        for i in range(len(SIZES) - 1):
            h = h @ params[f"w{i}"] + params[f"b{i}"]
            if i < len(SIZES) - 2:
                h = jnp.maximum(h, 0.0)
        return jnp.mean(jax.nn.logsumexp(h, axis=1) - jnp.sum(h * y, axis=1))

    def step(params, m, v, t, x, y):
        value, grads = jax.value_and_grad(loss)(params, x, y)
        lr_t = LR * jnp.sqrt(1 - B2 ** t) / (1 - B1 ** t)
        m = jax.tree_util.tree_map(lambda a, g: B1 * a + (1 - B1) * g, m, grads)
        v = jax.tree_util.tree_map(lambda a, g: B2 * a + (1 - B2) * g * g, v, grads)
        params = jax.tree_util.tree_map(lambda p, a, b: p - lr_t * a / (jnp.sqrt(b) + EPS),
                                        params, m, v)
        return params, m, v, value

    jitted = jax.jit(step, donate_argnums=(0, 1, 2))
    # JAX dispatches asynchronously: wait for the results, or only the dispatch is timed
    return lambda *args: jax.block_until_ready(jitted(*args))


def torch_step(params: dict, x: np.ndarray, y: np.ndarray) -> Callable[[], Any] | None:
    torch = _util.optional("torch")  # pinned to the benchmark's threads
    if torch is None:
        return None
    ps = [torch.tensor(params[k], requires_grad=True) for k in sorted(params)]
    opt = torch.optim.Adam(ps, lr=LR, betas=(B1, B2), eps=EPS)
    xt, yt = torch.tensor(x), torch.tensor(y).argmax(1)
    names = sorted(params)

    def step() -> Any:
        p = dict(zip(names, ps))
        h = xt
        for i in range(len(SIZES) - 1):
            h = h @ p[f"w{i}"] + p[f"b{i}"]
            if i < len(SIZES) - 2:
                h = torch.relu(h)
        loss = torch.nn.functional.cross_entropy(h, yt)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    return step


# ---------------------------------------------------------------------------- running

def stepper(step: Callable[..., tuple], params: dict, x: np.ndarray, y: np.ndarray
            ) -> Callable[[], Any]:
    """A closure running one step per call, feeding each step's state to the next."""
    state = {"p": {k: a.copy() for k, a in params.items()}, "m": zeros_like(params),
             "v": zeros_like(params), "t": 0}

    def run() -> Any:
        state["t"] += 1
        state["p"], state["m"], state["v"], loss = step(state["p"], state["m"], state["v"],
                                                        np.float32(state["t"]), x, y)
        return loss

    return run


def check_same_losses(params: dict, x: np.ndarray, y: np.ndarray) -> None:
    """Three steps of the jitted, eager and NumPy versions agree."""
    runs = [stepper(s, params, x, y) for s in (fnad.jit(train_step), train_step, numpy_step)]
    for _ in range(3):
        losses = [float(r()) for r in runs]
        if not np.allclose(losses, losses[0], rtol=1e-4):
            raise AssertionError(f"train steps disagree: jit, eager, numpy = {losses}")


def first_call_latency(params: dict, x: np.ndarray, y: np.ndarray) -> float:
    jitted = fnad.jit(train_step, donate_argnums=(0, 1, 2))
    run = stepper(jitted, params, x, y)
    t0 = time.perf_counter()
    run()
    return time.perf_counter() - t0


def overhead() -> dict[str, float]:
    """Per-call time of a jitted 3-op function of a scalar (dispatch + generated code)."""
    s = np.float32(0.5)
    f = fnad.jit(lambda x: fnp.tanh(x) * 2.0 + 1.0)
    fns = {"fnad jit": lambda: f(s),
           "NumPy, same 3 ops": lambda: np.tanh(s) * np.float32(2) + np.float32(1)}
    try:
        import jax
        import jax.numpy as jnp
        g = jax.jit(lambda x: jnp.tanh(x) * 2.0 + 1.0)
        js = jnp.float32(0.5)
        fns["JAX jit"] = lambda: g(js).block_until_ready()
    except ImportError:
        pass
    return compare(fns, min_time=1.0)


def main() -> None:
    _util.pin_threads()  # BLAS pools loaded before the thread variables were set
    print(f"jit_mlp: MLP {'-'.join(map(str, SIZES))}, ReLU, softmax cross-entropy, Adam, "
          f"float32, {_util.THREADS} thread(s)")
    jax_jit = jax_step()
    for batch in (128, 1024):
        params, x, y = init(batch)
        check_same_losses(params, x, y)
        runs = {
            f"fnad jit ({backend})": stepper(fnad.jit(train_step, donate_argnums=(0, 1, 2),
                                                      backend=backend), params, x, y)
            for backend in available_backends()
        }
        runs.update({
            "fnad eager": stepper(train_step, params, x, y),
            "NumPy by hand": stepper(numpy_step, params, x, y),
        })
        if jax_jit is not None:
            runs["JAX jit"] = stepper(lambda *a: tuple(jax_jit(*a)), params, x, y)
        torch_run = torch_step(params, x, y)
        if torch_run is not None:
            runs["PyTorch eager"] = torch_run
        times = compare(runs, min_time=4.0)
        floor = times["NumPy by hand"]
        print(f"  batch {batch}: train step, median")
        for name, t in times.items():
            print(f"    {name:<18} {t * 1e3:8.3f} ms   {t / floor:5.2f}x NumPy")
        if "JAX jit" in times:
            best = min((n for n in times if n.startswith("fnad jit")), key=times.get)
            r = times[best] / times["JAX jit"]
            print(f"    target: {best} / JAX jit <= 1.0: {r:.2f} "
                  f"({'met' if r <= 1.0 else 'NOT met'})")
    params, x, y = init(128)
    latency = first_call_latency(params, x, y)
    print(f"  first call of the jitted train step (trace + passes + codegen + run): "
          f"{latency * 1e3:.1f} ms")
    print("  per-call time of a jitted 3-op scalar function:")
    for name, t in overhead().items():
        print(f"    {name:<18} {t * 1e6:8.2f} us")


if __name__ == "__main__":
    main()
