"""Derivatives exactly at the points where fnad.scipy switches formulas or clamps into a
support are the one-sided derivative of the formula used there (as JAX's, which select
with `where`), not half of it: `maximum`/`minimum`/`clip` split a tie's derivative, and
log_ndtr'(0), truncnorm.cdf'(b), betaln at b = 8 and logistic.logpdf'(0) came out halved
or wrong through them."""

from __future__ import annotations

import numpy as np
import pytest

import fnad
from fnad.scipy import special
from fnad.scipy.stats import expon, gamma, logistic, norm, pareto, poisson, truncnorm, uniform

H = 1e-7
# (name, function, boundary point, side whose formula holds there: +1 right, -1 left)
CASES = [
    ("log_ndtr at 0", special.log_ndtr, 0.0, -1),
    ("log_ndtr at the asymptotic switch", special.log_ndtr, -20.0, +1),
    ("norm.logcdf at 0", norm.logcdf, 0.0, -1),
    ("norm.logsf at 0", norm.logsf, 0.0, +1),
    ("expon.cdf at 0", expon.cdf, 0.0, +1),
    ("expon.logsf at 0", expon.logsf, 0.0, +1),
    ("uniform.cdf at loc", uniform.cdf, 0.0, +1),
    ("uniform.cdf at loc + scale", uniform.cdf, 1.0, -1),
    ("pareto.logsf at 1", lambda x: pareto.logsf(x, 2.0), 1.0, +1),
    ("gamma.cdf at 0, a = 2", lambda x: gamma.cdf(x, 2.0), 0.0, +1),
    ("truncnorm.cdf at b", lambda x: truncnorm.cdf(x, -1.0, 1.0), 1.0, -1),
    ("truncnorm.logsf at a", lambda x: truncnorm.logsf(x, -1.0, 1.0), -1.0, +1),
    ("poisson.entropy at 100", poisson.entropy, 100.0, +1),
    ("betaln at b = 8", lambda b: special.betaln(2.0, b), 8.0, +1),
    ("logistic.logpdf at 0", logistic.logpdf, 0.0, +1),
    ("logistic.cdf at 0", logistic.cdf, 0.0, +1),
]


@pytest.mark.parametrize("name, f, x0, side", CASES, ids=[c[0] for c in CASES])
def test_derivative_at_a_boundary_is_the_formulas(name, f, x0, side) -> None:
    x0 = np.float64(x0)
    one_sided = side * (float(f(x0 + side * H)) - float(f(x0))) / H
    np.testing.assert_allclose(float(fnad.grad(f)(x0)), one_sided, rtol=1e-5, atol=1e-7)
