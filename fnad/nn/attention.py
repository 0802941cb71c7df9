"""Multi-head self-attention (Vaswani et al., 2017) and a pre-LayerNorm transformer block,
as layers of `fnad.nn.layers`' convention, over batch-first sequences (N, T, D).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import fnad.numpy as fnp
from fnad import lax
from fnad.core.dtypes import canonical
from fnad.core.errors import ArgumentError, ShapeError, TransformError
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


def _as_4d(x: Any) -> Any:
    x = fnp.asarray(x)
    nd = get_aval(x).ndim
    return fnp.reshape(x, (1,) * (4 - nd) + get_aval(x).shape) if nd < 4 else x


def _attention_mask(t: int, s: int, is_causal: bool, window: tuple[int, int] | None,
                    q_lengths: Any, kv_lengths: Any) -> Any:
    """The (B or 1, 1, T, S) boolean mask of allowed (query, key) pairs; None: all are."""
    if not is_causal and window is None and q_lengths is None and kv_lengths is None:
        return None
    qpos, kpos = np.arange(t)[:, None], np.arange(s)[None, :]
    allowed = np.ones((t, s), bool)
    if is_causal:
        allowed &= kpos <= qpos
    if window is not None:
        left, right = window
        allowed &= (qpos <= kpos + left) & (qpos >= kpos - right)
    mask: Any = allowed[None, None]
    if q_lengths is not None:
        mask = mask & (np.arange(t)[None, None, :, None] < fnp.reshape(q_lengths, (-1, 1, 1, 1)))
    if kv_lengths is not None:
        mask = mask & (np.arange(s)[None, None, None, :] < fnp.reshape(kv_lengths, (-1, 1, 1, 1)))
    return mask


def _check_attention_args(q: Any, k: Any, v: Any, mask: Any, q_lengths: Any,
                          kv_lengths: Any) -> None:
    """JAX's checks on what broadcasting or promotion would otherwise accept silently: query
    and value of the key's dtype, a boolean mask, int32 lengths of shape (B,)."""
    kdt = canonical(get_aval(k).dtype)
    for name, t in (("query", q), ("value", v)):
        if canonical(get_aval(t).dtype) != kdt:
            raise ArgumentError(f"dot_product_attention: {name} dtype {get_aval(t).dtype} must "
                                f"be the key's, {get_aval(k).dtype}; cast them to one dtype.")
    mask_dtype = None if mask is None else get_aval(fnp.asarray(mask)).dtype
    if mask_dtype is not None and mask_dtype != np.bool_:
        raise ArgumentError(f"dot_product_attention: mask must be boolean (True: attend), got "
                            f"{mask_dtype}; compare it, e.g. mask != 0.")
    b = get_aval(k).shape[0]
    for name, lengths in (("query_seq_lengths", q_lengths), ("key_value_seq_lengths",
                                                              kv_lengths)):
        if lengths is None:
            continue
        aval = get_aval(fnp.asarray(lengths))
        if aval.shape != (b,) or canonical(aval.dtype) != np.int32:
            raise ArgumentError(f"dot_product_attention: {name} must be an int32 array of "
                                f"shape ({b},), one length per batch entry; got "
                                f"{aval.dtype}{list(aval.shape)}.")


def dot_product_attention(query: Any, key: Any, value: Any, bias: Any = None, mask: Any = None,
                          *, scale: float | None = None, is_causal: bool = False,
                          query_seq_lengths: Any = None, key_value_seq_lengths: Any = None,
                          local_window_size: int | tuple[int, int] | None = None,
                          implementation: str | None = None, return_residual: bool = False
                          ) -> Any:
    """Scaled dot-product attention `softmax(scale * q k^T + bias) v`, as JAX's: `query`
    (B, T, N, H) or (T, N, H), `key`/`value` (B, S, K, H) with K dividing N (grouped-query
    attention when K < N). `bias` and the boolean `mask` broadcast to (B, N, T, S);
    `is_causal`, `local_window_size` (left, right) and the per-batch sequence lengths
    mask more; masked logits become a large negative number. `scale` defaults to
    1/sqrt(H). With `return_residual`, also the softmax's log-normalizer per query and
    head, (B, T, N) (JAX's residual for a custom backward pass; no gradient flows in it).

    >>> q = np.ones((2, 1, 4), np.float32)
    >>> dot_product_attention(q, q, q).shape
    (2, 1, 4)
    """
    if implementation not in (None, "xla"):
        raise TransformError(f"dot_product_attention: implementation {implementation!r} is not "
                         "available in fnad; leave it None (one implementation, fused by jit).")
    out_shape = get_aval(fnp.asarray(query)).shape
    q, k, v = _as_4d(query), _as_4d(key), _as_4d(value)
    (b, t, n, h), (kb, s, kh, kd) = get_aval(q).shape, get_aval(k).shape
    if (get_aval(v).shape != get_aval(k).shape or max(len(out_shape),
            get_aval(k).ndim) > 4 or kb != b or kd != h or kh == 0 or n % kh):
        raise ShapeError(
            f"dot_product_attention: query {out_shape}, key {get_aval(fnp.asarray(key)).shape} "
            f"and value {get_aval(fnp.asarray(value)).shape} must be (B, T, N, H), (B, S, K, H) "
            "and (B, S, K, H) (or the same without B), with K dividing N.")
    _check_attention_args(q, k, v, mask, query_seq_lengths, key_value_seq_lengths)
    g = n // kh
    dtype = np.promote_types(get_aval(q).dtype, np.float32)
    scale = 1.0 / math.sqrt(h) if scale is None else scale
    logits = fnp.einsum("btkgh,bskh->bkgts", fnp.reshape(fnp.asarray(q, dtype), (b, t, kh, g, h)),
                        fnp.asarray(k, dtype))
    logits = fnp.reshape(logits, (b, n, t, s)) * np.asarray(scale, dtype)
    if bias is not None:
        logits = logits + fnp.asarray(_as_4d(bias), dtype)
    if isinstance(local_window_size, int):
        local_window_size = (local_window_size, local_window_size)
    allowed = _attention_mask(t, s, is_causal, local_window_size, query_seq_lengths,
                              key_value_seq_lengths)
    if mask is not None:
        allowed = _as_4d(mask) if allowed is None else allowed & _as_4d(mask)
    if allowed is not None:
        # JAX's masked logit, capped at float32's range also for float64
        big = min(float(np.finfo(dtype).max), float(np.finfo(np.float32).max))
        logits = fnp.where(allowed, logits, np.asarray(-0.7 * big, dtype))
    probs = fnp.asarray(activations.softmax(logits, axis=-1), get_aval(v).dtype)
    out = fnp.einsum("bkgts,bskh->btkgh", fnp.reshape(probs, (b, kh, g, t, s)), v)
    out = fnp.reshape(out, (b, t, n, h))
    if query_seq_lengths is not None:  # padded query rows are zero, with or without kv lengths
        rows = np.arange(t)[None, :, None, None] < fnp.reshape(query_seq_lengths, (-1, 1, 1, 1))
        out = out * fnp.asarray(rows, get_aval(out).dtype)
    out = fnp.reshape(out, out_shape)
    if not return_residual:
        return out
    lse = fnp.transpose(activations.logsumexp(logits, axis=-1), (0, 2, 1))  # (B, T, N)
    lse = lax.stop_gradient(fnp.asarray(lse, get_aval(k).dtype))
    return out, fnp.reshape(lse, out_shape[:-1])


def MultiHeadSelfAttention(num_heads: int, head_features: int | None = None,  # noqa: N802
                           causal: bool = False, w_init: Any = None) -> Layer:
    """Self-attention with `num_heads` heads of `head_features` each (default D / heads):
    params {"q", "k", "v", "o"}, each a Dense's {"w", "b"}; output shape = input shape."""
    w_init = initializers.glorot_uniform() if w_init is None else w_init

    def sizes(d: int) -> int:
        if head_features is None and d % num_heads:
            raise ArgumentError(f"model width {d} is not divisible by {num_heads} heads; "
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
        return fnp.reshape(y, (n, t, num_heads, hf))

    def apply(params: Any, state: Any, x: Any, *, key: Any = None, train: bool = False) -> Any:
        x = fnp.asarray(x)
        n, t, d = get_aval(x).shape
        hf = sizes(d)
        out = dot_product_attention(*(heads(x, params[c], hf) for c in "qkv"), is_causal=causal)
        out = fnp.reshape(out, (n, t, num_heads * hf))
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
