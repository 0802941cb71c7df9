"""`fnad.debug.print`: print runtime values from inside jitted, vmapped and differentiated code.

It binds `debug_print`, an effectful primitive with no outputs (dead-code elimination keeps
it): differentiation prints the primal values, `vmap` prints one line per batch element,
and `jit` calls `print` when the compiled code runs.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from fnad import tree as tree_util
from fnad.core.ir import ShapedArray
from fnad.core.primitive import Primitive
from fnad.interpreters.batching import moveaxis
from fnad.lax.elementwise import asarray_like

debug_print_p = Primitive("debug_print", multiple_results=True)
debug_print_p.effectful = True

Levels = tuple[tuple[bool, ...], ...]


def _print_levels(leaves: Sequence[Any], fmt: str, in_tree: Any, levels: Levels) -> None:
    """Each vmap level (outermost first) maps the leading axis of the leaves it batches."""
    if not levels:
        args, kwargs = tree_util.tree_unflatten(in_tree, list(leaves))
        builtins.print(fmt.format(*args, **kwargs))
        return
    batched, rest = levels[0], levels[1:]
    size = next(np.shape(x)[0] for x, b in zip(leaves, batched) if b)
    for i in range(size):
        _print_levels([x[i] if b else x for x, b in zip(leaves, batched)], fmt, in_tree, rest)


def _debug_print_impl(*leaves: Any, fmt: str, in_tree: Any, levels: Levels) -> list[Any]:
    _print_levels(leaves, fmt, in_tree, levels)
    return []


def _debug_print_jvp(primals: Sequence[Any], tangents: Sequence[Any], **params: Any
                     ) -> tuple[list[Any], list[Any]]:
    return debug_print_p.bind(*primals, **params), []


def _debug_print_batch(axis_size: int, vals: Sequence[Any], dims: Sequence[int | None], *,
                       fmt: str, in_tree: Any, levels: Levels) -> tuple[list[Any], list[Any]]:
    # The batch axis goes in front; levels applied earlier (inner vmaps) keep their order.
    moved = [v if d is None else moveaxis(v, d, 0, axis_size) for v, d in zip(vals, dims)]
    level = tuple(d is not None for d in dims)
    return debug_print_p.bind(*moved, fmt=fmt, in_tree=in_tree,
                              levels=(level, *levels)), []


def _debug_print_abstract_eval(*avals: ShapedArray, **params: Any) -> list[ShapedArray]:
    return []


debug_print_p.def_impl(_debug_print_impl)
debug_print_p.def_abstract_eval(_debug_print_abstract_eval)
debug_print_p.def_jvp(_debug_print_jvp)
debug_print_p.def_batch(_debug_print_batch)


def print(fmt: str, *args: Any, **kwargs: Any) -> None:  # noqa: A001  (fnad.debug.print)
    """Print `fmt.format(*args, **kwargs)` with the runtime values, also under jit and vmap.

    >>> import fnad
    >>> fnad.jit(lambda x: fnad.debug.print("x={x}", x=x) or x)(1.0)
    x=1.0
    array(1., dtype=float32)
    """
    leaves, in_tree = tree_util.tree_flatten((args, kwargs))
    leaves = [asarray_like(x)[0] if isinstance(x, (bool, int, float, complex)) else x
              for x in leaves]
    debug_print_p.bind(*leaves, fmt=fmt, in_tree=in_tree, levels=())


__all__ = ["print", "debug_print_p"]
