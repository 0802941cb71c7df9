"""The decomposition primitives (`fnad/lax/linalg_decomp.py`), table-driven: one row per
primitive (or variant) drives the value checks (reconstruction and invariants, stacks of
matrices, float32/float64/complex), `check_transforms` (staging, typecheck, jit on every
backend), `check_grads` (jvp and vjp against float64 finite differences), and `check_vmap`
(batch axis 0, 1, -1 and unbatched operands)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from complex_grad import check_complex_grad, real_part
from hypothesis import given, settings, strategies as st

import fnad
from fnad import lax
from fnad.core.errors import DTypeError, ShapeError
from fnad.test_util import check_grads, check_transforms, check_vmap


def _mT(x: np.ndarray) -> np.ndarray:
    return np.swapaxes(x, -1, -2)


def _mH(x: np.ndarray) -> np.ndarray:
    return np.conj(_mT(x))


def _random(rng: np.random.Generator, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    x = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * rng.standard_normal(shape)
    return x.astype(dtype)


def _spd(rng, batch, n, dtype):
    a = _random(rng, (*batch, n, n), dtype)
    return (a @ _mH(a) + n * np.eye(n)).astype(dtype)


def _well_conditioned(rng, batch, n, dtype):
    return (_random(rng, (*batch, n, n), dtype) + 4 * np.eye(n)).astype(dtype)


def _tol(dtype: Any) -> float:
    return 1e-4 if np.dtype(dtype) in (np.float32, np.complex64) else 1e-10


def _close(a: Any, b: Any, dtype: Any) -> None:
    a = np.asarray(a)
    np.testing.assert_allclose(a, np.broadcast_to(b, a.shape), rtol=_tol(dtype),
                               atol=_tol(dtype))


# ---------------------------------------------------------------- reconstruction checks


def _verify_cholesky(args, out, dtype):
    (a,), low = args, out
    _close(np.triu(low, 1), 0, dtype)
    _close(low @ _mH(low), a, dtype)


def _verify_triangular(params):
    def verify(args, x, dtype):
        a, b = args
        n = a.shape[-1]
        m = np.tril(a) if params["lower"] else np.triu(a)
        if params["unit_diagonal"]:
            m = m * (1 - np.eye(n)) + np.eye(n)
        if params["conjugate_a"]:
            m = np.conj(m)
        if params["transpose_a"]:
            m = _mT(m)
        _close(m @ x if params["left_side"] else x @ m, b, dtype)
    return verify


def _verify_lu(args, out, dtype):
    (a,), (packed, pivots, perm) = args, out
    n = a.shape[-1]
    low, up = np.tril(packed, -1) + np.eye(n), np.triu(packed)
    _close(np.take_along_axis(a, perm[..., None].astype(np.int64), -2), low @ up, dtype)
    # partial pivoting bounds L; complex pivots are chosen by |re| + |im| (LAPACK's, so
    # JAX's and SciPy's), which bounds |L| by sqrt(2)
    bound = np.sqrt(2) if np.iscomplexobj(packed) else 1
    assert np.all(np.abs(np.tril(packed, -1)) <= bound + 1e-6)
    swapped = np.broadcast_to(np.arange(n), perm.shape).copy()  # pivots replay the swaps
    for idx in np.ndindex(perm.shape[:-1]):
        for i, p in enumerate(pivots[idx]):
            swapped[idx][[i, p]] = swapped[idx][[p, i]]
    np.testing.assert_array_equal(swapped, perm)
    assert pivots.dtype == perm.dtype == np.int32


def _verify_qr(full):
    def verify(args, out, dtype):
        (a,), (q, r) = args, out
        k = q.shape[-1]
        _close(np.triu(r), r, dtype)
        _close(_mH(q) @ q, np.eye(k), dtype)
        _close(q @ r, a, dtype)
        assert k == (a.shape[-2] if full else min(a.shape[-2:]))
    return verify


def _verify_eigh(args, out, dtype):
    (a,), (v, w) = args, out
    a = (a + _mH(a)) / 2
    assert w.dtype == np.finfo(dtype).dtype and np.all(np.diff(w, axis=-1) >= 0)
    _close(a @ v, v * w[..., None, :], dtype)
    _close(_mH(v) @ v, np.eye(a.shape[-1]), dtype)


def _verify_svd(full):
    def verify(args, out, dtype):
        (a,), (s, u, vh) = args, out
        assert s.dtype == np.finfo(dtype).dtype and np.all(np.diff(s, axis=-1) <= 0)
        k = s.shape[-1]
        _close((u[..., :, :k] * s[..., None, :]) @ vh[..., :k, :], a, dtype)
        _close(_mH(u) @ u, np.eye(u.shape[-1]), dtype)
        _close(vh @ _mH(vh), np.eye(vh.shape[-2]), dtype)
        _close(s, np.linalg.svd(a, compute_uv=False), dtype)
        assert u.shape[-1] == (a.shape[-2] if full else k)
    return verify


def _verify_eig(args, out, dtype):
    (a,), (w, v) = args, out
    assert w.dtype.kind == "c" and v.dtype.kind == "c"
    _close(a @ v, v * w[..., None, :], dtype)
    _close(np.linalg.norm(v, axis=-2), 1, dtype)


# ---------------------------------------------------------------- the table


def _svd_order(out):
    """lax.svd's (u, s, vh) as (s, u, vh): the table's checks take s first."""
    u, s, vh = out
    return s, u, vh



@dataclass
class Case:
    name: str
    fn: Callable[..., Any]                        # the primitive's wrapper, all outputs
    make: Callable[..., tuple]                    # (rng, batch, dtype) -> args
    verify: Callable[..., None]                   # (args, outputs, dtype) -> None
    smooth: Callable[..., Any] | None = None      # a function of the outputs with unique
    dtypes: tuple = (np.float32, np.float64, np.complex128)  # derivatives (grads, vmap)
    order: int = 1


# every flag combination; conjugate_a (the identity on real matrices) on two of them
TRI_PARAMS = [dict(zip(("left_side", "lower", "transpose_a", "unit_diagonal"), p),
                   conjugate_a=False) for p in itertools.product((True, False), repeat=4)]
TRI_PARAMS += [dict(left_side=s, lower=s, transpose_a=True, unit_diagonal=False,
                    conjugate_a=True) for s in (True, False)]


def _tri_case(p: dict) -> Case:
    def make(rng, batch, dtype):
        a = _well_conditioned(rng, batch, 4, dtype)
        b = _random(rng, (*batch, 4, 2) if p["left_side"] else (*batch, 2, 4), dtype)
        return a, b
    label = "-".join(k for k, v in p.items() if v) or "plain"
    return Case(f"triangular_solve[{label}]", lambda a, b: lax.triangular_solve(a, b, **p),
                make, _verify_triangular(p), order=2)


CASES = [
    Case("cholesky", lax.cholesky, lambda rng, batch, dt: (_spd(rng, batch, 4, dt),),
         lambda args, out, dt: _verify_cholesky(args, out, dt), order=2),
    Case("lu", lax.lu, lambda rng, batch, dt: (_random(rng, (*batch, 5, 5), dt),),
         _verify_lu, smooth=lambda out: out[0]),
    Case("qr[reduced,tall]", lambda a: lax.qr(a, full_matrices=False),
         lambda rng, batch, dt: (_random(rng, (*batch, 5, 3), dt),), _verify_qr(False)),
    Case("qr[complete,square]", lambda a: lax.qr(a, full_matrices=True),
         lambda rng, batch, dt: (_random(rng, (*batch, 4, 4), dt),), _verify_qr(True)),
    Case("qr[complete,wide]", lambda a: lax.qr(a, full_matrices=True),
         lambda rng, batch, dt: (_random(rng, (*batch, 3, 5), dt),), _verify_qr(True),
         smooth=False),
    Case("eigh", lax.eigh, lambda rng, batch, dt: (_random(rng, (*batch, 4, 4), dt),),
         _verify_eigh, smooth=lambda out: (out[1], out[0] * out[0])),
    *(Case(f"svd[thin,{m}x{n}]", lambda a: _svd_order(lax.svd(a, full_matrices=False)),
           lambda rng, batch, dt, m=m, n=n: (_random(rng, (*batch, m, n), dt),),
           _verify_svd(False), smooth=lambda out: (out[0], out[1] * out[1], out[2] * out[2]),
           dtypes=(np.float32, np.float64))
      for m, n in ((5, 3), (3, 5), (4, 4))),
    Case("svd[full,wide]", lambda a: _svd_order(lax.svd(a, full_matrices=True)),
         lambda rng, batch, dt: (_random(rng, (*batch, 3, 5), dt),), _verify_svd(True),
         smooth=False),
    Case("eig", lambda a: lax.eig(a, compute_left_eigenvectors=False),
         lambda rng, batch, dt: (_random(rng, (*batch, 4, 4), dt),),
         _verify_eig, smooth=False, dtypes=(np.float32, np.float64)),
    *(_tri_case(p) for p in TRI_PARAMS),
]
IDS = [c.name for c in CASES]


def _smooth(case: Case) -> Callable[..., Any]:
    if case.smooth is None:
        return case.fn
    return lambda *args: case.smooth(case.fn(*args))


@pytest.mark.parametrize("case", CASES, ids=IDS)
@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 2**31), batch=st.sampled_from([(), (3,), (2, 1)]))
def test_values(case: Case, seed: int, batch: tuple) -> None:
    """Decompositions reconstruct their input and satisfy their invariants, per dtype and
    for stacks of matrices (one batched call)."""
    for dtype in case.dtypes:
        args = case.make(np.random.default_rng(seed), batch, dtype)
        out = case.fn(*args)
        for o in (out if isinstance(out, tuple) else (out,)):
            assert o.shape[:len(batch)] == batch
        case.verify(args, out, dtype)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_staging_and_jit(case: Case) -> None:
    for dtype in (np.float32, np.float64):
        args = case.make(np.random.default_rng(0), (2,), dtype)
        f = _smooth(case) if case.smooth is not False else case.fn
        check_transforms(f, args, atol=_tol(dtype) * 10, rtol=_tol(dtype) * 10)


@pytest.mark.parametrize("case", [c for c in CASES if c.smooth is not False],
                         ids=lambda c: c.name)
def test_grads(case: Case) -> None:
    args = case.make(np.random.default_rng(1), (), np.float64)
    check_grads(_smooth(case), args, order=case.order, modes=("fwd", "rev"))


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_vmap(case: Case, axis: int) -> None:
    args = case.make(np.random.default_rng(2), (3,), np.float64)
    moved = tuple(np.moveaxis(a, 0, axis) for a in args)
    f = _smooth(case) if case.smooth is not False else case.fn
    check_vmap(f, moved, in_axes=axis, atol=1e-8, rtol=1e-8)
    if len(args) == 2:  # one operand unbatched
        check_vmap(f, (args[0][0], args[1]), in_axes=(None, 0), atol=1e-8, rtol=1e-8)
        check_vmap(f, (args[0], args[1][0]), in_axes=(0, None), atol=1e-8, rtol=1e-8)


# ---------------------------------------------------------------- named corners


def test_cholesky_of_a_matrix_that_is_not_positive_definite_is_nan_in_its_stack():
    a = np.stack([np.eye(2) * 4.0, -np.eye(2)])
    low = lax.cholesky(a)
    np.testing.assert_allclose(low[0], 2 * np.eye(2))
    assert np.isnan(low[1]).all()


def test_cholesky_symmetrizes_by_default_and_reads_the_lower_triangle_otherwise():
    a = np.array([[4.0, 3.0], [1.0, 5.0]])
    np.testing.assert_allclose(lax.cholesky(a, symmetrize_input=False),
                               np.linalg.cholesky(np.tril(a) + np.tril(a, -1).T))
    sym = (a + a.T) / 2
    np.testing.assert_allclose(lax.cholesky(a), np.linalg.cholesky(sym))
    # the derivative sees what the impl reads: only the lower triangle
    check_grads(lambda x: lax.cholesky(x, symmetrize_input=False), (a,), order=1)


def test_triangular_solve_with_a_zero_pivot_gives_inf_not_an_exception():
    a = np.array([[0.0, 0.0], [1.0, 1.0]])
    x = lax.triangular_solve(a, np.array([[1.0], [1.0]]), left_side=True, lower=True)
    assert not np.isfinite(x).all()


@pytest.mark.parametrize("shape,uses_lapack", [((32, 64, 64), False), ((8, 8), False),
                                               ((300, 1), True)])
def test_triangular_solve_substitutes_where_rows_carry_work(monkeypatch, shape, uses_lapack):
    """Many right-hand sides: row-by-row substitution (LAPACK factors each block first,
    5x slower on 32 systems of 64x64); one right-hand side of a large system: LAPACK."""
    rng = np.random.default_rng(4)
    n = shape[-2]
    # small off-diagonal entries: every triangle of it is well conditioned
    a = (rng.standard_normal((*shape[:-2], n, n)) / n + np.eye(n)).astype(np.float32)
    b = rng.standard_normal(shape).astype(np.float32)
    calls = []
    solve = np.linalg.solve
    monkeypatch.setattr(np.linalg, "solve", lambda *args: calls.append(1) or solve(*args))
    for lower in (True, False):
        x = lax.triangular_solve(a, b, left_side=True, lower=lower)
        m = np.tril(a) if lower else np.triu(a)
        np.testing.assert_allclose(m @ x, b, rtol=1e-4, atol=1e-4)
    assert bool(calls) == uses_lapack


def test_triangular_solve_transpose_is_a_solve_with_the_transposed_matrix():
    rng = np.random.default_rng(3)
    a, b = _well_conditioned(rng, (), 4, np.float64), rng.standard_normal((4, 3))
    ct = rng.standard_normal((4, 3))
    for transpose_a in (False, True):
        def f(b, transpose_a=transpose_a):
            return lax.triangular_solve(a, b, left_side=True, lower=True,
                                        transpose_a=transpose_a)

        (got,) = fnad.vjp(f, b)[1](ct)
        m = np.tril(a).T if transpose_a else np.tril(a)
        np.testing.assert_allclose(got, np.linalg.solve(m.T, ct), rtol=1e-10)
        jaxpr = str(fnad.make_jaxpr(lambda b, c, f=f: fnad.vjp(f, b)[1](c))(b, ct))
        assert "triangular_solve" in jaxpr and "lu" not in jaxpr


def test_eigh_repeated_eigenvalues_give_finite_eigenspace_derivatives():
    """At a repeated eigenvalue the eigenvalue derivatives and the projector onto the
    eigenspace still differentiate correctly (F is 0 between equal eigenvalues)."""
    q, _ = np.linalg.qr(np.random.default_rng(4).standard_normal((3, 3)))
    a = q @ np.diag([1.0, 1.0, 3.0]) @ q.T
    t = np.random.default_rng(5).standard_normal((3, 3))
    t = t + t.T

    def projector(x):
        v, _ = lax.eigh(x)
        top = v[:, 2:]
        return top @ top.T

    _, dp = fnad.jvp(projector, (a,), (t,))
    eps = 1e-6
    fd = (projector(a + eps * t) - projector(a - eps * t)) / (2 * eps)
    np.testing.assert_allclose(dp, fd, atol=1e-6)
    _, (dv, dw) = fnad.jvp(lax.eigh, (a,), (t,))
    assert np.isfinite(dv).all()
    np.testing.assert_allclose(np.sum(dw), np.trace(t), rtol=1e-10)  # d trace = trace d


def test_eig_forward_mode_eigenvalues_match_finite_differences():
    rng = np.random.default_rng(6)
    p = rng.standard_normal((4, 4)) + 3 * np.eye(4)
    a = p @ np.diag([1.0, 2.0, 4.0, 7.0]) @ np.linalg.inv(p)
    t = rng.standard_normal((4, 4))
    right = lambda x: lax.eig(x, compute_left_eigenvectors=False)  # noqa: E731
    (w, _), (dw, dv) = fnad.jvp(right, (a,), (t,))
    eps = 1e-6

    def sorted_eigvals(x):
        return np.sort(np.linalg.eigvals(x).real)

    fd = (sorted_eigvals(a + eps * t) - sorted_eigvals(a - eps * t)) / (2 * eps)
    np.testing.assert_allclose(np.real(dw)[np.argsort(w.real)], fd, atol=1e-5)
    # the eigenvectors stay unit-norm: d|v|^2 = 2 Re(v^H dv) = 0
    _, v = right(a)
    np.testing.assert_allclose(np.real(np.sum(np.conj(v) * dv, 0)), 0, atol=1e-10)


def test_lu_handles_a_singular_matrix_and_rectangular_matrices():
    a = np.array([[1.0, 2.0], [2.0, 4.0]])
    packed, _, perm = lax.lu(a)
    _verify_lu((a,), lax.lu(a), np.float64)
    assert packed[1, 1] == 0
    for shape in ((5, 3), (3, 5)):
        x = np.random.default_rng(7).standard_normal(shape)
        packed, pivots, perm = lax.lu(x)
        m, n = shape
        k = min(m, n)
        low = np.tril(packed, -1)[:, :k] + np.eye(m, k)
        np.testing.assert_allclose(x[perm], low @ np.triu(packed)[:k], atol=1e-12)


@pytest.mark.parametrize("call,error,match", [
    (lambda: lax.cholesky(np.ones((2, 3))), ShapeError, "square"),
    (lambda: lax.cholesky(np.ones(3)), ShapeError, "matrix"),
    (lambda: lax.cholesky(np.eye(2, dtype=np.int32)), DTypeError, "float"),
    (lambda: lax.qr(np.ones(3)), ShapeError, "matrix"),
    (lambda: lax.svd(np.ones(3)), ShapeError, "matrix"),
    (lambda: lax.eigh(np.ones((2, 3))), ShapeError, "square"),
    (lambda: lax.triangular_solve(np.eye(3), np.ones((2, 1)), left_side=True), ShapeError,
     "3 rows"),
    (lambda: lax.triangular_solve(np.eye(3), np.ones((4, 3, 1)), left_side=True), ShapeError,
     "batch shape"),
    (lambda: lax.triangular_solve(np.eye(3), np.ones((3, 1), np.float32), left_side=True),
     DTypeError, "equal"),
])
def test_bad_operands_are_explained(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_unsupported_derivatives_are_explained():
    with pytest.raises(NotImplementedError, match="square"):
        fnad.jvp(lambda a: lax.lu(a)[0], (np.ones((3, 2)),), (np.ones((3, 2)),))
    with pytest.raises(NotImplementedError, match="full_matrices=False"):
        fnad.jvp(lambda a: lax.svd(a)[1], (np.ones((2, 3)),), (np.ones((2, 3)),))
    with pytest.raises(NotImplementedError, match="m >= n"):
        fnad.jvp(lambda a: lax.qr(a, full_matrices=False), (np.ones((2, 3)),),
                 (np.ones((2, 3)),))


# ---------------------------------------------------------------- custom_linear_solve

_A = _well_conditioned(np.random.default_rng(8), (), 4, np.float64)
_B = np.random.default_rng(9).standard_normal(4)


def _solved(a, b):
    """a^-1 b through custom_linear_solve, with dense solves as solver and transpose."""
    import fnad.numpy as fnp
    return lax.custom_linear_solve(lambda x: a @ x, b,
                                   lambda mv, r: fnp.linalg.solve(a, r),
                                   lambda vm, r: fnp.linalg.solve(a.T, r))


def test_custom_linear_solve_values_grads_vmap_and_jit():
    np.testing.assert_allclose(_solved(_A, _B), np.linalg.solve(_A, _B), rtol=1e-12)
    check_grads(_solved, (_A, _B), order=2)            # jvp (implicit) and the transpose
    check_vmap(_solved, (np.stack([_A, _A.T]), _B), in_axes=(0, None))
    check_vmap(_solved, (_A, np.stack([_B, -_B])), in_axes=(None, 0))
    check_vmap(_solved, (np.stack([_A, _A.T]), np.stack([_B, -_B])), in_axes=(0, 0))
    check_transforms(_solved, (_A, _B))


def test_custom_linear_solve_differentiates_the_solution_not_the_solver():
    """A Jacobi iteration (whose own derivative would differ) gives the exact derivative
    of a^-1 b; symmetric=True uses the solver for the transpose."""
    import fnad.numpy as fnp
    d = _A + 6 * np.eye(4)

    def jacobi(a, b):
        def solve(mv, r):
            x = r * 0
            for _ in range(60):
                x = x + (r - mv(x)) / fnp.diagonal(a)
            return x
        return lax.custom_linear_solve(lambda x: a @ x, b, solve,
                                       lambda vm, r: fnp.linalg.solve(a.T, r))

    np.testing.assert_allclose(fnad.grad(lambda b: jacobi(d, b).sum())(_B),
                               np.linalg.solve(d.T, np.ones(4)), rtol=1e-10)
    check_grads(jacobi, (d, _B), order=1)
    spd = _A @ _A.T

    def sym(a, b):
        return lax.custom_linear_solve(lambda x: a @ x, b,
                                       lambda mv, r: fnp.linalg.solve(a, r), symmetric=True)

    check_grads(sym, (spd, _B), order=1)


def test_custom_linear_solve_pytrees_and_errors():
    import fnad.numpy as fnp
    out = lax.custom_linear_solve(lambda x: {"u": 2 * x["u"], "v": 3 * x["v"]},
                                  {"u": np.ones(2), "v": np.ones(3)},
                                  lambda mv, r: {"u": r["u"] / 2, "v": r["v"] / 3})
    np.testing.assert_allclose(out["u"], 0.5)
    np.testing.assert_allclose(out["v"], 1 / 3)
    no_transpose = lambda b: lax.custom_linear_solve(  # noqa: E731
        lambda x: _A @ x, b, lambda mv, r: fnp.linalg.solve(_A, r)).sum()
    with pytest.raises(fnad.core.errors.TransformError, match="transpose_solve"):
        fnad.grad(no_transpose)(_B)
    _, tangent = fnad.jvp(lambda b: _solved(_A, b), (_B,), (_B,))  # forward mode needs none
    np.testing.assert_allclose(tangent, np.linalg.solve(_A, _B), rtol=1e-12)
    with pytest.raises(ShapeError, match="shapes"):
        lax.custom_linear_solve(lambda x: x[:2], np.ones(3), lambda mv, r: r)


# ---------------------------------------------------------------- complex convention

_Z = (np.random.default_rng(10).standard_normal((4, 4))
      + 1j * np.random.default_rng(11).standard_normal((4, 4)))
_W = (np.random.default_rng(12).standard_normal((4, 4))
      + 1j * np.random.default_rng(13).standard_normal((4, 4)))
_H = _Z @ _Z.conj().T + 4 * np.eye(4)


def _loss(out):
    """A real function of a complex result: Re sum(out * w)."""
    return lax.reduce_sum(real_part(lax.mul(out, _W)), (0, 1))


COMPLEX_GRADS = {
    "cholesky": (lambda a: _loss(lax.cholesky(a)), _H),
    "triangular_solve-a": (lambda a: _loss(lax.triangular_solve(
        a + 4 * np.eye(4), _W, left_side=True, lower=True, transpose_a=True,
        conjugate_a=True)), _Z),
    "triangular_solve-b": (lambda b: _loss(lax.triangular_solve(
        _Z + 4 * np.eye(4), b, left_side=False, lower=False)), _Z),
    "lu": (lambda a: _loss(lax.lu(a)[0]), _Z),
    "qr": (lambda a: _loss(lax.qr(a)[1]), _Z),
    "eigh-eigenvalues": (lambda a: lax.reduce_sum(lax.eigh(a)[1] * np.arange(4.0), (0,)), _H),
    "svd-singular-values": (lambda a: lax.reduce_sum(
        lax.svd(a, compute_uv=False) * np.arange(4.0), (0,)), _Z),
}


@pytest.mark.parametrize("name", sorted(COMPLEX_GRADS))
def test_complex_grads_follow_jax_convention(name):
    f, z = COMPLEX_GRADS[name]
    check_complex_grad(f, z)


def test_float16_is_refused_and_eigs_host_impl_agrees():
    with pytest.raises(DTypeError, match="float16"):
        lax.cholesky(np.eye(2, dtype=np.float16))
    from fnad.lax.linalg_decomp import eig_p
    a = np.random.default_rng(14).standard_normal((2, 3, 3))
    for got, want in zip(eig_p.impls["cupy"](a), eig_p.bind(a)):  # the CuPy impl on the host
        np.testing.assert_allclose(got, want)


@pytest.mark.parametrize("shape", [(70, 70), (2, 65, 65), (100, 40), (40, 100)])
def test_blocked_lu_across_panels(shape):
    """Matrices wider than one 32-column panel: the same factors as LAPACK's getrf."""
    import scipy.linalg as sl
    a = np.random.default_rng(15).standard_normal(shape)
    packed, pivots, perm = lax.lu(a)
    m, n = shape[-2:]
    if m == n:
        _verify_lu((a,), (packed, pivots, perm), np.float64)
    k = min(m, n)
    low = np.tril(packed, -1)[..., :k] + np.eye(m, k)
    np.testing.assert_allclose(np.take_along_axis(a, perm[..., None].astype(int), -2),
                               low @ np.triu(packed)[..., :k, :], atol=1e-12)
    if len(shape) == 2 and m == n:
        want, want_piv = sl.lu_factor(a)
        np.testing.assert_allclose(packed, want, atol=1e-12)
        np.testing.assert_array_equal(pivots, want_piv)


def test_eig_left_eigenvectors():
    a = np.random.default_rng(16).standard_normal((2, 4, 4))
    w, vl, vr = lax.eig(a)
    np.testing.assert_allclose(np.conj(np.swapaxes(vl, -1, -2)) @ a,
                               w[..., :, None] * np.conj(np.swapaxes(vl, -1, -2)), atol=1e-10)
    np.testing.assert_allclose(np.linalg.norm(vl, axis=-2), 1, atol=1e-12)
    np.testing.assert_allclose(a @ vr, vr * w[..., None, :], atol=1e-10)
    (w_only,) = lax.eig(a, compute_left_eigenvectors=False, compute_right_eigenvectors=False)
    np.testing.assert_allclose(w_only, w)


def test_jax_keyword_options():
    a = np.random.default_rng(17).standard_normal((5, 5))
    h = a @ a.T
    v, w = lax.eigh(h, subset_by_index=(1, 4))
    full_v, full_w = lax.eigh(h)
    np.testing.assert_allclose(w, full_w[1:4])
    np.testing.assert_allclose(np.abs(v), np.abs(full_v[:, 1:4]), atol=1e-12)
    u, s, vh = lax.svd(a, full_matrices=False, subset_by_index=(0, 2))
    np.testing.assert_allclose(s, np.linalg.svd(a, compute_uv=False)[:2])
    assert u.shape == (5, 2) and vh.shape == (2, 5)
    with pytest.raises(ValueError, match="full_matrices=False"):
        lax.svd(a, subset_by_index=(0, 2))
    with pytest.raises(NotImplementedError, match="pivoting"):
        lax.qr(a, pivoting=True)
    with pytest.raises(TypeError):
        lax.qr(a, False)  # options are keyword-only, as in JAX


def test_decompositions_are_reachable_as_jax_lax_linalg():
    """JAX programs call lax.linalg.cholesky(...), lax.linalg.eigh(...): the same functions."""
    from fnad.lax import linalg, linalg_decomp

    for name in ("cholesky", "eig", "eigh", "lu", "qr", "svd", "triangular_solve"):
        assert getattr(linalg, name) is getattr(linalg_decomp, name)
    spd = np.array([[4.0, 1.0], [1.0, 3.0]])
    np.testing.assert_allclose(linalg.cholesky(spd), np.linalg.cholesky(spd))
    with pytest.raises(AttributeError):
        linalg.no_such_decomposition  # noqa: B018
