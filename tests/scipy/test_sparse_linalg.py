"""fnad.scipy.sparse.linalg (cg, bicgstab, gmres): solutions against numpy.linalg.solve,
truncated iterations against scipy.sparse.linalg's (the same iterates), operators as
matrices or functions, preconditioners, pytree and complex right-hand sides, implicit
derivatives against the closed form and finite differences, jit, vmap, and errors."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse.linalg as ssl

import fnad
import fnad.numpy as fnp
from fnad.scipy.sparse.linalg import bicgstab, cg, gmres
from fnad.test_util import check_grads

N = 8


def _system(seed: int, solver) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((N, N))
    matrix = a @ a.T + N * np.eye(N) if solver is cg else a + N * np.eye(N)
    return matrix, rng.standard_normal(N)


SOLVERS = [cg, bicgstab, gmres]


@pytest.mark.parametrize("solver", SOLVERS, ids=lambda s: s.__name__)
def test_solves(solver) -> None:
    a, b = _system(0, solver)
    expected = np.linalg.solve(a, b)
    for op in (a, lambda v: a @ v):
        x, _ = solver(op, b, tol=1e-12)
        assert x.dtype == np.float64
        np.testing.assert_allclose(x, expected, rtol=1e-9, atol=1e-10)
    # a nested list is an array of Python floats: float32, as in JAX
    np.testing.assert_allclose(solver(a.tolist(), b)[0], expected, rtol=1e-5, atol=1e-6)
    x, _ = solver(a, b, M=np.diag(1 / np.diag(a)), tol=1e-12)
    np.testing.assert_allclose(x, expected, rtol=1e-9, atol=1e-10)
    x, _ = solver(a, b, x0=expected + 0.1, tol=1e-12)
    np.testing.assert_allclose(x, expected, rtol=1e-9, atol=1e-10)
    x32, _ = solver(a.astype(np.float32), b.astype(np.float32))
    assert x32.dtype == np.float32
    np.testing.assert_allclose(x32, expected, rtol=1e-4, atol=1e-4)
    z = b + 1j * b[::-1]
    xz, _ = solver(a, z, tol=1e-12)
    assert xz.dtype == np.complex128
    np.testing.assert_allclose(xz, np.linalg.solve(a, z), rtol=1e-9, atol=1e-10)


def test_truncated_iterations_match_scipy() -> None:
    a, b = _system(1, cg)
    for k in (1, 2, 3):
        np.testing.assert_allclose(cg(a, b, maxiter=k)[0], ssl.cg(a, b, maxiter=k)[0],
                                   rtol=1e-10)
    a, b = _system(1, bicgstab)
    for k in (1, 2, 3):
        np.testing.assert_allclose(bicgstab(a, b, maxiter=k)[0],
                                   ssl.bicgstab(a, b, maxiter=k)[0], rtol=1e-10)
    for restart in (2, 3):
        np.testing.assert_allclose(gmres(a, b, restart=restart, maxiter=1)[0],
                                   ssl.gmres(a, b, restart=restart, maxiter=1)[0], rtol=1e-9)


def test_gmres_restarts_and_info() -> None:
    a, b = _system(2, gmres)
    x, info = gmres(a, b, restart=3, maxiter=200, tol=1e-12)
    np.testing.assert_allclose(x, np.linalg.solve(a, b), rtol=1e-9, atol=1e-10)
    assert int(info) == 0
    for method in ("batched", "incremental"):
        np.testing.assert_allclose(gmres(a, b, tol=1e-12, solve_method=method)[0],
                                   np.linalg.solve(a, b), rtol=1e-9, atol=1e-10)
    # info is -1 exactly when x has a NaN, as JAX's
    assert int(gmres(a, b, x0=np.full(N, np.nan))[1]) == -1


def _join(t):
    return fnp.concatenate([t["u"], t["v"].ravel()])


def _split(v):
    return {"u": v[:3], "v": v[3:].reshape(5, 1)}


def test_pytree_right_hand_side() -> None:
    a, b = _system(3, cg)
    expected = np.linalg.solve(a, b)
    for solver in SOLVERS:
        x, _ = solver(lambda t: _split(a @ _join(t)), _split(b), tol=1e-12)
        assert x["v"].shape == (5, 1)
        np.testing.assert_allclose(_join(x), expected, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("solver", SOLVERS, ids=lambda s: s.__name__)
def test_derivatives(solver) -> None:
    a, b = _system(4, solver)
    ones = np.ones(N)
    g = fnad.grad(lambda b: solver(a, b, tol=1e-12)[0].sum())(b)
    np.testing.assert_allclose(g, np.linalg.solve(a.T, ones), rtol=1e-9)
    ga = fnad.grad(lambda a: solver(lambda v: a @ v, b, tol=1e-12)[0].sum())(a)
    np.testing.assert_allclose(ga, -np.outer(np.linalg.solve(a.T, ones), np.linalg.solve(a, b)),
                               rtol=1e-8, atol=1e-12)
    check_grads(lambda b: solver(a, b, tol=1e-13)[0], (b,), order=1)


@pytest.mark.parametrize("solver", SOLVERS, ids=lambda s: s.__name__)
def test_jit_and_vmap(solver) -> None:
    a, b = _system(5, solver)
    bs = np.random.default_rng(5).standard_normal((3, N))
    np.testing.assert_allclose(fnad.jit(lambda b: solver(a, b, tol=1e-12)[0])(b),
                               np.linalg.solve(a, b), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(fnad.vmap(lambda b: solver(a, b, tol=1e-12)[0])(bs),
                               np.linalg.solve(a, bs.T).T, rtol=1e-8, atol=1e-10)


def test_errors() -> None:
    a, b = _system(6, cg)
    for solver in SOLVERS:
        with pytest.raises(ValueError, match="square"):
            solver(np.ones((3, 4)), b)
        with pytest.raises(TypeError, match="function"):
            solver("A", b)
        with pytest.raises(ValueError, match="matching shapes"):
            solver(a, b, x0=np.zeros(3))
        with pytest.raises(ValueError, match="tree structure"):
            solver(a, b, x0=[np.zeros(N)])
    with pytest.raises(ValueError, match="solve_method"):
        gmres(a, b, solve_method="qr")
    for solver in SOLVERS:
        with pytest.raises(fnad.FnadError, match="maxiter must be an integer"):
            solver(a, b, maxiter="many")
    with pytest.raises(fnad.FnadError, match="restart must be an integer"):
        gmres(a, b, restart=None)
