"""`fnad.pure_callback` (the `pure_callback` primitive of fnad/lax/callback.py) with JAX's
semantics: eager and jit on every backend agree and the callback runs at run time on NumPy
arrays, vmap by each vmap_method equals a loop, it runs inside scan and fori_loop, it has
no derivative (custom_vjp / custom_jvp give it one), and bad results raise clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fnad
import fnad.numpy as fnp
import fnad.test_util as tu
from fnad import ShapeDtypeStruct as SDS
from fnad.backends import available_backends

RNG = np.random.default_rng(11)
METHODS = ("sequential", "sequential_unrolled", "expand_dims", "broadcast_all",
           "legacy_vectorized")


class Recorder:
    """A pure function that records the arguments it was called with."""

    def __init__(self, fn):
        self.fn, self.calls = fn, []

    def __call__(self, *args):
        self.calls.append(args)
        return self.fn(*args)


def sin_times(a, b):
    return np.sin(a) * b


def call_sin_times(x, y, method=None):
    shape = np.broadcast_shapes(np.shape(x), np.shape(y))
    return fnad.pure_callback(sin_times, SDS(shape, fnp.result_type(x, y)), x, y,
                              vmap_method=method)


# ---------------------------------------------------------------------------- eager and jit

def test_eager_results_are_checked_and_cast():
    out = fnad.pure_callback(lambda x, k: {"top": np.sort(x)[::-1][:k], "order": np.argsort(x)},
                             {"top": SDS((2,), np.float32), "order": SDS((4,), np.int32)},
                             np.array([3.0, 1.0, 4.0, 2.0]), k=2)
    np.testing.assert_array_equal(out["top"], [4.0, 3.0])
    np.testing.assert_array_equal(out["order"], [1, 3, 0, 2])
    assert out["top"].dtype == np.float32 and out["order"].dtype == np.int32
    # a Python number is a 0-d array of the default dtype, eagerly as under jit
    seen = Recorder(lambda n: np.arange(3) * n)
    for f in (lambda: fnad.pure_callback(seen, SDS((3,), np.int32), 2),
              fnad.jit(lambda: fnad.pure_callback(seen, SDS((3,), np.int32), 2))):
        np.testing.assert_array_equal(f(), [0, 2, 4])
    assert [c[0].dtype for c in seen.calls] == [np.int32, np.int32]


@pytest.mark.parametrize("backend", available_backends())
def test_jit_runs_the_callback_at_run_time_on_numpy_arrays(backend):
    rec = Recorder(np.cos)

    def f(x):
        y = fnad.pure_callback(rec, SDS(x.shape, x.dtype), fnp.exp(x))
        return fnp.sum(y * x)

    f = fnad.jit(f, backend=backend)
    for _ in range(3):
        x = RNG.standard_normal((2, 3))
        tu.assert_allclose(f(x), np.sum(np.cos(np.exp(x)) * x), 1e-12, 1e-12)
        np.testing.assert_allclose(rec.calls[-1][0], np.exp(x), rtol=1e-12)
    assert len(rec.calls) == 3  # once per run, none while tracing
    assert all(type(a) is np.ndarray for (a,) in rec.calls)


def test_jit_equals_eager_on_every_backend():
    x, y = RNG.standard_normal((3, 4)), RNG.standard_normal(4)
    tu.check_transforms(lambda x, y: call_sin_times(x, y) + x, (x, y))
    tu.check_transforms(lambda x: call_sin_times(x, 2.0), (x.astype(np.float32),))


def test_unused_results_are_dropped_and_used_ones_kept():
    rec = Recorder(np.sin)
    dead = fnad.jit(lambda x: (fnad.pure_callback(rec, SDS((2,), np.float64), x), x * 2)[1])
    np.testing.assert_array_equal(dead(np.ones(2)), [2.0, 2.0])
    assert rec.calls == []  # pure: JAX may skip it too
    both = fnad.jit(lambda x: fnad.pure_callback(rec, SDS((2,), np.float64), x)
                    + fnad.pure_callback(rec, SDS((2,), np.float64), x + 1))
    tu.assert_allclose(both(np.ones(2)), np.sin(1.0) + np.sin(2.0) + np.zeros(2))
    assert len(rec.calls) == 2


def test_the_callback_cannot_write_its_inputs_and_results_are_fresh():
    def sort_in_place(x):
        x.sort()
        return x

    x = np.array([3.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="read-only"):
        fnad.pure_callback(sort_in_place, SDS((3,), np.float64), x)
    np.testing.assert_array_equal(x, [3.0, 1.0, 2.0])
    out = fnad.pure_callback(lambda a: a, SDS((3,), np.float64), x)
    assert not np.shares_memory(out, x) and out.flags.writeable


def test_bad_results_raise_clear_errors():
    with pytest.raises(fnad.ShapeError, match=r"pure_callback.*shape \(2,\).*\(3,\)"):
        fnad.pure_callback(lambda x: x, SDS((3,), np.float64), np.ones(2))
    with pytest.raises(fnad.ShapeError, match="pure_callback"):
        fnad.jit(lambda x: fnad.pure_callback(lambda a: a[:1], SDS((2,), np.float64), x))(
            np.ones(2))
    with pytest.raises(fnad.TransformError, match="returned 2 arrays"):
        fnad.pure_callback(lambda x: (x, x), SDS((2,), np.float64), np.ones(2))
    with pytest.raises(fnad.DTypeError, match="float64.*int32"):
        fnad.pure_callback(lambda x: x, SDS((2,), np.int32), np.ones(2))
    with pytest.raises(fnad.TransformError, match="unknown vmap_method 'loop'"):
        fnad.pure_callback(np.sin, SDS((2,), np.float64), np.ones(2), vmap_method="loop")


# ---------------------------------------------------------------------------- vmap

@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("in_axes", [(0, None), (None, 0), (1, 0), (0, 0)])
def test_vmap_equals_a_loop(method, in_axes):
    # a batch of 4 over elements of shape (3,), stacked at each operand's axis
    args = tuple(np.moveaxis(RNG.standard_normal((4, 3)), 0, ax) if ax is not None
                 else RNG.standard_normal(3) for ax in in_axes)
    f = lambda a, b: call_sin_times(a, b, method)  # noqa: E731
    tu.check_vmap(f, args, in_axes=in_axes)
    tu.check_vmap(f, args, in_axes=in_axes, out_axes=1)
    expected = fnad.vmap(f, in_axes=in_axes)(*args)
    for backend in available_backends():
        tu.assert_allclose(fnad.jit(fnad.vmap(f, in_axes=in_axes), backend=backend)(*args),
                           expected, 1e-12, 1e-12)


@pytest.mark.parametrize("method, shapes", [
    ("sequential", [((4,), (4,))] * 3),
    ("expand_dims", [((3, 4), (1, 4))]),
    ("broadcast_all", [((3, 4), (3, 4))]),
    ("legacy_vectorized", [((3, 4), (4,))]),
])
def test_what_each_vmap_method_hands_the_callback(method, shapes):
    rec = Recorder(sin_times)
    f = lambda a, b: fnad.pure_callback(rec, SDS((4,), np.float64), a, b,  # noqa: E731
                                        vmap_method=method)
    x, y = RNG.standard_normal((3, 4)), RNG.standard_normal(4)
    tu.assert_allclose(fnad.vmap(f, in_axes=(0, None))(x, y), np.sin(x) * y, 1e-12, 1e-12)
    assert [tuple(a.shape for a in c) for c in rec.calls] == shapes


@settings(max_examples=20, deadline=None)
@given(st.sampled_from(METHODS), st.integers(1, 4), st.integers(0, 2), st.integers(1, 3))
def test_nested_vmap_equals_a_loop(method, n, axis, m):
    x = RNG.standard_normal((n, m, 2)).astype(np.float32)
    y = RNG.standard_normal((2,)).astype(np.float32)
    f = lambda a, b: call_sin_times(a, b, method)  # noqa: E731
    inner = fnad.vmap(f, in_axes=(0, None))
    x = np.moveaxis(x, 0, axis)
    tu.check_vmap(inner, (x, y), in_axes=(axis, None))


def test_vmap_without_a_method_raises_like_jax():
    f = lambda x: fnad.pure_callback(np.sin, SDS((3,), np.float64), x)  # noqa: E731
    with pytest.raises(NotImplementedError, match="vmap_method"):
        fnad.vmap(f)(np.ones((2, 3)))
    # unbatched operands need no method
    tu.assert_allclose(fnad.vmap(lambda b: f(np.ones(3)) * b)(np.arange(2.0)),
                       np.outer(np.arange(2.0), np.sin(np.ones(3))))


# ---------------------------------------------------------------------------- control flow

@pytest.mark.parametrize("backend", [None, *available_backends()])
def test_inside_scan_and_fori_loop(backend):
    rec = Recorder(lambda c, x: np.tanh(c + x))

    def scanned(c, xs):
        def body(c, x):
            c = fnad.pure_callback(rec, SDS(c.shape, c.dtype), c, x)
            return c, c * 2
        return fnad.lax.scan(body, c, xs)

    def looped(c):
        return fnad.lax.fori_loop(0, 4, lambda i, c: fnad.pure_callback(
            np.cos, SDS(c.shape, c.dtype), c) + i, c)

    c0, xs = RNG.standard_normal(3), RNG.standard_normal((5, 3))
    want_c, want_ys = c0, []
    for x in xs:
        want_c = np.tanh(want_c + x)
        want_ys.append(want_c * 2)
    want_loop = c0
    for i in range(4):
        want_loop = np.cos(want_loop) + i
    if backend is not None:
        scanned, looped = fnad.jit(scanned, backend=backend), fnad.jit(looped, backend=backend)
    c, ys = scanned(c0, xs)
    tu.assert_allclose(c, want_c, 1e-12, 1e-12)
    tu.assert_allclose(ys, np.stack(want_ys), 1e-12, 1e-12)
    tu.assert_allclose(looped(c0), want_loop, 1e-12, 1e-12)
    assert len(rec.calls) == 5 and all(type(a) is np.ndarray for a, _ in rec.calls)


# ---------------------------------------------------------------------------- derivatives

def test_differentiating_a_callback_raises_and_points_to_custom_rules():
    f = lambda x: fnp.sum(fnad.pure_callback(np.sin, SDS((3,), np.float64), x))  # noqa: E731
    for transform in (lambda: fnad.grad(f)(np.ones(3)),
                      lambda: fnad.jvp(f, (np.ones(3),), (np.ones(3),)),
                      lambda: fnad.jit(fnad.grad(f))(np.ones(3))):
        with pytest.raises(fnad.TransformError, match="custom_jvp or fnad.custom_vjp"):
            transform()
    # operands that are not differentiated carry no tangent: the callback just runs
    g = fnad.grad(lambda x, y: fnp.sum(x * fnad.pure_callback(np.sin, SDS((3,), np.float64),
                                                              y)))
    y = RNG.standard_normal(3)
    tu.assert_allclose(g(np.ones(3), y), np.sin(y), 1e-12, 1e-12)
    tu.assert_allclose(fnad.grad(lambda x: fnp.sum(fnad.pure_callback(
        np.sin, SDS((3,), np.float64), fnad.lax.stop_gradient(x)) * x))(y), np.sin(y))


@fnad.custom_vjp
def host_sin(x):
    return fnad.pure_callback(np.sin, SDS(x.shape, x.dtype), x, vmap_method="expand_dims")


def _host_sin_fwd(x):
    return host_sin(x), x


def _host_sin_bwd(x, g):
    return (g * fnad.pure_callback(np.cos, SDS(x.shape, x.dtype), x,
                                   vmap_method="expand_dims"),)


host_sin.defvjp(_host_sin_fwd, _host_sin_bwd)


@fnad.custom_jvp
def host_exp(x):
    return fnad.pure_callback(np.exp, SDS(x.shape, x.dtype), x, vmap_method="sequential")


@host_exp.defjvp
def _host_exp_jvp(primals, tangents):
    y = host_exp(primals[0])
    return y, tangents[0] * y


def test_custom_rules_around_a_callback_make_it_differentiable():
    x = RNG.standard_normal(4)
    tu.check_grads(host_sin, (x,), order=1, modes=("rev",))
    tu.check_grads(host_exp, (x,), order=2)
    loss = lambda x: fnp.sum(host_sin(x) * host_exp(x))  # noqa: E731
    want = np.cos(x) * np.exp(x) + np.sin(x) * np.exp(x)
    for g in (fnad.grad(loss), fnad.jit(fnad.grad(loss))):
        tu.assert_allclose(g(x), want, 1e-12, 1e-12)
    xs = RNG.standard_normal((3, 4))
    tu.assert_allclose(fnad.vmap(fnad.grad(loss))(xs),
                       np.cos(xs) * np.exp(xs) + np.sin(xs) * np.exp(xs), 1e-12, 1e-12)
