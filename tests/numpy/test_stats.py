"""fnad/numpy/_stats.py against NumPy: NaN-ignoring reductions (NaNs and all-NaN slices
drawn), quantiles by every method, averages, covariance, histograms; derivatives of the
smooth ones, jit (inside `check`) and vmap."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from fnp_cases import arrays, axes_for, check, nonempty_shapes
from hypothesis import given, settings, strategies as st

import fnad
import fnad.numpy as fnp
from fnad.core.errors import ConcretizationError, DTypeError
from fnad.test_util import check_grads, check_vmap

SETTINGS = settings(max_examples=8, deadline=None)


def quiet(fn):
    """NumPy's all-NaN warnings are its own business, not the comparison's."""
    def f(*args, **kw):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return fn(*args, **kw)
    return f


def with_nans(x, data):
    if x.dtype.kind != "f" or not x.size:
        return x
    mask = data.draw(arrays(np.bool_, x.shape))
    if data.draw(st.booleans()):  # a whole all-NaN slice along axis 0 sometimes
        mask[..., 0] = True
    return np.where(mask, np.nan, x).astype(x.dtype)


NAN_REDUCTIONS = ["nanmax", "nanmin", "nanprod", "nanvar", "nanstd", "nanmedian"]


@pytest.mark.parametrize("name", NAN_REDUCTIONS)
@SETTINGS
@given(data=st.data())
def test_nan_reductions(name, data):
    dtype = data.draw(st.sampled_from([np.float32, np.float64]))
    x = data.draw(arrays(dtype, nonempty_shapes, -3, 3))
    x = with_nans(x, data)
    axis = data.draw(axes_for(x.ndim))
    keepdims = data.draw(st.booleans())
    kw = {"ddof": 1} if name in ("nanvar", "nanstd") and data.draw(st.booleans()) else {}
    check(lambda a: getattr(fnp, name)(a, axis, keepdims=keepdims, **kw),
          quiet(lambda a: getattr(np, name)(a, axis, keepdims=keepdims, **kw)), (x,),
          rtol=1e-4 if x.dtype == np.float32 else None)


@pytest.mark.parametrize("name", ["nanargmax", "nanargmin", "nancumsum", "nancumprod"])
@SETTINGS
@given(data=st.data())
def test_nan_args_and_scans(name, data):
    x = data.draw(arrays(np.float64, nonempty_shapes, -3, 3))
    x = np.where(data.draw(arrays(np.bool_, x.shape)), np.nan, x)
    axis = data.draw(st.one_of(st.none(), st.integers(-x.ndim, x.ndim - 1)))
    if name.startswith("nanarg"):  # NumPy raises on all-NaN slices; JAX (and fnad) give -1
        got = getattr(fnp, name)(x, axis)
        allnan = np.all(np.isnan(x), axis=axis)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = getattr(np, name)(np.where(np.isnan(x), -np.inf if "max" in name else np.inf,
                                             x), axis)
        np.testing.assert_array_equal(got, np.where(allnan, -1, ref))
        assert got.dtype == np.int64
    else:
        check(lambda a: getattr(fnp, name)(a, axis), lambda a: getattr(np, name)(a, axis), (x,))


METHODS = ["linear", "lower", "higher", "midpoint", "nearest", "inverted_cdf"]


def np_order_stat(name, method):
    """NumPy's `name` (quantile, percentile, nanquantile...) by `method`, except that
    'nearest' takes the lower element at a position exactly halfway, as JAX does (NumPy
    rounds it to even): built from NumPy's 'lower' and 'higher' and the position's
    fraction q * (n - 1) over each slice's n (non-NaN) elements."""
    fn = quiet(getattr(np, name))
    if method != "nearest":
        return lambda a, q, axis, **kw: fn(a, q, axis, method=method, **kw)

    def nearest(a, q, axis, keepdims=False):
        lower = fn(a, q, axis, method="lower", keepdims=keepdims)
        higher = fn(a, q, axis, method="higher", keepdims=keepdims)
        present = ~np.isnan(a) if name.startswith("nan") else np.ones(a.shape, bool)
        n = np.sum(present, axis, keepdims=keepdims)
        frac = np.asarray(q, np.float64).reshape(np.shape(q) + (1,) * n.ndim)
        pos = frac / (100 if "percentile" in name else 1) * np.maximum(n - 1, 0)
        return np.where(pos - np.floor(pos) <= 0.5, lower, higher)

    return nearest


@pytest.mark.parametrize("method", METHODS)
@SETTINGS
@given(data=st.data())
def test_quantile_percentile(method, data):
    dtype = data.draw(st.sampled_from([np.float32, np.float64, np.int32]))
    x = data.draw(arrays(dtype, nonempty_shapes, -5, 5))
    axis = data.draw(axes_for(x.ndim))
    keepdims = data.draw(st.booleans())
    q = data.draw(st.one_of(st.floats(0, 1), st.lists(st.floats(0, 1), min_size=1,
                                                        max_size=3)))
    tol = 1e-5 if dtype == np.float32 else None
    ref = {name: np_order_stat(name, method) for name in ("quantile", "percentile",
                                                         "nanquantile")}
    check(lambda a: fnp.quantile(a, q, axis, method=method, keepdims=keepdims),
          lambda a: ref["quantile"](a, q, axis, keepdims=keepdims), (x,), rtol=tol, atol=tol)
    qp = [100 * v for v in q] if isinstance(q, list) else 100 * q
    check(lambda a: fnp.percentile(a, qp, axis, method=method, keepdims=keepdims),
          lambda a: ref["percentile"](a, qp, axis, keepdims=keepdims), (x,),
          rtol=tol, atol=tol)
    if dtype != np.int32:
        xn = with_nans(x, data)
        check(lambda a: fnp.nanquantile(a, q, axis, method=method, keepdims=keepdims),
              lambda a: ref["nanquantile"](a, q, axis, keepdims=keepdims),
              (xn,), rtol=tol, atol=tol, check_dtype=False)  # NumPy's all-NaN path: a's dtype
        check(lambda a: fnp.quantile(a, q, axis, method=method),
              lambda a: ref["quantile"](a, q, axis), (xn,), rtol=tol, atol=tol)


@pytest.mark.parametrize("name,q", [("quantile", [0.5, 0.125, 0.375, 0.625, 0.875, 0.3]),
                                    ("percentile", [50.0, 12.5, 87.5]),
                                    ("nanquantile", [0.5, 0.25])])
def test_nearest_goes_down_at_halfway_positions(name, q):
    """'nearest' at a position exactly between two elements takes the lower one, as JAX
    does (NumPy rounds it to even, so 1.5 and 2.5 both go to 2)."""
    x = np.array([[0.0, 10.0, 20.0, 30.0, 40.0], [5.0, 1.0, 4.0, 2.0, 3.0]])
    if name.startswith("nan"):
        x[1, 4] = np.nan
    for a in (x, x[:, :4], x.astype(np.float32)):
        check(lambda v: getattr(fnp, name)(v, q, 1, method="nearest"),
              lambda v: np_order_stat(name, "nearest")(v, q, 1), (a,))


def test_median_quantile_with_infinities():
    """Linear interpolation next to an infinity is that infinity, as NumPy and JAX (it was
    NaN: -inf + frac * (1 - -inf))."""
    x = np.array([[-np.inf, 1.0], [1.0, np.inf], [np.inf, np.inf], [-np.inf, np.inf]])
    check(lambda a: fnp.median(a, axis=1), quiet(lambda a: np.median(a, axis=1)), (x,))
    for q, rows in ((0.7, x[:1]), (0.3, x[1:2])):  # where NumPy's own interpolation is exact
        check(lambda a, q=q: fnp.quantile(a, q, axis=1),
              quiet(lambda a, q=q: np.quantile(a, q, axis=1)), (rows,))
    check(lambda a: fnp.nanmedian(a, axis=0), quiet(lambda a: np.nanmedian(a, axis=0)), (x,))


@pytest.mark.parametrize("name", ["nanvar", "nanstd"])
def test_nanvar_nanstd_complex(name):
    """Complex input: the mean squared |deviation| (a real result), as NumPy's (it summed
    the squares of complex deviations and dropped their imaginary part)."""
    x = np.array([[1.5 + 3j, np.nan, 0.0 - 3j, 3.0 + 3j], [2.0 - 1j, 2.0 + 4j, np.nan, 0.5j]])
    for kw in ({}, {"axis": 0}, {"axis": 1, "ddof": 1}, {"axis": 1, "keepdims": True}):
        check(lambda a, kw=kw: getattr(fnp, name)(a, **kw),
              quiet(lambda a, kw=kw: getattr(np, name)(a, **kw)), (x,))
        check(lambda a, kw=kw: getattr(fnp, name)(a, **kw),
              quiet(lambda a, kw=kw: getattr(np, name)(a, **kw)), (x.astype(np.complex64),),
              rtol=1e-5, atol=1e-6)


def test_median_and_quantile_edges_and_grads():
    x = np.array([[3.0, 1.0, 2.0, 10.0], [np.inf, -np.inf, 0.0, 1.0]])
    check(lambda a: fnp.median(a, axis=1), lambda a: np.median(a, axis=1), (x,))
    check(fnp.median, np.median, (np.arange(7),))
    check(lambda a: fnp.nanpercentile(a, 40.0), lambda a: np.nanpercentile(a, 40.0),
          (np.array([1.0, np.nan, 4.0]),))
    y = np.random.default_rng(0).normal(size=(3, 5))
    check_grads(lambda a: fnp.quantile(a, np.array([0.3, 0.9]), axis=1), (y,))
    check_grads(lambda a: fnp.median(a, axis=0), (y,))
    check_vmap(lambda a: fnp.percentile(a, 25.0), (y,))


@SETTINGS
@given(data=st.data())
def test_average_ptp(data):
    dtype = data.draw(st.sampled_from([np.float64, np.int32]))
    x = data.draw(arrays(dtype, nonempty_shapes, -5, 5))
    axis = data.draw(axes_for(x.ndim, allow_tuple=False))
    check(lambda a: fnp.ptp(a, axis), lambda a: np.ptp(a, axis), (x,))
    check(lambda a: fnp.average(a, axis), lambda a: np.average(a, axis), (x,))
    if axis is not None:
        w = data.draw(arrays(np.float64, (x.shape[axis],), 0.5, 2))
        check(lambda a, ww: fnp.average(a, axis, ww, returned=True),
              lambda a, ww: np.average(a, axis, ww, returned=True), (x, w))
    w2 = data.draw(arrays(np.float64, x.shape, 0.5, 2))
    check(lambda a, ww: fnp.average(a, axis, ww), lambda a, ww: np.average(a, axis, ww), (x, w2))


@pytest.mark.parametrize("rowvar", [True, False])
@pytest.mark.parametrize("kw", [{}, {"bias": True}, {"ddof": 0}, {"fweights": "f"},
                                {"aweights": "a"}, {"aweights": "a", "fweights": "f"}])
def test_cov_corrcoef(rowvar, kw):
    rng = np.random.default_rng(1)
    m = rng.normal(size=(3, 6)) if rowvar else rng.normal(size=(6, 3))
    kw = {k: (rng.integers(1, 4, 6) if v == "f" else rng.uniform(0.5, 2, 6)) if isinstance(v, str)
          else v for k, v in kw.items()}
    check(lambda a: fnp.cov(a, rowvar=rowvar, **kw), lambda a: np.cov(a, rowvar=rowvar, **kw),
          (m,))
    check(lambda a: fnp.corrcoef(a, rowvar=rowvar), lambda a: np.corrcoef(a, rowvar=rowvar),
          (m,))
    y = rng.normal(size=m.shape)
    check(lambda a, b: fnp.cov(a, b, rowvar=rowvar), lambda a, b: np.cov(a, b, rowvar=rowvar),
          (m, y))
    check(lambda a: fnp.cov(a), lambda a: np.cov(a), (np.arange(5),))
    check_grads(lambda a: fnp.cov(a, rowvar=rowvar), (m,))


@SETTINGS
@given(data=st.data())
def test_histograms(data):
    x = data.draw(arrays(np.float64, st.integers(1, 20).map(lambda n: (n,)), -3, 3))
    bins = data.draw(st.one_of(st.integers(1, 6), st.just(np.array([-2.0, -0.5, 0.0, 2.5]))))
    rng = data.draw(st.one_of(st.none(), st.just((-1.0, 1.5))))
    w = data.draw(st.one_of(st.none(), arrays(np.float64, x.shape, 0, 2)))
    density = data.draw(st.sampled_from([None, True]))
    kw = {"bins": bins, "range": rng, "weights": w, "density": density}
    if density and not isinstance(bins, int):
        return  # checked below with a fixed case
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = np.histogram(x, **kw)
    got = fnp.histogram(x, **kw)
    # NumPy's weighted counts are differences of a cumulative sum: tiny weights beside large
    # ones can vanish there (1 + 1e-308 - 1), while fnad adds them exactly
    atol = 1e-12 * (np.nanmax(np.abs(expected[0]), initial=1.0) if w is not None else 0.0)
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-10, atol=atol, equal_nan=True)
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-12)
    if w is None and not density:
        assert got[0].dtype == np.int64
    np.testing.assert_allclose(fnp.histogram_bin_edges(x, bins, rng),
                               np.histogram_bin_edges(x, bins, rng))
    y = data.draw(arrays(np.float64, x.shape, -3, 3))
    h2 = fnp.histogram2d(x, y, bins=3)
    e2 = np.histogram2d(x, y, bins=3)
    for a, b in zip(h2, e2):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_histogram_jit_and_histogramdd_density():
    x = np.random.default_rng(2).normal(size=(50, 3))
    h, edges = fnad.jit(lambda s: fnp.histogramdd(s, bins=(3, 4, 2), density=True))(x)
    eh, eedges = np.histogramdd(x, bins=(3, 4, 2), density=True)
    np.testing.assert_allclose(h, eh, rtol=1e-10)
    for a, b in zip(edges, eedges):
        np.testing.assert_allclose(a, b)
    hist, _ = fnp.histogram(x[:, 0], bins=np.array([-1.0, 0.0, 1.0]), density=True)
    np.testing.assert_allclose(hist, np.histogram(x[:, 0], np.array([-1.0, 0.0, 1.0]),
                                                  density=True)[0])


def test_bincount():
    x = np.array([0, 1, 1, 3, 7])
    out = fnp.bincount(x)
    np.testing.assert_array_equal(out, np.bincount(x))
    assert out.dtype == np.int64
    np.testing.assert_array_equal(fnp.bincount(x, minlength=10), np.bincount(x, minlength=10))
    w = np.linspace(0, 1, 5)
    np.testing.assert_allclose(fnp.bincount(x, w), np.bincount(x, w))
    out = fnad.jit(lambda v: fnp.bincount(v, length=4))(x)  # 7 is dropped, as in JAX
    np.testing.assert_array_equal(out, np.bincount(x)[:4])
    with pytest.raises(ConcretizationError, match="length="):
        fnad.jit(fnp.bincount)(x)
    check_grads(lambda ww: fnp.bincount(x, ww), (w,))


def test_quantiles_of_complex_input_raise_as_in_jax():
    """They converted it to float, silently keeping the real part."""
    z = np.array([1 + 2j, 3j, -1.0 + 0j])
    for fn in (fnp.median, fnp.nanmedian, lambda a: fnp.quantile(a, 0.3),
               lambda a: fnp.percentile(a, 30)):
        with pytest.raises(DTypeError, match="complex"):
            fn(z)


def test_bincount_of_bools_and_negative_values_under_jit():
    """Booleans count as 0 and 1, as NumPy and JAX (they were taken as a mask); with
    `length`, a negative value counts in bin 0, as JAX documents (it wrapped to the last)."""
    b = np.array([True, False, True, True])
    np.testing.assert_array_equal(fnp.bincount(b), np.bincount(b))
    np.testing.assert_array_equal(fnp.bincount(b, minlength=4), np.bincount(b, minlength=4))
    x = np.array([-1, 0, 2, 7, 3], np.int32)
    np.testing.assert_array_equal(fnad.jit(lambda v: fnp.bincount(v, length=4))(x),
                                  [2, 0, 1, 1])
    with pytest.raises(fnad.FnadError, match="non-negative"):
        fnp.bincount(x)  # NumPy's error where the data is known and no length is given


def test_average_weights_along_a_tuple_of_axes():
    """NumPy 2's weights shaped as `a` along `axis`, a tuple included, in its order (they
    raised unless 1-d for one int axis); other shapes raise."""
    a = np.arange(60.0).reshape(3, 4, 5)
    w = np.arange(20.0).reshape(4, 5) + 1
    for axis, ww in [((1, 2), w), ((2, 1), w.T), ((-1, 0), w[:3, :].T), (1, w[:, 0])]:
        for got, want in zip(fnp.average(a, axis, ww, returned=True),
                             np.average(a, axis, ww, returned=True), strict=True):
            np.testing.assert_allclose(got, want)
    with pytest.raises(fnad.FnadError, match="weights of shape"):
        fnp.average(a, (2, 1), w)
