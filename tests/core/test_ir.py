"""The jaxpr IR: JAX-like printing (nested sub-jaxprs), typecheck catching corruption, and
eval_jaxpr composing with transforms."""

from __future__ import annotations

import numpy as np
import pytest

import fnad
import fnad.numpy as fnp
from fnad.core.ir import (
    ClosedJaxpr,
    Eqn,
    Jaxpr,
    JaxprTypeError,
    Literal,
    ShapedArray,
    Var,
    eval_jaxpr,
    typecheck,
)
from fnad.lax.elementwise import mul_p, sin_p
from fnad.test_util import assert_allclose

F32 = np.float32


def test_shaped_array_prints_short_dtypes_and_compares_by_value() -> None:
    a = ShapedArray((2, 3), np.float32)
    assert str(a) == "f32[2,3]" and str(ShapedArray((), np.int64)) == "i64[]"
    assert a == ShapedArray([2, 3], "float32") and hash(a) == hash(ShapedArray((2, 3), F32))
    assert a != ShapedArray((2, 3), np.float64) and a.size == 6 and a.ndim == 2


def test_pretty_printer_reads_like_jax() -> None:
    jaxpr = fnad.make_jaxpr(lambda x: fnp.sin(x) * 2.0)(np.ones(3, F32))
    assert str(jaxpr) == (
        "{ lambda ; a:f32[3]. let\n"
        "    b:f32[3] = sin a\n"
        "    c:f32[3] = mul b 2.0\n"
        "  in (c,) }")


def test_pretty_printer_params_consts_and_multiple_outputs() -> None:
    w = np.ones((3, 2), F32)
    jaxpr = fnad.make_jaxpr(lambda x: (fnad.lax.reduce_sum(x, (0,)), fnp.matmul(x, w)))(
        np.ones((4, 3), F32))
    text = str(jaxpr)
    assert text.startswith("{ lambda a:f32[3,2]; b:f32[4,3]. let")
    assert "reduce_sum[axes=(0,)] b" in text
    assert "dot_general[dimension_numbers=(((1,), (0,)), ((), ()))] b a" in text
    assert text.endswith("in (c, d) }")


def test_pretty_printer_nests_sub_jaxprs_indented() -> None:
    inner = fnad.checkpoint(lambda x: fnp.sin(x) * x)
    text = str(fnad.make_jaxpr(lambda x: inner(x) + 1.0)(np.ones(2, F32)))
    lines = text.splitlines()
    assert lines[1].startswith("    b:f32[2] = checkpoint[jaxpr={ lambda ; a:f32[2]. let")
    nested = [ln for ln in lines if "sin a" in ln]
    assert nested and nested[0].startswith(" " * 12)  # deeper than the outer equations
    assert lines[-1] == "  in (c,) }" and "add b 1.0" in lines[-2]


def test_pretty_with_source_info_names_the_user_line() -> None:
    def f(x):
        return fnp.sin(x)

    text = fnad.make_jaxpr(f)(np.ones(2, F32)).pretty(source_info=True)
    assert f"# test_ir.py:{f.__code__.co_firstlineno + 1} (f)" in text


def _sin_mul_jaxpr() -> Jaxpr:
    a = Var(ShapedArray((3,), F32))
    b, c = Var(a.aval), Var(a.aval)
    return Jaxpr([], [a], [Eqn(sin_p, [a], [b], {}),
                           Eqn(mul_p, [b, Literal(np.float32(2.0))], [c], {})], [c])


def test_handmade_jaxpr_typechecks_evaluates_and_differentiates() -> None:
    jaxpr = _sin_mul_jaxpr()
    typecheck(jaxpr)
    x = np.array([0.1, 0.2, 0.3], F32)
    assert_allclose(eval_jaxpr(jaxpr, [], x)[0], 2 * np.sin(x))
    assert_allclose(ClosedJaxpr(jaxpr, [])(x)[0], 2 * np.sin(x))
    # eval_jaxpr binds, so a transform above it sees every equation
    grad = fnad.grad(lambda x: fnp.sum(eval_jaxpr(jaxpr, [], x)[0]))(x)
    assert_allclose(grad, 2 * np.cos(x))
    assert_allclose(fnad.vmap(lambda x: eval_jaxpr(jaxpr, [], x)[0])(np.stack([x, x])),
                    np.stack([2 * np.sin(x)] * 2))


@pytest.mark.parametrize("corrupt, message", [
    (lambda j: setattr(j.eqns[1].outputs[0], "aval", ShapedArray((4,), F32)), "declares"),
    (lambda j: j.eqns.reverse(), "used before it is defined"),
    (lambda j: j.eqns[1].outputs.__setitem__(0, j.eqns[0].outputs[0]), "defined twice"),
    (lambda j: j.eqns[1].inputs.__setitem__(1, Literal(np.ones(2, F32))), "not a scalar"),
    (lambda j: j.eqns[0].inputs.__setitem__(0, Var(ShapedArray((3,), F32))), "before it is"),
    (lambda j: j.eqns[1].inputs.__setitem__(1, Literal(np.float64(2.0))), "dtypes"),
])
def test_typecheck_catches_corrupted_jaxprs(corrupt, message) -> None:
    jaxpr = _sin_mul_jaxpr()
    corrupt(jaxpr)
    with pytest.raises((JaxprTypeError, fnad.FnadError), match=message):
        typecheck(jaxpr)


def test_typecheck_checks_constants_and_nested_jaxprs() -> None:
    jaxpr = fnad.make_jaxpr(lambda x: x * np.ones(3, F32))(np.ones(3, F32))
    bad = ClosedJaxpr(jaxpr.jaxpr, [np.ones(4, F32)])
    with pytest.raises(JaxprTypeError, match="constant"):
        typecheck(bad)
    nested = fnad.make_jaxpr(fnad.checkpoint(lambda x: fnp.sin(x)))(np.ones(3, F32))
    typecheck(nested)
    inner = nested.eqns[0].params["jaxpr"].jaxpr
    inner.eqns[0].outputs[0].aval = ShapedArray((5,), F32)
    with pytest.raises(JaxprTypeError):
        typecheck(nested)


def test_eval_jaxpr_checks_its_arity() -> None:
    with pytest.raises(TypeError, match="takes 1 arguments, got 2"):
        eval_jaxpr(_sin_mul_jaxpr(), [], np.ones(3, F32), np.ones(3, F32))
