"""Partial evaluation: linearize runs known work now and stages the linear part, whose
constants are the residuals; the jaxpr -> jaxpr split used by primitives with bodies."""

from __future__ import annotations

import numpy as np

import fnad
import fnad.numpy as fnp
from fnad.core.ir import typecheck
from fnad.core.primitive import Zero
from fnad.interpreters.partial_eval import linearize_flat, partial_eval_jaxpr
from fnad.test_util import assert_allclose

F32 = np.float32


def test_linearize_stages_only_tangent_work_with_residual_constants() -> None:
    x = np.array([0.5, 1.0, 1.5], F32)
    outs, lin = linearize_flat(lambda x: [fnp.sin(x) * x], [x])
    assert_allclose(outs[0], np.sin(x) * x)
    typecheck(lin.jaxpr)
    names = [e.prim.name for e in lin.jaxpr.eqns]
    assert "sin" not in names and "cos" not in names  # forward work ran already
    assert_allclose(sorted(map(tuple, lin.jaxpr.consts)), sorted(map(tuple, [np.cos(x), x,
                                                                            np.sin(x)])))
    t = np.ones(3, F32)
    assert_allclose(lin(t)[0], np.cos(x) * x + np.sin(x))


def test_linearize_masks_integer_inputs_and_constant_outputs() -> None:
    x, n = np.ones(2, F32), np.array([1, 2], np.int32)
    outs, lin = linearize_flat(lambda x, n: [x * 2.0, n * 2, np.ones(2, F32)], [x, n])
    assert lin.in_mask == [True, False] and lin.out_mask == [True, False, False]
    touts = lin(np.ones(2, F32), Zero(lin.in_avals[1]))
    assert_allclose(touts[0], 2 * np.ones(2, F32))
    assert type(touts[1]) is Zero and type(touts[2]) is Zero


def test_partial_eval_jaxpr_splits_known_and_unknown() -> None:
    closed = fnad.make_jaxpr(lambda a, b: (fnp.sin(a), fnp.sin(a) * b))(
        np.ones(2, F32), np.ones(2, F32))
    known, unknown, out_unknown, num_res = partial_eval_jaxpr(closed, [False, True])
    typecheck(known)
    typecheck(unknown)
    assert out_unknown == [False, True] and num_res >= 1
    a, b = np.array([0.2, 0.4], F32), np.array([3.0, 4.0], F32)
    known_outs = known(a)
    residuals = known_outs[1:]
    assert_allclose(known_outs[0], np.sin(a))
    assert_allclose(unknown(*residuals, b)[0], np.sin(a) * b)
    _, _, forced, _ = partial_eval_jaxpr(closed, [False, True], instantiate=True)
    assert forced == [True, True]
