"""fnad.scipy.fft (dct, idct, dctn, idctn) against scipy.fft: lengths, n/s resizing, axes,
norms, real/complex/integer dtypes; round trips, derivatives against finite differences,
jit and vmap, and JAX's errors."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.fft as sf

import fnad
import fnad.scipy.fft as ff
from fnad.test_util import check_grads

NORMS = [None, "backward", "ortho"]


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("fn", ["dct", "idct"])
@pytest.mark.parametrize("shape", [(1,), (2,), (5,), (8,), (3, 4), (2, 3, 5)], ids=str)
def test_1d_matches_scipy(shape, fn: str, norm) -> None:
    rng = np.random.default_rng(sum(shape))
    x = rng.standard_normal(shape)
    for n in (None, 1, 3, 9):
        for axis in range(-len(shape), len(shape)):
            expected = getattr(sf, fn)(x, 2, n, axis, norm)
            got = getattr(ff, fn)(x, 2, n, axis, norm)
            assert got.dtype == np.float64 and got.shape == expected.shape
            np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("fn", ["dctn", "idctn"])
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 5)], ids=str)
def test_nd_matches_scipy(shape, fn: str, norm) -> None:
    rng = np.random.default_rng(sum(shape) + 1)
    x = rng.standard_normal(shape)
    cases = [(None, None), (None, [0]), ([3], None), (4, None), (None, -1),
             ([2] * min(2, len(shape)), None)]
    if len(shape) > 1:
        cases += [(None, [-1, 0]), ([2, 6], [1, 0])]
    for s, axes in cases:
        expected = getattr(sf, fn)(x, 2, s, axes, norm)
        got = getattr(ff, fn)(x, 2, s, axes, norm)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("fn", ["dct", "idct", "dctn", "idctn"])
def test_dtypes(fn: str) -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 4))
    z = x + 1j * rng.standard_normal((3, 4))
    expected = getattr(sf, fn)(z)
    for dtype, rtol in [(np.complex128, 1e-10), (np.complex64, 1e-5)]:
        got = getattr(ff, fn)(z.astype(dtype))
        assert got.dtype == dtype
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol)
    # integers, bools and half floats transform in float32, as in JAX
    for dtype in (np.int32, np.bool_, np.float16, np.float32):
        xi = (x * 3).astype(dtype)
        got = getattr(ff, fn)(xi)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, getattr(sf, fn)(xi.astype(np.float64)), rtol=1e-4,
                                   atol=1e-4)
    assert getattr(ff, fn)([1, 2, 3]).dtype == np.float32


@pytest.mark.parametrize("norm", NORMS)
def test_round_trip(norm) -> None:
    x = np.random.default_rng(6).standard_normal((4, 7))
    np.testing.assert_allclose(ff.idct(ff.dct(x, norm=norm), norm=norm), x, atol=1e-12)
    np.testing.assert_allclose(ff.idctn(ff.dctn(x, norm=norm), norm=norm), x, atol=1e-12)


@pytest.mark.parametrize("fn", ["dct", "idct", "dctn", "idctn"])
def test_derivatives(fn: str) -> None:
    x = np.random.default_rng(7).standard_normal((3, 5))
    check_grads(lambda x: getattr(ff, fn)(x, norm="ortho"), (x,), order=2)
    check_grads(lambda x: getattr(ff, fn)(x + 1j * x[::-1]), (x,), order=1)


def test_jit_and_vmap() -> None:
    x = np.random.default_rng(8).standard_normal((4, 3, 6))
    for fn in (ff.dct, ff.idct, ff.dctn, ff.idctn):
        expected = np.stack([fn(xi) for xi in x])
        np.testing.assert_allclose(fnad.jit(fn)(x[0]), expected[0], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(fnad.vmap(fn)(x), expected, rtol=1e-12, atol=1e-12)


def test_errors() -> None:
    x = np.ones((3, 3))
    for fn in (ff.dct, ff.idct, ff.dctn, ff.idctn):
        with pytest.raises(NotImplementedError, match="type 2"):
            fn(x, type=1)
        with pytest.raises(ValueError, match="norm"):
            fn(x, norm="forward")
    with pytest.raises(ValueError, match="at most x.ndim"):
        ff.dctn(x, s=[2, 2, 2])
    with pytest.raises(fnad.FnadError, match="same length"):
        ff.dctn(x, s=[2], axes=[0, 1])
    with pytest.raises(fnad.FnadError, match="repeated"):
        ff.idctn(x, axes=[0, 0])
    with pytest.raises(fnad.FnadError, match="number of points"):
        ff.dct(x, n=0)
    with pytest.raises(fnad.FnadError, match="scalar"):
        ff.dct(np.float32(3.0))
    with pytest.raises(fnad.FnadError):
        ff.dct(x, axis=2)


def test_non_integer_sizes_and_axes() -> None:
    x = np.ones((3, 4), np.float32)
    with pytest.raises(fnad.FnadError, match="n must be an integer"):
        ff.dct(x, n=2.5)
    with pytest.raises(fnad.FnadError, match="axis must be an integer"):
        ff.idct(x, axis="a")
    with pytest.raises(fnad.FnadError, match="s must be an integer"):
        ff.dctn(x, s=[2.0, 3])
    with pytest.raises(fnad.FnadError, match="axes must be an integer"):
        ff.idctn(x, axes=[0.0])
    assert ff.dctn(x, s=np.int64(3)).shape == (3, 3)
