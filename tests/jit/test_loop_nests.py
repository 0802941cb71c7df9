"""The C backend's loop nests (`CLoop` kernel rules in fnad/lax/conv.py): for the window
primitives, over random ranks, shapes, windows, strides, paddings (negative ones crop) and
window dilations, with ties, +-inf and NaN, they give the impls' numbers exactly, and a max
pool's gradient runs them; convolutions run tap by tap in each of three plans, which match
the definition, and the C loops give the NumPy numbers exactly."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fnad
from fnad import lax
from fnad.backends import available_backends
from fnad.core.ir import ShapedArray
from fnad.lax.conv import (
    _window_out_shape,
    reduce_window_max_p,
    reduce_window_min_p,
    reduce_window_sum_p,
    select_gather_p,
    select_scatter_p,
)

pytestmark = pytest.mark.skipif("c" not in available_backends(), reason="no C compiler")

VALUES = np.array([-2.0, -1.0, 0.0, 1.0, 1.0, 2.0, 3.0, np.inf, -np.inf, np.nan, -0.0])


@st.composite
def geometries(draw: Any) -> tuple[tuple[int, ...], dict[str, Any]]:
    """An operand shape and window params whose output is not empty."""
    rank = draw(st.integers(1, 4))
    shape, params = [], {k: [] for k in ("window_dimensions", "window_strides", "padding",
                                         "window_dilation")}
    for _ in range(rank):
        n, k = draw(st.integers(1, 7)), draw(st.integers(1, 3))
        dil, stride = draw(st.integers(1, 2)), draw(st.integers(1, 3))
        lo, hi = draw(st.integers(-1, 2)), draw(st.integers(-1, 2))
        if n + lo + hi < (k - 1) * dil + 1:
            lo, hi = max(lo, 0), max(hi, 0) + (k - 1) * dil + 1 - n
        shape.append(n)
        for key, v in zip(params, (k, stride, (lo, hi), dil)):
            params[key].append(v)
    return tuple(shape), {**{k: tuple(v) for k, v in params.items()},
                          "base_dilation": (1,) * rank}


def c_equals_impl(prim: Any, args: list[np.ndarray], params: dict[str, Any]) -> None:
    got = fnad.jit(lambda *a: prim.bind(*a, **params), backend="c")(*args)
    np.testing.assert_array_equal(got, prim.impls["numpy"](*args, **params))


CASES = (geometries(), st.sampled_from([np.float32, np.float64]), st.integers(0, 2**31),
         st.sampled_from(["max", "min"]), st.sampled_from(["first", "split"]))


@settings(max_examples=12, deadline=None)  # each geometry compiles its own loop nests
@given(*CASES)
def test_loop_nests_equal_the_impls(geometry: Any, dtype: Any, seed: int, kind: str,
                                    ties: str) -> None:
    loop_nests_equal_the_impls(geometry, dtype, seed, kind, ties)


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(*CASES)
def test_loop_nests_equal_the_impls_on_many_geometries(geometry: Any, dtype: Any, seed: int,
                                                        kind: str, ties: str) -> None:
    loop_nests_equal_the_impls(geometry, dtype, seed, kind, ties)


def loop_nests_equal_the_impls(geometry: Any, dtype: Any, seed: int, kind: str, ties: str
                               ) -> None:
    shape, params = geometry
    rng = np.random.default_rng(seed)
    x = rng.choice(VALUES, shape).astype(dtype)
    aval = ShapedArray(shape, np.dtype(dtype))
    out = _window_out_shape(aval, **params)
    for prim in (reduce_window_max_p, reduce_window_min_p, reduce_window_sum_p):
        assert prim.kernel.lower([aval], params) is not None
        c_equals_impl(prim, [x], params)
    chosen = {**params, "kind": kind, "ties": ties}
    ct = rng.choice(VALUES, out).astype(dtype)
    t = rng.standard_normal(shape).astype(dtype)
    c_equals_impl(select_scatter_p, [ct, x], chosen)
    c_equals_impl(select_gather_p, [t, x], chosen)


def test_a_max_pools_gradient_runs_the_loop_nests() -> None:
    """The jitted gradient of a 3x3, stride-2 max pool (overlapping windows) and of a
    reshape-max pool: every window equation has its loop nest, and the C backend's
    numbers are the NumPy backend's."""
    x = np.random.default_rng(0).standard_normal((2, 3, 9, 9)).astype(np.float32)

    def overlapping(x: Any) -> Any:
        return (lax.reduce_window(x, -np.inf, "max", (1, 1, 3, 3), (1, 1, 2, 2), "SAME")
                ** 2).sum()

    def reshape_max(x: Any) -> Any:
        return (x[:, :, :8, :8].reshape(2, 3, 4, 2, 4, 2).max(axis=(3, 5)) ** 2).sum()

    windowed = {reduce_window_max_p, select_scatter_p}
    for f in (overlapping, reshape_max):
        g = fnad.grad(f)
        eqns = [e for e in fnad.jit(g).lower(x).jaxpr.eqns if e.prim in windowed]
        assert {e.prim for e in eqns} == windowed
        assert all(e.prim.kernel.lower([a.aval for a in e.inputs], e.params) is not None
                   for e in eqns)
        np.testing.assert_array_equal(fnad.jit(g, backend="c")(x),
                                      fnad.jit(g, backend="numpy")(x))


def test_what_the_loops_leave_to_the_impls() -> None:
    """Integer operands, base dilation and windows too large for the loop's stack fall
    back to the impl, with the same numbers."""
    params = {"window_dimensions": (2,), "window_strides": (1,), "padding": ((0, 0),),
              "base_dilation": (1,), "window_dilation": (1,)}
    ints = np.arange(6, dtype=np.int32)
    assert reduce_window_max_p.kernel.lower([ShapedArray((6,), np.dtype(np.int32))],
                                            params) is None
    c_equals_impl(reduce_window_max_p, [ints], params)
    dilated = {**params, "base_dilation": (2,)}
    assert reduce_window_max_p.kernel.lower([ShapedArray((6,), np.dtype(np.float32))],
                                            dilated) is None
    c_equals_impl(reduce_window_max_p, [ints.astype(np.float32)], dilated)
    huge = {**params, "window_dimensions": (5000,)}
    assert reduce_window_sum_p.kernel.lower([ShapedArray((5000,), np.dtype(np.float32))],
                                            huge) is None


def test_overlapping_infinite_cotangents_add_quietly() -> None:
    """Where overlapping windows add +inf and -inf at one position the answer is NaN, on
    both backends and eagerly, with no NumPy warning."""
    import warnings
    params = {"window_dimensions": (2,), "window_strides": (1,), "padding": ((0, 0),),
              "base_dilation": (1,), "window_dilation": (1,), "kind": "max", "ties": "first"}
    x, ct = np.array([0.0, 1.0, 0.0]), np.array([np.inf, -np.inf])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        eager = select_scatter_p.bind(ct, x, **params)
        np.testing.assert_array_equal(eager, [0.0, np.nan, 0.0])
        c_equals_impl(select_scatter_p, [ct, x], params)


# ---------------------------------------------------------------------------- convolutions

def conv_reference(x: np.ndarray, w: np.ndarray, strides: tuple, padding: tuple,
                   dilation: tuple) -> np.ndarray:
    """N C *sp by O C *k, straight from the definition, in float64."""
    sp, ksp = x.shape[2:], w.shape[2:]
    xp = np.zeros((*x.shape[:2], *(n + max(lo, 0) + max(hi, 0) for n, (lo, hi) in
                                   zip(sp, padding))))
    xp[(..., *(slice(max(lo, 0), max(lo, 0) + n) for n, (lo, _) in zip(sp, padding)))] = x
    xp = xp[(..., *(slice(-min(lo, 0), xp.shape[2 + i] + min(hi, 0))
                    for i, (lo, hi) in enumerate(padding)))]
    osp = [(m - (k - 1) * d - 1) // s + 1 for m, k, d, s in zip(xp.shape[2:], ksp, dilation,
                                                                  strides)]
    out = np.zeros((x.shape[0], w.shape[0], *osp))
    for k in np.ndindex(*ksp):
        view = xp[(..., *(slice(kk * d, kk * d + (m - 1) * s + 1, s)
                          for kk, d, m, s in zip(k, dilation, osp, strides)))]
        out += np.einsum("nc...,oc->no...", view, w[(..., *k)].astype(np.float64))
    return out


@st.composite
def convolutions(draw: Any) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    rank = draw(st.integers(1, 2))
    n, c, o = draw(st.integers(1, 3)), draw(st.integers(1, 6)), draw(st.integers(1, 6))
    sp, ksp, strides, pads, dil = [], [], [], [], []
    for _ in range(rank):
        k, d, s = draw(st.integers(1, 3)), draw(st.integers(1, 2)), draw(st.integers(1, 2))
        m = draw(st.integers((k - 1) * d + 1, 9))
        lo, hi = draw(st.integers(-1, 2)), draw(st.integers(0, 2))
        lo = lo if m + lo + hi >= (k - 1) * d + 1 else 0  # an output that is not empty
        sp.append(m), ksp.append(k), strides.append(s), dil.append(d), pads.append((lo, hi))
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    x = rng.standard_normal((n, c, *sp)).astype(dtype)
    w = rng.standard_normal((o, c, *ksp)).astype(dtype)
    return x, w, {"window_strides": tuple(strides), "padding": tuple(pads),
                  "rhs_dilation": tuple(dil)}


@settings(max_examples=25, deadline=None)
@given(convolutions())
def test_convolutions_tap_by_tap(case: Any) -> None:
    """Every plan (im2col by tap, by output position, per-tap products summed) matches
    the definition, and the C backend's loops give eager evaluation's numbers exactly."""
    x, w, params = case
    f = lambda x, w: lax.conv_general_dilated(x, w, **params)
    eager = f(x, w)
    tol = 1e-4 if x.dtype == np.float32 else 1e-12
    np.testing.assert_allclose(eager, conv_reference(x, w, **{
        "strides": params["window_strides"], "padding": params["padding"],
        "dilation": params["rhs_dilation"]}), rtol=tol, atol=tol)
    np.testing.assert_array_equal(fnad.jit(f, backend="c")(x, w), eager)


def test_each_plan_runs() -> None:
    """An input gradient's shape (fewer output than input features) sums per-tap
    products; a forward convolution copies columns by tap; a weight gradient's shape by
    output position (contracted in one GEMM, or per image where the columns have few
    rows); each through its C loop, with the definition's numbers."""
    from fnad.lax.conv import _taps_plan
    rng = np.random.default_rng(0)
    pads = ((1, 1), (1, 1))
    cases = [("products", (2, 8, 6, 6), (3, 8, 3, 3)), ("taps", (2, 3, 6, 6), (8, 3, 3, 3)),
             ("outputs", (2, 3, 8, 8), (4, 3, 7, 7)),  # one GEMM
             ("outputs", (2, 1, 12, 12), (4, 1, 13, 13))]  # few rows: a GEMM per image
    for plan, xs, ws in cases:
        assert _taps_plan(xs, ws, (1, 1), pads, (1, 1), (1, 1)) == plan
        x, w = rng.standard_normal(xs), rng.standard_normal(ws)
        f = lambda x, w: lax.conv_general_dilated(x, w, (1, 1), pads)
        np.testing.assert_allclose(f(x, w), conv_reference(x, w, (1, 1), pads, (1, 1)),
                                   rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(fnad.jit(f, backend="c")(x, w), f(x, w))


def test_explain_names_the_loop_nests() -> None:
    """`explain` lists the equations the C backend runs as loop nests."""
    f = fnad.jit(fnad.grad(lambda x: (lax.reduce_window(
        x, -np.inf, "max", (1, 1, 2, 2), (1, 1, 2, 2), "VALID") ** 2).sum()), backend="c")
    text = f.explain(np.ones((2, 3, 4, 4), np.float32))
    assert "2 C loop nests (reduce_window_max, window_select_scatter)" in text


def test_loop_nests_compile_together_before_the_first_call(tmp_path: Any,
                                                           monkeypatch: Any) -> None:
    """With an empty kernel cache, lowering compiles every loop nest of the program at
    once (one compiler process each), so none is compiled one by one when it first runs."""
    from fnad.backends import c_backend
    monkeypatch.setenv("FNAD_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(c_backend, "_LOOP_NESTS", c_backend.Cache())

    compile_one = c_backend._compile

    def one_by_one(cc: str, flags: Any, libs: Any, source: str, path: str) -> None:
        assert "window_" not in source, "a loop nest compiled on its own"
        compile_one(cc, flags, libs, source, path)  # the launch extension, say

    monkeypatch.setattr(c_backend, "_compile", one_by_one)
    f = fnad.jit(fnad.grad(lambda x: (lax.reduce_window(
        x, -np.inf, "max", (1, 1, 3, 3), (1, 1, 2, 2), "SAME") ** 2).sum()), backend="c")
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 7)).astype(np.float32)
    np.testing.assert_array_equal(f(x), fnad.jit(f, backend="numpy")(x))
    assert len(list(tmp_path.rglob("window_*.so"))) == 2


# ---------------------------------------------------------------------------- outer products

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_per_example_outer_products_run_the_loop_nest(dtype: Any) -> None:
    """The per-example weight gradients of a vmapped grad are batched outer products (a
    size-1 contraction); the C backend writes them with its loop nest, with NumPy's
    numbers (inf * 0 is NaN there too)."""
    from fnad.lax.linalg import dot_general_p

    def loss(w: Any, x: Any) -> Any:  # exact arithmetic around the products: both
        return ((x @ w) ** 2).sum()      # backends' numbers must then be equal

    per_example = fnad.vmap(fnad.grad(loss), in_axes=(None, 0))
    rng = np.random.default_rng(0)
    w, x = rng.standard_normal((5, 3)).astype(dtype), rng.standard_normal((4, 5)).astype(dtype)
    x[0, 0], x[0, 1] = np.inf, 0.0  # example 0: inf * 0 in its outer product
    outer = [e for e in fnad.jit(per_example).lower(w, x).jaxpr.eqns if e.prim is dot_general_p
             and e.prim.kernel.lower([a.aval for a in e.inputs], e.params) is not None]
    assert outer, "no dot_general of the per-example gradient is an outer product"
    got = fnad.jit(per_example, backend="c")(w, x)
    np.testing.assert_array_equal(got, fnad.jit(per_example, backend="numpy")(w, x))
    assert np.isnan(got[0]).any() and np.isfinite(got[1:]).all()


def test_a_loop_nest_the_compiler_rejects_leaves_the_impl(monkeypatch: Any) -> None:
    """Where the C compiler cannot build a loop nest, the equation runs its impl: the
    jitted function still gives the NumPy backend's numbers."""
    from fnad.backends import c_backend
    from fnad.backends.nvrtc import KernelCompileError

    def reject(*args: Any) -> None:
        raise KernelCompileError("this compiler takes no loop nests")

    monkeypatch.setattr(c_backend, "_LOOP_NESTS", c_backend.Cache())
    monkeypatch.setattr(c_backend, "build", reject)
    monkeypatch.setattr(c_backend, "_build_at_once", lambda symbols: None)
    f = lambda x: lax.reduce_window(x, -np.inf, "max", (2, 2), (2, 2), "VALID")
    x = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    np.testing.assert_array_equal(fnad.jit(f, backend="c")(x), f(x))


@pytest.mark.parametrize("plan", ["products", "taps", "outputs"])
def test_convolutions_of_infinities_are_quiet(plan: str) -> None:
    """+inf and -inf meeting in a convolution's products make NaN, with no NumPy warning,
    in every plan, eagerly and on both backends."""
    import warnings
    shapes = {"products": ((2, 8, 6, 6), (3, 8, 3, 3)), "taps": ((2, 2, 6, 6), (3, 2, 3, 3)),
              "outputs": ((2, 2, 12, 12), (4, 2, 13, 13))}[plan]
    x, w = np.ones(shapes[0]), np.ones(shapes[1])
    x[0, 0, 2, 2], x[0, 1, 2, 2] = np.inf, -np.inf
    f = lambda x, w: lax.conv_general_dilated(x, w, (1, 1), ((1, 1), (1, 1)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for g in (f, fnad.jit(f, backend="c"), fnad.jit(f, backend="numpy")):
            out = g(x, w)
            assert np.isnan(out[0]).any() and np.isfinite(out[1]).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_recycled_outer_products_stream_the_same_numbers(monkeypatch: Any, dtype: Any) -> None:
    """A large per-example result comes from a recycled buffer from the second call on
    (its pages mapped), which the loop nest fills with streaming stores: the same numbers
    as the first call's plain stores, on rows whose starts are not vector-aligned (N odd),
    and no result still held is ever written over."""
    from fnad.core import buffers
    monkeypatch.setattr(buffers, "MIN_BYTES", 1 << 16)
    monkeypatch.setattr(buffers, "_pool", [])
    per_example = fnad.jit(fnad.vmap(fnad.grad(lambda w, x: ((x @ w) ** 2).sum()),
                                     in_axes=(None, 0)), backend="c")
    rng = np.random.default_rng(1)
    w, x = rng.standard_normal((37, 21)).astype(dtype), rng.standard_normal((30, 37)).astype(dtype)
    expected = np.einsum("bi,bj->bij", x, 2 * (x @ w))
    first = per_example(w, x)  # fresh pages, plain stores
    np.testing.assert_allclose(first, expected, rtol=1e-5 if dtype == np.float32 else 1e-12)
    address = first.ctypes.data
    held = per_example(2 * w, x)  # `first` is held: other memory
    assert held.ctypes.data != address
    np.testing.assert_array_equal(held, 2 * first)
    del first
    again = per_example(w, x)  # `first` dropped: its memory, streamed into
    assert again.ctypes.data == address
    np.testing.assert_array_equal(again, np.asarray(per_example(w, x), dtype))
    np.testing.assert_allclose(again, expected, rtol=1e-5 if dtype == np.float32 else 1e-12)
    np.testing.assert_array_equal(held, 2 * again)
