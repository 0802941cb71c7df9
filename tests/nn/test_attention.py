"""Self-attention against a NumPy reference; causality; the transformer block's residuals."""

from __future__ import annotations

import numpy as np
import pytest

import fnad
import fnad.test_util
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


# ---------------------------------------------------------------------------------------------
# dot_product_attention with JAX's (B, T, N, H) layout, grouped heads and every mask


def np_attention(q, k, v, bias=None, mask=None, scale=None, causal=False, window=None,
                 q_len=None, kv_len=None):
    """Per (batch, head) loops: query head n reads key/value head n // (N // K)."""
    b, t, n, h = q.shape
    s, kh = k.shape[1], k.shape[2]
    scale = 1 / np.sqrt(h) if scale is None else scale
    out = np.zeros(q.shape)
    for bi in range(b):
        for ni in range(n):
            kv = ni // (n // kh)
            logits = q[bi, :, ni] @ k[bi, :, kv].T * scale
            if bias is not None:
                logits = logits + np.broadcast_to(bias, (b, n, t, s))[bi, ni]
            ok = np.ones((t, s), bool)
            if mask is not None:
                ok &= np.broadcast_to(mask, (b, n, t, s))[bi, ni]
            i, j = np.arange(t)[:, None], np.arange(s)[None]
            if causal:
                ok &= j <= i
            if window is not None:
                ok &= (j >= i - window[0]) & (j <= i + window[1])
            if q_len is not None:
                ok &= i < q_len[bi]
            if kv_len is not None:
                ok &= j < kv_len[bi]
            logits = np.where(ok, logits, -0.7 * np.finfo(logits.dtype).max)
            p = np.exp(logits - logits.max(-1, keepdims=True))
            p /= p.sum(-1, keepdims=True)
            out[bi, :, ni] = p @ v[bi, :, kv]
            if q_len is not None:
                out[bi, q_len[bi]:, ni] = 0
    return out


def qkv(b=2, t=4, s=5, n=4, k=2, h=3):
    return (RNG.standard_normal((b, t, n, h)), RNG.standard_normal((b, s, k, h)),
            RNG.standard_normal((b, s, k, h)))


CASES = {
    "plain": {},
    "scale": {"scale": 0.3},
    "bias": {"bias": RNG.standard_normal((1, 4, 4, 5))},
    "mask": {"mask": RNG.random((2, 1, 4, 5)) > 0.3},
    "causal": {"is_causal": True},
    "window": {"local_window_size": (1, 2)},
    "window_int": {"local_window_size": 1},
    "lengths": {"query_seq_lengths": np.array([2, 4], np.int32),
                "key_value_seq_lengths": np.array([3, 5], np.int32)},
    "kv_lengths": {"key_value_seq_lengths": np.array([1, 4], np.int32)},
    # padded query rows are zero without kv lengths too (they were softmax rows)
    "q_lengths": {"query_seq_lengths": np.array([1, 3], np.int32)},
}


def _ref_kwargs(kw):
    w = kw.get("local_window_size")
    return {"bias": kw.get("bias"), "mask": kw.get("mask"), "scale": kw.get("scale"),
            "causal": kw.get("is_causal", False), "window": (w, w) if isinstance(w, int) else w,
            "q_len": kw.get("query_seq_lengths"), "kv_len": kw.get("key_value_seq_lengths")}


@pytest.mark.parametrize("case", CASES)
def test_dot_product_attention_matches_reference(case):
    kw = CASES[case]
    q, k, v = qkv()
    out = nn.dot_product_attention(q, k, v, **kw)
    np.testing.assert_allclose(out, np_attention(q, k, v, **_ref_kwargs(kw)), rtol=1e-10,
                               atol=1e-12)
    assert out.dtype == np.float64 and out.shape == q.shape
    f32 = nn.dot_product_attention(*(a.astype(np.float32) for a in (q, k, v)), **kw)
    assert f32.dtype == np.float32
    np.testing.assert_allclose(f32, out, rtol=1e-4, atol=1e-5)


def test_dot_product_attention_transforms():
    q, k, v = qkv(b=1, t=3, s=3, n=2, k=1, h=2)
    f = lambda q, k, v: nn.dot_product_attention(q, k, v, is_causal=True)
    fnad.test_util.check_grads(f, (q, k, v), order=1)
    fnad.test_util.check_transforms(f, tuple(a.astype(np.float32) for a in (q, k, v)))
    bias = RNG.standard_normal((1, 2, 3, 3))
    fnad.test_util.check_grads(lambda b: nn.dot_product_attention(q, k, v, bias=b), (bias,),
                               order=1)
    # unbatched (T, N, H) inputs are one batch
    out3 = nn.dot_product_attention(q[0], k[0], v[0], is_causal=True)
    np.testing.assert_allclose(out3, f(q, k, v)[0], rtol=1e-12)
    fnad.test_util.check_vmap(lambda q, k, v: nn.dot_product_attention(q, k, v),
                              (q[0], k[0], v[0]), in_axes=0)


def test_dot_product_attention_residual_of_a_masked_row_is_jaxs_float64_too():
    # a row with no allowed key has logits -0.7 * float32's max, in float64 too (as JAX's:
    # it was -0.7 * float64's max), so its log-normalizer residual is that plus log(S)
    q, k, v = qkv()
    mask = np.ones((2, 4, 4, 5), bool)
    mask[0, :, 1] = False
    out, lse = nn.dot_product_attention(q, k, v, mask=mask, return_residual=True)
    expected = -0.7 * float(np.finfo(np.float32).max) + np.log(5)
    np.testing.assert_allclose(lse[0, 1], np.full(4, expected), rtol=1e-12)
    np.testing.assert_allclose(out[0, 1], np.broadcast_to(v[0].mean(0).repeat(2, 0), (4, 3)),
                               rtol=1e-12)


def test_dot_product_attention_bad_input():
    q, k, v = qkv(n=3, k=2)
    with pytest.raises(fnad.ShapeError, match="dividing N"):
        nn.dot_product_attention(q, k, v)
    q, k, v = qkv()
    with pytest.raises(fnad.ShapeError, match="dot_product_attention"):
        nn.dot_product_attention(q, k, v[:, :2])
    with pytest.raises(ValueError, match="implementation"):
        nn.dot_product_attention(q, k, v, implementation="cudnn")
    # as JAX: no silent promotion, truthiness or broadcasting of these (they were accepted)
    with pytest.raises(ValueError, match="query dtype"):
        nn.dot_product_attention(q.astype(np.float16), k, v)
    with pytest.raises(ValueError, match="value dtype"):
        nn.dot_product_attention(q, k, v.astype(np.float16))
    with pytest.raises(ValueError, match="mask must be boolean"):
        nn.dot_product_attention(q, k, v, mask=np.ones((4, 5), np.int32))
    with pytest.raises(ValueError, match=r"query_seq_lengths must be an int32 array of shape \(2,\)"):
        nn.dot_product_attention(q, k, v, query_seq_lengths=np.array([3], np.int32))
    with pytest.raises(ValueError, match="key_value_seq_lengths"):
        nn.dot_product_attention(q, k, v, key_value_seq_lengths=np.array([3.0, 2.0]))
