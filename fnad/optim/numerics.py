"""Numerical helpers optimizers are written with: moments and their bias correction, norms
that stay differentiable at zero, counters that saturate instead of wrapping, and a few
linear-algebra routines (power iteration, inverse p-th roots, non-negative least squares).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

import fnad.numpy as fnp
from fnad import lax, random as frandom
from fnad.core.ir import get_aval
from fnad.lax.custom import custom_vjp
from fnad.optim.errors import OptimizerArgumentError, OptimizerTypeError
from fnad.tree import tree_leaves, tree_map


def dtype_of(x: Any) -> np.dtype:
    """The dtype of an array, a tracer or a Python scalar (float32 for a Python float)."""
    return get_aval(fnp.asarray(x)).dtype


def cast(x: Any, like: Any) -> Any:
    """`x` as an array of `like`'s dtype."""
    return fnp.asarray(x, dtype_of(like))


def tree_vdot(a: Any, b: Any) -> Any:
    """The inner product of two pytrees, as if each were flattened into one vector, the
    first conjugated (`vdot`'s, as optax's)."""
    return sum((fnp.sum(fnp.conj(x) * y) for x, y in zip(tree_leaves(a), tree_leaves(b))),
               fnp.asarray(0.0, np.float32))


def tree_norm(tree: Any, squared: bool = False) -> Any:
    """The L2 norm of all leaves together (its square with `squared`), real for complex
    leaves too."""
    sq = fnp.real(tree_vdot(tree, tree))
    return sq if squared else fnp.sqrt(sq)


def tree_add_scale(x: Any, scalar: Any, y: Any) -> Any:
    """`x + scalar * y` leaf by leaf, keeping `x`'s dtypes."""
    return tree_map(lambda a, b: a + cast(scalar, a) * b, x, y)


def global_norm(updates: Any) -> Any:
    """The L2 norm of all leaves together, as if concatenated into one vector.

    >>> float(global_norm({"a": np.array([3.0]), "b": np.array([4.0])}))
    5.0
    """
    return tree_norm(updates)


def safe_norm(x: Any, min_norm: Any, ord: Any = None, axis: Any = None,
              keepdims: bool = False) -> Any:
    """`max(norm(x), min_norm)`, with a finite gradient where `x` is zero: below `min_norm`
    the norm is taken of ones instead, so the derivative of `sqrt` never sees 0.

    >>> float(safe_norm(np.zeros(3), 1e-6))
    1e-06
    """
    norm = fnp.linalg.norm(x, ord=ord, axis=axis, keepdims=True)
    small = norm <= min_norm
    x = fnp.where(small, fnp.ones_like(x), x)
    if not keepdims:
        norm = fnp.squeeze(norm, axis=axis) if axis is not None else fnp.reshape(norm, ())
        small = norm <= min_norm
    return fnp.where(small, min_norm, fnp.linalg.norm(x, ord=ord, axis=axis, keepdims=keepdims))


def safe_root_mean_squares(x: Any, min_rms: Any) -> Any:
    """`max(rms(x), min_rms)` with a finite gradient where `x` is zero (as `safe_norm`).

    >>> float(safe_root_mean_squares(np.array([3.0, 4.0]), 1.0)) == math.sqrt(12.5)
    True
    """
    rms = fnp.sqrt(fnp.mean(x * x))
    small = rms <= min_rms
    x = fnp.where(small, fnp.ones_like(x), x)
    return fnp.where(small, min_rms, fnp.sqrt(fnp.mean(x * x)))


def safe_increment(count: Any) -> Any:
    """`count + 1`, staying at the dtype's largest value instead of overflowing.

    >>> int(safe_increment(np.int32(2**31 - 1)))
    2147483647
    """
    count = fnp.asarray(count)
    dtype = dtype_of(count)
    if np.issubdtype(dtype, np.integer):
        top = np.iinfo(dtype).max
    elif np.issubdtype(dtype, np.floating):
        top = np.finfo(dtype).max
    else:
        raise OptimizerTypeError(f"safe_increment: a count must be an integer or float array, got "
                        f"dtype {dtype}")
    top = np.asarray(top, dtype)
    return fnp.where(count < top, count + np.asarray(1, dtype), top)


safe_int32_increment = safe_increment


def update_moment(updates: Any, moments: Any, decay: Any, order: int) -> Any:
    """`(1 - decay) * g**order + decay * m` leaf by leaf: an exponential moving average.

    >>> float(update_moment(np.float32(2), np.float32(1), 0.5, 2))
    2.5
    """
    return tree_map(lambda g, m: (1 - decay) * (g ** order) + decay * m, updates, moments)


def update_moment_per_elem_norm(updates: Any, moments: Any, decay: Any, order: int) -> Any:
    """`(1 - decay) * |g|**order + decay * m` leaf by leaf.

    >>> float(update_moment_per_elem_norm(np.float32(-2), np.float32(0), 0.5, 1))
    1.0
    """
    def power(g: Any) -> Any:
        return g * g if order == 2 else fnp.abs(g) ** order

    return tree_map(lambda g, m: (1 - decay) * power(g) + decay * m, updates, moments)


def update_infinity_moment(updates: Any, moments: Any, decay: Any, eps: Any) -> Any:
    """`max(|g| + eps, decay * m)` leaf by leaf: Adamax's infinity-norm moment.

    >>> float(update_infinity_moment(np.float32(-2), np.float32(3), 0.5, 0.0))
    2.0
    """
    return tree_map(lambda g, m: fnp.maximum(fnp.abs(g) + eps, decay * m), updates, moments)


def bias_correction(moment: Any, decay: Any, count: Any) -> Any:
    """`moment / (1 - decay**count)`: undoes the pull towards the zero a moving average
    starts from. As in optax, the factor is computed in each moment's own dtype (in float32
    `1 - 0.999` keeps only about four digits, which float32 Adam's first steps show).

    >>> round(float(bias_correction(np.float32(0.1), 0.5, 1)), 6)
    0.2
    """
    def one(m: Any) -> Any:
        dtype = dtype_of(m)
        factor = 1 - fnp.power(fnp.asarray(decay, dtype), fnp.asarray(count, dtype))
        return m / factor

    return tree_map(one, moment)


@custom_vjp
def _scale_gradient(inputs: Any, scale: Any) -> Any:
    return inputs


_scale_gradient.defvjp(
    lambda inputs, scale: (inputs, scale),
    lambda scale, g: (tree_map(lambda x: x * scale, g), None))


def scale_gradient(inputs: Any, scale: Any) -> Any:
    """`inputs` unchanged, but their gradient multiplied by `scale` on the way back.

    >>> import fnad
    >>> float(fnad.grad(lambda x: scale_gradient(x, 0.5) ** 2)(3.0))
    3.0
    """
    if isinstance(scale, (int, float)):
        if scale == 1.0:
            return inputs
        if scale == 0.0:
            return tree_map(lax.stop_gradient, inputs)
    return _scale_gradient(inputs, scale)


def _normalized(tree: Any) -> Any:
    n = tree_norm(tree)
    return tree_map(lambda x: x / cast(n, x), tree)


def power_iteration(matrix: Any, *, v0: Any = None, num_iters: int = 100,
                    error_tolerance: float = 1e-6, precision: Any = None, key: Any = None
                    ) -> tuple[Any, Any]:
    """The dominant eigenvalue and its unit eigenvector, by power iteration. `matrix` is a
    square array or a function `v -> matrix @ v` over pytrees (then `v0` is needed).

    >>> ev, _ = power_iteration(np.diag([1.0, 3.0]), v0=np.ones(2))
    >>> round(float(ev), 4)
    3.0
    """
    if callable(matrix):
        if v0 is None:
            raise OptimizerArgumentError("power_iteration: pass v0 when matrix is a function")
        mvp = matrix
    else:
        mvp = lambda v: fnp.matmul(matrix, v)
        if v0 is None:
            key = frandom.key(0) if key is None else key
            v0 = frandom.uniform(key, matrix.shape[-1:], dtype_of(matrix), -1.0, 1.0)
    v0 = _normalized(v0)
    z0 = mvp(v0)

    def keep_going(carry: tuple) -> Any:
        v, z, eig, i = carry
        residual = tree_norm(tree_add_scale(z, -eig, v))
        return fnp.logical_and(~(fnp.abs(residual / eig) < error_tolerance), i < num_iters)

    def body(carry: tuple) -> tuple:
        _, z, _, i = carry
        v = _normalized(z)
        z = mvp(v)
        return v, z, cast(tree_vdot(v, z), eig0), i + 1

    eig0 = fnp.asarray(0.0, dtype_of(tree_leaves(v0)[0]))
    _, z, eig, _ = lax.while_loop(keep_going, body, (v0, z0, eig0, np.int32(0)))
    return eig, _normalized(z)


def matrix_inverse_pth_root(matrix: Any, p: int, num_iters: int = 100,
                            ridge_epsilon: float = 1e-6, error_tolerance: float = 1e-6,
                            precision: Any = None) -> tuple[Any, Any]:
    """`(matrix + ridge)^(-1/p)` for a symmetric positive semi-definite matrix, by the
    coupled Newton iteration Shampoo uses, and the error of its last step. The ridge is
    `ridge_epsilon` times the largest eigenvalue; `p` is 1, 2, 4 or 8.

    >>> m, _ = matrix_inverse_pth_root(np.diag([4.0, 16.0]), 2, ridge_epsilon=0.0)
    >>> np.round(np.diag(m), 3)
    array([0.5 , 0.25])
    """
    if p not in (1, 2, 4, 8):
        raise OptimizerArgumentError(f"matrix_inverse_pth_root: p must be 1, 2, 4 or 8, got {p}")
    matrix = fnp.asarray(matrix)
    n = matrix.shape[0]
    alpha = -1.0 / p
    eye = fnp.eye(n, dtype=np.float32)
    max_ev, _ = power_iteration(matrix, num_iters=100, error_tolerance=1e-6)
    ridge = ridge_epsilon * fnp.maximum(max_ev, 1e-16)
    if n == 1:
        return fnp.asarray((matrix + ridge) ** alpha, dtype_of(matrix)), fnp.asarray(0.0)

    def power(m: Any) -> Any:
        for _ in range(int(round(math.log2(p)))):
            m = fnp.matmul(m, m)
        return m

    def keep_going(carry: tuple) -> Any:
        i, _, _, _, error, run = carry
        return fnp.logical_and(i < num_iters, fnp.logical_and(error > error_tolerance, run))

    def body(carry: tuple) -> tuple:
        i, m, h, _, error, _ = carry
        m_i = (1 - alpha) * eye + alpha * m
        new_m = fnp.matmul(power(m_i), m)
        new_h = fnp.matmul(h, m_i)
        new_error = fnp.max(fnp.abs(new_m - eye))
        return i + 1, new_m, new_h, h, new_error, new_error < error * 1.2

    damped = fnp.asarray(matrix + ridge * eye, np.float32)
    z = (1 + p) / (2 * fnp.linalg.norm(damped))
    m0 = damped * z
    h0 = eye * z ** (1.0 / p)
    init = (np.int32(0), m0, h0, h0, fnp.max(fnp.abs(m0 - eye)), np.bool_(True))
    _, m, h, old_h, _, converged = lax.while_loop(keep_going, body, init)
    error = fnp.max(fnp.abs(m - eye))
    result = fnp.where(converged, h, old_h)
    return fnp.asarray(result, dtype_of(matrix)), error


def nnls(A: Any, b: Any, iters: int, unroll: int | bool = 1, L: Any = None) -> Any:  # noqa: N803
    """Non-negative least squares, `argmin_{x >= 0} |A x - b|^2`, by `iters` steps of
    accelerated projected gradient (FISTA) with step `1/L` (`L` bounds the largest
    eigenvalue of `A^T A`; by default the smaller of its Frobenius and 1-norms).

    >>> np.round(nnls(np.eye(2), np.array([1.0, -1.0]), 50), 4)
    array([1., 0.])
    """
    A, b = fnp.asarray(A), fnp.asarray(b)
    if A.ndim != 2 or b.ndim not in (1, 2) or b.shape[0] != A.shape[0]:
        raise OptimizerArgumentError(f"nnls: A must be a matrix and b have A's row count, got A "
                         f"{A.shape} and b {b.shape}")
    Q = fnp.matmul(A.T, A)  # noqa: N806
    q = fnp.matmul(A.T, b)
    if L is None:
        L = fnp.minimum(fnp.linalg.norm(Q), fnp.max(fnp.sum(fnp.abs(Q), axis=0)))
    L = fnp.where(L == 0, 1.0, L)

    def step(carry: tuple, _: Any) -> tuple:
        x, p, c = carry
        cn = (1 + fnp.sqrt(1 + 4 * c * c)) / 2
        xn = fnp.maximum(p - (fnp.matmul(Q, p) - q) / L, 0.0)
        return (xn, xn + (c - 1) / cn * (xn - x), cn), None

    x0 = fnp.zeros(A.shape[-1:] + b.shape[1:], dtype_of(b))
    (x, _, _), _ = lax.scan(step, (x0, x0, fnp.asarray(0.0, dtype_of(b))), None, length=iters,
                            unroll=unroll)
    return x


class MultiNormalDiagFromLogScale(NamedTuple):
    """A normal distribution with diagonal covariance `exp(log_scale)**2`."""

    loc: Any
    log_scale: Any

    def sample(self, shape: tuple[int, ...], rng: Any) -> Any:
        """`shape + loc.shape` draws."""
        noise = frandom.normal(rng, tuple(shape) + tuple(fnp.shape(self.loc)),
                               dtype_of(self.loc))
        return self.loc + fnp.exp(self.log_scale) * noise

    def log_prob(self, x: Any) -> Any:
        """The log density at `x`, summed over the last axis."""
        scale = fnp.exp(self.log_scale)
        z = (x - self.loc) / scale
        return fnp.sum(-0.5 * z * z - self.log_scale - 0.5 * math.log(2 * math.pi), axis=-1)

    def params(self) -> list[Any]:
        """`[loc, log_scale]`."""
        return [self.loc, self.log_scale]

    def set_params(self, params: list[Any]) -> MultiNormalDiagFromLogScale:
        """A copy with `[loc, log_scale]` replaced."""
        return MultiNormalDiagFromLogScale(*params)


def multi_normal(loc: Any, log_scale: Any) -> MultiNormalDiagFromLogScale:
    """A diagonal normal distribution with `sample(shape, rng)` and `log_prob(x)`.

    >>> float(multi_normal(np.zeros(1), np.zeros(1)).log_prob(np.zeros(1)))  # doctest: +ELLIPSIS
    -0.9189...
    """
    return MultiNormalDiagFromLogScale(fnp.asarray(loc), fnp.asarray(log_scale))

