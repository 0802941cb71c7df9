"""A differential fuzzer over the whole primitive table (tests/lax/opinfo.py).

Hypothesis draws short programs: a chain of table entries, each in one of its dtypes
(float16/32/64, integers, bool where the entry takes them), on the entry's samples, which
hold edge values (0 of both signs, ties, +-inf, NaN, huge and tiny magnitudes). A step's
result feeds the next step's first operand when its shape and dtype fit. Each program must
give the same values eagerly and under `jit` on every backend, with no warning escaping;
in float64, forward and reverse mode must agree (<ct, J t> = <J^T ct, t>) through the whole
chain, and each differentiable step's first and second derivatives must match central
differences at its smooth points. A short run is in `make test`; a long one is `slow`.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from opinfo import OPS, OpInfo, Sample
from test_opinfo import as_float64, bound, random_like, tolerance

import fnad
from fnad import tree as tree_util
from fnad.backends import available_backends
from fnad.test_util import assert_allclose, check_grads

F64 = np.dtype(np.float64)
# Collectives need a named axis and a communicator: tests/lax/test_opinfo.py runs them.
FUZZED = [op for op in OPS if op.axis_name is None]
DIFFERENTIABLE = [op for op in FUZZED if op.applies("jvp") and op.applies("vjp")
                  and op.grad_order > 0]

Step = tuple[OpInfo, np.dtype, int, int]  # entry, dtype, seed, which sample


@st.composite
def programs(draw: Any, ops: list[OpInfo] = FUZZED, dtype: np.dtype | None = None
             ) -> list[Step]:
    steps = []
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(ops))
        d = dtype if dtype is not None and dtype in op.dtypes else \
            draw(st.sampled_from(op.dtypes))
        steps.append((op, np.dtype(d), draw(st.integers(0, 2**16)), draw(st.integers(0, 7))))
    return steps


def assemble(steps: list[Step], grad: bool = False
             ) -> tuple[Callable[..., list[Any]], list[Any], float]:
    """The program as a function of its free operands, those operands, and a tolerance.
    A step whose first operand has the shape and dtype of the previous step's (single)
    result reads that result instead of its own operand."""
    plan: list[tuple[Callable[..., Any], int, bool]] = []
    free: list[Any] = []
    tol = 0.0
    last = None  # the previous step's result, as an abstract (shape, dtype)
    for op, dtype, seed, k in steps:
        samples = op.draw(seed, dtype, grad=grad)
        s: Sample = samples[k % len(samples)]
        args = as_float64(s.args) if grad else s.args
        first = np.asarray(args[0]) if args else None
        # only float data is fed on: an integer first operand may be a selector or an index
        # with a domain of its own (select_n's `which`)
        feed = (last is not None and first is not None and first.dtype.kind == "f"
                and (first.shape, first.dtype) == last)
        free += list(args[1:] if feed else args)
        plan.append((bound(op, s), len(args) - feed, feed))
        out = bound(op, s)(*args)
        last = (np.shape(out), np.asarray(out).dtype) if not isinstance(out, (list, tuple)) \
            else None
        tol = max(tol, tolerance(op, F64 if grad else dtype) or 0.0)

    def program(*xs: Any) -> list[Any]:
        outs, prev, i = [], None, 0
        for f, n, feed in plan:
            ins = ([prev] if feed else []) + list(xs[i:i + n])
            i += n
            prev = f(*ins)
            outs.append(prev)
        return outs

    return program, free, tol


def check_values(steps: list[Step]) -> None:
    """Eager against jit on every backend, NaN for NaN, and no warning anywhere."""
    program, args, tol = assemble(steps)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        expected = program(*args)
        for backend in available_backends():
            got = fnad.jit(program, backend=backend)(*args)
            assert_allclose(got, expected, tol, tol,
                            f"{[s[0].name for s in steps]} jit on {backend}")


def check_modes_agree(steps: list[Step]) -> None:
    """<ct, J t> = <J^T ct, t> through the whole chain (float64, smooth points)."""
    program, args, _ = assemble(steps, grad=True)
    floats = [i for i, a in enumerate(args) if np.asarray(a).dtype.kind == "f"]
    if not floats:
        return
    rng = np.random.default_rng(len(steps))
    float_outs = [i for i, o in enumerate(tree_util.tree_leaves(program(*args)))
                  if np.asarray(o).dtype.kind == "f"]

    def f(*xs: Any) -> list[Any]:
        full = list(args)
        for i, x in zip(floats, xs):
            full[i] = x
        outs = tree_util.tree_leaves(program(*full))  # multi-output steps give lists
        return [outs[i] for i in float_outs]

    primals = tuple(args[i] for i in floats)
    t = random_like(primals, rng)
    outs, jt = fnad.jvp(f, primals, t)
    ct = random_like(tuple(outs), rng)
    jct = fnad.vjp(f, *primals)[1](list(ct))
    dot = lambda a, b: sum(float(np.vdot(np.asarray(x, F64), np.asarray(y, F64)))
                           for x, y in zip(tree_util.tree_leaves(a), tree_util.tree_leaves(b)))
    lhs, rhs = dot(ct, jt), dot(jct, t)
    if (np.isnan(lhs) and np.isnan(rhs)) or lhs == rhs:  # a chain that left a step's
        return  # domain, or overflowed to the same infinity (exp(exp(exp(x)))): both agree
    # a step may convert to float32 (convert_element_type): then float32's precision
    rtol = 1e-8 if all(np.asarray(o).dtype == F64 for o in outs) else 1e-5
    assert abs(lhs - rhs) <= rtol * (1 + abs(lhs) + abs(rhs)), (
        f"{[s[0].name for s in steps]}: <ct, J t> = {lhs} but <J^T ct, t> = {rhs}")


def check_second_derivatives(steps: list[Step]) -> None:
    """Each step alone, at its smooth float64 points: first and second derivatives in both
    modes against central differences."""
    for op, _, seed, k in steps:
        samples = op.draw(seed, F64, grad=True)
        s = samples[k % len(samples)]
        args = as_float64(s.args)
        floats = [i for i, a in enumerate(args) if np.asarray(a).dtype.kind == "f"]
        if not floats:
            continue

        def f(*xs: Any, g: Callable[..., Any], args: tuple, floats: list) -> Any:
            full = list(args)
            for i, x in zip(floats, xs):
                full[i] = x
            return g(*full)

        f = functools.partial(f, g=bound(op, s), args=args, floats=floats)

        tols = {} if op.tol is None else {"atol": 10 * op.tol, "rtol": 10 * op.tol}
        check_grads(f, tuple(args[i] for i in floats), order=min(op.grad_order, 2),
                    modes=("fwd", "rev"), **({**tols, "eps": op.grad_eps} if op.grad_eps
                                             else tols))


_SETTINGS = dict(deadline=None, derandomize=True,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@settings(max_examples=300, **_SETTINGS)
@given(programs())
def test_programs_agree_eagerly_and_jitted_without_warnings(steps: list[Step]) -> None:
    check_values(steps)


@settings(max_examples=60, **_SETTINGS)
@given(programs(DIFFERENTIABLE, F64))
def test_forward_and_reverse_mode_agree_and_match_differences(steps: list[Step]) -> None:
    check_modes_agree(steps)
    check_second_derivatives(steps[:1])


@pytest.mark.slow
@settings(max_examples=1500, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(programs())
def test_programs_long(steps: list[Step]) -> None:
    check_values(steps)


@pytest.mark.slow
@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(programs(DIFFERENTIABLE, F64))
def test_derivatives_long(steps: list[Step]) -> None:
    check_modes_agree(steps)
    check_second_derivatives(steps)


# ---------------------------------------------------------------------------- regressions

def test_regression_clamp_kernel_with_lower_bound_above_upper() -> None:
    """Found by the fuzzer: the fused kernel of clamp(lo, x, hi) returned lo where x < lo
    even when lo > hi (the impl gives hi); NaN in any operand gives NaN."""
    lo = np.array([2.0, 0.0, np.nan, 0.0, 0.0], np.float32)
    x = np.array([0.5, np.nan, 0.5, 0.5, 3.0], np.float32)
    hi = np.array([1.0, 1.0, 1.0, np.nan, 1.0], np.float32)
    tile = lambda a: np.tile(a, 1 << 15)  # large enough to be fused on the C backend
    f = lambda lo, x, hi: fnad.lax.clamp(lo, x, hi) * 2.0
    expected = np.minimum(np.maximum(tile(x), tile(lo)), tile(hi)) * 2.0
    for backend in available_backends():
        assert_allclose(fnad.jit(f, backend=backend)(tile(lo), tile(x), tile(hi)), expected)
