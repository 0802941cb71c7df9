"""fnad.numpy.linalg against NumPy: norms of every order, and a table of the other
functions driving values (eagerly and staged/jitted, via `check`), derivatives (float64,
forward and reverse) and vmap against a loop."""

from __future__ import annotations

import numpy as np
import pytest
from fnp_cases import NUMERIC, arrays, check
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import fnad
import fnad.numpy as fnp
from fnad import lax
from fnad.core.errors import ShapeError
from fnad.test_util import check_grads, check_vmap


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_vector_norms(data):
    x = data.draw(arrays(data.draw(st.sampled_from(NUMERIC)),
                         hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)))
    ord_ = data.draw(st.sampled_from([None, 2, 1, np.inf, -np.inf, 0, 3, 0.5]))
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1) | st.none()) if ord_ is None or \
        x.ndim == 1 else data.draw(st.integers(-x.ndim, x.ndim - 1))
    keepdims = data.draw(st.booleans())
    check(lambda a: fnp.linalg.norm(a, ord_, axis, keepdims),
          lambda a: np.linalg.norm(a, ord_, axis, keepdims), (x,))


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_matrix_norms(data):
    x = data.draw(arrays(data.draw(st.sampled_from(NUMERIC)),
                         hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=4)))
    ord_ = data.draw(st.sampled_from([None, "fro", 1, -1, np.inf, -np.inf, 2, -2, "nuc"]))
    axis = tuple(data.draw(st.permutations(range(-x.ndim, 0)))[:2])
    keepdims = data.draw(st.booleans())
    check(lambda a: fnp.linalg.norm(a, ord_, axis, keepdims),
          lambda a: np.linalg.norm(a, ord_, axis, keepdims), (x,))
    if x.ndim == 2:
        check(lambda a: fnp.linalg.norm(a, ord_), lambda a: np.linalg.norm(a, ord_), (x,))


@pytest.mark.parametrize("ord_,axis", [(None, None), (2, 1), (1, 0), (3, -1), ("fro", (0, 1)),
                                       (np.inf, (1, 0)), (2, (0, 1)), (-2, (1, 0)),
                                       ("nuc", (0, 1))])
def test_grads_and_vmap(ord_, axis):
    x = np.random.default_rng(0).standard_normal((3, 4)) + 0.1
    f = lambda a: fnp.linalg.norm(a, ord_, axis)  # noqa: E731
    check_grads(f, (x,), order=2)
    check_vmap(f, (np.stack([x, -2 * x]),), in_axes=0)


# ---------------------------------------------------------------- the other functions

def _rand(rng, *shape):
    return rng.standard_normal(shape)


def _spd(rng, *shape):
    a = rng.standard_normal(shape)
    return a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])


def _square(rng, *shape):
    return rng.standard_normal(shape) + 2 * np.eye(shape[-1])


def _sorted_eig(a):
    w = np.linalg.eigvals(a).astype(np.result_type(a.dtype, np.complex64))
    return np.sort_complex(w)


L = fnp.linalg
# name -> (fnad function, NumPy function, args maker (rng) -> args, differentiable)
TABLE = {
    "solve": (L.solve, np.linalg.solve, lambda r: (_square(r, 2, 4, 4), _rand(r, 2, 4, 3)),
              True),
    "solve-vector": (L.solve, np.linalg.solve, lambda r: (_square(r, 4, 4), _rand(r, 4)), True),
    "solve-broadcast": (L.solve, np.linalg.solve,
                        lambda r: (_square(r, 2, 1, 3, 3), _rand(r, 5, 3, 2)), True),
    "inv": (L.inv, np.linalg.inv, lambda r: (_square(r, 3, 4, 4),), True),
    "det": (L.det, np.linalg.det, lambda r: (_square(r, 2, 4, 4),), True),
    "slogdet": (lambda a: tuple(L.slogdet(a)), lambda a: tuple(np.linalg.slogdet(a)), lambda r: (_rand(r, 3, 4, 4),), False),
    "logabsdet": (lambda a: L.slogdet(a)[1], lambda a: np.linalg.slogdet(a)[1],
                  lambda r: (_rand(r, 3, 4, 4),), True),
    "cholesky": (L.cholesky, np.linalg.cholesky, lambda r: (_spd(r, 2, 4, 4),), True),
    "cholesky-upper": (lambda a: L.cholesky(a, upper=True),
                       lambda a: np.linalg.cholesky(a, upper=True),
                       lambda r: (_spd(r, 4, 4),), True),
    "eigvalsh": (L.eigvalsh, np.linalg.eigvalsh, lambda r: (_spd(r, 2, 4, 4),), True),
    # real parts of the (here real) eigenvalues: convert_element_type keeps the real part
    "eigvals": (lambda a: fnp.sort(lax.convert_element_type(L.eigvals(a), a.dtype)),
                lambda a: np.sort(_sorted_eig(a).real),
                lambda r: (_spd(r, 4, 4),), False),
    "svdvals": (L.svdvals, np.linalg.svdvals, lambda r: (_rand(r, 2, 5, 3),), True),
    "pinv": (L.pinv, np.linalg.pinv, lambda r: (_rand(r, 2, 5, 3),), True),
    "pinv-hermitian": (lambda a: L.pinv(a, hermitian=True),
                       lambda a: np.linalg.pinv(a, hermitian=True),
                       lambda r: (_spd(r, 4, 4),), False),
    "matrix_rank": (L.matrix_rank, np.linalg.matrix_rank,
                    lambda r: (np.stack([_rand(r, 4, 4), np.outer(_rand(r, 4), _rand(r, 4))]),),
                    False),
    "matrix_rank-tol": (lambda a: L.matrix_rank(a, tol=0.5),
                        lambda a: np.linalg.matrix_rank(a, tol=0.5),
                        lambda r: (np.diag([3.0, 1.0, 0.25]),), False),
    "cond": (L.cond, np.linalg.cond, lambda r: (_rand(r, 2, 4, 4),), True),
    "cond-1": (lambda a: L.cond(a, 1), lambda a: np.linalg.cond(a, 1),
               lambda r: (_square(r, 4, 4),), False),
    "cond-fro": (lambda a: L.cond(a, "fro"), lambda a: np.linalg.cond(a, "fro"),
                 lambda r: (_square(r, 2, 3, 3),), True),
    "matrix_power-3": (lambda a: L.matrix_power(a, 3), lambda a: np.linalg.matrix_power(a, 3),
                       lambda r: (_rand(r, 2, 3, 3),), True),
    "matrix_power-neg": (lambda a: L.matrix_power(a, -2),
                         lambda a: np.linalg.matrix_power(a, -2),
                         lambda r: (_square(r, 3, 3),), True),
    "matrix_power-0": (lambda a: L.matrix_power(a, 0), lambda a: np.linalg.matrix_power(a, 0),
                       lambda r: (_rand(r, 2, 3, 3),), False),
    "multi_dot": (lambda *a: L.multi_dot(a), lambda *a: np.linalg.multi_dot(a),
                  lambda r: (_rand(r, 3), _rand(r, 3, 6), _rand(r, 6, 2), _rand(r, 2, 4)), True),
    "multi_dot-matrices": (lambda *a: L.multi_dot(a), lambda *a: np.linalg.multi_dot(a),
                           lambda r: (_rand(r, 5, 2), _rand(r, 2, 6), _rand(r, 6, 3)), True),
    "tensorinv": (lambda a: L.tensorinv(a, 1), lambda a: np.linalg.tensorinv(a, 1),
                  lambda r: (_square(r, 6, 6).reshape(6, 2, 3),), True),
    "tensorsolve": (L.tensorsolve, np.linalg.tensorsolve,
                    lambda r: (_square(r, 6, 6).reshape(2, 3, 6), _rand(r, 2, 3)), True),
    "tensorsolve-axes": (lambda a, b: L.tensorsolve(a, b, axes=(0,)),
                         lambda a, b: np.linalg.tensorsolve(a, b, axes=(0,)),
                         lambda r: (_square(r, 6, 6).reshape(6, 2, 3), _rand(r, 2, 3)), True),
    "cross": (L.cross, np.linalg.cross, lambda r: (_rand(r, 4, 3), _rand(r, 1, 3)), True),
    "cross-axis": (lambda a, b: L.cross(a, b, axis=0),
                   lambda a, b: np.linalg.cross(a, b, axis=0),
                   lambda r: (_rand(r, 3, 2), _rand(r, 3, 2)), True),
    "outer": (L.outer, np.linalg.outer, lambda r: (_rand(r, 3), _rand(r, 4)), True),
    "vecdot": (L.vecdot, np.linalg.vecdot, lambda r: (_rand(r, 2, 3), _rand(r, 3)), True),
    "matmul": (L.matmul, np.linalg.matmul, lambda r: (_rand(r, 2, 3, 4), _rand(r, 4, 2)), True),
    "tensordot": (lambda a, b: L.tensordot(a, b, axes=1),
                  lambda a, b: np.linalg.tensordot(a, b, axes=1),
                  lambda r: (_rand(r, 2, 3), _rand(r, 3, 4)), True),
    "trace": (lambda a: L.trace(a, offset=1), lambda a: np.linalg.trace(a, offset=1),
              lambda r: (_rand(r, 2, 3, 4),), True),
    "diagonal": (lambda a: L.diagonal(a, offset=-1), lambda a: np.linalg.diagonal(a, offset=-1),
                 lambda r: (_rand(r, 2, 4, 3),), True),
    "matrix_transpose": (L.matrix_transpose, np.linalg.matrix_transpose,
                         lambda r: (_rand(r, 2, 3, 4),), True),
    "vector_norm": (lambda a: L.vector_norm(a, axis=(0, 2), ord=3),
                    lambda a: np.linalg.vector_norm(a, axis=(0, 2), ord=3),
                    lambda r: (_rand(r, 2, 3, 4),), True),
    "vector_norm-all": (L.vector_norm, np.linalg.vector_norm, lambda r: (_rand(r, 2, 3),),
                        True),
    "matrix_norm-nuc": (lambda a: L.matrix_norm(a, ord="nuc", keepdims=True),
                        lambda a: np.linalg.matrix_norm(a, ord="nuc", keepdims=True),
                        lambda r: (_rand(r, 2, 3, 4),), True),
    "matrix_norm-2": (lambda a: L.matrix_norm(a, ord=2), lambda a: np.linalg.matrix_norm(a, ord=2),
                      lambda r: (_rand(r, 3, 4),), True),
}


@pytest.mark.parametrize("name", sorted(TABLE))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_values_against_numpy(name, dtype):
    fn, np_fn, make, _ = TABLE[name]
    args = tuple(np.asarray(a, dtype) for a in make(np.random.default_rng(0)))
    rtol = 2e-4 if dtype == np.float32 else 1e-9
    check(fn, np_fn, args, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("name", sorted(n for n, row in TABLE.items() if row[3]))
def test_grads(name):
    fn, _, make, _ = TABLE[name]
    check_grads(fn, make(np.random.default_rng(1)), order=1)


@pytest.mark.parametrize("name", ["solve", "inv", "det", "cholesky", "eigvalsh", "svdvals",
                                  "pinv", "logabsdet", "slogdet", "matrix_rank", "cond"])
def test_vmap(name):
    fn, _, make, _ = TABLE[name]
    args = make(np.random.default_rng(2))
    check_vmap(fn, args, in_axes=0, atol=1e-9, rtol=1e-9)
    moved = tuple(np.moveaxis(a, 0, -1) if a.ndim > 2 else a for a in args)
    axes = tuple(-1 if a.ndim > 2 else None for a in args)
    if any(ax is not None for ax in axes):
        check_vmap(fn, moved, in_axes=axes, atol=1e-9, rtol=1e-9)


def test_decompositions_reconstruct():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((2, 5, 3))
    for mode in ("reduced", "complete"):
        q, r = L.qr(a, mode)
        np.testing.assert_allclose(q @ r, a, atol=1e-12)
        assert q.shape[-1] == (3 if mode == "reduced" else 5)
    np.testing.assert_allclose(L.qr(a, "r"), L.qr(a).R)
    for full in (True, False):
        u, s, vh = L.svd(a, full_matrices=full)
        np.testing.assert_allclose((u[..., :3] * s[..., None, :]) @ vh[..., :3, :], a,
                                   atol=1e-12)
    spd = _spd(rng, 4, 4)
    w, v = L.eigh(spd)
    np.testing.assert_allclose(spd @ v, v * w, atol=1e-10)
    w, v = L.eigh(np.triu(spd), UPLO="U", symmetrize_input=False)
    np.testing.assert_allclose(spd @ v, v * w, atol=1e-10)
    w, v = L.eig(a[0, :3])
    np.testing.assert_allclose(a[0, :3] @ v, v * w, atol=1e-10)
    u, s, vh = L.svd(spd - 6 * np.eye(4), hermitian=True)
    np.testing.assert_allclose(s, np.linalg.svd(spd - 6 * np.eye(4), compute_uv=False))
    np.testing.assert_allclose((u * s) @ vh, spd - 6 * np.eye(4), atol=1e-10)


def test_lstsq_matches_numpy():
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((6, 3)), rng.standard_normal((6, 2))
    for rhs in (b, b[:, 0]):
        x, resid, rank, s = L.lstsq(a, rhs)
        x2, resid2, rank2, s2 = np.linalg.lstsq(a, rhs)
        np.testing.assert_allclose(x, x2, atol=1e-12)
        assert resid.shape == resid2.shape and rank.dtype == np.asarray(rank2).dtype
        np.testing.assert_allclose(resid, resid2, atol=1e-12)
        assert int(rank) == rank2
        np.testing.assert_allclose(s, s2)
    deficient = np.outer(rng.standard_normal(4), rng.standard_normal(3))
    x, _, rank, _ = L.lstsq(deficient, b[:4], numpy_resid=True)
    np.testing.assert_allclose(x, np.linalg.lstsq(deficient, b[:4])[0], atol=1e-12)
    assert int(rank) == 1
    check_grads(lambda a, b: L.lstsq(a, b)[0], (a, b), order=1)


def test_singular_and_integer_inputs():
    singular = np.array([[1.0, 2.0], [2.0, 4.0]])
    assert L.det(singular) == 0
    sign, logdet = L.slogdet(singular)
    assert sign == 0 and logdet == -np.inf
    assert L.cond(singular) > 1e15 or np.isinf(L.cond(singular))
    assert np.isinf(L.cond(np.zeros((2, 2))))
    assert not np.isfinite(L.solve(np.zeros((2, 2)), np.ones(2))).all()
    ints = np.array([[2, 1], [1, 3]], np.int32)
    assert L.det(ints).dtype == np.float64 and L.inv(ints).dtype == np.float64
    np.testing.assert_allclose(L.inv(ints), np.linalg.inv(ints))


def test_complex_values():
    rng = np.random.default_rng(5)
    a = rng.standard_normal((3, 3)) + 1j * rng.standard_normal((3, 3))
    b = rng.standard_normal((3, 2)) + 1j * rng.standard_normal((3, 2))
    np.testing.assert_allclose(L.solve(a, b), np.linalg.solve(a, b))
    np.testing.assert_allclose(L.det(a), np.linalg.det(a))
    for got, want in zip(L.slogdet(a), np.linalg.slogdet(a)):
        np.testing.assert_allclose(got, want)
    h = a @ a.conj().T + np.eye(3)
    np.testing.assert_allclose(L.cholesky(h), np.linalg.cholesky(h))
    np.testing.assert_allclose(L.eigvalsh(h), np.linalg.eigvalsh(h))
    np.testing.assert_allclose(L.norm(a, 2), np.linalg.norm(a, 2))
    np.testing.assert_allclose(L.norm(a), np.linalg.norm(a))
    np.testing.assert_allclose(L.vecdot(a, b[:, :1].T), np.linalg.vecdot(a, b[:, :1].T))
    assert L.norm(a).dtype == np.float64


@pytest.mark.parametrize("call,error,match", [
    (lambda: L.solve(np.eye(3), np.ones(2)), ShapeError, "linalg.solve"),
    (lambda: L.inv(np.ones((2, 3))), ShapeError, "square"),
    (lambda: L.det(np.ones(3)), ShapeError, "square"),
    (lambda: L.outer(np.ones((2, 2)), np.ones(2)), ShapeError, "1-d"),
    (lambda: L.cross(np.ones(2), np.ones(2)), ShapeError, "size 3"),
    (lambda: L.qr(np.ones((2, 2)), "raw"), ValueError, "raw"),
    (lambda: L.matrix_power(np.eye(2), 1.5), TypeError, "integer"),
    (lambda: L.multi_dot([np.ones(2)]), ValueError, "two"),
    (lambda: L.tensorinv(np.ones((2, 3)), 1), ShapeError, "equal"),
    (lambda: L.norm(np.ones((2, 2)), 3), ValueError, "invalid matrix norm"),
])
def test_bad_input_is_explained(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_extreme_values_give_inf_or_nan_without_warnings():
    import warnings
    big = np.full((3, 3), 1e200)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isinf(L.norm(big + 1j * big))
        assert np.isinf(L.det(1e200 * np.eye(3)))
        assert np.isnan(L.det(np.full((3, 3), np.nan)))
        assert not np.isfinite(L.inv(np.zeros((3, 3)))).all()
        assert int(L.matrix_rank(np.zeros((3, 3)))) == 0


def test_det_derivative_is_the_cofactor_matrix_even_at_singular_matrices():
    """d det / da = adj(a)^T, finite at rank n - 1 (where LU would divide by zero) and
    zero below, as JAX's; exact elsewhere, and in forward mode, vmap and jit."""
    singular = np.array([[1.0, 2.0], [2.0, 4.0]])
    np.testing.assert_allclose(fnad.grad(L.det)(singular), [[4.0, -2.0], [-2.0, 1.0]],
                               atol=1e-12)
    rng = np.random.default_rng(6)
    rank1 = np.outer(rng.standard_normal(3), rng.standard_normal(3))
    np.testing.assert_allclose(fnad.grad(L.det)(rank1), 0, atol=1e-12)
    a = rng.standard_normal((3, 4, 4))
    cof = np.linalg.det(a)[:, None, None] * np.swapaxes(np.linalg.inv(a), -1, -2)
    np.testing.assert_allclose(fnad.vmap(fnad.grad(L.det))(a), cof, rtol=1e-10)
    np.testing.assert_allclose(fnad.jit(fnad.grad(L.det))(a[0]), cof[0], rtol=1e-10)
    t = rng.standard_normal((4, 4))
    _, dd = fnad.jvp(L.det, (a[0],), (t,))
    np.testing.assert_allclose(dd, np.sum(cof[0] * t), rtol=1e-10)
    z = a[0] + 1j * a[1]  # complex: the same formula, as JAX's convention transposes it
    w = 0.3 - 0.7j

    def re_det(x):
        return lax.convert_element_type(L.det(x) * w, np.float64)

    eps, fd = 1e-6, np.zeros((4, 4), complex)
    for i in range(4):
        for j in range(4):
            e = np.zeros((4, 4))
            e[i, j] = eps
            dx = (re_det(z + e) - re_det(z - e)) / (2 * eps)
            dy = (re_det(z + 1j * e) - re_det(z - 1j * e)) / (2 * eps)
            fd[i, j] = dx - 1j * dy
    np.testing.assert_allclose(fnad.grad(re_det)(z), fd, atol=1e-6)


def test_slogdet_takes_jax_qr_method():
    """JAX's slogdet(method='qr') gives the same sign and log|det| (it raised)."""
    rng = np.random.default_rng(7)
    for a in (rng.standard_normal((2, 4, 4)), rng.standard_normal((3, 3)) + 1j,
              np.array([[1.0, 2.0], [2.0, 4.0]])):
        for got, want in zip(L.slogdet(a, method="qr"), np.linalg.slogdet(a), strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-12)
    with pytest.raises(fnad.FnadError, match="method"):
        L.slogdet(np.eye(2), method="svd")
