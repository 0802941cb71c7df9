"""ravel_pytree: round trips, dtypes, errors, and derivatives through it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fnad
import fnad.numpy as fnp
from fnad.flatten_util import ravel_pytree
from fnad.test_util import assert_allclose, check_grads

DTYPES = [np.float32, np.float64, np.int32, np.complex64]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.lists(st.integers(0, 3), max_size=3), st.sampled_from(DTYPES)),
                max_size=4))
def test_round_trip_keeps_every_leaf(spec) -> None:
    rng = np.random.default_rng(0)
    leaves = [(rng.standard_normal(s) * 3).astype(d) for s, d in spec]
    tree = {"leaves": leaves, "extra": None}
    flat, unravel = ravel_pytree(tree)
    expected = (np.concatenate([x.ravel() for x in leaves]) if leaves
                else np.zeros(0, np.float32))
    assert flat.shape == (sum(x.size for x in leaves),)
    assert flat.dtype == (np.result_type(*leaves) if leaves else np.float32)
    assert_allclose(flat, expected.astype(flat.dtype))
    back = unravel(flat)
    assert fnad.tree.tree_structure(back) == fnad.tree.tree_structure(tree)
    for got, want in zip(back["leaves"], leaves):
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


def test_python_numbers_take_default_dtypes() -> None:
    flat, unravel = ravel_pytree((1.5, 2))
    assert flat.dtype == np.float32
    a, b = unravel(flat)
    assert (a.dtype, b.dtype) == (np.float32, np.int32) and (a, b) == (1.5, 2)


def test_unravel_refuses_wrong_shapes_and_dtypes() -> None:
    _, unravel = ravel_pytree([np.ones(2, np.float32), np.ones(3, np.float32)])
    with pytest.raises(fnad.ArgumentError, match=r"shape \(5,\), got shape \(4,\)"):
        unravel(np.ones(4, np.float32))
    # leaves of one dtype: unravel keeps the vector's dtype (JAX's polymorphic unravel)
    assert [x.dtype for x in unravel(np.ones(5, np.float64))] == [np.float64] * 2
    _, unravel = ravel_pytree([np.ones(2, np.float32), np.ones(3, np.float16)])
    with pytest.raises(fnad.ArgumentTypeError, match="dtype float32, got int32"):
        unravel(np.ones(5, np.int32))


def test_gradients_flow_through_ravel_and_unravel() -> None:
    params = {"w": np.linspace(-1, 1, 6).reshape(2, 3), "b": np.array([0.5, -2.0])}
    flat0, unravel = ravel_pytree(params)

    def loss(p):
        flat, _ = ravel_pytree(p)
        return fnp.sum(fnp.sin(flat) * flat)

    check_grads(loss, (params,), order=2, modes=["fwd", "rev"])
    check_grads(lambda v: fnp.sum(unravel(v)["w"] ** 3), (flat0,), order=2)
    g = fnad.grad(loss)(params)
    assert_allclose(g["w"], np.sin(params["w"]) + params["w"] * np.cos(params["w"]))


def test_jit_and_vmap_of_a_vector_function() -> None:
    params = {"a": np.ones((2, 2), np.float32), "b": (np.arange(3.0, dtype=np.float32),)}
    flat, unravel = ravel_pytree(params)
    doubled = fnad.jit(lambda v: unravel(2 * v))(flat)
    assert_allclose(doubled["b"][0], 2 * params["b"][0])
    batch = fnad.vmap(lambda v: ravel_pytree(unravel(v))[0])(np.stack([flat, flat + 1]))
    assert_allclose(batch, np.stack([flat, flat + 1]))
