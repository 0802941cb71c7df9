"""The building blocks optimizers are chained from: scaling (by a constant, a schedule, the
sign, a trust ratio), momentum, adaptive moment estimates (Adam and its relatives), weight
decay, noise and clipping. Each is a `GradientTransformation` whose state is a pytree
(NamedTuples of arrays), so optimizer states flatten, jit and checkpoint like params.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

import fnad.numpy as fnp
from fnad import lax, random as frandom
from fnad.api import vmap
from fnad.core.dtypes import default_float
from fnad.optim.base import (
    EmptyState,
    GradientTransformationExtraArgs,
    Params,
    ScalarOrSchedule,
    Schedule,
    Updates,
    checked,
    identity,
    init_empty_state,
    zeros_like,
)
from fnad.optim.errors import OptimizerArgumentError
from fnad.optim.masking import masked
from fnad.optim.numerics import (
    bias_correction as debiased,
    cast,
    dtype_of,
    safe_increment,
    safe_norm,
    safe_root_mean_squares,
    tree_add_scale,
    tree_norm,
    update_infinity_moment,
    update_moment,
    update_moment_per_elem_norm,
)
from fnad.tree import tree_leaves, tree_map


def _count() -> np.ndarray:
    return np.zeros((), np.int32)


def _zeros(tree: Any, dtype: Any = None) -> Any:
    if dtype is None:
        return tree_map(zeros_like, tree)
    return tree_map(lambda x: fnp.zeros(fnp.shape(x), dtype), tree)


def _full(tree: Any, value: Any) -> Any:
    return tree_map(lambda x: lax.full_like(fnp.asarray(x), value), tree)


def _astype(tree: Any, dtype: Any) -> Any:
    return tree if dtype is None else tree_map(lambda x: fnp.asarray(x, dtype), tree)


def _needs_params(params: Params, name: str) -> None:
    if params is None:
        raise OptimizerArgumentError(f"{name} needs the params: call update(updates, state, params)")


def _stateless_map(name: str, f: Callable[..., Any], with_params: bool = False
                   ) -> GradientTransformationExtraArgs:
    """A stateless transformation applying `f(update)` (or `f(update, param)`) per leaf."""

    def update(updates: Updates, state: EmptyState, params: Params = None) -> Any:
        if not with_params:
            return tree_map(f, updates), state
        _needs_params(params, name)
        return tree_map(f, updates, params), state

    return checked(name, init_empty_state, update)


# --------------------------------------------------------------------------------- scaling

def scale(step_size: Any) -> GradientTransformationExtraArgs:
    """Multiply updates by a constant.

    >>> scale(0.5).update({"w": 4.0}, EmptyState())[0]
    {'w': 2.0}
    """
    return _stateless_map("scale", lambda g: step_size * g)


class ScaleByScheduleState(NamedTuple):
    count: Any


def scale_by_schedule(step_size_fn: Schedule) -> GradientTransformationExtraArgs:
    """Multiply updates by `step_size_fn(k)` at the k-th update (k from 0).

    >>> from fnad.optim.schedules import linear_schedule
    >>> t = scale_by_schedule(linear_schedule(1.0, 0.0, 2))
    >>> u, s = t.update({"w": np.float32(1)}, t.init(None)); float(u["w"])
    1.0
    """

    def update(updates: Updates, state: ScaleByScheduleState, params: Params = None) -> Any:
        factor = step_size_fn(state.count)
        updates = tree_map(lambda g: cast(factor, g) * g, updates)
        return updates, ScaleByScheduleState(safe_increment(state.count))

    return checked("scale_by_schedule", lambda params: ScaleByScheduleState(_count()), update)


def scale_by_learning_rate(learning_rate: ScalarOrSchedule = None, *, flip_sign: bool = True
                           ) -> GradientTransformationExtraArgs:
    """Multiply updates by `-learning_rate` (a number or a schedule; `+` without
    `flip_sign`): gradients become descent steps. None leaves them unchanged.

    >>> scale_by_learning_rate(0.1).update({"w": 1.0}, EmptyState())[0]
    {'w': -0.1}
    """
    if learning_rate is None:
        return identity()
    m = -1 if flip_sign else 1
    if callable(learning_rate):
        return scale_by_schedule(lambda count: m * learning_rate(count))
    return scale(m * learning_rate)


def scale_by_sign() -> GradientTransformationExtraArgs:
    """Replace each update by its sign (signSGD).

    >>> scale_by_sign().update({"w": -3.0}, EmptyState())[0]["w"]
    np.float32(-1.0)
    """
    return _stateless_map("scale_by_sign", fnp.sign)


def scale_by_param_block_norm(min_scale: float = 1e-3) -> GradientTransformationExtraArgs:
    """Multiply each update by its parameter's norm (at least `min_scale`).

    >>> scale_by_param_block_norm().update({"w": 1.0}, EmptyState(), {"w": -2.0})[0]["w"]
    np.float32(2.0)
    """
    return _stateless_map("scale_by_param_block_norm",
                          lambda u, p: u * safe_norm(p, min_scale), with_params=True)


def scale_by_param_block_rms(min_scale: float = 1e-3) -> GradientTransformationExtraArgs:
    """Multiply each update by its parameter's root mean square (at least `min_scale`).

    >>> scale_by_param_block_rms().update({"w": 1.0}, EmptyState(), {"w": -2.0})[0]["w"]
    np.float32(2.0)
    """
    return _stateless_map("scale_by_param_block_rms",
                          lambda u, p: u * safe_root_mean_squares(p, min_scale),
                          with_params=True)


def scale_by_trust_ratio(min_norm: float = 0.0, trust_coefficient: float = 1.0,
                         eps: float = 0.0) -> GradientTransformationExtraArgs:
    """Scale each update by `trust_coefficient * |param| / (|update| + eps)` (LARS/LAMB's
    layer-wise trust ratio), or by 1 where either norm is zero.

    >>> scale_by_trust_ratio().update({"w": np.array([3.0, 4.0])}, EmptyState(),
    ...                               {"w": np.array([0.0, 1.0])})[0]["w"]
    array([0.6, 0.8])
    """

    def f(u: Any, p: Any) -> Any:
        p_norm, u_norm = safe_norm(p, min_norm), safe_norm(u, min_norm)
        ratio = trust_coefficient * p_norm / (u_norm + eps)
        zero = fnp.logical_or(p_norm == 0.0, u_norm == 0.0)
        return u * cast(fnp.where(zero, 1.0, ratio), u)

    return _stateless_map("scale_by_trust_ratio", f, with_params=True)


def normalize_by_update_norm(scale_factor: float = 1.0, eps: float = 1e-6
                             ) -> GradientTransformationExtraArgs:
    """Divide all updates by their global norm (plus `eps`), times `scale_factor`.

    >>> normalize_by_update_norm(eps=0.0).update({"w": np.array([3.0, 4.0])},
    ...                                          EmptyState())[0]["w"]
    array([0.6, 0.8])
    """

    def update(updates: Updates, state: EmptyState, params: Params = None) -> Any:
        norm = (tree_norm(updates) + eps) / scale_factor
        return tree_map(lambda g: g / cast(norm, g), updates), state

    return checked("normalize_by_update_norm", init_empty_state, update)


def centralize() -> GradientTransformationExtraArgs:
    """Subtract from each update of rank > 1 its mean over all axes but the first (gradient
    centralization, Yong et al., 2020).

    >>> centralize().update({"w": np.array([[1.0, 3.0]])}, EmptyState())[0]["w"]
    array([[-1.,  1.]])
    """

    def f(g: Any) -> Any:
        if fnp.ndim(g) < 2:
            return g
        return g - fnp.mean(g, axis=tuple(range(1, fnp.ndim(g))), keepdims=True)

    return _stateless_map("centralize", f)


# -------------------------------------------------------------------------------- momentum

class TraceState(NamedTuple):
    trace: Any


def trace(decay: Any, nesterov: bool = False, accumulator_dtype: Any = None
          ) -> GradientTransformationExtraArgs:
    """Momentum: `t <- decay * t + g`, giving `t` (heavy ball), or `g + decay * t` with
    `nesterov` (Sutskever et al.'s form of Nesterov's lookahead).

    >>> t = trace(0.5)
    >>> u, s = t.update({"w": 1.0}, t.init({"w": 0.0})); float(t.update(u, s)[0]["w"])
    1.5
    """

    def update(updates: Updates, state: TraceState, params: Params = None) -> Any:
        new = tree_map(lambda g, t: g + decay * t, updates, state.trace)
        out = tree_map(lambda g, t: g + decay * t, updates, new) if nesterov else new
        return out, TraceState(_astype(new, accumulator_dtype))

    return checked("trace", lambda params: TraceState(_zeros(params, accumulator_dtype)),
                   update)


class EmaState(NamedTuple):
    count: Any
    ema: Any


def ema(decay: Any, debias: bool = True, accumulator_dtype: Any = None
        ) -> GradientTransformationExtraArgs:
    """An exponential moving average of the updates, `m <- decay m + (1 - decay) g`,
    debiased by `1 - decay**k` unless `debias` is False.

    >>> t = ema(0.5)
    >>> float(t.update({"w": np.float32(2)}, t.init({"w": 0.0}))[0]["w"])
    2.0
    """

    def init(params: Params) -> EmaState:
        return EmaState(_count(), _zeros(params, accumulator_dtype))

    def update(updates: Updates, state: EmaState, params: Params = None) -> Any:
        new = update_moment(updates, state.ema, decay, 1)
        count = safe_increment(state.count)
        out = debiased(new, decay, count) if debias else new
        return out, EmaState(count, _astype(new, accumulator_dtype))

    return checked("ema", init, update)


# ---------------------------------------------------------------------- adaptive scalings

class ScaleByRssState(NamedTuple):
    sum_of_squares: Any


def scale_by_rss(initial_accumulator_value: float = 0.1, eps: float = 1e-7
                 ) -> GradientTransformationExtraArgs:
    """Adagrad's scaling (Duchi et al., 2011): `g / sqrt(sum of all g**2 + eps)` (0 where
    the sum is 0), the sum starting at `initial_accumulator_value`.

    >>> t = scale_by_rss(0.0, 0.0)
    >>> float(t.update({"w": np.float32(-3)}, t.init({"w": 0.0}))[0]["w"])
    -1.0
    """

    def init(params: Params) -> ScaleByRssState:
        return ScaleByRssState(_full(params, initial_accumulator_value))

    def update(updates: Updates, state: ScaleByRssState, params: Params = None) -> Any:
        acc = tree_map(lambda g, s: g * g + s, updates, state.sum_of_squares)
        out = tree_map(lambda g, s: fnp.where(s > 0, lax.rsqrt(s + eps), 0.0) * g,
                       updates, acc)
        return out, ScaleByRssState(acc)

    return checked("scale_by_rss", init, update)


class ScaleByRmsState(NamedTuple):
    nu: Any


class ScaleByRmsWithCountState(NamedTuple):
    count: Any
    nu: Any


def _inv_root(nu: Any, eps: Any, eps_in_sqrt: bool) -> Any:
    return lax.rsqrt(nu + eps) if eps_in_sqrt else 1 / (fnp.sqrt(nu) + eps)


def scale_by_rms(decay: float = 0.9, eps: float = 1e-8, initial_scale: float = 0.0,
                 eps_in_sqrt: bool = True, bias_correction: bool = False
                 ) -> GradientTransformationExtraArgs:
    """RMSProp's scaling (Tieleman & Hinton, 2012): `nu <- decay nu + (1 - decay) g**2`,
    giving `g / sqrt(nu + eps)` (or `g / (sqrt(nu) + eps)` without `eps_in_sqrt`).

    >>> t = scale_by_rms(0.75, eps=0.0)
    >>> float(t.update({"w": np.float32(2)}, t.init({"w": 0.0}))[0]["w"])
    2.0
    """
    use_count = bias_correction

    def init(params: Params) -> Any:
        nu = _full(params, initial_scale)
        return ScaleByRmsWithCountState(_count(), nu) if use_count else ScaleByRmsState(nu)

    def update(updates: Updates, state: Any, params: Params = None) -> Any:
        nu = update_moment_per_elem_norm(updates, state.nu, decay, 2)
        if use_count:
            count = safe_increment(state.count)
            nu_hat = debiased(nu, decay, count)
        else:
            nu_hat = nu
        out = tree_map(lambda g, n: _inv_root(n, eps, eps_in_sqrt) * g, updates, nu_hat)
        return out, ScaleByRmsWithCountState(count, nu) if use_count else ScaleByRmsState(nu)

    return checked("scale_by_rms", init, update)


class ScaleByRStdDevState(NamedTuple):
    mu: Any
    nu: Any


class ScaleByRStdDevWithCountState(NamedTuple):
    count: Any
    mu: Any
    nu: Any


def scale_by_stddev(decay: float = 0.9, eps: float = 1e-8, initial_scale: float = 0.0,
                    eps_in_sqrt: bool = True, bias_correction: bool = False
                    ) -> GradientTransformationExtraArgs:
    """Centered RMSProp's scaling: `g / sqrt(nu - mu**2 + eps)`, with `mu`, `nu` moving
    averages of `g` and `g**2` (an estimate of the gradient's standard deviation).

    >>> t = scale_by_stddev(0.5, eps=0.0)
    >>> float(t.update({"w": np.float32(2)}, t.init({"w": 0.0}))[0]["w"])
    2.0
    """
    use_count = bias_correction

    def init(params: Params) -> Any:
        mu, nu = _zeros(params), _full(params, initial_scale)
        return ScaleByRStdDevWithCountState(_count(), mu, nu) if use_count \
            else ScaleByRStdDevState(mu, nu)

    def update(updates: Updates, state: Any, params: Params = None) -> Any:
        mu = update_moment(updates, state.mu, decay, 1)
        nu = update_moment_per_elem_norm(updates, state.nu, decay, 2)
        if use_count:
            count = safe_increment(state.count)
            mu_hat, nu_hat = debiased(mu, decay, count), debiased(nu, decay, count)
        else:
            mu_hat, nu_hat = mu, nu
        out = tree_map(lambda g, m, n: _inv_root(n - m * m, eps, eps_in_sqrt) * g,
                       updates, mu_hat, nu_hat)
        new = ScaleByRStdDevWithCountState(count, mu, nu) if use_count \
            else ScaleByRStdDevState(mu, nu)
        return out, new

    return checked("scale_by_stddev", init, update)


class ScaleByAdamState(NamedTuple):
    count: Any
    mu: Any
    nu: Any


def _adam_init(mu_dtype: Any = None, fill: float = 0.0) -> Callable[[Params], Any]:
    return lambda params: ScaleByAdamState(
        _count(), _astype(_full(params, fill), mu_dtype), _full(params, fill))


def _debiased_mu(mu: Any, updates: Any, b1: Any, count: Any, nesterov: bool) -> Any:
    """`mu / (1 - b1**k)`, or with `nesterov` Dozat's lookahead
    `b1 mu / (1 - b1**(k+1)) + (1 - b1) g / (1 - b1**k)` (NAdam)."""
    if not nesterov:
        return debiased(mu, b1, count)
    ahead = debiased(mu, b1, safe_increment(count))
    now = debiased(updates, b1, count)
    return tree_map(lambda m, g: b1 * m + (1 - b1) * g, ahead, now)


def scale_by_adam(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
                  eps_root: float = 0.0, mu_dtype: Any = None, *, nesterov: bool = False
                  ) -> GradientTransformationExtraArgs:
    """Adam's scaling (Kingma & Ba, 2015): moments `m`, `v` with bias correction, giving
    `m_hat / (sqrt(v_hat + eps_root) + eps)`; `nesterov` gives NAdam (Dozat, 2016).

    >>> t = scale_by_adam(eps=0.0)
    >>> round(float(t.update({"w": np.float32(-3)}, t.init({"w": 0.0}))[0]["w"]), 4)
    -1.0
    """

    def update(updates: Updates, state: ScaleByAdamState, params: Params = None) -> Any:
        mu = update_moment(updates, state.mu, b1, 1)
        nu = update_moment_per_elem_norm(updates, state.nu, b2, 2)
        count = safe_increment(state.count)
        mu_hat = _debiased_mu(mu, updates, b1, count, nesterov)
        nu_hat = debiased(nu, b2, count)
        out = tree_map(lambda m, v: m / (fnp.sqrt(v + eps_root) + eps), mu_hat, nu_hat)
        return out, ScaleByAdamState(count, _astype(mu, mu_dtype), nu)

    return checked("scale_by_adam", _adam_init(mu_dtype), update)


class ScaleByAmsgradState(NamedTuple):
    count: Any
    mu: Any
    nu: Any
    nu_max: Any


def scale_by_amsgrad(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
                     eps_root: float = 0.0, mu_dtype: Any = None, bias_correction_mu: bool = True,
                     bias_correction_nu: bool = True) -> GradientTransformationExtraArgs:
    """AMSGrad's scaling (Reddi et al., 2018): Adam with the running maximum of the
    (debiased) second moment in the denominator, so steps never grow from a shrinking `v`.

    >>> t = scale_by_amsgrad(eps=0.0)
    >>> round(float(t.update({"w": np.float32(-3)}, t.init({"w": 0.0}))[0]["w"]), 4)
    -1.0
    """

    def init(params: Params) -> ScaleByAmsgradState:
        return ScaleByAmsgradState(_count(), _zeros(params, mu_dtype), _zeros(params),
                                   _zeros(params))

    def update(updates: Updates, state: ScaleByAmsgradState, params: Params = None) -> Any:
        mu = update_moment(updates, state.mu, b1, 1)
        nu = update_moment_per_elem_norm(updates, state.nu, b2, 2)
        count = safe_increment(state.count)
        mu_hat = debiased(mu, b1, count) if bias_correction_mu else mu
        nu_eff = debiased(nu, b2, count) if bias_correction_nu else nu
        nu_max = tree_map(fnp.maximum, state.nu_max, nu_eff)
        out = tree_map(lambda m, v: m / (fnp.sqrt(v + eps_root) + eps), mu_hat, nu_max)
        return out, ScaleByAmsgradState(count, _astype(mu, mu_dtype), nu, nu_max)

    return checked("scale_by_amsgrad", init, update)


def scale_by_adamax(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8
                    ) -> GradientTransformationExtraArgs:
    """Adamax's scaling (Kingma & Ba, 2015, section 7.1): Adam with the infinity norm,
    `m_hat / max(|g| + eps, b2 u)`.

    >>> t = scale_by_adamax(eps=0.0)
    >>> round(float(t.update({"w": np.float32(-3)}, t.init({"w": 0.0}))[0]["w"]), 4)
    -1.0
    """

    def update(updates: Updates, state: ScaleByAdamState, params: Params = None) -> Any:
        count = safe_increment(state.count)
        mu = update_moment(updates, state.mu, b1, 1)
        nu = update_infinity_moment(updates, state.nu, b2, eps)
        out = tree_map(lambda m, v: m / v, debiased(mu, b1, count), nu)
        return out, ScaleByAdamState(count, mu, nu)

    return checked("scale_by_adamax", _adam_init(), update)


class ScaleByLionState(NamedTuple):
    count: Any
    mu: Any


def scale_by_lion(b1: float = 0.9, b2: float = 0.99, mu_dtype: Any = None, *,
                  mode: str = "hard", smooth_beta: float = 1.0
                  ) -> GradientTransformationExtraArgs:
    """Lion's scaling (Chen et al., 2023): `sign((1 - b1) g + b1 m)`, with `m` a moving
    average of `g` at rate `b2` (`mode` "smooth" uses tanh, "refined" clips instead).

    >>> t = scale_by_lion()
    >>> float(t.update({"w": np.float32(-3)}, t.init({"w": 0.0}))[0]["w"])
    -1.0
    """
    if mode not in ("hard", "smooth", "refined"):
        raise OptimizerArgumentError(f"scale_by_lion: mode must be 'hard', 'smooth' or 'refined', got "
                         f"{mode!r}")

    def direction(g: Any, m: Any) -> Any:
        x = (1.0 - b1) * g + b1 * m
        if mode == "hard":
            return fnp.sign(x)
        if mode == "smooth":
            return fnp.tanh(smooth_beta * x)
        return fnp.where(fnp.abs(x) < 1.0, x, fnp.sign(x))

    def update(updates: Updates, state: ScaleByLionState, params: Params = None) -> Any:
        out = tree_map(direction, updates, state.mu)
        mu = _astype(update_moment(updates, state.mu, b2, 1), mu_dtype)
        return out, ScaleByLionState(safe_increment(state.count), mu)

    return checked("scale_by_lion",
                   lambda params: ScaleByLionState(_count(), _zeros(params, mu_dtype)), update)


class ScaleByAdaDeltaState(NamedTuple):
    e_g: Any
    e_x: Any


def scale_by_adadelta(rho: float = 0.9, eps: float = 1e-6) -> GradientTransformationExtraArgs:
    """Adadelta's scaling (Zeiler, 2012): `g sqrt(E[dx^2] + eps) / sqrt(E[g^2] + eps)`.

    >>> t = scale_by_adadelta(0.0, 1.0)
    >>> round(float(t.update({"w": np.float32(3)}, t.init({"w": 0.0}))[0]["w"]), 4)
    0.9487
    """

    def update(updates: Updates, state: ScaleByAdaDeltaState, params: Params = None) -> Any:
        e_g = update_moment(updates, state.e_g, rho, 2)
        out = tree_map(lambda g, eg, ex: fnp.sqrt(ex + eps) / fnp.sqrt(eg + eps) * g,
                       updates, e_g, state.e_x)
        e_x = update_moment(out, state.e_x, rho, 2)
        return out, ScaleByAdaDeltaState(e_g, e_x)

    return checked("scale_by_adadelta",
                   lambda params: ScaleByAdaDeltaState(_zeros(params), _zeros(params)), update)


class ScaleByAdanState(NamedTuple):
    m: Any
    v: Any
    n: Any
    g: Any
    t: Any


def scale_by_adan(b1: float = 0.98, b2: float = 0.92, b3: float = 0.99, eps: float = 1e-8,
                  eps_root: float = 0.0) -> GradientTransformationExtraArgs:
    """Adan's scaling (Xie et al., 2022): Nesterov-style moments of the gradient and of its
    change between steps, `(m_hat + (1 - b2) v_hat) / (sqrt(n_hat + eps_root) + eps)`.

    >>> t = scale_by_adan(eps=0.0)
    >>> round(float(t.update({"w": np.float32(-3)}, t.init({"w": 0.0}))[0]["w"]), 4)
    -1.0
    """

    def init(params: Params) -> ScaleByAdanState:
        return ScaleByAdanState(*(_zeros(params) for _ in range(4)), _count())

    def update(updates: Updates, state: ScaleByAdanState, params: Params = None) -> Any:
        first = state.t == 0
        diff = tree_map(lambda g, prev: fnp.where(first, 0.0, g - prev), updates, state.g)
        m = update_moment(updates, state.m, b1, 1)
        v = update_moment(diff, state.v, b2, 1)
        n = update_moment_per_elem_norm(tree_add_scale(updates, 1 - b2, diff), state.n, b3, 2)
        t = safe_increment(state.t)
        m_hat, v_hat, n_hat = (debiased(m, b1, t), debiased(v, b2, t),
                               debiased(n, b3, t))
        out = tree_map(lambda a, b, c: (a + (1 - b2) * b) / (fnp.sqrt(c + eps_root) + eps),
                       m_hat, v_hat, n_hat)
        return out, ScaleByAdanState(m, v, n, updates, t)

    return checked("scale_by_adan", init, update)


class ScaleByBeliefState(NamedTuple):
    count: Any
    mu: Any
    nu: Any


def scale_by_belief(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-16,
                    eps_root: float = 1e-16, *, nesterov: bool = False
                    ) -> GradientTransformationExtraArgs:
    """AdaBelief's scaling (Zhuang et al., 2020): Adam with the second moment of the
    prediction error `g - m` instead of `g`.

    >>> t = scale_by_belief(eps=0.0, eps_root=0.0)
    >>> round(float(t.update({"w": np.float32(-3)}, t.init({"w": 0.0}))[0]["w"]), 4)
    -1.1111
    """

    def update(updates: Updates, state: ScaleByBeliefState, params: Params = None) -> Any:
        mu = update_moment(updates, state.mu, b1, 1)
        err = tree_map(lambda g, m: g - m, updates, mu)
        nu = tree_map(lambda v: v + eps_root, update_moment_per_elem_norm(err, state.nu, b2, 2))
        count = safe_increment(state.count)
        mu_hat = _debiased_mu(mu, updates, b1, count, nesterov)
        out = tree_map(lambda m, v: m / (fnp.sqrt(v) + eps), mu_hat,
                       debiased(nu, b2, count))
        return out, ScaleByBeliefState(count, mu, nu)

    return checked("scale_by_belief", lambda params: ScaleByBeliefState(
        _count(), _zeros(params), _zeros(params)), update)


def scale_by_yogi(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-3, eps_root: float = 0.0,
                  initial_accumulator_value: float = 1e-6) -> GradientTransformationExtraArgs:
    """Yogi's scaling (Zaheer et al., 2018): Adam whose second moment moves additively,
    `v <- v - (1 - b2) sign(v - g**2) g**2`, so it cannot grow too fast.

    >>> t = scale_by_yogi(eps=0.0, initial_accumulator_value=0.0)
    >>> round(float(t.update({"w": np.float32(-3)}, t.init({"w": 0.0}))[0]["w"]), 4)
    -1.0
    """

    def update(updates: Updates, state: ScaleByAdamState, params: Params = None) -> Any:
        mu = update_moment(updates, state.mu, b1, 1)
        nu = tree_map(lambda g, v: v - (1 - b2) * fnp.sign(v - g * g) * (g * g),
                      updates, state.nu)
        count = safe_increment(state.count)
        out = tree_map(lambda m, v: m / (fnp.sqrt(v + eps_root) + eps),
                       debiased(mu, b1, count), debiased(nu, b2, count))
        return out, ScaleByAdamState(count, mu, nu)

    return checked("scale_by_yogi", _adam_init(fill=initial_accumulator_value), update)


def scale_by_radam(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, eps_root: float = 0.0,
                   threshold: float = 5.0, *, nesterov: bool = False
                   ) -> GradientTransformationExtraArgs:
    """Rectified Adam's scaling (Liu et al., 2020): momentum alone while the variance
    estimate is unreliable (its degrees of freedom `rho` below `threshold`), then Adam
    times the rectification factor `r`.

    >>> t = scale_by_radam()
    >>> round(float(t.update({"w": np.float32(-3)}, t.init({"w": 0.0}))[0]["w"]), 4)
    -3.0
    """
    rho_inf = 2.0 / (1.0 - b2) - 1.0

    def update(updates: Updates, state: ScaleByAdamState, params: Params = None) -> Any:
        mu = update_moment(updates, state.mu, b1, 1)
        nu = update_moment_per_elem_norm(updates, state.nu, b2, 2)
        count = safe_increment(state.count)
        leaves = tree_leaves(nu)
        dtype = dtype_of(leaves[0]) if leaves else np.dtype(np.float32)  # as optax: the
        k = fnp.asarray(count, dtype)  # params' precision, float32 for float32 params
        b2t = fnp.power(fnp.asarray(b2, dtype), k)
        rho = rho_inf - 2 * k * b2t / (1 - b2t)
        r = fnp.sqrt(fnp.maximum((rho - 4.0) * (rho - 2.0) * rho_inf, 0.0)
                     / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho))
        mu_hat = _debiased_mu(mu, updates, b1, count, nesterov)
        nu_hat = debiased(nu, b2, count)
        out = tree_map(lambda m, v: fnp.where(
            rho >= threshold, cast(r, m) * m / (fnp.sqrt(v + eps_root) + eps), m), mu_hat, nu_hat)
        return out, ScaleByAdamState(count, mu, nu)

    return checked("scale_by_radam", _adam_init(), update)


class ScaleByRpropState(NamedTuple):
    step_sizes: Any
    prev_updates: Any


def scale_by_rprop(learning_rate: float, eta_minus: float = 0.5, eta_plus: float = 1.2,
                   min_step_size: float = 1e-6, max_step_size: float = 50.0
                   ) -> GradientTransformationExtraArgs:
    """Rprop's scaling (Riedmiller & Braun, 1993), as optax has it: per-coordinate step
    sizes grow by `eta_plus` while the gradient keeps its sign and shrink by `eta_minus`
    when it flips; the step is the step of the previous update, and none after a flip.

    >>> t = scale_by_rprop(0.1)
    >>> s = t.init({"w": 0.0}); u, s = t.update({"w": 1.0}, s); u, s = t.update({"w": 1.0}, s)
    >>> round(float(u["w"]), 6)
    0.1
    """

    def init(params: Params) -> ScaleByRpropState:
        return ScaleByRpropState(_full(params, learning_rate), _zeros(params))

    def update(updates: Updates, state: ScaleByRpropState, params: Params = None) -> Any:
        sign = tree_map(lambda g, prev: g * prev, updates, state.prev_updates)
        steps = tree_map(lambda s, step: fnp.where(s == 0, step, fnp.clip(
            fnp.where(s > 0, step * eta_plus, step * eta_minus), min_step_size, max_step_size)),
            sign, state.step_sizes)
        prev = tree_map(lambda s, g, step: fnp.where(s < 0, 0.0, step * fnp.sign(g)),
                        sign, updates, steps)
        out = tree_map(lambda s, p: fnp.where(s < 0, 0.0, p), sign, state.prev_updates)
        return out, ScaleByRpropState(steps, prev)

    return checked("scale_by_rprop", init, update)


def _zeros_along(x: Any, axis: int) -> Any:
    return fnp.zeros((fnp.shape(x)[axis],), fnp.asarray(x).dtype)


class ScaleBySM3State(NamedTuple):
    mu: Any
    nu: Any


def scale_by_sm3(b1: float = 0.9, b2: float = 1.0, eps: float = 1e-8
                 ) -> GradientTransformationExtraArgs:
    """SM3's scaling (Anil et al., 2019): Adagrad whose accumulator is covered by one
    vector per axis (the minimum over the covers at each element), then momentum `b1`;
    memory grows with the sum of a tensor's dimensions, not their product.

    >>> t = scale_by_sm3(b1=0.0)
    >>> np.round(t.update({"w": np.array([3.0, -4.0])}, t.init({"w": np.zeros(2)}))[0]["w"], 4)
    array([ 1., -1.])
    """

    def init(params: Params) -> ScaleBySM3State:
        mu = tree_map(lambda p: [_zeros_along(p, i) for i in range(fnp.ndim(p))]
                      or [fnp.zeros((), dtype_of(p))], params)
        return ScaleBySM3State(mu, _zeros(params))

    def expanded(g: Any, v: list) -> list:
        n = fnp.ndim(g)
        if n == 0:  # a scalar's cover is itself
            return v
        return [fnp.reshape(v[i], [1] * i + [fnp.shape(g)[i]] + [1] * (n - i - 1))
                for i in range(n)]

    def accumulate(g: Any, v: list) -> Any:
        c0 = 1.0 - b2 if b2 != 1.0 else 1.0
        if fnp.ndim(g) < 2:
            return c0 * g * g + b2 * v[0]
        low = v[0]
        for x in v[1:]:
            low = fnp.minimum(low, x)
        return c0 * g * g + b2 * low

    def new_mu(a: Any) -> list:
        n = fnp.ndim(a)
        if n < 2:
            return [a]
        return [fnp.max(a, axis=tuple(j for j in range(n) if j != i)) for i in range(n)]

    def update(updates: Updates, state: ScaleBySM3State, params: Params = None) -> Any:
        mu = tree_map(expanded, updates, state.mu, is_leaf=_is_array_list)
        acc = tree_map(accumulate, updates, mu, is_leaf=_is_array_list)
        up = tree_map(lambda g, a: g * fnp.where(a > 0, lax.rsqrt(a + eps), 0.0), updates, acc)
        nu = update_moment(up, state.nu, b1, 1)
        return nu, ScaleBySM3State(tree_map(new_mu, acc), nu)

    return checked("scale_by_sm3", init, update)


def _is_array_list(x: Any) -> bool:
    return isinstance(x, list)


class ScaleByNovogradState(NamedTuple):
    count: Any
    mu: Any
    nu: Any


def scale_by_novograd(b1: float = 0.9, b2: float = 0.25, eps: float = 1e-8,
                      eps_root: float = 0.0, weight_decay: float = 0.0, mu_dtype: Any = None
                      ) -> GradientTransformationExtraArgs:
    """NovoGrad's scaling (Ginsburg et al., 2019): a second moment per layer (of the squared
    layer norm), `m <- b1 m + g / (sqrt(v + eps_root) + eps) + weight_decay p`.

    >>> t = scale_by_novograd(eps=0.0)
    >>> np.round(t.update({"w": np.array([3.0, 4.0])}, t.init({"w": np.zeros(2)}),
    ...                   {"w": np.zeros(2)})[0]["w"], 4)
    array([0.6, 0.8])
    """

    def init(params: Params) -> ScaleByNovogradState:
        return ScaleByNovogradState(_count(), _zeros(params, mu_dtype),
                                    tree_map(lambda p: fnp.zeros((), fnp.asarray(p).dtype),
                                             params))

    def update(updates: Updates, state: ScaleByNovogradState, params: Params = None) -> Any:
        _needs_params(params, "scale_by_novograd")
        count = safe_increment(state.count)
        first = count == 1
        nu = tree_map(lambda g, n: fnp.where(first, fnp.sum(g * g), (1 - b2) * fnp.sum(g * g)
                                             + b2 * n), updates, state.nu)
        mu = tree_map(lambda g, p, n, m: fnp.where(first, 0.0, b1 * m)
                      + g / (fnp.sqrt(n + eps_root) + eps) + weight_decay * p,
                      updates, params, nu, state.mu)
        mu = _astype(mu, mu_dtype)
        return mu, ScaleByNovogradState(count, mu, nu)

    return checked("scale_by_novograd", init, update)


class ScaleByOptimisticGradientState(NamedTuple):
    is_initial_step: Any
    previous_gradient: Any


def scale_by_optimistic_gradient(alpha: float = 1.0, beta: float = 1.0
                                 ) -> GradientTransformationExtraArgs:
    """Optimistic gradient (Mokhtari et al., 2019): `(alpha + beta) g - beta g_prev`, the
    previous gradient being `g` itself at the first step; for min-max games.

    >>> t = scale_by_optimistic_gradient()
    >>> s = t.init({"w": 0.0}); u, s = t.update({"w": 1.0}, s); float(t.update({"w": 3.0}, s)[0]["w"])
    5.0
    """

    def init(params: Params) -> ScaleByOptimisticGradientState:
        return ScaleByOptimisticGradientState(np.bool_(True), _zeros(params))

    def update(updates: Updates, state: ScaleByOptimisticGradientState,
               params: Params = None) -> Any:
        out = tree_map(lambda g, prev: (alpha + beta) * g - beta * fnp.where(
            state.is_initial_step, g, prev), updates, state.previous_gradient)
        return out, ScaleByOptimisticGradientState(np.bool_(False), updates)

    return checked("scale_by_optimistic_gradient", init, update)


class ScaleByDistanceOverGradientsState(NamedTuple):
    max_dist: Any
    grad_sum_of_squares: Any
    init_params: Any


def scale_by_distance_over_gradients(reps_rel: float = 1e-6, eps: float = 1e-8,
                                     param_dtype: Any = np.float32, global_scale: float = 1.0
                                     ) -> GradientTransformationExtraArgs:
    """DoG's layer-wise step (Ivgi et al., 2023): the largest distance travelled from the
    initial params over the root of the summed squared gradients, per leaf.

    >>> t = scale_by_distance_over_gradients(eps=0.0)
    >>> p = {"w": np.array([3.0, 4.0])}
    >>> np.round(t.update({"w": np.array([1.0, 0.0])}, t.init(p), p)[0]["w"], 7)
    array([6.e-06, 0.e+00])
    """

    def l2(x: Any, y: Any = 0.0) -> Any:
        return fnp.sqrt(fnp.sum((x - y) ** 2))

    def init(params: Params) -> ScaleByDistanceOverGradientsState:
        return ScaleByDistanceOverGradientsState(
            tree_map(lambda x: reps_rel * (1 + l2(x)), params),
            tree_map(lambda x: fnp.zeros((1,), np.float32), params),
            _astype(params, param_dtype))

    def update(updates: Updates, state: ScaleByDistanceOverGradientsState,
               params: Params = None) -> Any:
        _needs_params(params, "scale_by_distance_over_gradients")
        max_dist = tree_map(lambda d, x, y: fnp.maximum(d, l2(x, y)), state.max_dist, params,
                            state.init_params)
        g_sos = tree_map(lambda s, g: s + fnp.sum(g * g), state.grad_sum_of_squares, updates)
        out = tree_map(lambda g, d, s: global_scale * (d / fnp.sqrt(s + eps)) * g,
                       updates, max_dist, g_sos)
        return out, ScaleByDistanceOverGradientsState(max_dist, g_sos, state.init_params)

    return checked("scale_by_distance_over_gradients", init, update)


def scale_by_polyak(f_min: float = 0.0, max_learning_rate: float = 1.0, eps: float = 0.0,
                    variant: str = "sps") -> GradientTransformationExtraArgs:
    """The Polyak step size (Loizou et al., 2021): `min((f - f_min) / |g|^2, max_lr) * g`,
    with `f` passed as `update(..., value=f)`; "sps+" clips a negative gap to 0.

    >>> scale_by_polyak().update({"w": np.float32(2)}, EmptyState(), value=1.0)[0]["w"]
    np.float32(0.5)
    """
    if variant not in ("sps", "sps+"):
        raise OptimizerArgumentError(f"scale_by_polyak: variant must be 'sps' or 'sps+', got {variant!r}")

    def update(updates: Updates, state: EmptyState, params: Params = None, *, value: Any = None,
               **extra_args: Any) -> Any:
        if value is None:
            raise OptimizerArgumentError("scale_by_polyak needs the loss: call update(grads, state, "
                             "params, value=loss)")
        sq = tree_norm(updates, squared=True)
        gap = fnp.asarray(value - f_min, sq.dtype)
        if variant == "sps+":
            gap = fnp.maximum(gap, 0.0)
        step = fnp.where(sq + eps <= np.finfo(np.float64).eps, 0.0,
                         fnp.minimum(gap / (sq + eps), max_learning_rate))
        return tree_map(lambda g: cast(step, g) * g, updates), state

    return checked("scale_by_polyak", init_empty_state, update)


# ------------------------------------------------------------------------ adding to updates

class WeightDecaySchedule(NamedTuple):
    count: Any


def add_decayed_weights(weight_decay: ScalarOrSchedule = 0.0, mask: Any = None
                        ) -> GradientTransformationExtraArgs:
    """Add `weight_decay * params` to the updates (a number or a schedule): L2 weight decay,
    decoupled from the adaptive scaling when chained after it, as in AdamW. `mask` limits
    it (e.g. to weight matrices).

    >>> round(float(add_decayed_weights(0.1).update({"w": 1.0}, EmptyState(), {"w": 2.0})[0]["w"]), 6)
    1.2
    """
    scheduled = callable(weight_decay)

    def init(params: Params) -> Any:
        return WeightDecaySchedule(_count()) if scheduled else EmptyState()

    def update(updates: Updates, state: Any, params: Params = None) -> Any:
        _needs_params(params, "add_decayed_weights")
        new_state = WeightDecaySchedule(safe_increment(state.count)) if scheduled else state
        if isinstance(weight_decay, (int, float)) and weight_decay == 0.0:
            return updates, new_state
        s = weight_decay(state.count) if scheduled else weight_decay
        return tree_map(lambda g, p: g + cast(s, g) * p, updates, params), new_state

    tx = checked("add_decayed_weights", init, update)
    return tx if mask is None else masked(tx, mask)


def add_l1_decay(weight: float = 0.0, mask: Any = None) -> GradientTransformationExtraArgs:
    """Add `weight * sign(params)` to the updates: the (sub)gradient of an L1 penalty.

    >>> add_l1_decay(0.1).update({"w": 1.0}, EmptyState(), {"w": -2.0})[0]["w"]
    np.float32(0.9)
    """
    tx = _stateless_map("add_l1_decay", lambda g, p: g + weight * fnp.sign(p), with_params=True)
    return tx if mask is None else masked(tx, mask)


class AddNoiseState(NamedTuple):
    count: Any
    rng_key: Any


def _noise_key(name: str, key: Any, seed: int | None) -> Any:
    """The random key of a noisy transformation: `key` (a key or an int), or optax's
    deprecated `seed`, or key 0."""
    if seed is not None:
        if key is not None:
            raise OptimizerArgumentError(f"{name}: give key or seed, not both")
        key = seed
    key = 0 if key is None else key
    return frandom.key(key) if isinstance(key, int) else key


def add_noise(eta: float, gamma: float, key: Any = None, *, seed: int | None = None
              ) -> GradientTransformationExtraArgs:
    """Add Gaussian noise of variance `eta / (1 + k)**gamma` at step k (Neelakantan et al.,
    2015), which helps very deep networks escape poor regions early on.

    >>> t = add_noise(0.01, 0.55, key=0)
    >>> t.update({"w": np.zeros(3, np.float32)}, t.init(None))[0]["w"].shape
    (3,)
    """
    key = _noise_key("add_noise", key, seed)

    def init(params: Params) -> AddNoiseState:
        return AddNoiseState(_count(), key)

    def update(updates: Updates, state: AddNoiseState, params: Params = None) -> Any:
        count = safe_increment(state.count)
        std = fnp.sqrt(eta / fnp.asarray(count, np.float32) ** gamma)
        next_key, sample_key = frandom.split(state.rng_key)
        leaves = tree_leaves(updates)
        keys = frandom.split(sample_key, len(leaves)) if leaves else []
        noise = iter([frandom.normal(k, fnp.shape(g), fnp.asarray(g).dtype)
                      for k, g in zip(keys, leaves)])
        out = tree_map(lambda g: g + cast(std, g) * next(noise), updates)
        return out, AddNoiseState(count, next_key)

    return checked("add_noise", init, update)


# -------------------------------------------------------------------------------- clipping

def clip(max_delta: Any) -> GradientTransformationExtraArgs:
    """Clip every update element to `[-max_delta, max_delta]`.

    >>> float(clip(1.0).update({"w": -3.0}, EmptyState())[0]["w"])
    -1.0
    """
    return _stateless_map("clip", lambda g: fnp.clip(g, -max_delta, max_delta))


def clip_by_block_rms(threshold: Any) -> GradientTransformationExtraArgs:
    """Scale each update down so that its root mean square is at most `threshold`.

    >>> clip_by_block_rms(1.0).update({"w": np.array([3.0, -3.0])}, EmptyState())[0]["w"]
    array([ 1., -1.])
    """
    return _stateless_map("clip_by_block_rms", lambda u: u / fnp.maximum(
        1.0, fnp.sqrt(fnp.mean(u * u)) / threshold))


def clip_by_global_norm(max_norm: Any) -> GradientTransformationExtraArgs:
    """Scale all updates by `max_norm / global_norm` when that norm exceeds `max_norm`,
    keeping their direction (Pascanu et al., 2013).

    >>> clip_by_global_norm(1.0).update({"w": np.array([3.0, 4.0])}, EmptyState())[0]["w"]
    array([0.6, 0.8])
    """

    def update(updates: Updates, state: EmptyState, params: Params = None) -> Any:
        norm = tree_norm(updates)
        small = norm < max_norm
        return tree_map(lambda g: fnp.where(small, g, g / cast(norm, g) * max_norm),
                        updates), state

    return checked("clip_by_global_norm", init_empty_state, update)


def _check_batched(grads: Any, name: str) -> None:
    leaves = tree_leaves(grads)
    if not leaves or any(fnp.ndim(g) < 1 or fnp.shape(g)[0] != fnp.shape(leaves[0])[0]
                         for g in leaves):
        raise OptimizerArgumentError(f"{name} expects per-example grads with a shared batch axis 0, got "
                         f"shapes {[fnp.shape(g) for g in leaves]}")


def per_example_global_norm_clip(grads: Any, l2_norm_clip: Any) -> tuple[Any, Any]:
    """Clip each example's gradient (axis 0 of every leaf) to global norm `l2_norm_clip`
    and sum them; also returns how many were clipped (DP-SGD, Abadi et al., 2016).

    >>> s, n = per_example_global_norm_clip([np.array([[3.0, 4.0], [0.3, 0.4]])], 1.0)
    >>> np.round(s[0], 4), int(n)
    (array([0.9, 1.2]), 1)
    """
    _check_batched(grads, "per_example_global_norm_clip")
    # Integer grads are clipped to fractions: compute in the default float (as JAX does).
    grads = tree_map(lambda g: g if np.issubdtype(dtype_of(g), np.inexact)
                     else fnp.asarray(g, default_float()), grads)
    norms = vmap(tree_norm)(grads)
    factors = fnp.where(norms == 0, 1.0, fnp.minimum(l2_norm_clip / fnp.where(
        norms == 0, 1.0, norms), 1.0))
    clipped = tree_map(lambda g: fnp.tensordot(cast(factors, g), g, axes=1), grads)
    return clipped, fnp.sum(factors < 1.0)


def per_example_layer_norm_clip(grads: Any, global_l2_norm_clip: Any, uniform: bool = True
                                ) -> tuple[Any, Any]:
    """`per_example_global_norm_clip` leaf by leaf, with the clip norm shared out equally
    (`uniform`) or in proportion to each leaf's size; returns (sums, counts) trees.

    >>> s, n = per_example_layer_norm_clip([np.array([[3.0, 4.0]])], 1.0)
    >>> np.round(s[0], 4)
    array([0.6, 0.8])
    """
    _check_batched(grads, "per_example_layer_norm_clip")
    leaves = tree_leaves(grads)
    total = sum(int(np.prod(fnp.shape(g)[1:])) for g in leaves)

    def clip_norm(g: Any) -> float:
        share = 1.0 / len(leaves) if uniform else int(np.prod(fnp.shape(g)[1:])) / total
        return global_l2_norm_clip * share ** 0.5

    pairs = tree_map(lambda g: per_example_global_norm_clip(g, clip_norm(g)), grads)
    return (tree_map(lambda g, pair: pair[0], grads, pairs),
            tree_map(lambda g, pair: pair[1], grads, pairs))


def _unitwise_norm(x: Any, axis: Any = None) -> Any:
    ndim = fnp.ndim(x)
    if axis is None:
        if len([d for d in fnp.shape(x) if d != 1]) <= 1:
            axis = tuple(range(ndim))
        elif ndim in (2, 3):
            axis = (0,)
        elif ndim in (4, 5):
            axis = tuple(range(ndim - 1))
        else:
            raise OptimizerArgumentError(f"adaptive_grad_clip: a parameter of shape {fnp.shape(x)} needs "
                             "the axis argument to say which axes a unit's norm runs over")
    norm = fnp.sqrt(fnp.sum(x * x, axis=axis, keepdims=True))
    return fnp.broadcast_to(norm, fnp.shape(x))


def adaptive_grad_clip(clipping: Any, eps: float = 1e-3, axis: Any = None
                       ) -> GradientTransformationExtraArgs:
    """Clip each unit's gradient to `clipping` times its parameter norm (at least `eps`),
    unit by unit (Brock et al., 2021, NFNets).

    >>> adaptive_grad_clip(0.1).update({"w": np.array([3.0, 4.0])}, EmptyState(),
    ...                                {"w": np.array([0.0, 10.0])})[0]["w"]
    array([0.6, 0.8])
    """

    def f(g: Any, p: Any) -> Any:
        g_norm, p_norm = _unitwise_norm(g, axis), _unitwise_norm(p, axis)
        top = clipping * fnp.maximum(p_norm, eps)
        return fnp.where(g_norm < top, g, g * (top / fnp.maximum(g_norm, 1e-6)))

    return _stateless_map("adaptive_grad_clip", f, with_params=True)


# ------------------------------------------------------------------------------ constraints

def keep_params_nonnegative() -> GradientTransformationExtraArgs:
    """Shorten updates that would make a parameter negative so that it lands on 0.

    >>> float(keep_params_nonnegative().update({"w": -3.0}, EmptyState(), {"w": 1.0})[0]["w"])
    -1.0
    """
    return _stateless_map("keep_params_nonnegative",
                          lambda u, p: fnp.where(p + u < 0.0, -p, u), with_params=True)


class ZeroNansState(NamedTuple):
    found_nan: Any


def zero_nans() -> GradientTransformationExtraArgs:
    """Replace NaN updates by 0, recording per leaf whether there were any.

    >>> t = zero_nans()
    >>> u, s = t.update({"w": np.array([np.nan, 1.0])}, t.init({"w": np.zeros(2)}))
    >>> u["w"], bool(s.found_nan["w"])
    (array([0., 1.]), True)
    """

    def update(updates: Updates, state: ZeroNansState, params: Params = None) -> Any:
        found = tree_map(lambda g: fnp.any(fnp.isnan(g)), updates)
        return tree_map(lambda g: fnp.where(fnp.isnan(g), 0.0, g), updates), \
            ZeroNansState(found)

    return checked("zero_nans", lambda params: ZeroNansState(
        tree_map(lambda p: np.bool_(False), params)), update)


# ------------------------------------------------------------------------------ accumulation

class ApplyEvery(NamedTuple):
    count: Any
    grad_acc: Any


def apply_every(k: int = 1) -> GradientTransformationExtraArgs:
    """Sum the updates of `k` steps and emit the sum on every k-th step (zeros between).

    >>> t = apply_every(2)
    >>> s = t.init({"w": 0.0}); u, s = t.update({"w": 1.0}, s); u2, s = t.update({"w": 2.0}, s)
    >>> float(u["w"]), float(u2["w"])
    (0.0, 3.0)
    """

    def init(params: Params) -> ApplyEvery:
        return ApplyEvery(_count(), _zeros(params))

    def update(updates: Updates, state: ApplyEvery, params: Params = None) -> Any:
        c = state.count % k
        acc = tree_map(lambda g, a: fnp.where(c != 0, a, 0.0) + g, updates, state.grad_acc)
        emit = c == k - 1
        out = tree_map(lambda a: fnp.where(emit, a, 0.0), acc)
        return out, ApplyEvery(safe_increment(state.count) % k, acc)

    return checked("apply_every", init, update)


class FactoredState(NamedTuple):
    count: Any
    v_row: Any
    v_col: Any
    v: Any


def _factored_dims(shape: tuple[int, ...], factored: bool, min_dim: int
                   ) -> tuple[int, int] | None:
    if not factored or len(shape) < 2:
        return None
    order = np.argsort(shape)
    if shape[order[-2]] < min_dim:
        return None
    return int(order[-2]), int(order[-1])


def scale_by_factored_rms(factored: bool = True, decay_rate: float = 0.8,
                          step_offset: int = 0, min_dim_size_to_factor: int = 128,
                          epsilon: float = 1e-30,
                          decay_rate_fn: Callable[[Any, Any], Any] | None = None
                          ) -> GradientTransformationExtraArgs:
    """Adafactor's scaling (Shazeer & Stern, 2018): the second moment of a large matrix kept
    as its row and column means (rank-1), of other leaves in full; decay `1 - (k+1)**-0.8`.

    >>> t = scale_by_factored_rms()
    >>> np.round(t.update({"w": np.array([3.0, -3.0])}, t.init({"w": np.zeros(2)}),
    ...                   {"w": np.zeros(2)})[0]["w"], 4)
    array([ 1., -1.])
    """
    rate_fn = decay_rate_fn or (lambda i, exponent: 1.0 - fnp.asarray(
        i + 1, np.float32) ** (-exponent))

    def init(params: Params) -> FactoredState:
        def one(p: Any) -> tuple:
            shape, dtype = fnp.shape(p), fnp.asarray(p).dtype
            dims = _factored_dims(shape, factored, min_dim_size_to_factor)
            tiny = fnp.zeros((1,), dtype)
            if dims is None:
                return tiny, tiny, fnp.zeros(shape, dtype)
            d1, d0 = dims
            drop = lambda axis: fnp.zeros(shape[:axis] + shape[axis + 1:], dtype)
            return drop(d0), drop(d1), tiny

        parts = tree_map(one, params)
        pick = lambda i: tree_map(lambda p, t: t[i], params, parts)
        return FactoredState(_count(), pick(0), pick(1), pick(2))

    def update(updates: Updates, state: FactoredState, params: Params = None) -> Any:
        _needs_params(params, "scale_by_factored_rms")
        rate = rate_fn(state.count - step_offset, decay_rate)

        def one(g: Any, v_row: Any, v_col: Any, v: Any) -> tuple:
            shape, dtype = fnp.shape(g), fnp.asarray(g).dtype
            r = cast(rate, g)
            tiny = fnp.zeros((1,), dtype)
            dims = _factored_dims(shape, factored, min_dim_size_to_factor)
            g2 = g * g + epsilon
            if dims is None:
                new_v = r * v + (1.0 - r) * g2
                return g * new_v ** -0.5, tiny, tiny, new_v
            d1, d0 = dims
            row = r * v_row + (1.0 - r) * fnp.mean(g2, axis=d0)
            col = r * v_col + (1.0 - r) * fnp.mean(g2, axis=d1)
            reduced = d1 - 1 if d1 > d0 else d1
            row_factor = (row / fnp.mean(row, axis=reduced, keepdims=True)) ** -0.5
            out = g * fnp.expand_dims(row_factor, d0) * fnp.expand_dims(col ** -0.5, d1)
            return out, row, col, tiny

        parts = tree_map(one, updates, state.v_row, state.v_col, state.v)
        pick = lambda i: tree_map(lambda g, t: t[i], updates, parts)
        return pick(0), FactoredState(safe_increment(state.count), pick(1), pick(2), pick(3))

    return checked("scale_by_factored_rms", init, update)

