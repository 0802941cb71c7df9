"""fnad/numpy/_manip.py, _poly.py, _windows.py and _dtypes.py against NumPy: construction
and manipulation, index helpers, vectorize/apply_along_axis (batched, checked against a
Python loop), polynomials and convolutions (with derivatives), windows, dtype helpers."""

from __future__ import annotations

import numpy as np
import pytest
from fnp_cases import arrays, assert_same, check, nonempty_shapes
from hypothesis import given, settings, strategies as st

import fnad
import fnad.numpy as fnp
from fnad.core.errors import ShapeError
from fnad.test_util import check_grads, check_vmap

SETTINGS = settings(max_examples=8, deadline=None)


@SETTINGS
@given(data=st.data())
def test_insert_delete_append(data):
    x = data.draw(arrays(np.float64, nonempty_shapes))
    axis = data.draw(st.one_of(st.none(), st.integers(0, x.ndim - 1)))
    n = x.size if axis is None else x.shape[axis]
    obj = data.draw(st.one_of(st.integers(-n, n - 1), st.lists(st.integers(0, n - 1),
                                                              unique=True, max_size=n)
                              .map(lambda v: np.array(v, np.int64)),
                              st.just(slice(0, None, 2))))
    check(lambda a: fnp.delete(a, obj, axis), lambda a: np.delete(a, obj, axis), (x,))
    pos = data.draw(st.one_of(st.integers(0, n), st.lists(st.integers(0, n), min_size=1,
                                                          max_size=3)))
    check(lambda a: fnp.insert(a, pos, 7.5, axis), lambda a: np.insert(a, pos, 7.5, axis), (x,))
    check(lambda a: fnp.append(a, a, axis), lambda a: np.append(a, a, axis), (x,))
    check_grads(lambda a: fnp.insert(a, pos, a.ravel()[0], axis), (x,), order=1)


def test_block_resize_rollaxis_dsplit_unstack():
    a, b = np.eye(2), np.zeros((2, 3))
    c, d = np.ones((1, 2)), np.full((1, 3), 5.0)
    check(lambda p, q, r, s: fnp.block([[p, q], [r, s]]),
          lambda p, q, r, s: np.block([[p, q], [r, s]]), (a, b, c, d))
    check(lambda p: fnp.block([p, p]), lambda p: np.block([p, p]), (np.arange(3.0),))
    check(lambda p: fnp.block([[[p]], [[p]]]), lambda p: np.block([[[p]], [[p]]]), (a,))
    x = np.arange(24.0).reshape(2, 3, 4)
    for shape in [(5,), (3, 4), (0,), (30,)]:
        check(lambda v, s=shape: fnp.resize(v, s), lambda v, s=shape: np.resize(v, s), (x,))
    for axis, start in [(0, 3), (2, 0), (-1, 1), (1, 2)]:
        check(lambda v, a_=axis, s=start: fnp.rollaxis(v, a_, s),
              lambda v, a_=axis, s=start: np.rollaxis(v, a_, s), (x,))
    assert_same(fnp.dsplit(x, 2), np.dsplit(x, 2))
    assert_same(fnp.unstack(x, axis=1), np.unstack(x, axis=1))
    with pytest.raises(ShapeError):
        fnp.dsplit(np.ones((2, 2)), 2)


def test_choose_select_piecewise():
    a = np.array([[0, 1, 2], [2, 1, 0]])
    choices = [np.arange(3.0), np.full(3, 10.0), np.array([[-1.0], [-2.0]])]
    check(lambda i: fnp.choose(i, choices), lambda i: np.choose(i, choices), (a,))
    for mode in ("wrap", "clip"):
        check(lambda i, m=mode: fnp.choose(i + 2, choices, mode=m),
              lambda i, m=mode: np.choose(i + 2, choices, mode=m), (a,))
    x = np.linspace(-2, 2, 9)
    conds = [x < -1, x > 1, np.abs(x) < 0.5]
    check(lambda v: fnp.select([v < -1, v > 1], [v ** 2, -v], default=7.0),
          lambda v: np.select([v < -1, v > 1], [v ** 2, -v], default=7.0), (x,))
    funcs = [lambda v: v ** 2, -1.0, fnp.sin, lambda v: v * 0 + 3]
    np_funcs = [lambda v: v ** 2, -1.0, np.sin, lambda v: v * 0 + 3]
    check(lambda v: fnp.piecewise(v, conds, funcs),
          lambda v: np.piecewise(v, conds, np_funcs), (x,))
    check(lambda v: fnp.piecewise(v, conds, funcs[:3]),
          lambda v: np.piecewise(v, conds, np_funcs[:3]), (x,))
    check_grads(lambda v: fnp.piecewise(v, [v < 0], [lambda t: t ** 2, lambda t: t ** 3]),
                (np.array([-1.5, 0.5, 2.0]),))


@SETTINGS
@given(data=st.data())
def test_kron_cross_matvec(data):
    a = data.draw(arrays(np.float64, nonempty_shapes))
    b = data.draw(arrays(np.float64, nonempty_shapes))
    check(fnp.kron, np.kron, (a, b))
    u = data.draw(arrays(np.float64, (data.draw(st.integers(1, 3)), 3)))
    v = data.draw(arrays(np.float64, (3,)))
    check(fnp.cross, np.cross, (u, v))
    check(lambda p, q: fnp.cross(p.T, q, axisa=0), lambda p, q: np.cross(p.T, q, axisa=0),
          (u, v))
    check(lambda p, q: fnp.cross(p, q, axisc=0), lambda p, q: np.cross(p, q, axisc=0), (u, v))
    m = data.draw(arrays(np.float64, (2, 4, 3)))
    check(fnp.matvec, np.matvec, (m, v))
    check(fnp.vecmat, np.vecmat, (v, m.transpose(0, 2, 1)))
    check_grads(fnp.cross, (u, v))


def test_cross_2d_vectors():
    u, v = np.array([[1.0, 2.0], [3.0, -1.0]]), np.array([0.5, 4.0])
    np.testing.assert_allclose(fnp.cross(u, v), u[:, 0] * v[1] - u[:, 1] * v[0])
    np.testing.assert_allclose(fnp.cross(u, np.array([0.5, 4.0, 1.0])),
                               np.cross(np.pad(u, ((0, 0), (0, 1))), [0.5, 4.0, 1.0]))


def test_diagflat_fill_diagonal_put_along_axis():
    v = np.arange(4.0).reshape(2, 2)
    for k in (0, 1, -2):
        check(lambda a, k=k: fnp.diagflat(a, k), lambda a, k=k: np.diagflat(a, k), (v,))
    for shape, wrap in [((3, 3), False), ((5, 3), True), ((5, 3), False), ((2, 4), False),
                        ((3, 3, 3), False)]:
        a = np.zeros(shape)
        exp = a.copy()
        np.fill_diagonal(exp, [1.0, 2.0], wrap)
        np.testing.assert_array_equal(
            fnp.fill_diagonal(a, np.array([1.0, 2.0]), wrap, inplace=False), exp)
    x = np.arange(12.0).reshape(3, 4)
    idx = np.array([[1, 3], [0, 0], [2, 1]])
    exp = x.copy()
    np.put_along_axis(exp, idx, -1.0, 1)
    np.testing.assert_array_equal(fnp.put_along_axis(x, idx, -1.0, 1, inplace=False), exp)
    rows = np.array([[2, 0, 1, 1]])
    out = fnad.jit(lambda a: fnp.put_along_axis(a, rows, 9.0, 0, inplace=False))(x)
    exp = x.copy()
    np.put_along_axis(exp, rows, 9.0, 0)
    np.testing.assert_array_equal(out, exp)


def test_index_helpers():
    for dims in [(2, 3), (4,), (2, 1, 3)]:
        assert_same(fnp.indices(dims), np.indices(dims).astype(np.int32))
        assert_same(fnp.indices(dims, sparse=True),
                    tuple(i.astype(np.int32) for i in np.indices(dims, sparse=True)))
    assert_same(fnp.ix_(np.array([0, 2]), np.array([1, 3, 4])),
                np.ix_(np.array([0, 2]), np.array([1, 3, 4])))
    assert_same(fnp.ix_(np.array([True, False, True])), np.ix_(np.array([True, False, True])))
    for n, k, m in [(3, 0, None), (4, 1, 5), (4, -1, 2)]:
        assert_same(fnp.tril_indices(n, k, m), np.tril_indices(n, k, m))
        assert_same(fnp.triu_indices(n, k, m), np.triu_indices(n, k, m))
    a = np.ones((3, 5))
    assert_same(fnp.tril_indices_from(a, 1), np.tril_indices_from(a, 1))
    assert_same(fnp.triu_indices_from(a, -1), np.triu_indices_from(a, -1))
    assert_same(fnp.diag_indices(3, 3), np.diag_indices(3, 3))
    assert_same(fnp.diag_indices_from(np.ones((2, 2))), np.diag_indices_from(np.ones((2, 2))))
    assert_same(fnp.mask_indices(3, np.triu, 1), np.mask_indices(3, np.triu, 1))
    assert_same(fnp.mask_indices(3, fnp.triu, 1), np.mask_indices(3, np.triu, 1))


@SETTINGS
@given(data=st.data())
def test_ravel_unravel(data):
    shape = data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple))
    size = int(np.prod(shape))
    flat = data.draw(arrays(np.int64, (5,), 0, size - 1))
    check(lambda i: fnp.unravel_index(i, shape), lambda i: np.unravel_index(i, shape), (flat,))
    multi = np.unravel_index(flat, shape)
    for order in ("C", "F"):
        check(lambda *m, o=order: fnp.ravel_multi_index(m, shape, order=o),
              lambda *m, o=order: np.ravel_multi_index(m, shape, order=o), multi)
    big = tuple(m + s for m, s in zip(multi, shape))
    for mode in ("wrap", "clip"):
        check(lambda *m, md=mode: fnp.ravel_multi_index(m, shape, mode=md),
              lambda *m, md=mode: np.ravel_multi_index(m, shape, mode=md), big)
    with pytest.raises(ValueError):
        fnp.ravel_multi_index(big, shape)


def test_vectorize_and_apply_along_axis_against_loops():
    def f(a, b):
        return a * b + fnp.sin(a)

    x, y = np.linspace(0, 1, 6).reshape(2, 3), np.array([1.0, 2.0, 3.0])
    out = fnp.vectorize(f)(x, y)
    np.testing.assert_allclose(out, np.vectorize(lambda a, b: a * b + np.sin(a))(x, y))
    gsig = fnp.vectorize(lambda m, v: m @ v, signature="(n,k),(k)->(n)")
    mats = np.random.default_rng(3).normal(size=(4, 2, 3))
    np.testing.assert_allclose(gsig(mats, y), np.stack([m @ y for m in mats]))
    two = fnp.vectorize(lambda v: (fnp.sum(v), fnp.max(v)), signature="(n)->(),()")
    s, m = two(mats)
    np.testing.assert_allclose(s, mats.sum(-1))
    np.testing.assert_allclose(m, mats.max(-1))
    ex = fnp.vectorize(lambda v, p: v ** p, excluded={1})
    np.testing.assert_allclose(ex(x, 3), x ** 3)
    np.testing.assert_allclose(fnad.jit(fnp.vectorize(f))(x, y), out)
    check_grads(lambda a: fnp.vectorize(f)(a, y), (x,))
    for axis in (0, 1, 2, -1):
        def g(v):
            return fnp.stack([fnp.sum(v), v[0] * v[-1]])
        got = fnp.apply_along_axis(g, axis, mats)
        exp = np.apply_along_axis(lambda v: np.stack([np.sum(v), v[0] * v[-1]]), axis, mats)
        np.testing.assert_allclose(got, exp)
    np.testing.assert_allclose(fnp.apply_along_axis(fnp.sum, 1, mats), mats.sum(1))
    np.testing.assert_allclose(fnp.apply_over_axes(fnp.sum, mats, (0, 2)),
                               np.apply_over_axes(np.sum, mats, (0, 2)))
    check_vmap(lambda a: fnp.apply_along_axis(fnp.cumsum, 0, a), (mats,))


def test_fromfunction_spaces():
    assert_same(fnp.fromfunction(lambda i, j: i * 10 + j, (2, 3)),
                np.fromfunction(lambda i, j: i * 10 + j, (2, 3)).astype(np.float32))
    assert_same(fnp.fromfunction(lambda i: i % 2 == 0, (4,), dtype=int),
                np.fromfunction(lambda i: i % 2 == 0, (4,), dtype=int))
    for args in [(1.0, 1000.0, 4), (-1.0, -16.0, 5), (2.0, 3.0, 1), (1.0, 8.0, 4, False)]:
        assert_same(fnp.geomspace(*args), np.geomspace(*args).astype(np.float32))
        with np.errstate(over="ignore"):
            expected = np.logspace(*args).astype(np.float32)
        assert_same(fnp.logspace(*args), expected)
    assert_same(fnp.logspace(0.0, 3.0, 4, base=2.0, dtype=np.float64),
                np.logspace(0.0, 3.0, 4, base=2.0))
    np.testing.assert_allclose(
        fnad.jit(lambda s: fnp.geomspace(s, 8 * s, 4))(np.float32(2.0)),
        np.geomspace(2.0, 16.0, 4), rtol=1e-6)


# ------------------------------------------------------------------ polynomials


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@SETTINGS
@given(data=st.data())
def test_convolve_correlate(mode, data):
    dtype = data.draw(st.sampled_from([np.float64, np.int32]))
    a = data.draw(arrays(dtype, (data.draw(st.integers(1, 7)),)))
    v = data.draw(arrays(dtype, (data.draw(st.integers(1, 7)),)))
    check(lambda p, q: fnp.convolve(p, q, mode), lambda p, q: np.convolve(p, q, mode), (a, v))
    check(lambda p, q: fnp.correlate(p, q, mode), lambda p, q: np.correlate(p, q, mode),
          (a, v))


def test_convolve_grads_and_vmap():
    rng = np.random.default_rng(4)
    a, v = rng.normal(size=6), rng.normal(size=3)
    check_grads(lambda p, q: fnp.convolve(p, q, "same"), (a, v))
    check_grads(lambda p, q: fnp.correlate(p, q, "full"), (a, v))
    check_vmap(lambda p, q: fnp.convolve(p, q), (rng.normal(size=(2, 6)), v), in_axes=(0, None))
    out = fnp.convolve(a, v, precision=fnad.lax.Precision.HIGHEST,
                       preferred_element_type=np.float32)
    assert out.dtype == np.float32


@SETTINGS
@given(data=st.data())
def test_polynomials(data):
    p = data.draw(arrays(np.float64, (data.draw(st.integers(1, 5)),), -3, 3))
    q = data.draw(arrays(np.float64, (data.draw(st.integers(1, 5)),), -3, 3))
    x = data.draw(arrays(np.float64, nonempty_shapes, -2, 2))
    check(fnp.polyval, np.polyval, (p, x))
    check(fnp.polyadd, np.polyadd, (p, q))
    check(fnp.polysub, np.polysub, (p, q))
    # NumPy trims leading zeros (through poly1d); JAX and fnad only when asked
    assert_same(fnp.polymul(p, q, trim_leading_zeros=True), np.polymul(p, q))
    check(fnp.polymul, np.convolve, (p, q))
    for m in (0, 1, 2):
        check(lambda c, m=m: fnp.polyder(c, m), lambda c, m=m: np.polyder(c, m), (p,))
        check(lambda c, m=m: fnp.polyint(c, m), lambda c, m=m: np.polyint(c, m), (p,))
    check(lambda c: fnp.polyint(c, 2, [1.0, -2.0]), lambda c: np.polyint(c, 2, [1.0, -2.0]),
          (p,))
    check(fnp.poly, np.poly, (p,))
    if abs(q[0]) > 0.5:
        qq, rr = fnp.polydiv(p, q, trim_leading_zeros=True)
        eq, er = np.polydiv(p, q)
        np.testing.assert_allclose(qq, eq, atol=1e-10)
        np.testing.assert_allclose(rr, er, atol=1e-8)
        q2, r2 = fnad.jit(fnp.polydiv)(p, q)  # untrimmed remainder, as JAX's
        back = np.polysub(fnp.polyadd(fnp.polymul(q2, q), r2), p)
        np.testing.assert_allclose(back, np.zeros_like(back), atol=1e-10)


def test_poly_matrix_roots_polyfit_vander():
    rng = np.random.default_rng(5)
    m = rng.normal(size=(4, 4))
    check(fnp.poly, np.poly, (m,))
    np.testing.assert_allclose(np.sort_complex(fnp.roots(np.array([1.0, -6.0, 11.0, -6.0]))),
                               [1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="strip_zeros"):
        fnad.jit(fnp.roots)(np.array([1.0, -1.0]))
    x = np.linspace(-1, 1, 12)
    y = np.stack([np.cos(2 * x), x ** 3 - x], 1)
    w = rng.uniform(0.5, 2, 12)
    for deg in (0, 1, 3):
        check(lambda a, b, d=deg: fnp.polyfit(a, b, d), lambda a, b, d=deg: np.polyfit(a, b, d),
              (x, y[:, 0]), rtol=1e-8, atol=1e-10)
        check(lambda a, b, d=deg: fnp.polyfit(a, b, d, w=w),
              lambda a, b, d=deg: np.polyfit(a, b, d, w=w), (x, y), rtol=1e-8, atol=1e-10)
    check_grads(lambda b: fnp.polyfit(x, b, 2), (y[:, 0],), order=1)
    for n, inc in [(None, False), (3, True), (0, False)]:
        check(lambda a, n=n, inc=inc: fnp.vander(a, n, inc),
              lambda a, n=n, inc=inc: np.vander(a, n, inc), (np.array([2, 3, -1]),))


# ------------------------------------------------------------------ windows and dtypes


@pytest.mark.parametrize("name", ["bartlett", "blackman", "hamming", "hanning"])
@pytest.mark.parametrize("m", [0, 1, 2, 7, 16])
def test_windows(name, m):
    out = getattr(fnp, name)(m)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, getattr(np, name)(m), atol=1e-6)


def test_kaiser_traced_beta():
    for m in (0, 1, 6, 11):
        for beta in (0.0, 2.5, 14.0):
            np.testing.assert_allclose(fnp.kaiser(m, beta), np.kaiser(m, beta), rtol=2e-6,
                                       atol=1e-7)
    np.testing.assert_allclose(fnad.jit(lambda b: fnp.kaiser(8, b))(np.float32(5.0)),
                               np.kaiser(8, 5.0), rtol=2e-6)
    # d/dbeta against central differences of NumPy's float64 window
    g = fnad.jacfwd(lambda b: fnp.kaiser(6, b))(np.float32(3.0))
    fd = (np.kaiser(6, 3.0 + 1e-5) - np.kaiser(6, 3.0 - 1e-5)) / 2e-5
    np.testing.assert_allclose(g, fd, rtol=1e-3, atol=1e-5)


def test_dtype_helpers():
    assert fnp.int_ == np.int64 and fnp.float_ == np.float64 and fnp.bool == np.bool_
    assert fnp.can_cast(np.ones(2, np.int32), np.float64)
    assert not fnp.can_cast(np.float64, np.int32)
    assert fnp.isdtype(np.float32, "real floating") and not fnp.isdtype(np.int8, "bool")
    assert fnp.isscalar(3.0) and fnp.isscalar(np.array(2)) and not fnp.isscalar(np.ones(2))
    assert fnp.iterable([1]) and not fnp.iterable(np.array(1.0))
    assert_same(fnp.astype(np.array([1.7, -1.7]), np.int32), np.array([1, -1], np.int32))
    assert bool(fnad.jit(lambda v: fnp.isscalar(v))(np.float32(1.0)))


def test_ufunc_class():
    add = fnp.ufunc(lambda a, b: a + b, 2, 1, identity=0)
    x = np.arange(12.0).reshape(3, 4)
    np.testing.assert_allclose(add(x, 1.0), x + 1)
    np.testing.assert_allclose(add.outer(np.arange(3.0), np.arange(2.0)),
                               np.add.outer(np.arange(3.0), np.arange(2.0)))
    np.testing.assert_allclose(add.reduce(x, axis=1), x.sum(1))
    np.testing.assert_allclose(add.reduce(x, axis=None), x.sum())
    np.testing.assert_allclose(add.accumulate(x, axis=1), np.add.accumulate(x, axis=1))
    mx = fnp.ufunc(lambda a, b: fnp.maximum(a, b), 2, 1)
    np.testing.assert_allclose(mx.reduce(x, axis=0, keepdims=True), x.max(0, keepdims=True))
    np.testing.assert_allclose(add.at(x, (0, 1), 5.0, inplace=False),
                               np.where(np.arange(12).reshape(3, 4) == 1, x + 5, x))
    check_grads(lambda v: add.accumulate(v, axis=0), (x,), order=1)


def test_make_diagonal_inverts_diagonal_as_autograds():
    d = np.random.default_rng(0).standard_normal((3, 4))
    for axes in [(-1, -2), (0, 1), (1, -1), (2, 0)]:
        out = fnp.make_diagonal(d, axis1=axes[0], axis2=axes[1])
        assert out.ndim == 3 and sorted(out.shape) == [3, 4, 4]
        np.testing.assert_array_equal(np.diagonal(out, 0, *axes), d)
        assert np.count_nonzero(out) == d.size
    check_grads(lambda v: fnp.make_diagonal(v, axis1=-1, axis2=-2), (d,), order=2)
    with pytest.raises(fnad.FnadError, match="offset"):
        fnp.make_diagonal(d, offset=1)
    with pytest.raises(fnad.FnadError, match="differ"):
        fnp.make_diagonal(d, axis1=1, axis2=1)


def test_geomspace_of_ints_and_complex_bounds():
    """Integer bounds give the default float (float64 came from NumPy's int + float rule),
    complex bounds a complex spiral as NumPy's (the imaginary parts were dropped with a
    ComplexWarning), and real bounds of two signs a clear error (NumPy warns and gives NaN)."""
    assert_same(fnp.geomspace(1, 1000, 4), np.geomspace(1, 1000, 4).astype(np.float32))
    assert_same(fnp.geomspace(1j, 1000j, 4), np.geomspace(1j, 1000j, 4).astype(np.complex64))
    assert_same(fnp.geomspace(np.float64(2), 32, 5), np.geomspace(2.0, 32.0, 5))
    with pytest.raises(fnad.FnadError, match="one sign"):
        fnp.geomspace(-1.0, 10.0, 3)


@pytest.mark.parametrize("kw", [{"full": True}, {"cov": True}, {"cov": "unscaled"}])
def test_polyfit_full_and_cov(kw):
    """NumPy's (and JAX's) full= and cov= results of polyfit (they raised)."""
    x = np.linspace(-2.0, 2.0, 9)
    y = x ** 3 - 2 * x + np.sin(7 * x)
    w = np.linspace(1.0, 2.0, 9)
    for deg in (0, 2, 3):
        for yy in (y, np.stack([y, 1 - 2 * y], 1)):
            for ww in (None, w):
                got = fnp.polyfit(x, yy, deg, w=ww, **kw)
                want = np.polyfit(x, yy, deg, w=ww, **kw)
                assert len(got) == len(want)
                for g, e in zip(got, want, strict=True):
                    assert np.shape(g) == np.shape(e)
                    np.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-12)
    if kw.get("cov") is True:
        with pytest.raises(fnad.FnadError, match="more points"):
            fnp.polyfit(x[:3], y[:3], 2, cov=True)
        check_grads(lambda b: fnp.polyfit(x, b, 2, cov=True)[1], (y,), order=1)


def test_roots_keeps_leading_zeros_on_request():
    """JAX's roots(strip_zeros=False): len(p) - 1 roots, NaN for each leading zero (the
    option was ignored, giving fewer roots)."""
    for p, known in [([0.0, 1.0, -3.0, 2.0], [1.0, 2.0]), ([0.0, 0.0, 1.0, -1.0], [1.0]),
                     ([1.0, -3.0, 2.0, 0.0], [0.0, 1.0, 2.0]), ([0.0, 3.0], [])]:
        r = fnp.roots(np.array(p), strip_zeros=False)
        assert r.shape == (len(p) - 1,) and r.dtype.kind == "c"
        finite = np.sort_complex(r[np.isfinite(r)])
        np.testing.assert_allclose(finite, known, atol=1e-12)
        assert np.isnan(r[~np.isfinite(r)].real).all() and (~np.isfinite(r)).sum() == len(p) - 1 - len(known)


def test_geomspace_of_traced_array_bounds():
    """Under jit, array bounds give one sequence each along `axis`, as eagerly (it raised a
    broadcast error)."""
    s = np.array([1.0, 2.0])
    for axis in (0, 1, -1):
        for endpoint in (True, False):
            got = fnad.jit(lambda a, ax=axis, ep=endpoint: fnp.geomspace(a, 64.0, 3, ep,
                                                                       axis=ax))(s)
            np.testing.assert_allclose(got, np.geomspace(s, 64.0, 3, endpoint, axis=axis))
    lo, hi = np.array([[1.0], [-2.0]]), np.array([[8.0, 16.0, 32.0], [-8.0, -16.0, -32.0]])
    np.testing.assert_allclose(fnad.jit(lambda a, b: fnp.geomspace(a, b, 4))(lo, hi),
                               np.geomspace(lo, hi, 4))


def test_insert_and_delete_at_traced_positions():
    """Under jit, insert at traced positions and delete of traced distinct positions
    (assume_unique_indices=True) give NumPy's results, as JAX's do (both needed concrete
    positions)."""
    f = np.arange(12.0).reshape(3, 4)
    v = np.arange(7.0)
    for a, obj, vals, axis in [(f, [1], 9.0, None), (f, [2, 0, 2], 9.0, 1), (f, 1, [7.0, 8.0, 9.0], 1),
                               (f, -1, [[1.0, 2.0, 3.0, 4.0]], 0), (v, [0, 7, 3], [1.0, 2.0, 3.0], None),
                               (f, [3, 1], [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], 1)]:
        got = fnad.jit(lambda o, a=a, vals=vals, axis=axis: fnp.insert(a, o, vals, axis))(
            np.asarray(obj))
        assert_same(got, np.insert(a, obj, vals, axis))
    for a, obj, axis in [(f, [0, 2], 1), (f, [2, 0], 0), (v, [6, 0, 3], None), (f, [-1], 1)]:
        got = fnad.jit(lambda o, a=a, axis=axis: fnp.delete(a, o, axis,
                                                           assume_unique_indices=True))(
            np.asarray(obj))
        assert_same(got, np.delete(a, obj, axis))
    check_grads(lambda a: fnad.jit(lambda x, o: fnp.insert(x, o, 5.0, 1))(a, np.array([1, 3])),
                (f,), order=1)


def test_block_rejects_mixed_list_depths():
    """Blocks at different list depths raise, as NumPy and JAX (fnad assembled something)."""
    a = np.ones((3, 4))
    for bad in ([[a], a], [a, [a]]):
        with pytest.raises(fnad.FnadError, match="depth"):
            fnp.block(bad)
    assert_same(fnp.block([[a, a], [a, a]]), np.block([[a, a], [a, a]]))


def test_roots_under_jit_and_grad():
    """roots(strip_zeros=False) works on traced coefficients, as JAX's (it raised): the
    eigenvalues of the companion matrix, NaN for leading zeros; strip_zeros=True raises
    there (its count of roots depends on the values). d(sum of roots)/dp = d(-p1/p0)/dp."""
    f = fnad.jit(lambda q: fnp.roots(q, strip_zeros=False))
    for p in ([0.0, 1.0, -3.0, 2.0], [1.0, -3.0, 2.0, 0.0, 0.0], [1.0, 0.0, 1.0], [0.0, 0.0],
              [2.0, -1.0, -5.0, 3.0]):
        got = f(np.array(p))
        want = fnp.roots(np.array(p), strip_zeros=False)
        assert got.shape == want.shape
        np.testing.assert_allclose(np.sort_complex(got[np.isfinite(got)]),
                                   np.sort_complex(want[np.isfinite(want)]), atol=1e-12)
        assert np.isnan(got).sum() == np.isnan(want).sum()
    p = np.array([2.0, -3.0, -5.0, 3.0])
    np.testing.assert_allclose(fnad.grad(lambda q: fnp.roots(q, strip_zeros=False).real.sum())(p),
                               [p[1] / p[0] ** 2, -1 / p[0], 0.0, 0.0], atol=1e-12)
    with pytest.raises(fnad.FnadError, match="strip_zeros=False"):
        fnad.jit(fnp.roots)(p)
    assert fnad.jit(fnp.roots)(np.array([3.0])).shape == (0,)  # a constant: no roots
