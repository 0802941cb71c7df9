"""The blocked LU and triangular-solve implementations at sizes that cross their panel and
strip boundaries: the same factors and pivots as LAPACK's getrf (SciPy's `lu_factor`), on
the one-matrix path and the stack path, with JAX's inf/NaN semantics at singular or
non-finite inputs."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sl

from fnad.lax import linalg_decomp as decomp


def _random(rng, shape, dtype):
    x = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * rng.standard_normal(shape)
    return x.astype(dtype)


SHAPES = [(1, 1), (7, 7), (9, 9), (64, 64), (65, 65), (130, 130), (100, 37), (37, 100),
          (129, 64), (3, 0), (0, 3)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.complex128])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_lu_matches_lapack(shape, dtype) -> None:
    rng = np.random.default_rng(sum(shape))
    a = _random(rng, shape, dtype)
    stack = np.stack([a, _random(rng, shape, dtype)])
    tol = 1e-3 if np.dtype(dtype) in (np.dtype(np.float32), np.dtype(np.complex64)) else 1e-10
    for x, (packed, pivots, perm) in [(a[None], [o[None] for o in decomp._lu_impl(a)]),
                                      (stack, decomp._lu_impl(stack))]:
        assert packed.dtype == x.dtype and pivots.dtype == perm.dtype == np.int32
        for i in range(x.shape[0]):
            if x[i].size == 0:
                continue
            ref, ref_piv = sl.lu_factor(x[i])
            np.testing.assert_array_equal(pivots[i], ref_piv)
            np.testing.assert_allclose(packed[i], ref, rtol=tol, atol=tol)
            k = min(shape)
            low = np.tril(packed[i], -1)[:, :k] + np.eye(shape[0], k)
            np.testing.assert_allclose(x[i][perm[i]], low @ np.triu(packed[i])[:k],
                                       rtol=tol, atol=tol * 10)


@pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")
def test_lu_of_singular_and_repeated_matrices() -> None:
    for a in [np.ones((70, 70)), np.zeros((9, 9)),
              np.array([[0.0, 1, 2], [0, 3, 4], [0, 5, 6]]),
              np.kron(np.eye(10), np.ones((7, 7)))]:
        packed, pivots, _ = decomp._lu_impl(a)
        ref, ref_piv = sl.lu_factor(a, check_finite=False)
        np.testing.assert_array_equal(pivots, ref_piv)
        np.testing.assert_allclose(packed, ref, atol=1e-12)


def _solve(a, b, **kw):
    params = dict(left_side=True, lower=True, transpose_a=False, conjugate_a=False,
                  unit_diagonal=False)
    params.update(kw)
    return decomp._triangular_solve_impl(a, b, **params)


@pytest.mark.parametrize("n", [1, 63, 64, 65, 200])
@pytest.mark.parametrize("lower", [True, False])
def test_triangular_solve_matches_scipy(n: int, lower: bool) -> None:
    rng = np.random.default_rng(n)
    a = rng.standard_normal((n, n)) / np.sqrt(n) + 3 * np.eye(n)  # well conditioned
    b = rng.standard_normal((n, 3))
    for unit in (False, True):
        x = _solve(a, b, lower=lower, unit_diagonal=unit)
        ref = sl.solve_triangular(a, b, lower=lower, unit_diagonal=unit)
        np.testing.assert_allclose(x, ref, rtol=1e-10, atol=1e-10)
    stack = np.stack([a, a.T])
    x = _solve(stack, np.stack([b, b]), lower=lower)
    np.testing.assert_allclose(x[1], sl.solve_triangular(a.T, b, lower=lower), rtol=1e-10)


def test_triangular_solve_keeps_nan_and_inf_where_substitution_puts_them() -> None:
    n = 70
    a = np.tril(np.random.default_rng(0).standard_normal((n, n))) + 4 * np.eye(n)
    b = np.ones((n, 1))
    b[40] = np.nan
    x = _solve(a, b)
    assert np.all(np.isfinite(x[:40])) and np.all(np.isnan(x[40:]))
    np.testing.assert_allclose(x[:40], sl.solve_triangular(a[:40, :40], b[:40], lower=True))
    a2 = a.copy()
    a2[50, 50] = 0.0  # singular: inf/NaN from row 50 on, as JAX gives
    x = _solve(a2, np.ones((n, 1)))
    assert np.all(np.isfinite(x[:50])) and not np.any(np.isfinite(x[50:]))
