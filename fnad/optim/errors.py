"""The errors fnad.optim raises: all `FnadError`s, and ValueError or TypeError as optax's
are, so code written for either catches them."""

from __future__ import annotations

from fnad.core.errors import FnadError


class OptimizerStateError(FnadError, ValueError):
    """Grads, state and params given to an optimizer's `update` do not fit together."""


class OptimizerArgumentError(FnadError, ValueError):
    """An optimizer, schedule, loss or helper was given an argument it cannot use."""


class OptimizerTypeError(FnadError, TypeError):
    """An argument of the wrong kind or dtype (integer labels, a value_fn's arguments)."""


class OptimizerKeyError(FnadError, KeyError):
    """`tree_get`/`tree_set` found a key several times, or not at all."""
