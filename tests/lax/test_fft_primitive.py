"""The `fft` primitive (`fnad/lax/fft.py`): each kind against `numpy.fft` (values and exact
dtypes), staged and jitted, its jvp and transpose against float64 finite differences
(complex values enter and leave through their real and imaginary parts), and vmap."""

from __future__ import annotations

import numpy as np
import pytest
from complex_grad import check_complex_grad, real_part
from hypothesis import given, settings, strategies as st

from fnad import lax
from fnad.core.errors import DTypeError, ShapeError
from fnad.test_util import check_grads, check_transforms, check_vmap

NUMPY = {"fft": np.fft.fftn, "ifft": np.fft.ifftn, "rfft": np.fft.rfftn,
         "irfft": np.fft.irfftn}


def _complex(a, b):
    """a + i b, differentiable in both (convert_element_type, a real-linear map)."""
    dtype = np.result_type(a.dtype, np.complex64)
    return lax.add(lax.convert_element_type(a, dtype),
                   lax.mul(lax.convert_element_type(b, dtype), 1j))


def _parts(z):
    real = np.finfo(z.dtype).dtype
    return lax.convert_element_type(z, real), lax.convert_element_type(lax.mul(z, -1j), real)


def _operand(kind, rng, shape, lengths, dtype):
    """An operand of `kind` with last axes for `lengths`, as (real part, imaginary part)
    (the imaginary part None for RFFT's real operand)."""
    if kind == "irfft":
        shape = (*shape[:-len(lengths)], *lengths[:-1], lengths[-1] // 2 + 1)
    re = rng.standard_normal(shape).astype(dtype)
    im = None if kind == "rfft" else rng.standard_normal(shape).astype(dtype)
    return re, im


@pytest.mark.parametrize("kind", sorted(NUMPY))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@settings(max_examples=6, deadline=None)
@given(shape=st.lists(st.integers(1, 6), min_size=1, max_size=3).map(tuple),
       rank=st.integers(1, 3), seed=st.integers(0, 2**31))
def test_values_and_dtypes(kind, dtype, shape, rank, seed):
    rank = min(rank, len(shape))
    lengths = shape[-rank:]
    re, im = _operand(kind, np.random.default_rng(seed), shape, lengths, dtype)
    x = re if im is None else (re + 1j * im).astype(np.result_type(dtype, np.complex64))
    axes = tuple(range(len(shape) - rank, len(shape)))
    kw = {"s": lengths} if kind in ("rfft", "irfft") else {}
    want = NUMPY[kind](x, axes=axes, **kw)
    got = lax.fft(x, kind, lengths)
    assert got.dtype == want.dtype and got.shape == want.shape
    tol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * max(1, np.abs(want).max()))
    check_transforms(lambda v: lax.fft(v, kind, lengths), (x,), atol=tol * 10, rtol=tol * 10)


def _real_fn(kind, lengths):
    """The primitive as a real function of real arrays."""
    def f(re, im=None):
        x = re if im is None else _complex(re, im)
        out = lax.fft(x, kind, lengths)
        return out if kind == "irfft" else _parts(out)
    return f


@pytest.mark.parametrize("kind,shape,lengths", [
    ("fft", (3, 8), (8,)), ("fft", (2, 3, 4), (3, 4)), ("ifft", (3, 5), (5,)),
    ("ifft", (4, 3), (4, 3)), ("rfft", (3, 8), (8,)), ("rfft", (2, 7), (7,)),
    ("rfft", (3, 4, 6), (4, 6)), ("irfft", (3, 8), (8,)), ("irfft", (3, 7), (7,)),
    ("irfft", (2, 3, 4), (3, 4)),
])
def test_jvp_and_transpose(kind, shape, lengths):
    """Forward and reverse mode of every kind, to second order (the jvp is the primitive
    itself, reverse mode runs the transpose rule)."""
    re, im = _operand(kind, np.random.default_rng(0), shape, lengths, np.float64)
    args = (re,) if im is None else (re, im)
    check_grads(_real_fn(kind, lengths), args, order=2)


@pytest.mark.parametrize("kind", sorted(NUMPY))
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_vmap(kind, axis):
    re, im = _operand(kind, np.random.default_rng(1), (3, 4, 6), (6,), np.float64)
    x = re if im is None else re + 1j * im
    check_vmap(lambda v: lax.fft(v, kind, (6,)), (np.moveaxis(x, 0, axis),), in_axes=axis,
               atol=1e-10, rtol=1e-10)
    # a batch axis among the transformed axes moves out of them
    lengths, in_axis = ((3, 6), 1) if kind == "irfft" else ((3, 4), 2)
    check_vmap(lambda v: lax.fft(v, kind, lengths), (x,), in_axes=in_axis, atol=1e-10,
               rtol=1e-10)


@pytest.mark.parametrize("call,error,match", [
    (lambda: lax.fft(np.ones(4), "fft", (4,)), DTypeError, "complex"),
    (lambda: lax.fft(np.ones(4, np.complex64), "rfft", (4,)), DTypeError, "real"),
    (lambda: lax.fft(np.ones(4, np.complex64), "fft", (5,)), ShapeError, "must equal"),
    (lambda: lax.fft(np.ones(4, np.complex64), "irfft", (4,)), ShapeError, r"\(3,\)"),
    (lambda: lax.fft(np.ones(4, np.complex64), "fft", (1, 4)), ShapeError, "fft_lengths"),
    (lambda: lax.fft(np.ones(4, np.complex64), "dct", (4,)), ValueError, "fft_type"),
])
def test_bad_operands_are_explained(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("kind,lengths", [("fft", (4, 4)), ("ifft", (4,)), ("irfft", (6,))])
def test_complex_grads_follow_jax_convention(kind, lengths):
    """grad of a real function of the complex operand, as jax.grad defines it."""
    rng = np.random.default_rng(4)
    z = rng.standard_normal((4, 4)) + 1j * rng.standard_normal((4, 4))
    weights = rng.standard_normal((4, 6) if kind == "irfft" else (4, 4))
    if kind == "irfft":
        def f(a):
            return lax.reduce_sum(lax.mul(lax.fft(a, kind, lengths), weights), (0, 1))
    else:
        def f(a):
            out = lax.mul(lax.fft(a, kind, lengths), weights * (1 + 2j))
            return lax.reduce_sum(real_part(out), (0, 1))
    check_complex_grad(f, z)
