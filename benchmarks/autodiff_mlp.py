"""Reverse mode's cost on a 784-256-128-10 MLP loss (batch 128), eager fnad against HIPS
autograd and PyTorch eager when importable, and jacfwd against jacrev over a grid of sizes.

Run: `python -m benchmarks.autodiff_mlp` (or through the benchmarks runner).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

import fnad
import fnad.numpy as fnp
from benchmarks import _util
from benchmarks._util import compare

SIZES = (784, 256, 128, 10)
BATCH = 128


def median_time(fn: Callable[[], Any], repeats: int = 30, warmup: int = 3) -> float:
    """Median wall time of `fn()` in seconds."""
    return compare({"fn": fn}, min_time=0.0, min_repeats=repeats, warmup=warmup)["fn"]


def init(seed: int = 0) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    params = []
    for m, n in zip(SIZES[:-1], SIZES[1:]):
        params += [(rng.standard_normal((m, n)) / np.sqrt(m)).astype(np.float32),
                   np.zeros(n, np.float32)]
    x = rng.standard_normal((BATCH, SIZES[0])).astype(np.float32)
    y = np.eye(SIZES[-1], dtype=np.float32)[rng.integers(0, SIZES[-1], BATCH)]
    return params, x, y


def mlp_loss(np_like: Any) -> Callable[..., Any]:
    """The same softmax cross-entropy loss written against a NumPy-like module."""

    def loss(params: list[Any], x: Any, y: Any) -> Any:
        h = x
        for i in range(0, len(params) - 2, 2):
            h = np_like.maximum(np_like.matmul(h, params[i]) + params[i + 1], 0.0)
        logits = np_like.matmul(h, params[-2]) + params[-1]
        m = np_like.max(logits, axis=1, keepdims=True)
        lse = np_like.log(np_like.sum(np_like.exp(logits - m), axis=1, keepdims=True)) + m
        return -np_like.mean(np_like.sum((logits - lse) * y, axis=1))

    return loss


def time_both(loss: Callable[..., Any], vg: Callable[..., Any], *args: Any) -> dict[str, float]:
    """Median times of the forward pass and of value_and_grad on the same arguments, timed
    in turn so that their ratio holds under a changing machine load."""
    return compare({"forward": lambda: loss(*args), "value_and_grad": lambda: vg(*args)},
                   min_time=1.0, min_repeats=30, warmup=3)


def bench_fnad(params: list[np.ndarray], x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    loss = mlp_loss(fnp)
    return time_both(loss, fnad.value_and_grad(loss), params, x, y)


def bench_autograd(params: list[np.ndarray], x: np.ndarray, y: np.ndarray
                   ) -> dict[str, float] | None:
    try:
        import autograd
        import autograd.numpy as anp
    except ImportError:
        return None
    loss = mlp_loss(anp)
    return time_both(loss, autograd.value_and_grad(loss), params, x, y)


def bench_torch(params: list[np.ndarray], x: np.ndarray, y: np.ndarray
                ) -> dict[str, float] | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    tparams = [torch.tensor(p, requires_grad=True) for p in params]
    tx, ty = torch.tensor(x), torch.tensor(y)

    def loss() -> Any:
        h = tx
        for i in range(0, len(tparams) - 2, 2):
            h = torch.relu(h @ tparams[i] + tparams[i + 1])
        logits = h @ tparams[-2] + tparams[-1]
        return -(torch.log_softmax(logits, dim=1) * ty).sum(1).mean()

    def value_and_grad() -> Any:
        for p in tparams:
            p.grad = None
        out = loss()
        out.backward()
        return out

    def forward() -> Any:
        with torch.no_grad():
            return loss()

    return time_both(forward, value_and_grad)


def jacobian_grid(sizes: tuple[int, ...] = (8, 128, 1024)) -> list[tuple[int, int, float, float]]:
    """(n inputs, m outputs, jacfwd time, jacrev time) of x -> tanh(A @ x)."""
    rng = np.random.default_rng(1)
    rows = []
    for n in sizes:
        for m in sizes:
            a = rng.standard_normal((m, n)).astype(np.float32) / np.sqrt(n)
            x = rng.standard_normal(n).astype(np.float32)
            f = lambda v, a=a: fnp.tanh(fnp.matmul(a, v))
            jf, jr = fnad.jacfwd(f), fnad.jacrev(f)
            rows.append((n, m, median_time(functools.partial(jf, x), 5, 1),
                         median_time(functools.partial(jr, x), 5, 1)))
    return rows


def main() -> None:
    _util.pin_threads()  # BLAS pools loaded before the thread variables were set
    params, x, y = init()
    print(f"MLP {'-'.join(map(str, SIZES))}, batch {BATCH}, float32, eager, median of 30 runs")
    results = {"fnad": bench_fnad(params, x, y), "autograd": bench_autograd(params, x, y),
               "torch": bench_torch(params, x, y)}
    print(f"{'library':<10}{'forward (ms)':>14}{'value_and_grad (ms)':>22}{'ratio':>8}")
    for name, r in results.items():
        if r is None:
            print(f"{name:<10}{'not installed':>14}")
            continue
        print(f"{name:<10}{r['forward'] * 1e3:>14.3f}{r['value_and_grad'] * 1e3:>22.3f}"
              f"{r['value_and_grad'] / r['forward']:>8.2f}")
    base = results["fnad"]["value_and_grad"]
    for name in ("autograd", "torch"):
        if results[name] is not None:
            print(f"fnad value_and_grad / {name}: {base / results[name]['value_and_grad']:.2f}x")
    print("\njacfwd vs jacrev, f(x) = tanh(A @ x): R^n -> R^m (ms)")
    print(f"{'n':>6}{'m':>6}{'jacfwd':>10}{'jacrev':>10}  faster")
    for n, m, tf, tr in jacobian_grid():
        print(f"{n:>6}{m:>6}{tf * 1e3:>10.3f}{tr * 1e3:>10.3f}  "
              f"{'jacfwd' if tf < tr else 'jacrev'}")


if __name__ == "__main__":
    main()
