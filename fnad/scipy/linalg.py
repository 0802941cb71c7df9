"""`fnad.scipy.linalg`: SciPy's linear algebra in JAX's form, on the decomposition
primitives (`fnad.lax.linalg_decomp`) and `fnad.numpy.linalg`, so everything works on
arrays and tracers, batched over leading axes where SciPy's core shape allows, and
differentiates (`expm` by Padé approximation with scaling and squaring).

Functions needing a Schur decomposition (`schur`, `sqrtm`, `funm`, `rsf2csf`) compute it
from the eigendecomposition (A = V diag(w) V^-1, V = Q R gives A = Q (R diag(w) R^-1) Q^H),
which needs a diagonalizable matrix and gives the complex Schur form.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from fnad import lax
from fnad.core.errors import ArgumentError, DTypeError, ShapeError, user_line
from fnad.core.ir import get_aval
from fnad.lax import linalg_decomp as decomp
from fnad.numpy import linalg as nla
from fnad.numpy._core import asarray, broadcast_to, result_type
from fnad.numpy._indexing import take_along_axis
from fnad.numpy._products import einsum, matmul
from fnad.numpy._reductions import max, sum
from fnad.numpy._shape import concatenate, expand_dims, moveaxis, reshape
from fnad.numpy._sorting import argsort
from fnad.numpy._ufuncs import (
    absolute,
    ceil,
    divide,
    equal,
    log2,
    maximum,
    minimum,
    multiply,
    negative,
    sqrt,
    where,
)


def det(a: Any, overwrite_a: bool = False, check_finite: bool = True) -> Any:
    """The determinant (see `fnad.numpy.linalg.det`). `overwrite_a` and `check_finite` are
    SciPy's and are ignored, as in JAX: inputs are never overwritten nor checked."""
    del overwrite_a, check_finite
    return nla.det(a)


def inv(a: Any, overwrite_a: bool = False, check_finite: bool = True) -> Any:
    """The inverse (see `fnad.numpy.linalg.inv`); `overwrite_a` and `check_finite` ignored,
    as in JAX."""
    del overwrite_a, check_finite
    return nla.inv(a)


def _shape(x: Any) -> tuple[int, ...]:
    return get_aval(x).shape


def _dtype(x: Any) -> np.dtype:
    return get_aval(x).dtype


def _square(name: str, a: Any) -> Any:
    return nla._matrices(f"scipy.linalg.{name}", a)


def _mH(x: Any) -> Any:
    return decomp._mH(x)


def _eye_like(a: Any) -> Any:
    return broadcast_to(np.eye(_shape(a)[-1], dtype=_dtype(a)), _shape(a))


# ------------------------------------------------------------------ Cholesky


def cholesky(a: Any, lower: bool = False, overwrite_a: bool = False,
             check_finite: bool = True) -> Any:
    """The Cholesky factor of Hermitian positive-definite `a`, upper (a = U^H U) by default
    or lower (a = L L^H); only that triangle of `a` is read.

    >>> cholesky(np.array([[4.0, 2.0], [2.0, 5.0]]))
    array([[2., 1.],
           [0., 2.]])
    """
    del overwrite_a, check_finite
    a = _square("cholesky", a)
    if lower:
        return decomp.cholesky(a, symmetrize_input=False)
    return _mH(decomp.cholesky(_mH(a), symmetrize_input=False))


def cho_factor(a: Any, lower: bool = False, overwrite_a: bool = False,
               check_finite: bool = True) -> tuple[Any, bool]:
    """(c, lower) for `cho_solve`: c is the Cholesky factor (its other triangle zero).

    >>> cho_factor(np.array([[4.0, 2.0], [2.0, 5.0]]))[1]
    False
    """
    return cholesky(a, lower, overwrite_a, check_finite), lower


def cho_solve(c_and_lower: tuple[Any, bool], b: Any, overwrite_b: bool = False,
              check_finite: bool = True) -> Any:
    """Solve a x = b from `cho_factor(a)`: two triangular solves.

    >>> a = np.array([[4.0, 2.0], [2.0, 5.0]])
    >>> cho_solve(cho_factor(a), np.array([6.0, 7.0]))
    array([1., 1.])
    """
    del overwrite_b, check_finite
    c, lower = c_and_lower
    c, b, vector = nla.rhs_stack("scipy.linalg.cho_solve", c, b)
    y = decomp.triangular_solve(c, b, left_side=True, lower=lower, transpose_a=not lower,
                                conjugate_a=not lower)
    x = decomp.triangular_solve(c, y, left_side=True, lower=lower, transpose_a=lower,
                                conjugate_a=lower)
    return x[..., 0] if vector else x


_TRANS = {0: 0, "N": 0, 1: 1, "T": 1, 2: 2, "C": 2}


def solve_triangular(a: Any, b: Any, trans: int | str = 0, lower: bool = False,
                     unit_diagonal: bool = False, overwrite_b: bool = False,
                     debug: Any = None, check_finite: bool = True) -> Any:
    """Solve op(a) x = b for triangular `a` (op: identity, transpose ('T', 1) or conjugate
    transpose ('C', 2)); only the `lower` or upper triangle is read.

    >>> solve_triangular(np.array([[2.0, 1.0], [0.0, 1.0]]), np.array([3.0, 1.0]))
    array([1., 1.])
    """
    del overwrite_b, debug, check_finite
    if trans not in _TRANS:
        raise ArgumentError(f"scipy.linalg.solve_triangular: trans must be 0, 1, 2, 'N', 'T' or "
                         f"'C', got {trans!r}")
    t = _TRANS[trans]
    a, b, vector = nla.rhs_stack("scipy.linalg.solve_triangular", a, b)
    x = decomp.triangular_solve(a, b, left_side=True, lower=lower, transpose_a=t > 0,
                                conjugate_a=t == 2, unit_diagonal=unit_diagonal)
    return x[..., 0] if vector else x


# ------------------------------------------------------------------ LU


def _permutation_matrix(perm: Any, dtype: Any) -> Any:
    """P with a = P L U for a[perm] = L U: P[perm[i], i] = 1."""
    m = _shape(perm)[-1]
    onehot = equal(expand_dims(perm, -1), np.arange(m, dtype=np.int32))  # [i, r]
    return lax.convert_element_type(moveaxis(onehot, -1, -2), dtype)


def lu(a: Any, permute_l: bool = False, overwrite_a: bool = False,
       check_finite: bool = True) -> tuple[Any, ...]:
    """LU decomposition with partial pivoting, a = P L U: (P, L, U), or (P L, U) with
    `permute_l`. Rectangular and stacked matrices too.

    >>> p, l, u = lu(np.array([[1.0, 2.0], [3.0, 4.0]]))
    >>> bool(np.allclose(p @ l @ u, [[1.0, 2.0], [3.0, 4.0]]))
    True
    """
    del overwrite_a, check_finite
    a = nla._matrices("scipy.linalg.lu", a, square=False)
    packed, _, perm = decomp.lu(a)
    m, n = _shape(a)[-2:]
    k = min(m, n)
    low = packed[..., :, :k]
    low = where(np.tri(m, k, -1, dtype=bool), low, np.eye(m, k, dtype=_dtype(a)))
    up = where(~np.tri(k, n, -1, dtype=bool), packed[..., :k, :], np.zeros((), _dtype(a)))
    p = _permutation_matrix(perm, _dtype(a))
    return (matmul(p, low), up) if permute_l else (p, low, up)


def lu_factor(a: Any, overwrite_a: bool = False, check_finite: bool = True
              ) -> tuple[Any, Any]:
    """(lu, piv) for `lu_solve`: L and U packed in one matrix, and the row swaps
    (row i was swapped with row piv[i]).

    >>> lu_factor(np.array([[1.0, 2.0], [3.0, 4.0]]))[1]
    array([1, 1], dtype=int32)
    """
    del overwrite_a, check_finite
    packed, pivots, _ = decomp.lu(_square("lu_factor", a))
    return packed, pivots


def _pivots_to_permutation(pivots: Any, m: int) -> Any:
    """Replay the row swaps on 0..m-1 (works on traced pivots, batched)."""
    rows = np.arange(m, dtype=np.int32)
    perm = broadcast_to(rows, (*_shape(pivots)[:-1], m))
    for i in range(_shape(pivots)[-1]):
        p = expand_dims(pivots[..., i], -1)
        at_p = sum(where(equal(rows, p), perm, 0), -1, keepdims=True, dtype=np.int32)
        at_i = perm[..., i:i + 1]
        perm = where(rows == i, at_p, where(equal(rows, p), at_i, perm))
    return perm


def lu_solve(lu_and_piv: tuple[Any, Any], b: Any, trans: int = 0,
             overwrite_b: bool = False, check_finite: bool = True) -> Any:
    """Solve op(a) x = b from `lu_factor(a)` (trans 0: a, 1: a^T, 2: a^H).

    >>> a = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> lu_solve(lu_factor(a), np.array([3.0, 7.0]))
    array([1., 1.])
    """
    del overwrite_b, check_finite
    if trans not in (0, 1, 2):
        raise ArgumentError(f"scipy.linalg.lu_solve: trans must be 0, 1 or 2, got {trans!r}")
    packed, pivots = lu_and_piv
    packed, b, vector = nla.rhs_stack("scipy.linalg.lu_solve", packed, b)
    n = _shape(packed)[-1]
    perm = broadcast_to(_pivots_to_permutation(pivots, n), _shape(packed)[:-1])
    low = decomp._unit_lower(packed)
    if trans == 0:
        x = decomp.lu_solve(packed, perm, b)
    else:
        kw = dict(left_side=True, transpose_a=True, conjugate_a=trans == 2)
        y = decomp.triangular_solve(packed, b, lower=False, **kw)
        y = decomp.triangular_solve(low, y, lower=True, unit_diagonal=True, **kw)
        inverse = argsort(perm, axis=-1)
        x = take_along_axis(y, broadcast_to(expand_dims(inverse, -1), _shape(y)), -2)
    return x[..., 0] if vector else x


# ------------------------------------------------------------------ other decompositions


def qr(a: Any, overwrite_a: bool = False, lwork: Any = None, mode: str = "full",
       pivoting: bool = False, check_finite: bool = True) -> tuple[Any, ...]:
    """QR decomposition: (Q, R) for mode 'full' or 'economic', (R,) for 'r' (R of the
    full decomposition).

    >>> q, r = qr(np.array([[3.0, 1.0], [4.0, 2.0]]))
    >>> bool(np.allclose(q @ r, [[3.0, 1.0], [4.0, 2.0]]))
    True
    """
    del overwrite_a, lwork, check_finite
    if pivoting:
        raise NotImplementedError("scipy.linalg.qr: pivoting=True (rank-revealing QR) is "
                                  "not offered; use the SVD (fnad.numpy.linalg.svd)")
    if mode not in ("full", "r", "economic"):
        raise ArgumentError(f"scipy.linalg.qr: mode must be 'full', 'r' or 'economic', got "
                         f"{mode!r} ('raw' is LAPACK's packed form, not exposed)")
    a = nla._matrices("scipy.linalg.qr", a, square=False)
    q, r = decomp.qr(a, full_matrices=mode != "economic")
    return (r,) if mode == "r" else (q, r)


def qr_multiply(a: Any, c: Any, mode: str = "right", pivoting: bool = False,
                conjugate: bool = False, overwrite_a: bool = False,
                overwrite_c: bool = False) -> tuple[Any, Any]:
    """(Q c, R) for mode 'left' or (c Q, R) for 'right', Q and R of the economic QR of `a`
    (Q conjugated with `conjugate`).

    >>> cq, r = qr_multiply(np.eye(2), np.ones((1, 2)))
    >>> cq.shape
    (1, 2)
    """
    del overwrite_a, overwrite_c
    if mode not in ("left", "right"):
        raise ArgumentError(f"scipy.linalg.qr_multiply: mode must be 'left' or 'right', got "
                         f"{mode!r}")
    q, r = qr(a, mode="economic", pivoting=pivoting)
    if conjugate:
        q = decomp._conj(q)
    c = asarray(c)
    vector = len(_shape(c)) == 1
    if mode == "left":
        out = matmul(q, reshape(c, (-1, 1)) if vector else c)
        return (out[..., 0] if vector else out), r
    out = matmul(reshape(c, (1, -1)) if vector else c, q)
    return (out[0] if vector else out), r


def svd(a: Any, full_matrices: bool = True, compute_uv: bool = True,
        overwrite_a: bool = False, check_finite: bool = True,
        lapack_driver: str = "gesdd") -> Any:
    """Singular value decomposition: (U, s, Vh), or s alone.

    >>> svd(np.array([[3.0, 0.0], [0.0, -4.0]]), compute_uv=False)
    array([4., 3.])
    """
    del overwrite_a, check_finite, lapack_driver
    out = nla.svd(a, full_matrices, compute_uv)
    return tuple(out) if compute_uv else out


def eigh(a: Any, b: Any = None, lower: bool = True, eigvals_only: bool = False,
         overwrite_a: bool = False, overwrite_b: bool = False, turbo: bool = True,
         eigvals: Any = None, type: int = 1, check_finite: bool = True) -> Any:
    """Eigenvalues (ascending) and eigenvectors of Hermitian `a`, or of the generalized
    problem a v = w b v for positive-definite `b` (through b's Cholesky factor L:
    the standard problem of L^-1 a L^-H). Reads the `lower` (or upper) triangles.

    >>> eigh(np.array([[2.0, 1.0], [1.0, 2.0]]), eigvals_only=True)
    array([1., 3.])
    """
    del overwrite_a, overwrite_b, turbo, check_finite
    if eigvals is not None or type != 1:
        raise NotImplementedError("scipy.linalg.eigh: eigvals (a subset) and type != 1 are "
                                  "not offered; select from the full result instead")
    a = _square("eigh", a)
    if b is None:
        v, w = decomp.eigh(a, lower=lower, symmetrize_input=False)
    else:
        a, b = nla._inexact(a, b)
        low = cholesky(b, lower=lower) if lower else _mH(cholesky(b, lower=False))
        kw = dict(left_side=True, lower=True)
        c = decomp.triangular_solve(low, a if lower else _mH(a), **kw)
        c = decomp._mH(decomp.triangular_solve(low, _mH(c), **kw))
        v, w = decomp.eigh(c, lower=True)
        v = decomp.triangular_solve(low, v, transpose_a=True, conjugate_a=True, **kw)
    return w if eigvals_only else (w, v)


def eigh_tridiagonal(d: Any, e: Any, *, eigvals_only: bool = False, select: str = "a",
                     select_range: Any = None, tol: Any = None, key: Any = None) -> Any:
    """Eigenvalues (and eigenvectors) of the symmetric tridiagonal matrix with diagonal `d`
    and off-diagonal `e`. JAX's `key` seeds its inverse iteration's starting vectors; fnad
    computes the eigenvectors directly, so it needs none.

    >>> eigh_tridiagonal(np.array([2.0, 2.0]), np.array([1.0]), eigvals_only=True)
    array([1., 3.])
    """
    del tol, key
    if select != "a" or select_range is not None:
        raise NotImplementedError("scipy.linalg.eigh_tridiagonal: only select='a' (all "
                                  "eigenvalues) is offered")
    d, e = nla._inexact(d, e)
    n = _shape(d)[-1]
    if _shape(e)[-1] != n - 1:
        raise ShapeError(f"scipy.linalg.eigh_tridiagonal: e must have {n - 1} elements for "
                         f"d of {n}, got shape {_shape(e)}{user_line()}")
    mat = _diag_matrix(d, 0) + _diag_matrix(e, -1) + _diag_matrix(decomp._conj(e), 1)
    v, w = decomp.eigh(mat, lower=True, symmetrize_input=False)
    return w if eigvals_only else (w, v)


def _diag_matrix(v: Any, k: int) -> Any:
    """The (n, n) matrix with `v` (length n - |k|) on diagonal k (batched over v's lead)."""
    n = _shape(v)[-1] + abs(k)
    config = [(0, 0, 0)] * (len(_shape(v)) - 1) + [(0, abs(k), 0)]
    padded = lax.pad(v, np.zeros((), _dtype(v)), config)  # length n
    cols = expand_dims(padded, -2)  # (..., 1, n): entry j at column j
    line = broadcast_to(cols, (*_shape(v)[:-1], n, n))
    mask = np.eye(n, k=k, dtype=bool)
    shifted = line if k <= 0 else _roll_last(line, k)
    return where(mask, shifted, np.zeros((), _dtype(v)))


def _roll_last(x: Any, k: int) -> Any:
    from fnad.numpy._shape import roll
    return roll(x, k, -1)


def schur(a: Any, output: str = "real") -> tuple[Any, Any]:
    """A Schur decomposition a = Z T Z^H with T upper triangular (complex), computed from
    the eigendecomposition (needs diagonalizable `a`). output='real' (quasi-triangular real
    T) is not offered: use output='complex'.

    >>> t, z = schur(np.array([[1.0, 2.0], [0.0, 3.0]]), output="complex")
    >>> bool(np.allclose(z @ t @ z.conj().T, [[1.0, 2.0], [0.0, 3.0]]))
    True
    """
    if output != "complex":
        raise NotImplementedError("scipy.linalg.schur: only output='complex' is offered "
                                  "(the real quasi-triangular form needs the Francis QR "
                                  "algorithm); pass output='complex'")
    return _complex_schur(_square("schur", a))


def _complex_schur(a: Any) -> tuple[Any, Any]:
    w, v = decomp.eig(a, compute_left_eigenvectors=False)
    z, r = decomp.qr(v, full_matrices=False)
    t = matmul(multiply(r, expand_dims(w, -2)), nla.inv(r))
    return decomp._triu(t), z


def rsf2csf(T: Any, Z: Any, check_finite: bool = True) -> tuple[Any, Any]:
    """A complex Schur form (T', Z') of the matrix Z T Z^H from a real one (T, Z):
    T = Q T' Q^H, Z' = Z Q.

    >>> t, z = rsf2csf(np.array([[0.0, 1.0], [-1.0, 0.0]]), np.eye(2))
    >>> bool(np.allclose(np.tril(t, -1), 0))
    True
    """
    del check_finite
    t, q = _complex_schur(_square("rsf2csf", T))
    z = lax.convert_element_type(asarray(Z), _dtype(q))
    return t, matmul(z, q)


def hessenberg(a: Any, *, calc_q: bool = False, overwrite_a: bool = False,
               check_finite: bool = True) -> Any:
    """The upper Hessenberg form H = Q^H a Q by Householder reflections (one per column,
    each differentiable); (H, Q) with `calc_q`.

    >>> h = hessenberg(np.arange(16.0).reshape(4, 4))
    >>> bool(np.allclose(np.tril(h, -2), 0))
    True
    """
    del overwrite_a, check_finite
    h = _square("hessenberg", a)
    n = _shape(h)[-1]
    q = _eye_like(h)
    rows = np.arange(n)
    for k in range(n - 2):
        x = where(rows > k, h[..., :, k], np.zeros((), _dtype(h)))  # below the diagonal
        alpha = nla._abs(x[..., k + 1])
        norm = sqrt(sum(nla._abs(x) ** 2, -1))
        shift = _phase(x[..., k + 1], alpha) * lax.convert_element_type(norm, _dtype(h))
        u = x + where(rows == k + 1, expand_dims(shift, -1), np.zeros((), _dtype(h)))
        unorm = sqrt(sum(nla._abs(u) ** 2, -1, keepdims=True))
        u = u / lax.convert_element_type(where(unorm == 0, 1, unorm), _dtype(h))
        # H <- (I - 2 u u^H) H (I - 2 u u^H), Q <- Q (I - 2 u u^H)
        uc = decomp._conj(u)
        h = h - 2 * einsum("...i,...j,...jk->...ik", u, uc, h)
        h = h - 2 * einsum("...ij,...j,...k->...ik", h, u, uc)
        q = q - 2 * einsum("...ij,...j,...k->...ik", q, u, uc)
    h = where(np.tri(n, n, -2, dtype=bool), np.zeros((), _dtype(h)), h)
    return (h, q) if calc_q else h


def _phase(x: Any, magnitude: Any) -> Any:
    """x / |x| (1 where x is 0), the sign that keeps a Householder vector away from 0."""
    dtype = _dtype(x)
    safe = lax.convert_element_type(where(magnitude == 0, 1, magnitude), dtype)
    return where(magnitude == 0, np.ones((), dtype), x / safe)


def polar(a: Any, side: str = "right", *, method: str = "qdwh", eps: Any = None,
          max_iterations: Any = None) -> tuple[Any, Any]:
    """The polar decomposition a = U P (side 'right') or P U ('left'), U with orthonormal
    columns and P Hermitian positive semi-definite, from the SVD (for every `method`).

    >>> u, p = polar(np.array([[2.0, 0.0], [0.0, -3.0]]))
    >>> p
    array([[2., 0.],
           [0., 3.]])
    """
    del method, eps, max_iterations
    if side not in ("right", "left"):
        raise ArgumentError(f"scipy.linalg.polar: side must be 'right' or 'left', got {side!r}")
    w, s, vh = nla.svd(a, full_matrices=False)
    u = matmul(w, vh)
    sc = lax.convert_element_type(s, _dtype(w))
    if side == "right":
        p = matmul(_mH(vh) * expand_dims(sc, -2), vh)
    else:
        p = matmul(w * expand_dims(sc, -2), _mH(w))
    return u, p


# ------------------------------------------------------------------ solves and functions


def solve(a: Any, b: Any, lower: bool = False, overwrite_a: bool = False,
          overwrite_b: bool = False, debug: bool = False, check_finite: bool = True,
          assume_a: str = "gen") -> Any:
    """Solve a x = b: by LU ('gen', 'sym', 'her') or, for assume_a='pos', by Cholesky of
    the `lower` (or upper) triangle.

    >>> solve(np.array([[4.0, 2.0], [2.0, 5.0]]), np.array([6.0, 7.0]), assume_a="pos")
    array([1., 1.])
    """
    del overwrite_a, overwrite_b, debug, check_finite
    if assume_a not in ("gen", "sym", "her", "pos"):
        raise ArgumentError(f"scipy.linalg.solve: assume_a must be 'gen', 'sym', 'her' or "
                         f"'pos', got {assume_a!r}")
    if assume_a == "pos":
        return cho_solve(cho_factor(a, lower), b)
    return nla.solve(a, b)


def solve_banded(l_and_u: tuple[int, int], ab: Any, b: Any, overwrite_ab: bool = False,
                 overwrite_b: bool = False, check_finite: bool = True) -> Any:
    """SciPy's `solve_banded`: a x = b for the `a` whose diagonals are the rows of `ab`
    (a[i, j] = ab[u + i - j, j], l below and u above the main one). fnad expands the band
    and solves densely (O(n^3)), differentiable in `ab` and `b`.

    >>> solve_banded((1, 1), np.array([[0.0, 1.0], [2.0, 2.0], [1.0, 0.0]]), np.ones(2))
    array([0.33333333, 0.33333333])
    """
    del overwrite_ab, overwrite_b, check_finite
    lower, upper = l_and_u
    ab = asarray(ab)
    shape = _shape(ab)
    if len(shape) != 2 or shape[0] != lower + upper + 1:
        raise ShapeError(f"solve_banded: ab must be ({lower} + {upper} + 1, n) for "
                         f"(l, u) = {(lower, upper)}, got {shape}{user_line()}")
    i, j = np.indices((shape[1], shape[1]))
    row = upper + i - j
    band = (row >= 0) & (row <= lower + upper)
    dense = where(band, ab[np.clip(row, 0, lower + upper), j], np.zeros((), _dtype(ab)))
    return solve(dense, b)


def solve_sylvester(A: Any, B: Any, C: Any, *, method: str = "schur", tol: float = 1e-8
                    ) -> Any:
    """The X with A X + X B = C, from the Kronecker form (I (x) A + B^T (x) I) vec X =
    vec C: exact and differentiable, O((mn)^3), for the small systems this is used on.

    >>> solve_sylvester(np.eye(2), np.eye(2), 2 * np.eye(2))
    array([[1., 0.],
           [0., 1.]])
    """
    del method, tol
    A, B, C = nla._inexact(A, B, C)
    m, n = _shape(C)[-2:]
    if _shape(A)[-2:] != (m, m) or _shape(B)[-2:] != (n, n):
        raise ShapeError(f"scipy.linalg.solve_sylvester: needs A (m, m), B (n, n), C (m, n),"
                         f" got {_shape(A)}, {_shape(B)}, {_shape(C)}{user_line()}")
    eye_m, eye_n = np.eye(m, dtype=_dtype(A)), np.eye(n, dtype=_dtype(A))
    # vec stacks columns: vec(A X) = (I (x) A) vec X, vec(X B) = (B^T (x) I) vec X
    k = reshape(einsum("ij,ab->iajb", eye_n, A) + einsum("ji,ab->iajb", B, eye_m),
                (m * n, m * n))
    x = nla.solve(k, reshape(moveaxis(C, -1, -2), (m * n,)))
    return moveaxis(reshape(x, (n, m)), -1, -2)


# Padé approximant of degree 13 to exp (Higham 2005): numerator coefficients b_0..b_13
_PADE13 = (64764752532480000.0, 32382376266240000.0, 7771770303897600.0,
           1187353796428800.0, 129060195264000.0, 10559470521600.0, 670442572800.0,
           33522128640.0, 1323241920.0, 40840800.0, 960960.0, 16380.0, 182.0, 1.0)
_THETA13 = 5.371920351148152  # the largest 1-norm for which degree 13 is accurate


def expm(A: Any, *, upper_triangular: bool = False, max_squarings: int = 16) -> Any:
    """The matrix exponential by scaling and squaring: A / 2^s has 1-norm at most 5.37,
    its exponential is the degree-13 Padé approximant, squared s times (s <=
    `max_squarings`). Differentiable (the squarings are selected, not branched on) and
    batched.

    >>> expm(np.zeros((2, 2)))
    array([[1., 0.],
           [0., 1.]])
    """
    del upper_triangular
    with np.errstate(over="ignore", invalid="ignore"):  # inf/NaN for huge norms, quietly
        return _expm(_square("expm", A), max_squarings)


def _expm(a: Any, max_squarings: int) -> Any:
    dtype = _dtype(a)
    norm = max(sum(nla._abs(a), -2), -1)
    s = minimum(maximum(ceil(log2(norm / _THETA13)), 0), max_squarings)
    s = where(norm == 0, 0, s)
    scale = lax.convert_element_type(2.0 ** -s, dtype)
    a = a * expand_dims(expand_dims(scale, -1), -1)
    b = [np.asarray(c, dtype) for c in _PADE13]
    eye = _eye_like(a)
    a2 = matmul(a, a)
    a4 = matmul(a2, a2)
    a6 = matmul(a4, a2)
    u = matmul(a, matmul(a6, b[13] * a6 + b[11] * a4 + b[9] * a2)
               + b[7] * a6 + b[5] * a4 + b[3] * a2 + b[1] * eye)
    v = matmul(a6, b[12] * a6 + b[10] * a4 + b[8] * a2) + b[6] * a6 + b[4] * a4 \
        + b[2] * a2 + b[0] * eye
    r = nla.solve(v - u, v + u)
    for i in range(max_squarings):
        r = where(expand_dims(expand_dims(s > i, -1), -1), matmul(r, r), r)
    return r


def expm_frechet(A: Any, E: Any, *, method: Any = None, compute_expm: bool = True) -> Any:
    """The Fréchet derivative L(A, E) of `expm` at A in direction E, from the block identity
    expm([[A, E], [0, A]]) = [[expm(A), L(A, E)], [0, expm(A)]]; (expm(A), L(A, E)) with
    `compute_expm`. Differentiable, batched.

    >>> expm_frechet(np.zeros((2, 2)), np.eye(2), compute_expm=False)
    array([[1., 0.],
           [0., 1.]])
    """
    del method
    A, E = nla._inexact(_square("expm_frechet", A), E)
    if _shape(E) != _shape(A):
        raise ShapeError(f"scipy.linalg.expm_frechet: E must have A's shape {_shape(A)}, got "
                         f"{_shape(E)}{user_line()}")
    n = _shape(A)[-1]
    zero = np.zeros((*_shape(A)[:-2], n, n), _dtype(A))
    big = expm(concatenate([concatenate([A, E], -1), concatenate([zero, A], -1)], -2))
    value, derivative = big[..., :n, :n], big[..., :n, n:]
    return (value, derivative) if compute_expm else derivative


def _eig_function(name: str, a: Any, fn: Callable[[Any], Any]) -> Any:
    """V fn(w) V^-1 from the eigendecomposition (complex)."""
    w, v = decomp.eig(_square(name, a), compute_left_eigenvectors=False)
    return matmul(v * expand_dims(fn(w), -2), nla.inv(v))


def sqrtm(A: Any, blocksize: int = 1) -> Any:
    """The principal square root X (X @ X = A), complex, from the eigendecomposition (needs
    diagonalizable `A`; eigenvalues on the negative real axis take the root +i sqrt|w|).

    >>> sqrtm(np.array([[4.0, 0.0], [0.0, 9.0]])).real
    array([[2., 0.],
           [0., 3.]])
    """
    del blocksize
    return _eig_function("sqrtm", A, _complex_sqrt)


def _complex_sqrt(w: Any) -> Any:
    """The principal square root of complex w, +i sqrt|w| on the whole negative real axis
    (NumPy's gives -i where the imaginary part is -0.0), with the derivative 1 / (2 sqrt w)
    everywhere but 0 (a root built from |w| and Re w has an infinite derivative on the real
    axis, and NaN tangents)."""
    root = sqrt(w)
    below = (decomp._real_part(multiply(w, -1j)) == 0) & \
        (decomp._real_part(multiply(root, -1j)) < 0)
    return where(below, -root, root)


def funm(A: Any, func: Callable[[Any], Any], disp: bool = True) -> Any:
    """f(A) for a function `func` applied elementwise to the (complex) eigenvalues: V f(w)
    V^-1 (needs diagonalizable `A`). Real input gives the real part, as f is then
    expected to map conjugate eigenvalue pairs to conjugates.

    >>> funm(np.diag([1.0, 2.0]), lambda w: w * w)
    array([[1., 0.],
           [0., 4.]])
    """
    del disp
    a = asarray(A)
    out = _eig_function("funm", a, func)
    if _dtype(a).kind != "c":
        return decomp._real_part(out)
    return out


# ------------------------------------------------------------------ special matrices


def block_diag(*arrs: Any) -> Any:
    """The block-diagonal matrix of the arrays (scalars are 1x1, vectors 1xn).

    >>> block_diag(np.ones((1, 2)), 2.0).tolist()
    [[1.0, 1.0, 0.0], [0.0, 0.0, 2.0]]
    """
    if not arrs:
        return np.zeros((1, 0), np.float32)
    mats = [asarray(a) for a in arrs]
    dtype = result_type(*mats)
    mats = [lax.convert_element_type(reshape(m, (1, -1)) if len(_shape(m)) < 2 else m, dtype)
            for m in mats]
    for i, m in enumerate(mats):
        if len(_shape(m)) != 2:
            raise ShapeError(f"scipy.linalg.block_diag: argument {i} has shape {_shape(m)}; "
                             f"blocks are at most 2-d{user_line()}")
    cols = builtins.sum(_shape(m)[1] for m in mats)
    rows, before = [], 0
    for m in mats:
        r, c = _shape(m)
        rows.append(lax.pad(m, np.zeros((), dtype), ((0, 0, 0), (before, cols - before - c, 0))))
        before += c
    return concatenate(rows, 0)


def toeplitz(c: Any, r: Any = None) -> Any:
    """The Toeplitz matrix with first column `c` and first row `r` (default conj(c);
    r[0] is ignored), batched over leading axes.

    >>> toeplitz(np.array([1.0, 2.0, 3.0]), np.array([1.0, 4.0])).tolist()
    [[1.0, 4.0], [2.0, 1.0], [3.0, 2.0]]
    """
    c = asarray(c)
    r = decomp._conj(c) if r is None else asarray(r)
    dtype = result_type(c, r)
    c, r = lax.convert_element_type(c, dtype), lax.convert_element_type(r, dtype)
    m, n = _shape(c)[-1], _shape(r)[-1]
    # values: r reversed (without r[0]) then c; entry (i, j) is values[n - 1 + i - j]
    values = concatenate([r[..., :0:-1], c], -1)
    idx = (n - 1) + np.arange(m)[:, None] - np.arange(n)[None, :]
    return _gather_last(values, idx)


def _gather_last(values: Any, idx: np.ndarray) -> Any:
    """values[..., idx] for a static 2-d index array."""
    flat = take_along_axis(values, broadcast_to(idx.reshape(-1).astype(np.int32),
                                                (*_shape(values)[:-1], idx.size)), -1)
    return reshape(flat, (*_shape(values)[:-1], *idx.shape))


def hankel(c: Any, r: Any = None) -> Any:
    """The Hankel matrix with first column `c` and last row `r` (default zeros; r[0] is
    ignored).

    >>> hankel(np.array([1.0, 2.0, 3.0])).tolist()
    [[1.0, 2.0, 3.0], [2.0, 3.0, 0.0], [3.0, 0.0, 0.0]]
    """
    c = asarray(c)
    r = np.zeros(_shape(c)[-1:], _dtype(c)) if r is None else asarray(r)
    m, n = _shape(c)[-1], _shape(r)[-1]
    values = concatenate([c, r[..., 1:]], -1)
    idx = np.arange(m)[:, None] + np.arange(n)[None, :]
    return _gather_last(values, idx)


def circulant(c: Any) -> Any:
    """The circulant matrix with first column `c` (batched over leading axes).

    >>> circulant(np.array([1.0, 2.0, 3.0])).tolist()
    [[1.0, 3.0, 2.0], [2.0, 1.0, 3.0], [3.0, 2.0, 1.0]]
    """
    c = asarray(c)
    n = _shape(c)[-1]
    idx = (np.arange(n)[:, None] - np.arange(n)[None, :]) % n
    return _gather_last(c, idx)


def companion(a: Any) -> Any:
    """The companion matrix of the polynomial with coefficients `a` (highest first):
    first row -a[1:] / a[0], ones below the diagonal.

    >>> companion(np.array([1.0, -3.0, 2.0])).tolist()
    [[3.0, -2.0], [1.0, 0.0]]
    """
    (a,) = nla._inexact(a)
    n = _shape(a)[-1]
    if n < 2:
        raise ArgumentError(f"scipy.linalg.companion: needs at least 2 coefficients, got {n}")
    first = negative(divide(a[..., 1:], a[..., :1]))
    below = np.eye(n - 2, n - 1, dtype=_dtype(a))
    return concatenate([expand_dims(first, -2),
                        broadcast_to(below, (*_shape(a)[:-1], n - 2, n - 1))], -2)


def fiedler(a: Any) -> Any:
    """The symmetric Fiedler matrix |a[i] - a[j]|.

    >>> fiedler(np.array([1.0, 4.0])).tolist()
    [[0.0, 3.0], [3.0, 0.0]]
    """
    a = asarray(a)
    return absolute(expand_dims(a, -1) - expand_dims(a, -2))


def fiedler_companion(a: Any) -> Any:
    """The Fiedler companion matrix of the polynomial with coefficients `a` (highest
    first): pentadiagonal, with the eigenvalues of `companion(a)`. With c = -a[1:] / a[0],
    even rows i hold c[i] at column max(i - 1, 0), c[i + 1] at i + 1 and a one at i + 2;
    odd rows a one at column max(i - 2, 0).

    >>> fiedler_companion(np.array([1.0, 2.0, 3.0, 4.0])).tolist()
    [[-2.0, -3.0, 1.0], [1.0, 0.0, 0.0], [0.0, -4.0, 0.0]]
    """
    (a,) = nla._inexact(a)
    if len(_shape(a)) != 1 or _shape(a)[0] < 2:
        raise ArgumentError(f"scipy.linalg.fiedler_companion: needs a 1-d array of at least 2 "
                         f"coefficients, got shape {_shape(a)}")
    c = negative(divide(a[1:], a[0]))
    n = _shape(c)[0]
    one, zero = n, n + 1  # indices into `values` below
    idx = np.full((n, n), zero)
    for i in range(n):
        if i % 2:
            idx[i, builtins.max(i - 2, 0)] = one
            continue
        idx[i, builtins.max(i - 1, 0)] = i
        if i + 1 < n:
            idx[i, i + 1] = i + 1
        if i + 2 < n:
            idx[i, i + 2] = one
    values = concatenate([c, np.array([1.0, 0.0], _dtype(c))], -1)
    return _gather_last(values, idx)


def hadamard(n: int, dtype: Any = int) -> np.ndarray:
    """The Sylvester Hadamard matrix of order `n` (a power of 2).

    >>> hadamard(2)
    array([[ 1,  1],
           [ 1, -1]], dtype=int32)
    """
    if n < 1 or n & (n - 1):
        raise ArgumentError(f"scipy.linalg.hadamard: n must be a positive power of 2, got {n}")
    dtype = np.int32 if dtype is int else np.dtype(dtype)
    h = np.ones((1, 1), dtype)
    while h.shape[0] < n:
        h = np.block([[h, h], [h, -h]])
    return h.astype(dtype)


def helmert(n: int, full: bool = False) -> np.ndarray:
    """The Helmert matrix of order `n` (orthogonal with `full`; else without its first
    row), float32.

    >>> helmert(2, full=True).round(3)
    array([[ 0.707,  0.707],
           [ 0.707, -0.707]], dtype=float32)
    """
    h = np.tril(np.ones((n, n)), -1) - np.diag(np.arange(n))
    d = np.arange(n) * np.arange(1, n + 1)
    h[0] = 1
    d[0] = n
    out = (h / np.sqrt(d)[:, None]).astype(np.float32)
    return out if full else out[1:]


def hilbert(n: int) -> np.ndarray:
    """The Hilbert matrix 1 / (i + j + 1), float32.

    >>> hilbert(2)
    array([[1.        , 0.5       ],
           [0.5       , 0.33333334]], dtype=float32)
    """
    i = np.arange(n)
    return (1.0 / (i[:, None] + i[None, :] + 1)).astype(np.float32)


def invhilbert(n: int, exact: bool = False) -> np.ndarray:
    """The inverse of the Hilbert matrix, from its closed form (float32; int64 exact).

    >>> invhilbert(2)
    array([[ 4., -6.],
           [-6., 12.]], dtype=float32)
    """
    out = np.empty((n, n), dtype=object)
    for i in range(n):
        for j in range(n):
            out[i, j] = ((-1) ** (i + j) * (i + j + 1) * math.comb(n + i, n - j - 1)
                         * math.comb(n + j, n - i - 1) * math.comb(i + j, i) ** 2)
    return out.astype(np.int64 if exact else np.float32)


def pascal(n: int, kind: str | None = None, exact: bool = True) -> np.ndarray:
    """The Pascal matrix of binomial coefficients: 'symmetric' (default), 'lower' or
    'upper', float32 as JAX's.

    >>> pascal(3, kind="lower")
    array([[1., 0., 0.],
           [1., 1., 0.],
           [1., 2., 1.]], dtype=float32)
    """
    kind = "symmetric" if kind is None else kind
    if kind not in ("symmetric", "lower", "upper"):
        raise ArgumentError(f"scipy.linalg.pascal: kind must be 'symmetric', 'lower' or 'upper',"
                         f" got {kind!r}")
    i = np.arange(n)
    if kind == "symmetric":
        out = [[math.comb(a + b, a) for b in i] for a in i]
    else:
        out = [[math.comb(a, b) for b in i] for a in i]
    out = np.array(out, dtype=np.float64).reshape(n, n)
    return (out.T if kind == "upper" else out).astype(np.float32)


def invpascal(n: int, kind: str | None = None, exact: bool = True) -> np.ndarray:
    """The inverse of `pascal(n, kind)`, from its closed form (integers, float32).

    >>> invpascal(3, kind="lower")
    array([[ 1.,  0.,  0.],
           [-1.,  1.,  0.],
           [ 1., -2.,  1.]], dtype=float32)
    """
    kind = "symmetric" if kind is None else kind
    if kind not in ("symmetric", "lower", "upper"):
        raise ArgumentError(f"scipy.linalg.invpascal: kind must be 'symmetric', 'lower' or "
                         f"'upper', got {kind!r}")
    low = np.array([[(-1) ** (a - b) * math.comb(a, b) for b in range(n)]
                    for a in range(n)], dtype=np.float64).reshape(n, n)
    if kind == "lower":
        out = low
    elif kind == "upper":
        out = low.T
    else:  # pascal = L L^T, so its inverse is L^-T L^-1
        out = low.T @ low
    return out.astype(np.float32) + np.float32(0)  # no negative zeros


def leslie(f: Any, s: Any) -> Any:
    """The Leslie matrix: fecundities `f` in the first row, survival rates `s` on the
    subdiagonal.

    >>> leslie(np.array([1.0, 2.0]), np.array([0.5])).tolist()
    [[1.0, 2.0], [0.5, 0.0]]
    """
    f, s = nla._inexact(f, s)
    n = _shape(f)[-1]
    if _shape(s)[-1] != n - 1 or n < 2:
        raise ArgumentError(f"scipy.linalg.leslie: needs f of length n >= 2 and s of n - 1, got"
                         f" {_shape(f)} and {_shape(s)}")
    below = _diag_matrix(s, 0)
    below = concatenate([below, np.zeros((*_shape(s)[:-1], n - 1, 1), _dtype(s))], -1)
    return concatenate([expand_dims(f, -2), below], -2)


def convolution_matrix(a: Any, n: int, mode: str = "full") -> Any:
    """The matrix A with A @ v = convolve(a, v, mode) for vectors v of length `n`.

    >>> convolution_matrix(np.array([1.0, 2.0]), 2).tolist()
    [[1.0, 0.0], [2.0, 1.0], [0.0, 2.0]]
    """
    a = asarray(a)
    m = _shape(a)[-1]
    if n < 1 or m < 1:
        raise ArgumentError(f"scipy.linalg.convolution_matrix: needs n >= 1 and a nonempty, got "
                         f"n={n} and shape {_shape(a)}")
    if mode not in ("full", "same", "valid"):
        raise ArgumentError(f"scipy.linalg.convolution_matrix: mode must be 'full', 'same' or "
                         f"'valid', got {mode!r}")
    zeros = np.zeros((*_shape(a)[:-1], n - 1), _dtype(a))
    col = concatenate([a, zeros], -1)
    row = concatenate([a[..., :1], zeros], -1)
    full = toeplitz(col, row)
    if mode == "full":
        return full
    trim = builtins.min(m, n) - 1
    if mode == "same":
        start = trim // 2
        return full[..., start:start + builtins.max(m, n), :]
    return full[..., trim:builtins.max(m, n), :]


def dft(n: int, scale: str | None = None, *, dtype: Any = None) -> np.ndarray:
    """The discrete Fourier transform matrix (complex64, or the complex `dtype`):
    dft(n) @ x = fft(x); scaled by 1/n ('n') or 1/sqrt(n) ('sqrtn').

    >>> dft(2).real
    array([[ 1.,  1.],
           [ 1., -1.]], dtype=float32)
    """
    if scale not in (None, "n", "sqrtn"):
        raise ArgumentError(f"scipy.linalg.dft: scale must be None, 'n' or 'sqrtn', got "
                         f"{scale!r}")
    try:
        complex_dtype = np.dtype(np.complex64 if dtype is None else dtype)
    except TypeError:
        complex_dtype = None
    if complex_dtype is None or complex_dtype.kind != "c":
        raise DTypeError(f"scipy.linalg.dft: dtype must be a complex dtype, got {dtype!r}")
    k = np.arange(n)
    m = np.exp(-2j * np.pi * np.outer(k, k) / n)
    if scale == "n":
        m = m / n
    elif scale == "sqrtn":
        m = m / np.sqrt(n)
    return m.astype(complex_dtype)


__all__ = ["block_diag", "cho_factor", "cho_solve", "cholesky", "circulant", "companion",
           "convolution_matrix", "det", "dft", "eigh", "eigh_tridiagonal", "expm",
           "expm_frechet", "fiedler", "fiedler_companion", "funm", "hadamard", "hankel",
           "helmert", "hessenberg", "hilbert", "inv", "invhilbert", "invpascal", "leslie",
           "lu", "lu_factor", "lu_solve", "pascal", "polar", "qr", "qr_multiply", "rsf2csf",
           "schur", "solve", "solve_banded", "solve_sylvester", "solve_triangular", "sqrtm", "svd",
           "toeplitz"]
