"""fnad.scipy.ndimage.map_coordinates against scipy.ndimage (JAX's 'constant' and 'wrap' are
SciPy's 'grid-constant' and 'grid-wrap'), JAX's rounding for order 0 and integer inputs,
derivatives against finite differences, jit and vmap, and its errors."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage as snd

import fnad
import fnad.scipy.ndimage as fnd
from fnad.test_util import check_grads

MODES = ["constant", "nearest", "wrap", "mirror", "reflect"]
SCIPY_MODE = {"constant": "grid-constant", "wrap": "grid-wrap"}


def _coords(rng, shape, n=9):
    """Coordinates inside and up to 3 cells outside the grid, none at an exact half (where
    SciPy's order-0 rounding differs from JAX's)."""
    out = []
    for s in shape:
        c = rng.uniform(-3, s + 2, n)
        c[np.abs(c - np.round(c) - 0.5) < 1e-3] += 0.1
        out.append(c)
    return out


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("order", [0, 1])
@pytest.mark.parametrize("shape", [(5,), (1,), (2,), (4, 6), (1, 3), (3, 2, 4)], ids=str)
def test_matches_scipy(shape, order: int, mode: str) -> None:
    rng = np.random.default_rng(sum(shape) * 10 + order)
    x = rng.standard_normal(shape)
    coords = _coords(rng, shape)
    expected = snd.map_coordinates(x, np.stack(coords), order=order,
                                   mode=SCIPY_MODE.get(mode, mode), cval=1.5)
    got = fnd.map_coordinates(x, coords, order, mode, cval=1.5)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    got32 = fnd.map_coordinates(x.astype(np.float32), [c.astype(np.float32) for c in coords],
                                order, mode, 1.5)
    assert got32.dtype == np.float32
    np.testing.assert_allclose(got32, expected, rtol=1e-5, atol=1e-5)


def test_order0_rounds_half_away_from_zero() -> None:
    x = np.arange(10.0)
    got = fnd.map_coordinates(x, [np.array([-0.5, 0.5, 1.5, 2.5, 3.49])], 0, "nearest")
    np.testing.assert_array_equal(got, [0.0, 1.0, 2.0, 3.0, 3.0])


def test_integer_input_keeps_dtype_rounding_half_away() -> None:
    x = np.arange(12, dtype=np.int32).reshape(3, 4)
    got = fnd.map_coordinates(x, [np.array([0.5, 0.0, 0.25]), np.array([1.5, 0.5, 0.0])], 1)
    # exact values 3.5, 0.5, 1.0: rounded half away from zero
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, [4, 1, 1])


def test_integer_coordinates_and_array_of_coordinates() -> None:
    x = np.arange(12.0, dtype=np.float32).reshape(3, 4)
    for order in (0, 1):
        got = fnd.map_coordinates(x, np.array([[0, 2, -1], [3, 1, 5]]), order, "reflect")
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, [3.0, 9.0, 2.0])


def test_coordinates_broadcast() -> None:
    x = np.arange(12.0).reshape(3, 4)
    got = fnd.map_coordinates(x, [np.array([0.5]), np.array([[0.5], [1.5]])], 1)
    np.testing.assert_allclose(got, [[2.5], [3.5]])


def test_cval_takes_input_dtype() -> None:
    got = fnd.map_coordinates(np.arange(3, dtype=np.int32), [np.array([-2.0, 1.0])], 0,
                              cval=7.9)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, [7, 1])


@pytest.mark.parametrize("mode", MODES)
def test_derivatives(mode: str) -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 4))
    # away from integer coordinates, where order 1 has kinks
    c0, c1 = np.array([0.3, 1.6, -0.7, 3.2]), np.array([2.4, -1.3, 0.8, 4.6])
    check_grads(lambda x, a, b: fnd.map_coordinates(x, [a, b], 1, mode, 0.5), (x, c0, c1),
                order=2, modes=("fwd", "rev"))
    # order 0 is piecewise constant in the coordinates
    g = fnad.grad(lambda a: fnd.map_coordinates(x, [a, c1], 0, mode).sum())(c0)
    np.testing.assert_array_equal(g, 0.0)


def test_jit_and_vmap() -> None:
    rng = np.random.default_rng(4)
    x = rng.standard_normal((4, 5))
    cs = rng.uniform(-2, 6, (3, 2, 7))

    def f(x, c):
        return fnd.map_coordinates(x, [c[0], c[1]], 1, "mirror")

    expected = np.stack([f(x, c) for c in cs])
    np.testing.assert_allclose(fnad.jit(f)(x, cs[0]), expected[0], rtol=1e-12)
    np.testing.assert_allclose(fnad.vmap(f, in_axes=(None, 0))(x, cs), expected, rtol=1e-12)
    # the input closed over as a NumPy array, the coordinates batched
    np.testing.assert_allclose(fnad.vmap(lambda c: f(x, c))(cs), expected, rtol=1e-12)
    xs = rng.standard_normal((3, 4, 5))
    np.testing.assert_allclose(fnad.vmap(f, in_axes=(0, None))(xs, cs[0]),
                               np.stack([f(xi, cs[0]) for xi in xs]), rtol=1e-12)


def test_errors() -> None:
    x = np.ones((3, 4))
    c = [np.zeros(2), np.zeros(2)]
    with pytest.raises(NotImplementedError, match="order"):
        fnd.map_coordinates(x, c, 3)
    with pytest.raises(NotImplementedError, match="grid-wrap"):
        fnd.map_coordinates(x, c, 1, "grid-wrap")
    with pytest.raises(fnad.FnadError, match="mode"):
        fnd.map_coordinates(x, c, 1, "bogus")
    with pytest.raises(fnad.FnadError, match="input.ndim"):
        fnd.map_coordinates(x, c[:1], 1)
    with pytest.raises(fnad.FnadError, match="no values"):
        fnd.map_coordinates(np.ones((0, 2)), c, 1)
    with pytest.raises(fnad.FnadError, match="real"):
        fnd.map_coordinates(x, [np.zeros(2) + 1j, np.zeros(2)], 1)
