"""Fusion planning: kernel counts are pinned (a fusion regression fails a test), fused
programs match the NumPy backend, and every generated kernel also compiles as CUDA."""

from __future__ import annotations

import numpy as np
import pytest

import fnad
import fnad.numpy as fnp
from fnad.backends import c_backend, nvrtc
from fnad.jit import codegen_cuda, fusion
from fnad.jit.fusion import FusedKernel, fuse
from fnad.jit.kernels import DENSE, SCALAR, STRIDED
from fnad.test_util import assert_allclose

DEFAULT_LAUNCH_US = fusion.LAUNCH_US  # read before conftest's fixture lowers it
pytestmark = pytest.mark.skipif(not c_backend.available(), reason="no C compiler")


def fused_eqns(f, *args):
    closed = fnad.jit(f).lower(*args)
    return fuse(closed, c_backend.compile_kernel).eqns


def kernels(f, *args) -> list[FusedKernel]:
    return [e.params["kernel"] for e in fused_eqns(f, *args) if e.prim.name == "fusion"]


def prim_names(f, *args) -> list[str]:
    return [e.prim.name for e in fused_eqns(f, *args)]


def check_c_backend(f, *args, atol=None, rtol=None):
    expected = fnad.jit(f, backend="numpy")(*args)
    assert_allclose(fnad.jit(f, backend="c")(*args), expected, atol=atol, rtol=rtol)


def relu_layer(x, w, b):
    return fnp.maximum(x @ w + b, 0.0)


def softmax(x):
    e = fnp.exp(x - fnp.max(x, axis=-1, keepdims=True))
    return e / fnp.sum(e, axis=-1, keepdims=True)


def adam_update(p, g, m, v):
    m = 0.9 * m + 0.1 * g
    v = 0.999 * v + 0.001 * g * g
    return p - 0.01 * m / (fnp.sqrt(v) + 1e-8), m, v


rng = np.random.default_rng(0)
X = rng.standard_normal((32, 16)).astype(np.float32)
W = rng.standard_normal((16, 8)).astype(np.float32)
B = rng.standard_normal(8).astype(np.float32)
P4 = [rng.standard_normal((16, 8)).astype(np.float32) for _ in range(4)]


def test_bias_and_relu_fuse_after_the_matmul():
    names = prim_names(relu_layer, X, W, B)
    assert names.count("dot_general") == 1 and names.count("fusion") == 1
    assert "add" not in names and "max" not in names
    check_c_backend(relu_layer, X, W, B)


def test_softmax_is_a_reduction_kernel_and_an_elementwise_kernel():
    ks = kernels(softmax, X)
    assert [k.reduction is not None for k in ks] == [True, False]
    check_c_backend(softmax, X)


def test_adam_update_is_one_kernel_with_three_outputs():
    (k,) = kernels(adam_update, *P4)
    assert len(k.out_avals) == 3
    check_c_backend(adam_update, *P4)


def test_a_kernel_with_several_outputs_writes_into_donated_and_dying_buffers():
    step = fnad.jit(adam_update, donate_argnums=(0, 2, 3), backend="c")
    p, g, m, v = (a.copy() for a in P4)
    expected = fnad.jit(adam_update, backend="numpy")(p, g, m, v)
    text = step.explain(p, g, m, v)
    assert "3 of them donated" in text and "out=(" in text
    outs = step(p, g, m, v)
    assert_allclose(outs, expected)
    assert {id(o) for o in outs} == {id(p), id(m), id(v)}  # updated in place, each once

    def relu_and_mask(x, w, b):  # the dying matmul result takes one of the two results
        h = x @ w + b
        return fnp.maximum(h, 0.0), (h > 0).astype(h.dtype)

    assert "out=(" in fnad.jit(relu_and_mask, backend="c").explain(X, W, B)
    check_c_backend(relu_and_mask, X, W, B)


def test_relu_derivative_kernel_matches_numpy_with_nan_and_ties():
    x = np.array([[-1.0, 0.0, 2.0, np.nan], [np.inf, -np.inf, 0.5, -0.0]], np.float32)
    grad_relu = fnad.grad(lambda v: fnp.sum(fnp.maximum(v, 0.0) * 3.0))
    assert_allclose(fnad.jit(grad_relu, backend="c")(x),
                    fnad.jit(grad_relu, backend="numpy")(x))


def test_sin_and_cos_of_one_value_stay_vector_calls(tmp_path, monkeypatch):
    """gcc merged the sin and cos of one value (in any gradient of sin) into a call of
    sincos, which has no vector version, and left the whole loop scalar (six times
    slower): kernels call libmvec's vector sin and cos instead."""
    if "-DFNAD_MVEC" not in c_backend._compiler_identity()[1]:
        pytest.skip("glibc's vector math library does not link here")
    monkeypatch.setenv("FNAD_CACHE_DIR", str(tmp_path))
    c_backend._COMPILED.clear()
    x = np.linspace(-3, 3, 1 << 16, dtype=np.float32)
    g = fnad.grad(lambda v: fnp.sum(fnp.sin(fnp.sin(v) * 2.0)))
    assert_allclose(fnad.jit(g, backend="c")(x), fnad.jit(g, backend="numpy")(x),
                    rtol=1e-5, atol=1e-6)
    libraries = b"".join(p.read_bytes() for p in (tmp_path / "kernels").iterdir())
    assert b"_ZGV" in libraries and b"cosf" in libraries
    assert b"sincos" not in libraries


def test_lone_equations_and_small_regions_are_left_to_numpy(monkeypatch):
    assert kernels(lambda x: x + 1.0, X) == []
    monkeypatch.setattr(fusion, "LAUNCH_US", DEFAULT_LAUNCH_US)
    chain = lambda x: fnp.tanh(x * 2.0 + 1.0)
    assert kernels(chain, X) == []  # 32x16 elements, 3 ops: NumPy's ufuncs are cheaper
    assert len(kernels(chain, np.ones((512, 512), np.float32))) == 1


def test_reduction_absorbs_its_prologue_and_the_region_stays_usable():
    f = lambda x, y: (fnp.sum(fnp.tanh(x * y), axis=1), fnp.tanh(x * y) + 1.0)
    ks = kernels(f, X, X)
    assert sorted(k.reduction is not None for k in ks) == [False, True]
    check_c_backend(f, X, X)


def test_reductions_over_leading_axes_are_left_to_numpy():
    f = lambda x: fnp.sum(fnp.tanh(x) * 2.0, axis=0)
    assert [k.reduction for k in kernels(f, X)] == [None]
    assert "reduce_sum" in prim_names(f, X)


@pytest.mark.parametrize("axes", [0, 1, (0, 1)])
@pytest.mark.parametrize("reducer", [fnp.sum, fnp.max, fnp.min])
def test_reductions_over_any_axes(axes, reducer):
    f = lambda x: reducer(fnp.exp(x) - x, axis=axes)
    check_c_backend(f, X, rtol=1e-5)


def test_broadcasts_and_views_of_inputs():
    f = lambda x, b, s: fnp.tanh(x.T * b[:, None] + s) * 2.0
    check_c_backend(f, X, X[0].copy(), np.float32(3.0))
    check_c_backend(f, X[::2], X[::2, 0], np.float32(-1.0))  # strided views


def test_float64_and_integer_kernels():
    f64 = lambda x: fnp.exp(x) * x - 1.0
    check_c_backend(f64, X.astype(np.float64))
    ints = lambda a, b: (a * 3 + b) - (a - b) * 2
    i = rng.integers(-100, 100, (5, 7)).astype(np.int32)
    check_c_backend(ints, i, i.T.copy().T)


def test_axes_that_every_operand_walks_as_one_are_merged(monkeypatch):
    assert fusion._coalesce([2, 3, 4, 5], [[0, 1, 0, 0], None]) == ([2, 3, 20], [[0, 1, 0], None])
    assert fusion._coalesce([4, 5], [[1, 4]]) == ([4, 5], [[1, 4]])  # a transpose stays 2-d
    x = rng.standard_normal((4, 3, 5, 6)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    f = lambda x, b: fnp.maximum(x + b[:, None, None], 0.0) * 2.0
    ranks = []
    compile_kernel = c_backend.compile_kernel
    monkeypatch.setattr(c_backend, "compile_kernel",
                        lambda kernel: ranks.append(kernel.rank) or compile_kernel(kernel))
    check_c_backend(f, x, b)
    assert ranks == [3]  # (N, C, H*W): the bias axis kept, H and W merged
    check_c_backend(f, x.transpose(0, 1, 3, 2).copy().transpose(0, 1, 3, 2), b)
    assert ranks == [3, 4]  # W and H swapped in memory: nothing to merge


def test_new_batch_size_reuses_the_compiled_kernel():
    jf = fnad.jit(lambda x: fnp.tanh(x) * 2.0 + x, backend="c")
    jf(X)
    before = c_backend._COMPILED.keys()
    jf(np.ones((7, 16), np.float32))
    assert c_backend._COMPILED.keys() == before


def test_generated_kernels_compile_as_cuda():
    if nvrtc.library() is None:
        pytest.skip("libnvrtc not installed (test extra)")
    programs = [(relu_layer, (X, W, B)), (softmax, (X,)), (adam_update, P4),
                (lambda x: fnp.sum(fnp.exp(x) - x, axis=0), (X,))]
    for f, args in programs:
        for fused in kernels(f, *args):
            n = len(fused.in_dtypes)
            for accesses in ((DENSE,) * n, (STRIDED,) * n, (SCALAR,) + (STRIDED,) * (n - 1)):
                kernel = fused.kernel(accesses, fused.rank)
                for arch in ("compute_80", "compute_90"):
                    assert ".entry" in nvrtc.compile_ptx(codegen_cuda.render(kernel), arch)


def test_the_cost_model_fuses_where_measured_kernels_win(monkeypatch):
    """Small regions of arithmetic stay NumPy calls; a libm function (vectorized in the
    kernel, scalar in NumPy) or a long chain pays for a launch at smaller sizes."""
    monkeypatch.setattr(fusion, "LAUNCH_US", DEFAULT_LAUNCH_US)
    small, rnn_sized = np.ones((32, 16), np.float32), np.ones((32, 128), np.float32)
    assert kernels(lambda x: x * 2.0 + 1.0, small) == []
    assert kernels(lambda x: x * 2.0 + 1.0, rnn_sized) == []
    assert len(kernels(lambda x: fnp.tanh(x * 2.0 + 1.0), rnn_sized)) == 1
    adam_like = lambda m, v, g: m - 1e-3 * (0.9 * m + 0.1 * g) / (0.999 * v + 0.001 * g * g)
    assert len(kernels(adam_like, *(np.ones(128, np.float32),) * 3)) == 1
    assert len(kernels(lambda x: x * 2.0 + 1.0, np.ones((512, 512), np.float32))) == 1


def test_kernels_compile_selects_without_assuming_fp_traps():
    """With FP traps assumed gcc branched per element on a select (a where over 1M random
    floats ran 30x slower than vector code); the flag changes no value: NaN and inf included."""
    assert "-fno-trapping-math" in c_backend._compiler_identity()[1]
    x = np.array([-1.0, 0.0, 2.0, np.nan, np.inf, -np.inf, -0.0], np.float32)
    f = lambda v: fnp.where(v > 0, v * 2.0, v * 3.0) + fnp.clip(v, -1.0, 1.0)
    check_c_backend(f, x)
