"""Keywords JAX's numpy added beyond NumPy's: sort/argsort(descending=), clip(min=, max=)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import fnad
import fnad.numpy as fnp


@settings(deadline=None, max_examples=50)
@given(a=hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=2, max_side=6),
                    elements=st.sampled_from([0.0, -0.0, 1.0, 2.0, -3.0, np.inf, np.nan])),
       axis=st.sampled_from([-1, 0, None]))
def test_descending_sort_is_stable_and_largest_first(a: np.ndarray, axis) -> None:
    flat = a.ravel() if axis is None else a
    ax = -1 if axis is None else axis
    idx = fnp.argsort(a, axis=axis, descending=True)
    n = flat.shape[ax]
    want = n - 1 - np.flip(np.argsort(np.flip(flat, ax), axis=ax, kind="stable"), ax)
    np.testing.assert_array_equal(idx, want)
    np.testing.assert_array_equal(fnp.sort(a, axis=axis, descending=True),
                                  np.flip(np.sort(flat, axis=ax), ax))
    np.testing.assert_array_equal(fnad.jit(lambda v: fnp.argsort(v, axis=axis,
                                                                 descending=True))(a), want)
    ordered = np.nan_to_num(np.take_along_axis(flat, want, ax), nan=2e30, posinf=1e30,
                            neginf=-1e30)
    assert not np.any(np.diff(ordered.astype(np.float64), axis=ax) > 0)  # largest first


def test_clip_takes_jax_bound_names() -> None:
    x = np.array([-2.0, 0.5, 3.0])
    np.testing.assert_array_equal(fnp.clip(x, min=0.0), [0.0, 0.5, 3.0])
    np.testing.assert_array_equal(fnp.clip(x, max=1.0), [-2.0, 0.5, 1.0])
    np.testing.assert_array_equal(fnp.clip(x, min=0.0, max=1.0), fnp.clip(x, 0.0, 1.0))
    np.testing.assert_array_equal(fnad.grad(lambda v: fnp.clip(v, min=0.0).sum())(x), [0, 1, 1])
    with pytest.raises(TypeError, match="multiple values"):  # JAX's signature: (arr, /, min, max)
        fnp.clip(x, 0.0, min=1.0)
    with pytest.raises(fnad.FnadError, match="each argument once"):
        fnp.clip(x, a_min=0.0, min=1.0)
    np.testing.assert_array_equal(fnp.clip(a=x, a_min=0.0, a_max=1.0), fnp.clip(x, 0.0, 1.0))
