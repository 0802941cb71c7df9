"""fnad.ops (JAX's jax.ops): segment reductions against NumPy's unbuffered ufunc.at, ids
out of range dropped, empty segments at the identity, derivatives, jit and vmap."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fnad
from fnad import ops
from fnad.core.errors import ArgumentError, ShapeError
from fnad.test_util import check_grads

UFUNCS = {"sum": (np.add, 0.0), "prod": (np.multiply, 1.0), "max": (np.maximum, -np.inf),
          "min": (np.minimum, np.inf)}


def reference(kind: str, data: np.ndarray, ids: np.ndarray, n: int) -> np.ndarray:
    ufunc, identity = UFUNCS[kind]
    out = np.full((n, *data.shape[1:]), identity, data.dtype)
    keep = (ids >= 0) & (ids < n)
    ufunc.at(out, ids[keep], data[keep])
    return out


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(sorted(UFUNCS)), st.integers(1, 12), st.integers(1, 5),
       st.integers(0, 2**31 - 1))
def test_segments_match_numpys_ufunc_at(kind, rows, n, seed):
    rng = np.random.default_rng(seed)
    data = rng.standard_normal((rows, 2)).astype(np.float32)
    ids = rng.integers(-2, n + 2, rows)  # some out of range on both sides
    fn = getattr(ops, f"segment_{kind}")
    np.testing.assert_allclose(fn(data, ids, n), reference(kind, data, ids, n), rtol=1e-6)
    np.testing.assert_allclose(fnad.jit(lambda d, i: fn(d, i, n))(data, ids),
                               reference(kind, data, ids, n), rtol=1e-6)


def test_defaults_integer_identities_derivatives_and_vmap():
    data = np.array([1.0, 1.0, 3.0, 2.0, 3.0])
    ids = np.array([0, 0, 1, 1, 1])
    np.testing.assert_array_equal(ops.segment_sum(data, np.array([0, 0, 1, 1, 3])),
                                  [2.0, 5.0, 0.0, 3.0])  # num_segments = max id + 1
    ints = ops.segment_max(np.arange(5, dtype=np.int32), np.array([0, 0, 2, 2, 2]), 3)
    np.testing.assert_array_equal(ints, [1, np.iinfo(np.int32).min, 4])
    assert ints.dtype == np.int32
    # tied maxima share the gradient evenly, as JAX's scatter max
    g = fnad.grad(lambda d: ops.segment_max(d, ids, 2).sum())(data)
    np.testing.assert_array_equal(g, [0.5, 0.5, 0.5, 0.0, 0.5])
    distinct = np.array([0.3, 1.2, -0.7, 2.5, 0.9])
    for kind in ("sum", "prod", "max", "min"):
        fn = getattr(ops, f"segment_{kind}")
        check_grads(lambda d, f=fn: f(d, ids, 2), (distinct,), order=2)
    batched = fnad.vmap(lambda d: ops.segment_sum(d, ids, 2))(np.stack([data, 2 * data]))
    np.testing.assert_array_equal(batched, [[2.0, 8.0], [4.0, 16.0]])


def test_bad_ids_raise():
    with pytest.raises(ShapeError, match="one id per row"):
        ops.segment_sum(np.ones(3), np.array([0, 1]))
    with pytest.raises(ArgumentError, match="integers"):
        ops.segment_sum(np.ones(2), np.array([0.0, 1.0]))
    with pytest.raises(ArgumentError, match="num_segments"):
        fnad.jit(lambda i: ops.segment_sum(np.ones(2), i))(np.array([0, 1]))
