"""`debug_nans` / `debug_infs`: the first primitive producing NaN (inf) raises an FnadError
that is a FloatingPointError, naming the primitive and the user's line, eagerly, under every
transform, and inside `jit` by re-running the compiled program eagerly."""

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
from fnad.core.errors import NonFiniteError
from fnad.test_util import assert_allclose

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's own NaN warnings


@pytest.fixture
def option():
    """Set config options for one test, restoring them afterwards."""
    saved = {}

    def set_option(name, value):
        saved.setdefault(name, getattr(fnad.config, name))
        fnad.config.update(name, value)

    yield set_option
    for name, value in saved.items():
        fnad.config.update(name, value)


def f_log(x):
    y = fnp.log(x)  # <- NaN for x < 0
    return y * 2.0


def f_div(x):
    return fnp.divide(1.0, x)  # <- inf at 0


def f_scan(x):
    def body(c, xi):
        return c + fnp.sqrt(xi), c  # <- NaN for xi < 0
    return lax.scan(body, 0.0 * x[0], x)[0]


def _line(fn):
    lines, start = inspect.getsourcelines(fn)
    return start + next(i for i, s in enumerate(lines) if "# <-" in s)


NEG = -np.ones(3, np.float32)
TRANSFORMS = {
    "eager": (lambda f: f, None),
    "jit": (fnad.jit, "jit"),
    "grad": (lambda f: fnad.grad(lambda x: f(x).sum()), "grad"),
    "vmap": (lambda f: fnad.vmap(f), "vmap"),
    "jvp": (lambda f: lambda x: fnad.jvp(f, (x,), (x,))[1], "jvp"),
    "jacfwd": (fnad.jacfwd, "jacfwd"),
    "jit_of_vmap": (lambda f: fnad.jit(fnad.vmap(f)), "jit"),
}


@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_nan_names_the_primitive_and_line(name, option) -> None:
    transform, stack = TRANSFORMS[name]
    arg = NEG[None] if "vmap" in name else NEG
    g = transform(f_log)
    g(arg)  # off: NaNs flow silently
    option("debug_nans", True)
    with pytest.raises(NonFiniteError) as info:
        g(arg)
    msg = str(info.value)
    assert isinstance(info.value, FloatingPointError) and isinstance(info.value, fnad.FnadError)
    assert f"'log' produced NaN at test_debug_nans.py:{_line(f_log)} (f_log)" in msg, msg
    if stack:
        assert msg.endswith(f"(under {stack})"), msg


def test_inf_only_with_debug_infs(option) -> None:
    x = np.zeros(2, np.float32)
    option("debug_nans", True)
    assert np.isinf(f_div(x)).all()  # NaN checks alone let inf through
    option("debug_infs", True)
    for g in (f_div, fnad.jit(f_div)):
        with pytest.raises(NonFiniteError, match=f"'div' produced inf at "
                                                 f"test_debug_nans.py:{_line(f_div)}"):
            g(x)


def test_nan_inside_scan_body_under_jit(option) -> None:
    x = np.array([1.0, -1.0, 4.0], np.float32)
    option("debug_nans", True)
    for g in (f_scan, fnad.jit(f_scan)):
        with pytest.raises(NonFiniteError, match=f"'sqrt' produced NaN at "
                                                 f"test_debug_nans.py:{_line(f_scan)}"):
            g(x)


def test_nan_already_in_the_input(option) -> None:
    option("debug_nans", True)
    x = np.array([np.nan, 1.0], np.float32)
    with pytest.raises(NonFiniteError, match="operand 0 already contained NaN"):
        fnp.sin(x)
    with pytest.raises(NonFiniteError, match="input 0 .* already contains NaN"):
        fnad.jit(fnp.sin)(x)


def test_finite_programs_are_unaffected(option) -> None:
    option("debug_nans", True)
    option("debug_infs", True)
    x = np.array([0.5, 2.0], np.float64)
    assert_allclose(fnad.grad(lambda x: fnp.log(x).sum())(x), 1 / x)
    assert_allclose(fnad.jit(f_log)(x), 2 * np.log(x))
    # Integer and boolean results are never checked.
    assert_allclose(fnad.jit(lambda x: (x > 1.0).astype(np.int32))(x), np.array([0, 1]))


def test_checks_disarm_when_turned_off(option) -> None:
    option("debug_nans", True)
    option("debug_infs", True)
    fnad.config.update("debug_nans", False)
    assert np.isnan(f_log(NEG)).all()
    fnad.config.update("debug_infs", False)
    assert fnad.core.trace.EvalTrace.check_output is None


def test_environment_variable_turns_it_on() -> None:
    code = ("import numpy as np, fnad, fnad.numpy as fnp\n"
            "try:\n    fnp.log(-np.ones(2, np.float32))\n"
            "except FloatingPointError as e:\n    print('caught', type(e).__name__)\n")
    env = dict(os.environ, FNAD_DEBUG_NANS="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.stdout.strip() == "caught NonFiniteError", out.stderr
