"""fnad.scipy.linalg against scipy.linalg: values (decompositions by reconstruction and
invariants where they are not unique), derivatives against float64 finite differences,
vmap against a loop, and jit on every backend."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sl

import fnad
import fnad.scipy.linalg as L
from fnad.core.errors import ShapeError
from fnad.test_util import check_grads, check_transforms, check_vmap

RNG = np.random.default_rng(0)
A = RNG.standard_normal((4, 4))
SPD = A @ A.T + 4 * np.eye(4)
B = RNG.standard_normal((4, 2))
V = RNG.standard_normal(4)


def _close(got, want, tol=1e-9):
    got = np.asarray(got)
    np.testing.assert_allclose(got, np.broadcast_to(want, got.shape), rtol=tol, atol=tol)


# ------------------------------------------------------------------ values against SciPy

VALUES = {
    "cholesky": (lambda: L.cholesky(SPD), lambda: sl.cholesky(SPD)),
    "cholesky-lower": (lambda: L.cholesky(SPD, lower=True), lambda: sl.cholesky(SPD, lower=True)),
    "cho_solve": (lambda: L.cho_solve(L.cho_factor(SPD), B),
                  lambda: sl.cho_solve(sl.cho_factor(SPD), B)),
    "cho_solve-lower-vector": (lambda: L.cho_solve(L.cho_factor(SPD, lower=True), V),
                               lambda: sl.cho_solve(sl.cho_factor(SPD, lower=True), V)),
    "lu": (lambda: L.lu(A), lambda: sl.lu(A)),
    "lu-wide": (lambda: L.lu(A[:3]), lambda: sl.lu(A[:3])),
    "lu-tall": (lambda: L.lu(A[:, :3]), lambda: sl.lu(A[:, :3])),
    "lu-permute_l": (lambda: L.lu(A, permute_l=True), lambda: sl.lu(A, permute_l=True)),
    "lu_factor": (lambda: L.lu_factor(A), lambda: sl.lu_factor(A)),
    "eigh": (lambda: L.eigh(SPD, eigvals_only=True), lambda: sl.eigh(SPD, eigvals_only=True)),
    "eigh-generalized": (lambda: L.eigh(SPD, A @ A.T + np.eye(4), eigvals_only=True),
                         lambda: sl.eigh(SPD, A @ A.T + np.eye(4), eigvals_only=True)),
    "eigh_tridiagonal": (lambda: L.eigh_tridiagonal(V, V[:3], eigvals_only=True),
                         lambda: sl.eigh_tridiagonal(V, V[:3], eigvals_only=True)),
    "svd": (lambda: L.svd(A, compute_uv=False), lambda: sl.svd(A, compute_uv=False)),
    "det": (lambda: L.det(A), lambda: sl.det(A)),
    "inv": (lambda: L.inv(A), lambda: sl.inv(A)),
    "solve": (lambda: L.solve(A, B), lambda: sl.solve(A, B)),
    "solve-pos": (lambda: L.solve(SPD, B, assume_a="pos"),
                  lambda: sl.solve(SPD, B, assume_a="pos")),
    "expm": (lambda: L.expm(A), lambda: sl.expm(A)),
    "expm-large-norm": (lambda: L.expm(12 * A), lambda: sl.expm(12 * A)),
    "expm-zero": (lambda: L.expm(np.zeros((3, 3))), lambda: np.eye(3)),
    "expm_frechet": (lambda: L.expm_frechet(A, B @ B.T), lambda: sl.expm_frechet(A, B @ B.T)),
    "sqrtm-spd": (lambda: L.sqrtm(SPD), lambda: sl.sqrtm(SPD)),
    "funm": (lambda: L.funm(SPD, np.exp), lambda: sl.funm(SPD, np.exp)),
    "polar": (lambda: L.polar(A), lambda: sl.polar(A)),
    "polar-left": (lambda: L.polar(A, "left"), lambda: sl.polar(A, "left")),
    "solve_sylvester": (lambda: L.solve_sylvester(A, SPD[:3, :3], B @ B[:3].T),
                        lambda: sl.solve_sylvester(A, SPD[:3, :3], B @ B[:3].T)),
    "block_diag": (lambda: L.block_diag(A[:2, :3], 3.0, np.ones(2)),
                   lambda: sl.block_diag(A[:2, :3], 3.0, np.ones(2))),
    "toeplitz": (lambda: L.toeplitz(V, B[:, 0]), lambda: sl.toeplitz(V, B[:, 0])),
    "toeplitz-symmetric": (lambda: L.toeplitz(V), lambda: sl.toeplitz(V)),
    "hankel": (lambda: L.hankel(V, B[:3, 0]), lambda: sl.hankel(V, B[:3, 0])),
    "hankel-default": (lambda: L.hankel(V), lambda: sl.hankel(V)),
    "circulant": (lambda: L.circulant(V), lambda: sl.circulant(V)),
    "companion": (lambda: L.companion(V), lambda: sl.companion(V)),
    "fiedler": (lambda: L.fiedler(V), lambda: sl.fiedler(V)),
    "leslie": (lambda: L.leslie(V, V[:3]), lambda: sl.leslie(V, V[:3])),
    **{f"fiedler_companion-{k}": (lambda k=k: L.fiedler_companion(np.arange(1.0, k + 1)),
                                  lambda k=k: sl.fiedler_companion(np.arange(1.0, k + 1)))
       for k in range(2, 9)},
    **{f"convolution_matrix-{mode}-{n}": (
        lambda mode=mode, n=n: L.convolution_matrix(V[:3], n, mode),
        lambda mode=mode, n=n: sl.convolution_matrix(V[:3], n, mode))
       for mode in ("full", "same", "valid") for n in (1, 3, 5)},
}
# the special matrices fnad creates in float32 (its default, as JAX's), compared in value
CREATED = {
    "hadamard": (lambda: L.hadamard(8), lambda: sl.hadamard(8)),
    "helmert": (lambda: L.helmert(5), lambda: sl.helmert(5)),
    "helmert-full": (lambda: L.helmert(5, full=True), lambda: sl.helmert(5, full=True)),
    "hilbert": (lambda: L.hilbert(5), lambda: sl.hilbert(5)),
    "invhilbert": (lambda: L.invhilbert(5), lambda: sl.invhilbert(5)),
    "invhilbert-exact": (lambda: L.invhilbert(5, exact=True),
                         lambda: sl.invhilbert(5, exact=True)),
    "dft": (lambda: L.dft(5), lambda: sl.dft(5)),
    "dft-sqrtn": (lambda: L.dft(4, "sqrtn"), lambda: sl.dft(4, "sqrtn")),
    "dft-n": (lambda: L.dft(4, "n"), lambda: sl.dft(4, "n")),
    **{f"pascal-{kind}": (lambda kind=kind: L.pascal(6, kind),
                          lambda kind=kind: sl.pascal(6, kind))
       for kind in ("symmetric", "lower", "upper")},
    **{f"invpascal-{kind}": (lambda kind=kind: L.invpascal(6, kind),
                             lambda kind=kind: sl.invpascal(6, kind))
       for kind in ("symmetric", "lower", "upper")},
}


@pytest.mark.parametrize("name", sorted(VALUES))
def test_values_against_scipy(name):
    got, want = (f() for f in VALUES[name])
    for g, w in zip(*((x,) if not isinstance(x, tuple) else x for x in (got, want))):
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape
        _close(g, w, 1e-7)


@pytest.mark.parametrize("name", sorted(CREATED))
def test_created_matrices(name):
    got, want = (f() for f in CREATED[name])
    assert got.shape == want.shape
    tol = 0 if got.dtype.kind == "i" else 1e-6
    np.testing.assert_allclose(got, want.astype(got.dtype), rtol=tol, atol=tol)


def test_solve_triangular_every_flag():
    for lower in (True, False):
        for trans in (0, 1, 2, "N", "T", "C"):
            for unit in (False, True):
                _close(L.solve_triangular(A, B, trans, lower, unit),
                       sl.solve_triangular(A, B, trans, lower, unit))
                _close(L.solve_triangular(A, V, trans, lower, unit),
                       sl.solve_triangular(A, V, trans, lower, unit))


def test_lu_solve_every_trans():
    factors, want = L.lu_factor(A), sl.lu_factor(A)
    for trans in (0, 1, 2):
        _close(L.lu_solve(factors, B, trans), sl.lu_solve(want, B, trans))
        _close(L.lu_solve(factors, V, trans), sl.lu_solve(want, V, trans))


def test_decompositions_by_reconstruction():
    q, r = L.qr(A[:, :3])
    _close(q @ r, A[:, :3])
    _close(q.T @ q, np.eye(4))
    (r_only,) = L.qr(A[:, :3], mode="r")
    _close(np.abs(r_only), np.abs(sl.qr(A[:, :3], mode="r")[0]))
    q, r = L.qr(A[:, :3], mode="economic")
    assert q.shape == (4, 3)
    for mode, c in (("right", B.T), ("left", B[:3])):
        cq, r = L.qr_multiply(A[:, :3], c, mode)
        cq2, _ = sl.qr_multiply(A[:, :3], c, mode)
        _close(np.abs(cq), np.abs(cq2))
    w, v = L.eigh(SPD)
    _close(SPD @ v, v * w)
    b = A @ A.T + np.eye(4)
    w, v = L.eigh(SPD, b, lower=False)
    _close(SPD @ v, b @ v * w)
    w, v = L.eigh_tridiagonal(V, V[:3])
    tri = np.diag(V) + np.diag(V[:3], 1) + np.diag(V[:3], -1)
    _close(tri @ v, v * w)
    t, z = L.schur(A, output="complex")
    _close(z @ t @ z.conj().T, A)
    _close(np.tril(t, -1), 0)
    _close(z.conj().T @ z, np.eye(4))
    t, z = L.rsf2csf(*sl.schur(A))
    _close(z @ t @ z.conj().T, A)
    _close(np.tril(t, -1), 0)
    h, q = L.hessenberg(A, calc_q=True)
    _close(q @ h @ q.T, A)
    _close(np.tril(h, -2), 0)
    _close(np.abs(h), np.abs(sl.hessenberg(A)))
    root = L.sqrtm(A)
    assert root.dtype == np.complex128
    _close(root @ root, A)


def test_expm_float32_and_batches():
    _close(L.expm(A.astype(np.float32)), sl.expm(A), 1e-4)
    assert L.expm(A.astype(np.float32)).dtype == np.float32
    stack = np.stack([A, 3 * A, np.zeros((4, 4))])
    _close(L.expm(stack), np.stack([sl.expm(a) for a in stack]), 1e-7)


# ------------------------------------------------------------------ derivatives


GRADS = {
    "cholesky": (lambda a: L.cholesky(a), (SPD,)),
    "cho_solve": (lambda a, b: L.cho_solve(L.cho_factor(a, lower=True), b), (SPD, B)),
    "solve_triangular": (lambda a, b: L.solve_triangular(a, b, trans="T", lower=True),
                         (A + 4 * np.eye(4), B)),
    "lu": (lambda a: L.lu(a)[1:], (A,)),
    "lu_solve": (lambda a, b: L.lu_solve(L.lu_factor(a), b, trans=1), (A, B)),
    "solve-pos": (lambda a, b: L.solve(a, b, assume_a="pos"), (SPD, B)),
    "det": (L.det, (A,)),
    "expm": (L.expm, (A,)),
    "expm-scaled": (L.expm, (6 * A,)),
    "expm_frechet": (lambda a, e: L.expm_frechet(a, e, compute_expm=False), (A, B @ B.T)),
    "polar": (L.polar, (A,)),
    "solve_sylvester": (L.solve_sylvester, (A, SPD[:3, :3], B @ B[:3].T)),
    "eigh-generalized": (lambda a, b: L.eigh(a, b, eigvals_only=True), (SPD, A @ A.T + 1)),
    "hessenberg": (lambda a: L.hessenberg(a)[..., 0:2, :], (A,)),
    "block_diag": (lambda a, b: L.block_diag(a, b), (A[:2], B)),
    "toeplitz": (L.toeplitz, (V, B[:, 0])),
    "companion": (L.companion, (V,)),
    "convolution_matrix": (lambda a: L.convolution_matrix(a, 3, "same"), (V,)),
}


@pytest.mark.parametrize("name", sorted(GRADS))
def test_grads(name):
    fn, args = GRADS[name]
    check_grads(fn, args, order=1)


def test_expm_gradient_is_the_frechet_derivative_adjoint():
    """<G, L(A, E)> = <L(A^T, G), E>: reverse mode of expm agrees with SciPy's Fréchet
    derivative."""
    g = RNG.standard_normal((4, 4))
    (grad,) = fnad.vjp(L.expm, A)[1](g)
    e = RNG.standard_normal((4, 4))
    _close(np.sum(grad * e), np.sum(g * sl.expm_frechet(A, e, compute_expm=False)), 1e-8)


# ------------------------------------------------------------------ vmap and jit


@pytest.mark.parametrize("fn,args", [
    (L.expm, (np.stack([A, 2 * A, -A]),)),
    (lambda a, b: L.cho_solve(L.cho_factor(a), b), (np.stack([SPD, 2 * SPD]), B)),
    (lambda a, b: L.lu_solve(L.lu_factor(a), b), (np.stack([A, A.T]), B)),
    (lambda a: L.lu(a), (np.stack([A, A.T]),)),
    (L.toeplitz, (np.stack([V, 2 * V]), np.stack([B[:, 0], B[:, 1]]))),
    (L.polar, (np.stack([A, A.T]),)),
], ids=["expm", "cho_solve", "lu_solve", "lu", "toeplitz", "polar"])
def test_vmap(fn, args):
    axes = (0,) + (None,) * (len(args) - 1) if args[-1] is B else 0
    check_vmap(fn, args, in_axes=axes, atol=1e-9, rtol=1e-9)


@pytest.mark.parametrize("fn,args", [
    (L.expm, (A,)), (lambda a, b: L.cho_solve(L.cho_factor(a), b), (SPD, B)),
    (lambda a, b: L.lu_solve(L.lu_factor(a), b, trans=2), (A, B)), (L.lu, (A,)),
    (L.hessenberg, (A,)), (L.toeplitz, (V,)), (L.block_diag, (A, B)),
    (lambda a: L.solve_sylvester(a, a, a), (A,)),
], ids=["expm", "cho_solve", "lu_solve", "lu", "hessenberg", "toeplitz", "block_diag",
        "solve_sylvester"])
def test_staging_and_jit(fn, args):
    check_transforms(fn, args, atol=1e-8, rtol=1e-8)


@pytest.mark.parametrize("call,error,match", [
    (lambda: L.cholesky(np.ones((2, 3))), ShapeError, "square"),
    (lambda: L.solve_triangular(np.eye(2), np.ones(2), trans=3), ValueError, "trans"),
    (lambda: L.cho_solve((np.eye(3), False), np.ones(2)), ShapeError, "cho_solve"),
    (lambda: L.qr(np.eye(2), mode="raw"), ValueError, "raw"),
    (lambda: L.qr(np.eye(2), pivoting=True), NotImplementedError, "pivoting"),
    (lambda: L.schur(np.eye(2)), NotImplementedError, "output='complex'"),
    (lambda: L.solve(np.eye(2), np.ones(2), assume_a="banded"), ValueError, "assume_a"),
    (lambda: L.hadamard(6), ValueError, "power of 2"),
    (lambda: L.solve_sylvester(np.eye(2), np.eye(3), np.ones((3, 3))), ShapeError, "A"),
    (lambda: L.eigh_tridiagonal(np.ones(3), np.ones(3)), ShapeError, "2 elements"),
    (lambda: L.pascal(3, kind="diagonal"), ValueError, "kind"),
])
def test_bad_input_is_explained(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_extreme_values_without_warnings():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not np.isfinite(L.expm(np.full((3, 3), 1e200))).all()
        assert np.isnan(L.expm(np.full((3, 3), np.nan))).all()
        assert not np.isfinite(L.companion(np.array([0.0, 1.0]))).all()
        assert not np.isfinite(L.solve_triangular(np.zeros((3, 3)), np.ones(3))).all()


@pytest.mark.parametrize("l_and_u", [(1, 1), (0, 2), (2, 0), (1, 3)])
def test_solve_banded_is_scipys(l_and_u):
    rng = np.random.default_rng(0)
    ab = rng.standard_normal((sum(l_and_u) + 1, 6))
    ab[l_and_u[1]] += 5.0  # a dominant main diagonal: well conditioned
    for b in (rng.standard_normal(6), rng.standard_normal((6, 2))):
        np.testing.assert_allclose(L.solve_banded(l_and_u, ab, b),
                                   sl.solve_banded(l_and_u, ab, b), rtol=1e-10)
    check_grads(lambda a, c: L.solve_banded(l_and_u, a, c), (ab, rng.standard_normal(6)),
                order=2)
    with pytest.raises(ShapeError, match="solve_banded"):
        L.solve_banded(l_and_u, ab[1:], np.ones(6))


def test_sqrtm_derivatives_on_real_spectra_are_finite_and_right():
    """Real eigenvalues (any real symmetric matrix, negative ones included) sit on the axis
    where a square root built from |w| and Re w has an infinite derivative: the tangents
    were NaN. Checked against float64 finite differences of SciPy's sqrtm, to second order
    through fnad's own, and on a general matrix with complex eigenvalues."""
    sym = 0.5 * (A + A.T)
    assert np.isreal(np.linalg.eigvals(sym)).all() and np.linalg.eigvalsh(sym).min() < 0
    direction = RNG.standard_normal((4, 4))
    for a in (sym, SPD, A):
        eps = 1e-6
        fd = (sl.sqrtm(a + eps * direction).astype(complex)
              - sl.sqrtm(a - eps * direction).astype(complex)) / (2 * eps)
        _close(fnad.jvp(L.sqrtm, (a,), (direction,))[1], fd, 1e-6)
        check_grads(lambda x: L.sqrtm(x).real, (a,), order=2)
    # +i sqrt|w| on the negative real axis, whichever sign the imaginary zero has
    w = L._complex_sqrt(np.array([-4 + 0j, complex(-4, -0.0), 4 + 0j]))
    np.testing.assert_array_equal(w, [2j, 2j, 2 + 0j])


def test_dft_dtype() -> None:
    got = L.dft(4, dtype=np.complex128)
    assert got.dtype == np.complex128
    np.testing.assert_allclose(got, sl.dft(4), rtol=1e-15)
    for bad in (np.float32, "not a dtype"):
        with pytest.raises(fnad.FnadError, match="complex dtype"):
            L.dft(4, dtype=bad)
