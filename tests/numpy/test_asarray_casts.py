"""`asarray`/`array` with an integer dtype convert floats as `lax.convert_element_type` and
jit do (saturating, NaN to 0, as JAX), silently; NumPy's own cast wraps and warns."""

from __future__ import annotations

import warnings

import numpy as np
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import fnad
import fnad.numpy as fnp

INTS = [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64]
EDGES = [0.0, -0.0, 0.5, -0.5, 127.5, 255.75, -129.0, 3e9, -3e9, 2.0 ** 100, np.inf, -np.inf,
         np.nan]


@settings(deadline=None, max_examples=60)  # each new shape compiles
@given(x=hnp.arrays(st.sampled_from([np.float32, np.float64]), hnp.array_shapes(max_dims=2),
                    elements=st.one_of(st.sampled_from(EDGES),
                                       st.floats(-2.0 ** 40, 2.0 ** 40, width=32))),
       dtype=st.sampled_from(INTS))
def test_float_to_int_matches_jit_and_lax(x: np.ndarray, dtype: type) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        want = fnad.lax.convert_element_type(x, dtype)
        np.testing.assert_array_equal(fnad.jit(lambda v: v.astype(dtype))(x), want)
        for got in (fnp.asarray(x, dtype), fnp.array(x, dtype=dtype),
                    fnp.asarray(x.tolist(), dtype)):
            assert got.dtype == dtype
            np.testing.assert_array_equal(got, want)


def test_saturation_values() -> None:
    x = np.array([300.0, -5.0, np.nan, 1e10, 2.7, -2.7], np.float32)
    np.testing.assert_array_equal(fnp.asarray(x, np.uint8), [255, 0, 0, 255, 2, 0])
    np.testing.assert_array_equal(fnp.asarray(x, np.int8), [127, -5, 0, 127, 2, -2])
    np.testing.assert_array_equal(fnp.asarray([1, 2], np.int8), [1, 2])  # ints as NumPy's
