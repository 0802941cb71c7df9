"""`jit_call`: jitted functions under grad, vmap, jvp, linearize and jit, compared with the
same compositions of the plain function, and checked to keep running compiled code."""

from __future__ import annotations

import numpy as np
import pytest

import fnad
import fnad.numpy as fnp
from fnad import lax
from fnad.core.ir import typecheck
from fnad.jit import executable
from fnad.jit.jit_call import jit_call_p
from fnad.test_util import assert_allclose, check_grads, check_vmap

F64 = np.float64


def f(x, y):
    return fnp.sum(fnp.tanh(x * y) * x + fnp.sin(y) / (1.0 + x * x))


jf = fnad.jit(f)
X = np.linspace(-1, 1, 6).reshape(2, 3)
Y = np.linspace(0.5, 2, 6).reshape(2, 3)


def loss_of_matrix(w, x):
    return fnp.sum(fnp.maximum(x @ w, 0.0) ** 2)


W = np.linspace(-1, 1, 12).reshape(3, 4)


@pytest.mark.parametrize("transform", [
    lambda g: fnad.grad(g),
    lambda g: fnad.grad(g, argnums=(0, 1)),
    lambda g: fnad.jit(fnad.grad(g)),
    lambda g: fnad.vmap(g),
    lambda g: fnad.vmap(g, in_axes=(1, 1)),
    lambda g: fnad.vmap(fnad.grad(g)),
    lambda g: fnad.grad(lambda x, y: fnp.sum(fnad.vmap(g)(x, y))),
    lambda g: fnad.jacfwd(g),
    lambda g: fnad.jacrev(fnad.grad(g)),
    lambda g: fnad.jit(fnad.vmap(fnad.grad(fnad.jit(g)))),
], ids=["grad", "grad-both", "jit-grad", "vmap", "vmap-axes", "vmap-grad", "grad-vmap",
        "jacfwd", "jacrev-grad", "jit-vmap-grad-jit"])
def test_transforms_of_jit_match_eager(transform) -> None:
    assert_allclose(transform(jf)(X, Y), transform(f)(X, Y))


def test_check_grads_through_jit() -> None:
    check_grads(jf, (X, Y), order=2)
    check_grads(fnad.jit(loss_of_matrix), (W, X), order=2)
    check_grads(fnad.jit(fnad.grad(jf)), (X, Y), order=1)


def test_jvp_and_linearize() -> None:
    out, tout = fnad.jvp(jf, (X, Y), (Y, X))
    want, twant = fnad.jvp(f, (X, Y), (Y, X))
    assert_allclose(out, want)
    assert_allclose(tout, twant)
    out, lin = fnad.linearize(jf, X, Y)
    _, lin_want = fnad.linearize(f, X, Y)
    assert_allclose(lin(Y, X), lin_want(Y, X))


def test_vmap_of_jit_with_several_axes() -> None:
    g = fnad.jit(lambda a, b: fnp.tanh(a) * b)
    check_vmap(g, (X, Y), in_axes=(0, 0))
    check_vmap(g, (X, Y[0]), in_axes=(0, None))
    check_vmap(g, (X, Y), in_axes=(-1, 1), out_axes=-1)


def test_grad_of_jit_stays_compiled() -> None:
    """The staged gradient is built from jit_calls, and repeated calls neither retrace the
    function nor compile anything new."""
    fnad.clear_caches()  # earlier tests' traces of f (shared by every jit(f)) and executables
    g = fnad.jit(f)
    staged = fnad.make_jaxpr(fnad.grad(g))(X, Y)
    typecheck(staged)
    assert {e.prim.name for e in staged.eqns} == {"jit_call"}
    fnad.grad(g)(X, Y)
    compiled = len(executable._executables._entries)
    for _ in range(3):
        assert_allclose(fnad.grad(g)(X, Y), fnad.grad(f)(X, Y))
        assert_allclose(fnad.vmap(g)(X, Y), fnad.vmap(f)(X, Y))
    assert g.trace_count == 2  # vmap traces g at the shape of one example
    assert len(executable._executables._entries) == compiled + 1  # the vmapped jaxpr


def test_jit_of_grad_of_jit_inlines() -> None:
    h = fnad.jit(fnad.grad(fnad.jit(f)))
    closed = h.lower(X, Y)
    typecheck(closed)
    assert "jit_call" not in {e.prim.name for e in closed.eqns}
    assert_allclose(h(X, Y), fnad.grad(f)(X, Y))


def test_closing_over_an_outer_tracer() -> None:
    def outer(a):
        return fnad.jit(lambda b: fnp.sum(fnp.sin(a) * b))(Y)

    assert_allclose(fnad.grad(outer)(X), np.cos(X) * Y)
    assert_allclose(fnad.vmap(outer)(X), np.sum(np.sin(X)[:, None, :] * Y[None], axis=(1, 2)))
    check_grads(outer, (X,), order=2)


def test_jit_with_pytrees_under_grad() -> None:
    @fnad.jit
    def model(params, x):
        return fnp.sum(fnp.tanh(x @ params["w"] + params["b"]))

    params = {"w": W, "b": np.linspace(0, 1, 4)}
    grads = fnad.grad(model)(params, X)
    want = fnad.grad(lambda p, x: fnp.sum(fnp.tanh(x @ p["w"] + p["b"])))(params, X)
    assert_allclose(grads, want)


def test_control_flow_under_grad_of_jit() -> None:
    def g(x):
        return lax.cond(fnp.sum(x) > 0, lambda v: fnp.sum(v * v), lambda v: fnp.sum(-v), x)

    jg = fnad.jit(g)
    for x in (X, -X):
        assert_allclose(fnad.grad(jg)(x), fnad.grad(g)(x))
        assert_allclose(fnad.jit(fnad.grad(jg))(x), fnad.grad(g)(x))


def test_integer_outputs_and_inputs() -> None:
    def g(x, n):
        return fnp.sum(x * n), n * 2

    jg = fnad.jit(g)
    n = np.arange(6, dtype=np.int32).reshape(2, 3)
    assert_allclose(fnad.grad(lambda x: jg(x, n)[0])(X), fnad.grad(lambda x: g(x, n)[0])(X))
    assert_allclose(fnad.vmap(jg)(X, n), fnad.vmap(g)(X, n))


def test_jit_call_abstract_eval_checks_inputs() -> None:
    closed = fnad.jit(f).lower(X, Y)
    with pytest.raises(fnad.ShapeError, match="compiled for inputs"):
        fnad.make_jaxpr(lambda a, b: jit_call_p.bind(a, b, jaxpr=closed, name="f"))(X, W)


@pytest.mark.parametrize("dtype", [np.float32, F64])
def test_matrix_function_compositions(dtype) -> None:
    w, x = W.astype(dtype), X.astype(dtype)
    jl = fnad.jit(loss_of_matrix)
    assert_allclose(fnad.grad(jl)(w, x), fnad.grad(loss_of_matrix)(w, x))
    assert_allclose(fnad.vmap(fnad.grad(jl), in_axes=(None, 0))(w, x[:, None]),
                    fnad.vmap(fnad.grad(loss_of_matrix), in_axes=(None, 0))(w, x[:, None]))
