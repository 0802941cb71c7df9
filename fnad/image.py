"""Image resampling (`jax.image`): `resize` and `scale_and_translate` of arrays with any
number of spatial dimensions.

Pixels have half-integer centers: pixel `i` of a dimension covers [i, i + 1]. Each
spatial dimension is resampled on its own by a weight matrix (input size x output size)
built from a kernel, so an n-d resize is the product of 1-d ones. Weights are normalized
over the input pixels inside the image, so a constant image stays constant up to the
edges; when downsampling with `antialias`, the kernel is widened by the inverse scale
(a low-pass filter), so every input pixel contributes.
"""

from __future__ import annotations

import enum
import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import fnad.numpy as fnp
from fnad.core.errors import ArgumentError, ArgumentTypeError, ShapeError
from fnad.lax import Precision
from fnad.numpy._core import normalize_axis, result_type
from fnad.scipy._util import promote_inexact, quiet_all

__all__ = ["ResizeMethod", "resize", "scale_and_translate"]


class ResizeMethod(enum.Enum):
    """The resampling kernel: NEAREST (pixel replication), LINEAR (triangle), CUBIC (Keys
    cubic, a = -0.5), CUBIC_PYTORCH (a = -0.75 with repeated edges when not antialiased,
    as PyTorch's bicubic), LANCZOS3/LANCZOS5 (windowed sinc), AREA (box average)."""

    NEAREST = 0
    LINEAR = 1
    LANCZOS3 = 2
    LANCZOS5 = 3
    CUBIC = 4
    CUBIC_PYTORCH = 5
    AREA = 6

    @staticmethod
    def from_string(s: str) -> ResizeMethod:
        """The method a name means ('bilinear', 'tricubic', ... name the same kernels)."""
        try:
            return _NAMES[s]
        except (KeyError, TypeError):
            raise ArgumentError(f"Unknown resize method {s!r}; expected one of "
                                f"{', '.join(map(repr, _NAMES))}") from None


_NAMES = {
    "nearest": ResizeMethod.NEAREST,
    **dict.fromkeys(("linear", "bilinear", "trilinear", "triangle"), ResizeMethod.LINEAR),
    "lanczos3": ResizeMethod.LANCZOS3,
    "lanczos5": ResizeMethod.LANCZOS5,
    **dict.fromkeys(("cubic", "bicubic", "tricubic"), ResizeMethod.CUBIC),
    **dict.fromkeys(("cubic-pytorch", "bicubic-pytorch"), ResizeMethod.CUBIC_PYTORCH),
    "area": ResizeMethod.AREA,
}


def _method(method: str | ResizeMethod) -> ResizeMethod:
    if isinstance(method, ResizeMethod):
        return method
    if isinstance(method, str):
        return ResizeMethod.from_string(method)
    raise ArgumentTypeError(f"method must be a str or a ResizeMethod, not {method!r}")


# Kernels of the distance |x| (in input pixels) between a sample and a pixel center.

def _triangle(x: Any) -> Any:
    return fnp.maximum(0, 1 - x)


def _cubic(a: float) -> Callable[[Any], Any]:
    """The cubic convolution kernel with parameter `a` (Keys' is -0.5, OpenCV's -0.75)."""
    def kernel(x: Any) -> Any:
        near = ((a + 2) * x - (a + 3)) * x * x + 1
        far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
        return fnp.where(x >= 2, 0, fnp.where(x >= 1, far, near))
    return kernel


def _lanczos(r: int) -> Callable[[Any], Any]:
    """sinc(x) sinc(x / r) on |x| <= r; 1 near 0, where the quotient loses precision."""
    def kernel(x: Any) -> Any:
        num = r * fnp.sin(np.pi * x) * fnp.sin(np.pi * x / r)
        out = fnp.where(x > 1e-3, num / fnp.where(x != 0, np.pi ** 2 * x * x, 1), 1)
        return fnp.where(x > r, 0, out)
    return kernel


# method -> (radius, kernel); AREA has no kernel of the distance (see _weights)
_KERNELS: dict[ResizeMethod, tuple[int, Callable[[Any], Any] | None]] = {
    ResizeMethod.LINEAR: (1, _triangle),
    ResizeMethod.LANCZOS3: (3, _lanczos(3)),
    ResizeMethod.LANCZOS5: (5, _lanczos(5)),
    ResizeMethod.CUBIC: (2, _cubic(-0.5)),
    ResizeMethod.CUBIC_PYTORCH: (2, _cubic(-0.75)),
    ResizeMethod.AREA: (1, None),
}

# Below this total weight an output pixel sees (almost) no input: it is 0, not noise
# divided by a tiny sum.
_MIN_TOTAL = 1000 * float(np.finfo(np.float32).eps)


def _weights(m: int, n: int, scale: Any, translation: Any, method: ResizeMethod,
             antialias: bool, dtype: np.dtype) -> Any:
    """The (m, n) matrix taking m input pixels of one dimension to n output pixels: output
    pixel j samples the input at ((j + 0.5) - translation) / scale - 0.5."""
    scale, translation = fnp.asarray(scale, dtype), fnp.asarray(translation, dtype)
    inv = 1 / scale
    out_pos = fnp.arange(n, dtype=dtype)
    sample = (out_pos + 0.5) * inv - translation * inv - 0.5
    # PyTorch's bicubic is Keys' when antialiased; otherwise its kernel differs and it
    # repeats the edge pixels instead of renormalizing.
    if method is ResizeMethod.CUBIC_PYTORCH and antialias:
        method = ResizeMethod.CUBIC
    edge_padding = method is ResizeMethod.CUBIC_PYTORCH
    radius, kernel = _KERNELS[method]
    if kernel is None:
        # the length of the overlap of output pixel j (mapped back) with input pixel i
        lo = out_pos * inv - translation * inv
        in_pos = fnp.arange(m, dtype=dtype)[:, None]
        w = fnp.maximum(0, fnp.minimum(lo + inv, in_pos + 1) - fnp.maximum(lo, in_pos))
    else:
        k = radius if edge_padding else 0
        centers = fnp.arange(-k, m + k, dtype=dtype)[:, None]
        # widen the kernel when downsampling, so that it filters out what cannot be shown
        width = fnp.maximum(inv, 1) if antialias else 1
        w = kernel(fnp.abs(sample - centers) / width)
        if edge_padding:  # the weight of a pixel outside goes to the nearest edge pixel
            onto = np.clip(np.arange(-k, m + k), 0, m - 1)[:, None] == np.arange(m)
            w = fnp.matmul(onto.T.astype(dtype), w)
    total = fnp.sum(w, axis=0)
    w = fnp.where(fnp.abs(total) > _MIN_TOTAL, w / fnp.where(total != 0, total, 1), 0)
    if edge_padding:
        return w
    # a sample off the image is 0
    return fnp.where((sample >= -0.5) & (sample <= m - 0.5), w, 0)


def _check_shape(image: Any, shape: Sequence[int], fn: str) -> tuple[int, ...]:
    try:
        shape = tuple(operator.index(d) for d in shape)
    except TypeError:
        raise ShapeError(f"{fn}: shape must be a sequence of integers, not {shape!r}") from None
    if len(shape) != fnp.ndim(image):
        raise ShapeError(f"{fn}: shape {shape} must have one size per dimension of the "
                         f"image, of shape {fnp.shape(image)}")
    if any(d < 0 for d in shape):
        raise ShapeError(f"{fn}: shape {shape} has a negative size")
    return shape


def _apply(image: Any, dims: Sequence[int], shape: tuple[int, ...], scales: Sequence[Any],
           translations: Sequence[Any], method: ResizeMethod, antialias: bool,
           precision: Any) -> Any:
    """Resample each dimension in `dims` of a float image with its weight matrix."""
    # weights in at least float32 (JAX's), even for a float16 image
    real = np.promote_types(np.finfo(image.dtype).dtype, np.float32)
    for d, s, t in zip(dims, scales, translations, strict=True):
        w = _weights(image.shape[d], shape[d], s, t, method, antialias,
                     result_type(real, s, t))
        out = fnp.tensordot(image, w.astype(image.dtype), axes=([d], [0]), precision=precision)
        image = fnp.moveaxis(out, -1, d)
    return image


def _resize_nearest(image: Any, shape: tuple[int, ...]) -> Any:
    """Output pixel j of a dimension of m -> n copies input pixel floor((j + 0.5) m / n),
    computed in float32 as JAX does."""
    image = fnp.asarray(image)
    changed = [d for d in range(image.ndim) if image.shape[d] != shape[d]]
    for d in changed:
        m, n = np.float32(image.shape[d]), np.float32(shape[d])
        src = np.floor((np.arange(n, dtype=np.float32) + np.float32(0.5)) * m / n)
        image = fnp.take(image, src.astype(np.int32), axis=d)
    return image if changed else fnp.array(image)


def resize(image: Any, shape: Sequence[int], method: str | ResizeMethod,
           antialias: bool = True, precision: Any = Precision.HIGHEST) -> Any:
    """`image` resampled to `shape` (one size per dimension: batch and channel dimensions
    keep their size and are left alone). NEAREST keeps the dtype; the other methods
    interpolate, so integer images become float32.

    >>> resize(np.array([0., 1.]), (4,), "linear").tolist()
    [0.0, 0.25, 0.75, 1.0]
    """
    shape = _check_shape(image, shape, "resize")
    method = _method(method)
    for d, (m, n) in enumerate(zip(fnp.shape(image), shape, strict=True)):
        if m == 0 and n != 0:
            raise ShapeError(f"resize: dimension {d} of size 0 cannot be resized to {n}")
    if method is ResizeMethod.NEAREST:
        return _resize_nearest(image, shape)
    image, = promote_inexact(image, broadcast=False)
    dims = [d for d in range(image.ndim) if image.shape[d] != shape[d]]
    scales = [shape[d] / image.shape[d] if shape[d] else 1.0 for d in dims]
    out = _apply(image, dims, shape, scales, [0.0] * len(dims), method, antialias, precision)
    return out if dims else fnp.array(out)


def scale_and_translate(image: Any, shape: Sequence[int], spatial_dims: Sequence[int],
                        scale: Any, translation: Any, method: str | ResizeMethod,
                        antialias: bool = True, precision: Any = Precision.HIGHEST) -> Any:
    """`image` resampled to `shape` under the map x -> x * scale + translation of the
    `spatial_dims` (pixel i covers [i, i + 1]); outputs that map from outside the image
    are 0. `scale` and `translation` may be traced, so they can be differentiated.

    >>> scale_and_translate(np.array([0., 1.]), (4,), (0,), [2.], [0.], "linear").tolist()
    [0.0, 0.25, 0.75, 1.0]
    """
    shape = _check_shape(image, shape, "scale_and_translate")
    method = _method(method)
    if method is ResizeMethod.NEAREST:
        raise ArgumentError("scale_and_translate does not support nearest-neighbor "
                            "resampling; use resize, or another method")
    ndim = len(shape)
    dims = [normalize_axis(d, ndim) for d in spatial_dims]
    if len(set(dims)) != len(dims):
        raise ShapeError(f"scale_and_translate: repeated spatial_dims {tuple(spatial_dims)}")
    image, = promote_inexact(image, broadcast=False)
    scale, translation = promote_inexact(scale, translation, broadcast=False)
    if fnp.shape(scale) != (len(dims),) or fnp.shape(translation) != (len(dims),):
        raise ShapeError(f"scale_and_translate: scale and translation must have shape "
                         f"({len(dims)},), one entry per spatial dimension; got "
                         f"{fnp.shape(scale)} and {fnp.shape(translation)}")
    kept = [d for d in range(ndim) if d not in dims and image.shape[d] != shape[d]]
    if kept:
        raise ShapeError(f"scale_and_translate: dimension(s) {kept} are not in spatial_dims "
                         f"but change size from {image.shape} to {shape}")
    k = len(dims)
    out = _apply(image, dims, shape, [scale[i] for i in range(k)],
                 [translation[i] for i in range(k)], method, antialias, precision)
    return out if dims else fnp.array(out)


# NaN and inf (a zero scale, an infinite pixel) pass through the eager arithmetic silently.
quiet_all(globals(), __all__)
