"""`fnad.debug.print` and `fnad.debug.callback`: see runtime values from inside jitted,
vmapped and differentiated code.

Both bind `debug_callback`, an effectful primitive with no outputs (dead-code elimination
keeps it) that calls a Python function on the concrete values: differentiation calls it
with the primal values, `vmap` once per batch element, and `jit` when the compiled code
runs.
"""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from fnad import tree as tree_util
from fnad.core.ir import ShapedArray
from fnad.core.primitive import Primitive
from fnad.interpreters.batching import moveaxis
from fnad.lax.elementwise import asarray_like

debug_callback_p = Primitive("debug_callback", multiple_results=True)
debug_callback_p.effectful = True

Levels = tuple[tuple[bool, ...], ...]


def _call_levels(leaves: Sequence[Any], callback: Callable[..., Any], in_tree: Any,
                 levels: Levels) -> None:
    """Each vmap level (outermost first) maps the leading axis of the leaves it batches."""
    if not levels:
        args, kwargs = tree_util.tree_unflatten(in_tree, list(leaves))
        callback(*args, **kwargs)
        return
    batched, rest = levels[0], levels[1:]
    size = next(np.shape(x)[0] for x, b in zip(leaves, batched) if b)
    for i in range(size):
        _call_levels([x[i] if b else x for x, b in zip(leaves, batched)], callback, in_tree,
                     rest)


def _debug_callback_impl(*leaves: Any, callback: Callable[..., Any], in_tree: Any,
                         levels: Levels) -> list[Any]:
    _call_levels(leaves, callback, in_tree, levels)
    return []


def _debug_callback_jvp(primals: Sequence[Any], tangents: Sequence[Any], **params: Any
                        ) -> tuple[list[Any], list[Any]]:
    return debug_callback_p.bind(*primals, **params), []


def _debug_callback_batch(axis_size: int, vals: Sequence[Any], dims: Sequence[int | None], *,
                          callback: Callable[..., Any], in_tree: Any, levels: Levels
                          ) -> tuple[list[Any], list[Any]]:
    # The batch axis goes in front; levels applied earlier (inner vmaps) keep their order.
    moved = [v if d is None else moveaxis(v, d, 0, axis_size) for v, d in zip(vals, dims)]
    level = tuple(d is not None for d in dims)
    return debug_callback_p.bind(*moved, callback=callback, in_tree=in_tree,
                                 levels=(level, *levels)), []


def _debug_callback_abstract_eval(*avals: ShapedArray, **params: Any) -> list[ShapedArray]:
    return []


debug_callback_p.def_impl(_debug_callback_impl)
debug_callback_p.def_abstract_eval(_debug_callback_abstract_eval)
debug_callback_p.def_jvp(_debug_callback_jvp)
debug_callback_p.def_batch(_debug_callback_batch)


def callback(callback: Callable[..., Any], *args: Any, ordered: bool = False,
             partitioned: bool = False, **kwargs: Any) -> None:
    """Call `callback(*args, **kwargs)` with the runtime (NumPy) values of the arguments, also
    under jit, vmap (once per element) and grad (the primal values); its result is dropped.
    Calls happen in program order; `ordered` and `partitioned` are JAX's and change nothing.

    >>> import fnad, numpy as np
    >>> seen = []
    >>> fnad.jit(lambda x: fnad.debug.callback(seen.append, x) or x * 2)(np.float32(3.0))
    array(6., dtype=float32)
    >>> seen
    [array(3., dtype=float32)]
    """
    del ordered, partitioned
    leaves, in_tree = tree_util.tree_flatten((args, kwargs))
    leaves = [asarray_like(x)[0] if isinstance(x, (bool, int, float, complex)) else x
              for x in leaves]
    debug_callback_p.bind(*leaves, callback=callback, in_tree=in_tree, levels=())


@dataclasses.dataclass(frozen=True)
class _Format:
    """`print(fmt.format(*args, **kwargs))`, equal for equal formats (a cacheable param)."""

    fmt: str

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        builtins.print(self.fmt.format(*args, **kwargs))


def print(fmt: str, *args: Any, ordered: bool = False, partitioned: bool = False,  # noqa: A001
          skip_format_check: bool = False, **kwargs: Any) -> None:
    """Print `fmt.format(*args, **kwargs)` with the runtime values, also under jit and vmap.
    `partitioned` and `skip_format_check` are JAX's (sharded printing, a format check before
    tracing) and change nothing here.

    >>> import fnad
    >>> fnad.jit(lambda x: fnad.debug.print("x={x}", x=x) or x)(1.0)
    x=1.0
    array(1., dtype=float32)
    """
    callback(_Format(fmt), *args, ordered=ordered, **kwargs)


__all__ = ["callback", "debug_callback_p", "print"]
