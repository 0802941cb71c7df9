"""`fft`: the one FFT primitive (kinds FFT, IFFT, RFFT, IRFFT over the last
`len(fft_lengths)` axes, unnormalized forward and 1/n inverse, as `numpy.fft`'s default).

It is linear, so its jvp is itself; its transpose follows JAX's convention for complex
cotangents (a transpose, not an adjoint): FFT and IFFT are symmetric maps, RFFT's transpose
is the real part of an FFT of the zero-padded cotangent, IRFFT's the conjugate of a scaled
RFFT. `fnad.numpy.fft` builds NumPy's whole FFT module on it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from fnad.core.errors import ArgumentError, DTypeError, ShapeError
from fnad.core.ir import ShapedArray, get_aval
from fnad.core.primitive import LibraryCall, Primitive, Zero
from fnad.device import array_module
from fnad.lax._rules import deflinear, is_undefined

FFT_TYPES = ("fft", "ifft", "rfft", "irfft")

fft_p = Primitive("fft")


def _complex_dtype(dtype: Any) -> np.dtype:
    return np.result_type(dtype, np.complex64)


def _fft_impl(x: Any, *, fft_type: str, fft_lengths: tuple[int, ...]) -> Any:
    """One `numpy.fft` (or `cupy.fft`) call over the last axes; NumPy's float32 transforms
    stay complex64 (and float32 for IRFFT)."""
    xp = array_module([x])
    axes = tuple(range(x.ndim - len(fft_lengths), x.ndim))
    if fft_type == "fft":
        out = xp.fft.fftn(x, axes=axes)
    elif fft_type == "ifft":
        out = xp.fft.ifftn(x, axes=axes)
    elif fft_type == "rfft":
        out = xp.fft.rfftn(x, s=fft_lengths, axes=axes)
        return out.astype(_complex_dtype(x.dtype), copy=False)
    else:
        out = xp.fft.irfftn(x, s=fft_lengths, axes=axes)
        return out.astype(np.finfo(x.dtype).dtype, copy=False)
    return out.astype(x.dtype, copy=False)


fft_p.def_impl(_fft_impl)


@fft_p.def_abstract_eval
def _fft_abstract_eval(x: ShapedArray, *, fft_type: str, fft_lengths: tuple[int, ...]
                       ) -> ShapedArray:
    if fft_type not in FFT_TYPES:
        raise ArgumentError(f"fft_type must be one of {FFT_TYPES}, got {fft_type!r}")
    k = len(fft_lengths)
    if not 1 <= k <= x.ndim or any(n < 1 for n in fft_lengths):
        raise ShapeError(f"fft_lengths {fft_lengths} must be 1 to {x.ndim} positive lengths "
                         f"of the last axes of {x}")
    want_real = fft_type == "rfft"
    if (x.dtype.kind == "f") != want_real or x.dtype.kind not in "fc":
        kind = "real floating" if want_real else "complex"
        raise DTypeError(f"{fft_type.upper()} takes a {kind} operand, got {x.dtype}; convert "
                         "with fnad.lax.convert_element_type (fnad.numpy.fft converts for you)")
    lead, last = x.shape[:-k], x.shape[-k:]
    if fft_type == "irfft":
        expected = (*fft_lengths[:-1], fft_lengths[-1] // 2 + 1)
        if last != expected:
            raise ShapeError(f"IRFFT of lengths {fft_lengths} takes last axes {expected}, got "
                             f"{x}")
        return ShapedArray((*lead, *fft_lengths), np.finfo(x.dtype).dtype)
    if last != fft_lengths:
        raise ShapeError(f"fft_lengths {fft_lengths} must equal the last axes of {x}")
    if fft_type == "rfft":
        return ShapedArray((*lead, *last[:-1], last[-1] // 2 + 1), _complex_dtype(x.dtype))
    return ShapedArray(x.shape, x.dtype)


def _fft_transpose(ct: Any, x: Any, *, fft_type: str, fft_lengths: tuple[int, ...]
                   ) -> list[Any]:
    from fnad.lax.elementwise import convert_element_type, mul, sub
    from fnad.lax.structural import broadcast_in_dim, pad
    assert is_undefined(x)
    if type(ct) is Zero:
        return [None]
    if fft_type in ("fft", "ifft"):
        return [fft(ct, fft_type, fft_lengths)]
    aval = get_aval(ct)
    if fft_type == "rfft":  # x -> first half of FFT(x as complex)
        n = fft_lengths[-1]
        config = [(0, 0, 0)] * (aval.ndim - 1) + [(0, n - aval.shape[-1], 0)]
        full = pad(ct, np.zeros((), aval.dtype), config)
        return [convert_element_type(fft(full, "fft", fft_lengths), x.aval.dtype)]
    # irfft: the Hermitian extension counts each inner frequency twice
    n = fft_lengths[-1]
    half = n // 2 + 1
    weights = np.full(half, 2.0)
    weights[0] = 1.0
    if n % 2 == 0:
        weights[-1] = 1.0
    spectrum = fft(ct, "rfft", fft_lengths)
    out_aval = get_aval(spectrum)
    scale = broadcast_in_dim((weights / math.prod(fft_lengths)).astype(
        np.finfo(out_aval.dtype).dtype), out_aval.shape, (out_aval.ndim - 1,))
    out = mul(spectrum, convert_element_type(scale, out_aval.dtype))
    real = convert_element_type(convert_element_type(out, aval.dtype), out_aval.dtype)
    return [sub(mul(real, 2), out)]  # the conjugate: 2 Re(z) - z


deflinear(fft_p, _fft_transpose)


@fft_p.def_batch
def _fft_batch(axis_size: int, vals: Sequence[Any], dims: Sequence[Any], **params: Any):
    """A batch axis among the leading axes stays; one among the transformed axes moves
    to the front."""
    from fnad.interpreters.batching import moveaxis
    (x,), (d,) = vals, dims
    if d >= get_aval(x).ndim - len(params["fft_lengths"]):
        x, d = moveaxis(x, d, 0, axis_size), 0
    return fft_p.bind(x, **params), d


fft_p.kernel = LibraryCall()


def fft(x: Any, fft_type: Any, fft_lengths: Sequence[int]) -> Any:
    """The FFT of kind `fft_type` ('fft', 'ifft', 'rfft', 'irfft', or JAX's `FftType`
    members of those names) over the last `len(fft_lengths)` axes.

    >>> fft(np.array([1.0, 0.0, 0.0, 0.0], np.complex64), "fft", (4,))
    array([1.+0.j, 1.+0.j, 1.+0.j, 1.+0.j], dtype=complex64)
    """
    name = getattr(fft_type, "name", fft_type)
    kind = str(name).lower()
    return fft_p.bind(x, fft_type=kind, fft_lengths=tuple(int(n) for n in fft_lengths))


__all__ = ["fft"]
