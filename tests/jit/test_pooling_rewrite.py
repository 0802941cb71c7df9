"""The pooling pass (fnad/jit/pooling.py): max/min/sum/mean over reshape-split window axes
become window reductions, and reduce_max's tie-splitting backward a window scatter; the
rewrite must fire on pooling written that way, and leave every value and gradient as
eager evaluation computes it (ties, +-inf and NaN included)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fnad
import fnad.numpy as fnp
from fnad import lax
from fnad.core.ir import ClosedJaxpr, typecheck
from fnad.jit.passes import optimize
from fnad.jit.pooling import MAX_WINDOW, pool_windows, split_windows
from fnad.lax.conv import select_gather_p, select_scatter_p
from fnad.test_util import assert_allclose, check_grads

BACKENDS = ("numpy", "c")


def pool2(reduce: str) -> Callable[[Any], Any]:
    """2x2 pooling of an NCHW value written as a reduction over a reshape."""

    def f(x: Any) -> Any:
        b, c, h, w = x.shape
        windows = x.reshape(b, c, h // 2, 2, w // 2, 2)
        return getattr(windows, reduce)(axis=(3, 5))

    return f


def loss_of(pool: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A scalar loss whose cotangent differs per pooled element (so misrouting shows)."""
    return lambda x: fnp.sum(fnp.sin(pool(x)) * fnp.arange(pool(x).size).reshape(
        pool(x).shape))


def optimized(f: Callable[..., Any], *args: Any) -> ClosedJaxpr:
    closed = optimize(fnad.make_jaxpr(f)(*args))
    typecheck(closed.jaxpr)
    return closed


def prims(closed: ClosedJaxpr) -> list[str]:
    return [e.prim.name for e in closed.jaxpr.eqns]


def tied(rng: np.random.Generator, shape: tuple[int, ...], dtype: Any = np.float32
         ) -> np.ndarray:
    """Values from {-1, 0, 1, 2}: most 2x2 windows hold ties."""
    return rng.integers(-1, 3, shape).astype(dtype)


def with_edges(x: np.ndarray) -> np.ndarray:
    """x with +inf, -inf and NaN in separate windows, and a window of all -inf."""
    x = x.copy()
    x[0, 0, 0, 0], x[0, 0, 0, 3] = np.inf, -np.inf
    x[0, 0, 2, 0] = np.nan
    x[0, 0, 2:4, 2:4] = -np.inf
    return x


# ---------------------------------------------------------------------------- it fires

@pytest.mark.parametrize("reduce,window_prim", [("max", "reduce_window_max"),
                                                 ("min", "reduce_window_min"),
                                                 ("sum", "reduce_window_sum"),
                                                 ("mean", "reduce_window_sum")])
def test_rewrite_fires_on_reshape_pooling(reduce: str, window_prim: str) -> None:
    x = np.zeros((2, 3, 4, 6), np.float32)
    names = prims(optimized(pool2(reduce), x))
    assert window_prim in names
    assert not {"reduce_max", "reduce_min", "reduce_sum"} & set(names)


@pytest.mark.parametrize("reduce", ["max", "min"])
def test_backward_is_a_tie_splitting_window_scatter(reduce: str) -> None:
    x = np.zeros((2, 3, 4, 6), np.float32)
    closed = optimized(fnad.grad(loss_of(pool2(reduce))), x)
    scatters = [e for e in closed.jaxpr.eqns if e.prim is select_scatter_p]
    assert len(scatters) == 1 and scatters[0].params["ties"] == "split"
    assert scatters[0].params["kind"] == reduce
    # no tie mask, count or reduction over the 6-d reshaped operand is left
    assert all(len(v.aval.shape) <= 4 for e in closed.jaxpr.eqns for v in e.outputs)
    assert not {"reduce_max", "reduce_min", "eq"} & set(prims(closed))


def test_rewrite_in_the_bench_cnn() -> None:
    from benchmarks import cnn_step
    params, x, y = cnn_step.bench_data(8, 2)
    loss = cnn_step.bench_loss(fnp, lax, fnad.nn, "reshape-max")
    closed = optimized(fnad.value_and_grad(loss), params, x, y)
    names = prims(closed)
    assert names.count("reduce_window_max") == 2 and names.count("window_select_scatter") == 2
    # nothing works on the 6-d reshaped activations any more
    assert all(len(v.aval.shape) <= 4 for e in closed.jaxpr.eqns for v in e.outputs)


def test_no_rewrite_where_the_reshape_does_not_split_windows() -> None:
    x = np.zeros((4, 6), np.float32)
    # reduced axis is an outer factor, a merge, a window too large to loop over
    for f in (lambda x: x.reshape(2, 2, 6).max(axis=0),
              lambda x: x.reshape(24).max(axis=0),
              lambda x: x.reshape(4, 1, 6).sum(axis=2),
              lambda x: x.reshape(1, 4, 6).max(axis=(1, 2))):
        before = fnad.make_jaxpr(f)(x)
        assert pool_windows(before) is before


def test_split_windows() -> None:
    assert split_windows((8, 4, 6), (8, 2, 2, 3, 2), (2, 4)) == (1, 2, 2)
    assert split_windows((6,), (2, 3), (1,)) == (3,)
    assert split_windows((6,), (2, 3), (0,)) is None  # the outer factor
    assert split_windows((6,), (2, 3), ()) is None
    assert split_windows((6, 2), (2, 3, 2), (1,)) == (3, 1)
    assert split_windows((6, 2), (3, 2, 2), (1,)) == (2, 1)
    assert split_windows((6, 2), (2, 3, 2), (2,)) is None  # 2 is not an inner factor
    assert split_windows((64,), (2, 32), (1,)) is None  # more than MAX_WINDOW offsets
    assert split_windows((4 * MAX_WINDOW,), (4, MAX_WINDOW), (1,)) == (MAX_WINDOW,)
    assert split_windows((6,), (1, 6), (1,)) is None  # one window: a plain reduction


# ---------------------------------------------------------------------------- values

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reduce", ["max", "min", "sum", "mean"])
@pytest.mark.parametrize("edges", [False, True])
def test_values_and_grads_unchanged(backend: str, reduce: str, edges: bool) -> None:
    rng = np.random.default_rng(0)
    x = tied(rng, (2, 3, 4, 6))
    if edges:
        x = with_edges(x)
    f = loss_of(pool2(reduce))
    vg = fnad.value_and_grad(f)
    (value, grad), (jvalue, jgrad) = vg(x), fnad.jit(vg, backend=backend)(x)
    assert_allclose(jvalue, value, rtol=1e-6)
    assert_allclose(jgrad, grad, rtol=1e-6, atol=1e-6)
    assert_allclose(fnad.jit(pool2(reduce), backend=backend)(x), pool2(reduce)(x),
                    rtol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_ties_split_evenly_as_reduce_max_and_first_wins_in_reduce_window(backend: str
                                                                          ) -> None:
    x = np.array([[[[1, 1, 5, 0], [0, 0, 5, 5]]]], np.float32)  # windows: 2 ties, 3 ties
    g_split = fnad.jit(fnad.grad(lambda x: fnp.sum(pool2("max")(x) * fnp.array([2., 3.]))),
                       backend=backend)(x)
    assert_allclose(g_split, np.array([[[[1, 1, 1, 0], [0, 0, 1, 1]]]], np.float32))
    g_first = fnad.jit(fnad.grad(lambda x: fnp.sum(lax.reduce_window(
        x, -np.inf, "max", (1, 1, 2, 2), (1, 1, 2, 2)) * fnp.array([2., 3.]))),
        backend=backend)(x)
    assert_allclose(g_first, np.array([[[[2, 0, 3, 0], [0, 0, 0, 0]]]], np.float32))


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3),
       st.sampled_from(["max", "min", "sum"]), st.integers(0, 2 ** 16))
def test_random_windows_match_eager(kh: int, kw: int, oh: int, ow: int, reduce: str,
                                    seed: int) -> None:
    """Any (kh, kw) window over an (oh*kh, ow*kw) image, with a leading axis, in float64."""
    rng = np.random.default_rng(seed)
    x = tied(rng, (2, oh * kh, ow * kw), np.float64)

    def f(x: Any) -> Any:
        pooled = getattr(x.reshape(2, oh, kh, ow, kw), reduce)(axis=(2, 4))
        return fnp.sum(fnp.cos(pooled) * fnp.arange(pooled.size).reshape(pooled.shape))

    vg = fnad.value_and_grad(f)
    (value, grad), (jvalue, jgrad) = vg(x), fnad.jit(vg, backend="numpy")(x)
    assert_allclose(jvalue, value, rtol=1e-12)
    assert_allclose(jgrad, grad, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------- the split mode

def _params(window: tuple[int, ...], kind: str) -> dict[str, Any]:
    n = len(window)
    return {"kind": kind, "ties": "split", "window_dimensions": window,
            "window_strides": window, "padding": ((0, 0),) * n, "base_dilation": (1,) * n,
            "window_dilation": (1,) * n}


def split_scatter_ref(ct: np.ndarray, x: np.ndarray, kind: str) -> np.ndarray:
    """reduce_max's backward for 2x2 windows of a 2-d x, written out with NumPy."""
    h, w = x.shape
    win = x.reshape(h // 2, 2, w // 2, 2)
    ext = (win.max if kind == "max" else win.min)(axis=(1, 3), keepdims=True)
    hit = (win == ext).astype(x.dtype)
    with np.errstate(all="ignore"):
        share = ct[:, None, :, None] / hit.sum(axis=(1, 3), keepdims=True)
        return (share * hit).reshape(h, w)


@pytest.mark.parametrize("kind", ["max", "min"])
def test_split_scatter_against_numpy_and_its_transpose(kind: str) -> None:
    rng = np.random.default_rng(1)
    x = tied(rng, (4, 6), np.float64)
    x[0, 0] = np.nan
    ct = rng.standard_normal((2, 3))
    params = _params((2, 2), kind)
    out = select_scatter_p.bind(ct, x, **params)
    assert_allclose(out, split_scatter_ref(ct, x, kind))
    assert np.isnan(out[:2, :2]).all()  # a NaN window: NaN, as reduce_max's rule gives
    x[0, 0] = 1.0
    check_grads(lambda c: select_scatter_p.bind(c, x, **params), (ct,), order=2)
    check_grads(lambda t: select_gather_p.bind(t, x, **params), (rng.standard_normal(x.shape),),
                order=2)
    # gather is the transpose: <scatter(ct), t> == <ct, gather(t)>
    t = rng.standard_normal(x.shape)
    assert_allclose(np.sum(select_scatter_p.bind(ct, x, **params) * t),
                    np.sum(ct * select_gather_p.bind(t, x, **params)))


def test_split_scatter_vmaps() -> None:
    rng = np.random.default_rng(2)
    xs, cts = tied(rng, (3, 4, 6)), rng.standard_normal((3, 2, 3)).astype(np.float32)
    params = _params((2, 2), "max")
    out = fnad.vmap(lambda c, x: select_scatter_p.bind(c, x, **params))(cts, xs)
    for i in range(3):
        assert_allclose(out[i], split_scatter_ref(cts[i], xs[i], "max"))


def test_bad_ties_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="ties"):
        select_scatter_p.bind(np.ones((2, 3)), np.ones((4, 6)), **{**_params((2, 2), "max"),
                                                                    "ties": "last"})


@pytest.mark.parametrize("dtype", [np.int32, np.int8, np.float16, np.bool_])
@pytest.mark.parametrize("reduce", ["max", "min", "sum"])
def test_other_dtypes_keep_values(dtype: Any, reduce: str) -> None:
    x = tied(np.random.default_rng(3), (2, 2, 4, 6)).astype(dtype)
    f = pool2(reduce)
    expected = f(x)
    out = fnad.jit(f, backend="numpy")(x)
    assert out.dtype == expected.dtype
    assert_allclose(out, expected)


def test_vmapped_pooling_is_rewritten_and_matches_a_loop() -> None:
    rng = np.random.default_rng(4)
    xs = tied(rng, (3, 2, 2, 4, 4))
    vg = fnad.vmap(fnad.value_and_grad(loss_of(pool2("max"))))
    names = prims(optimized(vg, xs))
    assert "reduce_window_max" in names and "window_select_scatter" in names
    values, grads = fnad.jit(vg)(xs)
    for i in range(3):
        v, g = fnad.value_and_grad(loss_of(pool2("max")))(xs[i])
        assert_allclose(values[i], v, rtol=1e-6)
        assert_allclose(grads[i], g, rtol=1e-6, atol=1e-6)
