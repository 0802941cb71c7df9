"""Multi-head self-attention (Vaswani et al., 2017) and a pre-LayerNorm transformer block,
as layers of `fnad.nn.layers`' convention, over batch-first sequences (N, T, D).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import fnad.numpy as fnp
from fnad.core.ir import get_aval
from fnad.nn import activations, initializers
from fnad.nn.layers import (
    Dense,
    Dropout,
    Gelu,
    Layer,
    LayerNorm,
    Shape,
    residual,
    serial,
    split_keys,
)


def dot_product_attention(q: Any, k: Any, v: Any, causal: bool = False) -> Any:
    """`softmax(q k^T / sqrt(d)) v` over (..., T, d) arrays; `causal` hides later positions
    from earlier ones."""
    scores = fnp.matmul(q, fnp.swapaxes(k, -1, -2)) / math.sqrt(get_aval(q).shape[-1])
    if causal:
        t_q, t_k = get_aval(scores).shape[-2:]
        visible = np.tril(np.ones((t_q, t_k), bool))
        scores = fnp.where(visible, scores, np.finfo(get_aval(scores).dtype).min)
    return fnp.matmul(activations.softmax(scores, axis=-1), v)


def MultiHeadSelfAttention(num_heads: int, head_features: int | None = None,  # noqa: N802
                           causal: bool = False, w_init: Any = None) -> Layer:
    """Self-attention with `num_heads` heads of `head_features` each (default D / heads):
    params {"q", "k", "v", "o"}, each a Dense's {"w", "b"}; output shape = input shape."""
    w_init = initializers.glorot_uniform() if w_init is None else w_init

    def sizes(d: int) -> int:
        if head_features is None and d % num_heads:
            raise ValueError(f"model width {d} is not divisible by {num_heads} heads; "
                             "give head_features")
        return head_features or d // num_heads

    def init(key: Any, shape: Shape) -> tuple[Any, Any, Any]:
        d = shape[-1]
        inner = num_heads * sizes(d)
        keys = split_keys(key, 4)
        params = {name: Dense(out, w_init).init(k, (*shape[:-1], inp))[1]
                  for name, k, inp, out in zip("qkvo", keys, (d, d, d, inner),
                                                (inner, inner, inner, d))}
        return tuple(shape), params, ()

    def heads(x: Any, p: Any, hf: int) -> Any:
        y = fnp.matmul(x, p["w"]) + p["b"]
        n, t = get_aval(y).shape[:2]
        return fnp.swapaxes(fnp.reshape(y, (n, t, num_heads, hf)), 1, 2)

    def apply(params: Any, state: Any, x: Any, *, key: Any = None, train: bool = False) -> Any:
        x = fnp.asarray(x)
        n, t, d = get_aval(x).shape
        hf = sizes(d)
        out = dot_product_attention(*(heads(x, params[c], hf) for c in "qkv"), causal=causal)
        out = fnp.reshape(fnp.swapaxes(out, 1, 2), (n, t, num_heads * hf))
        return fnp.matmul(out, params["o"]["w"]) + params["o"]["b"], state

    return Layer(init, apply)


def TransformerBlock(num_heads: int, mlp_features: int, causal: bool = False,  # noqa: N802
                     dropout_rate: float = 0.0) -> Layer:
    """Pre-LN transformer block (Xiong et al., 2020): `x + Attn(LN(x))`, then
    `x + MLP(LN(x))` with a GELU MLP of width `mlp_features`; dropout after each branch."""

    def init(key: Any, shape: Shape) -> tuple[Any, Any, Any]:
        return block(shape[-1]).init(key, shape)

    def apply(params: Any, state: Any, x: Any, *, key: Any = None, train: bool = False) -> Any:
        return block(get_aval(x).shape[-1]).apply(params, state, x, key=key, train=train)

    def block(d: int) -> Layer:
        return serial(
            residual(LayerNorm(), MultiHeadSelfAttention(num_heads, causal=causal),
                     Dropout(dropout_rate)),
            residual(LayerNorm(), Dense(mlp_features), Gelu, Dense(d), Dropout(dropout_rate)))

    return Layer(init, apply)


__all__ = ["MultiHeadSelfAttention", "TransformerBlock", "dot_product_attention"]
