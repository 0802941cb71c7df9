"""fnad.experimental.ode.odeint: JAX's signature over fnad.scipy.integrate.odeint (whose own
tests check the solver): extra arguments positional, derivatives through them."""

from __future__ import annotations

import numpy as np

import fnad
import fnad.numpy as fnp
from fnad.experimental.ode import odeint
from fnad.test_util import check_grads


def test_jax_signature_values_and_derivatives():
    t = np.linspace(0.0, 1.5, 4)
    ys = odeint(lambda y, s, k, c: -k * y + c, np.float64(1.0), t, 2.0, 0.5)
    exact = 0.25 + 0.75 * np.exp(-2.0 * t)  # y' = -2y + 1/2, y(0) = 1
    np.testing.assert_allclose(ys, exact, rtol=1e-7)
    check_grads(lambda y0, k: odeint(lambda y, s, k_: fnp.sin(k_ * y), y0, t, k),
                (np.float64(0.3), np.float64(1.7)), order=2, modes=["rev"])
    assert fnad.experimental.ode.odeint is odeint
