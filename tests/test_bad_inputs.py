"""Awkward inputs through every public transform: NaN, inf, empty arrays, zero-size
dimensions, huge and tiny values, non-contiguous and negative-stride views, read-only
arrays. Nothing may crash, every result has the right shape and dtype, jit agrees with
eager evaluation (NaN where NaN), and the caller's arrays are left untouched."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fnad
import fnad.numpy as fnp
from fnad.backends import c_backend
from fnad.test_util import check_grads

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's overflow notes


def _readonly(x: np.ndarray) -> np.ndarray:
    x = x.copy()
    x.flags.writeable = False
    return x


_BASE = np.arange(24, dtype=np.float64).reshape(4, 6) / 7 - 1.5
INPUTS: dict[str, np.ndarray] = {
    "nan": np.array([1.0, np.nan, -2.0], np.float32),
    "inf": np.array([np.inf, -np.inf, 0.5], np.float64),
    "empty": np.zeros((0,), np.float32),
    "zero_size_dim": np.zeros((2, 0, 3), np.float64),
    "zero_size_leading": np.zeros((0, 3), np.float32),
    "huge_f32": np.array([3e38, -3e38, 1e30], np.float32),
    "huge_f64": np.array([1e308, -1e300], np.float64),
    "tiny_f32": np.array([1e-45, -1e-40, 1e-38], np.float32),  # subnormals
    "tiny_f64": np.array([5e-324, 1e-310], np.float64),
    "non_contiguous": _BASE[:, ::2],
    "transposed": _BASE.T,
    "negative_stride": _BASE[::-1, ::-2],
    "read_only": _readonly(_BASE),
    "scalar_0d": np.array(0.25, np.float32),
    "numpy_scalar": np.float64(-0.5),
}

FUNCTIONS: dict[str, Callable] = {
    "elementwise": lambda x: fnp.sin(x) * 2.0 + x * x,
    "reduction": lambda x: fnp.sum(fnp.tanh(x)) + fnp.prod(fnp.cos(x)),
    "softmax": lambda x: fnp.exp(fnp.tanh(x)) / (fnp.sum(fnp.exp(fnp.tanh(x))) + 1.0),
    "max": lambda x: fnp.max(fnp.reshape(x, (-1,))[:1] * 2.0) if np.size(x) else x * 2.0,
    "reshape": lambda x: fnp.reshape(x, (-1,))[::-1] * 3.0,
}


def _same(a, b) -> None:
    """Equal shape and dtype; close values, NaN where NaN and inf where inf."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, a.dtype, b.shape, b.dtype)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=0, equal_nan=True)


def _snapshot(x: np.ndarray) -> tuple:
    return np.array(x, copy=True), np.asarray(x).flags.writeable


@pytest.mark.parametrize("fname", list(FUNCTIONS))
@pytest.mark.parametrize("iname", list(INPUTS))
def test_every_transform_on_awkward_input(iname: str, fname: str) -> None:
    x, f = INPUTS[iname], FUNCTIONS[fname]
    before, writeable = _snapshot(x)
    dtype, shape = np.asarray(x).dtype, np.shape(x)
    out = f(x)
    out_shape = np.shape(out)
    scalar = lambda v: fnp.sum(f(v))

    _same(fnad.jit(f)(x), out)
    closed = fnad.make_jaxpr(f)(x)
    fnad.typecheck(closed)
    assert closed.in_avals[0].shape == shape and closed.out_avals[0].shape == out_shape

    g = fnad.grad(scalar)(x)
    assert np.shape(g) == shape and np.asarray(g).dtype == dtype
    _same(fnad.jit(fnad.grad(scalar))(x), g)

    y, f_vjp = fnad.vjp(f, x)
    _same(y, out)
    (ct,) = f_vjp(np.ones(out_shape, dtype))
    assert np.shape(ct) == shape and np.asarray(ct).dtype == dtype

    y, t = fnad.jvp(f, (x,), (np.ones(shape, dtype),))
    _same(y, out)
    assert np.shape(t) == out_shape and np.asarray(t).dtype == dtype

    assert np.shape(fnad.jacfwd(f)(x)) == out_shape + shape
    assert np.shape(fnad.jacrev(f)(x)) == out_shape + shape

    if len(shape) >= 1:  # map over the leading axis, even when it has size 0
        batched = fnad.vmap(f)(x)
        rows = [f(x[i]) for i in range(shape[0])]
        assert np.shape(batched)[0] == shape[0]
        if rows:
            _same(batched, np.stack([np.asarray(r) for r in rows]))
        _same(fnad.jit(fnad.vmap(f))(x), batched)

    after, still_writeable = _snapshot(x)
    np.testing.assert_array_equal(after, before)
    assert still_writeable == writeable


@pytest.mark.parametrize("iname", ["non_contiguous", "transposed", "negative_stride",
                                   "read_only", "tiny_f64"])
def test_gradients_on_views_are_right(iname: str) -> None:
    check_grads(FUNCTIONS["elementwise"], (INPUTS[iname],), order=1)
    check_grads(lambda x: fnp.sum(fnp.tanh(x) * x), (INPUTS[iname],), order=1)


def test_vmap_over_a_zero_size_axis_keeps_the_trailing_shape() -> None:
    x = np.zeros((0, 3), np.float32)
    assert fnad.vmap(lambda r: r @ np.ones((3, 2), np.float32))(x).shape == (0, 2)
    assert fnad.vmap(fnad.grad(lambda r: fnp.sum(r * r)))(x).shape == (0, 3)


def test_donated_read_only_input_is_not_written() -> None:
    x = _readonly(_BASE)
    step = fnad.jit(lambda p: p * 2.0 - 1.0, donate_argnums=0)
    _same(step(x), _BASE * 2.0 - 1.0)
    np.testing.assert_array_equal(x, _BASE)


# ------------------------------------------------------------ the dtype of a list of values

_SCALAR_LEAVES = st.one_of(
    st.floats(-3, 3, width=16), st.integers(-100, 100), st.booleans(),
    st.sampled_from([np.float16, np.float32, np.float64, np.int32, np.int64, np.uint8])
    .flatmap(lambda t: st.integers(0, 9).map(lambda v: t(v) / t(2) if t(0).dtype.kind == "f"
                                             else t(v))),
    st.sampled_from([np.float32, np.float64, np.int32]).map(lambda t: np.array(t(3) / 2)))
_ARRAY_LEAVES = st.sampled_from([np.float16, np.float32, np.float64, np.int32, np.int64]).map(
    lambda t: (np.arange(2) / 4).astype(t))


@st.composite
def _nested_lists(draw):
    """A rectangular nested list of mixed Python numbers, NumPy scalars and arrays."""
    leaf = draw(st.sampled_from([_SCALAR_LEAVES, _ARRAY_LEAVES]))
    shape = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    leaves = draw(st.lists(leaf, min_size=int(np.prod(shape)), max_size=int(np.prod(shape))))
    it = iter(leaves)

    def build(dims):
        return [next(it) if len(dims) == 1 else build(dims[1:]) for _ in range(dims[0])] \
            if dims else next(it)
    return build(shape), leaves


def _expected_dtype(leaves) -> np.dtype:
    """NumPy 2's promotion with Python numbers weak; Python numbers alone: float32/int32."""
    if all(type(v) in (bool, int, float) for v in leaves):
        return np.dtype({"b": np.bool_, "i": np.int32, "f": np.float32}[
            np.result_type(*leaves).kind])
    return np.result_type(*leaves)


@settings(max_examples=150, deadline=None)
@given(_nested_lists())
def test_array_of_a_list_keeps_its_leaves_dtypes_eagerly_and_traced(case) -> None:
    """fnp.array([np.float64(1) + 1e-9, np.float64(2)]) was float32; traced it was float64."""
    x, leaves = case
    expected = _expected_dtype(leaves)
    try:
        np.asarray(x, expected)
    except OverflowError:  # a weak Python int out of the dtype's range: NumPy 2's error too
        with pytest.raises(OverflowError):
            fnp.asarray(x)
        return
    for make in (fnp.array, fnp.asarray):
        out = make(x)
        assert out.dtype == expected, (x, out.dtype, expected)
        np.testing.assert_array_equal(out, np.asarray(x, expected))
    strong = [i for i, v in enumerate(leaves) if type(v) not in (bool, int, float)]

    def rebuild(*traced):
        it, vals = iter(traced), list(leaves)
        for i in strong:
            vals[i] = next(it)
        flat = iter(vals)

        def put(y):
            return [put(e) for e in y] if isinstance(y, list) else next(flat)
        return fnp.array(put(x))
    staged = fnad.jit(rebuild)(*(leaves[i] for i in strong))
    assert staged.dtype == expected
    np.testing.assert_array_equal(staged, np.asarray(x, expected))


def test_array_of_float64_values_keeps_the_precision() -> None:
    x = fnp.array([np.float64(1) + 1e-9, np.float64(2)])
    assert x.dtype == np.float64 and x[0] - 1 == pytest.approx(1e-9, rel=1e-6)


# ------------------------------------------------------------ a corrupted kernel cache

@pytest.mark.skipif(not c_backend.available(), reason="needs a C compiler")
def test_a_corrupted_kernel_cache_entry_is_rebuilt(tmp_path) -> None:
    """A truncated cached .so gave `OSError: file too short` on every later run."""
    import os
    import subprocess
    import sys
    script = ("import numpy as np, fnad, fnad.numpy as fnp\n"
              "f = fnad.jit(lambda x: fnp.sin(x) * 2.0 + x * x, backend='c')\n"
              "x = np.linspace(0, 1, 1 << 20, dtype=np.float32)  # big enough to fuse\n"
              "np.testing.assert_allclose(f(x), np.sin(x) * 2 + x * x, rtol=1e-6)\n"
              "print('ok')\n")
    env = {**os.environ, "FNAD_CACHE_DIR": str(tmp_path)}
    root = os.path.dirname(os.path.dirname(os.path.abspath(fnad.__file__)))

    def run() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", script], env=env, cwd=root,
                              capture_output=True, text=True, timeout=300)

    assert run().stdout.strip() == "ok"
    libraries = list((tmp_path / "kernels").glob("*.so"))
    assert libraries
    for lib in libraries:  # a crash mid-write, as the old unsynced rename could leave
        lib.write_bytes(lib.read_bytes()[:100])
    second = run()
    assert second.stdout.strip() == "ok", second.stderr
    assert all(lib.stat().st_size > 100 for lib in libraries)
    assert not [p for p in (tmp_path / "kernels").iterdir() if p.suffix != ".so"]
