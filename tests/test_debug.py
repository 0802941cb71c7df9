"""`fnad.debug.print` eagerly and under jit, vmap (one line per element), grad, jvp and
linearize, and kept by dead-code elimination."""

from __future__ import annotations

import numpy as np
import pytest

import fnad
import fnad.numpy as fnp
from fnad.test_util import assert_allclose

F32 = np.float32


def f(x):
    fnad.debug.print("x={x} total={}", fnp.sum(x), x=x)
    return x * 2.0


def lines(capsys: pytest.CaptureFixture) -> list[str]:
    return capsys.readouterr().out.splitlines()


def test_eager_and_jit_print_the_same(capsys: pytest.CaptureFixture) -> None:
    x = np.array([1.0, 2.0], F32)
    f(x)
    eager = lines(capsys)
    jf = fnad.jit(f)
    assert_allclose(jf(x), 2 * x)
    jf(x)  # printed at run time, on every call, not at trace time
    assert eager == ["x=[1. 2.] total=3.0"]
    assert lines(capsys) == eager * 2


def test_vmap_prints_each_element(capsys: pytest.CaptureFixture) -> None:
    xs = np.arange(4, dtype=F32).reshape(2, 2)
    fnad.vmap(f)(xs)
    assert lines(capsys) == ["x=[0. 1.] total=1.0", "x=[2. 3.] total=5.0"]
    fnad.jit(fnad.vmap(f, in_axes=1))(xs)
    assert lines(capsys) == ["x=[0. 2.] total=2.0", "x=[1. 3.] total=4.0"]


def test_nested_vmap_prints_in_loop_order(capsys: pytest.CaptureFixture) -> None:
    def g(a, b):
        fnad.debug.print("{} {}", a, b)
        return a + b

    a, b = np.array([0, 1], np.int32), np.array([10, 20, 30], np.int32)
    fnad.vmap(lambda i: fnad.vmap(lambda j: g(i, j))(b))(a)
    assert lines(capsys) == [f"{i} {j}" for i in a for j in b]


def test_differentiation_prints_primals_once(capsys: pytest.CaptureFixture) -> None:
    x = np.array([1.0, 2.0], F32)
    loss = lambda x: fnp.sum(f(x))  # noqa: E731
    assert_allclose(fnad.grad(loss)(x), np.full(2, 2.0))
    assert lines(capsys) == ["x=[1. 2.] total=3.0"]
    fnad.jvp(f, (x,), (x,))
    assert lines(capsys) == ["x=[1. 2.] total=3.0"]
    _, lin = fnad.linearize(f, x)
    lin(x)
    assert lines(capsys) == ["x=[1. 2.] total=3.0"]
    fnad.jit(fnad.grad(fnad.jit(loss)))(x)
    assert lines(capsys) == ["x=[1. 2.] total=3.0"]


def test_print_with_no_used_result_survives_dce(capsys: pytest.CaptureFixture) -> None:
    def g(x):
        fnad.debug.print("only {}", fnp.exp(x))
        return x

    fnad.jit(g)(np.float32(0.0))
    assert lines(capsys) == ["only 1.0"]


def test_python_numbers_and_vmap_of_unbatched_args(capsys: pytest.CaptureFixture) -> None:
    def g(x):
        fnad.debug.print("{} {} {}", x, 7, np.float32(1.5))
        return x

    fnad.vmap(g)(np.array([1, 2], np.int32))
    assert lines(capsys) == ["1 7 1.5", "2 7 1.5"]
