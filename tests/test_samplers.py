"""The samplers of fnad.random beyond uniform and normal (fnad/_samplers.py): pure functions
of the key under every transform, moments (fast), finite for extreme valid parameters,
pathwise and implicit-reparameterization gradients, and Kolmogorov-Smirnov / chi-square
tests against SciPy's distributions with fixed keys (slow)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats as ss

import fnad
from fnad import random
from fnad.test_util import check_grads, check_transforms, check_vmap

K = random.key(3)

SAMPLERS = {
    "ball": lambda k: random.ball(k, 3, 1.5, (4,)),
    "beta": lambda k: random.beta(k, 0.7, np.array([0.5, 2.0, 9.0])),
    "binomial": lambda k: random.binomial(k, np.array([5.0, 40.0, 300.0]), 0.3),
    "cauchy": lambda k: random.cauchy(k, (5,)),
    "chisquare": lambda k: random.chisquare(k, 3.0, (4,)),
    "dirichlet": lambda k: random.dirichlet(k, np.array([0.3, 1.0, 4.0]), (2,)),
    "double_sided_maxwell": lambda k: random.double_sided_maxwell(k, 1.0, 2.0, (3,)),
    "exponential": lambda k: random.exponential(k, (5,)),
    "f": lambda k: random.f(k, 3.0, 7.0, (4,)),
    "gamma": lambda k: random.gamma(k, np.array([0.01, 0.5, 3.0, 1e4])),
    "generalized_normal": lambda k: random.generalized_normal(k, 1.5, (4,)),
    "geometric": lambda k: random.geometric(k, 0.3, (5,)),
    "laplace": lambda k: random.laplace(k, (5,)),
    "loggamma": lambda k: random.loggamma(k, np.array([1e-3, 0.5, 30.0])),
    "logistic": lambda k: random.logistic(k, (5,)),
    "lognormal": lambda k: random.lognormal(k, 0.5, (4,)),
    "maxwell": lambda k: random.maxwell(k, (4,)),
    "multinomial": lambda k: random.multinomial(k, 20.0, np.array([0.2, 0.3, 0.5]),
                                                shape=(2, 3)),
    "multivariate_normal": lambda k: random.multivariate_normal(
        k, np.zeros(2, np.float32), np.array([[2.0, 0.5], [0.5, 1.0]], np.float32), (3,)),
    "orthogonal": lambda k: random.orthogonal(k, 3),
    "pareto": lambda k: random.pareto(k, 2.0, (4,)),
    "poisson": lambda k: random.poisson(k, np.array([0.5, 7.0, 900.0])),
    "rademacher": lambda k: random.rademacher(k, (6,)),
    "rayleigh": lambda k: random.rayleigh(k, 2.0, (4,)),
    "t": lambda k: random.t(k, 4.0, (4,)),
    "triangular": lambda k: random.triangular(k, 0.0, 1.0, 3.0, (4,)),
    "wald": lambda k: random.wald(k, np.array([0.5, 2.0, 30.0])),
    "weibull_min": lambda k: random.weibull_min(k, 2.0, 1.5, (4,)),
}


def test_every_jax_random_name_is_here():
    import json
    import pathlib
    names = json.loads((pathlib.Path(__file__).parent / "data" / "jax_names.json").read_text())
    section = names["modules"]["jax.random -> fnad.random"]
    assert [n for n in section if not hasattr(random, n)] == []


@pytest.mark.parametrize("name", SAMPLERS)
def test_pure_function_of_the_key_under_transforms(name):
    sample = SAMPLERS[name]
    keys = random.split(random.key(7), 3)
    first = sample(keys[0])
    np.testing.assert_array_equal(sample(keys[0]), first)
    assert not np.array_equal(sample(keys[1]), first)
    check_transforms(sample, (keys[0],), rtol=1e-5, atol=1e-6)
    check_vmap(sample, (keys,), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", SAMPLERS)
def test_finite_and_default_dtypes(name):
    out = np.asarray(SAMPLERS[name](K))
    if name in ("geometric", "poisson", "rademacher"):
        assert out.dtype == np.int32
    else:
        assert out.dtype == np.float32
        assert np.isfinite(out).all()


def test_extreme_valid_parameters_never_give_nan_or_inf_in_float32():
    tiny = np.array([1e-4, 1e-3, 0.02, 0.1], np.float32)
    for draw in (random.gamma(K, tiny, (256, 4)), random.loggamma(K, tiny, (256, 4)),
                 random.beta(K, tiny, tiny[::-1], (256, 4)),
                 random.dirichlet(K, tiny, (256,)), random.chisquare(K, tiny, (256, 4)),
                 random.gamma(K, np.float32(1e7), (256,)),
                 random.beta(K, np.float32(1e6), np.float32(1e-3), (256,)),
                 random.poisson(K, np.float32(1e8), (64,)),
                 random.binomial(K, np.float32(1e7), np.float32(0.999), (64,)),
                 random.wald(K, np.float32(1e6), (256,))):
        assert np.isfinite(draw).all()
    assert np.isfinite(random.loggamma(K, tiny, (256, 4))).all()  # even where gamma is 0
    d = random.dirichlet(K, tiny, (256,))
    np.testing.assert_allclose(d.sum(-1), 1, rtol=1e-5)


def test_jax_defaults_dtype_none_and_method():
    assert random.gamma(K, 2.0, (3,), None).dtype == np.float32
    assert random.rademacher(K, (3,), None).dtype == np.int32
    assert random.poisson(K, 2.0, (3,), None).dtype == np.int32
    np.testing.assert_array_equal(random.beta(K, 1.0, 2.0, (3,), method="auto"),
                                  random.beta(K, 1.0, 2.0, (3,)))
    with pytest.raises(ValueError, match="method"):
        random.gamma(K, 1.0, method="bogus")


def test_shapes_and_parameter_broadcasting():
    assert random.gamma(K, np.ones((2, 1)), (3, 2, 4)).shape == (3, 2, 4)
    assert random.beta(K, np.ones(3), 2.0).shape == (3,)
    assert random.dirichlet(K, np.ones((2, 4))).shape == (2, 4)
    assert random.multinomial(K, np.array([3.0, 5.0]), np.full((2, 3), 1 / 3)).shape == (2, 3)
    assert random.double_sided_maxwell(K, np.zeros(2), 1.0, (3,)).shape == (3, 2)
    assert random.orthogonal(K, 4, (2,), m=2).shape == (2, 4, 2)
    assert random.orthogonal(K, 2, m=5).shape == (2, 5)
    assert random.ball(K, 5, shape=(3,)).shape == (3, 5)
    with pytest.raises(fnad.ShapeError, match="gamma.*does not broadcast"):
        random.gamma(K, np.ones(3), (4,))
    with pytest.raises(fnad.DTypeError, match="poisson draws integers"):
        random.poisson(K, 2.0, (3,), np.float32)


def _mean_var(x):
    x = np.asarray(x, np.float64)
    return x.mean(), x.var()


# (draw of n samples, exact mean, exact variance)
N = 40_000
MOMENTS = {
    "exponential": (lambda k: random.exponential(k, (N,)), 1.0, 1.0),
    "laplace": (lambda k: random.laplace(k, (N,)), 0.0, 2.0),
    "logistic": (lambda k: random.logistic(k, (N,)), 0.0, math.pi ** 2 / 3),
    "lognormal": (lambda k: random.lognormal(k, 0.5, (N,)), math.exp(0.125),
                  (math.exp(0.25) - 1) * math.exp(0.25)),
    "rayleigh": (lambda k: random.rayleigh(k, 2.0, (N,)), 2 * math.sqrt(math.pi / 2),
                 (4 - math.pi) / 2 * 4),
    "pareto": (lambda k: random.pareto(k, 5.0, (N,)), 5 / 4, 5 / (16 * 3)),
    "weibull_min": (lambda k: random.weibull_min(k, 2.0, 1.5, (N,)), 2 * math.gamma(1 + 1 / 1.5),
                    4 * (math.gamma(1 + 2 / 1.5) - math.gamma(1 + 1 / 1.5) ** 2)),
    "triangular": (lambda k: random.triangular(k, 0.0, 1.0, 3.0, (N,)), 4 / 3, (9 + 1 - 3) / 18),
    "wald": (lambda k: random.wald(k, 2.0, (N,)), 2.0, 8.0),
    "maxwell": (lambda k: random.maxwell(k, (N,)), 2 * math.sqrt(2 / math.pi),
                3 - 8 / math.pi),
    "double_sided_maxwell": (lambda k: random.double_sided_maxwell(k, 1.0, 2.0, (N,)), 1.0, 12.0),
    "gamma_small": (lambda k: random.gamma(k, 0.3, (N,)), 0.3, 0.3),
    "gamma": (lambda k: random.gamma(k, 4.5, (N,)), 4.5, 4.5),
    "chisquare": (lambda k: random.chisquare(k, 3.0, (N,)), 3.0, 6.0),
    "f": (lambda k: random.f(k, 6.0, 12.0, (N,)), 1.2, 2 * 144 * 16 / (6 * 100 * 8)),
    "t": (lambda k: random.t(k, 6.0, (N,)), 0.0, 1.5),
    "beta": (lambda k: random.beta(k, 2.0, 5.0, (N,)), 2 / 7, 10 / (49 * 8)),
    "generalized_normal": (lambda k: random.generalized_normal(k, 1.5, (N,)), 0.0,
                           math.gamma(3 / 1.5) / math.gamma(1 / 1.5)),
    "geometric": (lambda k: random.geometric(k, 0.3, (N,)), 1 / 0.3, 0.7 / 0.09),
    "poisson": (lambda k: random.poisson(k, 4.0, (N,)), 4.0, 4.0),
    "poisson_large": (lambda k: random.poisson(k, 400.0, (N,)), 400.0, 400.0),
    "binomial": (lambda k: random.binomial(k, 30.0, 0.2, (N,)), 6.0, 4.8),
    "rademacher": (lambda k: random.rademacher(k, (N,)), 0.0, 1.0),
}


@pytest.mark.parametrize("name", MOMENTS)
def test_moments(name):
    draw, mean, var = MOMENTS[name]
    m, v = _mean_var(draw(random.key(11)))
    assert abs(m - mean) < 5 * math.sqrt(var / N), (m, mean)
    assert abs(v - var) < 0.1 * var, (v, var)


def test_multivariate_moments():
    cov = np.array([[2.0, 0.6, 0.0], [0.6, 1.0, -0.3], [0.0, -0.3, 0.5]])
    mean = np.array([1.0, -2.0, 0.5])
    x = random.multivariate_normal(random.key(2), mean, cov, (N,))
    np.testing.assert_allclose(x.mean(0), mean, atol=5 * math.sqrt(2.0 / N))
    np.testing.assert_allclose(np.cov(x.T), cov, atol=0.05)
    alpha = np.array([0.5, 1.5, 3.0])
    d = random.dirichlet(random.key(3), alpha, (N,))
    np.testing.assert_allclose(d.mean(0), alpha / alpha.sum(), atol=0.01)
    p = np.array([0.1, 0.6, 0.3])
    c = random.multinomial(random.key(4), 10.0, p, shape=(N, 3))  # JAX's: the whole shape
    np.testing.assert_array_equal(c.sum(-1), 10)
    np.testing.assert_allclose(c.mean(0), 10 * p, atol=0.05)
    with pytest.raises(fnad.ShapeError, match="categories last"):
        random.multinomial(random.key(4), 10.0, p, shape=(N,))
    for method in ("eigh", "svd"):  # JAX's other factorizations of cov
        x = random.multivariate_normal(random.key(2), mean, cov, (N,), method=method)
        np.testing.assert_allclose(x.mean(0), mean, atol=5 * math.sqrt(2.0 / N))
        np.testing.assert_allclose(np.cov(x.T), cov, atol=0.05)
    b = random.ball(random.key(5), 2, 2, (N,))
    r = np.linalg.norm(b, axis=-1)
    assert r.max() <= 1 and abs((r < 0.5).mean() - 0.25) < 0.02  # uniform in the disk
    q = random.orthogonal(random.key(6), 4, (50,), np.float64)
    np.testing.assert_allclose(q @ np.swapaxes(q, -1, -2), np.broadcast_to(np.eye(4), q.shape),
                               atol=1e-12)


# pathwise derivatives at a fixed key: these samplers are smooth functions of their parameters
# (transforms of fixed uniforms), so finite differences of the draws check them exactly. The
# gamma family draws by JAX's rejection loop, whose derivative is JAX's implicit one (below).
PATHWISE = {
    "lognormal": (lambda s: random.lognormal(K, s, (4,), np.float64), (np.float64(0.7),)),
    "rayleigh": (lambda s: random.rayleigh(K, s, (4,), np.float64), (np.float64(2.0),)),
    "pareto": (lambda b: random.pareto(K, b, (4,), np.float64), (np.float64(2.0),)),
    "weibull_min": (lambda s, c: random.weibull_min(K, s, c, (4,), np.float64),
                    (np.float64(2.0), np.float64(1.5))),
    "triangular": (lambda lo, m, hi: random.triangular(K, lo, m, hi, (4,), np.float64),
                   (np.float64(0.0), np.float64(1.0), np.float64(3.0))),
    "multivariate_normal": (lambda m, c: random.multivariate_normal(
        K, m, c @ c.T + np.eye(2), (3,), np.float64), (np.zeros(2), np.eye(2) * 0.5)),
}


@pytest.mark.parametrize("name", PATHWISE)
def test_pathwise_gradients(name):
    fn, args = PATHWISE[name]
    check_grads(fn, args, order=1, eps=1e-6, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("a", [0.05, 0.7, 2.3, 300.0])
def test_implicit_gradient_is_jax_random_gamma_grad(a):
    a = np.float64(a)
    x = random.gamma(K, a, (6,), np.float64)
    _, tangent = fnad.jvp(lambda a: random.gamma(K, a, (6,), np.float64), (a,), (1.0,))
    np.testing.assert_allclose(tangent, fnad.lax.random_gamma_grad(np.full(6, a), x), rtol=1e-8)
    logx, tangent = fnad.jvp(lambda a: random.loggamma(K, a, (6,), np.float64), (a,), (1.0,))
    x = np.maximum(np.exp(logx), np.finfo(np.float64).tiny)
    np.testing.assert_allclose(tangent, fnad.lax.random_gamma_grad(np.full(6, a), x) / x,
                               rtol=1e-8)


def test_gradients_of_means_match_the_known_mean():
    """d/da E[Gamma(a)] = 1, d/da E[Beta(a, b)] = b / (a + b)^2, d/dalpha_0 of the Dirichlet
    mean alpha_0 / sum(alpha); each estimated from 20000 draws at a fixed key."""
    n = 20_000
    g = fnad.grad(lambda a: random.gamma(K, a, (n,), np.float64).mean())(np.float64(1.7))
    assert abs(g - 1) < 0.03
    g = fnad.grad(lambda a: random.beta(K, a, 3.0, (n,), np.float64).mean())(np.float64(2.0))
    assert abs(g - 3 / 25) < 0.01
    alpha = np.array([1.0, 2.0, 3.0])
    g = fnad.grad(lambda al: random.dirichlet(K, al, (n,), np.float64)[:, 0].mean())(alpha)
    np.testing.assert_allclose(g, [5 / 36, -1 / 36, -1 / 36], atol=0.01)
    g = fnad.grad(lambda s: random.lognormal(K, s, (n,), np.float64).mean())(np.float64(0.5))
    assert abs(g - 0.5 * math.exp(0.125)) < 0.03
    g = fnad.grad(lambda df: random.chisquare(K, df, (n,), np.float64).mean())(np.float64(3.0))
    assert abs(g - 1) < 0.03
    g = fnad.grad(lambda d2: random.f(K, 4.0, d2, (n,), np.float64).mean())(np.float64(12.0))
    assert abs(g + 2 / 100) < 0.005  # d/d(d2) of d2 / (d2 - 2)


def test_jit_of_value_and_grad_through_a_sampler():
    def loss(a):
        return (random.gamma(K, a, (100,), np.float64) ** 2).mean()
    v, g = fnad.jit(fnad.value_and_grad(loss))(np.float64(2.0))
    v0, g0 = fnad.value_and_grad(loss)(np.float64(2.0))
    np.testing.assert_allclose([v, g], [v0, g0], rtol=1e-10)


def test_kde_resample_matches_the_estimate():
    data = np.random.default_rng(0).normal(size=200)
    kde = fnad.scipy.stats.gaussian_kde(data)
    draws = np.asarray(kde.resample(random.key(9), (20_000,)))[0]
    assert abs(draws.mean() - data.mean()) < 0.05
    assert abs(draws.var() - (data.var(ddof=1) + float(kde.covariance[0, 0]))) < 0.1


# ---------------------------------------------------------------- statistical tests (slow)

CONTINUOUS = {
    "gamma_tiny": (lambda k: random.gamma(k, 0.05, (N,), np.float64), ss.gamma(0.05).cdf),
    "gamma": (lambda k: random.gamma(k, 2.5, (N,)), ss.gamma(2.5).cdf),
    "gamma_big": (lambda k: random.gamma(k, 1e4, (N,)), ss.gamma(1e4).cdf),
    "loggamma": (lambda k: random.loggamma(k, 0.01, (N,)),
                 lambda t: ss.gamma(0.01).cdf(np.exp(t))),
    "beta": (lambda k: random.beta(k, 0.5, 3.0, (N,)), ss.beta(0.5, 3.0).cdf),
    "chisquare": (lambda k: random.chisquare(k, 7.0, (N,)), ss.chi2(7.0).cdf),
    "f": (lambda k: random.f(k, 4.0, 9.0, (N,)), ss.f(4.0, 9.0).cdf),
    "t": (lambda k: random.t(k, 2.5, (N,)), ss.t(2.5).cdf),
    "cauchy": (lambda k: random.cauchy(k, (N,)), ss.cauchy.cdf),
    "exponential": (lambda k: random.exponential(k, (N,)), ss.expon.cdf),
    "laplace": (lambda k: random.laplace(k, (N,)), ss.laplace.cdf),
    "logistic": (lambda k: random.logistic(k, (N,)), ss.logistic.cdf),
    "lognormal": (lambda k: random.lognormal(k, 0.8, (N,)), ss.lognorm(0.8).cdf),
    "maxwell": (lambda k: random.maxwell(k, (N,)), ss.maxwell.cdf),
    "double_sided_maxwell": (lambda k: random.double_sided_maxwell(k, 0.0, 1.0, (N,)),
                             lambda x: 0.5 + np.sign(x) * 0.5 * ss.maxwell.cdf(np.abs(x))),
    "pareto": (lambda k: random.pareto(k, 3.0, (N,)), ss.pareto(3.0).cdf),
    "rayleigh": (lambda k: random.rayleigh(k, 1.5, (N,)), ss.rayleigh(scale=1.5).cdf),
    "triangular": (lambda k: random.triangular(k, -1.0, 0.0, 2.0, (N,)),
                   ss.triang(1 / 3, loc=-1, scale=3).cdf),
    "wald": (lambda k: random.wald(k, 1.5, (N,)), ss.invgauss(1.5).cdf),
    "weibull_min": (lambda k: random.weibull_min(k, 1.0, 0.7, (N,)), ss.weibull_min(0.7).cdf),
    "generalized_normal": (lambda k: random.generalized_normal(k, 0.8, (N,)),
                           ss.gennorm(0.8).cdf),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", CONTINUOUS)
def test_kolmogorov_smirnov(name):
    draw, cdf = CONTINUOUS[name]
    result = ss.kstest(np.asarray(draw(random.key(21)), np.float64), cdf)
    assert result.pvalue > 1e-4, result


DISCRETE = {
    "poisson": (lambda k: random.poisson(k, 3.5, (N,)), ss.poisson(3.5).pmf),
    "poisson_large": (lambda k: random.poisson(k, 2500.0, (N,)), ss.poisson(2500.0).pmf),
    "binomial": (lambda k: random.binomial(k, 25.0, 0.35, (N,)), ss.binom(25, 0.35).pmf),
    "geometric": (lambda k: random.geometric(k, 0.2, (N,)), ss.geom(0.2).pmf),
    "multinomial_first": (lambda k: random.multinomial(k, 12.0, np.array([0.3, 0.3, 0.4]),
                                                       shape=(N, 3))[:, 0],
                          ss.binom(12, 0.3).pmf),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", DISCRETE)
def test_chi_square(name):
    draw, pmf = DISCRETE[name]
    k = np.asarray(draw(random.key(22))).astype(np.int64)
    values, counts = np.unique(k, return_counts=True)
    expected = N * pmf(values)
    keep = expected >= 5
    observed = np.append(counts[keep], counts[~keep].sum())
    expected = np.append(expected[keep], N - expected[keep].sum())
    result = ss.chisquare(observed, expected)
    assert result.pvalue > 1e-4, result


def test_extreme_parameters_give_answers_without_numpy_warnings():
    # eager draws run NumPy's arithmetic: degenerate or infinite parameters answer inf or
    # NaN silently, as JAX's
    with np.errstate(all="raise"):
        random.beta(K, np.array([0.0, 1e-30, np.inf]), np.array([1.0, 1e-30, 1.0]))
        random.geometric(K, np.array([0.0, 1.0, 0.5]))
        random.f(K, np.array([0.0, 1.0]), np.array([1.0, 0.0]))
        random.t(K, np.array([0.0, np.inf]))
        random.wald(K, np.array([0.0, np.inf, 1e30]))
        random.triangular(K, 0.0, 0.0, 0.0, (3,))


def test_poisson_eager_draws_of_one_regime_are_the_traced_ones():
    # eagerly, all-small or all-large rates run only their own loop: the same counts
    for lam in (np.full(6, 3.0, np.float32), np.full(6, 30.0, np.float32)):
        np.testing.assert_array_equal(random.poisson(K, lam), fnad.jit(random.poisson)(K, lam))
