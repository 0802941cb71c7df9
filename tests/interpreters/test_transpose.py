"""Transposition: the backward pass over a linear jaxpr, and transpose_jaxpr."""

from __future__ import annotations

import numpy as np
import pytest

import fnad
import fnad.numpy as fnp
from fnad.core.ir import typecheck
from fnad.core.primitive import Zero
from fnad.interpreters.partial_eval import linearize_flat
from fnad.interpreters.transpose import UndefinedPrimal, backward_pass, transpose_jaxpr
from fnad.test_util import assert_allclose

F32 = np.float32


def _dense(rng, *shape):
    return rng.standard_normal(shape).astype(np.float64)


def test_transpose_is_the_adjoint_of_the_linear_map() -> None:
    rng = np.random.default_rng(0)
    w, x = _dense(rng, 4, 3), _dense(rng, 3)
    f = lambda x: [fnp.tanh(fnp.matmul(w, x)) * 2.0, fnp.sum(x * x)]
    _, lin = linearize_flat(f, [x])
    t, u = _dense(rng, 3), [_dense(rng, 4), np.float64(0.7)]
    (ct,) = backward_pass(lin.jaxpr.jaxpr, lin.jaxpr.consts, [UndefinedPrimal(lin.in_avals[0])], u)
    jt = lin(t)
    assert np.dot(ct, t) == pytest.approx(np.dot(jt[0], u[0]) + jt[1] * u[1], rel=1e-12)


def test_backward_pass_gives_zero_for_unreached_inputs_and_evaluates_forward_eqns() -> None:
    x = np.ones(2, F32)
    closed = fnad.make_jaxpr(lambda a, b, c: fnp.sin(c) * a)(x, x, x)
    av = closed.in_avals
    cts = backward_pass(closed.jaxpr, closed.consts,
                        [UndefinedPrimal(av[0]), UndefinedPrimal(av[1]), x * 0.5], [x])
    assert_allclose(cts[0], np.sin(x * 0.5))
    assert type(cts[1]) is Zero and cts[2] is None


def test_transpose_jaxpr_of_a_linear_jaxpr() -> None:
    w = np.arange(6, dtype=F32).reshape(2, 3)
    closed = fnad.make_jaxpr(lambda s, x: fnp.matmul(w, x) * s)(np.float32(1), np.ones(3, F32))
    t = transpose_jaxpr(closed, [False, True])
    typecheck(t)
    assert [a.shape for a in t.in_avals] == [(), (2,)] and t.out_avals[0].shape == (3,)
    ct = np.array([1.0, -1.0], F32)
    assert_allclose(t(np.float32(2.0), ct)[0], 2.0 * w.T @ ct)


def test_grad_jaxpr_has_no_identity_leftovers() -> None:
    def f(x):
        return fnp.sum(fnp.sin(x) * x)

    for g, arg in [(fnad.grad(f), np.ones(3, F32)),
                   (fnad.grad(lambda x: x * x), np.float32(2.0)),
                   (fnad.grad(lambda w: fnp.sum(fnp.tanh(fnp.matmul(w, np.ones(3, F32))))),
                    np.ones((4, 3), F32))]:
        jaxpr = fnad.make_jaxpr(g)(arg)
        ones = {id(e.outputs[0]) for e in jaxpr.eqns
                if e.prim.name == "broadcast_in_dim" and repr(e.inputs[0]) == "1.0"}
        for e in jaxpr.eqns:
            literals = [repr(a) for a in e.inputs if not hasattr(a, "eqns")]
            assert not (e.prim.name == "mul" and ("1.0" in literals
                                                  or any(id(a) in ones for a in e.inputs))), jaxpr
            assert not (e.prim.name == "add" and "0.0" in literals), jaxpr
