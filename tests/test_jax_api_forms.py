"""JAX spellings found by running JAX's tutorials: `jit` as a decorator factory,
`custom_jvp.defjvps`, `scan` without xs."""

from __future__ import annotations

import numpy as np
import pytest

import fnad
import fnad.numpy as fnp
from fnad import lax
from fnad.test_util import check_grads


def test_jit_without_a_function_is_a_decorator() -> None:
    @fnad.jit(static_argnames="n")
    def power(x, n):
        return x ** n

    np.testing.assert_array_equal(power(np.full(2, 2.0), n=3), [8.0, 8.0])
    assert power.trace_count == 1
    power(np.full(2, 3.0), n=3)
    assert power.trace_count == 1  # n static, x of the same shape: no retrace
    np.testing.assert_array_equal(fnad.jit(static_argnums=1)(lambda x, n: x * n)(np.ones(2), 4),
                                  [4.0, 4.0])


def test_defjvps_sums_one_rule_per_argument() -> None:
    @fnad.custom_jvp
    def f(x, y):
        return fnp.sin(x) * y

    f.defjvps(lambda xt, ans, x, y: fnp.cos(x) * xt * y, lambda yt, ans, x, y: fnp.sin(x) * yt)
    check_grads(f, (np.float64(0.5), np.float64(2.0)), order=2)

    @fnad.custom_jvp
    def g(x, y):
        return x * y

    g.defjvps(None, lambda yt, ans, x, y: x * yt)  # declared constant in x
    assert fnad.grad(g)(2.0, 3.0) == 0.0 and fnad.grad(g, 1)(2.0, 3.0) == 2.0

    @fnad.custom_jvp
    def h(x):
        return fnp.exp(x)

    h.defjvps(None)
    assert fnad.grad(h)(1.0) == 0.0
    with pytest.raises(fnad.FnadError, match="defjvps cannot be used with nondiff_argnums"):
        fnad.custom_jvp(lambda n, x: x, nondiff_argnums=(0,)).defjvps(None)


def test_scan_with_length_and_no_xs() -> None:
    carry, ys = lax.scan(lambda c, x: (c * 2, c), np.float32(1), length=4)
    assert carry == 16 and list(ys) == [1, 2, 4, 8]
    with pytest.raises(fnad.FnadError, match="length="):
        lax.scan(lambda c, x: (c, c), 0.0)


def test_weak_carries_that_feed_each_other_settle() -> None:
    """Newton's sqrt(2) on Python-float carries (JAX's fixed-point tutorial): the first
    carry takes the second's type one trace after the second takes the body's."""
    c = lax.while_loop(lambda c: abs(c[0] - c[1]) > 1e-6,
                       lambda c: (c[1], 0.5 * (c[1] + 2.0 / c[1])), (2.0, 1.5))
    assert [x.dtype for x in c] == [np.float32, np.float32]
    np.testing.assert_allclose(c, [np.sqrt(2)] * 2, rtol=1e-6)
    fib = lax.fori_loop(0, 3, lambda i, c: (c[1], c[0] + c[1]), (0.0, 1.0))
    assert [float(v) for v in fib] == [2.0, 3.0]
    strong = lax.fori_loop(0, 5, lambda i, c: (c[1], c[0] * np.float64(2)), (1.0, 1.0))
    assert [v.dtype for v in strong] == [np.float64, np.float64]
    _, ys = lax.scan(lambda c, x: ((c[1], c[0] + x), c[0]), (0.0, 1.0),
                     np.ones(3, np.float64))
    assert ys.dtype == np.float64


def test_jit_of_the_same_function_shares_its_traces() -> None:
    """`jit(f)(x)` in a loop (a wrapper made per call) traces once per signature, as
    JAX's does; other options, or another function, trace anew."""
    traced = []

    def f(x):
        traced.append(x.shape)
        return x * 2

    for i in range(4):
        np.testing.assert_array_equal(fnad.jit(f)(np.full(3, float(i))), np.full(3, 2.0 * i))
    assert len(traced) == 1
    fnad.jit(f)(np.ones(2))  # a new shape
    fnad.jit(f, donate_argnums=0)(np.ones(2))  # other options
    fnad.jit(lambda x: f(x))(np.ones(2))  # another function (f traced inside it)
    assert len(traced) == 4
    fnad.clear_caches()
    fnad.jit(f)(np.ones(2))
    assert len(traced) == 5


def test_custom_jvp_with_python_control_flow_runs_on_values_under_eager_grad() -> None:
    """JAX's custom-derivatives tutorial: a custom_jvp function and rule that branch in
    Python on the argument's value work under grad and jvp of eager code (the rule runs on
    the concrete primals), and fail clearly under jit."""

    @fnad.custom_jvp
    def g(x):
        return fnp.sin(x) if x > 0 else fnp.cos(x)

    @g.defjvp
    def g_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return g(x), (2 * t if x > 0 else 3 * t)

    assert fnad.grad(g)(1.0) == 2.0 and fnad.grad(g)(-1.0) == 3.0
    out, tangent = fnad.jvp(g, (1.0,), (1.0,))
    assert out.dtype == np.float32 and tangent == 2.0  # weak Python numbers stay float32
    value, grad = fnad.value_and_grad(lambda x: g(x) * x)(np.float64(2.0))
    np.testing.assert_allclose([value, grad], [2 * np.sin(2.0), np.sin(2.0) + 4.0])
    with pytest.raises(fnad.ConcretizationError):
        fnad.jit(g)(1.0)


def test_custom_jvp_with_python_control_flow_under_higher_order_derivatives() -> None:
    """The rule runs on values at every order, so grad of grad differentiates the rule's
    tangent (as JAX's: these numbers are JAX 0.10.2's), and Python numbers passed to the
    function stay weak numbers for the rule."""

    @fnad.custom_jvp
    def f(x, y):
        return fnp.sin(x) * y if x > 0 else x ** 2 * y

    @f.defjvp
    def f_jvp(primals, tangents):
        (x, y), (tx, ty) = primals, tangents
        if x > 0:
            return f(x, y), 3.0 * x * x * tx + fnp.sin(x) * ty
        return f(x, y), fnp.exp(x) * tx + x ** 2 * ty

    g = lambda x: f(x, 1.5)  # noqa: E731
    for x, want in ((0.7, [1.47, 4.2, 4.2, 4.2, 6.0]), (-0.4, [np.exp(-0.4)] * 5)):
        got = [fnad.grad(g)(x), fnad.grad(fnad.grad(g))(x), fnad.jacfwd(fnad.grad(g))(x),
               fnad.hessian(g)(x), fnad.grad(fnad.grad(fnad.grad(g)))(x)]
        np.testing.assert_allclose(got, want, rtol=1e-5)
    assert fnad.grad(lambda y: fnad.grad(lambda x: f(x, y))(0.7))(1.5) == 0.0


def test_numpy_functions_that_call_array_methods_work_on_tracers() -> None:
    """NumPy hands np.sum, np.mean, np.reshape... to the array's method, so they work on
    JAX's tracers; they give fnad.numpy's results on fnad's. Other NumPy functions raise."""
    x = np.arange(6.0).reshape(2, 3)

    def f(v):
        return (np.sum(v) + np.mean(v, axis=0).sum() + np.max(v, axis=1).sum()
                + np.clip(v, 0, 1).sum() + np.reshape(v, (-1,))[4] + np.transpose(v)[2, 0]
                + np.std(v) + np.argmax(v) + np.cumsum(v)[-1] + np.take(v, 3))

    want = f(x)
    np.testing.assert_allclose(fnad.jit(f)(x), want)
    np.testing.assert_allclose(fnad.vmap(lambda v: np.sum(v * v))(x), (x * x).sum(1))
    check_grads(lambda v: np.sum(np.reshape(v, (3, 2)) ** 2) + np.mean(v), (x,), order=2)
    with pytest.raises(TypeError, match="fnad.numpy.sin"):
        fnad.jit(lambda v: np.sin(v))(x)
    with pytest.raises(TypeError, match="fnad.numpy.concatenate"):
        fnad.jit(lambda v: np.concatenate([v, v]))(x)
