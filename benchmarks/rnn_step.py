"""One training step of a recurrent classifier (a vanilla tanh RNN or an LSTM, hidden 128,
over 50 steps with `lax.scan`, then dense 10; softmax cross-entropy; Adam), batch 32,
float32: fnad `jit` on the NumPy and C backends and eager fnad, against a hand-written
NumPy forward / backpropagation through time / Adam (vanilla RNN), JAX `jit` with
`lax.scan` and PyTorch eager (`nn.RNN` / `nn.LSTM`) when installed, all from the same
parameters.

Run: `python -m benchmarks.rnn_step [--quick] [--markdown PATH]`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import fnad
from benchmarks import _util
from fnad import nn

FULL = {"batch": 32, "steps": 50, "features": 32, "hidden": 128}
QUICK = {"batch": 2, "steps": 3, "features": 4, "hidden": 8}
LR, B1, B2, EPS = 1e-3, 0.9, 0.999, 1e-8
CELLS = {"rnn": nn.SimpleRNNCell, "lstm": nn.LSTMCell}
GATES = {"rnn": "h", "lstm": "ifgo"}  # PyTorch's order of the LSTM gates


def model(cell: str, hidden: int) -> nn.Layer:
    return nn.serial(nn.RNN(CELLS[cell](hidden), return_sequences=False), nn.Dense(10))


def data(cell: str, batch: int, steps: int, features: int, hidden: int
         ) -> tuple[Any, np.ndarray, np.ndarray]:
    """Initial parameters (NumPy arrays, shared by every system), sequences and labels."""
    rng = np.random.default_rng(0)
    _, params, _ = model(cell, hidden).init(fnad.random.key(0), (-1, steps, features))
    x = rng.standard_normal((batch, steps, features)).astype(np.float32)
    return params, x, rng.integers(0, 10, batch).astype(np.int32)


def fnad_step(cell: str, hidden: int) -> Callable[..., tuple[Any, Any]]:
    apply, opt = model(cell, hidden).apply, fnad.optim.adam(LR, B1, B2, EPS)

    def step(state: tuple, x: Any, y: Any) -> tuple[tuple, Any]:
        params, opt_state = state
        loss = lambda p: nn.softmax_cross_entropy(apply(p, ((), ()), x)[0], y)
        value, grads = fnad.value_and_grad(loss)(params)
        updates, opt_state = opt.update(grads, opt_state, params)
        return (fnad.optim.apply_updates(params, updates), opt_state), value

    return step


def numpy_rnn_run(params: Any, x: np.ndarray, y: np.ndarray) -> Callable[[], Any]:
    """Hand-written vanilla RNN: forward, backpropagation through time, in-place Adam."""
    p = {"wi": params[0]["h"]["wi"], "wh": params[0]["h"]["wh"], "b": params[0]["h"]["b"],
         "w": params[1]["w"], "bd": params[1]["b"]}
    p = {k: v.copy() for k, v in p.items()}
    m = {k: np.zeros_like(v) for k, v in p.items()}
    v = {k: np.zeros_like(a) for k, a in p.items()}
    xs = np.ascontiguousarray(x.swapaxes(0, 1))  # (T, N, F)
    onehot = np.eye(10, dtype=np.float32)[y]
    t = [0]

    def run() -> Any:
        hs = [np.zeros((x.shape[0], p["wh"].shape[0]), np.float32)]
        for xt in xs:
            a = xt @ p["wi"]
            a += hs[-1] @ p["wh"]
            a += p["b"]
            hs.append(np.tanh(a, out=a))
        logits = hs[-1] @ p["w"] + p["bd"]
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        s = e.sum(axis=1, keepdims=True)
        loss = np.mean(np.log(s[:, 0]) - np.log((e * onehot).sum(axis=1)))
        d = (e / s - onehot) / x.shape[0]
        g = {"w": hs[-1].T @ d, "bd": d.sum(axis=0), "wi": np.zeros_like(p["wi"]),
             "wh": np.zeros_like(p["wh"]), "b": np.zeros_like(p["b"])}
        dh = d @ p["w"].T
        for i in reversed(range(len(xs))):
            da = dh * (1 - hs[i + 1] * hs[i + 1])
            g["wi"] += xs[i].T @ da
            g["wh"] += hs[i].T @ da
            g["b"] += da.sum(axis=0)
            dh = da @ p["wh"].T
        t[0] += 1
        lr_t = LR * np.sqrt(1 - B2 ** t[0]) / (1 - B1 ** t[0])
        for k, gk in g.items():
            m[k] *= B1
            m[k] += (1 - B1) * gk
            v[k] *= B2
            v[k] += (1 - B2) * (gk * gk)
            p[k] -= lr_t * m[k] / (np.sqrt(v[k]) + EPS)
        return loss

    return run


def jax_run(cell: str, params: Any, x: np.ndarray, y: np.ndarray) -> Callable[[], Any] | None:
    jax = _util.optional("jax")
    if jax is None:
        return None
    jnp = jax.numpy
    affine = lambda q, xt, h: xt @ q["wi"] + h @ q["wh"] + q["b"]

    def rnn(c: Any, q: Any, xt: Any) -> tuple[Any, Any]:
        h = jnp.tanh(affine(q["h"], xt, c))
        return h, h

    def lstm(c: Any, q: Any, xt: Any) -> tuple[Any, Any]:
        cc, h = c
        i, f, o = (jax.nn.sigmoid(affine(q[g], xt, h)) for g in "ifo")
        cc = f * cc + i * jnp.tanh(affine(q["g"], xt, h))
        h = o * jnp.tanh(cc)
        return (cc, h), h

    def loss(p: Any, x: Any, y: Any) -> Any:
        h0 = jnp.zeros((x.shape[0], p[1]["w"].shape[0]), x.dtype)
        carry = h0 if cell == "rnn" else (h0, h0)
        body = rnn if cell == "rnn" else lstm
        _, hs = jax.lax.scan(lambda c, xt: body(c, p[0], xt), carry, jnp.swapaxes(x, 0, 1))
        logits = hs[-1] @ p[1]["w"] + p[1]["b"]
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], 1))

    return _util.jax_adam_stepper(loss, params, x, y, LR, B1, B2, EPS)


def torch_run(cell: str, params: Any, x: np.ndarray, y: np.ndarray
              ) -> Callable[[], Any] | None:
    torch = _util.optional("torch")
    if torch is None:
        return None
    tnn = torch.nn
    gates = [params[0][g] for g in GATES[cell]]
    features, hidden = gates[0]["wi"].shape
    rnn = (tnn.RNN if cell == "rnn" else tnn.LSTM)(features, hidden, batch_first=True)
    dense = tnn.Linear(hidden, 10)
    cat = lambda key: torch.from_numpy(np.concatenate([q[key] for q in gates], axis=-1))
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(cat("wi").T)
        rnn.weight_hh_l0.copy_(cat("wh").T)
        rnn.bias_ih_l0.copy_(cat("b"))
        rnn.bias_hh_l0.zero_()
        dense.weight.copy_(torch.from_numpy(params[1]["w"].T))
        dense.bias.copy_(torch.from_numpy(params[1]["b"]))
    opt = torch.optim.Adam([*rnn.parameters(), *dense.parameters()], lr=LR, betas=(B1, B2),
                           eps=EPS)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y).long()

    def run() -> Any:
        opt.zero_grad()
        loss = tnn.functional.cross_entropy(dense(rnn(tx)[0][:, -1]), ty)
        loss.backward()
        opt.step()
        return loss.detach()

    return run


def systems(cell: str, hidden: int, params: Any, x: np.ndarray, y: np.ndarray
            ) -> dict[str, Callable[[], Any]]:
    """Fresh steppers of every system, all from `params`."""
    opt = fnad.optim.adam(LR, B1, B2, EPS)
    runs = _util.fnad_train_systems(fnad_step(cell, hidden), lambda: (params, opt.init(params)),
                                    x, y)
    if cell == "rnn":
        runs["NumPy by hand"] = numpy_rnn_run(params, x, y)
    for name, make in (("JAX jit", jax_run), ("PyTorch eager", torch_run)):
        run = make(cell, params, x, y)
        if run is not None:
            runs[name] = run
    return runs


def bench(cell: str, sizes: dict[str, int], args: argparse.Namespace) -> _util.Table:
    params, x, y = data(cell, **sizes)
    runs = systems(cell, sizes["hidden"], params, x, y)
    _util.check_losses(runs)
    times = _util.measure(runs, args, 6.0)
    baseline = "NumPy by hand" if "NumPy by hand" in times else "fnad jit numpy"
    table = _util.timing_table(
        f"rnn_step: {cell.upper()} train step, hidden {sizes['hidden']}, {sizes['steps']} steps "
        f"(scan), batch {sizes['batch']}, {sizes['features']} features, Adam, float32, "
        f"{_util.THREADS} thread(s)", times, baseline)
    best = min(("fnad jit numpy", "fnad jit c"), key=times.get)
    for anchor in ("JAX jit", "PyTorch eager"):
        table.target(f"{best} / {anchor}", _util.ratio(times, best, anchor))
    return table


def main(argv: Sequence[str] | None = None) -> None:
    args = _util.parse_args(__doc__, argv)
    sizes = QUICK if args.quick else FULL
    _util.report([bench(cell, sizes, args) for cell in CELLS], args)


if __name__ == "__main__":
    main()
