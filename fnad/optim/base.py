"""The optimizer interface: a `GradientTransformation` is a pair of pure functions over
pytrees, `init(params) -> state` and `update(updates, state, params) -> (updates, state)`;
`chain` composes them and `apply_updates` adds the final updates to the parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import fnad.numpy as fnp
from fnad.core.ir import get_aval
from fnad.tree import tree_map

Params = Any
Updates = Any
OptState = Any


class GradientTransformation(NamedTuple):
    """`init(params) -> state`; `update(updates, state, params=None) -> (updates, state)`.

    Both are pure, so a training step built from them works under `jit`, `vmap` and `grad`.
    """

    init: Callable[[Params], OptState]
    update: Callable[..., tuple[Updates, OptState]]


class EmptyState(NamedTuple):
    """The state of a stateless transformation."""


def stateless(update_fn: Callable[[Updates, Params], Updates]) -> GradientTransformation:
    """A transformation with no state from `update_fn(updates, params) -> updates`."""

    def update(updates: Updates, state: OptState, params: Params = None) -> Any:
        return update_fn(updates, params), state

    return GradientTransformation(lambda params: EmptyState(), update)


def identity() -> GradientTransformation:
    """Pass updates through unchanged.

    >>> identity().update({"w": 1.0}, ())[0]
    {'w': 1.0}
    """
    return stateless(lambda updates, params: updates)


def chain(*transforms: GradientTransformation) -> GradientTransformation:
    """Apply `transforms` in order; the state is the tuple of their states.

    >>> opt = chain(identity(), identity())
    >>> opt.update({"w": 2.0}, opt.init({"w": 0.0}))[0]
    {'w': 2.0}
    """

    def init(params: Params) -> tuple:
        return tuple(t.init(params) for t in transforms)

    def update(updates: Updates, state: tuple, params: Params = None) -> Any:
        new_state = []
        for t, s in zip(transforms, state):
            updates, s = t.update(updates, s, params)
            new_state.append(s)
        return updates, tuple(new_state)

    return GradientTransformation(init, update)


def apply_updates(params: Params, updates: Updates) -> Params:
    """`params + updates` leaf by leaf, keeping each parameter's dtype.

    >>> import numpy as np
    >>> apply_updates({"w": np.float32(1)}, {"w": np.float64(0.5)})["w"].dtype
    dtype('float32')
    """
    return tree_map(lambda p, u: fnp.asarray(fnp.add(p, u), get_aval(p).dtype), params, updates)
