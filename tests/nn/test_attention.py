"""Self-attention against a NumPy reference; causality; the transformer block's residuals."""

from __future__ import annotations

import numpy as np
import pytest

import fnad
from fnad import nn, random

RNG = np.random.default_rng(4)
X = RNG.standard_normal((2, 5, 6))


def np_mha(p, x, heads, causal):
    n, t, d = x.shape

    def proj(name):
        y = x @ p[name]["w"] + p[name]["b"]
        return y.reshape(n, t, heads, -1).transpose(0, 2, 1, 3)

    q, k, v = proj("q"), proj("k"), proj("v")
    s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(q.shape[-1])
    if causal:
        s = np.where(np.tril(np.ones((t, t), bool)), s, -np.inf)
    a = np.exp(s - s.max(-1, keepdims=True))
    a /= a.sum(-1, keepdims=True)
    o = (a @ v).transpose(0, 2, 1, 3).reshape(n, t, -1)
    return o @ p["o"]["w"] + p["o"]["b"]


def init64(layer, shape=(-1, 5, 6)):
    _, params, state = layer.init(random.key(0), shape)
    params = fnad.tree.tree_map(lambda a: np.asarray(a, np.float64) +
                                RNG.standard_normal(np.shape(a)) * 0.1, params)
    return params, state


def test_matches_reference():
    for heads, causal in [(2, False), (3, True), (1, True)]:
        layer = nn.MultiHeadSelfAttention(heads, causal=causal)
        params, state = init64(layer)
        y, _ = layer.apply(params, state, X)
        np.testing.assert_allclose(y, np_mha(params, X, heads, causal), rtol=1e-10)


def test_causal_outputs_ignore_the_future():
    layer = nn.TransformerBlock(2, 8, causal=True)
    params, state = init64(layer)
    y, _ = layer.apply(params, state, X)
    changed = X.copy()
    changed[:, 3:] += 10.0
    y2, _ = layer.apply(params, state, changed)
    np.testing.assert_allclose(y[:, :3], y2[:, :3], rtol=1e-10)
    assert not np.allclose(y[:, 3:], y2[:, 3:])


def test_transformer_block_is_residual():
    # with the output projections zeroed, both branches add nothing: the block is identity
    layer = nn.TransformerBlock(2, 8)
    params, state = init64(layer)
    attn_o = params[0][1][0][1]["o"]
    mlp_out = params[1][1][0][3]
    for p in (attn_o, mlp_out):
        p["w"], p["b"] = np.zeros_like(p["w"]), np.zeros_like(p["b"])
    np.testing.assert_allclose(layer.apply(params, state, X)[0], X, rtol=1e-12)


def test_heads_must_divide_width():
    with pytest.raises(ValueError, match="divisible"):
        nn.MultiHeadSelfAttention(4).init(random.key(0), (-1, 5, 6))
