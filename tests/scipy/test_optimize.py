"""fnad.scipy.optimize.minimize against SciPy's minimizers and closed forms."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipy.optimize
from hypothesis import given, settings, strategies as st

import fnad
import fnad.numpy as fnp
from fnad.core.errors import DTypeError, ShapeError
from fnad.scipy.optimize import OptimizeResults, minimize

METHODS = ["BFGS", "l-bfgs-experimental-do-not-rely-on-this"]


def rosen(x: Any) -> Any:
    return fnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("x0", [[-1.2, 1.0], [-1.2, 1.0, -0.5, 0.8], [0.5] * 6])
def test_rosenbrock_reaches_scipys_minimum(method: str, x0: list[float]) -> None:
    x0 = np.array(x0)
    r = minimize(rosen, x0, method=method)
    expected = scipy.optimize.minimize(scipy.optimize.rosen, x0, jac=scipy.optimize.rosen_der,
                                       method="BFGS", options={"gtol": 1e-8}).x
    assert isinstance(r, OptimizeResults)
    np.testing.assert_allclose(r.x, expected, atol=1e-5)
    if method == "BFGS":
        assert bool(r.success) and int(r.status) == 0
        assert np.linalg.norm(np.asarray(r.jac), np.inf) < 1e-5
    else:  # stops as JAX's does once f decreases by less than ftol (status 4)
        assert int(r.status) in (0, 4) and bool(r.success) == (int(r.status) == 0)
    np.testing.assert_allclose(r.fun, scipy.optimize.rosen(np.asarray(r.x)), rtol=1e-6,
                               atol=1e-14)
    assert int(r.nfev) == int(r.njev) > int(r.nit) > 0
    assert r.x.dtype == np.float64 and r.fun.dtype == np.float64


@pytest.mark.parametrize("method", METHODS)
@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 6), seed=st.integers(0, 2**31 - 1))
def test_quadratics_with_args_reach_the_solution_of_the_linear_system(
        method: str, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    m = rng.standard_normal((n, n))
    a = m @ m.T + n * np.eye(n)
    b = rng.standard_normal(n)
    r = minimize(lambda x, a, b: 0.5 * x @ a @ x - b @ x, np.zeros(n), (a, b), method=method,
                 options={"gtol": 1e-8})
    assert bool(r.success) or int(r.status) == 4  # L-BFGS: f stopped decreasing (ftol)
    np.testing.assert_allclose(r.x, np.linalg.solve(a, b), rtol=1e-6,
                               atol=1e-7 if bool(r.success) else 1e-4)


def test_bfgs_inverse_hessian_estimate_of_a_quadratic() -> None:
    """BFGS's estimate approaches the inverse Hessian on a quadratic."""
    a = np.array([[3.0, 1.0, 0.0], [1.0, 2.0, 0.5], [0.0, 0.5, 1.5]])
    r = minimize(lambda x: 0.5 * x @ a @ x - x.sum(), np.zeros(3), method="BFGS",
                 options={"gtol": 1e-12})
    np.testing.assert_allclose(r.hess_inv, np.linalg.inv(a), atol=0.03)  # inexact steps
    assert minimize(lambda x: (x ** 2).sum(), np.ones(2),
                    method="l-bfgs-experimental-do-not-rely-on-this").hess_inv is None


@pytest.mark.parametrize("method", METHODS)
def test_float32_stays_float32_and_tol_is_the_gradient_tolerance(method: str) -> None:
    x0 = np.array([2.0, -1.0], np.float32)
    r = minimize(lambda x: ((x - 0.5) ** 2).sum(), x0, method=method)
    assert r.x.dtype == r.fun.dtype == r.jac.dtype == np.float32
    np.testing.assert_allclose(r.x, [0.5, 0.5], atol=1e-5)
    loose = minimize(rosen, np.array([-1.2, 1.0]), method=method, tol=1e-1)
    tight = minimize(rosen, np.array([-1.2, 1.0]), method=method, tol=1e-9)
    assert int(loose.nit) < int(tight.nit)
    assert np.linalg.norm(np.asarray(loose.jac), np.inf) < 1e-1


@pytest.mark.parametrize("method", METHODS)
def test_jit_and_vmap_give_the_eager_results(method: str) -> None:
    starts = np.array([[-1.2, 1.0], [0.0, 0.0], [2.0, 2.0]])

    def solve(x0: Any) -> Any:
        r = minimize(rosen, x0, method=method)
        return r.x, r.nit, r.success

    eager = [solve(x0) for x0 in starts]
    jitted = [fnad.jit(solve)(x0) for x0 in starts]
    xs, nits, oks = fnad.vmap(solve)(starts)
    for (x, nit, ok), (jx, jnit, jok), bx, bnit, bok in zip(eager, jitted, xs, nits, oks):
        np.testing.assert_allclose(jx, x, rtol=1e-12)
        np.testing.assert_allclose(bx, x, rtol=1e-12)
        assert int(jnit) == int(bnit) == int(nit) and bool(ok) and bool(jok) and bool(bok)


def test_bfgs_iteration_limit_reports_status_1() -> None:
    r = minimize(rosen, np.array([-1.2, 1.0]), method="BFGS", options={"maxiter": 3})
    assert int(r.nit) == 3 and int(r.status) == 1 and not bool(r.success)
    r = minimize(rosen, np.array([-1.2, 1.0]), method="l-bfgs-experimental-do-not-rely-on-this",
                 options={"maxiter": 3})
    assert int(r.nit) == 3 and int(r.status) == 1 and not bool(r.success)


def test_a_failed_line_search_stays_at_an_evaluated_point() -> None:
    """A function that is NaN everywhere but at x0 (no step decreases it): the search
    fails, x stays x0, and the result says so."""
    def f(x: Any) -> Any:
        return fnp.where(fnp.all(x == 1.0), 0.0, fnp.nan) + fnp.sum(x)
    r = minimize(f, np.ones(2), method="BFGS")
    np.testing.assert_array_equal(r.x, np.ones(2))
    assert not bool(r.success) and int(r.status) in (3, 5)
    assert float(r.fun) == 2.0


def test_a_start_at_the_minimum_converges_at_once() -> None:
    for method in METHODS:
        r = minimize(lambda x: (x ** 2).sum(), np.zeros(3), method=method)
        assert int(r.nit) == 0 and bool(r.success) and int(r.nfev) == 1


def test_bad_input_is_refused() -> None:
    f = lambda x: (x ** 2).sum()
    with pytest.raises(TypeError, match="args must be a tuple"):
        minimize(f, np.ones(2), args=[1.0], method="BFGS")
    with pytest.raises(ValueError, match="not recognized"):
        minimize(f, np.ones(2), method="Nelder-Mead")
    with pytest.raises(ShapeError, match=r"shape \(n,\)"):
        minimize(f, np.ones((2, 2)), method="BFGS")
    with pytest.raises(DTypeError, match="real floating"):
        minimize(f, np.ones(2, np.int32), method="BFGS")
    with pytest.raises(TypeError, match=r"unknown options \['maxcor'\]"):
        minimize(f, np.ones(2), method="BFGS", options={"maxcor": 3})
    with pytest.raises(fnad.FnadError, match="unknown options"):
        minimize(f, np.ones(2), method="BFGS", options={"maxcor": 3})
    with pytest.raises(fnad.FnadError, match="not recognized"):
        minimize(f, np.ones(2), method=None)


def test_the_docstring_example_runs() -> None:
    import doctest

    import fnad.scipy.optimize
    result = doctest.testmod(fnad.scipy.optimize)
    assert result.attempted and not result.failed
