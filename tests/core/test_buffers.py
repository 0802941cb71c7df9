"""fnad.core.buffers: large results recycled only once nothing can reach them."""

from __future__ import annotations

import gc
from typing import Any

import numpy as np
import pytest

from fnad.config import config
from fnad.core import buffers


@pytest.fixture(autouse=True)
def small_pool(monkeypatch: Any) -> None:
    if not config.keep_freed_memory:
        pytest.skip("the pool serves only with keep_freed_memory (glibc's malloc)")
    monkeypatch.setattr(buffers, "MIN_BYTES", 1 << 12)
    monkeypatch.setattr(buffers, "_pool", [])


def test_a_dropped_array_is_recycled_a_reachable_one_never() -> None:
    a, mapped = buffers.take((64, 32), np.float32)
    assert not mapped and a.shape == (64, 32) and a.dtype == np.float32
    address = a.ctypes.data
    view = a[3:, ::2]
    del a
    b, mapped = buffers.take((64, 32), np.float32)
    assert b.ctypes.data != address and not mapped  # a view still holds the memory
    del view
    gc.collect()
    c, mapped = buffers.take((2048,), np.int32)  # same size, any shape and dtype
    assert c.ctypes.data == address and mapped and c.dtype == np.int32
    memory = memoryview(c)
    del c
    assert buffers.take((2048,), np.int32)[0].ctypes.data != address  # exported buffer
    del memory
    assert buffers.take((32, 64), np.float32)[0].ctypes.data == address


def test_small_arrays_other_sizes_and_the_switch_bypass_the_pool() -> None:
    assert buffers.take((8,), np.float32)[1] is False and not buffers._pool
    buffers.take((64, 32), np.float32)
    assert not buffers.take((64, 33), np.float32)[1]  # another size: a new buffer
    assert len(buffers._pool) == 2
    before = config.keep_freed_memory
    config.update("keep_freed_memory", False)
    try:
        a, mapped = buffers.take((64, 32), np.float32)
    finally:
        config.update("keep_freed_memory", before)
    assert not mapped and a.base is None and len(buffers._pool) == 2


def test_the_pool_keeps_a_bounded_number_of_buffers(monkeypatch: Any) -> None:
    monkeypatch.setattr(buffers, "MAX_BUFFERS", 3)
    held = [buffers.take((1024 + k,), np.float64)[0] for k in range(5)]
    assert len(buffers._pool) == 3
    assert all(np.shares_memory(r, h) for r, h in zip(buffers._pool, held[2:]))
    buffers.release()
    assert not buffers._pool and held[0].shape == (1024,)


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_jitted_large_results_reuse_memory_only_once_dropped(backend: str) -> None:
    """A jitted function's large fresh results (a fused kernel's, a ufunc's, a product's)
    come from the pool: a held result keeps its numbers across later calls."""
    import fnad
    import fnad.numpy as fnp
    f = fnad.jit(lambda a, b: (fnp.tanh(a) * b, a @ b), backend=backend)
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 48, 48)), rng.standard_normal((2, 48, 48))
    first = f(a, b)
    expected = [np.tanh(a) * b, a @ b]
    addresses = {r.ctypes.data for r in first}
    second = f(2 * a, b)
    assert not addresses & {r.ctypes.data for r in second}
    for got, want in zip(first, expected):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    del first
    third = f(a, b)
    assert {r.ctypes.data for r in third} & addresses  # (a temporary may take one)
    for got, want in zip(third, expected):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(second[0], np.tanh(2 * a) * b, rtol=1e-12)


@pytest.mark.parametrize("impl_backend", ["numpy", "cupy"])
def test_only_numpy_results_come_from_the_pool(impl_backend: str) -> None:
    """The CuPy backend reuses the NumPy backend's code generator: its results are
    device arrays, which CuPy allocates."""
    import fnad
    from fnad.backends import numpy_backend
    x = np.ones((64, 64))
    closed = fnad.make_jaxpr(lambda a, b: a * b + a)(x, x)
    source = numpy_backend.lower(closed, (), "f", compile_sub=lambda *a, **k: None,
                                 impl_backend=impl_backend).source
    assert ("_buffers_empty" in source) == (impl_backend == "numpy")
