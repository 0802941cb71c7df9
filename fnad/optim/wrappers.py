"""Wrappers that change how an inner transformation is applied: gradient accumulation
(`MultiSteps`), skipping non-finite steps (`apply_if_finite`), lookahead, flattening,
freezing, conditional application, monitoring, and `inject_hyperparams`, which moves
hyperparameters into the state so that changing them needs no recompilation.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import numpy as np

import fnad.numpy as fnp
from fnad.core.ir import get_aval
from fnad.core.trace import Tracer
from fnad.optim.base import (
    GradientTransformation,
    GradientTransformationExtraArgs,
    Params,
    Updates,
    _difference,
    _same,
    chain,
    checked,
    set_to_zero,
    stateless,
    with_extra_args_support,
    zeros_like,
)
from fnad.optim.errors import OptimizerArgumentError, OptimizerStateError
from fnad.optim.masking import masked, partition
from fnad.optim.numerics import dtype_of, safe_increment, tree_norm
from fnad.optim.transforms import ema
from fnad.tree import register_pytree_node, tree_flatten, tree_leaves, tree_map, tree_unflatten


def _select(pred: Any, on_true: Any, on_false: Any) -> Any:
    """`on_true` where the scalar `pred` holds, else `on_false`, leaf by leaf (both are
    computed: a NaN in the unselected tree does not leak through `where`)."""
    return tree_map(lambda a, b: fnp.asarray(fnp.where(pred, a, b), dtype_of(b)),
                    on_true, on_false)


def _zero_count() -> np.ndarray:
    return np.zeros((), np.int32)


# ------------------------------------------------------------------- skipping bad updates

class ApplyIfFiniteState(NamedTuple):
    notfinite_count: Any
    last_finite: Any
    total_notfinite: Any
    inner_state: Any


def _all_finite(tree: Any) -> Any:
    ok = fnp.asarray(True)
    for x in tree_leaves(tree):
        ok = fnp.logical_and(ok, fnp.all(fnp.isfinite(x)))
    return ok


def apply_if_finite(inner: GradientTransformation, max_consecutive_errors: int
                    ) -> GradientTransformationExtraArgs:
    """Apply `inner` only when all updates are finite; otherwise emit zeros, keep `inner`'s
    state, and count the step. After more than `max_consecutive_errors` bad steps in a row
    the update is applied anyway (so a run does not stall silently).

    >>> from fnad.optim import sgd
    >>> t = apply_if_finite(sgd(1.0), 2)
    >>> u, s = t.update({"w": np.float32("nan")}, t.init({"w": 0.0}))
    >>> float(u["w"]), int(s.total_notfinite)
    (0.0, 1)
    """
    inner = with_extra_args_support(inner)

    def init(params: Params) -> ApplyIfFiniteState:
        return ApplyIfFiniteState(_zero_count(), np.bool_(True), _zero_count(),
                                  inner.init(params))

    def update(updates: Updates, state: ApplyIfFiniteState, params: Params = None,
               **extra_args: Any) -> tuple[Updates, ApplyIfFiniteState]:
        finite = _all_finite(updates)
        bad_run = fnp.where(finite, 0, safe_increment(state.notfinite_count))
        apply = fnp.logical_or(finite, bad_run > max_consecutive_errors)
        new, new_inner = inner.update(updates, state.inner_state, params, **extra_args)
        out = _select(apply, new, tree_map(zeros_like, new))
        total = fnp.where(finite, state.total_notfinite, safe_increment(state.total_notfinite))
        return out, ApplyIfFiniteState(fnp.asarray(bad_run, np.int32), finite, total,
                                       _select(apply, new_inner, state.inner_state))

    return checked("apply_if_finite", init, update)


def skip_not_finite(updates: Updates, gradient_step: Any, params: Params) -> tuple[Any, dict]:
    """A `MultiSteps` skip rule: skip when any update is NaN or infinite.

    >>> skip, info = skip_not_finite({"w": np.array([np.inf, 1.0])}, 0, None)
    >>> bool(skip), int(info["num_not_finite"])
    (True, 1)
    """
    count = sum((fnp.sum(~fnp.isfinite(x)) for x in tree_leaves(updates)),
                fnp.asarray(0, np.int32))
    skip = count > 0
    return skip, {"should_skip": skip, "num_not_finite": count}


def skip_large_updates(updates: Updates, gradient_step: Any, params: Params,
                       max_squared_norm: Any) -> tuple[Any, dict]:
    """A `MultiSteps` skip rule: skip when the squared global norm reaches
    `max_squared_norm` (or is NaN).

    >>> skip, _ = skip_large_updates({"w": np.array([3.0, 4.0])}, 0, None, 10.0)
    >>> bool(skip)
    True
    """
    norm_sq = tree_norm(updates, squared=True)
    skip = ~(norm_sq < max_squared_norm)
    return skip, {"should_skip": skip, "norm_squared": norm_sq}


# ------------------------------------------------------------------ gradient accumulation

class MultiStepsState(NamedTuple):
    mini_step: Any
    gradient_step: Any
    inner_opt_state: Any
    acc_grads: Any
    skip_state: Any = ()


class MultiSteps:
    """Gradient accumulation: average (or sum) the gradients of `every_k_schedule`
    mini-steps and apply `opt` once on them, emitting zero updates in between; equal to
    one step on the big batch. `should_skip_update_fn` (e.g. `skip_not_finite`) drops a
    mini-step without counting it.

    >>> from fnad.optim import sgd
    >>> ms = MultiSteps(sgd(1.0), every_k_schedule=2)
    >>> s = ms.init({"w": 0.0}); u, s = ms.update({"w": 1.0}, s); u2, s = ms.update({"w": 3.0}, s)
    >>> float(u["w"]), float(u2["w"])
    (0.0, -2.0)
    """

    def __init__(self, opt: GradientTransformation,
                 every_k_schedule: int | Callable[[Any], Any], use_grad_mean: bool = True,
                 should_skip_update_fn: Callable[..., tuple[Any, Any]] | None = None,
                 accumulator_dtype: Any = np.float32) -> None:
        self._opt = with_extra_args_support(opt)
        self._every_k = every_k_schedule if callable(every_k_schedule) \
            else (lambda step: every_k_schedule)
        self._use_grad_mean = use_grad_mean
        self._skip_fn = should_skip_update_fn
        self._accumulator_dtype = accumulator_dtype
        self._tx = checked("MultiSteps", self._init, self._update)

    @property
    def inner_opt(self) -> GradientTransformationExtraArgs:
        return self._opt

    def _skip(self, updates: Updates, step: Any, params: Params) -> tuple[Any, Any]:
        if self._skip_fn is None:
            return fnp.asarray(False), ()
        return self._skip_fn(updates, step, params)

    def _init(self, params: Params) -> MultiStepsState:
        acc = tree_map(lambda p: fnp.zeros(fnp.shape(p), self._accumulator_dtype), params)
        _, skip_state = self._skip(tree_map(zeros_like, params), _zero_count(), params)
        return MultiStepsState(_zero_count(), _zero_count(), self._opt.init(params), acc,
                               skip_state)

    def _update(self, updates: Updates, state: MultiStepsState, params: Params = None,
                **extra_args: Any) -> tuple[Updates, MultiStepsState]:
        k = self._every_k(state.gradient_step)
        skip, skip_state = self._skip(updates, state.gradient_step, params)
        if get_aval(skip).shape != () or dtype_of(skip) != np.bool_:
            raise OptimizerArgumentError(f"MultiSteps: should_skip_update_fn must return a scalar bool, "
                             f"got {get_aval(skip)}")
        n = state.mini_step
        if self._use_grad_mean:
            acc = tree_map(lambda g, a: a + (g - a) / fnp.asarray(n + 1, dtype_of(a)),
                           updates, state.acc_grads)
        else:
            acc = tree_map(lambda g, a: a + g, updates, state.acc_grads)
        acc_like = tree_map(lambda a, g: fnp.asarray(a, dtype_of(g)), acc, updates)
        out, inner = self._opt.update(acc_like, state.inner_opt_state, params, **extra_args)
        emit = n == k - 1
        done = MultiStepsState(
            fnp.asarray(safe_increment(n) % k, np.int32),
            fnp.where(emit, safe_increment(state.gradient_step), state.gradient_step),
            _select(emit, inner, state.inner_opt_state),
            tree_map(lambda a: fnp.asarray(fnp.where(emit, 0.0, a), self._accumulator_dtype),
                     acc),
            skip_state)
        done_updates = tree_map(lambda u: fnp.where(emit, u, 0.0), out)
        skipped = state._replace(skip_state=skip_state)
        return (_select(skip, tree_map(zeros_like, done_updates), done_updates),
                _select(skip, skipped, done))

    def init(self, params: Params) -> MultiStepsState:
        """The state: counters, the inner optimizer's state and the accumulated gradients."""
        return self._tx.init(params)

    def update(self, updates: Updates, state: MultiStepsState, params: Params = None,
               **extra_args: Any) -> tuple[Updates, MultiStepsState]:
        """Accumulate `updates`; on the k-th mini-step, the inner optimizer's update."""
        return self._tx.update(updates, state, params, **extra_args)

    def has_updated(self, state: MultiStepsState) -> Any:
        """Whether the last `update` applied the inner optimizer."""
        return fnp.logical_and(state.mini_step == 0, state.gradient_step > 0)

    def gradient_transformation(self) -> GradientTransformationExtraArgs:
        """This accumulation as a plain `(init, update)` pair, to chain or wrap."""
        return self._tx


# ------------------------------------------------------------------------------ lookahead

class LookaheadState(NamedTuple):
    fast_state: Any
    steps_since_sync: Any


class LookaheadParams(NamedTuple):
    """The two sets of weights lookahead keeps: the fast ones the inner optimizer moves, and
    the slow ones that follow them every `sync_period` steps."""

    fast: Any
    slow: Any

    @classmethod
    def init_synced(cls, params: Params) -> LookaheadParams:
        """Fast and slow weights both equal to `params`."""
        return cls(fast=params, slow=params)


def lookahead(fast_optimizer: GradientTransformation, sync_period: int, slow_step_size: float,
              reset_state: bool = False) -> GradientTransformationExtraArgs:
    """Lookahead (Zhang et al., 2019): `fast_optimizer` moves the fast weights; every
    `sync_period` steps the slow weights move `slow_step_size` of the way towards them and
    the fast weights restart from there. Params are `LookaheadParams`, grads are the fast
    weights' gradients, and updates come back as `LookaheadParams`.

    >>> from fnad.optim import sgd, apply_updates
    >>> t = lookahead(sgd(1.0), 1, 0.5)
    >>> p = LookaheadParams.init_synced({"w": 0.0})
    >>> p = apply_updates(p, t.update({"w": 1.0}, t.init(p), p)[0]); float(p.slow["w"])
    -0.5
    """
    if sync_period < 1:
        raise OptimizerArgumentError(f"lookahead: sync_period must be >= 1, got {sync_period}")
    fast_optimizer = with_extra_args_support(fast_optimizer)

    def init(params: Any) -> LookaheadState:
        fast = params.fast if isinstance(params, LookaheadParams) else params
        return LookaheadState(fast_optimizer.init(fast), _zero_count())

    def update(updates: Updates, state: LookaheadState, params: Any = None,
               **extra_args: Any) -> tuple[LookaheadParams, LookaheadState]:
        if not isinstance(params, LookaheadParams):
            raise OptimizerStateError(
                "lookahead.update: params must be LookaheadParams(fast, slow), got "
                f"{type(params).__name__}; start from LookaheadParams.init_synced(params)")
        if not _same(updates, params.fast):
            raise OptimizerStateError(
                f"lookahead.update: {_difference(updates, params.fast, 'grads', 'params.fast', True)}")
        updates, fast_state = fast_optimizer.update(updates, state.fast_state, params.fast,
                                                    **extra_args)
        sync = state.steps_since_sync == sync_period - 1
        diff = tree_map(lambda f, u, s: f + u - s, params.fast, updates, params.slow)
        slow_updates = tree_map(lambda d: fnp.where(sync, slow_step_size * d, 0.0 * d), diff)
        fast_updates = tree_map(lambda u, d: u - fnp.where(sync, (1 - slow_step_size) * d,
                                                           0.0 * d), updates, diff)
        if reset_state:
            fast_state = _select(sync, fast_optimizer.init(params.fast), fast_state)
        steps = (state.steps_since_sync + 1) % sync_period
        return LookaheadParams(fast_updates, slow_updates), LookaheadState(fast_state, steps)

    return checked("lookahead", init, update, check_params=False)


# ----------------------------------------------------------------------- layout and masks

def flatten(inner: GradientTransformation) -> GradientTransformationExtraArgs:
    """Run `inner` on all leaves concatenated into one vector: fewer, larger operations
    for optimizers whose math is elementwise.

    >>> from fnad.optim import sgd
    >>> t = flatten(sgd(1.0))
    >>> t.update({"a": np.ones(2), "b": np.ones(1)}, t.init({"a": np.zeros(2),
    ...                                                       "b": np.zeros(1)}))[0]["b"]
    array([-1.])
    """
    inner = with_extra_args_support(inner)

    def flat(tree: Any) -> Any:
        return fnp.concatenate([fnp.reshape(x, (-1,)) for x in tree_leaves(tree)])

    def unflat(like: Any, vector: Any) -> Any:
        leaves, treedef = tree_flatten(like)
        out, start = [], 0
        for x in leaves:
            size = int(np.prod(fnp.shape(x)))
            out.append(fnp.reshape(vector[start:start + size], fnp.shape(x)))
            start += size
        return tree_unflatten(treedef, out)

    def update(updates: Updates, state: Any, params: Params = None, **extra_args: Any) -> Any:
        flat_params = None if params is None else flat(params)
        new, state = inner.update(flat(updates), state, flat_params, **extra_args)
        return unflat(updates, new), state

    return checked("flatten", lambda params: inner.init(flat(params)), update)


def freeze(mask: Any) -> GradientTransformationExtraArgs:
    """Zero the updates where `mask` is True (frozen parameters), pass the rest.

    >>> t = freeze({"w": True, "b": False})
    >>> t.update({"w": 1.0, "b": 1.0}, t.init({"w": 0.0, "b": 0.0}))[0]
    {'b': 1.0, 'w': array(0., dtype=float32)}
    """
    return masked(set_to_zero(), mask)


def selective_transform(optimizer: GradientTransformation, *, freeze_mask: Any
                        ) -> GradientTransformationExtraArgs:
    """`optimizer` on the leaves where `freeze_mask` is False; zero updates elsewhere.

    >>> from fnad.optim import sgd
    >>> t = selective_transform(sgd(1.0), freeze_mask={"w": True, "b": False})
    >>> t.update({"w": 1.0, "b": 1.0}, t.init({"w": 0.0, "b": 0.0}))[0]
    {'b': -1.0, 'w': array(0., dtype=float32)}
    """
    labels = tree_map(lambda m: "freeze" if m else "train", freeze_mask)
    return partition({"train": optimizer, "freeze": set_to_zero()}, lambda params: labels)


class ConditionallyTransformState(NamedTuple):
    inner_state: Any
    step: Any


class ConditionallyMaskState(NamedTuple):
    step: Any
    inner_state: Any


def _conditional(name: str, inner: GradientTransformation, should_transform_fn: Callable,
                 forward_extra_args: bool, zero: bool) -> GradientTransformationExtraArgs:
    inner = with_extra_args_support(inner)
    make = ConditionallyMaskState if zero else ConditionallyTransformState

    def init(params: Params) -> Any:
        return make(inner_state=inner.init(params), step=_zero_count())

    def update(updates: Updates, state: Any, params: Params = None, **extra_args: Any) -> Any:
        kwargs = extra_args if forward_extra_args else {}
        go = fnp.asarray(should_transform_fn(state.step, **kwargs))
        new, new_inner = inner.update(updates, state.inner_state, params, **extra_args)
        other = tree_map(zeros_like, new) if zero else updates
        return _select(go, new, other), make(inner_state=_select(go, new_inner,
                                                                 state.inner_state),
                                             step=safe_increment(state.step))

    return checked(name, init, update)


def conditionally_transform(inner: GradientTransformation, should_transform_fn: Callable,
                            forward_extra_args: bool = False) -> GradientTransformationExtraArgs:
    """Apply `inner` at the steps where `should_transform_fn(step)` is True; pass the
    updates through unchanged (and keep `inner`'s state) elsewhere.

    >>> from fnad.optim import sgd
    >>> t = conditionally_transform(sgd(1.0), lambda step: step >= 1)
    >>> float(t.update({"w": 2.0}, t.init({"w": 0.0}))[0]["w"])
    2.0
    """
    return _conditional("conditionally_transform", inner, should_transform_fn,
                        forward_extra_args, zero=False)


def conditionally_mask(inner: GradientTransformation, should_transform_fn: Callable,
                       forward_extra_args: bool = False) -> GradientTransformationExtraArgs:
    """Apply `inner` at the steps where `should_transform_fn(step)` is True; emit zero
    updates (and keep `inner`'s state) elsewhere.

    >>> from fnad.optim import sgd
    >>> t = conditionally_mask(sgd(1.0), lambda step: step >= 1)
    >>> float(t.update({"w": 2.0}, t.init({"w": 0.0}))[0]["w"])
    0.0
    """
    return _conditional("conditionally_mask", inner, should_transform_fn, forward_extra_args,
                        zero=True)


# ------------------------------------------------------------------------------ monitoring

class SnapshotState(NamedTuple):
    measurement: dict


def snapshot(measure_name: str, measure: Callable[[Updates], Any]
             ) -> GradientTransformationExtraArgs:
    """Keep `measure(updates)` of the last step in the state under `measure_name`.

    >>> t = snapshot("norm", lambda u: u["w"] * 2)
    >>> t.update({"w": 3.0}, t.init({"w": 0.0}))[1].measurement["norm"]
    6.0
    """

    def update(updates: Updates, state: SnapshotState, params: Params = None) -> Any:
        return updates, SnapshotState({measure_name: measure(updates)})

    return checked("snapshot", lambda params: SnapshotState({measure_name: measure(params)}),
                   update)


class MonitorState(NamedTuple):
    measurements: dict
    measure_states: tuple


def monitor(measures: dict[str, Any]) -> GradientTransformationExtraArgs:
    """Record measurements of the updates in the state without changing them: each value
    is a function of the updates, or a transformation whose output is the measurement.

    >>> t = monitor({"double": lambda u: 2 * u["w"]})
    >>> t.update({"w": 1.0}, t.init({"w": 0.0}))[1].measurements["double"]
    2.0
    """
    parts = {name: with_extra_args_support(stateless(lambda u, _, m=m: m(u))) if callable(m)
             and not isinstance(m, GradientTransformation) else with_extra_args_support(m)
             for name, m in measures.items()}

    def init(params: Params) -> MonitorState:
        # The measurements of zero updates: the state keeps one structure from the start,
        # so a loop carrying it (scan, fori_loop) and the update checks accept it.
        states = tuple(t.init(params) for t in parts.values())
        zeros = tree_map(zeros_like, params)
        first = {name: t.update(zeros, s, params)[0] for (name, t), s in zip(parts.items(),
                                                                                states)}
        return MonitorState(first, states)

    def update(updates: Updates, state: MonitorState, params: Params = None,
               **extra_args: Any) -> Any:
        results, states = {}, []
        for (name, t), s in zip(parts.items(), state.measure_states):
            results[name], s = t.update(updates, s, params, **extra_args)
            states.append(s)
        return updates, MonitorState(results, tuple(states))

    return checked("monitor", init, update)


def measure_with_ema(measure: Callable[[Updates], Any], decay: float, debias: bool = True,
                     accumulator_dtype: Any = None) -> GradientTransformationExtraArgs:
    """A transformation whose output is an exponential moving average of `measure(updates)`
    (to use inside `monitor`).

    >>> t = measure_with_ema(lambda u: u["w"], 0.5)
    >>> float(t.update({"w": np.float32(4)}, t.init({"w": 0.0}))[0])
    4.0
    """
    average = ema(decay, debias, accumulator_dtype)
    return chain(stateless(lambda updates, _: measure(updates)),
                 GradientTransformation(lambda params: average.init(measure(params)),
                                        average.update))


# ------------------------------------------------------------------- injected hyperparams

class InjectHyperparamsState(NamedTuple):
    count: Any
    hyperparams: dict
    inner_state: Any


class InjectStatefulHyperparamsState(NamedTuple):
    count: Any
    hyperparams: dict
    hyperparams_states: dict
    inner_state: Any


class WrappedScheduleState(NamedTuple):
    count: Any


def _float_dtype(params: Any, given: Any) -> Any:
    if given is not None:
        return np.dtype(given)
    dtypes = [dtype_of(x) for x in tree_leaves(params) if x is not None]
    floats = [d for d in dtypes if np.issubdtype(d, np.floating)]
    return max(floats, key=lambda d: d.itemsize) if floats else np.dtype(np.float32)


def _as_hyperparam(value: Any, dtype: Any) -> Any:
    """A float hyperparameter as an array of `dtype` (a Python float directly, not through
    float32); other values as arrays of their own type."""
    if isinstance(value, float):
        return np.asarray(value, dtype)
    value = fnp.asarray(value)
    return fnp.asarray(value, dtype) if np.issubdtype(dtype_of(value), np.floating) else value


def inject_hyperparams(inner_factory: Callable[..., GradientTransformation],
                       static_args: str | Iterable[str] = (), hyperparam_dtype: Any = None
                       ) -> Callable[..., GradientTransformationExtraArgs]:
    """Wrap an optimizer factory so that its numeric arguments live in the state, in
    `state.hyperparams`: change one there (e.g. the learning rate) and the next update
    uses it with no recompilation. A schedule argument is evaluated at each step and its
    value stored there too. Booleans, strings and `static_args` stay fixed.

    >>> from fnad.optim import sgd
    >>> opt = inject_hyperparams(sgd)(learning_rate=0.1)
    >>> s = opt.init({"w": 0.0}); s.hyperparams["learning_rate"] = np.float32(2.0)
    >>> float(opt.update({"w": 1.0}, s)[0]["w"])
    -2.0
    """
    static = {static_args} if isinstance(static_args, str) else set(static_args)
    signature = inspect.signature(inner_factory)
    if not static <= set(signature.parameters):
        raise OptimizerArgumentError(f"inject_hyperparams: static_args {sorted(static)} are not all "
                         f"parameters of {getattr(inner_factory, '__name__', inner_factory)}: "
                         f"{list(signature.parameters)}")

    @functools.wraps(inner_factory)
    def wrapped(*args: Any, **kwargs: Any) -> GradientTransformationExtraArgs:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        schedules, numeric, fixed = {}, {}, {}
        for name, value in bound.arguments.items():
            if name in static or isinstance(value, bool):
                fixed[name] = value
            elif callable(value):
                schedules[name] = value
            elif isinstance(value, (int, float, np.ndarray, np.number, Tracer)):
                numeric[name] = value
            else:
                fixed[name] = value

        def init(params: Params) -> InjectStatefulHyperparamsState:
            dtype = _float_dtype(params, hyperparam_dtype)
            hp = {k: _as_hyperparam(v, dtype) for k, v in numeric.items()}
            hp_states = {k: WrappedScheduleState(_zero_count()) for k in schedules}
            hp.update({k: _as_hyperparam(f(_zero_count()), dtype) for k, f in schedules.items()})
            return InjectStatefulHyperparamsState(_zero_count(), hp, hp_states,
                                                  inner_factory(**fixed, **hp).init(params))

        def update(updates: Updates, state: InjectStatefulHyperparamsState,
                   params: Params = None, **extra_args: Any) -> Any:
            dtype = _float_dtype(params if params is not None else updates, hyperparam_dtype)
            hp = {k: _as_hyperparam(v, dtype) for k, v in state.hyperparams.items()}
            hp.update({k: _as_hyperparam(f(state.hyperparams_states[k].count), dtype)
                       for k, f in schedules.items()})
            hp_states = {k: WrappedScheduleState(safe_increment(s.count))
                         for k, s in state.hyperparams_states.items()}
            inner = with_extra_args_support(inner_factory(**fixed, **hp))
            updates, inner_state = inner.update(updates, state.inner_state, params,
                                                **extra_args)
            return updates, InjectStatefulHyperparamsState(safe_increment(state.count), hp,
                                                           hp_states, inner_state)

        return checked(f"inject_hyperparams({getattr(inner_factory, '__name__', 'factory')})",
                       init, update)

    return wrapped


def inject_stateful_hyperparams(inner_factory: Callable[..., GradientTransformation],
                                static_args: str | Iterable[str] = (),
                                hyperparam_dtype: Any = None
                                ) -> Callable[..., GradientTransformationExtraArgs]:
    """`inject_hyperparams` (optax's older name for the variant with schedule states).

    >>> from fnad.optim import sgd
    >>> inject_stateful_hyperparams(sgd)(0.1).init({"w": 0.0}).hyperparams["learning_rate"]
    array(0.1, dtype=float32)
    """
    return inject_hyperparams(inner_factory, static_args, hyperparam_dtype)


# ----------------------------------------------------------------------- state utilities

class _ParamsPlaceholder:
    """Stands for the params while `tree_map_params` runs an `init`: a node with no leaves,
    so every params-shaped part of the state comes out as placeholders."""


register_pytree_node(_ParamsPlaceholder, lambda x: ((), None), lambda aux, cs:
                     _ParamsPlaceholder())


def tree_map_params(initable: Any, f: Callable[..., Any], state: Any, /, *rest: Any,
                    transform_non_params: Callable[..., Any] | None = None,
                    is_leaf: Callable[[Any], bool] | None = None) -> Any:
    """Apply `f` to the parts of an optimizer state that have the params' shape (moments,
    traces), leaf by leaf, and `transform_non_params` (if given) to every other leaf.
    `initable` is the optimizer (or its `init`), which says which parts those are.

    >>> from fnad.optim import adam
    >>> opt = adam(0.1); s = opt.init({"w": np.ones(2)})
    >>> tree_map_params(opt, lambda x: x + 1, s)[0].mu["w"]
    array([1., 1.])
    """
    init = initable.init if hasattr(initable, "init") else initable
    skeleton = init(_ParamsPlaceholder())

    def one(marker: Any, value: Any) -> Any:
        if isinstance(marker, _ParamsPlaceholder):
            return tree_map(f, value, *rest, is_leaf=is_leaf)
        return transform_non_params(value) if transform_non_params is not None else value

    return tree_map(one, skeleton, state,
                    is_leaf=lambda v: isinstance(v, _ParamsPlaceholder))

