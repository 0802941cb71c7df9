"""Complex programs under `jit`: kernels have no complex C/CUDA type, so complex equations
run as library calls (NumPy's, CuPy's on a GPU) between fused kernels of the real parts;
results, and complex gradients, match eager evaluation on every backend."""

from __future__ import annotations

import re

import numpy as np
import pytest

import fnad
import fnad.numpy as fnp
from fnad.backends import available_backends
from fnad.test_util import assert_allclose

N = 1 << 16  # large enough that the real chain fuses


def mixed(z, x):
    """A complex chain and a real chain, joined at the end."""
    c = fnp.sum(fnp.exp(z) * z + fnp.conj(z) * 0.5)
    r = fnp.sum(fnp.tanh(x) * 2.0 + fnp.sin(x) * x)
    return c + r


def args(dtype):
    rng = np.random.default_rng(0)
    real = np.dtype(dtype).char.lower()
    z = (rng.standard_normal(N) + 1j * rng.standard_normal(N)).astype(dtype) * 0.1
    return z, rng.standard_normal(N).astype(real)


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
@pytest.mark.parametrize("backend", available_backends())
def test_complex_programs_match_eager(dtype, backend):
    z, x = args(dtype)
    expected = mixed(z, x)
    out = fnad.jit(mixed, backend=backend)(z, x)
    assert out.dtype == expected.dtype == np.dtype(dtype)
    assert_allclose(out, expected, rtol=1e-4 if dtype == np.complex64 else 1e-10)


@pytest.mark.parametrize("backend", available_backends())
def test_complex_gradients_match_eager(backend):
    z, x = args(np.complex128)
    loss = lambda z, x: fnp.real(mixed(z, x) * fnp.conj(mixed(z, x)))
    expected = fnad.grad(loss, argnums=(0, 1))(z, x)
    got = fnad.jit(fnad.grad(loss, argnums=(0, 1)), backend=backend)(z, x)
    for g, e in zip(got, expected):
        assert g.dtype == e.dtype
        assert_allclose(g, e, rtol=1e-9)


@pytest.mark.skipif("c" not in available_backends(), reason="no C compiler")
def test_c_backend_fuses_only_the_real_equations():
    """The complex equations stay library calls; the real chain still fuses."""
    z, x = args(np.complex64)
    report = fnad.jit(mixed, backend="c").explain(z, x)
    fused = re.search(r"(\d+) fused kernels doing the work of (\d+) equations", report)
    assert fused is not None, report
    assert int(fused.group(1)) >= 1
    complex_only = fnad.jit(lambda z: fnp.sum(fnp.exp(z) * z), backend="c").explain(z)
    assert "0 fused kernels" in complex_only, complex_only
