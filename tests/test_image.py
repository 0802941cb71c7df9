"""fnad.image (jax.image): resize and scale_and_translate against closed forms and a
brute-force NumPy evaluation of the kernel sums, derivatives, jit, vmap and errors."""

from __future__ import annotations

import doctest
import math
import warnings

import numpy as np
import pytest

import fnad
import fnad.numpy as fnp
from fnad import image
from fnad.image import ResizeMethod
from fnad.test_util import check_grads

METHODS = ["linear", "cubic", "lanczos3", "lanczos5", "cubic-pytorch", "area"]


def _keys(a: float):
    def k(x: float) -> float:
        if x < 1:
            return (a + 2) * x ** 3 - (a + 3) * x ** 2 + 1
        if x < 2:
            return a * x ** 3 - 5 * a * x ** 2 + 8 * a * x - 4 * a
        return 0.0
    return k


def _lanczos(r: int):
    return lambda x: float(np.sinc(x) * np.sinc(x / r)) if x < r else 0.0


REF_KERNELS = {"linear": (1, lambda x: max(0.0, 1 - x)), "cubic": (2, _keys(-0.5)),
               "lanczos3": (3, _lanczos(3)), "lanczos5": (5, _lanczos(5)),
               "cubic-pytorch": (2, _keys(-0.75))}


def ref_resample_1d(v: np.ndarray, n: int, scale: float, t: float, method: str,
                    antialias: bool) -> np.ndarray:
    """Output pixel j, centered at j + 0.5 in the output, is the normalized kernel sum over
    input pixels around the point (j + 0.5 - t) / scale of the input, one pixel at a time."""
    m = len(v)
    out = np.zeros(n)
    for j in range(n):
        center = (j + 0.5 - t) / scale
        if method == "area":  # the output pixel's interval, mapped back
            lo, hi = (j - t) / scale, (j + 1 - t) / scale
            w = {i: max(0.0, min(hi, i + 1) - max(lo, i)) for i in range(m)}
        else:
            if method == "cubic-pytorch" and antialias:
                method = "cubic"
            radius, k = REF_KERNELS[method]
            width = max(1 / scale, 1.0) if antialias else 1.0
            if method == "cubic-pytorch":  # pixels off the edge repeat the edge pixel
                w = dict.fromkeys(range(m), 0.0)
                for i in range(-radius, m + radius):
                    w[min(max(i, 0), m - 1)] += k(abs(center - 0.5 - i) / width)
            else:
                w = {i: k(abs(center - 0.5 - i) / width) for i in range(m)}
        total = sum(w.values())
        inside = 0 <= center <= m or method == "cubic-pytorch"
        if abs(total) > 1000 * np.finfo(np.float32).eps and inside:
            out[j] = sum(w[i] * v[i] for i in range(m)) / total
    return out


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("antialias", [True, False])
@pytest.mark.parametrize("m,n,scale,t", [(7, 13, 13 / 7, 0.0), (13, 5, 5 / 13, 0.0),
                                         (9, 4, 4 / 9, 0.0), (6, 9, 2.0, -1.3),
                                         (12, 6, 0.4, 0.7), (8, 8, 1.0, 2.5), (8, 10, 3.0, -8.0)])
def test_against_brute_force_kernel_sums(method, antialias, m, n, scale, t):
    v = np.random.default_rng(m * n).standard_normal(m)
    want = ref_resample_1d(v, n, scale, t, method, antialias)
    got = image.scale_and_translate(v, (n,), (0,), np.array([scale]), np.array([t]), method,
                                    antialias=antialias)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    if t == 0.0:
        np.testing.assert_allclose(image.resize(v, (n,), method, antialias=antialias), want,
                                   rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("method", ["nearest", *METHODS])
def test_identity_resize_is_a_copy(method):
    x = np.random.default_rng(0).standard_normal((4, 5))
    out = image.resize(x, x.shape, method)
    np.testing.assert_array_equal(out, x)
    assert not np.shares_memory(out, x)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("antialias", [True, False])
@pytest.mark.parametrize("shape", [(11, 3), (2, 9), (7, 7)])
def test_a_constant_image_stays_constant(method, antialias, shape):
    out = image.resize(np.full((5, 6), 2.5), shape, method, antialias=antialias)
    np.testing.assert_allclose(out, np.full(shape, 2.5), rtol=1e-12)


def test_linear_upsampling_of_a_ramp_is_a_ramp_clamped_at_the_edges():
    m, n = 5, 12
    out = image.resize(np.arange(m, dtype=np.float64), (n,), "linear")
    positions = (np.arange(n) + 0.5) * m / n - 0.5
    np.testing.assert_allclose(out, np.clip(positions, 0, m - 1), atol=1e-12)


def test_area_downsampling_by_an_integer_factor_is_the_block_mean():
    x = np.random.default_rng(1).standard_normal((6, 8))
    want = x.reshape(3, 2, 2, 4).mean(axis=(1, 3))
    np.testing.assert_allclose(image.resize(x, (3, 2), "area"), want, rtol=1e-12)


@pytest.mark.parametrize("method", METHODS)
def test_nd_resize_is_the_product_of_1d_resizes_and_leaves_other_dims_alone(method):
    x = np.random.default_rng(2).standard_normal((2, 5, 6, 3))
    out = image.resize(x, (2, 4, 11, 3), method)
    step = image.resize(image.resize(x, (2, 4, 6, 3), method), (2, 4, 11, 3), method)
    np.testing.assert_allclose(out, step, rtol=1e-10, atol=1e-12)
    for b in range(2):
        for c in range(3):
            np.testing.assert_allclose(out[b, :, :, c],
                                       image.resize(x[b, :, :, c], (4, 11), method),
                                       rtol=1e-10, atol=1e-12)


def test_three_spatial_dims():
    x = np.random.default_rng(3).standard_normal((4, 5, 6))
    out = image.resize(x, (7, 3, 6), "cubic", antialias=False)
    want = np.apply_along_axis(ref_resample_1d, 0, x, 7, 7 / 4, 0.0, "cubic", False)
    want = np.apply_along_axis(ref_resample_1d, 1, want, 3, 3 / 5, 0.0, "cubic", False)
    np.testing.assert_allclose(out, want, rtol=1e-10, atol=1e-12)


def test_nearest_copies_pixel_floor_of_the_center_and_keeps_the_dtype():
    x = np.arange(20, dtype=np.uint8).reshape(4, 5)
    out = image.resize(x, (7, 3), "nearest")
    rows = np.floor((np.arange(7) + 0.5) * 4 / 7).astype(int)
    cols = np.floor((np.arange(3) + 0.5) * 5 / 3).astype(int)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, x[np.ix_(rows, cols)])


@pytest.mark.parametrize("dtype,want", [(np.uint8, np.float32), (np.int64, np.float32),
                                        (np.bool_, np.float32), (np.float32, np.float32),
                                        (np.float64, np.float64),
                                        (np.complex64, np.complex64)])
def test_interpolating_methods_give_floats(dtype, want):
    x = (np.arange(12) % 3).reshape(3, 4).astype(dtype)
    out = image.resize(x, (5, 2), "linear")
    assert out.dtype == want
    ref = image.resize(x.real.astype(np.float64) if dtype != np.bool_ else x.astype(float),
                       (5, 2), "linear")
    np.testing.assert_allclose(out, ref, rtol=1e-6)


def test_scale_and_translate_maps_outside_samples_to_zero_and_matches_resize():
    x = np.random.default_rng(4).standard_normal((5, 6, 2))
    s, t = np.array([2.0, 0.5]), np.array([0.0, 0.0])
    np.testing.assert_allclose(
        image.scale_and_translate(x, (10, 3, 2), (0, 1), s, t, "cubic"),
        image.resize(x, (10, 3, 2), "cubic"), rtol=1e-12)
    shifted = image.scale_and_translate(x, (5, 6, 2), (-2,), np.array([1.0]),
                                        np.array([3.0]), "linear")
    np.testing.assert_array_equal(shifted[:, :3], 0)
    np.testing.assert_allclose(shifted[:, 3:], x[:, :3])


def test_gradients():
    x = np.random.default_rng(5).standard_normal((4, 5))
    for method in METHODS:
        check_grads(lambda a, m=method: image.resize(a, (6, 3), m), (x,), order=1)
        check_grads(lambda a, s, t, m=method: image.scale_and_translate(
            a, (6, 3), (0, 1), s, t, m), (x, np.array([1.3, 0.7]), np.array([0.2, -0.3])),
            order=1)


def test_jit_and_vmap():
    xs = np.random.default_rng(6).standard_normal((3, 5, 6))
    f = lambda a: image.resize(a, (8, 3), "lanczos3")  # noqa: E731
    want = np.stack([f(x) for x in xs])
    np.testing.assert_allclose(fnad.vmap(f)(xs), want, rtol=1e-12)
    np.testing.assert_allclose(fnad.jit(fnad.vmap(f))(xs), want, rtol=1e-12)
    g = fnad.jit(lambda a, s, t: image.scale_and_translate(a, (8, 3), (0, 1), s, t, "cubic"))
    s, t = np.array([1.5, 0.5]), np.array([0.1, 0.2])
    np.testing.assert_allclose(g(xs[0], s, t),
                               image.scale_and_translate(xs[0], (8, 3), (0, 1), s, t, "cubic"),
                               rtol=1e-12)
    assert fnad.jit(lambda a: image.resize(a, (4, 4), "nearest"))(xs[0]).shape == (4, 4)


def test_method_names():
    names = {"nearest": "NEAREST", "linear": "LINEAR", "bilinear": "LINEAR",
             "trilinear": "LINEAR", "triangle": "LINEAR", "cubic": "CUBIC",
             "bicubic": "CUBIC", "tricubic": "CUBIC", "lanczos3": "LANCZOS3",
             "lanczos5": "LANCZOS5", "cubic-pytorch": "CUBIC_PYTORCH",
             "bicubic-pytorch": "CUBIC_PYTORCH", "area": "AREA"}
    for s, name in names.items():
        assert ResizeMethod.from_string(s) is ResizeMethod[name]
    x = np.arange(4.0)
    np.testing.assert_array_equal(image.resize(x, (7,), ResizeMethod.CUBIC),
                                  image.resize(x, (7,), "bicubic"))


def test_errors():
    x = np.ones((3, 3))
    with pytest.raises(fnad.ArgumentError, match="Unknown resize method 'foo'"):
        image.resize(x, (4, 4), "foo")
    with pytest.raises(fnad.ArgumentError, match="Unknown resize method"):
        ResizeMethod.from_string("Linear")
    with pytest.raises(fnad.ArgumentTypeError):
        image.resize(x, (4, 4), 1)
    with pytest.raises(fnad.ShapeError, match="one size per dimension"):
        image.resize(x, (4,), "linear")
    with pytest.raises(fnad.ShapeError, match="negative"):
        image.resize(x, (4, -1), "linear")
    with pytest.raises(fnad.ShapeError, match="integers"):
        image.resize(x, (4, 2.5), "linear")
    with pytest.raises(fnad.ShapeError, match="size 0"):
        image.resize(np.zeros((0, 3)), (2, 3), "linear")
    with pytest.raises(fnad.ArgumentError, match="nearest"):
        image.scale_and_translate(x, (3, 3), (0,), [1.0], [0.0], "nearest")
    with pytest.raises(fnad.ShapeError, match="not in spatial_dims"):
        image.scale_and_translate(x, (6, 4), (0,), [2.0], [0.0], "linear")
    with pytest.raises(fnad.ShapeError, match="one entry per spatial dimension"):
        image.scale_and_translate(x, (6, 3), (0,), [2.0, 1.0], [0.0], "linear")
    with pytest.raises(fnad.ShapeError, match="repeated"):
        image.scale_and_translate(x, (6, 3), (0, -2), [2.0, 1.0], [0.0, 0.0], "linear")
    with pytest.raises(fnad.ShapeError, match="out of range"):
        image.scale_and_translate(x, (6, 3), (2,), [2.0], [0.0], "linear")


def test_zero_sized_outputs():
    x = np.ones((5, 4))
    assert image.resize(x, (0, 4), "linear").shape == (0, 4)
    assert image.resize(x, (0, 2), "nearest").shape == (0, 2)
    assert math.prod(image.resize(x, (3, 0), "area").shape) == 0
    assert fnp.sum(image.scale_and_translate(np.zeros((0, 3)), (2, 3), (0,), [1.0], [0.0],
                                             "linear")) == 0


def test_docstring_examples():
    result = doctest.testmod(image, extraglobs={"np": np})
    assert result.attempted >= 2 and not result.failed


@pytest.mark.parametrize("method", METHODS)
def test_zero_scale_and_nonfinite_pixels_warn_nothing(method):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = image.scale_and_translate(np.ones((4, 5)), (3, 3), (0, 1), np.array([0.0, 1.0]),
                                        np.array([0.0, 0.0]), method)
        np.testing.assert_array_equal(out, 0)  # every sample maps off the image, as JAX's
        assert np.isnan(image.resize(np.array([np.nan, 1.0, 2.0]), (5,), method)).all()


def test_float16_images_use_float32_weights():
    """A long antialiased downsample sums many small weights: float16 ones would be off
    by about 1% (JAX builds them in float32 too)."""
    out = image.resize(np.ones(1000, np.float16), (7,), "lanczos3")
    assert out.dtype == np.float16
    np.testing.assert_array_equal(out, 1)


def test_vmap_over_per_image_scales_and_translations():
    rng = np.random.default_rng(7)
    xs, ss, ts = rng.standard_normal((4, 5, 6)), rng.uniform(0.5, 2, (4, 2)), rng.uniform(-1, 1, (4, 2))
    f = lambda x, s, t: image.scale_and_translate(x, (7, 4), (0, 1), s, t, "cubic")  # noqa: E731
    want = np.stack([f(*args) for args in zip(xs, ss, ts)])
    np.testing.assert_allclose(fnad.vmap(f)(xs, ss, ts), want, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(fnad.jit(fnad.vmap(f))(xs, ss, ts), want, rtol=1e-12, atol=1e-14)
