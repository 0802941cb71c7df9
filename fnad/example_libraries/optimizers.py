"""`jax.example_libraries.optimizers`: optimizers as `(init_fun, update_fun, get_params)`
triples over pytrees, for code written before optax:

    opt_init, opt_update, get_params = optimizers.adam(1e-3)
    state = opt_init(params)
    state = opt_update(step, grads, state)
    params = get_params(state)

Each optimizer is written for one array; `optimizer` lifts it to pytrees, and the state
is a pytree itself, so the update can be jitted. (New code: `fnad.optim`, optax's API.)
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

import fnad.numpy as fnp
from fnad import tree as tree_util
from fnad.core.dtypes import default_float
from fnad.core.quiet import quiet_enter, quiet_exit
from fnad.optim.errors import OptimizerArgumentError

Schedule = Callable[[Any], Any]


class OptimizerState(NamedTuple):
    """Every leaf's state, flattened, with the structures to rebuild params and states."""

    packed_state: list
    tree_def: Any
    subtree_defs: list


tree_util.register_pytree_node(
    OptimizerState, lambda s: ((s.packed_state,), (s.tree_def, s.subtree_defs)),
    lambda aux, children: OptimizerState(children[0], *aux))


class Optimizer(NamedTuple):
    """What an optimizer factory returns: it unpacks as `opt_init, opt_update, get_params`."""

    init_fn: Callable[[Any], OptimizerState]
    update_fn: Callable[[Any, Any, OptimizerState], OptimizerState]
    params_fn: Callable[[OptimizerState], Any]


def optimizer(opt_maker: Callable[..., tuple]) -> Callable[..., Optimizer]:
    """Lift an optimizer for one array, `(init(x), update(i, g, state), get_params(state))`,
    to pytrees of arrays."""

    @functools.wraps(opt_maker)
    def tree_opt_maker(*args: Any, **kwargs: Any) -> Optimizer:
        init, update, get_params = opt_maker(*args, **kwargs)

        def tree_init(x0_tree: Any) -> OptimizerState:
            leaves, tree_def = tree_util.tree_flatten(x0_tree)
            states = [init(fnp.asarray(x)) for x in leaves]
            flat = [tree_util.tree_flatten(s) for s in states]
            return OptimizerState([f[0] for f in flat], tree_def, [f[1] for f in flat])

        def tree_update(i: Any, grad_tree: Any, opt_state: OptimizerState) -> OptimizerState:
            grads, tree_def = tree_util.tree_flatten(grad_tree)
            if tree_def != opt_state.tree_def:
                raise OptimizerArgumentError(f"optimizer update: gradients of structure "
                                             f"{tree_def}, parameters of {opt_state.tree_def}")
            token = quiet_enter()  # the updates' operators are NumPy's on eager arrays:
            try:  # inf and NaN gradients give inf and NaN, without warnings, as in JAX
                new = [tree_util.tree_flatten(update(i, g, s))
                       for g, s in zip(grads, _leaf_states(opt_state))]
            finally:
                quiet_exit(token)
            return OptimizerState([f[0] for f in new], opt_state.tree_def,
                                  [f[1] for f in new])

        def tree_get_params(opt_state: OptimizerState) -> Any:
            return tree_util.tree_unflatten(opt_state.tree_def,
                                            [get_params(s) for s in _leaf_states(opt_state)])

        return Optimizer(tree_init, tree_update, tree_get_params)

    return tree_opt_maker


def _leaf_states(opt_state: OptimizerState) -> list:
    """Each parameter leaf's own state, unpacked."""
    return [tree_util.tree_unflatten(d, s)
            for d, s in zip(opt_state.subtree_defs, opt_state.packed_state)]


def _with_slots(slots: int, update: Callable[..., tuple]) -> tuple:
    """The triple of an optimizer whose state is (x, then `slots` arrays starting at 0)."""
    return ((lambda x: (x, *(fnp.zeros_like(x) for _ in range(slots)))), update,
            (lambda state: state[0]))


# ------------------------------------------------------------------ schedules

def constant(step_size: float) -> Schedule:
    return lambda i: step_size


def _schedule(formula: Callable[[Any], Any]) -> Schedule:
    """The schedule `formula(step count)`. A Python count gives a Python float (weak, as
    JAX's: float16 parameters stay float16), computed in float64; an array or traced count
    is taken as the default float dtype (an integer array divided by an integer would
    otherwise be float64, and make float32 parameters float64)."""
    def schedule(i: Any) -> Any:
        token = quiet_enter()  # a decay past the float range is 0 or inf silently, as JAX's
        try:
            if isinstance(i, (int, float)):
                return float(formula(np.float64(i)))
            return formula(fnp.asarray(i, default_float()))
        finally:
            quiet_exit(token)
    return schedule


def exponential_decay(step_size: float, decay_steps: float, decay_rate: float) -> Schedule:
    return _schedule(lambda t: step_size * decay_rate ** (t / decay_steps))


def inverse_time_decay(step_size: float, decay_steps: float, decay_rate: float,
                       staircase: bool = False) -> Schedule:
    if staircase:
        return _schedule(lambda t: step_size / (1 + decay_rate * fnp.floor(t / decay_steps)))
    return _schedule(lambda t: step_size / (1 + decay_rate * t / decay_steps))


def polynomial_decay(step_size: float, decay_steps: int, final_step_size: float,
                     power: float = 1.0) -> Schedule:
    def formula(t: Any) -> Any:
        done = fnp.minimum(t, decay_steps) / decay_steps
        return (step_size - final_step_size) * (1 - done) ** power + final_step_size
    return _schedule(formula)


def piecewise_constant(boundaries: Any, values: Any) -> Schedule:
    """values[k] from boundaries[k - 1] on (values has one more entry than boundaries)."""
    boundaries, values = fnp.asarray(boundaries), fnp.asarray(values)
    if values.shape[0] != boundaries.shape[0] + 1:
        raise OptimizerArgumentError("piecewise_constant: values needs one entry more than "
                                     "boundaries")
    return lambda i: fnp.take(values, fnp.sum(i > boundaries))


def make_schedule(scalar_or_schedule: float | Schedule) -> Schedule:
    if callable(scalar_or_schedule):
        return scalar_or_schedule
    if np.ndim(scalar_or_schedule) == 0:
        return constant(scalar_or_schedule)
    raise OptimizerArgumentError(f"a step size is a number or a schedule, got "
                                 f"{type(scalar_or_schedule).__name__}")


# ------------------------------------------------------------------ optimizers

@optimizer
def sgd(step_size: float | Schedule) -> tuple:
    """x -= step_size(i) g."""
    step = make_schedule(step_size)
    return (lambda x: x), (lambda i, g, x: x - step(i) * g), (lambda x: x)


@optimizer
def momentum(step_size: float | Schedule, mass: float) -> tuple:
    """v = mass v + g; x -= step_size(i) v."""
    step = make_schedule(step_size)

    def update(i: Any, g: Any, state: tuple) -> tuple:
        x, v = state
        v = mass * v + g
        return x - step(i) * v, v

    return _with_slots(1, update)


@optimizer
def nesterov(step_size: float | Schedule, mass: float) -> tuple:
    """v = mass v + g; x -= step_size(i) (mass v + g)."""
    step = make_schedule(step_size)

    def update(i: Any, g: Any, state: tuple) -> tuple:
        x, v = state
        v = mass * v + g
        return x - step(i) * (mass * v + g), v

    return _with_slots(1, update)


@optimizer
def adagrad(step_size: float | Schedule, momentum: float = 0.9) -> tuple:
    """Steps g / sqrt(sum of g**2), averaged with `momentum`."""
    step = make_schedule(step_size)

    def update(i: Any, g: Any, state: tuple) -> tuple:
        x, g_sq, m = state
        g_sq = g_sq + g * g
        inv = fnp.where(g_sq > 0, 1.0 / fnp.sqrt(fnp.where(g_sq > 0, g_sq, 1.0)), 0.0)
        m = (1.0 - momentum) * (g * inv) + momentum * m
        return x - step(i) * m, g_sq, m

    return _with_slots(2, update)


@optimizer
def rmsprop(step_size: float | Schedule, gamma: float = 0.9, eps: float = 1e-8) -> tuple:
    """x -= step_size(i) g / sqrt(avg g**2 + eps), the average decaying by `gamma`."""
    step = make_schedule(step_size)

    def update(i: Any, g: Any, state: tuple) -> tuple:
        x, avg = state
        avg = avg * gamma + g * g * (1.0 - gamma)
        return x - step(i) * g / fnp.sqrt(avg + eps), avg

    return _with_slots(1, update)


@optimizer
def rmsprop_momentum(step_size: float | Schedule, gamma: float = 0.9, eps: float = 1e-8,
                     momentum: float = 0.9) -> tuple:
    """RMSProp's steps accumulated with `momentum`."""
    step = make_schedule(step_size)

    def update(i: Any, g: Any, state: tuple) -> tuple:
        x, avg, mom = state
        avg = avg * gamma + g * g * (1.0 - gamma)
        mom = momentum * mom + step(i) * g / fnp.sqrt(avg + eps)
        return x - mom, avg, mom

    return _with_slots(2, update)


def _debias(decay: float, i: Any, dtype: Any) -> Any:
    """1 - decay^(i + 1): what an average decaying by `decay` from 0 weighs after step i."""
    return 1 - fnp.asarray(decay, dtype) ** (i + 1)


@optimizer
def adam(step_size: float | Schedule, b1: float = 0.9, b2: float = 0.999,
         eps: float = 1e-8) -> tuple:
    """Adam (Kingma & Ba, 2015), bias-corrected at step i (counted from 0)."""
    step = make_schedule(step_size)

    def update(i: Any, g: Any, state: tuple) -> tuple:
        x, m, v = state
        m = (1 - b1) * g + b1 * m
        v = (1 - b2) * g * g + b2 * v
        m_hat, v_hat = m / _debias(b1, i, m.dtype), v / _debias(b2, i, m.dtype)
        return x - step(i) * m_hat / (fnp.sqrt(v_hat) + eps), m, v

    return _with_slots(2, update)


@optimizer
def adamax(step_size: float | Schedule, b1: float = 0.9, b2: float = 0.999,
           eps: float = 1e-8) -> tuple:
    """Adamax: Adam with the infinity norm of past gradients in the denominator."""
    step = make_schedule(step_size)

    def update(i: Any, g: Any, state: tuple) -> tuple:
        x, m, u = state
        m = (1 - b1) * g + b1 * m
        u = fnp.maximum(b2 * u, fnp.abs(g))
        corrected = step(i) / _debias(b1, i, m.dtype)
        return x - corrected * m / (u + eps), m, u

    return _with_slots(2, update)


@optimizer
def sm3(step_size: float | Schedule, momentum: float = 0.9) -> tuple:
    """SM3 (Anil et al., 2019): Adagrad whose sum of squared gradients is, per entry, the
    smallest of its row's, column's, ... running maxima, so it keeps one vector per axis
    instead of an array the size of the parameters; steps averaged with `momentum`."""
    step = make_schedule(step_size)

    def init(x0: Any) -> tuple:
        x0 = fnp.asarray(x0)
        axes = fnp.shape(fnp.atleast_1d(x0))
        return x0, fnp.zeros_like(x0), [fnp.zeros(n, x0.dtype) for n in axes]

    def update(i: Any, g: Any, state: tuple) -> tuple:
        x, m, vs = state
        g1 = fnp.atleast_1d(g)
        along = [fnp.reshape(v, [-1 if j == k else 1 for j in range(g1.ndim)])
                 for k, v in enumerate(vs)]
        accum = functools.reduce(fnp.minimum, along) + g1 * g1
        inv = fnp.where(accum > 0, 1.0 / fnp.sqrt(fnp.where(accum > 0, accum, 1.0)), 0.0)
        m = (1.0 - momentum) * fnp.reshape(g1 * inv, fnp.shape(g)) + momentum * m
        vs = [fnp.max(accum, axis=tuple(j for j in range(g1.ndim) if j != k))
              for k in range(g1.ndim)]
        return x - step(i) * m, m, vs

    return init, update, lambda state: state[0]


# ------------------------------------------------------------------ utilities

def l2_norm(tree: Any) -> Any:
    """The l2 norm of all the leaves together."""
    return fnp.sqrt(sum(fnp.vdot(x, x) for x in tree_util.tree_leaves(tree)))


def clip_grads(grad_tree: Any, max_norm: float) -> Any:
    """The gradients scaled down to l2 norm `max_norm` where their norm is larger."""
    factor = fnp.divide(max_norm, fnp.maximum(l2_norm(grad_tree), max_norm))
    return tree_util.tree_map(lambda g: fnp.multiply(g, factor), grad_tree)


class JoinPoint:
    """A leaf of `unpack_optimizer_state`'s outer tree holding one parameter's state tree."""

    def __init__(self, subtree: Any) -> None:
        self.subtree = subtree

    def __iter__(self) -> Any:
        yield self.subtree


def unpack_optimizer_state(opt_state: OptimizerState) -> Any:
    """The state as the params' tree with a `JoinPoint` per parameter holding its state
    (a plain nested structure, for saving).

    >>> init, update, get_params = sgd(0.1)
    >>> tree = unpack_optimizer_state(init({"w": np.zeros(2)}))
    >>> type(tree["w"]).__name__
    'JoinPoint'
    """
    return tree_util.tree_unflatten(opt_state.tree_def,
                                    [JoinPoint(s) for s in _leaf_states(opt_state)])


def pack_optimizer_state(marked_pytree: Any) -> OptimizerState:
    """The `OptimizerState` that `unpack_optimizer_state` unpacked into `marked_pytree`."""
    points, tree_def = tree_util.tree_flatten(marked_pytree)
    if not all(isinstance(p, JoinPoint) for p in points):
        raise OptimizerArgumentError(
            "pack_optimizer_state: every leaf must be a JoinPoint, as unpack_optimizer_state "
            f"makes them; got {sorted({type(p).__name__ for p in points})}")
    flat = [tree_util.tree_flatten(p.subtree) for p in points]
    return OptimizerState([f[0] for f in flat], tree_def, [f[1] for f in flat])


__all__ = ["JoinPoint", "Optimizer", "OptimizerState", "adagrad", "adam", "adamax", "clip_grads", "constant",
           "exponential_decay", "inverse_time_decay", "l2_norm", "make_schedule", "momentum",
           "nesterov", "optimizer", "pack_optimizer_state", "piecewise_constant",
           "polynomial_decay", "rmsprop", "rmsprop_momentum", "sgd", "sm3",
           "unpack_optimizer_state"]
