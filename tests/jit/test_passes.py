"""Each optimization pass on its own: it removes what it should (equation counts before and
after), keeps `typecheck` green and keeps the results."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

import fnad
import fnad.numpy as fnp
from fnad import lax
from fnad.core.ir import ClosedJaxpr, Literal, typecheck
from fnad.jit import passes
from fnad.lax.elementwise import convert_element_type_p
from fnad.test_util import assert_allclose

F32 = np.float32


def names(closed: ClosedJaxpr) -> list[str]:
    return [e.prim.name for e in closed.eqns]


def run_pass(p: Callable[[ClosedJaxpr], ClosedJaxpr], f: Callable[..., Any],
             args: Sequence[Any]) -> tuple[ClosedJaxpr, ClosedJaxpr]:
    """(before, after) of a pass on f's jaxpr, checking types and values."""
    before = fnad.make_jaxpr(f)(*args)
    after = p(before)
    typecheck(after)
    assert_allclose(after(*args), before(*args))
    return before, after


X = np.linspace(-1, 1, 6, dtype=F32).reshape(2, 3)


# ---------------------------------------------------------------------------- inlining

def test_inline_nested_jit_calls() -> None:
    inner = fnad.jit(lambda x: fnp.sin(x) * 2.0)
    outer = fnad.jit(lambda x: inner(inner(x)) + 1.0)
    before, after = run_pass(passes.inline_jit_calls, lambda x: outer(x) - inner(x), [X])
    assert names(before).count("jit_call") == 2
    assert "jit_call" not in names(after)
    assert names(after).count("sin") == 3  # the same inner jaxpr inlined three times


def test_inline_keeps_constants_of_the_inner_jaxpr() -> None:
    w = np.arange(3, dtype=F32)
    inner = fnad.jit(lambda x: x * w)
    before, after = run_pass(passes.inline_jit_calls, lambda x: inner(x) + inner(x + 1), [X])
    assert "jit_call" not in names(after) and len(after.consts) == 1


# ---------------------------------------------------------------------------- DCE

def test_dce_removes_unused_equations_and_constants() -> None:
    w = np.arange(6, dtype=F32).reshape(2, 3)

    def f(x):
        fnp.exp(x) * w  # dead
        return fnp.sin(x)

    before, after = run_pass(passes.dce, f, [X])
    assert names(before) == ["exp", "mul", "sin"] and len(before.consts) == 1
    assert names(after) == ["sin"] and not after.consts


def test_dce_keeps_effects() -> None:
    def f(x):
        fnad.debug.print("{}", fnp.exp(x))
        return x

    _, after = run_pass(passes.dce, f, [X])
    assert names(after) == ["exp", "debug_callback"]


# ---------------------------------------------------------------------------- CSE

def test_cse_merges_identical_equations() -> None:
    def f(x):
        a = fnp.sin(x) * 2.0
        b = fnp.sin(x) * 2.0
        return a + b, fnp.sum(x, axis=0) + fnp.sum(x, axis=0), fnp.sum(x, axis=1)

    before, after = run_pass(passes.cse, f, [X])
    assert names(before).count("sin") == 2 and names(before).count("reduce_sum") == 3
    assert names(after).count("sin") == 1 and names(after).count("mul") == 1
    assert names(after).count("reduce_sum") == 2  # different axes stay apart


def test_cse_tells_literals_apart_and_keeps_effects() -> None:
    def f(x):
        fnad.debug.print("{}", x)
        fnad.debug.print("{}", x)
        return x * 2.0 + x * 3.0, x * 2.0

    _, after = run_pass(passes.cse, f, [X])
    assert names(after).count("mul") == 2 and names(after).count("debug_callback") == 2


# ---------------------------------------------------------------------------- folding

def test_fold_constants() -> None:
    small = np.arange(6, dtype=F32).reshape(2, 3)
    big = np.ones((64, 64), F32)

    def f(x):
        s = lax.exp(np.float32(1.0)) * 2.0  # literals only: a literal
        c = fnp.exp(small) + 1.0  # a small constant: a new constant
        d = fnp.exp(big)  # too big to fold
        return x * s + c, d

    before, after = run_pass(passes.fold_constants, f, [X])
    assert names(before) == ["exp", "mul", "exp", "add", "exp", "mul", "add"]
    assert names(after) == ["exp", "mul", "add"]
    assert any(isinstance(a, Literal) and np.isclose(a.value, 2 * np.e)
               for e in after.eqns for a in e.inputs)
    assert any(c.shape == (2, 3) for c in after.consts)


def test_fold_keeps_effects() -> None:
    def f(x):
        fnad.debug.print("{}", np.float32(1.0))
        return x

    _, after = run_pass(passes.fold_constants, f, [X])
    assert names(after) == ["debug_callback"]


# ---------------------------------------------------------------------------- simplification

@pytest.mark.parametrize("f, removed", [
    (lambda x: lax.mul(x, 1.0), "mul"),
    (lambda x: lax.mul(1.0, x), "mul"),
    (lambda x: lax.add(x, 0.0), "add"),
    (lambda x: lax.add(0.0, x), "add"),
    (lambda x: lax.sub(x, 0.0), "sub"),
    (lambda x: lax.neg(lax.neg(x)), "neg"),
    (lambda x: lax.transpose(lax.transpose(x, (1, 0)), (1, 0)), "transpose"),
    (lambda x: lax.reshape(lax.reshape(x, (3, 2)), (2, 3)), "reshape"),
    (lambda x: convert_element_type_p.bind(x, new_dtype=np.dtype(F32)), "convert_element_type"),
], ids=["x*1", "1*x", "x+0", "0+x", "x-0", "neg-neg", "transpose-transpose",
        "reshape-reshape", "convert-same-dtype"])
def test_simplify_removes_identities(f: Callable[..., Any], removed: str) -> None:
    before, after = run_pass(passes.simplify, f, [X])
    assert removed in names(before)
    after = passes.dce(after)
    assert after.eqns == [] and after.jaxpr.outvars[0] is after.jaxpr.invars[0]


def test_simplify_composes_transposes_and_reshapes() -> None:
    y = np.arange(24, dtype=F32).reshape(2, 3, 4)

    def f(x):
        a = lax.transpose(lax.transpose(x, (1, 2, 0)), (1, 2, 0))
        b = lax.reshape(lax.reshape(x, (6, 4)), (4, 6))
        return a, b

    _, after = run_pass(lambda c: passes.dce(passes.simplify(c)), f, [y])
    assert names(after) == ["transpose", "reshape"]
    assert after.eqns[0].params["permutation"] == (2, 0, 1)


def test_simplify_feeds_scalars_to_elementwise_ops() -> None:
    def f(x, s):
        return x * fnp.broadcast_to(s, x.shape) + fnp.broadcast_to(np.float32(2.0), x.shape)

    s = np.float32(3.0)
    before, after = run_pass(lambda c: passes.dce(passes.simplify(c)), f, [X, s])
    assert names(before).count("broadcast_in_dim") == 2
    assert names(after) == ["mul", "add"]
    assert after.eqns[0].inputs[1] is after.jaxpr.invars[1]


def test_simplify_keeps_a_broadcast_that_makes_the_shape() -> None:
    def f(s):
        return fnp.broadcast_to(s, (3,)) * fnp.broadcast_to(s, (3,))

    _, after = run_pass(passes.simplify, f, [np.float32(2.0)])
    assert after.out_avals[0].shape == (3,)


# ---------------------------------------------------------------------------- pipeline

def test_optimize_a_gradient() -> None:
    def loss(w, x):
        return fnp.sum(fnp.tanh(x @ w) ** 2)

    w = np.linspace(-1, 1, 12, dtype=F32).reshape(3, 4)
    x = np.linspace(0, 1, 6, dtype=F32).reshape(2, 3)
    before, after = run_pass(passes.optimize, fnad.grad(loss), [w, x])
    assert len(after.eqns) < len(before.eqns)
