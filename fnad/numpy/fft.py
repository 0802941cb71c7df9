"""`fnad.numpy.fft`: NumPy's FFT module on the one `fft` primitive of `fnad.lax`.

Each transform resizes the chosen axes (zero-padding or truncating to `n` / `s`), moves
them last, binds the primitive and scales by `norm` ('backward' (None), 'ortho',
'forward'); dtypes are NumPy 2's (float32 stays complex64 / float32).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from fnad import lax
from fnad.core.dtypes import float_or_default
from fnad.core.errors import ArgumentError, DTypeError, ShapeError, user_line
from fnad.core.ir import get_aval
from fnad.lax import linalg_decomp as _decomp
from fnad.numpy._core import asarray, normalize_axis, result_type
from fnad.numpy._shape import moveaxis, roll
from fnad.numpy._ufuncs import divide

_NORMS = (None, "backward", "ortho", "forward")


def _scale(norm: str | None, n: int, inverse: bool) -> float:
    if norm not in _NORMS:
        raise ArgumentError(f"fft: norm must be None, 'backward', 'ortho' or 'forward', got "
                         f"{norm!r}")
    if norm in (None, "backward"):
        return 1.0
    if norm == "ortho":
        return math.sqrt(n) if inverse else 1 / math.sqrt(n)
    return float(n) if inverse else 1.0 / n


def _resize(x: Any, axis: int, size: int) -> Any:
    """`x` truncated or zero-padded to `size` along `axis`."""
    shape = get_aval(x).shape
    if size < 1:
        raise ShapeError(f"fft: invalid number of points {size} along axis {axis}"
                         f"{user_line()}")
    if shape[axis] > size:
        limit = list(shape)
        limit[axis] = size
        return lax.slice(x, (0,) * len(shape), tuple(limit))
    if shape[axis] < size:
        config = [(0, 0, 0)] * len(shape)
        config[axis] = (0, size - shape[axis], 0)
        return lax.pad(x, np.zeros((), get_aval(x).dtype), config)
    return x


def _axes_and_sizes(x: Any, s: Sequence[int] | None, axes: Sequence[int] | None
                    ) -> tuple[tuple[int, ...], tuple[int, ...] | None]:
    nd = get_aval(x).ndim
    if axes is None:
        axes = range(nd) if s is None else range(nd - len(s), nd)
    axes = tuple(normalize_axis(int(a), nd) for a in axes)
    if len(set(axes)) != len(axes):
        raise ArgumentError(f"fft: repeated axes {axes}; transform one axis at a time instead")
    if s is not None and len(s) != len(axes):
        raise ArgumentError(f"fft: s {tuple(s)} and axes {axes} must have the same length")
    if not axes:
        raise ArgumentError("fft: needs at least one axis")
    return axes, None if s is None else tuple(int(n) for n in s)


def _complex(x: Any) -> Any:
    x = asarray(x)
    dtype = np.result_type(result_type(x, 1.0), np.complex64)
    return lax.convert_element_type(x, dtype)


def _transform(x: Any, kind: str, s: Sequence[int] | None, axes: Sequence[int] | None,
               norm: str | None) -> Any:
    """The `kind` transform ('fft', 'ifft', 'rfft', 'irfft') of `x` over `axes`."""
    x = asarray(x)
    if kind == "rfft":
        if get_aval(x).dtype.kind == "c":
            raise DTypeError(f"rfft takes real input, got {get_aval(x).dtype}; use fft for "
                             f"complex input{user_line()}")
        x = lax.convert_element_type(x, result_type(x, 1.0))
    else:
        x = _complex(x)
    axes, s = _axes_and_sizes(x, s, axes)
    shape = get_aval(x).shape
    if kind == "irfft":
        lengths = s or (*(shape[a] for a in axes[:-1]), 2 * (shape[axes[-1]] - 1))
        sizes = (*lengths[:-1], lengths[-1] // 2 + 1)
    else:
        lengths = s or tuple(shape[a] for a in axes)
        sizes = lengths
    for a, n in zip(axes, sizes):
        x = _resize(x, a, n)
    nd = len(shape)
    last = tuple(range(nd - len(axes), nd))
    out = lax.fft(moveaxis(x, axes, last), kind, lengths)
    scale = _scale(norm, math.prod(lengths), inverse=kind in ("ifft", "irfft"))
    if scale != 1.0:
        out = lax.mul(out, scale)
    return moveaxis(out, last, axes)


def _swap(norm: str | None) -> str | None:
    """The norm of the opposite direction (hfft is an irfft of the conjugate, scaled the
    other way)."""
    return {None: "forward", "backward": "forward", "forward": "backward"}.get(norm, norm)


def fft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None) -> Any:
    """The discrete Fourier transform along `axis` (`n` points: truncated or zero-padded).

    >>> fft(np.array([1.0, 0.0, 0.0, 0.0]))
    array([1.+0.j, 1.+0.j, 1.+0.j, 1.+0.j])
    """
    return _transform(a, "fft", None if n is None else (n,), (axis,), norm)


def ifft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None) -> Any:
    """The inverse discrete Fourier transform along `axis`.

    >>> ifft(np.array([4.0, 0.0, 0.0, 0.0]))
    array([1.+0.j, 1.+0.j, 1.+0.j, 1.+0.j])
    """
    return _transform(a, "ifft", None if n is None else (n,), (axis,), norm)


def rfft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None) -> Any:
    """The FFT of real input: the n // 2 + 1 non-negative frequencies.

    >>> rfft(np.array([1.0, 1.0, 1.0, 1.0]))
    array([4.+0.j, 0.+0.j, 0.+0.j])
    """
    return _transform(a, "rfft", None if n is None else (n,), (axis,), norm)


def irfft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None) -> Any:
    """The inverse of `rfft`: `n` real points (default 2 * (m - 1) for m frequencies).

    >>> irfft(np.array([4.0, 0.0, 0.0]))
    array([1., 1., 1., 1.])
    """
    return _transform(a, "irfft", None if n is None else (n,), (axis,), norm)


def hfft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None) -> Any:
    """The FFT of a signal with Hermitian symmetry given by its first half: real output.

    >>> hfft(np.array([1.0, 0.0, 0.0]))
    array([1., 1., 1., 1.])
    """
    return irfft(_decomp._conj(_complex(a)), n, axis, _swap(norm))


def ihfft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None) -> Any:
    """The inverse of `hfft`: the first half of the Hermitian spectrum of real input.

    >>> ihfft(np.array([1.0, 1.0, 1.0, 1.0]))
    array([1.+0.j, 0.+0.j, 0.+0.j])
    """
    return _decomp._conj(rfft(a, n, axis, _swap(norm)))


def fftn(a: Any, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
         norm: str | None = None) -> Any:
    """The n-dimensional FFT over `axes` (default: all, or the last len(s)).

    >>> fftn(np.ones((2, 2)))
    array([[4.+0.j, 0.+0.j],
           [0.+0.j, 0.+0.j]])
    """
    return _transform(a, "fft", s, axes, norm)


def ifftn(a: Any, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
          norm: str | None = None) -> Any:
    """The n-dimensional inverse FFT.

    >>> ifftn(np.array([[4.0, 0.0], [0.0, 0.0]])).real
    array([[1., 1.],
           [1., 1.]])
    """
    return _transform(a, "ifft", s, axes, norm)


def rfftn(a: Any, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
          norm: str | None = None) -> Any:
    """The n-dimensional FFT of real input (the last axis halved).

    >>> rfftn(np.ones((2, 4))).shape
    (2, 3)
    """
    return _transform(a, "rfft", s, axes, norm)


def irfftn(a: Any, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
           norm: str | None = None) -> Any:
    """The inverse of `rfftn`.

    >>> irfftn(np.array([[8.0, 0.0, 0.0], [0.0, 0.0, 0.0]]))
    array([[1., 1., 1., 1.],
           [1., 1., 1., 1.]])
    """
    return _transform(a, "irfft", s, axes, norm)


def fft2(a: Any, s: Sequence[int] | None = None, axes: Sequence[int] = (-2, -1),
         norm: str | None = None) -> Any:
    """The 2-d FFT over the last two axes (or `axes`).

    >>> fft2(np.ones((2, 2)))[0, 0]
    np.complex128(4+0j)
    """
    return _transform(a, "fft", s, axes, norm)


def ifft2(a: Any, s: Sequence[int] | None = None, axes: Sequence[int] = (-2, -1),
          norm: str | None = None) -> Any:
    """The 2-d inverse FFT.

    >>> ifft2(np.ones((2, 2)))[0, 0]
    np.complex128(1+0j)
    """
    return _transform(a, "ifft", s, axes, norm)


def rfft2(a: Any, s: Sequence[int] | None = None, axes: Sequence[int] = (-2, -1),
          norm: str | None = None) -> Any:
    """The 2-d FFT of real input.

    >>> rfft2(np.ones((2, 4))).shape
    (2, 3)
    """
    return _transform(a, "rfft", s, axes, norm)


def irfft2(a: Any, s: Sequence[int] | None = None, axes: Sequence[int] = (-2, -1),
           norm: str | None = None) -> Any:
    """The inverse of `rfft2`.

    >>> irfft2(np.ones((2, 3))).shape
    (2, 4)
    """
    return _transform(a, "irfft", s, axes, norm)


def fftfreq(n: int, d: Any = 1.0, *, dtype: Any = None, device: Any = None) -> Any:
    """The sample frequencies of an `n`-point FFT with spacing `d` (float32 by default, as
    fnad creates arrays).

    >>> fftfreq(4)
    array([ 0.  ,  0.25, -0.5 , -0.25], dtype=float32)
    """
    del device
    k = np.concatenate([np.arange(0, (n - 1) // 2 + 1), np.arange(-(n // 2), 0)])
    return _frequencies(k, n, d, dtype)


def rfftfreq(n: int, d: Any = 1.0, *, dtype: Any = None, device: Any = None) -> Any:
    """The sample frequencies of `rfft`'s output (non-negative only).

    >>> rfftfreq(4)
    array([0.  , 0.25, 0.5 ], dtype=float32)
    """
    del device
    return _frequencies(np.arange(0, n // 2 + 1), n, d, dtype)


def _frequencies(k: np.ndarray, n: int, d: Any, dtype: Any) -> Any:
    dtype = float_or_default(dtype)
    if isinstance(d, (int, float)):
        return (k / (n * d)).astype(dtype)
    return divide(k.astype(dtype), lax.mul(asarray(d, dtype), np.asarray(n, dtype)))


def fftshift(x: Any, axes: int | Sequence[int] | None = None) -> Any:
    """`x` with the zero frequency moved to the center of `axes` (default all).

    >>> fftshift(np.array([0, 1, 2, -2, -1]))
    array([-2, -1,  0,  1,  2])
    """
    return _shift(x, axes, inverse=False)


def ifftshift(x: Any, axes: int | Sequence[int] | None = None) -> Any:
    """The inverse of `fftshift`.

    >>> ifftshift(np.array([-2, -1, 0, 1, 2]))
    array([ 0,  1,  2, -2, -1])
    """
    return _shift(x, axes, inverse=True)


def _shift(x: Any, axes: int | Sequence[int] | None, inverse: bool) -> Any:
    x = asarray(x)
    shape = get_aval(x).shape
    if axes is None:
        axes = tuple(range(len(shape)))
    elif isinstance(axes, (int, np.integer)):
        axes = (int(axes),)
    shifts = tuple(-(shape[a] // 2) if inverse else shape[a] // 2 for a in axes)
    return roll(x, shifts, tuple(axes))


__all__ = ["fft", "fft2", "fftfreq", "fftn", "fftshift", "hfft", "ifft", "ifft2", "ifftn",
           "ifftshift", "ihfft", "irfft", "irfft2", "irfftn", "rfft", "rfft2", "rfftfreq",
           "rfftn"]
