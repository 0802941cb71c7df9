"""Quasi-Newton steps and line searches: L-BFGS's two-loop preconditioner, a backtracking
(Armijo) line search, and the zoom line search (Nocedal & Wright, Algorithms 3.5-3.6) that
finds a step satisfying the strong Wolfe conditions. The line searches take the objective
as `update(..., value=f(params), grad=g, value_fn=f)` and keep the value and gradient at
the new params in their state, which `value_and_grad_from_state` reuses.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

import fnad.numpy as fnp
from fnad import debug, lax
from fnad.api import value_and_grad
from fnad.core.trace import Tracer
from fnad.optim.base import GradientTransformationExtraArgs, Params, Updates, checked
from fnad.optim.errors import OptimizerArgumentError, OptimizerTypeError
from fnad.optim.numerics import cast, dtype_of, safe_increment, tree_add_scale, tree_norm, tree_vdot
from fnad.tree import tree_leaves, tree_map

# ----------------------------------------------------------------------------------- L-BFGS


class ScaleByLBFGSState(NamedTuple):
    count: Any
    params: Any
    updates: Any
    diff_params_memory: Any
    diff_updates_memory: Any
    weights_memory: Any


def _two_loop(updates: Any, dparams: Any, dupdates: Any, rhos: Any, scale: Any,
              order: Any) -> Any:
    """The L-BFGS two-loop recursion: `H g` for the inverse-Hessian estimate `H` built from
    the stored pairs, visited newest to oldest and back (`order` lists them oldest first)."""
    dp = tree_map(lambda m: fnp.take(m, order, axis=0, mode="promise_in_bounds"), dparams)
    du = tree_map(lambda m: fnp.take(m, order, axis=0, mode="promise_in_bounds"), dupdates)
    rho = fnp.take(rhos, order, axis=0, mode="promise_in_bounds")

    def backward(v: Any, x: tuple) -> tuple:
        dpi, dui, r = x
        alpha = r * tree_vdot(dpi, v)
        return tree_map(lambda a, b: a - cast(alpha, a) * b, v, dui), alpha

    v, alphas = lax.scan(backward, updates, (dp, du, rho), reverse=True)
    v = tree_map(lambda a: cast(scale, a) * a, v)

    def forward(v: Any, x: tuple) -> tuple:
        dpi, dui, r, alpha = x
        beta = r * tree_vdot(dui, v)
        return tree_map(lambda a, b: a + cast(alpha - beta, a) * b, v, dpi), None

    v, _ = lax.scan(forward, v, (dp, du, rho, alphas))
    return v


def scale_by_lbfgs(memory_size: int = 10, scale_init_precond: bool = True
                   ) -> GradientTransformationExtraArgs:
    """L-BFGS's preconditioning (Nocedal & Wright, Algorithm 7.4): the updates times an
    inverse-Hessian estimate built from the last `memory_size` differences of params and
    gradients; the initial estimate is scaled by `s.y / y.y` (by `min(1, 1/|g|)` at first).

    >>> t = scale_by_lbfgs()
    >>> p = {"w": np.array([1.0, 1.0])}
    >>> t.update({"w": np.array([3.0, 4.0])}, t.init(p), p)[0]["w"]
    array([0.6, 0.8])
    """
    if memory_size < 1:
        raise OptimizerArgumentError(f"scale_by_lbfgs: memory_size must be >= 1, got {memory_size}")

    def init(params: Params) -> ScaleByLBFGSState:
        stacked = tree_map(lambda x: fnp.zeros((memory_size,) + tuple(fnp.shape(x)),
                                               dtype_of(x)), params)
        zeros = tree_map(lambda x: fnp.zeros_like(fnp.asarray(x)), params)
        return ScaleByLBFGSState(np.zeros((), np.int32), zeros, zeros, stacked, stacked,
                                 fnp.zeros((memory_size,), _value_dtype(params)))

    def update(updates: Updates, state: ScaleByLBFGSState, params: Params = None) -> Any:
        if params is None:
            raise OptimizerArgumentError("scale_by_lbfgs needs the params: call update(grads, state, "
                             "params)")
        started = state.count > 0
        slot = (state.count - 1) % memory_size
        dp = tree_map(lambda a, b: fnp.where(started, a - b, 0.0), params, state.params)
        du = tree_map(lambda a, b: fnp.where(started, a - b, 0.0), updates, state.updates)
        curvature = tree_vdot(du, dp)
        weight = fnp.where(fnp.logical_and(started, curvature != 0.0),
                           1.0 / fnp.where(curvature == 0.0, 1.0, curvature), 0.0)
        put = lambda memory, x: fnp.at(memory)[slot].set(fnp.asarray(x, dtype_of(memory)))
        dp_mem = tree_map(put, state.diff_params_memory, dp)
        du_mem = tree_map(put, state.diff_updates_memory, du)
        w_mem = put(state.weights_memory, weight)
        if scale_init_precond:
            yy = tree_norm(du, squared=True)
            ratio = fnp.where(yy > 0.0, curvature / fnp.where(yy > 0.0, yy, 1.0), 1.0)
            first = fnp.minimum(1.0, 1.0 / tree_norm(lax.stop_gradient(updates)))
            identity_scale = fnp.where(started, ratio, first)
        else:
            identity_scale = 1.0
        order = (state.count % memory_size + np.arange(memory_size, dtype=np.int32)) \
            % memory_size
        out = _two_loop(updates, dp_mem, du_mem, w_mem, identity_scale, order)
        return out, ScaleByLBFGSState(safe_increment(state.count), params, updates, dp_mem,
                                      du_mem, w_mem)

    return checked("scale_by_lbfgs", init, update)


# ----------------------------------------------------------------------- line-search kit

def _value_fn_kwargs(value_fn: Callable[..., Any], extra_args: dict, where: str) -> dict:
    """The extra arguments `value_fn` takes; any other one is a mistake worth reporting."""
    names = set(inspect.signature(value_fn).parameters)
    unused = sorted(k for k in extra_args if k not in names)
    if unused:
        raise OptimizerTypeError(f"{where}: keyword arguments {unused} are not arguments of value_fn; "
                        "pass only value, grad, value_fn and what value_fn accepts")
    return dict(extra_args)


def _value_dtype(params: Params) -> Any:
    leaves = tree_leaves(params)
    dtype = dtype_of(leaves[0]) if leaves else np.dtype(np.float32)
    return dtype if np.issubdtype(dtype, np.floating) else np.dtype(np.float32)


def _need(value: Any, grad: Any, value_fn: Any, where: str) -> None:
    if value is None or grad is None or value_fn is None:
        raise OptimizerArgumentError(f"{where} needs the objective: call update(updates, state, params, "
                         "value=f(params), grad=grad_f(params), value_fn=f)")


def _pick(pred: Any, a: Any, b: Any) -> Any:
    return tree_map(lambda x, y: fnp.asarray(fnp.where(pred, x, y), dtype_of(y)), a, b)


class BacktrackingLinesearchInfo(NamedTuple):
    num_linesearch_steps: Any
    decrease_error: Any


class ScaleByBacktrackingLinesearchState(NamedTuple):
    learning_rate: Any
    value: Any
    grad: Any
    info: BacktrackingLinesearchInfo


def scale_by_backtracking_linesearch(max_backtracking_steps: int, slope_rtol: float = 1e-4,
                                     decrease_factor: float = 0.8, increase_factor: float = 1.5,
                                     max_learning_rate: float = 1.0, atol: float = 0.0,
                                     rtol: float = 0.0, store_grad: bool = False,
                                     verbose: bool = False) -> GradientTransformationExtraArgs:
    """Scale the updates by the largest step (shrinking by `decrease_factor` from
    `increase_factor` times the last one) that gives Armijo's sufficient decrease
    `f(x + s u) <= (1 + rtol) f(x) + s slope_rtol <u, g> + atol`; 0 if none is finite.
    `verbose` prints optax's report of a search that found no such step.

    >>> t = scale_by_backtracking_linesearch(20)
    >>> f = lambda p: fnp.sum(p["w"] ** 2)
    >>> p = {"w": np.array([1.0])}; g = {"w": np.array([-2.0])}
    >>> u, s = t.update(g, t.init(p), p, value=f(p), grad={"w": np.array([2.0])}, value_fn=f)
    >>> float(s.learning_rate) < 1.0
    True
    """

    def init(params: Params) -> ScaleByBacktrackingLinesearchState:
        dtype = _value_dtype(params)
        grad = tree_map(lambda x: fnp.zeros_like(fnp.asarray(x)), params) if store_grad else None
        return ScaleByBacktrackingLinesearchState(
            np.asarray(1.0, dtype), np.asarray(np.inf, dtype), grad,
            BacktrackingLinesearchInfo(np.zeros((), np.int32), np.asarray(np.inf, dtype)))

    def update(updates: Updates, state: ScaleByBacktrackingLinesearchState,
               params: Params = None, *, value: Any = None, grad: Any = None,
               value_fn: Any = None, **extra_args: Any) -> Any:
        _need(value, grad, value_fn, "scale_by_backtracking_linesearch")
        kwargs = _value_fn_kwargs(value_fn, extra_args, "scale_by_backtracking_linesearch")
        dtype = _value_dtype(params)
        f = (lambda p: value_fn(p, **kwargs))
        slope = tree_vdot(updates, grad)

        def decrease_error(step: Any, new_value: Any) -> Any:
            err = new_value - (1.0 + rtol) * value - step * slope_rtol * slope
            return fnp.maximum(fnp.where(fnp.isnan(err), np.inf, err), 0.0)

        def keep_going(carry: tuple) -> Any:
            _, _, _, err, i = carry
            return fnp.logical_and(~(err <= atol), i <= max_backtracking_steps)

        def body(carry: tuple) -> tuple:
            step, _, g_new, _, i = carry
            step = fnp.where(i > 0, decrease_factor * step, step)
            trial = tree_add_scale(params, step, updates)
            if store_grad:
                new_value, g_new = value_and_grad(f)(trial)
            else:
                new_value = f(trial)
            return (step, fnp.asarray(new_value, dtype), g_new,
                    fnp.asarray(decrease_error(step, new_value), dtype), i + 1)

        start = fnp.asarray(fnp.minimum(increase_factor * state.learning_rate,
                                        max_learning_rate), dtype)
        g0 = tree_map(lambda x: fnp.zeros_like(fnp.asarray(x)), params) if store_grad else ()
        step, new_value, g_new, err, steps = lax.while_loop(
            keep_going, body, (start, fnp.asarray(value, dtype), g0,
                               fnp.asarray(np.inf, dtype), np.int32(0)))
        if verbose:
            debug.callback(_backtracking_report, value, slope, step, err, atol)
        step = fnp.where(fnp.isinf(err), 0.0, step)
        return (tree_map(lambda u: cast(step, u) * u, updates),
                ScaleByBacktrackingLinesearchState(
                    fnp.asarray(step, dtype), new_value, g_new if store_grad else None,
                    BacktrackingLinesearchInfo(steps, err)))

    return checked("scale_by_backtracking_linesearch", init, update)


def _backtracking_report(value: Any, slope: Any, stepsize: Any, decrease_error: Any,
                         atol: float) -> None:
    """`verbose`'s report (optax's wording) when no step gave sufficient decrease."""
    if decrease_error <= atol:
        return
    print("INFO: optax.scale_by_backtracking_linesearch:\n"
          "Backtracking linesearch failed to find a stepsize ensuring sufficent decrease.\n"
          f"Value at current params: {value},\nSlope along update direction: {slope}\n"
          f"Stepsize: {stepsize}\nDecrease Error: {decrease_error}")
    if np.isinf(decrease_error):
        print("Using a stepsize of 0 to avoid infinite or nan values.")


# ----------------------------------------------------------------------------- zoom search

def _zoom_report(value: Any, slope: Any, stepsize: Any, decrease_error: Any,
                 curvature_error: Any, failed: Any, safe_stepsize: Any) -> None:
    """`verbose`'s report (optax's wording) when the search ran out of steps."""
    if not failed:
        return
    lines = ["INFO: optax.scale_by_zoom_linesearch:", f"Value at current params: {value}",
             f"Slope along update direction: {slope}", f"Stepsize reached: {stepsize}",
             f"Decrease Error: {decrease_error}", f"Curvature Error: {curvature_error}"]
    if safe_stepsize > 0:
        lines.append("Returning stepsize with sufficient decrease but curvature condition "
                     f"not satisfied. Stepsize ensuring sufficient decrease: {safe_stepsize}.")
    else:
        lines.append("Linesearch failed, no stepsize satisfying sufficient decrease found.")
        lines.append("The linesearch failed because the provided direction is not a descent "
                     f"direction. The slope (={slope}) at stepsize=0 should be negative"
                     if slope >= 0 else
                     "Consider augmenting the maximal number of linesearch iterations.")
        if slope < 0 and abs(slope) > 1e16:
            lines.append(f"Very large absolute slope at stepsize=0. (|slope|={abs(slope)}). "
                         "The objective is badly conditioned. Consider reparameterizing "
                         "objective (e.g., normalizing parameters) or finding a better guess "
                         "for the initial parameters for the solver.")
        if np.isinf(decrease_error):
            lines.append("Cannot even make a step without getting Inf or Nan. The linesearch "
                         "won't make a step and the optimizer is stuck.")
    print("\n".join(lines))


class ZoomLinesearchInfo(NamedTuple):
    num_linesearch_steps: Any
    decrease_error: Any
    curvature_error: Any


class ScaleByZoomLinesearchState(NamedTuple):
    learning_rate: Any
    value: Any
    grad: Any
    info: ZoomLinesearchInfo


class _Zoom(NamedTuple):
    """The search's loop state: the trial step (value, gradient, slope), the bracketing
    interval [low, high], the reference point of the cubic fit, and the best step seen with
    sufficient decrease (used if the search runs out of steps)."""

    count: Any
    stepsize: Any
    value: Any
    grad: Any
    slope: Any
    decrease_error: Any
    curvature_error: Any
    interval_found: Any
    done: Any
    failed: Any
    low: Any
    value_low: Any
    slope_low: Any
    high: Any
    value_high: Any
    slope_high: Any
    cubic_ref: Any
    value_cubic_ref: Any
    safe_stepsize: Any
    safe_value: Any
    safe_grad: Any


def _safe_div(a: Any, b: Any) -> tuple[Any, Any]:
    """`a / b` and whether `b` was nonzero (the quotient is 0 where it was not)."""
    ok = b != 0
    return a / fnp.where(ok, b, 1.0), ok


def _cubic_min(a: Any, fa: Any, fpa: Any, b: Any, fb: Any, c: Any, fc: Any) -> tuple:
    """The minimizer of the cubic through (a, fa) with slope fpa, (b, fb) and (c, fc), and
    whether it exists."""
    db, dc = b - a, c - a
    denom = (db * dc) ** 2 * (db - dc)
    x1, x2 = fb - fa - fpa * db, fc - fa - fpa * dc
    A, ok1 = _safe_div(dc * dc * x1 - db * db * x2, denom)  # noqa: N806
    B, _ = _safe_div(-(dc ** 3) * x1 + db ** 3 * x2, denom)  # noqa: N806
    radical = B * B - 3.0 * A * fpa
    root, ok2 = _safe_div(-B + fnp.sqrt(fnp.maximum(radical, 0.0)), 3.0 * A)
    return a + root, ok1 & ok2 & (radical >= 0)


def _quad_min(a: Any, fa: Any, fpa: Any, b: Any, fb: Any) -> tuple:
    """The minimizer of the parabola through (a, fa) with slope fpa and (b, fb), and
    whether it exists."""
    db = b - a
    curvature, ok1 = _safe_div(fb - fa - fpa * db, db * db)
    shift, ok2 = _safe_div(fpa, 2.0 * curvature)
    return a - shift, ok1 & ok2


def scale_by_zoom_linesearch(max_linesearch_steps: int, max_learning_rate: float | None = None,
                             tol: float = 0.0, increase_factor: float = 2.0,
                             slope_rtol: float = 1e-4, curv_rtol: float = 0.9,
                             approx_dec_rtol: float | None = 1e-6,
                             stepsize_precision: float = 1e-5,
                             initial_guess_strategy: str = "keep", verbose: bool = False
                             ) -> GradientTransformationExtraArgs:
    """Scale the updates by a step satisfying the strong Wolfe conditions: sufficient
    decrease `f(x + s u) <= f(x) + slope_rtol s <u, g>` (or its approximate form, Hager &
    Zhang) and curvature `|<u, g(x + s u)>| <= curv_rtol |<u, g>|`. The step grows by
    `increase_factor` until an interval brackets one, then zooms in with cubic, quadratic
    or bisection steps. The first guess is 1 ("one") or the last step ("keep").
    `verbose` prints optax's report of a search that runs out of steps.

    >>> t = scale_by_zoom_linesearch(20)
    >>> f = lambda p: fnp.sum((p["w"] - 3.0) ** 2)
    >>> p = {"w": np.array([1.0])}; g = {"w": np.array([-4.0])}
    >>> u, s = t.update({"w": np.array([4.0])}, t.init(p), p, value=f(p), grad=g, value_fn=f)
    >>> round(float(u["w"][0]), 4)
    2.0
    """
    if initial_guess_strategy not in ("one", "keep"):
        raise OptimizerArgumentError(f"scale_by_zoom_linesearch: initial_guess_strategy must be 'one' or "
                         f"'keep', got {initial_guess_strategy!r}")

    def init(params: Params) -> ScaleByZoomLinesearchState:
        dtype = _value_dtype(params)
        inf = np.asarray(np.inf, dtype)
        return ScaleByZoomLinesearchState(
            np.asarray(1.0, dtype), inf, tree_map(lambda x: fnp.zeros_like(fnp.asarray(x)),
                                                  params),
            ZoomLinesearchInfo(np.zeros((), np.int32), inf, inf))

    def update(updates: Updates, state: ScaleByZoomLinesearchState, params: Params = None, *,
               value: Any = None, grad: Any = None, value_fn: Any = None,
               **extra_args: Any) -> Any:
        _need(value, grad, value_fn, "scale_by_zoom_linesearch")
        kwargs = _value_fn_kwargs(value_fn, extra_args, "scale_by_zoom_linesearch")
        dtype = _value_dtype(params)
        as_v = lambda x: fnp.asarray(x, dtype)
        vg = value_and_grad(lambda p: value_fn(p, **kwargs))
        value0 = as_v(value)
        slope0 = as_v(tree_vdot(updates, grad))

        def on_line(step: Any) -> tuple:
            v, g = vg(tree_add_scale(params, step, updates))
            return as_v(v), g, as_v(tree_vdot(g, updates))

        def errors(step: Any, v: Any, slope: Any) -> tuple:
            dec = v - value0 - slope_rtol * step * slope0
            if approx_dec_rtol is not None:
                approx = fnp.maximum(slope - (2 * slope_rtol - 1.0) * slope0,
                                     v - value0 - approx_dec_rtol * fnp.abs(value0))
                dec = fnp.minimum(approx, dec)
            dec = fnp.where(fnp.isnan(dec), np.inf, fnp.maximum(dec, 0.0))
            curv = fnp.abs(slope) - curv_rtol * fnp.abs(slope0)
            curv = fnp.where(fnp.isnan(curv), np.inf, fnp.maximum(curv, 0.0))
            return as_v(dec), as_v(curv)

        def search(z: _Zoom) -> _Zoom:
            step = fnp.where(z.count == 0, guess, increase_factor * z.stepsize)
            if max_learning_rate is not None:
                at_max = step >= max_learning_rate
                step = fnp.minimum(step, max_learning_rate)
            else:
                at_max = fnp.asarray(False)
            step = as_v(step)
            v, g, slope = on_line(step)
            dec, curv = errors(step, v, slope)
            err = fnp.maximum(dec, curv)
            safe_s, safe_v, safe_g = _pick(dec <= tol, (step, v, g),
                                           (z.safe_stepsize, z.safe_value, z.safe_grad))
            to_high = fnp.logical_or(dec > 0.0, fnp.logical_and(v >= z.value, z.count > 0))
            to_low = fnp.logical_and(slope >= 0.0, ~to_high)
            low, v_low, s_low, high, v_high, s_high = _pick(
                to_low, (step, v, slope, z.stepsize, z.value, z.slope),
                (z.stepsize, z.value, z.slope, step, v, slope))
            found = to_high | to_low | (err <= tol)
            done = (err <= tol) | (at_max & ~found)
            failed = (z.count + 1 >= max_linesearch_steps) & ~done
            return _Zoom(safe_increment(z.count), step, v, g, slope, dec, curv, found, done,
                         failed, low, v_low, s_low, high, v_high, s_high, low, v_low,
                         safe_s, safe_v, safe_g)

        def zoom(z: _Zoom) -> _Zoom:
            delta = fnp.abs(z.high - z.low)
            left, right = fnp.minimum(z.high, z.low), fnp.maximum(z.high, z.low)
            cubic, cubic_ok = _cubic_min(z.low, z.value_low, z.slope_low, z.high, z.value_high,
                                         z.cubic_ref, z.value_cubic_ref)
            use_cubic = cubic_ok & (cubic > left + 0.2 * delta) & (cubic < right - 0.2 * delta)
            quad, quad_ok = _quad_min(z.low, z.value_low, z.slope_low, z.high, z.value_high)
            use_quad = ~use_cubic & quad_ok & (quad > left + 0.1 * delta) & (
                quad < right - 0.1 * delta)
            middle = fnp.where(use_cubic, cubic, fnp.where(use_quad, quad,
                                                           (z.low + z.high) / 2.0))
            middle = as_v(middle)
            v, g, slope = on_line(middle)
            dec, curv = errors(middle, v, slope)
            err = fnp.maximum(dec, curv)
            better = (dec <= tol) & (v < z.safe_value)
            safe_s, safe_v, safe_g = _pick(better, (middle, v, g),
                                           (z.safe_stepsize, z.safe_value, z.safe_grad))
            done = err <= tol
            to_high = (dec > 0.0) | (v >= z.value_low)
            high_to_low = (slope * (z.high - z.low) >= 0.0) & ~to_high
            high = _pick(to_high, (middle, v, slope), (z.high, z.value_high, z.slope_high))
            high = _pick(high_to_low, (z.low, z.value_low, z.slope_low), high)
            low = _pick(~to_high, (middle, v, slope), (z.low, z.value_low, z.slope_low))
            ref = _pick(to_high | high_to_low, (z.high, z.value_high), (z.low, z.value_low))
            out_of_room = (z.count + 1 >= max_linesearch_steps) | (
                (delta <= stepsize_precision) & (safe_s > 0.0))
            return _Zoom(safe_increment(z.count), middle, v, g, slope, dec, curv,
                         z.interval_found, done, out_of_room & ~done, *low, *high, *ref,
                         safe_s, safe_v, safe_g)

        def fall_back(z: _Zoom) -> _Zoom:
            use_safe = (z.safe_stepsize > 0.0) | fnp.isinf(z.decrease_error)
            s, v, g = _pick(use_safe, (z.safe_stepsize, z.safe_value, z.safe_grad),
                            (z.stepsize, z.value, z.grad))
            return z._replace(stepsize=s, value=v, grad=g)

        def step(z: _Zoom) -> _Zoom:
            z = lax.cond(z.interval_found, zoom, search, z)
            return _pick(z.failed, fall_back(z), z)

        guess = as_v(1.0) if initial_guess_strategy == "one" else as_v(state.learning_rate)
        zero, false = as_v(0.0), np.bool_(False)
        inf = as_v(np.inf)
        start = _Zoom(np.int32(0), zero, value0, grad, slope0, inf, inf, false, false, false,
                      zero, value0, slope0, zero, value0, slope0, zero, value0, zero, value0,
                      grad)
        z = lax.while_loop(lambda z: ~(z.done | z.failed), step, start)
        if verbose:
            debug.callback(_zoom_report, value0, slope0, z.stepsize, z.decrease_error,
                           z.curvature_error, z.failed, z.safe_stepsize)
        return (tree_map(lambda u: cast(z.stepsize, u) * u, updates),
                ScaleByZoomLinesearchState(z.stepsize, z.value, z.grad, ZoomLinesearchInfo(
                    z.count, z.decrease_error, z.curvature_error)))

    return checked("scale_by_zoom_linesearch", init, update)


def _find_field(state: Any, name: str) -> list:
    """Every value stored under the NamedTuple field `name` anywhere in `state`."""
    found = []
    if isinstance(state, tuple) and hasattr(state, "_fields"):
        if name in state._fields:
            found.append(getattr(state, name))
        children = [getattr(state, f) for f in state._fields if f != name]
    elif isinstance(state, (tuple, list)):
        children = list(state)
    elif isinstance(state, dict):
        children = list(state.values())
    else:
        children = []
    for c in children:
        found.extend(_find_field(c, name))
    return found


def value_and_grad_from_state(value_fn: Callable[..., Any]) -> Callable[..., tuple[Any, Any]]:
    """`value_and_grad(value_fn)`, except that when the optimizer state already holds the
    value and gradient at these params (a line search computed them), those are reused:
    `value_and_grad_from_state(f)(params, state=opt_state)`.

    >>> from fnad.optim import lbfgs
    >>> f = lambda w: fnp.sum(w ** 2); opt = lbfgs(); w = np.array([1.0, 2.0])
    >>> v, g = value_and_grad_from_state(f)(w, state=opt.init(w)); float(v)
    5.0
    """
    vg = value_and_grad(value_fn)

    def value_and_grad_fn(params: Params, *args: Any, state: Any, **kwargs: Any) -> tuple:
        values, grads = _find_field(state, "value"), _find_field(state, "grad")
        if len(values) != 1 or len(grads) != 1 or grads[0] is None:
            raise OptimizerArgumentError("value_and_grad_from_state: the state must hold exactly one "
                             f"'value' and one 'grad' field (found {len(values)} and "
                             f"{len(grads)}, or a grad of None); use an optimizer with a line "
                             "search that keeps them, e.g. lbfgs(), or "
                             "scale_by_backtracking_linesearch(..., store_grad=True)")
        value, grad = values[0], grads[0]
        stored = ~fnp.isinf(value) & ~fnp.isnan(value)
        if not isinstance(stored, Tracer):  # eager: decide here, evaluate only if needed
            return (fnp.asarray(value), grad) if bool(stored) else \
                _like(vg(params, *args, **kwargs), value)
        return lax.cond(stored, lambda p: (fnp.asarray(value), grad),
                        lambda p: _like(vg(p, *args, **kwargs), value), params)

    return value_and_grad_fn


def _like(pair: tuple, value: Any) -> tuple:
    v, g = pair
    return fnp.asarray(v, dtype_of(value)), g
