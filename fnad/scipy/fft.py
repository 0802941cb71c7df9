"""`fnad.scipy.fft`: the discrete cosine transform of type 2 and its inverse, as JAX has
them, on `fnad.numpy.fft`. The DCT of length N is one complex FFT of the input reordered
(even samples, then odd ones reversed) and turned by a quarter-sample phase (Makhoul's
method); the inverse undoes each step. Made of primitives, so they differentiate, jit and
vmap. The N-d transforms apply the 1-d ones axis by axis."""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from fnad import lax
from fnad.core.errors import ArgumentError, ArgumentTypeError, ShapeError, user_line
from fnad.core.ir import get_aval
from fnad.numpy import fft as _fft
from fnad.numpy._core import asarray, normalize_axis
from fnad.numpy._indexing import take
from fnad.numpy._shape import flip
from fnad.numpy._ufuncs import multiply
from fnad.scipy._util import promote_inexact, quiet_all


def _check(name: str, type: int, norm: str | None) -> None:  # noqa: A002
    if type != 2:
        raise NotImplementedError(f"{name}: only type 2 is implemented (as in JAX), got "
                                  f"type={type!r}")
    if norm not in (None, "backward", "ortho"):
        raise ArgumentError(f"{name}: norm must be None, 'backward' or 'ortho', got {norm!r}")


def _along(values: np.ndarray, axis: int, ndim: int) -> np.ndarray:
    """A 1-d constant shaped to broadcast along `axis` of an `ndim`-d array (multiplied in
    with `multiply`, which moves it to the operand's device)."""
    return values.reshape([-1 if a == axis else 1 for a in range(ndim)])


def _ortho_factor(n: int) -> np.ndarray:
    """What the orthonormal DCT-II multiplies the unnormalized one by: 1/sqrt(4N) for the
    first coefficient and 1/sqrt(2N) for the rest."""
    f = np.full(n, 1 / math.sqrt(2 * n))
    f[0] = 1 / math.sqrt(4 * n)
    return f


def _int(name: str, what: str, value: Any) -> int:
    """`value` as a Python int, or an `ArgumentTypeError` naming `what`."""
    try:
        return operator.index(value)
    except TypeError:
        raise ArgumentTypeError(f"{name}: {what} must be an integer, got {value!r}") from None


def _resize(x: Any, n: int | None, axis: int) -> Any:
    """`x` zero-padded or truncated to `n` along `axis` (`fnad.numpy.fft`'s resizing)."""
    return x if n is None else _fft._resize(x, axis, n)


def _real_parts(fn: Any, x: Any, *args: Any) -> Any:
    """`fn` on a real input; on a complex one, separately on its real and imaginary parts
    (the transforms have real coefficients)."""
    if get_aval(x).dtype.kind == "c":
        return lax.complex(fn(lax.real(x), *args), fn(lax.imag(x), *args))
    return fn(x, *args)


def _dct_real(x: Any, axis: int, ortho: bool) -> Any:
    nd = get_aval(x).ndim
    n = get_aval(x).shape[axis]
    dtype = get_aval(x).dtype
    order = np.concatenate([np.arange(0, n, 2), np.arange(n - 1 - n % 2, 0, -2)])
    spectrum = _fft.fft(take(x, order, axis=axis), axis=axis)
    factor = 2 * np.exp(-0.5j * np.pi * np.arange(n) / n)
    out = lax.real(multiply(spectrum, _along(factor.astype(get_aval(spectrum).dtype), axis, nd)))
    if ortho:
        out = multiply(out, _along(_ortho_factor(n).astype(dtype), axis, nd))
    return out


def _idct_real(x: Any, axis: int, ortho: bool) -> Any:
    nd = get_aval(x).ndim
    n = get_aval(x).shape[axis]
    dtype = get_aval(x).dtype
    if ortho:
        x = multiply(x, _along((1 / _ortho_factor(n)).astype(dtype), axis, nd))
    # X[k] = 2 Re(w[k] V[k]) with V the FFT of a real sequence gives
    # V[k] = (X[k] - i X[N-k]) / (2 w[k]), taking X[N] = 0
    mirrored = lax.pad(flip(take(x, np.arange(1, n), axis=axis), axis), np.zeros((), dtype),
                       [(1 if a == axis else 0, 0, 0) for a in range(nd)])
    factor = 0.5 * np.exp(0.5j * np.pi * np.arange(n) / n)
    spectrum = lax.complex(x, -mirrored)
    cdtype = get_aval(spectrum).dtype
    v = lax.real(_fft.ifft(multiply(spectrum, _along(factor.astype(cdtype), axis, nd)), axis=axis))
    # undo the reordering: even samples first, odd ones reversed after them
    inverse = np.empty(n, np.intp)
    inverse[0::2] = np.arange((n + 1) // 2)
    inverse[1::2] = np.arange(n - 1, (n + 1) // 2 - 1, -1)
    return take(v, inverse, axis=axis)


def _one(name: str, x: Any, type: int, n: int | None, axis: int,  # noqa: A002
         norm: str | None, inverse: bool) -> Any:
    _check(name, type, norm)
    (x,) = promote_inexact(asarray(x))
    if get_aval(x).dtype.itemsize < 4:  # float16 and bfloat16 transform in float32, as JAX
        x = lax.convert_element_type(x, np.float32)
    if get_aval(x).ndim == 0:
        raise ShapeError(f"{name}: needs an array of at least one dimension, got a scalar"
                         f"{user_line()}")
    axis = normalize_axis(_int(name, "axis", axis), get_aval(x).ndim)
    x = _resize(x, None if n is None else _int(name, "n", n), axis)
    return _real_parts(_idct_real if inverse else _dct_real, x, axis, norm == "ortho")


def _many(name: str, x: Any, type: int, s: Sequence[int] | int | None,  # noqa: A002
          axes: Sequence[int] | int | None, norm: str | None, inverse: bool) -> Any:
    _check(name, type, norm)
    (x,) = promote_inexact(asarray(x))
    nd = get_aval(x).ndim
    if s is not None:
        s = [_int(name, "s", n) for n in ([s] if np.ndim(s) == 0 else s)]
        if len(s) > nd:
            raise ShapeError(f"{name}: s must have at most x.ndim ({nd}) elements, got "
                             f"{len(s)}{user_line()}")
    if axes is None:
        axes = range(nd - len(s), nd) if s is not None else range(nd)
    elif np.ndim(axes) == 0:
        axes = [axes]
    axes = [normalize_axis(_int(name, "axes", a), nd) for a in axes]
    if len(set(axes)) != len(axes):
        raise ArgumentError(f"{name}: repeated axes {tuple(axes)}")
    if s is not None and len(s) != len(axes):
        raise ArgumentError(f"{name}: s {tuple(s)} and axes {tuple(axes)} must have the same "
                            "length")
    for i, a in enumerate(axes):
        x = _one(name, x, type, None if s is None else s[i], a, norm, inverse)
    return x


def dct(x: Any, type: int = 2, n: int | None = None, axis: int = -1,  # noqa: A002
        norm: str | None = None) -> Any:
    """The DCT-II of `x` along `axis` (zero-padded or truncated to `n`), as
    `scipy.fft.dct`; `norm='ortho'` makes it orthonormal. Only type 2 exists in JAX."""
    return _one("dct", x, type, n, axis, norm, inverse=False)


def idct(x: Any, type: int = 2, n: int | None = None, axis: int = -1,  # noqa: A002
         norm: str | None = None) -> Any:
    """The inverse of `dct` with the same `norm` (a scaled DCT-III), as `scipy.fft.idct`."""
    return _one("idct", x, type, n, axis, norm, inverse=True)


def dctn(x: Any, type: int = 2, s: Sequence[int] | None = None,  # noqa: A002
         axes: Sequence[int] | None = None, norm: str | None = None) -> Any:
    """The DCT-II over `axes` (by default the last len(s), or all), each resized to `s`,
    as `scipy.fft.dctn`."""
    return _many("dctn", x, type, s, axes, norm, inverse=False)


def idctn(x: Any, type: int = 2, s: Sequence[int] | None = None,  # noqa: A002
          axes: Sequence[int] | None = None, norm: str | None = None) -> Any:
    """The inverse of `dctn` with the same `norm`, as `scipy.fft.idctn`."""
    return _many("idctn", x, type, s, axes, norm, inverse=True)


__all__ = ["dct", "dctn", "idct", "idctn"]

quiet_all(globals(), __all__)
