"""fnad.Array and fnad.typing: JAX's annotation types over NumPy arrays and tracers."""

from __future__ import annotations

import numpy as np
import pytest

import fnad
import fnad.numpy as fnp
from fnad.typing import ArrayLike, DTypeLike


def test_array_is_the_type_of_eager_and_traced_values() -> None:
    assert isinstance(np.ones(2), fnad.Array) and isinstance(np.float32(1), fnad.Array)
    assert isinstance(fnp.sin(np.ones(2)), fnad.Array)
    assert not isinstance([1.0], fnad.Array) and not isinstance(1.0, fnad.Array)
    seen = []
    fnad.jit(lambda x: seen.append(isinstance(x, fnad.Array)) or x)(np.ones(2))
    fnad.grad(lambda x: seen.append(isinstance(x, fnad.Array)) or fnp.sum(x))(np.ones(2))
    assert seen == [True, True]
    assert issubclass(np.ndarray, fnad.Array) and not issubclass(list, fnad.Array)
    with pytest.raises(fnad.ArgumentTypeError, match="fnad.numpy.asarray"):
        fnad.Array([1.0])


def test_annotated_functions_run() -> None:
    def f(x: fnad.Array, scale: ArrayLike = 2.0, dtype: DTypeLike = np.float32) -> fnad.Array:
        return fnp.asarray(x, dtype) * scale

    assert fnad.jit(f)(np.ones(2)).tolist() == [2.0, 2.0]


def test_jnp_ndarray_is_jax_array_so_tracers_are_instances():
    """JAX's jnp.ndarray is jax.Array: code branching on isinstance(x, jnp.ndarray) takes
    the same branch traced as eager (fnad.numpy.ndarray was numpy.ndarray, which tracers
    are not)."""
    assert fnp.ndarray is fnad.Array
    seen = []
    probe = lambda x: seen.append(isinstance(x, fnp.ndarray)) or x * 2
    probe(np.ones(2))
    fnad.jit(probe)(np.ones(2))
    fnad.vmap(probe)(np.ones(2))
    fnad.grad(lambda x: probe(x).sum())(np.ones(2))
    assert seen == [True] * 4
    assert not isinstance([1.0], fnp.ndarray)
