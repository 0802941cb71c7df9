"""autograd's spellings of the derivative checks: the curried `check_grads(f)(*args)` with
`argnum`, `combo_check` and `check_equivalent`, next to JAX's `check_grads(f, args)`."""

from __future__ import annotations

import numpy as np
import pytest

import fnad
import fnad.numpy as fnp
import fnad.numpy.random as npr
from fnad.core.errors import FnadError
from fnad.test_util import check_equivalent, check_grads, combo_check


def test_curried_check_grads_differentiates_the_first_argument_by_default() -> None:
    calls = []

    def f(x, n):
        calls.append(n)
        return fnp.sin(x) * n

    check_grads(f)(0.3, 2)  # an integer second argument: it is held fixed
    assert calls and set(calls) == {2}
    check_grads(f, modes=["rev"], order=1)(np.array([0.1, 0.2]), n=3)


@pytest.mark.parametrize("spelling", ["positional", "keyword"])
def test_curried_check_grads_takes_argnum(spelling: str) -> None:
    f = lambda a, b: a * fnp.exp(b)
    checker = check_grads(f, 1) if spelling == "positional" else check_grads(f, argnum=(0, 1))
    checker(2.0, np.array([0.5, -0.5]))


def test_check_grads_catches_a_wrong_derivative_in_either_form() -> None:
    @fnad.custom_jvp
    def f(x):
        return x ** 2

    f.defjvp(lambda primals, tangents: (primals[0] ** 2, 3.0 * tangents[0]))
    with pytest.raises(AssertionError):
        check_grads(f)(1.0)
    with pytest.raises(AssertionError):
        check_grads(f, (1.0,), order=1, modes=["fwd"])


def test_check_grads_rejects_unknown_modes() -> None:
    with pytest.raises(FnadError, match="fwd"):
        check_grads(fnp.sin, modes=["forward"])


def test_combo_check_runs_every_combination() -> None:
    seen = []

    def f(x, axis, keepdims):
        seen.append((np.shape(x), axis, keepdims))
        return fnp.sum(x ** 2, axis=axis, keepdims=keepdims)

    combo_check(f, (0,), order=1)([np.ones(3), np.ones((2, 3))], axis=[None, 0],
                                  keepdims=[True, False])
    assert {(s, a, k) for s, a, k in seen} == {(s, a, k) for s in [(3,), (2, 3)]
                                              for a in [None, 0] for k in [True, False]}


def test_check_equivalent_compares_values_and_dtypes() -> None:
    check_equivalent({"a": np.ones(2)}, {"a": np.ones(2)})
    with pytest.raises(AssertionError):
        check_equivalent(np.ones(2), np.ones(2) + 1)
    with pytest.raises(AssertionError):
        check_equivalent(np.ones(2, np.float32), np.ones(2))


def test_numpy_random_is_numpys_global_sampler() -> None:
    npr.seed(3)
    a = npr.randn(2, 3)
    np.random.seed(3)
    np.testing.assert_array_equal(a, np.random.randn(2, 3))


def test_check_grads_on_complex_inputs_sees_imaginary_parts() -> None:
    z = np.array([1.0 + 2.0j, 0.3 - 1.0j])
    check_grads(lambda a, b: a * fnp.conj(a) * b, (z, np.array([1.0, 2.0])))
    check_grads(fnp.sin)(z)

    @fnad.custom_jvp
    def square(a):
        return a * a

    square.defjvp(lambda primals, tangents: (primals[0] ** 2,
                                             2.0 * fnp.conj(primals[0]) * tangents[0]))
    with pytest.raises(AssertionError):
        check_grads(square, (z,), order=1, modes=["fwd"])


def test_curried_check_grads_takes_autograds_finite_difference_step() -> None:
    near_tie = np.array([0.0, 1.6e-5, 2.0])  # a 1e-5 step would cross the kink of min
    check_grads(fnp.min)(near_tie)


def test_curried_check_grads_holds_python_floats_in_float64() -> None:
    # d/dy sin(sin x + sin y), checked in x with y a Python float: in float32 the finite
    # differences of this gradient would be noise
    ddf = fnad.grad(lambda x, y: fnp.sin(fnp.sin(x) + fnp.sin(y)), 1)
    check_grads(ddf)(0.3, -1.1)
