"""The JAX configuration options a JAX program sets, each doing what JAX's does."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import fnad
import fnad.numpy as fnp


@pytest.fixture
def option():
    """Set options with JAX's names; each goes back to its value before the test."""
    before = {}

    def update(name: str, value) -> None:
        own = fnad.config._own_name(name)
        before.setdefault(own, getattr(fnad.config, own))
        fnad.config.update(name, value)

    yield update
    for name, value in before.items():
        fnad.config.update(name, value)


def test_disable_jit_runs_python_and_a_block_overrides_it(option) -> None:
    seen = []
    f = fnad.jit(lambda x: seen.append(type(x)) or x + 1)
    option("jax_disable_jit", True)
    np.testing.assert_array_equal(f(np.ones(2, np.float32)), [2, 2])
    assert seen == [np.ndarray]
    with fnad.disable_jit(False):
        f(np.ones(2, np.float32))
    assert seen[1] is not np.ndarray  # traced
    option("jax_disable_jit", False)
    with fnad.disable_jit():
        f(np.ones(3, np.float32))
    assert seen[2] is np.ndarray


def test_log_compiles_logs_each_compilation_at_warning_level(option, caplog) -> None:
    f = fnad.jit(lambda x: x * 2)
    option("jax_log_compiles", True)
    with caplog.at_level(logging.WARNING, logger="fnad.jit"):
        f(np.ones(2, np.float32))
        f(np.ones(2, np.float32))  # cached: no second message
        f(np.ones(3, np.float64))
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(messages) == 2 and "f32[2]" in messages[0] and "f64[3]" in messages[1]


@pytest.mark.parametrize("staged", [False, True])
def test_rank_promotion_raise_warn_allow(option, staged: bool) -> None:
    add = fnad.jit(fnp.add) if staged else fnp.add
    x, row = np.ones((4, 3), np.float32), np.arange(3, dtype=np.float32)
    expected = x + row
    np.testing.assert_array_equal(add(x, row), expected)  # "allow", traced once under jit
    option("jax_numpy_rank_promotion", "raise")
    with pytest.raises(fnad.ShapeError, match=r"\(4, 3\), \(3,\).*numpy_rank_promotion='raise'"):
        add(x, row)
    np.testing.assert_array_equal(add(x, 2.0), x + 2)             # scalars are not promotions
    np.testing.assert_array_equal(add(x, np.ones((1, 3))), x + 1)  # same rank: broadcasting
    np.testing.assert_array_equal(add(x, row[None]), expected)
    option("jax_numpy_rank_promotion", "warn")
    with pytest.warns(UserWarning, match="broadcast to a higher rank"):
        np.testing.assert_array_equal(add(x, row), expected)
    option("jax_numpy_rank_promotion", "allow")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(add(x, row), expected)
    with pytest.raises(fnad.FnadError, match="takes one of"):
        fnad.config.update("numpy_rank_promotion", "error")


def test_platforms_pick_the_default_backend(option) -> None:
    option("jax_platform_name", "cpu")
    assert fnad.config.platforms == "cpu" and fnad.config.jax_platforms == "cpu"
    assert fnad.default_backend() == "cpu" and [str(d) for d in fnad.devices()] == ["cpu"]
    assert type(fnad.device_put(np.ones(2))) is np.ndarray
    option("jax_platforms", "CUDA, cpu")
    assert fnad.config.platforms == "cuda,cpu"
    assert fnad.default_backend() == ("gpu" if fnad.device.gpu_count() else "cpu")
    if not fnad.device.gpu_count():
        option("jax_platforms", "cuda")
        with pytest.raises(fnad.FnadError, match="names no platform here.*add 'cpu'"):
            fnad.default_backend()
    with pytest.raises(fnad.FnadError, match="platforms among"):
        fnad.config.update("jax_platforms", "tpu")


def test_aliases_and_options_that_change_nothing_here(option) -> None:
    option("jax_check_tracer_leaks", True)
    assert fnad.config.check_leaks is True and fnad.config.jax_check_tracer_leaks is True
    for name, value in [("jax_compilation_cache_dir", "/tmp/jax-cache"),
                        ("jax_persistent_cache_min_compile_time_secs", 0),
                        ("jax_persistent_cache_min_entry_size_bytes", -1),
                        ("jax_traceback_filtering", "off")]:
        option(name, value)
        assert getattr(fnad.config, name) == value
    np.testing.assert_array_equal(fnad.jit(lambda x: x + 1)(np.zeros(2)), [1, 1])


def test_jax_environment_variables_are_read_when_fnad_ones_are_unset() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FNAD_", "JAX_"))}
    code = ("import fnad; c = fnad.config; "
            "print(c.disable_jit, c.platforms, c.numpy_rank_promotion, c.debug_nans)")

    def run(**variables: str) -> list[str]:
        return subprocess.run([sys.executable, "-c", code], env={**env, **variables},
                              capture_output=True, text=True, check=True).stdout.split()

    assert run() == ["False", "None", "allow", "False"]
    assert run(JAX_DISABLE_JIT="1", JAX_PLATFORM_NAME="cpu", JAX_NUMPY_RANK_PROMOTION="raise",
               JAX_DEBUG_NANS="true") == ["True", "cpu", "raise", "True"]
    assert run(JAX_DISABLE_JIT="1", FNAD_DISABLE_JIT="0")[0] == "False"  # fnad's wins
