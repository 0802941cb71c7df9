"""Matrix decompositions and triangular solves: `cholesky`, `triangular_solve`, `lu`, `qr`,
`eigh`, `svd` and `eig`, each one primitive over stacks of matrices (`(..., m, n)`).

Implementations make one batched library call (`numpy.linalg`, which `cupy.linalg` mirrors)
or a loop over columns vectorized over the stack; jit calls them as library calls. JVPs are
the standard matrix-calculus results written with lax wrappers, so they differentiate again.
Complex values go through the complex-safe helpers below (`_conj`, `_real_part`), built from
`convert_element_type` (complex -> real keeps the real part and transposes back to complex).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from fnad.core.errors import (
    ArgumentError,
    ArgumentTypeError,
    DTypeError,
    ShapeError,
    TransformError,
)
from fnad.core.ir import ClosedJaxpr, Jaxpr, ShapedArray, get_aval
from fnad.core.primitive import LibraryCall, Primitive, Zero
from fnad.device import array_module
from fnad.lax._rules import FLOAT, check_dtypes, is_undefined
from fnad.lax.elementwise import (
    add,
    conj_value,
    convert_element_type,
    div,
    eq,
    full_like,
    mul,
    ne,
    neg,
    real_part,
    select_n,
    sub,
)
from fnad.lax.linalg import dot_general
from fnad.lax.reduction import reduce_sum
from fnad.lax.structural import broadcast_in_dim, transpose

# ------------------------------------------------------------------ helpers for the rules


def _real_dtype(dtype: Any) -> np.dtype:
    return np.finfo(np.dtype(dtype)).dtype


_real_part, _conj = real_part, conj_value  # real-linear: their transposes are themselves


def _to(x: Any, dtype: Any) -> Any:
    return convert_element_type(x, dtype)


def _mT(x: Any) -> Any:
    nd = get_aval(x).ndim
    return transpose(x, (*range(nd - 2), nd - 1, nd - 2))


def _mH(x: Any) -> Any:
    return _conj(_mT(x))


def _mm(a: Any, b: Any) -> Any:
    """Batched matrix product of equal-rank stacks."""
    nd = get_aval(a).ndim
    batch = tuple(range(nd - 2))
    return dot_general(a, b, (((nd - 1,), (nd - 2,)), (batch, batch)))


def _masked(x: Any, mask: np.ndarray) -> Any:
    """`x` where the (m, n) boolean `mask` holds, 0 elsewhere."""
    aval = get_aval(x)
    which = broadcast_in_dim(mask, aval.shape, (aval.ndim - 2, aval.ndim - 1))
    return select_n(which, full_like(x, 0), x)


def _tril(x: Any, k: int = 0) -> Any:
    m, n = get_aval(x).shape[-2:]
    return _masked(x, np.tri(m, n, k, dtype=bool))


def _triu(x: Any, k: int = 0) -> Any:
    m, n = get_aval(x).shape[-2:]
    return _masked(x, ~np.tri(m, n, k - 1, dtype=bool))


def _diag(x: Any) -> Any:
    """The main diagonal of a stack of square matrices: (..., n, n) -> (..., n)."""
    n = get_aval(x).shape[-1]
    return reduce_sum(_masked(x, np.eye(n, dtype=bool)), (get_aval(x).ndim - 1,))


def _cols(v: Any, n: int) -> Any:
    """(..., k) -> (..., n, k): `v` scales columns."""
    aval = get_aval(v)
    return broadcast_in_dim(v, (*aval.shape[:-1], n, aval.shape[-1]),
                            (*range(aval.ndim - 1), aval.ndim))


def _rows(v: Any, n: int) -> Any:
    """(..., k) -> (..., k, n): `v` scales rows."""
    aval = get_aval(v)
    return broadcast_in_dim(v, (*aval.shape, n), tuple(range(aval.ndim)))


def _diag_embed(v: Any) -> Any:
    n = get_aval(v).shape[-1]
    return _masked(_rows(v, n), np.eye(n, dtype=bool))


def _gap_inverse(w: Any) -> Any:
    """F[i, j] = 1 / (w[j] - w[i]) off the diagonal, 0 where w[i] == w[j] (repeated values:
    the derivative then has no rotation inside the degenerate subspace)."""
    n = get_aval(w).shape[-1]
    gaps = sub(_cols(w, n), _rows(w, n))
    tie = eq(gaps, full_like(gaps, 0))
    safe = select_n(tie, gaps, full_like(gaps, 1))
    return select_n(tie, div(full_like(gaps, 1), safe), full_like(gaps, 0))


def _check_matrix(a: ShapedArray, kinds: str = FLOAT, square: bool = True) -> None:
    check_dtypes([a], kinds)
    if a.dtype == np.float16:
        raise DTypeError("LAPACK has no float16 routines; convert to float32 first")
    if a.ndim < 2:
        raise ShapeError(f"needs a matrix (or a stack of them, shape (..., m, n)), got {a}")
    if square and a.shape[-1] != a.shape[-2]:
        raise ShapeError(f"needs square matrices (..., n, n), got {a}")


def _hermitian_part(name: str, x: Any) -> Any:
    """(x + x^H) / 2, for the wrappers that symmetrize their input as JAX's do."""
    try:
        _check_matrix(get_aval(x))
    except (ShapeError, DTypeError) as e:
        raise type(e)(f"{name}: {e}") from None
    return mul(add(x, _mH(x)), 0.5)


def _front(vals: Sequence[Any], dims: Sequence[Any], axis_size: int) -> list[Any]:
    """Move every batch axis to 0 (broadcasting unbatched operands)."""
    from fnad.interpreters.batching import moveaxis
    return [moveaxis(v, d, 0, axis_size) for v, d in zip(vals, dims)]


def _batch_front(prim: Primitive) -> None:
    """The batch rule of a primitive over (..., m, n) stacks: the batch axis becomes one
    more leading stack axis, and the batched impl is called once."""

    def rule(axis_size: int, vals: Sequence[Any], dims: Sequence[Any], **params: Any):
        out = prim.bind(*_front(vals, dims, axis_size), **params)
        return out, [0] * len(out) if prim.multiple_results else 0

    prim.def_batch(rule)


_BLOCK = 64  # columns per LU panel, rows per substitution block
_STRIP = 8  # columns eliminated one at a time inside an LU panel


def _quiet(xp: Any) -> Any:
    return xp.errstate(all="ignore") if xp is np else _NullContext()


class _NullContext:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        return None


def _nan_where_failed(fn: Any, a: Any) -> Any:
    """`fn(a)` for a stack, with NaN results for the matrices LAPACK rejects (as in JAX)
    instead of an exception for the whole stack."""
    xp = array_module([a])
    try:
        with _quiet(xp):
            return fn(a)
    except np.linalg.LinAlgError:
        pass
    flat = a.reshape((-1, *a.shape[-2:]))
    outs = []
    for m in flat:
        try:
            with _quiet(xp):
                outs.append(fn(m))
        except np.linalg.LinAlgError:
            outs.append(xp.full_like(m, np.nan))
    return xp.stack(outs).reshape(a.shape)


# ------------------------------------------------------------------ cholesky

cholesky_p = Primitive("cholesky")


def _cholesky_impl(a: Any) -> Any:
    """Reads the lower triangle; NaNs for a matrix that is not positive definite."""
    xp = array_module([a])
    return _nan_where_failed(xp.linalg.cholesky, a)


cholesky_p.def_impl(_cholesky_impl)

@cholesky_p.def_abstract_eval
def _cholesky_abstract_eval(a: ShapedArray) -> ShapedArray:
    _check_matrix(a)
    return ShapedArray(a.shape, a.dtype)


def _lower_hermitian(t: Any) -> Any:
    """The Hermitian matrix a routine reading only the lower triangle of `t` sees."""
    return add(_tril(t), _mH(_tril(t, -1)))


@cholesky_p.def_jvp
def _cholesky_jvp(primals: Sequence[Any], tangents: Sequence[Any]):
    """dL = L Phi(L^-1 dA L^-H), Phi: the lower triangle with its diagonal halved."""
    (a,), (t,) = primals, tangents
    low = cholesky_p.bind(a)
    if type(t) is Zero:
        return low, Zero(get_aval(low))
    t = _lower_hermitian(t)
    x = triangular_solve(low, t, left_side=True, lower=True)
    x = triangular_solve(low, x, left_side=False, lower=True, transpose_a=True,
                         conjugate_a=True)
    n = get_aval(a).shape[-1]
    phi = sub(_tril(x), mul(_masked(x, np.eye(n, dtype=bool)), 0.5))
    return low, _mm(low, phi)


_batch_front(cholesky_p)
cholesky_p.kernel = LibraryCall()


def cholesky(x: Any, *, symmetrize_input: bool = True) -> Any:
    """The lower Cholesky factor L of Hermitian positive-definite `x` (x = L L^H); NaNs
    where `x` is not positive definite. `symmetrize_input` uses (x + x^H) / 2 (as JAX),
    otherwise only the lower triangle is read.

    >>> cholesky(np.array([[4.0, 2.0], [2.0, 5.0]]))
    array([[2., 0.],
           [1., 2.]])
    """
    return cholesky_p.bind(_hermitian_part("cholesky", x) if symmetrize_input else x)


# ------------------------------------------------------------------ triangular_solve

triangular_solve_p = Primitive("triangular_solve")


def _operator(a: Any, xp: Any, left_side: bool, lower: bool, transpose_a: bool,
              conjugate_a: bool) -> tuple[Any, bool]:
    """The matrix M with which the solve is M x = b (after moving a right-side solve to the
    left by transposing; a view where no conjugate is taken), and whether M's lower
    triangle is the one read. The other triangle is not masked here: the solve reads only
    its diagonal blocks from both (`_diagonal_block` masks them)."""
    m = xp.conj(a) if conjugate_a else a
    if transpose_a != (not left_side):  # op(a) for the left side, op(a)^T for the right
        m = xp.swapaxes(m, -1, -2)
        lower = not lower
    return m, lower


def _diagonal_block(m: Any, i0: int, i1: int, lower: bool, unit_diagonal: bool,
                    xp: Any) -> Any:
    """m[i0:i1, i0:i1]'s lower (upper) triangle, ones on the diagonal for `unit_diagonal`."""
    size = i1 - i0
    keep = np.tri(size, dtype=bool, k=-1 if unit_diagonal else 0)
    block = xp.where(xp.asarray(keep if lower else keep.T), m[..., i0:i1, i0:i1], 0)
    return block + xp.eye(size, dtype=block.dtype) if unit_diagonal else block


def _triangular_solve_impl(a: Any, b: Any, *, left_side: bool, lower: bool, transpose_a: bool,
                           conjugate_a: bool, unit_diagonal: bool) -> Any:
    """Blocked substitution (forward for lower, backward for upper), vectorized over the
    stack and the right-hand sides: each block of `_BLOCK` rows takes the solved rows off
    in one matrix product (BLAS 3; they lie strictly off the diagonal, so nothing needs
    masking), then is solved row by row, or, where the rows carry little work (a few
    right-hand sides of a large system), by LAPACK (`linalg.solve`: NumPy has no
    triangular solver; it is backward stable like substitution) in one call. A zero on the
    diagonal or a non-finite value always takes substitution, so inf/NaN land where JAX
    puts them, not an exception or a NaN spread by pivoting."""
    xp = array_module([a, b])
    m, low = _operator(a, xp, left_side, lower, transpose_a, conjugate_a)
    rhs = b if left_side else xp.swapaxes(b, -1, -2)
    dtype = xp.result_type(m, rhs)
    m, rhs = m.astype(dtype, copy=False), rhs.astype(dtype, copy=False)
    x = xp.empty(rhs.shape, dtype=dtype)
    n = m.shape[-1]
    # Substitution costs a Python step per row, LAPACK's solve an LU factorization of each
    # diagonal block that is slow on small blocks (32 systems of 64x64 with 64 right-hand
    # sides: 6.1 ms against 1.2 ms); substitution wins wherever its rows carry at least
    # n values each (every system's right-hand sides together).
    by_lapack = (x.size < n * n and dtype in _LAPACK_DTYPES and x.size > 0
                 and bool(xp.all(xp.isfinite(rhs)))
                 and (unit_diagonal or bool(xp.all(xp.diagonal(m, axis1=-2, axis2=-1) != 0)))
                 and bool(xp.all(xp.isfinite(m))))  # (the unread triangle too: cheaper)
    blocks = [(i0, min(i0 + _BLOCK, n)) for i0 in range(0, n, _BLOCK)]
    with _quiet(xp):
        for i0, i1 in blocks if low else blocks[::-1]:
            block = rhs[..., i0:i1, :]
            done = slice(0, i0) if low else slice(i1, n)  # the rows solved already
            if done.stop > done.start:
                block = block - xp.matmul(m[..., i0:i1, done], x[..., done, :])
            diag = _diagonal_block(m, i0, i1, low, unit_diagonal, xp)
            try:
                if not by_lapack:
                    raise np.linalg.LinAlgError
                x[..., i0:i1, :] = xp.linalg.solve(diag, block)
            except np.linalg.LinAlgError:  # (exactly singular in floating point)
                _substitute(diag, block, x[..., i0:i1, :], low, xp)
    return x if left_side else xp.swapaxes(x, -1, -2)


_LAPACK_DTYPES = tuple(np.dtype(t) for t in (np.float32, np.float64, np.complex64,
                                              np.complex128))


def _substitute(m: Any, b: Any, out: Any, lower: bool, xp: Any) -> None:
    """Triangular m out = b, row by row into `out`."""
    size = m.shape[-1]
    for i in range(size) if lower else range(size - 1, -1, -1):
        done = slice(0, i) if lower else slice(i + 1, size)
        acc = b[..., i, :]
        if done.stop > done.start:
            acc = acc - xp.matmul(m[..., i:i + 1, done], out[..., done, :])[..., 0, :]
        out[..., i, :] = acc / m[..., i, i:i + 1]


triangular_solve_p.def_impl(_triangular_solve_impl)


@triangular_solve_p.def_abstract_eval
def _triangular_solve_abstract_eval(a: ShapedArray, b: ShapedArray, *, left_side: bool,
                                    **params: Any) -> ShapedArray:
    _check_matrix(a)
    check_dtypes([a, b], FLOAT)
    if b.ndim != a.ndim or b.shape[:-2] != a.shape[:-2]:
        raise ShapeError(f"b {b} must be a stack of matrices with a's batch shape "
                         f"{a.shape[:-2]}")
    n = a.shape[-1]
    if (b.shape[-2] if left_side else b.shape[-1]) != n:
        side = "rows" if left_side else "columns"
        raise ShapeError(f"b {b} must have {n} {side} to be solved against a {a} "
                         f"(left_side={left_side})")
    return ShapedArray(b.shape, b.dtype)


def _triangular_solve_jvp(primals: Sequence[Any], tangents: Sequence[Any], **params: Any):
    """Linear in b; for a: op(a) x = b gives dx = -op(a)^-1 op(da) x (x op(a) = b on the
    right: dx = -x op(da) op(a)^-1), with da masked to the triangle a is read from."""
    (a, b), (ta, tb) = primals, tangents
    x = triangular_solve_p.bind(a, b, **params)
    out = None
    if type(tb) is not Zero:
        out = triangular_solve_p.bind(a, tb, **params)
    if type(ta) is not Zero:
        n = get_aval(a).shape[-1]
        keep = np.tri(n, dtype=bool) if params["lower"] else ~np.tri(n, k=-1, dtype=bool)
        if params["unit_diagonal"]:
            keep = keep & ~np.eye(n, dtype=bool)
        op = _masked(ta, keep)
        if params["conjugate_a"]:
            op = _conj(op)
        if params["transpose_a"]:
            op = _mT(op)
        prod = _mm(op, x) if params["left_side"] else _mm(x, op)
        da = neg(triangular_solve_p.bind(a, prod, **params))
        out = da if out is None else add(out, da)
    return x, Zero(get_aval(x)) if out is None else out


def _triangular_solve_transpose(ct: Any, a: Any, b: Any, *, transpose_a: bool,
                                **params: Any) -> list[Any]:
    """x = op(a)^-1 b (or b op(a)^-1) is linear in b; its transpose solves with op(a)^T."""
    if is_undefined(a):
        raise ArgumentTypeError("triangular_solve is linear only in b")
    if type(ct) is Zero:
        return [None, None]
    return [None, triangular_solve_p.bind(a, ct, transpose_a=not transpose_a, **params)]


triangular_solve_p.def_jvp(_triangular_solve_jvp)
triangular_solve_p.def_transpose(_triangular_solve_transpose)
_batch_front(triangular_solve_p)
triangular_solve_p.kernel = LibraryCall()


def triangular_solve(a: Any, b: Any, *, left_side: bool = False, lower: bool = False,
                     transpose_a: bool = False, conjugate_a: bool = False,
                     unit_diagonal: bool = False) -> Any:
    """Solve op(a) x = b (`left_side`) or x op(a) = b for triangular `a` (only its `lower`
    or upper triangle is read; `unit_diagonal` takes its diagonal as ones), with
    op(a) = a, a^T, conj(a) or a^H by `transpose_a` / `conjugate_a`. JAX's defaults.

    >>> triangular_solve(np.array([[2.0, 0.0], [1.0, 1.0]]), np.array([[2.0], [3.0]]),
    ...                  left_side=True, lower=True)
    array([[1.],
           [2.]])
    """
    return triangular_solve_p.bind(a, b, left_side=bool(left_side), lower=bool(lower),
                                   transpose_a=bool(transpose_a),
                                   conjugate_a=bool(conjugate_a),
                                   unit_diagonal=bool(unit_diagonal))


# ------------------------------------------------------------------ lu

lu_p = Primitive("lu", multiple_results=True)


def _pivot_magnitude(x: Any, xp: Any) -> Any:
    """LAPACK's pivot size: |re| + |im| (so complex pivots are the ones getrf, hence JAX
    and SciPy, choose)."""
    return xp.abs(x.real) + xp.abs(x.imag) if x.dtype.kind == "c" else xp.abs(x)


def _lu_impl(a: Any) -> list[Any]:
    """Blocked Gaussian elimination with partial pivoting (NumPy has no LU): each panel of
    `_BLOCK` columns is eliminated a column at a time, then the rows to its right are
    solved against its unit lower triangle and the trailing matrix is updated by one matrix
    product (BLAS 3). Returns LU packed in one matrix (L unit lower below the diagonal, U
    on and above), the row swaps, and the row permutation."""
    xp = array_module([a])
    m, n = a.shape[-2:]
    k = min(m, n)
    lu = xp.array(a, copy=True).reshape((int(np.prod(a.shape[:-2])), m, n))
    with _quiet(xp):
        if xp is np and lu.shape[0] == 1:
            pivots, perm = _lu_single(lu[0], k)
        else:
            pivots, perm = _lu_stack(lu, k)
    batch = a.shape[:-2]
    return [lu.reshape(a.shape), pivots.reshape((*batch, k)), perm.reshape((*batch, m))]


def _lu_single(lu: Any, k: int) -> tuple[Any, Any]:
    """One NumPy matrix, factored in place, where Python steps per column are the cost.
    Each panel of `_BLOCK` columns is copied transposed (a column a contiguous row, as in
    LAPACK's layout) and factored in strips of `_STRIP` columns: per column a pivot (a
    Python int), a swap across the panel and a rank-1 update of the strip's columns; then
    the strip's rows of U across the panel (substitution) and one product update the rest
    of the panel. The panel's row swaps reach the other columns as one gather of the moved
    rows."""
    m = lu.shape[0]
    pivots, perm = list(range(k)), np.arange(m)
    magnitude = np.abs if lu.dtype.kind != "c" else (lambda x: _pivot_magnitude(x, np))
    outer = np.multiply.outer
    for j0 in range(0, k, _BLOCK):
        j1 = min(j0 + _BLOCK, k)
        w = j1 - j0
        t = lu[j0:, j0:j1].T.copy()  # t[c, r] = lu[j0 + r, j0 + c]
        order = list(range(m - j0))
        for c0 in range(0, w, _STRIP):
            c1 = min(c0 + _STRIP, w)
            for c in range(c0, c1):
                r = c + int(magnitude(t[c, c:]).argmax())
                pivots[j0 + c] = j0 + r
                if r != c:  # (plain slices: a fancy-indexed column swap costs 10x more)
                    row = t[:, c].copy()
                    t[:, c] = t[:, r]
                    t[:, r] = row
                    order[c], order[r] = order[r], order[c]
                piv = t[c, c]
                if piv != 0:  # else a zero column: nothing to eliminate
                    t[c, c + 1:] /= piv
                    t[c + 1:c1, c + 1:] -= outer(t[c + 1:c1, c], t[c, c + 1:])
            for i in range(c0 + 1, c1):  # the strip's rows of U across the panel
                t[c1:, i] -= t[c1:, c0:i] @ t[c0:i, i]
            t[c1:, c1:] -= t[c1:, c0:c1] @ t[c0:c1, c1:]
        source = np.array(order)
        moved = np.flatnonzero(source != np.arange(m - j0))
        lu[j0 + moved] = lu[j0 + source[moved]]
        perm[j0 + moved] = perm[j0 + source[moved]]
        lu[j0:, j0:j1] = t.T
        _lu_trailing(lu, j0, j1, np)
    return np.array(pivots, np.int32), perm.astype(np.int32)


def _lu_stack(lu: Any, k: int) -> tuple[Any, Any]:
    """A stack of matrices (or CuPy), factored in place: pivots chosen and rows swapped
    for every matrix at once by indexing, without bringing a value back to Python."""
    xp = array_module([lu])
    s, m = lu.shape[:2]
    stack = xp.arange(s)
    pivots = xp.zeros((s, k), dtype=np.int32)
    perm = xp.broadcast_to(xp.arange(m, dtype=np.int32), (s, m)).copy()
    for j0 in range(0, k, _BLOCK):
        j1 = min(j0 + _BLOCK, k)
        for j in range(j0, j1):
            p = j + xp.argmax(_pivot_magnitude(lu[:, j:, j], xp), axis=1)
            pivots[:, j] = p
            rows_j, rows_p = lu[stack, j].copy(), lu[stack, p].copy()
            lu[stack, p], lu[stack, j] = rows_j, rows_p
            perm_j = perm[stack, j].copy()
            perm[stack, j], perm[stack, p] = perm[stack, p], perm_j
            piv = lu[:, j, j]
            lu[:, j + 1:, j] /= xp.where(piv == 0, 1, piv)[:, None]  # zero column: no-op
            lu[:, j + 1:, j + 1:j1] -= lu[:, j + 1:, j:j + 1] * lu[:, j:j + 1, j + 1:j1]
        _lu_trailing(lu, j0, j1, xp)
    return pivots, perm


def _lu_trailing(lu: Any, j0: int, j1: int, xp: Any) -> None:
    """After the panel j0:j1: U's rows to its right by substitution against the panel's
    unit lower triangle (a row at a time, each a vector-matrix product), then the trailing
    matrix less L21 U12 (one matrix product)."""
    m, n = lu.shape[-2:]
    if j1 < n:
        for i in range(j0 + 1, j1):
            lu[..., i, j1:] -= xp.matmul(lu[..., i:i + 1, j0:i], lu[..., j0:i, j1:])[..., 0, :]
        if j1 < m:
            lu[..., j1:, j1:] -= xp.matmul(lu[..., j1:, j0:j1], lu[..., j0:j1, j1:])


lu_p.def_impl(_lu_impl)


@lu_p.def_abstract_eval
def _lu_abstract_eval(a: ShapedArray) -> list[ShapedArray]:
    _check_matrix(a, square=False)
    m, n = a.shape[-2:]
    batch = a.shape[:-2]
    return [ShapedArray(a.shape, a.dtype), ShapedArray((*batch, min(m, n)), np.dtype(np.int32)),
            ShapedArray((*batch, m), np.dtype(np.int32))]


def _permute_rows(x: Any, perm: Any) -> Any:
    """Rows of a stack of matrices reordered, row i of the result being row perm[i]: one
    gather (differentiable in x; its transpose is a scatter-add)."""
    from fnad.lax.structural import concatenate, gather, reshape
    shape = get_aval(perm).shape  # (*batch, m)
    nb = len(shape) - 1
    comps = [broadcast_in_dim(np.arange(shape[d], dtype=np.int32), (*shape, 1), (d,))
             for d in range(nb)]
    idx = concatenate([*comps, reshape(perm, (*shape, 1))], nb + 1)
    return gather(x, idx, tuple(range(nb + 1)))


def _unit_lower(packed: Any) -> Any:
    """L of a square LU: ones on the diagonal, the packed matrix below it."""
    aval = get_aval(packed)
    eye = broadcast_in_dim(np.eye(aval.shape[-1], dtype=bool), aval.shape,
                           (aval.ndim - 2, aval.ndim - 1))
    return select_n(eye, _tril(packed, -1), full_like(packed, 1))


@lu_p.def_jvp
def _lu_jvp(primals: Sequence[Any], tangents: Sequence[Any]):
    """P A = L U: with X = L^-1 P dA U^-1, dL = L tril(X, -1) and dU = triu(X) U (square
    matrices; at a singular matrix the derivative is infinite or NaN, as the math says)."""
    (a,), (t,) = primals, tangents
    lu, pivots, perm = outs = lu_p.bind(a)
    zeros = [Zero(get_aval(o)) for o in outs]
    if type(t) is Zero:
        return outs, zeros
    m, n = get_aval(a).shape[-2:]
    if m != n:
        raise NotImplementedError(f"lu: derivatives need square matrices, got {get_aval(a)}")
    low = _unit_lower(lu)
    up = _triu(lu)
    pt = _permute_rows(t, perm)
    x = triangular_solve(low, pt, left_side=True, lower=True, unit_diagonal=True)
    x = triangular_solve(up, x, left_side=False, lower=False)
    dlu = add(_mm(low, _tril(x, -1)), _mm(_triu(x), up))
    return outs, [dlu, zeros[1], zeros[2]]


_batch_front(lu_p)
lu_p.kernel = LibraryCall()


def lu(x: Any) -> tuple[Any, Any, Any]:
    """LU decomposition with partial pivoting: (lu, pivots, permutation) as JAX's
    `lax.linalg.lu`: `x[..., permutation, :] = L @ U`, L unit lower (below lu's diagonal),
    U upper (on and above), `pivots[i]` the row swapped with row i at step i.

    >>> lu(np.array([[1.0, 2.0], [3.0, 4.0]]))[2]
    array([1, 0], dtype=int32)
    """
    return tuple(lu_p.bind(x))


# ------------------------------------------------------------------ solve

solve_p = Primitive("solve")


def _solve_impl(a: Any, b: Any) -> Any:
    """LAPACK's gesv (`linalg.solve`), the whole stack in one call. Where it has no
    finite answer (a matrix singular in floating point, which NumPy raises on, or a
    non-finite operand or result), the stack goes through fnad's own LU and triangular
    solves instead: they put inf/NaN where JAX's LU does."""
    xp = array_module([a, b])
    try:
        with _quiet(xp):
            x = xp.linalg.solve(a, b)
        if bool(xp.isfinite(x).all() & xp.isfinite(a).all() & xp.isfinite(b).all()):
            return x
    except np.linalg.LinAlgError:
        pass
    packed, _, perm = _lu_impl(a)
    rows = xp.take_along_axis(b, perm[..., None], axis=-2)  # b's rows in a[perm]'s order
    y = _triangular_solve_impl(packed, rows, left_side=True, lower=True, transpose_a=False,
                               conjugate_a=False, unit_diagonal=True)
    return _triangular_solve_impl(packed, y, left_side=True, lower=False, transpose_a=False,
                                  conjugate_a=False, unit_diagonal=False)


solve_p.def_impl(_solve_impl)


@solve_p.def_abstract_eval
def _solve_abstract_eval(a: ShapedArray, b: ShapedArray) -> ShapedArray:
    _check_matrix(a)
    check_dtypes([a, b], FLOAT)
    if b.ndim != a.ndim or b.shape[:-1] != a.shape[:-1]:
        raise ShapeError(f"b {b} must be a stack of matrices (..., {a.shape[-1]}, k) with "
                         f"a's batch shape {a.shape[:-2]} (a: {a}); broadcast them first")
    return ShapedArray(b.shape, b.dtype)


@solve_p.def_jvp
def _solve_jvp(primals: Sequence[Any], tangents: Sequence[Any]):
    """a x = b gives a dx = db - da x: one more solve with the same a, linear in both
    tangents."""
    (a, b), (ta, tb) = primals, tangents
    x = solve_p.bind(a, b)
    if type(ta) is Zero and type(tb) is Zero:
        return x, Zero(get_aval(x))
    if type(ta) is Zero:
        rhs = tb
    else:
        rhs = neg(_mm(ta, x)) if type(tb) is Zero else sub(tb, _mm(ta, x))
    return x, solve_p.bind(a, rhs)


@solve_p.def_transpose
def _solve_transpose(ct: Any, a: Any, b: Any) -> list[Any]:
    """x = a^-1 b is linear in b; its transpose is a^-T (the plain transpose, complex
    included, as `triangular_solve`'s: the conjugation is grad's, not the rule's)."""
    if is_undefined(a):
        raise ArgumentTypeError("solve is linear only in b")
    if type(ct) is Zero:
        return [None, None]
    return [None, solve_p.bind(_mT(a), ct)]


_batch_front(solve_p)
solve_p.kernel = LibraryCall()


def solve(a: Any, b: Any) -> Any:
    """x with a x = b for a stack of square matrices `a` (..., n, n) and right-hand sides
    `b` (..., n, k) of the same batch shape (broadcast first: `fnad.numpy.linalg.solve`
    does); inf/NaN where `a` is singular, as through JAX's LU.

    >>> solve(np.array([[2.0, 0.0], [1.0, 1.0]]), np.array([[2.0], [3.0]]))
    array([[1.],
           [2.]])
    """
    return solve_p.bind(a, b)


# ------------------------------------------------------------------ qr

qr_p = Primitive("qr", multiple_results=True)


def _qr_impl(a: Any, *, full_matrices: bool) -> list[Any]:
    xp = array_module([a])
    q, r = xp.linalg.qr(a, mode="complete" if full_matrices else "reduced")
    return [q.astype(a.dtype, copy=False), r.astype(a.dtype, copy=False)]


qr_p.def_impl(_qr_impl)


@qr_p.def_abstract_eval
def _qr_abstract_eval(a: ShapedArray, *, full_matrices: bool) -> list[ShapedArray]:
    _check_matrix(a, square=False)
    m, n = a.shape[-2:]
    k = m if full_matrices else min(m, n)
    batch = a.shape[:-2]
    return [ShapedArray((*batch, m, k), a.dtype), ShapedArray((*batch, k, n), a.dtype)]


@qr_p.def_jvp
def _qr_jvp(primals: Sequence[Any], tangents: Sequence[Any], *, full_matrices: bool):
    """For m >= n: C = Q^H dA R^-1, Omega = tril(C, -1) - tril(C, -1)^H (skew),
    dQ = Q (Omega - C) + dA R^-1, dR = (C - Omega) R."""
    (a,), (t,) = primals, tangents
    q, r = outs = qr_p.bind(a, full_matrices=full_matrices)
    if type(t) is Zero:
        return outs, [Zero(get_aval(o)) for o in outs]
    m, n = get_aval(a).shape[-2:]
    if m < n or (full_matrices and m > n):
        raise NotImplementedError(
            f"qr: derivatives need m >= n (and full_matrices=False unless square), got "
            f"{get_aval(a)} with full_matrices={full_matrices}")
    dx_rinv = triangular_solve(r, t, left_side=False, lower=False)
    c = _mm(_mH(q), dx_rinv)
    low = _tril(c, -1)
    omega = sub(low, _mH(low))
    if get_aval(a).dtype.kind == "c":  # the imaginary part of C's diagonal goes to Omega
        d = _masked(c, np.eye(n, dtype=bool))
        omega = add(omega, mul(sub(d, _conj(d)), 0.5))
    dq = add(_mm(q, sub(omega, c)), dx_rinv)
    dr = _mm(sub(c, omega), r)
    return outs, [dq, dr]


_batch_front(qr_p)
qr_p.kernel = LibraryCall()


def qr(x: Any, *, pivoting: bool = False, full_matrices: bool = True, use_magma: Any = None
       ) -> tuple[Any, Any]:
    """QR decomposition x = Q R (Q with orthonormal columns, R upper triangular), as JAX's
    `lax.linalg.qr`.

    >>> q, r = qr(np.array([[3.0, 1.0], [4.0, 2.0]]))
    >>> bool(np.allclose(q @ r, [[3.0, 1.0], [4.0, 2.0]]))
    True
    """
    if pivoting:
        raise NotImplementedError("qr: pivoting=True (rank-revealing QR) is not offered; use "
                                  "svd to find the rank")
    return tuple(qr_p.bind(x, full_matrices=bool(full_matrices)))


# ------------------------------------------------------------------ eigh

eigh_p = Primitive("eigh", multiple_results=True)


def _eigh_impl(a: Any, *, lower: bool) -> list[Any]:
    xp = array_module([a])
    w, v = xp.linalg.eigh(a, UPLO="L" if lower else "U")
    return [v.astype(a.dtype, copy=False), w.astype(_real_dtype(a.dtype), copy=False)]


eigh_p.def_impl(_eigh_impl)


@eigh_p.def_abstract_eval
def _eigh_abstract_eval(a: ShapedArray, *, lower: bool) -> list[ShapedArray]:
    _check_matrix(a)
    return [ShapedArray(a.shape, a.dtype), ShapedArray(a.shape[:-1], _real_dtype(a.dtype))]


@eigh_p.def_jvp
def _eigh_jvp(primals: Sequence[Any], tangents: Sequence[Any], *, lower: bool):
    """With S = V^H dA V: dw = Re diag(S), dV = V (F o S), F[i, j] = 1 / (w[j] - w[i]).

    Eigenvalue derivatives are exact for distinct eigenvalues, and at repeated ones they
    are the derivatives of the eigenvalues in the order returned when V diagonalizes S on
    each repeated eigenspace (directional derivatives otherwise do not exist). Eigenvectors
    of a repeated eigenvalue are not unique: F is 0 between them, which gives the correct
    derivative of anything depending only on the eigenspaces (projectors, functions of the
    matrix) and no rotation within an eigenspace.
    """
    (a,), (t,) = primals, tangents
    v, w = outs = eigh_p.bind(a, lower=lower)
    if type(t) is Zero:
        return outs, [Zero(get_aval(o)) for o in outs]
    t = _lower_hermitian(t) if lower else _mH(_lower_hermitian(_mH(t)))
    s = _mm(_mH(v), _mm(t, v))
    dw = _real_part(_diag(s))
    dv = _mm(v, mul(_to(_gap_inverse(w), get_aval(a).dtype), s))
    return outs, [dv, dw]


_batch_front(eigh_p)
eigh_p.kernel = LibraryCall()


def eigh(x: Any, *, lower: bool = True, symmetrize_input: bool = True,
         sort_eigenvalues: bool = True, subset_by_index: tuple[int, int] | None = None
         ) -> tuple[Any, Any]:
    """Eigenvectors and eigenvalues (ascending) of Hermitian `x`: (v, w) with
    x v = v diag(w), as JAX's `lax.linalg.eigh`.

    >>> v, w = eigh(np.array([[2.0, 1.0], [1.0, 2.0]]))
    >>> w
    array([1., 3.])
    """
    x = _hermitian_part("eigh", x) if symmetrize_input else x
    v, w = eigh_p.bind(x, lower=bool(lower))  # always sorted, ascending
    if subset_by_index is not None:
        start, end = subset_by_index
        v, w = _leading(v, -1, end), _leading(w, -1, end)
        v, w = _trailing(v, -1, end - start), _trailing(w, -1, end - start)
    return v, w


# ------------------------------------------------------------------ svd

svd_p = Primitive("svd", multiple_results=True)


def _svd_impl(a: Any, *, full_matrices: bool, compute_uv: bool) -> list[Any]:
    xp = array_module([a])
    real = _real_dtype(a.dtype)
    if not compute_uv:
        return [xp.linalg.svd(a, compute_uv=False).astype(real, copy=False)]
    u, s, vh = xp.linalg.svd(a, full_matrices=full_matrices)
    return [s.astype(real, copy=False), u.astype(a.dtype, copy=False),
            vh.astype(a.dtype, copy=False)]


svd_p.def_impl(_svd_impl)


@svd_p.def_abstract_eval
def _svd_abstract_eval(a: ShapedArray, *, full_matrices: bool, compute_uv: bool
                       ) -> list[ShapedArray]:
    _check_matrix(a, square=False)
    m, n = a.shape[-2:]
    k = min(m, n)
    batch = a.shape[:-2]
    s = ShapedArray((*batch, k), _real_dtype(a.dtype))
    if not compute_uv:
        return [s]
    ku, kv = (m, n) if full_matrices else (k, k)
    return [s, ShapedArray((*batch, m, ku), a.dtype), ShapedArray((*batch, kv, n), a.dtype)]


@svd_p.def_jvp
def _svd_jvp(primals: Sequence[Any], tangents: Sequence[Any], *, full_matrices: bool,
             compute_uv: bool):
    """With S = U^H dA V: ds = Re diag(S); for U and V (thin SVD),
    dU = U (F o (S diag(s) + diag(s) S^H) + (S - S^H) / 2 diag(1/s) on the diagonal)
    + (I - U U^H) dA V / s, dV = V (F o (diag(s) S + S^H diag(s))) + (I - V V^H) dA^H U / s,
    F[i, j] = 1 / (s[j]^2 - s[i]^2).

    Singular values' derivatives exist wherever they are distinct and nonzero; repeated
    singular values are handled as eigh's repeated eigenvalues (F is 0 between them), and a
    zero singular value of a non-square matrix makes singular vector derivatives infinite.
    """
    (a,), (t,) = primals, tangents
    outs = svd_p.bind(a, full_matrices=full_matrices, compute_uv=True)
    s, u, vh = outs
    res = outs if compute_uv else [s]
    if type(t) is Zero:
        return res, [Zero(get_aval(o)) for o in res]
    m, n = get_aval(a).shape[-2:]
    k = min(m, n)
    dtype = get_aval(a).dtype
    if full_matrices and m != n:  # the singular values need only the thin factors
        u, vh = _leading(u, -1, k), _leading(vh, -2, k)
    v = _mH(vh)
    smat = _mm(_mH(u), _mm(t, v))
    ds = _real_part(_diag(smat))
    if not compute_uv:
        return res, [ds]
    if full_matrices and m != n:
        raise NotImplementedError("svd: singular vector derivatives need full_matrices=False "
                                  f"for a non-square matrix, got {get_aval(a)}")
    sc = _to(s, dtype)
    f = _to(_gap_inverse(mul(s, s)), dtype)
    s_cols, s_rows = _cols(sc, k), _rows(sc, k)
    nonzero = ne(s, full_like(s, 0))
    s_inv = _to(select_n(nonzero, full_like(s, 0), div(full_like(s, 1), s)), dtype)
    skew = mul(mul(sub(smat, _mH(smat)), 0.5), _diag_embed(s_inv))
    du = _mm(u, add(mul(f, add(mul(smat, s_cols), mul(s_rows, _mH(smat)))), skew))
    dv = _mm(v, mul(f, add(mul(s_rows, smat), mul(_mH(smat), s_cols))))
    if m > n:
        dav = _mm(t, v)
        du = add(du, mul(sub(dav, _mm(u, _mm(_mH(u), dav))), _cols(s_inv, m)))
    if n > m:
        dahu = _mm(_mH(t), u)
        dv = add(dv, mul(sub(dahu, _mm(v, _mm(_mH(v), dahu))), _cols(s_inv, n)))
    return res, [ds, du, _mH(dv)]


def _trailing(x: Any, axis: int, size: int) -> Any:
    """The last `size` entries of `x` along `axis` (negative)."""
    from fnad.lax.structural import slice as slice_
    shape = get_aval(x).shape
    start = [0] * len(shape)
    start[axis] = shape[axis] - size
    return slice_(x, tuple(start), shape)


def _leading(x: Any, axis: int, size: int) -> Any:
    """The first `size` entries of `x` along `axis` (negative)."""
    from fnad.lax.structural import slice as slice_
    shape = get_aval(x).shape
    limit = list(shape)
    limit[axis] = size
    return slice_(x, (0,) * len(shape), tuple(limit))


_batch_front(svd_p)
svd_p.kernel = LibraryCall()


def svd(x: Any, *, full_matrices: bool = True, compute_uv: bool = True,
        subset_by_index: tuple[int, int] | None = None, algorithm: Any = None) -> Any:
    """Singular vectors and values (descending): (u, s, vh) with x = u diag(s) vh, or s
    alone when `compute_uv` is False, as JAX's `lax.linalg.svd`.

    >>> svd(np.array([[3.0, 0.0], [0.0, -4.0]]), compute_uv=False)
    array([4., 3.])
    """
    del algorithm  # LAPACK's divide and conquer, whatever is asked
    full = bool(full_matrices) and bool(compute_uv)  # without vectors it means nothing
    outs = svd_p.bind(x, full_matrices=full, compute_uv=bool(compute_uv))
    if subset_by_index is not None:
        if full:
            raise ArgumentError("svd: subset_by_index needs full_matrices=False")
        start, end = subset_by_index
        outs = [_trailing(_leading(o, ax, end), ax, end - start)
                for o, ax in zip(outs, (-1, -1, -2))]
    return (outs[1], outs[0], outs[2]) if compute_uv else outs[0]


# ------------------------------------------------------------------ eig

eig_p = Primitive("eig", multiple_results=True)


def _complex_dtype(dtype: Any) -> np.dtype:
    return np.result_type(dtype, np.complex64)


def _eig_impl(a: Any) -> list[Any]:
    """Always complex (NumPy returns real arrays when every eigenvalue is real)."""
    w, v = np.linalg.eig(a)
    dtype = _complex_dtype(a.dtype)
    return [w.astype(dtype), v.astype(dtype)]


def _eig_host(a: Any) -> list[Any]:
    """CuPy has no general (non-Hermitian) eigensolver: LAPACK on the host, the results
    moved back to the device."""
    xp = array_module([a])
    host = a if type(a) is np.ndarray else a.get()
    return [xp.asarray(r) for r in _eig_impl(host)]


eig_p.def_impl(_eig_impl)
eig_p.def_impl(_eig_host, "cupy")


@eig_p.def_abstract_eval
def _eig_abstract_eval(a: ShapedArray) -> list[ShapedArray]:
    _check_matrix(a)
    dtype = _complex_dtype(a.dtype)
    return [ShapedArray(a.shape[:-1], dtype), ShapedArray(a.shape, dtype)]


@eig_p.def_jvp
def _eig_jvp(primals: Sequence[Any], tangents: Sequence[Any]):
    """With S = V^-1 dA V: dw = diag(S); dV = V (F o S) with F[i, j] = 1 / (w[j] - w[i]),
    then the component along each (unit-norm) eigenvector removed, keeping them unit-norm
    (forward mode, as in JAX; the eigenvectors are complex so reverse mode needs the complex
    convention)."""
    (a,), (t,) = primals, tangents
    w, v = outs = eig_p.bind(a)
    if type(t) is Zero:
        return outs, [Zero(get_aval(o)) for o in outs]
    dtype = get_aval(w).dtype
    s = solve(v, _mm(_to(t, dtype), v))
    dw = _diag(s)
    dv = _mm(v, mul(_gap_inverse(w), s))
    n = get_aval(a).shape[-1]
    along = _to(_real_part(reduce_sum(mul(_conj(v), dv), (get_aval(v).ndim - 2,))), dtype)
    dv = sub(dv, mul(v, _cols(along, n)))
    return outs, [dw, dv]


_batch_front(eig_p)
eig_p.kernel = LibraryCall()


def lu_solve(packed: Any, permutation: Any, b: Any) -> Any:
    """a^-1 b from a's LU decomposition (`lu`'s first and last results), for a stack of
    matrices `b` with a's batch shape; differentiable in both."""
    x = triangular_solve(packed, _permute_rows(b, permutation), left_side=True, lower=True,
                         unit_diagonal=True)
    return triangular_solve(packed, x, left_side=True, lower=False)


def eig(x: Any, *, compute_left_eigenvectors: bool = True,
        compute_right_eigenvectors: bool = True) -> tuple[Any, ...]:
    """Eigenvalues and eigenvectors of a general square matrix, complex, as JAX's
    `lax.linalg.eig`: (w, vl, vr) with x vr = vr diag(w) and vl^H x = diag(w) vl^H (unit
    columns), leaving out the eigenvectors not asked for. The left ones are the rows of
    vr^-1, normalized.

    >>> w, vr = eig(np.array([[0.0, -1.0], [1.0, 0.0]]), compute_left_eigenvectors=False)
    >>> sorted(w.imag.tolist())
    [-1.0, 1.0]
    """
    w, vr = eig_p.bind(x)
    outs = [w]
    if compute_left_eigenvectors:
        vl = _mH(solve(vr, _to(_eye_stack(get_aval(vr)), get_aval(vr).dtype)))
        size = _real_part(reduce_sum(mul(_conj(vl), vl), (get_aval(vl).ndim - 2,)))
        from fnad.lax.elementwise import sqrt
        outs.append(div(vl, _to(_cols(sqrt(size), get_aval(vl).shape[-1]), get_aval(vl).dtype)))
    if compute_right_eigenvectors:
        outs.append(vr)
    return tuple(outs)


def _eye_stack(aval: ShapedArray) -> Any:
    return broadcast_in_dim(np.eye(aval.shape[-1]), aval.shape, (aval.ndim - 2, aval.ndim - 1))


# ------------------------------------------------------------------ custom_linear_solve

custom_linear_solve_p = Primitive("custom_linear_solve", multiple_results=True)


def _split_operands(args: Sequence[Any], counts: tuple[int, int, int]) -> list[list[Any]]:
    """Operands: matvec's constants, solve's, transpose_solve's, then b's leaves."""
    nm, ns, nt = counts
    return [list(args[:nm]), list(args[nm:nm + ns]), list(args[nm + ns:nm + ns + nt]),
            list(args[nm + ns + nt:])]


def _linear_solve_impl(*args: Any, matvec: ClosedJaxpr, solve: ClosedJaxpr,
                       transpose_solve: ClosedJaxpr | None, counts: tuple[int, int, int]
                       ) -> list[Any]:
    _, cs, _, b = _split_operands(args, counts)
    return solve(*cs, *b)


custom_linear_solve_p.def_impl(_linear_solve_impl)


@custom_linear_solve_p.def_abstract_eval
def _linear_solve_abstract_eval(*avals: ShapedArray, matvec: ClosedJaxpr, solve: ClosedJaxpr,
                                transpose_solve: ClosedJaxpr | None,
                                counts: tuple[int, int, int]) -> list[ShapedArray]:
    b = _split_operands(avals, counts)[3]
    for what, jaxpr in (("matvec", matvec), ("solve", solve)):
        if [(a.shape, a.dtype) for a in jaxpr.out_avals] != [(a.shape, a.dtype) for a in b]:
            raise ShapeError(f"{what} returns {jaxpr.out_avals}; b has {list(b)}: a linear "
                             "solve's operator and solution must match b's shapes and dtypes")
    return list(b)


@custom_linear_solve_p.def_jvp
def _linear_solve_jvp(primals: Sequence[Any], tangents: Sequence[Any], **params: Any):
    """Implicit differentiation of A x = b: dx = A^-1 (db - dA x), where dA x is matvec's
    derivative in its constants at fixed x; the solver's own constants have no influence
    on the solution, as in JAX."""
    from fnad.interpreters.jvp import instantiate, jvp_flat
    x = custom_linear_solve_p.bind(*primals, **params)
    cm, _, _, b = _split_operands(primals, params["counts"])
    tm, _, _, tb = _split_operands(tangents, params["counts"])
    rhs = [None if type(t) is Zero else t for t in tb]
    if any(type(t) is not Zero for t in tm):
        matvec = params["matvec"]
        _, dax = jvp_flat(lambda *c: matvec(*c, *x), cm, tm)
        rhs = [r if type(d) is Zero else neg(d) if r is None else sub(r, d)
               for r, d in zip(rhs, dax)]
    if all(r is None for r in rhs):
        return x, [Zero(get_aval(v)) for v in x]
    rhs = [instantiate(Zero(get_aval(v))) if r is None else r for r, v in zip(rhs, b)]
    n = len(primals) - len(b)
    return x, custom_linear_solve_p.bind(*primals[:n], *rhs, **params)


@custom_linear_solve_p.def_transpose
def _linear_solve_transpose(cts: Sequence[Any], *args: Any, matvec: ClosedJaxpr,
                            solve: ClosedJaxpr, transpose_solve: ClosedJaxpr | None,
                            counts: tuple[int, int, int]) -> list[Any]:
    """x = A^-1 b is linear in b; its transpose solves with A^T: transpose_solve with the
    transposed matvec (whose own transpose is matvec again)."""
    from fnad.interpreters.jvp import instantiate
    from fnad.interpreters.transpose import transpose_jaxpr
    cm, cs, ct, b = _split_operands(args, counts)
    if any(is_undefined(c) for c in cm + cs + ct):
        raise ArgumentTypeError("custom_linear_solve is linear only in b")
    if transpose_solve is None:
        raise TransformError("custom_linear_solve: reverse-mode differentiation needs "
                             "transpose_solve (or symmetric=True for a symmetric operator)")
    nm = len(cm)
    vecmat = transpose_jaxpr(matvec, [False] * nm + [True] * len(b))
    cts = [instantiate(c, x.aval) if type(c) is Zero else c for c, x in zip(cts, b)]
    out = custom_linear_solve_p.bind(*cm, *ct, *cs, *cts, matvec=vecmat,
                                     solve=transpose_solve, transpose_solve=solve,
                                     counts=(nm, len(ct), len(cs)))
    return [None] * (len(args) - len(b)) + list(out)


@custom_linear_solve_p.def_batch
def _linear_solve_batch(axis_size: int, vals: Sequence[Any], dims: Sequence[Any], *,
                        matvec: ClosedJaxpr, solve: ClosedJaxpr,
                        transpose_solve: ClosedJaxpr | None, counts: tuple[int, int, int]):
    """Every operand batched at axis 0 (unbatched ones broadcast), and each jaxpr batched
    alike: the solver then runs once on the whole batch."""
    from fnad.interpreters.batching import batch_jaxpr
    vals = _front(vals, dims, axis_size)
    nm, ns, nt = counts
    nb = len(vals) - nm - ns - nt

    def batched(jaxpr: ClosedJaxpr | None, nconsts: int) -> ClosedJaxpr | None:
        if jaxpr is None:
            return None
        return batch_jaxpr(jaxpr, axis_size, [0] * (nconsts + nb), force_batched=True)[0]

    out = custom_linear_solve_p.bind(*vals, matvec=batched(matvec, nm),
                                     solve=batched(solve, ns),
                                     transpose_solve=batched(transpose_solve, nt),
                                     counts=counts)
    return out, [0] * len(out)


custom_linear_solve_p.kernel = LibraryCall()  # the jit runs the impl: the solve jaxpr


def custom_linear_solve(matvec: Any, b: Any, solve: Any, transpose_solve: Any = None,
                        symmetric: bool = False, has_aux: bool = False) -> Any:
    """x = solve(matvec, b), differentiated as the solution of the linear system
    matvec(x) = b (implicitly, not through the solver's iterations), as JAX's: forward mode
    solves again with the tangent right-hand side; reverse mode calls
    `transpose_solve(vecmat, ct)` (`solve` when `symmetric`). `b` may be a pytree.

    >>> a = np.array([[2.0, 0.0], [0.0, 4.0]])
    >>> custom_linear_solve(lambda x: a @ x, np.array([2.0, 4.0]),
    ...                     lambda mv, b: b / np.diag(a))
    array([1., 1.])
    """
    from fnad import tree as tree_util
    from fnad.interpreters.staging import trace_to_jaxpr
    from fnad.interpreters.transpose import transpose_jaxpr
    if has_aux:  # the solver's auxiliary output, not differentiated (as in JAX)
        from fnad.lax.custom import stop_gradient
        aux = tree_util.tree_map(stop_gradient, solve(matvec, b)[1])
        x = custom_linear_solve(matvec, b, lambda mv, r: solve(mv, r)[0],
                                None if transpose_solve is None else
                                lambda vm, r: transpose_solve(vm, r)[0], symmetric)
        return x, aux
    leaves, tree = tree_util.tree_flatten(b)
    avals = [get_aval(x) for x in leaves]

    def flat(fn: Any) -> Any:
        def f(*xs: Any) -> list[Any]:
            out, out_tree = tree_util.tree_flatten(fn(tree_util.tree_unflatten(tree, list(xs))))
            if out_tree != tree:
                raise TransformError(f"custom_linear_solve: a function returned structure "
                                     f"{out_tree}; b has {tree}")
            return out
        return f

    def closed(fn: Any) -> tuple[ClosedJaxpr, list[Any]]:
        """Closure-converted: the constants become leading inputs."""
        c = trace_to_jaxpr(flat(fn), avals)
        j = c.jaxpr
        return ClosedJaxpr(Jaxpr([], j.constvars + j.invars, j.eqns, j.outvars), []), c.consts

    matvec_j, cm = closed(matvec)
    solve_j, cs = closed(lambda rhs: solve(matvec, rhs))
    if symmetric:
        transpose_j, ct = solve_j, cs
    elif transpose_solve is None:
        transpose_j, ct = None, []
    else:
        vecmat_j = transpose_jaxpr(matvec_j, [False] * len(cm) + [True] * len(leaves))

        def vecmat(y: Any) -> Any:
            ys = tree_util.tree_leaves(y)
            return tree_util.tree_unflatten(tree, vecmat_j(*cm, *ys))

        transpose_j, ct = closed(lambda rhs: transpose_solve(vecmat, rhs))
    out = custom_linear_solve_p.bind(*cm, *cs, *ct, *leaves, matvec=matvec_j, solve=solve_j,
                                     transpose_solve=transpose_j,
                                     counts=(len(cm), len(cs), len(ct)))
    return tree_util.tree_unflatten(tree, out)


__all__ = ["cholesky", "custom_linear_solve", "eig", "eigh", "lu", "qr", "svd",
           "triangular_solve"]
