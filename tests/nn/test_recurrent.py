"""Recurrent cells against hand-written NumPy references, step by step and over sequences."""

from __future__ import annotations

import numpy as np

import fnad
import fnad.test_util as tu
from fnad import nn, random

RNG = np.random.default_rng(3)
X = RNG.standard_normal((2, 5, 4))  # (N, T, F)
H = 3


def sig(x):
    return 1 / (1 + np.exp(-x))


def lstm_ref(p, x):
    n = x.shape[0]
    c, h, out = np.zeros((n, H)), np.zeros((n, H)), []
    for t in range(x.shape[1]):
        a = {g: x[:, t] @ p[g]["wi"] + h @ p[g]["wh"] + p[g]["b"] for g in "ifgo"}
        c = sig(a["f"]) * c + sig(a["i"]) * np.tanh(a["g"])
        h = sig(a["o"]) * np.tanh(c)
        out.append(h)
    return np.stack(out, 1)


def gru_ref(p, x):
    h, out = np.zeros((x.shape[0], H)), []
    for t in range(x.shape[1]):
        xt = x[:, t]
        r = sig(xt @ p["r"]["wi"] + h @ p["r"]["wh"] + p["r"]["b"])
        z = sig(xt @ p["z"]["wi"] + h @ p["z"]["wh"] + p["z"]["b"])
        n = np.tanh(xt @ p["n"]["wi"] + p["n"]["b"] + r * (h @ p["n"]["wh"] + p["n"]["bh"]))
        h = (1 - z) * n + z * h
        out.append(h)
    return np.stack(out, 1)


def rnn_ref(p, x):
    h, out = np.zeros((x.shape[0], H)), []
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ p["h"]["wi"] + h @ p["h"]["wh"] + p["h"]["b"])
        out.append(h)
    return np.stack(out, 1)


def run(cell, ref, return_sequences=True):
    layer = nn.RNN(cell, return_sequences)
    _, params, state = layer.init(random.key(0), (-1, 5, 4))
    params = fnad_tree_f64(params)
    # random biases so every term of the reference is exercised
    params = {g: {k: v + RNG.standard_normal(v.shape) * 0.1 for k, v in gate.items()}
              for g, gate in params.items()}
    y, _ = layer.apply(params, state, X)
    expected = ref(params, X)
    np.testing.assert_allclose(y, expected if return_sequences else expected[:, -1],
                               rtol=1e-10, atol=1e-12)


def fnad_tree_f64(t):
    return fnad.tree.tree_map(lambda a: np.asarray(a, np.float64), t)


def test_lstm_matches_reference():
    run(nn.LSTMCell(H), lstm_ref)
    run(nn.LSTMCell(H), lstm_ref, return_sequences=False)


def test_gru_matches_reference():
    run(nn.GRUCell(H), gru_ref)


def test_simple_rnn_matches_reference():
    run(nn.SimpleRNNCell(H), rnn_ref)


def test_lstm_forget_bias_and_orthogonal_recurrence():
    params = nn.LSTMCell(H, forget_bias=1.0).init(random.key(0), 4)
    np.testing.assert_array_equal(params["f"]["b"], np.ones(H))
    np.testing.assert_array_equal(params["i"]["b"], np.zeros(H))
    wh = params["i"]["wh"].astype(np.float64)
    np.testing.assert_allclose(wh.T @ wh, np.eye(H), atol=1e-6)


def test_cell_step_gradients():
    cell = nn.GRUCell(H)
    params = fnad_tree_f64(cell.init(random.key(0), 4))
    h0 = RNG.standard_normal((2, H))
    tu.check_grads(lambda p, h, x: cell.apply(p, h, x)[0], (params, h0, X[:, 0]), order=2)
