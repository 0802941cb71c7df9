"""fnad.scipy.integrate: JAX's spelling of the trapezoid rule, against SciPy's."""

from __future__ import annotations

import numpy as np
import scipy.integrate

from fnad.scipy import integrate
from fnad.test_util import check_grads


def test_trapezoid_is_scipys():
    rng = np.random.default_rng(0)
    y, x = rng.standard_normal((3, 5)), np.sort(rng.standard_normal(5))
    np.testing.assert_allclose(integrate.trapezoid(y, x), scipy.integrate.trapezoid(y, x))
    np.testing.assert_allclose(integrate.trapezoid(y, dx=0.5, axis=0),
                               scipy.integrate.trapezoid(y, dx=0.5, axis=0))
    check_grads(integrate.trapezoid, (y, x), order=2)
