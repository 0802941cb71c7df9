"""`ravel_pytree`: a pytree of arrays as one flat vector and back (JAX's `jax.flatten_util`),
for optimizers and samplers written over vectors.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

from fnad import lax, numpy as fnp, tree
from fnad.core.errors import ArgumentError, ArgumentTypeError


def ravel_pytree(pytree: Any) -> tuple[Any, Callable[[Any], Any]]:
    """`(flat, unravel)`: the leaves of `pytree` raveled and concatenated into one vector of
    their promoted dtype, and the function taking such a vector back to the pytree, each
    leaf with its own shape and dtype. Differentiable, and it works under every transform.

    >>> flat, unravel = ravel_pytree({"b": np.zeros(2, np.float32), "w": np.ones((2, 2))})
    >>> flat
    array([0., 0., 1., 1., 1., 1.])
    >>> unravel(flat)["b"]
    array([0., 0.], dtype=float32)
    """
    leaves, treedef = tree.tree_flatten(pytree)
    arrays = [fnp.asarray(x) for x in leaves]
    dtypes = [fnp.result_type(x) for x in arrays]
    sizes = [int(np.prod(fnp.shape(x), dtype=np.int64)) for x in arrays]
    shapes = [fnp.shape(x) for x in arrays]
    to_dtype = fnp.result_type(*leaves) if leaves else np.dtype(np.float32)
    flat = (fnp.concatenate([fnp.ravel(x).astype(to_dtype) for x in arrays]) if arrays
            else fnp.zeros(0, to_dtype))
    total = sum(sizes)
    offsets = list(itertools.accumulate(sizes))[:-1]

    def unravel(vector: Any) -> Any:
        if fnp.shape(vector) != (total,):
            raise ArgumentError(f"ravel_pytree's unravel expects a vector of shape ({total},), "
                                f"got shape {fnp.shape(vector)}")
        polymorphic = all(d == to_dtype for d in dtypes)
        if not polymorphic and fnp.result_type(vector) != to_dtype:
            raise ArgumentTypeError(f"ravel_pytree's unravel expects a vector of dtype "
                                    f"{to_dtype}, got {fnp.result_type(vector)}; convert "
                                    f"it with .astype({to_dtype})")
        pieces = fnp.split(vector, offsets) if leaves else []
        return tree.tree_unflatten(treedef, [
            fnp.reshape(p, s) if polymorphic else lax.convert_element_type(fnp.reshape(p, s), d)
            for p, s, d in zip(pieces, shapes, dtypes)])

    return flat, unravel


__all__ = ["ravel_pytree"]
