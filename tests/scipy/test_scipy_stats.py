"""fnad.scipy.stats: every function of every distribution module against SciPy (inside and
outside the support), gradients in the parameters against finite differences, and the
statistics functions (mode, rankdata, sem, gaussian_kde)."""

from __future__ import annotations

import doctest
import math
import pkgutil

import numpy as np
import pytest
import scipy.stats as ss

import fnad
from fnad.scipy import stats
from fnad.test_util import check_grads, check_vmap

RNG = np.random.default_rng(1)
N = 60


def pos(lo=0.2, hi=5.0):
    return RNG.uniform(lo, hi, N)


def real(scale=3.0):
    return RNG.normal(0, scale, N)


def unit():
    return RNG.uniform(0.001, 0.999, N)


def ints(hi=12):
    return RNG.integers(-1, hi, N).astype(np.float64)


# (module, function names, scipy distribution, argument generator)

CASES = [
    ("norm", ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"], ss.norm,
     lambda: ((real(10), real(1), pos()), None)),
    ("norm", ["ppf", "isf"], ss.norm, lambda: ((unit(), real(1), pos()), None)),
    ("t", ["logpdf", "pdf"], ss.t, lambda: ((real(), pos(0.5, 30), real(1), pos()), None)),
    ("beta", ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"], ss.beta,
     lambda: ((RNG.uniform(-0.2, 1.2, N), pos(0.3, 6), pos(0.3, 6)), None)),
    ("gamma", ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"], ss.gamma,
     lambda: ((RNG.uniform(-1, 12, N), pos(0.3, 8), real(0.3), pos(0.5, 2)), None)),
    ("chi2", ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"], ss.chi2,
     lambda: ((RNG.uniform(-1, 15, N), pos(0.5, 10)), None)),
    ("expon", ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"], ss.expon,
     lambda: ((RNG.uniform(-2, 10, N), real(0.5), pos()), None)),
    ("expon", ["ppf"], ss.expon, lambda: ((unit(), real(1), pos()), None)),
    ("laplace", ["logpdf", "pdf", "cdf"], ss.laplace, lambda: ((real(), real(1), pos()), None)),
    ("logistic", ["logpdf", "pdf", "cdf", "sf"], ss.logistic,
     lambda: ((real(10), real(1), pos()), None)),
    ("logistic", ["ppf", "isf"], ss.logistic, lambda: ((unit(), real(1), pos()), None)),
    ("cauchy", ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"], ss.cauchy,
     lambda: ((real(30), real(1), pos()), None)),
    ("cauchy", ["ppf", "isf"], ss.cauchy, lambda: ((unit(), real(1), pos()), None)),
    ("uniform", ["logpdf", "pdf", "cdf"], ss.uniform,
     lambda: ((RNG.uniform(-1, 4, N), real(1), pos()), None)),
    ("uniform", ["ppf"], ss.uniform, lambda: ((unit(), real(1), pos()), None)),
    ("pareto", ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"], ss.pareto,
     lambda: ((RNG.uniform(0, 8, N), pos(0.5, 4), real(0.2), pos(0.5, 2)), None)),
    ("pareto", ["ppf"], ss.pareto, lambda: ((unit(), pos(0.5, 4), real(0.2), pos()), None)),
    ("gennorm", ["logpdf", "pdf", "cdf"], ss.gennorm, lambda: ((real(2), pos(0.5, 4)), None)),
    ("gumbel_r", ["logpdf", "pdf", "logcdf", "cdf", "sf", "logsf"], ss.gumbel_r,
     lambda: ((real(3), real(1), pos()), None)),
    ("gumbel_r", ["ppf"], ss.gumbel_r, lambda: ((unit(), real(1), pos()), None)),
    ("gumbel_l", ["logpdf", "pdf", "logcdf", "cdf", "sf", "logsf"], ss.gumbel_l,
     lambda: ((real(3), real(1), pos()), None)),
    ("gumbel_l", ["ppf"], ss.gumbel_l, lambda: ((unit(), real(1), pos()), None)),
    ("truncnorm", ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"], ss.truncnorm,
     lambda: ((RNG.uniform(-4, 6, N), RNG.uniform(-3, 1, N), RNG.uniform(1.5, 5, N),
               real(0.3), pos(0.5, 2)), None)),
    ("vonmises", ["logpdf", "pdf"], ss.vonmises,
     lambda: ((RNG.uniform(-math.pi, math.pi, N), pos(0.01, 50)), None)),
    ("wrapcauchy", ["logpdf", "pdf"], ss.wrapcauchy,
     lambda: ((RNG.uniform(0, 2 * math.pi, N), RNG.uniform(0.01, 0.99, N)), None)),
    ("bernoulli", ["logpmf", "pmf", "cdf"], ss.bernoulli,
     lambda: ((RNG.integers(-1, 3, N).astype(float), unit()), None)),
    ("bernoulli", ["ppf"], ss.bernoulli, lambda: ((unit(), unit()), None)),
    ("binom", ["logpmf", "pmf"], ss.binom,
     lambda: ((ints(), RNG.integers(1, 10, N).astype(float), unit()), None)),
    ("betabinom", ["logpmf", "pmf"], ss.betabinom,
     lambda: ((ints(), RNG.integers(1, 10, N).astype(float), pos(), pos()), None)),
    ("geom", ["logpmf", "pmf"], ss.geom, lambda: ((ints(), unit()), None)),
    ("nbinom", ["logpmf", "pmf"], ss.nbinom, lambda: ((ints(), pos(0.5, 8), unit()), None)),
    ("poisson", ["logpmf", "pmf", "cdf"], ss.poisson, lambda: ((ints(20), pos(0.1, 12)), None)),
]


@pytest.mark.parametrize("module,names,dist,gen", CASES,
                         ids=[f"{c[0]}-{c[1][0]}" for c in CASES])
def test_values_against_scipy(module, names, dist, gen):
    args, _ = gen()
    mod = getattr(stats, module)
    for name in names:
        got = getattr(mod, name)(*args)
        with np.errstate(all="ignore"):
            want = getattr(dist, name)(*args)
        finite = np.isfinite(want)
        np.testing.assert_allclose(got[finite], want[finite], rtol=1e-8, atol=1e-12,
                                   err_msg=f"{module}.{name}")
        np.testing.assert_array_equal(got[~finite], want[~finite], err_msg=f"{module}.{name}")
        got32 = getattr(mod, name)(*(a.astype(np.float32) for a in args))
        assert got32.dtype == np.float32, f"{module}.{name}"


def test_poisson_entropy():
    mu = np.array([0.1, 1.0, 7.5, 40.0, 99.0, 101.0, 2000.0])
    np.testing.assert_allclose(stats.poisson.entropy(mu), ss.poisson.entropy(mu), rtol=1e-6)


def test_tails_stay_accurate():
    x = np.array([-40.0, -10.0, 10.0, 40.0])
    np.testing.assert_allclose(stats.norm.logcdf(x), ss.norm.logcdf(x), rtol=1e-10)
    np.testing.assert_allclose(stats.norm.logsf(x), ss.norm.logsf(x), rtol=1e-10)
    np.testing.assert_allclose(stats.truncnorm.logpdf(np.float64(31.0), 30.0, 32.0),
                               ss.truncnorm.logpdf(31.0, 30.0, 32.0), rtol=1e-8)
    np.testing.assert_allclose(stats.gamma.sf(np.float64(200.0), 2.0), ss.gamma.sf(200.0, 2.0), rtol=1e-10)


def test_multivariate():
    a = RNG.normal(size=(3, 3))
    cov, mean = a @ a.T + np.eye(3), RNG.normal(size=3)
    x = RNG.normal(size=(5, 3))
    np.testing.assert_allclose(stats.multivariate_normal.logpdf(x, mean, cov),
                               ss.multivariate_normal.logpdf(x, mean, cov), rtol=1e-10)
    np.testing.assert_allclose(stats.multivariate_normal.pdf(x, mean, 2.0),
                               ss.multivariate_normal.pdf(x, mean, 2.0 * np.eye(3)), rtol=1e-10)
    np.testing.assert_allclose(stats.multivariate_normal.logpdf(x[:, 0], 0.5, 2.0),
                               ss.norm.logpdf(x[:, 0], 0.5, math.sqrt(2.0)), rtol=1e-10)
    with pytest.raises(fnad.ShapeError, match="cov must be"):
        stats.multivariate_normal.logpdf(x, mean, np.eye(2))
    alpha = np.array([0.5, 2.0, 3.0])
    xs = RNG.dirichlet(alpha, 4).T
    np.testing.assert_allclose(stats.dirichlet.logpdf(xs, alpha),
                               [ss.dirichlet.logpdf(c, alpha) for c in xs.T], rtol=1e-10)
    np.testing.assert_allclose(stats.dirichlet.logpdf(xs[:2], alpha),
                               [ss.dirichlet.logpdf(c, alpha) for c in xs.T], rtol=1e-6)
    assert stats.dirichlet.logpdf(np.array([0.5, 0.6, 0.1]), alpha) == -np.inf
    counts, p = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 6.0]]), np.array([0.2, 0.3, 0.5])
    np.testing.assert_allclose(stats.multinomial.logpmf(counts, 6, p),
                               ss.multinomial.logpmf(counts, 6, p), rtol=1e-12)
    assert stats.multinomial.logpmf(counts, 5, p)[0] == -np.inf


GRADS = [
    ("norm.logpdf", lambda x, m, s: stats.norm.logpdf(x, m, s), (real(), real(1), pos())),
    ("norm.logcdf", lambda x, m, s: stats.norm.logcdf(x, m, s), (real(), real(1), pos())),
    ("t.logpdf", lambda x, df: stats.t.logpdf(x, df), (real(), pos(1, 9))),
    ("beta.logpdf", lambda x, a, b: stats.beta.logpdf(x, a, b), (unit(), pos(), pos())),
    ("gamma.logpdf", lambda x, a, s: stats.gamma.logpdf(x, a, 0, s), (pos(), pos(), pos())),
    ("gamma.cdf", lambda x, a: stats.gamma.cdf(x, a), (pos(), pos(0.5, 5))),
    ("chi2.logpdf", lambda x, df: stats.chi2.logpdf(x, df), (pos(), pos(1, 6))),
    ("expon.logsf", lambda x, s: stats.expon.logsf(x, 0, s), (pos(), pos())),
    ("laplace.logpdf", lambda x, s: stats.laplace.logpdf(x, 0.1, s), (pos(0.5, 3), pos())),
    ("logistic.logpdf", lambda x, s: stats.logistic.logpdf(x, 0, s), (real(), pos())),
    ("cauchy.logpdf", lambda x, s: stats.cauchy.logpdf(x, 0, s), (real(), pos())),
    ("pareto.logpdf", lambda x, b: stats.pareto.logpdf(x, b), (pos(1.1, 5), pos())),
    ("gennorm.logpdf", lambda x, b: stats.gennorm.logpdf(x, b), (pos(0.1, 2), pos(1, 3))),
    ("gumbel_r.logcdf", lambda x, s: stats.gumbel_r.logcdf(x, 0, s), (real(), pos())),
    ("truncnorm.logpdf", lambda x, a, b: stats.truncnorm.logpdf(x, a, b),
     (RNG.uniform(-0.5, 0.5, N), RNG.uniform(-3, -1, N), RNG.uniform(1, 3, N))),
    ("vonmises.logpdf", lambda x, k: stats.vonmises.logpdf(x, k), (real(1), pos(0.5, 30))),
    ("wrapcauchy.logpdf", lambda x, c: stats.wrapcauchy.logpdf(x, c),
     (RNG.uniform(0.5, 5, N), RNG.uniform(0.1, 0.9, N))),
    ("poisson.logpmf", lambda mu: stats.poisson.logpmf(3.0, mu), (pos(),)),
    ("binom.logpmf", lambda p: stats.binom.logpmf(3.0, 9.0, p), (unit(),)),
    ("betabinom.logpmf", lambda a, b: stats.betabinom.logpmf(3.0, 9.0, a, b), (pos(), pos())),
    ("nbinom.logpmf", lambda n, p: stats.nbinom.logpmf(3.0, n, p), (pos(), unit())),
    ("multivariate_normal.logpdf",
     lambda m, c: stats.multivariate_normal.logpdf(np.ones(2), m, c @ c.T + np.eye(2)),
     (RNG.normal(size=2), RNG.normal(size=(2, 2)))),
    ("dirichlet.logpdf", lambda a: stats.dirichlet.logpdf(np.array([0.2, 0.3, 0.5]), a),
     (pos(0.5, 3)[:3],)),
]


@pytest.mark.parametrize("name,fn,args", GRADS, ids=[g[0] for g in GRADS])
def test_gradients_in_parameters(name, fn, args):
    args = tuple(a[:4] if a.ndim == 1 and a.size == N else a for a in args)
    order = 1 if name == "gamma.cdf" else 2
    check_grads(fn, args, order=order, eps=1e-6 if order == 1 else 1e-5, rtol=1e-3)


def test_jit_and_vmap_agree_with_eager():
    x, a = pos()[:6].reshape(2, 3), pos()[:6].reshape(2, 3)
    f = lambda x, a: stats.gamma.logpdf(x, a) + stats.beta.cdf(x / 10, a, 2.0)  # noqa: E731
    np.testing.assert_allclose(fnad.jit(f)(x, a), f(x, a), rtol=1e-12)
    check_vmap(f, (x, a))


def test_mode_rankdata_sem():
    a = RNG.integers(0, 5, (6, 7)).astype(float)
    for axis in (0, 1, None):
        got, want = stats.mode(a, axis=axis), ss.mode(a, axis=axis)
        np.testing.assert_array_equal(got.mode, want.mode)
        np.testing.assert_array_equal(got.count, want.count)
    assert stats.mode(a, axis=1, keepdims=True).mode.shape == (6, 1)
    for method in ("average", "min", "max", "dense", "ordinal"):
        np.testing.assert_array_equal(stats.rankdata(a, method), ss.rankdata(a, method))
        np.testing.assert_array_equal(stats.rankdata(a, method, axis=1),
                                      ss.rankdata(a, method, axis=1))
    with pytest.raises(ValueError, match="unknown method"):
        stats.rankdata(a, "bogus")
    np.testing.assert_allclose(stats.sem(a), ss.sem(a), rtol=1e-12)
    np.testing.assert_allclose(stats.sem(a, axis=None, ddof=0),
                               ss.sem(a, axis=None, ddof=0), rtol=1e-12)


def test_gaussian_kde():
    data = RNG.normal(size=(2, 40))
    w = RNG.uniform(0.5, 2, 40)
    pts = RNG.normal(size=(2, 7))
    for bw in (None, "silverman", 0.4):
        ours, ref = stats.gaussian_kde(data, bw, w), ss.gaussian_kde(data, bw, w)
        np.testing.assert_allclose(ours.covariance, ref.covariance, rtol=1e-10)
        np.testing.assert_allclose(ours.inv_cov, ref.inv_cov, rtol=1e-8)
        np.testing.assert_allclose(ours(pts), ref(pts), rtol=1e-10)
        np.testing.assert_allclose(ours.logpdf(pts), ref.logpdf(pts), rtol=1e-10)
        np.testing.assert_allclose(ours.integrate_gaussian(np.zeros(2), np.eye(2)),
                                   ref.integrate_gaussian(np.zeros(2), np.eye(2)), rtol=1e-10)
    other = ss.gaussian_kde(data[:, :10])
    np.testing.assert_allclose(stats.gaussian_kde(data).integrate_kde(
        stats.gaussian_kde(data[:, :10])), ss.gaussian_kde(data).integrate_kde(other),
        rtol=1e-10)
    one = RNG.normal(size=30)
    np.testing.assert_allclose(stats.gaussian_kde(one).integrate_box_1d(-0.5, 1.0),
                               ss.gaussian_kde(one).integrate_box_1d(-0.5, 1.0), rtol=1e-10)
    draws = stats.gaussian_kde(one).resample(fnad.random.key(0), (500,))
    assert draws.shape == (1, 500) and np.isfinite(draws).all()
    assert abs(draws.mean() - one.mean()) < 0.2


def test_module_doctests():
    mods = [stats._core, stats._kde] + [getattr(stats, m.name) for m in
                                        pkgutil.iter_modules(stats.__path__)
                                        if not m.name.startswith("_")]
    attempted = 0
    for mod in mods:
        result = doctest.testmod(mod, extraglobs={"np": np, "math": math})
        assert result.failed == 0, mod.__name__
        attempted += result.attempted
    assert attempted >= 28


def test_dirichlet_rvs_draws_as_scipy_does():
    dirichlet = stats.dirichlet
    alpha = np.array([1.2, 2.0, 3.0])
    np.random.seed(3)
    ours = dirichlet.rvs(alpha, size=2)
    np.random.seed(3)
    np.testing.assert_array_equal(ours, ss.dirichlet.rvs(alpha, size=2))
    np.testing.assert_array_equal(dirichlet.rvs(alpha, random_state=5),
                                  ss.dirichlet.rvs(alpha, random_state=5))
    draws = dirichlet.rvs(alpha, 4, np.random.default_rng(1))
    np.testing.assert_array_equal(draws, ss.dirichlet.rvs(alpha, 4,
                                                                   np.random.default_rng(1)))


def test_multivariate_normal_takes_scipys_allow_singular_and_has_entropy():
    mvn = stats.multivariate_normal
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 4))
    cov, mean, x = a @ a.T + np.eye(4), rng.standard_normal(4), rng.standard_normal(4)
    np.testing.assert_allclose(mvn.pdf(x, mean, cov, allow_singular=False),
                               ss.multivariate_normal.pdf(x, mean, cov), rtol=1e-12)
    with pytest.raises(NotImplementedError, match="allow_singular"):
        mvn.logpdf(x, mean, cov, allow_singular=True)
    np.testing.assert_allclose(mvn.entropy(mean, cov), ss.multivariate_normal.entropy(mean, cov),
                               rtol=1e-12)
    np.testing.assert_allclose(mvn.entropy(np.zeros(3), np.float64(2.0)),
                               ss.multivariate_normal(np.zeros(3), 2.0).entropy(), rtol=1e-12)
    check_grads(lambda c: mvn.entropy(mean, (c + c.T) / 2), (cov,), order=2)


def test_t_cdf_logcdf_sf_are_scipys():
    rng = np.random.default_rng(0)
    x, loc = 3 * rng.standard_normal(6), rng.standard_normal(6)
    df, scale = rng.standard_normal(6) ** 2 + 2.1, rng.standard_normal(6) ** 2 + 0.5
    for name in ("cdf", "logcdf", "sf"):
        np.testing.assert_allclose(getattr(stats.t, name)(x, df, loc, scale),
                                   getattr(ss.t, name)(x, df, loc, scale), rtol=1e-10)
    np.testing.assert_allclose(stats.t.logcdf(np.float64(-1e4), np.float64(3.0)),
                               ss.t.logcdf(-1e4, 3.0), rtol=1e-12)
    check_grads(lambda a, b, c: stats.t.cdf(a, df, b, c), (x, loc, scale), order=2)
    check_grads(lambda a: stats.t.logcdf(a, df), (x,), order=1)


def test_integer_data_with_python_float_parameters_is_float32():
    """A Python float meets integer data weakly, as in JAX: norm.logpdf(int32, 1.0, 2.0) is
    float32 (it was NumPy's float64); float64 data stays float64."""
    k = np.array([1, 2, 3], np.int32)
    for fn, ref in ((stats.norm.logpdf, ss.norm.logpdf), (stats.expon.cdf, ss.expon.cdf),
                    (stats.logistic.sf, ss.logistic.sf), (stats.uniform.pdf, ss.uniform.pdf)):
        out = fn(k, 1.0, 2.0)
        assert out.dtype == np.float32, fn
        np.testing.assert_allclose(out, ref(k, 1.0, 2.0), rtol=1e-6)
        assert fn(k.astype(np.float64), 1.0, 2.0).dtype == np.float64
    out = stats.poisson.logpmf(k, 2.0)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, ss.poisson.logpmf(k, 2.0), rtol=1e-6)
    assert fnad.jit(lambda x, loc: stats.norm.logpdf(x, loc))(k, 1.0).dtype == np.float32


def test_gamma_logpdf_derivatives_ignore_points_below_loc():
    """A point below loc has logpdf -inf, a constant: it must not turn the derivatives in
    the shape and loc into NaN (it did, through log of a negative z)."""
    x = np.array([0.3, 1.2, 2.5])
    g = fnad.grad(lambda a: stats.gamma.logpdf(x, a, 1.0, 2.0).sum())(0.5)
    g_in = fnad.grad(lambda a: stats.gamma.logpdf(x[1:], a, 1.0, 2.0).sum())(0.5)
    assert np.isfinite(g) and g == g_in
    np.testing.assert_allclose(stats.gamma.logpdf(x, 0.5, 1.0, 2.0),
                               ss.gamma.logpdf(x, 0.5, 1.0, 2.0), rtol=1e-12)
    check_grads(lambda a, loc: stats.gamma.logpdf(x[1:], a, loc, 2.0),
                (np.float64(0.7), np.float64(0.5)), order=1)
