"""Layers as pairs of pure functions, in the spirit of stax, with explicit state:

    init(key, input_shape) -> (output_shape, params, state)
    apply(params, state, x, *, key=None, train=False) -> (y, new_state)

Shapes include the batch axis (which may be -1). `params` and `state` are pytrees; state
(BatchNorm's running statistics) is `()` for layers without any, and every layer threads
it through, so combinators need no special cases. `key` feeds randomness (Dropout) and is
split among sublayers; `train` switches Dropout and BatchNorm between their two modes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

import fnad.numpy as fnp
from fnad import lax, random
from fnad.core.errors import ArgumentError
from fnad.core.ir import ShapedArray, get_aval
from fnad.nn import activations, initializers

Shape = tuple[int, ...]


class Layer(NamedTuple):
    """`init(key, input_shape) -> (output_shape, params, state)` and
    `apply(params, state, x, *, key=None, train=False) -> (y, state)`."""

    init: Callable[..., tuple[Any, Any, Any]]
    apply: Callable[..., tuple[Any, Any]]


def stateless(init_params: Callable[[Any, Shape], tuple[Shape, Any]],
              fn: Callable[..., Any]) -> Layer:
    """A layer without state from `init_params(key, input_shape) -> (output_shape, params)`
    and `fn(params, x) -> y`."""

    def init(key: Any, input_shape: Shape) -> tuple[Any, Any, Any]:
        return (*init_params(key, tuple(input_shape)), ())

    def apply(params: Any, state: Any, x: Any, *, key: Any = None, train: bool = False) -> Any:
        return fn(params, x), state

    return Layer(init, apply)


def _check_arity(kind: str, layers: Sequence[Layer], params: Any, state: Any) -> None:
    """zip would silently apply nothing to a mismatched params/state tuple."""
    for what, tree in (("params", params), ("state", state)):
        if not isinstance(tree, (tuple, list)) or len(tree) != len(layers):
            raise ArgumentError(f"{kind} of {len(layers)} layers needs {what} with one entry per "
                             f"layer, as its init returns; got {type(tree).__name__} of "
                             f"length {len(tree) if isinstance(tree, (tuple, list)) else '-'}")


def split_keys(key: Any, n: int) -> list[Any]:
    """`n` independent keys (or Nones), one per sublayer, by folding in the index."""
    return [None if key is None else random.fold_in(key, i) for i in range(n)]


def _infer_shape(fn: Callable[[Any], Any], input_shape: Shape) -> Shape:
    """The output shape of `fn` (batch axis first, kept as given) by tracing it abstractly."""
    from fnad.api import make_jaxpr
    probe = ShapedArray((1 if input_shape[0] == -1 else input_shape[0], *input_shape[1:]),
                        np.dtype(np.float32))
    (out,) = make_jaxpr(fn)(probe).out_avals
    return (input_shape[0], *out.shape[1:])


def _pair(v: int | Sequence[int]) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, (int, np.integer)) else tuple(int(d) for d in v)


# ------------------------------------------------------------------ combinators

def serial(*layers: Layer) -> Layer:
    """The layers one after another; params and state are tuples with one entry per layer.

    >>> init, apply = serial(Dense(4), Relu, Dense(2))
    >>> shape, params, state = init(random.key(0), (-1, 3)); shape
    (-1, 2)
    """

    def init(key: Any, input_shape: Shape) -> tuple[Any, Any, Any]:
        params, states = [], []
        for layer, k in zip(layers, split_keys(key, len(layers))):
            input_shape, p, s = layer.init(k, input_shape)
            params.append(p)
            states.append(s)
        return input_shape, tuple(params), tuple(states)

    def apply(params: Any, state: Any, x: Any, *, key: Any = None, train: bool = False) -> Any:
        _check_arity("serial", layers, params, state)
        new_states = []
        for layer, p, s, k in zip(layers, params, state, split_keys(key, len(layers))):
            x, s = layer.apply(p, s, x, key=k, train=train)
            new_states.append(s)
        return x, tuple(new_states)

    return Layer(init, apply)


def parallel(*layers: Layer) -> Layer:
    """Layer i applied to input i of a tuple of inputs (shapes are tuples too)."""

    def init(key: Any, input_shape: Sequence[Shape]) -> tuple[Any, Any, Any]:
        outs = [layer.init(k, s) for layer, k, s in
                zip(layers, split_keys(key, len(layers)), input_shape)]
        return tuple(tuple(o[i] for o in outs) for i in range(3))  # type: ignore[return-value]

    def apply(params: Any, state: Any, xs: Any, *, key: Any = None, train: bool = False) -> Any:
        _check_arity("parallel", layers, params, state)
        outs = [layer.apply(p, s, x, key=k, train=train) for layer, p, s, x, k in
                zip(layers, params, state, xs, split_keys(key, len(layers)))]
        return tuple(o[0] for o in outs), tuple(o[1] for o in outs)

    return Layer(init, apply)


Identity = stateless(lambda key, shape: (shape, ()), lambda params, x: x)


def FanOut(num: int) -> Layer:  # noqa: N802  (stax's name)
    """`x -> (x,) * num`, to feed `parallel` branches."""
    return stateless(lambda key, shape: ((tuple(shape),) * num, ()),
                     lambda params, x: (x,) * num)


def _fan_in_sum_shape(key: Any, shapes: Sequence[Shape]) -> tuple[Shape, Any]:
    return tuple(shapes[0]), ()


FanInSum = stateless(_fan_in_sum_shape, lambda params, xs: sum(xs[1:], xs[0]))


def FanInConcat(axis: int = -1) -> Layer:  # noqa: N802
    """Concatenate a tuple of inputs along `axis`."""
    def init_params(key: Any, shapes: Sequence[Shape]) -> tuple[Shape, Any]:
        out = list(shapes[0])
        ax = axis % len(out)
        out[ax] = sum(s[ax] for s in shapes)
        return tuple(out), ()
    return stateless(init_params, lambda params, xs: fnp.concatenate(xs, axis=axis))


def residual(*layers: Layer, shortcut: Layer = Identity) -> Layer:
    """`serial(*layers)(x) + shortcut(x)`."""
    return serial(FanOut(2), parallel(serial(*layers), shortcut), FanInSum)


def Activation(fn: Callable[..., Any], **kwargs: Any) -> Layer:  # noqa: N802
    """An elementwise function as a layer without params."""
    return stateless(lambda key, shape: (shape, ()), lambda params, x: fn(x, **kwargs))


Relu, Gelu, Silu = (Activation(f) for f in (activations.relu, activations.gelu,
                                            activations.silu))
Tanh, Sigmoid, Softplus = (Activation(f) for f in (activations.tanh, activations.sigmoid,
                                                   activations.softplus))
Softmax, LogSoftmax = Activation(activations.softmax), Activation(activations.log_softmax)


# ------------------------------------------------------------------ core layers

def Dense(features: int, w_init: Any = None, b_init: Any = initializers.zeros  # noqa: N802
          ) -> Layer:
    """`x @ w + b` over the last axis; params {"w": (in, features), "b": (features,)}."""
    w_init = initializers.glorot_uniform() if w_init is None else w_init

    def init_params(key: Any, shape: Shape) -> tuple[Shape, Any]:
        kw, kb = split_keys(key, 2)
        params = {"w": w_init(kw, (shape[-1], features)), "b": b_init(kb, (features,))}
        return (*shape[:-1], features), params

    return stateless(init_params, lambda p, x: fnp.matmul(x, p["w"]) + p["b"])


def Conv2D(features: int, kernel_size: int | Sequence[int],  # noqa: N802
           strides: int | Sequence[int] = 1, padding: str | Sequence[tuple[int, int]] = "VALID",
           dilation: int | Sequence[int] = 1, use_bias: bool = True, w_init: Any = None,
           b_init: Any = initializers.zeros) -> Layer:
    """2-d convolution of NCHW inputs with an OIHW kernel; params {"w", "b"} ("b" only with
    `use_bias`). `padding` is "VALID", "SAME" or ((lo, hi), (lo, hi))."""
    kh, kw = _pair(kernel_size)
    w_init = initializers.glorot_uniform(in_axis=1, out_axis=0) if w_init is None else w_init

    def fn(p: Any, x: Any) -> Any:
        y = lax.conv_general_dilated(x, p["w"], _pair(strides), padding,
                                     rhs_dilation=_pair(dilation))
        return y + fnp.reshape(p["b"], (-1, 1, 1)) if use_bias else y

    def init_params(key: Any, shape: Shape) -> tuple[Shape, Any]:
        k1, k2 = split_keys(key, 2)
        params = {"w": w_init(k1, (features, shape[1], kh, kw))}
        if use_bias:
            params["b"] = b_init(k2, (features,))
        return _infer_shape(lambda x: fn(params, x), shape), params

    return stateless(init_params, fn)


def _pool(reduce: Callable[[Any, tuple, tuple, Any], Any], window: int | Sequence[int],
          strides: int | Sequence[int] | None, padding: Any) -> Layer:
    dims = (1, 1, *_pair(window))
    steps = dims if strides is None else (1, 1, *_pair(strides))
    fn = lambda params, x: reduce(x, dims, steps, padding)
    return stateless(lambda key, shape: (_infer_shape(lambda x: fn((), x), shape), ()), fn)


def _max_pool(x: Any, dims: tuple, strides: tuple, padding: Any) -> Any:
    return lax.reduce_window(x, -np.inf, "max", dims, strides, padding)


def _avg_pool(x: Any, dims: tuple, strides: tuple, padding: Any) -> Any:
    """The mean of each window's entries, padding excluded (so borders are not darkened)."""
    aval = get_aval(x)
    total = lax.reduce_window(x, 0, "sum", dims, strides, padding)
    ones = np.ones((1, 1, *aval.shape[2:]), aval.dtype)
    counts = lax.reduce_window(ones, 0, "sum", dims, strides, padding)
    return total / counts


def MaxPool2D(window: int | Sequence[int], strides: int | Sequence[int] | None = None,  # noqa: N802
              padding: Any = "VALID") -> Layer:
    """Max over windows of NCHW inputs (strides default to the window)."""
    return _pool(_max_pool, window, strides, padding)


def AvgPool2D(window: int | Sequence[int], strides: int | Sequence[int] | None = None,  # noqa: N802
              padding: Any = "VALID") -> Layer:
    """Mean over windows of NCHW inputs (strides default to the window)."""
    return _pool(_avg_pool, window, strides, padding)


def _flatten_shape(key: Any, shape: Shape) -> tuple[Shape, Any]:
    return (shape[0], int(np.prod(shape[1:], dtype=np.int64))), ()


Flatten = stateless(_flatten_shape, lambda params, x: fnp.reshape(x, (get_aval(x).shape[0], -1)))


def Dropout(rate: float) -> Layer:  # noqa: N802
    """In training, zero each entry with probability `rate` and scale the rest by
    `1 / (1 - rate)` (inverted dropout, so evaluation is the identity); needs a key then."""
    if not 0 <= rate < 1:
        raise ArgumentError(f"dropout rate must be in [0, 1), got {rate}")

    def apply(params: Any, state: Any, x: Any, *, key: Any = None, train: bool = False) -> Any:
        if not train or rate == 0:
            return x, state
        if key is None:
            raise ArgumentError("Dropout in training mode needs a PRNG key: apply(..., key=k, "
                             "train=True)")
        x = fnp.asarray(x)
        keep = random.bernoulli(key, 1 - rate, get_aval(x).shape)
        return fnp.where(keep, x / (1 - rate), fnp.zeros_like(x)), state

    return Layer(lambda key, shape: (tuple(shape), (), ()), apply)


def _feature_shape(x: Any, axis: int) -> tuple[int, ...]:
    nd = get_aval(x).ndim
    return tuple(get_aval(x).shape[i] if i == axis % nd else 1 for i in range(nd))


def _normalize(x: Any, mean: Any, var: Any, scale: Any, bias: Any, eps: float) -> Any:
    return (x - mean) * (scale * lax.rsqrt(var + eps)) + bias


def BatchNorm(axis: int = 1, momentum: float = 0.9, eps: float = 1e-5) -> Layer:  # noqa: N802
    """Batch normalization (Ioffe & Szegedy, 2015) of the features on `axis` (1 fits both
    NCHW images and (N, C) vectors). Training normalizes by the batch's mean and (biased)
    variance and returns running averages `momentum * old + (1 - momentum) * batch` as the
    new state; evaluation normalizes by those running statistics.
    params {"scale", "bias"}, state {"mean", "var"}, each of shape (C,)."""

    def init(key: Any, shape: Shape) -> tuple[Any, Any, Any]:
        c = shape[axis]
        params = {"scale": np.ones(c, np.float32), "bias": np.zeros(c, np.float32)}
        return tuple(shape), params, {"mean": np.zeros(c, np.float32),
                                      "var": np.ones(c, np.float32)}

    def apply(params: Any, state: Any, x: Any, *, key: Any = None, train: bool = False) -> Any:
        x = fnp.asarray(x)
        nd = get_aval(x).ndim
        fshape = _feature_shape(x, axis)
        scale, bias = (fnp.reshape(params[k], fshape) for k in ("scale", "bias"))
        if not train:
            mean, var = (fnp.reshape(state[k], fshape) for k in ("mean", "var"))
            return _normalize(x, mean, var, scale, bias, eps), state
        axes = tuple(i for i in range(nd) if i != axis % nd)
        mean = fnp.mean(x, axis=axes, keepdims=True)
        var = fnp.mean(fnp.square(x - mean), axis=axes, keepdims=True)
        new_state = {k: momentum * state[k] + (1 - momentum) *
                     fnp.asarray(lax.stop_gradient(fnp.reshape(v, (-1,))), get_aval(state[k]).dtype)
                     for k, v in (("mean", mean), ("var", var))}
        return _normalize(x, mean, var, scale, bias, eps), new_state

    return Layer(init, apply)


def LayerNorm(eps: float = 1e-5) -> Layer:  # noqa: N802
    """Layer normalization (Ba et al., 2016) over the last axis, with a learned per-feature
    scale and bias; params {"scale", "bias"} of shape (features,)."""

    def init_params(key: Any, shape: Shape) -> tuple[Shape, Any]:
        d = shape[-1]
        return tuple(shape), {"scale": np.ones(d, np.float32), "bias": np.zeros(d, np.float32)}

    def fn(params: Any, x: Any) -> Any:
        mean = fnp.mean(x, axis=-1, keepdims=True)
        var = fnp.mean(fnp.square(x - mean), axis=-1, keepdims=True)
        return _normalize(x, mean, var, params["scale"], params["bias"], eps)

    return stateless(init_params, fn)


def Embedding(num_embeddings: int, features: int, init: Any = None) -> Layer:  # noqa: N802
    """Rows of a learned table for integer ids: (...) -> (..., features); params {"table"}."""
    init = initializers.normal(1.0) if init is None else init

    def init_params(key: Any, shape: Shape) -> tuple[Shape, Any]:
        return (*shape, features), {"table": init(key, (num_embeddings, features))}

    return stateless(init_params, lambda p, ids: lax.gather(
        p["table"], fnp.expand_dims(fnp.asarray(ids), -1), (0,)))


# ------------------------------------------------------------------ blocks

def _basic_block(channels: int, strides: int, project: bool) -> Layer:
    main = [Conv2D(channels, 3, strides, "SAME", use_bias=False), BatchNorm(), Relu,
            Conv2D(channels, 3, 1, "SAME", use_bias=False), BatchNorm()]
    shortcut = serial(Conv2D(channels, 1, strides, use_bias=False), BatchNorm()) if project \
        else Identity
    return serial(residual(*main, shortcut=shortcut), Relu)


def BasicBlock(channels: int, strides: int = 1) -> Layer:  # noqa: N802
    """The ResNet basic block (He et al., 2016): conv3x3-BN-ReLU-conv3x3-BN plus the input,
    then ReLU; the shortcut is a strided 1x1 conv + BN when the shape changes."""

    def block(in_channels: int) -> Layer:
        return _basic_block(channels, strides, strides != 1 or in_channels != channels)

    def init(key: Any, shape: Shape) -> tuple[Any, Any, Any]:
        return block(shape[1]).init(key, shape)

    def apply(params: Any, state: Any, x: Any, *, key: Any = None, train: bool = False) -> Any:
        return block(get_aval(x).shape[1]).apply(params, state, x, key=key, train=train)

    return Layer(init, apply)


__all__ = ["Activation", "AvgPool2D", "BasicBlock", "BatchNorm", "Conv2D", "Dense", "Dropout",
           "Embedding", "FanInConcat", "FanInSum", "FanOut", "Flatten", "Gelu", "Identity",
           "Layer", "LayerNorm", "LogSoftmax", "MaxPool2D", "Relu", "Sigmoid", "Silu",
           "Softmax", "Softplus", "Tanh", "parallel", "residual", "serial", "split_keys",
           "stateless"]
