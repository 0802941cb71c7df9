"""The Dirichlet distribution (JAX's `jax.scipy.stats.dirichlet`): `x` has the categories
on its first axis; with one category fewer than `alpha`, the last is 1 - sum(x)."""

from __future__ import annotations

from typing import Any

from fnad import lax
from fnad.core.errors import ShapeError
from fnad.scipy import special
from fnad.scipy.stats._common import fnp, np, outside, promote_inexact, quiet_all


def logpdf(x: Any, alpha: Any) -> Any:
    """log of prod x_i^(alpha_i - 1) / B(alpha) on the simplex (-inf off it).

    >>> round(float(logpdf(np.array([0.5, 0.5]), np.array([1.0, 1.0]))), 6) + 0.0  # uniform
    0.0
    """
    x, alpha = (fnp.asarray(v) for v in promote_inexact(x, alpha, broadcast=False))
    k = alpha.shape[0] if alpha.ndim else 0
    if alpha.ndim != 1 or x.ndim == 0 or x.shape[0] not in (k, k - 1):
        raise ShapeError(f"dirichlet.logpdf: alpha must be 1-D (K,) and x (K, ...) or "
                         f"(K - 1, ...); got x {x.shape} and alpha {alpha.shape}")
    if x.shape[0] == k - 1:
        x = fnp.concatenate([x, 1 - fnp.sum(x, axis=0, keepdims=True)], axis=0)
    a = fnp.reshape(alpha, (k,) + (1,) * (x.ndim - 1))
    norm = fnp.sum(lax.lgamma(alpha)) - lax.lgamma(fnp.sum(alpha))
    out = fnp.sum(special.xlogy(a - 1, x), axis=0) - norm
    simplex = fnp.all(x > 0, axis=0) & (fnp.abs(fnp.sum(x, axis=0) - 1) < 1e-6)
    return outside(~simplex, -np.inf, out)


def pdf(x: Any, alpha: Any) -> Any:
    """The Dirichlet density."""
    return fnp.exp(logpdf(x, alpha))


def rvs(alpha: Any, size: Any = 1, random_state: Any = None) -> np.ndarray:
    """SciPy's `dirichlet.rvs`: `size` draws (rows) from NumPy's global generator, or from
    `random_state` (a seed, `RandomState` or `Generator`), as SciPy draws them. Concrete
    values only: inside transforms draw with `fnad.random.dirichlet(key, alpha)`.

    >>> rvs(np.array([1.0, 2.0]), size=3, random_state=0).shape
    (3, 2)
    """
    if random_state is None:
        rng = np.random.mtrand._rand
    elif isinstance(random_state, (int, np.integer)):
        rng = np.random.RandomState(random_state)
    else:
        rng = random_state
    return rng.dirichlet(np.asarray(alpha), size)


__all__ = ["logpdf", "pdf", "rvs"]
quiet_all(globals(), __all__)
