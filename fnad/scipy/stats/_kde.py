"""Gaussian kernel density estimation (JAX's `jax.scipy.stats.gaussian_kde`)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

import fnad.numpy as fnp
from fnad.core.errors import ArgumentError, ShapeError
from fnad.scipy import special
from fnad.scipy.stats.multivariate_normal import _cholesky, _solve_lower


class gaussian_kde:  # noqa: N801  (SciPy's and JAX's name)
    """A kernel density estimate of `dataset` (d, n) (or (n,) for d = 1), with Gaussian
    kernels of covariance factor**2 times the data's weighted covariance; `bw_method` is
    'scott' (default), 'silverman', a number, or a function of the estimate.

    >>> kde = gaussian_kde(np.array([0.0, 1.0, 2.0]), bw_method=1.0)
    >>> round(float(kde.integrate_box_1d(-50.0, 50.0)), 6)
    1.0
    """

    def __init__(self, dataset: Any, bw_method: str | float | Callable[..., Any] | None = None,
                 weights: Any = None) -> None:
        data = fnp.atleast_2d(fnp.asarray(dataset))
        if data.dtype.kind not in "fc":
            data = fnp.asarray(data, np.float32)
        self.dataset = data
        self.d, self.n = data.shape
        if self.n < 2:
            raise ShapeError(f"gaussian_kde: need at least 2 points, got dataset {data.shape}")
        w = fnp.full((self.n,), 1.0 / self.n, data.dtype) if weights is None else \
            fnp.asarray(weights, data.dtype) / fnp.sum(fnp.asarray(weights, data.dtype))
        self.weights = w
        self.neff = 1 / fnp.sum(w * w)
        mean = fnp.sum(data * w, axis=1, keepdims=True)
        centered = data - mean
        data_cov = (centered * w) @ centered.T / (1 - fnp.sum(w * w))
        if bw_method is None or bw_method == "scott":
            factor = self.neff ** (-1.0 / (self.d + 4))
        elif bw_method == "silverman":
            factor = (self.neff * (self.d + 2) / 4.0) ** (-1.0 / (self.d + 4))
        elif callable(bw_method):
            self.covariance = data_cov
            factor = bw_method(self)
        elif np.isscalar(bw_method):
            factor = bw_method
        else:
            raise ArgumentError("gaussian_kde: bw_method must be 'scott', 'silverman', a number "
                             f"or a callable, got {bw_method!r}")
        self.factor = factor
        self.covariance = data_cov * factor ** 2
        rows = _solve_lower(_cholesky(self.covariance), fnp.eye(self.d, dtype=data.dtype))
        self.inv_cov = rows @ rows.T  # rows = L^-T, so this is L^-T L^-1

    def _points(self, points: Any) -> Any:
        p = fnp.asarray(points, self.dataset.dtype)
        p = fnp.reshape(p, (1, -1)) if p.ndim < 2 and self.d == 1 else fnp.atleast_2d(p)
        if p.shape[0] != self.d:
            raise ShapeError(f"gaussian_kde: points have dimension {p.shape[0]}, the data "
                             f"{self.d}")
        return p

    def _log_terms(self, points: Any, cov: Any, data: Any, weights: Any) -> Any:
        """log(w_i N(point_j; data_i, cov)), shape (n, m)."""
        lower = _cholesky(cov)
        diff = data.T[:, None, :] - points.T[None, :, :]  # (n, m, d)
        z = _solve_lower(lower, diff)
        log_det = fnp.sum(fnp.log(fnp.diagonal(lower)))
        return (fnp.log(weights)[:, None] - 0.5 * fnp.sum(z * z, axis=-1)
                - log_det - self.d / 2 * math.log(2 * math.pi))

    def logpdf(self, x: Any) -> Any:
        """log of the estimated density at the points `x` (d, m)."""
        terms = self._log_terms(self._points(x), self.covariance, self.dataset, self.weights)
        return special.logsumexp(terms, axis=0)

    def evaluate(self, points: Any) -> Any:
        """The estimated density at `points` (d, m)."""
        return fnp.exp(self.logpdf(points))

    __call__ = pdf = evaluate

    def integrate_gaussian(self, mean: Any, cov: Any) -> Any:
        """The integral of the estimate times the N(mean, cov) density."""
        mean = fnp.reshape(fnp.asarray(mean, self.dataset.dtype), (self.d, 1))
        cov = fnp.reshape(fnp.asarray(cov, self.dataset.dtype), (self.d, self.d))
        terms = self._log_terms(mean, self.covariance + cov, self.dataset, self.weights)
        return fnp.exp(special.logsumexp(terms))

    def integrate_box_1d(self, low: Any, high: Any) -> Any:
        """The estimate's mass on [low, high] (one-dimensional data only)."""
        if self.d != 1:
            raise ShapeError("gaussian_kde.integrate_box_1d: the data must be 1-dimensional")
        sigma = fnp.sqrt(self.covariance[0, 0])
        x = self.dataset[0]
        mass = special.ndtr((high - x) / sigma) - special.ndtr((low - x) / sigma)
        return fnp.sum(self.weights * mass)

    def integrate_kde(self, other: gaussian_kde) -> Any:
        """The integral of the product of this estimate and `other`."""
        if other.d != self.d:
            raise ShapeError(f"gaussian_kde.integrate_kde: dimensions {self.d} and {other.d}")
        terms = self._log_terms(other.dataset, self.covariance + other.covariance,
                                self.dataset, self.weights)
        return fnp.sum(other.weights * fnp.exp(special.logsumexp(terms, axis=0)))

    def resample(self, key: Any, shape: tuple[int, ...] = ()) -> Any:
        """Draws from the estimate, shape (d, *shape); installed by `fnad.random`, which
        owns the random bits (this layer cannot import it)."""
        raise NotImplementedError("gaussian_kde.resample needs fnad.random: import fnad")
