"""`fnad.numpy.linalg`: NumPy's linear algebra on the decomposition primitives of
`fnad.lax.linalg_decomp` (so every function works on arrays and tracers, batched over
leading axes, and differentiates: solve, inv, det and slogdet through LU).

Integer inputs compute in float64 and other dtypes are kept, as NumPy does.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from fnad import lax
from fnad.core.errors import ArgumentError, ArgumentTypeError, ShapeError, user_line
from fnad.core.ir import get_aval
from fnad.lax import linalg_decomp as decomp
from fnad.lax.custom import custom_jvp
from fnad.numpy._core import (
    asarray,
    broadcast_shapes,
    broadcast_to,
    normalize_axes,
    normalize_axis,
    result_type,
)
from fnad.numpy._products import (
    diagonal as _diagonal,
    matmul,
    tensordot as _tensordot,
    trace as _trace,
    vecdot as _vecdot,
)
from fnad.numpy._reductions import any, cumprod, max, min, prod, sum
from fnad.numpy._shape import concatenate, flip, matrix_transpose, moveaxis, reshape
from fnad.numpy._sorting import argsort
from fnad.numpy._ufuncs import (
    absolute,
    add,
    divide,
    isnan,
    log,
    logical_and,
    logical_not,
    multiply,
    not_equal,
    power,
    sign,
    sqrt,
    where,
)


class EigResult(NamedTuple):
    eigenvalues: Any
    eigenvectors: Any


class EighResult(NamedTuple):
    eigenvalues: Any
    eigenvectors: Any


class QRResult(NamedTuple):
    Q: Any
    R: Any


class SlogdetResult(NamedTuple):
    sign: Any
    logabsdet: Any


class SVDResult(NamedTuple):
    U: Any
    S: Any
    Vh: Any


def _shape(x: Any) -> tuple[int, ...]:
    return get_aval(x).shape


def _inexact(*xs: Any) -> list[Any]:
    """The operands as one float or complex dtype (integers and bools: float64)."""
    xs = [asarray(x) for x in xs]
    dtype = result_type(*xs, 1.0)
    return [lax.convert_element_type(x, dtype) for x in xs]


def _matrices(name: str, x: Any, square: bool = True) -> Any:
    (x,) = _inexact(x)
    s = _shape(x)
    if len(s) < 2 or (square and s[-1] != s[-2]):
        what = "square matrices (..., n, n)" if square else "matrices (..., m, n)"
        name = name if "." in name else f"linalg.{name}"
        raise ShapeError(f"{name}: needs {what}, got shape {s}{user_line()}")
    return x


def _abs(x: Any) -> Any:
    """|x|, real, for real and complex x."""
    if get_aval(x).dtype.kind != "c":
        return absolute(x)
    re = decomp._real_part(x)
    im = decomp._real_part(multiply(x, -1j))
    return sqrt(add(multiply(re, re), multiply(im, im)))


def _eye_like(x: Any) -> Any:
    s = _shape(x)
    return broadcast_to(np.eye(s[-1], dtype=get_aval(x).dtype), s)


# ------------------------------------------------------------------ decompositions


def cholesky(a: Any, *, upper: bool = False, symmetrize_input: bool = True) -> Any:
    """The Cholesky factor of Hermitian positive-definite `a`: lower L with a = L L^H (or
    upper U = L^H with a = U^H U); NaNs where `a` is not positive definite (as in JAX).

    >>> cholesky(np.array([[4.0, 2.0], [2.0, 5.0]]))
    array([[2., 0.],
           [1., 2.]])
    """
    low = decomp.cholesky(_matrices("cholesky", a), symmetrize_input=symmetrize_input)
    return decomp._mH(low) if upper else low


def qr(a: Any, mode: str = "reduced") -> Any:
    """QR decomposition: `QRResult(Q, R)` for mode 'reduced' or 'complete', R alone for 'r'.

    >>> q, r = qr(np.array([[3.0, 1.0], [4.0, 2.0]]))
    >>> bool(np.allclose(q @ r, [[3.0, 1.0], [4.0, 2.0]]))
    True
    """
    if mode not in ("reduced", "complete", "r"):
        raise ArgumentError(f"linalg.qr: mode must be 'reduced', 'complete' or 'r', got {mode!r} "
                         "('raw' is LAPACK's packed form, which fnad does not expose)")
    q, r = decomp.qr(_matrices("qr", a, square=False), full_matrices=mode == "complete")
    return r if mode == "r" else QRResult(q, r)


def eigh(a: Any, UPLO: str | None = None, symmetrize_input: bool = True) -> EighResult:
    """Eigenvalues (ascending) and eigenvectors of Hermitian `a`. With `symmetrize_input`
    (JAX's default) `a` is first made Hermitian; otherwise only the `UPLO` triangle is read.

    >>> eigh(np.array([[2.0, 1.0], [1.0, 2.0]])).eigenvalues
    array([1., 3.])
    """
    uplo = "L" if UPLO is None else UPLO
    if uplo not in ("L", "U"):
        raise ArgumentError(f"linalg.eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
    v, w = decomp.eigh(_matrices("eigh", a), lower=uplo == "L",
                       symmetrize_input=symmetrize_input)
    return EighResult(w, v)


def eigvalsh(a: Any, UPLO: str | None = "L", *, symmetrize_input: bool = True) -> Any:
    """The eigenvalues (ascending) of Hermitian `a`.

    >>> eigvalsh(np.array([[2.0, 1.0], [1.0, 2.0]]))
    array([1., 3.])
    """
    return eigh(a, UPLO, symmetrize_input).eigenvalues


def eig(a: Any) -> EigResult:
    """Eigenvalues and right eigenvectors (unit columns) of a general square matrix, always
    complex (NumPy returns real arrays when every eigenvalue is real; JAX, complex).
    Differentiable in forward mode.

    >>> w = eig(np.array([[2.0, 0.0], [0.0, 3.0]])).eigenvalues
    >>> w
    array([2.+0.j, 3.+0.j])
    """
    w, v = decomp.eig(_matrices("eig", a), compute_left_eigenvectors=False)
    return EigResult(w, v)


def eigvals(a: Any) -> Any:
    """The (complex) eigenvalues of a general square matrix.

    >>> eigvals(np.array([[0.0, 1.0], [1.0, 0.0]]))
    array([ 1.+0.j, -1.+0.j])
    """
    return eig(a).eigenvalues


def svd(a: Any, full_matrices: bool = True, compute_uv: bool = True, hermitian: bool = False,
        subset_by_index: tuple[int, int] | None = None) -> Any:
    """Singular value decomposition a = U diag(S) Vh: `SVDResult(U, S, Vh)`, or S alone when
    `compute_uv` is False. `hermitian` computes it from `eigh`. `subset_by_index` may only
    name the whole range (0, min(m, n)), as in JAX off TPUs.

    >>> svd(np.array([[3.0, 0.0], [0.0, -4.0]]), compute_uv=False)
    array([4., 3.])
    """
    a = _matrices("svd", a, square=hermitian)
    if subset_by_index is not None and tuple(subset_by_index) != (0, min(_shape(a)[-2:])):
        raise ArgumentError(f"svd: subset_by_index={subset_by_index} is not supported (JAX "
                            f"computes a subset on TPUs only); slice the full result")
    if hermitian:
        w, v = eigh(a)
        s = _abs(w)
        order = argsort(-s, axis=-1)
        s = _take_last(s, order)
        u = _take_last(v, _rows_index(order, _shape(v)))
        if not compute_uv:
            return s
        signs = lax.convert_element_type(_take_last(sign(w), order), get_aval(a).dtype)
        vh = decomp._mH(multiply(u, signs[..., None, :]))
        return SVDResult(u, s, vh)
    if not compute_uv:
        return decomp.svd(a, compute_uv=False)
    u, s, vh = decomp.svd(a, full_matrices=full_matrices)
    return SVDResult(u, s, vh)


def _rows_index(order: Any, shape: tuple[int, ...]) -> Any:
    return broadcast_to(order[..., None, :], shape)


def _take_last(x: Any, idx: Any) -> Any:
    from fnad.numpy._indexing import take_along_axis
    return take_along_axis(x, idx, -1, mode="promise_in_bounds")


def svdvals(x: Any, /) -> Any:
    """The singular values, descending.

    >>> svdvals(np.array([[0.0, 2.0], [1.0, 0.0]]))
    array([2., 1.])
    """
    return svd(x, compute_uv=False)


# ------------------------------------------------------------------ solves and inverses


def solve(a: Any, b: Any) -> Any:
    """The solution x of a @ x = b (LAPACK's LU with partial pivoting, one call for a
    stack): `b` is a vector (n,) or a stack of matrices (..., n, k), batch axes broadcast;
    inf/NaN where `a` is singular, as in JAX. Differentiable in `a` and `b`.

    >>> solve(np.array([[2.0, 0.0], [1.0, 1.0]]), np.array([2.0, 3.0]))
    array([1., 2.])
    """
    a, b, vector = rhs_stack("linalg.solve", a, b)
    x = decomp.solve(a, b)
    return x[..., 0] if vector else x


def rhs_stack(name: str, a: Any, b: Any) -> tuple[Any, Any, bool]:
    """Square matrices `a` (..., n, n) and a right-hand side `b`, a vector (n,) or
    matrices (..., n, k), as one dtype and one broadcast batch shape; `b` as (..., n, k)
    and whether it was a vector (the result then drops its last axis)."""
    a = _matrices(name, a)
    a, b = _inexact(a, b)
    n = _shape(a)[-1]
    vector = len(_shape(b)) == 1
    if vector:
        b = reshape(b, (_shape(b)[0], 1))
    if len(_shape(b)) < 2 or _shape(b)[-2] != n:
        raise ShapeError(f"{name}: b must be a vector ({n},) or matrices (..., {n}, k) "
                         f"for a of shape {_shape(a)}, got shape "
                         f"{(_shape(b)[0],) if vector else _shape(b)}{user_line()}")
    batch = broadcast_shapes(_shape(a)[:-2], _shape(b)[:-2])
    return (broadcast_to(a, (*batch, n, n)), broadcast_to(b, (*batch, n, _shape(b)[-1])),
            vector)


def inv(a: Any) -> Any:
    """The inverse of square `a` (stacks too); inf/NaN where `a` is singular.

    >>> inv(np.array([[2.0, 0.0], [0.0, 4.0]]))
    array([[0.5 , 0.  ],
           [0.  , 0.25]])
    """
    a = _matrices("inv", a)
    return decomp.solve(a, _eye_like(a))


def _parity_sign(pivots: Any, dtype: Any) -> Any:
    k = _shape(pivots)[-1]
    swaps = sum(not_equal(pivots, np.arange(k, dtype=np.int32)), -1)
    return lax.convert_element_type(1 - 2 * (swaps % 2), dtype)


def det(a: Any) -> Any:
    """The determinant, from LU: the product of U's diagonal times the sign of the row
    permutation. Its derivative is trace(adj(a) da), with the adjugate from the SVD, so it
    stays exact at singular matrices (as JAX's).

    >>> det(np.array([[1.0, 2.0], [3.0, 4.0]]))
    np.float64(-2.0)
    """
    return _det(_matrices("det", a))


@custom_jvp
def _det(a: Any) -> Any:
    packed, pivots, _ = decomp.lu(a)
    with np.errstate(over="ignore", invalid="ignore"):  # inf, as LAPACK's det gives
        return multiply(prod(_diagonal(packed, 0, -2, -1), -1),
                        _parity_sign(pivots, get_aval(a).dtype))


@_det.defjvp
def _det_jvp(primals: tuple, tangents: tuple) -> tuple[Any, Any]:
    (a,), (t,) = primals, tangents
    return _det(a), sum(multiply(matrix_transpose(_adjugate(a)), t), (-2, -1))


def _adjugate(a: Any) -> Any:
    """adj(a) = det(a) a^-1, defined for every matrix: with a = U S V^H it is
    det(U) det(V^H) V adj(S) U^H, adj(S) holding the products of the other singular
    values (no division, so exact at rank n - 1 and zero below)."""
    u, s, vh = decomp.svd(a, full_matrices=False)
    ones = np.ones((*_shape(s)[:-1], 1), get_aval(s).dtype)
    before = concatenate([ones, cumprod(s[..., :-1], -1)], -1)
    after = flip(concatenate([ones, cumprod(flip(s, -1)[..., :-1], -1)], -1), -1)
    others = lax.convert_element_type(multiply(before, after), get_aval(a).dtype)
    phase = multiply(_det(u), _det(vh))[..., None, None]
    return multiply(phase, matmul(multiply(decomp._mH(vh), others[..., None, :]),
                                  decomp._mH(u)))


def slogdet(a: Any, *, method: str | None = None) -> SlogdetResult:
    """The sign (a unit complex number for complex input) and log |det a|, from LU:
    finite where `det` would overflow. sign 0 and logabsdet -inf for a singular matrix.
    JAX's method='qr' is accepted: the values (and derivatives) are the same function's,
    so fnad computes them by LU too.

    >>> slogdet(np.array([[1.0, 2.0], [3.0, 4.0]])).sign
    array(-1.)
    """
    if method not in (None, "lu", "qr"):
        raise ArgumentError(f"linalg.slogdet: method must be None, 'lu' or 'qr', got "
                            f"{method!r}")
    a = _matrices("slogdet", a)
    dtype = get_aval(a).dtype
    packed, pivots, _ = decomp.lu(a)
    d = _diagonal(packed, 0, -2, -1)
    mag = _abs(d)
    logabsdet = sum(log(mag), -1)
    unit = divide(d, lax.convert_element_type(where(mag == 0, 1, mag), dtype))
    s = multiply(prod(unit, -1), _parity_sign(pivots, dtype))
    singular = any(mag == 0, -1)
    return SlogdetResult(where(singular, np.zeros((), dtype), s), logabsdet)


def lstsq(a: Any, b: Any, rcond: float | None = None, *, numpy_resid: bool = False
          ) -> tuple[Any, Any, Any, Any]:
    """Least squares through the SVD: (x, resid, rank, s), JAX's form: `resid` is the sum
    of squared residuals per column always (shape (1,) for a vector `b`; NumPy's empty array for rank-deficient or
    underdetermined systems is given by `numpy_resid=True` on concrete inputs); singular
    values below `rcond * s.max()` (default eps * max(m, n)) count as zero.

    >>> lstsq(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), np.array([1.0, 1.0, 2.0]))[0]
    array([1., 1.])
    """
    a = _matrices("lstsq", a, square=False)
    a, b = _inexact(a, b)
    if len(_shape(a)) != 2 or len(_shape(b)) not in (1, 2) or _shape(b)[0] != _shape(a)[0]:
        raise ShapeError(f"linalg.lstsq: needs a (m, n) and b (m,) or (m, k), got shapes "
                         f"{_shape(a)} and {_shape(b)}{user_line()}")
    m, n = _shape(a)
    vector = len(_shape(b)) == 1
    b2 = reshape(b, (m, 1)) if vector else b
    u, s, vh = svd(a, full_matrices=False)
    eps = np.finfo(get_aval(s).dtype).eps
    cutoff = (eps * builtins.max(m, n) if rcond is None or rcond < 0 else rcond) * max(s)
    keep = s > cutoff
    s_inv = where(keep, 1 / where(keep, s, 1), 0)
    coef = multiply(matmul(decomp._mH(u), b2), lax.convert_element_type(
        s_inv, get_aval(a).dtype)[:, None])
    x = matmul(decomp._mH(vh), coef)
    rank = sum(keep, dtype=np.int32)  # int32, as NumPy's and JAX's
    resid = sum(_abs(b2 - matmul(a, x)) ** 2, 0)  # shape (1,) for a vector b, as theirs
    if vector:
        x = x[:, 0]
    if numpy_resid:
        full = builtins.bool(np.asarray(rank) == n) and m > n
        resid = resid if full else np.zeros((0,), get_aval(s).dtype)
    return x, resid, rank, s


def pinv(a: Any, rtol: Any = None, hermitian: bool = False, *, rcond: Any = None) -> Any:
    """The Moore-Penrose pseudo-inverse through the SVD; singular values below
    `rtol * s.max()` (default 10 * max(m, n) * eps, as JAX) are dropped.

    >>> pinv(np.array([[2.0, 0.0], [0.0, 0.0]]))
    array([[0.5, 0. ],
           [0. , 0. ]])
    """
    a = _matrices("pinv", a, square=False)
    if rcond is not None:
        rtol = rcond
    m, n = _shape(a)[-2:]
    u, s, vh = svd(a, full_matrices=False, hermitian=hermitian)
    if rtol is None:
        rtol = 10 * builtins.max(m, n) * np.finfo(get_aval(s).dtype).eps
    cutoff = multiply(asarray(rtol, get_aval(s).dtype)[..., None], max(s, -1, keepdims=True))
    keep = s > cutoff
    s_inv = lax.convert_element_type(where(keep, 1 / where(keep, s, 1), 0), get_aval(a).dtype)
    return matmul(multiply(decomp._mH(vh), s_inv[..., None, :]), decomp._mH(u))


def matrix_rank(M: Any, rtol: Any = None, *, hermitian: bool = False, tol: Any = None
                ) -> Any:
    """The number of singular values above `tol` (absolute), or `rtol * s.max()` (default
    rtol: max(m, n) * eps, as NumPy); for a vector, whether any element is nonzero. With
    `hermitian`, the singular values are the eigenvalues' magnitudes (`eigvalsh`).

    >>> matrix_rank(np.array([[1.0, 2.0], [2.0, 4.0]]))
    array(1)
    """
    (M,) = _inexact(M)
    if len(_shape(M)) < 2:
        return sum(any(not_equal(M, 0)))
    s = _abs(eigvalsh(M)) if hermitian else svdvals(M)
    if tol is None:
        if rtol is None:
            rtol = builtins.max(_shape(M)[-2:]) * np.finfo(get_aval(s).dtype).eps
        tol = multiply(asarray(rtol, get_aval(s).dtype)[..., None], max(s, -1, keepdims=True))
    else:
        tol = asarray(tol, get_aval(s).dtype)[..., None]
    return sum(s > tol, -1)


def cond(x: Any, p: Any = None) -> Any:
    """The condition number in the `p` norm (None/2: s_max / s_min; -2: its inverse; else
    norm(x, p) * norm(inv(x), p)); inf for a singular matrix, as in NumPy.

    >>> cond(np.array([[1.0, 0.0], [0.0, 4.0]]))
    array(4.)
    """
    x = _matrices("cond", x, square=p not in (None, 2, -2))
    if p in (None, 2, -2):
        s = svdvals(x)
        big, small = s[..., 0], s[..., -1]
        r = divide(big, small) if p != -2 else divide(small, big)
    else:
        r = multiply(norm(x, p, (-2, -1)), norm(inv(x), p, (-2, -1)))
    return where(logical_and(isnan(r), logical_not(any(isnan(x), (-2, -1)))), np.inf, r)


def matrix_power(a: Any, n: int) -> Any:
    """`a` multiplied by itself `n` times by repeated squaring (an inverse first for
    negative `n`; the identity for 0).

    >>> matrix_power(np.array([[1.0, 1.0], [0.0, 1.0]]), 3)
    array([[1., 3.],
           [0., 1.]])
    """
    if int(n) != n:
        raise ArgumentTypeError(f"linalg.matrix_power: n must be an integer, got {n!r}")
    a = asarray(a)
    s = _shape(a)
    if len(s) < 2 or s[-1] != s[-2]:
        raise ShapeError(f"linalg.matrix_power: needs square matrices, got shape {s}"
                         f"{user_line()}")
    n = int(n)
    if n == 0:
        return _eye_like(a)
    if n < 0:
        a, n = inv(a), -n
    out = None
    while n:
        if n & 1:
            out = a if out is None else matmul(out, a)
        n >>= 1
        if n:
            a = matmul(a, a)
    return out


def multi_dot(arrays: Sequence[Any], *, precision: Any = None) -> Any:
    """The product of several matrices in the cheapest order (by NumPy's dynamic
    programming over the chain); the first may be 1-d (a row), the last 1-d (a column).

    >>> multi_dot([np.ones(2), np.ones((2, 3)), np.ones(3)])
    np.float64(6.0)
    """
    del precision
    arrays = [asarray(x) for x in arrays]
    if len(arrays) < 2:
        raise ArgumentError(f"linalg.multi_dot: needs at least two arrays, got {len(arrays)}")
    first, last = len(_shape(arrays[0])) == 1, len(_shape(arrays[-1])) == 1
    if first:
        arrays[0] = reshape(arrays[0], (1, -1))
    if last:
        arrays[-1] = reshape(arrays[-1], (-1, 1))
    for i, x in enumerate(arrays):
        if len(_shape(x)) != 2:
            raise ShapeError(f"linalg.multi_dot: array {i} must be 2-d (1-d first or last), "
                             f"got shape {_shape(x)}{user_line()}")
    out = _chain(arrays, _chain_order([_shape(x) for x in arrays]), 0, len(arrays) - 1)
    if first and last:
        return out[0, 0]
    return out[0] if first else out[:, 0] if last else out


def _chain_order(shapes: Sequence[tuple[int, ...]]) -> list[list[int]]:
    """split[i][j]: where the cheapest product of matrices i..j splits."""
    dims = [shapes[0][0]] + [s[1] for s in shapes]
    n = len(shapes)
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j], split[i][j] = builtins.min(
                (cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1], k)
                for k in range(i, j))
    return split


def _chain(arrays: Sequence[Any], split: list[list[int]], i: int, j: int) -> Any:
    if i == j:
        return arrays[i]
    k = split[i][j]
    return matmul(_chain(arrays, split, i, k), _chain(arrays, split, k + 1, j))


def tensorinv(a: Any, ind: int = 2) -> Any:
    """The inverse of `a` as a map from its last axes to its first `ind`: tensordot of
    the result with `a` over `ind` axes is the identity.

    >>> tensorinv(np.eye(4).reshape(4, 2, 2), ind=1).shape
    (2, 2, 4)
    """
    a = asarray(a)
    s = _shape(a)
    if ind <= 0:
        raise ArgumentError(f"linalg.tensorinv: ind must be positive, got {ind}")
    rows, cols = math.prod(s[:ind]), math.prod(s[ind:])
    if rows != cols:
        raise ShapeError(f"linalg.tensorinv: the first {ind} axes of shape {s} hold {rows} "
                         f"elements and the others {cols}; they must be equal{user_line()}")
    return reshape(inv(reshape(a, (rows, cols))), (*s[ind:], *s[:ind]))


def tensorsolve(a: Any, b: Any, axes: Sequence[int] | None = None) -> Any:
    """The x with tensordot(a, x, x.ndim) = b; `axes` of `a` move to the end first.

    >>> tensorsolve(np.eye(4).reshape(2, 2, 4), np.ones((2, 2))).shape
    (4,)
    """
    a, b = asarray(a), asarray(b)
    if axes is not None:
        nd = len(_shape(a))
        axes = normalize_axes(axes, nd)
        a = moveaxis(a, axes, tuple(range(nd - len(axes), nd)))
    bs = _shape(b)
    xs = _shape(a)[len(bs):]
    rows, cols = math.prod(bs), math.prod(xs)
    if _shape(a)[:len(bs)] != bs or rows != cols:
        raise ShapeError(f"linalg.tensorsolve: a of shape {_shape(a)} must start with b's "
                         f"shape {bs} and have as many remaining elements{user_line()}")
    return reshape(solve(reshape(a, (rows, cols)), reshape(b, (rows,))), xs)


# ------------------------------------------------------------------ products


def outer(x1: Any, x2: Any, /) -> Any:
    """The outer product of two vectors (1-d only, as the array API says).

    >>> outer(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    array([[3., 4.],
           [6., 8.]])
    """
    x1, x2 = asarray(x1), asarray(x2)
    if len(_shape(x1)) != 1 or len(_shape(x2)) != 1:
        raise ShapeError(f"linalg.outer: takes 1-d vectors, got shapes {_shape(x1)} and "
                         f"{_shape(x2)}; use fnad.numpy.outer to flatten{user_line()}")
    return multiply(x1[:, None], x2[None, :])


def cross(x1: Any, x2: Any, /, *, axis: int = -1) -> Any:
    """The cross product of 3-vectors along `axis` (other axes broadcast).

    >>> cross(np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0]))
    array([0., 0., 1.])
    """
    x1, x2 = asarray(x1), asarray(x2)
    n1, n2 = len(_shape(x1)), len(_shape(x2))
    if n1 == 0 or n2 == 0 or _shape(x1)[axis] != 3 or _shape(x2)[axis] != 3:
        raise ShapeError(f"linalg.cross: both operands need size 3 along axis {axis}, got "
                         f"shapes {_shape(x1)} and {_shape(x2)}{user_line()}")
    a = moveaxis(x1, normalize_axis(axis, n1), -1)
    b = moveaxis(x2, normalize_axis(axis, n2), -1)
    comps = [a[..., (i + 1) % 3] * b[..., (i + 2) % 3] - a[..., (i + 2) % 3] * b[..., (i + 1) % 3]
             for i in range(3)]
    from fnad.numpy._shape import stack
    out = stack(comps, -1)
    return moveaxis(out, -1, axis)


def vecdot(x1: Any, x2: Any, /, *, axis: int = -1, precision: Any = None,
           preferred_element_type: Any = None) -> Any:
    """sum(conj(x1) * x2) along `axis`, other axes broadcast (`precision` and
    `preferred_element_type` as in `fnad.numpy.vecdot`).

    >>> vecdot(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    array(11.)
    """
    return _vecdot(x1, x2, axis=axis, precision=precision,
                   preferred_element_type=preferred_element_type)


def tensordot(x1: Any, x2: Any, /, *, axes: int | Sequence[Any] = 2, precision: Any = None,
              preferred_element_type: Any = None, out_sharding: Any = None) -> Any:
    """A sum product over `axes` (see `fnad.numpy.tensordot`).

    >>> tensordot(np.ones((2, 3)), np.ones((3, 4)), axes=1).shape
    (2, 4)
    """
    return _tensordot(x1, x2, axes, precision=precision,
                      preferred_element_type=preferred_element_type, out_sharding=out_sharding)


def diagonal(x: Any, /, *, offset: int = 0) -> Any:
    """The `offset` diagonal of the last two axes.

    >>> diagonal(np.arange(4.0).reshape(2, 2))
    array([0., 3.])
    """
    return _diagonal(x, offset, -2, -1)


def trace(x: Any, /, *, offset: int = 0, dtype: Any = None) -> Any:
    """The sum of the `offset` diagonal of the last two axes.

    >>> trace(np.arange(4.0).reshape(2, 2))
    array(3.)
    """
    return _trace(x, offset, -2, -1, dtype)


# ------------------------------------------------------------------ norms


def _vector_norm(x: Any, ord: Any, axis: tuple[int, ...], keepdims: bool) -> Any:
    a = _abs(x)
    if ord is None or ord == 2:
        return sqrt(sum(multiply(a, a), axis, keepdims=keepdims))
    if ord == np.inf:
        return max(a, axis, keepdims=keepdims)
    if ord == -np.inf:
        return min(a, axis, keepdims=keepdims)
    if ord == 0:
        nonzero = lax.convert_element_type(lax.ne(a, 0), get_aval(a).dtype)
        return sum(nonzero, axis, keepdims=keepdims)
    if ord == 1:
        return sum(a, axis, keepdims=keepdims)
    p = float(ord)
    return power(sum(power(a, p), axis, keepdims=keepdims), 1.0 / p)


def _matrix_norm(x: Any, ord: Any, axis: tuple[int, int], keepdims: bool) -> Any:
    if ord is None or ord == "fro":
        a = _abs(x)
        return sqrt(sum(multiply(a, a), axis, keepdims=keepdims))
    if ord in (2, -2, "nuc"):
        s = svdvals(moveaxis(x, axis, (-2, -1)))
        out = max(s, -1) if ord == 2 else min(s, -1) if ord == -2 else sum(s, -1)
        if keepdims:
            for ax in sorted(axis):
                out = lax.expand_dims(out, (ax,))
        return out
    if ord not in (1, -1, np.inf, -np.inf):
        raise ArgumentError(f"linalg.norm: invalid matrix norm ord={ord!r}; use None, 'fro', "
                         "'nuc', 1, -1, 2, -2, inf or -inf")
    row, col = axis
    inner, outer_ = (row, col) if ord in (1, -1) else (col, row)
    sums = sum(_abs(x), inner, keepdims=True)
    out = (max if ord in (1, np.inf) else min)(sums, outer_, keepdims=True)
    return out if keepdims else lax.reshape(
        out, tuple(d for i, d in enumerate(get_aval(out).shape) if i not in axis))


def norm(x: Any, ord: Any = None, axis: int | Sequence[int] | None = None,
         keepdims: bool = False) -> Any:
    """A vector norm (ord None/2, 1, inf, -inf, 0 or any p) over one axis, or a matrix
    norm ('fro'/None, 'nuc', 1, -1, 2, -2, inf, -inf) over two; with `axis=None` and
    `ord=None`, the 2-norm of the flattened array, as in NumPy. Complex input gives real
    norms; integer input gives float64, as in NumPy.

    >>> norm(np.array([3.0, 4.0]))
    np.float64(5.0)
    """
    (x,) = _inexact(x)
    nd = get_aval(x).ndim
    if axis is None:
        if ord is None:
            return _vector_norm(x, None, tuple(range(nd)), keepdims)
        if nd not in (1, 2):
            raise ArgumentError(f"norm with ord={ord!r} and axis=None needs a 1-d or 2-d array, "
                             f"got {nd}-d")
        axis = tuple(range(nd))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    if len(axes) == 1:
        return _vector_norm(x, ord, normalize_axes(axes, nd), keepdims)
    if len(axes) == 2:
        row, col = (normalize_axis(a, nd) for a in axes)
        return _matrix_norm(x, ord, (row, col), keepdims)
    raise ArgumentError(f"norm takes one axis (vector) or two (matrix), got {axis}")


def vector_norm(x: Any, /, *, axis: int | Sequence[int] | None = None, keepdims: bool = False,
                ord: Any = 2) -> Any:
    """A vector norm over `axis` (all axes when None, several axes as one vector).

    >>> vector_norm(np.array([[3.0], [4.0]]))
    np.float64(5.0)
    """
    (x,) = _inexact(x)
    nd = get_aval(x).ndim
    axes = normalize_axes(tuple(range(nd)) if axis is None else axis, nd)
    return _vector_norm(x, ord, axes, keepdims)


def matrix_norm(x: Any, /, *, keepdims: bool = False, ord: Any = "fro") -> Any:
    """A matrix norm of the last two axes.

    >>> matrix_norm(np.array([[3.0, 0.0], [0.0, 4.0]]), ord=2)
    array(4.)
    """
    (x,) = _inexact(x)
    nd = get_aval(x).ndim
    if nd < 2:
        raise ShapeError(f"linalg.matrix_norm: needs (..., m, n), got shape {_shape(x)}"
                         f"{user_line()}")
    return _matrix_norm(x, ord, (nd - 2, nd - 1), keepdims)


__all__ = ["cholesky",
           "cond", "cross", "det", "diagonal", "eig", "eigh", "eigvals", "eigvalsh", "inv",
           "lstsq", "matmul", "matrix_norm", "matrix_power", "matrix_rank",
           "matrix_transpose", "multi_dot", "norm", "outer", "pinv", "qr", "slogdet", "solve",
           "svd", "svdvals", "tensordot", "tensorinv", "tensorsolve", "trace", "vecdot",
           "vector_norm"]
