"""JAX's convention for the gradient of a real function f of complex inputs z = x + iy,
from its definition: grad f(z) = df/dx - i df/dy (the conjugate of the Wirtinger-style
cotangent 2 df/dz-bar ... as `jax.grad` returns it), by central differences in float64."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import fnad
from fnad import lax


def real_part(z: Any) -> Any:
    """Re z for a complex array or tracer."""
    return lax.real(z)


def grad_by_definition(f: Callable[[np.ndarray], Any], z: np.ndarray, eps: float = 1e-6
                       ) -> np.ndarray:
    out = np.zeros(z.shape, np.complex128)
    for idx in np.ndindex(z.shape):
        e = np.zeros(z.shape, np.complex128)
        e[idx] = eps
        dx = (np.asarray(f(z + e)) - np.asarray(f(z - e))) / (2 * eps)
        dy = (np.asarray(f(z + 1j * e)) - np.asarray(f(z - 1j * e))) / (2 * eps)
        out[idx] = dx - 1j * dy
    return out


def check_complex_grad(f: Callable[[np.ndarray], Any], z: np.ndarray, tol: float = 1e-6
                       ) -> None:
    """fnad.grad of the real function `f` at complex `z`, eagerly and jitted, equals
    JAX's convention computed from its definition."""
    want = grad_by_definition(f, z)
    np.testing.assert_allclose(fnad.grad(f)(z), want, atol=tol, rtol=tol)
    np.testing.assert_allclose(fnad.jit(fnad.grad(f))(z), want, atol=tol, rtol=tol)
