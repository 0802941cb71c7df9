"""One training step of a small CNN (conv 3x3x8 - ReLU - maxpool 2, conv 3x3x16 - ReLU -
maxpool 2, dense 10; softmax cross-entropy; Adam) on 1x28x28 images, batch 128, float32:
fnad `jit` on the NumPy and C backends and eager fnad, against JAX `jit` and PyTorch eager
when installed, all starting from the same parameters.

Then the bench-shaped CNN (32 and 64 channels, batch 64), its 2x2 pooling written two ways:
as `max` over a reshape (`x.reshape(B, C, H // 2, 2, W // 2, 2).max(axis=(3, 5))`, which
the jit rewrites into a window max) and as `reduce_window`. The loss is one function body
run on fnad's and JAX's `numpy`/`lax`/`nn` modules alike.

Run: `python -m benchmarks.cnn_step [--quick] [--markdown PATH]`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import fnad
from benchmarks import _util
from fnad import nn

FULL = (28, 128)
QUICK = (8, 4)
LR = 1e-3
CONVS, DENSE = (0, 3), 7  # positions of the parametrized layers in `model()`
BENCH_FULL, BENCH_QUICK = (28, 64), (8, 4)  # (side, batch) of the bench-shaped CNN
BENCH_CHANNELS = (32, 64)
POOLINGS = ("reshape-max", "reduce_window")


def model() -> nn.Layer:
    return nn.serial(nn.Conv2D(8, 3, padding="SAME"), nn.Relu, nn.MaxPool2D(2),
                     nn.Conv2D(16, 3, padding="SAME"), nn.Relu, nn.MaxPool2D(2),
                     nn.Flatten, nn.Dense(10))


def data(side: int, batch: int) -> tuple[Any, np.ndarray, np.ndarray]:
    """Initial parameters (NumPy arrays, shared by every system), images and labels."""
    rng = np.random.default_rng(0)
    _, params, _ = model().init(fnad.random.key(0), (-1, 1, side, side))
    x = rng.standard_normal((batch, 1, side, side)).astype(np.float32)
    return params, x, rng.integers(0, 10, batch).astype(np.int32)


def fnad_step() -> Callable[..., tuple[Any, Any]]:
    apply, opt = model().apply, fnad.optim.adam(LR)
    n_layers = 8

    def step(state: tuple, x: Any, y: Any) -> tuple[tuple, Any]:
        params, opt_state = state
        loss = lambda p: nn.softmax_cross_entropy(apply(p, ((),) * n_layers, x)[0], y)
        value, grads = fnad.value_and_grad(loss)(params)
        updates, opt_state = opt.update(grads, opt_state, params)
        return (fnad.optim.apply_updates(params, updates), opt_state), value

    return step


def jax_run(params: Any, x: np.ndarray, y: np.ndarray) -> Callable[[], Any] | None:
    jax = _util.optional("jax")
    if jax is None:
        return None
    jnp, lax = jax.numpy, jax.lax

    def loss(p: Any, x: Any, y: Any) -> Any:
        h = x
        for i in CONVS:
            h = lax.conv_general_dilated(h, p[i]["w"], (1, 1), "SAME") + p[i]["b"][:, None, None]
            h = lax.reduce_window(jnp.maximum(h, 0), -jnp.inf, lax.max, (1, 1, 2, 2),
                                  (1, 1, 2, 2), "VALID")
        logits = h.reshape(h.shape[0], -1) @ p[DENSE]["w"] + p[DENSE]["b"]
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], 1))

    return _util.jax_adam_stepper(loss, params, x, y, LR)


def torch_run(params: Any, x: np.ndarray, y: np.ndarray) -> Callable[[], Any] | None:
    torch = _util.optional("torch")
    if torch is None:
        return None
    tnn = torch.nn
    net = tnn.Sequential(tnn.Conv2d(1, 8, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
                         tnn.Conv2d(8, 16, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
                         tnn.Flatten(), tnn.Linear(params[DENSE]["w"].shape[0], 10))
    with torch.no_grad():
        for i in (*CONVS, DENSE):
            w = params[i]["w"]
            net[i].weight.copy_(torch.from_numpy(w.T if i == DENSE else w))
            net[i].bias.copy_(torch.from_numpy(params[i]["b"]))
    return torch_stepper(torch, net, x, y)


def torch_stepper(torch: Any, net: Any, x: np.ndarray, y: np.ndarray) -> Callable[[], Any]:
    """A closure running one PyTorch Adam step of `net` on (x, y), returning the loss."""
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y).long()

    def run() -> Any:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(tx), ty)
        loss.backward()
        opt.step()
        return loss.detach()

    return run


def systems(params: Any, x: np.ndarray, y: np.ndarray) -> dict[str, Callable[[], Any]]:
    """Fresh steppers of every system, all from `params`."""
    opt = fnad.optim.adam(LR)
    runs = _util.fnad_train_systems(fnad_step(), lambda: (params, opt.init(params)), x, y)
    for name, make in (("JAX jit", jax_run), ("PyTorch eager", torch_run)):
        run = make(params, x, y)
        if run is not None:
            runs[name] = run
    return runs


# ------------------------------------------------------------------ the bench-shaped CNN

def bench_data(side: int, batch: int) -> tuple[list[dict[str, np.ndarray]], np.ndarray,
                                               np.ndarray]:
    """Parameters (OIHW kernels, a (features, 10) dense weight), images and labels."""
    rng = np.random.default_rng(1)
    params, c_in = [], 1
    for c in BENCH_CHANNELS:
        w = rng.standard_normal((c, c_in, 3, 3)) * np.sqrt(2 / (9 * c_in))
        params.append({"w": w.astype(np.float32), "b": np.zeros(c, np.float32)})
        c_in = c
    features = c_in * (side // 4) ** 2
    params.append({"w": (rng.standard_normal((features, 10)) / np.sqrt(features)
                         ).astype(np.float32), "b": np.zeros(10, np.float32)})
    x = rng.standard_normal((batch, 1, side, side)).astype(np.float32)
    return params, x, rng.integers(0, 10, batch).astype(np.int32)


def bench_loss(fnp: Any, lax: Any, nn_: Any, pooling: str) -> Callable[..., Any]:
    """The loss of the bench-shaped CNN written against a `numpy`, `lax` and `nn` module
    (fnad's or JAX's), with 2x2 max pooling written as `pooling`."""

    def pool(h: Any) -> Any:
        if pooling == "reduce_window":
            return lax.reduce_window(h, -np.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
        b, c, hh, ww = h.shape
        return h.reshape(b, c, hh // 2, 2, ww // 2, 2).max(axis=(3, 5))

    def loss(p: Any, x: Any, y: Any) -> Any:
        h = x
        for layer in p[:-1]:
            h = lax.conv_general_dilated(h, layer["w"], (1, 1), "SAME")
            h = pool(fnp.maximum(h + layer["b"][:, None, None], 0))
        logits = h.reshape(h.shape[0], -1) @ p[-1]["w"] + p[-1]["b"]
        logp = nn_.log_softmax(logits)
        return -fnp.mean(fnp.take_along_axis(logp, y[:, None], axis=1))

    return loss


def bench_systems(params: Any, x: np.ndarray, y: np.ndarray) -> dict[str, Callable[[], Any]]:
    """Steppers of the bench-shaped CNN: fnad jit (NumPy and C backends) and JAX jit with
    each pooling, and PyTorch eager (`MaxPool2d`)."""
    opt = fnad.optim.adam(LR)
    fresh = lambda: fnad.tree.tree_map(np.array, (params, opt.init(params)))
    runs: dict[str, Callable[[], Any]] = {}
    jax = _util.optional("jax")
    for pooling in POOLINGS:
        loss = bench_loss(fnad.numpy, fnad.lax, fnad.nn, pooling)

        def step(state: tuple, x: Any, y: Any, loss: Callable[..., Any] = loss
                 ) -> tuple[tuple, Any]:
            p, opt_state = state
            value, grads = fnad.value_and_grad(loss)(p, x, y)
            updates, opt_state = opt.update(grads, opt_state, p)
            return (fnad.optim.apply_updates(p, updates), opt_state), value

        for backend in ("numpy", "c"):
            runs[f"fnad jit {backend}, {pooling}"] = _util.stepper(
                fnad.jit(step, donate_argnums=0, backend=backend), fresh(), x, y)
        if jax is not None:
            runs[f"JAX jit, {pooling}"] = _util.jax_adam_stepper(
                bench_loss(jax.numpy, jax.lax, jax.nn, pooling), params, x, y, LR)
    torch = torch_bench_run(params, x, y)
    if torch is not None:
        runs["PyTorch eager"] = torch
    return runs


def torch_bench_run(params: Any, x: np.ndarray, y: np.ndarray) -> Callable[[], Any] | None:
    torch = _util.optional("torch")
    if torch is None:
        return None
    tnn = torch.nn
    layers: list[Any] = []
    for p in params[:-1]:
        conv = tnn.Conv2d(p["w"].shape[1], p["w"].shape[0], 3, padding=1)
        layers += [conv, tnn.ReLU(), tnn.MaxPool2d(2)]
    net = tnn.Sequential(*layers, tnn.Flatten(), tnn.Linear(params[-1]["w"].shape[0], 10))
    with torch.no_grad():
        for module, p in zip([m for m in net if hasattr(m, "weight")], params):
            module.weight.copy_(torch.from_numpy(p["w"].T if p["w"].ndim == 2 else p["w"]))
            module.bias.copy_(torch.from_numpy(p["b"]))
    return torch_stepper(torch, net, x, y)


def main(argv: Sequence[str] | None = None) -> None:
    args = _util.parse_args(__doc__, argv)
    side, batch = QUICK if args.quick else FULL
    params, x, y = data(side, batch)
    runs = systems(params, x, y)
    _util.check_losses(runs)
    times = _util.measure(runs, args, 8.0)
    table = _util.timing_table(f"cnn_step: CNN train step on 1x{side}x{side}, batch {batch}, "
                               f"Adam, float32, {_util.THREADS} thread(s)", times,
                               "fnad jit numpy")
    best = min(("fnad jit numpy", "fnad jit c"), key=times.get)
    for anchor in ("JAX jit", "PyTorch eager"):
        table.target(f"{best} / {anchor}", _util.ratio(times, best, anchor))
    table.notes.append("no hand-written NumPy CNN: the floor here is fnad's own NumPy backend")
    _util.report([table, bench_table(args)], args)


def bench_table(args: Any) -> _util.Table:
    """The bench-shaped CNN's table, with the goals against JAX jit and PyTorch eager."""
    side, batch = BENCH_QUICK if args.quick else BENCH_FULL
    runs = bench_systems(*bench_data(side, batch))
    _util.check_losses(runs)
    times = _util.measure(runs, args, 10.0)
    first = f"fnad jit numpy, {POOLINGS[0]}"
    channels = "/".join(map(str, BENCH_CHANNELS))
    table = _util.timing_table(f"cnn_step: bench-shaped CNN ({channels} channels) train step "
                               f"on 1x{side}x{side}, batch {batch}, Adam, float32, "
                               f"{_util.THREADS} thread(s)", times, first)
    for pooling in POOLINGS:
        best = min((n for n in times if n.startswith("fnad") and n.endswith(pooling)),
                   key=times.get)
        table.target(f"{best} / JAX jit, {pooling}",
                     _util.ratio(times, best, f"JAX jit, {pooling}"), 1.0)
        table.target(f"{best} / PyTorch eager", _util.ratio(times, best, "PyTorch eager"))
    return table


if __name__ == "__main__":
    main()
