"""The `solve` primitive (fnad/lax/linalg_decomp.py) and the public functions built on it
(`fnad.numpy.linalg.solve` and `inv`, `fnad.scipy.linalg.solve`): values against NumPy for
stacks, broadcast batches and every float and complex dtype; singular and non-finite
systems equal to fnad's LU path (inf/NaN where LAPACK would raise); derivatives in both
arguments against finite differences, complex ones in JAX's convention; vmap against a
loop; jit on every backend against eager; and the programs the transforms make hold one
library solve each, no LU. The generic checks of its OpInfo row are in test_opinfo.py."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from complex_grad import check_complex_grad
from hypothesis import given, settings, strategies as st

import fnad
import fnad.numpy as fnp
import fnad.scipy.linalg as fsl
from fnad import lax
from fnad.backends import available_backends
from fnad.core.errors import DTypeError, ShapeError
from fnad.lax import linalg_decomp as decomp
from fnad.test_util import assert_allclose, check_grads, check_vmap

DTYPES = (np.float32, np.float64, np.complex64, np.complex128)


def _random(rng: np.random.Generator, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    x = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * rng.standard_normal(shape)
    return x.astype(dtype)


def _regular(rng: np.random.Generator, batch: tuple[int, ...], n: int, dtype: Any
             ) -> np.ndarray:
    return (_random(rng, (*batch, n, n), dtype) + 2 * n * np.eye(n)).astype(dtype)


def _tol(dtype: Any) -> float:
    return 2e-4 if np.dtype(dtype) in (np.float32, np.complex64) else 1e-10


def _by_lu(a: Any, b: Any) -> Any:
    """fnad's LU path, the one `solve` falls back to (and the one it replaced)."""
    packed, _, perm = decomp.lu(a)
    return decomp.lu_solve(packed, perm, b)


def _eqns(jaxpr: Any) -> list[str]:
    return [e.prim.name for e in jaxpr.jaxpr.eqns]


# ---------------------------------------------------------------- values


@settings(max_examples=25, deadline=None)
@given(batch=st.sampled_from([(), (1,), (3,), (2, 3)]), n=st.integers(1, 6),
       k=st.integers(0, 3), dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2 ** 16))
def test_values_against_numpy(batch, n, k, dtype, seed):
    rng = np.random.default_rng(seed)
    a, b = _regular(rng, batch, n, dtype), _random(rng, (*batch, n, k), dtype)
    x = decomp.solve(a, b)
    assert x.dtype == np.dtype(dtype) and x.shape == b.shape
    np.testing.assert_allclose(x, np.linalg.solve(a, b), rtol=_tol(dtype), atol=_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_public_functions_broadcast_and_match_numpy(dtype):
    rng = np.random.default_rng(1)
    a = _regular(rng, (2, 1), 4, dtype)
    b = _random(rng, (3, 4, 2), dtype)
    v = _random(rng, (4,), dtype)
    tol = _tol(dtype)
    np.testing.assert_allclose(fnp.linalg.solve(a, b), np.linalg.solve(a, b), tol, tol)
    np.testing.assert_allclose(fnp.linalg.solve(a[0, 0], v), np.linalg.solve(a[0, 0], v),
                               tol, tol)
    np.testing.assert_allclose(fnp.linalg.inv(a), np.linalg.inv(a), tol, tol)
    np.testing.assert_allclose(fsl.solve(a[1, 0], b[0]), np.linalg.solve(a[1, 0], b[0]),
                               tol, tol)
    assert fnp.linalg.inv(a).dtype == np.dtype(dtype)


def test_empty_systems():
    for a, b in [(np.zeros((0, 0)), np.zeros((0, 2))), (np.eye(3), np.zeros((3, 0))),
                 (np.zeros((0, 2, 2)), np.zeros((0, 2, 1)))]:
        x = decomp.solve(a, b)
        assert x.shape == b.shape and x.dtype == b.dtype
    assert fnp.linalg.inv(np.zeros((0, 0), np.float32)).shape == (0, 0)


# ---------------------------------------------------------------- singular and non-finite

SINGULAR = [
    np.zeros((3, 3)),
    np.array([[1.0, 2.0], [2.0, 4.0]]),
    np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]),  # U[2, 2] is rounding
    np.array([[1.0, 2.0], [0.0, 0.0]]),
    np.array([[1.0, 0.0], [0.0, np.nan]]),
    np.array([[np.inf, 1.0], [1.0, 3.0]]),
]


@pytest.mark.parametrize("a", SINGULAR, ids=range(len(SINGULAR)))
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
def test_singular_and_non_finite_systems_go_through_lu(a, dtype):
    """Where LAPACK refuses (or gives no finite answer) the result is fnad's LU path's,
    inf/NaN included, eagerly and under jit, in solve and in inv."""
    a = a.astype(dtype)
    n = a.shape[-1]
    b = np.arange(1.0, 2 * n + 1).reshape(n, 2).astype(dtype)
    with np.errstate(all="ignore"):
        want, want_inv = np.asarray(_by_lu(a, b)), np.asarray(_by_lu(a, np.eye(n, dtype=dtype)))
    for f in [decomp.solve] + [fnad.jit(decomp.solve, backend=k) for k in available_backends()]:
        np.testing.assert_array_equal(f(a, b), want)
    np.testing.assert_array_equal(fnp.linalg.inv(a), want_inv)


def test_a_singular_matrix_in_a_stack_leaves_the_others_right():
    rng = np.random.default_rng(2)
    a = _regular(rng, (3,), 3, np.float64)
    a[1] = 0.0
    b = _random(rng, (3, 3, 2), np.float64)
    x = np.asarray(decomp.solve(a, b))
    assert not np.isfinite(x[1]).any()
    for i in (0, 2):
        np.testing.assert_allclose(x[i], np.linalg.solve(a[i], b[i]), rtol=1e-12)
    np.testing.assert_array_equal(x, _by_lu(a, b))


def test_inf_in_b_gives_the_lu_paths_inf_and_nan():
    a = np.array([[2.0, 1.0], [1.0, 3.0]])
    b = np.array([[np.inf, 1.0], [1.0, 1.0]])
    x = np.asarray(decomp.solve(a, b))
    np.testing.assert_array_equal(x, _by_lu(a, b))
    np.testing.assert_allclose(x[:, 1], np.linalg.solve(a, b[:, 1]))
    assert not np.isfinite(x[:, 0]).any()


# ---------------------------------------------------------------- derivatives


@pytest.mark.parametrize("batch", [(), (2,), (2, 1)])
def test_grads_in_both_arguments(batch):
    rng = np.random.default_rng(3)
    a = _regular(rng, batch, 3, np.float64)
    b = _random(rng, (*batch, 3, 2), np.float64)
    check_grads(decomp.solve, (a, b), order=2)
    check_grads(lambda a: decomp.solve(a, b), (a,), order=2)  # one tangent a Zero
    check_grads(lambda b: decomp.solve(a, b), (b,), order=2)


def test_grads_of_the_public_functions_through_broadcasting():
    rng = np.random.default_rng(4)
    a = _regular(rng, (), 3, np.float64)
    b = _random(rng, (2, 3, 2), np.float64)
    check_grads(fnp.linalg.solve, (a, b), order=2)
    check_grads(fnp.linalg.solve, (a, b[0, :, 0]), order=1)
    check_grads(fnp.linalg.inv, (_regular(rng, (2,), 3, np.float64),), order=2)
    check_grads(lambda a, b: fsl.solve(a, b), (a, b[0]), order=1)
    # d inv(a) = -inv(a) da inv(a)
    ai, t = np.linalg.inv(a), rng.standard_normal((3, 3))
    np.testing.assert_allclose(fnad.jvp(fnp.linalg.inv, (a,), (t,))[1], -ai @ t @ ai,
                               rtol=1e-10)


def test_complex_derivatives():
    """Forward and reverse mode through the real and imaginary parts, and grad in JAX's
    convention (conj of the Wirtinger cotangent, from its definition) for both arguments."""
    rng = np.random.default_rng(5)
    a = _regular(rng, (2,), 3, np.complex128)
    b = _random(rng, (2, 3, 2), np.complex128)
    w = _random(rng, (2, 3, 2), np.complex128)

    def parts(ar, ai, br, bi):
        x = decomp.solve(lax.complex(ar, ai), lax.complex(br, bi))
        return lax.real(x), lax.imag(x)

    check_grads(parts, (a.real, a.imag, b.real, b.imag), order=2)
    check_complex_grad(lambda z: lax.real(fnp.sum(decomp.solve(z, b) * w)), a)
    check_complex_grad(lambda z: lax.real(fnp.sum(decomp.solve(a, z) * w)), b)
    w3 = _random(rng, (3, 3), np.complex128)
    check_complex_grad(lambda z: lax.real(fnp.sum(fnp.linalg.inv(z) * w3)), a[0])


def test_value_and_grad_stages_two_library_solves_and_no_lu():
    """The forward solve and its transpose (with a^T) are the only solves; nothing
    factors."""
    rng = np.random.default_rng(6)
    a, b = _regular(rng, (4,), 5, np.float64), _random(rng, (4, 5, 1), np.float64)
    vg = fnad.value_and_grad(lambda a, b: fnp.sum(fnp.linalg.solve(a, b)), argnums=(0, 1))
    names = _eqns(fnad.make_jaxpr(vg)(a, b))
    assert names.count("solve") == 2 and "lu" not in names and \
        "triangular_solve" not in names, names
    (val, (ga, gb)) = vg(a, b)
    x = np.linalg.solve(a, b)
    gb_want = np.linalg.solve(np.swapaxes(a, -1, -2), np.ones_like(b))
    np.testing.assert_allclose(val, x.sum(), rtol=1e-12)
    np.testing.assert_allclose(gb, gb_want, rtol=1e-10)
    np.testing.assert_allclose(ga, -gb_want @ np.swapaxes(x, -1, -2), rtol=1e-10)
    assert "lu" not in _eqns(fnad.make_jaxpr(fnp.linalg.inv)(a))


# ---------------------------------------------------------------- vmap and jit


@pytest.mark.parametrize("in_axes,out_axes", [((0, 0), 0), ((0, None), 0), ((None, 0), 1),
                                              ((1, 2), -1), ((-1, None), 0)])
def test_vmap_against_a_loop(in_axes, out_axes):
    rng = np.random.default_rng(7)
    a = np.moveaxis(_regular(rng, (3,), 4, np.float64), 0, in_axes[0]) \
        if in_axes[0] is not None else _regular(rng, (), 4, np.float64)
    b = np.moveaxis(_random(rng, (3, 4, 2), np.float64), 0, in_axes[1]) \
        if in_axes[1] is not None else _random(rng, (4, 2), np.float64)
    check_vmap(decomp.solve, (a, b), in_axes=in_axes, out_axes=out_axes)
    check_vmap(fnad.grad(lambda a, b: fnp.sum(decomp.solve(a, b) ** 2), argnums=(0, 1)),
               (a, b), in_axes=in_axes)


def test_vmap_of_a_singular_member_matches_the_loop():
    a = np.stack([np.eye(2), np.zeros((2, 2)), 3 * np.eye(2)])
    check_vmap(fnp.linalg.inv, (a,))


@pytest.mark.parametrize("backend", available_backends())
def test_jit_equals_eager(backend):
    rng = np.random.default_rng(8)
    a, b = _regular(rng, (2,), 4, np.float64), _random(rng, (2, 4, 3), np.float64)
    t = (_random(rng, a.shape, np.float64), _random(rng, b.shape, np.float64))
    programs = [
        (decomp.solve, (a, b)),
        (fnp.linalg.inv, (a,)),
        (fnad.value_and_grad(lambda a, b: fnp.sum(fnp.linalg.solve(a, b) ** 2),
                             argnums=(0, 1)), (a, b)),
        (lambda a, b, ta, tb: fnad.jvp(decomp.solve, (a, b), (ta, tb)), (a, b, *t)),
        (fnad.vmap(decomp.solve, in_axes=(None, 0)), (a[0], b)),
    ]
    for f, args in programs:
        assert_allclose(fnad.jit(f, backend=backend)(*args), f(*args), 1e-10, 1e-10)
    z = _regular(rng, (), 3, np.complex64)
    assert_allclose(fnad.jit(fnp.linalg.inv, backend=backend)(z), fnp.linalg.inv(z),
                    1e-5, 1e-5)


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("a,b,error,match", [
    (np.eye(3), np.ones((2, 1)), ShapeError, r"solve: b .* must be a stack of matrices"),
    (np.ones((3, 2)), np.ones((3, 1)), ShapeError, r"solve: needs square matrices"),
    (np.eye(3), np.ones(3), ShapeError, r"solve: b .* must be a stack"),
    (np.stack([np.eye(2)] * 2), np.ones((3, 2, 1)), ShapeError, "broadcast them first"),
    (np.eye(2), np.ones((2, 1), np.float32), DTypeError, "must be equal"),
    (np.eye(2, dtype=np.float16), np.ones((2, 1), np.float16), DTypeError, "float16"),
    (np.eye(2, dtype=np.int32), np.ones((2, 1), np.int32), DTypeError, "solve"),
])
def test_bad_operands_raise_clearly(a, b, error, match):
    with pytest.raises(error, match=match):
        decomp.solve(a, b)


def test_public_function_errors_name_the_function():
    with pytest.raises(ShapeError, match=r"linalg.solve: b must be a vector \(3,\)"):
        fnp.linalg.solve(np.eye(3), np.ones(2))
    with pytest.raises(ShapeError, match=r"linalg.inv: needs square matrices"):
        fnp.linalg.inv(np.ones((2, 3)))
