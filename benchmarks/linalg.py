"""Batched Cholesky, solve and SVD, and the gradients of a scalar through them, float32:
fnad eager and jitted against NumPy (a batched LAPACK call per op, gradients written by
hand from the matrix-calculus results) and JAX's `jit` when installed.

Each op runs on a stack of symmetric positive-definite matrices; the scalar is a fixed
weighted sum of the op's output, so its gradient (`value_and_grad`) exercises the op's
reverse rule. fnad's results are checked against the hand-written ones first. Run:
`python -m benchmarks.linalg [--quick] [--markdown PATH]`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import fnad
import fnad.numpy as fnp
from benchmarks import _util

FULL = (32, 64)  # (batch, n)
QUICK = (2, 4)


def make_data(batch: int, n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """A stack of well-conditioned SPD matrices, right-hand sides, and the output weights
    defining each scalar."""
    rng = np.random.default_rng(seed)
    m = rng.standard_normal((batch, n, n))
    a = m @ np.swapaxes(m, -1, -2) / n + np.eye(n)
    cast = lambda x: x.astype(np.float32)  # noqa: E731
    return {"a": cast(a), "b": cast(rng.standard_normal((batch, n, 1))),
            "w_mat": cast(rng.standard_normal((batch, n, n))),
            "w_rhs": cast(rng.standard_normal((batch, n, 1))),
            "w_vec": cast(rng.standard_normal((batch, n)))}


def losses(xp: Any, linalg: Any, d: dict[str, Any]) -> dict[str, Callable[..., Any]]:
    """The three scalars written against a NumPy-like module, so fnad and JAX run the same
    programs: sum(W * L) for L = cholesky(A), sum(W * x) for A x = b, sum(w * s) for the
    singular values s."""
    return {"cholesky": lambda a: xp.sum(d["w_mat"] * linalg.cholesky(a)),
            "solve": lambda a, b: xp.sum(d["w_rhs"] * linalg.solve(a, b)),
            "svd": lambda a: xp.sum(d["w_vec"] * linalg.svd(a, compute_uv=False))}


def numpy_grads(d: dict[str, np.ndarray]) -> dict[str, Callable[[], Any]]:
    """(value, gradient) of each scalar in NumPy, the reverse rules written by hand."""
    a, b = d["a"], d["b"]
    mt = lambda x: np.swapaxes(x, -1, -2)  # noqa: E731

    def cholesky() -> tuple[Any, Any]:
        low = np.linalg.cholesky(a)
        # A-bar = sym(L^-T Phi(L^T L-bar) L^-1), Phi: the lower triangle, half diagonal
        phi = np.tril(mt(low) @ d["w_mat"])
        phi -= 0.5 * np.eye(a.shape[-1]) * phi
        inv = np.linalg.inv(low)
        s = mt(inv) @ phi @ inv
        return (d["w_mat"] * low).sum(), 0.5 * (s + mt(s))

    def solve() -> tuple[Any, Any]:
        x = np.linalg.solve(a, b)
        b_bar = np.linalg.solve(mt(a), d["w_rhs"])  # A-bar = -A^-T W x^T, b-bar = A^-T W
        return (d["w_rhs"] * x).sum(), (-b_bar @ mt(x), b_bar)

    def svd() -> tuple[Any, Any]:
        u, s, vt = np.linalg.svd(a)
        return (d["w_vec"] * s).sum(), u @ (d["w_vec"][..., None] * vt)  # U diag(w) V^T

    return {"cholesky": cholesky, "solve": solve, "svd": svd}


def numpy_values(d: dict[str, np.ndarray]) -> dict[str, Callable[[], Any]]:
    a = d["a"]
    return {"cholesky": lambda: np.linalg.cholesky(a),
            "solve": lambda: np.linalg.solve(a, d["b"]),
            "svd": lambda: np.linalg.svd(a, compute_uv=False)}


def fnad_systems(op: str, grad: bool, d: dict[str, np.ndarray]
                 ) -> dict[str, Callable[[], Any]]:
    """fnad eager and jitted: the op's value, or value_and_grad of its scalar."""
    loss = losses(fnp, fnp.linalg, d)[op]
    args = (d["a"], d["b"]) if op == "solve" else (d["a"],)
    if grad:
        f = fnad.value_and_grad(loss, argnums=tuple(range(len(args))))
    else:
        f = {"cholesky": fnp.linalg.cholesky, "solve": fnp.linalg.solve,
             "svd": lambda a: fnp.linalg.svd(a, compute_uv=False)}[op]
    jitted = fnad.jit(f)
    return {"fnad eager": lambda: f(*args), "fnad jit": lambda: jitted(*args)}


def jax_system(op: str, grad: bool, d: dict[str, np.ndarray]) -> Callable[[], Any] | None:
    jax = _util.optional("jax")
    if jax is None:
        return None
    jd = jax.device_put(d)
    loss = losses(jax.numpy, jax.numpy.linalg, jd)[op]
    args = (jd["a"], jd["b"]) if op == "solve" else (jd["a"],)
    if grad:
        f = jax.jit(jax.value_and_grad(loss, argnums=tuple(range(len(args)))))
    else:
        lin = jax.numpy.linalg
        f = jax.jit({"cholesky": lin.cholesky, "solve": lin.solve,
                     "svd": lambda a: lin.svd(a, compute_uv=False)}[op])
    return lambda: jax.block_until_ready(f(*args))


def check(d: dict[str, np.ndarray]) -> None:
    """fnad's values and gradients agree with NumPy's and the hand-written rules."""
    by_hand = numpy_grads(d)
    for op in ("cholesky", "solve", "svd"):
        value, grads = fnad_systems(op, True, d)["fnad jit"]()
        expected_value, expected = by_hand[op]()
        expected = expected if op == "solve" else (expected,)
        np.testing.assert_allclose(value, expected_value, rtol=1e-3, atol=1e-3, err_msg=op)
        for got, want in zip(grads, expected):
            np.testing.assert_allclose(got, want, rtol=2e-3, atol=2e-3, err_msg=op)


def main(argv: Sequence[str] | None = None) -> None:
    args = _util.parse_args(__doc__, argv)
    batch, n = QUICK if args.quick else FULL
    d = make_data(batch, n)
    check(d)
    tables = []
    for op in ("cholesky", "solve", "svd"):
        for grad in (False, True):
            baseline = "NumPy by hand" if grad else "NumPy"
            systems = fnad_systems(op, grad, d)
            systems[baseline] = (numpy_grads if grad else numpy_values)(d)[op]
            run = jax_system(op, grad, d)
            if run is not None:
                systems["JAX jit"] = run
            times = _util.measure(systems, args, 1.5)
            what = f"value_and_grad of a weighted sum of {op}" if grad else op
            table = _util.timing_table(f"linalg: {what}, {batch} x {n} x {n} float32, "
                                       f"{_util.THREADS} thread(s)", times, baseline)
            table.target(f"fnad jit / {baseline}", _util.ratio(times, "fnad jit", baseline))
            table.target("fnad jit / JAX jit", _util.ratio(times, "fnad jit", "JAX jit"))
            tables.append(table)
    _util.report(tables, args)


if __name__ == "__main__":
    main()
