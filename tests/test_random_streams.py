"""fnad.random reproduces JAX 0.10.2's draws (threefry2x32, partitionable, as JAX's default):
the vectors in data/jax_random_draws.json are JAX's outputs for the calls below (written by
a script that ran each call with `jax.random` in place of `fnad.random`).

Integers, booleans and keys must match exactly, floats bit for bit ("exact"), except where
XLA's CPU arithmetic differs from NumPy's in the last bits: its own log, erf and QR
(LAPACK's here) give a few ulps ("ulp", n; up to 8 where erf or a gamma loop compounds
them), or a few eps of 1.0 absolutely ("abs", n) where a result near 0 comes from a
cancellation or an orthogonalisation.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import fnad
from fnad import random
from fnad.nn import initializers

F32 = np.float32
P = np.array([0.1, 0.2, 0.3, 0.15, 0.25], F32)
LOGITS = np.log(np.array([[0.1, 0.2, 0.7], [0.3, 0.3, 0.4]], F32))
X = np.arange(24, dtype=F32).reshape(4, 6)
MEAN = np.array([1.0, -1.0, 0.5], F32)
COV = np.array([[2.0, 0.3, 0.1], [0.3, 1.0, 0.2], [0.1, 0.2, 0.5]], F32)
Exact = ("exact", 0)

# name -> (call(random_module, initializers_module, key), tolerance, whether with x64)
CALLS: dict[str, tuple[Callable[[Any, Any, Any], Any], tuple[str, int], bool]] = {
    "key_0": (lambda r, i, k: r.PRNGKey(0), Exact, False),
    "key_neg1": (lambda r, i, k: r.PRNGKey(-1), Exact, False),
    "key_2_32_plus_7": (lambda r, i, k: r.PRNGKey(2 ** 32 + 7), Exact, False),
    "key_neg1_x64": (lambda r, i, k: r.PRNGKey(-1), Exact, True),
    "key_2_40_plus_5_x64": (lambda r, i, k: r.PRNGKey(2 ** 40 + 5), Exact, True),
    "split": (lambda r, i, k: r.split(k), Exact, False),
    "split_3": (lambda r, i, k: r.split(k, 3), Exact, False),
    "split_2x2": (lambda r, i, k: r.split(k, (2, 2)), Exact, False),
    "fold_in_0": (lambda r, i, k: r.fold_in(k, 0), Exact, False),
    "fold_in_123456": (lambda r, i, k: r.fold_in(k, 123456), Exact, False),
    "fold_in_max": (lambda r, i, k: r.fold_in(k, 2 ** 32 - 1), Exact, False),
    "bits_u8": (lambda r, i, k: r.bits(k, (6,), np.uint8), Exact, False),
    "bits_u16": (lambda r, i, k: r.bits(k, (2, 3), np.uint16), Exact, False),
    "bits_u32": (lambda r, i, k: r.bits(k, (6,)), Exact, False),
    "bits_u64_x64": (lambda r, i, k: r.bits(k, (4,)), Exact, True),
    "uniform": (lambda r, i, k: r.uniform(k, (6,)), Exact, False),
    "uniform_2x3": (lambda r, i, k: r.uniform(k, (2, 3)), Exact, False),
    "uniform_f16": (lambda r, i, k: r.uniform(k, (6,), np.float16), Exact, False),
    "uniform_range": (lambda r, i, k: r.uniform(k, (6,), minval=-3, maxval=5.5), Exact, False),
    "uniform_f64_x64": (lambda r, i, k: r.uniform(k, (6,), np.float64), Exact, True),
    "uniform_range_f64_x64": (lambda r, i, k: r.uniform(k, (6,), minval=-3, maxval=5.5), Exact,
                              True),
    "normal": (lambda r, i, k: r.normal(k, (8,)), ("ulp", 3), False),
    "normal_f64_x64": (lambda r, i, k: r.normal(k, (8,)), ("ulp", 3), True),
    "normal_c64": (lambda r, i, k: r.normal(k, (3,), np.complex64), ("ulp", 3), False),
    "truncated_normal": (lambda r, i, k: r.truncated_normal(k, -2.0, 2.0, (6,)), ("ulp", 8),
                         False),
    "bernoulli": (lambda r, i, k: r.bernoulli(k, 0.3, (10,)), Exact, False),
    "bernoulli_high": (lambda r, i, k: r.bernoulli(k, 0.3, (10,), mode="high"), Exact, False),
    "gumbel": (lambda r, i, k: r.gumbel(k, (6,)), ("abs", 4), False),
    "gumbel_high": (lambda r, i, k: r.gumbel(k, (6,), mode="high"), ("abs", 4), False),
    "categorical": (lambda r, i, k: r.categorical(k, LOGITS), Exact, False),
    "categorical_shape": (lambda r, i, k: r.categorical(k, LOGITS, shape=(4, 2)), Exact, False),
    "categorical_axis0": (lambda r, i, k: r.categorical(k, LOGITS, axis=0), Exact, False),
    "categorical_norep": (lambda r, i, k: r.categorical(k, LOGITS, shape=(2, 2), replace=False),
                          Exact, False),
    "randint": (lambda r, i, k: r.randint(k, (8,), -5, 1000), Exact, False),
    "randint_i8": (lambda r, i, k: r.randint(k, (8,), -3, 7, np.int8), Exact, False),
    "randint_u8_256": (lambda r, i, k: r.randint(k, (8,), 0, 256, np.uint8), Exact, False),
    "randint_i32_full": (lambda r, i, k: r.randint(k, (4,), -2 ** 31, 2 ** 31 - 1), Exact, False),
    "randint_i64_x64": (lambda r, i, k: r.randint(k, (4,), -10 ** 12, 10 ** 12), Exact, True),
    "permutation_10": (lambda r, i, k: r.permutation(k, 10), Exact, False),
    "permutation_axis1": (lambda r, i, k: r.permutation(k, X, 1), Exact, False),
    "permutation_independent": (lambda r, i, k: r.permutation(k, X, 1, True), Exact, False),
    "choice": (lambda r, i, k: r.choice(k, 5, (6,)), Exact, False),
    "choice_norep": (lambda r, i, k: r.choice(k, 5, (3,), replace=False), Exact, False),
    "choice_p": (lambda r, i, k: r.choice(k, 5, (6,), p=P), Exact, False),
    "choice_p_norep": (lambda r, i, k: r.choice(k, 5, (3,), replace=False, p=P), Exact, False),
    "choice_axis1": (lambda r, i, k: r.choice(k, X, (2,), axis=1), Exact, False),
    "exponential": (lambda r, i, k: r.exponential(k, (6,)), ("ulp", 2), False),
    "laplace": (lambda r, i, k: r.laplace(k, (6,)), ("ulp", 2), False),
    "logistic": (lambda r, i, k: r.logistic(k, (6,)), ("abs", 4), False),
    "cauchy": (lambda r, i, k: r.cauchy(k, (6,)), ("ulp", 4), False),
    "rademacher": (lambda r, i, k: r.rademacher(k, (8,)), Exact, False),
    "geometric": (lambda r, i, k: r.geometric(k, 0.3, (8,)), Exact, False),
    "triangular": (lambda r, i, k: r.triangular(k, -1.0, 0.5, 2.0, (6,)), ("ulp", 2), False),
    "orthogonal": (lambda r, i, k: r.orthogonal(k, 3), ("abs", 8), False),
    "multivariate_normal": (lambda r, i, k: r.multivariate_normal(k, MEAN, COV, (2,)),
                            ("abs", 16), False),
    "gamma": (lambda r, i, k: r.gamma(k, np.array([0.3, 1.0, 2.5, 20.0], F32)), ("ulp", 8),
              False),
    "loggamma": (lambda r, i, k: r.loggamma(k, np.array([0.3, 1.0, 2.5, 20.0], F32)),
                 ("abs", 8), False),
    "beta": (lambda r, i, k: r.beta(k, 2.0, 3.0, (4,)), ("ulp", 8), False),
    "dirichlet": (lambda r, i, k: r.dirichlet(k, np.array([1.0, 2.0, 3.0], F32), (2,)),
                  ("ulp", 8), False),
    "chisquare": (lambda r, i, k: r.chisquare(k, 3.0, (4,)), ("ulp", 8), False),
    "f": (lambda r, i, k: r.f(k, 3.0, 5.0, (4,)), ("ulp", 8), False),
    "t": (lambda r, i, k: r.t(k, 4.0, (4,)), ("ulp", 8), False),
    "poisson": (lambda r, i, k: r.poisson(k, np.array([0.0, 0.5, 7.0, 25.0, 900.0], F32)),
                Exact, False),
    "glorot_normal": (lambda r, i, k: i.glorot_normal()(k, (3, 4)), ("ulp", 8), False),
    "he_uniform": (lambda r, i, k: i.he_uniform()(k, (3, 4)), Exact, False),
    "lecun_normal": (lambda r, i, k: i.lecun_normal()(k, (3, 4)), ("ulp", 8), False),
    "variance_scaling_normal": (lambda r, i, k: i.variance_scaling(2.0, "fan_avg", "normal")(
        k, (3, 4)), ("ulp", 3), False),
    "init_orthogonal": (lambda r, i, k: i.orthogonal()(k, (4, 3)), ("abs", 8), False),
}

DATA = Path(__file__).parent / "data" / "jax_random_draws.json"
SEEDS = (0, 7)


def draw(name: str, r: Any, i: Any, seed: int) -> np.ndarray:
    """The draw `name` with key `r.PRNGKey(seed)` through the given modules."""
    return np.asarray(CALLS[name][0](r, i, r.PRNGKey(seed)))


def encode(x: np.ndarray) -> dict[str, Any]:
    """An array as JSON: dtype, shape and its elements' exact bit patterns as integers."""
    raw = x.view(np.dtype(f"uint{8 * x.dtype.itemsize}")) if x.dtype.kind in "fcb" else x
    if x.dtype.kind == "c":
        raw = x.view(np.dtype(f"uint{4 * x.dtype.itemsize}"))
    return {"dtype": x.dtype.name, "shape": list(x.shape), "bits": raw.ravel().tolist()}


def decode(d: dict[str, Any]) -> np.ndarray:
    dtype = np.dtype(d["dtype"])
    if dtype.kind in "iu":
        return np.array(d["bits"], dtype).reshape(d["shape"])
    width = 4 * dtype.itemsize if dtype.kind == "c" else 8 * dtype.itemsize
    raw = np.array(d["bits"], np.dtype(f"uint{width}")) if dtype != np.bool_ else \
        np.array(d["bits"], np.uint8)
    return raw.view(dtype).reshape(d["shape"])


def _vectors() -> dict[str, Any]:
    return json.loads(DATA.read_text())


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", CALLS)
def test_draws_are_jax_draws(name: str, seed: int) -> None:
    expected = decode(_vectors()[f"{name}/{seed}"])
    _, (kind, n), x64 = CALLS[name]
    fnad.config.update("enable_x64", x64)
    try:
        got = draw(name, random, initializers, seed)
    finally:
        fnad.config.update("enable_x64", False)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    if kind == "exact":
        np.testing.assert_array_equal(np.ascontiguousarray(got).view(np.uint8),
                                      expected.view(np.uint8))
        return
    real = np.dtype(expected.real.dtype)
    g, e = (np.concatenate([v.real.ravel(), v.imag.ravel()]).astype(np.float64)
            for v in (got, expected))
    scale = np.spacing(np.maximum(np.abs(e), np.abs(g)).astype(real)) if kind == "ulp" else \
        np.finfo(real).eps
    assert np.all(np.abs(g - e) <= n * np.asarray(scale, np.float64)), (g, e)
