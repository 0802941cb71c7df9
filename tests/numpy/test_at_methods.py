"""JAX's whole `.at[]` surface: subtract, divide, power, apply, mul, and the `mode` /
`fill_value` / hint keywords, eager and jitted, against NumPy's unbuffered `ufunc.at`."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fnad
import fnad.numpy as fnp
from fnad.test_util import check_grads

N = 6


def reference(x: np.ndarray, idx: np.ndarray, op: str, v: float, mode: str | None) -> np.ndarray:
    out = x.copy()
    idx = np.clip(idx, -N, N - 1) if mode == "clip" else idx[(idx >= -N) & (idx < N)]
    if op == "apply":
        out[idx] = np.exp(x[idx])
        return out
    ufunc = {"subtract": np.subtract, "multiply": np.multiply, "divide": np.divide,
             "power": np.power}[op]
    if op in ("divide", "power"):  # JAX: by the product of the values at repeated indices
        factor = np.ones_like(x)
        np.multiply.at(factor, idx, v)
        return ufunc(x, factor)
    ufunc.at(out, idx, v)
    return out


@settings(deadline=None, max_examples=40)
@given(idx=st.lists(st.integers(-N - 2, N + 2), min_size=1, max_size=5),
       op=st.sampled_from(["subtract", "multiply", "divide", "power", "apply"]),
       mode=st.sampled_from([None, "drop", "clip", "promise_in_bounds"]))
def test_update_methods_match_numpy(idx: list[int], op: str, mode: str | None) -> None:
    if mode == "promise_in_bounds":  # the caller promises: only in-bounds indices
        idx = [i for i in idx if -N <= i < N] or [0]
    x = np.linspace(0.5, 2.0, N).astype(np.float64)
    idx_a = np.array(idx)
    want = reference(x, idx_a, op, 1.5, mode)

    def f(x):
        ref = fnp.at(x)[idx_a]  # eager arrays are NumPy's: no .at (tracers have it)
        return ref.apply(fnp.exp, mode=mode) if op == "apply" else \
            getattr(ref, op)(1.5, mode=mode, indices_are_sorted=False, unique_indices=False)

    np.testing.assert_allclose(f(x), want, rtol=1e-12)
    np.testing.assert_allclose(fnad.jit(f)(x), want, rtol=1e-12)
    check_grads(f, (x,), order=1)


def test_get_fill_and_clip() -> None:
    x = np.arange(5.0, dtype=np.float32)
    i = np.array([0, 4, 7, -9])
    at = fnp.at(x)[i]
    np.testing.assert_array_equal(at.get(), [0, 4, 4, 0])
    np.testing.assert_array_equal(at.get(mode="fill"), [0, 4, np.nan, np.nan])
    np.testing.assert_array_equal(at.get(mode="drop", fill_value=-1), [0, 4, -1, -1])
    ints = fnp.at(np.arange(5, dtype=np.int32))[i].get(mode="fill")
    np.testing.assert_array_equal(ints, [0, 4, np.iinfo(np.int32).min, np.iinfo(np.int32).min])
    staged = fnad.jit(lambda x: x.at[i].get(mode="fill", fill_value=7.0))(x)
    np.testing.assert_array_equal(staged, [0, 4, 7, 7])
    assert fnp.at(x)[1:3].mul(2.0)[2] == 4.0


def test_bad_mode_is_an_error() -> None:
    with pytest.raises(fnad.FnadError, match="mode= one of"):
        fnp.at(np.zeros(3))[0].set(1.0, mode="wrap")
