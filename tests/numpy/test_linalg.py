"""fnad.numpy.linalg.norm against NumPy's for vector and matrix orders; its derivatives."""

from __future__ import annotations

import numpy as np
import pytest
from fnp_cases import NUMERIC, arrays, check
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import fnad.numpy as fnp
from fnad.test_util import check_grads, check_vmap


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_vector_norms(data):
    x = data.draw(arrays(data.draw(st.sampled_from(NUMERIC)),
                         hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)))
    ord_ = data.draw(st.sampled_from([None, 2, 1, np.inf, -np.inf, 0, 3, 0.5]))
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1) | st.none()) if ord_ is None or \
        x.ndim == 1 else data.draw(st.integers(-x.ndim, x.ndim - 1))
    keepdims = data.draw(st.booleans())
    check(lambda a: fnp.linalg.norm(a, ord_, axis, keepdims),
          lambda a: np.linalg.norm(a, ord_, axis, keepdims), (x,))


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_matrix_norms(data):
    x = data.draw(arrays(data.draw(st.sampled_from(NUMERIC)),
                         hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=4)))
    ord_ = data.draw(st.sampled_from([None, "fro", 1, -1, np.inf, -np.inf]))
    axis = tuple(data.draw(st.permutations(range(-x.ndim, 0)))[:2])
    keepdims = data.draw(st.booleans())
    check(lambda a: fnp.linalg.norm(a, ord_, axis, keepdims),
          lambda a: np.linalg.norm(a, ord_, axis, keepdims), (x,))
    if x.ndim == 2:
        check(lambda a: fnp.linalg.norm(a, ord_), lambda a: np.linalg.norm(a, ord_), (x,))


def test_orders_needing_svd_are_refused():
    with pytest.raises(NotImplementedError, match="singular value"):
        fnp.linalg.norm(np.ones((2, 2)), 2)


@pytest.mark.parametrize("ord_,axis", [(None, None), (2, 1), (1, 0), (3, -1), ("fro", (0, 1)),
                                       (np.inf, (1, 0))])
def test_grads_and_vmap(ord_, axis):
    x = np.random.default_rng(0).standard_normal((3, 4)) + 0.1
    f = lambda a: fnp.linalg.norm(a, ord_, axis)  # noqa: E731
    check_grads(f, (x,), order=2)
    check_vmap(f, (np.stack([x, -2 * x]),), in_axes=0)
