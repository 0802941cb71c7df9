"""The few array operations the interpreters need, registered by `fnad.lax`.

Interpreters sit below the primitives, so they never import `fnad.lax`: materializing a
symbolic zero, adding cotangents, moving a batch axis and broadcasting are done through
these hooks, which `fnad.lax` fills in when it is imported (as JAX's `ad_util` does).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fnad.core.ir import ShapedArray

_HOOKS: dict[str, Callable[..., Any]] = {}


def register(**hooks: Callable[..., Any]) -> None:
    """Install `zeros(aval)`, `add(a, b)`, `broadcast_in_dim(x, shape, dims)` and
    `transpose(x, permutation)` (called once, by `fnad.lax`)."""
    _HOOKS.update(hooks)


def zeros(aval: ShapedArray) -> Any:
    return _HOOKS["zeros"](aval)


def add(a: Any, b: Any) -> Any:
    return _HOOKS["add"](a, b)


def broadcast_in_dim(x: Any, shape: Sequence[int], dims: Sequence[int]) -> Any:
    return _HOOKS["broadcast_in_dim"](x, tuple(shape), tuple(dims))


def transpose(x: Any, permutation: Sequence[int]) -> Any:
    return _HOOKS["transpose"](x, tuple(permutation))


__all__ = ["add", "broadcast_in_dim", "register", "transpose", "zeros"]
