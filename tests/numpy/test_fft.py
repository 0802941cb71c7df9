"""fnad.numpy.fft against numpy.fft: every function with n/s, axes and each norm, values
and dtypes, eagerly and staged/jitted (`check`); derivatives through real and imaginary
parts; vmap; frequencies and shifts."""

from __future__ import annotations

import numpy as np
import pytest
from fnp_cases import check
from hypothesis import given, settings, strategies as st

import fnad
import fnad.numpy as fnp
from fnad import lax
from fnad.core.errors import DTypeError
from fnad.test_util import check_grads, check_vmap

F = fnp.fft
ONE_AXIS = ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft"]
MANY_AXES = ["fftn", "ifftn", "rfftn", "irfftn", "fft2", "ifft2", "rfft2", "irfft2"]
NORMS = [None, "backward", "ortho", "forward"]
REAL_ONLY = {"rfft", "ihfft", "rfftn", "rfft2"}


def _input(rng, shape, dtype):
    x = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * rng.standard_normal(shape)
    return x.astype(dtype)


def _dtypes(name):
    real = [np.float32, np.float64, np.int32]
    return real if name in REAL_ONLY else real + [np.complex64, np.complex128]


@pytest.mark.parametrize("name", ONE_AXIS)
@settings(max_examples=12, deadline=None)
@given(data=st.data())
def test_one_axis(name, data):
    dtype = data.draw(st.sampled_from(_dtypes(name)))
    low = 2 if name in ("irfft", "hfft") else 1  # the default n = 2 (m - 1) needs m >= 2
    shape = tuple(data.draw(st.lists(st.integers(low, 6), min_size=1, max_size=3)))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    n = data.draw(st.none() | st.integers(1, 9))
    norm = data.draw(st.sampled_from(NORMS))
    x = _input(np.random.default_rng(data.draw(st.integers(0, 2**31))), shape, dtype)
    rtol = 1e-4 if np.dtype(dtype) in (np.float32, np.complex64) else None
    check(lambda a: getattr(F, name)(a, n, axis, norm),
          lambda a: getattr(np.fft, name)(a, n, axis, norm), (x,), rtol=rtol, atol=rtol)


@pytest.mark.parametrize("name", MANY_AXES)
@settings(max_examples=12, deadline=None)
@given(data=st.data())
def test_many_axes(name, data):
    dtype = data.draw(st.sampled_from(_dtypes(name)))
    shape = tuple(data.draw(st.lists(st.integers(2, 5), min_size=2, max_size=3)))
    nd = len(shape)
    axes = tuple(data.draw(st.permutations(range(nd)))[:data.draw(st.integers(
        2 if name.endswith("2") else 1, nd if not name.endswith("2") else 2))])
    s = data.draw(st.none() | st.lists(st.integers(1, 6), min_size=len(axes),
                                       max_size=len(axes)).map(tuple))
    norm = data.draw(st.sampled_from(NORMS))
    x = _input(np.random.default_rng(data.draw(st.integers(0, 2**31))), shape, dtype)
    rtol = 1e-4 if np.dtype(dtype) in (np.float32, np.complex64) else None
    check(lambda a: getattr(F, name)(a, s, axes, norm),
          lambda a: getattr(np.fft, name)(a, s, axes, norm), (x,), rtol=rtol, atol=rtol)


def test_default_axes():
    x = _input(np.random.default_rng(0), (2, 3, 4), np.complex128)
    for name in ("fftn", "ifftn", "fft2", "ifft2"):
        np.testing.assert_allclose(getattr(F, name)(x), getattr(np.fft, name)(x))
    np.testing.assert_allclose(F.fftn(x, s=(2, 5)), np.fft.fftn(x, s=(2, 5), axes=(1, 2)))
    np.testing.assert_allclose(F.rfftn(x.real), np.fft.rfftn(x.real))
    np.testing.assert_allclose(F.irfftn(x), np.fft.irfftn(x))


def _parts(z):
    return (lax.convert_element_type(z, np.float64),
            lax.convert_element_type(lax.mul(z, -1j), np.float64))


@pytest.mark.parametrize("name,n,norm", [
    ("fft", None, None), ("ifft", 6, "ortho"), ("rfft", 5, "forward"),
    ("irfft", None, "ortho"), ("irfft", 7, None), ("hfft", 6, None), ("ihfft", None, "ortho"),
    ("fft2", None, "forward"), ("rfftn", None, None), ("irfft2", None, "backward"),
])
def test_grads(name, n, norm):
    """Differentiable in the real and imaginary parts of the input, both modes."""
    rng = np.random.default_rng(1)
    re, im = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 3, 4))
    fn = getattr(F, name)
    kw = {"norm": norm} if name.endswith(("2", "n")) else {"n": n, "norm": norm}

    def f(re, im):
        z = re if name in REAL_ONLY else lax.add(
            lax.convert_element_type(re, np.complex128),
            lax.mul(lax.convert_element_type(im, np.complex128), 1j))
        out = fn(z, **kw)
        return _parts(out) if get_kind(out) == "c" else out

    check_grads(f, (re, im), order=2)


def get_kind(x):
    return np.dtype(x.dtype).kind


def test_power_spectrum_gradient_matches_the_closed_form():
    """d/dx sum |rfft(x)|^2 weighted by Parseval: for the full fft, sum |F x|^2 = n |x|^2,
    so the gradient is 2 n x."""
    x = np.random.default_rng(2).standard_normal(8)

    def energy(x):
        re, im = _parts(F.fft(x))
        return fnp.sum(re * re + im * im)

    np.testing.assert_allclose(fnad.grad(energy)(x), 2 * 8 * x, rtol=1e-12)
    np.testing.assert_allclose(fnad.jit(fnad.grad(energy))(x), 2 * 8 * x, rtol=1e-12)


@pytest.mark.parametrize("name", ["fft", "rfft", "irfft", "fft2", "ihfft"])
def test_vmap(name):
    x = np.random.default_rng(3).standard_normal((3, 4, 6))
    fn = getattr(F, name)
    for axis in (0, 1, -1):
        check_vmap(fn, (x,), in_axes=axis, atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("n", [1, 2, 5, 8])
@pytest.mark.parametrize("d", [1.0, 0.1])
def test_frequencies(n, d):
    np.testing.assert_allclose(F.fftfreq(n, d), np.fft.fftfreq(n, d), rtol=1e-6)
    np.testing.assert_allclose(F.rfftfreq(n, d), np.fft.rfftfreq(n, d), rtol=1e-6)
    assert F.fftfreq(n, d).dtype == np.float32  # fnad creates float32 by default
    assert F.fftfreq(n, d, dtype=np.float64).dtype == np.float64
    traced = fnad.jit(lambda d: F.fftfreq(n, d))(np.float32(d))
    np.testing.assert_allclose(traced, np.fft.fftfreq(n, d), rtol=1e-6)


@pytest.mark.parametrize("axes", [None, 0, 1, (0, 1), (-1,)])
def test_shifts(axes):
    x = np.arange(20.0).reshape(4, 5)
    check(lambda a: F.fftshift(a, axes), lambda a: np.fft.fftshift(a, axes), (x,))
    check(lambda a: F.ifftshift(a, axes), lambda a: np.fft.ifftshift(a, axes), (x,))
    np.testing.assert_array_equal(F.ifftshift(F.fftshift(x, axes), axes), x)


@pytest.mark.parametrize("call,error,match", [
    (lambda: F.rfft(np.ones(4, np.complex64)), DTypeError, "real input"),
    (lambda: F.fft(np.ones(4), norm="unitary"), ValueError, "norm"),
    (lambda: F.fft(np.ones(4), n=0), ValueError, "invalid number of points"),
    (lambda: F.fftn(np.ones((2, 2)), axes=(0, 0)), ValueError, "repeated"),
    (lambda: F.fftn(np.ones((2, 2)), s=(2,), axes=(0, 1)), ValueError, "same length"),
])
def test_bad_input_is_explained(call, error, match):
    with pytest.raises(error, match=match):
        call()
