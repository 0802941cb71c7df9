"""Long fused regions are cut into kernels of at most `fusion.MAX_OPS` equations, so the C
compiler's time stays linear in the program's size: kernel counts and sizes are pinned,
and the cut programs compute what the NumPy backend computes."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import fnad
import fnad.numpy as fnp
from fnad.backends import c_backend
from fnad.jit import fusion
from fnad.test_util import assert_allclose

pytestmark = pytest.mark.skipif(not c_backend.available(), reason="no C compiler")


def chain(n: int) -> Callable[[Any], Any]:
    """n elementwise equations in a row (sin, mul, add), then a sum."""
    def f(x: Any) -> Any:
        for i in range(n // 3):
            x = fnp.sin(x) * 1.001 + 0.1 * (i % 7)
        return fnp.sum(x)
    return f


def kernel_sizes(f: Callable[..., Any], *args: Any, max_ops: int) -> list[int]:
    """Equations per fused kernel of f's jitted program (kernels are planned, not built)."""
    fused = fusion.fuse(fnad.jit(f).lower(*args), lambda kernel: kernel, launch_us=0,
                        max_ops=max_ops)
    return [sum(op.prim != "literal" for op in e.params["kernel"].ops)
            for e in fused.eqns if e.prim is fusion.fusion_p]


@pytest.mark.parametrize("max_ops", [2, 7, 64])
def test_a_long_chain_is_cut_into_kernels_of_bounded_size(max_ops: int) -> None:
    x = np.linspace(-1, 1, 64, dtype=np.float32)
    f = chain(120)
    (total,) = kernel_sizes(f, x, max_ops=10**6)  # one kernel (the sum takes the chain in)
    assert total > 100
    sizes = kernel_sizes(f, x, max_ops=max_ops)
    assert sizes[:-1] == [max_ops] * (len(sizes) - 1) and 0 < sizes[-1] <= max_ops
    assert sum(sizes) == total


def test_the_gradient_of_a_long_chain_is_cut_too() -> None:
    x = np.linspace(-1, 1, 64, dtype=np.float32)
    sizes = kernel_sizes(fnad.grad(chain(300)), x, max_ops=50)
    assert max(sizes) <= 50
    assert len(sizes) >= 300 * 2 // 50  # forward and backward work, about 2 x 300 equations


def test_cut_kernels_compute_what_numpy_does(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fusion, "MAX_OPS", 8)
    x = np.linspace(-2, 2, 257, dtype=np.float32)
    for f in (chain(60), fnad.grad(chain(30)),
              lambda x: (fnp.exp(fnp.tanh(x) * 3) - x * x / 7 + fnp.cos(x)) ** 2 * 0.5):
        want = fnad.jit(f, backend="numpy")(x)
        got = fnad.jit(f, backend="c")(x)
        assert_allclose(got, want, rtol=2e-6, atol=1e-6)
    # NumPy itself, in float64, for the chain
    y = x.astype(np.float64)
    for i in range(20):
        y = np.sin(y) * 1.001 + 0.1 * (i % 7)
    assert_allclose(fnad.jit(chain(60), backend="c")(x), y.sum(), rtol=1e-4)


def test_default_cap_keeps_ordinary_programs_in_one_kernel() -> None:
    x = np.ones(1 << 12, np.float32)
    assert len(kernel_sizes(chain(300), x, max_ops=fusion.MAX_OPS)) == 1  # the sum takes it in


@pytest.mark.slow
def test_ten_thousand_op_gradient_compiles_cold_in_bounded_kernels(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 10k-equation straight-line program's gradient, compiled with an empty kernel cache:
    every kernel is at most MAX_OPS equations (a single kernel of 20k took minutes of gcc)."""
    monkeypatch.setenv("FNAD_CACHE_DIR", str(tmp_path))
    f = chain(10_000)
    x = np.linspace(-1, 1, 4096, dtype=np.float32)
    sizes = kernel_sizes(fnad.grad(f), x, max_ops=fusion.MAX_OPS)
    assert max(sizes) <= fusion.MAX_OPS and len(sizes) >= 20_000 // fusion.MAX_OPS
    start = time.perf_counter()
    got = fnad.jit(fnad.grad(f), backend="c")(x)
    elapsed = time.perf_counter() - start
    assert os.listdir(os.path.join(tmp_path, "kernels"))  # compiled now, not from a cache
    assert_allclose(got, fnad.jit(fnad.grad(f), backend="numpy")(x), rtol=1e-5, atol=1e-6)
    print(f"cold jit(grad) of 10k equations: {elapsed:.1f} s")
