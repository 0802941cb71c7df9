"""Random programs over the primitive set, checked across every transform.

Hypothesis draws a small program (elementwise ops with safe domains, broadcasting binary
ops, reductions, reshapes, transposes, flips, dot with a constant, cond, scan) over per-example
input shapes. Each program is run with NumPy as the reference and with fnad, which must
agree eagerly, under `jit` on every backend, under `vmap` against a loop over slices, in
`check_grads` (order 1, float64) when the program is smooth; every jaxpr produced
(make_jaxpr of f, of grad f, of vmap f) must typecheck. Bugs found are kept below as
`test_regression_*`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

import fnad
import fnad.numpy as fnp
from fnad import lax
from fnad.test_util import assert_allclose, check_grads, check_jit, check_vmap

# name -> (fn(xp, x), smooth)
UNARY: dict[str, tuple[Callable[..., Any], bool]] = {
    "sin": (lambda xp, x: xp.sin(x), True),
    "tanh": (lambda xp, x: xp.tanh(x), True),
    "exp_tanh": (lambda xp, x: xp.exp(xp.tanh(x)), True),
    "log_sq1": (lambda xp, x: xp.log(x * x + 1.0), True),
    "sqrt_sq1": (lambda xp, x: xp.sqrt(x * x + 1.0), True),
    "square": (lambda xp, x: x * x, True),
    "neg": (lambda xp, x: -x, True),
    "cube": (lambda xp, x: x ** 3, True),
    "cumsum0": (lambda xp, x: xp.cumsum(x, axis=0) if np.ndim(x) else x, True),
    "broadcast": (lambda xp, x: xp.broadcast_to(x, (2, *np.shape(x))).sum(0), True),
    "inner_jit": (lambda xp, x: _inner_jit(xp)(x), True),
    "squeeze_expand": (lambda xp, x: xp.squeeze(xp.expand_dims(x, 0), 0), True),
    "pad": (lambda xp, x: xp.pad(x, 1) if np.ndim(x) else x, True),
    "sort": (lambda xp, x: xp.sort(x, axis=-1) if np.ndim(x) else x, False),
    "clip": (lambda xp, x: xp.clip(x, -0.5, 0.7), False),
    "abs": (lambda xp, x: xp.abs(x), False),
    "relu": (lambda xp, x: xp.maximum(x, 0.0), False),
}
BINARY: dict[str, tuple[Callable[..., Any], bool]] = {
    "add": (lambda xp, a, b: a + b, True),
    "sub": (lambda xp, a, b: a - b, True),
    "mul": (lambda xp, a, b: a * b, True),
    "div_safe": (lambda xp, a, b: a / (b * b + 1.0), True),
    "maximum": (lambda xp, a, b: xp.maximum(a, b), False),
    "where_gt": (lambda xp, a, b: xp.where(a > b, a, b * 2.0), False),
}
REDUCE = {"sum": True, "mean": True, "prod": True, "var": True, "max": False, "min": False}


def _inner_jit(xp: Any) -> Callable[[Any], Any]:
    """A jitted function called inside the program: jit_call under every transform."""
    f = lambda v: xp.sin(v) * 2.0 + v
    return f if xp is np else fnad.jit(f)


# ---------------------------------------------------------------------------- interpreter

def _cond(xp: Any, x: Any) -> Any:
    if xp is np:
        return np.sin(x) if x.sum() > 0 else np.cos(x) * 2.0
    return lax.cond(fnp.sum(x) > 0, fnp.sin, lambda v: fnp.cos(v) * 2.0, x)


def _scan(xp: Any, x: Any) -> Any:
    """Running state c <- 0.5 c + sin(x_i) over the leading axis; ys are c * x_i."""
    def body(c: Any, xi: Any) -> tuple[Any, Any]:
        return c * 0.5 + xp.sin(xi), c * xi

    if xp is np:
        c, ys = np.zeros_like(x[0]), []
        for xi in x:
            c, y = body(c, xi)
            ys.append(y)
        return np.stack(ys) + c
    c, ys = lax.scan(body, fnp.zeros_like(x[0]), x)
    return ys + c


def _fori(xp: Any, x: Any) -> Any:
    """Three steps of x <- tanh(x) * 1.5 + 0.1 (static bounds: a scan, reverse-differentiable)."""
    body = lambda i, v: xp.tanh(v) * 1.5 + 0.1
    if xp is np:
        for i in range(3):
            x = body(i, x)
        return x
    return lax.fori_loop(0, 3, body, x)


def _while(xp: Any, x: Any) -> Any:
    """Halve until the norm is below 1 (data-dependent trip count: forward mode only)."""
    if xp is np:
        while (x * x).sum() >= 1.0:
            x = x * 0.5
        return x
    return lax.while_loop(lambda v: fnp.sum(v * v) >= 1.0, lambda v: v * 0.5, x)


def run(program: Sequence[tuple], xp: Any, args: Sequence[Any]) -> Any:
    """Evaluate a program with `xp` (numpy, or fnad.numpy under any transform)."""
    vals = list(args)
    for op, *rest in program:
        if op == "unary":
            name, i = rest
            vals.append(UNARY[name][0](xp, vals[i]))
        elif op == "binary":
            name, i, j = rest
            vals.append(BINARY[name][0](xp, vals[i], vals[j]))
        elif op == "reduce":
            name, i, axis = rest
            vals.append(getattr(xp, name)(vals[i], axis=axis))
        elif op == "reshape":
            i, shape = rest
            vals.append(xp.reshape(vals[i], shape))
        elif op == "transpose":
            i, perm = rest
            vals.append(xp.transpose(vals[i], perm))
        elif op == "flip":
            i, axis = rest
            vals.append(xp.flip(vals[i], axis))
        elif op == "dot":
            i, w = rest
            vals.append(xp.matmul(vals[i], w.astype(vals[i].dtype)))
        elif op == "matmul":
            i, j = rest
            vals.append(xp.matmul(vals[i], vals[j]))
        elif op == "take":
            i, idx, axis = rest
            vals.append(xp.take(vals[i], idx, axis=axis))
        elif op == "slice":
            i, axis = rest
            vals.append(vals[i][(slice(None),) * axis + (slice(1, None),)])
        elif op == "concat":
            i, axis = rest
            vals.append(xp.concatenate([vals[i], vals[i] * 2.0], axis=axis))
        elif op == "fori":
            vals.append(_fori(xp, vals[rest[0]]))
        elif op == "while":
            vals.append(_while(xp, vals[rest[0]]))
        elif op == "cond":
            vals.append(_cond(xp, vals[rest[0]]))
        elif op == "scan":
            vals.append(_scan(xp, vals[rest[0]]))
        else:
            raise AssertionError(op)
    return vals[-1]


def grad_modes(program: Sequence[tuple]) -> tuple[str, ...]:
    """The modes check_grads can use: none for a non-smooth program, forward only through
    while_loop."""
    if not is_smooth(program):
        return ()
    return ("fwd",) if any(op == "while" for op, *_ in program) else ("fwd", "rev")


def is_smooth(program: Sequence[tuple]) -> bool:
    for op, *rest in program:
        if (op == "unary" and not UNARY[rest[0]][1]) or (op == "binary" and not BINARY[rest[0]][1]):
            return False
        if op == "reduce" and not REDUCE[rest[0]]:
            return False
    return True


# ---------------------------------------------------------------------------- generator

@st.composite
def programs(draw: Any) -> tuple[list[tuple], list[tuple[int, ...]]]:
    """(program, per-example input shapes); inputs broadcast against a common shape."""
    base = draw(st.lists(st.integers(1, 4), min_size=0, max_size=3))
    n_in = draw(st.integers(1, 2))
    shapes = []
    for _ in range(n_in):
        rank = draw(st.integers(0, len(base)))
        suffix = base[len(base) - rank:]
        shapes.append(tuple(d if draw(st.booleans()) else 1 for d in suffix))
    cur = list(shapes)
    program: list[tuple] = []
    for _ in range(draw(st.integers(1, 8))):
        i = draw(st.integers(0, len(cur) - 1))
        shape = cur[i]
        kinds = ["unary", "binary", "reduce", "cond", "fori", "while"]
        if shape:
            kinds += ["reshape", "transpose", "flip", "dot", "scan", "take", "concat"]
        if shape and shape[0] > 1:
            kinds.append("slice")
        if any(len(s) in (1, 2) and len(shape) >= 1 and s[0] == shape[-1] for s in cur):
            kinds.append("matmul")
        kind = draw(st.sampled_from(kinds))
        if kind == "unary":
            name = draw(st.sampled_from(sorted(UNARY)))
            program.append(("unary", name, i))
            shape = np.shape(UNARY[name][0](np, np.zeros(shape)))
        elif kind == "binary":
            partners = [j for j, s in enumerate(cur) if _broadcasts(shape, s)]
            j = draw(st.sampled_from(partners))
            program.append(("binary", draw(st.sampled_from(sorted(BINARY))), i, j))
            shape = np.broadcast_shapes(shape, cur[j])
        elif kind == "reduce":
            axis = draw(st.sampled_from([None, *range(len(shape))]))
            program.append(("reduce", draw(st.sampled_from(sorted(REDUCE))), i, axis))
            shape = () if axis is None else shape[:axis] + shape[axis + 1:]
        elif kind == "reshape":
            shape = draw(st.sampled_from(_factorizations(int(np.prod(shape)))))
            program.append(("reshape", i, shape))
        elif kind == "transpose":
            perm = tuple(draw(st.permutations(range(len(shape)))))
            program.append(("transpose", i, perm))
            shape = tuple(shape[p] for p in perm)
        elif kind == "flip":
            program.append(("flip", i, draw(st.integers(0, len(shape) - 1))))
        elif kind == "dot":
            m = draw(st.integers(1, 3))
            w = np.random.default_rng(draw(st.integers(0, 99))).standard_normal((shape[-1], m))
            program.append(("dot", i, w))
            shape = shape[:-1] + (m,)
        elif kind == "matmul":
            j = draw(st.sampled_from([j for j, s in enumerate(cur)
                                      if len(s) in (1, 2) and s[0] == shape[-1]]))
            program.append(("matmul", i, j))
            shape = np.matmul(np.zeros(shape), np.zeros(cur[j])).shape
        elif kind == "take":
            axis = draw(st.integers(0, len(shape) - 1))
            idx = np.array(draw(st.lists(st.integers(0, shape[axis] - 1), min_size=1,
                                         max_size=4)), np.int32)
            program.append(("take", i, idx, axis))
            shape = shape[:axis] + idx.shape + shape[axis + 1:]
        elif kind == "slice":
            program.append(("slice", i, 0))
            shape = (shape[0] - 1, *shape[1:])
        elif kind == "concat":
            axis = draw(st.integers(0, len(shape) - 1))
            program.append(("concat", i, axis))
            shape = shape[:axis] + (2 * shape[axis],) + shape[axis + 1:]
        else:
            program.append((kind, i))
        cur.append(tuple(shape))
    return program, shapes


def _broadcasts(a: tuple, b: tuple) -> bool:
    try:
        np.broadcast_shapes(a, b)
        return True
    except ValueError:
        return False


def _factorizations(n: int) -> list[tuple[int, ...]]:
    out = [(n,), (1, n), (n, 1)]
    out += [(d, n // d) for d in range(2, n) if n % d == 0]
    return out


# ---------------------------------------------------------------------------- the checks

def check_program(program: Sequence[tuple], shapes: Sequence[tuple], dtype: Any, seed: int,
                  batch: int, in_axes: Sequence[int | None]) -> None:
    rng = np.random.default_rng(seed)
    args = [rng.uniform(-2, 2, s).astype(dtype) for s in shapes]
    expected = run(program, np, args)
    assume(np.all(np.isfinite(expected)) and np.abs(expected).max(initial=0) < 1e4)
    f = lambda *xs: run(program, fnp, xs)
    tol = 1e-4 if dtype == np.float32 else 1e-9

    assert_allclose(f(*args), expected, atol=tol, rtol=tol, err_msg="eager vs NumPy")
    check_jit(f, args, atol=tol, rtol=tol)

    closed = fnad.make_jaxpr(f)(*args)
    fnad.typecheck(closed)
    assert_allclose(closed(*args)[0], expected, atol=tol, rtol=tol, err_msg="jaxpr vs NumPy")
    fnad.typecheck(fnad.jit(f).lower(*args))
    scalar = lambda *xs: fnp.sum(f(*xs))

    batched = [a if ax is None else np.stack([rng.uniform(-2, 2, a.shape).astype(dtype)
                                              for _ in range(batch)], axis=ax)
               for a, ax in zip(args, in_axes)]
    check_vmap(f, batched, tuple(in_axes), atol=tol * 10, rtol=tol * 10)
    fnad.typecheck(fnad.make_jaxpr(fnad.vmap(f, in_axes=tuple(in_axes)))(*batched))

    modes = grad_modes(program)
    if "rev" in modes:
        g = fnad.grad(scalar, argnums=tuple(range(len(args))))
        fnad.typecheck(fnad.make_jaxpr(g)(*args))
        check_jit(g, args, atol=tol * 10, rtol=tol * 10)
        check_vmap(g, batched, tuple(in_axes), atol=tol * 10, rtol=tol * 10)
    if dtype == np.float64 and modes:
        check_grads(f, args, order=1, modes=modes, eps=1e-6, atol=1e-5, rtol=1e-5)


@st.composite
def cases(draw: Any) -> tuple:
    program, shapes = draw(programs())
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    in_axes = [draw(st.sampled_from([None, *range(len(s) + 1)])) for s in shapes]
    if all(ax is None for ax in in_axes):
        in_axes[0] = 0
    return program, shapes, dtype, draw(st.integers(0, 2**16)), draw(st.integers(1, 3)), in_axes


_SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                       HealthCheck.filter_too_much])


@settings(max_examples=40, derandomize=True, **_SETTINGS)
@given(cases())
def test_random_programs(case: tuple) -> None:
    check_program(*case)


@pytest.mark.slow
@settings(max_examples=1000, **_SETTINGS)
@given(cases())
def test_random_programs_long(case: tuple) -> None:
    check_program(*case)


# ---------------------------------------------------------------------------- regressions

def test_regression_reduction_of_a_lone_broadcast() -> None:
    """Found by the fuzzer: the C backend fused a reduction whose prologue was only a
    broadcast, and the kernel builder had no value for it (KeyError in fusion._build)."""
    for x in (np.float32(0.5), np.ones(2, np.float32)):
        check_jit(lambda v: fnp.broadcast_to(v, (3, 2)).sum(0), [x])
        check_jit(lambda v: fnp.broadcast_to(v, (2, 2)).max(1), [x])
