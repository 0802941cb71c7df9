"""`fnad.scipy.signal`: SciPy's N-d convolution and correlation in JAX's form. The direct
method is one `lax.conv_general_dilated` (a correlation, so the kernel is flipped), the FFT
method products of `fnad.numpy.fft` spectra; both are made of primitives, so they
differentiate, jit and vmap. Integer inputs become floats, as in JAX."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from fnad import lax
from fnad.core.errors import ArgumentError, ShapeError, user_line
from fnad.core.ir import get_aval
from fnad.core.trace import Tracer
from fnad.numpy import fft as _fft
from fnad.numpy._core import asarray, normalize_axes, shape_of
from fnad.numpy._math import conj
from fnad.numpy._shape import flip, pad
from fnad.numpy._ufuncs import multiply
from fnad.scipy._util import promote_inexact, quiet_all

_MODES = ("full", "same", "valid")


def _operands(name: str, in1: Any, in2: Any, mode: str) -> tuple[Any, Any]:
    """Both inputs in one inexact dtype, checked: same rank, not empty, a known mode."""
    if mode not in _MODES:
        raise ArgumentError(f"{name}: mode must be one of {list(_MODES)}, got {mode!r}")
    in1, in2 = promote_inexact(asarray(in1), asarray(in2), broadcast=False)
    s1, s2 = shape_of(in1), shape_of(in2)
    if len(s1) != len(s2):
        raise ShapeError(f"{name}: in1 and in2 must have the same number of dimensions, got "
                         f"shapes {s1} and {s2}{user_line()}")
    if 0 in s1 or 0 in s2:
        raise ArgumentError(f"{name}: zero-size arrays are not supported, got shapes {s1} and "
                         f"{s2}")
    return in1, in2


def _valid_order(name: str, in1: Any, in2: Any, axes: Sequence[int]) -> tuple[Any, Any]:
    """For 'valid': the operands with the larger one first (one must be at least as large
    as the other along every axis)."""
    s1, s2 = shape_of(in1), shape_of(in2)
    if all(s1[a] >= s2[a] for a in axes):
        return in1, in2
    if all(s1[a] <= s2[a] for a in axes):
        return in2, in1
    raise ShapeError(f"{name}: for mode 'valid' one input must be at least as large as the "
                     f"other along every axis, got shapes {s1} and {s2}{user_line()}")


def _crop(full: Any, axes: Sequence[int], out_shape: Sequence[int]) -> Any:
    """The centered part of `full` of size `out_shape` along `axes` (SciPy's centering)."""
    index = [slice(None)] * get_aval(full).ndim
    for a, size in zip(axes, out_shape):
        start = (shape_of(full)[a] - size) // 2
        index[a] = slice(start, start + size)
    return full[tuple(index)]


def _direct(name: str, in1: Any, in2: Any, mode: str, precision: Any) -> Any:
    """in1 * in2 by one correlation with the flipped kernel; 'same' and 'full' pad in1
    with zeros so that the output is the centered part or the whole."""
    nd = get_aval(in1).ndim
    if nd == 0:
        return multiply(in1, in2)
    if mode == "valid":
        in1, in2 = _valid_order(name, in1, in2, range(nd))
    padding = []
    for s in shape_of(in2):
        lo = s - 1 if mode == "full" else s - 1 - (s - 1) // 2 if mode == "same" else 0
        padding.append((lo, s - 1 - lo if mode == "same" else lo))
    out = lax.conv_general_dilated(in1[None, None], flip(in2)[None, None], (1,) * nd,
                                   padding, precision=precision)
    return out[0, 0]


def fftconvolve(in1: Any, in2: Any, mode: str = "full", axes: Sequence[int] | int | None = None
                ) -> Any:
    """The N-d convolution of `in1` and `in2` by FFTs (along `axes`, default all; the other
    axes must match or be 1 and are mapped). `mode` as in `convolve`.

    >>> fftconvolve(np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 0.5])).round(6)
    array([1. , 3. , 5.5, 4. , 1.5])
    """
    in1, in2 = _operands("fftconvolve", in1, in2, mode)
    nd = get_aval(in1).ndim
    axes = normalize_axes(axes, nd)
    s1, s2 = shape_of(in1), shape_of(in2)
    for a in set(range(nd)) - set(axes):
        if s1[a] != s2[a] and 1 not in (s1[a], s2[a]):
            raise ShapeError(f"fftconvolve: axis {a} is not convolved, so in1 and in2 must "
                             f"match there (or be 1), got shapes {s1} and {s2}{user_line()}")
    if nd == 0 or not axes:
        return multiply(in1, in2)
    if mode == "valid":
        in1, in2 = _valid_order("fftconvolve", in1, in2, axes)
    out_shape = {"full": [s1[a] + s2[a] - 1 for a in axes],
                 "same": [shape_of(in1)[a] for a in axes],
                 "valid": [abs(s1[a] - s2[a]) + 1 for a in axes]}[mode]
    lengths = [s1[a] + s2[a] - 1 for a in axes]
    if get_aval(in1).dtype.kind == "c":
        full = _fft.ifftn(_fft.fftn(in1, lengths, axes) * _fft.fftn(in2, lengths, axes),
                          lengths, axes)
    else:
        full = _fft.irfftn(_fft.rfftn(in1, lengths, axes) * _fft.rfftn(in2, lengths, axes),
                           lengths, axes)
        full = lax.convert_element_type(full, get_aval(in1).dtype)
    return _crop(full, axes, out_shape)


def convolve(in1: Any, in2: Any, mode: str = "full", method: str = "auto",
             precision: Any = None) -> Any:
    """The N-d convolution of `in1` and `in2` (same rank): 'full' (every overlap), 'same'
    (the centered part of in1's shape) or 'valid' (no zero padding; one input must be at
    least as large as the other everywhere). `method` 'direct' and 'auto' (as JAX) run
    `lax.conv_general_dilated`, 'fft' runs `fftconvolve`.

    >>> convolve(np.array([1, 2, 3, 2, 1]), np.array([1, 1, 1]), mode="same")
    array([3., 6., 7., 6., 3.], dtype=float32)
    """
    if method == "fft":
        return fftconvolve(in1, in2, mode)
    if method not in ("direct", "auto"):
        raise ArgumentError(f"convolve: method must be 'auto', 'direct' or 'fft', got "
                         f"{method!r}")
    in1, in2 = _operands("convolve", in1, in2, mode)
    return _direct("convolve", in1, in2, mode, precision)


def correlate(in1: Any, in2: Any, mode: str = "full", method: str = "auto",
              precision: Any = None) -> Any:
    """The N-d cross-correlation z[k] = sum_l in1[l + k] conj(in2[l]): `convolve` with the
    flipped conjugate of `in2` (SciPy's definition, in every mode).

    >>> correlate(np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0, 0.5]))
    array([0.5, 2. , 3.5, 3. , 0. ])
    """
    in1, in2 = _operands("correlate", in1, in2, mode)
    return convolve(in1, flip(conj(in2)), mode, method, precision)


_BOUNDARIES = {"fill": "fill", "pad": "fill", "wrap": "wrap", "circular": "wrap",
               "symm": "symm", "symmetric": "symm"}


def _check_2d(name: str, in1: Any, in2: Any, mode: str, boundary: str) -> tuple[Any, Any]:
    in1, in2 = _operands(name, in1, in2, mode)
    if get_aval(in1).ndim != 2:
        raise ShapeError(f"{name} needs 2-d inputs, got shapes {shape_of(in1)} and "
                         f"{shape_of(in2)}; use convolve/correlate for other ranks"
                         f"{user_line()}")
    if boundary not in _BOUNDARIES:
        raise ArgumentError(f"{name}: boundary must be one of {sorted(_BOUNDARIES)}, got "
                         f"{boundary!r}")
    return in1, in2


def _convolve2d(in1: Any, in2: Any, mode: str, boundary: str, fillvalue: Any,
                precision: Any) -> Any:
    """2-d convolution with in1 extended past its edges by `boundary`: padded by the
    kernel's size less one on each side, the valid convolution of that is the full one."""
    kind = _BOUNDARIES[boundary]
    if np.ndim(fillvalue) != 0:
        raise ArgumentError(f"convolve2d: fillvalue must be a scalar, got shape "
                         f"{np.shape(fillvalue)}")
    zero_fill = (kind == "fill" and not isinstance(fillvalue, Tracer)
                 and np.asarray(fillvalue) == 0)
    if mode == "valid" or zero_fill:
        return _direct("convolve2d", in1, in2, mode, precision)
    widths = [(s - 1, s - 1) for s in shape_of(in2)]
    if kind == "fill":
        fill = lax.convert_element_type(asarray(fillvalue), get_aval(in1).dtype)
        extended = pad(in1, widths, constant_values=fill)
    else:
        extended = pad(in1, widths, mode="wrap" if kind == "wrap" else "symmetric")
    full = _direct("convolve2d", extended, in2, "valid", precision)
    return full if mode == "full" else _crop(full, (0, 1), shape_of(in1))


def convolve2d(in1: Any, in2: Any, mode: str = "full", boundary: str = "fill",
               fillvalue: Any = 0, precision: Any = None) -> Any:
    """The 2-d convolution of `in1` and `in2`, `mode` as in `convolve`; past its edges in1
    is `fillvalue` ('fill'), periodic ('wrap') or mirrored ('symm'), as SciPy.

    >>> convolve2d(np.eye(2), np.ones((1, 2)), boundary="wrap", mode="same")
    array([[1., 1.],
           [1., 1.]])
    """
    in1, in2 = _check_2d("convolve2d", in1, in2, mode, boundary)
    return _convolve2d(in1, in2, mode, boundary, fillvalue, precision)


def correlate2d(in1: Any, in2: Any, mode: str = "full", boundary: str = "fill",
                fillvalue: Any = 0, precision: Any = None) -> Any:
    """The 2-d cross-correlation of `in1` and `in2` with SciPy's boundaries and its
    conventions: 'same' is centered as a correlation of the flipped input, and 'valid'
    with a larger `in2` correlates in2 with in1 (SciPy's and JAX's result).

    >>> correlate2d(np.eye(2), np.ones((1, 2)))
    array([[1., 1., 0.],
           [0., 1., 1.]])
    """
    in1, in2 = _check_2d("correlate2d", in1, in2, mode, boundary)
    s1, s2 = shape_of(in1), shape_of(in2)
    if mode == "same":
        return flip(_convolve2d(flip(in1), conj(in2), mode, boundary, fillvalue, precision))
    if mode == "valid" and s1 != s2 and all(a <= b for a, b in zip(s1, s2)):
        return _direct("correlate2d", flip(in2), conj(in1), mode, precision)
    return _convolve2d(in1, flip(conj(in2)), mode, boundary, fillvalue, precision)


__all__ = ["convolve", "convolve2d", "correlate", "correlate2d", "fftconvolve"]

quiet_all(globals(), __all__)
