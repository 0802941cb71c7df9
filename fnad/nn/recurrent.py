"""Recurrent cells (SimpleRNN, LSTM, GRU) as `Cell(init, apply, initial_carry)` triples, and
`RNN`, the layer that runs a cell over the time axis with `lax.scan` (one equation however
long the sequence, and reverse-differentiable).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

import fnad.numpy as fnp
from fnad import lax
from fnad.core.ir import get_aval
from fnad.nn import activations, initializers
from fnad.nn.layers import Layer, Shape, split_keys


class Cell(NamedTuple):
    """`init(key, input_features) -> params`; `apply(params, carry, x) -> (carry, h)` for one
    time step of a batch `x` (..., features); `initial_carry(batch_shape, dtype)`."""

    init: Callable[[Any, int], Any]
    apply: Callable[[Any, Any, Any], tuple[Any, Any]]
    initial_carry: Callable[..., Any]


def _gates(names: str, hidden: int, kernel_init: Any, recurrent_init: Any,
           bias: dict[str, float]) -> Callable[[Any, int], Any]:
    """Params with one {"wi": (in, hidden), "wh": (hidden, hidden), "b": (hidden,)} per gate."""

    def init(key: Any, features: int) -> dict[str, Any]:
        keys = split_keys(key, 2 * len(names))
        return {g: {"wi": kernel_init(keys[2 * i], (features, hidden)),
                    "wh": recurrent_init(keys[2 * i + 1], (hidden, hidden)),
                    "b": np.full(hidden, bias.get(g, 0.0), np.float32)}
                for i, g in enumerate(names)}

    return init


def _affine(p: dict[str, Any], x: Any, h: Any) -> Any:
    return fnp.matmul(x, p["wi"]) + fnp.matmul(h, p["wh"]) + p["b"]


def _zeros_carry(hidden: int, parts: int) -> Callable[..., Any]:
    def initial_carry(batch_shape: tuple[int, ...], dtype: Any = np.float32) -> Any:
        z = np.zeros((*batch_shape, hidden), dtype)
        return z if parts == 1 else (z,) * parts
    return initial_carry


def _default_inits(kernel_init: Any, recurrent_init: Any) -> tuple[Any, Any]:
    return (initializers.glorot_uniform() if kernel_init is None else kernel_init,
            initializers.orthogonal() if recurrent_init is None else recurrent_init)


def SimpleRNNCell(hidden: int, activation: Callable[[Any], Any] = activations.tanh,  # noqa: N802
                  kernel_init: Any = None, recurrent_init: Any = None) -> Cell:
    """Elman's cell: `h' = activation(x wi + h wh + b)`; the carry and output are `h'`."""
    ki, ri = _default_inits(kernel_init, recurrent_init)

    def apply(params: Any, h: Any, x: Any) -> tuple[Any, Any]:
        h = activation(_affine(params["h"], x, h))
        return h, h

    return Cell(_gates("h", hidden, ki, ri, {}), apply, _zeros_carry(hidden, 1))


def LSTMCell(hidden: int, forget_bias: float = 1.0, kernel_init: Any = None,  # noqa: N802
             recurrent_init: Any = None) -> Cell:
    """Long short-term memory (Hochreiter & Schmidhuber, 1997, with a forget gate):
    `i, f, o = sigmoid(.)`, `g = tanh(.)`, `c' = f c + i g`, `h' = o tanh(c')`; the carry
    is `(c, h)`, the output `h'`. The forget gate's bias starts at `forget_bias`."""
    ki, ri = _default_inits(kernel_init, recurrent_init)

    def apply(params: Any, carry: Any, x: Any) -> tuple[Any, Any]:
        c, h = carry
        i, f, o = (activations.sigmoid(_affine(params[g], x, h)) for g in "ifo")
        g = fnp.tanh(_affine(params["g"], x, h))
        c = f * c + i * g
        h = o * fnp.tanh(c)
        return (c, h), h

    return Cell(_gates("ifgo", hidden, ki, ri, {"f": forget_bias}), apply,
                _zeros_carry(hidden, 2))


def GRUCell(hidden: int, kernel_init: Any = None, recurrent_init: Any = None) -> Cell:  # noqa: N802
    """Gated recurrent unit (Cho et al., 2014), with the reset gate applied after the
    recurrent product (as cuDNN and PyTorch do): `r, z = sigmoid(.)`,
    `n = tanh(x wi_n + b_n + r (h wh_n + bh_n))`, `h' = (1 - z) n + z h`."""
    ki, ri = _default_inits(kernel_init, recurrent_init)
    base = _gates("rzn", hidden, ki, ri, {})

    def init(key: Any, features: int) -> dict[str, Any]:
        params = base(key, features)
        params["n"]["bh"] = np.zeros(hidden, np.float32)
        return params

    def apply(params: Any, h: Any, x: Any) -> tuple[Any, Any]:
        r, z = (activations.sigmoid(_affine(params[g], x, h)) for g in "rz")
        pn = params["n"]
        n = fnp.tanh(fnp.matmul(x, pn["wi"]) + pn["b"] + r * (fnp.matmul(h, pn["wh"]) + pn["bh"]))
        h = (1 - z) * n + z * h
        return h, h

    return Cell(init, apply, _zeros_carry(hidden, 1))


def RNN(cell: Cell, return_sequences: bool = True) -> Layer:  # noqa: N802
    """Run `cell` over batch-first sequences (N, T, F) from a zero carry, with `lax.scan`;
    the output is every step's output (N, T, H), or the last one (N, H)."""

    def init(key: Any, shape: Shape) -> tuple[Any, Any, Any]:
        params = cell.init(key, shape[-1])
        out = cell.apply(params, cell.initial_carry((1,)), np.zeros((1, shape[-1]), np.float32))
        hidden = get_aval(out[1]).shape[-1]
        out_shape = (shape[0], shape[1], hidden) if return_sequences else (shape[0], hidden)
        return out_shape, params, ()

    def apply(params: Any, state: Any, x: Any, *, key: Any = None, train: bool = False) -> Any:
        x = fnp.asarray(x)
        carry = cell.initial_carry(get_aval(x).shape[:1], get_aval(x).dtype)
        last, ys = lax.scan(lambda c, xt: cell.apply(params, c, xt), carry,
                            fnp.swapaxes(x, 0, 1))
        if return_sequences:
            return fnp.swapaxes(ys, 0, 1), state
        shape = get_aval(ys).shape
        last = lax.slice(ys, (shape[0] - 1,) + (0,) * (len(shape) - 1), shape)
        return fnp.reshape(last, shape[1:]), state

    return Layer(init, apply)


__all__ = ["Cell", "GRUCell", "LSTMCell", "RNN", "SimpleRNNCell"]
