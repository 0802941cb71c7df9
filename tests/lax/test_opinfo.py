"""Generic tests driven by the OpInfo table (tests/lax/opinfo.py): for every primitive fnad
defines, values against NumPy/SciPy (and no escaping NumPy warning), the jaxpr typecheck,
jit on every backend against eager (the primitive lowered, its kernel rule in a fused
kernel), jvp, linearize and vjp against float64 finite differences, vmap against a loop, and
its transpose rule run. Each test also checks that the primitive's own rule ran, every
jaxpr a transform stages typechecks, and a coverage test asks that every rule a primitive
defines is run by one of them.
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from opinfo import AXIS, EXEMPT, F64, OPS, TRANSFORMS, OpInfo, Sample, peers

import fnad
from fnad import tree as tree_util
from fnad.backends import available_backends
from fnad.core.ir import ClosedJaxpr, Jaxpr, typecheck
from fnad.core.primitive import (
    Broadcast,
    CLoop,
    Elementwise,
    JaxprCall,
    LibraryCall,
    Reduce,
    fnad_primitives,
)
from fnad.test_util import assert_allclose, check_grads, check_staged, check_vmap

# Real bugs the generic tests find, as (primitive, transform): reason. Each case is an
# expected failure until the rule is fixed (strict: a fix makes it fail, so remove it here).
# Fixed so far: reduce_sum/reduce_prod/reduce_window_sum let NumPy's RuntimeWarning escape
# on edge values; linearize of while_loop raised; dot_general and conv dropped
# preferred_element_type.
XFAIL: dict[tuple[str, str], str] = {}


_INT_ONLY = ("never called: the primitive takes integers or bools only, fnad.jvp gives such "
             "operands no tangent and no rule gives an integer output one, so the JVP trace "
             "binds it without its rule (dead code)")
# Rules that no public API can reach, and why.
UNREACHABLE: dict[tuple[str, str], str] = {
    (name, "jvp"): _INT_ONLY for name in (
        "and", "or", "xor", "not", "shift_left", "shift_right_logical",
        "shift_right_arithmetic", "population_count", "reduce_and", "reduce_or")}
UNREACHABLE.update({
    (name, "kernel"): "never used: fusion reduces with sum, max and min only "
                      "(fnad/jit/fusion.py _REDUCE_KINDS)"
    for name in ("reduce_prod", "reduce_and", "reduce_or")})


# Rules whose only behaviour is an error, tested where the error is documented.
ELSEWHERE: dict[tuple[str, str], str] = {
    ("while_loop", "transpose"): "raises reverse mode's error: "
                                 "tests/lax/test_control_flow.py",
    ("pure_callback", "jvp"): "raises: a callback has no derivative "
                              "(tests/test_pure_callback.py)",
}


def cases(transform: str, extra: Callable[[OpInfo], bool] = lambda op: True) -> list[Any]:
    return [pytest.param(op, id=op.name, marks=[pytest.mark.xfail(
        strict=True, reason=XFAIL[op.name, transform])] if (op.name, transform) in XFAIL
        else []) for op in OPS if op.applies(transform) and extra(op)]


# ---------------------------------------------------------------------------- helpers

def bound(op: OpInfo, sample: Sample) -> Callable[..., Any]:
    """The entry's wrapper with the sample's static params bound."""
    return functools.partial(op.op, **sample.kwargs)


def named(f: Callable[..., Any], in_axes: Any = 0) -> Callable[..., Any]:
    return fnad.vmap(f, in_axes=in_axes, axis_name=AXIS)


def tolerance(op: OpInfo, dtype: np.dtype) -> float | None:
    """The entry's float32 tolerance (float64: its square, at most 1e-10; float16: ten
    times it)."""
    if np.dtype(dtype) == F64:
        return 1e-12 if op.tol is None else min(op.tol ** 2, 1e-10)
    if np.dtype(dtype) == np.float16:
        return 2e-3 if op.tol is None else 10 * op.tol
    return 1e-5 if op.tol is None else op.tol


def random_like(args: tuple, rng: np.random.Generator) -> tuple:
    """Random tangents (or cotangents) for float and complex leaves, zeros for the others."""
    def draw(x: Any) -> np.ndarray:
        dtype = np.asarray(x).dtype
        if dtype.kind == "c":
            return (rng.standard_normal(np.shape(x))
                    + 1j * rng.standard_normal(np.shape(x))).astype(dtype)
        if dtype.kind == "f":
            return rng.standard_normal(np.shape(x)).astype(dtype)
        return np.zeros(np.shape(x), dtype)

    return tree_util.tree_map(draw, args)


def as_float64(args: tuple) -> tuple:
    """Float leaves in float64, complex ones in complex128."""
    return tuple(np.asarray(a, np.float64) if np.asarray(a).dtype.kind == "f" else
                 np.asarray(a, np.complex128) if np.asarray(a).dtype.kind == "c" else a
                 for a in args)


def pairing(a: Any, b: Any) -> float:
    """Re sum(a * b): the pairing under which JAX's transpose (not conjugated) is the adjoint
    of the jvp, complex leaves included."""
    return float(np.real(np.sum(np.asarray(a, np.complex128) * np.asarray(b, np.complex128))))


def primitives_in(jaxpr: Any) -> set[str]:
    """Names of the primitives bound in a jaxpr and in the sub-jaxprs its params hold."""
    found: set[str] = set()

    def visit(x: Any) -> None:
        if isinstance(x, ClosedJaxpr):
            visit(x.jaxpr)
        elif isinstance(x, Jaxpr):
            for eqn in x.eqns:
                found.add(eqn.prim.name)
                for v in eqn.params.values():
                    visit(v)
        elif isinstance(x, (tuple, list)):
            for v in x:
                visit(v)

    visit(jaxpr)
    return found


@contextlib.contextmanager
def counting(op: OpInfo, slot: str) -> Iterator[list[int]]:
    """Count the calls of the primitive's rule `slot` (jvp, transpose, batch, ...); a
    primitive without that rule counts one call (a transform handled it without one)."""
    prim = op.prim
    rule = getattr(prim, slot, None)
    calls = [0]
    if rule is None:
        calls[0] = 1
        yield calls
        return

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return rule(*args, **kwargs)

    setattr(prim, slot, counted)
    try:
        yield calls
    finally:
        setattr(prim, slot, rule)


def assert_ran(calls: list[int], op: OpInfo, slot: str) -> None:
    assert calls[0] > 0, f"the {slot} rule of {op.name} never ran: the entry misses it"


def float_dtype(op: OpInfo) -> np.dtype:
    return F64 if F64 in op.dtypes else op.dtypes[0]


def in_context(op: OpInfo) -> contextlib.AbstractContextManager:
    """Collectives run per member of an axis bound to a communicator (`peers()`)."""
    return peers() if op.axis_name else contextlib.nullcontext()


# ---------------------------------------------------------------------------- the table

def test_every_primitive_has_an_entry_or_a_reason() -> None:
    import fnad.jit.fusion  # noqa: F401  (defines `fusion`)
    prims = set(fnad_primitives())
    names = [op.name for op in OPS]
    assert len(names) == len(set(names)), "one entry per primitive"
    missing = prims - set(names) - set(EXEMPT)
    assert not missing, f"primitives with no OpInfo entry and no EXEMPT reason: {missing}"
    stale = (set(names) | set(EXEMPT)) - prims
    assert not stale, f"entries for primitives fnad does not define: {stale}"
    assert not set(names) & set(EXEMPT), "a primitive is both in the table and exempt"


@pytest.mark.parametrize("op", OPS, ids=str)
def test_entry_is_well_formed(op: OpInfo) -> None:
    assert set(op.skips) <= set(TRANSFORMS), f"unknown transforms in skips: {op.skips}"
    assert all(len(reason) > 20 for reason in op.skips.values()), "give each skip a reason"
    if op.grad_order == 0:
        assert {"jvp", "vjp"} <= set(op.skips)
    if op.ref is None:
        assert "value" in op.skips
    if op.prim.transpose is None:
        assert op.transpose_op is None


# ---------------------------------------------------------------------------- values

def check_value(op: OpInfo, out: Any, want: Any, dtype: np.dtype, what: str) -> None:
    for o, w in zip(tree_util.tree_leaves(out), tree_util.tree_leaves(want)):
        assert np.asarray(o).dtype == np.asarray(w).dtype, \
            f"{what}: dtype {np.asarray(o).dtype}, reference {np.asarray(w).dtype}"
    tol = tolerance(op, dtype)
    assert_allclose(out, want, tol, tol, what)


@pytest.mark.parametrize("op", cases("value"), ids=str)
def test_value_against_reference(op: OpInfo) -> None:
    check_values(op, seed=0)


@pytest.mark.slow
@pytest.mark.parametrize("op", cases("value"), ids=str)
def test_values_over_many_draws(op: OpInfo) -> None:
    for seed in range(1, 30):
        check_values(op, seed)


def check_values(op: OpInfo, seed: int) -> None:
    for dtype in op.dtypes:
        for k, s in enumerate(op.draw(seed, dtype)):
            what = f"{op.name} {dtype} seed {seed} sample {k}"
            with np.errstate(all="ignore"):
                want = op.ref(*s.args, **s.kwargs)
            if op.axis_name:
                check_value(op, named(bound(op, s))(*s.args), want, dtype, what + " (vmap)")
                with peers() as comm:  # this member of a communicator's axis
                    args = member_args(op, s)
                    with np.errstate(all="ignore"):
                        mine = tree_util.tree_map(
                            lambda r: r[comm.rank],
                            op.ref(*(np.stack(comm.members(a)) for a in args), **s.kwargs))
                    check_value(op, bound(op, s)(*args), mine, dtype, what + " (peers)")
            else:
                check_value(op, bound(op, s)(*s.args), want, dtype, what)


def not_collective(op: OpInfo) -> bool:
    return op.axis_name is None


@pytest.mark.parametrize("op", cases("warnings", not_collective), ids=str)
def test_no_numpy_warning_escapes(op: OpInfo) -> None:
    """Edge values included: fnad answers inf or NaN without a RuntimeWarning, eagerly and
    under jit on every backend."""
    for dtype in op.dtypes:
        for s in op.draw(0, dtype):
            for run in [bound(op, s)] + [fnad.jit(bound(op, s), backend=b)
                                         for b in available_backends()]:
                with warnings.catch_warnings():
                    warnings.simplefilter("error")
                    run(*s.args)


# ---------------------------------------------------------------------------- staging, jit

def member_args(op: OpInfo, s: Sample) -> tuple:
    """One member's operands for a collective (the first of the stacked ones)."""
    return tuple(a[0] for a in s.args) if op.axis_name else s.args


@pytest.mark.parametrize("op", cases("typecheck"), ids=str)
def test_jaxpr_typechecks_and_binds_the_primitive(op: OpInfo) -> None:
    binds = 0  # samples whose jaxpr holds the primitive (a wrapper may skip a no-op)
    for dtype in op.dtypes:
        for s in op.draw(0, dtype):
            f, args = bound(op, s), member_args(op, s)
            with in_context(op):
                closed = fnad.make_jaxpr(f)(*args)
                typecheck(closed)
                binds += op.name in primitives_in(closed)
                tol = tolerance(op, dtype)
                check_staged(f, args, tol, tol)
    assert binds, f"no sample's jaxpr binds {op.name}: the entry misses it"


@pytest.mark.parametrize("op", cases("jit"), ids=str)
def test_jit_on_every_backend_equals_eager(op: OpInfo) -> None:
    for dtype in op.dtypes:
        for k, s in enumerate(op.draw(0, dtype)):
            f, tol = bound(op, s), tolerance(op, dtype)
            with in_context(op):
                args = member_args(op, s)
                expected = f(*args)
                for backend in available_backends():
                    assert_allclose(fnad.jit(f, backend=backend)(*args), expected, tol, tol,
                                    f"{op.name} {dtype} sample {k}: jit on {backend}")
            if op.axis_name:  # staged around and inside the named vmap
                expected = named(f)(*s.args)
                for backend in available_backends():
                    assert_allclose(fnad.jit(named(f), backend=backend)(*s.args), expected,
                                    tol, tol, f"jit(vmap) on {backend}")
                    assert_allclose(named(fnad.jit(f, backend=backend))(*s.args), expected,
                                    tol, tol, f"vmap(jit) on {backend}")


@pytest.mark.parametrize("op", cases("lowering"), ids=str)
def test_jit_lowers_the_primitive(op: OpInfo) -> None:
    """The optimized program of some sample still holds the primitive (the passes did not
    fold it away), so each backend lowers it."""
    lowered = 0
    with counting(op, "simplify") as calls:
        for dtype in op.dtypes:
            for s in op.draw(0, dtype):
                with in_context(op):
                    lowered += op.name in primitives_in(fnad.jit(bound(op, s)).lower(
                        *member_args(op, s)))
    assert lowered, f"no sample's optimized jaxpr holds {op.name}: the backends never lower it"
    assert_ran(calls, op, "simplify")


# ---------------------------------------------------------------------------- derivatives

def jvp_of(f: Callable[..., Any], n: int) -> Callable[..., Any]:
    """(*primals, *tangents) -> the tangent of f's output."""
    return lambda *xt: fnad.jvp(f, xt[:n], xt[n:])[1]


def vjp_of(f: Callable[..., Any]) -> Callable[..., Any]:
    """(*primals, cotangent) -> the cotangents of f's inputs."""
    return lambda *xc: fnad.vjp(f, *xc[:-1])[1](xc[-1])


def grad_samples(op: OpInfo) -> list[Sample]:
    return op.draw(0, float_dtype(op), grad=True)


def grad_tols(op: OpInfo) -> dict[str, float]:
    tols = {} if op.tol is None else {"atol": 10 * op.tol, "rtol": 10 * op.tol}
    return {**tols, "eps": op.grad_eps} if op.grad_eps else tols


@pytest.mark.parametrize("op", cases("jvp"), ids=str)
def test_jvp_against_finite_differences(op: OpInfo) -> None:
    rng = np.random.default_rng(1)
    ran = 0
    for s in grad_samples(op):
        f, args = bound(op, s), as_float64(s.args)
        tangents = random_like(args, rng)
        jvp = jvp_of(f, len(args))
        if op.axis_name:  # in SPMD form: each member's jvp, inside the named vmap
            jvp = named(jvp)
            check_grads(named(f), args, op.grad_order, modes=("fwd",), **grad_tols(op))
            assert_allclose(jvp(*args, *tangents), fnad.jvp(named(f), args, tangents)[1],
                            1e-10, 1e-10, "per-member jvp differs from the jvp of the vmap")
        else:
            check_grads(f, args, op.grad_order, modes=("fwd",), **grad_tols(op))
        with counting(op, "jvp") as calls:
            typecheck(fnad.make_jaxpr(jvp)(*args, *tangents))  # traced: no cached rule
        ran += calls[0]
    assert_ran([ran], op, "jvp")


def linearized(f: Callable[..., Any], n: int) -> Callable[..., Any]:
    """(*primals, *tangents) -> the tangent of f's output, by `fnad.linearize`."""
    return lambda *xt: fnad.linearize(f, *xt[:n])[1](*xt[n:])


def differentiable(op: OpInfo) -> bool:
    return op.applies("jvp")


@pytest.mark.parametrize("op", cases("linearize", differentiable), ids=str)
def test_linearize_equals_jvp(op: OpInfo) -> None:
    """linearize stages the tangent computation by partial evaluation (each primitive's
    partial_eval rule, where it has one) and gives jvp's tangents."""
    rng = np.random.default_rng(5)
    ran = 0
    for s in grad_samples(op):
        f, args = bound(op, s), as_float64(s.args)
        tangents = random_like(args, rng)
        lin, jvp = linearized(f, len(args)), jvp_of(f, len(args))
        if op.axis_name:
            lin, jvp = named(lin), named(jvp)
        assert_allclose(lin(*args, *tangents), jvp(*args, *tangents), 1e-10, 1e-10,
                        f"{op.name}: linearize differs from jvp")
        with counting(op, "partial_eval") as calls:
            typecheck(fnad.make_jaxpr(lin)(*args, *tangents))
        ran += calls[0]
    assert_ran([ran], op, "partial_eval")


# reverse mode, and at second order each mode over the other (Hessian-vector products)
MIXED = ("rev", "fwd")


@pytest.mark.parametrize("op", cases("vjp"), ids=str)
def test_vjp_against_finite_differences(op: OpInfo) -> None:
    rng = np.random.default_rng(2)
    for s in grad_samples(op):
        f, args = bound(op, s), as_float64(s.args)
        if op.axis_name:  # in SPMD form: each member's vjp, inside the named vmap
            check_grads(named(f), args, op.grad_order, modes=MIXED, **grad_tols(op))
            ct = random_like((named(f)(*args),), rng)[0]
            spmd = named(vjp_of(f))
            assert_allclose(spmd(*args, ct), fnad.vjp(named(f), *args)[1](ct), 1e-10, 1e-10,
                            "per-member vjp differs from the vjp of the vmap")
        else:
            check_grads(f, args, op.grad_order, modes=MIXED, **grad_tols(op))


def has_transpose(op: OpInfo) -> bool:
    return op.prim.transpose is not None


@pytest.mark.parametrize("op", cases("transpose", has_transpose), ids=str)
def test_transpose_rule_runs_in_vjp(op: OpInfo) -> None:
    rng = np.random.default_rng(3)
    ran = 0
    for s in grad_samples(op):
        f = functools.partial(op.transpose_op or op.op, **s.kwargs)
        args = as_float64(s.args)
        g = named(f) if op.axis_name else f
        ct = random_like((g(*args),), rng)[0]
        vjp = vjp_of(f)
        with counting(op, "transpose") as calls:  # traced: no cached rule
            typecheck(fnad.make_jaxpr(named(vjp) if op.axis_name else vjp)(*args, ct))
        ran += calls[0]
        # <ct, J t> = <J^T ct, t>: the transpose is the adjoint of the jvp
        t = random_like(args, rng)
        jt = fnad.jvp(g, args, t)[1]
        jct = fnad.vjp(g, *args)[1](ct)
        lhs = sum(pairing(a, b) for a, b in
                  zip(tree_util.tree_leaves(ct), tree_util.tree_leaves(jt)))
        rhs = sum(pairing(a, b) for a, b in
                  zip(tree_util.tree_leaves(jct), tree_util.tree_leaves(t))
                  if np.asarray(b).dtype.kind in "fc")
        single = any(np.asarray(x).dtype in (np.float32, np.complex64)
                     for x in tree_util.tree_leaves(jt))
        tol = 1e-5 if single else 1e-9
        np.testing.assert_allclose(lhs, rhs, rtol=tol, atol=tol)
    assert_ran([ran], op, "transpose")


def zero_derivative(op: OpInfo) -> bool:
    """No derivative to check, but a jvp rule, on operands that can carry tangents (the
    jvp rules of primitives on integers and bools alone never run: fnad.jvp gives their
    operands no tangent, and no rule gives an integer output a nonzero one)."""
    return not op.applies("jvp") and op.prim.jvp is not None and \
        (op.name, "jvp") not in ELSEWHERE and any(np.dtype(d).kind == "f" for d in op.dtypes)


def has_transpose_ones(op: OpInfo) -> bool:
    return op.prim.transpose_ones is not None and op.axis_name is None


@pytest.mark.parametrize("op", cases("transpose", has_transpose_ones), ids=str)
def test_grad_seed_transpose_equals_the_general_transpose(op: OpInfo) -> None:
    """grad's all-ones seed meets the primitive's `transpose_ones` rule when the primitive
    feeds the summed output; the gradient equals the one through its plain transpose."""
    ran = 0
    for s in grad_samples(op):
        f = functools.partial(op.transpose_op or op.op, **s.kwargs)
        args = as_float64(s.args)
        g = fnad.grad(lambda *a, f=f: fnad.lax.reduce_sum(f(*a), tuple(range(np.ndim(f(*a))))),
                      argnums=tuple(range(len(args))))
        with counting(op, "transpose_ones") as calls:
            typecheck(fnad.make_jaxpr(g)(*args))
            with_seed = g(*args)
        ran += calls[0]
        rule = op.prim.transpose_ones
        op.prim.transpose_ones = None
        try:
            plain = g(*args)
        finally:
            op.prim.transpose_ones = rule
        for a, b in zip(with_seed, plain):
            assert_allclose(a, b, 1e-12, 1e-12, f"{op.name}: seed transpose vs transpose")
    assert ran, f"the transpose_ones rule of {op.name} never ran: the entry misses it"


@pytest.mark.parametrize("op", [op for op in OPS if zero_derivative(op)], ids=str)
def test_jvp_of_a_piecewise_constant_primitive_is_zero(op: OpInfo) -> None:
    """Entries with no derivative to check against finite differences (integer valued,
    piecewise constant, stop_gradient) still have a jvp rule: it runs and gives zeros."""
    rng = np.random.default_rng(4)
    ran = 0
    for dtype in op.dtypes:
        for s in op.draw(0, dtype):
            f = bound(op, s)
            tangents = random_like(s.args, rng)
            out = jvp_of(f, len(s.args))(*s.args, *tangents)
            for t in tree_util.tree_leaves(out):
                assert not np.any(np.asarray(t)), f"{op.name}: nonzero tangent {t}"
            with counting(op, "jvp") as calls:
                typecheck(fnad.make_jaxpr(jvp_of(f, len(s.args)))(*s.args, *tangents))
            ran += calls[0]
    assert_ran([ran], op, "jvp")


# ---------------------------------------------------------------------------- vmap

def batch_configs(n: int) -> list[tuple[bool, ...]]:
    """Which operands are batched: all, and each one alone."""
    return [(True,) * n] + ([tuple(i == j for j in range(n)) for i in range(n)] if n > 1 else [])


def stacked(op: OpInfo, dtype: np.dtype, size: int = 3) -> list[list[Sample]]:
    """`size` draws of each sample (same shapes and params, other values)."""
    draws = [op.draw(seed, dtype) for seed in range(size)]
    return [list(d) for d in zip(*draws)]


@pytest.mark.parametrize("op", cases("vmap"), ids=str)
def test_vmap_against_a_loop(op: OpInfo) -> None:
    dtype = float_dtype(op)
    slots = ["batch"] + (["batch_collective"] if op.axis_name else [])
    with contextlib.ExitStack() as stack:
        calls = [stack.enter_context(counting(op, slot)) for slot in slots]
        for draws in stacked(op, dtype):
            if op.axis_name:
                check_vmap_collective(op, draws, dtype)
            else:
                check_vmap_all_layouts(op, draws, dtype)
    for c, slot in zip(calls, slots):
        assert_ran(c, op, slot)


def check_vmap_all_layouts(op: OpInfo, draws: list[Sample], dtype: np.dtype) -> None:
    """Each operand batched alone and all together, at axis 0 (out_axes 0) and at the last
    axis (out_axes -1)."""
    s = draws[0]
    f, tol = bound(op, s), tolerance(op, dtype)
    for which in batch_configs(len(s.args)):
        for last in (False, True):
            axes = tuple((np.ndim(a) if last else 0) if b else None
                         for a, b in zip(s.args, which))
            args = tuple(np.stack([d.args[i] for d in draws], ax) if ax is not None
                         else s.args[i] for i, ax in enumerate(axes))
            check_vmap(f, args, in_axes=axes, out_axes=-1 if last else 0, atol=tol, rtol=tol)
            typecheck(fnad.make_jaxpr(fnad.vmap(f, in_axes=axes))(*args))


def check_vmap_collective(op: OpInfo, draws: list[Sample], dtype: np.dtype) -> None:
    """An unnamed vmap inside the named one (the collective passes through it, then the
    named vmap reduces), and an unnamed vmap over an axis bound to a communicator."""
    s = draws[0]
    f, tol = bound(op, s), tolerance(op, dtype)
    n = len(s.args)
    xs = [np.stack([d.args[i] for d in draws], axis=-1) for i in range(n)]  # members first
    rows = [named(f)(*(x[..., b] for x in xs)) for b in range(len(draws))]
    expected = tree_util.tree_map(lambda *r: np.stack(r, axis=1), *rows)
    assert_allclose(named(fnad.vmap(f, in_axes=-1))(*xs), expected, tol, tol,
                    f"{op.name}: vmap inside the named vmap")
    with peers():
        check_vmap(f, tuple(x[0] for x in xs), in_axes=-1, atol=tol, rtol=tol)


# ---------------------------------------------------------------------------- found bugs
# Wrapper semantics the table's references showed to differ from JAX's (fixed: they were
# dropped), kept out of the table's samples so that the rest of each entry stays checked.

@pytest.mark.parametrize("which", ["dot_general", "conv_general_dilated"])
def test_preferred_element_type_is_the_result_dtype(which: str) -> None:
    x = np.arange(6, dtype=np.float32).reshape(1, 1, 2, 3)
    if which == "dot_general":
        out = fnad.lax.dot_general(x[0, 0], x[0, 0].T, (((1,), (0,)), ((), ())),
                                   preferred_element_type=np.float64)
        want = x[0, 0].astype(np.float64) @ x[0, 0].T.astype(np.float64)
    else:
        out = fnad.lax.conv_general_dilated(x, x, (1, 1), "VALID",
                                            preferred_element_type=np.float64)
        want = np.sum(x.astype(np.float64) ** 2).reshape(1, 1, 1, 1)
    assert np.asarray(out).dtype == np.float64
    assert_allclose(out, want)


# ---------------------------------------------------------------------------- compositions

@pytest.mark.parametrize("op", cases("jit", not_collective), ids=str)
def test_jit_of_vmap_jvp_and_vjp_equals_eager(op: OpInfo) -> None:
    """The programs the transforms make (batched shapes, tangent and transposed equations)
    compile on every backend to what they compute eagerly."""
    rng = np.random.default_rng(6)
    programs = []
    if op.applies("vmap"):
        for draws in stacked(op, float_dtype(op)):
            axes = tuple(np.ndim(a) for a in draws[0].args)  # batched last
            programs.append((fnad.vmap(bound(op, draws[0]), in_axes=axes), tuple(
                np.stack([d.args[i] for d in draws], ax) for i, ax in enumerate(axes))))
    if op.applies("jvp"):
        for s in grad_samples(op):
            f, args = bound(op, s), as_float64(s.args)
            programs.append((jvp_of(f, len(args)), args + random_like(args, rng)))
            if op.applies("vjp"):
                programs.append((vjp_of(f), args + random_like((f(*args),), rng)))
    for g, args in programs:
        expected = g(*args)
        for backend in available_backends():
            assert_allclose(fnad.jit(g, backend=backend)(*args), expected, 1e-9, 1e-9,
                            f"{op.name}: jit on {backend}")


# ---------------------------------------------------------------------------- kernel rules

def has_kernel_rule(op: OpInfo) -> bool:
    """A kernel rule that fusion writes into a generated kernel (not a library call, a call
    of a sub-jaxpr, or one fusion never uses)."""
    k = op.prim.kernel
    return op.axis_name is None and (
        type(k) in (Reduce, Broadcast) or type(k) is Elementwise and k.fusable) \
        and (op.name, "kernel") not in UNREACHABLE


def _consume(x: Any) -> Any:
    """An elementwise use of x that the passes keep and C defines for every value (no
    signed overflow): halving floats, bitwise not of integers and bools."""
    if np.dtype(x.dtype).kind == "f":
        return fnad.lax.mul(x, np.asarray(0.5, x.dtype))
    return fnad.lax.bitwise_not(x)


def kernel_program(op: OpInfo, s: Sample, other: Sample) -> tuple[Callable[..., Any], tuple]:
    """A program in which fusion takes the primitive into a kernel: a reduction after an
    elementwise prologue; else two applications (on two draws), each used elementwise, so
    that one region holds more than one equation."""
    f = bound(op, s)
    if type(op.prim.kernel) is Reduce:
        return (lambda *a: f(*(_consume(x) for x in a))), s.args
    n = len(s.args)
    return (lambda *ab: (_consume(f(*ab[:n])), _consume(f(*ab[n:])))), s.args + other.args


@pytest.mark.parametrize("op", cases("kernel", has_kernel_rule), ids=str)
def test_kernel_rule_in_a_fused_kernel_equals_eager(op: OpInfo) -> None:
    """Every dtype, with the first sample and the last (edge values where the entry has
    them), through the generated kernels of each backend; some sample must put the
    primitive in a kernel."""
    check_kernels(op, lambda samples: [samples[0], samples[-1]])


@pytest.mark.slow
@pytest.mark.parametrize("op", cases("kernel", has_kernel_rule), ids=str)
def test_kernel_rule_on_every_sample(op: OpInfo) -> None:
    check_kernels(op, lambda samples: samples)


def check_kernels(op: OpInfo, pick: Callable[[list], list]) -> None:
    from fnad.jit import fusion
    in_kernel = 0
    for dtype in op.dtypes:
        for s, other in pick(list(zip(op.draw(0, dtype), op.draw(1, dtype)))):
            g, args = kernel_program(op, s, other)
            expected = g(*args)
            tol = tolerance(op, dtype)
            for backend in available_backends():
                assert_allclose(fnad.jit(g, backend=backend)(*args), expected, tol, tol,
                                f"{op.name} {dtype}: fused on {backend}")
            lowered = fnad.jit(g).lower(*args)  # after the passes, before fusion
            fused = fusion.fuse(lowered, lambda kernel: None, launch_us=0)
            left = {e.prim.name for e in fused.eqns if e.prim is not fusion.fusion_p}
            in_kernel += op.name in primitives_in(lowered) and op.name not in left
    assert in_kernel, f"fusion never put {op.name} in a kernel: its kernel rule never ran"


@pytest.mark.parametrize("op", cases("jit", lambda op: type(op.prim.kernel) is CLoop), ids=str)
def test_c_loop_nest_equals_the_impl(op: OpInfo) -> None:
    """A primitive with a hand-written C loop nest: the C backend's jit runs it on the
    samples it takes (ties, +-inf and NaN among them) and gives eager evaluation's
    numbers exactly; some sample must take it."""
    if "c" not in available_backends():
        pytest.skip("no C compiler")
    taken = 0
    for dtype in op.dtypes:
        for k, s in enumerate(op.draw(0, dtype)):
            f = bound(op, s)
            with in_context(op):
                args = member_args(op, s)
                taken += sum(op.prim.kernel.lower([a.aval for a in e.inputs], e.params)
                             is not None for e in fnad.jit(f).lower(*args).jaxpr.eqns
                             if e.prim is op.prim)
                np.testing.assert_array_equal(fnad.jit(f, backend="c")(*args), f(*args),
                                              f"{op.name} {dtype} sample {k}")
    assert taken, f"no sample of {op.name} runs its C loop nest"


# ---------------------------------------------------------------------------- rule coverage

def rule_tests(op: OpInfo) -> dict[str, bool]:
    """Rule slot -> whether a test above runs the entry and asserts that the rule ran."""
    return {"abstract_eval_rule": op.applies("typecheck"),
            "jvp": op.applies("jvp") or zero_derivative(op),
            "transpose": op.applies("transpose"),
            "batch": op.applies("vmap"),
            "batch_collective": op.applies("vmap") and op.axis_name is not None,
            "partial_eval": op.applies("linearize") and differentiable(op),
            "kernel": op.applies("kernel") and has_kernel_rule(op) or
            type(op.prim.kernel) is LibraryCall and op.applies("lowering") or
            type(op.prim.kernel) is JaxprCall and op.applies("jit") or  # the inlining pass
            type(op.prim.kernel) is CLoop and op.applies("jit"),
            "simplify": op.applies("lowering"),
            "transpose_ones": op.applies("transpose") and op.axis_name is None,
            "weak_type_rule": op.applies("typecheck")}


def rule_defined(op: OpInfo, slot: str) -> bool:
    """Whether the primitive has the rule: an `Elementwise` kernel rule that is not fusable
    only says the primitive is elementwise (no code is generated from it)."""
    rule = getattr(op.prim, slot, None)
    return rule is not None and (slot != "kernel" or getattr(rule, "fusable", True))


def test_every_rule_is_run_by_some_test() -> None:
    """Each rule a primitive defines is run (and seen to run) by a test of its entry, or is
    listed as unreachable with the reason."""
    untested, stale = [], []
    for op in OPS:
        for slot, tested in rule_tests(op).items():
            defined = rule_defined(op, slot)
            if defined and not tested and (op.name, slot) not in {**UNREACHABLE, **ELSEWHERE}:
                untested.append((op.name, slot))
            if (op.name, slot) in UNREACHABLE and (not defined or tested):
                stale.append((op.name, slot))
    assert not untested, f"rules no test runs: {untested}"
    assert not stale, f"UNREACHABLE lists rules that are gone or now tested: {stale}"
