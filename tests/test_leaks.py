"""`fnad.checking_leaks()` / `FNAD_CHECK_LEAKS=1`: a public transform that returns while
tracers it made are still alive (kept in a global, a closure, an attribute) raises a
LeakedTracerError naming their avals, where they were made and what holds them."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys

import numpy as np
import pytest

import fnad
import fnad.numpy as fnp
from fnad import lax
from fnad.core.errors import LeakedTracerError

STASH: list = []
X = np.linspace(0.5, 1.5, 3)


def leaky(x):
    STASH.append(fnp.sin(x) * 2.0)  # <-
    return (x * x).sum()


LEAK_LINE = inspect.getsourcelines(leaky)[1] + 1


@pytest.fixture(autouse=True)
def _clear():
    STASH.clear()
    yield
    STASH.clear()


TRANSFORMS = {
    "grad": (fnad.grad, "jvp", True),
    "jit": (fnad.jit, "jit", True),
    "make_jaxpr": (fnad.make_jaxpr, "make_jaxpr", True),
    "vmap": (fnad.vmap, "vmap", False),
    "jvp": (lambda f: lambda x: fnad.jvp(f, (x,), (x,)), "jvp", False),
    "jacrev": (fnad.jacrev, "jvp", True),
    "jit_of_grad": (lambda f: fnad.jit(fnad.grad(f)), "jvp", True),
}


@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_leaked_tracer_is_reported(name) -> None:
    transform, tracer_of, knows_origin = TRANSFORMS[name]
    call_line = inspect.currentframe().f_lineno + 5
    if name == "jvp":  # the transform is called inside the lambda of TRANSFORMS
        call_line = transform.__code__.co_firstlineno
    with fnad.checking_leaks():
        with pytest.raises(LeakedTracerError) as info:
            transform(leaky)(X)
    msg = str(info.value)
    assert isinstance(info.value, fnad.FnadError)
    assert f"called at test_leaks.py:{call_line}" in msg, msg
    assert "1 tracer is still alive" in msg, msg
    assert f"tracer of {tracer_of}" in msg, msg
    assert "held in a list bound to 'STASH'" in msg, msg
    if knows_origin:
        assert f"made by 'mul' at test_leaks.py:{LEAK_LINE} (leaky)" in msg, msg


def test_each_leak_is_reported_once() -> None:
    with fnad.checking_leaks():
        with pytest.raises(LeakedTracerError):
            fnad.grad(leaky)(X)
        fnad.grad(lambda x: (x * x).sum())(X)  # the old leak is not blamed again
        with pytest.raises(LeakedTracerError, match="1 tracer is still alive"):
            fnad.grad(leaky)(X)


def test_leaks_before_checking_are_not_blamed() -> None:
    fnad.jit(leaky)(X)
    with fnad.checking_leaks():
        fnad.grad(lambda x: (x * x).sum())(X)


def test_attribute_leak_names_the_attribute() -> None:
    class Model:
        pass

    model = Model()

    def f(x):
        model.hidden = x * 3.0
        return x.sum()

    with fnad.checking_leaks(), pytest.raises(LeakedTracerError,
                                              match="held as attribute 'hidden' of a Model"):
        fnad.grad(f)(X)


CLEAN = {
    "grad": lambda: fnad.grad(lambda x: fnp.sin(x).sum())(X),
    "grad_of_jit": lambda: fnad.grad(fnad.jit(lambda x: fnp.sin(x).sum()))(X),
    "vmap_of_grad": lambda: fnad.vmap(fnad.grad(lambda x: x * fnp.cos(x)))(X),
    "jit_of_vmap": lambda: fnad.jit(fnad.vmap(lambda x: x * 2.0))(X),
    "hessian": lambda: fnad.hessian(lambda x: (fnp.sin(x) ** 2).sum())(X),
    "vjp_kept": lambda: fnad.vjp(fnp.tanh, X)[1](X),
    "grad_has_aux": lambda: fnad.grad(lambda x: ((x * x).sum(), x * 2), has_aux=True)(X),
    "scan_grad": lambda: fnad.grad(
        lambda x: lax.scan(lambda c, a: (c * a, c), x[0], x)[0])(X),
    "cond_jit": lambda: fnad.jit(
        lambda x: lax.cond(x.sum() > 0, lambda y: y * 2, lambda y: -y, x))(X),
    "linearize": lambda: fnad.linearize(fnp.sin, X)[1](X),
}


@pytest.mark.parametrize("name", list(CLEAN))
def test_clean_programs_report_nothing(name) -> None:
    with fnad.checking_leaks():
        CLEAN[name]()


def test_environment_variable_turns_it_on() -> None:
    code = ("import numpy as np, fnad\nkeep = []\n"
            "def f(x):\n    keep.append(x * 2)\n    return x.sum()\n"
            "try:\n    fnad.grad(f)(np.ones(2))\n"
            "except fnad.FnadError as e:\n    print(type(e).__name__)\n")
    env = dict(os.environ, FNAD_CHECK_LEAKS="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.stdout.strip() == "LeakedTracerError", out.stderr


def test_checking_is_off_outside_the_block() -> None:
    with fnad.checking_leaks():
        pass
    fnad.grad(leaky)(X)  # no error
    assert len(STASH) == 1
