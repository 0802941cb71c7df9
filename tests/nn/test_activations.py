"""Activations and losses against NumPy references, their gradients (float64, both modes),
staging and batching, and the numerical stability of the log-sum-exp family."""

from __future__ import annotations

import math

import numpy as np
import pytest

import fnad
import fnad.test_util as tu
from fnad import nn

RNG = np.random.default_rng(0)
X = RNG.standard_normal((2, 5)) * 3 + 0.1
ERF = np.vectorize(math.erf)


def np_logsumexp(x, axis=-1):
    m = x.max(axis=axis, keepdims=True)
    return np.squeeze(np.log(np.exp(x - m).sum(axis=axis, keepdims=True)) + m, axis)


ACTIVATIONS = {
    "relu": (nn.relu, lambda x: np.maximum(x, 0)),
    "leaky_relu": (nn.leaky_relu, lambda x: np.where(x > 0, x, 0.01 * x)),
    "elu": (nn.elu, lambda x: np.where(x > 0, x, np.expm1(x))),
    "gelu_tanh": (nn.gelu, lambda x: 0.5 * x * (1 + np.tanh(
        math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))),
    "gelu_exact": (lambda x: nn.gelu(x, approximate=False),
                   lambda x: 0.5 * x * (1 + ERF(x / math.sqrt(2)))),
    "sigmoid": (nn.sigmoid, lambda x: 1 / (1 + np.exp(-x))),
    "silu": (nn.silu, lambda x: x / (1 + np.exp(-x))),
    "tanh": (nn.tanh, np.tanh),
    "softplus": (nn.softplus, lambda x: np.log1p(np.exp(x))),
    "softmax": (nn.softmax, lambda x: np.exp(x) / np.exp(x).sum(-1, keepdims=True)),
    "softmax_axis0": (lambda x: nn.softmax(x, axis=0),
                      lambda x: np.exp(x) / np.exp(x).sum(0, keepdims=True)),
    "log_softmax": (nn.log_softmax, lambda x: x - np_logsumexp(x)[:, None]),
    "logsumexp": (lambda x: nn.logsumexp(x, axis=-1), np_logsumexp),
    "logsumexp_all": (nn.logsumexp, lambda x: np_logsumexp(x.ravel(), 0)),
    "logsumexp_keep": (lambda x: nn.logsumexp(x, axis=-1, keepdims=True),
                       lambda x: np_logsumexp(x)[..., None]),
    "relu6": (nn.relu6, lambda x: np.clip(x, 0, 6)),
    "hard_sigmoid": (nn.hard_sigmoid, lambda x: np.clip(x + 3, 0, 6) / 6),
    "hard_silu": (nn.hard_silu, lambda x: x * np.clip(x + 3, 0, 6) / 6),
    "hard_tanh": (nn.hard_tanh, lambda x: np.clip(x, -1, 1)),
    "log_sigmoid": (nn.log_sigmoid, lambda x: -np.log1p(np.exp(-x))),
    "soft_sign": (nn.soft_sign, lambda x: x / (np.abs(x) + 1)),
    "selu": (nn.selu, lambda x: 1.0507009873554805 * np.where(
        x > 0, x, 1.6732632423543772 * np.expm1(x))),
    "celu": (lambda x: nn.celu(x, alpha=1.5),
             lambda x: np.where(x > 0, x, 1.5 * np.expm1(x / 1.5))),
    "squareplus": (nn.squareplus, lambda x: (x + np.sqrt(x * x + 4)) / 2),
    "squareplus_b": (lambda x: nn.squareplus(x, b=0.5), lambda x: (x + np.sqrt(x * x + .5)) / 2),
    "mish": (nn.mish, lambda x: x * np.tanh(np.log1p(np.exp(x)))),
    "sparse_plus": (nn.sparse_plus, lambda x: np.where(
        x <= -1, 0, np.where(x >= 1, x, (x + 1) ** 2 / 4))),
    "sparse_sigmoid": (nn.sparse_sigmoid, lambda x: np.clip(x + 1, 0, 2) / 2),
    "identity": (nn.identity, lambda x: x),
    "hard_swish": (nn.hard_swish, lambda x: x * np.clip(x + 3, 0, 6) / 6),
    "logmeanexp": (lambda x: nn.logmeanexp(x, axis=-1), lambda x: np_logsumexp(x) - np.log(5)),
    "standardize": (nn.standardize, lambda x: (x - x.mean(-1, keepdims=True)) / np.sqrt(
        x.var(-1, keepdims=True) + 1e-5)),
    "standardize_axis0": (lambda x: nn.standardize(x, axis=0), lambda x: (
        x - x.mean(0, keepdims=True)) / np.sqrt(x.var(0, keepdims=True) + 1e-5)),
}


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation(name):
    f, ref = ACTIVATIONS[name]
    for dtype in (np.float32, np.float64):
        x = X.astype(dtype)
        out = f(x)
        assert out.dtype == dtype
        tu.assert_allclose(out, ref(X).astype(dtype))
    tu.check_grads(f, (X,), order=2)
    tu.check_transforms(f, (X.astype(np.float32),))
    tu.check_vmap(f, (X,), in_axes=0)
    tu.check_vmap(f, (X,), in_axes=-1)


def test_stability_at_extremes():
    big = np.array([1000.0, -1000.0, 0.0], np.float32)
    np.testing.assert_allclose(nn.softplus(big), [1000.0, 0.0, math.log(2)], rtol=1e-6)
    np.testing.assert_allclose(nn.logsumexp(np.array([1000.0, 1000.0], np.float32)),
                               1000 + math.log(2), rtol=1e-6)
    np.testing.assert_allclose(nn.log_softmax(np.array([0.0, -1000.0], np.float32)),
                               [0.0, -1000.0], rtol=1e-6)
    assert float(nn.logsumexp(np.array([-np.inf, -np.inf]))) == -np.inf
    np.testing.assert_allclose(nn.softmax(np.array([1e4, 0.0], np.float32)), [1.0, 0.0])
    g = fnad.grad(lambda x: nn.elu(x).sum())(np.array([100.0, -100.0], np.float32))
    np.testing.assert_allclose(g, [1.0, 0.0], atol=1e-30)
    g = fnad.grad(lambda x: nn.logsumexp(x))(np.array([1000.0, 1000.0], np.float32))
    np.testing.assert_allclose(g, [0.5, 0.5])


def test_one_hot():
    labels = np.array([[0, 2], [1, 5]])
    out = nn.one_hot(labels, 3)
    assert out.shape == (2, 2, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out, [[[1, 0, 0], [0, 0, 1]], [[0, 1, 0], [0, 0, 0]]])
    np.testing.assert_array_equal(nn.one_hot(np.array([1, 0]), 2, axis=0), [[0, 1], [1, 0]])
    tu.check_vmap(lambda y: nn.one_hot(y, 4), (np.array([[0, 3], [2, 1]]),))
    np.testing.assert_array_equal(nn.one_hot(np.array([1, 0]), 2, axis=-2), [[0, 1], [1, 0]])
    # an axis outside [-(ndim + 1), ndim] raises, as JAX (it wrapped around silently)
    for axis in (2, -3):
        with pytest.raises(ValueError, match="out of range"):
            nn.one_hot(np.array([1, 0]), 2, axis=axis)


@pytest.mark.parametrize("name", ["tanh", "softplus", "gelu", "soft_sign", "mish",
                                  "squareplus", "log_sigmoid", "softmax", "standardize"])
def test_integer_inputs_under_x64_take_jax_float_by_width(name):
    # these apply a jax.numpy function to the integers first: up to 32-bit ones become
    # float32 and 64-bit ones float64 (all were float64 under x64); elu's Python float
    # makes any integer the default float
    fnad.config.update("enable_x64", True)
    try:
        f = getattr(nn, name)
        assert f(np.array([1, 2], np.int32)).dtype == np.float32
        assert f(np.array([1, 2], np.int8)).dtype == np.float32
        assert f(np.array([1, 2], np.int64)).dtype == np.float64
        assert nn.elu(np.array([1, 2], np.int32)).dtype == np.float64
        np.testing.assert_allclose(f(np.array([1, 2], np.int32)),
                                   f(np.array([1.0, 2.0], np.float32)), rtol=1e-6)
    finally:
        fnad.config.update("enable_x64", False)


HUGE_ACTIVATIONS = ["selu", "squareplus", "sparse_plus", "gelu", "standardize"]


@pytest.mark.parametrize("name", HUGE_ACTIVATIONS)
@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_huge_and_infinite_inputs_warn_nothing(name, dtype):
    # eager NumPy arithmetic overflowed with a RuntimeWarning (JAX answers inf/NaN quietly)
    big = np.finfo(dtype).max
    x = np.array([big, -big, np.inf, -np.inf, np.nan, 1.0], dtype)
    with np.errstate(all="raise"):
        out = getattr(nn, name)(x)
    assert out.dtype == dtype and out.shape == x.shape


# Kinks and edges: derivatives there follow JAX's conventions (one-sided, or the even split
# that maximum/minimum give at ties), checked exactly.
KINKS = {
    "relu6": (nn.relu6, [0.0, 6.0, 3.0, -1.0, 7.0], [0.0, 0.0, 1.0, 0.0, 0.0]),
    "hard_sigmoid": (nn.hard_sigmoid, [-3.0, 3.0, 0.0], [0.0, 0.0, 1 / 6]),
    "hard_silu": (nn.hard_silu, [-3.0, 3.0, 0.0], [-0.0, 1.0, 0.5]),
    "hard_tanh": (nn.hard_tanh, [-1.0, 1.0, 2.0, -2.0], [1.0, 1.0, 0.0, 0.0]),
    "leaky_relu": (nn.leaky_relu, [0.0, -1.0], [1.0, 0.01]),
    "elu": (nn.elu, [0.0, -1000.0, 1000.0], [1.0, 0.0, 1.0]),
    "selu": (nn.selu, [0.0], [1.0507009873554805 * 1.6732632423543772]),
    "celu": (nn.celu, [0.0], [1.0]),  # max and min each give half at the tie
    "sparse_plus": (nn.sparse_plus, [-1.0, 1.0, 0.0], [0.0, 1.0, 0.5]),
    "sparse_sigmoid": (nn.sparse_sigmoid, [-1.0, 1.0, 0.0], [0.25, 0.25, 0.5]),
    "soft_sign": (nn.soft_sign, [0.0], [1.0]),
    "relu": (nn.relu, [0.0], [0.0]),
}


@pytest.mark.parametrize("name", KINKS)
def test_derivatives_at_kinks_follow_jax(name):
    f, xs, expected = KINKS[name]
    g = fnad.vmap(fnad.grad(f))(np.array(xs))
    np.testing.assert_allclose(g, expected, rtol=1e-12, atol=0)


def test_nan_propagates_and_extremes_stay_finite():
    x = np.array([np.nan, -np.inf, np.inf], np.float32)
    assert np.isnan(nn.relu6(x)[0]) and list(nn.relu6(x)[1:]) == [0.0, 6.0]
    assert np.isnan(nn.hard_tanh(x)[0]) and list(nn.hard_tanh(x)[1:]) == [-1.0, 1.0]
    assert list(nn.soft_sign(np.array([-1e30, 1e30], np.float32))) == [-1.0, 1.0]
    np.testing.assert_allclose(nn.log_sigmoid(np.array([-1000.0, 1000.0, 0.0], np.float32)),
                               [-1000.0, 0.0, -math.log(2)], rtol=1e-6)
    np.testing.assert_allclose(nn.mish(np.array([-1000.0, 1000.0], np.float32)), [0.0, 1000.0])
    np.testing.assert_allclose(nn.squareplus(np.array([-1e4, 1e4])), [1e-4, 1e4], rtol=1e-6)
    g = fnad.vmap(fnad.grad(nn.mish))(np.array([-1000.0, 1000.0], np.float32))
    np.testing.assert_allclose(g, [0.0, 1.0])


def test_relu_nan_gelu_tail_relu6_of_ints_and_infinite_logits_as_jax():
    """Differences from JAX found by a differential sweep: relu(NaN) was 0; the exact gelu
    lost its negative tail in float32 (1 + erf cancels; JAX uses erfc); relu6 of integers
    stayed integer (JAX: the default float); a +inf logit gave softmax [nan, 0] and
    log_softmax [nan, -inf] (JAX: NaN for the whole row)."""
    assert np.isnan(nn.relu(np.array([np.nan]))[0])
    tu.check_grads(nn.relu, (np.array([-1.0, 2.0]),), order=1)
    x = np.array([-5.0, -3.0], np.float32)
    want = x * np.array([math.erfc(5 / math.sqrt(2)), math.erfc(3 / math.sqrt(2))]) / 2
    np.testing.assert_allclose(nn.gelu(x, approximate=False), want, rtol=1e-5)
    out = nn.relu6(np.array([-1, 3, 9], np.int32))
    assert out.dtype == np.float32 and list(out) == [0.0, 3.0, 6.0]
    logits = np.array([[np.inf, 1.0], [-np.inf, -np.inf], [2.0, -np.inf]])
    with np.errstate(invalid="ignore"):
        for f in (nn.softmax, nn.log_softmax):
            out = f(logits)
            assert np.isnan(out[:2]).all()
        np.testing.assert_allclose(nn.softmax(logits)[2], [1.0, 0.0])
        np.testing.assert_allclose(nn.log_softmax(logits)[2], [0.0, -np.inf])
    # masked rows: no NaN in values or gradients
    where = np.array([[True, False], [False, False]])
    g = fnad.grad(lambda v: nn.log_softmax(v, where=where)[0, 0] + nn.softmax(v, where=where).sum())(
        np.ones((2, 2)))
    assert np.isfinite(g).all()


def test_log1mexp_accurate_at_both_ends_with_its_derivative():
    x = np.array([1e-300, 1e-10, 0.1, math.log(2), 1.0, 30.0, 800.0])
    exact = [math.log(-math.expm1(-v)) if v < 1 else math.log1p(-math.exp(-v)) for v in x]
    np.testing.assert_allclose(nn.log1mexp(x), exact, rtol=1e-14)
    assert float(nn.log1mexp(np.float64(0.0))) == -np.inf
    assert np.isnan(nn.log1mexp(np.float64(-1.0)))
    tu.check_grads(nn.log1mexp, (np.array([0.05, 0.5, 3.0]),), order=2)
    g = fnad.vmap(fnad.grad(nn.log1mexp))(np.array([1e-8, 40.0]))
    np.testing.assert_allclose(g, 1 / np.expm1([1e-8, 40.0]), rtol=1e-12)
    tu.check_transforms(nn.log1mexp, (np.array([0.5, 2.0], np.float32),))
    assert nn.log1mexp(np.ones(2, np.float32)).dtype == np.float32


def test_glu_splits_the_axis():
    x = RNG.standard_normal((4, 6))
    a, b = x[:, :3], x[:, 3:]
    tu.assert_allclose(nn.glu(x), a / (1 + np.exp(-b)))
    tu.assert_allclose(nn.glu(x, axis=0), x[:2] / (1 + np.exp(-x[2:])))
    tu.check_grads(nn.glu, (x,), order=2)
    tu.check_vmap(nn.glu, (x,), in_axes=1)
    tu.check_transforms(nn.glu, (x.astype(np.float32),))
    with pytest.raises(fnad.ShapeError, match="glu.*even"):
        nn.glu(np.ones((2, 3)))


def test_logsumexp_weights_sign_and_where():
    a = RNG.standard_normal((3, 4))
    b = RNG.standard_normal((3, 4))
    s = (b * np.exp(a)).sum(-1)
    out, sign = nn.logsumexp(a, axis=-1, b=b, return_sign=True)
    tu.assert_allclose(out, np.log(np.abs(s)))
    np.testing.assert_array_equal(sign, np.sign(s))
    pos = np.abs(b)
    tu.assert_allclose(nn.logsumexp(a, b=pos), np.log((pos * np.exp(a)).sum()))
    # a zero weight removes its entry, even an infinite one
    assert float(nn.logsumexp(np.array([np.inf, 0.0]), b=np.array([0.0, 1.0]))) == 0.0
    where = RNG.random((3, 4)) > 0.3
    where[:, 0] = True
    ref = np.array([np_logsumexp(row[m], 0) for row, m in zip(a, where)])
    tu.assert_allclose(nn.logsumexp(a, axis=-1, where=where), ref)
    tu.assert_allclose(nn.logmeanexp(a, axis=-1, where=where),
                       ref - np.log(where.sum(-1)))
    tu.assert_allclose(nn.logmeanexp(a), np_logsumexp(a.ravel(), 0) - np.log(12))
    tu.check_grads(lambda a, b: nn.logsumexp(a, axis=0, b=b), (a, pos), order=2)
    tu.check_grads(lambda a: nn.logmeanexp(a, axis=1, where=where), (a,), order=2)


def test_softmax_and_standardize_with_where():
    x = RNG.standard_normal((3, 5))
    where = RNG.random((3, 5)) > 0.4
    where[:, 2] = True
    e = np.where(where, np.exp(x), 0)
    tu.assert_allclose(nn.softmax(x, where=where), e / e.sum(-1, keepdims=True))
    with np.errstate(divide="ignore"):
        ref = np.where(where, np.log(e / e.sum(-1, keepdims=True)), -np.inf)
    tu.assert_allclose(nn.log_softmax(x, where=where), ref)
    tu.check_grads(lambda x: nn.softmax(x, where=where), (x,), order=1)
    xm = np.where(where, x, np.nan)
    mean = np.nanmean(xm, -1, keepdims=True)
    var = np.nanmean(xm * xm, -1, keepdims=True) - mean ** 2
    tu.assert_allclose(nn.standardize(x, where=where), (x - mean) / np.sqrt(var + 1e-5))
    # given statistics are used as they are
    tu.assert_allclose(nn.standardize(x, mean=1.0, variance=4.0, epsilon=0.0), (x - 1) / 2)
    tu.check_grads(lambda x: nn.standardize(x, axis=0), (x,), order=2)


def test_docstring_examples_run():
    import doctest

    from fnad.nn import activations, attention, initializers

    for mod in (activations, attention, initializers):
        result = doctest.testmod(mod)
        assert result.failed == 0, mod.__name__


def test_integer_inputs_empty_axes_and_relu_nan_derivative_as_jax():
    """Differences from JAX found by a differential sweep: activations of integers were
    float64 (of bools float16; JAX: the default float32), relu and hard_tanh of bools stayed
    bool or raised (JAX: int32), the softmax family raised on an empty axis (JAX: an empty
    result, logsumexp -inf), and relu's derivative at NaN was 1 (JAX: 0)."""
    ints = np.array([-2, 0, 3], np.int32)
    floats = ints.astype(np.float32)
    for f in (nn.elu, nn.gelu, nn.leaky_relu, nn.softplus, nn.tanh, nn.soft_sign, nn.celu,
              nn.selu, nn.mish, nn.squareplus, nn.sparse_plus, nn.sparse_sigmoid,
              nn.hard_sigmoid, nn.hard_silu, nn.log_sigmoid, nn.softmax, nn.log_softmax,
              nn.standardize):
        bools_too = f not in (nn.softmax, nn.log_softmax, nn.log_sigmoid)  # JAX: TypeError
        for x in (ints, ints > 0) if bools_too else (ints,):
            out = f(x)
            assert out.dtype == np.float32, (f, x.dtype, out.dtype)
            np.testing.assert_allclose(out, f(x.astype(np.float32)), rtol=1e-6)
    assert nn.log1mexp(np.array([1, 2], np.int32)).dtype == np.float32
    np.testing.assert_allclose(nn.elu(floats), np.where(floats > 0, floats, np.expm1(floats)),
                               rtol=1e-6)
    for f in (nn.relu, nn.hard_tanh):
        out = f(np.array([True, False]))
        assert out.dtype == np.int32 and list(out) == [1, 0]
    for shape, axis in (((2, 0), -1), ((0, 3), 0), ((0, 3), None)):
        empty = np.zeros(shape, np.float32)
        for f in (nn.softmax, nn.log_softmax):
            out = f(empty, axis=axis)
            assert out.shape == shape and out.dtype == np.float32
    lse = nn.logsumexp(np.zeros((2, 0), np.float32), axis=-1)
    assert lse.dtype == np.float32 and list(lse) == [-np.inf, -np.inf]
    assert nn.logsumexp(np.zeros(0)) == -np.inf
    g = fnad.grad(lambda v: nn.relu(v).sum())(np.array([np.nan, 2.0, -1.0]))
    assert list(g) == [0.0, 1.0, 0.0]
    assert np.isnan(nn.relu(np.array([np.nan]))[0])
