"""Weak types: a Python number given to a transform keeps taking the dtype of what it meets,
as it does eagerly (NumPy 2 / NEP 50) and as JAX's weakly typed values do."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fnad
import fnad.numpy as fnp
from fnad import lax
from fnad.core.ir import ShapedArray, typecheck

F16, F32, F64 = np.float16, np.float32, np.float64
DTYPES = [F16, F32, F64, np.int8, np.int16, np.int32, np.int64, np.bool_]
OPS = {
    "multiply": lambda x, s: fnp.multiply(x, s),
    "add": lambda x, s: x + s,
    "rsub": lambda x, s: s - x,
    "maximum": lambda x, s: fnp.maximum(x, s),
}


def _scalar(kind: str, draw: Any) -> Any:
    if kind == "bool":
        return draw(st.booleans())
    if kind == "int":
        return draw(st.integers(-100, 100))
    return draw(st.sampled_from([0.0, -0.0, 0.1, -2.5, 1.0 / 3.0, 100.25]))


def _same(a: Any, b: Any) -> None:
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype, (a.dtype, b.dtype)
    np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------- the examples

def test_a_python_float_meeting_float16_under_jit_is_float16() -> None:
    x = np.ones(3, F16)
    out = fnad.jit(lambda x, s: fnp.multiply(x, s))(x, 2.0)
    _same(out, fnp.multiply(x, 2.0))
    assert out.dtype == F16


def test_a_python_float_in_float64_code_stays_exact() -> None:
    x = np.array([1.0, 3.0], F64)
    assert fnad.jit(lambda x, s: x * s)(x, 0.1)[0] == 0.1
    _same(fnad.jit(lambda x, s: x * s)(x, 0.1), x * 0.1)

    @fnad.custom_vjp
    def scale(x: Any, s: Any) -> Any:
        return x * s

    scale.defvjp(lambda x, s: (x * s, s), lambda s, g: (g * s, None))
    assert fnad.grad(lambda x: fnp.sum(scale(x, 0.1)))(x)[0] == 0.1
    assert fnad.jit(lambda x: scale(x, 0.1))(x)[0] == 0.1
    assert fnad.grad(lambda x: fnp.sum(fnad.jit(scale)(x, 0.1)))(x)[0] == 0.1


def test_fori_loop_promotes_a_weak_init_to_the_body_dtype() -> None:
    x = np.float64(1.1)
    out = lax.fori_loop(0, 5, lambda i, v: v * x, 1.0)
    assert np.asarray(out).dtype == F64 and out == 1.0 * x * x * x * x * x
    out32 = lax.fori_loop(0, 5, lambda i, v: v * np.float32(1.1), 1.0)
    assert np.asarray(out32).dtype == F32
    _same(fnad.jit(lambda x: lax.fori_loop(0, 5, lambda i, v: v * x, 1.0))(x), out)


# ---------------------------------------------------------------------------- every transform agrees

@st.composite
def _cases(draw: Any) -> tuple[str, np.ndarray, Any]:
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    kind = draw(st.sampled_from(["bool", "int", "float"]))
    if dtype == np.bool_:
        x = np.array(draw(st.lists(st.booleans(), min_size=1, max_size=4)))
    elif dtype.kind == "i":
        x = np.array(draw(st.lists(st.integers(-20, 20), min_size=1, max_size=4)), dtype)
    else:
        x = np.array(draw(st.lists(st.sampled_from([0.0, -1.5, 2.0, 0.25, 7.0]), min_size=1,
                                   max_size=4)), dtype)
    return draw(st.sampled_from(sorted(OPS))), x, _scalar(kind, draw)


@settings(max_examples=60, deadline=None)
@given(_cases())
def test_eager_jit_vmap_jvp_and_grad_give_the_same_dtypes_and_values(case: Any) -> None:
    name, x, s = case
    f = OPS[name]
    if name == "rsub" and x.dtype == np.bool_ and type(s) is bool:
        return  # NumPy has no bool subtraction
    eager = f(x, s)
    assert eager.dtype == OPS[name](x, s).dtype == np.asarray(_numpy(name, x, s)).dtype
    _same(fnad.jit(f)(x, s), eager)
    _same(fnad.vmap(f, in_axes=(0, None))(x, s), eager)
    _same(fnad.jit(fnad.vmap(f, in_axes=(0, None)))(x, s), eager)
    _same(fnad.jit(lambda s, x: f(x, s))(s, x), eager)
    if x.dtype.kind == "f":
        out, tangent = fnad.jvp(f, (x, s), (np.ones_like(x), 0.0 if type(s) is float else s))
        _same(out, eager)
        assert tangent.dtype == eager.dtype
        grad_x = fnad.grad(lambda x: fnp.sum(f(x, s)))(x)
        _same(fnad.jit(fnad.grad(lambda x: fnp.sum(f(x, s))))(x), grad_x)
    if type(s) is float and eager.dtype.kind == "f":
        value, g = fnad.value_and_grad(lambda s: fnp.sum(f(x, s)))(s)
        _same(value, fnp.sum(eager))
        _same(fnad.jit(fnad.grad(lambda s: fnp.sum(f(x, s))))(s), g)
        assert g.dtype == F32  # a weak gradient leaves as the default float dtype
        out, _ = fnad.jvp(lambda s: f(x, s), (s,), (1.0,))
        _same(out, eager)


def _numpy(name: str, x: np.ndarray, s: Any) -> Any:
    return {"multiply": np.multiply, "add": np.add, "maximum": np.maximum,
            "rsub": lambda x, s: np.subtract(s, x)}[name](x, s)


# ---------------------------------------------------------------------------- JAX's rules

def test_operations_on_weak_values_stay_weak_until_they_meet_a_strong_value() -> None:
    x16 = np.array([1.0, 2.0], F16)
    f = fnad.jit(lambda s, x: (s * 2.0 + 1.0) * x)  # s * 2.0 + 1.0 is weak: x decides
    _same(f(3.0, x16), np.array([7.0, 14.0], F16))
    jaxpr = fnad.make_jaxpr(lambda s: s * 2.0 + 1)(3.0)
    assert jaxpr.in_avals[0].weak_type and jaxpr.out_avals[0].weak_type
    strong = fnad.make_jaxpr(lambda s, x: s * x)(3.0, np.ones(2, F32))
    assert strong.out_avals == [ShapedArray((2,), F32)]  # the strong dtype, strongly typed
    typecheck(jaxpr)
    typecheck(strong)


def test_weak_values_computed_alone_leave_in_the_default_dtype_like_eager_ones() -> None:
    for f in (lambda s: s * 2.0, lambda s: fnp.exp(s), lambda s: s, lambda n: n + 1):
        for s in (3.0, 2):
            _same(fnad.jit(f)(s), f(s) if not isinstance(f(s), (int, float)) else
                  fnp.asarray(f(s)))
    _same(fnad.jit(lambda s: fnp.exp(s))(100.0), fnp.exp(100.0))  # float32 overflow, as eagerly
    assert fnad.grad(lambda x: x * x)(3.0).dtype == F32


def test_a_python_bool_is_strongly_typed() -> None:
    jaxpr = fnad.make_jaxpr(lambda b, x: x * b)(True, np.ones(2, np.int8))
    assert not jaxpr.in_avals[0].weak_type and jaxpr.in_avals[0].dtype == np.bool_
    _same(fnad.jit(lambda b, x: x * b)(True, np.ones(2, np.int8)), np.ones(2, np.int8))


def test_a_weak_and_a_strong_argument_trace_separately_as_in_jax() -> None:
    jf = fnad.jit(lambda x, s: x * s)
    x16 = np.ones(2, F16)
    assert jf(x16, 2.0).dtype == F16 and jf(x16, 3.0).dtype == F16
    assert jf.trace_count == 1
    assert jf(x16, np.float64(2.0)).dtype == F64  # NumPy's strong scalar wins, as eagerly
    assert jf(x16, np.array(2.0)).dtype == F64
    assert jf.trace_count == 2


def test_a_retrace_for_a_weak_type_change_is_explained(caplog: pytest.LogCaptureFixture
                                                        ) -> None:
    saved = fnad.config.explain_cache_misses
    fnad.config.update("explain_cache_misses", True)
    try:
        jf = fnad.jit(lambda x, s: x * s)
        with caplog.at_level(logging.WARNING, logger="fnad.jit"):
            jf(np.ones(2, F64), 2.0)
            jf(np.ones(2, F64), np.float64(2.0))
    finally:
        fnad.config.update("explain_cache_misses", saved)
    [message] = [r.getMessage() for r in caplog.records]
    assert "argument 1 ('s') changed weak type ~f64[] -> f64[]" in message


def test_avals_compare_and_hash_with_their_weak_type_and_print_it_with_a_tilde() -> None:
    weak, strong = ShapedArray((), F32, weak_type=True), ShapedArray((), F32)
    assert weak != strong and hash(weak) != hash(strong)
    assert weak == ShapedArray((), F32, True) and weak.strip_weak_type() == strong
    assert str(weak) == "~f32[]" and str(strong) == "f32[]"
    assert weak.update(shape=(2,)).weak_type


def test_make_jaxpr_prints_weak_binders_as_jax_does() -> None:
    # JAX prints no marker on binders: a weak float argument reads `b:f64[]` (x64 mode)
    jaxpr = fnad.make_jaxpr(lambda x, s: x * s)(np.ones(3, F16), 2.0)
    assert str(jaxpr) == (
        "{ lambda ; a:f16[3] b:f64[]. let\n"
        "    c:f16[] = convert_element_type[new_dtype=f16] b\n"
        "    d:f16[3] = mul a c\n"
        "  in (d,) }")
    seen = []
    fnad.make_jaxpr(lambda s: seen.append(repr(s)) or s)(2.0)
    assert seen == ["Traced<~f64[]>with<make_jaxpr>"]


# ---------------------------------------------------------------------------- control flow

def test_loop_carries_promote_weak_inits() -> None:
    x16 = np.array([1.0, 2.0], F16)
    out = fnad.jit(lambda x: lax.fori_loop(0, 3, lambda i, v: v * x, 1.0))(np.float16(2.0))
    _same(out, np.float16(8.0))
    carry, ys = lax.scan(lambda c, x: (c + x, c * x), 0.0, x16)
    _same(carry, np.float16(3.0))
    _same(ys, np.array([0.0, 2.0], F16))
    _same(lax.while_loop(lambda v: v < 10, lambda v: v * np.int8(3), 1), np.int8(27))
    # the index of a loop over Python ints is weak too: it takes the carry's float16
    _same(lax.fori_loop(0, 3, lambda i, v: v + i, x16), x16 + 3)


def test_cond_operands_are_weak_and_outputs_agree_on_weak_types() -> None:
    x16 = np.array([1.0, 2.0], F16)
    out = lax.cond(True, lambda s: s * x16, lambda s: x16, 2.0)
    _same(out, np.array([2.0, 4.0], F16))
    jaxpr = fnad.make_jaxpr(lambda p, s: lax.cond(p, lambda s: s + 1.0, lambda s: s * 2.0, s))(
        True, 1.0)
    assert jaxpr.out_avals[0].weak_type and jaxpr.out_avals[0].dtype == F32
    mixed = fnad.make_jaxpr(lambda p, s: lax.cond(p, lambda s: s, lambda s: s * np.float32(2),
                                                  s))(True, np.float32(1))
    assert not mixed.out_avals[0].weak_type
    # a weak output takes the type of the other branch's: strong, or among weak ones the
    # default dtype of their kind (as any operation on Python numbers)
    _same(lax.cond(True, lambda s: s, lambda s: s * np.float16(3), 1.0), np.float16(1))
    out = fnad.jit(lambda p, s: lax.cond(p, lambda s: s, lambda s: s * 2.0, s) * x16)(False, 0.5)
    _same(out, x16)


def test_python_numbers_passed_through_control_flow_leave_in_the_default_dtype() -> None:
    _same(lax.cond(True, lambda s: s, lambda s: s, 0.1), np.asarray(0.1, F32))
    _same(lax.while_loop(lambda v: v < 0, lambda v: v, 0.1), np.asarray(0.1, F32))
    _same(lax.fori_loop(0, 2, lambda i, v: v, 2), np.asarray(2, np.int32))
    carry, ys = lax.scan(lambda c, x: (c, c), 0.1, np.ones(2))
    _same(carry, np.asarray(0.1, F32))
    _same(ys, np.full(2, 0.1, F32))
    _same(fnad.jit(lambda s: lax.fori_loop(0, 2, lambda i, v: v, s))(0.1), np.asarray(0.1, F32))


# ---------------------------------------------------------------------------- custom rules

def test_custom_jvp_sees_python_numbers_as_weak() -> None:
    @fnad.custom_jvp
    def f(x: Any, s: Any) -> Any:
        return x * s

    f.defjvp(lambda primals, tangents: (f(*primals), tangents[0] * primals[1]))
    x16, x64 = np.ones(2, F16), np.ones(2, F64)
    assert fnad.jit(f)(x16, 2.0).dtype == F16
    assert fnad.grad(lambda x: fnp.sum(f(x, 2.0)))(x16).dtype == F16
    assert fnad.grad(lambda x: fnp.sum(f(x, 0.1)))(x64)[0] == 0.1
    _same(fnad.jvp(lambda x: f(x, 0.1), (x64,), (x64,))[1], x64 * 0.1)
    _same(fnad.vmap(lambda x: f(x, 0.1))(x64), x64 * 0.1)


@pytest.mark.parametrize("dtype", [F16, F32, F64])
def test_custom_vjp_rules_get_python_numbers_back(dtype: Any) -> None:
    seen = []

    @fnad.custom_vjp
    def f(x: Any, s: Any) -> Any:
        return x * s

    def fwd(x: Any, s: Any) -> Any:
        seen.append(type(s))
        return x * s, s

    f.defvjp(fwd, lambda s, g: (g * s, None))
    x = np.ones(2, dtype)
    g = fnad.grad(lambda x: fnp.sum(f(x, 0.1)))(x)
    _same(g, np.full(2, 0.1, dtype))
    assert seen == [float]
