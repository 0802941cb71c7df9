"""jax.Array's methods and attributes on traced values: each one under jit, vmap and grad
gives what the same method of the NumPy array gives eagerly (eager values are NumPy arrays,
so NumPy's semantics are the reference)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import fnad
import fnad.numpy as fnp
from fnad.test_util import check_grads

X = np.arange(1.0, 13.0).reshape(3, 4) * 0.7 - 3.05  # no ties, no zeros
XI = np.arange(12).reshape(3, 4) - 5
Z = X + 1j * X[::-1]
ROWS = np.array([True, False, True])

# name -> (method call, argument, differentiable)
METHODS: dict[str, tuple[Callable[[Any], Any], np.ndarray, bool]] = {
    "real": (lambda a: a.real, X, True), "imag": (lambda a: a.imag, X, True),
    "real_complex": (lambda a: a.real, Z, False), "imag_complex": (lambda a: a.imag, Z, False),
    "T": (lambda a: a.T, X, True), "mT": (lambda a: a.mT, X, True),
    "astype": (lambda a: a.astype(np.float32), X, False),
    "reshape_tuple": (lambda a: a.reshape((4, 3)), X, True),
    "reshape_varargs": (lambda a: a.reshape(2, -1), X, True),
    "transpose": (lambda a: a.transpose(), X, True),
    "transpose_varargs": (lambda a: a.transpose(1, 0), X, True),
    "transpose_tuple": (lambda a: a.transpose((1, 0)), X, True),
    "sum": (lambda a: a.sum(axis=1, keepdims=True), X, True),
    "sum_dtype": (lambda a: a.sum(0, dtype=np.float32), X, False),
    "mean": (lambda a: a.mean(axis=0), X, True), "prod": (lambda a: a.prod(axis=1), X, True),
    "max": (lambda a: a.max(axis=1), X, True), "min": (lambda a: a.min(0, keepdims=True), X, True),
    "std": (lambda a: a.std(ddof=1), X, True), "var": (lambda a: a.var(axis=0), X, True),
    "argmax": (lambda a: a.argmax(axis=1, keepdims=True), X, False),
    "argmin": (lambda a: a.argmin(), X, False),
    "cumsum": (lambda a: a.cumsum(axis=1), X, True), "cumprod": (lambda a: a.cumprod(0), X, True),
    "any": (lambda a: (a > 0).any(axis=0), X, False),
    "all": (lambda a: (a > 0).all(axis=1, keepdims=True), X, False),
    "clip": (lambda a: a.clip(-1, 1), X, True), "round": (lambda a: a.round(1), X, False),
    "flatten": (lambda a: a.flatten(), X, True), "ravel": (lambda a: a.ravel(), X, True),
    "squeeze": (lambda a: a[None].squeeze(0), X, True),
    "swapaxes": (lambda a: a.swapaxes(0, 1), X, True), "dot": (lambda a: a.dot(a.T), X, True),
    "matmul": (lambda a: a @ a.T, X, True), "floordiv": (lambda a: a // 0.7, X, False),
    "mod": (lambda a: a % 0.7, X, True), "pow": (lambda a: abs(a) ** 1.5, X, True),
    "rpow": (lambda a: 2.0 ** a, X, True), "rsub": (lambda a: 3.0 - a, X, True),
    "rtruediv": (lambda a: 3.0 / a, X, True), "divmod": (lambda a: divmod(a, 0.7)[1], X, True),
    "compare": (lambda a: (a < 0) ^ (a >= 1) | (a == X[1, 0]), X, False),
    "abs": (lambda a: abs(a), X, True), "neg": (lambda a: -a, X, True),
    "iter": (lambda a: [r * 2.0 for r in a][1], X, True),
    "reversed": (lambda a: list(reversed(a))[0], X, True),
    "sort": (lambda a: a.sort(axis=0), X, True),
    "argsort": (lambda a: a.argsort(axis=0), X, False),
    "take": (lambda a: a.take(np.array([0, 5, 11])), X, True),
    "take_axis": (lambda a: a.take(np.array([0, 2]), axis=1), X, True),
    "repeat": (lambda a: a.repeat(2, axis=0), X, True),
    "trace": (lambda a: a.trace(offset=1), X, True),
    "diagonal": (lambda a: a.diagonal(1), X, True),
    "searchsorted": (lambda a: fnp.sort(a.ravel()).searchsorted(np.array([0.5, 2.0])), X, False),
    "copy": (lambda a: a.copy() * 2.0, X, True), "ptp": (lambda a: a.ptp(axis=1), X, True),
    "compress": (lambda a: a.compress(ROWS, axis=0), X, True),
    "choose": (lambda a: (a > 0).astype(np.int32).choose([a, -a]), X, False),
    "argpartition": (lambda a: a.argpartition(1, axis=1)[:, 1], X, False),
    "conj_real": (lambda a: a.conj(), X, True),
    "index_kinds": (lambda a: a[None, ::-1, np.array([0, 2])][..., 1], X, True),
    "index_bool": (lambda a: a[ROWS], X, True),
    "index_fancy": (lambda a: a[np.array([0, 2]), np.array([1, 3])], X, True),
    "invert": (lambda a: ~a, XI, False), "bitwise": (lambda a: (a & 3) | (a ^ 5), XI, False),
    "shifts": (lambda a: (a << 1) + (a >> 1), XI, False),
    "int_floordiv_mod": (lambda a: a // 3 + a % 3, XI, False),
}

# NumPy's own method differs: ndarray.sort sorts in place (a traced value is immutable and
# returns the result, as jax.Array.sort does); NumPy 2 dropped ndarray.ptp
NUMPY_REFERENCE: dict[str, Callable[[np.ndarray], Any]] = {
    "sort": lambda a: np.sort(a, axis=0), "ptp": lambda a: np.ptp(a, axis=1)}


def _leading(v: Any) -> Any:
    return np.asarray(v)[0]


@pytest.mark.parametrize("name", list(METHODS))
def test_method_under_jit_and_vmap_matches_numpy(name: str) -> None:
    """Traced values lacked .real, .imag, .take, .ptp, .copy, ... (AttributeError under jit)."""
    f, x, _ = METHODS[name]
    want = np.asarray(NUMPY_REFERENCE.get(name, f)(x))
    got = fnad.jit(f)(x)
    np.testing.assert_allclose(got, want)
    assert np.asarray(got).dtype == want.dtype
    np.testing.assert_allclose(_leading(fnad.vmap(f)(x[None])), want)


@pytest.mark.parametrize("name", [n for n, (_, _, d) in METHODS.items() if d])
def test_method_gradients(name: str) -> None:
    f, x, _ = METHODS[name]
    check_grads(fnad.jit(f), (x,), order=1)  # jit: the method of a tracer, not NumPy's


def test_attributes_of_traced_values_are_numpys() -> None:
    seen: dict[str, Any] = {}

    def f(a: Any) -> Any:
        seen.update(ndim=a.ndim, size=a.size, shape=a.shape, dtype=a.dtype, len=len(a),
                    itemsize=a.itemsize, nbytes=a.nbytes, weak_type=a.weak_type)
        return a

    x = X.astype(np.float32)
    fnad.jit(f)(x)
    assert seen == dict(ndim=2, size=12, shape=(3, 4), dtype=np.float32, len=3, itemsize=4,
                        nbytes=48, weak_type=False)


def test_contains_is_abstract_under_jit_and_concrete_under_grad() -> None:
    with pytest.raises(fnad.ConcretizationError):
        fnad.jit(lambda a: fnp.where(X[1, 0] in a, a, -a))(X)
    assert fnad.grad(lambda a: a.sum() if X[1, 0] in a else -a.sum())(X)[0, 0] == 1.0


def test_nonzero_method_takes_size_under_jit() -> None:
    x = np.array([0.0, 3.0, 0.0, 5.0])
    (idx,) = fnad.jit(lambda a: a.nonzero(size=3, fill_value=-1))(x)
    np.testing.assert_array_equal(idx, [1, 3, -1])


def test_python_protocols_of_traced_values() -> None:
    """round(), copy.copy/deepcopy and __array_namespace__ as on jax.Array; .item() and
    .tolist() need a concrete value."""
    def f(a: Any) -> Any:
        assert a.__array_namespace__() is fnp
        return round(a[0, 0], 1) + copy.deepcopy(a) + copy.copy(a)

    np.testing.assert_allclose(fnad.jit(f)(X), np.round(X[0, 0], 1) + 2 * X)
    for method in ("item", "tolist"):
        with pytest.raises(fnad.ConcretizationError):
            fnad.jit(lambda a, m=method: getattr(a, m)())(X)
