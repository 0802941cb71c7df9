"""Initializers: shapes, dtypes, and the variances they promise, checked statistically."""

from __future__ import annotations

import math

import numpy as np
import pytest

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
    ("uniform", init.uniform(0.5), DENSE, 0.25 / 3),
    ("normal", init.normal(0.2), DENSE, 0.04),
])
def test_variance(name, make, shape, var):
    w = make(KEY, shape)
    assert w.shape == shape and w.dtype == np.float32
    w = w.astype(np.float64)
    n = w.size
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
    assert init.compute_fans((7,)) == (7, 7)


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (3, 2, 5)])
def test_orthogonal(shape):
    w = init.orthogonal(scale=2.0)(KEY, shape, np.float64)
    assert w.shape == shape
    m = w.reshape(-1, shape[-1])
    small = min(m.shape)
    gram = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
    np.testing.assert_allclose(gram, 4 * np.eye(small), atol=1e-12)


def test_constants_and_identity():
    np.testing.assert_array_equal(init.zeros(KEY, (2, 3)), np.zeros((2, 3), np.float32))
    np.testing.assert_array_equal(init.ones(KEY, (2,), np.float64), [1.0, 1.0])
    np.testing.assert_array_equal(init.constant(3)(KEY, (1,), np.int32), [3])
    np.testing.assert_array_equal(init.identity(2.0)(KEY, (2, 3)), 2 * np.eye(2, 3))
    with pytest.raises(ValueError, match="2-d"):
        init.identity()(KEY, (2, 2, 2))
