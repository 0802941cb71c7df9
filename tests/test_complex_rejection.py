"""Complex numbers until complex support lands: a primitive whose value or derivative would be
wrong for complex operands refuses them with a DTypeError (never a NumPy ComplexWarning and a
wrong number); the holomorphic ones give NumPy's values and right derivatives; abs, var, std,
linalg.norm and vdot are complex-correct; grad of a complex-valued function refuses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import fnad
import fnad.numpy as fnp
from fnad import lax

pytestmark = pytest.mark.filterwarnings("error")  # a ComplexWarning escaping is a failure

Z = np.array([0.3 + 0.4j, -1.2 + 0.7j, 0.5 - 0.2j, 2.0 + 0.5j])  # off the branch cuts
W = np.array([0.6 - 0.1j, 0.2 + 0.9j, -0.4 - 0.3j, 1j])

REFUSED: dict[str, Callable[[Any], Any]] = {
    "abs": lax.abs, "sign": lax.sign, "floor": lax.floor, "ceil": lax.ceil,
    "round": lax.round, "cbrt": lax.cbrt, "erf": lax.erf, "erfc": lax.erfc,
    "erf_inv": lax.erf_inv, "lgamma": lax.lgamma, "digamma": lax.digamma,
    "nextafter": lambda z: lax.nextafter(z, z), "atan2": lambda z: lax.atan2(z, z),
    "rem": lambda z: lax.rem(z, z), "clamp": lambda z: lax.clamp(z[0], z, z[1]),
    "polygamma": lambda z: lax.polygamma(1, z),
    "fnp.floor": fnp.floor,
    "fnp.fmod": lambda z: fnp.fmod(z, z),
}


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
@pytest.mark.parametrize("name", list(REFUSED))
def test_primitives_that_are_not_complex_correct_refuse_complex(name: str, dtype: Any) -> None:
    """lax.erfc, lax.abs... of complex gave wrong numbers with at most a ComplexWarning."""
    with pytest.raises(fnad.DTypeError, match="complex"):
        REFUSED[name](Z.astype(dtype))
    with pytest.raises(fnad.DTypeError, match="complex"):
        fnad.jit(REFUSED[name])(Z.astype(dtype))


HOLOMORPHIC: dict[str, tuple[Callable[..., Any], Callable[..., Any], int]] = {
    name: (getattr(lax, name), ref, nargs) for name, ref, nargs in [
        ("exp", np.exp, 1), ("log", np.log, 1), ("sqrt", np.sqrt, 1),
        ("rsqrt", lambda z: 1 / np.sqrt(z), 1), ("expm1", np.expm1, 1),
        ("log1p", np.log1p, 1), ("exp2", np.exp2, 1), ("sin", np.sin, 1),
        ("cos", np.cos, 1), ("tan", np.tan, 1), ("sinh", np.sinh, 1), ("cosh", np.cosh, 1),
        ("tanh", np.tanh, 1), ("asin", np.arcsin, 1), ("acos", np.arccos, 1),
        ("atan", np.arctan, 1), ("asinh", np.arcsinh, 1), ("acosh", np.arccosh, 1),
        ("atanh", np.arctanh, 1), ("logistic", lambda z: 1 / (1 + np.exp(-z)), 1),
        ("square", np.square, 1), ("neg", np.negative, 1), ("add", np.add, 2),
        ("sub", np.subtract, 2), ("mul", np.multiply, 2), ("div", np.divide, 2),
        ("pow", np.power, 2)]}


@pytest.mark.parametrize("name", list(HOLOMORPHIC))
def test_holomorphic_primitives_give_numpys_values_and_right_derivatives(name: str) -> None:
    f, ref, nargs = HOLOMORPHIC[name]
    args = (Z, W)[:nargs]
    np.testing.assert_allclose(f(*args), ref(*args), rtol=1e-12)
    np.testing.assert_allclose(fnad.jit(f)(*args), ref(*args), rtol=1e-12)
    tangents = tuple(np.array([0.7 - 0.2j, 0.1 + 0.5j, -0.3 + 0.4j, 0.2 + 0.2j])
                     for _ in args)
    h = 1e-6
    fd = (ref(*(a + h * t for a, t in zip(args, tangents)))
          - ref(*(a - h * t for a, t in zip(args, tangents)))) / (2 * h)
    _, jt = fnad.jvp(f, args, tangents)
    np.testing.assert_allclose(jt, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_complex_reductions_and_products_match_numpy(dtype: Any) -> None:
    """var/std used the real part only, norm returned a complex number, vdot did not
    conjugate."""
    z, w = Z.astype(dtype), W.astype(dtype)
    rtol = 1e-5 if dtype == np.complex64 else 1e-12
    cases: dict[str, tuple[Callable[..., Any], Callable[..., Any]]] = {
        "var": (fnp.var, np.var), "std": (fnp.std, np.std),
        "var ddof": (lambda v: fnp.var(v, ddof=1), lambda v: np.var(v, ddof=1)),
        "abs": (fnp.abs, np.abs), "norm": (fnp.linalg.norm, np.linalg.norm),
        "norm 1": (lambda v: fnp.linalg.norm(v, 1), lambda v: np.linalg.norm(v, 1)),
        "norm inf": (lambda v: fnp.linalg.norm(v, np.inf), lambda v: np.linalg.norm(v, np.inf)),
        "matrix norm": (lambda v: fnp.linalg.norm(v.reshape(2, 2)),
                        lambda v: np.linalg.norm(v.reshape(2, 2))),
        "vdot": (lambda v: fnp.vdot(v, w), lambda v: np.vdot(v, w)),
    }
    for name, (mine, numpys) in cases.items():
        for fn in (mine, fnad.jit(mine)):
            out, expected = np.asarray(fn(z)), numpys(z)
            assert out.dtype == np.asarray(expected).dtype, name
            np.testing.assert_allclose(out, expected, rtol=rtol, err_msg=name)


def test_abs_of_complex_has_the_conjugate_in_its_derivative() -> None:
    """grad |z| = conj(z) / |z| (JAX's convention for real functions of complex input)."""
    g = fnad.grad(lambda v: fnp.sum(fnp.abs(v)))(Z)
    np.testing.assert_allclose(g, np.conj(Z) / np.abs(Z), rtol=1e-12)
    assert np.isfinite(fnad.grad(lambda v: fnp.sum(fnp.abs(v)))(np.zeros(2, complex))).all()
    assert fnp.abs(np.complex64(3e30 + 4e30j)) == pytest.approx(5e30, rel=1e-6)
    # the derivative of the variance along a complex direction, against central differences
    t, h = np.array([0.3 - 0.1j, 0.2j, -0.5 + 0.1j, 0.4 + 0.0j]), 1e-6
    fd = (np.var(Z + h * t) - np.var(Z - h * t)) / (2 * h)
    np.testing.assert_allclose(fnad.jvp(fnp.var, (Z,), (t,))[1], fd, rtol=1e-7)


@pytest.mark.parametrize("f", [lambda x: x * x * 1j, lambda x: fnp.exp(x * 1j),
                               lambda x: fnp.sum(x.astype(np.complex64))])
def test_grad_of_a_complex_valued_function_refuses(f: Callable[[Any], Any]) -> None:
    """grad returned the real part of the derivative."""
    with pytest.raises(fnad.DTypeError, match="grad requires real-valued outputs"):
        fnad.grad(f)(np.float32(0.5))


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_convert_to_real_keeps_the_real_part_without_a_warning(dtype: Any) -> None:
    """As JAX's convert_element_type (which only warns): Re z, and the derivative of Re."""
    z = Z.astype(dtype)
    real = np.float32 if dtype == np.complex64 else np.float64
    np.testing.assert_array_equal(lax.convert_element_type(z, real), z.real.astype(real))
    np.testing.assert_array_equal(fnad.jit(lambda v: lax.convert_element_type(v, real))(z),
                                  z.real.astype(real))
    g = fnad.grad(lambda v: lax.reduce_sum(lax.convert_element_type(v, real), (0,)))(z)
    np.testing.assert_allclose(g, np.ones(4))  # JAX's convention: d Re z / dz-bar -> 1
    np.testing.assert_array_equal(fnp.asarray(z, real), z.real.astype(real))
