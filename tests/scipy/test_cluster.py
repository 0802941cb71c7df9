"""fnad.scipy.cluster.vq.vq against scipy.cluster.vq (2-d and 1-d, dtypes, ties), the
distances' derivatives against finite differences, jit and vmap, and its errors."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.cluster.vq as sv

import fnad
import fnad.scipy as fsp
from fnad.scipy.cluster.vq import vq
from fnad.test_util import check_grads


@pytest.mark.parametrize("shapes", [((6, 3), (4, 3)), ((1, 2), (1, 2)), ((7,), (3,)),
                                    ((5, 1), (8, 1))], ids=str)
def test_matches_scipy(shapes) -> None:
    rng = np.random.default_rng(sum(shapes[0]) + sum(shapes[1]))
    obs, book = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    code, dist = vq(obs, book)
    expected_code, expected_dist = sv.vq(obs, book)
    assert code.dtype == np.int32 and dist.dtype == np.float64
    np.testing.assert_array_equal(code, expected_code)
    np.testing.assert_allclose(dist, expected_dist, rtol=1e-12)
    code32, dist32 = vq(obs.astype(np.float32), book.astype(np.float32))
    assert dist32.dtype == np.float32
    np.testing.assert_array_equal(code32, expected_code)
    np.testing.assert_allclose(dist32, expected_dist, rtol=1e-5)


def test_integers_and_ties() -> None:
    # a tie goes to the first code, as in SciPy and JAX; integers give float32 distances
    code, dist = fsp.cluster.vq.vq(np.arange(5), np.array([1, 3]))
    assert dist.dtype == np.float32
    np.testing.assert_array_equal(code, [0, 0, 0, 1, 1])
    np.testing.assert_array_equal(dist, [1.0, 0.0, 1.0, 0.0, 1.0])


def test_complex_distances() -> None:
    rng = np.random.default_rng(1)
    obs = rng.standard_normal((4, 2)) + 1j * rng.standard_normal((4, 2))
    book = rng.standard_normal((3, 2))
    d = np.linalg.norm(obs[:, None] - book[None], axis=-1)
    code, dist = vq(obs, book)
    assert dist.dtype == np.float64
    np.testing.assert_array_equal(code, d.argmin(-1))
    np.testing.assert_allclose(dist, d.min(-1), rtol=1e-12)


def test_derivatives() -> None:
    rng = np.random.default_rng(2)
    obs, book = rng.standard_normal((5, 3)), rng.standard_normal((4, 3))
    check_grads(lambda o, b: vq(o, b)[1], (obs, book), order=2)


def test_jit_and_vmap() -> None:
    rng = np.random.default_rng(3)
    obs, book = rng.standard_normal((3, 6, 2)), rng.standard_normal((4, 2))
    expected = [vq(o, book) for o in obs]
    code, dist = fnad.jit(vq)(obs[0], book)
    np.testing.assert_array_equal(code, expected[0][0])
    np.testing.assert_allclose(dist, expected[0][1], rtol=1e-12)
    codes, dists = fnad.vmap(vq, in_axes=(0, None))(obs, book)
    np.testing.assert_array_equal(codes, np.stack([c for c, _ in expected]))
    np.testing.assert_allclose(dists, np.stack([d for _, d in expected]), rtol=1e-12)


def test_errors() -> None:
    obs, book = np.ones((6, 3)), np.ones((4, 3))
    with pytest.raises(ValueError, match="same rank"):
        vq(obs, book[0])
    with pytest.raises(ValueError, match="1-d or 2-d"):
        vq(obs[None], book[None])
    with pytest.raises(fnad.FnadError, match="number of features"):
        vq(obs, book[:, :2])
    with pytest.raises(fnad.FnadError, match="empty"):
        vq(obs, book[:0])
