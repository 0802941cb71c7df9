"""autograd's differential operators (fnad.elementwise_grad, deriv, make_vjp, ...) against
explicit Jacobians and Hessians, and autograd's `argnum` keyword of grad."""

from __future__ import annotations

import numpy as np
import pytest

import fnad
import fnad.numpy as fnp
from fnad.core.errors import DTypeError, TransformError
from fnad.test_util import assert_allclose, check_grads

RNG = np.random.default_rng(0)
A = RNG.standard_normal((3, 4))
X, V, W = RNG.standard_normal(4), RNG.standard_normal(4), RNG.standard_normal(3)


def f(x):
    return fnp.tanh(fnp.dot(A, x))


def s(x):
    return fnp.sum(fnp.sin(x) * x)


def test_elementwise_grad_and_deriv_are_the_diagonal_of_an_elementwise_jacobian():
    g = lambda a, b: a * fnp.sin(b) + fnp.cosh(b)
    expected = np.diag(fnad.jacobian(g, 1)(2.0, X))
    assert_allclose(fnad.elementwise_grad(g, 1)(2.0, X), expected)
    assert_allclose(fnad.deriv(g, 1)(2.0, X), expected)
    assert_allclose(fnad.deriv(lambda t: t ** 3)(np.float64(2.0)), np.float64(12.0))
    with pytest.raises(DTypeError):
        fnad.elementwise_grad(lambda x: x * 1j)(X)


def test_elementwise_grad_sums_the_columns_of_any_jacobian():
    assert_allclose(fnad.elementwise_grad(f)(X), fnad.jacobian(f)(X).sum(0))


def test_make_vjp_and_make_jvp_return_autograds_pairs():
    J = fnad.jacobian(f)(X)
    f_vjp, out = fnad.make_vjp(f)(X)
    assert_allclose(out, f(X))
    assert_allclose(f_vjp(W), W @ J)
    out, tangent = fnad.make_jvp(f)(X)(V)
    assert_allclose((out, tangent), (f(X), J @ V))
    f_vjp, _ = fnad.make_vjp(lambda a, b: a * b, (0, 1))(X, V)
    assert_allclose(f_vjp(W[:1].repeat(4)), (W[0] * V, W[0] * X))


def test_hessian_products_match_the_explicit_hessian():
    H = fnad.hessian(s)(X)
    assert_allclose(fnad.hessian_tensor_product(s)(X, V), H @ V)
    assert_allclose(fnad.hessian_vector_product(lambda c, x: c * s(x), 1)(2.0, X, V),
                    2.0 * H @ V)
    hvp, gradient = fnad.make_hvp(s)(X)
    assert_allclose((hvp(V), gradient), (H @ V, fnad.grad(s)(X)))
    M, Vm = RNG.standard_normal((3, 2)), RNG.standard_normal((3, 2))
    Hm = fnad.hessian(s)(M)
    assert_allclose(fnad.hessian_tensor_product(s)(M, Vm), np.tensordot(Hm, Vm))


def test_tensor_jacobian_product_contracts_the_leading_output_axes():
    g = lambda a: fnp.roll(fnp.sin(a), 1)
    a, v = RNG.standard_normal((5, 4, 3)), RNG.standard_normal((5, 4))
    J = fnad.jacobian(g)(a)
    assert_allclose(fnad.tensor_jacobian_product(g)(a, v), np.tensordot(v, J, 2))
    assert_allclose(fnad.vector_jacobian_product(f)(X, W), W @ fnad.jacobian(f)(X))


@pytest.mark.parametrize("g", [None, lambda y: fnp.sum(2.0 * y ** 2 + y ** 4)])
def test_make_ggnvp_is_jt_h_j(g):
    J = fnad.jacobian(f)(X)
    H = fnad.hessian(g or (lambda y: 0.5 * fnp.dot(y, y)))(f(X))
    ggnvp = fnad.make_ggnvp(f) if g is None else fnad.make_ggnvp(f, g)
    assert_allclose(ggnvp(X)(V), J.T @ H @ J @ V)


def test_holomorphic_grad_and_grad_and_aux():
    assert_allclose(fnad.holomorphic_grad(lambda z: z * (1.0 + 0.2j))(np.complex128(1.0)),
                    np.complex128(1.0 + 0.2j))
    grad, aux = fnad.grad_and_aux(lambda x: (s(x), x ** 2))(X)
    assert_allclose((grad, aux), (fnad.grad(s)(X), X ** 2))


def test_grad_takes_autograds_argnum_keyword():
    g = lambda a, b, c: a * fnp.sin(b) * c
    args = (np.float64(1.0), np.float64(2.0), np.float64(3.0))
    assert_allclose(fnad.grad(g, argnum=[2, 1])(*args), fnad.grad(g, argnums=(2, 1))(*args))
    assert_allclose(fnad.value_and_grad(g, argnum=1)(*args), fnad.value_and_grad(g, 1)(*args))
    with pytest.raises(TransformError, match="argnum"):
        fnad.elementwise_grad(g, 5)(*args)


def test_grad_of_a_non_float_output_is_a_type_error_as_in_jax():
    with pytest.raises(TypeError, match="float-valued"):
        fnad.grad(lambda x: fnp.allclose(x, x * 3.0 / 3.0))(X)


def test_autograds_container_names_are_pythons_and_differentiate_as_pytrees():
    from fnad import dict as ag_dict, list as ag_list, tuple as ag_tuple
    g = fnad.grad(lambda p: p["a"] * ag_tuple(p["b"])[1])(ag_dict(a=2.0, b=ag_list([1.0, 3.0])))
    assert g == {"a": 3.0, "b": [0.0, 2.0]}
    assert fnad.isinstance is isinstance and ag_tuple is tuple


@pytest.mark.parametrize("keep", [dict(keepdims=True), dict(axis=0, keepdims=True),
                                  dict(axis=1, keepdims=True)])
def test_grad_of_a_one_element_output_as_autograd_allows(keep):
    """autograd differentiates an output of any shape with one element (JAX wants shape ()):
    the gradient is that of the element, and so are its own derivatives."""
    x = RNG.standard_normal((1, 1)) if "axis" not in keep else RNG.standard_normal(
        (3, 1) if keep["axis"] == 0 else (1, 3))
    f = lambda x: fnp.sum(fnp.sin(x), **keep)
    value, g = fnad.value_and_grad(f)(x)
    assert value.shape == np.sum(x, **keep).shape
    assert_allclose(g, np.cos(x))
    assert_allclose(fnad.jit(fnad.grad(f))(x), np.cos(x))
    check_grads(lambda x: fnp.sum(fnad.grad(f)(x)))(x)
    with pytest.raises(TransformError, match="one scalar"):
        fnad.grad(lambda x: fnp.sin(x))(np.ones(2))
