"""Per-example gradients of the 784-256-128-10 MLP (ReLU, softmax cross-entropy) at batch
128, float32: fnad `jit(vmap(grad))` on both backends against a Python loop of jitted
`grad`, hand-written batched NumPy (per-example outer products), and JAX's
`jit(vmap(grad))` and PyTorch's `torch.func.vmap(grad)` when installed. With each example
given as a (1, d) row, the weight gradients contract a size-1 axis (outer products too).

The work is memory-bound: the first layer's 128 x 784 x 256 per-example gradients alone
are 100 MB. Run: `python -m benchmarks.per_example_grads [--quick] [--markdown PATH]`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import fnad
import fnad.numpy as fnp
from benchmarks import _util

FULL = ((784, 256, 128, 10), 128)
QUICK = ((12, 8, 6, 3), 4)


def init(sizes: Sequence[int], batch: int, seed: int = 0
         ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    params = {}
    for i, (m, n) in enumerate(zip(sizes[:-1], sizes[1:])):
        params[f"w{i}"] = (rng.standard_normal((m, n)) / np.sqrt(m)).astype(np.float32)
        params[f"b{i}"] = (0.1 * rng.standard_normal(n)).astype(np.float32)
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    y = np.eye(sizes[-1], dtype=np.float32)[rng.integers(0, sizes[-1], batch)]
    return params, x, y


def example_loss(xp: Any, relu: Callable[[Any], Any], logsumexp: Callable[[Any], Any]
                 ) -> Callable[..., Any]:
    """The loss of ONE example (x: (784,), y one-hot (10,)) written against a NumPy-like
    module, so that fnad, JAX and PyTorch run the same program."""

    def loss(params: dict[str, Any], x: Any, y: Any) -> Any:
        n = len(params) // 2
        h = x
        for i in range(n):
            h = xp.matmul(h, params[f"w{i}"]) + params[f"b{i}"]
            if i < n - 1:
                h = relu(h)
        return logsumexp(h) - xp.sum(h * y)

    return loss


def numpy_per_example(outer: Callable[[np.ndarray, np.ndarray], np.ndarray]
                      ) -> Callable[..., dict[str, np.ndarray]]:
    """Hand-written batched forward and backward; `outer(a, d)` forms the (B, m, n)
    per-example weight gradients from activations a (B, m) and deltas d (B, n)."""

    def grads(params: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray
              ) -> dict[str, np.ndarray]:
        n = len(params) // 2
        acts, pre = [x], []
        for i in range(n):
            z = x @ params[f"w{i}"] if i == 0 else acts[-1] @ params[f"w{i}"]
            z += params[f"b{i}"]
            pre.append(z)
            acts.append(np.maximum(z, 0) if i < n - 1 else z)
        e = np.exp(acts[-1] - acts[-1].max(axis=1, keepdims=True))
        d = e / e.sum(axis=1, keepdims=True) - y
        out = {}
        for i in reversed(range(n)):
            out[f"w{i}"], out[f"b{i}"] = outer(acts[i], d), d
            if i:
                d = (d @ params[f"w{i}"].T) * (pre[i - 1] > 0)
        return out

    return grads


def broadcast_outer(a: np.ndarray, d: np.ndarray) -> np.ndarray:
    return a[:, :, None] * d[:, None, :]


def einsum_outer(a: np.ndarray, d: np.ndarray) -> np.ndarray:
    return np.einsum("bi,bj->bij", a, d)


def fnad_systems(params: dict, x: np.ndarray, y: np.ndarray) -> dict[str, Callable[[], Any]]:
    loss = example_loss(fnp, fnad.nn.relu, fnad.nn.logsumexp)
    batched = {b: fnad.jit(fnad.vmap(fnad.grad(loss), in_axes=(None, 0, 0)), backend=b)
               for b in ("numpy", "c")}
    one = fnad.jit(fnad.grad(loss))
    rows, row_labels = x[:, None, :], y[:, None, :]  # each example a (1, d) row
    return {"fnad jit(vmap(grad)) numpy": lambda: batched["numpy"](params, x, y),
            "fnad jit(vmap(grad)) c": lambda: batched["c"](params, x, y),
            "fnad jit(vmap(grad)) c, (1, d) rows": lambda: batched["c"](params, rows,
                                                                       row_labels),
            "fnad loop of jit(grad)": lambda: [one(params, x[i], y[i])
                                               for i in range(x.shape[0])]}


def jax_system(params: dict, x: np.ndarray, y: np.ndarray) -> Callable[[], Any] | None:
    jax = _util.optional("jax")
    if jax is None:
        return None
    loss = example_loss(jax.numpy, jax.nn.relu, jax.nn.logsumexp)
    f = jax.jit(jax.vmap(jax.grad(loss), in_axes=(None, 0, 0)))
    jp, jx, jy = jax.device_put((params, x, y))
    return lambda: jax.block_until_ready(f(jp, jx, jy))


def torch_system(params: dict, x: np.ndarray, y: np.ndarray) -> Callable[[], Any] | None:
    torch = _util.optional("torch")
    if torch is None:
        return None
    loss = example_loss(torch, torch.relu, lambda h: torch.logsumexp(h, 0))
    f = torch.func.vmap(torch.func.grad(loss), in_dims=(None, 0, 0))
    tp = {k: torch.from_numpy(v) for k, v in params.items()}
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    return lambda: f(tp, tx, ty)


def check(params: dict, x: np.ndarray, y: np.ndarray) -> None:
    """fnad's per-example gradients agree with the hand-written ones."""
    expected = numpy_per_example(broadcast_outer)(params, x, y)
    loss = example_loss(fnp, fnad.nn.relu, fnad.nn.logsumexp)
    for backend in ("numpy", "c"):
        f = fnad.jit(fnad.vmap(fnad.grad(loss), in_axes=(None, 0, 0)), backend=backend)
        for got in (f(params, x, y), f(params, x[:, None, :], y[:, None, :])):
            for k, v in expected.items():
                np.testing.assert_allclose(got[k].reshape(v.shape), v, rtol=2e-3, atol=2e-5,
                                           err_msg=k)


def main(argv: Sequence[str] | None = None) -> None:
    args = _util.parse_args(__doc__, argv)
    sizes, batch = QUICK if args.quick else FULL
    params, x, y = init(sizes, batch)
    check(params, x, y)
    systems = fnad_systems(params, x, y)
    systems["NumPy by hand (broadcast)"] = lambda: numpy_per_example(broadcast_outer)(
        params, x, y)
    systems["NumPy by hand (einsum)"] = lambda: numpy_per_example(einsum_outer)(params, x, y)
    for name, make in (("JAX jit(vmap(grad))", jax_system),
                       ("PyTorch func.vmap(grad)", torch_system)):
        run = make(params, x, y)
        if run is not None:
            systems[name] = run
    times = _util.measure(systems, args, 6.0)
    floor = "NumPy by hand (broadcast)"
    table = _util.timing_table(
        f"per_example_grads: MLP {'-'.join(map(str, sizes))}, batch {batch}, float32, "
        f"{_util.THREADS} thread(s)", times, floor)
    best = min(("fnad jit(vmap(grad)) numpy", "fnad jit(vmap(grad)) c"), key=times.get)
    table.notes.append(f"fnad's best backend: {best}")
    table.target("loop of jit(grad) / fnad jit(vmap(grad)) >= 3",
                 _util.ratio(times, "fnad loop of jit(grad)", best), 3.0, above=True)
    table.target(f"fnad jit(vmap(grad)) / {floor} <= 1.1", _util.ratio(times, best, floor), 1.1)
    table.target(f"fnad jit(vmap(grad)) on (1, d) rows / {floor} <= 1.1",
                 _util.ratio(times, "fnad jit(vmap(grad)) c, (1, d) rows", floor), 1.1)
    table.target("fnad jit(vmap(grad)) / JAX jit(vmap(grad))",
                 _util.ratio(times, best, "JAX jit(vmap(grad))"))
    _util.report([table], args)


if __name__ == "__main__":
    main()
