"""Staging: trace_to_jaxpr, constants and literals, dead code elimination."""

from __future__ import annotations

import numpy as np

import fnad.numpy as fnp
from fnad.core.ir import Literal, ShapedArray, typecheck
from fnad.interpreters.staging import dead_code_elimination, trace_to_jaxpr
from fnad.test_util import assert_allclose

F32 = np.float32


def test_outside_values_become_constants_and_scalars_literals() -> None:
    w = np.arange(3, dtype=F32)
    closed = trace_to_jaxpr(lambda x: [x * w + np.float32(2.0)], [ShapedArray((3,), F32)])
    typecheck(closed)
    assert len(closed.consts) == 1 and closed.consts[0] is w
    assert any(isinstance(a, Literal) for e in closed.eqns for a in e.inputs)
    assert_allclose(closed(np.ones(3, F32))[0], w + 2)


def test_the_same_constant_is_one_constvar() -> None:
    w = np.ones(3, F32)
    closed = trace_to_jaxpr(lambda x: [x * w + w], [ShapedArray((3,), F32)])
    assert len(closed.jaxpr.constvars) == 1


def test_outputs_may_be_inputs_or_constants() -> None:
    w = np.ones(2, F32)
    closed = trace_to_jaxpr(lambda x: [x, w], [ShapedArray((2,), F32)])
    assert closed.eqns == [] and closed.jaxpr.outvars[0] is closed.jaxpr.invars[0]
    assert_allclose(closed(np.zeros(2, F32)), [np.zeros(2, F32), w])


def test_dead_code_elimination_keeps_what_outputs_need() -> None:
    closed = trace_to_jaxpr(lambda x: [fnp.sin(x), fnp.cos(x) * 2.0][:1] + [fnp.exp(x)],
                            [ShapedArray((2,), F32)])
    eqns = dead_code_elimination(closed.eqns, closed.jaxpr.outvars[:1])
    assert [e.prim.name for e in eqns] == ["sin"]
