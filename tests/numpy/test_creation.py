"""Creation functions: NumPy's values, with fnad's documented dtype defaults (float32 for
created floats, int32 for Python ints); `full` with a traced fill value stays traced."""

from __future__ import annotations

import numpy as np
import pytest
from fnp_cases import assert_same, check

import fnad
import fnad.numpy as fnp
from fnad.test_util import check_grads


@pytest.mark.parametrize("name", ["zeros", "ones", "empty"])
def test_filled(name):
    ref = np.zeros if name == "empty" else getattr(np, name)
    assert_same(getattr(fnp, name)((2, 3)), ref((2, 3), np.float32))
    assert_same(getattr(fnp, name)(3, np.int32), ref(3, np.int32))
    like = getattr(fnp, name + "_like")
    assert_same(like(np.ones((2, 1), np.float64)), ref((2, 1), np.float64))
    assert_same(like(np.ones((2, 1)), dtype=np.int32, shape=(4,)), ref(4, np.int32))


def test_full():
    assert_same(fnp.full((2, 2), 1.5), np.full((2, 2), 1.5, np.float32))
    assert_same(fnp.full(3, 7), np.full(3, 7, np.int32))
    assert_same(fnp.full(3, np.float64(2)), np.full(3, 2.0))
    assert_same(fnp.full_like(np.ones(2, np.int32), 2.7), np.full(2, 2, np.int32))
    check(lambda v: fnp.full((2, 3), v), lambda v: np.full((2, 3), v), (np.float32(1.5),))
    check(lambda v: fnp.full((2, 3), v * 2), lambda v: np.full((2, 3), v * 2),
          (np.arange(3, dtype=np.float32),))


def test_full_of_a_tracer_is_traced():
    jaxpr = fnad.make_jaxpr(lambda v: fnp.full((2,), v))(np.float32(1))
    assert any(e.prim.name == "broadcast_in_dim" for e in jaxpr.eqns)


def test_ranges():
    assert_same(fnp.arange(5), np.arange(5, dtype=np.int32))
    assert_same(fnp.arange(1, 7, 2), np.arange(1, 7, 2, dtype=np.int32))
    assert_same(fnp.arange(0.0, 1.0, 0.25), np.arange(0, 1, 0.25, dtype=np.float32))
    assert_same(fnp.arange(3, dtype=np.float64), np.arange(3.0))
    assert_same(fnp.linspace(0, 1, 5), np.linspace(0, 1, 5, dtype=np.float32))
    out, step = fnp.linspace(0, 1, 4, endpoint=False, retstep=True)
    assert_same((out, step), (np.linspace(0, 1, 4, endpoint=False, dtype=np.float32), 0.25))
    assert_same(fnp.linspace(np.zeros(2), np.ones(2), 3, axis=1),
                np.linspace(np.zeros(2), np.ones(2), 3, axis=1))


def test_matrices():
    assert_same(fnp.eye(3, 4, 1), np.eye(3, 4, 1, np.float32))
    assert_same(fnp.identity(2, np.int32), np.identity(2, np.int32))
    assert_same(fnp.tri(3, k=-1), np.tri(3, k=-1, dtype=np.float32))


def test_meshgrid():
    x, y, z = np.arange(2.0), np.arange(3.0), np.arange(4.0)
    for indexing in ("xy", "ij"):
        for args in ((x, y, z), (x, y)):
            check(lambda *a, i=indexing: fnp.meshgrid(*a, indexing=i),
                  lambda *a, i=indexing: np.meshgrid(*a, indexing=i), args)
            check(lambda *a, i=indexing: fnp.meshgrid(*a, indexing=i, sparse=True, copy=False),
                  lambda *a, i=indexing: np.meshgrid(*a, indexing=i, sparse=True), args)


def test_array_copies_and_asarray_does_not():
    x = np.ones(3, np.float32)
    assert fnp.asarray(x) is x
    assert fnp.array(x) is not x and fnp.copy(x) is not x
    assert_same(fnp.array([1, 2], np.float64), np.array([1.0, 2.0]))


@pytest.mark.parametrize("num", [0, 1, 2, 5])
@pytest.mark.parametrize("endpoint", [True, False])
def test_linspace_with_traced_bounds_is_numpys_and_differentiable(num, endpoint):
    f = lambda s, e: fnp.linspace(s, e, num, endpoint=endpoint)
    out = fnad.jit(f)(np.float64(1.2), np.float64(-3.4))
    expected = np.linspace(1.2, -3.4, num, endpoint=endpoint)
    np.testing.assert_allclose(out, expected, rtol=1e-14)
    assert out.dtype == expected.dtype
    check_grads(f, (1.2, -3.4), order=2)


def test_linspace_with_traced_array_bounds_on_every_axis():
    s, e = np.array([0.0, 1.0]), np.array([[2.0, 3.0], [4.0, 5.0], [6.0, 7.0]])
    for axis in (0, 1, 2, -1):
        f = lambda a, b, axis=axis: fnp.linspace(a, b, 4, axis=axis)
        np.testing.assert_allclose(fnad.jit(f)(s, e), np.linspace(s, e, 4, axis=axis))
    out, step = fnad.jit(lambda a, b: fnp.linspace(a, b, 4, retstep=True))(np.float64(0.0),
                                                                         np.float64(3.0))
    assert step == 1.0 and out[-1] == 3.0
    np.testing.assert_array_equal(
        fnad.jit(lambda a, b: fnp.linspace(a, b, 4, dtype=int))(np.float64(-3), np.float64(3)),
        np.linspace(-3.0, 3.0, 4, dtype=int))


def test_mgrid_and_ogrid():
    """JAX's (and NumPy's) dense and open grids of slice ranges: n-point ranges for a
    complex step, one range for a single slice; float and int ranges meet in float32."""
    for key in [(slice(0, 3), slice(1, 5, 2)), (slice(0, 1, 5j), slice(-1, 1, 3j)),
                (slice(0, 1, 5j), slice(0, 2))]:
        want = np.mgrid[key]
        got = fnp.mgrid[key]
        assert got.dtype == (np.int32 if want.dtype.kind == "i" else np.float32)
        np.testing.assert_allclose(got, want, rtol=1e-6)
        for g, w in zip(fnp.ogrid[key], np.ogrid[key], strict=True):
            np.testing.assert_allclose(g, w, rtol=1e-6)
            assert g.dtype == got.dtype
    np.testing.assert_allclose(fnp.mgrid[0:1:0.25], np.mgrid[0:1:0.25])
    assert_same(fnp.ogrid[-2:3], np.ogrid[-2:3].astype(np.int32))
    with pytest.raises(fnad.FnadError, match="slices"):
        fnp.mgrid[0:2, 3]


def test_frombuffer_fromstring_from_dlpack():
    """JAX's readers of bytes, text and DLPack tensors (fnad lacked them): values as NumPy
    reads them, held in the default 32-bit dtypes as JAX holds them."""
    buf = np.arange(6, dtype=np.float64).tobytes()
    assert_same(fnp.frombuffer(buf), np.arange(6, dtype=np.float32))
    assert_same(fnp.frombuffer(buf, np.int32, count=3, offset=8),
                np.frombuffer(buf, np.int32, count=3, offset=8))
    out = fnp.frombuffer(bytearray(buf), np.float64)
    out[0] = 7.0  # a new array, not a read-only view of the buffer
    assert_same(fnp.fromstring("1 2 3", sep=" "), np.array([1, 2, 3], np.float32))
    assert_same(fnp.fromstring("1,2", dtype=np.int32, sep=","), np.array([1, 2], np.int32))
    with pytest.raises(fnad.FnadError, match="separator"):
        fnp.fromstring("12", sep="")
    x = np.arange(4.0)
    assert_same(fnp.from_dlpack(x), x)
    y = fnp.from_dlpack(x, copy=True)
    y[0] = 9.0
    assert x[0] == 0.0
