"""The rest of the top-level API (fnad/api_extra.py): eval_shape and ShapeDtypeStruct against
real runs, linear_transpose by the dot-product identity, jacobian against finite
differences, closure_convert and custom_gradient under grad/jit/vmap, compile-time
evaluation, callbacks, and the names that only wait or label."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fnad
import fnad.api_extra
import fnad.numpy as fnp
import fnad.test_util as tu
from fnad import ShapeDtypeStruct

RNG = np.random.default_rng(7)


def test_docstring_examples_run():
    result = doctest.testmod(fnad.api_extra)
    assert result.attempted > 10 and result.failed == 0


# ---------------------------------------------------------------------------- shapes


def test_shape_dtype_struct():
    s = ShapeDtypeStruct([2, 3], "float64")
    assert s.shape == (2, 3) and s.dtype == np.float64 and s.ndim == 2 and s.size == 6
    assert len(s) == 2 and s == ShapeDtypeStruct((2, 3), np.float64)
    assert s != ShapeDtypeStruct((2, 3), np.float32) and s != ShapeDtypeStruct((3, 2), "f8")
    assert hash(s) == hash(ShapeDtypeStruct((2, 3), np.float64))
    assert repr(s) == "ShapeDtypeStruct(shape=(2, 3), dtype=float64)"
    assert ShapeDtypeStruct((), np.int32, sharding="anything").sharding == "anything"
    jaxpr = fnad.make_jaxpr(lambda x: x * 2)(ShapeDtypeStruct((4,), np.float32))
    assert [str(a) for a in jaxpr.in_avals] == ["f32[4]"]


def test_shape_dtype_struct_like_is_a_callback_spec():
    assert ShapeDtypeStruct.like(np.ones((2, 3), np.float32)) == ShapeDtypeStruct((2, 3), "f4")
    assert ShapeDtypeStruct.like(2.0).weak_type
    x = np.arange(5.0, dtype=np.float32)

    def f(v):
        spec = ShapeDtypeStruct.like(v)
        return fnad.pure_callback(lambda a: np.sin(a).astype(a.dtype), spec, v,
                                  vmap_method="sequential")

    for g in (f, fnad.jit(f), fnad.vmap(f)):
        out = g(x)
        assert out.dtype == np.float32
        np.testing.assert_allclose(out, np.sin(x), rtol=1e-6)


def _model(params, x, scale=1.0):
    h = fnp.tanh(x @ params["w"] + params["b"])
    return {"out": h.sum(-1) * scale, "hidden": h, "n": fnp.asarray(3)}


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 4), st.integers(1, 5), st.integers(1, 3),
       st.sampled_from([np.float32, np.float64]))
def test_eval_shape_matches_running(batch, features, out, dtype):
    params = {"w": np.ones((features, out), dtype), "b": np.zeros(out, dtype)}
    x = RNG.standard_normal((batch, features)).astype(dtype)
    real = _model(params, x, scale=2.0)
    abstract = fnad.eval_shape(_model, fnad.tree.map(
        lambda a: ShapeDtypeStruct(a.shape, a.dtype), params), x, scale=2.0)
    assert fnad.tree.structure(abstract) == fnad.tree.structure(real)
    for a, r in zip(fnad.tree.leaves(abstract), fnad.tree.leaves(real)):
        assert a == ShapeDtypeStruct(np.shape(r), np.asarray(r).dtype)


def test_eval_shape_computes_nothing_and_reports_errors():
    calls = []

    def f(x):
        calls.append(type(x))
        return fnp.sum(x)

    assert fnad.eval_shape(f, ShapeDtypeStruct((10**6, 10**3), np.float32)) == \
        ShapeDtypeStruct((), np.float32)
    assert calls and all(c is not np.ndarray for c in calls)
    with pytest.raises(fnad.ShapeError):
        fnad.eval_shape(lambda a, b: a @ b, ShapeDtypeStruct((2, 3), np.float32),
                        ShapeDtypeStruct((4, 5), np.float32))


# ---------------------------------------------------------------------------- derivatives


def test_jacobian_is_reverse_mode_with_aux():
    def f(x, y):
        return fnp.sin(x) * y[0] + fnp.cumsum(x) * y[1]

    x, y = RNG.standard_normal(4), RNG.standard_normal(2)
    j = fnad.jacobian(f)(x, y)
    tu.assert_allclose(j, fnad.jacfwd(f)(x, y))
    jx, jy = fnad.jacobian(f, argnums=(0, 1))(x, y)
    tu.assert_allclose(jy, fnad.jacfwd(f, argnums=1)(x, y))
    eps = 1e-6
    numeric = np.stack([(f(x + eps * e, y) - f(x - eps * e, y)) / (2 * eps)
                        for e in np.eye(4)], axis=-1)
    np.testing.assert_allclose(j, numeric, rtol=1e-6, atol=1e-8)
    (jac, aux) = fnad.jacobian(lambda x: (f(x, y), {"norm": fnp.sum(x * x)}), has_aux=True)(x)
    tu.assert_allclose(jac, j)
    np.testing.assert_allclose(aux["norm"], (x * x).sum())
    with pytest.raises(fnad.DTypeError, match="holomorphic=True requires inputs with complex"):
        fnad.jacobian(f, holomorphic=True)(x, y)


def _linear(x, y):
    """A linear map built from many primitives (slices, reshapes, sums, matmul, scans)."""
    a = fnp.cumsum(x, axis=1)[:, ::-1] * 3.0
    b = fnp.reshape(fnp.transpose(x), (-1,))[:4] - y
    return {"a": a @ np.arange(12.0).reshape(4, 3), "b": b, "s": fnp.sum(x, axis=0) + y}


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_linear_transpose_satisfies_the_dot_product_identity(seed):
    """<ct, f(x)> == <f^T(ct), x> for every x and ct: the definition of the transpose."""
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((3, 4)), rng.standard_normal(4)
    out = _linear(x, y)
    ct = fnad.tree.map(lambda o: rng.standard_normal(np.shape(o)), out)
    t = fnad.linear_transpose(_linear, ShapeDtypeStruct((3, 4), np.float64), y)
    tx, ty = t(ct)
    lhs = sum(float(np.vdot(c, o)) for c, o in zip(fnad.tree.leaves(ct), fnad.tree.leaves(out)))
    rhs = float(np.vdot(tx, x)) + float(np.vdot(ty, y))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-10)
    assert tx.shape == x.shape and ty.shape == y.shape


def test_linear_transpose_of_a_matrix_is_its_transpose_also_under_jit():
    a = RNG.standard_normal((3, 5))
    t = fnad.linear_transpose(lambda x: a @ x, np.zeros(5))
    ct = RNG.standard_normal(3)
    tu.assert_allclose(t(ct)[0], a.T @ ct)
    tu.assert_allclose(fnad.jit(lambda c: t(c)[0])(ct), a.T @ ct)
    # an input the function ignores gets a zero cotangent
    t2 = fnad.linear_transpose(lambda x, z: 2 * x, np.zeros(2), np.zeros(3))
    gx, gz = t2(np.ones(2))
    np.testing.assert_array_equal(gx, [2.0, 2.0])
    np.testing.assert_array_equal(gz, np.zeros(3))


def test_linear_transpose_rejects_nonlinear_and_bad_input():
    with pytest.raises(fnad.TransformError, match="not linear"):
        fnad.linear_transpose(fnp.sin, np.zeros(2))(np.ones(2))
    with pytest.raises(fnad.TransformError, match="not linear"):
        fnad.linear_transpose(lambda x: x * x, np.zeros(2))(np.ones(2))
    with pytest.raises(fnad.DTypeError, match="float"):
        fnad.linear_transpose(lambda x: x * 2, np.zeros(2, np.int32))
    t = fnad.linear_transpose(lambda x: (x, x), np.zeros(2))
    with pytest.raises(fnad.TransformError, match="structure"):
        t(np.ones(2))
    with pytest.raises(fnad.ShapeError, match="cotangent"):
        t((np.ones(2), np.ones(3)))


def test_closure_convert_hoists_float_tracers():
    w, idx = RNG.standard_normal(3), np.array([2, 0, 1])
    x = RNG.standard_normal(3)
    seen = {}

    def loss(s):
        fun = lambda v: fnp.sin(v * w * s)[idx] + v  # noqa: E731
        conv, consts = fnad.closure_convert(fun, np.zeros(3))
        seen["conv"], seen["n"] = conv, len(consts)  # s only: w and the index stay inside
        return fnp.sum(conv(x, *consts))

    # the hoisted tracer is an argument: the gradient reaches it
    tu.assert_allclose(fnad.grad(loss)(0.5), np.sum(np.cos(x * w * 0.5)[idx] * (x * w)[idx]))
    assert seen["n"] == 1
    tu.assert_allclose(seen["conv"](x, 2.0), np.sin(x * w * 2.0)[idx] + x)
    with pytest.raises(fnad.TransformError, match="hoisted"):
        seen["conv"](x)
    # concrete closed-over arrays are not hoisted, as in JAX
    conv, consts = fnad.closure_convert(lambda v: v * w[1], 1.0)
    assert consts == [] and float(conv(2.0)) == 2.0 * w[1]


def test_closure_convert_lets_custom_vjp_differentiate_a_closed_over_value():
    """The use JAX documents: a custom_vjp rule around a function closing over a traced
    value, made explicit so the gradient reaches it."""

    def apply_fun(f_conv, x, *consts):
        return f_conv(x, *consts)

    def fwd(f_conv, x, *consts):
        return f_conv(x, *consts), (x, consts)

    def bwd(f_conv, res, ct):
        x, consts = res
        return fnad.vjp(f_conv, x, *consts)[1](ct)

    apply = fnad.custom_vjp(apply_fun, nondiff_argnums=(0,))
    apply.defvjp(fwd, bwd)

    def loss(scale, x):
        f_conv, consts = fnad.closure_convert(lambda v: fnp.sum(fnp.exp(v * scale)), x)
        return apply(f_conv, x, *consts)

    x = RNG.standard_normal(4)
    tu.assert_allclose(fnad.grad(loss)(0.7, x), float(np.sum(x * np.exp(0.7 * x))))
    tu.check_grads(loss, (0.7, x), order=1)


def test_custom_gradient_uses_the_given_rule():
    @fnad.custom_gradient
    def f(x, y):
        return x * y, lambda g: (g * 10.0, g * fnp.cos(x))  # not the true gradient

    x, y = np.float64(0.4), np.float64(-1.5)
    gx, gy = fnad.grad(f, argnums=(0, 1))(x, y)
    assert float(gx) == 10.0 and float(gy) == np.cos(0.4)
    np.testing.assert_allclose(f(x, y), x * y)
    xs, ys = RNG.standard_normal(5), RNG.standard_normal(5)
    np.testing.assert_allclose(fnad.vmap(fnad.grad(f))(xs, ys), 10.0 * np.ones(5))
    np.testing.assert_allclose(fnad.jit(fnad.grad(f, argnums=1))(x, y), np.cos(0.4))
    # vjp of a single argument may return the bare cotangent; outputs may be pytrees
    @fnad.custom_gradient
    def split(v):
        return {"a": v * 2, "b": fnp.sum(v)}, lambda ct: ct["a"] + ct["b"] * 0

    v = RNG.standard_normal(3)
    g = fnad.grad(lambda v: fnp.sum(split(v)["a"]) + split(v)["b"])(v)
    np.testing.assert_allclose(g, np.ones(3))


def test_custom_gradient_rule_closing_over_residuals_under_jit():
    @fnad.custom_gradient
    def log1pexp(x):
        e = fnp.exp(x)
        return fnp.log1p(e), lambda g: (g * e / (1 + e),)  # closes over e, computed once

    x = RNG.standard_normal(6)
    g = fnad.jit(fnad.vmap(fnad.grad(log1pexp)))(x)
    tu.assert_allclose(g, 1 / (1 + np.exp(-x)))
    tu.check_grads(log1pexp, (x,), order=1, modes=("rev",))


# ---------------------------------------------------------------------------- evaluation


def test_ensure_compile_time_eval_gives_concrete_values_under_jit():
    seen = []

    @fnad.jit
    def f(x):
        with fnad.ensure_compile_time_eval():
            table = fnp.cumsum(fnp.arange(5.0))
            seen.append(type(table))
            k = int(fnp.argmax(table))
        return x * table[k]

    np.testing.assert_allclose(f(np.float32(2.0)), 20.0)
    assert seen == [np.ndarray]
    # a traced value is traced as outside the block, as in JAX
    assert float(fnad.jit(lambda x: _compile_time(lambda: x + 1))(1.0)) == 2.0


def _compile_time(thunk):
    with fnad.ensure_compile_time_eval():
        return thunk()


def test_block_until_ready_and_names():
    tree = {"a": np.ones(2), "b": [np.float32(1.0)]}
    assert fnad.block_until_ready(tree) is tree
    with pytest.raises(fnad.ConcretizationError, match="block_until_ready"):
        fnad.jit(fnad.block_until_ready)(np.ones(2))
    f = fnad.named_call(lambda x: fnp.sin(x) * 2, name="twice_sin")
    assert f.__name__ == "twice_sin"
    x = RNG.standard_normal(3)
    tu.assert_allclose(fnad.jit(f)(x), np.sin(x) * 2)
    tu.assert_allclose(fnad.grad(lambda x: fnp.sum(f(x)))(x), 2 * np.cos(x))
    with fnad.named_scope("layer1"):
        y = fnp.exp(x)
    tu.assert_allclose(y, np.exp(x))
    with pytest.raises(fnad.TransformError, match="string"):
        with fnad.named_scope(3):
            pass


def test_pure_callback_on_concrete_values():
    out = fnad.pure_callback(lambda x, k: (np.sort(x)[::-1][:k], np.argsort(x)),
                             (ShapeDtypeStruct((2,), np.float32),
                              ShapeDtypeStruct((4,), np.int64)),
                             np.array([3.0, 1.0, 4.0, 2.0]), k=2)
    np.testing.assert_array_equal(out[0], [4.0, 3.0])
    assert out[0].dtype == np.float32
    np.testing.assert_array_equal(out[1], [1, 3, 0, 2])
    with pytest.raises(fnad.ShapeError, match="shape"):
        fnad.pure_callback(lambda x: x, ShapeDtypeStruct((3,), np.float64), np.ones(2))
    with pytest.raises(fnad.TransformError, match="structure"):
        fnad.pure_callback(lambda x: (x, x), ShapeDtypeStruct((2,), np.float64), np.ones(2))
    # under transforms: tests/test_pure_callback.py

    @fnad.jit
    def f(x):
        with fnad.ensure_compile_time_eval():
            c = fnad.pure_callback(lambda n: np.arange(n) ** 2, np.zeros(3, np.int32), 3)
        return x + c

    np.testing.assert_array_equal(f(np.zeros(3, np.int32)), [0, 1, 4])
