"""Tests for how dot_general runs on NumPy (fnad/lax/linalg.py `dot_runner`, called by the
eager impl and by the jit's NumPy and C backends): every `np.matmul` it makes reaches BLAS
(`matmul_uses_blas`), whatever the dimension numbers, sizes (0, 1, n), dtypes and operand
layouts (transposed, strided, broadcast, reversed), and the values match np.einsum."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from test_dot_general import _einsum_spec, dot_problems

import fnad
import fnad.numpy as fnp
from fnad import lax
from fnad.jit.executable import compile_jaxpr
from fnad.lax.linalg import matmul_uses_blas
from fnad.test_util import assert_allclose

DTYPES = [np.float32, np.float64, np.complex64, np.complex128, np.float16, np.int32, np.int64]
BLAS = {np.dtype(t) for t in (np.float32, np.float64, np.complex64, np.complex128)}


@contextlib.contextmanager
def blas_matmuls() -> Iterator[list[tuple[Any, Any]]]:
    """Every np.matmul and np.dot call made inside the block. A matmul must reach BLAS when
    its dtype has BLAS routines (integers have none: NumPy's loop is their only one); a dot
    must be of vectors or matrices of such a dtype (NumPy's dot then copies any operand
    BLAS cannot address, and calls BLAS)."""
    calls: list[tuple[Any, Any]] = []
    matmul, dot = np.matmul, np.dot

    def matmul_spy(a: Any, b: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append((a, b))
        if a.dtype in BLAS:
            assert matmul_uses_blas(a, b), (a.shape, a.strides, b.shape, b.strides)
        else:
            assert a.dtype.kind in "iu", a.dtype
        return matmul(a, b, *args, **kwargs)

    def dot_spy(a: Any, b: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append((a, b))
        assert a.dtype in BLAS and b.dtype == a.dtype and a.ndim <= 2 and b.ndim <= 2
        return dot(a, b, *args, **kwargs)

    with pytest.MonkeyPatch.context() as m:
        m.setattr(np, "matmul", matmul_spy)
        m.setattr(np, "dot", dot_spy)
        yield calls


def _operand(shape: tuple[int, ...], dtype: Any, layout: str, rng: np.random.Generator
             ) -> np.ndarray:
    """An array of `shape` with the given memory layout, small integer values (exact sums)."""
    def draw(s: tuple[int, ...]) -> np.ndarray:
        v = rng.integers(-3, 4, s)
        if np.dtype(dtype).kind == "c":
            v = v + 1j * rng.integers(-3, 4, s)
        return v.astype(dtype)

    if layout == "fortran":
        return np.asfortranarray(draw(shape))
    if layout == "strided" and shape:  # every other element along the last axis
        return draw((*shape[:-1], 2 * shape[-1]))[..., ::2]
    if layout == "reversed":
        return draw(shape)[::-1] if shape else draw(shape)
    if layout == "broadcast" and shape:  # stride 0 along the first axis
        return np.broadcast_to(draw((1, *shape[1:])), shape)
    return draw(shape)


LAYOUTS = st.sampled_from(["c", "fortran", "strided", "reversed", "broadcast"])


def _expected(x: np.ndarray, y: np.ndarray, dn: Any) -> np.ndarray:
    wide = np.complex128 if x.dtype.kind == "c" else np.float64 if x.dtype.kind == "f" else None
    out = np.einsum(_einsum_spec(x.ndim, y.ndim, dn), x.astype(wide or x.dtype),
                    y.astype(wide or y.dtype))
    return out.astype(x.dtype)


@settings(max_examples=60, deadline=None)
@given(dot_problems(max_free=2, min_size=0, max_size=4), st.sampled_from(DTYPES), LAYOUTS,
       LAYOUTS)
def test_eager_products_reach_blas_and_match_einsum(problem, dtype, xl, yl):
    x_shape, y_shape, dn = problem
    rng = np.random.default_rng(0)
    x, y = _operand(x_shape, dtype, xl, rng), _operand(y_shape, dtype, yl, rng)
    with blas_matmuls():
        out = lax.dot_general(x, y, dn)
    assert type(out) is np.ndarray and out.dtype == dtype
    assert_allclose(out, _expected(x, y, dn))
    assert not np.shares_memory(out, x) and not np.shares_memory(out, y)


@settings(max_examples=30, deadline=None)
@given(dot_problems(max_free=2, min_size=0, max_size=4), st.sampled_from(DTYPES), LAYOUTS,
       st.sampled_from(["numpy", "c"]))
def test_jit_products_reach_blas_and_match_eager(problem, dtype, xl, backend):
    x_shape, y_shape, dn = problem
    rng = np.random.default_rng(1)
    x, y = _operand(x_shape, dtype, xl, rng), _operand(y_shape, dtype, "c", rng)
    with blas_matmuls():
        out = fnad.jit(lambda x, y: lax.dot_general(x, y, dn), backend=backend)(x, y)
    assert_allclose(out, lax.dot_general(x, y, dn))


@pytest.mark.parametrize("layout", ["c", "fortran", "strided", "reversed", "broadcast"])
@pytest.mark.parametrize("dn", [(((1,), (0,)), ((), ())), (((0,), (1,)), ((), ()))])
def test_large_matrix_products_any_layout(layout, dn):
    """Matrices large enough for the matmul path (np.dot would zero its result first)."""
    rng = np.random.default_rng(4)
    x_shape, y_shape = ((48, 40), (40, 50)) if dn[0][0] == (1,) else ((40, 48), (50, 40))
    x, y = _operand(x_shape, np.float32, layout, rng), _operand(y_shape, np.float32, "c", rng)
    with blas_matmuls() as calls:
        eager = lax.dot_general(x, y, dn)
        jitted = fnad.jit(lambda x, y: lax.dot_general(x, y, dn))(x, y)
    assert_allclose((eager, jitted), (_expected(x, y, dn),) * 2)
    assert calls and all(a.ndim == 2 for a, _ in calls)


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dn, x_shape, y_shape", [
    ((((1,), (0,)), ((), ())), (5, 4), (4, 3)),  # a matrix product
    ((((2,), (1,)), ((0,), (0,))), (2, 5, 4), (2, 4, 3)),  # batched
    ((((), ()), ((0,), (0,))), (2, 5), (2, 3)),  # batched outer products
    ((((1,), (1,)), ((0,), (0,))), (2, 1, 5), (2, 1, 3)),  # contracting a size-1 axis
])
def test_jit_writes_products_into_dead_buffers(order, dn, x_shape, y_shape):
    """The product's result reuses a dead buffer of its shape (in either memory order: a
    Fortran-ordered one it cannot view as a matrix stack is left alone) and stays right."""
    def f(x, y, w):
        s = fnp.sum(fnp.sin(w))  # sin(w) dies here: a buffer of the product's shape
        return lax.dot_general(x, y, dn) * s

    rng = np.random.default_rng(2)
    x, y = rng.standard_normal(x_shape), rng.standard_normal(y_shape)
    out_shape = lax.dot_general(x, y, dn).shape
    w = np.asarray(rng.standard_normal(out_shape), order=order)
    exe = compile_jaxpr(fnad.make_jaxpr(f)(x, y, w), "numpy")
    with blas_matmuls():
        assert_allclose(exe(x, y, w)[0], f(x, y, w))
    line = next(ln for ln in exe.source.splitlines() if "# dot_general" in ln)
    assert "out=" in line, exe.source


def test_per_example_gradients_contracting_a_size_one_axis():
    """jit(vmap(grad)) of a loss on one example kept as a (1, d) row: the weight gradients
    are batched products contracting that size-1 axis, run as outer products."""
    rng = np.random.default_rng(3)
    w1, w2 = rng.standard_normal((6, 5)), rng.standard_normal((5, 4))
    xs, ys = rng.standard_normal((7, 1, 6)), rng.standard_normal((7, 1, 4))

    def loss(params, x, y):
        h = fnp.tanh(x @ params[0])
        return fnp.sum((h @ params[1] - y) ** 2)

    with blas_matmuls() as matmuls:
        got = fnad.jit(fnad.vmap(fnad.grad(loss), in_axes=(None, 0, 0)))((w1, w2), xs, ys)
    for i in range(xs.shape[0]):
        h = np.tanh(xs[i] @ w1)
        d2 = 2 * (h @ w2 - ys[i])
        d1 = (d2 @ w2.T) * (1 - h ** 2)
        assert_allclose((got[0][i], got[1][i]), (xs[i].T @ d1, h.T @ d2))
    assert all(a.shape[-1] > 1 for a, _ in matmuls)  # no product contracted the size-1 axis


def test_predicate_follows_numpys_rules():
    a = np.ones((4, 6), np.float32)
    assert matmul_uses_blas(a, a.T) and matmul_uses_blas(a.T.copy().T, a.T)
    assert not matmul_uses_blas(a[:, ::2], a[::2])  # no unit stride
    assert not matmul_uses_blas(a[:, :1], a[:1])  # k == 1: NumPy's loop
    strided = np.ones((6, 8), np.float32)[:, ::2]
    assert matmul_uses_blas(a[:1], a.T) and not matmul_uses_blas(a[:1], strided)  # gemv
    assert matmul_uses_blas(a, strided[:, :1])  # a vector: any positive stride
    assert not matmul_uses_blas(np.broadcast_to(a[:1, :1], (1, 6)), a.T)
    assert not matmul_uses_blas(a.astype(np.int64), a.T.astype(np.int64))
    assert not matmul_uses_blas(np.broadcast_to(a[:1], (4, 6)), a.T)  # stride 0
