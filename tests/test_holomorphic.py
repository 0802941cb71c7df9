"""holomorphic=True on grad, value_and_grad, jacfwd, jacrev, jacobian and hessian: the
complex derivative f'(z), checked against analytic derivatives and against central
differences taken along both the real and the imaginary direction (equal only for a
holomorphic f); and the dtype errors JAX gives without it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fnad
import fnad.numpy as fnp

# (f, f') pairs, holomorphic on the points drawn below (away from 0 for 1/z and log)
FUNCS = {
    "square": (lambda z: z * z, lambda z: 2 * z),
    "cube_plus": (lambda z: z ** 3 + 2j * z, lambda z: 3 * z ** 2 + 2j),
    "sin": (fnp.sin, np.cos),
    "exp": (fnp.exp, np.exp),
    "reciprocal": (lambda z: 1 / z, lambda z: -1 / z ** 2),
    "log": (fnp.log, lambda z: 1 / z),
    "sin_exp": (lambda z: fnp.sin(fnp.exp(z)), lambda z: np.cos(np.exp(z)) * np.exp(z)),
}


def _central(f, z, direction, h=1e-6):
    """(f(z + h d) - f(z - h d)) / (2 h d): the derivative along d, in float64/complex128."""
    d = h * direction
    return (np.asarray(f(z + d)) - np.asarray(f(z - d))) / (2 * d)


def test_grad_of_square_is_conj_free() -> None:
    g = fnad.grad(lambda z: z ** 2, holomorphic=True)(1 + 1j)
    assert g == 2 + 2j
    assert g.dtype == np.complex64  # a Python complex is weak: the default complex dtype
    g128 = fnad.grad(lambda z: z ** 2, holomorphic=True)(np.complex128(1 + 1j))
    assert g128.dtype == np.complex128 and g128 == 2 + 2j


points = st.complex_numbers(min_magnitude=0.3, max_magnitude=2.0, allow_nan=False,
                            allow_infinity=False)


@settings(max_examples=15, deadline=None)
@given(z=points, name=st.sampled_from(sorted(FUNCS)))
def test_grad_matches_analytic_and_complex_differences(z: complex, name: str) -> None:
    f, df = FUNCS[name]
    z = np.complex128(z)
    value, g = fnad.value_and_grad(f, holomorphic=True)(z)
    np.testing.assert_allclose(value, np.asarray(f(z)), rtol=1e-12)
    np.testing.assert_allclose(g, df(z), rtol=1e-10, atol=1e-12)
    if name == "log" and z.real < 0 and abs(z.imag) < 1e-4:
        return  # a difference across log's branch cut (the negative real axis) jumps by 2 pi i
    for direction in (1.0, 1j):  # equal along both: the Cauchy-Riemann equations
        np.testing.assert_allclose(g, _central(f, z, direction), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", sorted(FUNCS))
def test_grad_of_real_part_is_the_complex_derivative(name: str) -> None:
    """The bridge to the non-holomorphic convention: grad(Re f) = u_x - i u_y = f'(z) by
    Cauchy-Riemann, so both conventions agree where they meet."""
    f, df = FUNCS[name]
    z = np.complex128(0.7 - 1.1j)
    np.testing.assert_allclose(fnad.grad(lambda z: fnp.real(f(z)))(z), df(z), rtol=1e-10)
    np.testing.assert_allclose(fnad.grad(f, holomorphic=True)(z), df(z), rtol=1e-10)


def test_grad_argnums_has_aux_jit_and_vmap() -> None:
    def f(a, b):
        return a * fnp.exp(b) + b ** 2, fnp.real(a)

    a, b = np.complex128(0.5 + 2j), np.complex128(-1 + 0.3j)
    (ga, gb), aux = fnad.grad(f, argnums=(0, 1), has_aux=True, holomorphic=True)(a, b)
    np.testing.assert_allclose(ga, np.exp(b), rtol=1e-12)
    np.testing.assert_allclose(gb, a * np.exp(b) + 2 * b, rtol=1e-12)
    assert aux == a.real
    g = fnad.grad(lambda z: fnp.sin(z) * z, holomorphic=True)
    zs = np.array([0.1 + 1j, 2 - 0.5j, -1 + 0j])
    expected = np.array([g(z) for z in zs])
    np.testing.assert_allclose(expected, np.cos(zs) * zs + np.sin(zs), rtol=1e-12)
    np.testing.assert_allclose(fnad.jit(g)(zs[0]), expected[0], rtol=1e-12)
    np.testing.assert_allclose(fnad.vmap(g)(zs), expected, rtol=1e-12)


def _vector_fn(z):
    m = np.array([[1 + 2j, 0.5, -1j], [0.3 - 1j, 2.0, 1 + 1j]])
    return fnp.exp(m @ z) + z[0] * z[1:]


def _vector_jac(z):
    m = np.array([[1 + 2j, 0.5, -1j], [0.3 - 1j, 2.0, 1 + 1j]])
    jac = np.exp(m @ z)[:, None] * m
    jac[0, 0] += z[1]
    jac[0, 1] += z[0]
    jac[1, 0] += z[2]
    jac[1, 2] += z[0]
    return jac


def test_jacfwd_equals_jacrev_analytic_and_differences() -> None:
    z = np.array([0.2 + 0.1j, -0.4 + 0.3j, 0.5 - 0.2j])
    jf = fnad.jacfwd(_vector_fn, holomorphic=True)(z)
    jr = fnad.jacrev(_vector_fn, holomorphic=True)(z)
    jj = fnad.jacobian(_vector_fn, holomorphic=True)(z)
    assert jf.shape == jr.shape == (2, 3) and jf.dtype == np.complex128
    np.testing.assert_allclose(jf, _vector_jac(z), rtol=1e-12)
    np.testing.assert_allclose(jr, jf, rtol=1e-12)
    np.testing.assert_allclose(jj, jf, rtol=1e-12)
    for direction in (1.0, 1j):
        cols = [_central(lambda s, e=e: np.asarray(_vector_fn(z + s * e)), 0.0, direction)
                for e in np.eye(3)]
        np.testing.assert_allclose(jf, np.stack(cols, axis=-1), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(fnad.jit(fnad.jacrev(_vector_fn, holomorphic=True))(z), jf,
                               rtol=1e-12)


def test_jacobians_of_pytrees_argnums_and_hessian() -> None:
    def f(z, w):
        return {"p": z * w[0], "q": fnp.sum(z ** 2) * w}

    z = np.array([1 + 1j, 2 - 1j])
    w = np.array([0.5j, 1.5 + 0j])
    jf = fnad.jacfwd(f, argnums=(0, 1), holomorphic=True)(z, w)
    jr = fnad.jacrev(f, argnums=(0, 1), holomorphic=True)(z, w)
    for k in ("p", "q"):
        for i in range(2):
            np.testing.assert_allclose(jf[k][i], jr[k][i], rtol=1e-12)
    np.testing.assert_allclose(jf["p"][0], w[0] * np.eye(2))
    np.testing.assert_allclose(jf["q"][0], np.outer(w, 2 * z))
    h = fnad.hessian(lambda z: fnp.sum(z ** 3) + z[0] * z[1], holomorphic=True)(z)
    np.testing.assert_allclose(h, np.diag(6 * z) + np.array([[0, 1], [1, 0]]), rtol=1e-12)


def test_jacfwd_and_hessian_has_aux() -> None:
    x = np.array([1.0, 2.0])
    jac, aux = fnad.jacfwd(lambda x: (x ** 2, {"s": fnp.sum(x)}), has_aux=True)(x)
    np.testing.assert_allclose(jac, np.diag(2 * x))
    np.testing.assert_allclose(aux["s"], 3.0)
    hess, aux = fnad.hessian(lambda x: (fnp.sum(x ** 3), x[0]), has_aux=True)(x)
    np.testing.assert_allclose(hess, np.diag(6 * x))
    assert aux == 1.0
    with pytest.raises(fnad.TransformError, match="has_aux=True"):
        fnad.jacfwd(lambda x: x, has_aux=True)(x)


def test_non_holomorphic_real_output_keeps_the_conjugate_convention() -> None:
    z = np.array([3 + 4j, -1 + 0.5j])
    g = fnad.grad(lambda z: fnp.sum(fnp.real(z * fnp.conj(z))))(z)
    np.testing.assert_allclose(g, 2 * np.conj(z))
    np.testing.assert_allclose(fnad.jacrev(lambda z: fnp.real(z * fnp.conj(z)))(z),
                               np.diag(2 * np.conj(z)))


@pytest.mark.parametrize("call, match", [
    (lambda: fnad.grad(lambda z: z * z)(1 + 1j), "grad requires real-valued outputs"),
    (lambda: fnad.value_and_grad(lambda x: x * 1j)(1.0), "grad requires real-valued outputs"),
    (lambda: fnad.jacrev(lambda x: x * 1j)(np.ones(2)), "jacrev requires real-valued outputs"),
    (lambda: fnad.jacfwd(lambda z: z)(np.ones(2, np.complex64)),
     "jacfwd requires real-valued inputs"),
    (lambda: fnad.grad(lambda x: x * x, holomorphic=True)(1.0),
     "holomorphic=True requires inputs with complex dtype, got float32"),
    (lambda: fnad.jacfwd(lambda x: x, holomorphic=True)(np.ones(2)),
     "jacfwd with holomorphic=True requires inputs"),
    (lambda: fnad.jacrev(lambda x: x, holomorphic=True)(np.ones(2)),
     "jacrev with holomorphic=True requires inputs"),
    (lambda: fnad.grad(fnp.real, holomorphic=True)(1j),
     "grad with holomorphic=True requires outputs with complex dtype"),
    (lambda: fnad.jacfwd(fnp.abs, holomorphic=True)(np.ones(2, np.complex64)),
     "jacfwd with holomorphic=True requires outputs"),
    (lambda: fnad.jacrev(fnp.abs, holomorphic=True)(np.ones(2, np.complex64)),
     "jacrev with holomorphic=True requires outputs"),
])
def test_dtype_errors(call, match: str) -> None:
    with pytest.raises(fnad.DTypeError, match=match):
        call()
