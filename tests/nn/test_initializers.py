"""Initializers: shapes, dtypes, and the variances they promise, checked statistically."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import truncnorm

from fnad import random
from fnad.nn import initializers as init

KEY = random.key(0)
DENSE = (400, 300)            # fan_in 400, fan_out 300
CONV = (64, 32, 3, 3)         # OIHW: fan_in 32*9, fan_out 64*9


@pytest.mark.parametrize("name,make,shape,var", [
    ("glorot_uniform", init.glorot_uniform(), DENSE, 2 / 700),
    ("glorot_normal", init.glorot_normal(), DENSE, 2 / 700),
    ("xavier_conv", init.xavier_uniform(in_axis=1, out_axis=0), CONV, 2 / (288 + 576)),
    ("he_uniform", init.he_uniform(), DENSE, 2 / 400),
    ("he_normal_conv", init.kaiming_normal(in_axis=1, out_axis=0), CONV, 2 / 288),
    ("lecun_normal", init.lecun_normal(), DENSE, 1 / 400),
    ("lecun_uniform", init.lecun_uniform(), DENSE, 1 / 400),
    ("truncated", init.variance_scaling(1.0, "fan_out", "truncated_normal"), DENSE, 1 / 300),
    ("uniform", lambda k, s: init.uniform(0.5)(k, s) - np.float32(0.25), DENSE, 0.25 / 12),
    ("normal", init.normal(0.2), DENSE, 0.04),
    ("truncated_normal", init.truncated_normal(0.2), DENSE, 0.04 * truncnorm(-2, 2).var()),
    ("truncated_normal_1sided", init.truncated_normal(1.0, lower=0.0, upper=3.0), DENSE,
     truncnorm(0, 3).var() + truncnorm(0, 3).mean() ** 2),  # second moment (mean != 0)
    ("geo_avg", init.variance_scaling(1.0, "fan_geo_avg", "normal"), DENSE,
     1 / math.sqrt(400 * 300)),
    ("batch_axis", init.lecun_normal(batch_axis=0), (10, 40, 30), 1 / 40),
])
def test_variance(name, make, shape, var):
    w = make(KEY, shape)
    assert w.shape == shape and w.dtype == np.float32
    w = w.astype(np.float64)
    n = w.size
    if name == "truncated_normal_1sided":
        assert w.min() >= 0 and w.max() <= 3
        w = np.concatenate([w, -w])  # symmetrized: mean 0, variance = the second moment
    assert abs(w.mean()) < 5 * math.sqrt(var / n)
    # the sample variance's sd is at most sqrt(2 / n) var for these light-tailed laws
    assert abs(w.var() / var - 1) < 5 * math.sqrt(2 / n)


def test_uniform_and_truncated_bounds():
    w = init.he_uniform()(KEY, DENSE)
    assert np.abs(w).max() <= math.sqrt(6 / 400)
    w = init.variance_scaling(1.0, "fan_in", "truncated_normal")(KEY, DENSE)
    assert np.abs(w).max() <= 2 * math.sqrt(1 / 400) / 0.87962566103423978 + 1e-6


def test_fans():
    assert init.compute_fans(DENSE) == (400, 300)
    assert init.compute_fans(CONV, in_axis=1, out_axis=0) == (288, 576)
    with pytest.raises(ValueError, match="in_axis"):  # as JAX: no default fans for 1-d
        init.compute_fans((7,))
    assert init.compute_fans((7,), in_axis=0, out_axis=0) == (1, 1)


def test_uniform_range_and_axis_sequences_as_jax():
    """jax.nn.initializers.uniform draws from [0, scale) (fnad drew [-scale, scale)), and
    the variance-scaling family takes sequences of in/out axes (fnad raised a TypeError)."""
    w = init.uniform(0.5)(KEY, (4000,))
    assert w.min() >= 0.0 and w.max() < 0.5 and abs(w.mean() - 0.25) < 0.01
    assert init.compute_fans((20, 30, 40), in_axis=(0, 1), out_axis=-1) == (600, 40)
    w = init.variance_scaling(1.0, "fan_in", "normal", in_axis=(0, 1), out_axis=-1)(
        KEY, (20, 30, 40))
    assert abs(w.std() - math.sqrt(1 / 600)) < 0.05 * math.sqrt(1 / 600)
    with pytest.raises(ValueError, match="in_axis"):
        init.glorot_uniform()(KEY, (5,))


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (3, 2, 5)])
def test_orthogonal(shape):
    w = init.orthogonal(scale=2.0)(KEY, shape, np.float64)
    assert w.shape == shape
    m = w.reshape(-1, shape[-1])
    small = min(m.shape)
    gram = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
    np.testing.assert_allclose(gram, 4 * np.eye(small), atol=1e-12)


def test_orthogonal_complex_is_unitary_without_warnings():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ComplexWarning from a cast to real
        w = init.orthogonal()(KEY, (3, 4), np.complex128)
    assert w.dtype == np.complex128 and np.abs(w.imag).max() > 0
    np.testing.assert_allclose(w @ w.conj().T, np.eye(3), atol=1e-12)


def test_constants_and_identity():
    np.testing.assert_array_equal(init.zeros(KEY, (2, 3)), np.zeros((2, 3), np.float32))
    np.testing.assert_array_equal(init.ones(KEY, (2,), np.float64), [1.0, 1.0])
    np.testing.assert_array_equal(init.constant(3)(KEY, (1,), np.int32), [3])
    np.testing.assert_array_equal(init.identity(2.0)(KEY, (2, 3)), 2 * np.eye(2, 3))
    with pytest.raises(ValueError, match="2-d"):
        init.identity()(KEY, (2, 2, 2))


def test_factory_dtype_and_truncated_bounds():
    for make in (init.normal(dtype=np.float64), init.uniform(dtype=np.float64),
                 init.truncated_normal(dtype=np.float64), init.constant(1.0, np.float64),
                 init.glorot_normal(dtype=np.float64), init.orthogonal(dtype=np.float64),
                 init.variance_scaling(1.0, "fan_in", "uniform", dtype=np.float64)):
        assert make(KEY, (4, 4)).dtype == np.float64
        assert make(KEY, (4, 4), np.float32).dtype == np.float32  # the call's dtype wins
    w = init.truncated_normal(0.5, lower=-1.0, upper=0.5)(KEY, (2000,))
    assert w.min() >= -0.5 and w.max() <= 0.25
    assert init.compute_fans((10, 40, 30), batch_axis=0) == (40, 30)
    assert init.compute_fans((10, 3, 40, 30), batch_axis=(0,)) == (120, 90)
    with pytest.raises(ValueError, match="fan_geo_avg"):
        init.variance_scaling(1.0, "fan_sum", "normal")


@pytest.mark.parametrize("shape", [(3, 4, 6), (3, 5, 4, 4), (1, 3, 3, 2, 5)])
def test_delta_orthogonal(shape):
    w = init.delta_orthogonal(scale=1.5)(KEY, shape, np.float64)
    assert w.shape == shape and w.dtype == np.float64
    centre = tuple((d - 1) // 2 for d in shape[:-2])
    m = w[centre]
    np.testing.assert_allclose(m @ m.T, 2.25 * np.eye(shape[-2]), atol=1e-12)
    rest = w.copy()
    rest[centre] = 0
    assert not rest.any()
    assert init.delta_orthogonal()(KEY, shape).dtype == np.float32


def test_delta_orthogonal_bad_shapes():
    with pytest.raises(ValueError, match="3-, 4- or 5-d"):
        init.delta_orthogonal()(KEY, (4, 4))
    with pytest.raises(ValueError, match="in <= out"):
        init.delta_orthogonal()(KEY, (3, 6, 4))


@pytest.mark.parametrize("name, scale, fan", [("glorot_normal", 1.0, "avg"),
                                              ("he_normal", 2.0, "in"),
                                              ("lecun_normal", 1.0, "in")])
def test_normal_families_draw_a_truncated_normal_of_the_intended_variance(name, scale, fan):
    """As JAX's and Keras's: a normal truncated at 2 sigma, rescaled to variance scale / n."""
    from fnad import random
    from fnad.nn import initializers
    shape = (300, 200)
    w = np.asarray(getattr(initializers, name)()(random.key(1), shape), np.float64)
    n = (shape[0] + shape[1]) / 2 if fan == "avg" else shape[0]
    var = scale / n
    assert abs(w.var() / var - 1) < 0.03
    # the truncation: no draw beyond 2 sigma of the untruncated normal
    assert np.abs(w).max() <= 2 * np.sqrt(var) / 0.87962566103423978 + 1e-6


@pytest.mark.parametrize("make", [
    lambda: init.zeros, lambda: init.constant(2.0), init.uniform, init.normal,
    init.truncated_normal, init.he_normal, init.glorot_uniform, init.orthogonal,
    init.delta_orthogonal, init.identity])
def test_out_sharding_argument_is_accepted(make):
    # JAX's initializers take out_sharding as a fourth argument (the training cookbook
    # passes a PartitionSpec); on one device it changes nothing.
    shape = (3, 4, 4) if make is init.delta_orthogonal else (4, 4)
    a = make()(KEY, shape, np.float32, None)
    b = make()(KEY, shape, np.float32, out_sharding=("fsdp", None))
    assert a.shape == shape and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("distribution", ["truncated_normal", "normal", "uniform"])
@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_complex_variance_scaling(distribution, dtype):
    """Complex weights as JAX draws them: E|z|^2 = scale / fan, uniform phase; the truncated
    normal's modulus stays within 2 (unit-variance) standard deviations, the uniform one's
    inside the disk of that variance."""
    fan_in, scale = 64, 2.0
    w = init.variance_scaling(scale, "fan_in", distribution)(random.key(3), (fan_in, 4000),
                                                             dtype)
    assert w.dtype == dtype
    var = scale / fan_in
    np.testing.assert_allclose(np.mean(np.abs(w) ** 2), var, rtol=0.02)
    np.testing.assert_allclose(np.mean(w), 0, atol=0.01 * math.sqrt(var))
    phase = np.angle(w)
    np.testing.assert_allclose(np.mean(np.cos(phase)), 0, atol=0.01)
    if distribution == "truncated_normal":
        assert np.abs(w).max() <= 2 * math.sqrt(var) / 0.95311164380491208 * (1 + 1e-6)
    if distribution == "uniform":
        assert np.abs(w).max() <= math.sqrt(2 * var) * (1 + 1e-6)
