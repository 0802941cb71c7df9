"""fnad.scipy.signal against scipy.signal (values in every mode, method and boundary, real,
complex and integer inputs), derivatives against finite differences, jit against eager,
vmap against a loop; and fnad.numpy.convolve/correlate against NumPy on complex inputs."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal as ss

import fnad
import fnad.numpy as fnp
import fnad.scipy.signal as fs
from fnad.test_util import check_grads

SHAPES = [((7,), (3,)), ((3,), (7,)), ((6,), (4,)), ((1,), (1,)), ((5, 6), (2, 4)),
          ((2, 4), (5, 6)), ((5, 6), (3, 3)), ((4, 4), (4, 4)), ((4, 5, 3), (2, 3, 2))]
MODES = ["full", "same", "valid"]


def _random(rng, shape, kind):
    if kind == "int":
        return rng.integers(-5, 6, shape).astype(np.int32)
    x = rng.standard_normal(shape)
    return x + 1j * rng.standard_normal(shape) if kind == "complex" else x


@pytest.mark.parametrize("kind", ["float", "complex", "int"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shapes", SHAPES, ids=str)
def test_nd_matches_scipy(shapes, mode: str, kind: str) -> None:
    rng = np.random.default_rng(len(shapes[0]) + shapes[0][0])
    a, b = _random(rng, shapes[0], kind), _random(rng, shapes[1], kind)
    cases = [(fs.convolve, {"method": "direct"}, ss.convolve),
             (fs.convolve, {"method": "fft"}, ss.convolve),
             (fs.convolve, {}, ss.convolve),
             (fs.correlate, {"method": "direct"}, ss.correlate),
             (fs.correlate, {"method": "fft"}, ss.correlate),
             (fs.fftconvolve, {}, ss.fftconvolve)]
    for ours, kw, theirs in cases:
        expected = theirs(a, b, mode)
        got = ours(a, b, mode, **kw)
        # integers become floats, as in JAX (float32: the default float dtype)
        assert got.dtype == (np.float32 if kind == "int" else expected.dtype)
        np.testing.assert_allclose(got, expected, rtol=1e-6 if kind == "int" else 1e-10,
                                   atol=1e-5 if kind == "int" else 1e-10,
                                   err_msg=f"{ours.__name__} {kw}")


@pytest.mark.parametrize("boundary", ["fill", "wrap", "symm"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shapes", [((5, 6), (2, 4)), ((2, 4), (5, 6)), ((5, 6), (3, 3)),
                                    ((4, 4), (4, 4)), ((3, 2), (5, 7))], ids=str)
def test_2d_matches_scipy(shapes, mode: str, boundary: str) -> None:
    rng = np.random.default_rng(shapes[0][0] * 7 + shapes[1][1])
    for kind in ("float", "complex"):
        a, b = _random(rng, shapes[0], kind), _random(rng, shapes[1], kind)
        for fillvalue in (0, 1.5):
            for ours, theirs in [(fs.convolve2d, ss.convolve2d),
                                 (fs.correlate2d, ss.correlate2d)]:
                expected = theirs(a, b, mode, boundary=boundary, fillvalue=fillvalue)
                got = ours(a, b, mode, boundary=boundary, fillvalue=fillvalue)
                np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10,
                                           err_msg=f"{ours.__name__} {kind} {fillvalue}")


def test_fftconvolve_axes_and_dtypes() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((3, 8)), rng.standard_normal((3, 5))
    for mode in MODES:
        np.testing.assert_allclose(fs.fftconvolve(a, b, mode, axes=1),
                                   ss.fftconvolve(a, b, mode, axes=1), atol=1e-10)
        np.testing.assert_allclose(fs.fftconvolve(a, b[:1], mode, axes=-1),
                                   ss.fftconvolve(a, b[:1], mode, axes=-1), atol=1e-10)
    assert fs.fftconvolve(a.astype(np.float32), b.astype(np.float32)).dtype == np.float32
    c = (a + 1j * b[:, :1]).astype(np.complex64)
    assert fs.fftconvolve(c, c).dtype == np.complex64
    assert fs.convolve(a.astype(np.float32), b).dtype == np.float64


def test_values_at_edges() -> None:
    x = np.array([1.0, np.inf, 0.0, -2.0])
    k = np.array([1.0, 0.0])
    np.testing.assert_array_equal(fs.convolve(x, k), ss.convolve(x, k, method="direct"))
    got = fs.convolve(np.array([np.nan, 1.0, 2.0]), np.array([1.0, 1.0]), "valid")
    assert np.isnan(got[0]) and got[1] == 3.0


@pytest.mark.parametrize("fn", [fs.convolve, fs.correlate, fs.fftconvolve,
                                fs.convolve2d, fs.correlate2d])
@pytest.mark.parametrize("mode", MODES)
def test_derivatives(fn, mode: str) -> None:
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((5, 4)), rng.standard_normal((2, 3))
    check_grads(lambda a, b: fn(a, b, mode), (a, b), order=1)
    check_grads(lambda a: fn(a, b, mode, **(
        {"boundary": "wrap"} if fn in (fs.convolve2d, fs.correlate2d) else {})), (a,),
        order=1)


def test_complex_gradient_follows_the_convention() -> None:
    """grad of a real loss of a complex correlation is df/dx - i df/dy (JAX's convention):
    checked by central differences along the real and imaginary directions."""
    rng = np.random.default_rng(1)
    a = rng.standard_normal(6) + 1j * rng.standard_normal(6)
    b = rng.standard_normal(3) + 1j * rng.standard_normal(3)

    def loss(a):
        z = fs.correlate(a, b, "same")
        return fnp.sum(fnp.real(z * fnp.conj(z)))

    g = fnad.grad(loss)(a)
    eps = 1e-6
    for i in range(6):
        e = np.zeros(6)
        e[i] = eps
        dx = (loss(a + e) - loss(a - e)) / (2 * eps)
        dy = (loss(a + 1j * e) - loss(a - 1j * e)) / (2 * eps)
        np.testing.assert_allclose(g[i], dx - 1j * dy, rtol=1e-5, atol=1e-6)


def test_jit_and_vmap() -> None:
    rng = np.random.default_rng(2)
    xs, k = rng.standard_normal((4, 9)), rng.standard_normal(3)
    for fn in (fs.convolve, fs.correlate, fs.fftconvolve):
        for mode in MODES:
            f = lambda x, fn=fn, mode=mode: fn(x, k, mode)  # noqa: E731
            loop = np.stack([f(x) for x in xs])
            np.testing.assert_allclose(fnad.vmap(f)(xs), loop, atol=1e-12)
            np.testing.assert_allclose(fnad.jit(f)(xs[0]), loop[0], atol=1e-12)
    img, ker = rng.standard_normal((3, 6, 5)), rng.standard_normal((2, 2))
    f = lambda x: fs.convolve2d(x, ker, "same", boundary="symm")  # noqa: E731
    np.testing.assert_allclose(fnad.vmap(f)(img), np.stack([f(x) for x in img]), atol=1e-12)
    np.testing.assert_allclose(fnad.jit(f)(img[0]), f(img[0]), atol=1e-12)
    g = fnad.jit(lambda x, v: fs.convolve2d(x, ker, boundary="fill", fillvalue=v))
    np.testing.assert_allclose(g(img[0], 2.0),
                               ss.convolve2d(img[0], ker, boundary="fill", fillvalue=2.0))


@pytest.mark.parametrize("call, error, match", [
    (lambda: fs.convolve(np.ones(3), np.ones(2), "bogus"), ValueError, "mode must be"),
    (lambda: fs.convolve(np.ones(3), np.ones(2), method="x"), ValueError, "method must"),
    (lambda: fs.convolve(np.ones(3), np.ones((2, 2))), fnad.ShapeError, "same number"),
    (lambda: fs.correlate(np.ones(3), np.ones(0)), ValueError, "zero-size"),
    (lambda: fs.convolve(np.ones((3, 2)), np.ones((2, 3)), "valid"), fnad.ShapeError,
     "at least as large"),
    (lambda: fs.fftconvolve(np.ones((2, 3)), np.ones((3, 3)), axes=1), fnad.ShapeError,
     "not convolved"),
    (lambda: fs.convolve2d(np.ones(3), np.ones(2)), fnad.ShapeError, "2-d inputs"),
    (lambda: fs.correlate2d(np.ones((3, 3)), np.ones((2, 2)), boundary="x"), ValueError,
     "boundary must"),
    (lambda: fs.convolve2d(np.ones((3, 3)), np.ones((2, 2)), fillvalue=np.ones(2)),
     ValueError, "fillvalue must be a scalar"),
])
def test_errors(call, error, match: str) -> None:
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("n, m", [(5, 3), (3, 5), (4, 4), (1, 6)])
@pytest.mark.parametrize("mode", MODES)
def test_numpy_convolve_correlate_complex(n: int, m: int, mode: str) -> None:
    rng = np.random.default_rng(n * 10 + m)
    a = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    v = rng.standard_normal(m) + 1j * rng.standard_normal(m)
    np.testing.assert_allclose(fnp.correlate(a, v, mode), np.correlate(a, v, mode),
                               atol=1e-12)
    np.testing.assert_allclose(fnp.convolve(a, v, mode), np.convolve(a, v, mode), atol=1e-12)
    np.testing.assert_allclose(fnp.correlate(a.real, v, mode), np.correlate(a.real, v, mode),
                               atol=1e-12)
    ai, vi = np.arange(n) - 2, np.arange(m) * 3 - 1
    np.testing.assert_array_equal(fnp.correlate(ai, vi, mode), np.correlate(ai, vi, mode))


def test_docstring_examples() -> None:
    import doctest
    result = doctest.testmod(fs, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 5 and result.failed == 0
