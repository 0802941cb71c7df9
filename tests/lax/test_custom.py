"""stop_gradient, custom_jvp, custom_vjp and checkpoint: the user's rules run, compose with
every transform, and checkpoint trades stored residuals for recomputation."""

from __future__ import annotations

import numpy as np
import pytest

import fnad
import fnad.numpy as fnp
from fnad.core.ir import typecheck
from fnad.interpreters.partial_eval import linearize_flat
from fnad.test_util import assert_allclose, check_grads, check_transforms, check_vmap

F32 = np.float32


def naive_log1pexp(x):
    return fnp.log(1.0 + fnp.exp(x))


@fnad.custom_jvp
def log1pexp(x):
    return fnp.log(1.0 + fnp.exp(x))


@log1pexp.defjvp
def _log1pexp_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return log1pexp(x), t * (1.0 - 1.0 / (1.0 + fnp.exp(x)))


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


# ---------------------------------------------------------------------------- stop_gradient

def test_stop_gradient_blocks_derivatives_in_both_modes() -> None:
    f = lambda x: x * fnad.stop_gradient(x)
    assert float(fnad.grad(f)(3.0)) == 3.0
    assert float(fnad.jvp(f, (3.0,), (1.0,))[1]) == 3.0
    x = np.arange(4, dtype=F32)
    assert_allclose(fnad.vmap(fnad.grad(lambda x: x * fnad.stop_gradient(x * x)))(x), x * x)


def test_stop_gradient_is_pytree_aware_and_stages() -> None:
    tree = {"a": np.ones(2, F32), "b": (np.zeros(3, F32),)}
    out = fnad.stop_gradient(tree)
    assert_allclose(out, tree)
    jaxpr = fnad.make_jaxpr(fnad.stop_gradient)(np.ones(2, F32))
    assert [e.prim.name for e in jaxpr.eqns] == ["stop_gradient"]
    typecheck(jaxpr)


# ---------------------------------------------------------------------------- custom_jvp

def test_custom_jvp_rule_runs_giving_finite_gradient_where_naive_is_nan() -> None:
    with np.errstate(all="ignore"):
        assert np.isnan(fnad.grad(naive_log1pexp)(100.0))
    assert float(fnad.grad(log1pexp)(100.0)) == 1.0
    assert float(fnad.jvp(log1pexp, (100.0,), (2.0,))[1]) == 2.0


def test_custom_jvp_values_and_second_order() -> None:
    x = 0.3
    assert_allclose(fnad.grad(log1pexp)(x), np.float32(sigmoid(x)))
    # grad(grad) differentiates the user's rule itself: sigmoid'(x)
    assert_allclose(fnad.grad(fnad.grad(log1pexp))(x), np.float32(sigmoid(x) * (1 - sigmoid(x))))
    check_grads(log1pexp, (np.array([-1.0, 0.5, 2.0]),), order=2)


def test_custom_jvp_composes_with_vmap_and_jit_staging() -> None:
    x = np.array([-2.0, 0.0, 100.0], F32)
    expected = sigmoid(x.astype(np.float64)).astype(F32)
    assert_allclose(fnad.vmap(fnad.grad(log1pexp))(x), expected)
    assert_allclose(fnad.grad(lambda v: fnp.sum(fnad.vmap(log1pexp)(v)))(x), expected)
    assert_allclose(fnad.jacfwd(log1pexp)(x), np.diag(expected))
    jaxpr = fnad.make_jaxpr(log1pexp)(x)
    assert [e.prim.name for e in jaxpr.eqns] == ["custom_jvp_call"]
    typecheck(jaxpr)
    text = str(jaxpr)
    assert "custom_jvp_call[" in text and "exp" in text  # the function prints nested
    assert_allclose(jaxpr(x)[0], log1pexp(x))


def test_custom_jvp_pytrees_and_nondiff_argnums() -> None:
    @fnad.custom_jvp
    def scaled_norm(p, scale):
        return scale * fnp.sum(p["w"] * p["w"]) + p["b"]

    @scaled_norm.defjvp
    def _(primals, tangents):
        (p, scale), (tp, _) = primals, tangents
        # a deliberately different (factor 3) derivative in w, to prove it is used
        return scaled_norm(p, scale), scale * 3.0 * fnp.sum(p["w"] * tp["w"]) + tp["b"]

    p = {"w": np.array([1.0, 2.0], F32), "b": np.array(0.5, F32)}
    g = fnad.grad(scaled_norm)(p, np.array(2.0, F32))
    assert_allclose(g, {"w": np.array([6.0, 12.0], F32), "b": np.array(1.0, F32)})

    @fnad.custom_jvp
    def power(n, x):
        return x ** n

    power_nd = fnad.custom_jvp(power.fun, nondiff_argnums=(0,))

    @power_nd.defjvp
    def _(n, primals, tangents):
        (x,), (t,) = primals, tangents
        return power_nd(n, x), 100.0 * t  # wrong on purpose: shows the rule ran with n static

    assert float(fnad.grad(lambda x: power_nd(3, x))(2.0)) == 100.0


def test_custom_jvp_closing_over_a_differentiated_value_is_a_clear_error() -> None:
    def outer(y):
        @fnad.custom_jvp
        def f(x):
            return x * y

        f.defjvp(lambda p, t: (f(*p), t[0] * y))
        return f(np.float32(2.0))

    with pytest.raises(fnad.FnadError, match="explicit argument"):
        fnad.grad(outer)(3.0)
    # an outer transform differentiates the rule's own use of the closed-over value
    assert float(fnad.grad(lambda y: fnad.grad(lambda x: _closure(x, y))(1.0))(3.0)) == 1.0


def _closure(x, y):
    @fnad.custom_jvp
    def f(x):
        return x * y

    f.defjvp(lambda p, t: (p[0] * y, t[0] * y))
    return f(x)


# ---------------------------------------------------------------------------- custom_vjp

def _clip_gradient():
    calls = []

    @fnad.custom_vjp
    def clip_grad(x):
        return x

    def fwd(x):
        return x, None

    def bwd(_, g):
        calls.append(1)
        return (fnp.minimum(fnp.maximum(g, -1.0), 1.0),)

    clip_grad.defvjp(fwd, bwd)
    return clip_grad, calls


def test_custom_vjp_bwd_runs_once_and_clips() -> None:
    clip_grad, calls = _clip_gradient()
    assert float(fnad.grad(lambda x: 5.0 * clip_grad(x))(2.0)) == 1.0
    assert len(calls) == 1
    assert float(fnad.grad(lambda x: 0.5 * clip_grad(x))(2.0)) == 0.5
    x = np.array([1.0, 2.0], F32)
    assert_allclose(fnad.grad(lambda x: fnp.sum(3.0 * clip_grad(x)))(x), np.ones(2, F32))


def test_custom_vjp_with_residuals_matches_true_derivative_in_every_mode() -> None:
    @fnad.custom_vjp
    def mysin(x):
        return fnp.sin(x)

    mysin.defvjp(lambda x: (fnp.sin(x), fnp.cos(x)), lambda cos_x, g: (cos_x * g,))
    x = np.array([0.1, 0.7, 2.0])
    assert_allclose(fnad.grad(lambda x: fnp.sum(mysin(x)))(x), np.cos(x))
    assert_allclose(fnad.vmap(fnad.grad(mysin))(x), np.cos(x))
    assert_allclose(fnad.grad(lambda x: fnp.sum(fnad.vmap(mysin)(x)))(x), np.cos(x))
    # forward mode runs the transpose of bwd, and hessian = jacfwd(jacrev)
    assert_allclose(fnad.jvp(mysin, (x,), (np.ones(3),))[1], np.cos(x))
    assert_allclose(fnad.jacfwd(mysin)(x), np.diag(np.cos(x)))
    assert_allclose(fnad.hessian(mysin)(0.7), np.float32(-np.sin(0.7)))
    check_grads(lambda x: fnp.sum(mysin(x) ** 2), (x,), order=2)


def test_custom_vjp_multiple_arguments_and_none_cotangent() -> None:
    @fnad.custom_vjp
    def f(x, y):
        return x * y

    f.defvjp(lambda x, y: (x * y, (x, y)), lambda res, g: (g * res[1], None))
    gx, gy = fnad.grad(f, argnums=(0, 1))(2.0, 3.0)
    assert float(gx) == 3.0 and float(gy) == 0.0


def test_custom_vjp_stages_nested_and_runs_from_the_jaxpr() -> None:
    clip_grad, _ = _clip_gradient()
    jaxpr = fnad.make_jaxpr(lambda x: clip_grad(x) * 2.0)(np.ones(3, F32))
    typecheck(jaxpr)
    assert "custom_vjp_call[" in str(jaxpr)
    assert_allclose(jaxpr(np.ones(3, F32))[0], 2 * np.ones(3, F32))
    g = fnad.make_jaxpr(fnad.grad(lambda x: 5.0 * clip_grad(x)))(np.float32(2.0))
    typecheck(g)
    assert_allclose(g(np.float32(2.0))[0], np.float32(1.0))


def test_custom_vjp_bad_bwd_output_is_explained() -> None:
    @fnad.custom_vjp
    def f(x):
        return x

    f.defvjp(lambda x: (x, None), lambda _, g: g)
    with pytest.raises(fnad.FnadError, match="one cotangent per differentiable argument"):
        fnad.grad(f)(1.0)


# ---------------------------------------------------------------------------- checkpoint

def _deep(x):
    for _ in range(4):
        x = fnp.sin(x) * 1.5
    return x


def _residuals(f, x):
    _, lin = linearize_flat(lambda x: [f(x)], [x])
    return lin.jaxpr.consts


def test_checkpoint_same_gradients_fewer_residuals() -> None:
    x = np.linspace(-1, 1, 64).astype(F32)
    remat = fnad.checkpoint(_deep)
    loss = lambda f: lambda x: fnp.sum(f(x) ** 2)
    assert_allclose(fnad.grad(loss(remat))(x), fnad.grad(loss(_deep))(x), atol=0, rtol=0)
    plain, saved = _residuals(_deep, x), _residuals(remat, x)
    assert len(saved) == 1 and len(plain) >= 4
    assert sum(r.nbytes for r in saved) == x.nbytes < sum(r.nbytes for r in plain)
    assert fnad.remat is fnad.checkpoint


def test_checkpoint_composes() -> None:
    x = np.array([0.3, -0.8])
    remat = fnad.checkpoint(_deep)
    assert_allclose(fnad.jvp(remat, (x,), (np.ones(2),)), fnad.jvp(_deep, (x,), (np.ones(2),)))
    assert_allclose(fnad.vmap(fnad.grad(remat))(x), fnad.vmap(fnad.grad(_deep))(x))
    assert_allclose(fnad.grad(fnad.grad(remat))(0.3), fnad.grad(fnad.grad(_deep))(0.3))
    assert_allclose(fnad.hessian(lambda v: fnp.sum(remat(v)))(x),
                    fnad.hessian(lambda v: fnp.sum(_deep(v)))(x))
    check_grads(remat, (x,), order=2)
    # closing over an outer differentiated value
    g = fnad.grad(lambda y: fnad.grad(fnad.checkpoint(lambda x: fnp.sin(x * y)))(0.5))(2.0)
    assert_allclose(g, np.float32(np.cos(1.0) - np.sin(1.0)))  # d/dy [y cos(xy)] at x=.5, y=2


def test_checkpoint_linear_jaxpr_recomputes_the_forward_pass() -> None:
    x = np.ones(3, F32)
    _, lin = linearize_flat(lambda x: [fnad.checkpoint(_deep)(x)], [x])
    typecheck(lin.jaxpr)
    (eqn,) = lin.jaxpr.eqns
    assert eqn.prim.name == "checkpoint"
    assert "sin" in [e.prim.name for e in eqn.params["jaxpr"].eqns]
    jaxpr = fnad.make_jaxpr(fnad.grad(lambda x: fnp.sum(fnad.checkpoint(_deep)(x))))(x)
    typecheck(jaxpr)


@pytest.mark.parametrize("name", ["stop_gradient", "custom_jvp", "custom_vjp", "checkpoint"])
def test_every_transform_leaves_values_unchanged(name) -> None:
    clip_grad, _ = _clip_gradient()
    f = {"stop_gradient": lambda x: fnad.stop_gradient(x) * x, "custom_jvp": log1pexp,
         "custom_vjp": lambda x: clip_grad(x) * x, "checkpoint": fnad.checkpoint(_deep)}[name]
    x = np.array([[-1.0, 0.5, 2.0], [0.1, 0.2, 0.3]], F32)
    check_transforms(f, (x,))
    for in_axes, out_axes in [(0, 0), (1, -1), (-1, 0)]:
        check_vmap(f, (x,), in_axes, out_axes)
