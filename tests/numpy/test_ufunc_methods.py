"""jax.numpy's ufunc methods on fnad.numpy's ufuncs (JAX's 14 ufuncs and NumPy's other
elementwise functions), against NumPy's own methods."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import fnad
import fnad.numpy as fnp
from fnad.core.errors import ArgumentError
from fnad.test_util import check_grads

RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 4))
BINARY = ["add", "multiply", "subtract", "maximum", "minimum", "logaddexp", "logaddexp2",
          "arctan2", "hypot", "fmax"]
BOOLEAN = ["logical_and", "logical_or", "logical_xor"]
INTEGER = ["bitwise_and", "bitwise_or", "bitwise_xor"]


@pytest.mark.parametrize("name", BINARY + BOOLEAN + INTEGER)
def test_attributes_are_numpys(name: str) -> None:
    f, g = getattr(fnp, name), getattr(np, name)
    assert (f.nin, f.nout, f.nargs) == (g.nin, g.nout, g.nin)  # JAX's nargs: nin
    assert f.identity == g.identity or (np.isnan(f.identity) and np.isnan(g.identity))


@pytest.mark.parametrize("name", ["add", "multiply", "maximum", "minimum", "logaddexp",
                                  "hypot", "fmax"])
@pytest.mark.parametrize("axis", [0, 1, -1, None, (0, 1)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_reduce_is_numpys(name: str, axis: Any, keepdims: bool) -> None:
    got = getattr(fnp, name).reduce(X, axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(got, getattr(np, name).reduce(X, axis=axis, keepdims=keepdims),
                               rtol=1e-12)


@pytest.mark.parametrize("name", BOOLEAN)
def test_boolean_reductions(name: str) -> None:
    b = RNG.random((4, 5)) < 0.5
    for axis in (0, 1, None):
        np.testing.assert_array_equal(getattr(fnp, name).reduce(b, axis=axis),
                                      getattr(np, name).reduce(b, axis=axis))


@pytest.mark.parametrize("name", INTEGER)
def test_integer_reductions(name: str) -> None:
    n = RNG.integers(0, 256, (5, 3)).astype(np.int32)
    np.testing.assert_array_equal(getattr(fnp, name).reduce(n), getattr(np, name).reduce(n))


def test_reduce_options_and_empty_reductions() -> None:
    np.testing.assert_allclose(fnp.add.reduce(X, axis=1, initial=10.0),
                               np.add.reduce(X, axis=1, initial=10.0))
    mask = X > 0
    np.testing.assert_allclose(fnp.add.reduce(X, axis=0, where=mask),
                               np.add.reduce(X, axis=0, where=mask))
    np.testing.assert_allclose(fnp.maximum.reduce(X, axis=0, where=mask, initial=-5.0),
                               np.maximum.reduce(X, axis=0, where=mask, initial=-5.0))
    assert float(fnp.add.reduce(np.zeros(0))) == 0.0
    assert float(fnp.multiply.reduce(np.zeros(0))) == 1.0
    with pytest.raises(ArgumentError):
        fnp.arctan2.reduce(np.zeros(0))  # no identity, no initial


@pytest.mark.parametrize("name", ["add", "multiply", "subtract", "maximum", "arctan2"])
@pytest.mark.parametrize("axis", [0, 1])
def test_accumulate_is_numpys(name: str, axis: int) -> None:
    np.testing.assert_allclose(getattr(fnp, name).accumulate(X, axis=axis),
                               getattr(np, name).accumulate(X, axis=axis), rtol=1e-12)


@pytest.mark.parametrize("name", BINARY)
def test_outer_is_numpys(name: str) -> None:
    a, b = X[0], X[:, :2]
    np.testing.assert_allclose(getattr(fnp, name).outer(a, b), getattr(np, name).outer(a, b),
                               rtol=1e-12)


@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("indices", [np.array([0, 2, 0, 0]), (np.array([1, 1]), np.array([3, 3])),
                                     (slice(None), np.array([0, 0]))])
def test_at_is_numpys_unbuffered_update(name: str, indices: Any) -> None:
    """Repeated indices are updated once per occurrence, in order, as NumPy's at."""
    b = RNG.standard_normal(np.zeros((3, 4))[indices].shape)
    expected = X.copy()
    getattr(np, name).at(expected, indices, b)
    got = getattr(fnp, name).at(X, indices, b, inplace=False)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    jitted = fnad.jit(lambda x, b: getattr(fnp, name).at(x, indices, b, inplace=False))
    np.testing.assert_allclose(jitted(X, b), expected, rtol=1e-12)


def test_unary_at_and_its_derivative() -> None:
    expected = X.copy()
    np.sin.at(expected, np.array([1, 1, 2]))
    np.testing.assert_allclose(fnp.sin.at(X, np.array([1, 1, 2]), inplace=False), expected)
    check_grads(lambda x: fnp.sin.at(x, np.array([1, 1]), inplace=False), (X,), order=2)
    check_grads(lambda x, b: fnp.multiply.at(x, np.array([0, 0]), b, inplace=False),
                (X, X[:2]), order=1)


def test_at_in_place_and_reduceat_are_refused() -> None:
    with pytest.raises(ArgumentError, match="inplace=False"):
        fnp.add.at(X, 0, 1.0)
    with pytest.raises(NotImplementedError, match="reduceat"):
        fnp.add.reduceat(X, [0, 2])
