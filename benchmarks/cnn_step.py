"""One training step of a small CNN (conv 3x3x8 - ReLU - maxpool 2, conv 3x3x16 - ReLU -
maxpool 2, dense 10; softmax cross-entropy; Adam) on 1x28x28 images, batch 128, float32:
fnad `jit` on the NumPy and C backends and eager fnad, against JAX `jit` and PyTorch eager
when installed, all starting from the same parameters.

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
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y).long()

    def run() -> Any:
        opt.zero_grad()
        loss = tnn.functional.cross_entropy(net(tx), ty)
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
    _util.report([table], args)


if __name__ == "__main__":
    main()
