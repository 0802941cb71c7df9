"""fnad.scipy.interpolate.RegularGridInterpolator against scipy.interpolate (linear and
nearest, fill values, trailing value axes, the query point forms), dtypes, derivatives
against finite differences, jit (the interpolator as a pytree argument) and vmap, and
its errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.interpolate as si

import fnad
from fnad.scipy.interpolate import RegularGridInterpolator
from fnad.test_util import check_grads


def _grid(rng, sizes, trailing=()):
    points = tuple(np.sort(rng.uniform(-2, 3, n)) for n in sizes)
    return points, rng.standard_normal((*sizes, *trailing))


def _queries(rng, points, n=12):
    return np.stack([rng.uniform(p[0] - 0.5, p[-1] + 0.5, n) for p in points], axis=-1)


def _fitted(seed, sizes, n):
    """A random grid and values, their linear interpolator, n query points and its values
    there."""
    rng = np.random.default_rng(seed)
    points, values = _grid(rng, sizes)
    itp = RegularGridInterpolator(points, values)
    xi = _queries(rng, points, n)
    return points, values, itp, xi, itp(xi)


@pytest.mark.parametrize("fill_value", [np.nan, None, 2.5])
@pytest.mark.parametrize("method", ["linear", "nearest"])
@pytest.mark.parametrize("sizes,trailing", [((5,), ()), ((4, 3), ()), ((4, 3), (2,)),
                                            ((2, 3, 4), ()), ((3,), (2, 2))], ids=str)
def test_matches_scipy(sizes, trailing, method: str, fill_value) -> None:
    rng = np.random.default_rng(sum(sizes) + len(trailing))
    points, values = _grid(rng, sizes, trailing)
    xi = _queries(rng, points)
    expected = si.RegularGridInterpolator(points, values, method, bounds_error=False,
                                          fill_value=fill_value)(xi)
    ours = RegularGridInterpolator(points, values, method, fill_value=fill_value)
    got = ours(xi)
    assert got.dtype == np.float64 and got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    # the method can be changed per call
    other = "nearest" if method == "linear" else "linear"
    np.testing.assert_allclose(
        ours(xi, other),
        si.RegularGridInterpolator(points, values, other, bounds_error=False,
                                   fill_value=fill_value)(xi), rtol=1e-12, atol=1e-12)


def test_query_forms() -> None:
    points, values, itp, xi, expected = _fitted(1, (4, 5), 6)
    np.testing.assert_allclose(itp((xi[:, 0], xi[:, 1])), expected)
    np.testing.assert_allclose(itp(xi.reshape(2, 3, 2)), expected.reshape(2, 3))
    # a 1-d array is a list of points; a tuple of coordinates broadcasts
    np.testing.assert_allclose(itp(xi[:2].ravel()), expected[:2])
    assert itp((xi[:, :1], xi[:3, 1])).shape == (6, 3)
    one = RegularGridInterpolator(points[:1], values[:, 0])
    assert one(np.array([0.1, 0.2, 0.3])).shape == (3,)


def test_points_and_edges() -> None:
    itp = RegularGridInterpolator((np.arange(5.0),), np.arange(5.0) ** 2)
    np.testing.assert_allclose(itp(np.array([0.5, 2.5, 4.0, 0.0, 7.0, np.nan])),
                               [0.5, 6.5, 16.0, 0.0, np.nan, np.nan])
    # fill_value None extrapolates from the edge cells
    extra = RegularGridInterpolator((np.arange(5.0),), np.arange(5.0) ** 2, fill_value=None)
    np.testing.assert_allclose(extra(np.array([-1.0, 7.0])), [-1.0, 37.0])
    # nearest: a tie goes to the lower point, as JAX and SciPy
    nearest = RegularGridInterpolator((np.arange(5.0),), np.arange(5.0) ** 2, "nearest")
    np.testing.assert_allclose(nearest(np.array([0.5, 1.5, 2.51])), [0.0, 1.0, 9.0])
    # one point along an axis is enough for nearest
    single = RegularGridInterpolator((np.array([1.0]), np.arange(3.0)), np.ones((1, 3)) * 4,
                                     "nearest")
    np.testing.assert_allclose(single(np.array([[1.0, 0.7]])), [4.0])


def test_dtypes() -> None:
    rng = np.random.default_rng(2)
    points, values = _grid(rng, (4, 3))
    p32 = tuple(p.astype(np.float32) for p in points)
    xi = _queries(rng, points).astype(np.float32)
    for vals in (values.astype(np.float32), (values * 5).astype(np.int32)):
        got = RegularGridInterpolator(p32, vals)(xi)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, si.RegularGridInterpolator(
            points, vals.astype(np.float64), bounds_error=False)(xi), rtol=1e-4, atol=1e-4)
    # JAX's example: integer grid and values, float32 query points give float32
    got = RegularGridInterpolator(([1, 2, 3], [4, 5, 6]), [[10, 20, 30], [40, 50, 60],
                                                           [70, 80, 90]])(
        np.array([[1.5, 4.5], [2.2, 5.8]], np.float32))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, [30.0, 64.0], rtol=1e-6)
    # complex values, integer grid points, integer fill value
    cv = values + 1j * values[::-1]
    got = RegularGridInterpolator((np.arange(4), np.arange(3)), cv, fill_value=0)(xi)
    assert got.dtype == np.complex128
    expected = si.RegularGridInterpolator((np.arange(4.0), np.arange(3.0)), cv,
                                          bounds_error=False, fill_value=0)(xi)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_derivatives() -> None:
    rng = np.random.default_rng(3)
    points = (np.array([-2.0, -0.5, 0.8, 2.9]), np.array([-1.8, -0.6, 0.3, 1.5, 2.7]))
    values = rng.standard_normal((4, 5, 2))
    # inside cells, away from the kinks at the grid points
    xi = np.array([[0.1, 0.4], [1.7, -1.1], [-0.9, 2.2]])
    check_grads(lambda v, x: RegularGridInterpolator(points, v)(x), (values, xi), order=2)
    check_grads(lambda p0: RegularGridInterpolator((p0, points[1]), values)(xi),
                (points[0],), order=1)


def test_jit_and_vmap() -> None:
    points, values, itp, xi, expected = _fitted(4, (4, 3), 8)
    np.testing.assert_allclose(fnad.jit(lambda f, x: f(x))(itp, xi), expected, rtol=1e-12)
    np.testing.assert_allclose(fnad.jit(itp)(xi), expected, rtol=1e-12)
    np.testing.assert_allclose(fnad.vmap(lambda x: itp(x[None]))(xi)[:, 0], expected,
                               rtol=1e-12)
    stacked = np.stack([values, 2 * values])
    got = fnad.vmap(lambda v: RegularGridInterpolator(points, v)(xi))(stacked)
    np.testing.assert_allclose(got, np.stack([expected, 2 * expected]), rtol=1e-12)
    leaves = fnad.tree.tree_leaves(itp)
    assert len(leaves) == 4


def test_errors() -> None:
    points, values = (np.arange(4.0), np.arange(3.0)), np.ones((4, 3))
    with pytest.raises(ValueError, match="method"):
        RegularGridInterpolator(points, values, "cubic")
    with pytest.raises(ValueError, match="method"):
        RegularGridInterpolator(points, values)(np.zeros((1, 2)), "cubic")
    with pytest.raises(NotImplementedError, match="bounds_error"):
        RegularGridInterpolator(points, values, bounds_error=True)
    with pytest.raises(ValueError, match="3 point arrays"):
        RegularGridInterpolator(points + points[:1], values)
    with pytest.raises(ValueError, match="fill_value"):
        RegularGridInterpolator(points, values, fill_value=1j)
    with pytest.raises(fnad.FnadError, match="strictly increasing"):
        RegularGridInterpolator((points[0][::-1], points[1]), values)
    with pytest.raises(fnad.FnadError, match="entries"):
        RegularGridInterpolator((points[0][:3], points[1]), values)
    with pytest.raises(fnad.FnadError, match="dimension"):
        RegularGridInterpolator(points, values)(np.zeros((2, 3)))
    with pytest.raises(fnad.FnadError, match="at least 2 points"):
        RegularGridInterpolator((np.array([1.0]),), np.ones(1))(np.zeros(2))


def test_no_numpy_warning() -> None:
    # inf - inf inside the weighted sum: NaN, silently (it warned)
    itp = RegularGridInterpolator((np.arange(3.0),), np.ones(3), fill_value=None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(itp(np.array([np.inf]))).all()
