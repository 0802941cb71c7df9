"""Reductions with NumPy's (and JAX's) `where=` masks, `initial=` and `correction=`,
against NumPy, eagerly, as tracer methods under jit, and differentiated."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import fnad
import fnad.numpy as fnp
from fnad.test_util import check_grads

FUNCTIONS = ["sum", "prod", "max", "min", "mean", "var", "std", "any", "all", "nansum",
             "nanmean"]
NEEDS_INITIAL = {"max", "min"}


@settings(deadline=None, max_examples=60)
@given(data=st.data(), name=st.sampled_from(FUNCTIONS))
def test_masked_reductions_match_numpy(data, name: str) -> None:
    x = data.draw(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=4),
                             elements=st.floats(-3, 3) | st.just(np.nan)))
    mask = data.draw(hnp.arrays(np.bool_, x.shape[data.draw(st.integers(0, x.ndim)):]))
    axis = data.draw(st.none() | st.integers(-x.ndim, x.ndim - 1))
    kw = {"where": mask, "axis": axis}
    if name in NEEDS_INITIAL or (name in ("sum", "prod", "nansum") and data.draw(st.booleans())):
        kw["initial"] = data.draw(st.floats(-2, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NumPy's own empty-slice and NaN warnings
        want = getattr(np, name)(x, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # none from fnad
        got = getattr(fnp, name)(x, **kw)
        staged = fnad.jit(lambda v: getattr(v, name)(**kw) if hasattr(v, name)
                          else getattr(fnp, name)(v, **kw))(x)
    for r in (got, staged):
        assert np.shape(r) == np.shape(want) and np.asarray(r).dtype == np.asarray(want).dtype
        np.testing.assert_allclose(r, want, rtol=1e-7, atol=1e-9, equal_nan=True)


def test_masked_mean_and_var_gradients() -> None:
    x = np.linspace(-1.0, 2.0, 12).reshape(3, 4)
    mask = np.array([True, False, True, True])
    check_grads(lambda v: fnp.mean(v, axis=1, where=mask), (x,), order=2)
    check_grads(lambda v: fnp.var(v, axis=1, where=mask, correction=1), (x,), order=2)
    check_grads(lambda v: fnp.max(v, axis=0, where=mask[:3, None], initial=-5.0), (x,), order=1)


def test_correction_and_bad_combinations() -> None:
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(fnp.std(x, axis=1, correction=1), np.std(x, axis=1, ddof=1))
    with pytest.raises(fnad.FnadError, match="ddof= or correction="):
        fnp.var(x, ddof=1, correction=1)
    with pytest.raises(fnad.FnadError, match="needs initial="):
        fnp.max(x, where=np.array([True, False, True]))
    with pytest.raises(fnad.FnadError, match="no out="):
        fnp.sum(x, 0, None, np.empty(3))
