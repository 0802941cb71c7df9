"""fnad.numpy's reductions and scans against NumPy: every axis form, keepdims, NumPy's
accumulator dtypes (int32 sums to int64); derivatives of mean/var/std, batching."""

from __future__ import annotations

import numpy as np
import pytest
from fnp_cases import ALL, NUMERIC, arrays, axes_for, check, nonempty_shapes
from hypothesis import given, settings, strategies as st

import fnad
import fnad.numpy as fnp
from fnad.test_util import check_grads, check_vmap

SETTINGS = settings(max_examples=15, deadline=None)

# name, extra keyword variants, dtypes, value domain
REDUCTIONS = [
    ("sum", [{}, {"dtype": np.float64}], ALL, (-5, 5)),
    ("prod", [{}], ALL, (-2, 2)),
    ("max", [{}], ALL, (-5, 5)), ("min", [{}], ALL, (-5, 5)),
    ("amax", [{}], NUMERIC, (-5, 5)), ("amin", [{}], NUMERIC, (-5, 5)),
    ("mean", [{}, {"dtype": np.float32}], ALL, (-5, 5)),
    ("var", [{}, {"ddof": 1}], NUMERIC, (-5, 5)), ("std", [{}, {"ddof": 1}], NUMERIC, (-5, 5)),
    ("all", [{}], ALL, (-1, 1)), ("any", [{}], ALL, (-1, 1)),
    ("nansum", [{}], NUMERIC, (-5, 5)), ("nanmean", [{}], NUMERIC, (-5, 5)),
    ("count_nonzero", [{}], ALL, (-1, 1)),
]


@pytest.mark.parametrize("name,variants,dtypes,domain", REDUCTIONS,
                         ids=[c[0] for c in REDUCTIONS])
@SETTINGS
@given(data=st.data())
def test_reduction(name, variants, dtypes, domain, data):
    x = data.draw(arrays(data.draw(st.sampled_from(dtypes)), nonempty_shapes, *domain))
    axis = data.draw(axes_for(x.ndim))
    kw = dict(data.draw(st.sampled_from(variants)), keepdims=data.draw(st.booleans()))
    if kw.get("ddof") and np.prod([x.shape[a] for a in np.atleast_1d(
            range(x.ndim) if axis is None else axis)]) <= 1:
        kw["ddof"] = 0
    f, g = getattr(fnp, name), getattr(np, name)
    check(lambda a: f(a, axis, **kw), lambda a: g(a, axis, **kw), (x,))


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@SETTINGS
@given(data=st.data())
def test_arg_reduction(name, data):
    x = data.draw(arrays(data.draw(st.sampled_from(ALL)), nonempty_shapes, -3, 3))
    axis = data.draw(axes_for(x.ndim, allow_tuple=False))
    keepdims = data.draw(st.booleans())
    f, g = getattr(fnp, name), getattr(np, name)
    check(lambda a: f(a, axis, keepdims=keepdims), lambda a: g(a, axis, keepdims=keepdims), (x,))


@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
@SETTINGS
@given(data=st.data())
def test_scan(name, data):
    x = data.draw(arrays(data.draw(st.sampled_from(ALL)), nonempty_shapes, -2, 2))
    axis = data.draw(axes_for(x.ndim, allow_tuple=False))
    f, g = getattr(fnp, name), getattr(np, name)
    check(lambda a: f(a, axis), lambda a: g(a, axis), (x,))


def test_nan_handling_matches_numpy():
    x = np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, 2.0]], np.float32)
    for f, g in ((fnp.max, np.max), (fnp.argmax, np.argmax), (fnp.nansum, np.nansum)):
        check(lambda a, f=f: f(a, 1), lambda a, g=g: g(a, 1), (x,))


GRAD_CASES = [
    ("mean", lambda x: fnp.mean(x, 0)), ("var", lambda x: fnp.var(x, 1, keepdims=True)),
    ("std", lambda x: fnp.std(x, (0, 1), ddof=1)), ("prod", lambda x: fnp.prod(x, -1)),
    ("max", lambda x: fnp.max(x, 1)), ("cumsum", lambda x: fnp.cumsum(x, 0)),
    ("sum", lambda x: fnp.sum(x * x, None, keepdims=True)),
]


@pytest.mark.parametrize("name,f", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_grads(name, f):
    x = np.random.default_rng(0).standard_normal((3, 4))
    check_grads(f, (x,), order=2)


@pytest.mark.parametrize("in_axes", [0, 1, -1])
def test_vmap(in_axes):
    x = np.random.default_rng(1).standard_normal((3, 4, 2))
    for f in (lambda a: fnp.sum(a, 0), lambda a: fnp.var(a, -1, keepdims=True),
              lambda a: fnp.argmax(a, 1), lambda a: fnp.cumsum(a, 0), lambda a: fnp.max(a)):
        check_vmap(f, (x,), in_axes=in_axes)


def test_std_over_one_element_is_zero_with_zero_derivative():
    # std of a single value is the constant 0: its derivative is 0, not sqrt's NaN at 0
    x = np.array([[0.5, -1.0, 2.0]])
    for axis, keepdims in [(0, False), (0, True), (None, False)]:
        f = lambda a, axis=axis, keepdims=keepdims: fnp.std(a[:, :1] if axis is None else a,
                                                             axis=axis, keepdims=keepdims)
        np.testing.assert_array_equal(f(x), np.std(x[:, :1] if axis is None else x,
                                                    axis=axis, keepdims=keepdims))
        check_grads(lambda a, f=f: fnp.sum(f(a)), (x,), order=2)
    assert fnad.grad(fnp.std)(3.5) == 0.0
    assert np.isnan(fnp.std(np.array([np.nan])))
    assert np.all(np.isnan(fnad.grad(fnp.std)(np.ones(3))))  # genuinely at sqrt's kink


@pytest.mark.parametrize("ddof", [3, 4, 2.5])
def test_var_std_with_no_degrees_of_freedom_are_nan(ddof):
    """n - ddof <= 0 gives NaN, as JAX (it divided by a negative count: a negative var)."""
    x = np.array([[1.0, 2.0, 4.0], [1.0, 1.0, 1.0]], np.float32)
    with np.errstate(all="ignore"):
        ref = np.where(3 - ddof > 0, np.var(x, axis=1, ddof=min(ddof, 2.5)), np.nan)
    for f, r in ((fnp.var, ref), (fnp.std, np.sqrt(ref))):
        check(lambda a, f=f: f(a, 1, ddof=ddof), lambda a, r=r: r.astype(np.float32), (x,))
    mask = np.array([True, True, False])
    with np.errstate(all="ignore"):
        ref = np.where(2 - ddof > 0, np.var(x, axis=1, ddof=min(ddof, 1), where=mask), np.nan)
    check(lambda a: fnp.var(a, 1, ddof=ddof, where=mask), lambda a: ref.astype(np.float32), (x,))


@pytest.mark.parametrize("name", ["cumsum", "cumprod", "nancumsum", "nancumprod"])
def test_scan_of_a_scalar_along_axis_0(name):
    """A rank-0 operand scans as one element along axis 0 or -1, as NumPy's (it raised)."""
    for axis in (0, -1, None):
        check(lambda a, axis=axis: getattr(fnp, name)(a, axis),
              lambda a, axis=axis: getattr(np, name)(a, axis), (np.float32(2.5),))
    with pytest.raises(fnad.FnadError):
        getattr(fnp, name)(np.float32(2.5), 1)


def test_var_std_take_a_mean_and_sums_keep_integer_width_on_request():
    """NumPy 2's (and JAX's) `mean=` of var/std, and JAX's `promote_integers=False`."""
    x = np.array([[3.0, -1.0, 2.0], [0.5, 4.0, -2.0]])
    m = np.mean(x, axis=0, keepdims=True)
    np.testing.assert_allclose(fnp.std(x, axis=0, mean=m), np.std(x, axis=0, mean=m))
    z = np.zeros((2, 1))
    np.testing.assert_allclose(fnp.var(x, axis=1, mean=z, ddof=1),
                               np.var(x, axis=1, mean=z, ddof=1))
    check_grads(lambda v: fnp.var(v, mean=1.0), (x,), order=2)
    i8 = np.array([100, 3], np.int8)
    assert fnp.sum(i8, promote_integers=False).dtype == np.int8
    assert fnp.prod(i8, promote_integers=False) == np.int8(44)  # wraps, as in int8
    assert fnp.sum(i8).dtype == np.int64  # NumPy's default promotion otherwise


@pytest.mark.parametrize("name", ["mean", "nanmean", "var", "nanvar"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int32])
def test_integer_dtype_accumulates_in_that_dtype(name, dtype):
    """mean(x, dtype=uint8) sums in uint8 (wrapping) and truncates, as NumPy and JAX do; the
    sum was widened first, giving 68 where both give 4, and var's mean was not truncated."""
    x = np.array([[2, -1, 8, 9], [200, 100, 90, 7]], np.int32)
    x300 = np.ones(300, np.int32)  # a count past uint8's range must not wrap
    for a, axis in ((x, 1), (x, 0), (x, None), (x300, None)):
        want = getattr(np, name)(a, axis=axis, dtype=dtype)
        got = getattr(fnp, name)(a, axis=axis, dtype=dtype)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(fnp.mean(x, 1, dtype=dtype, where=x > 8),
                                  np.mean(x, 1, dtype=dtype, where=x > 8))


@pytest.mark.parametrize("name", ["nanmean", "nanvar", "nanstd"])
def test_nan_statistics_of_floats_need_an_inexact_dtype(name):
    """NumPy raises for nanmean/nanvar/nanstd of a float array in an integer dtype (fnad gave
    a number neither NumPy nor JAX gives); integer input in an integer dtype still works."""
    x = np.array([[0.4, np.nan, 1.7], [2.5, -1.2, 0.3]], np.float32)
    with pytest.raises(fnad.FnadError, match="inexact dtype"):
        getattr(fnp, name)(x, axis=0, dtype=np.int32)
    i = np.array([[1, 5, 2], [7, 3, 3]], np.int32)
    if name != "nanstd":  # NumPy cannot put sqrt's float result in int32
        np.testing.assert_array_equal(getattr(fnp, name)(i, axis=1, dtype=np.int32),
                                      getattr(np, name)(i, axis=1, dtype=np.int32))
