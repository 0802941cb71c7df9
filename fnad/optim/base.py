"""The optimizer interface: a `GradientTransformation` is a pair of pure functions over
pytrees, `init(params) -> state` and `update(updates, state, params, **extra_args) ->
(updates, state)`; `chain` composes them and `apply_updates` adds the final updates to the
parameters. `checked` gives every public transformation an `update` that first checks that
grads, state and params fit together and says, from the caller's side, where they do not.
"""

from __future__ import annotations

import collections
import contextvars
import inspect
import threading
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

import fnad.numpy as fnp
from fnad import lax
from fnad.core.trace import Tracer
from fnad.optim.errors import OptimizerArgumentError, OptimizerStateError
from fnad.optim.numerics import dtype_of
from fnad.tree import tree_flatten, tree_leaves, tree_map

Params = Any
Updates = Any
OptState = Any
Schedule = Callable[[Any], Any]
ScalarOrSchedule = Any  # a number, an array, or a Schedule


class GradientTransformation(NamedTuple):
    """`init(params) -> state`; `update(updates, state, params=None) -> (updates, state)`.

    Both are pure, so a training step built from them works under `jit`, `vmap` and `grad`.
    """

    init: Callable[[Params], OptState]
    update: Callable[..., tuple[Updates, OptState]]


class GradientTransformationExtraArgs(GradientTransformation):
    """A `GradientTransformation` whose `update` also takes keyword arguments (`value`,
    `grad`, `value_fn`, ...) that it passes on to the transformations that use them."""


class EmptyState(NamedTuple):
    """The state of a stateless transformation."""


def init_empty_state(params: Params) -> EmptyState:
    """The `init` of a stateless transformation.

    >>> init_empty_state({"w": 1.0})
    EmptyState()
    """
    return EmptyState()


# ------------------------------------------------------------------------------- checking

_NESTED: contextvars.ContextVar[bool] = contextvars.ContextVar("fnad_optim_nested", default=False)


def _shape(x: Any) -> tuple[int, ...] | None:
    if x is None:
        return None
    shape = getattr(x, "shape", None)
    return tuple(shape) if shape is not None else tuple(np.shape(x))


def _children(x: Any) -> tuple[str, list[tuple[str, Any]]] | None:
    """One level of a pytree node: its kind and its labelled children; None for a leaf."""
    if isinstance(x, dict):
        return "a dict", [(f"[{k!r}]", v) for k, v in x.items()]
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return type(x).__name__, [(f".{f}", getattr(x, f)) for f in x._fields]
    if isinstance(x, (list, tuple)):
        return f"a {type(x).__name__} of {len(x)}", [(f"[{i}]", v) for i, v in enumerate(x)]
    if x is None:
        return "None", []
    kids = tree_leaves(x, is_leaf=lambda y: y is not x)
    if len(kids) == 1 and kids[0] is x:
        return None
    return type(x).__name__, [(f"[{i}]", v) for i, v in enumerate(kids)]


def _difference(a: Any, b: Any, a_name: str, b_name: str, shapes: bool) -> str | None:
    """Where tree `a` (named `a_name`) first differs from tree `b`, worded from `a`'s side."""
    ca, cb = _children(a), _children(b)
    if ca is None or cb is None:
        if (ca is None) != (cb is None):
            what = "a leaf" if ca is None else ca[0]
            want = "a leaf" if cb is None else cb[0]
            return f"{a_name} is {what} where {b_name} is {want}"
        if shapes and _shape(a) != _shape(b):
            return f"{a_name} has shape {_shape(a)} where {b_name} has shape {_shape(b)}"
        return None
    (kind_a, kids_a), (kind_b, kids_b) = ca, cb
    if isinstance(a, dict) and isinstance(b, dict):
        missing = [k for k in b if k not in a]
        extra = [k for k in a if k not in b]
        if missing:
            return f"{a_name} is missing {missing}, which {b_name} has"
        if extra:
            return f"{a_name} has {extra}, which {b_name} lacks"
        kids_a = [(f"[{k!r}]", a[k]) for k in b]
    elif type(a) is not type(b) or len(kids_a) != len(kids_b):
        return f"{a_name} is {kind_a} where {b_name} is {kind_b}"
    for (label, x), (_, y) in zip(kids_a, kids_b):
        found = _difference(x, y, a_name + label, b_name + label, shapes)
        if found:
            return found
    return None


def _same(a: Any, b: Any) -> bool:
    la, ta = tree_flatten(a)
    lb, tb = tree_flatten(b)
    return ta == tb and all(_shape(x) == _shape(y) for x, y in zip(la, lb))


class _Shaped:
    """A leaf that only remembers a shape (what a state is checked against; holding the
    state itself would keep tracers alive past their trace)."""

    def __init__(self, shape: tuple[int, ...] | None) -> None:
        self.shape = shape


def _signature(tree: Any) -> tuple:
    leaves, treedef = tree_flatten(tree)
    return treedef, tuple(_shape(x) for x in leaves)


def checked(name: str, init: Callable[[Params], OptState], update: Callable[..., Any],
            check_params: bool = True) -> GradientTransformationExtraArgs:
    """`(init, update)` as a transformation whose `update` checks its arguments first.

    The check runs in the outermost `update` only (inner ones are already covered): grads
    must have params' structure and shapes (unless `check_params` is False), and the state
    the structure and shapes that `init(params)` gives. A mismatch raises `OptimizerStateError` naming the path of the first
    mismatching leaf and which of grads, state and params it is. `update` may take
    `**extra_args`; those it does not name are dropped.

    >>> t = checked("double", init_empty_state, lambda u, s, p=None: (2 * u, s))
    >>> t.update(1.0, t.init(0.0))
    (2.0, EmptyState())
    """
    update = _accepting_extra_args(update)
    expected: collections.OrderedDict = collections.OrderedDict()
    lock = threading.Lock()  # updates may run in several threads at once

    def expected_state(params: Params) -> tuple:
        key = _signature(params)
        with lock:
            found = expected.get(key)
        if found is None:
            state = tree_map(lambda x: _Shaped(_shape(x)), init(params))
            found = (state, _signature(state))
            with lock:
                expected[key] = found
                if len(expected) > 8:
                    expected.popitem(last=False)
        return found

    def checked_update(updates: Updates, state: OptState, params: Params = None,
                       **extra_args: Any) -> tuple[Updates, OptState]:
        if _NESTED.get():
            return update(updates, state, params, **extra_args)
        where = f"{name}.update"
        if check_params and params is not None and not _same(updates, params):
            raise OptimizerStateError(
                f"{where}: {_difference(updates, params, 'grads', 'params', True)}. The "
                "gradients must have the structure and shapes of the params they update.")
        like = updates if params is None else params
        want, want_sig = expected_state(like)
        if _signature(state) != want_sig:
            detail = _difference(state, want, "state", "init(params)", True)
            raise OptimizerStateError(
                f"{where}: {detail}. The state does not belong to this optimizer or to "
                f"these params: pass the state that {name}(...).init(params) made, updated "
                "only by this optimizer's update.")
        token = _NESTED.set(True)
        try:
            # Non-finite grads are data here (apply_if_finite, zero_nans): NaN in, NaN out,
            # with no NumPy warning from the eager arithmetic on them.
            with np.errstate(all="ignore"):
                return update(updates, state, params, **extra_args)
        finally:
            _NESTED.reset(token)

    checked_update.checks_params = check_params  # type: ignore[attr-defined]
    return GradientTransformationExtraArgs(init, checked_update)


def _accepting_extra_args(update: Callable[..., Any]) -> Callable[..., Any]:
    try:
        params = inspect.signature(update).parameters.values()
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return update
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return update
    return lambda updates, state, params=None, **extra_args: update(updates, state, params)


def with_extra_args_support(tx: GradientTransformation) -> GradientTransformationExtraArgs:
    """`tx` with an `update` that accepts (and ignores) extra keyword arguments.

    >>> t = with_extra_args_support(GradientTransformation(
    ...     init_empty_state, lambda u, s, p=None: (u, s)))
    >>> t.update(1.0, EmptyState(), value=3.0)
    (1.0, EmptyState())
    """
    if isinstance(tx, GradientTransformationExtraArgs):
        return tx
    return GradientTransformationExtraArgs(tx.init, _accepting_extra_args(tx.update))


# ------------------------------------------------------------------------- basic transforms

def stateless(f: Callable[[Updates, Params], Updates]) -> GradientTransformationExtraArgs:
    """A transformation with no state from `f(updates, params) -> updates`.

    >>> t = stateless(lambda u, p: {"w": -u["w"]})
    >>> t.update({"w": 1.0}, t.init(None))[0]
    {'w': -1.0}
    """
    return checked("stateless", init_empty_state,
                   lambda updates, state, params=None: (f(updates, params), state))


def stateless_with_tree_map(f: Callable[[Any, Any], Any]) -> GradientTransformationExtraArgs:
    """A stateless transformation applying `f(update, param)` leaf by leaf (param is None
    when `update` gets no params).

    >>> t = stateless_with_tree_map(lambda g, p: 2 * g)
    >>> t.update({"w": 1.0}, t.init(None))[0]
    {'w': 2.0}
    """

    def update_fn(updates: Updates, params: Params) -> Updates:
        if params is None:
            return tree_map(lambda g: f(g, None), updates)
        return tree_map(f, updates, params)

    return stateless(update_fn)


def identity() -> GradientTransformationExtraArgs:
    """Pass updates through unchanged.

    >>> identity().update({"w": 1.0}, EmptyState())[0]
    {'w': 1.0}
    """
    return checked("identity", init_empty_state, lambda updates, state, params=None:
                   (updates, state))


def set_to_zero() -> GradientTransformationExtraArgs:
    """Replace every update by zeros (to freeze parameters, usually under `masked`).

    >>> float(set_to_zero().update({"w": 2.0}, EmptyState())[0]["w"])
    0.0
    """
    return checked("set_to_zero", init_empty_state, lambda updates, state, params=None:
                   (tree_map(zeros_like, updates), state))


def zeros_like(x: Any) -> Any:
    """Zeros of `x`'s shape and dtype (float32 for a Python scalar)."""
    return lax.full_like(fnp.asarray(x), 0)


def chain(*transforms: GradientTransformation) -> GradientTransformationExtraArgs:
    """Apply `transforms` in order; the state is the tuple of their states.

    >>> opt = chain(identity(), identity())
    >>> opt.update({"w": 2.0}, opt.init({"w": 0.0}))[0]
    {'w': 2.0}
    """
    parts = [with_extra_args_support(t) for t in transforms]

    def init(params: Params) -> tuple:
        return tuple(t.init(params) for t in parts)

    def update(updates: Updates, state: tuple, params: Params = None, **extra_args: Any) -> Any:
        if not isinstance(state, tuple) or len(state) != len(parts):
            got = f"a {type(state).__name__} of {len(state)}" if isinstance(state, tuple) \
                else type(state).__name__
            raise OptimizerStateError(
                f"chain.update: the state is {got}, but this chain has {len(parts)} "
                "transformations: pass the state made by this chain's init(params)")
        new_state = []
        for t, s in zip(parts, state):
            updates, s = t.update(updates, s, params, **extra_args)
            new_state.append(s)
        return updates, tuple(new_state)

    # Per-example grads (differentially_private_aggregate first) need not match params.
    return checked("chain", init, update,
                   check_params=getattr(parts[0].update, "checks_params", True) if parts else True)


def named_chain(*transforms: tuple[str, GradientTransformation]
                ) -> GradientTransformationExtraArgs:
    """`chain` whose state is a dict keyed by the given names, so parts can be found by name.

    >>> opt = named_chain(("clip", identity()), ("step", identity()))
    >>> list(opt.init({"w": 0.0}))
    ['clip', 'step']
    """
    names = [n for n, _ in transforms]
    if len(set(names)) != len(names):
        raise OptimizerArgumentError(f"named_chain: names must be unique, got {names}")
    parts = [(n, with_extra_args_support(t)) for n, t in transforms]

    def init(params: Params) -> dict:
        return {n: t.init(params) for n, t in parts}

    def update(updates: Updates, state: dict, params: Params = None, **extra_args: Any) -> Any:
        new_state = {}
        for n, t in parts:
            updates, new_state[n] = t.update(updates, state[n], params, **extra_args)
        return updates, new_state

    return checked("named_chain", init, update)


def apply_updates(params: Params, updates: Updates) -> Params:
    """`params + updates` leaf by leaf, keeping each parameter's dtype.

    >>> apply_updates({"w": np.float32(1)}, {"w": np.float64(0.5)})["w"].dtype
    dtype('float32')
    """
    if not _same(updates, params):
        raise OptimizerStateError(
            f"apply_updates: {_difference(updates, params, 'updates', 'params', True)}. "
            "The updates must have the structure and shapes of the params.")
    return tree_map(_add_keeping_dtype, params, updates)


def _add_keeping_dtype(p: Any, u: Any) -> Any:
    """`p + u` in `p`'s dtype; a weakly typed `p` (a Python number, or one carried through
    `scan` or `while_loop`) has none of its own and takes the sum's, as JAX's weak float32
    does (casting to its float64 carrier would turn a float32 loop carry into float64)."""
    total = fnp.add(p, u)
    if isinstance(p, (int, float, complex)) or (isinstance(p, Tracer) and p.aval.weak_type):
        return total
    return fnp.asarray(total, dtype_of(p))


def incremental_update(new_tensors: Params, old_tensors: Params, step_size: Any) -> Params:
    """`step_size * new + (1 - step_size) * old` leaf by leaf: a moving average of params
    (e.g. a target network).

    >>> incremental_update({"w": 1.0}, {"w": 0.0}, 0.25)
    {'w': 0.25}
    """
    return tree_map(lambda new, old: step_size * new + (1.0 - step_size) * old,
                    new_tensors, old_tensors)


def periodic_update(new_tensors: Params, old_tensors: Params, steps: Any,
                    update_period: Any) -> Params:
    """`new_tensors` on the steps that are multiples of `update_period`, else `old_tensors`.

    >>> float(periodic_update({"w": 1.0}, {"w": 0.0}, 4, 2)["w"])
    1.0
    """
    take_new = fnp.remainder(steps, update_period) == 0
    return tree_map(lambda new, old: fnp.where(take_new, new, old), new_tensors, old_tensors)
