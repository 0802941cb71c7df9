"""`fnad.scipy.sparse.linalg`: the iterative solvers JAX has (`cg`, `bicgstab`, `gmres`).
The operator `A` is a function (or a square matrix, or anything with `@`) and `b` any
pytree of arrays; the iteration runs on one flat vector inside `lax.while_loop`, so it
jits and vmaps, and `lax.custom_linear_solve` differentiates the solution implicitly (a
second solve with the transposed operator), not through the iterations.

Tolerances are SciPy's non-legacy ones: stop when norm(residual) <= max(tol * norm(b),
atol), or after `maxiter` iterations (by default 10 times the size of b)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

import fnad.numpy as fnp
from fnad import lax, tree
from fnad.core.errors import ArgumentError, ArgumentTypeError, ShapeError, user_line
from fnad.core.ir import get_aval
from fnad.numpy._core import result_type
from fnad.scipy._util import quiet_all


def _operator(name: str, op: Any, what: str) -> Callable[[Any], Any]:
    """A function computing op(x): `op` itself, a square matrix's product or `op @ x`."""
    if callable(op):
        return op
    if isinstance(op, (list, tuple, np.ndarray, np.generic)):
        op = fnp.asarray(op)
    if not hasattr(op, "__matmul__"):
        raise ArgumentTypeError(f"{name}: {what} must be a function, a square matrix or an "
                                f"object with @, got {type(op).__name__}")
    shape = tuple(getattr(op, "shape", ()))
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ShapeError(f"{name}: {what} must be a square matrix, a function or an object "
                         f"with @, got shape {shape}{user_line()}")
    if isinstance(op, np.ndarray):  # fnad's matmul takes it to the operand's device
        return lambda x: fnp.matmul(op, x)
    return lambda x: op @ x


class _Flat:
    """The leaves of a pytree like `b` as one vector of their common inexact dtype, and
    back: the solvers iterate on vectors."""

    def __init__(self, b: Any) -> None:
        leaves, self.tree = tree.tree_flatten(b)
        leaves = [fnp.asarray(x) for x in leaves]
        if not leaves:
            raise ArgumentError("iterative solver: b has no arrays")
        self.avals = [get_aval(x) for x in leaves]
        dtype = result_type(*leaves)
        self.dtype = dtype if dtype.kind in "fc" else np.dtype(np.float32)
        self.size = sum(math.prod(a.shape) for a in self.avals)

    def ravel(self, t: Any) -> Any:
        return fnp.concatenate([fnp.ravel(fnp.asarray(x)).astype(self.dtype)
                                for x in tree.tree_leaves(t)])

    def unravel(self, v: Any, cast: bool = False) -> Any:
        out, start = [], 0
        for a in self.avals:
            n = math.prod(a.shape)
            leaf = v[start:start + n].reshape(a.shape)
            out.append(leaf.astype(a.dtype) if cast and a.dtype.kind in "fc" else leaf)
            start += n
        return tree.tree_unflatten(self.tree, out)

    def wrap(self, fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """`fn` on pytrees as a function on vectors."""
        return lambda v: self.ravel(fn(self.unravel(v)))


def _norm2(x: Any) -> Any:
    """|x|^2, real."""
    return fnp.real(fnp.vdot(x, x))


def _prepare(name: str, A: Any, b: Any, x0: Any, M: Any, maxiter: int | None
             ) -> tuple[_Flat, Callable[[Any], Any], Callable[[Any], Any] | None, Any, int]:
    """The flattener of b, A and M on vectors (M None for no preconditioner), the flat
    initial guess and the iteration limit; x0 must match b's structure and shapes."""
    flat = _Flat(b)
    if x0 is not None:
        if tree.tree_structure(x0) != flat.tree:
            raise ShapeError(f"{name}: x0 and b must have matching tree structure: "
                             f"{tree.tree_structure(x0)} vs {flat.tree}{user_line()}")
        shapes = [get_aval(fnp.asarray(x)).shape for x in tree.tree_leaves(x0)]
        if shapes != [a.shape for a in flat.avals]:
            raise ShapeError(f"{name}: arrays in x0 and b must have matching shapes: {shapes} "
                             f"vs {[a.shape for a in flat.avals]}{user_line()}")
        start = flat.ravel(x0)
    else:
        start = fnp.zeros(flat.size, flat.dtype)
    matvec = flat.wrap(_operator(name, A, "A"))
    precondition = None if M is None else flat.wrap(_operator(name, M, "M"))
    limit = 10 * flat.size if maxiter is None else _count(name, "maxiter", maxiter)
    return flat, matvec, precondition, start, limit


def _count(name: str, what: str, value: Any) -> int:
    """`value` as an int (an iteration count), or an `ArgumentTypeError` naming `what`."""
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ArgumentTypeError(f"{name}: {what} must be an integer, got {value!r}") from None


def _threshold(b: Any, tol: Any, atol: Any) -> Any:
    """max(tol * |b|, atol), squared."""
    return fnp.maximum(tol * tol * _norm2(b), atol * atol)


def _cg_solve(matvec: Any, b: Any, x0: Any, tol: Any, atol: Any, maxiter: int,
              precondition: Any) -> Any:
    """Preconditioned conjugate gradients (A Hermitian positive definite)."""
    m = precondition or (lambda v: v)
    limit = _threshold(b, tol, atol)
    r = b - matvec(x0)
    z = m(r)
    rz = fnp.real(fnp.vdot(r, z))

    def keep_going(state: Any) -> Any:
        _, r, _, rz, k = state
        return ((rz if precondition is None else _norm2(r)) > limit) & (k < maxiter)

    def step(state: Any) -> Any:
        x, r, p, rz, k = state
        ap = matvec(p)
        alpha = rz / fnp.real(fnp.vdot(p, ap))
        x, r = x + alpha * p, r - alpha * ap
        z = m(r)
        rz_next = fnp.real(fnp.vdot(r, z))
        return x, r, z + (rz_next / rz) * p, rz_next, k + 1

    return lax.while_loop(keep_going, step, (x0, r, z, rz, 0))[0]


def _bicgstab_solve(matvec: Any, b: Any, x0: Any, tol: Any, atol: Any, maxiter: int,
                    precondition: Any) -> Any:
    """Preconditioned BiCGSTAB; a breakdown (a zero rho, alpha or omega) stops it."""
    m = precondition or (lambda v: v)
    limit = _threshold(b, tol, atol)
    r = b - matvec(x0)
    one = fnp.ones((), get_aval(r).dtype)
    zero = fnp.zeros_like(r)

    def keep_going(state: Any) -> Any:
        _, r, *_, k = state
        return (_norm2(r) > limit) & (k < maxiter) & (k >= 0)

    def step(state: Any) -> Any:
        x, r, rhat, rho, alpha, omega, p, v, k = state
        rho_next = fnp.vdot(rhat, r)
        p = r + (rho_next / rho) * (alpha / omega) * (p - omega * v)
        phat = m(p)
        v = matvec(phat)
        alpha = rho_next / fnp.vdot(rhat, v)
        s = r - alpha * v
        done = _norm2(s) < limit
        shat = m(s)
        t = matvec(shat)
        omega = fnp.vdot(t, s) / fnp.vdot(t, t)
        x = fnp.where(done, x + alpha * phat, x + alpha * phat + omega * shat)
        r = fnp.where(done, s, s - omega * t)
        broken = (rho_next == 0) | (alpha == 0) | (omega == 0)
        return x, r, rhat, rho_next, alpha, omega, p, v, fnp.where(broken, -1, k + 1)

    return lax.while_loop(keep_going, step, (x0, r, r, one, one, one, zero, zero, 0))[0]


def _unit(v: Any) -> tuple[Any, Any]:
    """v / |v| and |v|, the vector 0 (not NaN) when |v| is 0."""
    n = fnp.sqrt(_norm2(v))
    return v / fnp.where(n > 0, n, 1).astype(get_aval(v).dtype), n


def _gmres_cycle(matvec: Any, m: Any, x: Any, r: Any, restart: int) -> Any:
    """x improved by one GMRES cycle: the Krylov basis of M A from the preconditioned
    residual `r` by Arnoldi (Gram-Schmidt done twice), then the least-squares correction."""
    dtype = get_aval(x).dtype
    q0, beta = _unit(r)
    basis = fnp.at(fnp.zeros((restart + 1, get_aval(x).shape[0]), dtype))[0].set(q0)
    hess = fnp.zeros((restart + 1, restart), dtype)

    def arnoldi(j: Any, carry: Any) -> Any:
        basis, hess = carry
        w = m(matvec(basis[j]))
        h = fnp.conj(basis) @ w
        w = w - h @ basis
        h2 = fnp.conj(basis) @ w
        w, h = w - h2 @ basis, h + h2
        q, norm = _unit(w)
        h = fnp.at(h)[j + 1].set(norm.astype(dtype))
        return fnp.at(basis)[j + 1].set(q), fnp.at(hess)[:, j].set(h)

    basis, hess = lax.fori_loop(0, restart, arnoldi, (basis, hess))
    rhs = fnp.zeros(restart + 1, dtype)
    rhs = fnp.at(rhs)[0].set(beta.astype(dtype))
    y = fnp.linalg.lstsq(hess, rhs)[0]
    return x + y @ basis[:restart]


def _gmres_solve(matvec: Any, b: Any, x0: Any, tol: Any, atol: Any, maxiter: int,
                 precondition: Any, restart: int) -> Any:
    """Restarted GMRES, stopping on the preconditioned residual scaled to the tolerance;
    a cycle has at most `restart` steps, and at most the size of b."""
    m = precondition or (lambda v: v)
    restart = max(1, min(restart, get_aval(b).shape[0]))
    b_norm = fnp.sqrt(_norm2(b))
    target = fnp.maximum(tol * b_norm, atol)
    # the tolerance moved to the preconditioned residual, as JAX and SciPy
    ptol = fnp.sqrt(_norm2(m(b))) * fnp.minimum(1.0, target / fnp.where(b_norm > 0, b_norm, 1))

    def keep_going(state: Any) -> Any:
        _, r, k = state
        return (fnp.sqrt(_norm2(r)) > ptol) & (k < maxiter)

    def step(state: Any) -> Any:
        x, r, k = state
        x = _gmres_cycle(matvec, m, x, r, restart)
        return x, m(b - matvec(x)), k + 1

    return lax.while_loop(keep_going, step, (x0, m(b - matvec(x0)), 0))[0]


def _solve(name: str, method: Any, A: Any, b: Any, x0: Any, tol: Any, atol: Any,
           maxiter: int | None, M: Any, symmetric: bool, **extra: Any) -> Any:
    flat, matvec, precondition, start, limit = _prepare(name, A, b, x0, M, maxiter)

    def solve(mv: Any, rhs: Any) -> Any:
        return method(mv, rhs, start, tol, atol, limit, precondition, **extra)

    x = lax.custom_linear_solve(matvec, flat.ravel(b), solve, transpose_solve=solve,
                                symmetric=symmetric and flat.dtype.kind == "f")
    return flat.unravel(x, cast=True)


def cg(A: Any, b: Any, x0: Any = None, *, tol: float = 1e-5, atol: float = 0.0,
       maxiter: int | None = None, M: Any = None) -> tuple[Any, None]:
    """Solve A x = b for a Hermitian positive definite A by conjugate gradients, as
    `scipy.sparse.linalg.cg` in JAX's form: `(x, None)` (no convergence info, as JAX); `M`
    is a preconditioner approximating the inverse of A."""
    return _solve("cg", _cg_solve, A, b, x0, tol, atol, maxiter, M, symmetric=True), None


def bicgstab(A: Any, b: Any, x0: Any = None, *, tol: float = 1e-5, atol: float = 0.0,
             maxiter: int | None = None, M: Any = None) -> tuple[Any, None]:
    """Solve A x = b for a general A by BiCGSTAB, as `scipy.sparse.linalg.bicgstab` in
    JAX's form: `(x, None)`."""
    return _solve("bicgstab", _bicgstab_solve, A, b, x0, tol, atol, maxiter, M,
                  symmetric=False), None


def gmres(A: Any, b: Any, x0: Any = None, *, tol: float = 1e-5, atol: float = 0.0,
          restart: int = 20, maxiter: int | None = None, M: Any = None,
          solve_method: str = "batched") -> tuple[Any, Any]:
    """Solve A x = b for a general A by GMRES restarted every `restart` steps (at most
    `maxiter` cycles), as `scipy.sparse.linalg.gmres` in JAX's form: `(x, info)`, info -1
    when x has a NaN and 0 otherwise. Both of JAX's `solve_method`s ('batched',
    'incremental') are accepted and solve the same least-squares problem per cycle."""
    if solve_method not in ("batched", "incremental"):
        raise ArgumentError(f"gmres: solve_method must be 'incremental' or 'batched', got "
                            f"{solve_method!r}")
    x = _solve("gmres", _gmres_solve, A, b, x0, tol, atol, maxiter, M, symmetric=False,
               restart=_count("gmres", "restart", restart))
    failed = sum(fnp.isnan(leaf).any() for leaf in tree.tree_leaves(x))
    return x, fnp.where(failed, -1, 0)


__all__ = ["bicgstab", "cg", "gmres"]

quiet_all(globals(), __all__)
