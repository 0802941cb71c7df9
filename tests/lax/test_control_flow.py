"""Tests of fnad/lax/control_flow.py: every construct against its Python-unrolled equivalent,
eagerly, staged, under vmap (batched and unbatched predicates) and under jvp/grad to order 2.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fnad
from fnad import lax, numpy as fnp
from fnad.core.ir import ClosedJaxpr, typecheck
from fnad.test_util import assert_allclose, check_grads, check_transforms, check_vmap

R = np.random.default_rng(0)


def _normal(*shape: int) -> np.ndarray:
    return R.standard_normal(shape)


def _as(x: Any, like: Any) -> Any:
    return lax.convert_element_type(x, fnp.asarray(like).dtype)


class Case(NamedTuple):
    name: str
    f: Callable[..., Any]  # written with fnad.lax control flow
    ref: Callable[..., Any]  # the same computation with Python control flow, run eagerly
    args: tuple
    vmaps: Sequence[tuple[tuple, tuple]]  # (batched args, in_axes)
    modes: tuple[str, ...] = ("fwd", "rev")


# ---------------------------------------------------------------------------- the cases

def cond_scalar(p, x):
    return lax.cond(p > 0, lambda x: fnp.sin(x) * 2.0, lambda x: fnp.cos(x) - x, x)


def cond_scalar_ref(p, x):
    return fnp.sin(x) * 2.0 if p > 0 else fnp.cos(x) - x


def cond_tree(p, x, y):
    # Pytree operands and outputs; both branches close over `y`, a traced value.
    return lax.cond(p > 0, lambda a: {"s": a[0] * y, "t": fnp.sum(a[1]) + y},
                    lambda a: {"s": a[0] - y, "t": fnp.sum(a[1] * a[1])}, (x, x * 3.0))


def cond_tree_ref(p, x, y):
    a = (x, x * 3.0)
    if p > 0:
        return {"s": a[0] * y, "t": fnp.sum(a[1]) + y}
    return {"s": a[0] - y, "t": fnp.sum(a[1] * a[1])}


def cond_mixed(p, x):
    # An integer output next to a float one, and a branch ignoring its operand.
    return lax.cond(p > 0, lambda x: (x * x, np.int32(1)), lambda x: (fnp.exp(x), np.int32(0)), x)


def cond_mixed_ref(p, x):
    return (x * x, np.int32(1)) if p > 0 else (fnp.exp(x), np.int32(0))


def cond_one_sided(p, x, y):
    # Only one branch touches `y`: the other has no tangent / no batch axis / no residual.
    return lax.cond(p > 0, lambda x: x * y, lambda x: fnp.sin(x), x)


def cond_one_sided_ref(p, x, y):
    return x * y if p > 0 else fnp.sin(x)


BRANCHES = [lambda x: x * 2.0, fnp.sin, lambda x: x * x]


def switch3(i, x):
    return lax.switch(i, BRANCHES, x)


def switch3_ref(i, x):
    return BRANCHES[int(np.clip(i, 0, 2))](x)


def while_counter(x):
    return lax.while_loop(lambda c: c[0] < 4,
                          lambda c: (c[0] + 1, c[1] * 1.1 + fnp.sin(c[1])), (0, x))[1]


def while_counter_ref(x):
    i = 0
    while i < 4:
        i, x = i + 1, x * 1.1 + fnp.sin(x)
    return x


def while_closure(x, a):
    # The body closes over `a`: batching `a` alone makes the carry batched.
    return lax.while_loop(lambda c: c[0] < 3,
                          lambda c: (c[0] + 1, fnp.sin(c[1]) * a), (0, x))[1]


def while_closure_ref(x, a):
    for _ in range(3):
        x = fnp.sin(x) * a
    return x


def while_value(x):
    # The trip count depends on the data: under vmap the predicate is batched.
    return lax.while_loop(lambda v: fnp.sum(v) < 10.0, lambda v: v * 1.5 + 0.1, x)


def while_value_ref(x):
    while fnp.sum(x) < 10.0:
        x = x * 1.5 + 0.1
    return x


def fori_static(x):
    return lax.fori_loop(0, 5, lambda i, v: v * fnp.cos(v) + _as(i, v), x)


def fori_ref(x, n=5):
    for i in range(n):
        x = x * fnp.cos(x) + i
    return x


def fori_dynamic(x, n):
    # With a traced bound (under make_jaxpr, vmap) this is a while_loop.
    return lax.fori_loop(0, n, lambda i, v: v * fnp.cos(v) + _as(i, v), x)


def scan_tree(h, w, xs, ns):
    def step(c, x):
        h = fnp.tanh(c["h"] * w + x[0])
        return {"h": h, "n": c["n"] + x[1] * fnp.sum(h)}, {"h": h, "sq": c["n"] * c["n"]}
    return lax.scan(step, {"h": h, "n": 0.0 * fnp.sum(w)}, (xs, ns))


def scan_tree_ref(h, w, xs, ns):
    c, ys = {"h": h, "n": 0.0 * fnp.sum(w)}, []
    for x in zip(xs, ns):
        h = fnp.tanh(c["h"] * w + x[0])
        ys.append({"h": h, "sq": c["n"] * c["n"]})
        c = {"h": h, "n": c["n"] + x[1] * fnp.sum(h)}
    return c, {k: np.stack([y[k] for y in ys]) for k in ("h", "sq")}


def scan_reverse(c, xs):
    return lax.scan(lambda c, x: (fnp.sin(c) * x, c * x), c, xs, reverse=True)


def scan_reverse_ref(c, xs):
    ys = [None] * len(xs)
    for i in reversed(range(len(xs))):
        c, ys[i] = fnp.sin(c) * xs[i], c * xs[i]
    return c, np.stack(ys)


def scan_no_xs(c):
    return lax.scan(lambda c, _: (c * fnp.cos(c), None), c, None, length=4)


def scan_no_xs_ref(c):
    for _ in range(4):
        c = c * fnp.cos(c)
    return c, None


def scan_cond(c, xs):
    # A cond inside the body: a different branch at different iterations.
    def step(c, x):
        c = lax.cond(x > 0, lambda c: c * x + fnp.sin(c), lambda c: c - x * c, c)
        return c, c * c
    return lax.scan(step, c, xs)


def scan_cond_ref(c, xs):
    ys = []
    for x in xs:
        c = c * x + fnp.sin(c) if x > 0 else c - x * c
        ys.append(c * c)
    return c, np.stack(ys)


def scan_nested(c, xs):
    def step(c, x):
        c = lax.fori_loop(0, 2, lambda i, v: fnp.sin(v) * x, c)
        return c, fnp.sum(c)
    return lax.scan(step, c, xs)


def scan_nested_ref(c, xs):
    ys = []
    for x in xs:
        for _ in range(2):
            c = fnp.sin(c) * x
        ys.append(fnp.sum(c))
    return c, np.stack(ys)


def scan_sin(c, xs):
    return lax.scan(lambda c, x: (fnp.sin(c) * x, c * x), c, xs)


def scan_sin_ref(c, xs):
    ys = []
    for x in xs:
        c, y = fnp.sin(c) * x, c * x
        ys.append(y)
    return c, np.stack(ys) if ys else np.zeros(np.shape(xs))


def scan_switch(c, idx):
    # The branch index is scanned over (an int xs) and is batched under vmap.
    return lax.scan(lambda c, i: (lax.switch(i, BRANCHES, c), c), c, idx)


def scan_switch_ref(c, idx):
    ys = []
    for i in idx:
        c, y = switch3_ref(i, c), c
        ys.append(y)
    return c, np.stack(ys)


def while_cond(x):
    return lax.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, lax.cond(
        fnp.sum(c[1]) > 0, lambda v: v * 0.5, fnp.sin, c[1])), (0, x))[1]


def while_cond_ref(x):
    for _ in range(3):
        x = x * 0.5 if fnp.sum(x) > 0 else fnp.sin(x)
    return x


def map_rows(xs):
    return lax.map(lambda r: fnp.sum(fnp.sin(r) * r), xs)


def map_rows_ref(xs):
    return np.stack([fnp.sum(fnp.sin(r) * r) for r in xs])


F = np.float64  # Python floats would trace as float32
P = np.array([0.7, -0.3, 1.2])
X3 = _normal(3)
XS = _normal(4)
CASES = [
    Case("cond_true", cond_scalar, cond_scalar_ref, (F(0.7), X3),
         [((P, _normal(3, 3)), (0, 0)), ((F(0.5), _normal(3, 2)), (None, 1)),
          ((P, X3), (0, None)), ((P, _normal(3, 3)), (0, -1))]),
    Case("cond_false", cond_scalar, cond_scalar_ref, (F(-0.3), X3), []),
    Case("cond_tree", cond_tree, cond_tree_ref, (F(-0.4), X3, F(0.8)),
         [((P, _normal(3, 3), F(0.8)), (0, 0, None)), ((F(-1.0), X3, P), (None, None, 0))]),
    Case("cond_mixed", cond_mixed, cond_mixed_ref, (F(0.2), X3),
         [((P, _normal(3, 3)), (0, 0)), ((P, X3), (0, None))]),
    Case("cond_one_sided_true", cond_one_sided, cond_one_sided_ref, (F(0.3), X3, F(1.5)),
         [((F(0.3), X3, P), (None, None, 0)), ((P, X3, F(1.5)), (0, None, None))]),
    Case("cond_one_sided_false", cond_one_sided, cond_one_sided_ref, (F(-0.3), X3, F(1.5)),
         [((F(-0.3), X3, P), (None, None, 0))]),
    Case("switch_clamped_low", switch3, switch3_ref, (np.int32(-1), X3),
         [((np.array([0, 1, 2, 7], np.int32), _normal(4, 3)), (0, 0)),
          ((np.int32(1), _normal(3, 4)), (None, 1))]),
    Case("switch_mid", switch3, switch3_ref, (np.int32(1), X3), []),
    Case("switch_clamped_high", switch3, switch3_ref, (np.int32(9), X3), []),
    Case("while_counter", while_counter, while_counter_ref, (X3,),
         [((_normal(2, 3),), (0,)), ((_normal(3, 2),), (-1,))], modes=("fwd",)),
    Case("while_closure", while_closure, while_closure_ref, (X3, F(0.9)),
         [((X3, P), (None, 0)), ((_normal(3, 3), P), (1, 0))], modes=("fwd",)),
    Case("while_cond", while_cond, while_cond_ref, (np.array([0.3, -0.2]),),
         [((np.array([[0.3, -0.2], [-1.0, 0.1], [2.0, 1.0]]),), (0,))], modes=("fwd",)),
    Case("while_value", while_value, while_value_ref, (np.abs(X3),),
         [((np.abs(_normal(4, 3)) * np.array([[1.0], [3.0], [0.1], [5.0]]),), (0,))],
         modes=("fwd",)),
    Case("fori_static", fori_static, fori_ref, (X3,), [((_normal(3, 2),), (1,))]),
    Case("fori_dynamic", fori_dynamic, fori_ref, (X3, np.int32(3)),
         [((_normal(3, 3), np.array([0, 2, 5], np.int32)), (0, 0)),
          ((_normal(3, 3), np.int32(4)), (0, None))], modes=("fwd",)),
    Case("scan_tree", scan_tree, scan_tree_ref, (X3, X3 + 1, _normal(4, 3), XS),
         [((_normal(2, 3), X3, _normal(4, 3), XS), (0, None, None, None)),
          ((X3, X3, _normal(4, 2, 3), _normal(4, 2)), (None, None, 1, 1)),
          ((X3, _normal(3, 2), _normal(4, 3), _normal(2, 4)), (None, 1, None, 0))]),
    Case("scan_reverse", scan_reverse, scan_reverse_ref, (X3[0], XS),
         [((X3, XS), (0, None)), ((X3[0], _normal(4, 3)), (None, -1))]),
    Case("scan_empty", scan_sin, scan_sin_ref, (X3, np.ones((0, 3))),
         [((_normal(2, 3), np.ones((0, 3))), (0, None))]),
    Case("scan_switch", scan_switch, scan_switch_ref, (X3, np.array([0, 2, 1, 5], np.int32)),
         [((X3, np.array([[0, 2, 1, 5], [1, 1, 0, 2]], np.int32)), (None, 0))]),
    Case("scan_no_xs", scan_no_xs, scan_no_xs_ref, (X3,), [((_normal(3, 2),), (1,))]),
    Case("scan_cond", scan_cond, scan_cond_ref, (X3, XS),
         [((X3, _normal(4, 3)), (None, 1)), ((_normal(2, 3), XS), (0, None))]),
    Case("scan_nested", scan_nested, scan_nested_ref, (X3, XS), [((_normal(2, 3), XS), (0, None))]),
    Case("map", map_rows, map_rows_ref, (_normal(4, 3),), [((_normal(2, 4, 3),), (0,))]),
]
IDS = [c.name for c in CASES]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_value_matches_python_control_flow(case: Case) -> None:
    assert_allclose(case.f(*case.args), case.ref(*case.args))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_staged(case: Case) -> None:
    check_transforms(case.f, case.args)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_vmap(case: Case) -> None:
    for args, in_axes in case.vmaps:
        check_vmap(case.f, args, in_axes)
        check_transforms(fnad.vmap(case.f, in_axes), args)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_grads(case: Case) -> None:
    check_grads(case.f, case.args, order=2, modes=case.modes)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_derivatives_stage(case: Case) -> None:
    """The jaxprs of jvp (and of vjp where it applies) typecheck and evaluate as eager."""
    tangents = fnad.tree.tree_map(lambda x: np.ones_like(np.asarray(x)), case.args)
    check_transforms(lambda *a: fnad.jvp(case.f, a, tangents)[1], case.args)
    if "rev" in case.modes:
        out = case.f(*case.args)
        ct = fnad.tree.tree_map(lambda x: np.ones_like(np.asarray(x)), out)
        check_transforms(lambda *a: fnad.vjp(case.f, *a)[1](ct), case.args)


@pytest.mark.parametrize("name, spec, argnum", [
    ("scan_tree", 0, 1), ("cond_tree", 0, 2), ("scan_cond", 1, 1), ("cond_one_sided_true", 1, 2)])
def test_vmap_of_grad_and_grad_of_vmap(name: str, spec: int, argnum: int) -> None:
    """`argnum` is an unbatched argument: the gradient of the batched sum with respect to it
    is the sum of the per-example gradients."""
    case = next(c for c in CASES if c.name == name)
    args, in_axes = case.vmaps[spec]
    loss = lambda *a: sum(fnp.sum(y) for y in fnad.tree.tree_leaves(case.f(*a)))  # noqa: E731
    check_vmap(fnad.grad(loss, argnums=argnum), args, in_axes)
    size = next(np.shape(a)[ax] for a, ax in zip(args, in_axes) if ax is not None)
    per_example = [fnad.grad(loss, argnums=argnum)(
        *(a if ax is None else np.take(a, i, ax) for a, ax in zip(args, in_axes)))
        for i in range(size)]
    batched = lambda *a: fnp.sum(fnad.vmap(loss, in_axes)(*a))  # noqa: E731
    assert_allclose(fnad.grad(batched, argnums=argnum)(*args), sum(per_example))


def test_forward_over_while_loop_under_vmap() -> None:
    jac = fnad.jacfwd(while_closure)(X3, 0.9)
    eps = 1e-6
    fd = np.stack([(while_closure(X3 + eps * e, 0.9) - while_closure(X3 - eps * e, 0.9))
                   / (2 * eps) for e in np.eye(3)], axis=1)
    assert_allclose(jac, fd, atol=1e-6, rtol=1e-6)


def test_vmap_out_axes() -> None:
    check_vmap(lambda c, xs: lax.scan(lambda c, x: (c * x, c + x), c, xs)[1],
               (_normal(2), _normal(2, 5)), (0, 0), out_axes=1)


@settings(max_examples=15, deadline=None)
@given(length=st.integers(0, 5), shape=st.lists(st.integers(1, 3), max_size=2),
       reverse=st.booleans(), dtype=st.sampled_from([np.float32, np.float64]))
def test_scan_matches_loop(length: int, shape: list[int], reverse: bool, dtype: Any) -> None:
    xs = R.standard_normal((length, *shape)).astype(dtype)
    c0 = np.ones(shape, dtype)
    carry, ys = lax.scan(lambda c, x: (c * 0.5 + x, c - x), c0, xs, reverse=reverse)
    c, expected = c0, [None] * length
    for i in (reversed(range(length)) if reverse else range(length)):
        c, expected[i] = c * dtype(0.5) + xs[i], c - xs[i]
    assert_allclose(carry, c)
    assert_allclose(ys, np.stack(expected) if length else np.zeros((0, *shape), dtype))


# ---------------------------------------------------------------------------- structure

def _eqn_names(closed: ClosedJaxpr) -> list[str]:
    return [e.prim.name for e in closed.eqns]


def test_fori_loop_lowers_to_scan_with_static_bounds() -> None:
    assert _eqn_names(fnad.make_jaxpr(fori_static)(X3)).count("scan") == 1
    assert _eqn_names(fnad.make_jaxpr(fori_dynamic)(X3, np.int32(3))).count("while_loop") == 1


def test_grad_of_cond_is_one_known_and_one_transposed_cond() -> None:
    jaxpr = fnad.make_jaxpr(fnad.grad(lambda p, x: fnp.sum(cond_scalar(p, x)), 1))(0.5, X3)
    typecheck(jaxpr)
    assert _eqn_names(jaxpr).count("cond") == 2


def test_closed_over_tracers_become_operands() -> None:
    # `w` is a tracer of grad; inside the body it must be an operand of scan, not a constant
    # hidden in the sub-jaxpr, or the gradient with respect to it would be lost.
    def f(w):
        return lax.scan(lambda c, x: (c * w + x, None), np.float64(1.0), XS)[0]
    for eqn in fnad.make_jaxpr(f)(np.float64(0.3)).eqns:
        if eqn.prim.name == "scan":
            assert not eqn.params["jaxpr"].consts
    w = 0.3
    expected = fnad.grad(lambda w: fori_like_unrolled(w))(w)
    assert_allclose(fnad.grad(f)(np.float64(w)), expected)


def fori_like_unrolled(w):
    c = np.float64(1.0)
    for x in XS:
        c = c * w + x
    return c


# ---------------------------------------------------------------------------- errors

def test_reverse_mode_through_while_loop_raises() -> None:
    with pytest.raises(fnad.TransformError, match="fori_loop with static"):
        fnad.grad(lambda x: fnp.sum(while_counter(x)))(X3)
    with pytest.raises(fnad.TransformError, match="or write the loop with scan"):
        fnad.grad(lambda x: fnp.sum(while_value(x)))(np.abs(X3))


def test_dynamic_fori_loop_is_forward_differentiable() -> None:
    out, t = fnad.jvp(lambda x: fori_dynamic(x, np.int32(3)), (X3,), (np.ones(3),))
    assert_allclose(out, fori_ref(X3, 3))


@pytest.mark.parametrize("fn, match", [
    (lambda x: lax.cond(True, lambda x: x, lambda x: x.astype(np.float32), x),
     r"true_fun's output has type f64\[3\] but false_fun's output has type f32\[3\]"),
    (lambda x: lax.cond(True, lambda x: (x, x), lambda x: [x, x], x),
     r"\(f64\[3\], f64\[3\]\).*\[f64\[3\], f64\[3\]\]"),
    (lambda x: lax.switch(0, [lambda x: x, lambda x: fnp.reshape(x, (3, 1))], x),
     r"branch 1's output has type f64\[3,1\] but branch 0's output has type f64\[3\]"),
    (lambda x: lax.scan(lambda c, x: (c.astype(np.float32), x), x, fnp.ones((2, 3))),
     r"carry output of f has type f32\[3\] but init has type f64\[3\]"),
    (lambda x: lax.scan(lambda c, x: ({"a": c}, x), {"b": x}, fnp.ones((2, 3))),
     r"\{'a': \{'b': f64\[3\]\}\} but init has type \{'b': f64\[3\]\}"),
    (lambda x: lax.while_loop(lambda c: True, lambda c: (c[0], fnp.reshape(c[1], (1, 3))), (1, x)),
     r"body_fun's output has type \(~i64\[\], .*init_val has type \(~i64\[\], f64\[3\]\)"),
    (lambda x: lax.while_loop(lambda c: fnp.sum(c), lambda c: c, x),
     r"cond_fun must return a boolean scalar, got f64\[\]"),
    (lambda x: lax.cond(x > 0, lambda x: x, lambda x: x, x), r"predicate must be a scalar"),
    (lambda x: lax.scan(lambda c, x: c, x, fnp.ones((2, 3))), r"must return a pair"),
])
def test_type_errors_show_both_types(fn: Callable[..., Any], match: str) -> None:
    with pytest.raises(fnad.FnadError, match=match):
        fn(X3)


def test_scan_length_errors() -> None:
    with pytest.raises(fnad.ShapeError, match="leading axis length"):
        lax.scan(lambda c, x: (c, x), 0.0, (np.ones(3), np.ones(4)))
    with pytest.raises(fnad.ShapeError, match="length="):
        lax.scan(lambda c, x: (c, x), 0.0, None)


def test_python_control_flow_on_traced_value_suggests_lax() -> None:
    def f(x):
        return x if x > 0 else -x
    with pytest.raises(fnad.ConcretizationError) as info:
        fnad.make_jaxpr(f)(1.0)
    assert "fnad.lax.cond" in str(info.value) and "fnad.lax.while_loop" in str(info.value)


def test_concretization_inside_a_body_names_the_construct() -> None:
    with pytest.raises(fnad.ConcretizationError, match="scan"):
        lax.scan(lambda c, x: (c if x > 0 else -c, None), 1.0, np.ones(3, np.float32))


# ---------------------------------------------------------------------------- the RNN

HIDDEN, INPUT, STEPS = 128, 16, 50


def _rnn_params() -> dict[str, np.ndarray]:
    r = np.random.default_rng(1)
    return {"W": r.standard_normal((HIDDEN, HIDDEN)) / np.sqrt(HIDDEN),
            "U": r.standard_normal((INPUT, HIDDEN)) / np.sqrt(INPUT),
            "b": r.standard_normal(HIDDEN) * 0.1, "h0": r.standard_normal(HIDDEN) * 0.1}


RNN_XS = np.random.default_rng(2).standard_normal((STEPS, INPUT))


def _cell(p: dict, h: Any, x: Any) -> Any:
    return fnp.tanh(fnp.matmul(h, p["W"]) + fnp.matmul(x, p["U"]) + p["b"])


def rnn_loss_scan(p: dict) -> Any:
    def step(h, x):
        h = _cell(p, h, x)
        return h, fnp.sum(h * h)
    h, ys = lax.scan(step, p["h0"], RNN_XS)
    return fnp.sum(ys) + fnp.sum(h)


def rnn_loss_unrolled(p: dict) -> Any:
    h, total = p["h0"], 0.0
    for x in RNN_XS:
        h = _cell(p, h, x)
        total = total + fnp.sum(h * h)
    return total + fnp.sum(h)


def test_rnn_gradient_matches_unrolled_and_stays_one_scan_each_way() -> None:
    p = _rnn_params()
    assert_allclose(rnn_loss_scan(p), rnn_loss_unrolled(p), atol=1e-9, rtol=1e-9)
    assert_allclose(fnad.grad(rnn_loss_scan)(p), fnad.grad(rnn_loss_unrolled)(p),
                    atol=1e-9, rtol=1e-9)
    jaxpr = fnad.make_jaxpr(fnad.grad(rnn_loss_scan))(p)
    typecheck(jaxpr)
    scans = [e for e in jaxpr.eqns if e.prim.name == "scan"]
    assert sorted(e.params["reverse"] for e in scans) == [False, True]
    assert all(e.params["length"] == STEPS for e in scans)
    assert "tanh" not in _eqn_names(jaxpr)  # the body is not unrolled at top level


def test_map_batch_size_and_optimization_barrier_as_jax() -> None:
    """JAX's lax.map(f, xs, batch_size=) and lax.optimization_barrier were missing."""
    xs = np.arange(5.0)
    np.testing.assert_array_equal(lax.map(lambda x: x * 2, xs, batch_size=2), xs * 2)
    with pytest.raises(ValueError, match="batch_size"):
        lax.map(lambda x: x, xs, batch_size=0)
    out = fnad.jit(lambda x: lax.optimization_barrier((x, x + 1.0)))(xs)
    np.testing.assert_array_equal(out[1], xs + 1.0)
    assert fnad.grad(lambda x: lax.optimization_barrier(x * x))(3.0) == 6.0


def test_cond_and_switch_take_jaxs_older_operand_keyword() -> None:
    assert lax.cond(True, lambda x: x + 1, lambda x: x - 1, operand=2.0) == 3.0
    assert lax.switch(1, [lambda x: x, lambda x: x * 10], operand=2.0) == 20.0
    assert fnad.jit(lambda v: lax.cond(v > 0, lambda x: -x, lambda x: x, operand=v))(3.0) == -3.0
    with pytest.raises(TypeError, match="not both"):
        lax.cond(True, lambda x: x, lambda x: x, 1.0, operand=2.0)
    out = lax.full_like(np.zeros(3, np.float32), 7, shape=(2, 2))
    assert out.shape == (2, 2) and out.dtype == np.float32
