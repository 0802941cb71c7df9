"""jax.scipy.optimize: `minimize` of a function of a vector, by BFGS or JAX's experimental
L-BFGS, each one `while_loop` (so it runs under `jit` and `vmap`), with gradients by
reverse mode and a line search enforcing the strong Wolfe conditions (Nocedal & Wright,
Numerical Optimization, algorithms 3.5, 3.6, 6.1 and 7.5).

An iteration whose line search fails leaves `x` where it was and stops the loop with
`success=False` and the reason in `status`: the last point returned is always one the
function was evaluated at and decreased to, never a guess.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np

import fnad.numpy as fnp
from fnad.api import value_and_grad
from fnad.core.errors import ArgumentError, ArgumentTypeError, DTypeError, ShapeError
from fnad.lax.control_flow import while_loop


class OptimizeResults(NamedTuple):
    """What `minimize` found. `status`: 0 converged (the gradient's norm below gtol),
    1 iteration limit, for BFGS 3 line search failed to narrow its interval, 4 not a
    descent direction, 5 line search iteration limit; for L-BFGS 2 function evaluation
    limit, 3 gradient evaluation limit, 4 decrease below ftol, 5 line search failed."""

    x: Any
    success: Any
    status: Any
    fun: Any
    jac: Any
    hess_inv: Any
    nfev: Any
    njev: Any
    nit: Any


def minimize(fun: Callable[..., Any], x0: Any, args: tuple = (), *, method: str,
             tol: float | None = None, options: Mapping[str, Any] | None = None
             ) -> OptimizeResults:
    """Minimize `fun(x, *args)` (a real scalar) over the vector `x`, from `x0` (shape (n,)).

    `method`: "BFGS", or "l-bfgs-experimental-do-not-rely-on-this" (JAX's name).
    `options`: for BFGS `maxiter` (200 n), `norm` (inf), `gtol` (1e-5),
    `line_search_maxiter` (10); for L-BFGS `maxiter`, `norm`, `maxcor` (10), `ftol`,
    `gtol`, `maxfun`, `maxgrad`, `maxls` (20). `tol` is SciPy's: the gradient tolerance
    `gtol` when options give none (JAX accepts it and does not use it).

    >>> import numpy as np
    >>> r = minimize(lambda x: ((x - 3.0) ** 2).sum(), np.zeros(2), method="BFGS")
    >>> np.round(np.asarray(r.x), 4).tolist(), bool(r.success)
    ([3.0, 3.0], True)
    """
    if not isinstance(args, tuple):
        raise ArgumentTypeError(f"minimize: args must be a tuple, got {type(args).__name__}")
    x0 = fnp.asarray(x0)
    if x0.ndim != 1:
        raise ShapeError(f"minimize: x0 must be a vector of shape (n,), got shape "
                         f"{tuple(x0.shape)}; optimize x0.ravel() and reshape it inside fun")
    if x0.dtype.kind != "f":
        raise DTypeError(f"minimize: x0 must be a real floating array, got {x0.dtype}; "
                         "pass x0.astype(float32) (or float64), or minimize over the real "
                         "and imaginary parts of a complex variable")
    options = dict(options or {})
    if tol is not None:
        options.setdefault("gtol", tol)
    solver = _SOLVERS.get(method.lower() if isinstance(method, str) else None)
    if solver is None:
        raise ArgumentError(f"minimize: method {method!r} not recognized; use 'BFGS' or "
                            "'l-bfgs-experimental-do-not-rely-on-this'")
    known = list(inspect.signature(solver).parameters)[2:]
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ArgumentTypeError(f"minimize: unknown options {unknown} for method {method!r}; "
                                f"it takes {known}")
    return solver(value_and_grad(lambda x: fun(x, *args)), x0, **options)


# ---------------------------------------------------------------------------- line search

class _Search(NamedTuple):
    """The line search's loop state: trials made; phase 0 brackets (doubling the step),
    phase 1 zooms into [lo, hi]; the point found (`a`, `phi`, `g`) once `done`."""

    i: Any
    zooming: Any
    done: Any
    failed: Any
    a_prev: Any
    phi_prev: Any
    dphi_prev: Any
    a_next: Any
    lo: Any
    phi_lo: Any
    dphi_lo: Any
    hi: Any
    phi_hi: Any
    dphi_hi: Any
    a: Any
    phi: Any
    g: Any


def _cubic_step(lo: Any, phi_lo: Any, dphi_lo: Any, hi: Any, phi_hi: Any, dphi_hi: Any
                ) -> Any:
    """The minimizer of the cubic matching phi and phi' at lo and hi, kept inside the
    middle 80% of the interval; the midpoint where the cubic has no such minimizer."""
    d1 = dphi_lo + dphi_hi - 3 * (phi_lo - phi_hi) / (lo - hi)
    radicand = d1 * d1 - dphi_lo * dphi_hi
    d2 = fnp.sign(hi - lo) * fnp.sqrt(fnp.maximum(radicand, 0))
    a = hi - (hi - lo) * (dphi_hi + d2 - d1) / (dphi_hi - dphi_lo + 2 * d2)
    left, right = fnp.minimum(lo, hi), fnp.maximum(lo, hi)
    margin = 0.1 * (right - left)
    inside = (radicand >= 0) & (a >= left + margin) & (a <= right - margin)
    return fnp.where(inside & fnp.isfinite(a), a, (lo + hi) / 2)


def _line_search(f: Callable[[Any], Any], x: Any, p: Any, phi0: Any, g0: Any, start: Any,
                 maxiter: int, c1: float = 1e-4, c2: float = 0.9) -> tuple[Any, ...]:
    """(step, phi, gradient, evaluations, failed, status) of a step along `p` meeting the
    strong Wolfe conditions. status: 0 found, 1 the zoom interval collapsed, 2 `p` is
    not a descent direction, 3 `maxiter` trials made. A failed search returns step 0."""
    dphi0 = fnp.dot(g0, p)
    zero = fnp.zeros_like(phi0)

    def cond(s: _Search) -> Any:
        return ~s.done & ~s.failed & (s.i < maxiter)

    def body(s: _Search) -> _Search:
        a = fnp.where(s.zooming, _cubic_step(s.lo, s.phi_lo, s.dphi_lo, s.hi, s.phi_hi,
                                             s.dphi_hi), s.a_next)
        phi, g = f(x + a * p)
        dphi = fnp.dot(g, p)
        too_far = ~fnp.isfinite(phi) | (phi > phi0 + c1 * a * dphi0)
        flat_enough = fnp.abs(dphi) <= -c2 * dphi0
        # bracketing: the interval is [prev, a] or [a, prev], or the step doubles
        past_min = too_far | ((s.i > 0) & (phi >= s.phi_prev))
        bracket_done = ~past_min & flat_enough
        uphill = ~past_min & ~flat_enough & (dphi >= 0)
        # zooming: a replaces hi, or lo (hi moving to the old lo when a overshoots)
        new_hi = too_far | (phi >= s.phi_lo)
        zoom_done = ~new_hi & flat_enough
        swap = ~new_hi & ~flat_enough & (dphi * (s.hi - s.lo) >= 0)

        def pick(bracket_a: Any, bracket_b: Any, zoom_value: Any) -> Any:
            return fnp.where(s.zooming, zoom_value, fnp.where(past_min, bracket_a, bracket_b))

        lo = (pick(s.a_prev, a, fnp.where(new_hi, s.lo, a)),
              pick(s.phi_prev, phi, fnp.where(new_hi, s.phi_lo, phi)),
              pick(s.dphi_prev, dphi, fnp.where(new_hi, s.dphi_lo, dphi)))
        hi = (pick(a, s.a_prev, fnp.where(new_hi, a, fnp.where(swap, s.lo, s.hi))),
              pick(phi, s.phi_prev, fnp.where(new_hi, phi, fnp.where(swap, s.phi_lo, s.phi_hi))),
              pick(dphi, s.dphi_prev, fnp.where(new_hi, dphi,
                                                fnp.where(swap, s.dphi_lo, s.dphi_hi))))
        done = fnp.where(s.zooming, zoom_done, bracket_done)
        zooming = s.zooming | past_min | uphill
        width = fnp.abs(hi[0] - lo[0])
        collapsed = zooming & ~done & (width <= 1e-10 * fnp.maximum(1.0, fnp.abs(lo[0])))
        return _Search(
            s.i + 1, zooming, done, collapsed, a, phi, dphi, 2 * a, *lo, *hi,
            fnp.where(done, a, s.a), fnp.where(done, phi, s.phi),
            fnp.where(done, g, s.g))

    s = while_loop(cond, body, _Search(
        fnp.int32(0), fnp.asarray(False), fnp.asarray(False), dphi0 >= 0, zero, phi0, dphi0,
        start, zero, phi0, dphi0, zero, phi0, dphi0, zero, phi0, g0))
    status = fnp.where(dphi0 >= 0, 2, fnp.where(s.failed, 1, fnp.where(s.done, 0, 3)))
    return s.a, s.phi, s.g, s.i, ~s.done, status


# ---------------------------------------------------------------------------- BFGS

class _BFGS(NamedTuple):
    k: Any
    converged: Any
    failed: Any
    nfev: Any
    x: Any
    f: Any
    g: Any
    h: Any
    f_before: Any
    status: Any


def _bfgs(f: Callable[[Any], Any], x0: Any, maxiter: int | None = None, norm: Any = np.inf,
          gtol: float = 1e-5, line_search_maxiter: int = 10) -> OptimizeResults:
    """Algorithm 6.1: the inverse Hessian estimate H starts at the identity and takes each
    step's curvature pair (s, y) by H <- (I - r s y')H(I - r y s') + r s s', r = 1/(y's)."""
    maxiter = 200 * x0.size if maxiter is None else maxiter
    eye = fnp.eye(x0.shape[0], dtype=x0.dtype)
    f0, g0 = f(x0)

    def cond(s: _BFGS) -> Any:
        return ~s.converged & ~s.failed & (s.k < maxiter)

    def body(s: _BFGS) -> _BFGS:
        p = -(s.h @ s.g)
        dphi0 = fnp.dot(s.g, p)
        guess = 1.01 * 2 * (s.f - s.f_before) / dphi0  # SciPy's first step
        start = fnp.where((guess > 0) & (guess < 1), guess, fnp.ones_like(guess))
        a, f1, g1, nfev, failed, status = _line_search(f, s.x, p, s.f, s.g, start,
                                                       line_search_maxiter)
        step = a * p
        y = g1 - s.g
        r = 1 / fnp.dot(y, step)
        w = eye - r * fnp.outer(step, y)
        h = fnp.where(fnp.isfinite(r) & ~failed, w @ s.h @ w.T + r * fnp.outer(step, step),
                      s.h)
        x1 = s.x + step
        return _BFGS(s.k + 1, fnp.linalg.norm(g1, ord=norm) < gtol, failed, s.nfev + nfev,
                     x1, f1, g1, h, s.f, fnp.where(failed, 2 + status, 0))

    s = while_loop(cond, body, _BFGS(
        fnp.int32(0), fnp.linalg.norm(g0, ord=norm) < gtol, fnp.asarray(False), fnp.int32(1),
        x0, f0, g0, eye, f0 + fnp.linalg.norm(g0) / 2, fnp.int32(0)))
    status = fnp.where(s.converged, 0, fnp.where(s.failed, s.status,
                                                 fnp.where(s.k >= maxiter, 1, -1)))
    return OptimizeResults(s.x, s.converged & ~s.failed, status, s.f, s.g, s.h, s.nfev,
                           s.nfev, s.k)


# ---------------------------------------------------------------------------- L-BFGS

class _LBFGS(NamedTuple):
    k: Any
    nfev: Any
    stop: Any
    status: Any
    x: Any
    f: Any
    g: Any
    s_hist: Any
    y_hist: Any
    rho_hist: Any
    gamma: Any


def _lbfgs(f: Callable[[Any], Any], x0: Any, maxiter: int | None = None, norm: Any = np.inf,
           maxcor: int = 10, ftol: float = 2.220446049250313e-09, gtol: float = 1e-5,
           maxfun: int | None = None, maxgrad: int | None = None, maxls: int = 20
           ) -> OptimizeResults:
    """Algorithm 7.5: the direction from the last `maxcor` curvature pairs by the two-loop
    recursion, newest last in the history (pairs with y's <= 0 are not kept)."""
    if maxiter is None and maxfun is None and maxgrad is None:
        maxiter = 200 * x0.size
    limits = [np.inf if v is None else v for v in (maxiter, maxfun, maxgrad)]
    n, dtype = x0.shape[0], x0.dtype
    f0, g0 = f(x0)

    def direction(s: _LBFGS) -> Any:
        q, alphas = -s.g, []
        for i in reversed(range(maxcor)):  # unfilled pairs are zeros: no effect
            alpha = s.rho_hist[i] * fnp.dot(s.s_hist[i], q)
            q = q - alpha * s.y_hist[i]
            alphas.append(alpha)
        q = s.gamma * q
        for i, alpha in zip(range(maxcor), reversed(alphas)):
            beta = s.rho_hist[i] * fnp.dot(s.y_hist[i], q)
            q = q + (alpha - beta) * s.s_hist[i]
        return q

    def body(s: _LBFGS) -> _LBFGS:
        p = direction(s)
        a, f1, g1, nfev, failed, _ = _line_search(f, s.x, p, s.f, s.g, fnp.ones_like(s.f),
                                                  maxls)
        step = a * p
        y = g1 - s.g
        sy = fnp.dot(step, y)
        keep = (sy > 0) & fnp.isfinite(sy)

        def push(hist: Any, new: Any) -> Any:
            return fnp.where(keep, fnp.concatenate([hist[1:], new[None]]), hist)

        k, total = s.k + 1, s.nfev + nfev
        converged = fnp.linalg.norm(g1, ord=norm) < gtol
        status = fnp.where(failed, 5, fnp.where(k >= limits[0], 1, fnp.where(
            total >= limits[1], 2, fnp.where(total >= limits[2], 3,
                                             fnp.where(s.f - f1 < ftol, 4, 0)))))
        status = fnp.where(converged, 0, status)
        return _LBFGS(k, total, converged | (status > 0), status, s.x + step, f1, g1,
                      push(s.s_hist, step), push(s.y_hist, y),
                      push(s.rho_hist, 1 / fnp.where(keep, sy, 1)),
                      fnp.where(keep, sy / fnp.dot(y, y), s.gamma))

    converged0 = fnp.linalg.norm(g0, ord=norm) < gtol
    status0 = fnp.where(~converged0 & (limits[0] <= 0), 1, 0).astype(np.int32)
    s = while_loop(lambda s: ~s.stop, body, _LBFGS(
        fnp.int32(0), fnp.int32(1), converged0 | (status0 > 0), status0, x0, f0,
        g0, fnp.zeros((maxcor, n), dtype), fnp.zeros((maxcor, n), dtype),
        fnp.zeros((maxcor,), dtype), fnp.ones((), dtype)))
    success = s.status == 0
    return OptimizeResults(s.x, success, s.status, s.f, s.g, None, s.nfev, s.nfev, s.k)


_SOLVERS = {"bfgs": _bfgs, "l-bfgs-experimental-do-not-rely-on-this": _lbfgs}

__all__ = ["OptimizeResults", "minimize"]
