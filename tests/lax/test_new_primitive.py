"""A primitive is one unit: this file defines a new elementwise primitive, with all its
rules in one block, and it works everywhere without touching any other file: eagerly,
under jit on the NumPy and C backends (fused into a kernel there), under grad, jvp, vmap
and their compositions, and its CUDA kernel compiles with NVRTC."""

from __future__ import annotations

import numpy as np
import pytest

import fnad
from fnad import lax
from fnad.backends import c_backend, cupy_backend, nvrtc
from fnad.core.ir import typecheck
from fnad.core.primitive import Elementwise
from fnad.jit import passes
from fnad.jit.fusion import fuse, fusion_p
from fnad.jit.kernels import DENSE, SCALAR, STRIDED
from fnad.lax._rules import FLOAT, defjvp, elementwise
from fnad.test_util import check_grads

# ---- the whole definition: x -> x * (1 + x * x), impl, kernel rule and jvp
cubic_p = elementwise("test_cubic", lambda x: x * (1 + x * x), FLOAT,
                      kernel=Elementwise("({0} * (1 + {0} * {0}))"))
defjvp(cubic_p, lambda g, ans, x: lax.mul(g, lax.add(lax.mul(lax.mul(x, x), 3.0), 1.0)))


def cubic(x):
    return cubic_p.bind(x)
# ----


def _want(x):
    return x * (1 + x * x)


X = np.linspace(-2, 2, 1 << 17).astype(np.float32)  # large enough to be fused on "c"


def test_eager() -> None:
    np.testing.assert_allclose(cubic(X), _want(X), rtol=1e-6)


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_jit(backend: str) -> None:
    if backend == "c" and not c_backend.available():
        pytest.skip("no C compiler")
    f = fnad.jit(lambda x: cubic(x) * 2.0 + 1.0, backend=backend)
    np.testing.assert_allclose(f(X), _want(X) * 2 + 1, rtol=1e-5)
    typecheck(fnad.make_jaxpr(lambda x: cubic(x) * 2.0)(X).jaxpr)
    if backend == "c":
        plan = f.explain(X)
        assert "1 fused kernels" in plan, plan


def test_grad_jvp_vmap_and_compositions() -> None:
    x = np.linspace(-1.5, 1.5, 7)
    check_grads(cubic, (x,), order=2, modes=("fwd", "rev"))
    g = fnad.grad(lambda v: lax.reduce_sum(cubic(v), (0,)))(x)
    np.testing.assert_allclose(g, 3 * x * x + 1, rtol=1e-12)
    np.testing.assert_allclose(fnad.vmap(cubic)(x.reshape(7, 1)), _want(x).reshape(7, 1))
    per_example = fnad.vmap(fnad.grad(cubic))(x)
    np.testing.assert_allclose(per_example, 3 * x * x + 1, rtol=1e-12)
    np.testing.assert_allclose(fnad.jit(fnad.vmap(fnad.grad(cubic)))(x), 3 * x * x + 1,
                               rtol=1e-12)


@pytest.mark.skipif(nvrtc.library() is None, reason="libnvrtc not installed (test extra)")
def test_cuda_kernel_compiles_with_nvrtc() -> None:
    closed = passes.optimize(fnad.make_jaxpr(lambda x: cubic(x) * 2.0)(X))
    fused = fuse(closed, lambda kernel: None, launch_us=0)
    kernels = [e.params["kernel"] for e in fused.eqns if e.prim is fusion_p]
    assert kernels
    for k in kernels:
        for accesses in ((DENSE,), (STRIDED,), (SCALAR,)):
            _, source = cupy_backend.kernel_source(k.kernel(accesses, k.rank))
            assert "(1 + " in source
            assert ".entry" in nvrtc.compile_ptx(source, "compute_80")
