"""`enable_x64` (JAX's `jax_enable_x64`): 64-bit defaults for everything fnad creates,
switched at run time, with the inputs' dtypes kept in both modes."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import fnad
import fnad.numpy as fnp
from fnad import nn, random


@pytest.fixture
def x64():
    fnad.config.update("enable_x64", True)
    try:
        yield
    finally:
        fnad.config.update("enable_x64", False)


def _created() -> dict[str, np.dtype]:
    key = random.PRNGKey(0)
    return {
        "zeros": fnp.zeros(2).dtype, "ones": fnp.ones((2,)).dtype,
        "arange_int": fnp.arange(3).dtype, "arange_float": fnp.arange(3.0).dtype,
        "linspace": fnp.linspace(0, 1, 3).dtype, "eye": fnp.eye(2).dtype,
        "asarray_floats": fnp.asarray([1.0, 2.0]).dtype, "asarray_ints": fnp.asarray([1]).dtype,
        "asarray_complex": fnp.asarray([1j]).dtype, "exp_of_python": fnp.exp(1.0).dtype,
        "python_sum": fnp.add(1, 2).dtype,
        "normal": random.normal(key, (2,)).dtype, "uniform": random.uniform(key, (2,)).dtype,
        "randint": random.randint(key, (2,), 0, 5).dtype,
        "glorot": nn.initializers.glorot_normal()(key, (2, 3)).dtype,
        "zeros_init": nn.initializers.zeros(key, (2,)).dtype,
        "jit_weak_out": fnad.jit(lambda s: s * 2)(1.5).dtype,
        "grad_of_python": np.asarray(fnad.grad(lambda s: s * s)(0.1)).dtype,
    }


_32 = {"zeros": "f4", "ones": "f4", "arange_int": "i4", "arange_float": "f4", "linspace": "f4",
       "eye": "f4", "asarray_floats": "f4", "asarray_ints": "i4", "asarray_complex": "c8",
       "exp_of_python": "f4", "python_sum": "i4", "normal": "f4", "uniform": "f4",
       "randint": "i4", "glorot": "f4", "zeros_init": "f4", "jit_weak_out": "f4",
       "grad_of_python": "f4"}


def test_defaults_are_32_bit_unless_x64_is_on(x64) -> None:
    on = _created()
    fnad.config.update("enable_x64", False)
    off = _created()
    assert {k: v.str[1:] for k, v in off.items()} == _32
    doubled = {k: v[0] + str(2 * int(v[1])) for k, v in _32.items()}
    assert {k: v.str[1:] for k, v in on.items()} == doubled


def test_inputs_keep_their_dtype_in_both_modes(x64) -> None:
    for on in (True, False):
        fnad.config.update("enable_x64", on)
        h, f = np.ones(2, np.float16), np.ones(2, np.float32)
        assert fnp.sin(h).dtype == np.float16 and (f * 2.0).dtype == np.float32
        assert fnad.jit(lambda x, s: x * s)(f, 0.1).dtype == np.float32
        assert fnad.grad(lambda x: fnp.sum(x * x))(f).dtype == np.float32
        assert fnp.asarray(np.arange(3, dtype=np.int64)).dtype == np.int64


def test_python_numbers_are_exact_in_x64(x64) -> None:
    assert fnp.asarray(0.1).item() == 0.1
    assert fnad.jit(lambda s: s + 0)(0.1).item() == 0.1
    np.testing.assert_allclose(fnad.grad(lambda s: fnp.sin(s))(0.3), np.cos(0.3), rtol=1e-15)
    assert fnp.asarray([2 ** 40]).item() == 2 ** 40  # int64: no overflow


def test_switching_retraces_jitted_functions(x64) -> None:
    f = fnad.jit(lambda: fnp.zeros(2) + 1)
    assert f().dtype == np.float64
    fnad.config.update("enable_x64", False)
    assert f().dtype == np.float32
    fnad.config.update("enable_x64", True)
    assert f().dtype == np.float64


def test_jax_option_names_work() -> None:
    try:
        fnad.config.update("jax_enable_x64", True)
        assert fnad.config.jax_enable_x64 is True and fnad.config.enable_x64 is True
        assert fnp.ones(1).dtype == np.float64
    finally:
        fnad.config.update("jax_enable_x64", False)
    assert fnad.config.jax_enable_x64 is False and fnp.ones(1).dtype == np.float32
    with pytest.raises(AttributeError, match="no option 'jax_enable_x32'"):
        _ = fnad.config.jax_enable_x32
    with pytest.raises(fnad.FnadError, match="unknown config option 'jax_nonsense'"):
        fnad.config.update("jax_nonsense", True)
    with pytest.raises(fnad.FnadError, match="takes True or False"):
        fnad.config.update("jax_enable_x64", 1)


def test_default_matmul_precision_is_accepted_and_checked() -> None:
    try:
        for value in ("highest", "float32", "bfloat16", None):
            fnad.config.update("jax_default_matmul_precision", value)
            assert fnad.config.default_matmul_precision == value
        with pytest.raises(fnad.FnadError, match="default_matmul_precision takes one of"):
            fnad.config.update("default_matmul_precision", "fast")
        assert fnad.config.default_matmul_precision is None
    finally:
        fnad.config.update("default_matmul_precision", None)


@pytest.mark.parametrize("variable", ["FNAD_ENABLE_X64", "JAX_ENABLE_X64"])
def test_environment_variable_turns_x64_on(variable: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("FNAD_ENABLE_X64", "JAX_ENABLE_X64")}
    code = ("import fnad, fnad.numpy as fnp; "
            "print(fnad.config.enable_x64, fnp.zeros(1).dtype, fnp.asarray([1]).dtype)")
    out = subprocess.run([sys.executable, "-c", code], env={**env, variable: "1"},
                         capture_output=True, text=True, check=True).stdout.split()
    assert out == ["True", "float64", "int64"]


def test_scipy_functions_of_integers_take_jax_float_width() -> None:
    """fnad.scipy computes integers in float32, and 64-bit integers in float64 under x64
    (JAX's promotion, where int64 exists only with x64)."""
    from fnad.scipy import special, stats
    wide, narrow = np.arange(1, 4, dtype=np.int64), np.arange(1, 4, dtype=np.int32)
    functions = (special.logsumexp, special.gammaln, stats.norm.logpdf)
    assert all(f(x).dtype == np.float32 for f in functions for x in (narrow, wide))
    fnad.config.update("enable_x64", True)
    try:
        assert all(f(narrow).dtype == np.float32 for f in functions)
        assert all(f(wide).dtype == np.float64 for f in functions)
        np.testing.assert_allclose(special.logsumexp(wide), np.log(np.exp([1.0, 2, 3]).sum()),
                                   rtol=1e-15)
    finally:
        fnad.config.update("enable_x64", False)
