"""fnad.scipy.integrate: JAX's `jax.scipy.integrate` (`trapezoid`), and `odeint`, the
adaptive ODE solver JAX keeps in `jax.experimental.ode`, with SciPy's signature (as HIPS
autograd's `autograd.scipy.integrate.odeint` has it).

`odeint` steps Dormand and Prince's explicit Runge-Kutta 5(4) pair with error control and
lands on every requested time. Its reverse derivative is the adjoint method: the adjoint
ODE solved backward by the same solver, so derivatives of any order exist (the backward
pass is itself an `odeint`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import fnad.numpy as fnp
from fnad import lax, tree as tree_util
from fnad.core.errors import ArgumentError, DTypeError, ShapeError
from fnad.core.ir import ShapedArray, eval_jaxpr, get_aval
from fnad.core.trace import Tracer
from fnad.interpreters.jvp import instantiate
from fnad.interpreters.partial_eval import linearize_flat
from fnad.interpreters.transpose import pull_back
from fnad.lax.custom import _closure_converted, custom_vjp
from fnad.numpy import trapezoid
from fnad.scipy._util import _quiet

# Dormand and Prince's 5(4) pair: the stage nodes and coefficients, the 5th-order weights,
# and the 5th- minus the embedded 4th-order weights over the stages and f(y1) (the local
# error estimate)
_NODES = (1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0)
_STAGES = ((1 / 5,), (3 / 40, 9 / 40), (44 / 45, -56 / 15, 32 / 9),
           (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
           (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656))
_WEIGHTS = (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84)
_ERROR = (35 / 384 - 5179 / 57600, 0.0, 500 / 1113 - 7571 / 16695, 125 / 192 - 393 / 640,
          -2187 / 6784 + 92097 / 339200, 11 / 84 - 187 / 2100, -1 / 40)

Dynamics = Callable[..., Any]  # (y, s, *params) -> dy/ds, on flat vectors


def _combine(y: Any, h: Any, coefficients: Sequence[float], ks: Sequence[Any]) -> Any:
    out = y
    for c, k in zip(coefficients, ks):
        if c:
            out = out + (h * c) * k
    return out


def _step(g: Dynamics, params: Sequence[Any], y: Any, f0: Any, s: Any, h: Any
          ) -> tuple[Any, Any, Any]:
    """One Dormand-Prince step of size h: (y at s + h, the slope there, the error estimate)."""
    ks = [f0]
    for node, row in zip(_NODES, _STAGES):
        ks.append(g(_combine(y, h, row, ks), s + node * h, *params))
    y1 = _combine(y, h, _WEIGHTS, ks)
    f1 = g(y1, s + h, *params)
    return y1, f1, _combine(fnp.zeros_like(y), h, _ERROR, [*ks, f1])


def _rms(x: Any) -> Any:
    return fnp.sqrt(fnp.mean(fnp.square(x)))


def _initial_step(g: Dynamics, params: Sequence[Any], y0: Any, f0: Any, s0: Any,
                  rtol: float, atol: float) -> Any:
    """A first step from the sizes of y0, its slope and their change along a tiny Euler step
    (Hairer, Norsett and Wanner's heuristic, for a 5th-order method)."""
    scale = atol + rtol * fnp.abs(y0)
    d0, d1 = _rms(y0 / scale), _rms(f0 / scale)
    h0 = fnp.where((d0 < 1e-5) | (d1 < 1e-5), 1e-6, 0.01 * d0 / d1)
    d2 = _rms((g(y0 + h0 * f0, s0 + h0, *params) - f0) / scale) / h0
    dmax = fnp.maximum(d1, d2)
    h1 = fnp.where(dmax <= 1e-15, fnp.maximum(1e-6, h0 * 1e-3), (0.01 / dmax) ** 0.2)
    return fnp.minimum(100 * h0, h1)


def _solve(g: Dynamics, params: Sequence[Any], y0: Any, ss: Any, rtol: float, atol: float,
           mxstep: float, hmax: float) -> Any:
    """y at each of the increasing times `ss` (the first one y0's) of dy/ds = g(y, s), shape
    (len(ss), y0.size); NaN from the interval where `mxstep` steps did not reach its end."""
    f0 = g(y0, ss[0], *params)
    h0 = _initial_step(g, params, y0, f0, ss[0], rtol, atol)

    def interval(carry: tuple, target: Any) -> tuple[tuple, Any]:
        def unfinished(c: tuple) -> Any:
            return (c[2] < target) & (c[4] < mxstep)

        def attempt(c: tuple) -> tuple:
            y, f, s, h, n = c
            h_try = fnp.minimum(fnp.minimum(h, target - s), hmax)
            last = h_try >= target - s
            y1, f1, err = _step(g, params, y, f, s, h_try)
            ratio = _rms(err / (atol + rtol * fnp.maximum(fnp.abs(y), fnp.abs(y1))))
            accept = ratio <= 1.0  # NaN (a blow-up) is rejected: the step shrinks
            factor = fnp.where(fnp.isnan(ratio), 0.2,
                               fnp.clip(0.9 * ratio ** -0.2, 0.2, 10.0))
            h_next = h_try * factor
            # a step cut short to land on the target says nothing against the longer one
            h_next = fnp.where(accept & last, fnp.maximum(h_next, h), h_next)
            s1 = fnp.where(accept, fnp.where(last, target, s + h_try), s)
            return (fnp.where(accept, y1, y), fnp.where(accept, f1, f), s1, h_next, n + 1)

        y, f, s, h, failed = carry
        y, f, s, h, _ = lax.while_loop(unfinished, attempt, (y, f, s, h, fnp.int32(0)))
        failed = failed | (s < target)
        return (y, f, s, h, failed), fnp.where(failed, fnp.nan, y)

    init = (y0, f0, ss[0], h0, fnp.asarray(False))
    _, ys = lax.scan(interval, init, ss[1:])
    return fnp.concatenate([y0[None], ys])


def _vjp(fn: Callable[..., Any], *primals: Any) -> tuple[Any, Callable[[Any], list[Any]]]:
    """fn's value at `primals` and its pullback (a cotangent per primal, zeros included)."""
    (out,), lin = linearize_flat(lambda *xs: [fn(*xs)], list(primals))

    def pullback(ct: Any) -> list[Any]:
        cts = pull_back(lin, [ct] if lin.out_mask[0] else [])
        return [instantiate(c) for c in cts]

    return out, pullback


# Both passes run fnad.numpy operators, which on eager arrays are NumPy's: quietly, so that a
# blow-up or a zero slope gives inf/NaN without NumPy's warnings (as primitives do)
@functools.partial(custom_vjp, nondiff_argnums=(0, 1, 2, 3, 4))
@_quiet
def _odeint(g: Dynamics, rtol: float, atol: float, mxstep: float, hmax: float, y0: Any,
            ts: Any, *params: Any) -> Any:
    """The solution at the times `ts` (monotonic, either way) of dy/dt = g(y, t, *params)."""
    direction = fnp.where(ts[-1] < ts[0], -1.0, 1.0).astype(ts.dtype)

    def forward(y: Any, s: Any, *ps: Any) -> Any:
        return direction * g(y, direction * s, *ps)

    return _solve(forward, params, y0, direction * ts, rtol, atol, mxstep, hmax)


def _odeint_fwd(g: Dynamics, rtol: float, atol: float, mxstep: float, hmax: float, y0: Any,
                ts: Any, *params: Any) -> tuple[Any, tuple]:
    ys = _odeint(g, rtol, atol, mxstep, hmax, y0, ts, *params)
    return ys, (ys, ts, params)


@_quiet
def _odeint_bwd(g: Dynamics, rtol: float, atol: float, mxstep: float, hmax: float,
                res: tuple, ct: Any) -> tuple:
    """The adjoint method: from each output time back to the one before, solve y, the
    adjoint a (da/dt = -a df/dy) and the parameters' cotangent (d/dt = -a df/dparams)
    together, adding each output's cotangent to a as it is reached."""
    ys, ts, params = res
    n = ys.shape[1]
    floats = [i for i, p in enumerate(params) if get_aval(p).dtype.kind in "fc"]
    sizes = [int(np.prod(get_aval(params[i]).shape)) for i in floats]

    def augmented(state: Any, t: Any, *ps: Any) -> Any:
        y, a = state[:n], state[n:2 * n]
        dy, pullback = _vjp(lambda y_, *fp: g(y_, t, *_with(ps, floats, fp)), y,
                            *(ps[i] for i in floats))
        ct_y, *ct_ps = pullback(a)
        return fnp.concatenate([dy, -ct_y, *(-fnp.ravel(c) for c in ct_ps)])

    def interval(carry: tuple, x: tuple) -> tuple[tuple, Any]:
        """From output time i back to i - 1 (a scan, so one body however many times)."""
        a, a_params = carry
        y_i, t_i, t_prev, ct_i, ct_prev = x
        state = fnp.concatenate([y_i, a, a_params])
        back = _odeint(augmented, rtol, atol, mxstep, hmax, state, fnp.stack([t_i, t_prev]),
                       *params)[-1]
        ct_t = fnp.vdot(ct_i, g(y_i, t_i, *params))
        return (back[n:2 * n] + ct_prev, back[2 * n:]), ct_t

    init = (ct[-1], fnp.zeros(sum(sizes), ys.dtype))
    (a, a_params), ct_later = lax.scan(interval, init, (ys[1:], ts[1:], ts[:-1], ct[1:],
                                                         ct[:-1]), reverse=True)
    ct_first = -fnp.vdot(a - ct[0], g(ys[0], ts[0], *params))
    ct_ts = [ct_first[None], ct_later]
    ct_params: list[Any] = [None] * len(params)
    offset = 0
    for i, size in zip(floats, sizes):
        ct_params[i] = a_params[offset:offset + size].reshape(get_aval(params[i]).shape)
        offset += size
    return (a, fnp.concatenate(ct_ts), *ct_params)


def _with(values: Sequence[Any], at: Sequence[int], replacements: Sequence[Any]) -> list[Any]:
    out = list(values)
    for i, r in zip(at, replacements):
        out[i] = r
    return out


_odeint.defvjp(_odeint_fwd, _odeint_bwd)


def odeint(func: Callable[..., Any], y0: Any, t: Any, args: tuple = (), *,
           rtol: float = 1.4e-8, atol: float = 1.4e-8, mxstep: float = 500,
           hmax: float = np.inf) -> Any:
    """Solve dy/dt = func(y, t, *args) from y(t[0]) = y0 and return y at each time of `t`
    (a leading axis of len(t) on every leaf of y0, which may be a pytree of float arrays).

    SciPy's signature (`func(y, t, ...)`, extra arguments in the tuple `args`); `t` is
    monotonic, increasing or decreasing. Steps are controlled to `rtol` and `atol` and
    capped at `hmax`; at most `mxstep` steps are taken per interval of `t`, after which the
    remaining outputs are NaN (a stiff problem: raise `mxstep` or loosen the tolerances).
    Differentiable in reverse mode, to any order, in `y0`, `t`, `args` and the arrays
    `func` closes over; jit- and vmap-able.

    >>> ys = odeint(lambda y, t, k: -k * y, np.float64(1.0), np.array([0.0, 1.0]), (2.0,))
    >>> round(float(ys[1]), 6)  # exp(-2)
    0.135335
    """
    if not isinstance(args, tuple):
        raise ArgumentError(f"odeint: args must be a tuple of extra arguments, got "
                            f"{type(args).__name__}")
    leaves, y_tree = tree_util.tree_flatten(y0)
    leaves = [fnp.asarray(x) for x in leaves]
    dtype = fnp.result_type(*leaves, 1.0)
    if dtype.kind != "f":
        raise DTypeError(f"odeint: y0 must be real, got dtype {dtype}")
    shapes = [get_aval(x).shape for x in leaves]
    sizes = [int(np.prod(s)) for s in shapes]
    ts = fnp.asarray(t, dtype)
    if ts.ndim != 1 or ts.shape[0] < 1:
        raise ShapeError(f"odeint: t must be a 1-d array of at least one time, got shape "
                         f"{get_aval(ts).shape}")
    if not isinstance(ts, Tracer):
        steps = np.diff(np.asarray(ts))
        if not (np.all(steps >= 0) or np.all(steps <= 0)):
            raise ArgumentError("odeint: the times t must be monotonic (increasing or "
                                "decreasing)")

    def unravel(flat: Any) -> Any:
        return _unravel(flat, shapes, sizes, y_tree)

    def ravel(tree: Any) -> Any:
        out = tree_util.tree_leaves(tree)
        if len(out) != len(shapes) or any(get_aval(o).shape != s for o, s in zip(out, shapes)):
            raise ShapeError(f"odeint: func returned leaves of shapes "
                             f"{[get_aval(o).shape for o in out]}, y0 has {shapes}")
        return fnp.concatenate([fnp.ravel(fnp.asarray(o, dtype)) for o in out])

    arg_leaves, arg_tree = tree_util.tree_flatten(args)
    arg_leaves = [fnp.asarray(x) for x in arg_leaves]
    n_args = len(arg_leaves)

    def flat_func(y: Any, s: Any, *xs: Any) -> list[Any]:
        return [ravel(func(unravel(y), s, *tree_util.tree_unflatten(arg_tree, list(xs))))]

    y_flat = fnp.concatenate([fnp.ravel(x.astype(dtype)) for x in leaves])
    avals = [ShapedArray(get_aval(y_flat).shape, dtype), ShapedArray((), dtype),
             *(ShapedArray(get_aval(x).shape, get_aval(x).dtype) for x in arg_leaves)]
    call, consts = _closure_converted(flat_func, avals)

    def dynamics(y: Any, s: Any, *params: Any) -> Any:
        # the closed-over values come last among the params: operands the adjoint sees
        return eval_jaxpr(call.jaxpr, [], *params[n_args:], y, s, *params[:n_args])[0]

    ys = _odeint(dynamics, float(rtol), float(atol), float(mxstep), float(hmax), y_flat, ts,
                 *arg_leaves, *consts)
    return _unravel(ys, shapes, sizes, y_tree, lead=ts.shape)


def _unravel(flat: Any, shapes: Sequence[tuple], sizes: Sequence[int], tree: Any,
             lead: tuple = ()) -> Any:
    """The pytree `tree` of leaves of `shapes` from the last axis of `flat` (its other axes,
    `lead`, kept in front)."""
    parts, offset = [], 0
    for shape, size in zip(shapes, sizes):
        parts.append(flat[..., offset:offset + size].reshape((*lead, *shape)))
        offset += size
    return tree_util.tree_unflatten(tree, parts)


__all__ = ["odeint", "trapezoid"]
