"""Long fused regions are cut into kernels of at most `fusion.MAX_OPS` equations and about
`fusion.MAX_OPERANDS` arrays, so the C compiler's time stays linear in the program's size:
kernel counts and sizes are pinned, and the cut programs compute what the NumPy backend
computes. A program's kernels are compiled together, in a few compiler processes, before
it first runs."""

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


def fused_kernels(f: Callable[..., Any], *args: Any, max_ops: int,
                  max_operands: int = 10**6) -> list[Any]:
    """The fusion equations of f's jitted program (kernels are planned, not built)."""
    fused = fusion.fuse(fnad.jit(f).lower(*args), lambda kernel: kernel, launch_us=0,
                        max_ops=max_ops, max_operands=max_operands)
    return [e for e in fused.eqns if e.prim is fusion.fusion_p]


def kernel_sizes(f: Callable[..., Any], *args: Any, max_ops: int) -> list[int]:
    """Equations per fused kernel of f's jitted program."""
    return [sum(op.prim != "literal" for op in e.params["kernel"].ops)
            for e in fused_kernels(f, *args, max_ops=max_ops)]


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


def test_a_gradient_is_cut_into_kernels_of_boundedly_many_arrays() -> None:
    """The backward pass of a chain reads a saved value every two equations, the forward
    pass saves one every three: the operand cap, not the length cap, cuts them."""
    x = np.linspace(-1, 1, 64, dtype=np.float32)
    g = fnad.grad(chain(600))
    operands = lambda eqns: [len(e.inputs) + len(e.outputs) for e in eqns]
    uncut = operands(fused_kernels(g, x, max_ops=200))
    assert max(uncut) > 40
    cut = operands(fused_kernels(g, x, max_ops=200, max_operands=16))
    assert max(cut) <= 16 + 3  # checked before each equation, which adds three at most
    assert len(cut) >= 2 * len(uncut)


def test_a_programs_kernels_compile_together_before_it_runs(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Many kernels, built with an empty cache by one compiler process per core (not one per
    kernel) when the program is compiled; its first run compiles nothing more, and a
    second program with the same kernels finds them all in the disk cache."""
    monkeypatch.setenv("FNAD_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(fusion, "MAX_OPS", 8)
    c_backend._COMPILED.clear()
    starts = []
    start = c_backend._start
    monkeypatch.setattr(c_backend, "_start", lambda *a: starts.append(a) or start(*a))
    x = np.linspace(-2, 2, 1 << 15, dtype=np.float32)
    g = fnad.grad(chain(120))
    exe = fnad.jit(g, backend="c")
    exe.lower(x)
    kernels = len(fused_kernels(g, x, max_ops=8))
    assert kernels >= 20
    exe.explain(x)  # compiles without running
    assert 0 < len(starts) <= len(os.sched_getaffinity(0))
    built = len(os.listdir(os.path.join(tmp_path, "kernels")))
    assert built >= kernels // 2  # (forward and backward kernels repeat across the chain)
    got = exe(x)
    assert len(starts) <= len(os.sched_getaffinity(0))  # the run found every kernel built
    assert_allclose(got, fnad.jit(g, backend="numpy")(x), rtol=1e-5, atol=1e-6)
    c_backend._COMPILED.clear()
    fnad.jit(g, backend="c")(x)
    assert len(starts) <= len(os.sched_getaffinity(0))


def test_large_kernels_compile_at_a_cheaper_level() -> None:
    """Past `c_backend.LARGE` equations a kernel compiles at -O1 with loop vectorization
    (half gcc's time), and computes what NumPy does; smaller ones keep -O3."""
    x = np.linspace(-1, 1, 1 << 12, dtype=np.float32)

    def kernel(f: Callable[[Any], Any]) -> Any:
        (e,) = fused_kernels(f, x, max_ops=fusion.MAX_OPS)
        return e.params["kernel"].expected([a.aval for a in e.inputs])

    small, large = kernel(chain(c_backend.LARGE - 10)), kernel(chain(c_backend.LARGE + 10))
    assert "-O3" in c_backend._flags(small)
    assert "-O3" not in c_backend._flags(large)
    assert "-ftree-loop-vectorize" in c_backend._flags(large)
    assert_allclose(fnad.jit(chain(300), backend="c")(x),
                    fnad.jit(chain(300), backend="numpy")(x), rtol=1e-5)


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
