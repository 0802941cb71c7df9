"""The multivariate normal distribution (JAX's `jax.scipy.stats.multivariate_normal`),
through a Cholesky factor written with fnad.numpy (differentiable in mean and cov)."""

from __future__ import annotations

import math
from typing import Any

from fnad.core.errors import ShapeError
from fnad.scipy.stats._common import fnp, promote_inexact, quiet_all


def _cholesky(a: Any) -> Any:
    """The lower Cholesky factor of the last two axes (column by column)."""
    n = a.shape[-1]
    rows = fnp.arange(n)
    cols: list[Any] = []
    for j in range(n):
        v = a[..., :, j]
        for c in cols:
            v = v - c * c[..., j:j + 1]
        v = fnp.where(rows >= j, v, 0.0)
        cols.append(v / fnp.sqrt(v[..., j:j + 1]))
    return fnp.stack(cols, axis=-1)


def _solve_lower(lower: Any, b: Any) -> Any:
    """y with lower @ y = b (forward substitution over the last axis)."""
    ys: list[Any] = []
    for i in range(b.shape[-1]):
        acc = b[..., i]
        if ys:
            acc = acc - fnp.sum(lower[..., i, :i] * fnp.stack(ys, axis=-1), axis=-1)
        ys.append(acc / lower[..., i, i])
    return fnp.stack(ys, axis=-1)


def logpdf(x: Any, mean: Any, cov: Any, allow_singular: bool | None = None) -> Any:
    """log of the N(mean, cov) density; `x` and `mean` have the dimension on the last axis,
    `cov` is (n, n) (or a scalar: cov times the identity). `allow_singular=False` is
    SciPy's default; a singular `cov` (`allow_singular=True`) is not offered.

    >>> round(float(logpdf(np.zeros(2), np.zeros(2), np.eye(2))), 6)  # -log(2 pi)
    -1.837877
    """
    if allow_singular:
        raise NotImplementedError("multivariate_normal: allow_singular=True (a singular "
                                  "cov) is not supported, as in JAX; restrict x and mean to "
                                  "the subspace where cov is nonsingular")
    x, mean, cov = (fnp.asarray(v) for v in promote_inexact(x, mean, cov, broadcast=False))
    if mean.ndim == 0:
        return -0.5 * (x - mean) ** 2 / cov - 0.5 * (math.log(2 * math.pi) + fnp.log(cov))
    n = mean.shape[-1]
    y = x - mean
    if cov.ndim == 0:
        return (-0.5 * fnp.sum(y * y, axis=-1) / cov
                - n / 2 * (math.log(2 * math.pi) + fnp.log(cov)))
    if cov.ndim < 2 or cov.shape[-2:] != (n, n):
        raise ShapeError(f"multivariate_normal.logpdf: cov must be ({n}, {n}) for a mean of "
                         f"{n} dimensions, got {cov.shape}")
    lower = _cholesky(cov)
    z = _solve_lower(lower, y)
    log_det = fnp.sum(fnp.log(fnp.diagonal(lower, axis1=-2, axis2=-1)), axis=-1)
    return -0.5 * fnp.sum(z * z, axis=-1) - n / 2 * math.log(2 * math.pi) - log_det


def pdf(x: Any, mean: Any, cov: Any, allow_singular: bool | None = None) -> Any:
    """The N(mean, cov) density."""
    return fnp.exp(logpdf(x, mean, cov, allow_singular))


def entropy(mean: Any = None, cov: Any = 1, allow_singular: bool | None = None) -> Any:
    """SciPy's differential entropy of N(mean, cov): (n log(2 pi e) + log det cov) / 2
    (it does not depend on `mean`, which only gives the dimension of a scalar `cov`).

    >>> round(float(entropy(np.zeros(2), np.eye(2))), 6)  # log(2 pi e)
    2.837877
    """
    if allow_singular:
        raise NotImplementedError("multivariate_normal.entropy: allow_singular=True is not "
                                  "supported")
    cov = fnp.asarray(promote_inexact(cov, broadcast=False)[0])
    if cov.ndim == 0:
        n = 1 if mean is None else max(fnp.size(mean), 1)
        return n / 2 * (math.log(2 * math.pi * math.e) + fnp.log(cov))
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1]:
        raise ShapeError(f"multivariate_normal.entropy: cov must be square, got {cov.shape}")
    log_det = fnp.sum(fnp.log(fnp.diagonal(_cholesky(cov))))
    return cov.shape[0] / 2 * math.log(2 * math.pi * math.e) + log_det


__all__ = ["entropy", "logpdf", "pdf"]
quiet_all(globals(), __all__)
