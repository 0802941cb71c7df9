"""Layers: values against NumPy references, shapes from init, gradients (float64), staging,
vmap and jit of every layer; BatchNorm's two modes and dropout's scaling."""

from __future__ import annotations

import numpy as np
import pytest

import fnad
import fnad.test_util as tu
from fnad import nn, random

RNG = np.random.default_rng(0)
KEY = random.key(0)
IMG = RNG.standard_normal((2, 3, 6, 6))
SEQ = RNG.standard_normal((2, 4, 6))
VEC = RNG.standard_normal((3, 5))
IDS = np.array([[1, 0, 3], [2, 2, 4]], np.int32)

# name -> (layer, input, train)
LAYERS = {
    "dense": (nn.Dense(4), VEC, False),
    "mlp": (nn.serial(nn.Dense(4), nn.Tanh, nn.Dense(2), nn.LogSoftmax), VEC, False),
    "conv_valid": (nn.Conv2D(4, 3), IMG, False),
    "conv_same_strided": (nn.Conv2D(2, (3, 2), strides=2, padding="SAME"), IMG, False),
    "conv_dilated": (nn.Conv2D(2, 2, dilation=2, use_bias=False), IMG, False),
    "maxpool": (nn.MaxPool2D(2), IMG, False),
    "avgpool_same": (nn.AvgPool2D(3, strides=2, padding="SAME"), IMG, False),
    "flatten": (nn.serial(nn.Flatten, nn.Dense(3)), IMG, False),
    "dropout": (nn.Dropout(0.5), VEC, True),
    "batchnorm_train": (nn.BatchNorm(), IMG, True),
    "batchnorm_eval": (nn.BatchNorm(), IMG, False),
    "batchnorm_vec": (nn.BatchNorm(), VEC, True),
    "layernorm": (nn.LayerNorm(), SEQ, False),
    "embedding": (nn.Embedding(5, 3), IDS, False),
    "residual": (nn.residual(nn.Dense(5), nn.Relu), VEC, False),
    "fan_concat": (nn.serial(nn.FanOut(2), nn.parallel(nn.Dense(2), nn.Identity),
                             nn.FanInConcat()), VEC, False),
    "basic_block": (nn.BasicBlock(3), IMG, True),
    "basic_block_projection": (nn.BasicBlock(4, strides=2), IMG, True),
    "simple_rnn": (nn.RNN(nn.SimpleRNNCell(3)), SEQ, False),
    "lstm": (nn.RNN(nn.LSTMCell(3)), SEQ, False),
    "gru_last": (nn.RNN(nn.GRUCell(3), return_sequences=False), SEQ, False),
    "attention": (nn.MultiHeadSelfAttention(2), SEQ, False),
    "attention_causal": (nn.MultiHeadSelfAttention(3, head_features=4, causal=True), SEQ, False),
    "transformer": (nn.TransformerBlock(2, 8, causal=True, dropout_rate=0.2), SEQ, True),
}


def build(name, dtype=np.float32):
    layer, x, train = LAYERS[name]
    shape = (-1, *x.shape[1:])
    out_shape, params, state = layer.init(KEY, shape)
    x = x if x.dtype.kind == "i" else x.astype(dtype)
    cast = lambda t: fnad.tree.tree_map(lambda a: np.asarray(a, dtype), t)
    params, state = cast(params), cast(state)

    def f(params, x):
        return layer.apply(params, state, x, key=random.key(1), train=train)[0]

    return layer, params, state, x, out_shape, f


@pytest.mark.parametrize("name", LAYERS)
def test_layer_shapes_and_transforms(name):
    layer, params, state, x, out_shape, f = build(name)
    y = f(params, x)
    assert y.shape == (x.shape[0], *out_shape[1:]) and y.dtype == np.float32
    tu.check_transforms(f, (params, x))
    xs = np.stack([x, x[::-1]])
    tu.check_vmap(f, (params, xs), in_axes=(None, 0))
    tu.assert_allclose(fnad.jit(f)(params, x), y)


@pytest.mark.parametrize("name", LAYERS)
def test_layer_gradients(name):
    _, params, _, x, _, f = build(name, np.float64)
    if x.dtype.kind == "i":
        tu.check_grads(lambda p: f(p, x), (params,), order=1)
    else:
        tu.check_grads(f, (params, x), order=1)


@pytest.mark.parametrize("name", ["mlp", "layernorm", "batchnorm_vec", "lstm"])
def test_second_order(name):
    _, params, _, x, _, f = build(name, np.float64)
    tu.check_grads(f, (params, x), order=2)


# ------------------------------------------------------------------ references

def test_dense_and_embedding_values():
    _, params, _, x, _, f = build("dense", np.float64)
    np.testing.assert_allclose(f(params, x), x @ params["w"] + params["b"])
    assert params["w"].shape == (5, 4)
    _, params, _, ids, _, f = build("embedding", np.float64)
    np.testing.assert_array_equal(f(params, ids), params["table"][ids])


def np_conv(x, w, stride, pad, dil=1):
    x = np.pad(x, ((0, 0), (0, 0), pad[0], pad[1]))
    o, i, kh, kw = w.shape
    eh, ew = dil * (kh - 1) + 1, dil * (kw - 1) + 1
    oh, ow = (x.shape[2] - eh) // stride + 1, (x.shape[3] - ew) // stride + 1
    out = np.zeros((x.shape[0], o, oh, ow))
    for a in range(oh):
        for b in range(ow):
            patch = x[:, :, a * stride:a * stride + eh:dil, b * stride:b * stride + ew:dil]
            out[:, :, a, b] = np.einsum("nihw,oihw->no", patch, w)
    return out


def test_conv_values():
    _, p, _, x, _, f = build("conv_valid", np.float64)
    np.testing.assert_allclose(f(p, x), np_conv(x, p["w"], 1, ((0, 0), (0, 0)))
                               + p["b"][:, None, None], rtol=1e-12)
    _, p, _, x, _, f = build("conv_same_strided", np.float64)
    # SAME with stride 2 on 6: out 3; kernel 3 pads (0, 1); kernel 2 pads (0, 0)
    np.testing.assert_allclose(f(p, x), np_conv(x, p["w"], 2, ((0, 1), (0, 0)))
                               + p["b"][:, None, None], rtol=1e-12)
    _, p, _, x, _, f = build("conv_dilated", np.float64)
    np.testing.assert_allclose(f(p, x), np_conv(x, p["w"], 1, ((0, 0), (0, 0)), dil=2),
                               rtol=1e-12)


def test_pool_values():
    _, p, _, x, _, f = build("maxpool", np.float64)
    np.testing.assert_array_equal(f(p, x), x.reshape(2, 3, 3, 2, 3, 2).max(axis=(3, 5)))
    _, p, _, x, _, f = build("avgpool_same", np.float64)
    # window 3, stride 2 on 6: pads (0, 1); border windows average only their real entries
    xp = np.pad(x, ((0, 0), (0, 0), (0, 1), (0, 1)), constant_values=np.nan)
    expected = np.stack([np.stack([np.nanmean(xp[:, :, 2 * a:2 * a + 3, 2 * b:2 * b + 3],
                                              axis=(2, 3)) for b in range(3)], -1)
                         for a in range(3)], -2)
    np.testing.assert_allclose(f(p, x), expected, rtol=1e-12)


def test_layernorm_values():
    _, p, _, x, _, f = build("layernorm", np.float64)
    p = {"scale": np.arange(6.0), "bias": np.ones(6)}
    mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    np.testing.assert_allclose(f(p, x), (x - mu) / np.sqrt(var + 1e-5) * p["scale"] + 1,
                               rtol=1e-10)


def test_batchnorm_train_and_eval():
    bn = nn.BatchNorm(momentum=0.8)
    _, params, state = bn.init(KEY, (-1, 3, 6, 6))
    x = IMG * 2 + 5
    y, new_state = bn.apply(params, state, x, train=True)
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1, rtol=1e-3)
    mean, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
    np.testing.assert_allclose(new_state["mean"], 0.2 * mean, rtol=1e-6)
    np.testing.assert_allclose(new_state["var"], 0.8 + 0.2 * var, rtol=1e-6)
    # evaluation uses the running statistics and leaves them alone
    y_eval, same = bn.apply(params, new_state, x)
    assert same is new_state
    expected = (x - new_state["mean"][:, None, None]) / np.sqrt(
        new_state["var"][:, None, None] + 1e-5)
    np.testing.assert_allclose(y_eval, expected, rtol=1e-5)
    # threaded through serial
    model = nn.serial(nn.Dense(3), nn.BatchNorm())
    _, p, s = model.init(KEY, (-1, 5))
    _, s2 = model.apply(p, s, VEC, train=True)
    assert s2[0] == () and not np.allclose(s2[1]["mean"], s[1]["mean"])
    with pytest.raises(ValueError, match="one entry per layer"):
        model.apply(p, (), VEC)


def test_dropout_scaling():
    layer = nn.Dropout(0.25)
    x = np.ones((200, 100), np.float32)
    y, _ = layer.apply((), (), x, key=KEY, train=True)
    kept = y != 0
    assert abs(kept.mean() - 0.75) < 5 * np.sqrt(0.75 * 0.25 / x.size)
    np.testing.assert_allclose(y[kept], 1 / 0.75)
    assert abs(y.mean() - 1) < 0.02
    assert layer.apply((), (), x, key=KEY)[0] is x
    with pytest.raises(ValueError, match="key"):
        layer.apply((), (), x, train=True)
    y2, _ = layer.apply((), (), x, key=random.key(1), train=True)
    assert not np.array_equal(y, y2)


def test_serial_splits_keys_per_layer():
    model = nn.serial(nn.Dropout(0.5), nn.Dropout(0.5))
    x = np.ones((1, 1000), np.float32)
    y, _ = model.apply(((), ()), ((), ()), x, key=KEY, train=True)
    # independent masks: keep rate 1/4, each survivor scaled by 4
    assert abs((y != 0).mean() - 0.25) < 0.05 and set(np.unique(y)) <= {0.0, 4.0}


def test_residual_and_block_structure():
    layer = nn.residual(nn.Dense(5))
    _, params, state = layer.init(KEY, (-1, 5))
    dense = params[1][0][0]
    np.testing.assert_allclose(layer.apply(params, state, VEC)[0],
                               VEC + VEC @ dense["w"] + dense["b"], rtol=1e-6)
    _, params, _ = nn.BasicBlock(3).init(KEY, (-1, 3, 6, 6))
    assert fnad.tree.tree_leaves(params[0][1][1]) == []  # identity shortcut: no params
    _, params, _ = nn.BasicBlock(4, strides=2).init(KEY, (-1, 3, 6, 6))
    assert params[0][1][1][0]["w"].shape == (4, 3, 1, 1)  # projection shortcut
