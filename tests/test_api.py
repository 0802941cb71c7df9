"""The public transforms: signatures and pytrees, argnums, has_aux, errors, and every
composition checked against finite differences and against the other order."""

from __future__ import annotations

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fnad
import fnad.numpy as fnp
from fnad.test_util import assert_allclose, check_grads, numerical_jvp

F32, F64 = np.float32, np.float64
RNG = np.random.default_rng(0)


def rand(*shape, dtype=F64):
    return RNG.standard_normal(shape).astype(dtype)


def model(params, x):
    """A small two-layer network over a dict of parameters: the pytree workhorse."""
    h = fnp.tanh(fnp.matmul(x, params["w1"]) + params["b1"])
    return fnp.sum(fnp.sin(fnp.matmul(h, params["w2"])))


PARAMS = {"w1": rand(3, 4), "b1": rand(4), "w2": rand(4, 2)}
X = rand(5, 3)


def fd_grad(f, x, eps=1e-6):
    """Central finite-difference gradient of a scalar function of one float64 array."""
    x = np.asarray(x, F64)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = eps
        g[i] = (float(f(x + e)) - float(f(x - e))) / (2 * eps)
    return g


# ---------------------------------------------------------------------------- pytrees, argnums

def test_grad_of_a_pytree_matches_finite_differences() -> None:
    g = fnad.grad(model)(PARAMS, X)
    assert set(g) == set(PARAMS) and all(g[k].shape == PARAMS[k].shape for k in PARAMS)
    for k in PARAMS:
        def f_k(v, k=k):
            return model({**PARAMS, k: v}, X)
        assert_allclose(g[k], fd_grad(f_k, PARAMS[k]), atol=1e-6, rtol=1e-6)


def test_argnums_int_tuple_negative_and_out_of_range() -> None:
    f = lambda a, b, c: fnp.sum(a * b * b * c)
    a, b, c = rand(3), rand(3), rand(3)
    assert_allclose(fnad.grad(f, argnums=1)(a, b, c), 2 * a * b * c)
    assert_allclose(fnad.grad(f, argnums=-1)(a, b, c), a * b * b)
    ga, gc = fnad.grad(f, argnums=(0, 2))(a, b, c)
    assert_allclose((ga, gc), (b * b * c, a * b * b))
    assert isinstance(fnad.grad(f, argnums=(1,))(a, b, c), tuple)
    with pytest.raises(fnad.TransformError, match="out of range"):
        fnad.grad(f, argnums=3)(a, b, c)


def test_value_and_grad_and_has_aux() -> None:
    def f(x):
        return fnp.sum(x * x), {"norm": fnp.sqrt(fnp.sum(x * x))}

    x = rand(4)
    (value, aux), g = fnad.value_and_grad(f, has_aux=True)(x)
    assert_allclose(value, np.sum(x * x))
    assert_allclose(aux["norm"], np.linalg.norm(x))
    assert_allclose(g, 2 * x)
    g2, aux2 = fnad.grad(f, has_aux=True)(x)
    assert_allclose((g2, aux2), (g, aux))
    out, f_vjp, aux3 = fnad.vjp(f, x, has_aux=True)
    assert_allclose(f_vjp(np.float64(2.0))[0], 4 * x)
    with pytest.raises(fnad.TransformError, match="pair"):
        fnad.grad(lambda x: fnp.sum(x), has_aux=True)(x)


def test_vjp_jvp_linearize_take_and_return_pytrees() -> None:
    def f(p):
        return {"y": p["a"] * p["b"], "z": (fnp.sin(p["a"]),)}

    p = {"a": rand(3), "b": rand(3)}
    t = {"a": rand(3), "b": rand(3)}
    out, tout = fnad.jvp(f, (p,), (t,))
    assert_allclose(out, f(p))
    assert_allclose(tout, {"y": t["a"] * p["b"] + p["a"] * t["b"],
                           "z": (np.cos(p["a"]) * t["a"],)})
    out2, f_jvp = fnad.linearize(f, p)
    assert_allclose((out2, f_jvp(t)), (out, tout))
    ct = {"y": rand(3), "z": (rand(3),)}
    (ct_p,) = fnad.vjp(f, p)[1](ct)
    assert_allclose(ct_p, {"a": ct["y"] * p["b"] + np.cos(p["a"]) * ct["z"][0],
                           "b": ct["y"] * p["a"]})
    with pytest.raises(fnad.TransformError, match="structure"):
        fnad.vjp(f, p)[1]({"y": rand(3)})


def test_jacobians_and_hessian_of_pytrees() -> None:
    def f(x, y):
        return {"p": x * fnp.sum(y), "q": fnp.sum(x) * y}

    x, y = rand(3), rand(2)
    jf, jr = fnad.jacfwd(f, argnums=(0, 1))(x, y), fnad.jacrev(f, argnums=(0, 1))(x, y)
    assert_allclose(jf, jr)
    assert jf["p"][0].shape == (3, 3) and jf["q"][1].shape == (2, 2)
    assert_allclose(jf["p"][0], np.diag(np.full(3, y.sum())))
    assert_allclose(jf["p"][1], np.outer(x, np.ones(2)))
    assert_allclose(jf["q"][0], np.outer(y, np.ones(3)))
    h = fnad.hessian(lambda x: fnp.sum(x ** 3))(x)
    assert_allclose(h, np.diag(6 * x))
    hp = fnad.hessian(model)(PARAMS, X)
    assert hp["w1"]["w2"].shape == (3, 4, 4, 2)
    assert_allclose(hp["w1"]["w2"], np.transpose(hp["w2"]["w1"], (2, 3, 0, 1)), atol=1e-10)


@pytest.mark.parametrize("transform", [fnad.grad, fnad.jacfwd, fnad.jacrev, fnad.hessian])
def test_integer_inputs_are_refused_with_a_clear_error(transform) -> None:
    with pytest.raises(fnad.TransformError, match="float"):
        transform(lambda x: fnp.sum(x * x))(np.arange(3))


def test_grad_needs_a_scalar_output() -> None:
    with pytest.raises(fnad.TransformError, match=r"one scalar.*jacrev"):
        fnad.grad(lambda x: x * 2.0)(rand(3))


# ---------------------------------------------------------------------------- compositions

def f_scalar(x):
    return fnp.sum(fnp.sin(x) * fnp.exp(x / 3.0) + x ** 3 / 10.0)


def test_check_grads_of_compositions_to_order_two() -> None:
    x = rand(4)
    check_grads(f_scalar, (x,), order=2)
    check_grads(fnad.grad(f_scalar), (x,), order=1)
    check_grads(lambda p: model(p, X), (PARAMS,), order=2)


def test_grad_of_grad_against_finite_differences() -> None:
    df = fnad.grad(fnad.grad(lambda x: fnp.sin(x) * x * x))
    x = 0.7
    exact = 2 * np.sin(x) + 4 * x * np.cos(x) - x * x * np.sin(x)
    assert_allclose(df(np.float64(x)), np.float64(exact), atol=1e-10)
    third = fnad.grad(fnad.grad(fnad.grad(fnp.sin)))(np.float64(x))
    assert_allclose(third, np.float64(-np.cos(x)))


def test_hessian_vector_products_agree_in_three_orders() -> None:
    x, v = rand(5), rand(5)
    fwd_over_rev = fnad.jvp(fnad.grad(f_scalar), (x,), (v,))[1]
    rev_over_rev = fnad.grad(lambda x: fnp.sum(fnad.grad(f_scalar)(x) * v))(x)
    rev_over_fwd = fnad.grad(lambda x: fnad.jvp(f_scalar, (x,), (v,))[1])(x)
    assert_allclose(fwd_over_rev, rev_over_rev, atol=1e-10)
    assert_allclose(fwd_over_rev, rev_over_fwd, atol=1e-10)
    assert_allclose(fwd_over_rev, numerical_jvp(fnad.grad(f_scalar), (x,), (v,), 1e-6),
                    atol=1e-6, rtol=1e-6)


def test_jacfwd_of_jacrev_equals_jacrev_of_jacfwd() -> None:
    f = lambda x: fnp.tanh(fnp.sin(x) * fnp.sum(x))
    x = rand(3)
    a, b = fnad.jacfwd(fnad.jacrev(f))(x), fnad.jacrev(fnad.jacfwd(f))(x)
    assert a.shape == (3, 3, 3)
    assert_allclose(a, b, atol=1e-10)
    fd = np.stack([numerical_jvp(fnad.jacrev(f), (x,), (e,), 1e-6) for e in np.eye(3)], -1)
    assert_allclose(a, fd, atol=1e-6, rtol=1e-6)


def test_closures_over_outer_tracers_and_perturbation_confusion() -> None:
    assert float(fnad.grad(lambda x: x * fnad.grad(lambda y: x + y)(1.0))(2.0)) == 1.0
    # d/dx of (d/dy x*y^2 at y=3) = 2*3
    assert float(fnad.grad(lambda x: fnad.grad(lambda y: x * y * y)(3.0))(2.0)) == 6.0
    # an inner vmap closing over an outer grad's tracer
    xs = np.arange(3, dtype=F32)
    g = fnad.grad(lambda s: fnp.sum(fnad.vmap(lambda x: fnp.sin(s * x))(xs)))(np.float32(0.5))
    assert_allclose(g, np.float32(np.sum(xs * np.cos(0.5 * xs))))


# ---------------------------------------------------------------------------- with vmap

def test_per_example_gradients_vmap_of_grad_equals_a_loop() -> None:
    loss = lambda p, x: model(p, fnp.reshape(x, (1, 3)))
    batched = fnad.vmap(fnad.grad(loss), in_axes=(None, 0))(PARAMS, X)
    for i in range(X.shape[0]):
        assert_allclose(fnad.tree.tree_map(lambda b, i=i: b[i], batched),
                        fnad.grad(loss)(PARAMS, X[i]), atol=1e-12)


def test_grad_of_vmap_and_vmap_of_vmap_and_vmap_of_jacrev() -> None:
    x = rand(4, 3)
    g = fnad.grad(lambda x: fnp.sum(fnad.vmap(lambda r: fnp.sum(fnp.sin(r) * r))(x)))(x)
    assert_allclose(g, np.cos(x) * x + np.sin(x))
    vv = fnad.vmap(fnad.vmap(lambda a, b: a * b + 1.0, in_axes=(0, None)), in_axes=(None, 0))
    a, b = rand(3), rand(2)
    assert_allclose(vv(a, b), np.outer(b, a) + 1)
    f = lambda r: fnp.sin(r) * fnp.sum(r)
    jac = fnad.vmap(fnad.jacrev(f))(x)
    assert jac.shape == (4, 3, 3)
    for i in range(4):
        assert_allclose(jac[i], fnad.jacfwd(f)(x[i]), atol=1e-12)


def test_vmap_axes_ints_none_negative_and_pytree_prefixes() -> None:
    x = rand(2, 3)
    assert_allclose(fnad.vmap(lambda r: r * 2.0, in_axes=1)(x), (x * 2).T)
    assert_allclose(fnad.vmap(lambda r: r * 2.0, in_axes=-1, out_axes=-1)(x), x * 2)
    assert_allclose(fnad.vmap(lambda r: r * 2.0, out_axes=1)(x), (x * 2).T)
    assert_allclose(fnad.vmap(lambda r, s: r * s, in_axes=(0, None))(x, rand(3) * 0 + 2), x * 2)
    tree = {"a": rand(2, 4), "b": rand(2)}
    out = fnad.vmap(lambda t: {"s": t["a"] * t["b"], "k": t["b"]},
                    in_axes=({"a": 1, "b": None},), out_axes={"s": 0, "k": None})(tree)
    assert_allclose(out["s"], (tree["a"] * tree["b"][:, None]).T)
    assert_allclose(out["k"], tree["b"])


def test_vmap_errors_name_the_sizes_and_structures() -> None:
    with pytest.raises(fnad.TransformError) as info:
        fnad.vmap(lambda a, b: a + b)(rand(3), rand(4))
    assert "size 3" in str(info.value) and "size 4" in str(info.value)
    with pytest.raises(fnad.TransformError, match="out of range"):
        fnad.vmap(lambda a: a, in_axes=2)(rand(3, 2))
    with pytest.raises(fnad.TransformError, match="in_axes"):
        fnad.vmap(lambda a, b: a, in_axes=(0, 0, 0))(rand(3), rand(3))


# ---------------------------------------------------------------------------- properties

@settings(max_examples=15, deadline=None)
@given(hnp.arrays(F64, hnp.array_shapes(min_dims=1, max_dims=2, max_side=4),
                  elements=st.floats(-2, 2)))
def test_grad_equals_finite_differences_and_jacrev_rows(x) -> None:
    g = fnad.grad(f_scalar)(x)
    assert_allclose(g, fd_grad(f_scalar, x), atol=1e-6, rtol=1e-6)
    per_elem = lambda x: fnp.sin(x) * fnp.exp(x / 3.0) + x ** 3 / 10.0
    assert_allclose(np.diagonal(fnad.jacrev(per_elem)(x.ravel())), g.ravel(), atol=1e-12)


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4))
def test_jacfwd_and_jacrev_agree_on_random_linear_maps(n, m) -> None:
    a = rand(m, n)
    f = lambda x: fnp.matmul(a, fnp.tanh(x))
    x = rand(n)
    jf, jr = fnad.jacfwd(f)(x), fnad.jacrev(f)(x)
    assert jf.shape == jr.shape == (m, n)
    assert_allclose(jf, jr, atol=1e-12)
    assert_allclose(jf, a * (1 - np.tanh(x) ** 2)[None, :], atol=1e-12)
