"""Forward mode: dual numbers, symbolic zero tangents, and the jaxpr -> jaxpr jvp."""

from __future__ import annotations

import numpy as np

import fnad
import fnad.numpy as fnp
from fnad.core.ir import get_aval, typecheck
from fnad.core.primitive import Zero
from fnad.interpreters.jvp import instantiate, jvp_flat, jvp_jaxpr
from fnad.test_util import assert_allclose

F32 = np.float32


def test_zero_tangents_stay_symbolic_and_cost_nothing() -> None:
    x, y = np.array([1.0, 2.0], F32), np.array([3.0, 4.0], F32)
    outs, touts = jvp_flat(lambda a, b: [a * b, b * 2.0], [x, y], [np.ones(2, F32), Zero(get_aval(y))])
    assert_allclose(outs, [x * y, y * 2])
    assert_allclose(touts[0], y)
    assert type(touts[1]) is Zero and touts[1].aval == get_aval(y)
    # staged: the zero tangent of b adds no equations (no `sin(a) * tb` and no add)
    def staged(tb):
        return fnad.make_jaxpr(lambda a, b, t: jvp_flat(lambda a, b: [fnp.sin(a) * b], [a, b],
                                                        [t, tb(b)])[1])(x, y, x)

    with_zero = [e.prim.name for e in staged(lambda b: Zero(get_aval(b))).eqns]
    with_tangent = [e.prim.name for e in staged(lambda b: b).eqns]
    assert sorted(with_zero) == ["cos", "mul", "mul", "mul", "sin"]
    assert len(with_tangent) == len(with_zero) + 2 and "add" in with_tangent


def test_instantiate_makes_zeros_of_the_aval() -> None:
    z = instantiate(Zero(get_aval(np.ones((2, 3), np.float64))))
    assert z.shape == (2, 3) and z.dtype == np.float64 and not z.any()
    x = np.ones(2, F32)
    assert instantiate(x) is x


def test_jvp_jaxpr_matches_jvp_and_reports_nonzero_outputs() -> None:
    closed = fnad.make_jaxpr(lambda a, b: (fnp.sin(a) * b, b * 2.0, a))(
        np.ones(3, F32), np.ones(3, F32))
    jvp_closed, out_nz = jvp_jaxpr(closed, [True, False], instantiate_out=False)
    typecheck(jvp_closed)
    assert out_nz == [True, False, True]
    a, b, t = (np.linspace(0, 1, 3).astype(F32) + k for k in range(3))
    outs = jvp_closed(a, b, t)
    assert_allclose(outs[:3], [np.sin(a) * b, b * 2, a])
    assert_allclose(outs[3:], [np.cos(a) * b * t, t])
    inst_closed, inst_nz = jvp_jaxpr(closed, [True, False], instantiate_out=True)
    assert inst_nz == [True, True, True]
    assert_allclose(inst_closed(a, b, t)[4], np.zeros(3, F32))
