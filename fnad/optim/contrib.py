"""`optax.contrib`: the experimental optimizers programs reach as `optax.contrib.*`. So far
`reduce_on_plateau`, which scales updates down when a monitored value stops improving,
sharpness-aware minimization (`sam`, with its usual adversary step `normalize`),
differentially private SGD (`dpsgd`), AdEMAMix (`ademamix`, `simplified_ademamix`), ADOPT
(`adopt`), the learning-rate-free `dog` and `dowg`, and schedule-free learning
(`schedule_free`, `schedule_free_sgd`, `schedule_free_adamw`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

import fnad.numpy as fnp
from fnad import lax, random as frandom
from fnad.optim import transforms as tx
from fnad.optim.alias import _lr, sgd
from fnad.optim.base import (
    EmptyState,
    GradientTransformation,
    GradientTransformationExtraArgs,
    OptState,
    Params,
    ScalarOrSchedule,
    Updates,
    apply_updates,
    chain,
    checked,
    identity,
    with_extra_args_support,
)
from fnad.optim.errors import OptimizerArgumentError
from fnad.optim.numerics import (
    bias_correction,
    cast,
    safe_increment,
    update_moment,
    update_moment_per_elem_norm,
)
from fnad.optim.schedules import warmup_constant_schedule
from fnad.optim.tree_utils import tree_dtype, tree_norm
from fnad.tree import tree_flatten, tree_map, tree_unflatten


class ReduceLROnPlateauState(NamedTuple):
    """The scale applied to updates, the best (averaged) value so far, and the counters."""

    scale: Any
    best_value: Any
    plateau_count: Any
    cooldown_count: Any
    count: Any
    avg_value: Any


def reduce_on_plateau(factor: float = 0.1, patience: int = 10, rtol: float = 1e-4,
                      atol: float = 0.0, cooldown: int = 0, accumulation_size: int = 1,
                      min_scale: float = 0.0) -> GradientTransformationExtraArgs:
    """Multiply updates by a scale that drops by `factor` (not below `min_scale`) once the
    `value` passed to `update` (averaged over `accumulation_size` calls) has not improved
    by `rtol`/`atol` for `patience` averages; `cooldown` averages then pass unchecked.

    >>> opt = reduce_on_plateau(patience=1)
    >>> state = opt.init(np.zeros(2, np.float32))
    >>> for v in (1.0, 1.0):
    ...     updates, state = opt.update(np.ones(2, np.float32), state, value=v)
    >>> updates
    array([0.1, 0.1], dtype=float32)
    """
    if not 0.0 < factor < 1.0:
        raise OptimizerArgumentError(f"reduce_on_plateau: factor must be in (0, 1), got {factor}")
    if rtol < 0.0 or atol < 0.0 or (rtol == 0.0 and atol == 0.0) or rtol > 1.0:
        raise OptimizerArgumentError(
            f"reduce_on_plateau: need 0 <= rtol <= 1, atol >= 0 and one of them positive, "
            f"got rtol={rtol}, atol={atol}")

    def init(params: Params) -> ReduceLROnPlateauState:
        low, high = tree_dtype(params, "lowest"), tree_dtype(params, "highest")
        return ReduceLROnPlateauState(
            scale=np.asarray(1.0, low), best_value=np.asarray(np.inf, high),
            plateau_count=np.int32(0), cooldown_count=np.int32(0), count=np.int32(0),
            avg_value=np.asarray(0.0, high))

    def judge(state: ReduceLROnPlateauState) -> ReduceLROnPlateauState:
        improved = state.avg_value < (1 - rtol) * state.best_value - atol
        best = fnp.where(improved, state.avg_value, state.best_value)
        plateau = fnp.where(improved, np.int32(0), safe_increment(state.plateau_count))
        reduce = plateau == patience
        cooling = state.cooldown_count > 0
        scale = fnp.where(cooling | ~reduce, state.scale,
                          fnp.maximum(state.scale * factor, min_scale).astype(state.scale.dtype))
        return ReduceLROnPlateauState(
            scale=scale, best_value=best,
            plateau_count=fnp.where(cooling | reduce, np.int32(0), plateau),
            cooldown_count=fnp.where(cooling, state.cooldown_count - 1,
                                     fnp.where(reduce, np.int32(cooldown), np.int32(0))),
            count=np.int32(0), avg_value=fnp.zeros_like(state.avg_value))

    def update(updates: Updates, state: ReduceLROnPlateauState, params: Params = None, *,
               value: Any, **_: Any) -> tuple[Updates, ReduceLROnPlateauState]:
        count = safe_increment(state.count)
        avg = (state.count * state.avg_value + fnp.asarray(value).astype(
            state.avg_value.dtype)) / count
        state = state._replace(avg_value=avg.astype(state.avg_value.dtype), count=count)
        state = lax.cond(count == accumulation_size, judge, lambda s: s, state)
        return tree_map(lambda g: state.scale * g, updates), state

    return checked("reduce_on_plateau", init, update)


NormalizeState = EmptyState  # as optax's: normalize keeps no state


def normalize() -> GradientTransformationExtraArgs:
    """Divide the updates by their global L2 norm (SAM's adversarial direction).

    >>> normalize().update(np.array([3.0, 4.0]), EmptyState())[0]
    array([0.6, 0.8])
    """
    def update(updates: Updates, state: NormalizeState, params: Params = None
               ) -> tuple[Updates, NormalizeState]:
        norm = tree_norm(updates)
        return tree_map(lambda g: g / norm.astype(fnp.asarray(g).dtype), updates), state

    return checked("normalize", lambda params: NormalizeState(), update)


class SAMState(NamedTuple):
    """Steps since the last outer update, the outer and adversarial optimizers' states, and
    the params of the last outer step (None in opaque mode)."""

    steps_since_sync: Any
    opt_state: OptState
    adv_state: OptState
    cache: Params | None


def sam(optimizer: GradientTransformation, adv_optimizer: GradientTransformation,
        sync_period: int = 2, reset_state: bool = True, opaque_mode: bool = False,
        batch_axis_name: str | None = None) -> GradientTransformationExtraArgs:
    """Sharpness-aware minimization (Foret et al., 2021): `sync_period - 1` ascent steps of
    `adv_optimizer` away from the params, then one `optimizer` step from where they started
    using the gradient at the perturbed point. Transparent mode spreads them over calls
    (each returns the step to take); opaque mode runs them in one call and needs
    `update(..., grad_fn=lambda params, i: grads)`.
    """
    if sync_period < 1:
        raise OptimizerArgumentError(f"sam: sync_period must be >= 1, got {sync_period}")
    if batch_axis_name is not None:
        raise OptimizerArgumentError("sam: batch_axis_name (pmean over devices) is not "
                                     "supported; fnad runs one device per process")

    def init(params: Params) -> SAMState:
        return SAMState(np.int32(0), optimizer.init(params), adv_optimizer.init(params),
                        None if opaque_mode else params)

    def pick(cond: Any, if_true: Any, if_false: Any) -> Any:
        return tree_map(lambda t, f: fnp.where(cond, t, f), if_true, if_false)

    def transparent(updates: Updates, state: SAMState, params: Params, **_: Any
                    ) -> tuple[Updates, SAMState]:
        first, last = state.steps_since_sync == 0, state.steps_since_sync == sync_period - 1
        adv_updates, adv_state = adv_optimizer.update(updates, state.adv_state, params)
        adv_updates = tree_map(lambda x: -x, adv_updates)
        opt_updates, opt_state = optimizer.update(updates, state.opt_state, state.cache)
        opt_updates = tree_map(lambda c, p, u: c - p + u, state.cache, params, opt_updates)
        restart = adv_optimizer.init(params) if reset_state else state.adv_state
        return pick(last, opt_updates, adv_updates), SAMState(
            (state.steps_since_sync + 1) % sync_period,
            pick(last, opt_state, state.opt_state), pick(last, restart, adv_state),
            pick(first, params, state.cache))

    def opaque(updates: Updates, state: SAMState, params: Params, *,
               grad_fn: Callable[[Params, int], Updates] | None = None, **_: Any
               ) -> tuple[Updates, SAMState]:
        if grad_fn is None:
            raise OptimizerArgumentError("sam: opaque_mode=True needs update(..., grad_fn="
                                         "lambda params, i: grads)")
        adv_params, adv_updates, adv_state = params, updates, state.adv_state
        for i in range(sync_period - 1):
            adv_updates, adv_state = adv_optimizer.update(adv_updates, adv_state, adv_params)
            adv_params = apply_updates(adv_params, tree_map(lambda x: -x, adv_updates))
            adv_updates = grad_fn(adv_params, i)
        if reset_state:
            adv_state = adv_optimizer.init(params)
        out, opt_state = optimizer.update(adv_updates, state.opt_state, params)
        return out, SAMState(np.int32(0), opt_state, adv_state, None)

    return checked("sam", init, opaque if opaque_mode else transparent)


class DifferentiallyPrivateAggregateState(NamedTuple):
    """The key the next step's noise is drawn from."""

    rng_key: Any


def differentially_private_aggregate(l2_norm_clip: Any, noise_multiplier: Any,
                                     key: Any = None, *, seed: int | None = None
                                     ) -> GradientTransformation:
    """DP-SGD's aggregation (Abadi et al., 2016): clip each example's gradient (axis 0 of
    every leaf: per-example gradients, e.g. from `vmap(grad(...))`) to global norm
    `l2_norm_clip`, sum, add Gaussian noise of std `l2_norm_clip * noise_multiplier` and
    divide by the batch size.

    >>> t = differentially_private_aggregate(1.0, 0.0, key=0)
    >>> t.update({"w": np.array([[3.0, 4.0], [0.3, 0.4]])}, t.init(None))[0]["w"]
    array([0.45, 0.6 ])
    """
    key = tx._noise_key("differentially_private_aggregate", key, seed)
    noise_std = l2_norm_clip * noise_multiplier

    def update(updates: Updates, state: DifferentiallyPrivateAggregateState,
               params: Params = None) -> tuple[Updates, DifferentiallyPrivateAggregateState]:
        leaves, treedef = tree_flatten(updates)
        batch = fnp.shape(leaves[0])[0] if leaves and fnp.ndim(leaves[0]) else 1
        clipped, _ = tx.per_example_global_norm_clip(leaves, l2_norm_clip)
        next_key, *keys = frandom.split(state.rng_key, len(leaves) + 1)
        noised = [(g + noise_std * frandom.normal(k, fnp.shape(g), fnp.asarray(g).dtype)) / batch
                  for g, k in zip(clipped, keys)]
        return tree_unflatten(treedef, noised), DifferentiallyPrivateAggregateState(next_key)

    return checked("differentially_private_aggregate",
                   lambda params: DifferentiallyPrivateAggregateState(key), update,
                   check_params=False)


def dpsgd(learning_rate: ScalarOrSchedule, l2_norm_clip: Any, noise_multiplier: Any,
          key: Any = None, momentum: Any = None, nesterov: bool = False, *,
          seed: int | None = None) -> GradientTransformation:
    """Differentially private SGD (Abadi et al., 2016): `differentially_private_aggregate`
    of per-example gradients, optional momentum, then steps of `learning_rate`.

    >>> opt = dpsgd(0.1, l2_norm_clip=1.0, noise_multiplier=0.0, key=0)
    >>> opt.update({"w": np.array([[3.0, 4.0]])}, opt.init(None))[0]["w"]
    array([-0.06, -0.08])
    """
    return chain(
        differentially_private_aggregate(l2_norm_clip, noise_multiplier, key, seed=seed),
        identity() if momentum is None else tx.trace(momentum, nesterov),
        _lr(learning_rate))


class ScaleByAdemamixState(NamedTuple):
    """Steps taken (for the fast moment and the slow one), the fast and slow moving
    averages of the gradient and that of its square."""

    count: Any
    count_m2: Any
    m1: Any
    m2: Any
    nu: Any


def scale_by_ademamix(b1: float = 0.9, b2: float = 0.999, b3: ScalarOrSchedule = 0.9999,
                      alpha: ScalarOrSchedule = 6.0, eps: float = 1e-8, eps_root: float = 0.0,
                      mu_dtype: Any = None) -> GradientTransformationExtraArgs:
    """AdEMAMix's scaling (Pagliardini et al., 2024): Adam whose numerator adds `alpha`
    times a slow (`b3`, not debiased) moving average of the gradient to the fast one, so
    that very old gradients still count; `b3` and `alpha` may be schedules.

    >>> t = scale_by_ademamix(eps=0.0)
    >>> round(float(t.update({"w": np.float32(-3)}, t.init({"w": 0.0}))[0]["w"]), 4)
    -1.0006
    """

    def init(params: Params) -> ScaleByAdemamixState:
        moment = tx._zeros(params, mu_dtype)
        return ScaleByAdemamixState(tx._count(), tx._count(), moment, moment,
                                    tx._zeros(params, mu_dtype))

    def update(updates: Updates, state: ScaleByAdemamixState, params: Params = None
               ) -> tuple[Updates, ScaleByAdemamixState]:
        slow_decay = b3(state.count_m2) if callable(b3) else b3
        mix = alpha(state.count_m2) if callable(alpha) else alpha
        m1 = update_moment(updates, state.m1, b1, 1)
        # Schedules' values take each moment's dtype, which they must not promote.
        m2 = tree_map(lambda g, m: update_moment(g, m, cast(slow_decay, m), 1), updates,
                      state.m2)
        nu = update_moment_per_elem_norm(updates, state.nu, b2, 2)
        count, count_m2 = safe_increment(state.count), safe_increment(state.count_m2)
        out = tree_map(lambda fast, slow, v: (fast + cast(mix, slow) * slow)
                       / (fnp.sqrt(v + eps_root) + eps),
                       bias_correction(m1, b1, count), m2, bias_correction(nu, b2, count))
        return out, ScaleByAdemamixState(count, count_m2, m1, m2, nu)

    return checked("scale_by_ademamix", init, update)


def ademamix(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999,
             b3: ScalarOrSchedule = 0.9999, alpha: ScalarOrSchedule = 5.0, eps: float = 1e-8,
             eps_root: float = 0.0, mu_dtype: Any = None, weight_decay: ScalarOrSchedule = 0.0,
             mask: Any = None) -> GradientTransformationExtraArgs:
    """AdEMAMix (Pagliardini et al., 2024): `scale_by_ademamix`, decoupled weight decay
    (as `adamw`; `mask` limits it), then steps of `learning_rate`.

    >>> opt = ademamix(0.1, alpha=0.0)
    >>> round(float(opt.update({"w": 2.0}, opt.init({"w": 1.0}), {"w": 1.0})[0]["w"]), 4)
    -0.1
    """
    return chain(scale_by_ademamix(b1, b2, b3, alpha, eps, eps_root, mu_dtype),
                 tx.add_decayed_weights(weight_decay, mask), _lr(learning_rate))


class ScaleBySimplifiedAdEMAMixState(NamedTuple):
    """Steps taken, the momentum (a sum of gradients decaying by b1, not an average) and
    the moving average of squared gradients."""

    t: Any
    m: Any
    n: Any


def scale_by_simplified_ademamix(b1: float = 0.99, b2: float = 0.95,
                                 alpha: ScalarOrSchedule = 0.0, eps: float = 1e-8,
                                 eps_root: float = 0.0) -> GradientTransformationExtraArgs:
    """Simplified AdEMAMix's scaling (Morwani et al., 2025): `(m + alpha g) / (sqrt(n_hat +
    eps_root) + eps)` with the momentum `m <- b1 m + g` (one buffer, no slow average) and
    Adam's debiased second moment; `alpha` may be a schedule.

    >>> t = scale_by_simplified_ademamix(eps=0.0)
    >>> round(float(t.update({"w": np.float32(-3)}, t.init({"w": 0.0}))[0]["w"]), 4)
    -1.0
    """

    def init(params: Params) -> ScaleBySimplifiedAdEMAMixState:
        return ScaleBySimplifiedAdEMAMixState(tx._count(), tx._zeros(params), tx._zeros(params))

    def update(updates: Updates, state: ScaleBySimplifiedAdEMAMixState, params: Params = None
               ) -> tuple[Updates, ScaleBySimplifiedAdEMAMixState]:
        mix = alpha(state.t) if callable(alpha) else alpha
        m = tree_map(lambda g, acc: g + b1 * acc, updates, state.m)
        n = update_moment_per_elem_norm(updates, state.n, b2, 2)
        t = safe_increment(state.t)
        out = tree_map(lambda mom, g, v: (mom + cast(mix, mom) * g)
                       / (fnp.sqrt(v + eps_root) + eps), m, updates, bias_correction(n, b2, t))
        return out, ScaleBySimplifiedAdEMAMixState(t, m, n)

    return checked("scale_by_simplified_ademamix", init, update)


def simplified_ademamix(learning_rate: ScalarOrSchedule, b1: float = 0.99, b2: float = 0.95,
                        alpha: ScalarOrSchedule = 0.0, eps: float = 1e-8, eps_root: float = 0.0,
                        weight_decay: ScalarOrSchedule = 0.0, mask: Any = None
                        ) -> GradientTransformationExtraArgs:
    """Simplified AdEMAMix: `scale_by_simplified_ademamix`, decoupled weight decay (`mask`
    limits it), then steps of `learning_rate`.

    >>> opt = simplified_ademamix(0.1)
    >>> round(float(opt.update({"w": 2.0}, opt.init({"w": 1.0}), {"w": 1.0})[0]["w"]), 4)
    -0.1
    """
    return chain(scale_by_simplified_ademamix(b1, b2, alpha, eps, eps_root),
                 tx.add_decayed_weights(weight_decay, mask), _lr(learning_rate))


def scale_by_adopt(b1: float = 0.9, b2: float = 0.9999, eps: float = 1e-6,
                   mu_dtype: Any = None, *, nesterov: bool = False, use_clipping: bool = True,
                   clip_value_fn: Callable[[Any], Any] = lambda count: count ** 0.25
                   ) -> GradientTransformationExtraArgs:
    """ADOPT's scaling (Taniguchi et al., 2024): the gradient is normalized by the second
    moment of the *previous* steps (so it is independent of it), clipped to
    `clip_value_fn(step)`, then averaged into the momentum; the first step only records
    the second moment. The state is Adam's (count, mu, nu).

    >>> t = scale_by_adopt()
    >>> s = t.init({"w": 0.0})
    >>> u, s = t.update({"w": np.float32(2.0)}, s); float(u["w"]), float(s.nu["w"])
    (0.0, 4.0)
    """
    def update(updates: Updates, state: tx.ScaleByAdamState, params: Params = None
               ) -> tuple[Updates, tx.ScaleByAdamState]:
        first = state.count == 0
        # the decays in each leaf's dtype (a float32 b1 would round float64 moments)
        decay = lambda at_first, later, like: fnp.where(first, cast(at_first, like),
                                                        cast(later, like))
        nu = tree_map(lambda g, v: update_moment_per_elem_norm(g, v, decay(0.0, b2, v), 2),
                      updates, state.nu)
        clip = clip_value_fn(state.count)

        def normalized(g: Any, v: Any) -> Any:
            step = g / fnp.maximum(fnp.sqrt(v), cast(eps, v))
            return fnp.clip(step, -cast(clip, step), cast(clip, step)) if use_clipping else step

        steps = tree_map(normalized, updates, state.nu)
        average = lambda s, m: tree_map(lambda a, b: update_moment(a, b, decay(1.0, b1, b), 1),
                                        s, m)
        mu = average(steps, state.mu)
        out = average(steps, mu) if nesterov else mu
        return out, tx.ScaleByAdamState(safe_increment(state.count), tx._astype(mu, mu_dtype),
                                        nu)

    return checked("scale_by_adopt", tx._adam_init(mu_dtype), update)


def adopt(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.9999,
          eps: float = 1e-6, mu_dtype: Any = None, *, nesterov: bool = False,
          use_clipping: bool = True,
          clip_value_fn: Callable[[Any], Any] = lambda count: count ** 0.25
          ) -> GradientTransformationExtraArgs:
    """ADOPT (Taniguchi et al., 2024): `scale_by_adopt`, then steps of `learning_rate`;
    converges for any b2, where Adam may not."""
    return chain(scale_by_adopt(b1, b2, eps, mu_dtype, nesterov=nesterov,
                                use_clipping=use_clipping, clip_value_fn=clip_value_fn),
                 _lr(learning_rate))


class DoGState(NamedTuple):
    """Whether no step was taken yet, the starting params, the largest distance from them
    so far and the sum of the squared gradient norms."""

    is_init_step: Any
    init_params: Params
    max_dist: Any
    sum_sq_norm_grads: Any


def _scaled(rate: Any, updates: Updates) -> Updates:
    return tree_map(lambda g: cast(rate, g) * g, updates)


def scale_by_dog(init_step: tuple[str, Any], eps: float = 1e-8
                 ) -> GradientTransformationExtraArgs:
    """DoG's scaling (Ivgi et al., 2023): step `max distance from the start / sqrt(sum of
    squared gradient norms)`, the first distance given by `init_step`: ("distance", r),
    ("heuristic", c) for c (1 + |params|), or ("learning_rate", lr) for the first step.

    >>> t = scale_by_dog(("distance", 1.0)); p = {"w": np.array([0.0])}
    >>> t.update({"w": np.array([2.0])}, t.init(p), p)[0]["w"]
    array([1.])
    """
    kind, value = init_step
    if kind not in ("distance", "heuristic", "learning_rate"):
        raise OptimizerArgumentError(f"scale_by_dog: init_step must be ('distance', r), "
                                     f"('heuristic', c) or ('learning_rate', lr), got {kind!r}")

    def init(params: Params) -> DoGState:
        dtype = tree_dtype(params, "lowest")
        r = value * (1 + tree_norm(params)) if kind == "heuristic" else \
            value if kind == "distance" else 0.0
        return DoGState(np.asarray(True), tree_map(fnp.array, params), fnp.asarray(r, dtype),
                        np.zeros((), dtype))

    def update(updates: Updates, state: DoGState, params: Params = None
               ) -> tuple[Updates, DoGState]:
        tx._needs_params(params, "scale_by_dog")
        dist = tree_norm(tree_map(lambda a, b: a - b, state.init_params, params))
        max_dist = fnp.maximum(state.max_dist, fnp.asarray(dist, state.max_dist.dtype))
        sum_sq = state.sum_sq_norm_grads + fnp.asarray(tree_norm(updates, squared=True),
                                                       state.max_dist.dtype)
        rate = max_dist / fnp.sqrt(sum_sq + eps)
        if kind == "learning_rate":
            rate = fnp.where(state.is_init_step, fnp.asarray(value, rate.dtype), rate)
        return _scaled(rate, updates), DoGState(np.asarray(False), state.init_params,
                                                max_dist, sum_sq)

    return checked("scale_by_dog", init, update)


def dog(learning_rate: ScalarOrSchedule = 1.0, init_step: tuple[str, Any] = ("heuristic", 1e-6),
        eps: float = 1e-8, weight_decay: Any = None, mask: Any = None
        ) -> GradientTransformationExtraArgs:
    """DoG, "distance over gradients" (Ivgi et al., 2023): a learning-rate-free SGD
    (`learning_rate` scales its steps), with optional weight decay added to the gradient."""
    return chain(identity() if weight_decay is None else tx.add_decayed_weights(weight_decay,
                                                                              mask),
                 scale_by_dog(init_step, eps), _lr(learning_rate))


class DoWGState(NamedTuple):
    """The starting params, the distance-weighted sum of squared gradient norms and the
    largest squared distance from the start so far."""

    init_params: Params
    weighted_sq_norm_grads: Any
    estim_sq_dist: Any


def scale_by_dowg(init_estim_sq_dist: Any = None, eps: float = 1e-4
                  ) -> GradientTransformationExtraArgs:
    """DoWG's scaling (Khaled et al., 2023): step `r^2 / (sqrt(sum of r_k^2 |g_k|^2) +
    eps)`, r^2 the largest squared distance from the start (at least `init_estim_sq_dist`,
    `eps` by default).

    >>> t = scale_by_dowg(1.0, eps=0.0); p = {"w": np.array([0.0])}
    >>> t.update({"w": np.array([2.0])}, t.init(p), p)[0]["w"]
    array([1.])
    """
    def init(params: Params) -> DoWGState:
        dtype = tree_dtype(params, "lowest")
        r2 = eps if init_estim_sq_dist is None else init_estim_sq_dist
        return DoWGState(tree_map(fnp.array, params), np.zeros((), dtype),
                         fnp.asarray(r2, dtype))

    def update(updates: Updates, state: DoWGState, params: Params = None
               ) -> tuple[Updates, DoWGState]:
        tx._needs_params(params, "scale_by_dowg")
        dtype = state.estim_sq_dist.dtype
        sq_dist = tree_norm(tree_map(lambda a, b: a - b, state.init_params, params),
                            squared=True)
        r2 = fnp.maximum(state.estim_sq_dist, fnp.asarray(sq_dist, dtype))
        weighted = r2 * fnp.asarray(tree_norm(updates, squared=True), dtype) + \
            state.weighted_sq_norm_grads
        rate = r2 / (fnp.sqrt(weighted) + eps)
        return _scaled(rate, updates), DoWGState(state.init_params, weighted, r2)

    return checked("scale_by_dowg", init, update)


def dowg(learning_rate: ScalarOrSchedule = 1.0, init_estim_sq_dist: Any = None,
         eps: float = 1e-4, weight_decay: Any = None, mask: Any = None
         ) -> GradientTransformationExtraArgs:
    """DoWG, "distance over weighted gradients" (Khaled et al., 2023): a learning-rate-free
    SGD, with optional weight decay added to the gradient."""
    return chain(identity() if weight_decay is None else tx.add_decayed_weights(weight_decay,
                                                                              mask),
                 scale_by_dowg(init_estim_sq_dist, eps), _lr(learning_rate))


class ScheduleFreeState(NamedTuple):
    """b1, the sum of the step weights so far, the step (from 1), the largest learning rate
    so far, the base optimizer's state, and the base optimizer's own iterate z."""

    b1: Any
    weight_sum: Any
    step_count: Any
    max_lr: Any
    base_optimizer_state: OptState
    z: Params


def schedule_free_eval_params(state: ScheduleFreeState, params: Params) -> Params:
    """The averaged iterate x to evaluate (the params trained are y = b1 x + (1 - b1) z).

    >>> opt = schedule_free_sgd(0.5); p = np.array([1.0])
    >>> u, s = opt.update(np.array([2.0]), opt.init(p), p)
    >>> schedule_free_eval_params(s, p + u)
    array([0.])
    """
    if not isinstance(state, ScheduleFreeState):
        raise OptimizerArgumentError("schedule_free_eval_params needs the ScheduleFreeState of "
                                     f"a schedule_free optimizer, got {type(state).__name__}")
    return tree_map(lambda y, z: (y - (1.0 - state.b1) * z) / state.b1, params, state.z)


def schedule_free(base_optimizer: GradientTransformation, learning_rate: ScalarOrSchedule,
                  b1: float = 0.9, weight_lr_power: float = 2.0, state_dtype: Any = None
                  ) -> GradientTransformationExtraArgs:
    """Schedule-free learning (Defazio et al., 2024): `base_optimizer` moves an iterate z;
    the params y = b1 x + (1 - b1) z are trained, x being the running average of the z's
    weighted by `max learning rate ** weight_lr_power`, so no decaying schedule is needed.
    Evaluate at x: `schedule_free_eval_params(state, params)`.
    """
    base_optimizer = with_extra_args_support(base_optimizer)

    def init(params: Params) -> ScheduleFreeState:
        dtype = tree_dtype(params, "lowest")
        z = tree_map(lambda p: fnp.array(p, dtype=state_dtype), params)  # a copy
        return ScheduleFreeState(np.asarray(b1, dtype), np.zeros((), dtype),
                                 np.ones((), np.int32), np.zeros((), dtype),
                                 base_optimizer.init(params), z)

    def update(updates: Updates, state: ScheduleFreeState, params: Params = None,
               **extra_args: Any) -> tuple[Updates, ScheduleFreeState]:
        tx._needs_params(params, "schedule_free")
        lr = learning_rate(state.step_count) if callable(learning_rate) else learning_rate
        max_lr = fnp.maximum(state.max_lr, fnp.asarray(lr, state.max_lr.dtype))
        weight = max_lr ** weight_lr_power
        total = state.weight_sum + weight
        ck = fnp.where(fnp.isnan(weight) | fnp.isnan(total), np.nan,
                       fnp.nan_to_num(weight / total, nan=0.0, posinf=np.inf))
        base_updates, base_state = base_optimizer.update(updates, state.base_optimizer_state,
                                                         params, **extra_args)
        z = apply_updates(state.z, base_updates)
        x = tree_map(lambda y, z_old, z_new: (1.0 - ck) * ((y - (1.0 - b1) * z_old) / b1)
                     + ck * z_new, params, state.z, z)
        out = tree_map(lambda y, xi, zi: b1 * xi + (1.0 - b1) * zi - y, params, x, z)
        return out, ScheduleFreeState(state.b1, total, safe_increment(state.step_count),
                                      max_lr, base_state, z)

    return checked("schedule_free", init, update)


def _warmed_up(learning_rate: Any, warmup_steps: int | None) -> Any:
    if warmup_steps is None:
        return learning_rate
    return warmup_constant_schedule(0.0, learning_rate, warmup_steps)


def schedule_free_sgd(learning_rate: float = 1.0, warmup_steps: int | None = None,
                      b1: float = 0.9, weight_decay: float | None = None,
                      weight_lr_power: float = 2.0, state_dtype: Any = None
                      ) -> GradientTransformationExtraArgs:
    """`schedule_free` around SGD (with weight decay added to the gradient if given), the
    learning rate warmed up linearly over `warmup_steps`."""
    learning_rate = _warmed_up(learning_rate, warmup_steps)
    optimizer = sgd(learning_rate)
    if weight_decay is not None:
        optimizer = chain(tx.add_decayed_weights(weight_decay), optimizer)
    return schedule_free(optimizer, learning_rate, b1, weight_lr_power, state_dtype)


def schedule_free_adamw(learning_rate: float = 0.0025, warmup_steps: int | None = None,
                        b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
                        weight_decay: float = 0.0, weight_lr_power: float = 2.0,
                        state_dtype: Any = None) -> GradientTransformationExtraArgs:
    """`schedule_free` around AdamW without momentum (b1 is schedule-free's averaging): the
    debiased RMS scaling, decoupled weight decay, then steps of `learning_rate`."""
    learning_rate = _warmed_up(learning_rate, warmup_steps)
    optimizer = chain(tx.scale_by_rms(decay=b2, eps=eps, eps_in_sqrt=False,
                                      bias_correction=True),
                      tx.add_decayed_weights(weight_decay), _lr(learning_rate))
    return schedule_free(optimizer, learning_rate, b1, weight_lr_power, state_dtype)


__all__ = ["DifferentiallyPrivateAggregateState", "NormalizeState", "ReduceLROnPlateauState",
           "SAMState", "ScaleByAdemamixState", "adopt", "scale_by_adopt", "DoGState",
           "DoWGState", "dog", "dowg", "scale_by_dog", "scale_by_dowg", "ScaleBySimplifiedAdEMAMixState", "ademamix",
           "ScheduleFreeState", "differentially_private_aggregate", "dpsgd", "normalize",
           "reduce_on_plateau", "sam", "scale_by_ademamix", "scale_by_simplified_ademamix",
           "schedule_free", "schedule_free_adamw", "schedule_free_eval_params",
           "schedule_free_sgd", "simplified_ademamix"]
