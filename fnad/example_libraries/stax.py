"""`jax.example_libraries.stax`: layers as `(init_fun, apply_fun)` pairs, combined with
`serial` and `parallel`, for code written before the neural-network libraries:

    init_fun, apply_fun = stax.serial(stax.Dense(512), stax.Relu, stax.Dense(10))
    out_shape, params = init_fun(key, (-1, 784))
    logits = apply_fun(params, x)

`init_fun(rng, input_shape) -> (output_shape, params)` (-1 marks the batch axis);
`apply_fun(params, inputs, **kwargs)`, where `rng=` feeds `Dropout`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import fnad.numpy as fnp
from fnad import lax, random
from fnad.core.errors import ArgumentError
from fnad.nn import (
    elu,
    gelu,
    leaky_relu,
    log_softmax,
    relu,
    selu,
    sigmoid,
    softmax,
    softplus,
    standardize,
)
from fnad.nn.initializers import glorot_normal, normal, ones, zeros

# JAX's aliases, kept for old programs.
glorot = glorot_normal
randn = normal
logsoftmax = log_softmax

Layer = tuple[Callable[..., Any], Callable[..., Any]]


def Dense(out_dim: int, W_init: Any = None, b_init: Any = None) -> Layer:  # noqa: N802, N803
    """A fully connected layer: inputs @ W + b."""
    w_init, bias_init = W_init or glorot_normal(), b_init or normal()

    def init_fun(rng: Any, input_shape: Sequence[int]) -> tuple:
        k1, k2 = random.split(rng)
        return (*input_shape[:-1], out_dim), (w_init(k1, (input_shape[-1], out_dim)),
                                              bias_init(k2, (out_dim,)))

    def apply_fun(params: tuple, inputs: Any, **kwargs: Any) -> Any:
        w, b = params
        return fnp.add(fnp.dot(inputs, w), b)

    return init_fun, apply_fun


def _conv_layer(dimension_numbers: tuple[str, str, str], out_chan: int,
                filter_shape: Sequence[int], w_init: Any, b_init: Any, out_shape: Callable,
                conv: Callable) -> Layer:
    """The layer of a convolution `conv(inputs, w)` whose output shape is
    `out_shape(input_shape, kernel_shape)`, with a bias per output channel."""
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    w_init = w_init or glorot_normal(rhs_spec.index("I"), rhs_spec.index("O"))
    b_init = b_init or normal(1e-6)

    def init_fun(rng: Any, input_shape: Sequence[int]) -> tuple:
        spatial = iter(filter_shape)
        kernel_shape = [out_chan if c == "O" else input_shape[lhs_spec.index("C")]
                        if c == "I" else next(spatial) for c in rhs_spec]
        bias_shape = [out_chan if c == "C" else 1 for c in out_spec]
        k1, k2 = random.split(rng)
        return out_shape(input_shape, kernel_shape), (w_init(k1, tuple(kernel_shape)),
                                                      b_init(k2, tuple(bias_shape)))

    def apply_fun(params: tuple, inputs: Any, **kwargs: Any) -> Any:
        w, b = params
        dtype = fnp.result_type(inputs, w)  # lax takes one dtype: float64 data, float32 w
        return fnp.add(conv(fnp.asarray(inputs, dtype), fnp.asarray(w, dtype)), b)

    return init_fun, apply_fun


def GeneralConv(dimension_numbers: tuple[str, str, str], out_chan: int,  # noqa: N802
                filter_shape: Sequence[int], strides: Sequence[int] | None = None,
                padding: Any = "VALID", W_init: Any = None,  # noqa: N803
                b_init: Any = None) -> Layer:  # noqa: N803
    """A convolution in the layouts `dimension_numbers` (e.g. ("NHWC", "HWIO", "NHWC"))."""
    one = (1,) * len(filter_shape)
    strides = tuple(strides) if strides is not None else one
    return _conv_layer(
        dimension_numbers, out_chan, filter_shape, W_init, b_init,
        lambda shape, kernel: lax.conv_general_shape_tuple(shape, kernel, strides, padding,
                                                           dimension_numbers),
        lambda x, w: lax.conv_general_dilated(x, w, strides, padding, one, one,
                                              dimension_numbers=dimension_numbers))


def GeneralConvTranspose(dimension_numbers: tuple[str, str, str], out_chan: int,  # noqa: N802
                         filter_shape: Sequence[int], strides: Sequence[int] | None = None,
                         padding: Any = "VALID", W_init: Any = None,  # noqa: N803
                         b_init: Any = None) -> Layer:  # noqa: N803
    """A transposed convolution (`lax.conv_transpose`: upsampling by `strides`) in the
    layouts `dimension_numbers`."""
    strides = tuple(strides) if strides is not None else (1,) * len(filter_shape)
    return _conv_layer(
        dimension_numbers, out_chan, filter_shape, W_init, b_init,
        lambda shape, kernel: lax.conv_transpose_shape_tuple(shape, kernel, strides, padding,
                                                             dimension_numbers),
        lambda x, w: lax.conv_transpose(x, w, strides, padding,
                                        dimension_numbers=dimension_numbers))


Conv = functools.partial(GeneralConv, ("NHWC", "HWIO", "NHWC"))
Conv1DTranspose = functools.partial(GeneralConvTranspose, ("NHC", "HIO", "NHC"))
ConvTranspose = functools.partial(GeneralConvTranspose, ("NHWC", "HWIO", "NHWC"))


def BatchNorm(axis: Any = (0, 1, 2), epsilon: float = 1e-5, center: bool = True,  # noqa: N802
              scale: bool = True, beta_init: Any = zeros, gamma_init: Any = ones) -> Layer:
    """Normalize over `axis` with the batch's statistics, then scale and shift."""
    axes = (axis,) if isinstance(axis, int) else tuple(axis)

    def init_fun(rng: Any, input_shape: Sequence[int]) -> tuple:
        shape = tuple(d for i, d in enumerate(input_shape) if i not in axes)
        k1, k2 = random.split(rng)
        beta = beta_init(k1, shape) if center else ()
        gamma = gamma_init(k2, shape) if scale else ()
        return tuple(input_shape), (beta, gamma)

    def apply_fun(params: tuple, x: Any, **kwargs: Any) -> Any:
        beta, gamma = params
        keep = tuple(None if i in axes else slice(None) for i in range(fnp.ndim(x)))
        z = standardize(x, axes, epsilon=epsilon)
        if scale:
            z = fnp.multiply(gamma[keep], z)
        return fnp.add(z, beta[keep]) if center else z

    return init_fun, apply_fun


def elementwise(fun: Callable[..., Any], **fun_kwargs: Any) -> Layer:
    """A layer applying `fun` to its input, without parameters."""
    return (lambda rng, input_shape: (input_shape, ()),
            lambda params, inputs, **kwargs: fun(inputs, **fun_kwargs))


Tanh = elementwise(fnp.tanh)
Relu = elementwise(relu)
Exp = elementwise(fnp.exp)
LogSoftmax = elementwise(log_softmax, axis=-1)
Softmax = elementwise(softmax, axis=-1)
Softplus = elementwise(softplus)
Sigmoid = elementwise(sigmoid)
Elu = elementwise(elu)
LeakyRelu = elementwise(leaky_relu)
Selu = elementwise(selu)
Gelu = elementwise(gelu)


def _pooling_layer(reducer: Any, init_val: float, rescaler: Any = None) -> Callable[..., Layer]:
    def PoolingLayer(window_shape: Sequence[int], strides: Sequence[int] | None = None,  # noqa: N802
                     padding: str = "VALID", spec: str | None = None) -> Layer:
        strides = tuple(strides) if strides is not None else (1,) * len(window_shape)
        rescale = rescaler(window_shape, strides, padding) if rescaler else None
        non_spatial = (0, -1) if spec is None else (spec.index("N"), spec.index("C"))

        def dims_for(ndim: int, values: Sequence[int]) -> tuple:
            """The window's sizes on the spatial axes, 1 on batch and channels."""
            out, it = [], iter(values)
            fixed = {a % ndim for a in non_spatial}
            for i in range(ndim):
                out.append(1 if i in fixed else next(it))
            return tuple(out)

        def init_fun(rng: Any, input_shape: Sequence[int]) -> tuple:
            nd = len(input_shape)
            out = lax.reduce_window_shape_tuple(input_shape, dims_for(nd, window_shape),
                                                dims_for(nd, strides), padding)
            return out, ()

        def apply_fun(params: tuple, inputs: Any, **kwargs: Any) -> Any:
            nd = fnp.ndim(inputs)
            out = lax.reduce_window(inputs, init_val, reducer, dims_for(nd, window_shape),
                                    dims_for(nd, strides), padding)
            return rescale(out, inputs, spec) if rescale else out

        return init_fun, apply_fun

    return PoolingLayer


MaxPool = _pooling_layer(lax.max, -math.inf)
SumPool = _pooling_layer(lax.add, 0.0)


def _normalize_by_window_size(dims: Sequence[int], strides: Sequence[int],
                              padding: str) -> Callable[..., Any]:
    def rescale(outputs: Any, inputs: Any, spec: str | None) -> Any:
        if spec is None:
            one = fnp.ones(fnp.shape(inputs)[1:-1], dtype=fnp.result_type(inputs))
        else:
            spatial = [fnp.shape(inputs)[i] for i, c in enumerate(spec) if c not in "NC"]
            one = fnp.ones(spatial, dtype=fnp.result_type(inputs))
        window_sizes = lax.reduce_window(one, 0.0, lax.add, tuple(dims), tuple(strides),
                                         padding)
        if spec is None:
            return fnp.divide(outputs, window_sizes[..., None])
        keep = tuple(slice(None) if c not in "NC" else None for c in spec)
        return fnp.divide(outputs, window_sizes[keep])

    return rescale


AvgPool = _pooling_layer(lax.add, 0.0, _normalize_by_window_size)


def _flatten_shape(input_shape: Sequence[int]) -> tuple:
    return input_shape[0], math.prod(input_shape[1:])


Flatten = (lambda rng, input_shape: (_flatten_shape(input_shape), ()),
           lambda params, inputs, **kwargs: fnp.reshape(inputs, (inputs.shape[0], -1)))
Identity = (lambda rng, input_shape: (input_shape, ()),
            lambda params, inputs, **kwargs: inputs)


def FanOut(num: int) -> Layer:  # noqa: N802
    """`num` copies of the input, for `parallel`."""
    return (lambda rng, input_shape: ([input_shape] * num, ()),
            lambda params, inputs, **kwargs: [inputs] * num)


FanInSum = (lambda rng, input_shape: (input_shape[0], ()),
            lambda params, inputs, **kwargs: functools.reduce(fnp.add, inputs))


def FanInConcat(axis: int = -1) -> Layer:  # noqa: N802
    """The inputs concatenated along `axis`."""
    def init_fun(rng: Any, input_shape: Sequence[Sequence[int]]) -> tuple:
        ax = axis % len(input_shape[0])
        size = sum(shape[ax] for shape in input_shape)
        return (*input_shape[0][:ax], size, *input_shape[0][ax + 1:]), ()

    return init_fun, lambda params, inputs, **kwargs: fnp.concatenate(inputs, axis)


def Dropout(rate: float, mode: str = "train") -> Layer:  # noqa: N802
    """Keep each input with probability `rate` (JAX's stax convention), scaled by 1 / rate,
    in "train" mode; the identity otherwise. Needs `rng=` when training."""
    def apply_fun(params: tuple, inputs: Any, **kwargs: Any) -> Any:
        if mode != "train":
            return inputs
        rng = kwargs.get("rng")
        if rng is None:
            raise ArgumentError("Dropout in train mode needs an rng keyword argument: "
                                "apply_fun(params, inputs, rng=key)")
        keep = random.bernoulli(rng, rate, fnp.shape(inputs))
        return fnp.where(keep, fnp.divide(inputs, rate), 0)

    return (lambda rng, input_shape: (input_shape, ())), apply_fun


def serial(*layers: Layer) -> Layer:
    """The layers one after the other."""
    init_funs, apply_funs = zip(*layers) if layers else ((), ())

    def init_fun(rng: Any, input_shape: Any) -> tuple:
        params = []
        for init in init_funs:
            rng, layer_rng = random.split(rng)
            input_shape, param = init(layer_rng, input_shape)
            params.append(param)
        return input_shape, params

    def apply_fun(params: Sequence[Any], inputs: Any, **kwargs: Any) -> Any:
        rng = kwargs.pop("rng", None)
        rngs = random.split(rng, len(apply_funs)) if rng is not None else [None] * len(
            apply_funs)
        for fun, param, r in zip(apply_funs, params, rngs):
            inputs = fun(param, inputs, rng=r, **kwargs)
        return inputs

    return init_fun, apply_fun


def parallel(*layers: Layer) -> Layer:
    """Each layer on its own input of a list (pair with FanOut and FanIn*)."""
    init_funs, apply_funs = zip(*layers) if layers else ((), ())

    def init_fun(rng: Any, input_shape: Sequence[Any]) -> tuple:
        rngs = random.split(rng, len(init_funs))
        pairs = [init(r, shape) for init, r, shape in zip(init_funs, rngs, input_shape)]
        # tuples, as JAX's (its params are a tuple, part of the params' tree structure)
        return tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)

    def apply_fun(params: Sequence[Any], inputs: Sequence[Any], **kwargs: Any) -> Any:
        rng = kwargs.pop("rng", None)
        rngs = random.split(rng, len(apply_funs)) if rng is not None else [None] * len(
            apply_funs)
        return [f(p, x, rng=r, **kwargs) for f, p, x, r in zip(apply_funs, params, inputs,
                                                               rngs)]

    return init_fun, apply_fun


def shape_dependent(make_layer: Callable[[Any], Layer]) -> Layer:
    """A layer built from the input shape when it is known."""
    def init_fun(rng: Any, input_shape: Any) -> tuple:
        return make_layer(input_shape)[0](rng, input_shape)

    def apply_fun(params: Any, inputs: Any, **kwargs: Any) -> Any:
        return make_layer(fnp.shape(inputs))[1](params, inputs, **kwargs)

    return init_fun, apply_fun


__all__ = ["AvgPool", "BatchNorm", "Conv", "Conv1DTranspose", "ConvTranspose", "Dense",
           "Dropout", "Elu", "Exp", "FanInConcat", "FanInSum", "FanOut", "Flatten", "Gelu",
           "GeneralConv", "GeneralConvTranspose", "Identity", "LeakyRelu", "LogSoftmax",
           "MaxPool", "Relu", "Selu", "Sigmoid", "Softmax", "Softplus", "SumPool", "Tanh",
           "elementwise", "elu", "gelu", "glorot", "glorot_normal", "leaky_relu",
           "log_softmax", "logsoftmax", "normal", "ones", "parallel", "randn", "relu", "selu",
           "serial", "shape_dependent", "sigmoid", "softmax", "softplus", "standardize",
           "zeros"]
