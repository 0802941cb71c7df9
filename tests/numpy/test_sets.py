"""fnad/numpy/_sets.py and the searching/sorting helpers against NumPy: eager results equal
NumPy's; with `size=` the same results run under jit and vmap, padded as JAX pads them;
without `size` under jit, a ConcretizationError asks for it."""

from __future__ import annotations

import numpy as np
import pytest
from fnp_cases import arrays, assert_same, check, nonempty_shapes, shapes
from hypothesis import given, settings, strategies as st

import fnad
import fnad.numpy as fnp
from fnad.core.errors import ConcretizationError
from fnad.test_util import check_grads, check_vmap

SETTINGS = settings(max_examples=8, deadline=None)
small_ints = st.sampled_from([np.int32, np.float64])


@SETTINGS
@given(data=st.data())
def test_nonzero_family(data):
    x = data.draw(arrays(data.draw(st.sampled_from([np.int32, np.float64, np.bool_])),
                         nonempty_shapes, -1, 1))
    assert_same(fnp.nonzero(x), np.nonzero(x))
    assert_same(fnp.flatnonzero(x), np.flatnonzero(x))
    assert_same(fnp.argwhere(x), np.argwhere(x))
    cond = data.draw(arrays(np.bool_, x.shape))
    assert_same(fnp.extract(cond, x), np.extract(cond, x))
    # with size: under jit, padded with fill_value (or truncated)
    k = int(np.count_nonzero(x))
    size = data.draw(st.integers(0, x.size + 2))
    got = fnad.jit(lambda a: fnp.nonzero(a, size=size, fill_value=-1))(x)
    for g, e in zip(got, np.nonzero(x)):
        exp = np.concatenate([e, np.full(max(size - k, 0), -1)])[:size]
        np.testing.assert_array_equal(g, exp)
    got = fnad.jit(lambda a: fnp.argwhere(a, size=size))(x)
    exp = np.concatenate([np.argwhere(x), np.zeros((max(size - k, 0), x.ndim), int)])[:size]
    np.testing.assert_array_equal(got, exp)


def test_nonzero_needs_size_under_jit_and_works_under_grad():
    x = np.array([0.0, 2.0, 0.0, 3.0])
    with pytest.raises(ConcretizationError, match="size="):
        fnad.jit(fnp.nonzero)(x)
    with pytest.raises(ValueError, match="0-d"):
        fnp.nonzero(np.array(1.0))
    # grad of eager code: the values stay concrete, as in JAX's eager mode
    g = fnad.grad(lambda v: fnp.sum(v[fnp.nonzero(v)[0]] ** 2))(x)
    np.testing.assert_allclose(g, 2 * x)
    check_vmap(lambda v: fnp.flatnonzero(v, size=3, fill_value=9), (np.eye(3),))
    out = fnad.jit(lambda v: fnp.nonzero(v, size=3, fill_value=(7, 8)))(np.eye(2))
    np.testing.assert_array_equal(out[0], [0, 1, 7])
    np.testing.assert_array_equal(out[1], [0, 1, 8])


@SETTINGS
@given(data=st.data())
def test_compress(data):
    x = data.draw(arrays(np.float64, nonempty_shapes))
    axis = data.draw(st.one_of(st.none(), st.integers(-x.ndim, x.ndim - 1)))
    n = x.size if axis is None else x.shape[axis]
    cond = data.draw(arrays(np.bool_, (data.draw(st.integers(0, n)),)))
    assert_same(fnp.compress(cond, x, axis), np.compress(cond, x, axis))


@SETTINGS
@given(data=st.data())
def test_unique(data):
    dtype = data.draw(st.sampled_from([np.int32, np.float64]))
    x = data.draw(arrays(dtype, shapes, -3, 3))
    if dtype == np.float64 and x.size:
        x = np.where(data.draw(arrays(np.bool_, x.shape)), np.nan, x)
    flags = data.draw(st.tuples(st.booleans(), st.booleans(), st.booleans()))
    for equal_nan in (True, False):
        data_ = x if equal_nan or not flags[1] else np.nan_to_num(x)
        assert_same(fnp.unique(data_, *flags, equal_nan=equal_nan),
                    np.unique(data_, *flags, equal_nan=equal_nan))
    # NumPy orders distinct NaNs by an unstable sort: compare inverses on NaN-free data
    finite = np.nan_to_num(x)
    assert_same(tuple(fnp.unique_all(finite)), tuple(np.unique_all(finite)))
    assert_same(tuple(fnp.unique_counts(x)), tuple(np.unique_counts(x)))
    assert_same(tuple(fnp.unique_inverse(finite)), tuple(np.unique_inverse(finite)))
    # NumPy >= 2.3 may return unique_values unsorted (its order is unspecified)
    assert_same(fnp.unique_values(x), np.sort(np.unique_values(x)))
    if x.ndim >= 1 and x.size:
        axis = data.draw(st.integers(0, x.ndim - 1))
        xi = np.nan_to_num(x).astype(np.int32)
        assert_same(fnp.unique(xi, True, True, True, axis=axis),
                    np.unique(xi, True, True, True, axis=axis))


def test_unique_with_size_under_jit():
    x = np.array([3, 1, 3, 2, 1, 5])
    vals, idx, inv, cnt = fnad.jit(lambda a: fnp.unique(a, True, True, True, size=6))(x)
    np.testing.assert_array_equal(vals, [1, 2, 3, 5, 1, 1])  # padded with the minimum
    np.testing.assert_array_equal(idx, [1, 3, 0, 5, 1, 1])  # the minimum's index, as JAX
    np.testing.assert_array_equal(inv, np.unique(x, return_inverse=True)[1])
    np.testing.assert_array_equal(cnt, [2, 1, 2, 1, 0, 0])
    v2 = fnad.jit(lambda a: fnp.unique(a, size=2, fill_value=-1))(x)
    np.testing.assert_array_equal(v2, [1, 2])
    with pytest.raises(ConcretizationError, match="size="):
        fnad.jit(fnp.unique)(x)
    check_vmap(lambda a: fnp.unique(a, size=4, fill_value=0), (np.array([[1, 1, 2], [3, 2, 3]]),))
    # the unique values carry the gradient of their first occurrence
    xf = np.array([2.0, 1.0, 2.0])
    g = fnad.grad(lambda a: fnp.sum(fnp.unique(a, size=2) * np.array([1.0, 10.0])))(xf)
    np.testing.assert_allclose(g, [10.0, 1.0, 0.0])


@SETTINGS
@given(data=st.data())
def test_set_operations(data):
    a = data.draw(arrays(np.int32, st.integers(0, 8).map(lambda n: (n,)), -4, 4))
    b = data.draw(arrays(np.int32, st.integers(0, 8).map(lambda n: (n,)), -4, 4))
    assert_same(fnp.isin(a, b), np.isin(a, b))
    assert_same(fnp.isin(a, b, invert=True), np.isin(a, b, invert=True))
    assert_same(fnp.union1d(a, b), np.union1d(a, b))
    assert_same(fnp.setdiff1d(a, b), np.setdiff1d(a, b))
    assert_same(fnp.setxor1d(a, b), np.setxor1d(a, b))
    assert_same(fnp.intersect1d(a, b), np.intersect1d(a, b))
    assert_same(fnp.intersect1d(a, b, return_indices=True),
                np.intersect1d(a, b, return_indices=True))
    ua, ub = np.unique(a), np.unique(b)
    assert_same(fnp.setdiff1d(ua, ub, assume_unique=True), np.setdiff1d(ua, ub, True))
    n = len(np.intersect1d(a, b))
    got = fnad.jit(lambda x, y: fnp.intersect1d(x, y, size=n + 1, fill_value=99))(a, b)
    np.testing.assert_array_equal(got, np.append(np.intersect1d(a, b), 99))


@SETTINGS
@given(data=st.data())
def test_searchsorted_digitize(data):
    dtype = data.draw(st.sampled_from([np.int32, np.float64]))
    a = np.sort(data.draw(arrays(dtype, st.integers(0, 9).map(lambda n: (n,)), -4, 4)))
    v = data.draw(arrays(dtype, shapes, -5, 5))
    if dtype == np.float64 and data.draw(st.booleans()):
        a = np.append(a, np.nan)
        v = np.where(data.draw(arrays(np.bool_, v.shape)), np.nan, v)
    for side in ("left", "right"):
        check(lambda x, y, side=side: fnp.searchsorted(x, y, side),
              lambda x, y, side=side: np.searchsorted(x, y, side), (a, v))
    perm = np.random.default_rng(0).permutation(len(a))
    shuffled = a[perm]
    assert_same(fnp.searchsorted(shuffled, v, sorter=np.argsort(shuffled, kind="stable")),
                np.searchsorted(shuffled, v, sorter=np.argsort(shuffled, kind="stable")))
    bins = np.unique(a[~np.isnan(a)]) if dtype == np.float64 else np.unique(a)
    if len(bins):
        for right in (False, True):
            for b in (bins, bins[::-1].copy()):
                check(lambda x, b, r=right: fnp.digitize(x, b, r),
                      lambda x, b, r=right: np.digitize(x, b, r), (v, b))


@SETTINGS
@given(data=st.data())
def test_lexsort_partition_sort_complex(data):
    keys = data.draw(arrays(np.int32, st.tuples(st.integers(1, 3), st.integers(0, 7)), 0, 2))
    check(fnp.lexsort, np.lexsort, (keys,))
    x = data.draw(arrays(np.float64, nonempty_shapes))
    kth = data.draw(st.integers(0, x.shape[-1] - 1))
    p = fnp.partition(x, kth)
    np.testing.assert_array_equal(p[..., kth], np.partition(x, kth)[..., kth])
    assert np.all(p[..., :kth] <= p[..., kth:kth + 1]) and np.all(p[..., kth + 1:] >=
                                                                  p[..., kth:kth + 1])
    idx = fnp.argpartition(x, kth)
    np.testing.assert_array_equal(np.take_along_axis(x, idx, -1)[..., kth], p[..., kth])
    assert_same(fnp.sort_complex(x), np.sort_complex(x))
    xi = data.draw(arrays(np.int32, nonempty_shapes))
    assert_same(fnp.sort_complex(xi), np.sort_complex(xi))
    # complex input: by real part, then imaginary, ties in both included
    z = xi % 3 + 1j * (xi // 3 % 2)
    assert_same(fnp.sort_complex(z), np.sort_complex(z))


def test_place_put_trim_zeros():
    a = np.arange(6.0).reshape(2, 3)
    m = a % 2 == 0
    exp = a.copy()
    np.place(exp, m, [10.0, 20.0])
    np.testing.assert_array_equal(fnp.place(a, m, np.array([10.0, 20.0]), inplace=False), exp)
    with pytest.raises(ValueError, match="inplace=False"):
        fnp.place(a, m, [1.0])
    for mode in ("raise", "wrap", "clip"):
        ind = np.array([0, 4]) if mode == "raise" else np.array([-7, 9])
        exp = a.copy()
        np.put(exp, ind, [7.0, 8.0], mode=mode)
        np.testing.assert_array_equal(fnp.put(a, ind, np.array([7.0, 8.0]), mode,
                                              inplace=False), exp)
    with pytest.raises(IndexError):
        fnp.put(a, np.array([6]), 1.0, inplace=False)
    out = fnad.jit(lambda v: fnp.put(v, np.array([1, 5]), 3.0, "clip", inplace=False))(a)
    exp = a.copy()
    np.put(exp, [1, 5], 3.0)
    np.testing.assert_array_equal(out, exp)
    f = np.array([0, 0, 1, 2, 0, 3, 0])
    for trim in ("fb", "f", "b"):
        np.testing.assert_array_equal(fnp.trim_zeros(f, trim), np.trim_zeros(f, trim))
    np.testing.assert_array_equal(fnp.trim_zeros(np.zeros(3)), np.trim_zeros(np.zeros(3)))
    with pytest.raises(ConcretizationError):
        fnad.jit(fnp.trim_zeros)(f)
    check_grads(lambda v: fnp.place(v, m, np.array([1.0, 2.0]), inplace=False), (a,))


def test_where_one_argument_is_nonzero():
    c = np.array([[0, 2], [3, 0]])
    assert_same(fnp.where(c), np.where(c))
    out = fnad.jit(lambda v: fnp.where(v, size=3, fill_value=-1))(c)
    assert_same(out, (np.array([0, 1, -1]), np.array([1, 0, -1])))
    with pytest.raises(TypeError, match="both"):
        fnp.where(c, 1.0)


@pytest.mark.parametrize("name", ["setdiff1d", "setxor1d", "intersect1d", "union1d"])
def test_set_operations_pad_as_jax_under_jit(name):
    """With `size`, JAX pads with the result's smallest value, but setdiff1d with 0."""
    a, b = np.array([5, 1, 3, 3]), np.array([3, 7])
    exact = getattr(np, name)(a, b)
    out = fnad.jit(lambda x, y: getattr(fnp, name)(x, y, size=len(exact) + 2))(a, b)
    pad = 0 if name == "setdiff1d" else exact.min()
    np.testing.assert_array_equal(out, np.concatenate([exact, [pad] * 2]))
    empty = fnp.setdiff1d(np.array([5.0, 3.0]), np.array([3.0, 5.0]), size=2)
    assert_same(empty, np.zeros(2))


def test_argwhere_of_a_scalar_has_no_coordinates():
    """NumPy's argwhere of a 0-d array: one (or no) row of zero coordinates (it raised)."""
    for v in (np.int32(3), np.float32(0.0), np.array(True)):
        assert_same(fnp.argwhere(v), np.argwhere(v))
    assert fnp.argwhere(np.int32(3), size=2).shape == (2, 0)


def test_unique_pads_indices_with_the_smallest_values_index():
    """With `size`, the padded values are the smallest value and the padded indices point at
    it, so ar[index] == values throughout, as in JAX (indices were padded with 0)."""
    x = np.array([4.0, 2.0, 9.0, 2.0, 0.5])
    values, index = fnp.unique(x, return_index=True, size=6)
    np.testing.assert_array_equal(values, [0.5, 2.0, 4.0, 9.0, 0.5, 0.5])
    np.testing.assert_array_equal(index, [4, 1, 0, 2, 4, 4])
    np.testing.assert_array_equal(x[index], values)


def test_compress_with_a_condition_longer_than_the_axis():
    """Entries past the axis may be given if False, as NumPy (it raised); a True one raises;
    under jit (with size) they are ignored, as JAX."""
    a = np.arange(12.0).reshape(3, 4)
    cond = np.array([True, False, True, False, False])
    assert_same(fnp.compress(cond, a, axis=0), np.compress(cond, a, axis=0))
    with pytest.raises(fnad.FnadError, match="past the axis"):
        fnp.compress(np.array([True, False, True, False, True]), a, axis=0)
    out = fnad.jit(lambda c: fnp.compress(c, a, axis=0, size=2))(
        np.array([True, False, True, False, True]))
    assert_same(out, a[[0, 2]])
